//! Inception V3 — Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, "Rethinking the Inception
//! Architecture for Computer Vision" (CVPR 2016), torchvision `inception_v3` with its auxiliary
//! classifier (counted in the parameters, trained with weight 0.4, unused at evaluation).
//!
//! Names: `Conv2d_1a_3x3` … `Conv2d_4a_3x3`, `Mixed_5b` … `Mixed_7c` (each branch a
//! `BasicConv2d` with `.conv` and `.bn`, eps 0.001), `AuxLogits.{conv0,conv1,fc}`, `fc`. Depth
//! scales the number of A (3), C (4) and E (2) modules, keeping the first names. Small inputs:
//! padded 3×3 stem convolutions, no second max-pool, and an auxiliary head that pools adaptively
//! to 5×5 (a 32 px image reaches the A modules at 7×7; Mixed_7a leaves 1×1).

use super::{Arch, ModelConfig, Net, Scale};
use crate::ml::layers::{batch_norm, conv2d, linear};
use tch::nn::{self, Init};
use tch::Tensor;

pub const ARCH: Arch = Arch {
    name: "inception_v3",
    title: "Inception V3",
    year: 2015,
    imagenet_top1: 77.294,
    full_params: 27_161_264,
    full_image_size: 299,
    mini: Scale {
        width: 0.125,
        depth: 0.34,
        patch: None,
    },
    build: |p, cfg| Box::new(Inception3::new(p, cfg)),
};

/// torchvision initialises every conv and linear with a truncated normal, std 0.1 (0.01 and
/// 0.001 in the auxiliary head); a plain normal is used here (tch has no truncated init).
fn init(std: f64) -> Init {
    Init::Randn {
        mean: 0.0,
        stdev: std,
    }
}

#[derive(Debug)]
struct BasicConv {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

impl BasicConv {
    fn new(p: nn::Path, c_in: i64, c_out: i64, k: [i64; 2], stride: i64, pad: [i64; 2]) -> Self {
        Self::with_std(p, c_in, c_out, k, stride, pad, 0.1)
    }
    fn with_std(
        p: nn::Path,
        c_in: i64,
        c_out: i64,
        k: [i64; 2],
        stride: i64,
        pad: [i64; 2],
        std: f64,
    ) -> Self {
        BasicConv {
            conv: conv2d(
                &p / "conv",
                c_in,
                c_out,
                k,
                stride,
                pad,
                1,
                false,
                init(std),
            ),
            bn: batch_norm(&p / "bn", c_out, 0.001, 0.1),
        }
    }
    fn sq(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, pad: i64) -> Self {
        Self::new(p, c_in, c_out, [k, k], stride, [pad, pad])
    }
    fn f(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply(&self.conv).apply_t(&self.bn, train).relu()
    }
}

fn avg3(xs: &Tensor) -> Tensor {
    xs.avg_pool2d([3, 3], [1, 1], [1, 1], false, true, None)
}

fn max3s2(xs: &Tensor) -> Tensor {
    xs.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false)
}

/// One mixed module: its branches and how they combine.
// Built once per model; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Mixed {
    /// 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | avg→1×1
    A {
        b1: BasicConv,
        b5: [BasicConv; 2],
        b3: [BasicConv; 3],
        pool: BasicConv,
    },
    /// 3×3/2 | 1×1→3×3→3×3/2 | max/2
    B {
        b3: BasicConv,
        b3dbl: [BasicConv; 3],
    },
    /// 1×1 | 1×1→1×7→7×1 | 1×1→7×1→1×7→7×1→1×7 | avg→1×1
    C {
        b1: BasicConv,
        b7: [BasicConv; 3],
        b7dbl: [BasicConv; 5],
        pool: BasicConv,
    },
    /// 1×1→3×3/2 | 1×1→1×7→7×1→3×3/2 | max/2
    D {
        b3: [BasicConv; 2],
        b7x3: [BasicConv; 4],
    },
    /// 1×1 | 1×1→(1×3 ‖ 3×1) | 1×1→3×3→(1×3 ‖ 3×1) | avg→1×1
    E {
        b1: BasicConv,
        b3_1: BasicConv,
        b3_2: [BasicConv; 2],
        dbl_1: BasicConv,
        dbl_2: BasicConv,
        dbl_3: [BasicConv; 2],
        pool: BasicConv,
    },
}

impl Mixed {
    fn a(p: nn::Path, cfg: &ModelConfig, c_in: i64, pool_features: i64) -> (Self, i64) {
        let c = |n| cfg.ch(n);
        let m = Mixed::A {
            b1: BasicConv::sq(&p / "branch1x1", c_in, c(64), 1, 1, 0),
            b5: [
                BasicConv::sq(&p / "branch5x5_1", c_in, c(48), 1, 1, 0),
                BasicConv::sq(&p / "branch5x5_2", c(48), c(64), 5, 1, 2),
            ],
            b3: [
                BasicConv::sq(&p / "branch3x3dbl_1", c_in, c(64), 1, 1, 0),
                BasicConv::sq(&p / "branch3x3dbl_2", c(64), c(96), 3, 1, 1),
                BasicConv::sq(&p / "branch3x3dbl_3", c(96), c(96), 3, 1, 1),
            ],
            pool: BasicConv::sq(&p / "branch_pool", c_in, pool_features, 1, 1, 0),
        };
        (m, c(64) + c(64) + c(96) + pool_features)
    }

