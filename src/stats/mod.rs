//! Rank and improvement statistics with bootstrap intervals.
//!
//! The question the ImageNot paper asks of two datasets: do models rank the same on both, and
//! do their relative improvements agree? Given each model's accuracy on dataset `a` and on
//! dataset `b` (rows in chronological order, the first row being the baseline), this module
//! computes Kendall's τ-b, Spearman's ρ, Pearson's r, the correlation of improvement from the
//! first model and of pairwise relative improvement ([`correlation`]); the permutation p-value
//! of τ ([`permutation`]); and percentile bootstrap intervals that resample evaluation examples
//! ([`bootstrap`]). [`analysis`] combines them into the serialized [`RankStatsResult`] that
//! reports read: reports render these numbers and never recompute them.

pub mod analysis;
pub mod bootstrap;
pub mod classification;
pub mod correlation;
pub mod permutation;
pub mod table;

pub use analysis::{analyze, ColumnInfo, ModelRow, PairRow, RankStatsResult};
pub use bootstrap::{BootstrapConfig, Column, Interval};
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
    /// Pearson r between a_i/a_0 and b_i/b_0 over the models after the first.
    pub pearson_improvement_from_first: Option<f64>,
    /// Pearson r between a_j/a_i − 1 and b_j/b_i − 1 over all pairs i < j.
    pub pearson_pairwise_improvement: Option<f64>,
}

impl PointStats {
    pub fn of(a: &[f64], b: &[f64]) -> PointStats {
        use correlation::*;
        PointStats {
            n: a.len().min(b.len()),
            kendall_tau_b: kendall_tau_b(a, b),
            spearman_rho: spearman_rho(a, b),
            pearson_r: pearson_r(a, b),
            pearson_improvement_from_first: pearson_improvement_from_first(a, b),
            pearson_pairwise_improvement: pearson_pairwise_improvement(a, b),
        }
    }

    /// The statistics as (JSON name, value) pairs, in a fixed order for tables and loops.
    pub fn named(&self) -> [(&'static str, Option<f64>); 5] {
        [
            ("kendall_tau_b", self.kendall_tau_b),
            ("spearman_rho", self.spearman_rho),
            ("pearson_r", self.pearson_r),
            (
                "pearson_improvement_from_first",
                self.pearson_improvement_from_first,
            ),
            (
                "pearson_pairwise_improvement",
                self.pearson_pairwise_improvement,
            ),
        ]
    }
}
