//! AlexNet — Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
//! Neural Networks" (NeurIPS 2012), in torchvision's single-tower form (`alexnet`):
//! five convolutions with three max-pools, then three fully connected layers with dropout.
//!
//! Names: `features.{0,3,6,8,10}`, `classifier.{1,4,6}`. Small inputs: the 11×11 stride-4 stem
//! becomes 3×3 stride 2 and the adaptive pool before the classifier is 1×1 instead of 6×6.

use super::{Arch, ModelConfig, Net, Scale};
use crate::ml::layers::linear_default;
use tch::nn::{self, Init};
use tch::Tensor;

pub const ARCH: Arch = Arch {
    name: "alexnet",
    title: "AlexNet",
    year: 2012,
    imagenet_top1: 56.522,
    full_params: 61_100_840,
    full_image_size: 224,
    mini: Scale {
        width: 0.25,
        depth: 1.0,
        patch: None,
    },
    build: |p, cfg| Box::new(AlexNet::new(p, cfg)),
};

#[derive(Debug)]
pub struct AlexNet {
    convs: Vec<nn::Conv2D>,
    /// After which conv (index into `convs`) a 3×3 stride-2 max-pool follows.
    pool_after: [bool; 5],
    pool: i64,
    fc1: nn::Linear,
    fc2: nn::Linear,
    fc3: nn::Linear,
}

impl AlexNet {
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let f = &p / "features";
        let c = |n| cfg.ch(n);
        let small = cfg.small_input();
        // PyTorch's default conv init (kaiming uniform, a = √5), which torchvision keeps here.
        let conv = |idx: i64, cin, cout, k, stride, pad| {
            let fan_in = (cin * k * k) as f64;
            let bound = 1.0 / fan_in.sqrt();
            let cfg = nn::ConvConfig {
                stride,
                padding: pad,
                ws_init: Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
                bs_init: Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
                ..Default::default()
            };
            nn::conv2d(&f / idx, cin, cout, k, cfg)
        };
        let (k0, s0, p0) = if small { (3, 2, 1) } else { (11, 4, 2) };
        let convs = vec![
            conv(0, 3, c(64), k0, s0, p0),
            conv(3, c(64), c(192), 5, 1, 2),
            conv(6, c(192), c(384), 3, 1, 1),
            conv(8, c(384), c(256), 3, 1, 1),
            conv(10, c(256), c(256), 3, 1, 1),
        ];
        let pool = if small { 1 } else { 6 };
        let cl = &p / "classifier";
        let hidden = c(4096);
        AlexNet {
            convs,
            pool_after: [true, true, false, false, true],
            pool,
            fc1: linear_default(&cl / 1, c(256) * pool * pool, hidden),
            fc2: linear_default(&cl / 4, hidden, hidden),
            fc3: linear_default(&cl / 6, hidden, cfg.num_classes),
        }
    }
}

impl Net for AlexNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.shallow_clone();
        for (conv, &pool) in self.convs.iter().zip(&self.pool_after) {
            x = x.apply(conv).relu();
            if pool {
                x = x.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false);
            }
        }
        x.adaptive_avg_pool2d([self.pool, self.pool])
            .flatten(1, -1)
            .dropout(0.5, train)
            .apply(&self.fc1)
            .relu()
            .dropout(0.5, train)
            .apply(&self.fc2)
            .relu()
            .apply(&self.fc3)
    }
}
