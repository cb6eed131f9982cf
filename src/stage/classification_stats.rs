//! `classification_stats`: one evaluated classifier's held-out accuracy with Wilson and
//! bootstrap intervals, confusion matrix and chance level (see
//! [`crate::stats::classification`]) — for the dataset-classification experiment, where the
//! classes are datasets.
//!
//! ```yaml
//! stats-dataset-classification:
//!   kind: classification_stats
//!   inputs: [evaluate-contrast, train-contrast, contrast-imagenot-vs-fashion]
//!   params:
//!     reference: {label: "paper: ImageNot vs ImageNet", accuracy: 97.0}   # optional, %
//!     resamples: 2000   # default
//!     seed: 0           # default
//!     level: 0.95       # default
//! ```
//! The evaluate stage (the input holding `eval.json` and `predictions.csv`) is required; the
//! train stage (`metrics.json`: what training cost) and the contrast dataset (`contrast.json`:
//! which dataset each class is) are optional. `evaluation:`, `training:` and `contrast:` name
//! them when the inputs are ambiguous. Output: `classification.json`
//! ([`ClassificationResult`]).

use super::{StageContext, StageError, StageKind};
use crate::stats::bootstrap::BootstrapConfig;
use crate::stats::classification::{
    classification_stats, ClassificationResult, InputArtifact, Reference, SourceRef, TrainingCost,
    SCHEMA,
};
use crate::store::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct ClassificationStatsKind;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evaluation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    training: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contrast: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<Reference>,
    #[serde(default = "default_resamples")]
    resamples: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default = "default_level")]
    level: f64,
}

fn default_resamples() -> usize {
    2000
}
fn default_level() -> f64 {
    0.95
}

fn failed(msg: String) -> StageError {
    StageError::Failed(msg)
}

/// Read `dir/file`, recording its digest as `<input>/<file>`.
fn read(
    name: &str,
    dir: &Path,
    file: &str,
    seen: &mut Vec<InputArtifact>,
) -> Result<Vec<u8>, StageError> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    seen.push(InputArtifact {
        name: format!("{name}/{file}"),
        digest: format!("sha256:{}", Digest::of(&bytes).hex()),
    });
    Ok(bytes)
}

fn json(name: &str, file: &str, bytes: &[u8]) -> Result<Value, StageError> {
    serde_json::from_slice(bytes).map_err(|e| failed(format!("input `{name}`: {file}: {e}")))
}

/// `(label, pred)` of every row of an evaluate stage's `predictions.csv`.
fn predictions(name: &str, text: &str) -> Result<Vec<(u32, u32)>, StageError> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |c: &str| {
        header.iter().position(|h| *h == c).ok_or_else(|| {
            failed(format!(
                "input `{name}`: predictions.csv has no `{c}` column (is it an evaluate stage?)"
            ))
        })
    };
    let (li, pi) = (col("label")?, col("pred")?);
    lines
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            let get = |j: usize| f.get(j).and_then(|v| v.parse::<u32>().ok());
            match (get(li), get(pi)) {
                (Some(a), Some(b)) => Ok((a, b)),
                _ => Err(failed(format!(
                    "input `{name}`: predictions.csv line {}: `{l}` is not label,pred numbers",
                    i + 2
                ))),
            }
        })
        .collect()
}

/// Where a train stage keeps its wall-clock (`crate::ml::train::TIMING_FILE`, which this kind
/// cannot name: it builds without the `torch` feature).
const TIMING_FILE: &str = "timing.json";

/// The training cost in a train stage's `metrics.json`, with its wall-clock from
/// `timing.json` (0 when the stage kept none).
fn training_cost(
    name: &str,
    m: &Value,
    timing: Option<&Value>,
) -> Result<TrainingCost, StageError> {
    let epochs = m["epochs"].as_array().ok_or_else(|| {
        failed(format!(
            "input `{name}`: metrics.json has no `epochs` list (is it a train stage?)"
        ))
    })?;
    let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
    let u = |k: &str| m[k].as_u64().unwrap_or_default() as usize;
    Ok(TrainingCost {
        model: s("model"),
        params: m["params"].as_i64().unwrap_or_default(),
        epochs: epochs.len(),
        train_examples: u("train_examples"),
        seconds: timing
            .and_then(|t| t["epochs"].as_array())
            .map(|t| t.iter().filter_map(|e| e["seconds"].as_f64()).sum())
            .unwrap_or_default(),
        device: s("device"),
        threads: u("threads"),
        final_train_accuracy: 100.0
            * epochs
                .last()
                .and_then(|e| e["accuracy"].as_f64())
                .unwrap_or_default(),
    })
}

