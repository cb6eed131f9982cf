//! Optimizers and learning-rate schedules, written out rather than taken from libtorch's C++
//! optimizers so that their state (momentum buffers, moment estimates, step count) is plain named
//! tensors that go into a checkpoint and come back bit-identically.
//!
//! Update rules follow `torch.optim` exactly: SGD (momentum, Nesterov, L2 weight decay added to
//! the gradient), AdamW (decoupled decay, bias correction), RMSprop (L2 decay, optional
//! momentum). Weight decay per parameter: torchvision's recipes give norm layers' weights and
//! biases their own `norm_weight_decay` (a norm layer is a module whose `weight` has one
//! dimension: BatchNorm, LayerNorm); repro's own "no decay on norms and biases" instead exempts
//! every parameter of at most one dimension plus ViT's `class_token` / `pos_embedding` and
//! ConvNeXt's `layer_scale`. Gradient clipping is `torch.nn.utils.clip_grad_norm_`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tch::{nn, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Sgd,
    Adamw,
    Rmsprop,
}

/// Optimizer settings (the train stage's params).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    pub kind: OptimizerKind,
    /// SGD and RMSprop momentum.
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    /// No weight decay on norm weights, biases, embeddings and layer scales (unless
    /// `norm_weight_decay` is set).
    pub no_decay_norm_bias: bool,
    /// torchvision's `--norm-weight-decay`: norm layers' parameters decay by this, all others
    /// by `weight_decay`.
    #[serde(default)]
    pub norm_weight_decay: Option<f64>,
    /// AdamW betas.
    pub betas: (f64, f64),
    /// AdamW / RMSprop epsilon.
    pub eps: f64,
    /// RMSprop smoothing constant.
    pub alpha: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            kind: OptimizerKind::Sgd,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 5e-4,
            no_decay_norm_bias: true,
            norm_weight_decay: None,
            betas: (0.9, 0.999),
            eps: 1e-8,
            alpha: 0.99,
        }
    }
}

struct Param {
    name: String,
    var: Tensor,
    /// This parameter's weight decay.
    wd: f64,
    /// Per-rule state: SGD [momentum], AdamW [exp_avg, exp_avg_sq], RMSprop [square_avg, momentum].
    state: Vec<Tensor>,
}

pub struct Optimizer {
    cfg: OptimConfig,
    params: Vec<Param>,
    /// Steps taken (AdamW's bias correction uses it).
    pub step: i64,
}

/// Whether `name` belongs to a norm layer: a module whose `weight` is one-dimensional.
fn is_norm(name: &str, vars: &BTreeMap<String, Tensor>) -> bool {
    let Some(module) = name
        .strip_suffix(".weight")
        .or_else(|| name.strip_suffix(".bias"))
    else {
        return false;
    };
    vars.get(&format!("{module}.weight"))
        .is_some_and(|w| w.dim() == 1)
}

/// The weight decay `cfg` gives parameter `name`.
fn decay_of(cfg: &OptimConfig, name: &str, var: &Tensor, vars: &BTreeMap<String, Tensor>) -> f64 {
    match cfg.norm_weight_decay {
        Some(norm) if is_norm(name, vars) => norm,
        Some(_) => cfg.weight_decay,
        None if cfg.no_decay_norm_bias && exempt_from_decay(name, var.dim()) => 0.0,
        None => cfg.weight_decay,
    }
}

fn exempt_from_decay(name: &str, dim: usize) -> bool {
    dim <= 1
        || name.ends_with("class_token")
        || name.ends_with("pos_embedding")
        || name.ends_with("layer_scale")
}

