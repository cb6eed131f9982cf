//! One comparison of two datasets, computed in full: the serialized result (`stats.json`)
//! that the `rank_stats` stage writes and that reports draw from.
//!
//! Everything a report shows is here — accuracies (seed means, with their spread and
//! intervals), ranks and improvements with intervals, pairwise improvements, the statistics
//! with intervals and the p-value, how often each pair of models swaps order under the
//! bootstrap, the seed-vs-seed noise ceiling, collapsed runs, and in words what each interval
//! covers — so a report only formats and draws.

use super::bootstrap::{
    mean, percentile_interval, sample_sd, stream_seed, BootstrapConfig, Column, ExampleDraws,
    Interval, Runs,
};
use super::correlation::{
    improvement_from_first, kendall_tau_b, pairwise_improvements, ranks_descending,
};
use super::permutation::{kendall_tau_p_value, TauPValue, DEFAULT_MONTE_CARLO_DRAWS};
use super::probit::probit_fit;
use super::{PointStats, StatsError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Version of the [`RankStatsResult`] layout; bump when a field changes meaning.
pub const SCHEMA: u32 = 2;

/// A cell whose accuracy is within this many percentage points of its split's majority-class
/// rate (always answering the most frequent label) is flagged as collapsed: the model did not
/// learn the task, so its rank says which networks train at all, not which generalize.
pub const COLLAPSE_MARGIN: f64 = 4.0;

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

/// How a column was resampled, and what its seeds say on their own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnRuns {
    /// Most seeds any model has (0 for published numbers).
    pub seeds: usize,
    /// Names the examples; columns with the same key were resampled with the same indices.
    pub examples_key: Option<String>,
    /// Accuracy (percent) of always predicting the split's most frequent label.
    pub majority_rate: Option<f64>,
    /// What this column's intervals cover, in words.
    pub interval_covers: String,
    /// τ-b between the rankings given by two different seeds on this dataset.
    pub noise_ceiling: Option<NoiseCeiling>,
}

/// Kendall τ-b of the ranking from seed k of every model against seed l, for every pair of
/// seed positions k < l: how much rankings move from training noise alone. A comparison of two
/// datasets cannot be expected to agree more than this.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseCeiling {
    pub pairs: Vec<SeedTau>,
    pub mean_tau: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedTau {
    /// Positions of the two seeds in each model's seed list (0-based).
    pub seed_x: usize,
    pub seed_y: usize,
    pub tau: Option<f64>,
}

/// One model: accuracies (percent; the mean over seeds), their spread and bootstrap intervals,
/// ranks (1 = best, ties averaged) and improvement over the first model (acc / acc of the
/// first), each with its interval, and whether a cell collapsed to the majority class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub model: String,
    pub a: f64,
    pub b: f64,
    /// Standard deviation over seeds (divisor n − 1); `None` with fewer than two seeds.
    pub a_sd: Option<f64>,
    pub b_sd: Option<f64>,
    /// Seeds behind the accuracy (0 for a published number).
    pub a_seeds: usize,
    pub b_seeds: usize,
    pub a_interval: Option<Interval>,
    pub b_interval: Option<Interval>,
    pub rank_a: f64,
    pub rank_b: f64,
    pub rank_a_interval: Option<Interval>,
    pub rank_b_interval: Option<Interval>,
    pub improvement_a: Option<f64>,
    pub improvement_b: Option<f64>,
    pub improvement_a_interval: Option<Interval>,
    pub improvement_b_interval: Option<Interval>,
    pub collapsed_a: bool,
    pub collapsed_b: bool,
    /// Φ⁻¹(b) minus the probit line's prediction from Φ⁻¹(a).
    pub probit_residual: Option<f64>,
}

/// Relative improvement of `to` over `from` (a later model over an earlier one): acc ratio − 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    pub from: String,
    pub to: String,
    pub a: f64,
    pub b: f64,
}

/// How often models `first` and `second` (chronological order) swap order under the bootstrap,
/// on each dataset: a replicate that reverses the point order counts 1, one that ties a strict
/// order (or orders a tie) counts ½. `None` for a published column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderFlip {
    pub first: String,
    pub second: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

/// Bootstrap intervals of the statistics in [`PointStats`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatIntervals {
    pub kendall_tau_b: Option<Interval>,
    pub spearman_rho: Option<Interval>,
    pub pearson_r: Option<Interval>,
    pub lin_ccc_log_improvement: Option<Interval>,
    pub pearson_pairwise_improvement: Option<Interval>,
    pub probit_slope: Option<Interval>,
    pub probit_intercept: Option<Interval>,
}

