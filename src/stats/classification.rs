//! The held-out accuracy of one classifier, with intervals: what the paper's dataset
//! classification experiment reports (a classifier tells ImageNot from ImageNet images with
//! 97% accuracy).
//!
//! From per-example (label, prediction) pairs: accuracy, its Wilson score interval (exact
//! enough at any n, and never outside [0, 100] even at 100% accuracy, where a percentile
//! bootstrap collapses to a point), a percentile bootstrap interval over the examples (the same
//! method as every other interval in the reports), the confusion matrix, per-class accuracy
//! with Wilson intervals, balanced accuracy and the chance level (the largest class's share).
//! All accuracies are in percent.

use super::bootstrap::{percentile_interval, BootstrapConfig, Interval};
use super::StatsError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub const SCHEMA: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassRow {
    pub class: String,
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub wilson: Interval,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationStats {
    pub n: usize,
    pub correct: usize,
    /// Top-1 accuracy (%).
    pub accuracy: f64,
    /// Wilson score interval of the accuracy (%), `defined` = n.
    pub wilson: Interval,
    /// Percentile bootstrap interval over the examples (%).
    pub bootstrap: Option<Interval>,
    pub bootstrap_config: BootstrapConfig,
    /// Mean of the per-class accuracies (%).
    pub balanced_accuracy: f64,
    /// Accuracy of always answering the largest class (%).
    pub chance: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    pub per_class: Vec<ClassRow>,
}

/// A published accuracy to compare with, e.g. the paper's 97% (ImageNot vs ImageNet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub label: String,
    /// Percent.
    pub accuracy: f64,
}

/// Where one class's images came from (a contrast dataset's `contrast.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceRef {
    pub class: String,
    /// The input stage of the contrast.
    pub input: String,
    pub content_sha256: String,
}

/// What training the classifier cost (its `metrics.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingCost {
    pub model: String,
    pub params: i64,
    pub epochs: usize,
    pub train_examples: usize,
    pub seconds: f64,
    pub device: String,
    pub threads: usize,
    /// Training accuracy of the last epoch (%).
    pub final_train_accuracy: f64,
}

/// An artifact the result was computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputArtifact {
    /// `<input stage>/<file>`.
    pub name: String,
    /// `sha256:<hex>`.
    pub digest: String,
}

/// `classification.json`: the statistics and what they are about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationResult {
    pub schema: u32,
    pub model: String,
    pub dataset: String,
    pub split: String,
    pub classes: Vec<String>,
    pub stats: ClassificationStats,
    /// Per class, the dataset it stands for (empty unless the dataset is a contrast).
    pub sources: Vec<SourceRef>,
    /// Images per class per split of the contrast (empty unless a contrast).
    pub per_class: std::collections::BTreeMap<String, usize>,
    pub training: Option<TrainingCost>,
    pub reference: Option<Reference>,
    pub inputs: Vec<InputArtifact>,
}

