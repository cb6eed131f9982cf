//! `table-accuracies` — every model's accuracy on every dataset of every comparison, with
//! bootstrap intervals, and the statistics of each comparison. The figure is the same table as
//! grouped bars with interval whiskers.

use super::figure::{color, font, render_figure, Figure};
use super::markdown::{
    acc_cell, comparison_sections, interval, num, opt, table, write_readme, ACC_DECIMALS,
    STAT_DECIMALS,
};
use super::names::display_name;
use super::{primary, Provenance, Report, ReportError, ReportInputs};
use crate::stats::Interval;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

pub struct TableAccuracies;

/// One dataset's column: label, the majority-class rate (chance) and, per model (in
/// [`Grid::models`] order), its cell.
pub(super) struct DatasetColumn {
    label: String,
    chance: Option<f64>,
    cells: Vec<Option<Cell>>,
}

/// One model on one dataset: seed mean, spread over seeds, interval, collapsed flag.
pub(super) struct Cell {
    value: f64,
    sd: Option<f64>,
    interval: Option<Interval>,
    collapsed: bool,
}

/// The accuracies of all comparisons laid out as models × datasets (layout only: a dataset
/// that appears in two comparisons is shown once, from the first).
pub(super) struct Grid {
    models: Vec<String>,
    columns: Vec<DatasetColumn>,
}

pub(super) fn grid(inputs: &ReportInputs) -> Grid {
    let mut models: Vec<String> = Vec::new();
    for s in &inputs.stats {
        for m in &s.result.models {
            if !models.contains(&m.model) {
                models.push(m.model.clone());
            }
        }
    }
    let mut columns: Vec<DatasetColumn> = Vec::new();
    for s in &inputs.stats {
        let r = &s.result;
        for (label, pick_a, runs) in [
            (&r.a.label, true, &r.a_runs),
            (&r.b.label, false, &r.b_runs),
        ] {
            if columns.iter().any(|c| c.label == *label) {
                continue;
            }
            let cells = models
                .iter()
                .map(|name| {
                    r.models.iter().find(|m| m.model == *name).map(|m| {
                        if pick_a {
                            Cell {
                                value: m.a,
                                sd: m.a_sd,
                                interval: m.a_interval.clone(),
                                collapsed: m.collapsed_a,
                            }
                        } else {
                            Cell {
                                value: m.b,
                                sd: m.b_sd,
                                interval: m.b_interval.clone(),
                                collapsed: m.collapsed_b,
                            }
                        }
                    })
                })
                .collect();
            columns.push(DatasetColumn {
                label: label.clone(),
                chance: runs.majority_rate,
                cells,
            });
        }
    }
    Grid { models, columns }
}

impl Report for TableAccuracies {
    fn id(&self) -> &'static str {
        "table-accuracies"
    }

    fn title(&self) -> &'static str {
        "Accuracies of every model on every dataset, and the statistics of each comparison"
    }

    fn render(
        &self,
        inputs: &ReportInputs,
        provenance: &Provenance,
        dir: &Path,
    ) -> Result<String, ReportError> {
        primary(self.id(), inputs)?;
        let g = grid(inputs);
        render_figure(&Bars { g: &g }, dir)?;
        let mut out = format!(
            "# {}\n\n![accuracies](figure.svg)\n\n*Top-1 accuracy of each model (display names) on \
             each dataset, with percentile bootstrap intervals as whiskers; dashed lines mark each \
             dataset's chance level (always predicting its most frequent label); † marks a \
             collapsed cell, within {} points of it.*\n\n## Accuracy (%)\n\nTop-1 accuracy in \
             percent, mean ± sd over seeds where a cell has several; † = collapsed. Interval = \
             percentile bootstrap (— for published numbers); what each redraws:\n\n{}\n",
            self.title(),
            num(crate::stats::COLLAPSE_MARGIN, 0),
            covers_list(inputs)
        );
        let mut header = vec!["model".to_string()];
        for c in &g.columns {
            header.push(c.label.clone());
            header.push("interval".into());
        }
        let rows: Vec<Vec<String>> = g
            .models
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut row = vec![m.clone()];
                for c in &g.columns {
                    match &c.cells[i] {
                        Some(cell) => {
                            row.push(acc_cell(cell.value, cell.sd, cell.collapsed));
                            row.push(interval(cell.interval.as_ref(), ACC_DECIMALS));
                        }
                        None => row.extend(["—".to_string(), "—".to_string()]),
                    }
                }
                row
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        out.push_str(&table(&header, &rows));
        out.push_str("\n## Statistics\n");
        out.push_str(&comparison_sections(&inputs.stats));
        write_readme(dir, out, provenance)?;
        let taus: Vec<String> = inputs
            .stats
            .iter()
            .map(|s| {
                format!(
                    "{} vs {}: τ-b {}",
                    s.result.a.label,
                    s.result.b.label,
                    opt(s.result.point.kendall_tau_b, STAT_DECIMALS)
                )
            })
            .collect();
        Ok(format!(
            "{} models × {} datasets; {}",
            g.models.len(),
            g.columns.len(),
            taus.join("; ")
        ))
    }
}

