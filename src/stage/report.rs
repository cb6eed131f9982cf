//! `report`: render report folders (figure.svg, figure.png, README.md) and `index.html` from
//! the `stats.json` of `rank_stats` input stages. Renders only: every number comes from an
//! input artifact, whose digest the README's provenance footer cites.
//!
//! ```yaml
//! reports:
//!   kind: report
//!   inputs: [stats-imagenot-vs-fashion, stats-imagenot-vs-imagenet, stats-fashion-vs-imagenet]
//!   params:
//!     comparisons: [stats-imagenot-vs-imagenet, stats-imagenot-vs-fashion]  # order; first = Figure 1
//!     datasets: [mini_imagenot]             # dataset stages for dataset-imagenot (default: inputs with selection.json)
//!     reports: [fig1-rankings, table-accuracies, fig-pairwise-improvement]   # default: all that apply
//!     # every input holding classification.json (classification_stats) feeds dataset-classification
//!     command: repro report                                                  # footer
//!     include: [reports-finetune]   # report stages whose folders this one also publishes
//! ```
//! Without `comparisons:`, every input holding `stats.json` is used, in name order. The footer
//! cites digests, not the commit, host or time of the run (those are in the stage's record,
//! `repro audit`), so a rerun that reproduces the numbers rewrites the same bytes. `include:` copies the report folders of
//! other report stages (already rendered, each README with its own provenance) into this
//! one's output, so one `index.html` links them all.

use super::{StageContext, StageError, StageKind};
use crate::report::{self, ArtifactRef, NamedDataset, NamedStats, Provenance, ReportInputs};
use crate::stats::RankStatsResult;
use crate::store::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct ReportKind;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comparisons: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    datasets: Option<Vec<String>>,
    #[serde(default)]
    reports: Vec<String>,
    #[serde(default = "default_command")]
    command: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    include: Vec<String>,
}

fn default_command() -> String {
    "repro report".into()
}

