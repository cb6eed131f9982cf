//! `repro verify --rerun` through the real binary: a deterministic stage reproduces, a
//! nondeterministic one is caught with the file and value that differ, a metric file within its
//! tolerance passes, the verdict shows in `audit`, and the store's objects and records are
//! left as they were.

mod common;
use common::Repo;

const PIPELINE: &str = r#"stages:
  det:
    kind: cmd
    params: {cmd: "echo 42 > $REPRO_OUT/x.txt"}
  clock:
    kind: cmd
    params: {cmd: "date +%N > $REPRO_OUT/t.txt; echo same > $REPRO_OUT/s.txt"}
  close:
    kind: cmd
    inputs: [det]
    params: {cmd: "printf '{\"acc\": 0.5000000000%s, \"n\": %s}' $(date +%N | cut -c1-4) $(cat $REPRO_IN/det/x.txt) > $REPRO_OUT/m.json"}
    tolerance: {m.json: 1e-9}
  far:
    kind: cmd
    params: {cmd: "printf '{\"acc\": 0.%s}' $(date +%N) > $REPRO_OUT/m.json"}
    tolerance: {m.json: 1e-9}
"#;

/// Every file under `dir`, with its bytes: the store before and after a check.
fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_nondeterministic_stage_is_caught_and_a_deterministic_one_passes() {
    let repo = Repo::new(PIPELINE);
    repo.run_ok(&[]);
    let store = repo.path().join("store");
    let objects = snapshot(&store.join("objects"));
    let actions = snapshot(&store.join("actions"));

    let r = repo.repro(&["verify", "--rerun", "--json"]);
    assert_eq!(
        r.code, 1,
        "a stage differs: exit 1\n{}\n{}",
        r.stdout, r.stderr
    );
    let list = r.json();
    let verdict = |stage: &str| {
        let v = list
            .as_array()
            .expect("a list")
            .iter()
            .find(|v| v["stage"] == stage)
            .unwrap_or_else(|| panic!("{stage} in {list}"));
        v.clone()
    };
    assert_eq!(verdict("det")["verdict"], "identical");
    assert_eq!(verdict("det")["status"], "verified");
    let clock = verdict("clock");
    assert_eq!(clock["verdict"], "differs", "{clock}");
    let files = clock["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "only t.txt differs: {clock}");
    assert_eq!(files[0]["path"], "t.txt");
    assert_eq!(clock["identical_files"], 1);
    assert_eq!(verdict("close")["verdict"], "within_tolerance");
    let far = verdict("far");
    assert_eq!(far["verdict"], "differs", "{far}");
    assert_eq!(far["files"][0]["values"][0]["field"], "acc", "{far}");
    assert_eq!(far["files"][0]["values"][0]["within_tolerance"], false);

    // The check wrote nothing into the store's objects or records.
    assert_eq!(snapshot(&store.join("objects")), objects);
    assert_eq!(snapshot(&store.join("actions")), actions);
    // The run is still a no-op: the records were not touched.
    let again = repo.run_ok(&[]);
    assert_eq!(again.names("executed"), Vec::<String>::new());

    // The verdict is provenance of the action: audit shows it, in text and JSON.
    let audit = repo.repro(&["audit", "clock"]);
    assert_eq!(audit.code, 0, "{}", audit.stderr);
    assert!(
        audit.stdout.contains("verify  DIFFERS: t.txt"),
        "{}",
        audit.stdout
    );
    let audit = repo.repro(&["audit", "close", "--json"]).json();
    let key = audit["lineage"][0]["key"]
        .as_str()
        .expect("key")
        .to_string();
    assert_eq!(audit["verifications"][&key]["verdict"], "within_tolerance");
    let det = repo.repro(&["audit", "det"]);
    assert!(det.stdout.contains("verify  identical"), "{}", det.stdout);

    // Narrowed to a deterministic target and what it needs: all reproduce, exit 0.
    let r = repo.repro(&["verify", "--rerun", "close"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("identical         det"), "{}", r.stdout);
    assert!(
        r.stdout.contains("2 of 2 stages reproduced"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("clock"), "{}", r.stdout);
}

#[test]
fn a_stage_that_is_not_cached_is_not_checked_and_a_failing_rerun_is_reported() {
    let repo = Repo::new(
        "stages:\n  once:\n    kind: cmd\n    params: {cmd: \"test ! -e done && touch done && echo 1 > $REPRO_OUT/o\"}\n  later:\n    kind: cmd\n    params: {cmd: \"echo 2 > $REPRO_OUT/o\"}\n",
    );
    repo.run_ok(&["once"]);
    let r = repo.repro(&["verify", "--rerun"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("FAILED            once"),
        "a re-execution that fails says so: {}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("not checked       later (not cached: never run"),
        "{}",
        r.stdout
    );
    // Targets need --rerun; an unknown target is an error naming it.
    assert_ne!(repo.repro(&["verify", "once"]).code, 0);
    let r = repo.repro(&["verify", "--rerun", "nope"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`nope` is not a stage"), "{}", r.stderr);
}

#[test]
fn gc_deletes_a_verdict_with_its_record() {
    let repo = Repo::new(
        "stages:\n  det:\n    kind: cmd\n    params: {cmd: \"echo 42 > $REPRO_OUT/x.txt\"}\n",
    );
    repo.run_ok(&[]);
    let r = repo.repro(&["verify", "--rerun"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let verdicts = repo.path().join("store/verifications");
    let count = || snapshot(&verdicts).len();
    assert_eq!(count(), 1, "the verdict is kept");
    // The stage's command changes: its old record is no longer needed, nor its verdict.
    repo.write(
        "pipeline.yaml",
        "stages:\n  det:\n    kind: cmd\n    params: {cmd: \"echo 43 > $REPRO_OUT/x.txt\"}\n",
    );
    repo.run_ok(&[]);
    repo.run_ok(&[]);
    let gc = repo.repro(&["gc", "--grace-seconds", "0"]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert_eq!(count(), 0, "gc took the verdict with its record");
}
