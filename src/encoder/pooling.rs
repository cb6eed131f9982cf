//! Token states to one sentence vector, as sentence-transformers' `Pooling` module does it
//! (`1_Pooling/config.json`): the first token, the masked max, the masked mean, or the masked
//! sum over √length; several modes concatenate in that order.

use super::EncoderError;
use std::path::Path;
use tch::{Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Cls,
    Max,
    Mean,
    MeanSqrtLen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pooling {
    pub modes: Vec<Mode>,
}

impl Default for Pooling {
    fn default() -> Self {
        Pooling {
            modes: vec![Mode::Mean],
        }
    }
}

impl Pooling {
    /// From `1_Pooling/config.json`'s `pooling_mode_*` flags.
    pub fn from_config(path: &Path, v: &serde_json::Value) -> Result<Pooling, EncoderError> {
        let on = |k: &str| v[k].as_bool().unwrap_or(false);
        for unsupported in ["pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"] {
            if on(unsupported) {
                return Err(EncoderError::bad(
                    path,
                    format!("`{unsupported}` is not supported (cls, max, mean, mean_sqrt_len)"),
                ));
            }
        }
        let modes: Vec<Mode> = [
            ("pooling_mode_cls_token", Mode::Cls),
            ("pooling_mode_max_tokens", Mode::Max),
            ("pooling_mode_mean_tokens", Mode::Mean),
            ("pooling_mode_mean_sqrt_len_tokens", Mode::MeanSqrtLen),
        ]
        .into_iter()
        .filter(|(k, _)| on(k))
        .map(|(_, m)| m)
        .collect();
        if modes.is_empty() {
            return Err(EncoderError::bad(path, "no pooling_mode_* is true"));
        }
        Ok(Pooling { modes })
    }

    /// `hidden` [B, T, H] (f32), `mask` [B, T] (1 for tokens, 0 for padding) -> [B, H × modes].
    pub fn apply(&self, hidden: &Tensor, mask: &Tensor) -> Tensor {
        let m = mask.to_kind(Kind::Float).unsqueeze(-1);
        let summed = || (hidden * &m).sum_dim_intlist(1, false, Kind::Float);
        let count = || m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9);
        let parts: Vec<Tensor> = self
            .modes
            .iter()
            .map(|mode| match mode {
                Mode::Cls => hidden.select(1, 0),
                // Padding set to a large negative so it never wins, as sentence-transformers does.
                Mode::Max => (hidden + (&m - 1.0) * 1e9).amax([1], false),
                Mode::Mean => summed() / count(),
                Mode::MeanSqrtLen => summed() / count().sqrt(),
            })
            .collect();
        Tensor::cat(&parts, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooled(modes: Vec<Mode>) -> Vec<Vec<f32>> {
        // One sentence of two tokens plus one padding position, H = 2.
        let hidden = Tensor::from_slice(&[1.0f32, 4.0, 3.0, 2.0, 100.0, 100.0]).view([1, 3, 2]);
        let mask = Tensor::from_slice(&[1i64, 1, 0]).view([1, 3]);
        Vec::<Vec<f32>>::try_from(&Pooling { modes }.apply(&hidden, &mask)).expect("vec")
    }

    #[test]
    fn each_mode_ignores_padding() {
        assert_eq!(pooled(vec![Mode::Cls]), vec![vec![1.0, 4.0]]);
        assert_eq!(pooled(vec![Mode::Max]), vec![vec![3.0, 4.0]]);
        assert_eq!(pooled(vec![Mode::Mean]), vec![vec![2.0, 3.0]]);
        let r = 2f32.sqrt();
        assert_eq!(
            pooled(vec![Mode::MeanSqrtLen]),
            vec![vec![4.0 / r, 6.0 / r]]
        );
        assert_eq!(
            pooled(vec![Mode::Cls, Mode::Mean]),
            vec![vec![1.0, 4.0, 2.0, 3.0]]
        );
    }

    #[test]
    fn config_flags_are_read() {
        let p = Path::new("1_Pooling/config.json");
        let v =
            serde_json::json!({"pooling_mode_max_tokens": true, "pooling_mode_mean_tokens": true});
        assert_eq!(
            Pooling::from_config(p, &v).expect("ok").modes,
            vec![Mode::Max, Mode::Mean]
        );
        let err = Pooling::from_config(p, &serde_json::json!({"pooling_mode_lasttoken": true}))
            .expect_err("unsupported")
            .to_string();
        assert!(
            err.contains("lasttoken") && err.contains("1_Pooling"),
            "{err}"
        );
        assert!(Pooling::from_config(p, &serde_json::json!({})).is_err());
    }
}
