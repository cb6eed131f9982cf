//! README text: number formatting, Markdown tables, the statistics block and the provenance
//! footer. Every number a README shows goes through [`num`], so tests can check it against the
//! artifact it came from at the same precision.

use super::{io_err, NamedStats, Provenance, ReportError};
use crate::stats::{Interval, ModelRow, RankStatsResult};
use std::path::Path;

/// Decimals of correlations, p-values and improvement ratios.
pub const STAT_DECIMALS: usize = 3;
/// Decimals of accuracies in percent.
pub const ACC_DECIMALS: usize = 2;

pub fn num(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

pub fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "undefined".to_string(), |v| num(v, decimals))
}

/// `[lo, hi]`, or `—` when there is no interval (published numbers, fixed columns).
pub fn interval(i: Option<&Interval>, decimals: usize) -> String {
    i.map_or_else(
        || "—".to_string(),
        |i| format!("[{}, {}]", num(i.lo, decimals), num(i.hi, decimals)),
    )
}

/// A Markdown table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        " --- |".repeat(header.len())
    );
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}

/// Human names of the statistics, keyed like [`crate::stats::PointStats::named`].
pub fn stat_label(name: &str) -> &'static str {
    match name {
        "kendall_tau_b" => "Kendall τ-b (ranks)",
        "spearman_rho" => "Spearman ρ (ranks)",
        "pearson_r" => "Pearson r (accuracies)",
        "pearson_improvement_from_first" => "Pearson r of improvement from the first model",
        "pearson_pairwise_improvement" => "Pearson r of pairwise relative improvement",
        _ => "statistic",
    }
}

/// The statistics of one comparison with intervals, and the τ p-value, as a table.
pub fn stats_block(r: &RankStatsResult) -> String {
    let level = format!("{}% interval", num(100.0 * r.bootstrap.level, 0));
    let rows: Vec<Vec<String>> = r
        .point
        .named()
        .iter()
        .map(|(name, v)| {
            vec![
                stat_label(name).to_string(),
                format!("`{name}`"),
                opt(*v, STAT_DECIMALS),
                interval(r.intervals.get(name), STAT_DECIMALS),
            ]
        })
        .collect();
    let mut out = table(&["statistic", "field", "estimate", &level], &rows);
    out.push('\n');
    match &r.kendall_tau_p_value {
        Some(p) => out.push_str(&format!(
            "p-value of τ (permutation test, {} pairings, {}): {} two-sided, {} one-sided (τ ≥ observed).\n",
            p.permutations,
            serde_json::to_value(p.method).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            num(p.two_sided, 4),
            num(p.greater, 4),
        )),
        None => out.push_str("p-value of τ: undefined (a column has no two distinct values).\n"),
    }
    out.push_str(&format!(
        "n = {} models. Intervals: percentile bootstrap, {} resamples of the evaluation examples, seed {}{}.\n",
        r.point.n,
        r.bootstrap.resamples,
        r.bootstrap.seed,
        fixed_note(r)
    ));
    out
}

fn fixed_note(r: &RankStatsResult) -> String {
    let fixed: Vec<&str> = [&r.a, &r.b]
        .iter()
        .filter(|c| c.examples.is_none())
        .map(|c| c.label.as_str())
        .collect();
    if fixed.is_empty() {
        String::new()
    } else {
        format!(
            "; {} held fixed (published numbers, no per-example data)",
            fixed.join(" and ")
        )
    }
}

/// The per-model table of a comparison: accuracy and interval under a and b, a derived
/// difference (`diff_label`, in points), and both ranks.
pub fn paired_table(
    r: &RankStatsResult,
    diff_label: &str,
    diff: impl Fn(&ModelRow) -> f64,
) -> String {
    let (a, b) = (&r.a.label, &r.b.label);
    let (ha, hb, ra, rb) = (
        format!("{a} (%)"),
        format!("{b} (%)"),
        format!("rank, {a}"),
        format!("rank, {b}"),
    );
    let header = [
        "model", &ha, "interval", &hb, "interval", diff_label, &ra, &rb,
    ];
    let rows: Vec<Vec<String>> = r
        .models
        .iter()
        .map(|m| {
            vec![
                m.model.clone(),
                num(m.a, ACC_DECIMALS),
                interval(m.a_interval.as_ref(), ACC_DECIMALS),
                num(m.b, ACC_DECIMALS),
                interval(m.b_interval.as_ref(), ACC_DECIMALS),
                num(diff(m), ACC_DECIMALS),
                num(m.rank_a, 1),
                num(m.rank_b, 1),
            ]
        })
        .collect();
    table(&header, &rows)
}

/// One `### a vs b (`stage`)` section with its statistics block per comparison.
pub fn comparison_sections<'a>(stats: impl IntoIterator<Item = &'a NamedStats>) -> String {
    let mut out = String::new();
    for s in stats {
        out.push_str(&format!(
            "\n### {} vs {} (`{}`)\n\n",
            s.result.a.label, s.result.b.label, s.name
        ));
        out.push_str(&stats_block(&s.result));
    }
    out
}

/// Finish a report's README with the provenance footer and write it to `dir/README.md`.
pub fn write_readme(dir: &Path, mut body: String, p: &Provenance) -> Result<(), ReportError> {
    body.push('\n');
    body.push_str(&provenance_footer(p));
    let path = dir.join("README.md");
    std::fs::write(&path, body).map_err(io_err(&path))
}

/// The footer: what the numbers are, where they were computed, how to regenerate them.
pub fn provenance_footer(p: &Provenance) -> String {
    let mut out = String::from("---\n\n## Provenance\n\n");
    let rows: Vec<Vec<String>> = p
        .artifacts
        .iter()
        .map(|a| vec![format!("`{}`", a.name), format!("`{}`", a.digest)])
        .collect();
    out.push_str(&table(&["artifact", "digest"], &rows));
    out.push_str(&format!(
        "\nrendered by: repro {}  \nregenerate: `{}`  \ncommit, host and times of the run: \
         `repro audit {}`\n",
        p.repro_version, p.command, p.stage
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_numbers() {
        assert_eq!(num(0.12345, 3), "0.123");
        assert_eq!(opt(None, 3), "undefined");
        let i = Interval {
            lo: 0.5,
            hi: 0.75,
            defined: 10,
        };
        assert_eq!(interval(Some(&i), 2), "[0.50, 0.75]");
        assert_eq!(
            table(&["a", "b"], &[vec!["1".into(), "2".into()]]),
            "| a | b |\n| --- | --- |\n| 1 | 2 |\n"
        );
    }
}
