//! `index.html`: one page linking every report folder, openable straight from disk (relative
//! links, no scripts, no network).

use super::{io_err, ReportError, ReportMeta};
use std::path::Path;

/// Write `dir/index.html` listing every `dir/<id>/report.json`, sorted by id. Call it again after
/// adding report folders from other stages.
pub fn write_index(dir: &Path) -> Result<(), ReportError> {
    let mut metas: Vec<ReportMeta> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path().join("report.json");
        if let Ok(bytes) = std::fs::read(&path) {
            if let Ok(meta) = serde_json::from_slice::<ReportMeta>(&bytes) {
                metas.push(meta);
            }
        }
    }
    metas.sort_by(|a, b| a.id.cmp(&b.id));
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>repro reports</title>\n\
         <style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}\
         img{max-width:100%;border:1px solid #ddd}section{margin-bottom:3em}</style>\n</head>\n<body>\n\
         <h1>Reports</h1>\n<p>Each report is a folder with the figure (SVG and PNG) and a README holding the \
         numbers, the statistics with intervals, and the provenance of every artifact.</p>\n<ul>\n",
    );
    for m in &metas {
        html.push_str(&format!(
            "<li><a href=\"#{0}\">{0}</a>: {1}</li>\n",
            esc(&m.id),
            esc(&m.title)
        ));
    }
    html.push_str("</ul>\n");
    for m in &metas {
        let id = esc(&m.id);
        html.push_str(&format!(
            "<section id=\"{id}\">\n<h2>{}</h2>\n<p>{}</p>\n<p><a href=\"{id}/README.md\">README (numbers and provenance)</a> · \
             <a href=\"{id}/figure.svg\">figure.svg</a> · <a href=\"{id}/figure.png\">figure.png</a></p>\n\
             <a href=\"{id}/figure.svg\"><img src=\"{id}/figure.png\" alt=\"{}\"></a>\n</section>\n",
            esc(&m.title),
            esc(&m.summary),
            esc(&m.title)
        ));
    }
    html.push_str("</body>\n</html>\n");
    let path = dir.join("index.html");
    std::fs::write(&path, html).map_err(io_err(&path))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(dir: &Path, id: &str, body: &str) {
        let d = dir.join(id);
        std::fs::create_dir_all(&d).expect("mkdir");
        let meta = ReportMeta {
            id: id.into(),
            title: format!("{id} <title>"),
            summary: "s & t".into(),
        };
        std::fs::write(
            d.join("report.json"),
            serde_json::to_vec(&meta).expect("json"),
        )
        .expect("write");
        std::fs::write(d.join("README.md"), body).expect("write");
    }

    #[test]
    fn index_links_every_report_and_escapes() {
        let tmp = tempfile::tempdir().expect("tmp");
        let reports = tmp.path().join("reports");
        report(&reports, "old-report", "kept");
        report(&reports, "fig1-rankings", "fresh");
        std::fs::create_dir_all(reports.join("not-a-report")).expect("mkdir");
        write_index(&reports).expect("index");
        let index = std::fs::read_to_string(reports.join("index.html")).expect("read");
        assert!(
            index.contains("href=\"fig1-rankings/README.md\"")
                && index.contains("href=\"old-report/README.md\"")
        );
        assert!(!index.contains("not-a-report"));
        assert!(
            index.contains("&lt;title&gt;") && index.contains("s &amp; t"),
            "escaped"
        );
    }
}
