//! `dataset-imagenot` — what the ImageNot builder made: classes and counts, a grid of sample
//! images with the captions that put them in their class, and the histogram of caption–class
//! similarity with the cut. Everything comes from the dataset stage's own outputs
//! (`selection.json`, `dataset.json`, `images.tsv`, the image shards): this file only lays
//! them out.

use super::figure::{font, render_figure, Figure};
use super::markdown::{num, table, write_readme};
use super::{io_err, Provenance, Report, ReportError, ReportInputs};
use crate::data::dataset::{Dataset, DatasetMeta, Storage};
use crate::data::imagenot_selection::SelectionSummary;
use crate::data::transform::{eval_sample, EvalTransform, Interpolation};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Deserialize;
use std::path::Path;

pub struct DatasetImageNot;

/// Classes shown in the grid, and samples per class.
const GRID_CLASSES: usize = 8;
const GRID_SAMPLES: usize = 4;

/// The parts of the builder's `selection.json` this report shows.
#[derive(Deserialize)]
struct Selection {
    cut: f64,
    classes_considered: usize,
    classes_in_dataset: usize,
    images_train: usize,
    images_val: usize,
    multi_class_captions_dropped: usize,
    single_class_matches: usize,
    similarity_histogram: Vec<Bin>,
    classes: Vec<SelClass>,
}

/// The report's view of how the dataset was chosen: a builder's own `selection.json` (one
/// stage that selected and built), or the `imagenot_select` stage's summary joined with the
/// build's `build.json` (what each class kept after decoding).
fn load_selection(selection_dir: &Path, dataset_dir: &Path) -> Result<Selection, ReportError> {
    let path = selection_dir.join("selection.json");
    let bytes = std::fs::read(&path).map_err(io_err(&path))?;
    if let Ok(sel) = serde_json::from_slice::<Selection>(&bytes) {
        return Ok(sel);
    }
    let summary: SelectionSummary =
        serde_json::from_slice(&bytes).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let build_path = dataset_dir.join("build.json");
    let bytes = std::fs::read(&build_path).map_err(io_err(&build_path))?;
    let build: BuildReport = serde_json::from_slice(&bytes)
        .map_err(|e| fail(format!("{}: {e}", build_path.display())))?;
    let built: std::collections::HashMap<&str, &BuildClass> =
        build.classes.iter().map(|c| (c.wnid.as_str(), c)).collect();
    Ok(Selection {
        cut: f64::from(summary.params.cut),
        classes_considered: summary.classes.len(),
        classes_in_dataset: build.classes_in_dataset,
        images_train: build.images_train,
        images_val: build.images_val,
        multi_class_captions_dropped: summary.multi_class_captions_dropped,
        single_class_matches: summary.single_class_matches,
        similarity_histogram: summary
            .similarity_histogram
            .iter()
            .map(|&(from, count)| Bin {
                from: f64::from(from),
                count,
            })
            .collect(),
        classes: summary
            .classes
            .iter()
            .map(|c| {
                let b = built.get(c.wnid.as_str());
                SelClass {
                    wnid: c.wnid.clone(),
                    lemma: c.lemma.clone(),
                    matched: c.matched,
                    passed_cut: c.passed_cut,
                    kept: b.map_or(0, |b| b.images),
                    in_dataset: b.is_some_and(|b| b.in_dataset),
                }
            })
            .collect(),
    })
}

/// The parts of `imagenot_build`'s `build.json` this report shows.
#[derive(Deserialize)]
struct BuildReport {
    classes_in_dataset: usize,
    images_train: usize,
    images_val: usize,
    classes: Vec<BuildClass>,
}

#[derive(Deserialize)]
struct BuildClass {
    wnid: String,
    images: usize,
    in_dataset: bool,
}

#[derive(Deserialize)]
struct Bin {
    from: f64,
    count: usize,
}

#[derive(Deserialize)]
struct SelClass {
    wnid: String,
    lemma: String,
    matched: usize,
    passed_cut: usize,
    kept: usize,
    in_dataset: bool,
}

