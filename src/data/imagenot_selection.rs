//! The selection artifact: what `imagenot_select` writes and `imagenot_build` reads, as typed
//! structs shared by both sides.
//!
//! ```text
//! selection.parquet  wnid, rank, similarity, key, url, caption, license, source, WIDTH, HEIGHT
//!                    (per class, best first; only classes that can reach min_per_class)
//! download.parquet   url, caption, key, wnid: img2dataset's input
//! selection.json     SelectionSummary: parameters, per-class counts and glosses, histogram,
//!                    the captions just above and below the cut
//! selection.md       the same, for people
//! ```

use super::error::DataError;
use super::imagenot::ClassDef;
use super::imagenot_select::{Picked, StreamSelection};
use super::pool_table::{num_values, str_values, writer_properties};
use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray, UInt32Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

pub const SELECTION_PARQUET: &str = "selection.parquet";
pub const DOWNLOAD_PARQUET: &str = "download.parquet";
pub const SELECTION_JSON: &str = "selection.json";

/// One selected pair.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedRow {
    pub wnid: String,
    pub rank: u32,
    pub similarity: f32,
    pub key: String,
    pub url: String,
    pub caption: String,
    pub license: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedClass {
    pub wnid: String,
    pub lemma: String,
    pub gloss: String,
    pub matched: usize,
    pub passed_cut: usize,
    /// Of `passed_cut`, those closer to another WordNet sense of the lemma: dropped.
    pub other_sense: usize,
    pub selected: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearCut {
    pub similarity: f32,
    pub class: String,
    pub caption: String,
    pub key: String,
}

/// The parameters the report states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionReport {
    pub cut: f32,
    pub per_class: usize,
    pub min_per_class: usize,
    pub oversample: f64,
    pub sense_check: bool,
    pub device: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionSummary {
    pub params: SelectionReport,
    pub pool_rows: usize,
    pub multi_class_captions_dropped: usize,
    pub single_class_matches: usize,
    pub scored: usize,
    pub similarity_histogram: Vec<(f32, usize)>,
    pub kept_near_cut: Vec<NearCut>,
    pub rejected_near_cut: Vec<NearCut>,
    pub classes: Vec<SelectedClass>,
}

fn write_parquet(path: &Path, cols: Vec<(&str, ArrayRef)>) -> Result<(), DataError> {
    let bad = |e: &dyn std::fmt::Display| DataError::format(path, e.to_string());
    let batch = RecordBatch::try_from_iter(cols).map_err(|e| bad(&e))?;
    let f = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    let mut w =
        ArrowWriter::try_new(f, batch.schema(), Some(writer_properties())).map_err(|e| bad(&e))?;
    w.write(&batch).map_err(|e| bad(&e))?;
    w.close().map_err(|e| bad(&e))?;
    Ok(())
}

/// Write the selection; returns the number of selected rows.
pub fn write_selection(
    out: &Path,
    classes: &[ClassDef],
    sel: &StreamSelection,
    params: &SelectionReport,
) -> Result<usize, DataError> {
    let mut order: Vec<usize> = (0..classes.len())
        .filter(|&c| sel.kept[c].len() >= params.min_per_class.max(1))
        .collect();
    order.sort_by(|&a, &b| classes[a].wnid.cmp(&classes[b].wnid));
    let rows: Vec<(&Picked, u32)> = order
        .iter()
        .flat_map(|&c| sel.kept[c].iter().zip(0u32..))
        .collect();
    let s = |f: &dyn Fn(&Picked) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(p, _)| f(p)),
        ))
    };
    let wnid = |p: &Picked| classes[p.class].wnid.clone();
    write_parquet(
        &out.join(SELECTION_PARQUET),
        vec![
            ("wnid", s(&wnid)),
            (
                "rank",
                Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.1))),
            ),
            (
                "similarity",
                Arc::new(Float32Array::from_iter_values(
                    rows.iter().map(|r| r.0.similarity),
                )),
            ),
            ("key", s(&|p| p.row.key.clone())),
            ("url", s(&|p| p.row.url.clone())),
            ("caption", s(&|p| p.row.caption.clone())),
            ("license", s(&|p| p.row.license.clone())),
            ("source", s(&|p| p.row.source.clone())),
            (
                "WIDTH",
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| i64::from(r.0.row.width)),
                )),
            ),
            (
                "HEIGHT",
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| i64::from(r.0.row.height)),
                )),
            ),
        ],
    )?;
    write_parquet(
        &out.join(DOWNLOAD_PARQUET),
        vec![
            ("url", s(&|p| p.row.url.clone())),
            ("caption", s(&|p| p.row.caption.clone())),
            ("key", s(&|p| p.row.key.clone())),
            ("wnid", s(&wnid)),
        ],
    )?;
    let near = |l: &[Picked]| -> Vec<NearCut> {
        l.iter()
            .map(|p| NearCut {
                similarity: p.similarity,
                class: classes[p.class].lemma.clone(),
                caption: p.row.caption.clone(),
                key: p.row.key.clone(),
            })
            .collect()
    };
    let summary = SelectionSummary {
        params: params.clone(),
        pool_rows: sel.rows,
        multi_class_captions_dropped: sel.multi_class,
        single_class_matches: sel.matched.iter().sum(),
        scored: sel.scored,
        similarity_histogram: sel.histogram.clone(),
        kept_near_cut: near(&sel.near_above),
        rejected_near_cut: near(&sel.near_below),
        classes: (0..classes.len())
            .map(|c| SelectedClass {
                wnid: classes[c].wnid.clone(),
                lemma: classes[c].lemma.clone(),
                gloss: classes[c].definition.clone(),
                matched: sel.matched[c],
                passed_cut: sel.passed[c],
                other_sense: sel.other_sense[c],
                selected: if order.contains(&c) {
                    sel.kept[c].len()
                } else {
                    0
                },
            })
            .collect(),
    };
    let p = out.join(SELECTION_JSON);
    std::fs::write(&p, serde_json::to_vec_pretty(&summary).expect("json"))
        .map_err(|e| DataError::io(&p, e))?;
    let p = out.join("selection.md");
    std::fs::write(&p, render_md(&summary)).map_err(|e| DataError::io(&p, e))?;
    Ok(rows.len())
}

