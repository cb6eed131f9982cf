//! One comparison of two datasets, computed in full: the serialized result (`stats.json`)
//! that the `rank_stats` stage writes and that reports draw from.
//!
//! Everything a report shows is here — accuracies with intervals, ranks, improvement ratios,
//! pairwise improvements, the statistics with intervals and the p-value — so a report only
//! formats and draws.

use super::bootstrap::{percentile_interval, BootstrapConfig, Column, Interval};
use super::correlation::{improvement_from_first, pairwise_improvements, ranks_descending};
use super::permutation::{kendall_tau_p_value, TauPValue, DEFAULT_MONTE_CARLO_DRAWS};
use super::{PointStats, StatsError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Version of the [`RankStatsResult`] layout; bump when a field changes meaning.
pub const SCHEMA: u32 = 1;

/// What one column is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Display name, e.g. "mini-ImageNot" or "ImageNet (published)".
    pub label: String,
    /// Where the numbers come from (stage names, or a file and its sha256).
    pub source: String,
    /// Examples per model when the column is resampled; `None` for fixed, published numbers.
    pub examples: Option<usize>,
}

/// One model: accuracies (percent), their bootstrap intervals, ranks (1 = best, ties
/// averaged) and improvement over the first model (acc / acc of the first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub model: String,
    pub a: f64,
    pub b: f64,
    pub a_interval: Option<Interval>,
    pub b_interval: Option<Interval>,
    pub rank_a: f64,
    pub rank_b: f64,
    pub improvement_a: Option<f64>,
    pub improvement_b: Option<f64>,
}

/// Relative improvement of `to` over `from` (a later model over an earlier one): acc ratio − 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    pub from: String,
    pub to: String,
    pub a: f64,
    pub b: f64,
}

/// Bootstrap intervals of the statistics in [`PointStats`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatIntervals {
    pub kendall_tau_b: Option<Interval>,
    pub spearman_rho: Option<Interval>,
    pub pearson_r: Option<Interval>,
    pub pearson_improvement_from_first: Option<Interval>,
    pub pearson_pairwise_improvement: Option<Interval>,
}

impl StatIntervals {
    /// The interval of the statistic named as in [`PointStats::named`].
    pub fn get(&self, name: &str) -> Option<&Interval> {
        match name {
            "kendall_tau_b" => self.kendall_tau_b.as_ref(),
            "spearman_rho" => self.spearman_rho.as_ref(),
            "pearson_r" => self.pearson_r.as_ref(),
            "pearson_improvement_from_first" => self.pearson_improvement_from_first.as_ref(),
            "pearson_pairwise_improvement" => self.pearson_pairwise_improvement.as_ref(),
            _ => None,
        }
    }
}

/// The full comparison of dataset `a` with dataset `b`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankStatsResult {
    pub schema: u32,
    pub a: ColumnInfo,
    pub b: ColumnInfo,
    /// Rows in chronological order; the first is the baseline.
    pub models: Vec<ModelRow>,
    pub point: PointStats,
    pub intervals: StatIntervals,
    pub kendall_tau_p_value: Option<TauPValue>,
    /// Settings of the bootstrap (resamples 0 when neither column has per-example data).
    pub bootstrap: BootstrapConfig,
    /// Pairwise relative improvements, i < j in chronological order.
    pub pairs: Vec<PairRow>,
}

