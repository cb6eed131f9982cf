//! Fine-tuning: start a training run from another run's weights with the classification head
//! replaced for the target's classes, and train all layers or the head alone.
//!
//! The head of each architecture is its last classifier layer, named as torchvision names it
//! (`fc` in ResNet and Inception, whose auxiliary classifier `AuxLogits.fc` is a head too;
//! `classifier.6` in AlexNet and VGG; `classifier` in DenseNet; `classifier.3` in MobileNet V3;
//! `classifier.1` in EfficientNet V2; `classifier.2` in ConvNeXt; `heads.head` in ViT). Head
//! tensors keep the fresh, seeded initialisation of the target network; every other tensor
//! (BatchNorm running statistics included) is copied from the pretrained `model.safetensors`,
//! and a missing or differently shaped one is an error naming the file and the tensor.
//!
//! `layers: head` freezes everything but the head and runs the backbone in inference mode
//! (BatchNorm uses its running statistics, dropout is off), so every non-head tensor ends
//! bit-identical to the pretrained one: a linear probe of the pretrained features.
//! [`crate::ml::train::train`] runs the loop; this file only decides where weights come from
//! and which of them train.

use super::models::Arch;
use super::train::{ModelCard, TrainError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{nn, Tensor};

/// Which parameters a fine-tuning trains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layers {
    /// Every parameter (the paper's fine-tuning).
    #[default]
    All,
    /// Only the replaced head; the backbone is frozen and runs in inference mode.
    Head,
}

impl Layers {
    pub fn name(self) -> &'static str {
        match self {
            Layers::All => "all",
            Layers::Head => "head",
        }
    }
}

/// A trained model to start from: a train (or finetune) stage's output folder.
#[derive(Debug, Clone)]
pub struct Pretrained {
    pub dir: PathBuf,
    pub card: ModelCard,
    pub layers: Layers,
}

/// What `metrics.json` records about the starting point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainedInfo {
    /// The dataset the starting weights were trained on.
    pub dataset: String,
    pub num_classes: i64,
    pub layers: Layers,
    /// Tensors copied from the pretrained weights / freshly initialised (the head).
    pub copied: usize,
    pub fresh: Vec<String>,
}

/// Name prefixes of `arch`'s classification head (torchvision's names; see the module docs).
pub fn head_prefixes(arch: &str) -> &'static [&'static str] {
    match arch {
        "alexnet" | "vgg19" => &["classifier.6."],
        "inception_v3" => &["fc.", "AuxLogits.fc."],
        "resnet152" => &["fc."],
        "densenet161" => &["classifier."],
        "mobilenet_v3_large" => &["classifier.3."],
        "efficientnet_v2_l" => &["classifier.1."],
        "vit_b_16" => &["heads.head."],
        "convnext_large" => &["classifier.2."],
        _ => &[],
    }
}

/// Whether parameter `name` belongs to `arch`'s head.
pub fn is_head(arch: &str, name: &str) -> bool {
    head_prefixes(arch).iter().any(|p| name.starts_with(p))
}

impl Pretrained {
    /// Read the card of the trained model in `dir`, with a clear error when it is not one.
    pub fn open(dir: &Path, layers: Layers) -> Result<Pretrained, TrainError> {
        let bad = |msg: String| TrainError::Pretrained {
            path: dir.to_path_buf(),
            msg,
        };
        for file in ["model.json", "model.safetensors"] {
            if !dir.join(file).is_file() {
                return Err(bad(format!(
                    "no {file}; the `pretrained` input must be a train or finetune stage"
                )));
            }
        }
        let card = super::eval::read_card(dir).map_err(|e| bad(e.to_string()))?;
        Ok(Pretrained {
            dir: dir.to_path_buf(),
            card,
            layers,
        })
    }

    /// Check that the pretrained model is `arch` and can start a network for `num_classes`.
    pub fn check(&self, arch: &Arch) -> Result<(), TrainError> {
        if self.card.model != arch.name {
            return Err(TrainError::Pretrained {
                path: self.dir.clone(),
                msg: format!(
                    "holds a `{}`, but the params say `model: {}`; set `model: {}` or pick the {} stage",
                    self.card.model, arch.name, self.card.model, arch.name
                ),
            });
        }
        if head_prefixes(arch.name).is_empty() {
            return Err(TrainError::Config(format!(
                "no head is known for `{}`; add it to src/ml/finetune.rs",
                arch.name
            )));
        }
        Ok(())
    }

    /// Copy every non-head tensor into `vs` (built for the target's classes), and with
    /// [`Layers::Head`] freeze them. Returns what `metrics.json` records.
    pub fn apply(&self, arch: &Arch, vs: &nn::VarStore) -> Result<PretrainedInfo, TrainError> {
        let path = self.dir.join("model.safetensors");
        let bad = |msg: String| TrainError::Pretrained {
            path: path.clone(),
            msg,
        };
        let named: BTreeMap<String, Tensor> = Tensor::read_safetensors(&path)
            .map_err(|e| bad(e.to_string()))?
            .into_iter()
            .collect();
        let vars: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
        let (mut copied, mut fresh) = (0, Vec::new());
        for (name, mut var) in vars {
            if is_head(arch.name, &name) {
                fresh.push(name);
                continue;
            }
            let src = named.get(&name).ok_or_else(|| {
                bad(format!(
                    "no tensor `{name}`: trained at another scale or with other code? retrain the pretrained stage"
                ))
            })?;
            if src.size() != var.size() {
                return Err(bad(format!(
                    "`{name}` has shape {:?}, the network expects {:?} (another scale or input size?)",
                    src.size(),
                    var.size()
                )));
            }
            tch::no_grad(|| var.copy_(src));
            if self.layers == Layers::Head && var.requires_grad() {
                let _ = var.set_requires_grad(false);
            }
            copied += 1;
        }
        if fresh.is_empty() {
            return Err(TrainError::Config(format!(
                "`{}` has no parameter under its head names {:?}",
                arch.name,
                head_prefixes(arch.name)
            )));
        }
        Ok(PretrainedInfo {
            dataset: self.card.dataset.clone(),
            num_classes: self.card.config.num_classes,
            layers: self.layers,
            copied,
            fresh,
        })
    }

    /// Whether the network runs in training mode (BatchNorm updates, dropout on).
    pub fn train_mode(&self) -> bool {
        self.layers == Layers::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::models::{self, ModelConfig};

    /// The head table is exactly the set of tensors whose shape depends on the class count.
    #[test]
    fn head_names_are_the_class_dependent_tensors() {
        for arch in models::registry() {
            let shapes = |classes: i64| -> BTreeMap<String, Vec<i64>> {
                let vs = nn::VarStore::new(tch::Device::Cpu);
                let cfg = ModelConfig::new(classes, 32, arch.mini);
                let _net = (arch.build)(vs.root(), &cfg);
                vs.variables()
                    .into_iter()
                    .map(|(n, t)| (n, t.size()))
                    .collect()
            };
            let (a, b) = (shapes(7), shapes(11));
            for (name, shape) in &a {
                let depends = b.get(name) != Some(shape);
                assert_eq!(
                    depends,
                    is_head(arch.name, name),
                    "{}: `{name}` class-dependent = {depends}",
                    arch.name
                );
            }
        }
    }

    #[test]
    fn layers_parse_from_yaml_names() {
        let l: Layers = serde_json::from_value(serde_json::json!("head")).expect("parses");
        assert_eq!(l, Layers::Head);
        assert!(serde_json::from_value::<Layers>(serde_json::json!("body")).is_err());
    }
}
