//! The live display of `repro run` on a terminal, captured through a pseudo-terminal
//! (`script` from util-linux): the ETA from a stage's last run, the waiting count, the failure
//! said once, and a summary line as the last thing on the screen after success, failure and
//! Ctrl-C, with no spinner left behind.

mod common;
use common::{repro_bin, Repo};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const PIPELINE: &str = r#"stages:
  slow:
    kind: cmd
    params: {cmd: "sleep 3; echo done > $REPRO_OUT/o"}
  after:
    kind: cmd
    inputs: [slow]
    params: {cmd: "echo after > $REPRO_OUT/o"}
  boom:
    kind: cmd
    params: {cmd: "sleep 1; echo about to fail; exit 7"}
"#;

fn has_script() -> bool {
    Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run `repro ARGS` in `repo` on a pseudo-terminal; `interrupt_after` types Ctrl-C then.
/// Returns the exit code and the screen's bytes with escape sequences removed.
fn on_terminal(repo: &Repo, args: &str, interrupt_after: Option<Duration>) -> (i32, String) {
    let command = format!("{} {args}", repro_bin().display());
    let mut child = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(repo.path())
        .env("REPRO_STORE", repo.path().join("store"))
        .env("COLUMNS", "160")
        .env("LINES", "40")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(after) = interrupt_after {
        std::thread::sleep(after);
        stdin.write_all(b"\x03").expect("type Ctrl-C");
        stdin.flush().expect("flush");
    }
    let out = child.wait_with_output().expect("wait");
    drop(stdin);
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), strip_escapes(&raw))
}

/// The text of a terminal capture: CSI sequences removed, carriage returns as line ends.
fn strip_escapes(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

fn last_line(screen: &str) -> &str {
    screen
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default()
}

#[test]
fn the_live_display_shows_eta_waiting_one_failure_line_and_a_final_summary() {
    if !has_script() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let repo = Repo::new(PIPELINE);
    // A first run gives `slow` a recorded duration; `boom` fails.
    let first = repo.repro(&["run", "--keep-going"]);
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    assert_eq!(
        first.stdout.matches("exit status: 7").count(),
        1,
        "the failure is said once:\n{}",
        first.stdout
    );
    let (code, screen) = on_terminal(&repo, "run --force --keep-going -j 4", None);
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("left"),
        "an ETA from the last run:\n{screen}"
    );
    assert!(
        screen.contains("1 waiting"),
        "`after` waits for `slow`:\n{screen}"
    );
    assert_eq!(
        screen.matches("exit status: 7").count(),
        1,
        "the failure is said once:\n{screen}"
    );
    let last = last_line(&screen);
    assert!(
        last.starts_with("2 executed, 0 cached, 1 failed (boom)") && last.contains(" in "),
        "the summary is the last line: {last:?}\n{screen}"
    );
}

#[test]
fn ctrl_c_stops_the_run_clears_the_spinners_and_ends_with_the_summary() {
    if !has_script() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let repo = Repo::new(PIPELINE);
    let (code, screen) = on_terminal(&repo, "run slow", Some(Duration::from_millis(1500)));
    assert_eq!(code, 130, "{screen}");
    assert!(screen.contains("stopped slow"), "{screen}");
    let last = last_line(&screen);
    assert!(
        last.contains("interrupted") && last.contains("0 executed"),
        "the summary is the last line, after the spinners are gone: {last:?}\n{screen}"
    );
}
