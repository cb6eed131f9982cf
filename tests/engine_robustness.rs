//! Failures, corruption, kills and concurrency never lose data or leave a half-written store.

mod common;
use common::Repo;
use std::time::{Duration, Instant};

const CHAIN: &str = r#"
stages:
  a:
    kind: cmd
    params: {cmd: "echo a > $REPRO_OUT/a.txt; echo a >> runs.log"}
  b:
    kind: cmd
    inputs: [a]
    params: {cmd: "sleep $${SLEEP:-0}; cat $REPRO_IN/a/a.txt > $REPRO_OUT/b.txt; echo b >> runs.log"}
  c:
    kind: cmd
    inputs: [b]
    params: {cmd: "cat $REPRO_IN/b/b.txt > $REPRO_OUT/c.txt; echo c >> runs.log"}
"#;

/// Wait until `stage` has published (its ref exists); returns when the wait began.
fn wait_for_stage(r: &Repo, stage: &str) -> Instant {
    let start = Instant::now();
    while !r.path().join("store/refs/stages").join(stage).exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{stage} never finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    start
}

fn verify_ok(r: &Repo) {
    let v = r.repro(&["verify", "--json"]);
    assert_eq!(v.code, 0, "verify: {}\n{}", v.stdout, v.stderr);
    assert_eq!(v.json()["ok"], true);
}

#[test]
fn failing_stage_records_nothing_keeps_log_and_keep_going_continues() {
    let r = Repo::new(
        r#"
stages:
  ok1: {kind: cmd, params: {cmd: "echo fine > $REPRO_OUT/x"}}
  bad: {kind: cmd, params: {cmd: "echo about to fail; exit 3"}}
  after_bad: {kind: cmd, inputs: [bad], params: {cmd: "true"}}
  ok2: {kind: cmd, inputs: [ok1], params: {cmd: "echo fine2 > $REPRO_OUT/y"}}
"#,
    );
    let run = r.repro(&["run", "--json", "--keep-going", "-j", "1"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.names("failed"), ["bad"]);
    assert_eq!(run.names("executed"), ["ok1", "ok2"]);
    assert_eq!(run.names("not_run"), ["after_bad"]);
    assert!(
        run.stderr.contains("FAILED bad") && run.stderr.contains("about to fail"),
        "{}",
        run.stderr
    );
    let logs: Vec<_> = std::fs::read_dir(r.path().join("store/logs"))
        .expect("logs")
        .flatten()
        .collect();
    assert_eq!(logs.len(), 1);
    assert!(std::fs::read_to_string(logs[0].path())
        .expect("log")
        .contains("about to fail"));
    let status = r.repro(&["status", "--json"]).json();
    let bad = status
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["stage"] == "bad")
        .expect("bad")
        .clone();
    assert_eq!(bad["state"], "stale");
    assert_eq!(bad["reasons"][0], "never run", "a failure is never cached");
    verify_ok(&r);
}

#[test]
fn corrupt_object_is_reported_and_never_used() {
    let r = Repo::new(CHAIN);
    r.run_ok(&[]);
    // Tamper with a's output file object: valid zstd, wrong content.
    let audit = r.repro(&["audit", "a", "--json"]).json();
    let tree = audit["lineage"][0]["output"]
        .as_str()
        .expect("tree digest")
        .to_string();
    let export = tempfile::tempdir().expect("tempdir");
    let files = r.repro(&["audit", &tree, "--json"]).json();
    assert_eq!(files["lineage"][0]["provenance"]["stage"], "a");
    let _ = export;
    let obj_digest = {
        let out = r.repro(&["audit", "a"]);
        let line = out
            .stdout
            .lines()
            .find(|l| l.ends_with(" a.txt"))
            .expect("file line")
            .trim()
            .to_string();
        line.split_whitespace()
            .next()
            .expect("short digest")
            .to_string()
    };
    let objects = r.path().join("store/objects/sha256").join(&obj_digest[..2]);
    let victim = std::fs::read_dir(&objects)
        .expect("fanout")
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&obj_digest[2..])
        })
        .expect("object")
        .path();
    std::fs::write(&victim, zstd::encode_all(&b"evil\n"[..], 3).expect("zstd")).expect("tamper");

    let v = r.repro(&["verify", "--json"]);
    assert_eq!(v.code, 4, "corruption found: {}", v.stdout);
    assert_eq!(
        v.json()["corrupt_objects"].as_array().expect("list").len(),
        1
    );

    // b must not read the corrupt object: a recomputes, and b's output is right.
    let run = r.run_ok(&["--force", "b"]);
    assert!(
        run.names("executed").contains(&"a".to_string()),
        "{} {}",
        run.stdout,
        run.stderr
    );
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("c");
    assert_eq!(
        r.repro(&["export", "b", dest.to_str().expect("utf8")]).code,
        0
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("b.txt")).expect("b"),
        "a\n"
    );
    verify_ok(&r);
}

#[test]
fn kill_9_mid_run_leaves_a_consistent_store() {
    let r = Repo::new(CHAIN);
    let mut child = r
        .command(&["run"])
        .env("SLEEP", "30")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until b is running (a has published its record).
    wait_for_stage(&r, "a");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    verify_ok(&r);
    let run = r.run_ok(&[]);
    assert_eq!(run.names("cached"), ["a"]);
    assert_eq!(run.names("executed"), ["b", "c"]);
    verify_ok(&r);
}

