//! `evaluate`: a trained model's top-1 / top-5 / per-class accuracy on a dataset split, and its
//! per-example predictions (see [`crate::ml::eval`]).
//!
//! ```yaml
//! eval_resnet152_mini_imagenot:
//!   kind: evaluate
//!   inputs: [train_resnet152_mini_imagenot, mini_imagenot]
//!   params: {split: val}
//! ```
//! `model` and `dataset` name the inputs; when unset, the input with `model.json` is the model
//! and the one with `dataset.json` the dataset. Outputs: `eval.json`, `predictions.csv`.

use super::train::{dataset_input, ml_environment};
use super::{StageContext, StageError, StageKind};
use crate::data::dataset::Dataset;
use crate::ml::device::{self, Precision};
use crate::ml::eval::{self, EvalJob};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct Evaluate;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalParams {
    /// Input stage holding the trained model.
    pub model: Option<String>,
    /// Input stage holding the dataset.
    pub dataset: Option<String>,
    pub split: String,
    pub batch_size: usize,
    /// Decoding threads; 0 = one per CPU of the stage.
    pub workers: usize,
}

impl Default for EvalParams {
    fn default() -> Self {
        EvalParams {
            model: None,
            dataset: None,
            split: "val".into(),
            batch_size: 256,
            workers: 0,
        }
    }
}

fn model_input(ctx: &StageContext, name: Option<&str>) -> Result<PathBuf, StageError> {
    ctx.input_holding(name, "model.json", ("a trained model", "models"), "model")
}

impl StageKind for Evaluate {
    fn name(&self) -> &'static str {
        "evaluate"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let p: EvalParams = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn environment(&self, _params: &Value, gpus: u32) -> BTreeMap<String, String> {
        // Evaluation always runs in fp32.
        ml_environment(Precision::Fp32, gpus)
    }

    /// `eval.json` holds floating-point summaries whose last bits depend on summation order;
    /// a re-execution's are compared to 1e-9 (its predictions file must stay exact).
    fn metric_files(&self, _params: &Value) -> BTreeMap<String, f64> {
        BTreeMap::from([("eval.json".to_string(), 1e-9)])
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: EvalParams = ctx.params()?;
        let model_dir = model_input(ctx, p.model.as_deref())?;
        let data_dir = dataset_input(ctx, p.dataset.as_deref())?;
        let dataset = Dataset::open(&data_dir).map_err(|e| StageError::Failed(e.to_string()))?;
        let device = device::device_for(&ctx.gpus).map_err(StageError::Failed)?;
        let threads = ctx.threads;
        let mut progress = |done: u64, total: u64| ctx.progress(done, total, "evaluating");
        let job = EvalJob {
            model_dir: &model_dir,
            dataset: &dataset,
            split: &p.split,
            device,
            threads,
            batch_size: p.batch_size,
            workers: p.workers,
            progress: &mut progress,
        };
        let (report, preds) = eval::evaluate(job).map_err(|e| StageError::Failed(e.to_string()))?;
        crate::ml::train::write_json(&ctx.out_dir.join("eval.json"), &report)?;
        std::fs::write(
            ctx.out_dir.join("predictions.csv"),
            eval::predictions_csv(&preds),
        )?;
        eprintln!(
            "evaluate: {} on {}: top-1 {:.4}, top-5 {:.4} ({} examples)",
            report.model, report.dataset, report.top1, report.top5, report.n
        );
        Ok(())
    }
}
