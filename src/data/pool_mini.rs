//! The mini profile's caption pool: real images with human-written text, from packages.
//!
//! - Tux Paint stamps (Debian `tuxpaint-stamps-default`, GPL-2+): each stamp is `NAME.png`
//!   (or `.svg`) with `NAME.txt` whose first line is the English description; copied into
//!   the pool's shards.
//! - Open Clip Art (Debian `openclipart-svg`, public domain): caption = `<dc:title>` plus
//!   `<dc:description>` from the SVG's RDF metadata; copied into the pool's shards.
//! - `@iconify/json` (npm): 200+ icon sets; caption = icon name (dashes as spaces) plus the
//!   icon's category within its set; the set title and category are kept as the source. Icons
//!   are referenced (`iconify:` urls), not copied: the bodies sit in the set files, and only
//!   the icons the builder selects are ever turned into SVG documents.
//!
//! Licenses: only permissive ones are imported by default ([`PERMISSIVE`]); Tux Paint's GPL is
//! accepted for local use and recorded as such. Icon sets of logos and programming symbols
//! are skipped: their names are brands and keywords, not depictions.

use super::error::{require, BadCounter, DataError};
use super::pool::{PoolRecord, PoolWriter};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub const TUXPAINT_DIR: &str = "/usr/share/tuxpaint/stamps";
pub const OPENCLIPART_DIR: &str = "/usr/share/openclipart/svg";
pub const ICONIFY_DIR: &str = ".deps/npm/node_modules/@iconify/json";

/// SPDX ids (and prefixes) accepted by default: MIT, Apache, BSD, ISC, CC0, CC-BY (not -SA or
/// -NC), OFL, Unlicense, public domain.
pub const PERMISSIVE: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "CC0-1.0",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "OFL-1.1",
    "Unlicense",
    "public-domain",
];

/// Icon-set categories skipped by default.
pub const SKIPPED_ICON_CATEGORIES: &[&str] = &["Logos", "Programming"];

pub fn is_permissive(license: &str) -> bool {
    PERMISSIVE.contains(&license)
}

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for e in rd {
        let p = e.map_err(|e| DataError::io(dir, e))?.path();
        if p.is_dir() {
            walk(&p, ext, out)?;
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case(ext)) {
            out.push(p);
        }
    }
    Ok(())
}

fn sorted_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, DataError> {
    let mut v = Vec::new();
    walk(dir, ext, &mut v)?;
    v.sort();
    Ok(v)
}

/// Import the Tux Paint stamps under `dir`; returns pairs added.
pub fn import_tuxpaint(
    dir: &Path,
    pool: &mut PoolWriter,
    bad: &mut BadCounter,
) -> Result<usize, DataError> {
    require(
        dir,
        "install Debian `tuxpaint-stamps-default`: run `scripts/setup-data.sh`",
    )?;
    let mut n = 0;
    for txt in sorted_files(dir, "txt")? {
        let text =
            String::from_utf8_lossy(&std::fs::read(&txt).map_err(|e| DataError::io(&txt, e))?)
                .into_owned();
        let caption = text.lines().next().unwrap_or("").trim().to_string();
        let image = ["png", "svg"]
            .iter()
            .map(|e| txt.with_extension(e))
            .find(|p| p.exists());
        let (Some(image), false) = (image, caption.is_empty()) else {
            bad.skip(format!(
                "{}: no caption or no image beside it",
                txt.display()
            ))?;
            continue;
        };
        let bytes = std::fs::read(&image).map_err(|e| DataError::io(&image, e))?;
        let ext = if image.extension().is_some_and(|e| e == "png") {
            "png"
        } else {
            "svg"
        };
        let (width, height) = if ext == "png" {
            match image::load_from_memory_with_format(&bytes, image::ImageFormat::Png) {
                Ok(img) => (img.width(), img.height()),
                Err(e) => {
                    bad.skip(format!("{}: undecodable PNG ({e})", image.display()))?;
                    continue;
                }
            }
        } else {
            svg_size(&bytes).unwrap_or((0, 0))
        };
        let rec = PoolRecord {
            key: format!("tux-{n:06}"),
            caption,
            width,
            height,
            source: format!(
                "tuxpaint:{}",
                image.strip_prefix(dir).unwrap_or(&image).display()
            ),
            license: "GPL-2.0-or-later".into(),
            url: String::new(),
        };
        pool.add_embedded(rec, ext, &bytes)?;
        n += 1;
    }
    Ok(n)
}

