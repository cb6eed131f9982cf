//! The cache: what reruns and what does not, on real small pipelines of `cmd` stages.

mod common;
use common::Repo;

const PIPELINE: &str = r#"
stages:
  data:
    kind: cmd
    params: {cmd: "cat input.txt > $REPRO_OUT/data.txt", n: 1}
    deps: [input.txt]
  model:
    kind: cmd
    inputs: [data]
    params: {cmd: "wc -c < $REPRO_IN/data/data.txt > $REPRO_OUT/size.txt; echo ran >> model-runs.log", lr: 0.1}
  report:
    kind: cmd
    inputs: [model]
    params: {cmd: "cp $REPRO_IN/model/size.txt $REPRO_OUT/report.txt"}
"#;

fn repo() -> Repo {
    let r = Repo::new(PIPELINE);
    r.write("input.txt", "hello\n");
    r.write("README.md", "docs\n");
    r
}

#[test]
fn first_run_executes_all_second_nothing() {
    let r = repo();
    let first = r.run_ok(&[]);
    assert_eq!(first.names("executed"), ["data", "model", "report"]);
    let second = r.run_ok(&[]);
    assert!(second.names("executed").is_empty(), "{}", second.stdout);
    assert_eq!(second.names("cached").len(), 3);
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("x");
    let e = r.repro(&["export", "report", dest.to_str().expect("utf8")]);
    assert_eq!(e.code, 0, "{}", e.stderr);
    assert_eq!(
        std::fs::read_to_string(dest.join("report.txt"))
            .expect("exported")
            .trim(),
        "6"
    );
}

#[test]
fn param_change_reruns_stage_and_dependents_only() {
    let r = repo();
    r.run_ok(&[]);
    r.write("pipeline.yaml", &PIPELINE.replace("lr: 0.1", "lr: 0.05"));
    let status = r.repro(&["status", "--json"]).json();
    let model = status
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["stage"] == "model")
        .expect("model")
        .clone();
    assert_eq!(model["state"], "stale");
    assert_eq!(model["reasons"][0], "param lr changed 0.1 → 0.05");
    let report = status
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["stage"] == "report")
        .expect("report")
        .clone();
    assert_eq!(report["reasons"][0], "input model is stale");
    let run = r.run_ok(&[]);
    assert_eq!(
        run.names("executed"),
        ["model"],
        "report's input is byte-identical: early cutoff"
    );
    assert_eq!(run.names("cached"), ["data", "report"]);
}

#[test]
fn deps_change_reruns_and_unrelated_change_does_not() {
    let r = repo();
    r.run_ok(&[]);
    r.write("README.md", "edited docs\n");
    r.write("unrelated.txt", "x");
    assert!(r.run_ok(&[]).names("executed").is_empty());
    r.write("input.txt", "hello world\n");
    let status = r.repro(&["status", "--json"]).json();
    assert_eq!(status[0]["reasons"][0], "dep input.txt changed");
    assert_eq!(r.run_ok(&[]).names("executed"), ["data", "model", "report"]);
}

#[test]
fn early_cutoff_stops_at_identical_outputs() {
    let r = repo();
    r.run_ok(&[]);
    // Same output, different command: data reruns, nothing after it does.
    r.write(
        "pipeline.yaml",
        &PIPELINE.replace(
            "cat input.txt > $REPRO_OUT/data.txt",
            "cp input.txt $REPRO_OUT/data.txt",
        ),
    );
    let run = r.run_ok(&[]);
    assert_eq!(run.names("executed"), ["data"]);
    assert_eq!(
        r.read("model-runs.log").lines().count(),
        1,
        "model ran once, in the first run"
    );
}

