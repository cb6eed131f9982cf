//! The report page after publishing (`repro run`, `repro report`): gathers from the store what
//! [`crate::report::page`] shows — the commit and date, the action behind each artifact a
//! report cites (stage, commit, re-execution verdict), training curves, and the `plots:` and
//! `metrics:` stages declare — and writes `index.html` beside the published report folders.
//!
//! Each stage's files are read from its latest record (`refs/stages/<name>`), so the page shows
//! the last result of every stage, as `repro export` would.

use crate::pipeline::shown::{Columns, Plot};
use crate::pipeline::{Pipeline, Stage};
use crate::provenance::{ActionRecord, GitState};
use crate::report::page::{self, data, Chart, Origin, PageContext, Panel, RunInfo, Series, Table};
use crate::store::{ActionKey, Digest, Store};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the page goes: the folder a `report` stage publishes to, else any stage's `publish:`
/// folder, else `reports/` when a stage declares plots or metrics; `None` when there is nothing
/// to show.
pub fn dir(pipeline: &Pipeline) -> Option<PathBuf> {
    let published = |report_only: bool| {
        pipeline
            .stages
            .iter()
            .filter(|s| !report_only || s.kind == "report")
            .find_map(|s| s.publish.as_deref())
    };
    let declared = pipeline
        .stages
        .iter()
        .any(|s| !shown_plots(s).is_empty() || !s.shown.metrics.is_empty());
    published(true)
        .or_else(|| published(false))
        .map(|d| pipeline.root.join(d))
        .or_else(|| declared.then(|| pipeline.root.join("reports")))
}

/// Write the page; returns its path, or `None` when the pipeline has nothing to show.
pub fn write(pipeline: &Pipeline, store: &Store) -> Result<Option<PathBuf>> {
    let Some(dir) = dir(pipeline) else {
        return Ok(None);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let git = GitState::read(&pipeline.root, &[]);
    let mut ctx = PageContext {
        title: format!(
            "Report of {}",
            pipeline
                .file
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
        ),
        run: Some(RunInfo {
            commit: git.commit,
            dirty: git.dirty,
            date: crate::provenance::now(),
        }),
        ..PageContext::default()
    };
    for digest in page::cited_digests(&dir)? {
        if let Some(origin) = origin(store, &digest) {
            ctx.origins.insert(digest, origin);
        }
    }
    ctx.panels = panels(pipeline, store);
    page::write_page(&dir, &ctx)?;
    Ok(Some(dir.join("index.html")))
}

/// The action whose output holds the artifact `digest`, from the store's producer index.
fn origin(store: &Store, digest: &str) -> Option<Origin> {
    let d: Digest = digest.parse().ok()?;
    let key = store.producer_of(&d)?;
    let record = ActionRecord::load(store, &key).ok()??;
    Some(Origin {
        stage: record.provenance.stage,
        commit: record.provenance.git.commit,
        verdict: verdict(store, &key),
    })
}

/// The re-execution verdict `repro verify --rerun` keeps beside an action's record
/// (`verifications/sha256/<key>.json`), in words, with the date of the check and the files that
/// differ; `None`: never re-executed. Read here by its path and fields so the page needs nothing
/// of the verifier; `provenance::verification` is the writer.
fn verdict(store: &Store, key: &ActionKey) -> Option<String> {
    let path = store
        .root()
        .join("verifications/sha256")
        .join(format!("{}.json", key.0.fanout_path()));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str());
    if field("action") != Some(key.to_string().as_str()) {
        return None;
    }
    let mut words = field("verdict")?.replace('_', " ");
    let files: Vec<&str> = v
        .get("files")
        .and_then(|f| f.as_array())
        .map(|fs| fs.iter().filter_map(|f| f.get("path")?.as_str()).collect())
        .unwrap_or_default();
    if !files.is_empty() && words != "identical" {
        words.push_str(&format!(" ({})", files.join(", ")));
    }
    if let Some(at) = field("checked_at") {
        words.push_str(&format!(", checked {at}"));
    }
    Some(words)
}

/// What a stage plots: its `plots:`, or for a `train` stage that declares none, its training
/// curves (`metrics.json`: loss and accuracy per epoch).
fn shown_plots(stage: &Stage) -> Vec<Plot> {
    if stage.shown.plots.is_empty() && stage.kind == "train" {
        return vec![Plot {
            file: "metrics.json".into(),
            x: "epoch".into(),
            y: Columns::Many(vec!["loss".into(), "accuracy".into()]),
            records: Some("epochs".into()),
            title: Some("training".into()),
        }];
    }
    stage.shown.plots.clone()
}

