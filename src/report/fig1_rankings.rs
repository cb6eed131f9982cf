//! `fig1-rankings` — the paper's Figure 1 for the primary comparison. Left: a bump chart of
//! each model's rank on dataset `a` and on dataset `b`, with rank intervals. Right: improvement
//! over the first (oldest) model, acc / acc(first), on a log axis with intervals, along the
//! chronological axis, one line per dataset.

use super::figure::{color, font, render_figure, staggered_labels, Figure};
use super::markdown::{
    acc_cell, flips_block, interval, num, opt, provenance_footer, stats_block, table, ACC_DECIMALS,
    STAT_DECIMALS,
};
use super::names::{display_name, two_lines};
use super::{primary, Provenance, Report, ReportError, ReportInputs};
use crate::stats::{ModelRow, RankStatsResult};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

pub struct Fig1Rankings;

impl Report for Fig1Rankings {
    fn id(&self) -> &'static str {
        "fig1-rankings"
    }

    fn title(&self) -> &'static str {
        "Figure 1: model rankings and improvement from the first model"
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
        let path = dir.join("README.md");
        std::fs::write(&path, readme(self.title(), &stats.name, r, provenance))
            .map_err(super::io_err(&path))?;
        Ok(format!(
            "{} vs {}: Kendall τ-b = {} {}, n = {}",
            r.a.label,
            r.b.label,
            opt(r.point.kendall_tau_b, STAT_DECIMALS),
            interval(r.intervals.kendall_tau_b.as_ref(), STAT_DECIMALS),
            r.point.n
        ))
    }
}

