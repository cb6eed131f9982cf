//! The train stage's params, flat as users write them in pipeline.yaml, and each architecture's
//! default recipe.
//!
//! ```yaml
//! train_resnet:
//!   kind: train
//!   inputs: [mini_imagenot]
//!   params: {model: resnet152, dataset: mini_imagenot, epochs: 15, optimizer: sgd, lr: 0.05}
//! ```
//! Unset optimizer settings come from the architecture's recipe ([`TrainConfig::resolve`]):
//! SGD with momentum for the convolutional families of 2012–2016, RMSprop for MobileNet V3 (its
//! paper's optimizer), AdamW for EfficientNet V2, ViT and ConvNeXt (as torchvision's recipes
//! do for the transformer-era models). `resolve` fills every default, so the action key sees
//! the settings that actually ran.
//!
//! The rest of torchvision's reference recipe (`references/classification/train.py`) is here
//! under torchvision's names: `norm_weight_decay`, `label_smoothing`, `mixup_alpha`,
//! `cutmix_alpha`, `auto_augment`, `random_erase`, `model_ema` (+ `_steps`, `_decay`),
//! `clip_grad_norm`, the schedule stepped per epoch (`lr_per_epoch`), and the image sides:
//! training crops of `train_crop` px (area `rrc_scale_min`..1, aspect `rrc_ratio`,
//! `interpolation`, `hflip`), evaluation at `eval_resize` → centre `eval_crop`
//! (`eval_interpolation`). docs/recipes.md lists the nine recipes.

use super::device::Precision;
use super::models::ScaleSpec;
use super::optim::{OptimConfig, OptimizerKind, Schedule};
use crate::data::augment::Policy;
use crate::data::loader::Augment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AugmentKind {
    None,
    /// Random crop with zero padding (`crop_padding`), the small-image recipe.
    Crop,
    /// Random-resized crop (area from `rrc_scale_min`), the ImageNet recipe.
    ResizedCrop,
}

/// Resampling filter of a resize (torchvision's `InterpolationMode`, with antialiasing): the
/// loader's own type, so a recipe names exactly what the loader does.
pub use crate::data::transform::Interpolation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    Constant,
    Step,
    Cosine,
}

