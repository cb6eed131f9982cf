//! Reports: figures and tables drawn from serialized results. Reports render; they do not
//! compute.
//!
//! A report is one file implementing [`Report`] and one line in [`all`]. It reads
//! [`ReportInputs`] (the `stats.json` of `rank_stats` stages, already computed) and writes a
//! folder `<id>/` holding `figure.svg`, `figure.png`, `README.md` (the numbers as tables, the
//! statistics with their intervals, and a provenance footer built from the [`Provenance`] the
//! caller passes in) and `report.json` (id and title, from which [`write_index`] builds
//! `index.html`).

mod dataset_classification;
mod dataset_imagenot;
mod fig1_rankings;
mod fig_finetune;
mod fig_transfer;
pub mod figure;
mod index;
pub mod markdown;
mod names;
pub mod page;
mod pairwise_improvement;
mod table_accuracies;

pub use index::write_index;

use crate::stats::RankStatsResult;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("font {path} is missing or unreadable ({msg}); install Debian's `fonts-dejavu-core` or set REPRO_FONT to a .ttf file")]
    Font { path: PathBuf, msg: String },
    #[error("drawing {what}: {msg}")]
    Draw { what: String, msg: String },
    #[error("report `{id}`: {msg}")]
    Input { id: String, msg: String },
    #[error("unknown report `{0}`; known: {1}")]
    Unknown(String, String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where the numbers of a report come from; filled in by the caller and printed as the
/// README's footer.
///
/// Only what a matching rerun reproduces belongs here: the README is committed, and a value that
/// changes from run to run (commit, host, time, durations) would dirty the repository on every
/// run. Those stay in the action record of the stage that rendered it (`repro audit STAGE`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The artifacts the report draws, with their sha256 digests.
    pub artifacts: Vec<ArtifactRef>,
    /// The stage that rendered the report, whose record holds commit, host and times.
    pub stage: String,
    /// The command that regenerates this report, e.g. `repro report`.
    pub command: String,
    /// Version of the repro binary that rendered it.
    pub repro_version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// e.g. `stats-imagenot-vs-imagenet/stats.json`.
    pub name: String,
    /// `sha256:<64 hex digits>`.
    pub digest: String,
}

/// One `rank_stats` result and the stage that produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedStats {
    pub name: String,
    pub result: RankStatsResult,
}

/// A dataset stage's output tree (for dataset reports), read in place.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedDataset {
    pub name: String,
    pub dir: PathBuf,
    /// The folder holding the `selection.json` that chose the dataset's images: the dataset's
    /// own, or (since selection is a stage of its own, `imagenot_select`) the selection stage's.
    pub selection_dir: PathBuf,
}

/// Everything a report may draw. The first comparison is the primary one (Figure 1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportInputs {
    pub stats: Vec<NamedStats>,
    pub datasets: Vec<NamedDataset>,
    pub classifications: Vec<NamedClassification>,
}

/// One `classification_stats` result and the stage that produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedClassification {
    pub name: String,
    pub result: crate::stats::classification::ClassificationResult,
}

/// What [`write_index`] lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportMeta {
    pub id: String,
    pub title: String,
    pub summary: String,
}

/// One report: a folder of figure and README.
pub trait Report {
    /// Folder name under `reports/`, e.g. `fig1-rankings`.
    fn id(&self) -> &'static str;
    fn title(&self) -> &'static str;
    /// Whether `inputs` hold what this report draws; when all reports are asked for, the
    /// others are skipped.
    fn applies(&self, inputs: &ReportInputs) -> bool {
        !inputs.stats.is_empty()
    }
    /// Write `figure.svg`, `figure.png` and `README.md` into `dir` (which exists); return a
    /// one-line summary for the index.
    fn render(
        &self,
        inputs: &ReportInputs,
        provenance: &Provenance,
        dir: &Path,
    ) -> Result<String, ReportError>;
}

/// Every report this binary knows, in one table.
pub fn all() -> Vec<Box<dyn Report>> {
    vec![
        Box::new(fig1_rankings::Fig1Rankings),
        Box::new(table_accuracies::TableAccuracies),
        Box::new(pairwise_improvement::PairwiseImprovement),
        Box::new(dataset_imagenot::DatasetImageNot),
        Box::new(dataset_classification::DatasetClassification),
        Box::new(fig_finetune::FigFinetune),
        Box::new(fig_transfer::FigTransfer),
    ]
}

/// Render the reports named in `ids` (when empty, every report whose inputs are present) into `out/<id>/`, then `out/index.html`.
pub fn render(
    ids: &[String],
    inputs: &ReportInputs,
    provenance: &Provenance,
    out: &Path,
) -> Result<Vec<ReportMeta>, ReportError> {
    let reports = all();
    let known = || {
        reports
            .iter()
            .map(|r| r.id())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for id in ids {
        if !reports.iter().any(|r| r.id() == id) {
            return Err(ReportError::Unknown(id.clone(), known()));
        }
    }
    let mut metas = Vec::new();
    for r in reports.iter().filter(|r| {
        if ids.is_empty() {
            r.applies(inputs)
        } else {
            ids.iter().any(|i| i == r.id())
        }
    }) {
        let dir = out.join(r.id());
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let summary = r.render(inputs, provenance, &dir)?;
        let meta = ReportMeta {
            id: r.id().to_string(),
            title: r.title().to_string(),
            summary,
        };
        let path = dir.join("report.json");
        let json = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        std::fs::write(&path, json).map_err(io_err(&path))?;
        metas.push(meta);
    }
    write_index(out)?;
    Ok(metas)
}

/// The primary comparison, or an error naming the report that needs one.
pub(crate) fn primary<'a>(
    id: &str,
    inputs: &'a ReportInputs,
) -> Result<&'a NamedStats, ReportError> {
    inputs.stats.first().ok_or_else(|| ReportError::Input {
        id: id.to_string(),
        msg: "needs at least one rank_stats result".into(),
    })
}
