//! ConvNeXt Large — Liu, Mao, Wu, Feichtenhofer, Darrell & Xie, "A ConvNet for the 2020s"
//! (CVPR 2022), torchvision `convnext_large`: a 4×4 patchify stem, four stages (3, 3, 27, 3
//! blocks at 192…1536 channels) of depthwise 7×7 → LayerNorm → 4× MLP with GELU → layer scale,
//! residual with stochastic depth up to 0.5; LayerNorm + 2×2 stride-2 conv between stages.
//!
//! Names: `features.0.{0,1}` (stem conv, LayerNorm2d), `features.{1,3,5,7}.<i>.{layer_scale,block.{0,2,3,5}}`,
//! `features.{2,4,6}.{0,1}` (downsampling), `classifier.{0,2}`. Small inputs: a 2×2 stride-2 stem.

use super::{Arch, ModelConfig, Net, Scale};
use crate::ml::layers::{layer_norm, stochastic_depth, LayerNorm2d};
use tch::nn::{self, Init};
use tch::Tensor;

pub const ARCH: Arch = Arch {
    name: "convnext_large",
    title: "ConvNeXt Large",
    year: 2022,
    imagenet_top1: 84.414,
    full_params: 197_767_336,
    full_image_size: 224,
    mini: Scale {
        width: 0.125,
        depth: 0.15,
        patch: None,
    },
    build: |p, cfg| Box::new(ConvNeXt::new(p, cfg)),
};

const DIMS: [i64; 4] = [192, 384, 768, 1536];
const DEPTHS: [i64; 4] = [3, 3, 27, 3];
const LAYER_SCALE: f64 = 1e-6;
const STOCHASTIC_DEPTH: f64 = 0.5;
const EPS: f64 = 1e-6;

/// torchvision: truncated normal, std 0.02, zero bias (a plain normal here).
const INIT: Init = Init::Randn {
    mean: 0.0,
    stdev: 0.02,
};

fn conv(
    p: nn::Path,
    c_in: i64,
    c_out: i64,
    k: i64,
    stride: i64,
    pad: i64,
    groups: i64,
) -> nn::Conv2D {
    let cfg = nn::ConvConfig {
        stride,
        padding: pad,
        groups,
        ws_init: INIT,
        bs_init: Init::Const(0.0),
        ..Default::default()
    };
    nn::conv2d(p, c_in, c_out, k, cfg)
}

fn lin(p: nn::Path, a: i64, b: i64) -> nn::Linear {
    crate::ml::layers::linear(p, a, b, INIT)
}

#[derive(Debug)]
struct CnBlock {
    dwconv: nn::Conv2D,
    norm: nn::LayerNorm,
    fc1: nn::Linear,
    fc2: nn::Linear,
    layer_scale: Tensor,
    sd_prob: f64,
}

impl CnBlock {
    fn new(p: nn::Path, dim: i64, sd_prob: f64) -> Self {
        let b = &p / "block";
        CnBlock {
            dwconv: conv(&b / 0, dim, dim, 7, 1, 3, dim),
            norm: layer_norm(&b / 2, dim, EPS),
            fc1: lin(&b / 3, dim, 4 * dim),
            fc2: lin(&b / 5, 4 * dim, dim),
            layer_scale: p.var("layer_scale", &[dim, 1, 1], Init::Const(LAYER_SCALE)),
            sd_prob,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let y = xs.apply(&self.dwconv).permute([0, 2, 3, 1]);
        let y = y
            .apply(&self.norm)
            .apply(&self.fc1)
            .gelu("none")
            .apply(&self.fc2)
            .permute([0, 3, 1, 2]);
        stochastic_depth(&self.layer_scale * y, self.sd_prob, train) + xs
    }
}

// Built once per model; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Stage {
    Blocks(Vec<CnBlock>),
    Down(LayerNorm2d, nn::Conv2D),
}

#[derive(Debug)]
pub struct ConvNeXt {
    stem: (nn::Conv2D, LayerNorm2d),
    stages: Vec<Stage>,
    norm: LayerNorm2d,
    fc: nn::Linear,
}

impl ConvNeXt {
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let f = &p / "features";
        let dims: Vec<i64> = DIMS.iter().map(|&d| cfg.ch(d)).collect();
        let depths: Vec<i64> = DEPTHS.iter().map(|&n| cfg.blocks(n)).collect();
        let k = if cfg.small_input() { 2 } else { 4 };
        let stem = (
            conv(&f / 0 / 0, 3, dims[0], k, k, 0, 1),
            LayerNorm2d::new(&f / 0 / 1, dims[0], EPS),
        );
        let total: i64 = depths.iter().sum();
        let mut id = 0;
        let mut stages = Vec::new();
        let mut idx = 1;
        for s in 0..4 {
            let sp = &f / idx;
            let blocks = (0..depths[s])
                .map(|i| {
                    let sd = STOCHASTIC_DEPTH * id as f64 / (total as f64 - 1.0).max(1.0);
                    id += 1;
                    CnBlock::new(&sp / i, dims[s], sd)
                })
                .collect();
            stages.push(Stage::Blocks(blocks));
            idx += 1;
            if s < 3 {
                let dp = &f / idx;
                stages.push(Stage::Down(
                    LayerNorm2d::new(&dp / 0, dims[s], EPS),
                    conv(&dp / 1, dims[s], dims[s + 1], 2, 2, 0, 1),
                ));
                idx += 1;
            }
        }
        let cl = &p / "classifier";
        ConvNeXt {
            stem,
            stages,
            norm: LayerNorm2d::new(&cl / 0, dims[3], EPS),
            fc: lin(&cl / 2, dims[3], cfg.num_classes),
        }
    }
}

impl Net for ConvNeXt {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = self.stem.1.forward(&xs.apply(&self.stem.0));
        for s in &self.stages {
            x = match s {
                Stage::Blocks(blocks) => blocks.iter().fold(x, |x, b| b.forward_t(&x, train)),
                Stage::Down(norm, conv) => norm.forward(&x).apply(conv),
            };
        }
        self.norm
            .forward(&x.adaptive_avg_pool2d([1, 1]))
            .flatten(1, -1)
            .apply(&self.fc)
    }
}
