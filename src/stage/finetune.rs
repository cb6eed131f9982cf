//! `finetune`: start from a trained model of another stage, replace its head for the target
//! dataset's classes, train all layers or the head only, with its own params (see
//! [`crate::ml::finetune`]).
//!
//! ```yaml
//! finetune_resnet152:
//!   kind: finetune
//!   inputs: [train@resnet152-fashion_mnist, mini_imagenot]
//!   params: {model: resnet152, pretrained: train@resnet152-fashion_mnist, dataset: mini_imagenot,
//!            layers: all, epochs: 4, batch_size: 32}
//! ```
//! Params are train's (`epochs`, `lr`, `batch_size`, `seed`, …; unset optimizer settings come
//! from the architecture's recipe) plus `pretrained` (the input holding `model.json`; optional
//! when only one input does) and `layers: all | head` (default `all`). `model` must name the
//! pretrained architecture: it picks the recipe, and a mismatch is an error. Outputs are
//! train's — `model.safetensors`, `model.json`, `metrics.json` (which also records where the
//! weights came from) — so `evaluate` and `rank_stats` use a fine-tuned model as they use a
//! trained one. A checkpoint goes to the store after every epoch, as in `train`.

use super::train::{dataset_input, ml_environment, Host};
use super::{StageContext, StageError, StageKind};
use crate::data::dataset::Dataset;
use crate::ml::device;
use crate::ml::finetune::{Layers, Pretrained};
use crate::ml::recipe::TrainConfig;
use crate::ml::train::{self, TrainJob};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub struct Finetune;

/// The params `finetune` adds to train's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Extra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pretrained: Option<String>,
    #[serde(default)]
    layers: Layers,
}

/// Split params into (train's, finetune's own), each validated and with defaults filled.
fn split(params: &Value) -> Result<(TrainConfig, Extra), String> {
    let mut rest: Map<String, Value> = match params {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err("params must be a mapping".into()),
    };
    let mut own = Map::new();
    for key in ["pretrained", "layers"] {
        if let Some(v) = rest.remove(key) {
            own.insert(key.to_string(), v);
        }
    }
    let extra: Extra = serde_json::from_value(Value::Object(own))
        .map_err(|e| format!("{e} (layers: all | head; pretrained: <input stage>)"))?;
    let cfg = TrainConfig::resolve(&Value::Object(rest))?;
    Ok((cfg, extra))
}

impl StageKind for Finetune {
    fn name(&self) -> &'static str {
        "finetune"
    }

    /// `timing.json`: seconds and images/s per epoch, and where a resumed run started.
    fn volatile_files(&self, _params: &Value) -> std::collections::BTreeSet<String> {
        std::collections::BTreeSet::from([train::TIMING_FILE.to_string()])
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let (cfg, extra) = split(params)?;
        let mut v = serde_json::to_value(cfg).map_err(|e| e.to_string())?;
        let own = serde_json::to_value(extra).map_err(|e| e.to_string())?;
        if let (Value::Object(m), Value::Object(o)) = (&mut v, own) {
            m.extend(o);
        }
        Ok(v)
    }

    fn environment(&self, params: &Value, gpus: u32) -> BTreeMap<String, String> {
        let precision = split(params)
            .map(|(c, _)| c.precision)
            .unwrap_or(device::Precision::Fp32);
        ml_environment(precision, gpus)
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let (cfg, extra) = split(&ctx.params).map_err(StageError::Params)?;
        let model_dir = ctx.input_holding(
            extra.pretrained.as_deref(),
            "model.json",
            ("a trained model", "trained models"),
            "pretrained",
        )?;
        let pretrained = Pretrained::open(&model_dir, extra.layers)
            .map_err(|e| StageError::Failed(e.to_string()))?;
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
            pretrained: Some(&pretrained),
            interrupt_after: None,
        };
        train::train(job).map_err(super::train::stage_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_are_trains_plus_pretrained_and_layers() {
        let v = Finetune
            .resolve_params(
                &json!({"model": "resnet152", "layers": "head", "pretrained": "t", "epochs": 2}),
            )
            .expect("resolves");
        assert_eq!(v["layers"], "head");
        assert_eq!(v["pretrained"], "t");
        assert_eq!(v["epochs"], 2);
        assert_eq!(v["optimizer"], "sgd");
        let again = Finetune.resolve_params(&v).expect("idempotent");
        assert_eq!(again, v);
        let d = Finetune
            .resolve_params(&json!({"model": "resnet152"}))
            .expect("defaults");
        assert_eq!(d["layers"], "all");
        let bad = Finetune
            .resolve_params(&json!({"model": "resnet152", "layers": "body"}))
            .expect_err("unknown layers");
        assert!(bad.contains("all | head"), "{bad}");
        assert!(Finetune
            .resolve_params(&json!({"model": "resnet152", "lr_typo": 1}))
            .is_err());
    }
}
