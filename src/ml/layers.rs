//! Building blocks shared by the architectures, named as torchvision names them.
//!
//! torchvision's `Conv2dNormActivation` is a `Sequential(conv, norm, act)`, so its parameters are
//! `<path>.0.weight` (conv) and `<path>.1.{weight,bias,running_mean,running_var}` (norm);
//! [`ConvNormAct`] reproduces exactly that, so a state dict written from a
//! [`tch::nn::VarStore`] loads into the torchvision model.

use tch::nn::{self, Init, ModuleT};
use tch::Tensor;

/// Kaiming normal, fan-out, ReLU gain: torchvision's convolution init for most families.
pub const KAIMING_FAN_OUT: Init = Init::Kaiming {
    dist: nn::init::NormalOrUniform::Normal,
    fan: nn::init::FanInOut::FanOut,
    non_linearity: nn::init::NonLinearity::ReLU,
};

/// Kaiming normal, fan-in (DenseNet's and Inception-free default).
pub const KAIMING_FAN_IN: Init = nn::init::DEFAULT_KAIMING_NORMAL;

/// The activations the nine families use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    None,
    Relu,
    Hardswish,
    Silu,
}

impl Act {
    pub fn apply(self, xs: Tensor) -> Tensor {
        match self {
            Act::None => xs,
            Act::Relu => xs.relu(),
            Act::Hardswish => xs.hardswish(),
            Act::Silu => xs.silu(),
        }
    }
}

/// torchvision's `_make_divisible`: round `v` to a multiple of `divisor`, never below it and never
/// more than 10% under `v`.
pub fn make_divisible(v: f64, divisor: i64) -> i64 {
    let mut new_v = divisor.max(((v + divisor as f64 / 2.0) as i64) / divisor * divisor);
    if (new_v as f64) < 0.9 * v {
        new_v += divisor;
    }
    new_v
}

/// A 2-D convolution with square or rectangular kernel.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    p: nn::Path,
    c_in: i64,
    c_out: i64,
    kernel: [i64; 2],
    stride: i64,
    padding: [i64; 2],
    groups: i64,
    bias: bool,
    init: Init,
) -> nn::Conv<[i64; 2]> {
    let cfg = nn::ConvConfigND::<[i64; 2]> {
        stride: [stride, stride],
        padding,
        groups,
        bias,
        ws_init: init,
        bs_init: Init::Const(0.),
        ..Default::default()
    };
    nn::conv(p, c_in, c_out, kernel, cfg)
}

/// Batch norm with the given epsilon and momentum (torchvision's `momentum`, i.e. the weight of
/// the new batch statistics).
pub fn batch_norm(p: nn::Path, c: i64, eps: f64, momentum: f64) -> nn::BatchNorm {
    let cfg = nn::BatchNormConfig {
        eps,
        momentum,
        ..Default::default()
    };
    nn::batch_norm2d(p, c, cfg)
}

/// Norm settings for [`ConvNormAct`].
#[derive(Debug, Clone, Copy)]
pub struct Bn {
    pub eps: f64,
    pub momentum: f64,
}

impl Bn {
    pub const TORCH: Bn = Bn {
        eps: 1e-5,
        momentum: 0.1,
    };
}

/// torchvision's `Conv2dNormActivation` with batch norm: conv (no bias) `.0`, norm `.1`, act.
#[derive(Debug)]
pub struct ConvNormAct {
    conv: nn::Conv<[i64; 2]>,
    bn: nn::BatchNorm,
    act: Act,
}

impl ConvNormAct {
    /// Padding is `(kernel - 1) / 2`, as in torchvision.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: nn::Path,
        c_in: i64,
        c_out: i64,
        kernel: i64,
        stride: i64,
        groups: i64,
        bn: Bn,
        act: Act,
    ) -> Self {
        let pad = (kernel - 1) / 2;
        ConvNormAct {
            conv: conv2d(
                &p / "0",
                c_in,
                c_out,
                [kernel, kernel],
                stride,
                [pad, pad],
                groups,
                false,
                KAIMING_FAN_OUT,
            ),
            bn: batch_norm(&p / "1", c_out, bn.eps, bn.momentum),
            act,
        }
    }
}

impl ModuleT for ConvNormAct {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.act
            .apply(xs.apply(&self.conv).apply_t(&self.bn, train))
    }
}

