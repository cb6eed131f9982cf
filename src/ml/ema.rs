//! Model EMA as torchvision's reference training keeps it (`ExponentialMovingAverage`, an
//! `AveragedModel` over parameters and buffers): every `model_ema_steps` steps,
//! `ema = decay · ema + (1 − decay) · weights`, the first update copying. The decay is adjusted
//! for the update interval and the global batch,
//! `α = min(1, (1 − model_ema_decay) · batch · steps / epochs)`, `decay = 1 − α`; during the
//! learning-rate warm-up the average is reset after each update, so it follows the weights.

use std::collections::BTreeMap;
use tch::{nn, Tensor};

/// The averaged copy of every variable of a var store (BatchNorm statistics included).
pub struct ModelEma {
    decay: f64,
    /// Updates since the last reset (torchvision's `n_averaged`).
    pub n_averaged: i64,
    vars: BTreeMap<String, Tensor>,
}

impl ModelEma {
    /// torchvision's adjusted decay for `decay` (`--model-ema-decay`), updated every `steps`
    /// steps of `batch` examples over `epochs` epochs.
    pub fn adjusted_decay(decay: f64, batch: usize, steps: u32, epochs: u32) -> f64 {
        let adjust = batch as f64 * f64::from(steps) / f64::from(epochs.max(1));
        1.0 - ((1.0 - decay) * adjust).min(1.0)
    }

    pub fn new(vs: &nn::VarStore, decay: f64) -> ModelEma {
        let vars = vs
            .variables()
            .into_iter()
            .map(|(n, t)| (n, tch::no_grad(|| t.detach().copy())))
            .collect();
        ModelEma {
            decay,
            n_averaged: 0,
            vars,
        }
    }

    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// Fold the current weights of `vs` into the average.
    pub fn update(&mut self, vs: &nn::VarStore) {
        let live = vs.variables();
        tch::no_grad(|| {
            for (name, avg) in &mut self.vars {
                let Some(w) = live.get(name) else { continue };
                if self.n_averaged == 0 || !w.is_floating_point() {
                    avg.copy_(w);
                } else {
                    let _ = avg.lerp_(w, 1.0 - self.decay);
                }
            }
        });
        self.n_averaged += 1;
    }

    /// Copy the average into `vs` (evaluation and the saved model use the EMA weights).
    pub fn copy_into(&self, vs: &nn::VarStore) {
        let mut live = vs.variables();
        tch::no_grad(|| {
            for (name, avg) in &self.vars {
                if let Some(w) = live.get_mut(name) {
                    w.copy_(avg);
                }
            }
        });
    }

    /// The average as named tensors, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.vars
            .iter()
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect()
    }

    /// Restore what [`ModelEma::state`] wrote.
    pub fn load_state(
        &mut self,
        named: &BTreeMap<String, Tensor>,
        n_averaged: i64,
    ) -> Result<(), String> {
        for (name, avg) in &mut self.vars {
            let src = named
                .get(name)
                .ok_or_else(|| format!("checkpoint lacks EMA weight `{name}`"))?;
            tch::no_grad(|| avg.copy_(src));
        }
        self.n_averaged = n_averaged;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn adjusted_decay_is_torchvisions() {
        // ViT-B/16: 4,096 × 32 / 300 epochs with decay 0.99998.
        let d = ModelEma::adjusted_decay(0.99998, 4096, 32, 300);
        assert!((d - (1.0 - 2e-5 * 4096.0 * 32.0 / 300.0)).abs() < 1e-12);
        assert_eq!(ModelEma::adjusted_decay(0.9, 1024, 32, 1), 0.0);
    }

    /// First update copies; later ones move by 1 − decay; a reset copies again.
    #[test]
    fn averages_weights_and_buffers() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mut w = vs.root().var("w", &[2], nn::Init::Const(1.0));
        let mut b = vs.root().zeros_no_train("running_mean", &[2]);
        let mut ema = ModelEma::new(&vs, 0.9);
        tch::no_grad(|| {
            w.copy_(&Tensor::from_slice(&[3.0f32, 3.0]));
            b.copy_(&Tensor::from_slice(&[2.0f32, 2.0]));
        });
        ema.update(&vs);
        assert_eq!(ema.vars["w"].double_value(&[0]), 3.0);
        tch::no_grad(|| w.copy_(&Tensor::from_slice(&[13.0f32, 13.0])));
        tch::no_grad(|| b.copy_(&Tensor::from_slice(&[12.0f32, 12.0])));
        ema.update(&vs);
        assert!((ema.vars["w"].double_value(&[0]) - 4.0).abs() < 1e-5);
        assert!((ema.vars["running_mean"].double_value(&[1]) - 3.0).abs() < 1e-5);
        ema.n_averaged = 0;
        ema.update(&vs);
        assert_eq!(ema.vars["w"].double_value(&[0]), 13.0);
        let named: BTreeMap<String, Tensor> = ema.state().into_iter().collect();
        let mut other = ModelEma::new(&vs, 0.9);
        other.load_state(&named, 1).expect("restores");
        tch::no_grad(|| w.copy_(&Tensor::zeros([2], (Kind::Float, Device::Cpu))));
        other.copy_into(&vs);
        assert_eq!(w.double_value(&[1]), 13.0);
    }
}
