//! `train`: train one architecture from scratch on one dataset (see [`crate::ml::train`]).
//!
//! ```yaml
//! train_resnet152_mini_imagenot:
//!   kind: train
//!   inputs: [mini_imagenot]
//!   params: {model: resnet152, dataset: mini_imagenot, epochs: 15}
//! ```
//! `dataset` names the input stage holding the dataset (optional when there is one input).
//! `lr_scale: 4` multiplies the learning rate the recipe or `lr` gives (a tuning grid is then
//! the same for every optimiser family). An input holding `lr.json` (an `lr_choice` stage)
//! sets the learning rate instead: the tuned one.
//! Outputs: `model.safetensors`, `model.json`, `metrics.json`. A checkpoint goes to the store
//! after every epoch, so a killed stage resumes from its last finished epoch.

use super::{StageContext, StageError, StageKind};
use crate::data::dataset::Dataset;
use crate::ml::device::{self, LIBTORCH_VERSION};
use crate::ml::recipe::TrainConfig;
use crate::ml::train::{self, TrainHost, TrainJob};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Train;

/// The environment facts that change a trained model: libtorch, device class, precision.
pub fn ml_environment(precision: device::Precision, gpus: u32) -> BTreeMap<String, String> {
    let cuda = gpus > 0;
    BTreeMap::from([
        ("libtorch".to_string(), LIBTORCH_VERSION.to_string()),
        (
            "device".to_string(),
            if cuda { "cuda" } else { "cpu" }.to_string(),
        ),
        (
            "precision".to_string(),
            precision.effective(cuda).name().to_string(),
        ),
    ])
}

/// The input that holds a dataset: the one named by `name`, else the only input with a
/// `dataset.json`.
pub fn dataset_input(ctx: &StageContext, name: Option<&str>) -> Result<PathBuf, StageError> {
    ctx.input_holding(name, "dataset.json", ("a dataset", "datasets"), "dataset")
}

/// The params with `lr_scale` folded into the learning rate, so the key and the record hold the
/// rate that actually trains.
fn resolve_scaled(params: &Value) -> Result<TrainConfig, String> {
    let mut params = params.clone();
    let scale = match params.as_object_mut().and_then(|o| o.remove("lr_scale")) {
        None => 1.0,
        Some(v) => v
            .as_f64()
            .filter(|s| *s > 0.0 && s.is_finite())
            .ok_or_else(|| format!("lr_scale must be a positive number, not {v}"))?,
    };
    let mut cfg = TrainConfig::resolve(&params)?;
    cfg.lr = Some(cfg.lr() * scale);
    Ok(cfg)
}

/// The learning rate an `lr_choice` input chose for `model`, if the stage has such an input.
fn tuned_lr(ctx: &StageContext, model: &str) -> Result<Option<f64>, StageError> {
    let found: Vec<_> = ctx
        .inputs
        .iter()
        .filter(|(_, p)| p.join("lr.json").is_file())
        .collect();
    let [(name, dir)] = found[..] else {
        return match found.len() {
            0 => Ok(None),
            _ => Err(StageError::Params(format!(
                "stage `{}`: several inputs hold lr.json; give it one lr_choice input",
                ctx.stage
            ))),
        };
    };
    let path = dir.join("lr.json");
    let bytes = std::fs::read(&path)?;
    let choice: super::lr_choice::LrChoiceFile = serde_json::from_slice(&bytes)
        .map_err(|e| StageError::Failed(format!("input `{name}`: lr.json: {e}")))?;
    if choice.model != model {
        return Err(StageError::Params(format!(
            "input `{name}` tuned the learning rate of `{}`, but this stage trains `{model}`",
            choice.model
        )));
    }
    Ok(Some(choice.lr))
}

/// Training's progress and checkpoints, through the stage context (also `finetune`'s).
pub(super) struct Host<'c, 'a> {
    pub(super) ctx: &'c mut StageContext<'a>,
}

impl TrainHost for Host<'_, '_> {
    fn progress(&mut self, done: u64, total: u64, message: &str) {
        self.ctx.progress(done, total, message);
    }
    fn save_checkpoint(&mut self, file: &Path) -> std::io::Result<()> {
        self.ctx
            .save_checkpoint(file)
            .map_err(std::io::Error::other)
    }
    fn load_checkpoint(&mut self, dest: &Path) -> std::io::Result<bool> {
        self.ctx
            .load_checkpoint(dest)
            .map_err(std::io::Error::other)
    }
    fn stop_requested(&self) -> bool {
        crate::stage::context::stop_requested()
    }
}

/// Training's error as a stage error: a requested stop stays one, so the worker requeues.
pub(super) fn stage_error(e: train::TrainError) -> StageError {
    match e {
        e @ train::TrainError::StopRequested { .. } => StageError::Stopped(e.to_string()),
        e => StageError::Failed(e.to_string()),
    }
}

impl StageKind for Train {
    fn name(&self) -> &'static str {
        "train"
    }

    /// `timing.json`: seconds and images/s per epoch, and where a resumed run started.
    fn volatile_files(&self, _params: &Value) -> std::collections::BTreeSet<String> {
        std::collections::BTreeSet::from([train::TIMING_FILE.to_string()])
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let cfg = resolve_scaled(params)?;
        serde_json::to_value(cfg).map_err(|e| e.to_string())
    }

    fn environment(&self, params: &Value, gpus: u32) -> BTreeMap<String, String> {
        let precision = TrainConfig::resolve(params)
            .map(|c| c.precision)
            .unwrap_or(device::Precision::Fp32);
        ml_environment(precision, gpus)
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let mut cfg = TrainConfig::resolve(&ctx.params).map_err(StageError::Params)?;
        if let Some(lr) = tuned_lr(ctx, &cfg.model)? {
            cfg.lr = Some(lr);
        }
        let dir = dataset_input(ctx, cfg.dataset.as_deref())?;
        let dataset = Dataset::open(&dir).map_err(|e| StageError::Failed(e.to_string()))?;
        let device = device::device_for(&ctx.gpus).map_err(StageError::Failed)?;
        let (threads, out_dir) = (ctx.threads, ctx.out_dir.clone());
        let mut host = Host { ctx };
        let job = TrainJob {
            dataset: &dataset,
            cfg: &cfg,
            device,
            threads,
            out_dir: &out_dir,
            host: &mut host,
            pretrained: None,
            interrupt_after: None,
        };
        train::train(job).map_err(stage_error)?;
        Ok(())
    }
}
