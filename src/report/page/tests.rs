use super::*;

/// A report folder as report stages write it.
fn report(dir: &Path, id: &str, title: &str, readme: &str) {
    let d = dir.join(id);
    std::fs::create_dir_all(&d).expect("mkdir");
    let meta = ReportMeta {
        id: id.into(),
        title: title.into(),
        summary: "s & t".into(),
    };
    std::fs::write(
        d.join("report.json"),
        serde_json::to_vec(&meta).expect("json"),
    )
    .expect("write");
    std::fs::write(d.join("README.md"), readme).expect("write");
}

const README: &str = "# T\n\nWhat the figure shows.\n\n![T](figure.svg)\n\n## Numbers\n\n\
    | model | a (%) | interval |\n| --- | --- | --- |\n| alexnet | 56.52 | [4.18, 7.39] |\n\n\
    ---\n\n## Provenance\n\n| artifact | digest |\n| --- | --- |\n\
    | `stats-a/stats.json` | `sha256:288081eb4d31ca8c91efe7b1b5405ca9bdccde5c` |\n\n\
    rendered by: repro 0.1.0  \n";

fn page(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("index.html")).expect("index.html")
}

#[test]
fn reports_come_in_the_papers_order_with_their_tables() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    // Alphabetically Figure 1 would come after these; the paper puts it first.
    for id in [
        "table-accuracies",
        "dataset-imagenot",
        "fig1-rankings",
        "zz-extra",
        "aa-extra",
    ] {
        report(dir, id, &format!("{id} <title>"), README);
    }
    std::fs::create_dir_all(dir.join("not-a-report")).expect("mkdir");
    write_page(dir, &PageContext::default()).expect("page");
    let html = page(dir);
    let at = |id: &str| {
        html.find(&format!("<section class=\"report\" id=\"{id}\""))
            .unwrap_or_else(|| panic!("no section {id}"))
    };
    let order = [
        "fig1-rankings",
        "table-accuracies",
        "dataset-imagenot",
        "aa-extra",
        "zz-extra",
    ];
    for pair in order.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{} before {}", pair[0], pair[1]);
    }
    assert!(!html.contains("not-a-report"));
    assert!(html.contains("<td>56.52</td>"), "the numbers table is HTML");
    assert!(html.contains("<figcaption><p>What the figure shows.</p></figcaption>"));
    assert!(
        html.contains("&lt;title&gt;") && html.contains("s &amp; t"),
        "escaped"
    );
    assert!(html.contains("<img src=\"fig1-rankings/figure.svg\""));
    // Without a run: no commit, no date, no verdict column, so reruns write the same bytes.
    assert!(!html.contains("id=\"commit\"") && !html.contains("re-execution"));
    assert!(html.contains("<code>stats-a/stats.json</code>"));
    let again = tmp.path().join("again");
    std::fs::create_dir_all(&again).expect("mkdir");
    for id in [
        "fig1-rankings",
        "aa-extra",
        "zz-extra",
        "dataset-imagenot",
        "table-accuracies",
    ] {
        report(&again, id, &format!("{id} <title>"), README);
    }
    write_page(&again, &PageContext::default()).expect("page");
    assert_eq!(html, page(&again), "the same folders give the same bytes");
}

#[test]
fn a_run_adds_commit_date_origins_and_verdicts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    report(dir, "fig1-rankings", "Figure 1", README);
    let mut ctx = PageContext {
        title: "Study".into(),
        run: Some(RunInfo {
            commit: Some("0123456789abcdef0123".into()),
            dirty: true,
            date: "2026-12-07T16:00:00Z".into(),
        }),
        ..PageContext::default()
    };
    write_page(dir, &ctx).expect("page");
    let html = page(dir);
    assert!(
        html.contains("<code id=\"commit\">0123456789abcdef0123</code> (with uncommitted changes)")
    );
    assert!(html.contains("2026-12-07T16:00:00Z"));
    assert!(
        html.contains("no record in this store"),
        "an artifact without origin says so"
    );
    ctx.origins.insert(
        "sha256:288081eb4d31ca8c91efe7b1b5405ca9bdccde5c".into(),
        Origin {
            stage: "stats-a".into(),
            commit: Some("fedcba9876543210".into()),
            verdict: None,
        },
    );
    write_page(dir, &ctx).expect("page");
    let html = page(dir);
    assert!(html.contains("<code>stats-a</code></td><td><code>fedcba987654</code>"));
    assert!(html.contains("not re-executed"));
    ctx.origins
        .values_mut()
        .for_each(|o| o.verdict = Some("identical".into()));
    write_page(dir, &ctx).expect("page");
    assert!(page(dir).contains("<td class=\"verdict\">identical</td>"));
}

#[test]
fn panels_draw_charts_inline_and_tables() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ctx = PageContext {
        panels: vec![Panel {
            stage: "train".into(),
            title: "train: training curves".into(),
            charts: vec![Chart {
                title: "loss".into(),
                x: "epoch".into(),
                y: "loss".into(),
                series: vec![Series {
                    name: "alexnet".into(),
                    points: vec![(1.0, 2.0), (2.0, 1.0)],
                }],
            }],
            tables: vec![Table {
                title: "scores.json".into(),
                columns: vec!["top1".into(), "name".into()],
                rows: vec![("train@a".into(), vec!["0.9375".into(), "<b>".into()])],
            }],
            problems: vec!["curve.csv: missing".into()],
        }],
        ..PageContext::default()
    };
    write_page(tmp.path(), &ctx).expect("page");
    let html = page(tmp.path());
    assert!(html.contains("<section class=\"panel\" id=\"stage-train\""));
    assert!(html.contains("<figure class=\"chart\"><svg"), "inline SVG");
    assert!(html.contains("<td class=\"num\">0.9375</td><td>&lt;b&gt;</td>"));
    assert!(html.contains("<p class=\"problem\">curve.csv: missing</p>"));
    assert!(html.contains("href=\"#stage-train\""));
}
