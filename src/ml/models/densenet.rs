//! DenseNet-161 — Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional
//! Networks" (CVPR 2017), torchvision `densenet161`: growth rate 48, blocks of 6, 12, 36, 24
//! BN-ReLU-1×1-BN-ReLU-3×3 layers, each seeing the concatenation of all earlier outputs;
//! transitions halve channels and resolution.
//!
//! Names: `features.{conv0,norm0}`, `features.denseblock<b>.denselayer<l>.{norm1,conv1,norm2,conv2}`,
//! `features.transition<b>.{norm,conv}`, `features.norm5`, `classifier`. Width scales the growth
//! rate and stem; small inputs get a 3×3 stride-2 stem and no max-pool.

use super::{Arch, ModelConfig, Net, Scale};
use crate::ml::layers::{batch_norm, conv2d, linear, KAIMING_FAN_IN};
use tch::nn;
use tch::Tensor;

pub const ARCH: Arch = Arch {
    name: "densenet161",
    title: "DenseNet-161",
    year: 2016,
    imagenet_top1: 77.138,
    full_params: 28_681_000,
    full_image_size: 224,
    mini: Scale {
        width: 0.25,
        depth: 0.1,
        patch: None,
    },
    build: |p, cfg| Box::new(DenseNet::new(p, cfg)),
};

const BLOCKS: [i64; 4] = [6, 12, 36, 24];
const GROWTH: i64 = 48;
const INIT_FEATURES: i64 = 96;
const BN_SIZE: i64 = 4;

fn conv(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, pad: i64) -> nn::Conv2D {
    conv2d(
        p,
        c_in,
        c_out,
        [k, k],
        stride,
        [pad, pad],
        1,
        false,
        KAIMING_FAN_IN,
    )
}

fn bn(p: nn::Path, c: i64) -> nn::BatchNorm {
    batch_norm(p, c, 1e-5, 0.1)
}

#[derive(Debug)]
struct DenseLayer {
    norm1: nn::BatchNorm,
    conv1: nn::Conv2D,
    norm2: nn::BatchNorm,
    conv2: nn::Conv2D,
}

// Built once per model; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Stage {
    Block(Vec<DenseLayer>),
    Transition(nn::BatchNorm, nn::Conv2D),
}

#[derive(Debug)]
pub struct DenseNet {
    conv0: nn::Conv2D,
    norm0: nn::BatchNorm,
    small: bool,
    stages: Vec<Stage>,
    norm5: nn::BatchNorm,
    classifier: nn::Linear,
}

impl DenseNet {
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let f = &p / "features";
        let small = cfg.small_input();
        let growth = cfg.ch(GROWTH);
        let mut nf = cfg.ch(INIT_FEATURES);
        let conv0 = if small {
            conv(&f / "conv0", 3, nf, 3, 2, 1)
        } else {
            conv(&f / "conv0", 3, nf, 7, 2, 3)
        };
        let norm0 = bn(&f / "norm0", nf);
        let mut stages = Vec::new();
        for (i, &n) in BLOCKS.iter().enumerate() {
            let block = &f / format!("denseblock{}", i + 1);
            let mut layers = Vec::new();
            for j in 0..cfg.blocks(n) {
                let l = &block / format!("denselayer{}", j + 1);
                let c_in = nf + j * growth;
                layers.push(DenseLayer {
                    norm1: bn(&l / "norm1", c_in),
                    conv1: conv(&l / "conv1", c_in, BN_SIZE * growth, 1, 1, 0),
                    norm2: bn(&l / "norm2", BN_SIZE * growth),
                    conv2: conv(&l / "conv2", BN_SIZE * growth, growth, 3, 1, 1),
                });
            }
            nf += layers.len() as i64 * growth;
            stages.push(Stage::Block(layers));
            if i + 1 < BLOCKS.len() {
                let t = &f / format!("transition{}", i + 1);
                stages.push(Stage::Transition(
                    bn(&t / "norm", nf),
                    conv(&t / "conv", nf, nf / 2, 1, 1, 0),
                ));
                nf /= 2;
            }
        }
        DenseNet {
            conv0,
            norm0,
            small,
            stages,
            norm5: bn(&f / "norm5", nf),
            // torchvision: PyTorch's default weight init, zero bias.
            classifier: linear(
                &p / "classifier",
                nf,
                cfg.num_classes,
                nn::init::DEFAULT_KAIMING_UNIFORM,
            ),
        }
    }
}

impl Net for DenseNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.apply(&self.conv0).apply_t(&self.norm0, train).relu();
        if !self.small {
            x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        }
        for stage in &self.stages {
            x = match stage {
                Stage::Block(layers) => {
                    let mut feats = vec![x];
                    for l in layers {
                        let cat = Tensor::cat(&feats, 1);
                        let y = cat.apply_t(&l.norm1, train).relu().apply(&l.conv1);
                        let y = y.apply_t(&l.norm2, train).relu().apply(&l.conv2);
                        feats.push(y);
                    }
                    Tensor::cat(&feats, 1)
                }
                Stage::Transition(norm, conv) => x
                    .apply_t(norm, train)
                    .relu()
                    .apply(conv)
                    .avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None),
            };
        }
        x.apply_t(&self.norm5, train)
            .relu()
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.classifier)
    }
}