    fn b(p: nn::Path, cfg: &ModelConfig, c_in: i64) -> (Self, i64) {
        let c = |n| cfg.ch(n);
        let m = Mixed::B {
            b3: BasicConv::sq(&p / "branch3x3", c_in, c(384), 3, 2, 0),
            b3dbl: [
                BasicConv::sq(&p / "branch3x3dbl_1", c_in, c(64), 1, 1, 0),
                BasicConv::sq(&p / "branch3x3dbl_2", c(64), c(96), 3, 1, 1),
                BasicConv::sq(&p / "branch3x3dbl_3", c(96), c(96), 3, 2, 0),
            ],
        };
        (m, c(384) + c(96) + c_in)
    }

    fn c(p: nn::Path, cfg: &ModelConfig, c_in: i64, c7: i64) -> (Self, i64) {
        let c = |n| cfg.ch(n);
        let (h, v) = (([1, 7], [0, 3]), ([7, 1], [3, 0]));
        let bc = |name: &str, a, b, (k, pad): ([i64; 2], [i64; 2])| {
            BasicConv::new(&p / name, a, b, k, 1, pad)
        };
        let m = Mixed::C {
            b1: BasicConv::sq(&p / "branch1x1", c_in, c(192), 1, 1, 0),
            b7: [
                BasicConv::sq(&p / "branch7x7_1", c_in, c7, 1, 1, 0),
                bc("branch7x7_2", c7, c7, h),
                bc("branch7x7_3", c7, c(192), v),
            ],
            b7dbl: [
                BasicConv::sq(&p / "branch7x7dbl_1", c_in, c7, 1, 1, 0),
                bc("branch7x7dbl_2", c7, c7, v),
                bc("branch7x7dbl_3", c7, c7, h),
                bc("branch7x7dbl_4", c7, c7, v),
                bc("branch7x7dbl_5", c7, c(192), h),
            ],
            pool: BasicConv::sq(&p / "branch_pool", c_in, c(192), 1, 1, 0),
        };
        (m, 4 * c(192))
    }

    fn d(p: nn::Path, cfg: &ModelConfig, c_in: i64) -> (Self, i64) {
        let c = |n| cfg.ch(n);
        let m = Mixed::D {
            b3: [
                BasicConv::sq(&p / "branch3x3_1", c_in, c(192), 1, 1, 0),
                BasicConv::sq(&p / "branch3x3_2", c(192), c(320), 3, 2, 0),
            ],
            b7x3: [
                BasicConv::sq(&p / "branch7x7x3_1", c_in, c(192), 1, 1, 0),
                BasicConv::new(&p / "branch7x7x3_2", c(192), c(192), [1, 7], 1, [0, 3]),
                BasicConv::new(&p / "branch7x7x3_3", c(192), c(192), [7, 1], 1, [3, 0]),
                BasicConv::sq(&p / "branch7x7x3_4", c(192), c(192), 3, 2, 0),
            ],
        };
        (m, c(320) + c(192) + c_in)
    }

    fn e(p: nn::Path, cfg: &ModelConfig, c_in: i64) -> (Self, i64) {
        let c = |n| cfg.ch(n);
        let pair = |a: &str, b: &str, cin| {
            [
                BasicConv::new(&p / a, cin, c(384), [1, 3], 1, [0, 1]),
                BasicConv::new(&p / b, cin, c(384), [3, 1], 1, [1, 0]),
            ]
        };
        let m = Mixed::E {
            b1: BasicConv::sq(&p / "branch1x1", c_in, c(320), 1, 1, 0),
            b3_1: BasicConv::sq(&p / "branch3x3_1", c_in, c(384), 1, 1, 0),
            b3_2: pair("branch3x3_2a", "branch3x3_2b", c(384)),
            dbl_1: BasicConv::sq(&p / "branch3x3dbl_1", c_in, c(448), 1, 1, 0),
            dbl_2: BasicConv::sq(&p / "branch3x3dbl_2", c(448), c(384), 3, 1, 1),
            dbl_3: pair("branch3x3dbl_3a", "branch3x3dbl_3b", c(384)),
            pool: BasicConv::sq(&p / "branch_pool", c_in, c(192), 1, 1, 0),
        };
        (m, c(320) + 4 * c(384) + c(192))
    }

