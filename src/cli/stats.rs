//! `repro stats --input FILE.csv [--json]`: rank and improvement statistics of any accuracy
//! table, outside a pipeline. The CSV has the header `model,a,b` and one row per model in
//! chronological order; the first row is the baseline of the improvement statistics.

use crate::stats::{read_table_csv, TableStats};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct StatsArgs {
    /// CSV with header `model,a,b`: one row per model in chronological order (first row = the
    /// baseline), `a` and `b` its accuracies on the two datasets.
    #[arg(long, value_name = "FILE.csv")]
    pub input: PathBuf,
    /// Print the statistics as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &StatsArgs) -> anyhow::Result<()> {
    let table = read_table_csv(&args.input)?;
    let stats = table.stats();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        print!("{}", human(&stats));
    }
    Ok(())
}

/// The statistics as aligned text lines.
fn human(s: &TableStats) -> String {
    let fmt = |v: Option<f64>| v.map_or_else(|| "undefined".to_string(), |v| format!("{v:.4}"));
    let mut out = format!("{} models, baseline {}\n", s.point.n, s.models[0]);
    for (name, value) in s.point.named() {
        out.push_str(&format!("{name:<32} {}\n", fmt(value)));
    }
    let method = s.kendall_tau_p_value_method.map_or(String::new(), |m| {
        format!(
            " ({})",
            serde_json::to_string(&m)
                .unwrap_or_default()
                .trim_matches('"')
        )
    });
    out.push_str(&format!(
        "{:<32} {} two-sided, {} one-sided (τ ≥ observed){method}\n",
        "kendall_tau_p_value",
        fmt(s.kendall_tau_p_value),
        fmt(s.kendall_tau_p_value_greater)
    ));
    out
}
