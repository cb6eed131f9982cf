//! `fig-pairwise-improvement` — for every pair of models i < j (j the newer), the relative
//! improvement a_j/a_i − 1 on dataset `a` against b_j/b_i − 1 on dataset `b`, one panel per
//! comparison, titled with Pearson r and its bootstrap interval.

use super::figure::{color, font, render_figure, Figure};
use super::markdown::{interval, num, opt, table, write_readme, STAT_DECIMALS};
use super::{primary, NamedStats, Provenance, Report, ReportError, ReportInputs};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

pub struct PairwiseImprovement;

/// Panels side by side; more comparisons than this are listed in the README only.
const MAX_PANELS: usize = 3;

fn r_text(s: &NamedStats) -> String {
    let r = &s.result;
    format!(
        "r = {} {}",
        opt(r.point.pearson_pairwise_improvement, STAT_DECIMALS),
        interval(
            r.intervals.pearson_pairwise_improvement.as_ref(),
            STAT_DECIMALS
        )
    )
}

impl Report for PairwiseImprovement {
    fn id(&self) -> &'static str {
        "fig-pairwise-improvement"
    }

    fn title(&self) -> &'static str {
        "Pairwise relative improvements on the two datasets"
    }

    fn render(
        &self,
        inputs: &ReportInputs,
        provenance: &Provenance,
        dir: &Path,
    ) -> Result<String, ReportError> {
        let first = primary(self.id(), inputs)?;
        let panels: Vec<&NamedStats> = inputs.stats.iter().take(MAX_PANELS).collect();
        render_figure(&Scatter { panels: &panels }, dir)?;
        let mut out = format!(
            "# {}\n\nEach point is a pair of models i < j in chronological order: x = a_j / a_i − 1 \
             (relative improvement of the newer model on dataset a), y = the same on dataset b. \
             r = Pearson correlation over all pairs, interval = percentile bootstrap (both columns \
             redrawn together; seeds too where a model has several). Pairs whose older model sits \
             near chance have huge ratios and dominate r: read it with the collapsed flags of the \
             other reports.\n\n![pairwise improvement](figure.svg)\n\n*One point per pair of \
             models (x: improvement on dataset a, y: on dataset b); one panel per comparison.*\n",
            self.title()
        );
        for s in &inputs.stats {
            let r = &s.result;
            out.push_str(&format!(
                "\n## {} (a) vs {} (b), `{}`\n\nPearson r of pairwise relative improvement: {} {} \
                 ({} pairs, {}% interval).\n\n",
                r.a.label,
                r.b.label,
                s.name,
                opt(r.point.pearson_pairwise_improvement, STAT_DECIMALS),
                interval(
                    r.intervals.pearson_pairwise_improvement.as_ref(),
                    STAT_DECIMALS
                ),
                r.pairs.len(),
                num(100.0 * r.bootstrap.level, 0)
            ));
            let rows: Vec<Vec<String>> = r
                .pairs
                .iter()
                .map(|p| vec![p.from.clone(), p.to.clone(), num(p.a, 4), num(p.b, 4)])
                .collect();
            let (ha, hb) = (format!("on {}", r.a.label), format!("on {}", r.b.label));
            out.push_str(&table(&["from (older)", "to (newer)", &ha, &hb], &rows));
        }
        write_readme(dir, out, provenance)?;
        Ok(format!(
            "{} vs {}: {}",
            first.result.a.label,
            first.result.b.label,
            r_text(first)
        ))
    }
}

struct Scatter<'a> {
    panels: &'a [&'a NamedStats],
}

impl Figure for Scatter<'_> {
    fn size(&self) -> (u32, u32) {
        (520 * self.panels.len().max(1) as u32, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let areas = root.split_evenly((1, self.panels.len().max(1)));
        for (k, (s, area)) in self.panels.iter().zip(areas.iter()).enumerate() {
            let r = &s.result;
            let range = |f: fn(&crate::stats::PairRow) -> f64| {
                let (lo, hi) = r
                    .pairs
                    .iter()
                    .map(f)
                    .fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
                let pad = (hi - lo).max(0.01) * 0.08;
                (lo - pad)..(hi + pad)
            };
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("{} vs {}: {}", r.a.label, r.b.label, r_text(s)),
                    font(16.0),
                )
                .margin(14)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(range(|p| p.a), range(|p| p.b))
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc(format!("relative improvement on {}", r.a.label))
                .y_desc(format!("relative improvement on {}", r.b.label))
                .label_style(font(12.0))
                .axis_desc_style(font(14.0))
                .draw()
                .map_err(|e| e.to_string())?;
            let c = color(k);
            chart
                .draw_series(
                    r.pairs
                        .iter()
                        .map(|p| Circle::new((p.a, p.b), 4, c.mix(0.75).filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