/// The input named `name`, else the only input holding `marker`; `None` when optional and no
/// input holds it.
fn pick(
    ctx: &StageContext,
    name: Option<&str>,
    marker: &str,
    param: &str,
) -> Result<Option<(String, PathBuf)>, StageError> {
    if let Some(n) = name {
        return Ok(Some((n.to_string(), ctx.input(n)?.to_path_buf())));
    }
    let found: Vec<(&String, &PathBuf)> = ctx
        .inputs
        .iter()
        .filter(|(_, d)| d.join(marker).is_file())
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [(n, d)] => Ok(Some(((*n).clone(), (*d).clone()))),
        many => Err(StageError::Params(format!(
            "several inputs hold {marker} ({}); say which with `{param}: <input>`",
            many.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

impl StageKind for ClassificationStatsKind {
    fn name(&self) -> &'static str {
        "classification_stats"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let params = if params.is_null() {
            serde_json::json!({})
        } else {
            params.clone()
        };
        let p: Params = serde_json::from_value(params).map_err(|e| e.to_string())?;
        if p.resamples < 100 {
            return Err(format!(
                "resamples: {} is too few (at least 100)",
                p.resamples
            ));
        }
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let mut seen = Vec::new();
        let (ename, edir) = pick(ctx, p.evaluation.as_deref(), "eval.json", "evaluation")?
            .ok_or_else(|| {
                failed(format!(
                    "stage `{}`: no input holds eval.json; add the evaluate stage to `inputs:`",
                    ctx.stage
                ))
            })?;
        let eval = json(
            &ename,
            "eval.json",
            &read(&ename, &edir, "eval.json", &mut seen)?,
        )?;
        let text = read(&ename, &edir, "predictions.csv", &mut seen)?;
        let pairs = predictions(&ename, &String::from_utf8_lossy(&text))?;
        let classes: Vec<String> = eval["class_names"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|c| c.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let cfg = BootstrapConfig {
            resamples: p.resamples,
            seed: p.seed,
            level: p.level,
        };
        let stats = classification_stats(&classes, &pairs, &cfg)
            .map_err(|e| failed(format!("input `{ename}`: {e}")))?;

        let training = match pick(ctx, p.training.as_deref(), "metrics.json", "training")? {
            Some((n, d)) => {
                let m = json(
                    &n,
                    "metrics.json",
                    &read(&n, &d, "metrics.json", &mut seen)?,
                )?;
                let timing = match d.join(TIMING_FILE).is_file() {
                    true => Some(json(
                        &n,
                        TIMING_FILE,
                        &read(&n, &d, TIMING_FILE, &mut seen)?,
                    )?),
                    false => None,
                };
                Some(training_cost(&n, &m, timing.as_ref())?)
            }
            None => None,
        };
        let (mut sources, mut per_class) = (Vec::new(), BTreeMap::new());
        if let Some((n, d)) = pick(ctx, p.contrast.as_deref(), "contrast.json", "contrast")? {
            let c = json(
                &n,
                "contrast.json",
                &read(&n, &d, "contrast.json", &mut seen)?,
            )?;
            per_class = serde_json::from_value(c["per_class"].clone()).unwrap_or_default();
            for s in c["classes"].as_array().into_iter().flatten() {
                sources.push(SourceRef {
                    class: s["class"].as_str().unwrap_or_default().to_string(),
                    input: s["input"].as_str().unwrap_or_default().to_string(),
                    content_sha256: s["content_sha256"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
        let s = |k: &str| eval[k].as_str().unwrap_or_default().to_string();
        let result = ClassificationResult {
            schema: SCHEMA,
            model: s("model"),
            dataset: s("dataset"),
            split: s("split"),
            classes,
            stats,
            sources,
            per_class,
            training,
            reference: p.reference.clone(),
            inputs: seen,
        };
        let bytes = serde_json::to_vec_pretty(&result).map_err(|e| failed(e.to_string()))?;
        std::fs::write(ctx.out_dir.join("classification.json"), bytes)?;
        eprintln!(
            "classification_stats: {} on {} ({}): {:.2}% [{:.2}, {:.2}] (Wilson), n = {}",
            result.model,
            result.dataset,
            result.split,
            result.stats.accuracy,
            result.stats.wilson.lo,
            result.stats.wilson.hi,
            result.stats.n
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_evaluation_and_names_what_is_missing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let ev = tmp.path().join("ev");
        std::fs::create_dir_all(&ev).expect("mkdir");
        std::fs::write(
            ev.join("eval.json"),
            json!({"model": "m", "dataset": "a-vs-b", "split": "val", "class_names": ["a", "b"]})
                .to_string(),
        )
        .expect("write");
        let mut csv = String::from("index,label,pred,correct_top1,correct_top5\n");
        for i in 0..40u32 {
            let label = i % 2;
            let pred = if i < 4 { 1 - label } else { label };
            csv.push_str(&format!(
                "{i},{label},{pred},{},1\n",
                u8::from(pred == label)
            ));
        }
        std::fs::write(ev.join("predictions.csv"), csv).expect("write");
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).expect("mkdir");
        let k = ClassificationStatsKind;
        let params = k
            .resolve_params(&json!({"reference": {"label": "paper", "accuracy": 97.0}}))
            .expect("params");
        assert!(k.resolve_params(&json!({"resamples": 5})).is_err());
        let mut ctx = StageContext::detached("s", params.clone(), out.clone(), tmp.path().into());
        let e = k.run(&mut ctx).expect_err("no inputs").to_string();
        assert!(e.contains("no input holds eval.json"), "{e}");
        ctx.inputs.insert("ev".into(), ev);
        k.run(&mut ctx).expect("runs");
        let r: ClassificationResult =
            serde_json::from_slice(&std::fs::read(out.join("classification.json")).expect("read"))
                .expect("parses");
        assert_eq!(
            (r.stats.n, r.stats.correct, r.stats.accuracy),
            (40, 36, 90.0)
        );
        assert_eq!(r.stats.confusion, vec![vec![18, 2], vec![2, 18]]);
        assert_eq!(r.reference.as_ref().map(|x| x.accuracy), Some(97.0));
        assert_eq!(r.inputs.len(), 2);
        assert!(r.inputs[1].name == "ev/predictions.csv" && r.inputs[1].digest.len() == 71);
        assert!(r.training.is_none() && r.sources.is_empty());
    }

    #[test]
    fn bad_predictions_are_named() {
        assert!(predictions("ev", "index,label,pred\n0,1,x\n")
            .expect_err("bad")
            .to_string()
            .contains("line 2"));
        assert!(predictions("ev", "index,pred\n")
            .expect_err("no label")
            .to_string()
            .contains("no `label` column"));
    }
}