impl StageKind for ReportKind {
    fn name(&self) -> &'static str {
        "report"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let params = if params.is_null() {
            serde_json::json!({})
        } else {
            params.clone()
        };
        let p: Params = serde_json::from_value(params).map_err(|e| e.to_string())?;
        let known: Vec<&str> = report::all().iter().map(|r| r.id()).collect();
        for id in &p.reports {
            if !known.contains(&id.as_str()) {
                return Err(format!(
                    "reports: unknown report `{id}`; known: {}",
                    known.join(", ")
                ));
            }
        }
        serde_json::to_value(&p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let names: Vec<String> = match &p.comparisons {
            Some(list) => list.clone(),
            None => ctx
                .inputs
                .iter()
                .filter(|(_, dir)| dir.join("stats.json").is_file())
                .map(|(name, _)| name.clone())
                .collect(),
        };
        let mut inputs = ReportInputs::default();
        let mut artifacts = Vec::new();
        for name in &names {
            let path = ctx.input(name)?.join("stats.json");
            let bytes = std::fs::read(&path).map_err(|e| {
                StageError::Failed(format!(
                    "{}: {e} (is `{name}` a rank_stats stage?)",
                    path.display()
                ))
            })?;
            let result: RankStatsResult = serde_json::from_slice(&bytes)
                .map_err(|e| StageError::Failed(format!("{}: {e}", path.display())))?;
            artifacts.push(ArtifactRef {
                name: format!("{name}/stats.json"),
                digest: format!("sha256:{}", Digest::of(&bytes).hex()),
            });
            inputs.stats.push(NamedStats {
                name: name.clone(),
                result,
            });
        }
        let mut provenance = Provenance {
            artifacts,
            stage: ctx.stage.clone(),
            command: p.command.clone(),
            repro_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        // Dataset stages built from a selection report (for `dataset-imagenot`). The report is
        // in the dataset's folder, or in the one input that holds a selection and no dataset
        // (the `imagenot_select` stage the dataset was built from).
        let has = |dir: &Path, file: &str| dir.join(file).is_file();
        let selections: Vec<&PathBuf> = ctx
            .inputs
            .values()
            .filter(|dir| has(dir, "selection.json") && !has(dir, "dataset.json"))
            .collect();
        let dataset_names: Vec<String> = match &p.datasets {
            Some(list) => list.clone(),
            None => ctx
                .inputs
                .iter()
                .filter(|(_, dir)| {
                    has(dir, "dataset.json")
                        && (has(dir, "selection.json") || selections.len() == 1)
                })
                .map(|(name, _)| name.clone())
                .collect(),
        };
        for name in &dataset_names {
            let dir = ctx.input(name)?.to_path_buf();
            let selection_dir = match (has(&dir, "selection.json"), selections.as_slice()) {
                (true, _) => dir.clone(),
                (false, [one]) => (*one).clone(),
                (false, _) => {
                    return Err(StageError::Failed(format!(
                        "dataset `{name}` has no selection.json: add the `imagenot_select` stage it was built from to this report's inputs (exactly one)"
                    )))
                }
            };
            for (folder, file) in [
                (&dir, "dataset.json"),
                (&selection_dir, "selection.json"),
                (&dir, "images.tsv"),
            ] {
                let bytes = std::fs::read(folder.join(file)).map_err(|e| {
                    StageError::Failed(format!(
                        "{}: {e} (is `{name}` an ImageNot dataset stage?)",
                        folder.join(file).display()
                    ))
                })?;
                provenance.artifacts.push(ArtifactRef {
                    name: format!("{name}/{file}"),
                    digest: format!("sha256:{}", Digest::of(&bytes).hex()),
                });
            }
            inputs.datasets.push(NamedDataset {
                name: name.clone(),
                dir,
                selection_dir,
            });
        }
        classifications(ctx, &mut inputs, &mut provenance)?;
        for name in &p.include {
            include_reports(ctx.input(name)?, &ctx.out_dir)?;
        }
        ctx.progress(0, 1, "rendering");
        report::render(&p.reports, &inputs, &provenance, &ctx.out_dir)
            .map_err(|e| StageError::Failed(e.to_string()))?;
        ctx.progress(1, 1, "done");
        Ok(())
    }
}

/// Every input holding a `classification_stats` result (for `dataset-classification`), in name
/// order, cited in the provenance.
fn classifications(
    ctx: &StageContext,
    inputs: &mut ReportInputs,
    provenance: &mut Provenance,
) -> Result<(), StageError> {
    for (name, dir) in &ctx.inputs {
        let path = dir.join("classification.json");
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| StageError::Failed(format!("{}: {e}", path.display())))?;
        let result = serde_json::from_slice(&bytes).map_err(|e| {
            StageError::Failed(format!(
                "{}: {e} (is `{name}` a classification_stats stage?)",
                path.display()
            ))
        })?;
        provenance.artifacts.push(ArtifactRef {
            name: format!("{name}/classification.json"),
            digest: format!("sha256:{}", Digest::of(&bytes).hex()),
        });
        inputs.classifications.push(report::NamedClassification {
            name: name.clone(),
            result,
        });
    }
    Ok(())
}