impl StatIntervals {
    /// The interval of the statistic named as in [`PointStats::named`].
    pub fn get(&self, name: &str) -> Option<&Interval> {
        match name {
            "kendall_tau_b" => self.kendall_tau_b.as_ref(),
            "spearman_rho" => self.spearman_rho.as_ref(),
            "pearson_r" => self.pearson_r.as_ref(),
            "lin_ccc_log_improvement" => self.lin_ccc_log_improvement.as_ref(),
            "pearson_pairwise_improvement" => self.pearson_pairwise_improvement.as_ref(),
            "probit_slope" => self.probit_slope.as_ref(),
            "probit_intercept" => self.probit_intercept.as_ref(),
            _ => None,
        }
    }

    fn from_values(values: &[Vec<Option<f64>>], level: f64) -> StatIntervals {
        let ci = |k: usize| percentile_interval(&values[k], level);
        StatIntervals {
            kendall_tau_b: ci(0),
            spearman_rho: ci(1),
            pearson_r: ci(2),
            lin_ccc_log_improvement: ci(3),
            pearson_pairwise_improvement: ci(4),
            probit_slope: ci(5),
            probit_intercept: ci(6),
        }
    }
}

/// The full comparison of dataset `a` with dataset `b`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankStatsResult {
    pub schema: u32,
    pub a: ColumnInfo,
    pub b: ColumnInfo,
    pub a_runs: ColumnRuns,
    pub b_runs: ColumnRuns,
    /// Rows in chronological order; the first is the baseline.
    pub models: Vec<ModelRow>,
    pub point: PointStats,
    /// Intervals of the statistics: each replicate redraws both resampled columns at once.
    pub intervals: StatIntervals,
    pub kendall_tau_p_value: Option<TauPValue>,
    /// Settings of the bootstrap (resamples 0 when neither column has per-example data).
    pub bootstrap: BootstrapConfig,
    /// Percentage points above the majority-class rate below which a cell counts as collapsed.
    pub collapse_margin: f64,
    /// Pairwise relative improvements, i < j in chronological order.
    pub pairs: Vec<PairRow>,
    /// Order-flip probabilities for every pair i < j in chronological order.
    pub order_flips: Vec<OrderFlip>,
}

/// One column prepared for the bootstrap.
struct Prepared {
    info: ColumnInfo,
    runs: Option<Runs>,
    point: Vec<f64>,
    seed_rng: ChaCha8Rng,
}

impl Prepared {
    fn new(info: ColumnInfo, col: &Column, n: usize, seed: u64) -> Result<Self, StatsError> {
        if col.models() != n {
            return Err(StatsError::Invalid(format!(
                "column `{}` has {} models, expected {n}",
                info.label,
                col.models()
            )));
        }
        let runs = col.runs();
        if let Some(r) = &runs {
            let m = r.examples();
            let ragged = r
                .correct
                .iter()
                .any(|seeds| seeds.is_empty() || seeds.iter().any(|c| c.len() != m));
            if m == 0 || ragged {
                return Err(StatsError::Invalid(format!(
                    "column `{}`: every model needs at least one run, and every run correctness on the same, non-empty set of examples",
                    info.label
                )));
            }
        }
        let seed_rng = ChaCha8Rng::seed_from_u64(match &runs {
            Some(r) => stream_seed(seed, &r.content_digest()),
            None => seed,
        });
        Ok(Prepared {
            info: ColumnInfo {
                examples: col.examples(),
                ..info
            },
            point: col.point(),
            runs,
            seed_rng,
        })
    }

    fn seeds(&self, i: usize) -> usize {
        self.runs.as_ref().map_or(0, |r| r.correct[i].len())
    }

    fn summary(&self) -> ColumnRuns {
        let Some(r) = &self.runs else {
            return ColumnRuns {
                interval_covers: "nothing: published numbers, held fixed".into(),
                ..ColumnRuns::default()
            };
        };
        let seeds = r.correct.iter().map(Vec::len).max().unwrap_or(0);
        let fewest = r.correct.iter().map(Vec::len).min().unwrap_or(0);
        let m = r.examples();
        let interval_covers = if seeds > 1 {
            format!("training seeds and test examples redrawn ({fewest}–{seeds} seeds per model, then {m} examples)")
                .replace(&format!("({seeds}–{seeds} "), &format!("({seeds} "))
        } else {
            format!("test examples redrawn ({m} per model), these trained weights fixed")
        };
        ColumnRuns {
            seeds,
            examples_key: Some(r.examples_key.clone()),
            majority_rate: r.majority_rate,
            interval_covers,
            noise_ceiling: (fewest > 1).then(|| noise_ceiling(&r.per_seed(), fewest)),
        }
    }

