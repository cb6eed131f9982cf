//! The local executor through the real binary: failure reasons reach the terminal once, a
//! stage's leftover processes never outlive it, a stopped run leaves nothing running, and the
//! exit codes say whose fault a failure is.

mod common;

use common::Repo;
use std::time::{Duration, Instant};

#[test]
fn a_failing_stage_says_why_once_with_its_log() {
    let repo = Repo::new(
        "stages:\n  bad:\n    kind: cmd\n    params: {cmd: 'echo the-disk-is-haunted >&2; exit 7'}\n",
    );
    let r = repo.repro(&["run"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("command exited with exit status: 7"), "{all}");
    assert_eq!(
        all.matches("exit status: 7").count(),
        1,
        "the reason once:\n{all}"
    );
    let log = all
        .split("log: ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("the log path is named");
    let text = std::fs::read_to_string(log.trim()).expect("the named log exists");
    assert!(text.contains("the-disk-is-haunted"), "{text}");
}

#[test]
fn processes_a_stage_leaves_behind_are_stopped_with_it() {
    let marker = tempfile::tempdir().expect("tmp");
    let late = marker.path().join("late");
    // A background process that ignores TERM and, in its own session, would write later.
    let cmd = format!(
        "setsid sh -c \"trap '' TERM; sleep 2; echo late > {}\" & echo ok > $REPRO_OUT/x",
        late.display()
    );
    let repo = Repo::new(&format!(
        "stages:\n  s:\n    kind: cmd\n    params: {{cmd: '{}'}}\n",
        cmd.replace('\'', "''")
    ));
    let r = repo.run_ok(&[]);
    assert_eq!(r.names("executed"), ["s"]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !late.exists(),
        "the leftover process outlived its stage and wrote {}",
        late.display()
    );
}

#[test]
fn a_stopped_run_leaves_no_stage_running_and_the_rerun_is_clean() {
    let marker = tempfile::tempdir().expect("tmp");
    let late = marker.path().join("late");
    let started = marker.path().join("started");
    let cmd = format!(
        "trap '' TERM; touch {}; sleep 4; echo late > {}; echo late > $REPRO_OUT/late",
        started.display(),
        late.display()
    );
    let repo = Repo::new(&format!(
        "stages:\n  s:\n    kind: cmd\n    params: {{cmd: '{}'}}\n",
        cmd.replace('\'', "''")
    ));
    let mut child = repo
        .command(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the stage never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        !late.exists(),
        "the stage ignored TERM and kept running after the run stopped"
    );
    let status = repo.repro(&["status", "--json"]);
    assert!(
        status.stdout.contains("\"stale\""),
        "nothing published:\n{}",
        status.stdout
    );
    // The rerun starts in fresh scratch and finishes.
    let r = repo.run_ok(&[]);
    assert_eq!(r.names("executed"), ["s"]);
    let out = repo.path().join("out");
    let e = repo.repro(&["export", "s", out.to_str().expect("utf-8")]);
    assert_eq!(e.code, 0, "{}", e.stderr);
    assert_eq!(
        std::fs::read_dir(&out).expect("exported").count(),
        1,
        "only the rerun's output"
    );
}

#[test]
fn a_stage_asking_for_gpus_on_a_host_without_them_is_bad_input() {
    let repo = Repo::new(
        "stages:\n  t:\n    kind: cmd\n    params: {cmd: 'true'}\n    resources: {gpus: 1}\n",
    );
    let r = repo.repro(&["run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("needs 1 GPU(s)") && r.stderr.contains("--executor slurm"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_store_path_through_a_file_is_bad_input_and_is_named() {
    let repo =
        Repo::new("stages:\n  s:\n    kind: cmd\n    params: {cmd: 'echo x > $REPRO_OUT/x'}\n");
    // A file where the store's folder should be: the store cannot be created (not a permission
    // error, which root would not see).
    std::fs::write(repo.path().join("blocked"), "").expect("write");
    let r = repo
        .command(&["--store", "blocked/store", "run"])
        .env_remove("REPRO_STORE")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(
        r.status.code(),
        Some(2),
        "ENOTDIR is the user's path: {stderr}"
    );
    assert!(stderr.contains("blocked/store"), "{stderr}");
}

#[test]
fn stages_read_one_shared_read_only_copy_of_an_input_and_a_tampered_copy_is_never_used() {
    let repo = Repo::new(
        "stages:\n  a:\n    kind: cmd\n    params: {cmd: 'head -c 100000 /dev/urandom > $REPRO_OUT/data'}\n  b:\n    kind: cmd\n    inputs: [a]\n    params: {cmd: 'stat -c %i $REPRO_IN/a/data > $REPRO_OUT/ino; sha256sum < $REPRO_IN/a/data > $REPRO_OUT/sum'}\n  c:\n    kind: cmd\n    inputs: [a]\n    params: {cmd: 'stat -c %i $REPRO_IN/a/data > $REPRO_OUT/ino; sha256sum < $REPRO_IN/a/data > $REPRO_OUT/sum; touch $REPRO_IN/a/data 2>/dev/null; chmod u+w $REPRO_IN/a/data; echo tampered >> $REPRO_IN/a/data'}\n",
    );
    repo.run_ok(&[]);
    let n = std::cell::Cell::new(0);
    let read = |stage: &str, file: &str| {
        n.set(n.get() + 1);
        let dir = repo.path().join(format!("x{}", n.get()));
        let e = repo.repro(&["export", stage, dir.to_str().expect("utf-8")]);
        assert_eq!(e.code, 0, "{}", e.stderr);
        std::fs::read_to_string(dir.join(file)).expect("exported")
    };
    assert_eq!(
        read("b", "ino"),
        read("c", "ino"),
        "one copy on disk, linked into both"
    );
    assert_eq!(read("b", "sum"), read("c", "sum"));
    // `c` (running as root here) appended to its input in place. `b` reruns on a fresh copy.
    let again = repo.run_ok(&["--force", "b"]);
    assert_eq!(again.names("executed"), ["b"]);
    let dir = repo.path().join("b-again");
    assert_eq!(
        repo.repro(&["export", "b", dir.to_str().expect("utf-8")])
            .code,
        0
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("sum")).expect("sum"),
        read("c", "sum"),
        "b saw the original content"
    );
    let v = repo.repro(&["verify", "--json"]);
    assert_eq!(v.code, 0, "{}", v.stdout);
}
