//! `repro verify --rerun`: re-execute cached stages and say whether they reproduce.

use super::exit;
use crate::engine::verify::{self, Checked};
use crate::engine::Engine;
use anyhow::Result;
use std::path::Path;

/// One line per stage as it is checked (stderr with `--json`, whose stdout is the list).
pub fn verify_rerun(
    engine: &Engine,
    targets: &[String],
    exe: &Path,
    jobs: usize,
    json: bool,
) -> Result<i32> {
    let line = |text: String| {
        if json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    };
    let results = verify::rerun(engine, targets, exe, jobs, &mut |c| match c {
        Checked::Verified(v) => line(format!(
            "{:<17} {} ({}, {:.1} s){}",
            v.verdict.as_str(),
            v.stage,
            v.action.0.short(),
            v.duration_s,
            if v.verdict == crate::provenance::verification::Verdict::Identical {
                String::new()
            } else {
                format!("\n  {}", v.summary())
            }
        )),
        Checked::NotCached { stage, reasons } => line(format!(
            "{:<17} {stage} (not cached: {}; run `repro run {stage}` first)",
            "not checked",
            reasons.join("; ")
        )),
    })?;
    let confirmed = |c: &Checked| matches!(c, Checked::Verified(v) if v.verdict.confirmed());
    let ok = results.iter().filter(|c| confirmed(c)).count();
    let bad = results.len() - ok;
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        println!(
            "{ok} of {} stages reproduced{}",
            results.len(),
            if bad == 0 {
                String::new()
            } else {
                format!("; {bad} did not or were not checked")
            }
        );
    }
    Ok(if bad == 0 {
        exit::SUCCESS
    } else {
        exit::STAGE_FAILED
    })
}
