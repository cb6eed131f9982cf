//! `lr_choice`: pick one cell's learning rate from a grid of tuning runs, by hold-out accuracy.
//!
//! ```yaml
//! lr:
//!   kind: lr_choice
//!   matrix: {model: [alexnet, vgg19], dataset: [mini_imagenot]}
//!   inputs: [tune-train, tune-evaluate]
//!   params: {cell: "${model}-${dataset}"}
//! ```
//! Every architecture gets the same grid and the same budget (the `tune-train` matrix), trained
//! on the training split minus a held-out part (`holdout_split`) and evaluated on that part
//! only: the split the study reports on is never looked at. The inputs are whole matrix stages;
//! this cell's runs are the members named `<stage>@<cell>-<grid value>`, and a training run and
//! its evaluation pair up by that name after the `@`. The choice is the run with the highest
//! hold-out top-1; a tie goes to the lower hold-out loss, then to the smaller learning rate.
//! (Runs that all predict the majority class tie exactly in top-1, and their loss still says
//! which rate started to learn.)
//!
//! Output: `lr.json` — the chosen `lr`, its hold-out accuracy and the whole grid. A `train`
//! stage with this stage among its inputs trains at the chosen rate. Because every member's
//! output is an input here, each cell's stage reruns when any tuning run changes, but its
//! `lr.json` (and so the trainings after it) only changes when its own choice does.

use super::{StageContext, StageError, StageKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub struct LrChoice;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// The matrix values that name this cell's runs, e.g. `alexnet-mini_imagenot`.
    cell: String,
}

/// One tuning run: a learning rate and what it reached on the held-out split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridRun {
    /// The run's name after the `@` (`alexnet-mini_imagenot-0.25`).
    pub run: String,
    pub lr: f64,
    pub holdout_top1: f64,
    /// Mean cross-entropy on the held-out part.
    pub holdout_loss: f64,
}

/// `lr.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrChoiceFile {
    pub model: String,
    pub lr: f64,
    pub holdout_top1: f64,
    /// Every run of the grid, in the order of their learning rates.
    pub grid: Vec<GridRun>,
    pub rule: String,
}

/// The highest hold-out top-1; among equals the lower hold-out loss, then the smaller
/// learning rate (the safer one).
fn choose(grid: &[GridRun]) -> Option<&GridRun> {
    grid.iter().max_by(|a, b| {
        a.holdout_top1
            .total_cmp(&b.holdout_top1)
            .then(b.holdout_loss.total_cmp(&a.holdout_loss))
            .then(b.lr.total_cmp(&a.lr))
    })
}

const RULE: &str =
    "highest hold-out top-1; ties go to the lower hold-out loss, then the smaller learning rate";

fn read_json(path: &Path) -> Result<serde_json::Value, StageError> {
    let bytes =
        std::fs::read(path).map_err(|e| StageError::Failed(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| StageError::Failed(format!("{}: not JSON: {e}", path.display())))
}

impl StageKind for LrChoice {
    fn name(&self) -> &'static str {
        "lr_choice"
    }

    fn resolve_params(&self, params: &serde_json::Value) -> Result<serde_json::Value, String> {
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let prefix = format!("{}-", p.cell);
        // run name → (lr and model from training, top-1 from evaluation)
        let mut lrs: BTreeMap<String, (f64, String)> = BTreeMap::new();
        let mut scores: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for (name, dir) in &ctx.inputs {
            let Some(run) = name.split_once('@').map(|(_, r)| r) else {
                continue;
            };
            if !run.starts_with(&prefix) {
                continue;
            }
            if dir.join("metrics.json").is_file() {
                let m = read_json(&dir.join("metrics.json"))?;
                let lr = m["config"]["lr"].as_f64().ok_or_else(|| {
                    StageError::Failed(format!("input `{name}`: metrics.json has no config.lr"))
                })?;
                let model = m["model"].as_str().unwrap_or_default().to_string();
                lrs.insert(run.to_string(), (lr, model));
            } else if dir.join("eval.json").is_file() {
                let e = read_json(&dir.join("eval.json"))?;
                let number = |field: &str| {
                    e[field].as_f64().ok_or_else(|| {
                        StageError::Failed(format!("input `{name}`: eval.json has no {field}"))
                    })
                };
                scores.insert(run.to_string(), (number("top1")?, number("loss")?));
            }
        }
        let mut grid = Vec::new();
        let mut models = Vec::new();
        for (run, (lr, model)) in &lrs {
            let (holdout_top1, holdout_loss) = *scores.get(run).ok_or_else(|| {
                StageError::Params(format!(
                    "tuning run `{run}` was trained but has no evaluation among the inputs; \
                     add the evaluate stage of the grid to `inputs:`"
                ))
            })?;
            models.push(model.clone());
            grid.push(GridRun {
                run: run.clone(),
                lr: *lr,
                holdout_top1,
                holdout_loss,
            });
        }
        models.sort();
        models.dedup();
        let [model] = &models[..] else {
            return Err(StageError::Params(if models.is_empty() {
                format!(
                    "no training run among the inputs is named `…@{}<value>`: check `cell`",
                    prefix
                )
            } else {
                format!(
                    "cell `{}` matches runs of several models ({}): make `cell` name one",
                    p.cell,
                    models.join(", ")
                )
            }));
        };
        grid.sort_by(|a, b| a.lr.total_cmp(&b.lr));
        let best = choose(&grid).expect("grid is not empty").clone();
        ctx.progress(1, 1, &format!("lr {} ({:.4})", best.lr, best.holdout_top1));
        let out = LrChoiceFile {
            model: model.clone(),
            lr: best.lr,
            holdout_top1: best.holdout_top1,
            grid,
            rule: RULE.into(),
        };
        let json =
            serde_json::to_vec_pretty(&out).map_err(|e| StageError::Failed(e.to_string()))?;
        std::fs::write(ctx.out_dir.join("lr.json"), json)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lr: f64, acc: f64, loss: f64) -> GridRun {
        GridRun {
            run: format!("m-d-{lr}"),
            lr,
            holdout_top1: acc,
            holdout_loss: loss,
        }
    }

    #[test]
    fn best_accuracy_wins_then_lower_loss_then_lower_rate() {
        let g = [
            run(0.01, 0.3, 2.0),
            run(0.04, 0.5, 2.0),
            run(0.16, 0.4, 1.0),
        ];
        assert_eq!(choose(&g).map(|r| r.lr), Some(0.04));
        // All at the majority rate: the rate whose loss fell furthest.
        let chance = [
            run(0.01, 0.09, 2.94),
            run(0.04, 0.09, 2.85),
            run(0.16, 0.09, 2.90),
        ];
        assert_eq!(choose(&chance).map(|r| r.lr), Some(0.04));
        let tie = [
            run(0.01, 0.5, 1.0),
            run(0.04, 0.5, 1.0),
            run(0.16, 0.2, 1.0),
        ];
        assert_eq!(choose(&tie).map(|r| r.lr), Some(0.01));
        assert!(choose(&[]).is_none());
    }
}
