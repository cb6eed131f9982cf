//! The worker's hold on the processes its stage starts. A stage's command may leave processes
//! behind — in the background, in a session of their own — that would go on writing after the
//! stage ended, into scratch a later execution reuses. The worker makes itself their
//! subreaper (orphans of its tree are re-parented to it, not to init), and when the stage ends,
//! or the worker is told to stop, it kills every descendant before it exits.

use std::time::{Duration, Instant};

/// Make this process the subreaper of its descendants.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments; failure leaves orphans to init, as before.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// The process ids whose parent is `parent`, from /proc.
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| parent_of(pid) == Some(parent))
        .collect()
}

/// The parent of `pid` (field 4 of /proc/PID/stat; the command name in field 2 may hold
/// spaces and parentheses, so parse after its last `)`).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Kill every descendant of this process and reap them: TERM, then KILL after `grace`.
/// Descendants are found through the parent links, which the subreaper keeps pointing here.
pub fn kill_descendants(grace: Duration) {
    kill_descendants_of(std::process::id() as i32, grace);
}

fn kill_descendants_of(root: i32, grace: Duration) {
    let all = |root| {
        let mut out = Vec::new();
        let mut frontier = children_of(root);
        while let Some(pid) = frontier.pop() {
            frontier.extend(children_of(pid));
            out.push(pid);
        }
        out
    };
    let deadline = Instant::now() + grace;
    let mut signal = if grace.is_zero() {
        libc::SIGKILL
    } else {
        libc::SIGTERM
    };
    loop {
        let pids = all(root);
        if pids.is_empty() {
            return;
        }
        for &pid in &pids {
            // SAFETY: signalling our own descendants.
            unsafe {
                libc::kill(pid, signal);
            }
        }
        reap(&pids);
        std::thread::sleep(Duration::from_millis(20));
        if Instant::now() >= deadline {
            signal = libc::SIGKILL;
        }
    }
}

/// Collect those of `pids` that are our exited children (a zombie is still listed under its
/// parent until reaped); the others are reaped by their own parents.
fn reap(pids: &[i32]) {
    for &pid in pids {
        // SAFETY: waitpid with WNOHANG on one pid; fails harmlessly when it is not our child.
        unsafe {
            libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
        }
    }
}

/// On SIGTERM or SIGINT, kill the descendants and exit with `128 + signal`: the worker's
/// stage stops with everything it started.
pub fn stop_tree_on_signal() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            kill_descendants(Duration::from_secs(2));
            std::process::exit(128 + sig);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_with_a_process_ignoring_term_is_killed_whole() {
        // A shell with two grandchildren, one of which ignores TERM.
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "(trap '' TERM; sleep 30) & sleep 30 & wait"])
            .spawn()
            .expect("sh");
        let root = sh.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(5);
        while children_of(root).len() < 2 {
            assert!(
                Instant::now() < deadline,
                "the shell never started its children"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let pids = children_of(root);
        kill_descendants_of(root, Duration::from_millis(200));
        for pid in pids {
            let alive = parent_of(pid).is_some()
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z ");
            assert!(!alive, "descendant {pid} survived");
        }
        let _ = sh.kill();
        let _ = sh.wait();
    }
}