impl Optimizer {
    /// Every trainable variable of `vs`, in name order.
    pub fn new(vs: &nn::VarStore, cfg: OptimConfig) -> Self {
        let vars: BTreeMap<String, Tensor> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        let params = vars
            .iter()
            .map(|(name, var)| {
                let wd = decay_of(&cfg, name, var, &vars);
                let slots = match cfg.kind {
                    OptimizerKind::Sgd => usize::from(cfg.momentum > 0.0),
                    OptimizerKind::Adamw => 2,
                    OptimizerKind::Rmsprop => 1 + usize::from(cfg.momentum > 0.0),
                };
                let state = (0..slots)
                    .map(|_| tch::no_grad(|| var.zeros_like()))
                    .collect();
                Param {
                    name: name.clone(),
                    var: var.shallow_clone(),
                    wd,
                    state,
                }
            })
            .collect();
        Optimizer {
            cfg,
            params,
            step: 0,
        }
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.var.zero_grad();
        }
    }

    /// Apply one update with learning rate `lr` to every parameter that has a gradient.
    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        let c = self.cfg.clone();
        let t = self.step as f64;
        tch::no_grad(|| {
            for p in &mut self.params {
                let g = p.var.grad();
                if !g.defined() {
                    continue;
                }
                let wd = p.wd;
                match c.kind {
                    OptimizerKind::Sgd => {
                        let mut d = if wd > 0.0 { &g + &p.var * wd } else { g };
                        if let Some(buf) = p.state.first_mut() {
                            let _ = buf.g_mul_scalar_(c.momentum).g_add_(&d);
                            d = if c.nesterov {
                                d + &*buf * c.momentum
                            } else {
                                buf.shallow_clone()
                            };
                        }
                        let _ = p.var.g_add_(&(d * -lr));
                    }
                    OptimizerKind::Adamw => {
                        let (b1, b2) = c.betas;
                        if wd > 0.0 {
                            let _ = p.var.g_mul_scalar_(1.0 - lr * wd);
                        }
                        let (m, rest) = p.state.split_at_mut(1);
                        let _ = m[0].lerp_(&g, 1.0 - b1);
                        let _ = rest[0].g_mul_scalar_(b2).addcmul_(&(&g * (1.0 - b2)), &g);
                        let bc1 = 1.0 - b1.powf(t);
                        let bc2 = 1.0 - b2.powf(t);
                        let denom = (&rest[0] / bc2).sqrt() + c.eps;
                        let _ = p.var.addcdiv_(&(&m[0] * (-lr / bc1)), &denom);
                    }
                    OptimizerKind::Rmsprop => {
                        let g = if wd > 0.0 { &g + &p.var * wd } else { g };
                        let (sq, rest) = p.state.split_at_mut(1);
                        let _ = sq[0]
                            .g_mul_scalar_(c.alpha)
                            .addcmul_(&(&g * (1.0 - c.alpha)), &g);
                        let avg = sq[0].sqrt() + c.eps;
                        if let Some(buf) = rest.first_mut() {
                            let _ = buf.g_mul_scalar_(c.momentum).addcdiv_(&g, &avg);
                            let _ = p.var.g_add_(&(&*buf * -lr));
                        } else {
                            let _ = p.var.addcdiv_(&(g * -lr), &avg);
                        }
                    }
                }
            }
        });
    }

    /// The state as named tensors (`<param>.<slot>`), for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for p in &self.params {
            for (i, s) in p.state.iter().enumerate() {
                out.push((format!("{}.{i}", p.name), s.shallow_clone()));
            }
        }
        out
    }

    /// Restore the state written by [`Optimizer::state`].
    pub fn load_state(
        &mut self,
        named: &BTreeMap<String, Tensor>,
        step: i64,
    ) -> Result<(), String> {
        for p in &mut self.params {
            for (i, s) in p.state.iter_mut().enumerate() {
                let key = format!("{}.{i}", p.name);
                let src = named
                    .get(&key)
                    .ok_or_else(|| format!("checkpoint lacks optimizer state `{key}`"))?;
                tch::no_grad(|| s.copy_(src));
            }
        }
        self.step = step;
        Ok(())
    }

    /// (decayed, exempt) parameter counts, for the log.
    pub fn decay_split(&self) -> (usize, usize) {
        let d = self.params.iter().filter(|p| p.wd > 0.0).count();
        (d, self.params.len() - d)
    }

    /// Scale all gradients so that their joint 2-norm is at most `max_norm`
    /// (`clip_grad_norm_`: coefficient `max_norm / (norm + 1e-6)`, capped at 1). Stays on the
    /// device: no synchronisation.
    pub fn clip_grad_norm(&mut self, max_norm: f64) {
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self
                .params
                .iter()
                .map(|p| p.var.grad())
                .filter(Tensor::defined)
                .collect();
            let Some(first) = grads.first() else { return };
            let norms: Vec<Tensor> = grads
                .iter()
                .map(|g| g.to_kind(tch::Kind::Float).norm().unsqueeze(0))
                .collect();
            let total = Tensor::cat(&norms, 0).norm();
            let coef = (total + 1e-6)
                .reciprocal()
                .g_mul_scalar(max_norm)
                .clamp_max(1.0);
            let coef = coef.to_device(first.device());
            for mut g in grads {
                let _ = g.g_mul_(&coef.to_kind(g.kind()));
            }
        });
    }
}

/// How the learning rate moves over training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Schedule {
    Constant,
    /// Multiply by `gamma` every `step_epochs` epochs.
    Step {
        step_epochs: u32,
        gamma: f64,
    },
    /// Linear warm-up from `warmup_start × lr` over `warmup_epochs`, then cosine to zero.
    Cosine {
        warmup_epochs: u32,
        warmup_start: f64,
    },
}

