//! A line chart drawn as inline SVG for the page: training curves and the `plots:` stages
//! declare. Drawn with the figures' plotters setup (font, palette) into a string, so the page
//! is one file that needs nothing beside it.

use crate::report::figure::{color, ensure_font, font, msg, Figure};
use crate::report::ReportError;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// `y` against `x`, one line per series.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x: String,
    pub y: String,
    pub series: Vec<Series>,
}

const WIDTH: u32 = 520;
const HEIGHT: u32 = 320;
/// Legend rows beside the plot area; beyond this many series, lines keep their colours and
/// the legend says how many are left out.
const LEGEND_ROWS: usize = 20;

impl Chart {
    /// The chart as an `<svg>` element.
    pub fn to_svg(&self) -> Result<String, ReportError> {
        ensure_font()?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size()).into_drawing_area();
            self.draw(&root).map_err(|m| ReportError::Draw {
                what: format!("chart `{}`", self.title),
                msg: m,
            })?;
            root.present().map_err(|e| ReportError::Draw {
                what: format!("chart `{}`", self.title),
                msg: msg(e),
            })?;
        }
        Ok(svg)
    }

    /// The range of all points on one axis, widened when flat so the axis has a length.
    fn range(&self, axis: impl Fn(&(f64, f64)) -> f64) -> (f64, f64) {
        let values = self.series.iter().flat_map(|s| s.points.iter().map(&axis));
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        match (lo.is_finite(), hi.is_finite()) {
            (true, true) if hi > lo => (lo, hi),
            (true, true) => (lo - 0.5, hi + 0.5),
            _ => (0.0, 1.0),
        }
    }
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(msg)?;
        let (x0, x1) = self.range(|p| p.0);
        let (y0, y1) = self.range(|p| p.1);
        let pad = (y1 - y0) * 0.05;
        let (plot, legend) = root.split_horizontally(WIDTH - 150);
        let mut chart = ChartBuilder::on(&plot)
            .caption(&self.title, font(15.0))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(msg)?;
        chart
            .configure_mesh()
            .x_desc(&self.x)
            .y_desc(&self.y)
            .x_labels(6)
            .y_labels(6)
            // Whole numbers without a decimal point: epochs and steps are counts.
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style(font(11.0))
            .axis_desc_style(font(12.0))
            .draw()
            .map_err(msg)?;
        for (i, s) in self.series.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
                .map_err(msg)?;
            // Past the palette's ten colours, markers tell lines of the same colour apart.
            if i >= 10 || s.points.len() == 1 {
                chart
                    .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                    .map_err(msg)?;
            }
        }
        for (i, s) in self.series.iter().take(LEGEND_ROWS).enumerate() {
            let y = 30 + i as i32 * 14;
            let c = color(i);
            legend
                .draw(&Rectangle::new([(4, y - 4), (18, y + 4)], c.filled()))
                .map_err(msg)?;
            legend
                .draw(&Text::new(short(&s.name), (24, y - 6), font(11.0)))
                .map_err(msg)?;
        }
        if self.series.len() > LEGEND_ROWS {
            let y = 30 + LEGEND_ROWS as i32 * 14;
            let more = format!("and {} more", self.series.len() - LEGEND_ROWS);
            legend
                .draw(&Text::new(more, (4, y - 6), font(11.0)))
                .map_err(msg)?;
        }
        Ok(())
    }
}

/// A tick label: integers plain, other values with three significant digits.
fn tick(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{v:.0}")
    } else {
        let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        let text = format!("{v:.digits$}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A legend label that fits its column.
fn short(name: &str) -> String {
    const MAX: usize = 22;
    if name.chars().count() <= MAX {
        name.to_string()
    } else {
        let cut: String = name.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_series_into_one_svg_element() {
        let chart = Chart {
            title: "loss".into(),
            x: "epoch".into(),
            y: "loss".into(),
            series: vec![
                Series {
                    name: "alexnet".into(),
                    points: vec![(1.0, 2.0), (2.0, 1.5), (3.0, 1.0)],
                },
                Series {
                    name: "vgg19".into(),
                    points: vec![(1.0, 2.2), (2.0, 1.2)],
                },
            ],
        };
        let svg = chart.to_svg().expect("svg");
        assert!(svg.trim_start().starts_with("<svg"), "{}", &svg[..80]);
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(svg.contains("alexnet") && svg.contains("vgg19") && svg.contains("epoch"));
        assert!(svg.matches("<polyline").count() >= 2, "one line per series");
    }

    #[test]
    fn an_empty_or_flat_chart_still_draws() {
        let chart = Chart {
            title: "t".into(),
            x: "x".into(),
            y: "y".into(),
            series: vec![Series {
                name: "one".into(),
                points: vec![(1.0, 3.0)],
            }],
        };
        assert!(chart.to_svg().is_ok());
        let empty = Chart {
            series: vec![],
            ..chart
        };
        assert!(empty.to_svg().is_ok());
    }

    #[test]
    fn ticks_are_plain_for_counts() {
        assert_eq!(tick(2000.0), "2000");
        assert_eq!(tick(0.125), "0.125");
        assert_eq!(tick(12.5), "12.5");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.08), "0.08");
    }
}