#[test]
fn ctrl_c_stops_cleanly() {
    let r = Repo::new(CHAIN);
    let child = r
        .command(&["run"])
        .env("SLEEP", "30")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = wait_for_stage(&r, "a");
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "stopped promptly, not after the 30 s sleep"
    );
    verify_ok(&r);
    let run = r.run_ok(&[]);
    assert_eq!(run.names("executed"), ["b", "c"]);
}

#[test]
fn concurrent_runs_on_one_store_lose_nothing_and_do_not_duplicate_work() {
    let mut yaml = String::from("stages:\n");
    for i in 0..12 {
        yaml.push_str(&format!("  s{i}: {{kind: cmd, params: {{cmd: \"sleep 0.2; echo {i} > $REPRO_OUT/o; echo s{i} >> runs.log\"}}}}\n"));
    }
    yaml.push_str("  all: {kind: cmd, inputs: [s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11], params: {cmd: \"cat $REPRO_IN/*/o | sort -n > $REPRO_OUT/all\"}}\n");
    let r = Repo::new(&yaml);
    let spawn = || {
        r.command(&["run", "-j", "3"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    };
    let (mut x, mut y) = (spawn(), spawn());
    assert!(x.wait().expect("wait").success());
    assert!(y.wait().expect("wait").success());
    verify_ok(&r);
    let again = r.run_ok(&[]);
    assert!(again.names("executed").is_empty());
    let mut runs: Vec<String> = r.read("runs.log").lines().map(String::from).collect();
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), 12);
    assert_eq!(r.read("runs.log").lines().count(), 12, "no stage ran twice");
}

#[test]
fn gpus_are_checked_before_running_and_assigned() {
    let r = Repo::new("stages:\n  g: {kind: cmd, resources: {gpus: 1}, params: {cmd: \"echo $CUDA_VISIBLE_DEVICES > $REPRO_OUT/gpus\"}}\n  cpu: {kind: cmd, params: {cmd: \"echo x$CUDA_VISIBLE_DEVICES > $REPRO_OUT/gpus\"}}\n");
    let out = r.repro(&["run"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("needs 1 GPU(s) but this host has 0"),
        "{}",
        out.stderr
    );
    assert!(
        !r.path().join("store/refs/stages/cpu").exists(),
        "nothing ran"
    );
    let out = r
        .command(&["run", "--json"])
        .env("REPRO_GPUS", "2")
        .output()
        .expect("run");
    assert!(out.status.success());
    let dest = r.path().join("exported");
    assert_eq!(
        r.repro(&["export", "g", dest.to_str().expect("utf8")]).code,
        0
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("gpus"))
            .expect("gpus")
            .trim(),
        "0"
    );
}

#[test]
fn missing_data_paths_are_named_before_anything_runs() {
    let r = Repo::new("stages:\n  a: {kind: cmd, params: {cmd: \"true\"}}\n  b: {kind: cmd, inputs: [a], deps: [/data/imagenet], params: {cmd: \"true\"}}\n");
    let dry = r.repro(&["run", "--dry-run"]);
    assert!(
        dry.stdout.contains("/data/imagenet  (dep of stage `b`)"),
        "{}",
        dry.stdout
    );
    let status = r.repro(&["status", "--json"]).json();
    assert_eq!(
        status[1]["reasons"][1], "dep /data/imagenet does not exist",
        "{status}"
    );
    let run = r.repro(&["run"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("missing data paths; nothing was run")
            && run.stderr.contains("/data/imagenet (dep of stage `b`)"),
        "{}",
        run.stderr
    );
    assert!(
        !r.path().join("store/refs/stages/a").exists(),
        "not even the stages that could run"
    );
}

#[test]
fn audit_walks_lineage_with_provenance() {
    let r = Repo::new(CHAIN);
    r.run_ok(&[]);
    let a = r.repro(&["audit", "c", "--json"]).json();
    let lineage = a["lineage"].as_array().expect("lineage");
    let stages: Vec<&str> = lineage
        .iter()
        .map(|x| x["provenance"]["stage"].as_str().expect("stage"))
        .collect();
    assert_eq!(stages, ["c", "b", "a"]);
    let p = &lineage[0]["provenance"];
    assert_eq!(p["git"]["commit"].as_str().map(str::len), Some(40));
    assert_eq!(p["exit_status"], 0);
    assert!(p["peak_memory_bytes"].as_u64().expect("mem") > 0);
    assert!(p["log"].is_string());
    assert_eq!(lineage[0]["components"]["kind"], "cmd");
    let intoto = r.repro(&["audit", "c", "--format", "in-toto"]);
    assert_eq!(intoto.code, 0, "{}", intoto.stderr);
    let statements: Vec<serde_json::Value> = intoto
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(statements.len(), 3);
    let s = &statements[0];
    assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(s["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(s["subject"][1]["name"], "c/c.txt");
    assert_eq!(
        s["subject"][1]["digest"]["sha256"],
        lineage[0]["files"][0]["digest"]
    );
    let deps = s["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .expect("deps");
    assert!(deps.iter().any(|d| d["name"] == "stage:b"
        && d["digest"]["sha256"] == lineage[0]["components"]["inputs"]["b"]));
    assert_eq!(
        s["predicate"]["runDetails"]["metadata"]["startedOn"],
        p["started"]
    );
    let dot = r.repro(&["dag", "--format", "dot"]);
    assert!(dot.stdout.contains("\"a\" -> \"b\""), "{}", dot.stdout);
    let mermaid = r.repro(&["dag", "--format", "mermaid"]);
    assert!(mermaid.stdout.contains("s0 --> s1"), "{}", mermaid.stdout);
}