/// Where the input normalisation's mean and std come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalizationSource {
    /// Measured on a seeded sample of the training split.
    #[default]
    Sample,
    /// torchvision's ImageNet constants, which its reference recipes use for every model.
    Imagenet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Architecture name (`repro models`).
    pub model: String,
    /// Name of the input stage that holds the dataset; the only dataset input when unset.
    pub dataset: Option<String>,
    /// Which split trains.
    pub split: String,
    pub scale: ScaleSpec,
    /// Input side; the dataset's when unset.
    pub image_size: Option<u32>,
    pub epochs: u32,
    /// Examples a forward/backward pass sees (one micro-batch).
    pub batch_size: usize,
    /// Micro-batches whose gradients add up to one optimizer step: the effective batch is
    /// `batch_size × accumulate_steps` (a recipe published for several GPUs, on one). The loss
    /// is scaled by 1/k; the learning-rate schedule and the EMA count optimizer steps. Left out
    /// of the resolved params at 1, so existing keys are unchanged.
    #[serde(skip_serializing_if = "is_one")]
    pub accumulate_steps: u32,
    pub optimizer: Option<OptimizerKind>,
    pub lr: Option<f64>,
    pub momentum: Option<f64>,
    pub nesterov: bool,
    pub weight_decay: Option<f64>,
    pub no_decay_norm_bias: bool,
    /// Weight decay of norm layers' parameters (torchvision's `--norm-weight-decay`); when
    /// set, every other parameter decays by `weight_decay` and `no_decay_norm_bias` is unused.
    pub norm_weight_decay: Option<f64>,
    pub betas: (f64, f64),
    pub eps: Option<f64>,
    pub alpha: Option<f64>,
    pub schedule: ScheduleKind,
    pub warmup_epochs: u32,
    pub warmup_start: f64,
    pub step_epochs: u32,
    pub gamma: f64,
    /// Move the learning rate once per epoch, as torchvision's schedulers do (else every step).
    pub lr_per_epoch: bool,
    /// Clip the gradients' joint 2-norm to this (`--clip-grad-norm`).
    pub clip_grad_norm: Option<f64>,
    pub label_smoothing: f64,
    /// Beta(α, α) mixup on each batch; 0 = off (`--mixup-alpha`).
    pub mixup_alpha: f64,
    /// Beta(α, α) CutMix; 0 = off. With both set, each batch gets one of the two.
    pub cutmix_alpha: f64,
    /// Automatic augmentation of each training image (`--auto-augment`).
    pub auto_augment: Policy,
    /// Random-erasing probability on the normalised image (`--random-erase`).
    pub random_erase: f64,
    /// Keep an exponential moving average of the weights; evaluation and the saved model use it.
    pub model_ema: bool,
    pub model_ema_steps: u32,
    pub model_ema_decay: f64,
    pub augment: AugmentKind,
    pub crop_padding: u32,
    pub rrc_scale_min: f64,
    /// Aspect-ratio range of random-resized crops.
    pub rrc_ratio: (f64, f64),
    /// Training crop side (`--train-crop-size`); `image_size` when unset.
    pub train_crop: Option<u32>,
    /// Resize filter of training crops.
    pub interpolation: Interpolation,
    /// Horizontal flip with probability ½.
    pub hflip: bool,
    /// Evaluation: resize the shorter side to this (`--val-resize-size`)…
    pub eval_resize: Option<u32>,
    /// …then take the centre square of this side (`--val-crop-size`).
    pub eval_crop: Option<u32>,
    pub eval_interpolation: Interpolation,
    /// `bf16` = autocast on CUDA; the CPU always trains in fp32.
    pub precision: Precision,
    /// Channels-last memory layout on CUDA.
    pub channels_last: bool,
    pub seed: u64,
    /// Batch-preparing threads; 0 = one per CPU of the stage.
    pub workers: usize,
    /// Weight of Inception's auxiliary loss.
    pub aux_weight: f64,
    /// `sample` or `imagenet` (3-channel data only). Left out of the resolved params at
    /// `sample`, so existing keys are unchanged.
    #[serde(skip_serializing_if = "is_sample")]
    pub normalization: NormalizationSource,
    /// Repeated augmentation (`--ra-sampler --ra-reps N`, [`crate::data::loader::Loader::epoch_len`]);
    /// 1 = off, and then left out of the resolved params.
    #[serde(skip_serializing_if = "is_one")]
    pub ra_reps: u32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: String::new(),
            dataset: None,
            split: "train".into(),
            scale: ScaleSpec::default(),
            image_size: None,
            epochs: 10,
            batch_size: 128,
            accumulate_steps: 1,
            optimizer: None,
            lr: None,
            momentum: None,
            nesterov: false,
            weight_decay: None,
            no_decay_norm_bias: true,
            norm_weight_decay: None,
            betas: (0.9, 0.999),
            eps: None,
            alpha: None,
            schedule: ScheduleKind::Cosine,
            warmup_epochs: 1,
            warmup_start: 0.1,
            step_epochs: 30,
            gamma: 0.1,
            lr_per_epoch: false,
            clip_grad_norm: None,
            label_smoothing: 0.0,
            mixup_alpha: 0.0,
            cutmix_alpha: 0.0,
            auto_augment: Policy::None,
            random_erase: 0.0,
            model_ema: false,
            model_ema_steps: 32,
            model_ema_decay: 0.99998,
            augment: AugmentKind::Crop,
            crop_padding: 4,
            rrc_scale_min: 0.08,
            rrc_ratio: (3.0 / 4.0, 4.0 / 3.0),
            train_crop: None,
            interpolation: Interpolation::Bilinear,
            hflip: true,
            eval_resize: None,
            eval_crop: None,
            eval_interpolation: Interpolation::Bilinear,
            precision: Precision::Fp32,
            channels_last: true,
            seed: 0,
            workers: 0,
            aux_weight: 0.4,
            normalization: NormalizationSource::Sample,
            ra_reps: 1,
        }
    }
}

fn is_one(v: &u32) -> bool {
    *v == 1
}

fn is_sample(v: &NormalizationSource) -> bool {
    *v == NormalizationSource::Sample
}

