//! `dataset-classification` — how well a classifier tells the images of two datasets apart
//! (the paper: ImageNot vs ImageNet, 97% held-out accuracy). The figure shows each contrast's
//! held-out accuracy with its Wilson interval against chance and the paper's number, and the
//! confusion matrix of the first; the README gives the numbers, both intervals, the sources of
//! each class with their content digests, the training cost, and the provenance footer. Every
//! number comes from a `classification_stats` stage's `classification.json`.

use super::figure::{color, font, render_figure, Figure};
use super::markdown::{interval, num, table, write_readme, ACC_DECIMALS};
use super::{Provenance, Report, ReportError, ReportInputs};
use crate::stats::classification::ClassificationResult;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

pub struct DatasetClassification;

/// The accuracy axis ends above 100% so the legend sits above every bar.
const TOP: f64 = 113.0;

/// A contrast's label: its classes, `a vs b`.
fn label(r: &ClassificationResult) -> String {
    r.classes.join(" vs ")
}

impl Report for DatasetClassification {
    fn id(&self) -> &'static str {
        "dataset-classification"
    }

    fn title(&self) -> &'static str {
        "Telling the datasets apart: held-out accuracy of a dataset classifier"
    }

    fn applies(&self, inputs: &ReportInputs) -> bool {
        !inputs.classifications.is_empty()
    }

    fn render(
        &self,
        inputs: &ReportInputs,
        provenance: &Provenance,
        dir: &Path,
    ) -> Result<String, ReportError> {
        let all = &inputs.classifications;
        if all.is_empty() {
            return Err(ReportError::Input {
                id: self.id().into(),
                msg: "needs a classification_stats stage as input".into(),
            });
        }
        let results: Vec<&ClassificationResult> = all.iter().map(|c| &c.result).collect();
        render_figure(&Overview { results: &results }, dir)?;
        let mut out = format!(
            "# {}\n\nA classifier is trained to say which dataset an image comes from, on a \
             balanced two-class dataset built from both (same resolution and preprocessing), \
             and scored on held-out images. The paper reports 97% for ImageNot vs ImageNet; \
             chance is 50%.\n\n![accuracy and confusion](figure.svg)\n\n*Left: held-out accuracy of \
             each dataset classifier, on an axis from 0, with its Wilson score interval (the test \
             images redrawn, the trained classifier fixed) and the chance line. Right: the \
             confusion matrix of the first, in images.*\n\n## Held-out accuracy (%)\n\n",
            self.title()
        );
        let level = results
            .first()
            .map_or(0.95, |r| r.stats.bootstrap_config.level);
        let ci = format!("{}% interval", num(100.0 * level, 0));
        let rows: Vec<Vec<String>> = all
            .iter()
            .map(|c| {
                let r = &c.result;
                let s = &r.stats;
                vec![
                    label(r),
                    format!("`{}`", c.name),
                    r.model.clone(),
                    r.split.clone(),
                    s.n.to_string(),
                    num(s.accuracy, ACC_DECIMALS),
                    interval(Some(&s.wilson), ACC_DECIMALS),
                    interval(s.bootstrap.as_ref(), ACC_DECIMALS),
                    num(s.balanced_accuracy, ACC_DECIMALS),
                    num(s.chance, ACC_DECIMALS),
                ]
            })
            .collect();
        let wilson_h = format!("Wilson {ci}");
        let boot_h = format!("bootstrap {ci}");
        out.push_str(&table(
            &[
                "contrast",
                "stage",
                "classifier",
                "split",
                "n",
                "accuracy",
                &wilson_h,
                &boot_h,
                "balanced accuracy",
                "chance",
            ],
            &rows,
        ));
        if let Some(reference) = results.iter().find_map(|r| r.reference.as_ref()) {
            out.push_str(&format!(
                "\nReference: {} — {}%.\n",
                reference.label,
                num(reference.accuracy, 1)
            ));
        }
        for c in all {
            let r = &c.result;
            let s = &r.stats;
            out.push_str(&format!("\n## {} (`{}`)\n\n", label(r), c.name));
            out.push_str(&format!(
                "Dataset `{}`, split `{}`: {} of {} correct. Bootstrap: {} resamples of the \
                 examples, seed {}.\n\n### Confusion matrix (rows: true class, columns: predicted)\n\n",
                r.dataset,
                r.split,
                s.correct,
                s.n,
                s.bootstrap_config.resamples,
                s.bootstrap_config.seed
            ));
            let mut header = vec!["true \\ predicted".to_string()];
            header.extend(r.classes.iter().cloned());
            let rows: Vec<Vec<String>> = r
                .classes
                .iter()
                .zip(&s.confusion)
                .map(|(name, row)| {
                    let mut v = vec![name.clone()];
                    v.extend(row.iter().map(usize::to_string));
                    v
                })
                .collect();
            let header: Vec<&str> = header.iter().map(String::as_str).collect();
            out.push_str(&table(&header, &rows));
            out.push_str("\n### Per class\n\n");
            let rows: Vec<Vec<String>> = s
                .per_class
                .iter()
                .map(|row| {
                    let src = r.sources.iter().find(|x| x.class == row.class);
                    vec![
                        row.class.clone(),
                        src.map_or("—".into(), |x| format!("`{}`", x.input)),
                        src.map_or("—".into(), |x| format!("`sha256:{}`", x.content_sha256)),
                        row.n.to_string(),
                        num(row.accuracy, ACC_DECIMALS),
                        interval(Some(&row.wilson), ACC_DECIMALS),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "class (dataset)",
                    "source stage",
                    "source content digest",
                    "n",
                    "accuracy",
                    &wilson_h,
                ],
                &rows,
            ));
            if !r.per_class.is_empty() {
                let counts: Vec<String> = r
                    .per_class
                    .iter()
                    .map(|(split, n)| format!("{split} {n}"))
                    .collect();
                out.push_str(&format!(
                    "\nImages per class: {} (each class the same).\n",
                    counts.join(", ")
                ));
            }
            if let Some(t) = &r.training {
                out.push_str(&format!(
                    "\nClassifier: {} ({} parameters), {} epochs on {} training images, trained \
                     on {} ({} thread{}); last-epoch training accuracy {}%.\n",
                    t.model,
                    t.params,
                    t.epochs,
                    t.train_examples,
                    t.device,
                    t.threads,
                    if t.threads == 1 { "" } else { "s" },
                    num(t.final_train_accuracy, ACC_DECIMALS)
                ));
            }
            out.push_str("\nComputed from: ");
            let from: Vec<String> = r
                .inputs
                .iter()
                .map(|a| format!("`{}` (`{}`)", a.name, a.digest))
                .collect();
            out.push_str(&from.join(", "));
            out.push_str(".\n");
        }
        write_readme(dir, out, provenance)?;
        let summary: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "{}: {}% {}",
                    label(r),
                    num(r.stats.accuracy, ACC_DECIMALS),
                    interval(Some(&r.stats.wilson), ACC_DECIMALS)
                )
            })
            .collect();
        Ok(summary.join("; "))
    }
}

