//! Code identity through the real binary: a kind's code is what its file reaches through the
//! import graph, so editing a file a kind imports only indirectly reruns that kind and nothing
//! else; and a worker whose binary is not the planner's refuses to run the action.

mod common;

use common::Repo;
use repro::engine::action::{self, PendingAction};
use repro::engine::key::{KeyComponents, KEY_VERSION};
use repro::pipeline::Resources;
use repro::store::{Digest, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Kind → (fingerprint, closure paths), from `repro kinds --json` of `bin`.
fn kinds(bin: &Path) -> BTreeMap<String, (String, Vec<String>)> {
    let out = Command::new(bin)
        .args(["kinds", "--json"])
        .output()
        .expect("repro kinds");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v.as_array()
        .expect("array")
        .iter()
        .map(|k| {
            let paths = k["closure"]
                .as_array()
                .expect("closure")
                .iter()
                .map(|c| c["path"].as_str().expect("path").to_string())
                .collect();
            let fp = k["fingerprint"].as_str().expect("fingerprint").to_string();
            (k["kind"].as_str().expect("kind").to_string(), (fp, paths))
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Build the copy of repro at `src` (without torch) and return a copy of its binary named
/// `name`. The target folder lives under this checkout's target/ and starts as hard links of
/// its release dependencies, so only the repro crate itself compiles.
fn build(src: &Path, name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/code-identity");
    if !target.join("release").exists() {
        std::fs::create_dir_all(target.join("release")).expect("mkdir");
        for d in ["deps", "build", ".fingerprint"] {
            let from = root.join("target/release").join(d);
            if from.exists() {
                let st = Command::new("cp")
                    .arg("-al")
                    .arg(&from)
                    .arg(target.join("release"))
                    .status()
                    .expect("cp");
                assert!(st.success(), "seed {d}");
            }
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = Instant::now();
    let out = Command::new(cargo)
        .args(["build", "--release", "--bin", "repro", "--manifest-path"])
        .arg(src.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo build");
    assert!(
        out.status.success(),
        "building the copy failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("built {name} in {:.0?}", started.elapsed());
    let bin = src.parent().expect("parent").join(name);
    std::fs::copy(target.join("release/repro"), &bin).expect("copy binary");
    bin
}

const FAKE_EVAL: &str = r#"#!/bin/sh
# fake_eval.sh MODEL: an evaluate stage's outputs (eval.json + predictions.csv).
case "$1" in a) s=0.30;; b) s=0.45;; *) s=0.60;; esac
awk -v m="$1" -v s="$s" -v out="$REPRO_OUT" 'BEGIN {
  srand(length(m) * 7); n = 200; hit = 0
  f = out "/predictions.csv"; print "index,label,pred,correct_top1,correct_top5" > f
  for (i = 0; i < n; i++) { c = (rand() < s) ? 1 : 0; hit += c
    print i "," (i % 10) "," (c ? i % 10 : (i + 1) % 10) "," c ",1" > f }
  printf "{\"model\":\"%s\",\"dataset\":\"toy\",\"n\":%d,\"top1\":%.17g,\"top5\":1,\"per_class_top1\":[],\"class_names\":[]}\n", m, n, hit / n > (out "/eval.json")
}'
"#;

const PIPELINE: &str = r#"stages:
  evaluate:
    kind: cmd
    matrix: {model: [a, b, c]}
    deps: [fake_eval.sh]
    params: {cmd: "sh fake_eval.sh ${model}"}
  stats:
    kind: rank_stats
    inputs: [evaluate]
    deps: [top1.csv]
    params:
      models: [a, b, c]
      a: {label: published, csv: top1.csv}
      b: {label: toy, inputs: "evaluate@*"}
      resamples: 1000
  reports:
    kind: report
    inputs: [stats]
"#;

/// Editing a comment in src/stats/bootstrap.rs, which `report` reaches only through
/// src/report/* and src/stats/mod.rs, reruns exactly the stages whose kind's closure holds it.
#[test]
fn editing_an_indirect_import_reruns_exactly_the_kinds_that_reach_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().expect("tmp");
    let src = work.path().join("repro");
    for f in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        std::fs::create_dir_all(&src).expect("mkdir");
        std::fs::copy(root.join(f), src.join(f)).expect("copy");
    }
    copy_dir(&root.join("src"), &src.join("src"));
    // Benches and tests are not needed to build the binary.
    let manifest = std::fs::read_to_string(src.join("Cargo.toml")).expect("manifest");
    let manifest = manifest
        .split("\n[[bench]]")
        .next()
        .expect("head")
        .to_string()
        + &manifest[manifest.find("\n[build-dependencies]").expect("build deps")..];
    std::fs::write(src.join("Cargo.toml"), manifest).expect("write manifest");
    let before = build(&src, "repro-before");

    let repo = Repo::new(PIPELINE);
    repo.write("fake_eval.sh", FAKE_EVAL);
    repo.write("top1.csv", "model,top1\na,50\nb,60\nc,70\n");
    let run = |bin: &Path| {
        let out = Command::new(bin)
            .args(["run", "--json"])
            .current_dir(repo.path())
            .env("REPRO_STORE", repo.path().join("store"))
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let mut names: Vec<String> = v["executed"]
            .as_array()
            .expect("executed")
            .iter()
            .map(|s| s.as_str().expect("name").to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(run(&before).len(), 5, "a cold run executes every stage");
    assert!(run(&before).is_empty(), "a second run reuses everything");

    let edited = "src/stats/bootstrap.rs";
    let text = std::fs::read_to_string(src.join(edited)).expect("read");
    std::fs::write(
        src.join(edited),
        text + "\n// an edit that changes no behaviour\n",
    )
    .expect("edit");
    let after = build(&src, "repro-after");

    let (old, new) = (kinds(&before), kinds(&after));
    let reaching: Vec<&String> = new
        .iter()
        .filter(|(_, (_, closure))| closure.iter().any(|p| p == edited))
        .map(|(k, _)| k)
        .collect();
    for (kind, (fp, _)) in &new {
        let changed = old[kind].0 != *fp;
        assert_eq!(changed, reaching.contains(&kind), "fingerprint of `{kind}`");
    }
    assert!(reaching.iter().any(|k| *k == "report") && !reaching.iter().any(|k| *k == "cmd"));
    let report_file = std::fs::read_to_string(src.join("src/stage/report.rs")).expect("read");
    assert!(
        !report_file.contains("bootstrap"),
        "report reaches it only indirectly"
    );

    assert_eq!(
        run(&after),
        ["reports", "stats"],
        "only the kinds that reach {edited}"
    );
    assert!(run(&after).is_empty());
}

/// `repro exec-stage` refuses an action planned for other code, naming the kind, both
/// fingerprints and the fix, and publishes nothing.
#[test]
fn the_worker_refuses_an_action_planned_for_other_code() {
    let repo = Repo::new(
        "stages:\n  hello:\n    kind: cmd\n    params: {cmd: \"echo hi > $REPRO_OUT/hi.txt\"}\n",
    );
    repo.run_ok(&[]);
    let store = Store::open(&repo.path().join("store")).expect("store");
    let own = kinds(&common::repro_bin())["cmd"].0.clone();
    let planned = Digest::of(b"the code some other build had");
    let action = PendingAction {
        stage: "hello".into(),
        components: KeyComponents {
            version: KEY_VERSION,
            kind: "cmd".into(),
            code: planned,
            params: serde_json::json!({"cmd": "echo other > $REPRO_OUT/hi.txt"}),
            inputs: BTreeMap::new(),
            deps: BTreeMap::new(),
            env: BTreeMap::new(),
        },
        resources: Resources {
            cpus: 1,
            gpus: 0,
            memory: None,
            time: None,
            timeout: None,
            retries: 0,
        },
        repo_root: repo.path().to_path_buf(),
        force: false,
    };
    // Written by the library, so the pending file is keyed consistently with its components.
    let key = action::write_pending(&store, &action).expect("pending");
    let r = repo.repro(&["exec-stage", &key.to_string()]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    for needle in [
        "kind `cmd`",
        planned.to_string().as_str(),
        own.as_str(),
        "repro run",
    ] {
        assert!(
            r.stderr.contains(needle),
            "`{needle}` missing from:\n{}",
            r.stderr
        );
    }
    assert!(
        !store.has_action(&key),
        "nothing published under the planned key"
    );
    // The same action planned with this binary's code runs.
    let mut ok = action.clone();
    ok.components.code = own.parse().expect("digest");
    let key = action::write_pending(&store, &ok).expect("pending");
    let r = repo.repro(&["exec-stage", &key.to_string()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(store.has_action(&key));
}