/// (optimizer, lr, weight decay) an architecture trains with when the params do not say.
fn recipe(model: &str) -> (OptimizerKind, f64, f64) {
    match model {
        "mobilenet_v3_large" => (OptimizerKind::Rmsprop, 0.002, 1e-5),
        "efficientnet_v2_l" | "vit_b_16" | "convnext_large" => (OptimizerKind::Adamw, 0.002, 0.05),
        "vgg19" | "alexnet" => (OptimizerKind::Sgd, 0.02, 5e-4),
        _ => (OptimizerKind::Sgd, 0.05, 5e-4),
    }
}

impl TrainConfig {
    /// Parse params and fill every default (the recipe's optimizer settings included).
    pub fn resolve(params: &serde_json::Value) -> Result<TrainConfig, String> {
        let mut c: TrainConfig =
            serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        let arch = super::models::find(&c.model).ok_or_else(|| {
            format!(
                "unknown model `{}`; known: {}",
                c.model,
                super::models::names().join(", ")
            )
        })?;
        c.scale.resolve(arch)?;
        let (kind, lr, wd) = recipe(&c.model);
        let kind = *c.optimizer.get_or_insert(kind);
        let same = kind == recipe(&c.model).0;
        // An optimizer other than the recipe's keeps its own usual learning rate.
        let default_lr = if same {
            lr
        } else {
            match kind {
                OptimizerKind::Sgd => 0.05,
                OptimizerKind::Adamw => 0.002,
                OptimizerKind::Rmsprop => 0.002,
            }
        };
        c.lr.get_or_insert(default_lr);
        c.weight_decay.get_or_insert(if same {
            wd
        } else if kind == OptimizerKind::Adamw {
            0.05
        } else {
            5e-4
        });
        c.momentum.get_or_insert(0.9);
        c.eps.get_or_insert(match kind {
            OptimizerKind::Rmsprop => 0.0316,
            _ => 1e-8,
        });
        c.alpha.get_or_insert(0.9);
        if c.epochs == 0 || c.batch_size == 0 || c.accumulate_steps == 0 || c.ra_reps == 0 {
            return Err("epochs, batch_size, accumulate_steps and ra_reps must be positive".into());
        }
        if !(0.0..1.0).contains(&c.label_smoothing) {
            return Err(format!(
                "label_smoothing {} is not in [0, 1)",
                c.label_smoothing
            ));
        }
        c.check_recipe()?;
        Ok(c)
    }

