//! Rank and improvement statistics with bootstrap intervals.
//!
//! The question the ImageNot paper asks of two datasets: do models rank the same on both, and
//! do their relative improvements agree? Given each model's accuracy on dataset `a` and on
//! dataset `b` (rows in chronological order, the first row being the baseline), this module
//! computes Kendall's τ-b, Spearman's ρ, Pearson's r, Lin's concordance of log improvement over
//! the first model and the correlation of pairwise relative improvement ([`correlation`]); the
//! linear fit of the two in probit space ([`probit`]); the permutation p-value of τ
//! ([`permutation`]); and percentile bootstrap intervals that resample seeds and evaluation
//! examples ([`bootstrap`]). [`analysis`] combines them into the serialized
//! [`RankStatsResult`] that reports read: reports render these numbers and never recompute them.

pub mod analysis;
pub mod bootstrap;
pub mod classification;
pub mod correlation;
pub mod permutation;
pub mod probit;
pub mod table;

pub use analysis::{
    analyze, ColumnInfo, ColumnRuns, ModelRow, OrderFlip, PairRow, RankStatsResult, COLLAPSE_MARGIN,
};
pub use bootstrap::{BootstrapConfig, Column, Interval, Runs};
pub use permutation::{kendall_tau_p_value, PValueMethod, TauPValue};
pub use table::{read_column_csv, read_table_csv, Table, TableStats};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What can go wrong computing statistics or reading their inputs.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("{file}: {msg}")]
    Io { file: PathBuf, msg: String },
    #[error("{file}, line {line}: {msg}")]
    Csv {
        file: PathBuf,
        line: u64,
        msg: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The statistics of one pair of columns, each `None` where undefined. Field names are the
/// JSON contract of `repro stats --json` and of `stats.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointStats {
    /// Number of models (rows).
    pub n: usize,
    pub kendall_tau_b: Option<f64>,
    pub spearman_rho: Option<f64>,
    pub pearson_r: Option<f64>,
    /// Lin's concordance of ln(a_i/a_0) and ln(b_i/b_0) over the models after the first: 1 only
    /// when both datasets show the same improvements over the baseline.
    pub lin_ccc_log_improvement: Option<f64>,
    /// Pearson r between a_j/a_i − 1 and b_j/b_i − 1 over all pairs i < j.
    pub pearson_pairwise_improvement: Option<f64>,
    /// Least-squares line Φ⁻¹(b) = slope · Φ⁻¹(a) + intercept (Recht et al. 2019).
    pub probit_slope: Option<f64>,
    pub probit_intercept: Option<f64>,
}

impl PointStats {
    pub fn of(a: &[f64], b: &[f64]) -> PointStats {
        use correlation::*;
        let fit = probit::probit_fit(a, b);
        PointStats {
            n: a.len().min(b.len()),
            kendall_tau_b: kendall_tau_b(a, b),
            spearman_rho: spearman_rho(a, b),
            pearson_r: pearson_r(a, b),
            lin_ccc_log_improvement: lin_ccc_log_improvement(a, b),
            pearson_pairwise_improvement: pearson_pairwise_improvement(a, b),
            probit_slope: fit.as_ref().map(|f| f.slope),
            probit_intercept: fit.as_ref().map(|f| f.intercept),
        }
    }

    /// The statistics as (JSON name, value) pairs, in a fixed order for tables and loops.
    pub fn named(&self) -> [(&'static str, Option<f64>); 7] {
        [
            ("kendall_tau_b", self.kendall_tau_b),
            ("spearman_rho", self.spearman_rho),
            ("pearson_r", self.pearson_r),
            ("lin_ccc_log_improvement", self.lin_ccc_log_improvement),
            (
                "pearson_pairwise_improvement",
                self.pearson_pairwise_improvement,
            ),
            ("probit_slope", self.probit_slope),
            ("probit_intercept", self.probit_intercept),
        ]
    }
}
