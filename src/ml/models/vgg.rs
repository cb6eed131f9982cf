//! VGG-19 — Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
//! Recognition" (ICLR 2015), configuration E without batch norm (torchvision `vgg19`).
//!
//! Names: `features.<i>` numbered as torchvision's `Sequential` (conv, ReLU, …, max-pool),
//! `classifier.{0,3,6}`. Depth scales the convolutions per stage (2, 2, 4, 4, 4). Small inputs:
//! the adaptive pool before the classifier is 1×1 instead of 7×7 (five pools take 32 px to 1).

use super::{Arch, ModelConfig, Net, Scale};
use crate::ml::layers::{conv2d, linear, KAIMING_FAN_OUT};
use tch::nn::{self, Init};
use tch::Tensor;

pub const ARCH: Arch = Arch {
    name: "vgg19",
    title: "VGG-19",
    year: 2014,
    imagenet_top1: 72.376,
    full_params: 143_667_240,
    full_image_size: 224,
    mini: Scale {
        width: 0.125,
        depth: 0.5,
        patch: None,
    },
    build: |p, cfg| Box::new(Vgg::new(p, cfg)),
};

/// Configuration E: (channels, convolutions) per stage, a max-pool after each.
const STAGES: [(i64, i64); 5] = [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)];

/// fc1's inputs at full size: 512 channels of a 7×7 pool.
const FULL_FC1_IN: i64 = 512 * 7 * 7;

/// torchvision's N(0, 0.01) classifier init, with its standard deviation scaled by
/// √(full fan-in / fan-in) so each layer multiplies its input's scale by what it does in the
/// full network (0.01·√25088 ≈ 1.6 for fc1, 0.64 for fc2 and fc3). Without BatchNorm nothing
/// else restores that scale: at the mini width (fc1 sees 64 inputs, fc2 and fc3 512) the plain
/// 0.01 made the three layers ~160× quieter than at full size, the logits started at ~1e-4 and
/// every rate of the tuning grid stayed at chance on Fashion-MNIST. At full size it is 0.01.
fn gain_kept(full_fan_in: i64, fan_in: i64) -> Init {
    Init::Randn {
        mean: 0.0,
        stdev: 0.01 * (full_fan_in as f64 / fan_in as f64).sqrt(),
    }
}

#[derive(Debug)]
pub struct Vgg {
    /// Per stage, its convolutions.
    stages: Vec<Vec<nn::Conv2D>>,
    pool: i64,
    fc1: nn::Linear,
    fc2: nn::Linear,
    fc3: nn::Linear,
}

impl Vgg {
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let f = &p / "features";
        let mut idx = 0i64;
        let mut c_in = 3;
        let mut stages = Vec::new();
        for (c, n) in STAGES {
            let c_out = cfg.ch(c);
            let mut convs = Vec::new();
            for _ in 0..cfg.blocks(n) {
                convs.push(conv2d(
                    &f / idx,
                    c_in,
                    c_out,
                    [3, 3],
                    1,
                    [1, 1],
                    1,
                    true,
                    KAIMING_FAN_OUT,
                ));
                c_in = c_out;
                idx += 2; // conv, ReLU
            }
            idx += 1; // max-pool
            stages.push(convs);
        }
        let pool = if cfg.small_input() { 1 } else { 7 };
        let cl = &p / "classifier";
        let hidden = cfg.ch(4096);
        let fc1_in = c_in * pool * pool;
        Vgg {
            stages,
            pool,
            fc1: linear(&cl / 0, fc1_in, hidden, gain_kept(FULL_FC1_IN, fc1_in)),
            fc2: linear(&cl / 3, hidden, hidden, gain_kept(4096, hidden)),
            fc3: linear(&cl / 6, hidden, cfg.num_classes, gain_kept(4096, hidden)),
        }
    }
}

impl Net for Vgg {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.shallow_clone();
        for convs in &self.stages {
            for conv in convs {
                x = x.apply(conv).relu();
            }
            x = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        }
        x.adaptive_avg_pool2d([self.pool, self.pool])
            .flatten(1, -1)
            .apply(&self.fc1)
            .relu()
            .dropout(0.5, train)
            .apply(&self.fc2)
            .relu()
            .dropout(0.5, train)
            .apply(&self.fc3)
    }
}