impl Schedule {
    /// Learning rate at global step `step` (0-based) of `total` steps, `per_epoch` per epoch.
    pub fn lr(&self, base: f64, step: u64, per_epoch: u64, total: u64) -> f64 {
        let per_epoch = per_epoch.max(1);
        match self {
            Schedule::Constant => base,
            Schedule::Step { step_epochs, gamma } => {
                let epoch = step / per_epoch;
                base * gamma.powi((epoch / u64::from((*step_epochs).max(1))) as i32)
            }
            Schedule::Cosine {
                warmup_epochs,
                warmup_start,
            } => {
                let warm = u64::from(*warmup_epochs) * per_epoch;
                if step < warm {
                    let f = step as f64 / warm as f64;
                    base * (warmup_start + (1.0 - warmup_start) * f)
                } else {
                    let span = (total - warm.min(total)).max(1) as f64;
                    let f = (step - warm) as f64 / span;
                    base * 0.5 * (1.0 + (std::f64::consts::PI * f).cos())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// One step of each rule on f(w) = ½‖w‖², checked against the closed form of torch.optim.
    #[test]
    fn update_rules_match_torch_optim() {
        let run = |kind, steps: usize| {
            let vs = nn::VarStore::new(Device::Cpu);
            let w = vs.root().var("w", &[2], nn::Init::Const(1.0));
            let cfg = OptimConfig {
                kind,
                weight_decay: 0.0,
                momentum: 0.9,
                ..Default::default()
            };
            let mut opt = Optimizer::new(&vs, cfg);
            for _ in 0..steps {
                opt.zero_grad();
                (&w * &w).sum(Kind::Float).g_mul_scalar_(0.5).backward();
                opt.step(0.1);
            }
            w.double_value(&[0])
        };
        // SGD: w1 = 1 - 0.1·1 = 0.9; w2: buf = 0.9·1 + 0.9 = 1.8 → 0.9 - 0.18 = 0.72.
        assert!((run(OptimizerKind::Sgd, 1) - 0.9).abs() < 1e-6);
        assert!((run(OptimizerKind::Sgd, 2) - 0.72).abs() < 1e-6);
        // AdamW's first step moves by lr (m̂/√v̂ = 1): 0.9.
        assert!((run(OptimizerKind::Adamw, 1) - 0.9).abs() < 1e-5);
        // RMSprop (α = 0.99): sq = 0.01, step = 0.1·1/(0.1 + 1e-8) ≈ 1 → w ≈ 0.
        assert!(run(OptimizerKind::Rmsprop, 1).abs() < 1e-5);
    }

    /// torchvision's rule: norm layers (1-d `weight`) get `norm_weight_decay`, everything
    /// else — linear biases and layer scales included — `weight_decay`.
    #[test]
    fn norm_weight_decay_is_a_separate_group() {
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let _ = (&root / "bn").var("weight", &[4], nn::Init::Const(1.0));
        let _ = (&root / "bn").var("bias", &[4], nn::Init::Const(0.0));
        let _ = (&root / "fc").var("weight", &[2, 4], nn::Init::Const(1.0));
        let _ = (&root / "fc").var("bias", &[2], nn::Init::Const(0.0));
        let _ = root.var("layer_scale", &[4, 1, 1], nn::Init::Const(1.0));
        let cfg = OptimConfig {
            weight_decay: 0.05,
            norm_weight_decay: Some(0.0),
            ..Default::default()
        };
        let opt = Optimizer::new(&vs, cfg.clone());
        let wd: BTreeMap<&str, f64> = opt.params.iter().map(|p| (p.name.as_str(), p.wd)).collect();
        assert_eq!(wd["bn.weight"], 0.0);
        assert_eq!(wd["bn.bias"], 0.0);
        assert_eq!(wd["fc.weight"], 0.05);
        assert_eq!(wd["fc.bias"], 0.05);
        assert_eq!(wd["layer_scale"], 0.05);
        let repro_rule = Optimizer::new(
            &vs,
            OptimConfig {
                norm_weight_decay: None,
                ..cfg
            },
        );
        assert_eq!(repro_rule.decay_split(), (1, 4));
    }

    #[test]
    fn clipping_scales_the_joint_norm() {
        let vs = nn::VarStore::new(Device::Cpu);
        let a = vs.root().var("a", &[1], nn::Init::Const(3.0));
        let b = vs.root().var("b", &[1], nn::Init::Const(4.0));
        let mut opt = Optimizer::new(&vs, OptimConfig::default());
        // d/dw ½w² = w: gradients (3, 4), joint norm 5.
        ((&a * &a + &b * &b) * 0.5).sum(Kind::Float).backward();
        opt.clip_grad_norm(1.0);
        assert!((a.grad().double_value(&[0]) - 0.6).abs() < 1e-5);
        assert!((b.grad().double_value(&[0]) - 0.8).abs() < 1e-5);
        opt.clip_grad_norm(10.0);
        assert!((b.grad().double_value(&[0]) - 0.8).abs() < 1e-5);
    }

    #[test]
    fn cosine_warms_up_then_decays_to_zero() {
        let s = Schedule::Cosine {
            warmup_epochs: 1,
            warmup_start: 0.1,
        };
        assert!((s.lr(1.0, 0, 10, 100) - 0.1).abs() < 1e-12);
        assert!((s.lr(1.0, 10, 10, 100) - 1.0).abs() < 1e-12);
        assert!(s.lr(1.0, 99, 10, 100) < 0.01);
        let st = Schedule::Step {
            step_epochs: 2,
            gamma: 0.1,
        };
        assert!((st.lr(1.0, 39, 10, 100) - 0.1).abs() < 1e-12);
    }
}