#[test]
fn force_and_targets() {
    let r = repo();
    let run = r.run_ok(&["model"]);
    assert_eq!(run.names("executed"), ["data", "model"]);
    let run = r.run_ok(&["--force", "model"]);
    assert_eq!(run.names("executed"), ["model"]);
    assert_eq!(run.names("cached"), ["data"]);
    let bad = r.repro(&["run", "nope"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("`nope` is not a stage"),
        "{}",
        bad.stderr
    );
}

#[test]
fn dry_run_runs_nothing() {
    let r = repo();
    let d = r.repro(&["run", "--dry-run"]);
    assert_eq!(d.code, 0);
    assert!(d.stdout.contains("would run 3 of 3"), "{}", d.stdout);
    assert!(!r.path().join("store/refs/stages/data").exists());
}

#[test]
fn published_outputs_land_in_the_repo_and_report_rewrites_them() {
    let r = Repo::new(
        "stages:\n  rep:\n    kind: cmd\n    publish: reports\n    params: {cmd: \"mkdir -p $REPRO_OUT/fig1 && echo v1 > $REPRO_OUT/fig1/README.md\"}\n",
    );
    r.write("reports/keep.txt", "hand-written\n");
    r.run_ok(&[]);
    assert_eq!(r.read("reports/fig1/README.md"), "v1\n");
    std::fs::remove_dir_all(r.path().join("reports/fig1")).expect("rm");
    let out = r.repro(&["report"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        r.read("reports/fig1/README.md"),
        "v1\n",
        "rewritten from the store"
    );
    assert_eq!(
        r.read("reports/keep.txt"),
        "hand-written\n",
        "other files are left alone"
    );
    r.write(
        "pipeline.yaml",
        &r.read("pipeline.yaml").replace("v1", "v2"),
    );
    let out = r.repro(&["report"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("rep is stale") && out.stderr.contains("repro run rep"),
        "{}",
        out.stderr
    );
    assert_eq!(
        r.read("reports/fig1/README.md"),
        "v1\n",
        "nothing runs on `repro report`"
    );
    let bad = Repo::new(
        "stages:\n  rep:\n    kind: cmd\n    publish: ../outside\n    params: {cmd: \"true\"}\n",
    );
    let out = bad.repro(&["status"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("pipeline.yaml:4:5")
            && out.stderr.contains("inside the pipeline's folder"),
        "{}",
        out.stderr
    );
}

#[test]
fn gc_keeps_what_the_pipeline_needs() {
    let r = repo();
    r.run_ok(&[]);
    r.write(
        "pipeline.yaml",
        &PIPELINE.replace("lr: 0.1", "lr: 0.2").replace(
            "> $REPRO_OUT/size.txt",
            "> $REPRO_OUT/size.txt; echo 0.2 > $REPRO_OUT/lr",
        ),
    );
    r.run_ok(&[]);
    let dry = r
        .repro(&["gc", "--dry-run", "--grace-seconds", "0", "--json"])
        .json();
    assert_eq!(
        dry["deleted_records"], 2,
        "the superseded runs of model and report: {dry}"
    );
    let gc = r.repro(&["gc", "--grace-seconds", "0", "--json"]).json();
    assert_eq!(gc["deleted_records"], 2);
    assert!(gc["freed_bytes"].as_u64().expect("bytes") > 0);
    let v = r.repro(&["verify", "--json"]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(
        r.run_ok(&[]).names("executed").is_empty(),
        "gc never deletes what the pipeline needs"
    );
    let young = r.repro(&["gc", "--json"]).json();
    assert_eq!(young["deleted_objects"], 0);
}

#[test]
fn gc_keeps_a_pinned_result_and_its_lineage() {
    let r = repo();
    let with_lr = |lr: &str| {
        PIPELINE.replace("lr: 0.1", &format!("lr: {lr}")).replace(
            "> $REPRO_OUT/size.txt",
            &format!("> $REPRO_OUT/size.txt; echo {lr} > $REPRO_OUT/lr"),
        )
    };
    r.write("pipeline.yaml", &with_lr("0.1"));
    r.run_ok(&[]);
    let pin = r.repro(&["pin", "add", "report", "--name", "paper"]);
    assert_eq!(pin.code, 0, "{}", pin.stderr);
    for lr in ["0.2", "0.3"] {
        r.write("pipeline.yaml", &with_lr(lr));
        r.run_ok(&[]);
    }
    let pins = r.repro(&["pin", "list", "--json"]).json();
    assert_eq!(pins[0]["name"], "paper", "{pins}");
    // Superseded: lr 0.1 (pinned: model and report kept) and lr 0.2 (deleted).
    let gc = r.repro(&["gc", "--grace-seconds", "0", "--json"]).json();
    assert_eq!(
        gc["deleted_records"], 2,
        "only the unpinned lr 0.2 runs: {gc}"
    );
    assert_eq!(r.repro(&["verify", "--json"]).code, 0);
    let rm = r.repro(&["pin", "remove", "paper"]);
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    let gc = r.repro(&["gc", "--grace-seconds", "0", "--json"]).json();
    assert_eq!(gc["deleted_records"], 2, "unpinned, lr 0.1 goes too: {gc}");
    assert!(r.run_ok(&[]).names("executed").is_empty());
    // A stale stage cannot be pinned; an unknown pin cannot be removed.
    r.write("pipeline.yaml", &with_lr("0.4"));
    let stale = r.repro(&["pin", "add", "report"]);
    assert_ne!(stale.code, 0);
    assert!(
        stale.stderr.contains("repro run report"),
        "{}",
        stale.stderr
    );
    assert_ne!(r.repro(&["pin", "remove", "paper"]).code, 0);
}
