//! Percentile bootstrap over evaluation examples and, where a cell has several, training seeds.
//!
//! A model's accuracy on a dataset is the mean of its per-example correctness, and every model
//! is scored on the same examples. One bootstrap replicate draws, for each list of examples, as
//! many example indices as it has, with replacement, and recomputes every model's accuracy on
//! that one draw — the same draw for all models and for every column evaluated on the same
//! examples (the same [`Runs::examples_key`]), so paired comparisons stay paired. The draw for a
//! key comes from its own ChaCha8 stream, seeded by [`BootstrapConfig::seed`] and the key, so the
//! same predictions get the same intervals in every comparison they appear in.
//!
//! Where a model was trained with several seeds, the replicate first redraws its seeds with
//! replacement (from the column's own stream), then scores each drawn seed on the drawn
//! examples and averages: a hierarchical bootstrap whose intervals cover seed-to-seed variation
//! as well as the finite test set. A column of published numbers stays fixed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

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
    /// Per model (rows in order), per example: was the prediction correct? One run per model,
    /// all on the same unnamed examples (two such columns of one length are paired).
    Examples(Vec<Vec<bool>>),
    /// Per model, per seed, per example, on named examples.
    Runs(Runs),
    /// Fixed accuracies (published numbers): not resampled.
    Fixed(Vec<f64>),
}

/// Every model's runs (one per training seed) on one list of examples.
#[derive(Clone, Debug, PartialEq)]
pub struct Runs {
    /// Names the examples (dataset, split, example ids — e.g. a digest of them): columns with
    /// the same key are resampled with the same indices.
    pub examples_key: String,
    /// Per model (rows in order), per seed, per example: was the prediction correct?
    pub correct: Vec<Vec<Vec<bool>>>,
    /// The share of the most frequent label among the examples, percent, when labels are known:
    /// the accuracy of always predicting it.
    pub majority_rate: Option<f64>,
}

impl Runs {
    /// Examples per run (every run has the same).
    pub fn examples(&self) -> usize {
        self.correct
            .first()
            .and_then(|seeds| seeds.first())
            .map_or(0, Vec::len)
    }

    /// Each model's accuracy (percent) with each of its seeds.
    pub fn per_seed(&self) -> Vec<Vec<f64>> {
        self.correct
            .iter()
            .map(|seeds| {
                seeds
                    .iter()
                    .map(|c| percent(c.iter().filter(|&&x| x).count(), c.len()))
                    .collect()
            })
            .collect()
    }

    /// Accuracies on one replicate: `counts[e]` is how often example `e` was drawn; a model's
    /// seeds are redrawn from `seed_rng` when it has more than one.
    pub fn resample(&self, counts: &[u32], seed_rng: &mut ChaCha8Rng, out: &mut Vec<f64>) {
        out.clear();
        let m = counts.len();
        let hits = |correct: &[bool]| -> usize {
            correct
                .iter()
                .zip(counts)
                .map(|(&c, &k)| if c { k as usize } else { 0 })
                .sum()
        };
        for seeds in &self.correct {
            let acc = if seeds.len() == 1 {
                percent(hits(&seeds[0]), m)
            } else {
                let s = seeds.len();
                let total: f64 = (0..s)
                    .map(|_| percent(hits(&seeds[seed_rng.gen_range(0..s)]), m))
                    .sum();
                total / s as f64
            };
            out.push(acc);
        }
    }

    /// A digest of the outcomes, which seeds the column's stream of seed draws: identical runs
    /// draw identical seeds in every comparison.
    pub fn content_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.examples_key.as_bytes());
        for seeds in &self.correct {
            h.update((seeds.len() as u64).to_le_bytes());
            for run in seeds {
                let bytes: Vec<u8> = run.iter().map(|&c| u8::from(c)).collect();
                h.update(&bytes);
            }
        }
        h.finalize().into()
    }
}

impl Column {
    pub fn models(&self) -> usize {
        match self {
            Column::Examples(v) => v.len(),
            Column::Runs(r) => r.correct.len(),
            Column::Fixed(v) => v.len(),
        }
    }