/// One bullet per dataset: what its intervals redraw.
fn covers_list(inputs: &ReportInputs) -> String {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = String::new();
    for s in &inputs.stats {
        let r = &s.result;
        for (label, runs) in [(&r.a.label, &r.a_runs), (&r.b.label, &r.b_runs)] {
            if !seen.contains(&label.as_str()) {
                seen.push(label);
                out.push_str(&format!("- {label}: {}\n", runs.interval_covers));
            }
        }
    }
    out
}

/// Grouped bars with interval whiskers (also drawn by `fig-transfer`).
pub(super) struct Bars<'a> {
    pub(super) g: &'a Grid,
}

impl Figure for Bars<'_> {
    fn size(&self) -> (u32, u32) {
        (1280, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let g = self.g;
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = g.models.len();
        let top = g
            .columns
            .iter()
            .flat_map(|c| c.cells.iter().flatten())
            .map(|c| c.interval.as_ref().map_or(c.value, |i| i.hi.max(c.value)))
            .fold(0.0f64, f64::max);
        let names = &g.models;
        let mut chart = ChartBuilder::on(root)
            .caption("Top-1 accuracy (%) with bootstrap intervals", font(20.0))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            // Headroom above the tallest whisker for the legend (up to 2 entries per column),
            // so it never covers a bar or an interval.
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..(top * 1.4).max(1.0))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            // Models sit at integers; a range n wide with at most n labels puts one at each.
            .x_labels(n)
            .x_label_style(font(12.0))
            .x_label_formatter(&|x| {
                names
                    .get(x.round().max(0.0) as usize)
                    .map(|m| display_name(m))
                    .unwrap_or_default()
            })
            .y_desc("accuracy (%)")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(font(13.0))
            .draw()
            .map_err(|e| e.to_string())?;
        let k = g.columns.len().max(1) as f64;
        let w = 0.8 / k;
        for (ci, col) in g.columns.iter().enumerate() {
            let c = color(ci);
            let x0 = |i: usize| i as f64 - 0.4 + ci as f64 * w;
            let bars = col.cells.iter().enumerate().filter_map(|(i, cell)| {
                cell.as_ref().map(|cell| {
                    // A collapsed cell is drawn hollow.
                    let style = if cell.collapsed {
                        c.stroke_width(2)
                    } else {
                        c.filled()
                    };
                    Rectangle::new([(x0(i), 0.0), (x0(i) + w * 0.9, cell.value)], style)
                })
            });
            chart
                .draw_series(bars)
                .map_err(|e| e.to_string())?
                .label(col.label.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
            let whiskers = col.cells.iter().enumerate().filter_map(|(i, cell)| {
                let ci = cell.as_ref()?.interval.as_ref()?;
                let mid = x0(i) + w * 0.45;
                Some(PathElement::new(
                    vec![(mid, ci.lo), (mid, ci.hi)],
                    BLACK.stroke_width(2),
                ))
            });
            chart.draw_series(whiskers).map_err(|e| e.to_string())?;
            if let Some(chance) = col.chance {
                let dashes = (0..(4 * n)).map(|k| {
                    let x = -0.5 + k as f64 / 4.0;
                    PathElement::new(vec![(x, chance), (x + 0.15, chance)], c.stroke_width(2))
                });
                chart
                    .draw_series(dashes)
                    .map_err(|e| e.to_string())?
                    .label(format!("chance on {} ({}%)", col.label, num(chance, 1)))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 6, y)], c.stroke_width(2))
                    });
            }
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