/// One shown image: class lemma, caption, similarity, source, license, RGB pixels.
struct Sample {
    lemma: String,
    caption: String,
    similarity: String,
    source: String,
    license: String,
    rgb: Vec<u8>,
}

fn fail(msg: String) -> ReportError {
    ReportError::Input {
        id: "dataset-imagenot".into(),
        msg,
    }
}

impl Report for DatasetImageNot {
    fn id(&self) -> &'static str {
        "dataset-imagenot"
    }

    fn title(&self) -> &'static str {
        "The ImageNot dataset: classes, counts, sample images with captions, similarity"
    }

    fn applies(&self, inputs: &ReportInputs) -> bool {
        !inputs.datasets.is_empty()
    }

    fn render(
        &self,
        inputs: &ReportInputs,
        provenance: &Provenance,
        dir: &Path,
    ) -> Result<String, ReportError> {
        let d = inputs
            .datasets
            .first()
            .ok_or_else(|| fail("needs an ImageNot dataset stage as input".into()))?;
        let sel = load_selection(&d.selection_dir, &d.dir)?;
        let ds = Dataset::open(&d.dir).map_err(|e| fail(e.to_string()))?;
        let samples = samples(&ds, &d.dir)?;
        let (h, w) = tile(&ds.meta);
        render_figure(
            &Overview {
                sel: &sel,
                samples: &samples,
                h,
                w,
            },
            dir,
        )?;

        let mut out = format!(
            "# {}\n\nDataset `{}` from stage `{}`: {} of {} candidate classes, {} train / {} val images at \
             {}. Captions matched to exactly one class: {}; captions matching several classes dropped: {}; \
             similarity cut {}.\n\n![overview](figure.svg)\n\n*Sample images per class, and the \
             histogram of caption–class similarity (captions per bin; grey bins fall below the \
             cut). Counts, no intervals.*\n\n## Classes\n\n",
            self.title(),
            ds.meta.name,
            d.name,
            sel.classes_in_dataset,
            sel.classes_considered,
            sel.images_train,
            sel.images_val,
            size_text(&ds.meta),
            sel.single_class_matches,
            sel.multi_class_captions_dropped,
            num(sel.cut, 2)
        );
        let rows: Vec<Vec<String>> = sel
            .classes
            .iter()
            .filter(|c| c.in_dataset)
            .map(|c| {
                vec![
                    c.wnid.clone(),
                    c.lemma.clone(),
                    c.matched.to_string(),
                    c.passed_cut.to_string(),
                    c.kept.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["wnid", "lemma", "captions matched", "≥ cut", "kept"],
            &rows,
        ));
        out.push_str("\n## Samples shown\n\n");
        let rows: Vec<Vec<String>> = samples
            .iter()
            .map(|s| {
                vec![
                    s.lemma.clone(),
                    s.caption.replace('|', "\\|"),
                    s.similarity.clone(),
                    s.source.clone(),
                    s.license.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["class", "caption", "similarity", "source", "license"],
            &rows,
        ));
        out.push_str("\n## Caption–class similarity (single-class matches)\n\n");
        let rows: Vec<Vec<String>> = sel
            .similarity_histogram
            .iter()
            .map(|b| vec![num(b.from, 2), b.count.to_string()])
            .collect();
        out.push_str(&table(&["bin from", "captions"], &rows));
        write_readme(dir, out, provenance)?;
        Ok(format!(
            "{} classes, {} train / {} val images, cut {}",
            sel.classes_in_dataset,
            sel.images_train,
            sel.images_val,
            num(sel.cut, 2)
        ))
    }
}

/// The first [`GRID_SAMPLES`] train images of [`GRID_CLASSES`] classes spread over the class
/// list, with their `images.tsv` rows (whose train rows are in the train split's order).
fn samples(ds: &Dataset, dir: &Path) -> Result<Vec<Sample>, ReportError> {
    let path = dir.join("images.tsv");
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let n_classes = ds.meta.classes.len();
    let step = (n_classes as f64 / GRID_CLASSES as f64).max(1.0);
    let chosen: Vec<usize> = (0..GRID_CLASSES.min(n_classes))
        .map(|i| (i as f64 * step) as usize)
        .collect();
    // (index within the train split, label, row fields)
    let mut picked: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut train_index = 0;
    for line in text.lines().skip(1) {
        let f: Vec<String> = line.splitn(8, '\t').map(String::from).collect();
        if f.len() < 8 || f[0] != "train" {
            continue;
        }
        let label: usize = f[1]
            .parse()
            .map_err(|_| fail(format!("{}: bad label `{}`", path.display(), f[1])))?;
        if chosen.contains(&label) && picked.iter().filter(|p| p.1 == label).count() < GRID_SAMPLES
        {
            picked.push((train_index, label, f));
        }
        train_index += 1;
    }
    picked.sort_by_key(|p| (chosen.iter().position(|&c| c == p.1), p.0));
    let reader = ds.reader("train").map_err(|e| fail(e.to_string()))?;
    let side = tile(&ds.meta).0 as u32;
    let mut out = Vec::new();
    for (index, label, f) in picked {
        if index >= reader.len() {
            return Err(fail(format!(
                "images.tsv has more train rows than the shards hold ({index})"
            )));
        }
        let mut px = reader.read(index).map_err(|e| fail(e.to_string()))?;
        if !ds.meta.storage.is_fixed() {
            px = eval_sample(
                &px,
                &EvalTransform {
                    resize: side,
                    crop: side,
                    interpolation: Interpolation::Bilinear,
                },
            );
        }
        out.push(Sample {
            lemma: ds
                .meta
                .classes
                .get(label)
                .map_or_else(|| f[2].clone(), |c| c.lemma.clone()),
            caption: f[7].clone(),
            similarity: f[4].clone(),
            source: f[5].clone(),
            license: f[6].clone(),
            rgb: to_rgb(&px.data, px.channels as usize),
        });
    }
    Ok(out)
}

/// Largest side of a sample tile for datasets stored at their own size (they are shown
/// resized and centre-cropped to a square, as the evaluation transform sees them).
const TILE: u32 = 128;

/// (height, width) of a sample tile: a `fixed` dataset's images as they are.
fn tile(m: &DatasetMeta) -> (usize, usize) {
    if m.storage.is_fixed() {
        (m.height as usize, m.width as usize)
    } else {
        let s = m.height.min(TILE) as usize;
        (s, s)
    }
}

/// How the images are sized, for the summary line.
fn size_text(m: &DatasetMeta) -> String {
    match m.storage {
        Storage::Fixed => format!("{}×{}×{}", m.height, m.width, m.channels),
        Storage::Jpeg { quality } => format!(
            "their own aspect ratio, shorter side at most {}, {} channels, JPEG quality {quality} (samples below centre-cropped)",
            m.height, m.channels
        ),
        Storage::Raw => format!(
            "their own aspect ratio, shorter side at most {}, {} channels (samples below centre-cropped)",
            m.height, m.channels
        ),
    }
}

fn to_rgb(px: &[u8], channels: usize) -> Vec<u8> {
    match channels {
        3 => px.to_vec(),
        1 => px.iter().flat_map(|&g| [g, g, g]).collect(),
        c => px
            .chunks_exact(c.max(1))
            .flat_map(|p| [p[0], p[1 % c], p[2 % c]])
            .collect(),
    }
}

/// Nearest-neighbour enlargement by an integer factor, so small images stay crisp.
fn enlarge(rgb: &[u8], h: usize, w: usize, k: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(h * w * k * k * 3);
    for y in 0..h * k {
        for x in 0..w * k {
            let i = ((y / k) * w + x / k) * 3;
            out.extend_from_slice(rgb.get(i..i + 3).unwrap_or(&[0, 0, 0]));
        }
    }
    out
}

struct Overview<'a> {
    sel: &'a Selection,
    samples: &'a [Sample],
    h: usize,
    w: usize,
}

