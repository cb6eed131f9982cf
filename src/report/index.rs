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

/// Copy every report folder (a subfolder holding `report.json`) of `from` — a report stage's
/// output tree — into `reports_dir`, replacing folders of the same id and keeping others, then
/// rewrite `index.html` over all of them. Returns the ids copied. For `repro report`.
pub fn install(from: &Path, reports_dir: &Path) -> Result<Vec<String>, ReportError> {
    std::fs::create_dir_all(reports_dir).map_err(io_err(reports_dir))?;
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(from).map_err(io_err(from))? {
        let src = entry.map_err(io_err(from))?.path();
        if !src.join("report.json").is_file() {
            continue;
        }
        let Some(id) = src.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let dest = reports_dir.join(&id);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(io_err(&dest))?;
        }
        copy_dir(&src, &dest)?;
        ids.push(id);
    }
    ids.sort();
    write_index(reports_dir)?;
    Ok(ids)
}

fn copy_dir(src: &Path, dest: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dest).map_err(io_err(dest))?;
    for entry in std::fs::read_dir(src).map_err(io_err(src))? {
        let path = entry.map_err(io_err(src))?.path();
        let target = dest.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(io_err(&path))?;
        }
    }
    Ok(())
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
    fn install_replaces_same_ids_keeps_others_and_indexes_all() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (stage, reports) = (tmp.path().join("stage"), tmp.path().join("reports"));
        report(&reports, "old-report", "kept");
        report(&reports, "fig1-rankings", "stale");
        report(&stage, "fig1-rankings", "fresh");
        std::fs::create_dir_all(stage.join("not-a-report")).expect("mkdir");
        assert_eq!(
            install(&stage, &reports).expect("installs"),
            ["fig1-rankings"]
        );
        let read = |p: &str| std::fs::read_to_string(reports.join(p)).expect("read");
        assert_eq!(read("fig1-rankings/README.md"), "fresh");
        assert_eq!(read("old-report/README.md"), "kept");
        let index = read("index.html");
        assert!(
            index.contains("href=\"fig1-rankings/README.md\"")
                && index.contains("href=\"old-report/README.md\"")
        );
        assert!(
            index.contains("&lt;title&gt;") && index.contains("s &amp; t"),
            "escaped"
        );
        assert!(!reports.join("not-a-report").exists());
    }
}
