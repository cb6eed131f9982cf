//! Output into a closed pipe (`repro kinds | head -1`, `grep -q`) ends the process quietly, as
//! it ends other Unix tools, instead of a panic on the failed write.

use std::process::{Command, Stdio};

#[test]
fn writing_into_a_closed_pipe_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(["kinds", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("repro starts");
    // Close the read end before the binary has started writing (it loads for a while first).
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("repro ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}