/// Copy every report folder (one holding `report.json`) of a report stage's output into `out`.
fn include_reports(from: &std::path::Path, out: &std::path::Path) -> Result<(), StageError> {
    let mut found = 0;
    for entry in std::fs::read_dir(from)? {
        let dir = entry?.path();
        if !dir.join("report.json").is_file() {
            continue;
        }
        let dest = out.join(dir.file_name().unwrap_or_default());
        std::fs::create_dir_all(&dest)?;
        for file in std::fs::read_dir(&dir)? {
            let file = file?.path();
            if file.is_file() {
                // read + write, not copy: inputs are read-only and copy keeps the mode.
                let bytes = std::fs::read(&file)?;
                std::fs::write(dest.join(file.file_name().unwrap_or_default()), bytes)?;
            }
        }
        found += 1;
    }
    if found == 0 {
        return Err(StageError::Failed(format!(
            "include: {} holds no report folders (is it a report stage?)",
            from.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{analyze, BootstrapConfig, Column, ColumnInfo};
    use serde_json::json;

    /// Every file a report stage writes is the same on a rerun at another commit, so publishing
    /// a matching reproduction leaves `git status` clean; the footer points at the record.
    #[test]
    fn a_rerun_at_another_commit_writes_the_same_bytes() {
        let tmp = tempfile::tempdir().expect("tmp");
        let r = analyze(
            &["m0".to_string(), "m1".to_string(), "m2".to_string()],
            (
                ColumnInfo {
                    label: "a".into(),
                    source: "test".into(),
                    examples: None,
                },
                &Column::Fixed(vec![10.0, 30.0, 20.0]),
            ),
            (
                ColumnInfo {
                    label: "b".into(),
                    source: "test".into(),
                    examples: None,
                },
                &Column::Fixed(vec![50.0, 70.0, 60.0]),
            ),
            &BootstrapConfig::default(),
        )
        .expect("analysis");
        let stats_dir = tmp.path().join("stats-ab");
        std::fs::create_dir_all(&stats_dir).expect("mkdir");
        std::fs::write(
            stats_dir.join("stats.json"),
            serde_json::to_vec_pretty(&r).expect("json"),
        )
        .expect("write");
        let render = |commit: &str| {
            // A repository whose HEAD differs between the two renders.
            let repo = tmp.path().join(format!("repo-{commit}"));
            std::fs::create_dir_all(&repo).expect("mkdir");
            let git = |args: &[&str]| {
                let ok = std::process::Command::new("git")
                    .args(args)
                    .current_dir(&repo)
                    .output()
                    .is_ok_and(|o| o.status.success());
                assert!(ok, "git {args:?}");
            };
            git(&["init", "-q"]);
            std::fs::write(repo.join("f"), commit).expect("write");
            git(&["add", "f"]);
            git(&[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                commit,
            ]);
            let out = tmp.path().join(format!("out-{commit}"));
            std::fs::create_dir_all(&out).expect("mkdir");
            let params = ReportKind.resolve_params(&json!({})).expect("defaults");
            let mut ctx = StageContext::detached("reports", params, out.clone(), repo);
            ctx.inputs.insert("stats-ab".into(), stats_dir.clone());
            ReportKind.run(&mut ctx).expect("renders");
            out
        };
        let (a, b) = (render("one"), render("two"));
        let files = |dir: &std::path::Path| {
            let mut v: Vec<(String, Vec<u8>)> = walk(dir)
                .into_iter()
                .map(|p| {
                    let rel = p.strip_prefix(dir).expect("inside").display().to_string();
                    (rel, std::fs::read(&p).expect("read"))
                })
                .collect();
            v.sort();
            v
        };
        let (fa, fb) = (files(&a), files(&b));
        assert!(fa.len() > 5, "{} files", fa.len());
        for ((name, x), (_, y)) in fa.iter().zip(&fb) {
            assert!(x == y, "{name} differs between the two renders");
        }
        let readme = std::fs::read_to_string(a.join("fig1-rankings/README.md")).expect("README");
        assert!(readme.contains("`repro audit reports`"), "{readme}");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn renders_reports_citing_the_input_digest() {
        let tmp = tempfile::tempdir().expect("tmp");
        let models: Vec<String> = ["m0", "m1", "m2"].iter().map(|s| s.to_string()).collect();
        let info = |l: &str| ColumnInfo {
            label: l.into(),
            source: "test".into(),
            examples: None,
        };
        let r = analyze(
            &models,
            (info("a"), &Column::Fixed(vec![10.0, 30.0, 20.0])),
            (info("b"), &Column::Fixed(vec![50.0, 70.0, 60.0])),
            &BootstrapConfig::default(),
        )
        .expect("analysis");
        let stats_dir = tmp.path().join("stats-ab");
        std::fs::create_dir_all(&stats_dir).expect("mkdir");
        let bytes = serde_json::to_vec_pretty(&r).expect("json");
        std::fs::write(stats_dir.join("stats.json"), &bytes).expect("write");
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).expect("mkdir");
        let params = ReportKind.resolve_params(&json!({})).expect("defaults");
        assert!(ReportKind
            .resolve_params(&json!({"reports": ["nope"]}))
            .is_err());
        let mut ctx =
            StageContext::detached("reports", params, out.clone(), tmp.path().to_path_buf());
        ctx.inputs.insert("stats-ab".into(), stats_dir);
        ReportKind.run(&mut ctx).expect("renders");
        let readme = std::fs::read_to_string(out.join("fig1-rankings/README.md")).expect("README");
        assert!(readme.contains(&Digest::of(&bytes).hex()), "{readme}");
        assert!(readme.contains("`stats-ab/stats.json`"));
        assert!(out.join("index.html").is_file());
        assert!(out.join("table-accuracies/figure.png").is_file());
    }
}
