//! MobileNet V3 Large — Howard et al., "Searching for MobileNetV3" (ICCV 2019), torchvision
//! `mobilenet_v3_large`: inverted residual blocks (1×1 expand, depthwise k×k, optional
//! squeeze-excite with hard-sigmoid gate, 1×1 project), ReLU early and hard-swish late.
//!
//! Names: `features.0` (stem), `features.<i>.block.<j>.{0,1}` (conv, BN) and
//! `features.<i>.block.<j>.{fc1,fc2}` (SE), `features.<last>` (1×1 conv to 6× channels),
//! `classifier.{0,3}`. Width follows torchvision's `width_mult` (multiples of 8); depth scales
//! the repeats within each group of equal output width. Small inputs: stride 1 in the first
//! strided block. Scaled variants use PyTorch's default BatchNorm momentum (below).

use super::{Arch, ModelConfig, Net, Scale};
use crate::ml::layers::{make_divisible, Act, Bn, ConvNormAct, Gate, SqueezeExcite};
use tch::nn::{self, Init, ModuleT};
use tch::Tensor;

pub const ARCH: Arch = Arch {
    name: "mobilenet_v3_large",
    title: "MobileNet V3 Large",
    year: 2019,
    imagenet_top1: 74.042,
    full_params: 5_483_032,
    full_image_size: 224,
    mini: Scale {
        width: 0.5,
        depth: 0.5,
        patch: None,
    },
    build: |p, cfg| Box::new(MobileNetV3::new(p, cfg)),
};

/// (input, kernel, expanded, output, squeeze-excite, hard-swish, stride), torchvision's table.
const SETTINGS: [(i64, i64, i64, i64, bool, bool, i64); 15] = [
    (16, 3, 16, 16, false, false, 1),
    (16, 3, 64, 24, false, false, 2),
    (24, 3, 72, 24, false, false, 1),
    (24, 5, 72, 40, true, false, 2),
    (40, 5, 120, 40, true, false, 1),
    (40, 5, 120, 40, true, false, 1),
    (40, 3, 240, 80, false, true, 2),
    (80, 3, 200, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 480, 112, true, true, 1),
    (112, 3, 672, 112, true, true, 1),
    (112, 5, 672, 160, true, true, 2),
    (160, 5, 960, 160, true, true, 1),
    (160, 5, 960, 160, true, true, 1),
];
const LAST_CHANNEL: i64 = 1280;
/// torchvision's BatchNorm for MobileNetV3: momentum 0.01, so the running statistics average
/// over the last ~100 steps, which suits ImageNet's 5,000 steps an epoch.
const BN: Bn = Bn {
    eps: 0.001,
    momentum: 0.01,
};
/// Scaled variants (the mini profile trains a few hundred steps) use PyTorch's default 0.1: at
/// 0.01, 600 steps still leave (0.99^600 ≈ 0.24%) of the initial variance 1 in running
/// variances that are themselves ~0.003, and the evaluated network collapsed to one class on
/// Fashion-MNIST while it trained to 54%.
const BN_SCALED: Bn = Bn {
    eps: 0.001,
    momentum: 0.1,
};

#[derive(Debug)]
struct InvertedResidual {
    expand: Option<ConvNormAct>,
    depthwise: ConvNormAct,
    se: Option<SqueezeExcite>,
    project: ConvNormAct,
    residual: bool,
}

impl InvertedResidual {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: nn::Path,
        c_in: i64,
        k: i64,
        exp: i64,
        c_out: i64,
        se: bool,
        hs: bool,
        stride: i64,
        bn: Bn,
    ) -> Self {
        let b = &p / "block";
        let act = if hs { Act::Hardswish } else { Act::Relu };
        let mut j = 0;
        let mut next = || {
            j += 1;
            &b / (j - 1)
        };
        let expand = (exp != c_in).then(|| ConvNormAct::new(next(), c_in, exp, 1, 1, 1, bn, act));
        let depthwise = ConvNormAct::new(next(), exp, exp, k, stride, exp, bn, act);
        let se = se.then(|| {
            SqueezeExcite::new(
                next(),
                exp,
                make_divisible((exp / 4) as f64, 8),
                Act::Relu,
                Gate::Hardsigmoid,
            )
        });
        let project = ConvNormAct::new(next(), exp, c_out, 1, 1, 1, bn, Act::None);
        InvertedResidual {
            expand,
            depthwise,
            se,
            project,
            residual: stride == 1 && c_in == c_out,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut y = match &self.expand {
            Some(e) => e.forward_t(xs, train),
            None => xs.shallow_clone(),
        };
        y = self.depthwise.forward_t(&y, train);
        if let Some(se) = &self.se {
            y = se.forward(&y);
        }
        y = self.project.forward_t(&y, train);
        if self.residual {
            y + xs
        } else {
            y
        }
    }
}

#[derive(Debug)]
pub struct MobileNetV3 {
    stem: ConvNormAct,
    blocks: Vec<InvertedResidual>,
    last: ConvNormAct,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

/// Keep, from each run of blocks with the same output width, the first `round(n × depth)`.
fn selected(cfg: &ModelConfig) -> Vec<usize> {
    let mut keep = Vec::new();
    let mut i = 0;
    while i < SETTINGS.len() {
        let group_end = (i..SETTINGS.len())
            .find(|&j| SETTINGS[j].3 != SETTINGS[i].3)
            .unwrap_or(SETTINGS.len());
        let n = cfg.blocks((group_end - i) as i64) as usize;
        keep.extend(i..i + n);
        i = group_end;
    }
    keep
}

impl MobileNetV3 {
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let f = &p / "features";
        let adj = |c: i64| make_divisible(c as f64 * cfg.scale.width, 8);
        let small = cfg.small_input();
        let bn = if cfg.scale == Scale::FULL {
            BN
        } else {
            BN_SCALED
        };
        let stem_out = adj(SETTINGS[0].0);
        let stem = ConvNormAct::new(&f / 0, 3, stem_out, 3, 2, 1, bn, Act::Hardswish);
        let mut blocks = Vec::new();
        let mut c_in = stem_out;
        let mut first_stride_seen = false;
        for (idx, i) in selected(cfg).into_iter().enumerate() {
            let (_, k, exp, out, se, hs, mut stride) = SETTINGS[i];
            if small && stride == 2 && !first_stride_seen {
                first_stride_seen = true;
                stride = 1;
            }
            blocks.push(InvertedResidual::new(
                &f / (idx + 1),
                c_in,
                k,
                adj(exp),
                adj(out),
                se,
                hs,
                stride,
                bn,
            ));
            c_in = adj(out);
        }
        let last_out = 6 * c_in;
        let last = ConvNormAct::new(
            &f / (blocks.len() + 1),
            c_in,
            last_out,
            1,
            1,
            1,
            bn,
            Act::Hardswish,
        );
        let hidden = adj(LAST_CHANNEL);
        let cl = &p / "classifier";
        let init = Init::Randn {
            mean: 0.0,
            stdev: 0.01,
        };
        MobileNetV3 {
            stem,
            blocks,
            last,
            fc1: crate::ml::layers::linear(&cl / 0, last_out, hidden, init),
            fc2: crate::ml::layers::linear(&cl / 3, hidden, cfg.num_classes, init),
        }
    }
}

impl Net for MobileNetV3 {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = self.stem.forward_t(xs, train);
        for b in &self.blocks {
            x = b.forward_t(&x, train);
        }
        let x = self
            .last
            .forward_t(&x, train)
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1);
        x.apply(&self.fc1)
            .hardswish()
            .dropout(0.2, train)
            .apply(&self.fc2)
    }
}