    /// Examples per model, or `None` for a fixed column.
    pub fn examples(&self) -> Option<usize> {
        self.runs().map(|r| r.examples())
    }

    /// The column as runs (one seed per model for [`Column::Examples`]), `None` when fixed.
    pub fn runs(&self) -> Option<Runs> {
        match self {
            Column::Examples(v) => Some(Runs {
                examples_key: format!("{} unnamed examples", v.first().map_or(0, Vec::len)),
                correct: v.iter().map(|c| vec![c.clone()]).collect(),
                majority_rate: None,
            }),
            Column::Runs(r) => Some(r.clone()),
            Column::Fixed(_) => None,
        }
    }

    /// Accuracies on the full data: each model's mean over its seeds.
    pub fn point(&self) -> Vec<f64> {
        match self {
            Column::Fixed(v) => v.clone(),
            _ => self
                .runs()
                .map(|r| r.per_seed().iter().map(|s| mean(s)).collect())
                .unwrap_or_default(),
        }
    }
}

/// The example draws of one replicate, one per examples key, each from the key's own stream.
pub struct ExampleDraws {
    streams: BTreeMap<String, (ChaCha8Rng, Vec<u32>)>,
}

impl ExampleDraws {
    /// Streams for each (key, examples) of `lists`, seeded by `seed` and the key.
    pub fn new<'a>(seed: u64, lists: impl IntoIterator<Item = (&'a str, usize)>) -> Self {
        let streams = lists
            .into_iter()
            .map(|(key, m)| {
                let rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, key.as_bytes()));
                (key.to_string(), (rng, vec![0; m]))
            })
            .collect();
        ExampleDraws { streams }
    }

    /// Draw the next replicate for every key.
    pub fn next(&mut self) {
        for (rng, counts) in self.streams.values_mut() {
            let m = counts.len();
            counts.iter_mut().for_each(|c| *c = 0);
            for _ in 0..m {
                counts[rng.gen_range(0..m)] += 1;
            }
        }
    }

    /// How often each example of `key` was drawn in the current replicate.
    pub fn counts(&self, key: &str) -> &[u32] {
        self.streams.get(key).map_or(&[], |(_, c)| c.as_slice())
    }
}

/// A stream seed from the bootstrap seed and a name: the first 8 bytes of SHA-256.
pub fn stream_seed(seed: u64, name: &[u8]) -> u64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(name);
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The arithmetic mean (0 for no values).
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The sample standard deviation (divisor n − 1), `None` for fewer than two values.
pub fn sample_sd(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let m = mean(v);
    Some((v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
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
    fn resampling_is_seeded_and_shared_by_key() {
        let col = Column::Examples(vec![
            vec![true, false, true, true],
            vec![false; 4],
            vec![true; 4],
        ]);
        assert_eq!(col.point(), vec![75.0, 0.0, 100.0]);
        let runs = col.runs().expect("runs");
        let key = runs.examples_key.clone();
        let draw = |seed| {
            let mut d = ExampleDraws::new(seed, [(key.as_str(), 4)]);
            d.next();
            let mut out = Vec::new();
            runs.resample(d.counts(&key), &mut ChaCha8Rng::seed_from_u64(0), &mut out);
            out
        };
        assert_eq!(draw(3), draw(3));
        assert_eq!((draw(3)[1], draw(3)[2]), (0.0, 100.0));
        assert_eq!(Column::Fixed(vec![1.0, 2.0]).point(), vec![1.0, 2.0]);
    }

    #[test]
    fn seeds_are_averaged_and_spread() {
        let runs = Runs {
            examples_key: "k".into(),
            correct: vec![vec![
                vec![true, true],
                vec![true, false],
                vec![false, false],
            ]],
            majority_rate: None,
        };
        assert_eq!(runs.per_seed(), vec![vec![100.0, 50.0, 0.0]]);
        assert_eq!(Column::Runs(runs).point(), vec![50.0]);
        assert_eq!(sample_sd(&[100.0, 50.0, 0.0]), Some(50.0));
        assert_eq!(sample_sd(&[1.0]), None);
    }
}
