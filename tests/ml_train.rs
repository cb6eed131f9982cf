//! Training and evaluation on real small data (Fashion-MNIST from Debian's
//! `dataset-fashion-mnist`, read with the project's IDX importer): the loss falls and held-out
//! accuracy beats chance; an interrupted training resumes to the same final weights; saved
//! weights reload bit-identically; the stages write the files other stages depend on; with
//! torchvision's recipe knobs on (mixup/CutMix, label smoothing, EMA, clipping, norm weight
//! decay, random erasing, per-epoch warm-up + cosine) training still learns and still resumes
//! bit-identically.
#![cfg(feature = "torch")]

use repro::data::dataset::{Dataset, DatasetWriter};
use repro::data::idx::{
    fashion_mnist_classes, read_idx_images, read_idx_labels, FASHION_MNIST_DIR,
};
use repro::ml::models::{self, ModelConfig};
use repro::ml::recipe::TrainConfig;
use repro::ml::train::{self, TrainError, TrainHost, TrainJob};
use repro::stage::{self, StageContext};
use serde_json::json;
use std::path::{Path, PathBuf};
use tch::{nn, Device, Kind, Tensor};

/// The first `n_train` training and `n_val` test images of Fashion-MNIST as a dataset.
fn fashion_subset(dir: &Path, n_train: usize, n_val: usize) -> Dataset {
    let src = Path::new(FASHION_MNIST_DIR);
    let mut w = DatasetWriter::create(
        dir,
        "fashion-mnist-subset",
        (28, 28, 1),
        fashion_mnist_classes(),
    )
    .expect("create")
    .with_shard_images(1000);
    for (split, prefix, n) in [("train", "train", n_train), ("val", "t10k", n_val)] {
        let images = read_idx_images(&src.join(format!("{prefix}-images-idx3-ubyte.gz")))
            .expect("Fashion-MNIST images (apt-get install dataset-fashion-mnist)");
        let labels =
            read_idx_labels(&src.join(format!("{prefix}-labels-idx1-ubyte.gz"))).expect("labels");
        for (px, &label) in images.pixels.chunks(784).zip(&labels).take(n) {
            w.push(split, px, u32::from(label)).expect("push");
        }
    }
    w.finish().expect("finish");
    Dataset::open(dir).expect("open")
}

/// Checkpoints in a file, like the engine's store-backed ones.
struct FileHost {
    ckpt: PathBuf,
}

