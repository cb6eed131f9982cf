//! rank_stats and report through the real binary and engine: `cmd` stages stand in for the
//! evaluate stages (same `eval.json` + `predictions.csv` layout), then `repro run`, and the
//! rendered README must cite the digest of the `stats.json` it shows, with its numbers.

use repro::stats::RankStatsResult;
use std::path::Path;
use std::process::Command;

const FAKE_EVAL: &str = r#"#!/bin/sh
# fake_eval.sh MODEL DATASET: an evaluate stage's outputs with a per-model skill.
case "$1" in alexnet) s=0.30;; vgg19) s=0.42;; resnet152) s=0.47;; *) s=0.55;; esac
awk -v m="$1" -v d="$2" -v s="$s" -v out="$REPRO_OUT" 'BEGIN {
  srand(length(m) * 7 + length(d)); n = 300; hit = 0
  f = out "/predictions.csv"; print "index,label,pred,correct_top1,correct_top5" > f
  for (i = 0; i < n; i++) { c = (rand() < s) ? 1 : 0; hit += c
    print i "," (i % 10) "," (c ? i % 10 : (i + 1) % 10) "," c ",1" > f }
  printf "{\"model\":\"%s\",\"dataset\":\"%s\",\"n\":%d,\"top1\":%.17g,\"top5\":1,\"per_class_top1\":[],\"class_names\":[]}\n", m, d, n, hit / n > (out "/eval.json")
}'
"#;

const PIPELINE: &str = r#"stages:
  evaluate:
    kind: cmd
    matrix: {model: [alexnet, vgg19, resnet152, convnext_large], dataset: [toy_not, toy_net]}
    deps: [fake_eval.sh]
    params: {cmd: "sh fake_eval.sh ${model} ${dataset}"}
  stats-published-vs-toy:
    kind: rank_stats
    inputs: [evaluate]
    deps: [data/imagenet_top1.csv]
    params:
      models: [alexnet, vgg19, resnet152, convnext_large]
      a: {label: ImageNet (published), csv: data/imagenet_top1.csv}
      b: {label: toy-ImageNot, inputs: "evaluate@*-toy_not"}
      resamples: 1000
  reports:
    kind: report
    inputs: [stats-published-vs-toy]
"#;

fn repro(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run repro");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "repro {args:?} failed:\n{text}");
    text
}

#[test]
fn report_cites_and_shows_the_stats_artifact() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    let published = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/imagenet_top1.csv");
    std::fs::copy(published, dir.join("data/imagenet_top1.csv")).expect("copy csv");
    std::fs::write(dir.join("fake_eval.sh"), FAKE_EVAL).expect("write");
    std::fs::write(dir.join("pipeline.yaml"), PIPELINE).expect("write");

    repro(dir, &["run"]);
    repro(dir, &["export", "stats-published-vs-toy", "stats"]);
    repro(dir, &["export", "reports", "reports"]);
    let bytes = std::fs::read(dir.join("stats/stats.json")).expect("stats.json");
    let r: RankStatsResult = serde_json::from_slice(&bytes).expect("parses");
    assert_eq!(r.models.len(), 4);
    assert_eq!(r.b.examples, Some(300));
    assert_eq!(
        r.models[0].a, 56.522,
        "published column read from the committed file"
    );

    let readme =
        std::fs::read_to_string(dir.join("reports/fig1-rankings/README.md")).expect("README");
    let digest = repro::store::Digest::of(&bytes).hex();
    assert!(
        readme.contains(&format!(
            "`stats-published-vs-toy/stats.json` | `sha256:{digest}`"
        )),
        "{readme}"
    );
    let tau = r.point.kendall_tau_b.expect("tau");
    let ci = r.intervals.kendall_tau_b.as_ref().expect("interval");
    let row = format!(
        "| `kendall_tau_b` | {tau:.3} | [{:.3}, {:.3}] |",
        ci.lo, ci.hi
    );
    assert!(readme.contains(&row), "README lacks `{row}`:\n{readme}");
    for m in &r.models {
        assert!(
            readme.contains(&format!("| {} | ", m.model))
                && readme.contains(&format!("| {:.2} |", m.b))
        );
    }
    assert!(dir.join("reports/index.html").is_file());
    assert!(
        repro(dir, &["run"]).contains("0 executed"),
        "a second run reuses everything"
    );
}
