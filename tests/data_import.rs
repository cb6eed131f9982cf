//! Dataset imports and the WordNet / ImageNet-1k stages on the data `scripts/setup-data.sh`
//! installs.

use repro::data::dataset::Dataset;
use repro::data::idx::{import_fashion_mnist, FASHION_MNIST_DIR};
use repro::data::imageops::Shape;
use repro::stage::{self, StageContext};
use serde_json::json;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_stage(kind: &str, params: serde_json::Value, out: &Path) -> Result<(), String> {
    let k = stage::find(kind).ok_or(format!("no kind {kind}"))?;
    let params = k.resolve_params(&params)?;
    let mut ctx = StageContext::detached(kind, params, out.to_path_buf(), repo());
    ctx.threads = 2;
    k.run(&mut ctx).map_err(|e| e.to_string())
}

#[test]
fn fashion_mnist_has_60000_train_10000_val_and_10_classes() {
    let out = tempfile::tempdir().expect("tmp");
    let meta =
        import_fashion_mnist(Path::new(FASHION_MNIST_DIR), out.path(), None).expect("import");
    assert_eq!(meta.classes.len(), 10);
    assert_eq!(
        (meta.splits["train"].n, meta.splits["val"].n),
        (60_000, 10_000)
    );
    assert_eq!((meta.height, meta.width, meta.channels), (28, 28, 1));
    let ds = Dataset::open(out.path()).expect("open");
    let val = ds.load_split("val").expect("val");
    // The official test set is balanced: 1,000 images per class.
    let mut counts = [0usize; 10];
    for &l in &val.labels {
        counts[l as usize] += 1;
    }
    assert_eq!(counts, [1000; 10]);
    assert!(
        val.images.iter().any(|&p| p > 200),
        "real pixels, not zeros"
    );
}

#[test]
fn fashion_mnist_stage_resizes_to_32x32_rgb() {
    let out = tempfile::tempdir().expect("tmp");
    run_stage(
        "dataset_import",
        json!({"format": "fashion-mnist", "resolution": [32, 32], "channels": 3}),
        out.path(),
    )
    .expect("stage");
    let ds = Dataset::open(out.path()).expect("open");
    assert_eq!(
        (ds.meta.height, ds.meta.width, ds.meta.channels),
        (32, 32, 3)
    );
    assert_eq!(ds.meta.splits["train"].n, 60_000);
    let (img, _) = ds.read_shard("val", 0).expect("shard");
    let px = &img[..Shape::new(32, 32, 3).bytes()];
    assert!(
        px.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]),
        "gray replicated to RGB"
    );
}

#[test]
fn missing_source_names_the_path_and_the_setup_command() {
    let out = tempfile::tempdir().expect("tmp");
    let err = run_stage(
        "dataset_import",
        json!({"format": "fashion-mnist", "path": "/nonexistent/fmnist"}),
        out.path(),
    )
    .expect_err("missing");
    assert!(
        err.contains("/nonexistent/fmnist") && err.contains("setup-data.sh"),
        "{err}"
    );
    let err = run_stage(
        "wordnet",
        json!({"data_noun": "/nonexistent/data.noun"}),
        out.path(),
    )
    .expect_err("missing");
    assert!(
        err.contains("/nonexistent/data.noun") && err.contains("setup-data.sh"),
        "{err}"
    );
    assert!(run_stage("dataset_import", json!({"format": "tiff"}), out.path()).is_err());
}

#[test]
fn wordnet_and_imagenet_stages_read_the_installed_data() {
    let wn_out = tempfile::tempdir().expect("tmp");
    run_stage("wordnet", json!({}), wn_out.path()).expect("wordnet");
    let wn =
        repro::data::wordnet::WordNet::load_tsv(&wn_out.path().join("nouns.tsv")).expect("nouns");
    assert_eq!(
        wn.synsets.len(),
        82_115,
        "WordNet 3.0 has 82,115 noun synsets"
    );
    let dog = wn.get("n02084071").expect("dog");
    assert_eq!(dog.lemmas[0], "dog");
    assert!(
        dog.hypernyms.contains(&"n02083346".to_string()),
        "dog is a canine"
    );

    let in_out = tempfile::tempdir().expect("tmp");
    run_stage("imagenet_classes", json!({}), in_out.path()).expect("imagenet");
    let wnids = repro::data::imagenet::read_wnids(&in_out.path().join("imagenet_classes.tsv"))
        .expect("read");
    assert_eq!(wnids.len(), 1000);
    assert_eq!(wnids[0], "n01440764", "label 0 is tench");
    assert!(
        wnids.iter().all(|w| wn.get(w).is_some()),
        "every ImageNet-1k class is a WordNet 3.0 noun"
    );
    // The published ImageNot classes are WordNet nouns and never ImageNet-1k classes.
    let imagenot =
        repro::data::imagenet::read_wnids(&repo().join("data/imagenot_classes.txt")).expect("list");
    assert_eq!(imagenot.len(), 1000);
    assert!(imagenot
        .iter()
        .all(|w| wn.get(w).is_some() && !wnids.contains(w)));
}
