//! `index.html`: the study's report as one page. Every report folder (`<id>/report.json`) in
//! the paper's order (the order of [`crate::report::all`], Figure 1 first; other folders after,
//! by id), each with its figure, caption, numbers tables and intervals (its README, rendered)
//! and its provenance; then the panels of training curves and of the `plots:` and `metrics:`
//! stages declare. One file with inline SVG and relative links: it opens from `file://`, with
//! no server, script or network.
//!
//! The page renders what [`PageContext`] holds; gathering it (records, verdicts, declared files)
//! is the caller's. Without a run ([`PageContext::default`], inside a report stage) the page
//! holds no commit, date or verdicts, so it is the same bytes on every rerun.

mod chart;
pub mod data;
mod readme;

pub use chart::{Chart, Series};

use super::{io_err, ReportError, ReportMeta};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Everything the page shows beyond the report folders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageContext {
    /// The page's heading; "Reports" when empty.
    pub title: String,
    /// Commit, date and version the page was written at.
    pub run: Option<RunInfo>,
    /// Where each cited artifact came from, by digest (`sha256:…`).
    pub origins: BTreeMap<String, Origin>,
    /// Training curves, declared plots and metrics, one panel per stage of the pipeline.
    pub panels: Vec<Panel>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    pub commit: Option<String>,
    /// Tracked files differed from the commit.
    pub dirty: bool,
    /// RFC 3339, UTC.
    pub date: String,
}

/// The action that made an artifact, from its record in the store.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    pub stage: String,
    pub commit: Option<String>,
    /// The re-execution verdict stored beside the record, in words; `None`: not re-executed.
    pub verdict: Option<String>,
}

/// What one stage of the pipeline shows: charts and tables of its outputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// The stage's name as written in pipeline.yaml (a matrix's base name).
    pub stage: String,
    pub title: String,
    pub charts: Vec<Chart>,
    pub tables: Vec<Table>,
    /// Declared files that could not be drawn, each with why: shown, not fatal.
    pub problems: Vec<String>,
}

/// A metrics table: one row per stage of a matrix, one column per field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    /// (stage name, one cell per column; empty where that stage's file lacks the field).
    pub rows: Vec<(String, Vec<String>)>,
}

/// Write `dir/index.html` from the report folders in `dir` and `ctx`.
pub fn write_page(dir: &Path, ctx: &PageContext) -> Result<(), ReportError> {
    let reports = report_folders(dir)?;
    let mut html = String::new();
    head(&mut html, ctx);
    contents(&mut html, &reports, ctx);
    for (meta, readme) in &reports {
        report_section(&mut html, meta, readme, ctx);
    }
    for panel in &ctx.panels {
        panel_section(&mut html, panel)?;
    }
    html.push_str("</main>\n</body>\n</html>\n");
    let path = dir.join("index.html");
    std::fs::write(&path, html).map_err(io_err(&path))
}

/// The digests (`sha256:…`) the READMEs of the report folders in `dir` cite, for the caller to
/// find each one's [`Origin`].
pub fn cited_digests(dir: &Path) -> Result<Vec<String>, ReportError> {
    let mut digests: Vec<String> = report_folders(dir)?
        .into_iter()
        .flat_map(|(_, readme)| readme.artifacts.into_iter().map(|(_, d)| d))
        .collect();
    digests.sort();
    digests.dedup();
    Ok(digests)
}

