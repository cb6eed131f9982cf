//! The report page (`reports/index.html`) through the real binary and a real headless Chromium:
//! a `cmd`-stage pipeline declares `plots:` and `metrics:`, the committed report folders of the
//! ImageNot study sit beside them, and the browser's DOM and screenshot are checked.
//!
//! Without `chromium` on PATH the browser test is skipped with a message, unless
//! REPRO_REQUIRE_CHROMIUM is set (scripts/test.sh sets it after scripts/setup-chromium.sh).

mod common;
use common::Repo;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A matrix of two `cmd` stages, each writing a loss curve (CSV) and scores (JSON).
const PIPELINE: &str = "stages:
  fit:
    kind: cmd
    matrix: {lr: [slow, fast]}
    params: {cmd: \"sh fit.sh ${lr}\"}
    deps: [fit.sh]
    plots:
      - {file: curve.csv, x: epoch, y: loss, title: Loss}
    metrics: [scores.json]
  summary:
    kind: cmd
    inputs: [fit]
    params: {cmd: \"sh summary.sh\"}
    deps: [summary.sh]
    publish: reports
";

const FIT: &str = "set -e
if [ \"$1\" = fast ]; then k=4; else k=2; fi
printf 'epoch,loss\\n1,8\\n2,%s\\n3,1\\n' \"$k\" > \"$REPRO_OUT/curve.csv\"
printf '{\"top1\": 0.9375, \"lr\": \"%s\", \"val\": {\"loss\": %s}}\\n' \"$1\" \"$k\" > \"$REPRO_OUT/scores.json\"
";

/// A report folder of its own (as report stages write them) citing one of `fit@slow`'s files by
/// digest, so its provenance has an action in the store behind it.
const SUMMARY: &str = "set -e
d=$(sha256sum \"$REPRO_IN/fit@slow/scores.json\" | cut -d' ' -f1)
out=\"$REPRO_OUT/fit-summary\"
mkdir -p \"$out\"
printf '{\"id\": \"fit-summary\", \"title\": \"Summary of the fits\", \"summary\": \"top-1\"}' > \"$out/report.json\"
printf '<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"80\"><rect width=\"200\" height=\"80\" fill=\"#36c\"/></svg>' > \"$out/figure.svg\"
printf '# Summary of the fits\\n\\nBoth fits reach the same top-1.\\n\\n| fit | top1 |\\n| --- | --- |\\n| slow | 0.9375 |\\n\\n---\\n\\n## Provenance\\n\\n| artifact | digest |\\n| --- | --- |\\n| `fit@slow/scores.json` | `sha256:%s` |\\n' \"$d\" > \"$out/README.md\"
";

/// The report folders committed in this repository, copied next to the page.
fn copy_committed_reports(to: &Path) -> Vec<String> {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&from).expect("reports/") {
        let dir = entry.expect("entry").path();
        if !dir.join("report.json").is_file() {
            continue;
        }
        let id = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        std::fs::create_dir_all(to.join(&id)).expect("mkdir");
        for file in std::fs::read_dir(&dir).expect("folder") {
            let file = file.expect("file").path();
            std::fs::copy(&file, to.join(&id).join(file.file_name().expect("name"))).expect("copy");
        }
        ids.push(id);
    }
    ids
}

fn study() -> Repo {
    let repo = Repo::new(PIPELINE);
    repo.write("fit.sh", FIT);
    repo.write("summary.sh", SUMMARY);
    let ids = copy_committed_reports(&repo.path().join("reports"));
    assert!(ids.iter().any(|i| i == "fig1-rankings"), "{ids:?}");
    let run = repo.repro(&["run"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("wrote the report page"),
        "{}",
        run.stdout
    );
    repo
}

#[test]
fn declared_plots_and_metrics_reach_the_page() {
    let repo = study();
    let html = repo.read("reports/index.html");
    assert!(html.contains("<section class=\"panel\" id=\"stage-fit\""));
    let panel = &html[html.find("id=\"stage-fit\"").expect("panel")..];
    assert!(panel.contains("<svg"), "the loss chart is inline SVG");
    assert!(panel.contains("Loss: loss"), "titled from `title:` and y");
    // One row per matrix stage, nested fields flattened.
    for cell in [
        "<td>fit@slow</td><td>slow</td><td class=\"num\">0.9375</td>",
        "<th>val.loss</th>",
    ] {
        assert!(panel.contains(cell), "{cell} in\n{panel}");
    }
    assert!(
        html.contains("id=\"commit\""),
        "the page carries the commit"
    );
    assert!(html.contains("not re-executed"));
    // A verdict of `repro verify --rerun`, kept beside fit@slow's record, shows in the
    // provenance of the report citing its output; `repro report` rewrites the page from the
    // store without running anything.
    let key = repo.read("store/refs/stages/fit@slow").trim().to_string();
    repo.write(
        &format!(
            "store/verifications/sha256/{}/{}.json",
            &key[..2],
            &key[2..]
        ),
        &format!(
            r#"{{"action": "{key}", "stage": "fit@slow", "verdict": "within_tolerance",
                "files": [{{"path": "scores.json"}}], "checked_at": "2026-12-07T17:00:00Z"}}"#
        ),
    );
    std::fs::remove_file(repo.path().join("reports/index.html")).expect("rm");
    let r = repo.repro(&["report"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = repo.read("reports/index.html");
    assert!(html.contains("id=\"stage-fit\""));
    assert!(
        html.contains("within tolerance (scores.json), checked 2026-12-07T17:00:00Z")
            && !html.contains("not re-executed"),
        "{html}"
    );
}

#[test]
fn a_bad_declaration_is_an_error_at_its_position_and_a_missing_column_a_note() {
    let repo = Repo::new(&PIPELINE.replace("file: curve.csv", "file: ../curve.csv"));
    repo.write("fit.sh", FIT);
    let r = repo.repro(&["status"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("pipeline.yaml:8:")
            && r.stderr.contains("must be a file of the stage's output"),
        "{}",
        r.stderr
    );
    let repo = Repo::new(&PIPELINE.replace("y: loss", "y: accuracy"));
    repo.write("fit.sh", FIT);
    repo.write("summary.sh", SUMMARY);
    let r = repo.repro(&["run"]);
    assert_eq!(
        r.code, 0,
        "a plot that cannot be drawn does not fail the run: {}",
        r.stderr
    );
    let html = repo.read("reports/index.html");
    assert!(
        html.contains("fit@fast: curve.csv has no column `accuracy`; it has: epoch, loss"),
        "{html}"
    );
}

/// `chromium` (or REPRO_CHROMIUM), or `None` when absent and not required.
fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("REPRO_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(PathBuf::from));
    for c in candidates {
        let found = Command::new(&c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return Some(c);
        }
    }
    assert!(
        std::env::var_os("REPRO_REQUIRE_CHROMIUM").is_none(),
        "REPRO_REQUIRE_CHROMIUM is set but no chromium is on PATH: run scripts/setup-chromium.sh"
    );
    eprintln!(
        "SKIPPED the browser test of the report page: no `chromium` on PATH \
         (install it with scripts/setup-chromium.sh, or set REPRO_CHROMIUM)"
    );
    None
}

/// Run headless Chromium on `page` with `args`; its stdout.
fn browse(chromium: &Path, profile: &Path, page: &Path, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            // Root in a container has no user namespaces for the sandbox.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_page_renders_in_a_real_browser() {
    let Some(chromium) = chromium() else {
        return;
    };
    let repo = study();
    let page = repo.path().join("reports/index.html");
    let profile = repo.path().join("chromium-profile");
    let dom = browse(&chromium, &profile, &page, &["--dump-dom"]);

    // Figures in the paper's order: Figure 1 first, then as `report::all` lists them.
    let order = [
        "fig1-rankings",
        "table-accuracies",
        "fig-pairwise-improvement",
        "dataset-imagenot",
        "dataset-classification",
        "fig-finetune",
        "fig-transfer",
        "fit-summary",
        "stage-fit",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|id| {
            dom.find(&format!("id=\"{id}\""))
                .unwrap_or_else(|| panic!("no element #{id} in the DOM"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "order {order:?} at {at:?}"
    );

    // A number of Figure 1's table, as its README has it, is a cell of an HTML table.
    let readme = repo.read("reports/fig1-rankings/README.md");
    let row = readme
        .lines()
        .find(|l| l.starts_with("| alexnet |"))
        .expect("alexnet's row in Figure 1's README");
    let number = row.split('|').nth(4).expect("4th cell").trim();
    let fig1 = &dom[at[0]..at[1]];
    assert!(
        fig1.contains(&format!("<td>{number}</td>")),
        "Figure 1's section has no cell {number}"
    );
    // The metrics table of the cmd stages, and SVG: the figures and the declared loss chart.
    assert!(dom.contains("<td class=\"num\">0.9375</td>"));
    assert!(dom.contains("<img src=\"fig1-rankings/figure.svg\""));
    assert!(
        dom[at[8]..].contains("<svg"),
        "the loss chart is inline SVG"
    );
    // Provenance: the committed reports cite artifacts of another store; the summary cites
    // one of this store's, made by `fit@slow` at this repository's commit, not re-executed.
    assert!(dom[at[0]..at[1]].contains("no record in this store"));
    let summary = &dom[at[7]..at[8]];
    assert!(
        summary.contains("<td><code>fit@slow</code></td>") && summary.contains("not re-executed"),
        "{summary}"
    );

    // A screenshot that is not blank: many distinct colours, much of it not background.
    let shot = repo.path().join("page.png");
    browse(
        &chromium,
        &profile,
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
        ],
    );
    let img = image::open(&shot).expect("screenshot PNG").to_rgb8();
    let first = *img.get_pixel(0, 0);
    let differing = img.pixels().filter(|p| **p != first).count();
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    let share = differing as f64 / (img.width() * img.height()) as f64;
    assert!(
        share > 0.02 && colours.len() > 50,
        "screenshot looks blank: {:.1}% of pixels differ from the corner, {} colours",
        share * 100.0,
        colours.len()
    );
}
