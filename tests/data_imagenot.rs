//! mini-ImageNot builds from the real mini pool: no ImageNet-1k class, deterministic output.
#![cfg(feature = "torch")]

mod common;

use repro::data::dataset::Dataset;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The mini profile's selection parameters, except the encoder: pipeline.yaml's mini_select
/// uses all-mpnet-base-v2 at 0.55 (minutes on 2 cores); this test of the select-then-build
/// route runs twice, so it uses all-MiniLM-L6-v2 at its own cut (0.45), 5× faster.
pub fn select_params() -> Value {
    json!({"classes": "data/imagenot_classes.txt", "model": repro::encoder::MINILM_MODEL_DIR,
           "cut": 0.45, "per_class": 150, "min_per_class": 40})
}

/// ... and its mini_imagenot stage.
pub fn mini_params() -> Value {
    json!({"per_class": 150, "min_per_class": 40, "resolution": [32, 32], "seed": 0, "name": "mini-imagenot"})
}

fn digest_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("e").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect()
}

#[test]
fn mini_imagenot_builds_without_imagenet_classes_and_deterministically() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = |n: &str| {
        let p = tmp.path().join(n);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    };
    let (wn, inet, pool, sel, a, b) = (
        d("wordnet"),
        d("imagenet"),
        d("pool"),
        d("select"),
        d("a"),
        d("b"),
    );
    let t = std::time::Instant::now();
    common::run_stage("wordnet", json!({}), &[], &wn);
    common::run_stage("imagenet_classes", json!({}), &[], &inet);
    common::run_stage("caption_pool", json!({"importer": "mini"}), &[], &pool);
    let select_inputs = [
        ("wordnet", wn.as_path()),
        ("imagenet_classes", inet.as_path()),
        ("mini_pool", pool.as_path()),
    ];
    common::run_stage("imagenot_select", select_params(), &select_inputs, &sel);
    for f in [
        "selection.parquet",
        "download.parquet",
        "selection.json",
        "selection.md",
        "candidates.tsv",
    ] {
        assert!(sel.join(f).exists(), "{f}");
    }
    let inputs = [
        ("mini_select", sel.as_path()),
        ("mini_pool", pool.as_path()),
    ];
    common::run_stage("imagenot_build", mini_params(), &inputs, &a);
    eprintln!(
        "pool + mini-ImageNot build: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    eprintln!(
        "{}",
        std::fs::read_to_string(sel.join("selection.md")).expect("report")
    );

    if let Ok(keep) = std::env::var("REPRO_KEEP_BUILD") {
        // For studying the cut: keep the build (candidates.tsv has every scored match).
        let _ = std::process::Command::new("cp")
            .arg("-r")
            .arg(&a)
            .arg(&keep)
            .status();
    }
    let ds = Dataset::open(&a).expect("open");
    let imagenet: BTreeSet<String> =
        repro::data::imagenet::read_wnids(&inet.join("imagenet_classes.tsv"))
            .expect("wnids")
            .into_iter()
            .collect();
    assert!(
        ds.meta.classes.len() >= 20,
        "dozens of classes, got {}",
        ds.meta.classes.len()
    );
    assert!(
        ds.meta.classes.iter().all(|c| !imagenet.contains(&c.wnid)),
        "no ImageNet-1k class"
    );
    let published: BTreeSet<String> =
        repro::data::imagenet::read_wnids(&repo().join("data/imagenot_classes.txt"))
            .expect("list")
            .into_iter()
            .collect();
    assert!(ds.meta.classes.iter().all(|c| published.contains(&c.wnid)));
    assert_eq!(
        (ds.meta.height, ds.meta.width, ds.meta.channels),
        (32, 32, 3)
    );
    let (train, val) = (ds.meta.splits["train"].n, ds.meta.splits["val"].n);
    assert!(train + val >= 1000, "{train} + {val}");
    assert!(val * 4 >= train / 2 && val < train, "about a 20% val split");
    let report: Value =
        serde_json::from_slice(&std::fs::read(sel.join("selection.json")).expect("json"))
            .expect("parse");
    assert!(report["similarity_histogram"]
        .as_array()
        .is_some_and(|h| h.len() == 24));

    // Same inputs, same seed: byte-identical dataset.
    common::run_stage("imagenot_build", mini_params(), &inputs, &b);
    assert!(digest_dir(&a) == digest_dir(&b), "a second build differs");
}