/// Which gate squeeze-excitation uses.
#[derive(Debug, Clone, Copy)]
pub enum Gate {
    Sigmoid,
    Hardsigmoid,
}

/// torchvision's `SqueezeExcitation`: global pool, `fc1` (1×1 conv), act, `fc2`, gate, rescale.
#[derive(Debug)]
pub struct SqueezeExcite {
    fc1: nn::Conv<[i64; 2]>,
    fc2: nn::Conv<[i64; 2]>,
    act: Act,
    gate: Gate,
}

impl SqueezeExcite {
    pub fn new(p: nn::Path, c: i64, squeeze: i64, act: Act, gate: Gate) -> Self {
        let fc =
            |name: &str, a, b| conv2d(&p / name, a, b, [1, 1], 1, [0, 0], 1, true, KAIMING_FAN_OUT);
        SqueezeExcite {
            fc1: fc("fc1", c, squeeze),
            fc2: fc("fc2", squeeze, c),
            act,
            gate,
        }
    }

    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let s = xs.adaptive_avg_pool2d([1, 1]).apply(&self.fc1);
        let s = self.act.apply(s).apply(&self.fc2);
        let s = match self.gate {
            Gate::Sigmoid => s.sigmoid(),
            Gate::Hardsigmoid => s.hardsigmoid(),
        };
        xs * s
    }
}

/// Stochastic depth, "row" mode: drop the whole residual branch per example with probability
/// `p` during training, scaling survivors by `1 / (1 - p)`.
pub fn stochastic_depth(xs: Tensor, p: f64, train: bool) -> Tensor {
    if !train || p <= 0.0 {
        return xs;
    }
    let keep = 1.0 - p;
    let mut shape = vec![1i64; xs.dim()];
    shape[0] = xs.size()[0];
    let mask = Tensor::empty(shape.as_slice(), (xs.kind(), xs.device())).bernoulli_float_(keep);
    xs * (mask / keep)
}

/// Layer norm over the channel dimension of an NCHW tensor (torchvision's `LayerNorm2d`; its
/// parameters are `weight` and `bias` like `nn.LayerNorm`).
#[derive(Debug)]
pub struct LayerNorm2d(nn::LayerNorm);

impl LayerNorm2d {
    pub fn new(p: nn::Path, c: i64, eps: f64) -> Self {
        LayerNorm2d(layer_norm(p, c, eps))
    }

    pub fn forward(&self, xs: &Tensor) -> Tensor {
        xs.permute([0, 2, 3, 1])
            .apply(&self.0)
            .permute([0, 3, 1, 2])
    }
}

pub fn layer_norm(p: nn::Path, c: i64, eps: f64) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![c],
        nn::LayerNormConfig {
            eps,
            ..Default::default()
        },
    )
}

/// A linear layer with the given weight init and zero bias.
pub fn linear(p: nn::Path, c_in: i64, c_out: i64, init: Init) -> nn::Linear {
    nn::linear(
        p,
        c_in,
        c_out,
        nn::LinearConfig {
            ws_init: init,
            bs_init: Some(Init::Const(0.)),
            bias: true,
        },
    )
}

/// PyTorch's default `nn.Linear` init (kaiming uniform with a = √5 ⇒ U(±1/√fan_in)), bias U(±1/√fan_in).
pub fn linear_default(p: nn::Path, c_in: i64, c_out: i64) -> nn::Linear {
    let bound = 1.0 / (c_in as f64).sqrt();
    nn::linear(
        p,
        c_in,
        c_out,
        nn::LinearConfig {
            ws_init: Init::Uniform {
                lo: -bound,
                up: bound,
            },
            bs_init: Some(Init::Uniform {
                lo: -bound,
                up: bound,
            }),
            bias: true,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_torchvision() {
        // Values torchvision's _make_divisible gives (checked by hand against its source).
        assert_eq!(make_divisible(16.0, 8), 16);
        assert_eq!(make_divisible(72.0 / 4.0, 8), 24);
        assert_eq!(make_divisible(120.0 / 4.0, 8), 32);
        assert_eq!(make_divisible(960.0 / 4.0, 8), 240);
        assert_eq!(make_divisible(3.0, 8), 8);
        assert_eq!(make_divisible(1280.0 * 0.25, 8), 320);
    }
}
