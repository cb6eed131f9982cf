//! `rank_stats`: compare two datasets by the models evaluated on both — rank agreement
//! (Kendall τ-b, Spearman ρ), accuracy and improvement agreement (Pearson r, Lin's concordance
//! of log improvement, the probit-space line), bootstrap intervals from the per-example
//! predictions (and the training seeds, where a model has several), and the p-value of τ.
//!
//! ```yaml
//! stats-imagenot-vs-imagenet:
//!   kind: rank_stats
//!   inputs: [evaluate]                              # all evaluate@<model>-<dataset> stages
//!   deps: [data/imagenet_top1.csv]                  # so editing the file reruns the stage
//!   params:
//!     models: [alexnet, vgg19, inception_v3, ...]   # chronological; first = baseline
//!     a: {label: mini-ImageNot, inputs: "evaluate@*-mini_imagenot-*"}   # every seed
//!     b: {label: ImageNet (published), csv: data/imagenet_top1.csv, column: top1}
//!     resamples: 2000    # default (at least 1000)
//!     seed: 0            # default
//!     level: 0.95        # default
//!     metric: top1       # or top5
//! ```
//! A column is either evaluate stages (`inputs:` a list in chronological order, or one glob
//! with `*` over input names) or a committed CSV with a `model` column. Models are matched by
//! the `model` field of each `eval.json`; several stages of one model are its seeds (in input
//! name order), averaged for the ranking and redrawn by the bootstrap. Every stage of a column
//! must be evaluated on the same examples; the examples (dataset, split, ids) name the column's
//! resampling stream, so columns on the same examples are resampled alike in every comparison.
//! Without `models:`, rows follow the first column's list (or CSV) order. Outputs:
//! `stats.json` ([`RankStatsResult`]) and `table.csv`.

use super::{StageContext, StageError, StageKind};
use crate::stats::{
    analyze, read_column_csv, BootstrapConfig, Column, ColumnInfo, RankStatsResult, Runs,
};
use crate::store::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

pub struct RankStats;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    models: Option<Vec<String>>,
    a: ColumnSpec,
    b: ColumnSpec,
    #[serde(default = "default_resamples")]
    resamples: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default = "default_level")]
    level: f64,
    #[serde(default = "default_metric")]
    metric: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inputs: Option<Inputs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    csv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    column: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Inputs {
    List(Vec<String>),
    Pattern(String),
}

fn default_resamples() -> usize {
    2000
}
fn default_level() -> f64 {
    0.95
}
fn default_metric() -> String {
    "top1".into()
}

/// One column as loaded: model id → accuracy source, in the column's own order.
struct Loaded {
    label: String,
    source: String,
    order: Vec<String>,
    values: BTreeMap<String, Source>,
    /// For evaluated columns: what names the examples, and the majority-class rate (percent).
    examples: Option<(String, f64)>,
}

/// Where one model's accuracy on a column comes from.
enum Source {
    /// Per seed, per example: correct?
    Correct(Vec<Vec<bool>>),
    Fixed(f64),
}

impl StageKind for RankStats {
    fn name(&self) -> &'static str {
        "rank_stats"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        for (name, c) in [("a", &p.a), ("b", &p.b)] {
            match (&c.inputs, &c.csv) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => return Err(format!("column `{name}` needs exactly one of `inputs:` (evaluate stages) or `csv:` (a committed file)")),
            }
            if matches!(c.inputs, Some(Inputs::Pattern(_))) && p.models.is_none() {
                return Err(format!("column `{name}` selects inputs by pattern, so `models:` must give the chronological order"));
            }
            if c.csv.is_some() && c.column.is_none() {
                // filled below
            } else if c.column.is_some() && c.csv.is_none() {
                return Err(format!(
                    "column `{name}`: `column:` only applies to a `csv:` column"
                ));
            }
        }
        if p.resamples < 1000 && p.resamples != 0 {
            return Err(format!(
                "resamples: {} is too few for a percentile interval; use at least 1000",
                p.resamples
            ));
        }
        if !(p.level > 0.0 && p.level < 1.0) {
            return Err(format!("level: {} must be between 0 and 1", p.level));
        }
        if p.metric != "top1" && p.metric != "top5" {
            return Err(format!("metric: `{}` is not one of top1, top5", p.metric));
        }
        let mut p = p;
        for c in [&mut p.a, &mut p.b] {
            if c.csv.is_some() && c.column.is_none() {
                c.column = Some("top1".into());
            }
        }
        serde_json::to_value(&p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let a = load_column(ctx, "a", &p.a, &p.metric)?;
        let b = load_column(ctx, "b", &p.b, &p.metric)?;
        let models = p.models.clone().unwrap_or_else(|| a.order.clone());
        let col_a = to_column(&a, &models)?;
        let col_b = to_column(&b, &models)?;
        let config = BootstrapConfig {
            resamples: p.resamples,
            seed: p.seed,
            level: p.level,
        };
        ctx.progress(0, 1, "bootstrap");
        let info = |l: &Loaded| ColumnInfo {
            label: l.label.clone(),
            source: l.source.clone(),
            examples: None,
        };
        let result = analyze(&models, (info(&a), &col_a), (info(&b), &col_b), &config)
            .map_err(|e| StageError::Failed(e.to_string()))?;
        let json =
            serde_json::to_vec_pretty(&result).map_err(|e| StageError::Failed(e.to_string()))?;
        std::fs::write(ctx.out_dir.join("stats.json"), json)?;
        std::fs::write(ctx.out_dir.join("table.csv"), table_csv(&result))?;
        ctx.progress(1, 1, "done");
        Ok(())
    }
}

