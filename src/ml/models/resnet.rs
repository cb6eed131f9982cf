//! ResNet-152 — He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016),
//! torchvision `resnet152`: bottleneck blocks (1×1, 3×3, 1×1, expansion 4) in stages of
//! 3, 8, 36, 3, identity or projected shortcuts.
//!
//! Names: `conv1`, `bn1`, `layer{1..4}.<i>.{conv,bn}{1,2,3}`, `…downsample.{0,1}`, `fc`.
//! Small inputs: a 3×3 stride-2 stem and no max-pool.

use super::{Arch, ModelConfig, Net, Scale};
use crate::ml::layers::{batch_norm, conv2d, linear_default, KAIMING_FAN_OUT};
use tch::nn;
use tch::Tensor;

pub const ARCH: Arch = Arch {
    name: "resnet152",
    title: "ResNet-152",
    year: 2015,
    imagenet_top1: 78.312,
    full_params: 60_192_808,
    full_image_size: 224,
    mini: Scale {
        width: 0.125,
        depth: 0.1,
        patch: None,
    },
    build: |p, cfg| Box::new(ResNet::new(p, cfg)),
};

const LAYERS: [i64; 4] = [3, 8, 36, 3];
const EXPANSION: i64 = 4;

fn conv(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64) -> nn::Conv2D {
    conv2d(
        p,
        c_in,
        c_out,
        [k, k],
        stride,
        [(k - 1) / 2, (k - 1) / 2],
        1,
        false,
        KAIMING_FAN_OUT,
    )
}

fn bn(p: nn::Path, c: i64) -> nn::BatchNorm {
    batch_norm(p, c, 1e-5, 0.1)
}

#[derive(Debug)]
struct Bottleneck {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    conv3: nn::Conv2D,
    bn3: nn::BatchNorm,
    downsample: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl Bottleneck {
    fn new(p: nn::Path, c_in: i64, planes: i64, stride: i64) -> Self {
        let out = planes * EXPANSION;
        let downsample = (stride != 1 || c_in != out).then(|| {
            let d = &p / "downsample";
            (conv(&d / 0, c_in, out, 1, stride), bn(&d / 1, out))
        });
        Bottleneck {
            conv1: conv(&p / "conv1", c_in, planes, 1, 1),
            bn1: bn(&p / "bn1", planes),
            conv2: conv(&p / "conv2", planes, planes, 3, stride),
            bn2: bn(&p / "bn2", planes),
            conv3: conv(&p / "conv3", planes, out, 1, 1),
            bn3: bn(&p / "bn3", out),
            downsample,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let ys = xs.apply(&self.conv1).apply_t(&self.bn1, train).relu();
        let ys = ys.apply(&self.conv2).apply_t(&self.bn2, train).relu();
        let ys = ys.apply(&self.conv3).apply_t(&self.bn3, train);
        let shortcut = match &self.downsample {
            Some((c, b)) => xs.apply(c).apply_t(b, train),
            None => xs.shallow_clone(),
        };
        (ys + shortcut).relu()
    }
}

#[derive(Debug)]
pub struct ResNet {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    small: bool,
    blocks: Vec<Bottleneck>,
    fc: nn::Linear,
}

impl ResNet {
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let small = cfg.small_input();
        let stem = cfg.ch(64);
        let conv1 = if small {
            conv(&p / "conv1", 3, stem, 3, 2)
        } else {
            conv(&p / "conv1", 3, stem, 7, 2)
        };
        let mut blocks = Vec::new();
        let mut c_in = stem;
        for (i, &n) in LAYERS.iter().enumerate() {
            let planes = cfg.ch(64 << i);
            let layer = &p / format!("layer{}", i + 1);
            for j in 0..cfg.blocks(n) {
                let stride = if j == 0 && i > 0 { 2 } else { 1 };
                blocks.push(Bottleneck::new(&layer / j, c_in, planes, stride));
                c_in = planes * EXPANSION;
            }
        }
        ResNet {
            conv1,
            bn1: bn(&p / "bn1", stem),
            small,
            blocks,
            fc: linear_default(&p / "fc", c_in, cfg.num_classes),
        }
    }
}

impl Net for ResNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.apply(&self.conv1).apply_t(&self.bn1, train).relu();
        if !self.small {
            x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        }
        for b in &self.blocks {
            x = b.forward_t(&x, train);
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&self.fc)
    }
}
