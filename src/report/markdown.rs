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
        "lin_ccc_log_improvement" => "Lin's concordance of log improvement over the first model",
        "pearson_pairwise_improvement" => "Pearson r of pairwise relative improvement",
        "probit_slope" => "slope of the probit-space line, b on a (Recht et al.)",
        "probit_intercept" => "intercept of the probit-space line",
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
        "n = {} models. Intervals: percentile bootstrap, {} resamples, seed {}; each replicate \
         redraws both columns together (columns on the same examples with the same indices).\n",
        r.point.n, r.bootstrap.resamples, r.bootstrap.seed,
    ));
    out.push_str(&covers_note(r));
    out.push_str(&noise_ceiling_note(r));
    out.push_str(&collapse_note(r));
    out
}

/// What each column's intervals cover, in words, one bullet per column.
pub fn covers_note(r: &RankStatsResult) -> String {
    format!(
        "\nWhat the intervals cover:\n- {}: {}\n- {}: {}\n",
        r.a.label, r.a_runs.interval_covers, r.b.label, r.b_runs.interval_covers
    )
}

/// The seed-vs-seed τ of each column with several seeds: the agreement training noise allows.
pub fn noise_ceiling_note(r: &RankStatsResult) -> String {
    let mut out = String::new();
    for (label, runs) in [(&r.a.label, &r.a_runs), (&r.b.label, &r.b_runs)] {
        if let Some(c) = &runs.noise_ceiling {
            let each: Vec<String> = c
                .pairs
                .iter()
                .map(|p| {
                    format!(
                        "seeds {}–{}: {}",
                        p.seed_x + 1,
                        p.seed_y + 1,
                        opt(p.tau, STAT_DECIMALS)
                    )
                })
                .collect();
            out.push_str(&format!(
                "\nNoise ceiling on {label}: Kendall τ-b between the rankings of two seeds, mean {} ({}).\n",
                opt(c.mean_tau, STAT_DECIMALS),
                each.join(", ")
            ));
        }
    }
    out
}

/// Which cells collapsed to their split's majority class, or nothing when none did.
pub fn collapse_note(r: &RankStatsResult) -> String {
    let mut out = String::new();
    for (label, runs, pick) in [
        (&r.a.label, &r.a_runs, true),
        (&r.b.label, &r.b_runs, false),
    ] {
        let Some(rate) = runs.majority_rate else {
            continue;
        };
        let collapsed: Vec<&str> = r
            .models
            .iter()
            .filter(|m| if pick { m.collapsed_a } else { m.collapsed_b })
            .map(|m| m.model.as_str())
            .collect();
        if !collapsed.is_empty() {
            out.push_str(&format!(
                "\n† Collapsed on {label} (within {} points of always predicting the most frequent \
                 label, {}%): {}. Their ranks say which networks trained at all, not which generalize.\n",
                num(r.collapse_margin, 0),
                num(rate, ACC_DECIMALS),
                collapsed.join(", ")
            ));
        }
    }
    out
}

/// An accuracy cell: the seed mean, `± sd` over seeds when there are several, and `†` when the
/// cell collapsed to the majority class.
pub fn acc_cell(v: f64, sd: Option<f64>, collapsed: bool) -> String {
    let mut out = num(v, ACC_DECIMALS);
    if let Some(sd) = sd {
        out.push_str(&format!(" ± {}", num(sd, ACC_DECIMALS)));
    }
    if collapsed {
        out.push_str(" †");
    }
    out
}

/// The pairs of models that swap order in at least `min` of the bootstrap replicates on either
/// dataset, as a table (or a sentence when none do).
pub fn flips_block(r: &RankStatsResult, min: f64) -> String {
    let rows: Vec<Vec<String>> = r
        .order_flips
        .iter()
        .filter(|f| f.a.unwrap_or(0.0) >= min || f.b.unwrap_or(0.0) >= min)
        .map(|f| {
            vec![
                f.first.clone(),
                f.second.clone(),
                opt(f.a, STAT_DECIMALS),
                opt(f.b, STAT_DECIMALS),
            ]
        })
        .collect();
    let intro = format!(
        "Share of bootstrap replicates in which two models swap order (all {} pairs are in `stats.json`, \
         `order_flips`; \"undefined\" for published numbers)",
        r.order_flips.len()
    );
    if rows.is_empty() {
        return format!(
            "{intro}: no pair swaps in {}% or more.\n",
            num(100.0 * min, 0)
        );
    }
    let (a, b) = (format!("on {}", r.a.label), format!("on {}", r.b.label));
    format!(
        "{intro}; pairs at {}% or more:\n\n{}",
        num(100.0 * min, 0),
        table(&["model", "model", &a, &b], &rows)
    )
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
                acc_cell(m.a, m.a_sd, m.collapsed_a),
                interval(m.a_interval.as_ref(), ACC_DECIMALS),
                acc_cell(m.b, m.b_sd, m.collapsed_b),
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