/// `table.csv`: one row per model with accuracies (seed means), intervals, ranks, improvements,
/// the spread over seeds and the collapsed flags.
fn table_csv(r: &RankStatsResult) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let mut out =
        String::from("model,a,a_lo,a_hi,b,b_lo,b_hi,rank_a,rank_b,improvement_a,improvement_b,a_sd,b_sd,a_seeds,b_seeds,collapsed_a,collapsed_b\n");
    for m in &r.models {
        let lo_hi = |i: &Option<crate::stats::Interval>| {
            (opt(i.as_ref().map(|i| i.lo)), opt(i.as_ref().map(|i| i.hi)))
        };
        let ((alo, ahi), (blo, bhi)) = (lo_hi(&m.a_interval), lo_hi(&m.b_interval));
        out.push_str(&format!(
            "{},{},{alo},{ahi},{},{blo},{bhi},{},{},{},{},{},{},{},{},{},{}\n",
            m.model,
            m.a,
            m.b,
            m.rank_a,
            m.rank_b,
            opt(m.improvement_a),
            opt(m.improvement_b),
            opt(m.a_sd),
            opt(m.b_sd),
            m.a_seeds,
            m.b_seeds,
            m.collapsed_a,
            m.collapsed_b
        ));
    }
    out
}

fn to_column(l: &Loaded, models: &[String]) -> Result<Column, StageError> {
    let get = |m: &String| {
        l.values.get(m).ok_or_else(|| {
            StageError::Failed(format!(
                "column `{}` has no model `{m}` (it has: {})",
                l.label,
                l.order.join(", ")
            ))
        })
    };
    let mut correct = Vec::new();
    let mut fixed = Vec::new();
    for m in models {
        match get(m)? {
            Source::Correct(c) => correct.push(c.clone()),
            Source::Fixed(v) => fixed.push(*v),
        }
    }
    Ok(match &l.examples {
        Some((key, majority)) if fixed.is_empty() => Column::Runs(Runs {
            examples_key: key.clone(),
            correct,
            majority_rate: Some(*majority),
        }),
        _ => Column::Fixed(fixed),
    })
}