impl Figure for Overview<'_> {
    fn size(&self) -> (u32, u32) {
        (1280, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(840);
        self.grid(&left)?;
        self.histogram(&right)
    }
}

impl Overview<'_> {
    fn grid<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let cell_w = 840 / GRID_CLASSES as i32;
        let k = (80 / self.w.max(self.h).max(1)).max(1);
        let (iw, ih) = ((self.w * k) as i32, (self.h * k) as i32);
        let cell_h = ih + 34;
        let head = font(13.0).pos(Pos::new(HPos::Center, VPos::Top));
        let cap = font(10.0).pos(Pos::new(HPos::Center, VPos::Top));
        // Samples come grouped by class: a new lemma starts a new column.
        let (mut c, mut r, mut last) = (-1i32, 0i32, None::<&str>);
        for s in self.samples {
            if last == Some(s.lemma.as_str()) {
                r += 1;
            } else {
                (c, r, last) = (c + 1, 0, Some(s.lemma.as_str()));
            }
            let x = c * cell_w + (cell_w - iw) / 2;
            let y = 30 + r * cell_h;
            if r == 0 {
                let name: String = s.lemma.chars().take(14).collect();
                area.draw(&Text::new(name, (c * cell_w + cell_w / 2, 8), head.clone()))
                    .map_err(|e| e.to_string())?;
            }
            if let Some(img) = BitMapElement::with_owned_buffer(
                (x, y),
                (iw as u32, ih as u32),
                enlarge(&s.rgb, self.h, self.w, k),
            ) {
                area.draw(&img).map_err(|e| e.to_string())?;
            }
            let words: String = s.caption.chars().take(34).collect();
            let (l1, l2) = split_caption(&words, 17);
            area.draw(&Text::new(
                l1,
                (c * cell_w + cell_w / 2, y + ih + 3),
                cap.clone(),
            ))
            .map_err(|e| e.to_string())?;
            area.draw(&Text::new(
                l2,
                (c * cell_w + cell_w / 2, y + ih + 16),
                cap.clone(),
            ))
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn histogram<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let bins = &self.sel.similarity_histogram;
        let width = if bins.len() > 1 {
            bins[1].from - bins[0].from
        } else {
            0.05
        };
        let lo = bins.first().map_or(-0.2, |b| b.from);
        let hi = bins.last().map_or(1.0, |b| b.from + width);
        let top = bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption("Caption–class similarity", font(18.0))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(lo..hi, 0.0..top * 1.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("cosine similarity")
            .y_desc("captions")
            // Counts are whole numbers: "2000", not "2000.0".
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(font(12.0))
            .draw()
            .map_err(|e| e.to_string())?;
        let cut = self.sel.cut;
        chart
            .draw_series(bins.iter().map(|b| {
                let c = if b.from + width <= cut {
                    RGBColor(180, 180, 180)
                } else {
                    super::figure::color(0)
                };
                Rectangle::new(
                    [(b.from, 0.0), (b.from + width * 0.95, b.count as f64)],
                    c.filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                [(cut, 0.0), (cut, top * 1.1)],
                RED.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(format!("cut {}", num(cut, 2)))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(font(13.0))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())
    }
}

/// Two display lines of at most `n` characters, broken at a space where possible.
fn split_caption(s: &str, n: usize) -> (String, String) {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= n {
        return (s.to_string(), String::new());
    }
    let cut = chars[..n]
        .iter()
        .rposition(|&c| c == ' ')
        .filter(|&i| i > 0)
        .unwrap_or(n);
    let first: String = chars[..cut].iter().collect();
    let rest: String = chars[cut..]
        .iter()
        .collect::<String>()
        .trim_start()
        .chars()
        .take(n)
        .collect();
    (first, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{ClassInfo, DatasetWriter};
    use crate::report::{render, NamedDataset, Provenance};
    use serde_json::json;

    /// A tiny builder output: 10 classes × 6 images of 8×8 RGB, shards of 7 images.
    fn dataset(dir: &Path) {
        let classes: Vec<ClassInfo> = (0..10)
            .map(|c| ClassInfo {
                wnid: format!("n{c:08}"),
                lemma: format!("thing{c}"),
                gloss: String::new(),
            })
            .collect();
        let mut w = DatasetWriter::create(dir, "toy_imagenot", (8, 8, 3), classes)
            .expect("writer")
            .with_shard_images(7);
        let mut tsv =
            String::from("split\tlabel\twnid\tkey\tsimilarity\tsource\tlicense\tcaption\n");
        for c in 0..10u32 {
            for j in 0..6u32 {
                let split = if j == 0 { "val" } else { "train" };
                let px: Vec<u8> = (0..192)
                    .map(|i| ((i as u32 * 7 + c * 25 + j * 3) % 256) as u8)
                    .collect();
                w.push(split, &px, c).expect("push");
                tsv.push_str(&format!("{split}\t{c}\tn{c:08}\tk{c}-{j}\t0.{}\ttest\tMIT\ta picture of thing {c} number {j}\n", 60 + j));
            }
        }
        w.finish().expect("finish");
        std::fs::write(dir.join("images.tsv"), tsv).expect("tsv");
        let sel = json!({"cut": 0.58, "classes_considered": 12, "classes_in_dataset": 10, "images_train": 50,
            "images_val": 10, "multi_class_captions_dropped": 3, "single_class_matches": 90,
            "similarity_histogram": [{"from": 0.5, "count": 20}, {"from": 0.6, "count": 70}],
            "classes": (0..12).map(|c| json!({"wnid": format!("n{c:08}"), "lemma": format!("thing{c}"),
                "matched": 9, "passed_cut": 7, "kept": 6, "in_dataset": c < 10})).collect::<Vec<_>>()});
        std::fs::write(dir.join("selection.json"), sel.to_string()).expect("selection");
    }

    #[test]
    fn renders_counts_samples_and_histogram() {
        let tmp = tempfile::tempdir().expect("tmp");
        let ds = tmp.path().join("ds");
        dataset(&ds);
        let inputs = ReportInputs {
            stats: Vec::new(),
            datasets: vec![NamedDataset {
                name: "toy".into(),
                dir: ds.clone(),
                selection_dir: ds,
            }],
            ..Default::default()
        };
        let out = tmp.path().join("out");
        let metas = render(&[], &inputs, &Provenance::default(), &out).expect("renders");
        assert_eq!(metas.len(), 1, "only the dataset report applies");
        let md = std::fs::read_to_string(out.join("dataset-imagenot/README.md")).expect("README");
        assert!(
            md.contains("10 of 12 candidate classes, 50 train / 10 val"),
            "{md}"
        );
        assert!(md.contains("| n00000009 | thing9 | 9 | 7 | 6 |"));
        assert!(
            !md.contains("n00000011"),
            "classes outside the dataset are not listed"
        );
        // Samples: the first train images (j = 1..4) of 8 classes, with their captions.
        assert!(
            md.contains("| thing0 | a picture of thing 0 number 1 | 0.61 | test | MIT |"),
            "{md}"
        );
        assert_eq!(md.matches("a picture of thing").count(), 8 * GRID_SAMPLES);
        assert!(md.contains("| 0.60 | 70 |"));
        let svg = std::fs::read_to_string(out.join("dataset-imagenot/figure.svg")).expect("svg");
        assert!(
            svg.contains("data:image/png;base64"),
            "sample images are embedded"
        );
        assert!(std::fs::read(out.join("dataset-imagenot/figure.png"))
            .expect("png")
            .starts_with(b"\x89PNG"));
    }

    #[test]
    fn captions_break_at_spaces() {
        assert_eq!(
            split_caption("a red fox in snow", 10),
            ("a red fox".into(), "in snow".into())
        );
        assert_eq!(split_caption("short", 10), ("short".into(), String::new()));
    }
}