fn render_md(s: &SelectionSummary) -> String {
    let with = s.classes.iter().filter(|c| c.selected > 0).count();
    let sense = if s.params.sense_check {
        let n: usize = s.classes.iter().map(|c| c.other_sense).sum();
        format!("{n} captions past the cut dropped as closer to another sense of the lemma")
    } else {
        "no sense check".to_string()
    };
    let mut md = format!(
        "# ImageNot selection\n\n{with} of {} classes selected from {} pool rows; cut {:.2}, up to {} per class ({}× oversampled for dead links); {} multi-class captions dropped; {} single-class matches scored ({}); {sense}.\n\n| wnid | lemma | matched | ≥ cut | other sense | selected |\n|---|---|---|---|---|---|\n",
        s.classes.len(), s.pool_rows, s.params.cut, s.params.per_class, s.params.oversample, s.multi_class_captions_dropped, s.scored, s.params.device
    );
    for c in s.classes.iter().filter(|c| c.selected > 0) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            c.wnid, c.lemma, c.matched, c.passed_cut, c.other_sense, c.selected
        );
    }
    md.push_str("\n## Similarity histogram (single-class matches)\n\n");
    for (lo, n) in &s.similarity_histogram {
        let _ = writeln!(
            md,
            "{lo:+.2} {n:>7} {}",
            "#".repeat((*n as f64).sqrt() as usize)
        );
    }
    for (title, list) in [
        ("Kept, just above the cut", &s.kept_near_cut),
        ("Rejected, just below the cut", &s.rejected_near_cut),
    ] {
        let _ = writeln!(md, "\n## {title}\n");
        for v in list {
            let _ = writeln!(md, "- {:.3} [{}] {}", v.similarity, v.class, v.caption);
        }
    }
    md
}

/// Read a selection written by [`write_selection`].
pub fn read_selection(dir: &Path) -> Result<(SelectionSummary, Vec<SelectedRow>), DataError> {
    let p = dir.join(SELECTION_JSON);
    let text = std::fs::read(&p).map_err(|e| DataError::io(&p, e))?;
    let summary: SelectionSummary =
        serde_json::from_slice(&text).map_err(|e| DataError::format(&p, e.to_string()))?;
    let path = dir.join(SELECTION_PARQUET);
    let bad = |e: &dyn std::fmt::Display| DataError::format(&path, e.to_string());
    let f = std::fs::File::open(&path).map_err(|e| DataError::io(&path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| bad(&e))?
        .build()
        .map_err(|e| bad(&e))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let col = |n: &str| str_values(&batch, n).ok_or_else(|| bad(&format!("no column `{n}`")));
        let (wnid, key, url, caption, license, source) = (
            col("wnid")?,
            col("key")?,
            col("url")?,
            col("caption")?,
            col("license")?,
            col("source")?,
        );
        let num = |n: &str| num_values(&batch, n).ok_or_else(|| bad(&format!("no column `{n}`")));
        let (rank, sim) = (num("rank")?, num("similarity")?);
        for i in 0..batch.num_rows() {
            rows.push(SelectedRow {
                wnid: wnid(i).into(),
                rank: rank(i).unwrap_or(0.0) as u32,
                similarity: sim(i).unwrap_or(0.0) as f32,
                key: key(i).into(),
                url: url(i).into(),
                caption: caption(i).into(),
                license: license(i).into(),
                source: source(i).into(),
            });
        }
    }
    Ok((summary, rows))
}
