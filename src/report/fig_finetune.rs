//! `fig-finetune` — do rankings hold when models are fine-tuned instead of trained from
//! scratch? The primary comparison holds each model's accuracy trained from scratch on a
//! dataset (a) and fine-tuned on it from another dataset's weights (b). The figure is Figure
//! 1's pair of panels for it: ranks under both, and improvement over the first model. Drawn only
//! when a report stage names it (`reports: [fig-finetune]`), since any comparison has its shape.

use super::fig1_rankings::Fig1;
use super::figure::render_figure;
use super::markdown::{
    comparison_sections, interval, num, opt, paired_table, stats_block, write_readme, ACC_DECIMALS,
    STAT_DECIMALS,
};
use super::{primary, Provenance, Report, ReportError, ReportInputs};
use crate::stats::RankStatsResult;
use std::path::Path;

pub struct FigFinetune;

impl Report for FigFinetune {
    fn id(&self) -> &'static str {
        "fig-finetune"
    }

    fn title(&self) -> &'static str {
        "Fine-tuning: model rankings trained from scratch vs fine-tuned"
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
        render_figure(&Fig1 { r }, dir)?;
        let mut out = readme(self.title(), &stats.name, r);
        out.push_str(&comparison_sections(inputs.stats.iter().skip(1)));
        write_readme(dir, out, provenance)?;
        Ok(format!(
            "{} vs {}: Kendall τ-b = {} {}, mean gain {} points, n = {}",
            r.a.label,
            r.b.label,
            opt(r.point.kendall_tau_b, STAT_DECIMALS),
            interval(r.intervals.kendall_tau_b.as_ref(), STAT_DECIMALS),
            num(mean_gain(r), ACC_DECIMALS),
            r.point.n
        ))
    }
}

/// Mean of b − a over the models, in accuracy points.
fn mean_gain(r: &RankStatsResult) -> f64 {
    let n = r.models.len().max(1) as f64;
    r.models.iter().map(|m| m.b - m.a).sum::<f64>() / n
}

fn readme(title: &str, stage: &str, r: &RankStatsResult) -> String {
    let (a, b) = (&r.a.label, &r.b.label);
    let first = r.models.first().map_or("", |m| m.model.as_str());
    let mut out = format!(
        "# {title}\n\n{a} (a) vs {b} (b), from `{stage}`. Left: each model's rank (1 = best) both \
         ways. Right: accuracy divided by the accuracy of {first}, models in chronological order. \
         The paper's claim: the ranking of fine-tuned models agrees with the ranking from \
         scratch.\n\n![{title}](figure.svg)\n\n{}## Numbers\n\nAccuracy in percent on the same \
         evaluation split (mean ± sd over seeds where there are several); interval = percentile \
         bootstrap, both columns drawn on the same examples; gain = b − a.\n\n",
        super::fig1_rankings::caption(r)
    );
    out.push_str(&paired_table(r, "gain (points)", |m| m.b - m.a));
    out.push_str(&format!(
        "\nMean gain from fine-tuning: {} points.\n\n## Statistics\n\n",
        num(mean_gain(r), ACC_DECIMALS)
    ));
    out.push_str(&stats_block(r));
    out
}
