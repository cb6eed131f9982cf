//! EfficientNet V2 Large — Tan & Le, "EfficientNetV2: Smaller Models and Faster Training"
//! (ICML 2021), torchvision `efficientnet_v2_l`: fused-MBConv stages (one k×k expand conv) early,
//! MBConv stages (1×1 expand, depthwise, squeeze-excite with SiLU, 1×1 project) late, stochastic
//! depth rising linearly to 0.5, dropout 0.4.
//!
//! Names: `features.0` (stem), `features.<stage>.<block>.block.<j>.{0,1}` and `….fc1/fc2` (SE),
//! `features.8` (1×1 head conv), `classifier.1`. Width and depth follow torchvision's
//! `width_mult` (multiples of 8) and `depth_mult` (ceil) rules. Its total stride of 32 leaves a
//! 32 px image 1×1 at the end, so small inputs change nothing.

use super::{Arch, ModelConfig, Net, Scale};
use crate::ml::layers::{
    make_divisible, stochastic_depth, Act, Bn, ConvNormAct, Gate, SqueezeExcite,
};
use tch::nn::{self, Init, ModuleT};
use tch::Tensor;

pub const ARCH: Arch = Arch {
    name: "efficientnet_v2_l",
    title: "EfficientNet V2 Large",
    year: 2021,
    imagenet_top1: 85.808,
    full_params: 118_515_272,
    full_image_size: 480,
    mini: Scale {
        width: 0.25,
        depth: 0.1,
        patch: None,
    },
    build: |p, cfg| Box::new(EfficientNetV2::new(p, cfg)),
};

/// (fused, expand ratio, kernel, stride, input, output, layers), torchvision's table for V2-L.
const SETTINGS: [(bool, i64, i64, i64, i64, i64, i64); 7] = [
    (true, 1, 3, 1, 32, 32, 4),
    (true, 4, 3, 2, 32, 64, 7),
    (true, 4, 3, 2, 64, 96, 7),
    (false, 4, 3, 2, 96, 192, 10),
    (false, 6, 3, 1, 192, 224, 19),
    (false, 6, 3, 2, 224, 384, 25),
    (false, 6, 3, 1, 384, 640, 7),
];
const LAST_CHANNEL: i64 = 1280;
const STOCHASTIC_DEPTH: f64 = 0.5;
const BN: Bn = Bn {
    eps: 1e-3,
    momentum: 0.1,
};

#[derive(Debug)]
struct Block {
    convs: Vec<ConvNormAct>,
    /// Position of squeeze-excite in the chain (MBConv: after the depthwise conv).
    se: Option<(usize, SqueezeExcite)>,
    residual: bool,
    sd_prob: f64,
}

impl Block {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: nn::Path,
        fused: bool,
        expand: i64,
        k: i64,
        stride: i64,
        c_in: i64,
        c_out: i64,
        sd_prob: f64,
    ) -> Self {
        let b = &p / "block";
        let exp = make_divisible((c_in * expand) as f64, 8);
        let mut convs = Vec::new();
        let mut se = None;
        if fused {
            if exp != c_in {
                convs.push(ConvNormAct::new(
                    &b / 0,
                    c_in,
                    exp,
                    k,
                    stride,
                    1,
                    BN,
                    Act::Silu,
                ));
                convs.push(ConvNormAct::new(&b / 1, exp, c_out, 1, 1, 1, BN, Act::None));
            } else {
                convs.push(ConvNormAct::new(
                    &b / 0,
                    c_in,
                    c_out,
                    k,
                    stride,
                    1,
                    BN,
                    Act::Silu,
                ));
            }
        } else {
            let mut j = 0;
            if exp != c_in {
                convs.push(ConvNormAct::new(&b / j, c_in, exp, 1, 1, 1, BN, Act::Silu));
                j += 1;
            }
            convs.push(ConvNormAct::new(
                &b / j,
                exp,
                exp,
                k,
                stride,
                exp,
                BN,
                Act::Silu,
            ));
            se = Some((
                convs.len(),
                SqueezeExcite::new(
                    &b / (j + 1),
                    exp,
                    (c_in / 4).max(1),
                    Act::Silu,
                    Gate::Sigmoid,
                ),
            ));
            convs.push(ConvNormAct::new(
                &b / (j + 2),
                exp,
                c_out,
                1,
                1,
                1,
                BN,
                Act::None,
            ));
        }
        Block {
            convs,
            se,
            residual: stride == 1 && c_in == c_out,
            sd_prob,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut y = xs.shallow_clone();
        for (i, c) in self.convs.iter().enumerate() {
            if let Some((at, se)) = &self.se {
                if *at == i {
                    y = se.forward(&y);
                }
            }
            y = c.forward_t(&y, train);
        }
        if self.residual {
            stochastic_depth(y, self.sd_prob, train) + xs
        } else {
            y
        }
    }
}

#[derive(Debug)]
pub struct EfficientNetV2 {
    stem: ConvNormAct,
    blocks: Vec<Block>,
    head: ConvNormAct,
    fc: nn::Linear,
}

impl EfficientNetV2 {
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let f = &p / "features";
        let adj = |c: i64| make_divisible(c as f64 * cfg.scale.width, 8);
        let layers = |n: i64| (n as f64 * cfg.scale.depth).ceil() as i64;
        let stem_out = adj(SETTINGS[0].4);
        let stem = ConvNormAct::new(&f / 0, 3, stem_out, 3, 2, 1, BN, Act::Silu);
        let total: i64 = SETTINGS.iter().map(|s| layers(s.6)).sum();
        let mut blocks = Vec::new();
        let mut id = 0;
        for (s, &(fused, expand, k, stride, c_in, c_out, n)) in SETTINGS.iter().enumerate() {
            let stage = &f / (s + 1);
            for j in 0..layers(n) {
                let (cin, st) = if j == 0 {
                    (adj(c_in), stride)
                } else {
                    (adj(c_out), 1)
                };
                let sd = STOCHASTIC_DEPTH * id as f64 / total as f64;
                blocks.push(Block::new(
                    &stage / j,
                    fused,
                    expand,
                    k,
                    st,
                    cin,
                    adj(c_out),
                    sd,
                ));
                id += 1;
            }
        }
        let last_in = adj(SETTINGS[6].5);
        let last_out = adj(LAST_CHANNEL);
        let head = ConvNormAct::new(
            &f / (SETTINGS.len() + 1),
            last_in,
            last_out,
            1,
            1,
            1,
            BN,
            Act::Silu,
        );
        let bound = 1.0 / (cfg.num_classes as f64).sqrt();
        let fc = crate::ml::layers::linear(
            &p / "classifier" / 1,
            last_out,
            cfg.num_classes,
            Init::Uniform {
                lo: -bound,
                up: bound,
            },
        );
        EfficientNetV2 {
            stem,
            blocks,
            head,
            fc,
        }
    }
}

impl Net for EfficientNetV2 {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = self.stem.forward_t(xs, train);
        for b in &self.blocks {
            x = b.forward_t(&x, train);
        }
        let x = self
            .head
            .forward_t(&x, train)
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1);
        x.dropout(0.4, train).apply(&self.fc)
    }
}