/// One panel per stage as written in pipeline.yaml (a matrix's expansions together).
fn panels(pipeline: &Pipeline, store: &Store) -> Vec<Panel> {
    let mut bases: Vec<&str> = Vec::new();
    for s in &pipeline.stages {
        if !bases.contains(&s.base.as_str()) {
            bases.push(&s.base);
        }
    }
    let mut out = Vec::new();
    for base in bases {
        let stages: Vec<&Stage> = pipeline.stages.iter().filter(|s| s.base == base).collect();
        let plots = shown_plots(stages[0]);
        let metrics = &stages[0].shown.metrics;
        if plots.is_empty() && metrics.is_empty() {
            continue;
        }
        let mut panel = Panel {
            stage: base.to_string(),
            title: if stages[0].shown.plots.is_empty() && !plots.is_empty() {
                format!("{base}: training curves")
            } else {
                base.to_string()
            },
            ..Panel::default()
        };
        let files = StageFiles::read(store, &stages, &mut panel.problems);
        for plot in &plots {
            panel
                .charts
                .extend(charts(plot, &files, &mut panel.problems));
        }
        for file in metrics {
            panel
                .tables
                .push(metrics_table(file, &files, &mut panel.problems));
        }
        out.push(panel);
    }
    out
}

/// The latest record of each stage of a panel (stages that have not run are left out, with a
/// note).
struct StageFiles<'a> {
    store: &'a Store,
    records: Vec<(String, ActionRecord)>,
}

impl<'a> StageFiles<'a> {
    fn read(store: &'a Store, stages: &[&Stage], problems: &mut Vec<String>) -> StageFiles<'a> {
        let mut records = Vec::new();
        for s in stages {
            match store
                .get_ref(&s.name)
                .and_then(|k| ActionRecord::load(store, &k).ok().flatten())
            {
                Some(r) => records.push((s.name.clone(), r)),
                None => problems.push(format!(
                    "{}: no result yet (run `repro run {}`)",
                    s.name, s.name
                )),
            }
        }
        StageFiles { store, records }
    }

    /// `file` of each stage that has it: (stage name, bytes).
    fn each(&self, file: &str, problems: &mut Vec<String>) -> Vec<(&str, Vec<u8>)> {
        let mut out = Vec::new();
        for (name, record) in &self.records {
            let Some(entry) = record.files.iter().find(|e| e.path == file) else {
                problems.push(format!("{name}: its output has no `{file}`"));
                continue;
            };
            match self.store.read(&entry.digest) {
                Ok(bytes) => out.push((name.as_str(), bytes)),
                Err(e) => problems.push(format!("{name}: reading `{file}`: {e}")),
            }
        }
        out
    }
}

/// One chart per `y` column (and per group of a matrix, see [`series_and_group`]), a line per
/// stage.
fn charts(plot: &Plot, files: &StageFiles, problems: &mut Vec<String>) -> Vec<Chart> {
    let mut charts: BTreeMap<(usize, String), Chart> = BTreeMap::new();
    for (name, bytes) in files.each(&plot.file, problems) {
        let rows = match data::rows(&plot.file, &bytes, plot.records.as_deref()) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let (series, group) = series_and_group(name);
        for (k, y) in plot.y.names().into_iter().enumerate() {
            let points = match data::points(&plot.file, &rows, &plot.x, y) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("{name}: {e}"));
                    continue;
                }
            };
            let what = plot.title.as_deref().unwrap_or(&plot.file);
            let title = match &group {
                Some(g) => format!("{what}: {y} ({g})"),
                None => format!("{what}: {y}"),
            };
            charts
                .entry((k, group.clone().unwrap_or_default()))
                .or_insert_with(|| Chart {
                    title,
                    x: plot.x.clone(),
                    y: y.to_string(),
                    series: Vec::new(),
                })
                .series
                .push(Series {
                    name: series.clone(),
                    points,
                });
        }
    }
    charts.into_values().collect()
}

/// A matrix stage `base@v1-v2-…` is a line named `v1` in the chart of the group `v2-…` (for
/// `train@alexnet-mini_imagenot`: the line `alexnet` in the chart of `mini_imagenot`); a stage
/// of one matrix value, or none, is a line of its own name in one chart.
fn series_and_group(name: &str) -> (String, Option<String>) {
    match name.split_once('@') {
        Some((_, values)) => match values.split_once('-') {
            Some((first, rest)) => (first.to_string(), Some(rest.to_string())),
            None => (values.to_string(), None),
        },
        None => (name.to_string(), None),
    }
}

/// A table of one JSON `metrics:` file: a row per stage, a column per field.
fn metrics_table(file: &str, files: &StageFiles, problems: &mut Vec<String>) -> Table {
    let mut rows: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (name, bytes) in files.each(file, problems) {
        match data::metrics(file, &bytes) {
            Ok(fields) => rows.push((name.to_string(), fields)),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    let mut columns: Vec<String> = Vec::new();
    for (_, fields) in &rows {
        for (k, _) in fields {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    Table {
        title: file.to_string(),
        rows: rows
            .into_iter()
            .map(|(name, fields)| {
                let cells = columns
                    .iter()
                    .map(|c| {
                        fields
                            .iter()
                            .find(|(k, _)| k == c)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    })
                    .collect();
                (name, cells)
            })
            .collect(),
        columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_names_split_into_line_and_chart() {
        assert_eq!(
            series_and_group("train@alexnet-mini_imagenot"),
            ("alexnet".into(), Some("mini_imagenot".into()))
        );
        assert_eq!(series_and_group("gen@a"), ("a".into(), None));
        assert_eq!(series_and_group("gen"), ("gen".into(), None));
    }
}