struct Overview<'a> {
    results: &'a [&'a ClassificationResult],
}

impl Figure for Overview<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(680);
        self.accuracy(&left)?;
        match self.results.first() {
            Some(r) => confusion(r, &right),
            None => Ok(()),
        }
    }
}

impl Overview<'_> {
    fn accuracy<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let n = self.results.len();
        let labels: Vec<String> = self.results.iter().map(|r| label(r)).collect();
        let chance = self.results.first().map_or(50.0, |r| r.stats.chance);
        // From 0, so bar heights compare honestly.
        let floor = 0.0;
        let mut chart = ChartBuilder::on(area)
            .caption("Held-out accuracy (%), Wilson interval", font(20.0))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), floor..TOP)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                labels
                    .get(x.round().max(0.0) as usize)
                    .cloned()
                    .unwrap_or_default()
            })
            .y_label_formatter(&|y| {
                if *y > 100.0 {
                    String::new()
                } else {
                    num(*y, 0)
                }
            })
            .y_desc("accuracy (%)")
            .label_style(font(13.0))
            .draw()
            .map_err(|e| e.to_string())?;
        let above = font(13.0).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, r) in self.results.iter().enumerate() {
            let (x, s) = (i as f64, &r.stats);
            let c = color(i);
            chart
                .draw_series([Rectangle::new(
                    [(x - 0.3, floor), (x + 0.3, s.accuracy)],
                    c.filled(),
                )])
                .map_err(|e| e.to_string())?;
            chart
                .draw_series([
                    PathElement::new(
                        vec![(x, s.wilson.lo), (x, s.wilson.hi)],
                        BLACK.stroke_width(2),
                    ),
                    PathElement::new(
                        vec![(x - 0.08, s.wilson.lo), (x + 0.08, s.wilson.lo)],
                        BLACK.stroke_width(2),
                    ),
                    PathElement::new(
                        vec![(x - 0.08, s.wilson.hi), (x + 0.08, s.wilson.hi)],
                        BLACK.stroke_width(2),
                    ),
                ])
                .map_err(|e| e.to_string())?;
            chart
                .draw_series([Text::new(
                    format!("{}%", num(s.accuracy, 1)),
                    (x + 0.15, s.accuracy.min(101.0)),
                    above.clone(),
                )])
                .map_err(|e| e.to_string())?;
        }
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(LineSeries::new(
                [(-0.5, chance), (n as f64 - 0.5, chance)],
                grey.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(format!("chance ({}%)", num(chance, 0)))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2))
            });
        if let Some(reference) = self.results.iter().find_map(|r| r.reference.as_ref()) {
            let y = reference.accuracy;
            chart
                .draw_series(LineSeries::new(
                    [(-0.5, y), (n as f64 - 0.5, y)],
                    RED.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(format!("{} ({}%)", reference.label, num(y, 0)))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(font(13.0))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())
    }
}