/// Every `dir/<id>/report.json`, with its README taken apart, in the paper's order.
fn report_folders(dir: &Path) -> Result<Vec<(ReportMeta, readme::Readme)>, ReportError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let folder = entry.map_err(io_err(dir))?.path();
        let Ok(bytes) = std::fs::read(folder.join("report.json")) else {
            continue;
        };
        let Ok(meta) = serde_json::from_slice::<ReportMeta>(&bytes) else {
            continue;
        };
        let text = std::fs::read_to_string(folder.join("README.md")).unwrap_or_default();
        let readme = readme::parse(&text, &meta.id);
        found.push((meta, readme));
    }
    let order: Vec<&'static str> = super::all().iter().map(|r| r.id()).collect();
    let rank = |id: &str| order.iter().position(|o| *o == id).unwrap_or(order.len());
    found.sort_by(|(a, _), (b, _)| (rank(&a.id), &a.id).cmp(&(rank(&b.id), &b.id)));
    Ok(found)
}

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;margin:0;color:#222}\
main{max-width:1150px;margin:0 auto;padding:1em 1.5em 4em}\
header.run{color:#555}header.run code{font-size:.95em}\
nav ol{columns:2}section{margin:2.5em 0;border-top:1px solid #ccc;padding-top:.5em}\
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}\
figcaption{color:#444;margin-top:.4em}\
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left}td{white-space:nowrap}th{background:#f3f3f3}\
td.num{text-align:right;font-variant-numeric:tabular-nums}\
.scroll{overflow-x:auto}.charts{display:flex;flex-wrap:wrap;gap:1em}\
details.provenance{background:#fafafa;padding:.4em .8em;border:1px solid #e3e3e3}\
.verdict-none{color:#777}code.digest{font-size:.8em}.problem{color:#a00}";

fn head(html: &mut String, ctx: &PageContext) {
    let title = if ctx.title.is_empty() {
        "Reports"
    } else {
        &ctx.title
    };
    let version = env!("CARGO_PKG_VERSION");
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"generator\" content=\"repro {version}\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n<header class=\"run\">",
        esc(title),
        esc(title)
    );
    let _ = write!(html, "repro <span id=\"repro-version\">{version}</span>");
    if let Some(run) = &ctx.run {
        let commit = run
            .commit
            .as_deref()
            .unwrap_or("none (not a git repository)");
        let dirty = if run.dirty {
            " (with uncommitted changes)"
        } else {
            ""
        };
        let _ = write!(
            html,
            " · commit <code id=\"commit\">{}</code>{dirty} · written <time id=\"date\" datetime=\"{1}\">{1}</time>",
            esc(commit),
            esc(&run.date)
        );
    }
    html.push_str("</header>\n");
}

fn contents(html: &mut String, reports: &[(ReportMeta, readme::Readme)], ctx: &PageContext) {
    html.push_str("<nav>\n<ol>\n");
    for (meta, _) in reports {
        let _ = writeln!(
            html,
            "<li><a href=\"#{}\">{}</a></li>",
            esc(&meta.id),
            esc(&meta.title)
        );
    }
    for p in &ctx.panels {
        let _ = writeln!(
            html,
            "<li><a href=\"#stage-{}\">{}</a></li>",
            esc(&p.stage),
            esc(&p.title)
        );
    }
    html.push_str("</ol>\n</nav>\n");
}

fn report_section(
    html: &mut String,
    meta: &ReportMeta,
    readme: &readme::Readme,
    ctx: &PageContext,
) {
    let id = esc(&meta.id);
    let _ = write!(
        html,
        "<section class=\"report\" id=\"{id}\" data-report=\"{id}\">\n<h2>{}</h2>\n<p class=\"summary\">{}</p>\n\
         <figure><a href=\"{id}/figure.svg\"><img src=\"{id}/figure.svg\" alt=\"{}\"></a>\n<figcaption>{}</figcaption></figure>\n\
         <div class=\"scroll\">\n{}</div>\n",
        esc(&meta.title),
        esc(&meta.summary),
        esc(&meta.title),
        readme.caption.trim_end(),
        readme.body
    );
    provenance(html, readme, ctx);
    let _ = writeln!(
        html,
        "<p><a href=\"{id}/README.md\">README.md</a> · <a href=\"{id}/figure.svg\">figure.svg</a> · \
         <a href=\"{id}/figure.png\">figure.png</a></p>\n</section>"
    );
}

/// The artifacts a report cites: digest, and with a store the stage, commit and re-execution
/// verdict of the action that made each.
fn provenance(html: &mut String, readme: &readme::Readme, ctx: &PageContext) {
    if readme.artifacts.is_empty() {
        return;
    }
    let with_store = ctx.run.is_some();
    html.push_str("<details class=\"provenance\" open>\n<summary>Provenance</summary>\n<div class=\"scroll\"><table>\n<thead><tr><th>artifact</th>");
    if with_store {
        html.push_str("<th>made by</th><th>commit</th><th>re-execution</th>");
    }
    html.push_str("<th>digest</th></tr></thead>\n<tbody>\n");
    for (name, digest) in &readme.artifacts {
        let _ = write!(html, "<tr><td><code>{}</code></td>", esc(name));
        if with_store {
            match ctx.origins.get(digest) {
                Some(o) => {
                    let commit = o
                        .commit
                        .as_deref()
                        .map_or("—", |c| c.get(..12).unwrap_or(c));
                    let verdict = match &o.verdict {
                        Some(v) => format!("<td class=\"verdict\">{}</td>", esc(v)),
                        None => "<td class=\"verdict verdict-none\">not re-executed</td>".into(),
                    };
                    let _ = write!(
                        html,
                        "<td><code>{}</code></td><td><code>{}</code></td>{verdict}",
                        esc(&o.stage),
                        esc(commit)
                    );
                }
                None => html.push_str(
                    "<td colspan=\"3\" class=\"verdict-none\">no record in this store</td>",
                ),
            }
        }
        // Last: the widest column, scrolled to rather than squeezing the others.
        let _ = writeln!(
            html,
            "<td><code class=\"digest\">{}</code></td></tr>",
            esc(digest)
        );
    }
    let _ = write!(
        html,
        "</tbody></table></div>\n{}</details>\n",
        readme.footer
    );
}

fn panel_section(html: &mut String, panel: &Panel) -> Result<(), ReportError> {
    let id = esc(&panel.stage);
    let _ = writeln!(
        html,
        "<section class=\"panel\" id=\"stage-{id}\" data-stage=\"{id}\">\n<h2>{}</h2>",
        esc(&panel.title)
    );
    if !panel.charts.is_empty() {
        html.push_str("<div class=\"charts\">\n");
        for chart in &panel.charts {
            let _ = writeln!(html, "<figure class=\"chart\">{}</figure>", chart.to_svg()?);
        }
        html.push_str("</div>\n");
    }
    for table in &panel.tables {
        metrics_table(html, table);
    }
    for p in &panel.problems {
        let _ = writeln!(html, "<p class=\"problem\">{}</p>", esc(p));
    }
    html.push_str("</section>\n");
    Ok(())
}

fn metrics_table(html: &mut String, table: &Table) {
    let _ = write!(
        html,
        "<h3>{}</h3>\n<div class=\"scroll\"><table class=\"metrics\">\n<thead><tr><th>stage</th>",
        esc(&table.title)
    );
    for c in &table.columns {
        let _ = write!(html, "<th>{}</th>", esc(c));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for (stage, cells) in &table.rows {
        let _ = write!(html, "<tr><td>{}</td>", esc(stage));
        for cell in cells {
            let class = if cell.parse::<f64>().is_ok() {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(html, "<td{class}>{}</td>", esc(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests;