fn load_column(
    ctx: &StageContext,
    name: &str,
    spec: &ColumnSpec,
    metric: &str,
) -> Result<Loaded, StageError> {
    if let Some(file) = &spec.csv {
        let path = ctx.repo_root.join(file);
        let bytes = std::fs::read(&path).map_err(|e| {
            StageError::Failed(format!(
                "column `{name}`: cannot read {}: {e}",
                path.display()
            ))
        })?;
        let column = spec.column.as_deref().unwrap_or("top1");
        let rows = read_column_csv(&path, column).map_err(|e| StageError::Failed(e.to_string()))?;
        let stem = Path::new(file)
            .file_stem()
            .map_or(file.clone(), |s| s.to_string_lossy().into_owned());
        return Ok(Loaded {
            label: spec.label.clone().unwrap_or(stem),
            source: format!(
                "{file} (column {column}, sha256 {})",
                Digest::of(&bytes).hex()
            ),
            order: rows.iter().map(|r| r.0.clone()).collect(),
            values: rows
                .into_iter()
                .map(|(m, v)| (m, Source::Fixed(v)))
                .collect(),
            examples: None,
        });
    }
    let stages: Vec<String> = match &spec.inputs {
        Some(Inputs::List(v)) => v.clone(),
        Some(Inputs::Pattern(p)) => ctx.inputs.keys().filter(|k| glob(p, k)).cloned().collect(),
        None => Vec::new(),
    };
    if stages.is_empty() {
        return Err(StageError::Failed(format!(
            "column `{name}` selects no input stage"
        )));
    }
    let (mut order, mut values, mut dataset) = (Vec::new(), BTreeMap::new(), None::<String>);
    let mut examples: Option<(String, Vec<(String, String)>)> = None;
    for stage in &stages {
        let dir = ctx.input(stage)?;
        let eval: Value = read_json(&dir.join("eval.json"))?;
        let model = eval["model"]
            .as_str()
            .ok_or_else(|| bad(dir, "eval.json has no string `model`"))?
            .to_string();
        let ds = format!(
            "{} ({} split)",
            eval["dataset"].as_str().unwrap_or(""),
            eval["split"].as_str().unwrap_or("?")
        );
        match &dataset {
            None => dataset = Some(ds.clone()),
            Some(d) if *d != ds => {
                return Err(StageError::Failed(format!(
                    "column `{name}` mixes datasets `{d}` and `{ds}` (stage {stage})"
                )))
            }
            _ => {}
        }
        let (ids, correct) = read_predictions(&dir.join("predictions.csv"), metric)?;
        // Paired bootstrap needs the same examples, in the same order, for every model.
        match &examples {
            None => examples = Some((stage.clone(), ids)),
            Some((first, first_ids)) if *first_ids != ids => {
                return Err(StageError::Failed(format!(
                    "column `{name}`: stages {first} and {stage} were evaluated on different examples"
                )))
            }
            _ => {}
        }
        check_accuracy(dir, &eval, metric, &correct)?;
        // A model met again is another seed of it.
        match values.entry(model.clone()) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(Source::Correct(vec![correct]));
                order.push(model);
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                if let Source::Correct(seeds) = e.get_mut() {
                    seeds.push(correct);
                }
            }
        }
    }
    let dataset = dataset.unwrap_or_default();
    let examples = examples.map(|(_, ids)| {
        let key = format!("{dataset} {}", examples_digest(&ids));
        (key, majority_rate(&ids))
    });
    Ok(Loaded {
        label: spec.label.clone().unwrap_or_else(|| {
            // The dataset's name without the split.
            dataset.split(" (").next().unwrap_or(&dataset).to_string()
        }),
        source: format!("{} ({dataset})", stages.join(", ")),
        order,
        values,
        examples,
    })
}

/// `sha256:<hex>` of the examples' (index, label) list: names the examples for resampling.
fn examples_digest(ids: &[(String, String)]) -> String {
    let mut text = String::new();
    for (index, label) in ids {
        text.push_str(index);
        text.push(',');
        text.push_str(label);
        text.push('\n');
    }
    format!("sha256:{}", Digest::of(text.as_bytes()).hex())
}

/// The share of the most frequent label, percent: the accuracy of always predicting it.
fn majority_rate(ids: &[(String, String)]) -> f64 {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, label) in ids {
        *counts.entry(label.as_str()).or_default() += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    100.0 * top as f64 / ids.len().max(1) as f64
}

/// `eval.json`'s accuracy must be what its predictions say: otherwise the intervals would
/// describe different numbers than the table.
fn check_accuracy(
    dir: &Path,
    eval: &Value,
    metric: &str,
    correct: &[bool],
) -> Result<(), StageError> {
    let hits = correct.iter().filter(|&&c| c).count() as f64 / correct.len().max(1) as f64;
    match eval[metric].as_f64() {
        Some(v) if (v - hits).abs() <= 1e-6 => Ok(()),
        Some(v) => Err(bad(
            dir,
            &format!("eval.json says {metric} = {v}, predictions.csv gives {hits}"),
        )),
        None => Err(bad(dir, &format!("eval.json has no number `{metric}`"))),
    }
}

fn bad(dir: &Path, msg: &str) -> StageError {
    StageError::Failed(format!("{}: {msg}", dir.display()))
}

