//! `fig-transfer` — do models pretrained on one dataset transfer like models pretrained on
//! another? The primary comparison holds each model's accuracy on a target dataset after
//! fine-tuning from source a's weights and from source b's. Further comparisons (optional) set a
//! source's own ranking against its transfer ranking. Left: ranks on the target under both
//! sources; right: the target accuracies as grouped bars with bootstrap whiskers. Drawn only
//! when a report stage names it (`reports: [fig-transfer]`).

use super::fig1_rankings::Fig1;
use super::figure::{render_figure, Figure};
use super::markdown::{
    comparison_sections, interval, num, opt, paired_table, stats_block, write_readme, ACC_DECIMALS,
    STAT_DECIMALS,
};
use super::table_accuracies::{grid, Bars, Grid};
use super::{primary, Provenance, Report, ReportError, ReportInputs};
use crate::stats::RankStatsResult;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

pub struct FigTransfer;

impl Report for FigTransfer {
    fn id(&self) -> &'static str {
        "fig-transfer"
    }

    fn title(&self) -> &'static str {
        "Transfer: target accuracy of models pretrained on each source"
    }

    fn applies(&self, _inputs: &ReportInputs) -> bool {
        false
    }

    fn render(
        &self,
        inputs: &ReportInputs,
        provenance: &Provenance,
        dir: &Path,
    ) -> Result<String, ReportError> {
        let stats = primary(self.id(), inputs)?;
        let r = &stats.result;
        let only = ReportInputs {
            stats: vec![stats.clone()],
            ..ReportInputs::default()
        };
        let g = grid(&only);
        render_figure(&TransferFigure { r, g: &g }, dir)?;
        let mut out = readme(self.title(), &stats.name, r);
        if inputs.stats.len() > 1 {
            out.push_str(
                "\n## Each source's own ranking vs its transfer ranking\n\nAccuracy on the source \
                 dataset (trained from scratch there) against accuracy on the target after \
                 fine-tuning from it.\n",
            );
        }
        out.push_str(&comparison_sections(inputs.stats.iter().skip(1)));
        write_readme(dir, out, provenance)?;
        let (ma, mb) = means(r);
        Ok(format!(
            "{} vs {}: mean {} vs {} %, Kendall τ-b = {} {}, n = {}",
            r.a.label,
            r.b.label,
            num(ma, ACC_DECIMALS),
            num(mb, ACC_DECIMALS),
            opt(r.point.kendall_tau_b, STAT_DECIMALS),
            interval(r.intervals.kendall_tau_b.as_ref(), STAT_DECIMALS),
            r.point.n
        ))
    }
}

/// Mean accuracy over the models under source a and under source b.
fn means(r: &RankStatsResult) -> (f64, f64) {
    let n = r.models.len().max(1) as f64;
    (
        r.models.iter().map(|m| m.a).sum::<f64>() / n,
        r.models.iter().map(|m| m.b).sum::<f64>() / n,
    )
}

fn readme(title: &str, stage: &str, r: &RankStatsResult) -> String {
    let (a, b) = (&r.a.label, &r.b.label);
    let mut out = format!(
        "# {title}\n\n{a} (a) vs {b} (b), from `{stage}`: the same target evaluation split, \
         each model fine-tuned from weights pretrained on one source or the other. The paper's \
         claim: models pretrained on ImageNot transfer nearly as well as ImageNet-pretrained \
         ones, and rank alike.\n\n![{title}](figure.svg)\n\n*Left: each model's rank on the \
         target under each source. Right: target accuracy with {}% bootstrap intervals ({a}: {}; \
         {b}: {}).*\n\n## Numbers\n\nTarget accuracy in percent (mean ± sd over seeds where \
         there are several; † = collapsed); interval = percentile bootstrap, both columns drawn \
         on the same target examples; difference = a − b.\n\n",
        num(100.0 * r.bootstrap.level, 0),
        r.a_runs.interval_covers,
        r.b_runs.interval_covers,
    );
    out.push_str(&paired_table(r, "difference (points)", |m| m.a - m.b));
    let (ma, mb) = means(r);
    out.push_str(&format!(
        "\nMean target accuracy: {} % ({a}) vs {} % ({b}).\n\n## Statistics\n\n",
        num(ma, ACC_DECIMALS),
        num(mb, ACC_DECIMALS)
    ));
    out.push_str(&stats_block(r));
    out
}

/// Width of the rank panel on the left.
const BUMP_WIDTH: u32 = 620;

struct TransferFigure<'a> {
    r: &'a RankStatsResult,
    g: &'a Grid,
}

impl Figure for TransferFigure<'_> {
    fn size(&self) -> (u32, u32) {
        // The bars get the width table-accuracies gives them, so nine model names fit.
        let (bars_w, bars_h) = Bars { g: self.g }.size();
        (BUMP_WIDTH + bars_w, bars_h)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(BUMP_WIDTH);
        Fig1 { r: self.r }.bump(&left)?;
        Bars { g: self.g }.draw(&right)
    }
}
