//! `fig-finetune` and `fig-transfer` render from a real `stats.json` — written by the
//! `rank_stats` stage from evaluate-shaped outputs — and their README numbers are the
//! artifact's; a report stage that `include:`s them links them from one index.

use repro::stage::{self, StageContext};
use repro::stats::RankStatsResult;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const MODELS: [&str; 9] = [
    "alexnet",
    "vgg19",
    "inception_v3",
    "resnet152",
    "densenet161",
    "mobilenet_v3_large",
    "efficientnet_v2_l",
    "vit_b_16",
    "convnext_large",
];

/// An evaluate stage's outputs for `model` on `dataset`: example e is correct when
/// (e * 7 + k * 3 + shift) % 100 < base + 4k (k = the model's index).
fn eval_dir(
    root: &Path,
    name: &str,
    model: usize,
    dataset: &str,
    base: usize,
    shift: usize,
) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut csv = String::from("index,label,pred,correct_top1,correct_top5\n");
    let mut hits = 0;
    for e in 0..400 {
        let ok = (e * 7 + model * 3 + shift) % 100 < base + 4 * model;
        hits += usize::from(ok);
        let label = e % 10;
        let pred = if ok { label } else { (label + 1) % 10 };
        csv.push_str(&format!("{e},{label},{pred},{},1\n", u8::from(ok)));
    }
    std::fs::write(dir.join("predictions.csv"), csv).expect("csv");
    let eval = json!({"model": MODELS[model], "dataset": dataset, "split": "val", "n": 400,
                      "top1": hits as f64 / 400.0, "top5": 1.0});
    std::fs::write(dir.join("eval.json"), eval.to_string()).expect("eval.json");
    dir
}

fn run(
    kind: &str,
    root: &Path,
    name: &str,
    params: Value,
    inputs: &[(String, PathBuf)],
) -> PathBuf {
    let out = root.join(name);
    std::fs::create_dir_all(&out).expect("mkdir");
    let k = stage::find(kind).expect("kind");
    let params = k.resolve_params(&params).expect("params");
    let mut ctx = StageContext::detached(name, params, out.clone(), root.to_path_buf());
    for (n, d) in inputs {
        ctx.inputs.insert(n.clone(), d.clone());
    }
    k.run(&mut ctx)
        .unwrap_or_else(|e| panic!("{kind} `{name}`: {e}"));
    out
}

/// Rows of the first Markdown table after `heading`.
fn table_after(md: &str, heading: &str) -> Vec<Vec<String>> {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}` in:\n{md}"));
    md[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn close(cell: &str, v: f64) {
    let p: f64 = cell
        .parse()
        .unwrap_or_else(|_| panic!("`{cell}` is not a number"));
    assert!((p - v).abs() <= 0.005 + 1e-9, "README {cell}, artifact {v}");
}

#[test]
fn finetune_and_transfer_reports_show_the_artifact_numbers_and_are_indexed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    let mut inputs = Vec::new();
    for (k, model) in MODELS.iter().enumerate() {
        for (col, ds, base, shift) in [("scratch", "toy", 20, 0), ("tuned", "toy", 26, 5)] {
            let name = format!("evaluate-{col}@{model}");
            inputs.push((name.clone(), eval_dir(root, &name, k, ds, base, shift)));
        }
    }
    let stats_params = |a: &str, b: &str| {
        json!({"models": MODELS, "resamples": 1000, "seed": 3,
               "a": {"label": a, "inputs": "evaluate-scratch@*"},
               "b": {"label": b, "inputs": "evaluate-tuned@*"}})
    };
    let stats = run(
        "rank_stats",
        root,
        "stats-ft",
        stats_params("from scratch", "fine-tuned"),
        &inputs,
    );
    let bytes = std::fs::read(stats.join("stats.json")).expect("stats.json");
    let r: RankStatsResult = serde_json::from_slice(&bytes).expect("RankStatsResult");
    let stats_in = vec![("stats-ft".to_string(), stats.clone())];

    let ft = run(
        "report",
        root,
        "reports-finetune",
        json!({"comparisons": ["stats-ft"], "reports": ["fig-finetune"]}),
        &stats_in,
    );
    let tr = run(
        "report",
        root,
        "reports-transfer",
        json!({"comparisons": ["stats-ft", "stats-ft"], "reports": ["fig-transfer"]}),
        &stats_in,
    );
    for (dir, id) in [(&ft, "fig-finetune"), (&tr, "fig-transfer")] {
        let png = std::fs::read(dir.join(id).join("figure.png")).expect("png");
        assert!(png.starts_with(b"\x89PNG"), "{id}");
        let svg = std::fs::read_to_string(dir.join(id).join("figure.svg")).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("ConvNeXt-L"), "{id}");
        let md = std::fs::read_to_string(dir.join(id).join("README.md")).expect("README");
        let rows = table_after(&md, "## Numbers");
        assert_eq!(rows.len(), 9, "{id}");
        for (row, m) in rows.iter().zip(&r.models) {
            assert_eq!(row[0], m.model);
            close(&row[1], m.a);
            close(&row[3], m.b);
            let diff = if id == "fig-finetune" {
                m.b - m.a
            } else {
                m.a - m.b
            };
            close(&row[5], diff);
            close(&row[6], m.rank_a);
            close(&row[7], m.rank_b);
        }
        let tau = r.point.kendall_tau_b.expect("τ defined");
        assert!(
            md.contains(&format!("{tau:.3}")),
            "{id}: τ {tau:.3} missing"
        );
        assert!(
            md.contains(&repro::store::Digest::of(&bytes).hex()),
            "{id}: provenance"
        );
    }
    // The transfer report lists its further comparisons.
    let md = std::fs::read_to_string(tr.join("fig-transfer/README.md")).expect("README");
    assert!(md.contains("own ranking vs its transfer ranking"));
    // Not drawn unless named: the default report set skips them.
    assert!(!ft.join("fig1-rankings").exists());

    // One index over everything.
    let main = run(
        "report",
        root,
        "reports",
        json!({"comparisons": ["stats-ft"], "include": ["reports-finetune", "reports-transfer"]}),
        &[
            stats_in[0].clone(),
            ("reports-finetune".to_string(), ft.clone()),
            ("reports-transfer".to_string(), tr.clone()),
        ],
    );
    let index = std::fs::read_to_string(main.join("index.html")).expect("index");
    for id in ["fig1-rankings", "fig-finetune", "fig-transfer"] {
        assert!(
            index.contains(&format!("href=\"{id}/README.md\"")),
            "{id} not in index"
        );
        assert!(main.join(id).join("figure.png").is_file(), "{id}");
    }
    // An include that is not a report stage is a clear error.
    let k = stage::find("report").expect("kind");
    let params = k
        .resolve_params(&json!({"comparisons": ["stats-ft"], "include": ["stats-ft"]}))
        .expect("params");
    let out = root.join("bad");
    std::fs::create_dir_all(&out).expect("mkdir");
    let mut ctx = StageContext::detached("bad", params, out, root.to_path_buf());
    ctx.inputs.insert("stats-ft".into(), stats);
    let e = k.run(&mut ctx).expect_err("not a report stage").to_string();
    assert!(e.contains("no report folders"), "{e}");
}
