//! Evaluation: top-1, top-5 and per-class accuracy of a trained model on a dataset split, plus
//! one prediction row per example (the statistics bootstrap over them).
//!
//! Outputs: `eval.json` = {model, dataset, split, n, top1, top5, per_class_top1, per_class_n,
//! class_names} (accuracies in [0, 1]) and `predictions.csv` with header
//! `index,label,pred,correct_top1,correct_top5`, one row per example in dataset order.

use super::models::{self};
use super::train::{load_weights, ModelCard, TrainError};
use crate::data::dataset::Dataset;
use crate::data::loader::{Augment, Loader, LoaderConfig, Transform};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use tch::{nn, Device, Kind, Reduction, Tensor};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    pub model: String,
    pub dataset: String,
    pub split: String,
    pub n: usize,
    pub top1: f64,
    pub top5: f64,
    /// Mean cross-entropy of the model's predictions (nats); `lr_choice` breaks ties in top-1
    /// by it. 0 in reports written before it was kept.
    #[serde(default)]
    pub loss: f64,
    pub per_class_top1: Vec<f64>,
    /// Examples per class (a class with none has accuracy 0 and n 0).
    pub per_class_n: Vec<usize>,
    pub class_names: Vec<String>,
    pub device: String,
}

/// One example's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    pub index: u64,
    pub label: u32,
    pub pred: u32,
    pub top1: bool,
    pub top5: bool,
}

pub struct EvalJob<'a> {
    /// A train stage's output tree (`model.json`, `model.safetensors`).
    pub model_dir: &'a Path,
    pub dataset: &'a Dataset,
    pub split: &'a str,
    pub device: Device,
    pub threads: usize,
    pub batch_size: usize,
    pub workers: usize,
    pub progress: &'a mut dyn FnMut(u64, u64),
}

pub fn read_card(model_dir: &Path) -> Result<ModelCard, TrainError> {
    let path = model_dir.join("model.json");
    let bytes = std::fs::read(&path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))
}

/// Evaluate; returns the report and the per-example predictions (in dataset order).
pub fn evaluate(job: EvalJob) -> Result<(EvalReport, Vec<Prediction>), TrainError> {
    let card = read_card(job.model_dir)?;
    let ds = job.dataset;
    let arch = models::find(&card.model).ok_or_else(|| {
        TrainError::Config(format!(
            "{}: unknown model `{}`",
            job.model_dir.display(),
            card.model
        ))
    })?;
    let nc = ds.meta.num_classes();
    if nc as i64 != card.config.num_classes {
        return Err(TrainError::Config(format!(
            "the model was trained on {} classes ({}), dataset `{}` has {nc}",
            card.config.num_classes, card.dataset, ds.meta.name
        )));
    }
    tch::set_num_threads(job.threads.max(1) as i32);
    let vs = nn::VarStore::new(job.device);
    let net = (arch.build)(vs.root(), &card.config);
    load_weights(&vs, &job.model_dir.join("model.safetensors"))?;
    let loader = Loader::new(
        ds,
        LoaderConfig {
            split: job.split.to_string(),
            batch_size: job.batch_size.max(1),
            shuffle: false,
            drop_last: false,
            // The model's own preset (its recipe's resize and crop) where it has one.
            transform: match card.eval_transform {
                Some(t) if !ds.meta.storage.is_fixed() => Transform::Eval(t),
                _ => Transform::from_augment(
                    Augment::None,
                    card.config.image_size as u32,
                    ds.meta.storage.is_fixed(),
                ),
            },
            seed: 0,
            workers: if job.workers == 0 {
                job.threads
            } else {
                job.workers
            },
            prefetch: 4,
            repeats: 1,
        },
    )?;
    let total = loader.batches_per_epoch() as u64;
    let k = nc.min(5) as i64;
    let mut preds = Vec::with_capacity(loader.len());
    let mut loss_sum = 0.0;
    for (i, batch) in loader.epoch(0).enumerate() {
        let batch = batch?;
        let xs = card.normalization.to_input(
            &batch.images,
            batch.n,
            batch.size,
            batch.channels,
            job.device,
        );
        let labels: Vec<i64> = batch.labels.iter().map(|&l| i64::from(l)).collect();
        let ys = Tensor::from_slice(&labels).to_device(job.device);
        let (top, loss) = tch::no_grad(|| {
            let logits = net.forward_t(&xs, false).to_kind(Kind::Float);
            let loss = logits.cross_entropy_loss::<Tensor>(&ys, None, Reduction::Sum, -100, 0.0);
            (logits.topk(k, -1, true, true).1, loss)
        });
        loss_sum += loss.double_value(&[]);
        let top = top.to_device(Device::Cpu).to_kind(Kind::Int64);
        let len = batch.n * k as usize;
        let mut flat = vec![0i64; len];
        top.copy_data(&mut flat, len);
        for (j, row) in flat.chunks(k as usize).enumerate() {
            let label = batch.labels[j];
            preds.push(Prediction {
                index: batch.indices[j],
                label,
                pred: row[0] as u32,
                top1: row[0] == i64::from(label),
                top5: row.contains(&i64::from(label)),
            });
        }
        (job.progress)(i as u64 + 1, total);
    }
    let n = preds.len();
    let mut hits = vec![0usize; nc];
    let mut counts = vec![0usize; nc];
    for p in &preds {
        counts[p.label as usize] += 1;
        hits[p.label as usize] += usize::from(p.top1);
    }
    let frac = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let report = EvalReport {
        model: card.model.clone(),
        dataset: ds.meta.name.clone(),
        split: job.split.to_string(),
        n,
        top1: frac(preds.iter().filter(|p| p.top1).count(), n),
        top5: frac(preds.iter().filter(|p| p.top5).count(), n),
        loss: if n == 0 { 0.0 } else { loss_sum / n as f64 },
        per_class_top1: hits
            .iter()
            .zip(&counts)
            .map(|(&h, &c)| frac(h, c))
            .collect(),
        per_class_n: counts,
        class_names: ds.meta.classes.iter().map(|c| c.lemma.clone()).collect(),
        device: super::device::device_class(job.device).to_string(),
    };
    Ok((report, preds))
}

/// `predictions.csv`: header `index,label,pred,correct_top1,correct_top5`, 0/1 flags.
pub fn predictions_csv(preds: &[Prediction]) -> String {
    let mut s = String::from("index,label,pred,correct_top1,correct_top5\n");
    for p in preds {
        let _ = writeln!(
            s,
            "{},{},{},{},{}",
            p.index,
            p.label,
            p.pred,
            u8::from(p.top1),
            u8::from(p.top5)
        );
    }
    s
}

/// Per-example logits of a model on a tensor batch (tests compare reloaded weights with it).
pub fn logits(net: &dyn models::Net, xs: &Tensor) -> Tensor {
    tch::no_grad(|| net.forward_t(xs, false))
}