/// The confusion matrix as a grid of cells shaded by the row's share, with counts.
fn confusion<DB: DrawingBackend>(
    r: &ClassificationResult,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let k = r.classes.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Confusion ({}, n = {})", r.split, r.stats.n),
            font(20.0),
        )
        .margin(14)
        .margin_left(40)
        .build_cartesian_2d(-0.9..k, -0.35..(k + 0.35))
        .map_err(|e| e.to_string())?;
    let centre = font(16.0).pos(Pos::new(HPos::Center, VPos::Center));
    let small = font(13.0).pos(Pos::new(HPos::Center, VPos::Center));
    for (t, row) in r.stats.confusion.iter().enumerate() {
        let total: usize = row.iter().sum();
        // Row t is drawn from the top.
        let y = k - 1.0 - t as f64;
        for (p, &count) in row.iter().enumerate() {
            let share = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            let shade = (255.0 - 200.0 * share) as u8;
            let x = p as f64;
            chart
                .draw_series([
                    Rectangle::new(
                        [(x, y), (x + 1.0, y + 1.0)],
                        RGBColor(shade, shade, 255).filled(),
                    ),
                    Rectangle::new([(x, y), (x + 1.0, y + 1.0)], BLACK.stroke_width(1)),
                ])
                .map_err(|e| e.to_string())?;
            chart
                .draw_series([Text::new(
                    format!("{count} ({}%)", num(100.0 * share, 1)),
                    (x + 0.5, y + 0.5),
                    centre.clone(),
                )])
                .map_err(|e| e.to_string())?;
        }
        chart
            .draw_series([Text::new(
                format!("true {}", r.classes.get(t).cloned().unwrap_or_default()),
                (-0.45, y + 0.5),
                small.clone(),
            )])
            .map_err(|e| e.to_string())?;
    }
    for (p, name) in r.classes.iter().enumerate() {
        chart
            .draw_series([Text::new(
                format!("predicted {name}"),
                (p as f64 + 0.5, k + 0.15),
                small.clone(),
            )])
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{render, NamedClassification};
    use crate::stats::bootstrap::BootstrapConfig;
    use crate::stats::classification::{classification_stats, Reference, SourceRef, SCHEMA};

    fn result() -> ClassificationResult {
        let classes = vec!["mini-imagenot".to_string(), "fashion-mnist".to_string()];
        let mut pairs: Vec<(u32, u32)> = (0..300).map(|i| (0, u32::from(i < 3))).collect();
        pairs.extend((0..300).map(|_| (1, 1)));
        let stats =
            classification_stats(&classes, &pairs, &BootstrapConfig::default()).expect("stats");
        ClassificationResult {
            schema: SCHEMA,
            model: "resnet152".into(),
            dataset: "mini-imagenot-vs-fashion-mnist".into(),
            split: "val".into(),
            sources: classes
                .iter()
                .map(|c| SourceRef {
                    class: c.clone(),
                    input: format!("stage_{c}"),
                    content_sha256: "cd".repeat(32),
                })
                .collect(),
            classes,
            stats,
            per_class: [("train".to_string(), 1000), ("val".to_string(), 300)].into(),
            training: None,
            reference: Some(Reference {
                label: "paper: ImageNot vs ImageNet".into(),
                accuracy: 97.0,
            }),
            inputs: Vec::new(),
        }
    }

    /// The README is committed: a rerun that trains as long or as short as it likes but reaches
    /// the same numbers must write the same bytes.
    #[test]
    fn training_time_stays_out_of_the_readme() {
        let readme = |seconds: f64| {
            let tmp = tempfile::tempdir().expect("tmp");
            let mut r = result();
            r.training = Some(crate::stats::classification::TrainingCost {
                model: "resnet18".into(),
                params: 11_000_000,
                epochs: 3,
                train_examples: 2000,
                seconds,
                device: "cpu".into(),
                threads: 4,
                final_train_accuracy: 99.0,
            });
            let inputs = ReportInputs {
                classifications: vec![NamedClassification {
                    name: "stats-contrast".into(),
                    result: r,
                }],
                ..Default::default()
            };
            render(&[], &inputs, &Provenance::default(), tmp.path()).expect("renders");
            std::fs::read_to_string(tmp.path().join("dataset-classification/README.md"))
                .expect("README")
        };
        let (a, b) = (readme(12.5), readme(97.25));
        assert!(a.contains("trained on cpu (4 threads)"), "{a}");
        assert_eq!(a, b);
    }

    #[test]
    fn renders_accuracy_intervals_confusion_and_sources() {
        let tmp = tempfile::tempdir().expect("tmp");
        let r = result();
        let inputs = ReportInputs {
            classifications: vec![NamedClassification {
                name: "stats-contrast".into(),
                result: r.clone(),
            }],
            ..Default::default()
        };
        let metas = render(&[], &inputs, &Provenance::default(), tmp.path()).expect("renders");
        assert_eq!(metas.len(), 1, "only this report applies");
        assert!(metas[0].summary.contains("99.50%"), "{}", metas[0].summary);
        let md = std::fs::read_to_string(tmp.path().join("dataset-classification/README.md"))
            .expect("README");
        let w = &r.stats.wilson;
        assert!(
            md.contains(&format!("| 600 | 99.50 | [{:.2}, {:.2}] |", w.lo, w.hi)),
            "{md}"
        );
        assert!(md.contains("| mini-imagenot | 297 | 3 |"), "{md}");
        assert!(md.contains("| fashion-mnist | 0 | 300 |"), "{md}");
        assert!(md.contains(&format!("`sha256:{}`", "cd".repeat(32))));
        assert!(md.contains("Images per class: train 1000, val 300"));
        assert!(md.contains("paper: ImageNot vs ImageNet — 97.0%"));
        let svg = std::fs::read_to_string(tmp.path().join("dataset-classification/figure.svg"))
            .expect("svg");
        assert!(
            svg.contains("297 (99.0%)") && svg.contains("chance (50%)"),
            "confusion and chance drawn"
        );
        assert!(tmp
            .path()
            .join("dataset-classification/figure.png")
            .is_file());
        let index = std::fs::read_to_string(tmp.path().join("index.html")).expect("index");
        assert!(index.contains("href=\"dataset-classification/README.md\""));
    }
}