    fn forward_t(&self, x: &Tensor, t: bool) -> Tensor {
        let chain = |convs: &[BasicConv]| convs.iter().fold(x.shallow_clone(), |y, c| c.f(&y, t));
        match self {
            Mixed::A { b1, b5, b3, pool } => {
                Tensor::cat(&[b1.f(x, t), chain(b5), chain(b3), pool.f(&avg3(x), t)], 1)
            }
            Mixed::B { b3, b3dbl } => Tensor::cat(&[b3.f(x, t), chain(b3dbl), max3s2(x)], 1),
            Mixed::C {
                b1,
                b7,
                b7dbl,
                pool,
            } => Tensor::cat(
                &[b1.f(x, t), chain(b7), chain(b7dbl), pool.f(&avg3(x), t)],
                1,
            ),
            Mixed::D { b3, b7x3 } => Tensor::cat(&[chain(b3), chain(b7x3), max3s2(x)], 1),
            Mixed::E {
                b1,
                b3_1,
                b3_2,
                dbl_1,
                dbl_2,
                dbl_3,
                pool,
            } => {
                let y3 = b3_1.f(x, t);
                let yd = dbl_2.f(&dbl_1.f(x, t), t);
                Tensor::cat(
                    &[
                        b1.f(x, t),
                        b3_2[0].f(&y3, t),
                        b3_2[1].f(&y3, t),
                        dbl_3[0].f(&yd, t),
                        dbl_3[1].f(&yd, t),
                        pool.f(&avg3(x), t),
                    ],
                    1,
                )
            }
        }
    }
}

#[derive(Debug)]
struct Aux {
    conv0: BasicConv,
    conv1: BasicConv,
    fc: nn::Linear,
}

#[derive(Debug)]
pub struct Inception3 {
    stem: Vec<BasicConv>,
    small: bool,
    early: Vec<Mixed>,
    aux: Aux,
    late: Vec<Mixed>,
    fc: nn::Linear,
}

impl Inception3 {
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let c = |n| cfg.ch(n);
        let small = cfg.small_input();
        let pad = if small { 1 } else { 0 };
        let stem = vec![
            BasicConv::sq(&p / "Conv2d_1a_3x3", 3, c(32), 3, 2, pad),
            BasicConv::sq(&p / "Conv2d_2a_3x3", c(32), c(32), 3, 1, pad),
            BasicConv::sq(&p / "Conv2d_2b_3x3", c(32), c(64), 3, 1, 1),
            BasicConv::sq(&p / "Conv2d_3b_1x1", c(64), c(80), 1, 1, 0),
            BasicConv::sq(&p / "Conv2d_4a_3x3", c(80), c(192), 3, 1, pad),
        ];
        let mut early = Vec::new();
        let mut ch = c(192);
        for (name, pf) in ["Mixed_5b", "Mixed_5c", "Mixed_5d"]
            .iter()
            .zip([32, 64, 64])
            .take(cfg.blocks(3) as usize)
        {
            let (m, out) = Mixed::a(&p / *name, cfg, ch, c(pf));
            early.push(m);
            ch = out;
        }
        let (m, out) = Mixed::b(&p / "Mixed_6a", cfg, ch);
        early.push(m);
        ch = out;
        for (name, c7) in ["Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]
            .iter()
            .zip([128, 160, 160, 192])
            .take(cfg.blocks(4) as usize)
        {
            let (m, out) = Mixed::c(&p / *name, cfg, ch, c(c7));
            early.push(m);
            ch = out;
        }
        let a = &p / "AuxLogits";
        let aux = Aux {
            conv0: BasicConv::sq(&a / "conv0", ch, c(128), 1, 1, 0),
            conv1: BasicConv::with_std(&a / "conv1", c(128), c(768), [5, 5], 1, [0, 0], 0.01),
            fc: linear(&a / "fc", c(768), cfg.num_classes, init(0.001)),
        };
        let mut late = Vec::new();
        let (m, out) = Mixed::d(&p / "Mixed_7a", cfg, ch);
        late.push(m);
        ch = out;
        for name in ["Mixed_7b", "Mixed_7c"].iter().take(cfg.blocks(2) as usize) {
            let (m, out) = Mixed::e(&p / *name, cfg, ch);
            late.push(m);
            ch = out;
        }
        Inception3 {
            stem,
            small,
            early,
            aux,
            late,
            fc: linear(&p / "fc", ch, cfg.num_classes, init(0.1)),
        }
    }

    fn features(&self, xs: &Tensor, train: bool, want_aux: bool) -> (Tensor, Option<Tensor>) {
        let mut x = xs.shallow_clone();
        for (i, conv) in self.stem.iter().enumerate() {
            x = conv.f(&x, train);
            // max-pools follow Conv2d_2b (index 2) and Conv2d_4a (index 4)
            if i == 2 || (i == 4 && !self.small) {
                x = max3s2(&x);
            }
        }
        for m in &self.early {
            x = m.forward_t(&x, train);
        }
        let aux = want_aux.then(|| {
            let a = if self.small {
                x.adaptive_avg_pool2d([5, 5])
            } else {
                x.avg_pool2d([5, 5], [3, 3], [0, 0], false, true, None)
            };
            let a = self.aux.conv1.f(&self.aux.conv0.f(&a, train), train);
            a.adaptive_avg_pool2d([1, 1])
                .flatten(1, -1)
                .apply(&self.aux.fc)
        });
        for m in &self.late {
            x = m.forward_t(&x, train);
        }
        let logits = x
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .dropout(0.5, train)
            .apply(&self.fc);
        (logits, aux)
    }
}

impl Net for Inception3 {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.features(xs, train, false).0
    }

    fn forward_aux(&self, xs: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        self.features(xs, train, train)
    }
}
