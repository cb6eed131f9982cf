//! `run --dry-run --json` lists every selected stage with the params its kind resolved, so a
//! study's settings (a training's whole recipe) can be read without reading code.

mod common;
use common::Repo;

#[test]
fn every_stage_is_listed_with_its_resolved_params_and_whether_it_would_run() {
    let repo = Repo::new(
        "stages:\n  a:\n    kind: cmd\n    params: {cmd: \"echo ${n} > $REPRO_OUT/a\", n: 3}\n  b:\n    kind: cmd\n    inputs: [a]\n    params: {cmd: \"cp $REPRO_IN/a/a $REPRO_OUT/b\"}\n    resources: {gpus: 1}\n",
    );
    repo.run_ok(&["a"]);
    let r = repo.repro(&["run", "--dry-run", "--json"]);
    assert_eq!(
        r.code, 0,
        "a GPU stage on a host without GPUs is reported, not fatal: {}",
        r.stderr
    );
    let list = r.json();
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 2, "fresh stages are listed too: {list:?}");
    assert_eq!(list[0]["stage"], "a");
    assert_eq!(list[0]["would_run"], false);
    assert_eq!(list[0]["params"]["cmd"], "echo 3 > $REPRO_OUT/a");
    assert_eq!(list[1]["would_run"], true);
    assert_eq!(list[1]["inputs"], serde_json::json!(["a"]));
    assert_eq!(list[1]["resources"]["gpus"], 1);
    assert!(
        list[1]["not_here"]
            .as_str()
            .is_some_and(|s| s.contains("GPU")),
        "{list:?}"
    );
    // The human dry run stays short and says the same.
    let r = repo.repro(&["run", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("would run 1 of 2 stages"), "{}", r.stdout);
    assert!(r.stdout.contains("not here:"), "{}", r.stdout);
}

/// The paper profile: every training's recipe, defaults filled, without data or GPUs.
#[cfg(feature = "torch")]
#[test]
fn the_paper_profile_dry_run_shows_each_trainings_full_recipe() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let store = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(common::repro_bin())
        .arg("-f")
        .arg(root.join("pipeline.paper.yaml"))
        .arg("--store")
        .arg(store.path())
        .args(["run", "--dry-run", "--json"])
        .output()
        .expect("repro");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let trains: Vec<&serde_json::Value> = list
        .as_array()
        .expect("list")
        .iter()
        .filter(|s| s["kind"] == "train")
        .collect();
    assert!(!trains.is_empty());
    for t in trains {
        for key in [
            "model",
            "epochs",
            "optimizer",
            "lr",
            "weight_decay",
            "batch_size",
            "schedule",
        ] {
            assert!(
                !t["params"][key].is_null(),
                "{} lacks `{key}` in its resolved params: {}",
                t["stage"],
                t["params"]
            );
        }
    }
}