    fn resample(&mut self, draws: &ExampleDraws, out: &mut Vec<f64>) {
        match &self.runs {
            Some(r) => r.resample(draws.counts(&r.examples_key), &mut self.seed_rng, out),
            None => {
                out.clear();
                out.extend_from_slice(&self.point);
            }
        }
    }
}

/// τ-b between seed positions k < l over the models (every model has at least `seeds`).
fn noise_ceiling(per_seed: &[Vec<f64>], seeds: usize) -> NoiseCeiling {
    let mut pairs = Vec::new();
    for x in 0..seeds {
        for y in (x + 1)..seeds {
            let col = |k: usize| per_seed.iter().map(|s| s[k]).collect::<Vec<_>>();
            pairs.push(SeedTau {
                seed_x: x,
                seed_y: y,
                tau: kendall_tau_b(&col(x), &col(y)),
            });
        }
    }
    let taus: Vec<f64> = pairs.iter().filter_map(|p| p.tau).collect();
    NoiseCeiling {
        mean_tau: (!taus.is_empty()).then(|| mean(&taus)),
        pairs,
    }
}

/// Replicate values collected for one column's per-model intervals and order flips.
struct Collected {
    acc: Vec<Vec<Option<f64>>>,
    rank: Vec<Vec<Option<f64>>>,
    improvement: Vec<Vec<Option<f64>>>,
    /// Per pair i < j (row-major), the summed flip weight.
    flips: Vec<f64>,
}

impl Collected {
    fn new(n: usize) -> Self {
        Collected {
            acc: vec![Vec::new(); n],
            rank: vec![Vec::new(); n],
            improvement: vec![Vec::new(); n],
            flips: vec![0.0; n * n.saturating_sub(1) / 2],
        }
    }

    fn push(&mut self, point: &[f64], replicate: &[f64]) {
        let ranks = ranks_descending(replicate);
        for (i, &v) in replicate.iter().enumerate() {
            self.acc[i].push(Some(v));
            self.rank[i].push(Some(ranks[i]));
            let base = replicate[0];
            self.improvement[i].push((base > 0.0).then(|| v / base));
        }
        let mut k = 0;
        for i in 0..point.len() {
            for j in (i + 1)..point.len() {
                let s0 = (point[i] - point[j]).signum_or_zero();
                let s = (replicate[i] - replicate[j]).signum_or_zero();
                self.flips[k] += if s0 != 0 && s == -s0 {
                    1.0
                } else if (s == 0) != (s0 == 0) {
                    0.5
                } else {
                    0.0
                };
                k += 1;
            }
        }
    }
}

trait SignumOrZero {
    fn signum_or_zero(self) -> i8;
}

impl SignumOrZero for f64 {
    fn signum_or_zero(self) -> i8 {
        if self > 0.0 {
            1
        } else if self < 0.0 {
            -1
        } else {
            0
        }
    }
}