    /// The recipe knobs' ranges, each error naming the param and what it takes.
    fn check_recipe(&self) -> Result<(), String> {
        let bad = |name: &str, v: f64, range: &str| Err(format!("{name} {v} is not {range}"));
        for (name, v) in [
            ("mixup_alpha", self.mixup_alpha),
            ("cutmix_alpha", self.cutmix_alpha),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(name, v, "a finite number ≥ 0 (0 turns it off)");
            }
        }
        if !(0.0..=1.0).contains(&self.random_erase) {
            return bad("random_erase", self.random_erase, "a probability in [0, 1]");
        }
        if !(self.model_ema_decay > 0.0 && self.model_ema_decay < 1.0) {
            return bad("model_ema_decay", self.model_ema_decay, "in (0, 1)");
        }
        if self.model_ema_steps == 0 {
            return Err("model_ema_steps must be at least 1".into());
        }
        if let Some(v) = self.clip_grad_norm.filter(|v| v.is_nan() || *v <= 0.0) {
            return bad("clip_grad_norm", v, "> 0 (leave it out to not clip)");
        }
        if let Some(v) = self.norm_weight_decay.filter(|v| v.is_nan() || *v < 0.0) {
            return bad("norm_weight_decay", v, "≥ 0");
        }
        let (lo, hi) = self.rrc_ratio;
        if !(lo > 0.0 && lo <= hi) {
            return Err(format!(
                "rrc_ratio [{lo}, {hi}] must be a range of positive aspect ratios, low first"
            ));
        }
        Ok(())
    }

    pub fn lr(&self) -> f64 {
        self.lr.unwrap_or(0.05)
    }

    pub fn optim_config(&self) -> OptimConfig {
        let d = OptimConfig::default();
        OptimConfig {
            kind: self.optimizer.unwrap_or(d.kind),
            momentum: self.momentum.unwrap_or(d.momentum),
            nesterov: self.nesterov,
            weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
            no_decay_norm_bias: self.no_decay_norm_bias,
            norm_weight_decay: self.norm_weight_decay,
            betas: self.betas,
            eps: self.eps.unwrap_or(d.eps),
            alpha: self.alpha.unwrap_or(d.alpha),
        }
    }

    pub fn schedule(&self) -> Schedule {
        match self.schedule {
            ScheduleKind::Constant => Schedule::Constant,
            ScheduleKind::Step => Schedule::Step {
                step_epochs: self.step_epochs,
                gamma: self.gamma,
            },
            ScheduleKind::Cosine => Schedule::Cosine {
                warmup_epochs: self.warmup_epochs,
                warmup_start: self.warmup_start,
            },
        }
    }

    pub fn mix(&self) -> super::mix::MixConfig {
        super::mix::MixConfig {
            mixup_alpha: self.mixup_alpha,
            cutmix_alpha: self.cutmix_alpha,
        }
    }

    pub fn augment(&self) -> Augment {
        match self.augment {
            AugmentKind::None => Augment::None,
            AugmentKind::Crop => Augment::Crop {
                padding: self.crop_padding,
                hflip: self.hflip,
            },
            AugmentKind::ResizedCrop => Augment::ResizedCrop {
                scale_min: self.rrc_scale_min,
                hflip: self.hflip,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolve_fills_the_recipe_and_rejects_unknowns() {
        let c = TrainConfig::resolve(&json!({"model": "vit_b_16"})).expect("resolves");
        assert_eq!(c.optimizer, Some(OptimizerKind::Adamw));
        assert_eq!(c.weight_decay, Some(0.05));
        let s = TrainConfig::resolve(&json!({"model": "vit_b_16", "optimizer": "sgd"}))
            .expect("resolves");
        assert_eq!(s.lr, Some(0.05));
        assert!(TrainConfig::resolve(&json!({"model": "vit_b_16", "lr_typo": 1})).is_err());
        assert!(TrainConfig::resolve(&json!({"model": "lenet"})).is_err());
        assert!(TrainConfig::resolve(&json!({"model": "alexnet", "scale": "huge"})).is_err());
        let again =
            TrainConfig::resolve(&serde_json::to_value(&c).expect("ser")).expect("idempotent");
        assert_eq!(again, c);
        // accumulate_steps: 1 stays out of the params (and the key); others round-trip.
        assert!(serde_json::to_value(&c)
            .expect("ser")
            .get("accumulate_steps")
            .is_none());
        let k = TrainConfig::resolve(&json!({"model": "vit_b_16", "accumulate_steps": 8}))
            .expect("resolves");
        assert_eq!(
            serde_json::to_value(&k).expect("ser")["accumulate_steps"],
            8
        );
        assert!(
            TrainConfig::resolve(&json!({"model": "vit_b_16", "accumulate_steps": 0})).is_err()
        );
    }

    /// A torchvision recipe as pipeline.paper.yaml writes it reads back; out-of-range knobs
    /// are named.
    #[test]
    fn torchvision_recipe_params_resolve_and_are_checked() {
        let c = TrainConfig::resolve(&json!({
            "model": "vit_b_16", "optimizer": "adamw", "lr": 0.003, "weight_decay": 0.3,
            "label_smoothing": 0.11, "mixup_alpha": 0.2, "cutmix_alpha": 1.0,
            "auto_augment": {"rand_augment": {"ops": 2, "magnitude": 9}},
            "clip_grad_norm": 1.0, "model_ema": true, "lr_per_epoch": true,
            "warmup_epochs": 30, "warmup_start": 0.033, "norm_weight_decay": 0.0,
            "eval_resize": 256, "eval_crop": 224, "eval_interpolation": "bilinear",
        }))
        .expect("resolves");
        assert_eq!(
            c.auto_augment,
            Policy::RandAugment {
                ops: 2,
                magnitude: 9
            }
        );
        assert!(c.mix().enabled());
        assert_eq!(c.optim_config().norm_weight_decay, Some(0.0));
        for (k, v) in [
            ("mixup_alpha", json!(-1.0)),
            ("random_erase", json!(1.5)),
            ("model_ema_decay", json!(1.0)),
            ("clip_grad_norm", json!(0.0)),
            ("rrc_ratio", json!([2.0, 1.0])),
            ("auto_augment", json!("augmix")),
        ] {
            let e =
                TrainConfig::resolve(&json!({"model": "alexnet", k: v})).expect_err("out of range");
            assert!(e.contains(k) || k == "auto_augment", "{k}: {e}");
        }
    }
}