/// Width and height of an SVG document from its root attributes (or viewBox).
pub fn svg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let doc = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .ok()?;
    let root = doc.root_element();
    let num = |s: &str| {
        s.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%')
            .trim()
            .parse::<f64>()
            .ok()
    };
    if let (Some(w), Some(h)) = (
        root.attribute("width").and_then(num),
        root.attribute("height").and_then(num),
    ) {
        return Some((w.round() as u32, h.round() as u32));
    }
    let vb: Vec<f64> = root
        .attribute("viewBox")?
        .split([' ', ','])
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    (vb.len() == 4).then(|| (vb[2].round() as u32, vb[3].round() as u32))
}

/// `<dc:title>` and `<dc:description>` of the work described in an SVG's RDF metadata.
pub fn openclipart_caption(text: &str) -> Option<(String, String)> {
    let doc = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .ok()?;
    const DC: &str = "http://purl.org/dc/elements/1.1/";
    // The work's own title is the dc:title that is a direct child of cc:Work (agents have
    // dc:title too: publisher, creator, rights).
    let work = doc.descendants().find(|n| n.tag_name().name() == "Work")?;
    let field = |name: &str| {
        work.children()
            .find(|n| n.tag_name().name() == name && n.tag_name().namespace() == Some(DC))
            .map(|n| {
                n.descendants()
                    .filter(|d| d.is_text())
                    .filter_map(|d| d.text())
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            .unwrap_or_default()
    };
    let title = field("title");
    (!title.is_empty()).then(|| (title, field("description")))
}

/// Import Open Clip Art SVGs under `dir`; returns pairs added.
pub fn import_openclipart(
    dir: &Path,
    pool: &mut PoolWriter,
    bad: &mut BadCounter,
) -> Result<usize, DataError> {
    require(
        dir,
        "install Debian `openclipart-svg`: run `scripts/setup-data.sh`",
    )?;
    let mut n = 0;
    for svg in sorted_files(dir, "svg")? {
        let bytes = std::fs::read(&svg).map_err(|e| DataError::io(&svg, e))?;
        let text = String::from_utf8_lossy(&bytes);
        let Some((title, desc)) = openclipart_caption(&text) else {
            bad.skip(format!(
                "{}: unparsable SVG or no <dc:title>",
                svg.display()
            ))?;
            continue;
        };
        let caption = if desc.is_empty() || desc == title {
            title
        } else {
            format!("{title}. {desc}")
        };
        let (width, height) = svg_size(&bytes).unwrap_or((0, 0));
        let rec = PoolRecord {
            key: format!("oca-{n:06}"),
            caption,
            width,
            height,
            source: format!(
                "openclipart:{}",
                svg.strip_prefix(dir).unwrap_or(&svg).display()
            ),
            license: "public-domain".into(),
            url: String::new(),
        };
        pool.add_embedded(rec, "svg", &bytes)?;
        n += 1;
    }
    Ok(n)
}

/// Import every icon of the permissive, non-skipped sets of an `@iconify/json` install.
pub fn import_iconify(
    dir: &Path,
    pool: &mut PoolWriter,
    licenses: &BTreeSet<String>,
) -> Result<usize, DataError> {
    let collections = dir.join("collections.json");
    require(
        &collections,
        "install npm `@iconify/json`: run `scripts/setup-data.sh`",
    )?;
    let text = std::fs::read_to_string(&collections).map_err(|e| DataError::io(&collections, e))?;
    let sets: BTreeMap<String, Value> =
        serde_json::from_str(&text).map_err(|e| DataError::format(&collections, e.to_string()))?;
    let mut n = 0;
    for (prefix, info) in &sets {
        let category = info["category"].as_str().unwrap_or("");
        let license = info["license"]["spdx"].as_str().unwrap_or("");
        if SKIPPED_ICON_CATEGORIES.contains(&category)
            || !licenses.contains(license)
            || info["hidden"] == true
        {
            continue;
        }
        let path = dir.join("json").join(format!("{prefix}.json"));
        let set = read_json(&path)?;
        let title = info["name"].as_str().unwrap_or(prefix);
        // icon name → its category within the set (e.g. "Animals"), when the set has them.
        let mut icon_cat: BTreeMap<&str, &str> = BTreeMap::new();
        if let Some(cats) = set["categories"].as_object() {
            for (cat, names) in cats {
                for name in names
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    icon_cat.entry(name).or_insert(cat.as_str());
                }
            }
        }
        let (dw, dh) = (
            set["width"].as_u64().unwrap_or(16),
            set["height"].as_u64().unwrap_or(16),
        );
        let Some(icons) = set["icons"].as_object() else {
            return Err(DataError::format(&path, "no `icons` object"));
        };
        let abs = std::fs::canonicalize(&path).map_err(|e| DataError::io(&path, e))?;
        for (name, icon) in icons {
            if icon["hidden"] == true {
                continue;
            }
            let words = name.replace(['-', '_'], " ");
            let caption = match icon_cat.get(name.as_str()) {
                Some(cat) => format!("{words}, {cat}"),
                None => words,
            };
            pool.add_reference(PoolRecord {
                key: format!("ico-{n:07}"),
                caption,
                width: icon["width"].as_u64().unwrap_or(dw) as u32,
                height: icon["height"].as_u64().unwrap_or(dh) as u32,
                source: format!("iconify:{prefix} ({title}; {category})"),
                license: license.to_string(),
                url: format!("iconify:{}#{name}", abs.display()),
            })?;
            n += 1;
        }
    }
    Ok(n)
}

fn read_json(path: &Path) -> Result<Value, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| DataError::format(path, format!("invalid JSON: {e}")))
}