/// Compute everything for `models` (chronological order) with accuracies `a` and `b`.
pub fn analyze(
    models: &[String],
    a: (ColumnInfo, &Column),
    b: (ColumnInfo, &Column),
    config: &BootstrapConfig,
) -> Result<RankStatsResult, StatsError> {
    let n = models.len();
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
    let mut pa = Prepared::new(a.0, a.1, n, config.seed)?;
    let mut pb = Prepared::new(b.0, b.1, n, config.seed)?;
    // One stream per list of examples; two columns on one list must agree on its length.
    let mut lists: Vec<(&str, usize)> = Vec::new();
    for p in [&pa, &pb] {
        if let Some(r) = &p.runs {
            match lists.iter().find(|(k, _)| *k == r.examples_key) {
                Some((_, m)) if *m != r.examples() => {
                    return Err(StatsError::Invalid(format!(
                    "columns `{}` and `{}` name the same examples ({}) but have {} and {} of them",
                    pa.info.label,
                    pb.info.label,
                    r.examples_key,
                    m,
                    r.examples()
                )))
                }
                Some(_) => {}
                None => lists.push((r.examples_key.as_str(), r.examples())),
            }
        }
    }
    let mut draws = ExampleDraws::new(config.seed, lists.iter().copied());
    let resampled = pa.runs.is_some() || pb.runs.is_some();
    let resamples = if resampled { config.resamples } else { 0 };
    let point = PointStats::of(&pa.point, &pb.point);

    let mut stat_values: Vec<Vec<Option<f64>>> =
        (0..7).map(|_| Vec::with_capacity(resamples)).collect();
    let (mut ca, mut cb) = (Collected::new(n), Collected::new(n));
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for _ in 0..resamples {
        draws.next();
        pa.resample(&draws, &mut ra);
        pb.resample(&draws, &mut rb);
        for (k, (_, v)) in PointStats::of(&ra, &rb).named().into_iter().enumerate() {
            stat_values[k].push(v);
        }
        ca.push(&pa.point, &ra);
        cb.push(&pb.point, &rb);
    }
    let level = config.level;
    let intervals = StatIntervals::from_values(&stat_values, level);

    let (rank_a, rank_b) = (ranks_descending(&pa.point), ranks_descending(&pb.point));
    let improvement = improvement_from_first(&pa.point, &pb.point);
    let fit = probit_fit(&pa.point, &pb.point);
    let (runs_a, runs_b) = (pa.summary(), pb.summary());
    let collapsed = |runs: &ColumnRuns, acc: f64| {
        runs.majority_rate
            .is_some_and(|r| acc - r < COLLAPSE_MARGIN)
    };
    let ci = |p: &Prepared, v: &[Option<f64>]| {
        p.runs.as_ref().and_then(|_| percentile_interval(v, level))
    };
    let sd = |p: &Prepared, i: usize| p.runs.as_ref().and_then(|r| sample_sd(&r.per_seed()[i]));
    let rows = (0..n)
        .map(|i| ModelRow {
            model: models[i].clone(),
            a: pa.point[i],
            b: pb.point[i],
            a_sd: sd(&pa, i),
            b_sd: sd(&pb, i),
            a_seeds: pa.seeds(i),
            b_seeds: pb.seeds(i),
            a_interval: ci(&pa, &ca.acc[i]),
            b_interval: ci(&pb, &cb.acc[i]),
            rank_a: rank_a[i],
            rank_b: rank_b[i],
            rank_a_interval: ci(&pa, &ca.rank[i]),
            rank_b_interval: ci(&pb, &cb.rank[i]),
            improvement_a: improvement.as_ref().map(|(x, _)| x[i]),
            improvement_b: improvement.as_ref().map(|(_, y)| y[i]),
            improvement_a_interval: ci(&pa, &ca.improvement[i]),
            improvement_b_interval: ci(&pb, &cb.improvement[i]),
            collapsed_a: collapsed(&runs_a, pa.point[i]),
            collapsed_b: collapsed(&runs_b, pb.point[i]),
            probit_residual: fit.as_ref().map(|f| f.residuals[i]),
        })
        .collect();
    let pairs = pairwise_improvements(&pa.point, &pb.point)
        .unwrap_or_default()
        .into_iter()
        .map(|(i, j, x, y)| PairRow {
            from: models[i].clone(),
            to: models[j].clone(),
            a: x,
            b: y,
        })
        .collect();
    let mut order_flips = Vec::new();
    let share = |p: &Prepared, c: &Collected, k: usize| {
        (p.runs.is_some() && resamples > 0).then(|| c.flips[k] / resamples as f64)
    };
    let mut k = 0;
    for i in 0..n {
        for j in (i + 1)..n {
            order_flips.push(OrderFlip {
                first: models[i].clone(),
                second: models[j].clone(),
                a: share(&pa, &ca, k),
                b: share(&pb, &cb, k),
            });
            k += 1;
        }
    }
    Ok(RankStatsResult {
        schema: SCHEMA,
        kendall_tau_p_value: kendall_tau_p_value(
            &pa.point,
            &pb.point,
            config.seed,
            DEFAULT_MONTE_CARLO_DRAWS,
        ),
        a: pa.info,
        b: pb.info,
        a_runs: runs_a,
        b_runs: runs_b,
        models: rows,
        point,
        intervals,
        bootstrap: BootstrapConfig {
            resamples,
            ..config.clone()
        },
        collapse_margin: COLLAPSE_MARGIN,
        pairs,
        order_flips,
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