/// The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let tail = |q: f64| {
        let q = (-2.0 * q.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p <= 0.0 {
        f64::NEG_INFINITY
    } else if p >= 1.0 {
        f64::INFINITY
    } else if p < 0.02425 {
        tail(p)
    } else if p > 1.0 - 0.02425 {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Wilson score interval of `k` successes in `n` trials at coverage `level`, in percent.
pub fn wilson(k: usize, n: usize, level: f64) -> Interval {
    if n == 0 {
        return Interval {
            lo: 0.0,
            hi: 100.0,
            defined: 0,
        };
    }
    let z = normal_quantile(0.5 + level / 2.0);
    let (nf, p) = (n as f64, k as f64 / n as f64);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
    let half = z / (1.0 + z2 / nf) * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    // At k = 0 and k = n the bounds are exactly 0 and 1; rounding would miss them.
    Interval {
        lo: if k == 0 {
            0.0
        } else {
            100.0 * (centre - half).max(0.0)
        },
        hi: if k == n {
            100.0
        } else {
            100.0 * (centre + half).min(1.0)
        },
        defined: n,
    }
}

/// Statistics of `(label, predicted)` pairs over `classes`.
pub fn classification_stats(
    classes: &[String],
    pairs: &[(u32, u32)],
    config: &BootstrapConfig,
) -> Result<ClassificationStats, StatsError> {
    let k = classes.len();
    if pairs.is_empty() {
        return Err(StatsError::Invalid("no evaluated examples".into()));
    }
    if !(config.level > 0.0 && config.level < 1.0) {
        return Err(StatsError::Invalid(format!(
            "level {} is not in (0, 1)",
            config.level
        )));
    }
    let mut confusion = vec![vec![0usize; k]; k];
    for (i, &(label, pred)) in pairs.iter().enumerate() {
        let (l, p) = (label as usize, pred as usize);
        if l >= k || p >= k {
            return Err(StatsError::Invalid(format!(
                "example {i}: label {label} or prediction {pred} is not one of the {k} classes"
            )));
        }
        confusion[l][p] += 1;
    }
    let n = pairs.len();
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let pct = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let per_class: Vec<ClassRow> = (0..k)
        .map(|c| {
            let nc: usize = confusion[c].iter().sum();
            ClassRow {
                class: classes[c].clone(),
                n: nc,
                correct: confusion[c][c],
                accuracy: pct(confusion[c][c], nc),
                wilson: wilson(confusion[c][c], nc, config.level),
            }
        })
        .collect();
    let present: Vec<&ClassRow> = per_class.iter().filter(|r| r.n > 0).collect();
    let balanced_accuracy =
        present.iter().map(|r| r.accuracy).sum::<f64>() / present.len().max(1) as f64;
    let chance = pct(per_class.iter().map(|r| r.n).max().unwrap_or(0), n);
    let hits: Vec<bool> = pairs.iter().map(|(l, p)| l == p).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut counts = vec![0u32; hits.len()];
    let replicates: Vec<Option<f64>> = (0..config.resamples)
        .map(|_| {
            counts.iter_mut().for_each(|c| *c = 0);
            for _ in 0..hits.len() {
                counts[rng.gen_range(0..hits.len())] += 1;
            }
            let drawn: u32 = hits
                .iter()
                .zip(&counts)
                .filter(|(h, _)| **h)
                .map(|(_, k)| k)
                .sum();
            (!hits.is_empty()).then(|| pct(drawn as usize, hits.len()))
        })
        .collect();
    Ok(ClassificationStats {
        n,
        correct,
        accuracy: pct(correct, n),
        wilson: wilson(correct, n, config.level),
        bootstrap: percentile_interval(&replicates, config.level),
        bootstrap_config: config.clone(),
        balanced_accuracy,
        chance,
        confusion,
        per_class,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.975) - 1.959964).abs() < 1e-6);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.005) + 2.575829).abs() < 1e-6);
    }

    #[test]
    fn wilson_matches_reference_values() {
        // 81 of 263 at 95%: statsmodels' proportion_confint(81, 263, method="wilson") gives
        // (0.25529, 0.36621).
        let i = wilson(81, 263, 0.95);
        assert!(
            (i.lo - 25.5289).abs() < 1e-3 && (i.hi - 36.6210).abs() < 1e-3,
            "{i:?}"
        );
        // All correct: the interval ends at exactly 100, and starts at n / (n + z²).
        let all = wilson(1000, 1000, 0.95);
        assert_eq!(all.hi, 100.0);
        assert!((all.lo - 99.6173).abs() < 1e-3, "{all:?}");
        assert_eq!(wilson(0, 0, 0.95).defined, 0);
    }

    #[test]
    fn confusion_accuracy_and_intervals() {
        let classes = vec!["a".to_string(), "b".to_string()];
        // 100 of each class; class a: 90 right, class b: 70 right.
        let mut pairs = Vec::new();
        pairs.extend((0..100).map(|i| (0, u32::from(i >= 90))));
        pairs.extend((0..100).map(|i| (1, u32::from(i < 70))));
        let cfg = BootstrapConfig {
            resamples: 1000,
            seed: 4,
            level: 0.95,
        };
        let s = classification_stats(&classes, &pairs, &cfg).expect("stats");
        assert_eq!(s.confusion, vec![vec![90, 10], vec![30, 70]]);
        assert_eq!((s.n, s.correct, s.accuracy), (200, 160, 80.0));
        assert_eq!((s.chance, s.balanced_accuracy), (50.0, 80.0));
        assert_eq!(s.per_class[1].accuracy, 70.0);
        let b = s.bootstrap.as_ref().expect("bootstrap");
        assert!(b.lo < 80.0 && 80.0 < b.hi && b.hi - b.lo < 15.0, "{b:?}");
        assert!(
            (b.lo - s.wilson.lo).abs() < 2.0,
            "bootstrap ≈ Wilson at n = 200"
        );
        assert_eq!(
            s,
            classification_stats(&classes, &pairs, &cfg).expect("again")
        );
        assert!(classification_stats(&classes, &[(0, 2)], &cfg).is_err());
        assert!(classification_stats(&classes, &[], &cfg).is_err());
    }
}