/// Compute everything for `models` (chronological order) with accuracies `a` and `b`.
pub fn analyze(
    models: &[String],
    a: (ColumnInfo, &Column),
    b: (ColumnInfo, &Column),
    config: &BootstrapConfig,
) -> Result<RankStatsResult, StatsError> {
    let ((mut info_a, col_a), (mut info_b, col_b)) = (a, b);
    let n = models.len();
    for (info, col) in [(&info_a, col_a), (&info_b, col_b)] {
        if col.models() != n {
            return Err(StatsError::Invalid(format!(
                "column `{}` has {} models, expected {n}",
                info.label,
                col.models()
            )));
        }
        if let Column::Examples(v) = col {
            let m = v.first().map_or(0, Vec::len);
            if m == 0 || v.iter().any(|c| c.len() != m) {
                return Err(StatsError::Invalid(format!(
                    "column `{}`: every model needs correctness on the same, non-empty set of examples",
                    info.label
                )));
            }
        }
    }
    if n < 2 {
        return Err(StatsError::Invalid(format!(
            "need at least two models, got {n}"
        )));
    }
    if !(config.level > 0.0 && config.level < 1.0) {
        return Err(StatsError::Invalid(format!(
            "level {} is not in (0, 1)",
            config.level
        )));
    }
    info_a.examples = col_a.examples();
    info_b.examples = col_b.examples();
    let (pa, pb) = (col_a.point(), col_b.point());
    let point = PointStats::of(&pa, &pb);

    let resampled = col_a.examples().is_some() || col_b.examples().is_some();
    let resamples = if resampled { config.resamples } else { 0 };
    let mut stat_values: [Vec<Option<f64>>; 5] = Default::default();
    let mut acc_a: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(resamples); n];
    let mut acc_b: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(resamples); n];
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let (mut counts, mut ra, mut rb) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..resamples {
        col_a.resample(&mut rng, &mut counts, &mut ra);
        col_b.resample(&mut rng, &mut counts, &mut rb);
        for (k, (_, v)) in PointStats::of(&ra, &rb).named().into_iter().enumerate() {
            stat_values[k].push(v);
        }
        for i in 0..n {
            acc_a[i].push(Some(ra[i]));
            acc_b[i].push(Some(rb[i]));
        }
    }
    let level = config.level;
    let ci = |k: usize| percentile_interval(&stat_values[k], level);
    let intervals = StatIntervals {
        kendall_tau_b: ci(0),
        spearman_rho: ci(1),
        pearson_r: ci(2),
        pearson_improvement_from_first: ci(3),
        pearson_pairwise_improvement: ci(4),
    };

    let (rank_a, rank_b) = (ranks_descending(&pa), ranks_descending(&pb));
    let improvement = improvement_from_first(&pa, &pb);
    let rows = (0..n)
        .map(|i| ModelRow {
            model: models[i].clone(),
            a: pa[i],
            b: pb[i],
            a_interval: col_a
                .examples()
                .and_then(|_| percentile_interval(&acc_a[i], level)),
            b_interval: col_b
                .examples()
                .and_then(|_| percentile_interval(&acc_b[i], level)),
            rank_a: rank_a[i],
            rank_b: rank_b[i],
            improvement_a: improvement.as_ref().map(|(x, _)| x[i]),
            improvement_b: improvement.as_ref().map(|(_, y)| y[i]),
        })
        .collect();
    let pairs = pairwise_improvements(&pa, &pb)
        .unwrap_or_default()
        .into_iter()
        .map(|(i, j, x, y)| PairRow {
            from: models[i].clone(),
            to: models[j].clone(),
            a: x,
            b: y,
        })
        .collect();
    Ok(RankStatsResult {
        schema: SCHEMA,
        a: info_a,
        b: info_b,
        models: rows,
        point,
        intervals,
        kendall_tau_p_value: kendall_tau_p_value(&pa, &pb, config.seed, DEFAULT_MONTE_CARLO_DRAWS),
        bootstrap: BootstrapConfig {
            resamples,
            ..config.clone()
        },
        pairs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(label: &str) -> ColumnInfo {
        ColumnInfo {
            label: label.into(),
            source: "test".into(),
            examples: None,
        }
    }

    #[test]
    fn examples_against_published_numbers() {
        let models: Vec<String> = ["m0", "m1", "m2", "m3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // Accuracies 25, 50, 75, 100 % on four examples.
        let ex = Column::Examples((1..=4).map(|k| (0..4).map(|e| e < k).collect()).collect());
        let published = Column::Fixed(vec![50.0, 60.0, 70.0, 80.0]);
        let cfg = BootstrapConfig {
            resamples: 200,
            seed: 1,
            level: 0.9,
        };
        let r = analyze(&models, (info("x"), &ex), (info("pub"), &published), &cfg).expect("ok");
        assert_eq!(r.point.kendall_tau_b, Some(1.0));
        assert_eq!(r.a.examples, Some(4));
        assert_eq!(r.b.examples, None);
        assert_eq!(r.models[3].a, 100.0);
        assert_eq!(r.models[0].rank_a, 4.0);
        assert_eq!(r.models[2].improvement_a, Some(3.0));
        assert!(r.models[0].a_interval.is_some() && r.models[0].b_interval.is_none());
        assert_eq!(r.pairs.len(), 6);
        let tau = r.intervals.kendall_tau_b.as_ref().expect("interval");
        assert!(tau.lo <= 1.0 && tau.hi == 1.0 && tau.defined <= 200);
        // Same seed, same numbers.
        let again =
            analyze(&models, (info("x"), &ex), (info("pub"), &published), &cfg).expect("ok");
        assert_eq!(r, again);
        let fixed = analyze(
            &models,
            (info("a"), &published),
            (info("b"), &published),
            &cfg,
        )
        .expect("ok");
        assert_eq!(fixed.bootstrap.resamples, 0);
        assert_eq!(fixed.intervals, StatIntervals::default());
    }

    #[test]
    fn mismatched_columns_are_rejected() {
        let models = vec!["a".to_string(), "b".to_string()];
        let one = Column::Fixed(vec![1.0]);
        let two = Column::Fixed(vec![1.0, 2.0]);
        let e = analyze(
            &models,
            (info("x"), &one),
            (info("y"), &two),
            &BootstrapConfig::default(),
        );
        assert!(e.expect_err("mismatch").to_string().contains("column `x`"));
    }
}