impl TrainHost for FileHost {
    fn progress(&mut self, _: u64, _: u64, _: &str) {}
    fn save_checkpoint(&mut self, file: &Path) -> std::io::Result<()> {
        std::fs::copy(file, &self.ckpt).map(|_| ())
    }
    fn load_checkpoint(&mut self, dest: &Path) -> std::io::Result<bool> {
        if self.ckpt.exists() {
            std::fs::copy(&self.ckpt, dest)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

fn config(model: &str, epochs: u32) -> TrainConfig {
    TrainConfig::resolve(
        &json!({"model": model, "epochs": epochs, "batch_size": 64, "seed": 3, "workers": 2}),
    )
    .expect("config")
}

fn run(
    ds: &Dataset,
    cfg: &TrainConfig,
    out: &Path,
    host: &mut dyn TrainHost,
    interrupt: Option<u32>,
) -> Result<train::TrainOutcome, TrainError> {
    std::fs::create_dir_all(out).expect("out dir");
    train::train(TrainJob {
        dataset: ds,
        cfg,
        device: Device::Cpu,
        threads: 1,
        out_dir: out,
        host,
        pretrained: None,
        interrupt_after: interrupt,
    })
}

/// libtorch's thread count is process-wide and the tests of this file set different ones; run
/// them one at a time so a test never trains under another's setting (which broke bit-identical
/// resume in a full test run).
static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `config` with every knob of torchvision's recipes that the trainer applies.
fn recipe_config(model: &str, epochs: u32) -> TrainConfig {
    TrainConfig::resolve(&json!({
        "model": model, "epochs": epochs, "batch_size": 64, "seed": 3, "workers": 2,
        "label_smoothing": 0.1, "mixup_alpha": 0.2, "cutmix_alpha": 1.0,
        "model_ema": true, "model_ema_steps": 4, "model_ema_decay": 0.999,
        "clip_grad_norm": 1.0, "norm_weight_decay": 0.0, "random_erase": 0.25,
        "lr_per_epoch": true, "warmup_epochs": 1, "warmup_start": 0.1,
    }))
    .expect("config")
}

#[test]
fn recipe_knobs_still_learn_and_evaluate_on_ema_weights() {
    let _one_at_a_time = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tmp");
    let ds = fashion_subset(&tmp.path().join("data"), 3000, 1000);
    let cfg = recipe_config("resnet152", 4);
    let mut host = FileHost {
        ckpt: tmp.path().join("r.ckpt"),
    };
    let out = tmp.path().join("r");
    let m = run(&ds, &cfg, &out, &mut host, None).expect("trains");
    let losses: Vec<f64> = m.metrics.epochs.iter().map(|e| e.loss).collect();
    assert!(losses[3] < losses[0], "loss did not fall: {losses:?}");
    let mut progress = |_: u64, _: u64| {};
    let (report, _) = repro::ml::eval::evaluate(repro::ml::eval::EvalJob {
        model_dir: &out,
        dataset: &ds,
        split: "val",
        device: Device::Cpu,
        threads: 1,
        batch_size: 200,
        workers: 1,
        progress: &mut progress,
    })
    .expect("evaluates");
    assert!(
        report.top1 > 0.4,
        "held-out top-1 {} of the EMA weights is not far above chance (0.1)",
        report.top1
    );
}

#[test]
fn recipe_knobs_resume_to_identical_weights() {
    let _one_at_a_time = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tmp");
    let ds = fashion_subset(&tmp.path().join("data"), 640, 10);
    let cfg = recipe_config("resnet152", 2);
    let mut plain = FileHost {
        ckpt: tmp.path().join("a.ckpt"),
    };
    run(&ds, &cfg, &tmp.path().join("a"), &mut plain, None).expect("uninterrupted");
    let mut host = FileHost {
        ckpt: tmp.path().join("b.ckpt"),
    };
    assert!(matches!(
        run(&ds, &cfg, &tmp.path().join("b"), &mut host, Some(1)),
        Err(TrainError::Interrupted(1))
    ));
    run(&ds, &cfg, &tmp.path().join("b"), &mut host, None).expect("resumed");
    let wa = std::fs::read(tmp.path().join("a/model.safetensors")).expect("a");
    let wb = std::fs::read(tmp.path().join("b/model.safetensors")).expect("b");
    assert!(
        wa == wb,
        "resumed EMA weights differ from uninterrupted ones"
    );
}

#[test]
fn interrupted_training_resumes_to_identical_weights() {
    let _one_at_a_time = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tmp");
    let ds = fashion_subset(&tmp.path().join("data"), 640, 10);
    let cfg = config("resnet152", 3);
    let mut plain = FileHost {
        ckpt: tmp.path().join("a.ckpt"),
    };
    let a = run(&ds, &cfg, &tmp.path().join("a"), &mut plain, None).expect("uninterrupted");
    assert_eq!(a.timing.resumed_from_epoch, 0);

    let mut host = FileHost {
        ckpt: tmp.path().join("b.ckpt"),
    };
    match run(&ds, &cfg, &tmp.path().join("b"), &mut host, Some(1)) {
        Err(TrainError::Interrupted(1)) => {}
        other => panic!("expected an interruption after epoch 1, got {other:?}"),
    }
    assert!(
        !tmp.path().join("b/model.safetensors").exists(),
        "no final weights from a killed run"
    );
    let b = run(&ds, &cfg, &tmp.path().join("b"), &mut host, None).expect("resumed");
    assert_eq!(b.timing.resumed_from_epoch, 1);
    assert_eq!(b.metrics.epochs.len(), 3);
    assert_eq!(
        b.timing.epochs.len(),
        3,
        "timings of the epochs before the resume kept"
    );
    let metrics = |d: &str| std::fs::read(tmp.path().join(d).join("metrics.json")).expect("m");
    assert!(
        metrics("a") == metrics("b"),
        "a resumed run's metrics.json equals an uninterrupted one's (timings are in timing.json)"
    );
    let wa = std::fs::read(tmp.path().join("a/model.safetensors")).expect("a");
    let wb = std::fs::read(tmp.path().join("b/model.safetensors")).expect("b");
    assert!(wa == wb, "resumed weights differ from uninterrupted ones");
    assert_eq!(a.metrics.epochs[2].loss, b.metrics.epochs[2].loss);
}

#[test]
fn short_training_learns_and_stages_write_their_contract() {
    let _one_at_a_time = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tmp");
    let data_dir = tmp.path().join("data");
    fashion_subset(&data_dir, 3000, 1000);
    let train_out = tmp.path().join("train");
    std::fs::create_dir_all(&train_out).expect("mkdir");

    // Through the stage kind, as the engine runs it.
    let kind = stage::find("train").expect("train kind registered");
    let params = kind
        .resolve_params(
            &json!({"model": "resnet152", "dataset": "fm", "epochs": 3, "batch_size": 64}),
        )
        .expect("params");
    let env = kind.environment(&params, 0);
    assert_eq!(env.get("device").map(String::as_str), Some("cpu"));
    assert_eq!(env.get("libtorch").map(String::as_str), Some("2.11.0"));
    let mut ctx = StageContext::detached(
        "train_resnet",
        params,
        train_out.clone(),
        tmp.path().to_path_buf(),
    );
    ctx.threads = 2;
    ctx.inputs.insert("fm".into(), data_dir.clone());
    kind.run(&mut ctx).expect("train runs");

    let metrics: serde_json::Value = serde_json::from_slice(
        &std::fs::read(train_out.join("metrics.json")).expect("metrics.json"),
    )
    .expect("json");
    let epochs = metrics["epochs"].as_array().expect("epochs");
    assert_eq!(epochs.len(), 3);
    let loss = |i: usize| epochs[i]["loss"].as_f64().expect("loss");
    assert!(
        loss(2) < loss(0),
        "loss did not fall: {} → {}",
        loss(0),
        loss(2)
    );
    assert!(
        loss(0) < 10.0f64.ln() + 0.5,
        "first-epoch loss {} is worse than chance",
        loss(0)
    );
    assert!(epochs[0]["accuracy"].as_f64().expect("accuracy") > 0.0);
    let timing: serde_json::Value =
        serde_json::from_slice(&std::fs::read(train_out.join("timing.json")).expect("timing.json"))
            .expect("json");
    for key in ["images_per_s", "seconds"] {
        assert!(timing["epochs"][0][key].as_f64().expect(key) > 0.0, "{key}");
    }
    assert_eq!(metrics["device"], "cpu");
    assert_eq!(metrics["libtorch"], "2.11.0");
    assert_eq!(metrics["model"], "resnet152");
    assert!(metrics["params"].as_i64().expect("params") > 0);

    // Reload bit-identically: same tensors, same logits.
    let card = repro::ml::eval::read_card(&train_out).expect("model.json");
    let arch = models::find(&card.model).expect("arch");
    let load = || {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = (arch.build)(vs.root(), &card.config);
        train::load_weights(&vs, &train_out.join("model.safetensors")).expect("load");
        (vs, net)
    };
    let (vs1, net1) = load();
    let (vs2, net2) = load();
    let saved: std::collections::BTreeMap<String, Tensor> =
        Tensor::read_safetensors(train_out.join("model.safetensors"))
            .expect("read")
            .into_iter()
            .collect();
    for (name, t) in vs1.variables() {
        assert!(t.equal(&saved[&name]), "{name} differs after reload");
    }
    let xs = Tensor::randn([5, 3, 28, 28], (Kind::Float, Device::Cpu));
    let (y1, y2) = (
        repro::ml::eval::logits(net1.as_ref(), &xs),
        repro::ml::eval::logits(net2.as_ref(), &xs),
    );
    assert!(y1.equal(&y2));
    drop(vs2);
    assert_eq!(card.config, ModelConfig::new(10, 28, arch.mini));

    // Evaluate through its stage kind.
    let eval_out = tmp.path().join("eval");
    std::fs::create_dir_all(&eval_out).expect("mkdir");
    let ek = stage::find("evaluate").expect("evaluate kind registered");
    let params = ek.resolve_params(&json!({})).expect("params");
    let mut ctx =
        StageContext::detached("eval", params, eval_out.clone(), tmp.path().to_path_buf());
    ctx.inputs.insert("train_resnet".into(), train_out.clone());
    ctx.inputs.insert("fm".into(), data_dir);
    ek.run(&mut ctx).expect("evaluate runs");
    let ev: serde_json::Value =
        serde_json::from_slice(&std::fs::read(eval_out.join("eval.json")).expect("eval.json"))
            .expect("json");
    assert_eq!(ev["model"], "resnet152");
    assert_eq!(ev["dataset"], "fashion-mnist-subset");
    assert_eq!(ev["n"], 1000);
    let top1 = ev["top1"].as_f64().expect("top1");
    let top5 = ev["top5"].as_f64().expect("top5");
    assert!(
        top1 > 0.4,
        "held-out top-1 {top1} is not far above chance (0.1)"
    );
    assert!(top5 >= top1 && top5 <= 1.0);
    assert_eq!(
        ev["per_class_top1"].as_array().expect("per class").len(),
        10
    );
    assert_eq!(ev["class_names"][9], "Ankle boot");
    let csv = std::fs::read_to_string(eval_out.join("predictions.csv")).expect("csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("index,label,pred,correct_top1,correct_top5")
    );
    let rows: Vec<Vec<i64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().expect("int")).collect())
        .collect();
    assert_eq!(rows.len(), 1000);
    assert!(rows
        .iter()
        .enumerate()
        .all(|(i, r)| r[0] == i as i64 && r[3] == i64::from(r[1] == r[2])));
    let hits = rows.iter().filter(|r| r[3] == 1).count() as f64 / 1000.0;
    assert!(
        (hits - top1).abs() < 1e-9,
        "predictions.csv agrees with eval.json"
    );
}

/// Gradient accumulation: two micro-batches of 16 then one optimizer step give the weights one
/// step on a batch of 32 gives, on the same 32 examples (ViT: layer norm only, no batch
/// statistics, dropout 0; no augmentation, so only the batching differs).
#[test]
fn accumulated_micro_batches_equal_one_large_batch() {
    let _g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tmp");
    let mut w = DatasetWriter::create(
        &tmp.path().join("ds"),
        "rgb-noise",
        (16, 16, 3),
        fashion_mnist_classes(),
    )
    .expect("create");
    let mut x = 12345u32;
    for i in 0..32u32 {
        let px: Vec<u8> = (0..16 * 16 * 3)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        w.push("train", &px, i % 10).expect("push");
    }
    w.finish().expect("finish");
    let ds = Dataset::open(&tmp.path().join("ds")).expect("open");
    let cfg = |batch: usize, k: u32| {
        TrainConfig::resolve(&json!({
            "model": "vit_b_16", "epochs": 1, "batch_size": batch, "accumulate_steps": k,
            "seed": 3, "workers": 1, "hflip": false, "crop_padding": 0,
        }))
        .expect("config")
    };
    let weights = |name: &str, c: &TrainConfig| {
        let out = tmp.path().join(name);
        let mut host = FileHost {
            ckpt: tmp.path().join(format!("{name}.ckpt")),
        };
        run(&ds, c, &out, &mut host, None).expect("train");
        let mut named = Tensor::read_safetensors(out.join("model.safetensors")).expect("weights");
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    };
    let (one, two) = (weights("one", &cfg(32, 1)), weights("two", &cfg(16, 2)));
    // Not vacuous: two steps of 16 (no accumulation) land elsewhere.
    let steps = weights("steps", &cfg(16, 1));
    assert_eq!(one.len(), two.len());
    let mut apart = 0.0f64;
    for (((na, a), (nb, b)), (_, c)) in one.iter().zip(&two).zip(&steps) {
        assert_eq!(na, nb);
        let d = (a - b).abs().max().double_value(&[]);
        assert!(d < 1e-5, "{na}: differs by {d}");
        apart = apart.max((b - c).abs().max().double_value(&[]));
    }
    assert!(apart > 1e-4, "accumulating changes the result ({apart})");
}
