fn main() {
    // Rust ignores SIGPIPE, so `println!` into a closed pipe (`repro status | head -1`,
    // `grep -q`) panics. Restore the default: the process ends quietly, as other Unix tools do.
    // SAFETY: setting a signal disposition to SIG_DFL before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(repro::cli::main());
}