fn read_json(path: &Path) -> Result<Value, StageError> {
    let text =
        std::fs::read(path).map_err(|e| StageError::Failed(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&text)
        .map_err(|e| StageError::Failed(format!("{}: {e}", path.display())))
}

/// (index, label) of every example, and whether each prediction was correct.
type Predictions = (Vec<(String, String)>, Vec<bool>);

/// (index,label) of every example and whether the `metric` prediction was correct.
fn read_predictions(path: &Path, metric: &str) -> Result<Predictions, StageError> {
    let fail = |line: u64, msg: String| {
        StageError::Failed(format!("{}, line {line}: {msg}", path.display()))
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| fail(0, e.to_string()))?;
    let header = r.headers().map_err(|e| fail(1, e.to_string()))?.clone();
    let want = format!("correct_{metric}");
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| fail(1, format!("no column `{n}`")))
    };
    let (ci, li, ki) = (col("index")?, col("label")?, col(&want)?);
    let (mut ids, mut correct) = (Vec::new(), Vec::new());
    for rec in r.records() {
        let rec = rec.map_err(|e| fail(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let c = match rec.get(ki).unwrap_or("") {
            "1" | "true" => true,
            "0" | "false" => false,
            other => return Err(fail(line, format!("`{want}` is `{other}`, not 0 or 1"))),
        };
        ids.push((
            rec.get(ci).unwrap_or("").to_string(),
            rec.get(li).unwrap_or("").to_string(),
        ));
        correct.push(c);
    }
    if correct.is_empty() {
        return Err(fail(1, "no predictions".into()));
    }
    Ok((ids, correct))
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => s.strip_prefix(head).is_some_and(|rest| {
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob(tail, &rest[i..]))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An evaluate stage's output: `correct` per example (label = index % 3).
    fn eval_dir(
        root: &Path,
        stage: &str,
        model: &str,
        dataset: &str,
        correct: &[bool],
    ) -> std::path::PathBuf {
        let dir = root.join(stage);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut csv = String::from("index,label,pred,correct_top1,correct_top5\n");
        for (i, c) in correct.iter().enumerate() {
            let pred = if *c { i % 3 } else { (i + 1) % 3 };
            csv.push_str(&format!("{i},{},{pred},{},1\n", i % 3, u8::from(*c)));
        }
        std::fs::write(dir.join("predictions.csv"), csv).expect("write");
        let top1 = correct.iter().filter(|&&c| c).count() as f64 / correct.len() as f64;
        let eval = json!({"model": model, "dataset": dataset, "n": correct.len(), "top1": top1,
            "top5": 1.0, "per_class_top1": [], "class_names": []});
        std::fs::write(dir.join("eval.json"), eval.to_string()).expect("write");
        dir
    }

    #[test]
    fn glob_matches_stars() {
        assert!(glob(
            "evaluate@*-mini_imagenot",
            "evaluate@vgg19-mini_imagenot"
        ));
        assert!(!glob(
            "evaluate@*-mini_imagenot",
            "evaluate@vgg19-fashion_mnist"
        ));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYc"));
    }

    #[test]
    fn params_are_validated_and_defaulted() {
        let k = RankStats;
        let ok = k
            .resolve_params(
                &json!({"models": ["m0"], "a": {"inputs": "e@*"}, "b": {"csv": "data/x.csv"}}),
            )
            .expect("valid");
        assert_eq!(ok["resamples"], 2000);
        assert_eq!(ok["b"]["column"], "top1");
        assert!(k
            .resolve_params(&json!({"a": {"inputs": "e@*"}, "b": {"csv": "x"}}))
            .is_err());
        assert!(k
            .resolve_params(&json!({"a": {"inputs": ["x"], "csv": "y"}, "b": {"csv": "x"}}))
            .is_err());
        assert!(k
            .resolve_params(&json!({"a": {"inputs": ["x"]}, "b": {"csv": "x"}, "resamples": 10}))
            .is_err());
        assert!(k
            .resolve_params(&json!({"a": {"inputs": ["x"]}, "b": {"csv": "x"}, "typo": 1}))
            .is_err());
    }

    #[test]
    fn runs_on_evaluate_outputs_and_a_published_csv() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        std::fs::create_dir_all(root.join("data")).expect("mkdir");
        std::fs::write(
            root.join("data/pub.csv"),
            "model,top1\nm0,50\nm1,60\nm2,70\nm3,65\n",
        )
        .expect("write");
        let mut inputs = BTreeMap::new();
        let models = ["m0", "m1", "m2", "m3"];
        for (k, m) in models.iter().enumerate() {
            // m_k gets the first 2 + 2k of 12 examples right.
            let correct: Vec<bool> = (0..12).map(|i| i < 2 + 2 * k).collect();
            let stage = format!("evaluate@{m}-toy");
            inputs.insert(stage.clone(), eval_dir(root, &stage, m, "toy", &correct));
        }
        let out = root.join("out");
        std::fs::create_dir_all(&out).expect("mkdir");
        let params = RankStats
            .resolve_params(&json!({"models": models, "a": {"inputs": "evaluate@*-toy"},
                "b": {"csv": "data/pub.csv", "label": "published"}, "resamples": 1000, "seed": 5}))
            .expect("valid");
        let mut ctx = StageContext::detached("stats", params, out.clone(), root.to_path_buf());
        ctx.inputs = inputs;
        RankStats.run(&mut ctx).expect("runs");
        let r: RankStatsResult =
            serde_json::from_slice(&std::fs::read(out.join("stats.json")).expect("stats.json"))
                .expect("parses");
        assert_eq!(r.a.label, "toy");
        assert_eq!(r.a.examples, Some(12));
        assert_eq!(r.b.label, "published");
        assert!(r.b.source.starts_with("data/pub.csv (column top1, sha256 "));
        let a: Vec<f64> = r.models.iter().map(|m| m.a).collect();
        assert!((a[1] - 100.0 * 4.0 / 12.0).abs() < 1e-9);
        // a ranks m3 first, b ranks m2 first: one discordant pair of six.
        assert!((r.point.kendall_tau_b.expect("tau") - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(r.bootstrap.resamples, 1000);
        let table = std::fs::read_to_string(out.join("table.csv")).expect("table.csv");
        assert_eq!(table.lines().count(), 5);
        assert!(table.starts_with("model,a,a_lo,a_hi,b,"));
    }

    #[test]
    fn several_stages_of_a_model_are_its_seeds() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        let mut inputs = BTreeMap::new();
        let models = ["m0", "m1", "m2"];
        for (k, m) in models.iter().enumerate() {
            for seed in 0..2 {
                // 30 examples; seed 1 gets one more right than seed 0.
                let correct: Vec<bool> = (0..30).map(|i| i < 6 + 6 * k + seed).collect();
                let stage = format!("evaluate@{m}-toy-{seed}");
                inputs.insert(stage.clone(), eval_dir(root, &stage, m, "toy", &correct));
            }
        }
        let run = |b: Value, out: &str| -> RankStatsResult {
            let out = root.join(out);
            std::fs::create_dir_all(&out).expect("mkdir");
            let params = RankStats
                .resolve_params(
                    &json!({"models": models, "a": {"inputs": "evaluate@*-toy-*"},
                    "b": b, "resamples": 1000}),
                )
                .expect("valid");
            let mut ctx = StageContext::detached("stats", params, out.clone(), root.to_path_buf());
            ctx.inputs = inputs.clone();
            RankStats.run(&mut ctx).expect("runs");
            serde_json::from_slice(&std::fs::read(out.join("stats.json")).expect("stats.json"))
                .expect("parses")
        };
        let r = run(json!({"inputs": "evaluate@*-toy-0"}), "out1");
        let m1 = &r.models[1];
        assert_eq!((m1.a_seeds, m1.b_seeds), (2, 1));
        assert!((m1.a - 100.0 * 12.5 / 30.0).abs() < 1e-9, "seed mean");
        assert!(m1.a_sd.is_some() && m1.b_sd.is_none());
        assert_eq!(r.a_runs.seeds, 2);
        assert!(r.a_runs.interval_covers.contains("seeds"));
        assert!(r.b_runs.interval_covers.contains("weights fixed"));
        let ceiling = r.a_runs.noise_ceiling.as_ref().expect("two seeds");
        assert_eq!(ceiling.mean_tau, Some(1.0));
        // Labels are i % 3: a third each.
        let rate = r.a_runs.majority_rate.expect("labels known");
        assert!((rate - 100.0 / 3.0).abs() < 1e-9);
        assert!(
            r.models[0].collapsed_a,
            "21.7% is below the 33.3% majority rate"
        );
        assert!(!r.models[2].collapsed_a);
        assert_eq!(r.a_runs.examples_key, r.b_runs.examples_key);
        assert_eq!(r.order_flips.len(), 3);
        // The same seeds against another column: the same intervals.
        let again = run(json!({"inputs": "evaluate@*-toy-1"}), "out2");
        for (x, y) in r.models.iter().zip(&again.models) {
            assert_eq!(x.a_interval, y.a_interval);
        }
    }
}
