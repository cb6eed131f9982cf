//! The reports' numbers are the numbers of the artifacts they cite: render every report from a
//! computed `RankStatsResult`, read the README tables back, and compare cell by cell at the
//! precision the README prints.

use repro::report::markdown::{ACC_DECIMALS, STAT_DECIMALS};
use repro::report::{self, ArtifactRef, NamedStats, Provenance, ReportInputs};
use repro::stats::{analyze, BootstrapConfig, Column, ColumnInfo, RankStatsResult};

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

fn result() -> RankStatsResult {
    // Model k answers example e correctly when (e * 7 + k * 3) % 100 < 20 + 4k: accuracies rise
    // with k, and the pattern differs per model so resampling moves them apart.
    let correct: Vec<Vec<bool>> = (0..9)
        .map(|k| {
            (0..300)
                .map(|e| (e * 7 + k * 3) % 100 < 20 + 4 * k)
                .collect()
        })
        .collect();
    let published = vec![
        56.522, 72.376, 77.294, 78.312, 77.138, 74.042, 85.808, 81.072, 84.414,
    ];
    let models: Vec<String> = MODELS.iter().map(|s| s.to_string()).collect();
    let info = |l: &str| ColumnInfo {
        label: l.into(),
        source: "test".into(),
        examples: None,
    };
    let cfg = BootstrapConfig {
        resamples: 1000,
        seed: 11,
        level: 0.95,
    };
    analyze(
        &models,
        (info("toy-ImageNot"), &Column::Examples(correct)),
        (info("ImageNet (published)"), &Column::Fixed(published)),
        &cfg,
    )
    .expect("analysis")
}

/// Rows of the first Markdown table after `heading`, as cells.
fn table_after(md: &str, heading: &str) -> Vec<Vec<String>> {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}` in README"));
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

fn same(cell: &str, value: f64, decimals: usize) {
    let parsed: f64 = cell
        .parse()
        .unwrap_or_else(|_| panic!("`{cell}` is not a number"));
    let tolerance = 0.5 * 10f64.powi(-(decimals as i32)) + 1e-12;
    assert!(
        (parsed - value).abs() <= tolerance,
        "README shows {cell}, artifact has {value}"
    );
}

fn same_interval(cell: &str, lo: f64, hi: f64, decimals: usize) {
    let inner = cell.trim_start_matches('[').trim_end_matches(']');
    let (a, b) = inner
        .split_once(", ")
        .unwrap_or_else(|| panic!("`{cell}` is not an interval"));
    same(a, lo, decimals);
    same(b, hi, decimals);
}

#[test]
fn readme_numbers_equal_the_artifact() {
    let r = result();
    let tmp = tempfile::tempdir().expect("tmp");
    let provenance = Provenance {
        artifacts: vec![ArtifactRef {
            name: "stats-toy/stats.json".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
        }],
        stage: "reports".into(),
        command: "repro report".into(),
        repro_version: "test".into(),
    };
    let inputs = ReportInputs {
        stats: vec![NamedStats {
            name: "stats-toy".into(),
            result: r.clone(),
        }],
        datasets: Vec::new(),
        ..Default::default()
    };
    let metas = report::render(&[], &inputs, &provenance, tmp.path()).expect("renders");
    assert_eq!(
        metas.len(),
        3,
        "the dataset report is skipped without a dataset input"
    );

    let md = std::fs::read_to_string(tmp.path().join("fig1-rankings/README.md")).expect("README");
    let rows = table_after(&md, "## Numbers");
    assert_eq!(rows.len(), 9);
    for (row, m) in rows.iter().zip(&r.models) {
        assert_eq!(row[0], m.model);
        same(&row[1], m.rank_a, 1);
        same(&row[2], m.rank_b, 1);
        same(&row[3], m.a, ACC_DECIMALS);
        let ci = m
            .a_interval
            .as_ref()
            .expect("resampled column has intervals");
        same_interval(&row[4], ci.lo, ci.hi, ACC_DECIMALS);
        same(&row[5], m.b, ACC_DECIMALS);
        assert_eq!(row[6], "—", "published numbers have no interval");
        same(&row[7], m.improvement_a.expect("defined"), STAT_DECIMALS);
        same(&row[8], m.improvement_b.expect("defined"), STAT_DECIMALS);
    }
    let stats = table_after(&md, "## Statistics");
    assert_eq!(stats.len(), 7);
    for (row, (name, value)) in stats.iter().zip(r.point.named()) {
        assert_eq!(row[1], format!("`{name}`"));
        same(&row[2], value.expect("defined"), STAT_DECIMALS);
        let ci = r.intervals.get(name).expect("interval");
        same_interval(&row[3], ci.lo, ci.hi, STAT_DECIMALS);
    }
    let p = r.kendall_tau_p_value.as_ref().expect("p-value");
    assert!(
        md.contains(&format!("{:.4} two-sided", p.two_sided)),
        "{md}"
    );
    assert!(
        md.contains(&"ab".repeat(32))
            && md.contains("`repro audit reports`")
            && md.contains("`repro report`")
    );

    let table =
        std::fs::read_to_string(tmp.path().join("table-accuracies/README.md")).expect("README");
    let rows = table_after(&table, "## Accuracy");
    for (row, m) in rows.iter().zip(&r.models) {
        same(&row[1], m.a, ACC_DECIMALS);
        same(&row[3], m.b, ACC_DECIMALS);
    }

    let pairs = std::fs::read_to_string(tmp.path().join("fig-pairwise-improvement/README.md"))
        .expect("README");
    let rows = table_after(&pairs, "## toy-ImageNot");
    assert_eq!(rows.len(), 36);
    for (row, p) in rows.iter().zip(&r.pairs) {
        assert_eq!(
            (row[0].as_str(), row[1].as_str()),
            (p.from.as_str(), p.to.as_str())
        );
        same(&row[2], p.a, 4);
        same(&row[3], p.b, 4);
    }

    for id in [
        "fig1-rankings",
        "table-accuracies",
        "fig-pairwise-improvement",
    ] {
        let png = std::fs::read(tmp.path().join(id).join("figure.png")).expect("png");
        assert!(png.starts_with(b"\x89PNG"), "{id}/figure.png is a PNG");
        let svg = std::fs::read_to_string(tmp.path().join(id).join("figure.svg")).expect("svg");
        assert!(svg.contains("<svg"), "{id}/figure.svg is SVG");
    }
    let index = std::fs::read_to_string(tmp.path().join("index.html")).expect("index");
    for id in [
        "fig1-rankings/README.md",
        "table-accuracies/figure.png",
        "fig-pairwise-improvement/figure.svg",
    ] {
        assert!(
            index.contains(&format!("href=\"{id}\"")) || index.contains(&format!("src=\"{id}\"")),
            "{id}"
        );
    }
}
