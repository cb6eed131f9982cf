//! Equal tuning through the real binary on real data (Fashion-MNIST, Debian's
//! `dataset-fashion-mnist`): a held-out part of the training split (`holdout_split`), a grid of
//! learning-rate scales trained on the rest and evaluated on that part, one `lr_choice` per
//! architecture, and the final training at the chosen rate. The choice must be the grid's best
//! hold-out accuracy, the final run must train at exactly that rate, and the held-out split
//! must be disjoint from what the grid trained on.
#![cfg(feature = "torch")]

mod common;

use common::Repo;
use repro::data::dataset::Dataset;
use serde_json::Value;
use std::path::PathBuf;

const PIPELINE: &str = r#"stages:
  fashion_full:
    kind: dataset_import
    params: {format: fashion-mnist, resolution: [32, 32]}
  fashion:
    kind: dataset_subset
    inputs: [fashion_full]
    params: {sizes: {train: 400, val: 100}, seed: 0}
  fashion_holdout:
    kind: holdout_split
    inputs: [fashion]
    params: {fraction: 0.25, seed: 0}
  tune-train:
    kind: train
    matrix: {model: [alexnet], lr_scale: [0.01, 1]}
    inputs: [fashion_holdout]
    params: {model: "${model}", scale: mini, epochs: 1, batch_size: 32, seed: 0, lr_scale: "${lr_scale}"}
  tune-evaluate:
    kind: evaluate
    matrix: {model: [alexnet], lr_scale: [0.01, 1]}
    inputs: ["tune-train@${model}-${lr_scale}", fashion_holdout]
    params: {split: val}
  lr:
    kind: lr_choice
    matrix: {model: [alexnet]}
    inputs: [tune-train, tune-evaluate]
    params: {cell: "${model}"}
  train:
    kind: train
    matrix: {model: [alexnet]}
    inputs: [fashion, "lr@${model}"]
    params: {model: "${model}", dataset: fashion, scale: mini, epochs: 1, batch_size: 32, seed: 0}
"#;

fn json(path: PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json")
}

fn export(r: &Repo, stage: &str) -> PathBuf {
    let dir = r.path().join("exported").join(stage.replace('@', "_"));
    let run = r.repro(&["export", stage, dir.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "export {stage}: {}", run.stderr);
    dir
}

#[test]
fn the_tuned_rate_is_the_grids_best_and_the_final_run_trains_at_it() {
    let r = Repo::new(PIPELINE);
    r.run_ok(&[]);

    let holdout = Dataset::open(&export(&r, "fashion_holdout")).expect("holdout dataset");
    let (train, val) = (
        holdout.load_split("train").expect("train"),
        holdout.load_split("val").expect("val"),
    );
    assert_eq!((train.n, val.n), (300, 100), "a quarter of 400 held out");
    assert!(
        holdout.split_meta("test").is_err(),
        "the study's own splits are not copied"
    );
    let bytes = holdout.meta.image_bytes();
    let seen: std::collections::HashSet<&[u8]> = train.images.chunks(bytes).collect();
    let overlap = val
        .images
        .chunks(bytes)
        .filter(|x| seen.contains(x))
        .count();
    assert!(
        overlap <= 2,
        "held-out images are not trained on ({overlap} equal)"
    );

    let choice = json(export(&r, "lr@alexnet").join("lr.json"));
    let grid = choice["grid"].as_array().expect("grid");
    assert_eq!(grid.len(), 2, "{choice}");
    let base = grid[1]["lr"].as_f64().expect("lr");
    assert!(
        (grid[0]["lr"].as_f64().expect("lr") - base * 0.01).abs() < 1e-12,
        "the scale multiplies the recipe's rate: {choice}"
    );
    for run in grid {
        let name = run["run"].as_str().expect("run");
        let eval = json(export(&r, &format!("tune-evaluate@{name}")).join("eval.json"));
        assert_eq!(run["holdout_top1"], eval["top1"], "{name}");
        assert_eq!(run["holdout_loss"], eval["loss"], "{name}");
    }
    // The best hold-out accuracy; among equals (two runs at chance) the lower hold-out loss,
    // then the smaller rate.
    let num = |x: &Value, k: &str| x[k].as_f64().expect("number");
    let best = grid
        .iter()
        .max_by(|a, b| {
            num(a, "holdout_top1")
                .total_cmp(&num(b, "holdout_top1"))
                .then(num(b, "holdout_loss").total_cmp(&num(a, "holdout_loss")))
                .then(num(b, "lr").total_cmp(&num(a, "lr")))
        })
        .expect("best");
    assert_eq!(choice["lr"], best["lr"], "{choice}");

    let metrics = json(export(&r, "train@alexnet").join("metrics.json"));
    assert_eq!(
        metrics["config"]["lr"], choice["lr"],
        "trained at the tuned rate"
    );

    // A second run changes nothing.
    let again = r.run_ok(&[]);
    assert!(again.names("executed").is_empty(), "{}", again.stdout);
}
