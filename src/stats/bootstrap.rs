//! Percentile bootstrap over evaluation examples.
//!
//! A model's accuracy on a dataset is the mean of its per-example correctness, and every model
//! is scored on the same examples. One bootstrap replicate draws, for each dataset, as many
//! example indices as it has, with replacement, and recomputes every model's accuracy on that
//! one draw — the same draw for all models, so the paired structure of the comparison is kept.
//! Each statistic is then recomputed from the replicate's accuracies. A column of published
//! numbers (no per-example data) stays fixed; only the other column varies.
//!
//! Replicates come from one ChaCha8 stream seeded by [`BootstrapConfig::seed`], so a seed gives
//! the same intervals on every machine.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Bootstrap settings (also recorded in the result).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of replicates.
    pub resamples: usize,
    pub seed: u64,
    /// Coverage of the percentile interval, e.g. 0.95.
    pub level: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            resamples: 2000,
            seed: 0,
            level: 0.95,
        }
    }
}

/// A percentile interval, and how many replicates had the statistic defined (a replicate in
/// which a column came out constant has no correlation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
    pub defined: usize,
}

/// One dataset's accuracies as the bootstrap sees them.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Per model (rows in order), per example: was the prediction correct? Every model has the
    /// same examples in the same order. Accuracy is reported in percent.
    Examples(Vec<Vec<bool>>),
    /// Fixed accuracies (published numbers): not resampled.
    Fixed(Vec<f64>),
}

impl Column {
    pub fn models(&self) -> usize {
        match self {
            Column::Examples(v) => v.len(),
            Column::Fixed(v) => v.len(),
        }
    }

    /// Examples per model, or `None` for a fixed column.
    pub fn examples(&self) -> Option<usize> {
        match self {
            Column::Examples(v) => Some(v.first().map_or(0, Vec::len)),
            Column::Fixed(_) => None,
        }
    }

    /// Accuracies on the full data.
    pub fn point(&self) -> Vec<f64> {
        match self {
            Column::Examples(v) => v
                .iter()
                .map(|c| percent(c.iter().filter(|&&x| x).count(), c.len()))
                .collect(),
            Column::Fixed(v) => v.clone(),
        }
    }

    /// Accuracies on one resample of the examples, written into `out`; `counts` is scratch.
    pub fn resample(&self, rng: &mut ChaCha8Rng, counts: &mut Vec<u32>, out: &mut Vec<f64>) {
        out.clear();
        match self {
            Column::Fixed(v) => out.extend_from_slice(v),
            Column::Examples(v) => {
                let m = v.first().map_or(0, Vec::len);
                // How often each example was drawn; a model's hits are then a dot product.
                counts.clear();
                counts.resize(m, 0);
                for _ in 0..m {
                    counts[rng.gen_range(0..m)] += 1;
                }
                for correct in v {
                    let hits: usize = correct
                        .iter()
                        .zip(counts.iter())
                        .map(|(&c, &k)| if c { k as usize } else { 0 })
                        .sum();
                    out.push(percent(hits, m));
                }
            }
        }
    }
}

fn percent(hits: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * hits as f64 / total as f64
    }
}

/// The sample quantile at `q` in [0, 1] of sorted `v`, interpolating linearly between order
/// statistics (the usual "type 7" definition, numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + frac * (sorted[hi] - sorted[lo]))
}

/// The central percentile interval of coverage `level` over the defined replicate values.
pub fn percentile_interval(values: &[Option<f64>], level: f64) -> Option<Interval> {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    v.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    Some(Interval {
        lo: quantile(&v, tail)?,
        hi: quantile(&v, 1.0 - tail)?,
        defined: v.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.1), Some(1.4));
        assert_eq!(quantile(&v, 1.0), Some(5.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn interval_skips_undefined_replicates() {
        let vals = [Some(1.0), None, Some(3.0), Some(2.0)];
        let i = percentile_interval(&vals, 1.0).expect("some defined");
        assert_eq!((i.lo, i.hi, i.defined), (1.0, 3.0, 3));
        assert_eq!(percentile_interval(&[None], 0.95), None);
    }

    #[test]
    fn resampling_keeps_fixed_columns_and_is_seeded() {
        let col = Column::Examples(vec![
            vec![true, false, true, true],
            vec![false; 4],
            vec![true; 4],
        ]);
        assert_eq!(col.point(), vec![75.0, 0.0, 100.0]);
        let (mut c, mut o1, mut o2) = (Vec::new(), Vec::new(), Vec::new());
        col.resample(&mut ChaCha8Rng::seed_from_u64(3), &mut c, &mut o1);
        col.resample(&mut ChaCha8Rng::seed_from_u64(3), &mut c, &mut o2);
        assert_eq!(o1, o2);
        assert_eq!((o1[1], o1[2]), (0.0, 100.0));
        let fixed = Column::Fixed(vec![1.0, 2.0]);
        fixed.resample(&mut ChaCha8Rng::seed_from_u64(3), &mut c, &mut o1);
        assert_eq!(o1, vec![1.0, 2.0]);
    }
}