fn readme(title: &str, stage: &str, r: &RankStatsResult, p: &Provenance) -> String {
    let first = r.models.first().map_or("", |m| m.model.as_str());
    let (a, b) = (&r.a.label, &r.b.label);
    let mut out = format!(
        "# {title}\n\n{a} (a) vs {b} (b), from `{stage}`. Left: each model's rank (1 = best) on the two \
         datasets. Right: accuracy divided by the accuracy of {first}, models in chronological order.\n\n\
         ![{title}](figure.svg)\n\n{}## Numbers\n\nAccuracy in percent (mean ± sd over seeds where \
         there are several); interval = percentile bootstrap (what it redraws: below).\n\n",
        caption(r)
    );
    let header = [
        "model".to_string(),
        format!("rank on {a}"),
        format!("rank on {b}"),
        format!("{a} (%)"),
        "interval".into(),
        format!("{b} (%)"),
        "interval".into(),
        format!("improvement on {a}"),
        format!("improvement on {b}"),
    ];
    let rows: Vec<Vec<String>> = r
        .models
        .iter()
        .map(|m| {
            vec![
                m.model.clone(),
                num(m.rank_a, 1),
                num(m.rank_b, 1),
                acc_cell(m.a, m.a_sd, m.collapsed_a),
                interval(m.a_interval.as_ref(), ACC_DECIMALS),
                acc_cell(m.b, m.b_sd, m.collapsed_b),
                interval(m.b_interval.as_ref(), ACC_DECIMALS),
                opt(m.improvement_a, STAT_DECIMALS),
                opt(m.improvement_b, STAT_DECIMALS),
            ]
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out.push_str(&table(&header, &rows));
    out.push_str("\n## Statistics\n\n");
    out.push_str(&stats_block(r));
    out.push_str("\n## Order flips\n\n");
    out.push_str(&flips_block(r, 0.05));
    out.push('\n');
    out.push_str(&provenance_footer(p));
    out
}

/// Vertical offset (in rank units) of model `i`'s label among the models tied with it, so
/// tied names stack instead of overprinting.
fn spread(models: &[ModelRow], i: usize, rank_of: fn(&ModelRow) -> f64) -> f64 {
    let mine = rank_of(&models[i]);
    let tied: Vec<usize> = (0..models.len())
        .filter(|&j| rank_of(&models[j]) == mine)
        .collect();
    let pos = tied.iter().position(|&j| j == i).unwrap_or(0) as f64;
    (pos - (tied.len() as f64 - 1.0) / 2.0) * -0.4
}

/// A rank as people write it: `3`, or `2.5` for a tie.
fn rank(r: f64) -> String {
    if r.fract() == 0.0 {
        num(r, 0)
    } else {
        num(r, 1)
    }
}

/// The two-panel figure (also drawn by `fig-finetune`; `fig-transfer` draws its bump chart).
pub(super) struct Fig1<'a> {
    pub(super) r: &'a RankStatsResult,
}

impl Figure for Fig1<'_> {
    fn size(&self) -> (u32, u32) {
        (1280, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(620);
        self.bump(&left)?;
        self.improvement(&right)
    }
}

impl Fig1<'_> {
    pub(super) fn bump<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), String> {
        let r = self.r;
        let n = r.models.len() as f64;
        let mut chart = ChartBuilder::on(area)
            .caption("Model rank (1 = best)", font(20.0))
            .margin(12)
            .build_cartesian_2d(-1.0f64..2.0f64, -(n + 0.6)..0.9f64)
            .map_err(|e| e.to_string())?;
        let left_anchor = font(13.0).pos(Pos::new(HPos::Right, VPos::Center));
        let right_anchor = font(13.0).pos(Pos::new(HPos::Left, VPos::Center));
        let centre = font(15.0).pos(Pos::new(HPos::Center, VPos::Center));
        // Column headers in up to two lines each, so long dataset names stay apart.
        for (x, label) in [(0.0, &r.a.label), (1.0, &r.b.label)] {
            let lines = two_lines(label, 22);
            let top = 0.15 + 0.35 * (lines.len() as f64 - 1.0);
            chart
                .draw_series(
                    lines.into_iter().enumerate().map(|(k, line)| {
                        Text::new(line, (x, top - 0.35 * k as f64), centre.clone())
                    }),
                )
                .map_err(|e| e.to_string())?;
        }
        for (i, m) in r.models.iter().enumerate() {
            let c = color(i);
            let (ya, yb) = (-m.rank_a, -m.rank_b);
            // Rank intervals as whiskers beside each end of the line.
            let whiskers = [(-0.02, &m.rank_a_interval), (1.02, &m.rank_b_interval)]
                .into_iter()
                .filter_map(|(x, ci)| {
                    let ci = ci.as_ref()?;
                    let x = x + 0.012 * (i as f64 - n / 2.0);
                    Some(PathElement::new(
                        vec![(x, -ci.lo), (x, -ci.hi)],
                        c.mix(0.6).stroke_width(2),
                    ))
                });
            chart.draw_series(whiskers).map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new([(0.0, ya), (1.0, yb)], c.stroke_width(3)))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series([(0.0, ya), (1.0, yb)].map(|p| Circle::new(p, 5, c.filled())))
                .map_err(|e| e.to_string())?;
            let name = display_name(&m.model);
            let mark = |collapsed: bool| if collapsed { " †" } else { "" };
            chart
                .draw_series([
                    Text::new(
                        format!("{name}{} {}", mark(m.collapsed_a), rank(m.rank_a)),
                        (-0.1, ya + spread(&r.models, i, |m| m.rank_a)),
                        left_anchor.clone(),
                    ),
                    Text::new(
                        format!("{} {name}{}", rank(m.rank_b), mark(m.collapsed_b)),
                        (1.1, yb + spread(&r.models, i, |m| m.rank_b)),
                        right_anchor.clone(),
                    ),
                ])
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Improvement over the first model on a log axis (a doubling and a halving look alike),
    /// with bootstrap whiskers; the two datasets sit slightly apart so whiskers do not overlap.
    fn improvement<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let r = self.r;
        let first = r
            .models
            .first()
            .map_or("the first model".to_string(), |m| display_name(&m.model));
        type Point = (f64, f64, Option<(f64, f64)>);
        let side = |pick_a: bool| -> Vec<Point> {
            r.models
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    let (v, ci) = if pick_a {
                        (m.improvement_a?, &m.improvement_a_interval)
                    } else {
                        (m.improvement_b?, &m.improvement_b_interval)
                    };
                    let x = i as f64 + if pick_a { -0.08 } else { 0.08 };
                    let ci = ci.as_ref().filter(|c| c.lo > 0.0).map(|c| (c.lo, c.hi));
                    (v > 0.0).then_some((x, v, ci))
                })
                .collect()
        };
        let series = [(&r.a.label, side(true)), (&r.b.label, side(false))];
        let values = series
            .iter()
            .flat_map(|s| s.1.iter())
            .flat_map(|&(_, v, ci)| [Some(v), ci.map(|c| c.0), ci.map(|c| c.1)])
            .flatten();
        let (lo, hi) = values.fold((1.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = (lo / 1.1, hi * 1.1);
        let n = r.models.len();
        let mut chart = ChartBuilder::on(area)
            .caption(format!("Improvement over {first} (log scale)"), font(20.0))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), (lo..hi).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            // A range n wide with at most n labels ticks every integer: one per model.
            .x_labels(n)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|v| format!("{v:.2}×"))
            .y_desc(format!("accuracy / accuracy of {first}"))
            .label_style(font(13.0))
            .draw()
            .map_err(|e| e.to_string())?;
        let labels: Vec<(String, (i32, i32))> = r
            .models
            .iter()
            .enumerate()
            .map(|(i, m)| (display_name(&m.model), chart.backend_coord(&(i as f64, lo))))
            .collect();
        staggered_labels(area, &labels, 12.0)?;
        for (k, (label, points)) in series.iter().enumerate() {
            let c = color(k);
            let pts: Vec<(f64, f64)> = points.iter().map(|&(x, v, _)| (x, v)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(3)))
                .map_err(|e| e.to_string())?
                .label(label.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                });
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, c.filled())))
                .map_err(|e| e.to_string())?;
            let whiskers = points.iter().filter_map(|&(x, _, ci)| {
                let (l, h) = ci?;
                Some(PathElement::new(vec![(x, l), (x, h)], c.stroke_width(2)))
            });
            chart.draw_series(whiskers).map_err(|e| e.to_string())?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(font(14.0))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// The caption printed under Figure 1 and its fine-tuning twin: what is drawn, what the
/// whiskers mean.
pub(super) fn caption(r: &RankStatsResult) -> String {
    let first = r
        .models
        .first()
        .map_or(String::new(), |m| display_name(&m.model));
    format!(
        "*Left: each model's rank (1 = best) on {a} and on {b}; whiskers are {level}% bootstrap \
         intervals of the rank. Right: accuracy divided by {first}'s, on a log axis, with {level}% \
         bootstrap intervals. {a}: {ca}. {b}: {cb}. † = collapsed (within {margin} points of the \
         majority-class rate).*\n\n",
        a = r.a.label,
        b = r.b.label,
        level = num(100.0 * r.bootstrap.level, 0),
        ca = r.a_runs.interval_covers,
        cb = r.b_runs.interval_covers,
        margin = num(r.collapse_margin, 0),
    )
}
