//! The paper's nine architectures, one file each, and the table that lists them.
//!
//! Every architecture is built from a [`ModelConfig`]: number of classes, input size and a
//! [`Scale`]. At [`Scale::FULL`] with 1,000 classes each one has exactly torchvision's parameter
//! count and parameter names, so its `model.safetensors` loads into the torchvision model with
//! `load_state_dict(strict=True)` (BatchNorm's `num_batches_tracked`, which PyTorch fills in
//! itself when absent, aside). Scaled variants multiply widths and block counts but keep what
//! defines each family (residuals, dense connectivity, squeeze-excite, fused-MBConv, patch
//! tokens, depthwise 7×7 + LayerNorm + layer scale).
//!
//! Inputs under 64 pixels get a "small-input stem": the large-kernel, stride-4 stems and early
//! pools that would shrink a 32×32 image to nothing become a 3×3 stride-2 convolution (each file
//! says what exactly). That changes spatial sizes and sometimes a kernel, never a parameter name.

pub mod alexnet;
pub mod convnext;
pub mod densenet;
pub mod efficientnet;
pub mod inception;
pub mod mobilenet;
pub mod resnet;
pub mod vgg;
pub mod vit;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

/// Width, depth and (for ViT) patch multipliers of an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// Channel multiplier (1.0 = the published width).
    pub width: f64,
    /// Block-count multiplier (1.0 = the published depth); every stage keeps at least one block.
    pub depth: f64,
    /// ViT patch size; `None` = the published one (16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<i64>,
}

impl Scale {
    pub const FULL: Scale = Scale {
        width: 1.0,
        depth: 1.0,
        patch: None,
    };
}

/// What every architecture is built from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub num_classes: i64,
    /// Square input side in pixels.
    pub image_size: i64,
    pub scale: Scale,
}

impl ModelConfig {
    pub fn new(num_classes: i64, image_size: i64, scale: Scale) -> Self {
        ModelConfig {
            num_classes,
            image_size,
            scale,
        }
    }

    /// A published channel count scaled by the width multiplier, kept a multiple of 8 (or of 4
    /// below 32) and never below 8.
    pub fn ch(&self, c: i64) -> i64 {
        if self.scale.width == 1.0 {
            return c;
        }
        let v = c as f64 * self.scale.width;
        let step = if v < 32.0 { 4 } else { 8 };
        ((v / step as f64).round() as i64 * step).max(8)
    }

    /// A published block count scaled by the depth multiplier (rounded, at least 1).
    pub fn blocks(&self, n: i64) -> i64 {
        ((n as f64 * self.scale.depth).round() as i64).max(1)
    }

    /// Whether the small-input stem applies (see the module docs).
    pub fn small_input(&self) -> bool {
        self.image_size < 64
    }
}

/// A built network: logits, plus Inception's auxiliary logits while training.
pub trait Net: std::fmt::Debug + Send {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor;

    /// (main logits, auxiliary logits): the auxiliary head exists only in Inception and only
    /// runs in training, where its loss is added with weight 0.4 as in the reference recipe.
    fn forward_aux(&self, xs: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        (self.forward_t(xs, train), None)
    }
}

/// One architecture of the study.
#[derive(Debug, Clone, Copy)]
pub struct Arch {
    /// torchvision's builder name (`resnet152`).
    pub name: &'static str,
    /// Display name as in the paper.
    pub title: &'static str,
    /// Year of publication (the chronological axis of Figure 1).
    pub year: u32,
    /// torchvision's published ImageNet-1k top-1 (IMAGENET1K_V1 weights), percent.
    pub imagenet_top1: f64,
    /// torchvision's parameter count at full size with 1,000 classes.
    pub full_params: i64,
    /// Input side torchvision trains it at.
    pub full_image_size: i64,
    /// The scale the mini profile trains at 32×32 on CPU.
    pub mini: Scale,
    pub build: fn(nn::Path, &ModelConfig) -> Box<dyn Net>,
}

/// All nine, in the paper's chronological order.
pub fn registry() -> &'static [Arch] {
    &ARCHS
}

pub fn find(name: &str) -> Option<&'static Arch> {
    ARCHS.iter().find(|a| a.name == name)
}

pub fn names() -> Vec<&'static str> {
    ARCHS.iter().map(|a| a.name).collect()
}

static ARCHS: [Arch; 9] = [
    alexnet::ARCH,
    vgg::ARCH,
    inception::ARCH,
    resnet::ARCH,
    densenet::ARCH,
    mobilenet::ARCH,
    efficientnet::ARCH,
    vit::ARCH,
    convnext::ARCH,
];

/// Number of trainable parameters in a var store.
pub fn count_params(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum()
}

/// Build `arch` on the CPU and count its parameters (allocates the weights once).
pub fn param_count(arch: &Arch, cfg: &ModelConfig) -> i64 {
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let _net = (arch.build)(vs.root(), cfg);
    count_params(&vs)
}

/// A scale as users write it: `full`, `mini` (each architecture's own mini scale), or explicit
/// multipliers `{width, depth, patch}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScaleSpec {
    Named(String),
    Custom(Scale),
}

impl Default for ScaleSpec {
    fn default() -> Self {
        ScaleSpec::Named("mini".into())
    }
}

impl ScaleSpec {
    pub fn resolve(&self, arch: &Arch) -> Result<Scale, String> {
        match self {
            ScaleSpec::Named(n) if n == "full" => Ok(Scale::FULL),
            ScaleSpec::Named(n) if n == "mini" => Ok(arch.mini),
            ScaleSpec::Named(n) => Err(format!(
                "unknown scale `{n}`: use `full`, `mini`, or {{width, depth, patch}}"
            )),
            ScaleSpec::Custom(s)
                if s.width > 0.0 && s.depth > 0.0 && s.patch.is_none_or(|p| p > 0) =>
            {
                Ok(*s)
            }
            ScaleSpec::Custom(s) => Err(format!("scale {s:?}: width and depth must be positive")),
        }
    }
}
