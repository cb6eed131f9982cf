//! `repro log` through the real binary: a finished, a failed, a running (followed) stage, a
//! matrix base name, a key prefix, and a stage with no log yet.

mod common;
use common::Repo;
use std::process::Stdio;
use std::time::{Duration, Instant};

const PIPELINE: &str = r#"stages:
  ok:
    kind: cmd
    params: {cmd: "echo hello from ok; echo out > $REPRO_OUT/x"}
  bad:
    kind: cmd
    params: {cmd: "echo about to fail; exit 3"}
  gen:
    kind: cmd
    matrix: {m: [a, b]}
    params: {cmd: "echo gen says ${m}; touch $REPRO_OUT/x"}
  slow:
    kind: cmd
    params: {cmd: "echo tick 1; while [ ! -e go ]; do sleep 0.1; done; echo tick 2; touch $REPRO_OUT/x"}
  never:
    kind: cmd
    inputs: [slow]
    params: {cmd: "true"}
"#;

#[test]
fn logs_of_finished_failed_and_matrix_stages_and_by_key_prefix() {
    let repo = Repo::new(PIPELINE);
    let none = repo.repro(&["log", "ok"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("`ok` has no log yet"),
        "{}",
        none.stderr
    );

    let r = repo.repro(&["run", "--keep-going", "ok", "bad", "gen"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);

    let ok = repo.repro(&["log", "ok"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, "hello from ok\n");
    assert!(ok.stderr.contains("ok ("), "{}", ok.stderr);
    assert!(ok.stderr.contains("succeeded"), "{}", ok.stderr);

    let bad = repo.repro(&["log", "bad"]);
    assert_eq!(bad.code, 0, "{}", bad.stderr);
    assert!(bad.stdout.starts_with("about to fail\n"), "{}", bad.stdout);
    assert!(bad.stderr.contains("failed; log"), "{}", bad.stderr);

    let gen = repo.repro(&["log", "gen"]);
    assert_eq!(gen.stdout, "gen says a\ngen says b\n", "{}", gen.stderr);

    let key = repo.read("store/refs/stages/ok");
    let by_key = repo.repro(&["log", &key.trim()[..10]]);
    assert_eq!(by_key.stdout, "hello from ok\n", "{}", by_key.stderr);

    let unknown = repo.repro(&["log", "nope"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("neither a stage"),
        "{}",
        unknown.stderr
    );
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn follows_a_running_stage_until_it_ends() {
    let repo = Repo::new(PIPELINE);
    let mut run = repo
        .command(&["run", "slow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start repro run");
    wait_for("the live log", || {
        repo.repro(&["log", "slow"]).stdout == "tick 1\n"
    });
    let live = repo.repro(&["log", "slow"]);
    assert!(live.stderr.contains("running; live log"), "{}", live.stderr);
    assert!(live.stderr.contains("/work/"), "{}", live.stderr);

    let follower = repo
        .command(&["log", "--follow", "slow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start repro log --follow");
    std::thread::sleep(Duration::from_millis(500));
    repo.write("go", "");
    let out = follower.wait_with_output().expect("follower ends");
    assert!(run.wait().expect("run ends").success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout, "tick 1\ntick 2\n", "{stderr}");
    assert!(stderr.contains("slow: succeeded"), "{stderr}");
    // Finished now: the same log, from the record.
    assert_eq!(repo.repro(&["log", "slow"]).stdout, "tick 1\ntick 2\n");
}
