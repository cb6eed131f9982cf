//! A stage kind that panics is a failed stage like any other, through the real binary: the run
//! names the stage and the panic's first line (not "the worker exited with status 101"), the
//! log is kept where `repro log` finds it, and no scratch is left behind. The panic is a real
//! one: libtorch refusing AlexNet on 16×16 images (its pooling shrinks them to nothing), which
//! tch surfaces through `unwrap`.
#![cfg(feature = "torch")]

mod common;

use common::Repo;

const PIPELINE: &str = r#"stages:
  fashion_full:
    kind: dataset_import
    params: {format: fashion-mnist, resolution: [16, 16]}
  fashion:
    kind: dataset_subset
    inputs: [fashion_full]
    params: {sizes: {train: 40, val: 10}, seed: 0}
  train:
    kind: train
    inputs: [fashion]
    params: {model: alexnet, scale: mini, epochs: 1, batch_size: 8}
"#;

#[test]
fn a_panicking_kind_fails_with_its_reason_and_keeps_its_log() {
    let r = Repo::new(PIPELINE);
    let run = r.repro(&["run"]);
    assert_eq!(run.code, 1, "a stage failure: {}", run.stderr);
    let output = format!("{}{}", run.stdout, run.stderr);
    let line = output
        .lines()
        .find(|l| l.contains("FAILED train"))
        .unwrap_or_else(|| panic!("a failure line for `train`:\n{output}"));
    assert!(
        line.contains("panicked") && line.contains("Output size is too small"),
        "the reason, not an exit status: {line}"
    );
    assert!(
        !line.contains("frame #"),
        "one line, no C++ backtrace: {line}"
    );

    let log = r.repro(&["log", "train"]);
    assert_eq!(log.code, 0, "the failed stage's log: {}", log.stderr);
    assert!(
        log.stdout.contains("Output size is too small"),
        "{}",
        log.stdout
    );

    let work = r.path().join("store/work");
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.iter().all(|n| n.to_string_lossy().ends_with(".lock")),
        "no scratch left behind: {left:?}"
    );
}