/// Standalone SVG documents for the named icons of one iconify set file.
pub fn iconify_set_svgs<'a>(
    path: &Path,
    names: impl Iterator<Item = &'a str>,
) -> Result<BTreeMap<String, String>, DataError> {
    let set = read_json(path)?;
    let (dw, dh) = (
        set["width"].as_f64().unwrap_or(16.0),
        set["height"].as_f64().unwrap_or(16.0),
    );
    let mut out = BTreeMap::new();
    for name in names {
        let Some(icon) = set["icons"].get(name) else {
            continue;
        };
        let Some(body) = icon["body"].as_str() else {
            continue;
        };
        let (w, h) = (
            icon["width"].as_f64().unwrap_or(dw),
            icon["height"].as_f64().unwrap_or(dh),
        );
        let (l, t) = (
            icon["left"].as_f64().unwrap_or(0.0),
            icon["top"].as_f64().unwrap_or(0.0),
        );
        out.insert(
            name.to_string(),
            format!(r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{w}" height="{h}" viewBox="{l} {t} {w} {h}" color="#000">{body}</svg>"##),
        );
    }
    Ok(out)
}

/// Which sources a mini pool import reads, and from where.
#[derive(Debug, Clone)]
pub struct MiniPoolSources {
    pub tuxpaint: Option<PathBuf>,
    pub openclipart: Option<PathBuf>,
    pub iconify: Option<PathBuf>,
    pub licenses: BTreeSet<String>,
    pub max_bad: usize,
}

/// Import the chosen sources into a pool at `out`; returns (pairs per source, skipped).
pub fn import_mini_pool(
    src: &MiniPoolSources,
    out: &Path,
) -> Result<(BTreeMap<String, usize>, usize), DataError> {
    let mut pool = PoolWriter::create(out)?;
    let mut counts = BTreeMap::new();
    let mut skipped = 0;
    if let Some(d) = &src.tuxpaint {
        let mut bad = BadCounter::new(d, src.max_bad);
        counts.insert(
            "tuxpaint".to_string(),
            import_tuxpaint(d, &mut pool, &mut bad)?,
        );
        skipped += bad.skipped;
    }
    if let Some(d) = &src.openclipart {
        let mut bad = BadCounter::new(d, src.max_bad);
        counts.insert(
            "openclipart".to_string(),
            import_openclipart(d, &mut pool, &mut bad)?,
        );
        skipped += bad.skipped;
    }
    if let Some(d) = &src.iconify {
        counts.insert(
            "iconify".to_string(),
            import_iconify(d, &mut pool, &src.licenses)?,
        );
    }
    pool.finish()?;
    Ok((counts, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openclipart_title_is_the_works_not_the_publishers() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:cc="http://web.resource.org/cc/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" width="10" height="20"><metadata><rdf:RDF><cc:Work><dc:publisher><cc:Agent><dc:title>Open Clip Art Library</dc:title></cc:Agent></dc:publisher><dc:title>Red apple</dc:title><dc:description>a shiny fruit</dc:description></cc:Work></rdf:RDF></metadata></svg>"#;
        assert_eq!(
            openclipart_caption(svg),
            Some(("Red apple".into(), "a shiny fruit".into()))
        );
        assert_eq!(svg_size(svg.as_bytes()), Some((10, 20)));
        assert!(
            is_permissive("MIT") && !is_permissive("CC-BY-SA-4.0") && !is_permissive("GPL-3.0")
        );
    }
}
