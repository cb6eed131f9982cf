//! The ImageNet-1k class list (wnids, lemmas, definitions), read from the data files of the
//! PyPI `timm` wheel (`timm/data/_info/`), which `scripts/setup-data.sh` unzips without
//! installing: `imagenet_synsets.txt` (the 1,000 wnids in label order) plus the
//! `imagenet_synset_to_lemma.txt` / `imagenet_synset_to_definition.txt` tables (tab-separated,
//! covering all of ImageNet-21k).
//!
//! ImageNot's defining property is that none of its classes is one of these.

use super::error::{require, DataError};
use std::collections::BTreeMap;
use std::path::Path;

/// Where the set-up puts the timm data files.
pub const TIMM_INFO_DIR: &str = ".deps/pypi/timm/timm/data/_info";

#[derive(Debug, Clone, PartialEq)]
pub struct ImageNetClass {
    pub wnid: String,
    pub lemma: String,
    pub definition: String,
}

fn read_table(path: &Path) -> Result<BTreeMap<String, String>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (k, v) = line.split_once('\t').ok_or_else(|| {
            DataError::format(path, format!("line {}: expected `wnid<TAB>text`", i + 1))
        })?;
        map.insert(k.to_string(), v.to_string());
    }
    Ok(map)
}

/// Read the ImageNet-1k classes in label order from a timm `_info` directory.
pub fn load_imagenet1k(info_dir: &Path) -> Result<Vec<ImageNetClass>, DataError> {
    let hint = "unzip the PyPI `timm==1.0.31` wheel there: run `scripts/setup-data.sh`";
    require(info_dir, hint)?;
    let synsets = info_dir.join("imagenet_synsets.txt");
    require(&synsets, hint)?;
    let lemmas = read_table(&info_dir.join("imagenet_synset_to_lemma.txt"))?;
    let defs = read_table(&info_dir.join("imagenet_synset_to_definition.txt"))?;
    let text = std::fs::read_to_string(&synsets).map_err(|e| DataError::io(&synsets, e))?;
    let mut out = Vec::with_capacity(1000);
    for (i, w) in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        if w.len() != 9 || !w.starts_with('n') || !w[1..].bytes().all(|b| b.is_ascii_digit()) {
            return Err(DataError::format(
                &synsets,
                format!("line {}: `{w}` is not a wnid", i + 1),
            ));
        }
        out.push(ImageNetClass {
            wnid: w.to_string(),
            lemma: lemmas.get(w).cloned().unwrap_or_default(),
            definition: defs.get(w).cloned().unwrap_or_default(),
        });
    }
    if out.len() != 1000 {
        return Err(DataError::format(
            &synsets,
            format!("{} wnids; ImageNet-1k has 1000", out.len()),
        ));
    }
    Ok(out)
}

/// `imagenet_classes.tsv` (index, wnid, lemma, definition), the stage output format.
pub fn to_tsv(classes: &[ImageNetClass]) -> String {
    let mut s = String::from("index\twnid\tlemma\tdefinition\n");
    for (i, c) in classes.iter().enumerate() {
        s.push_str(&format!(
            "{i}\t{}\t{}\t{}\n",
            c.wnid,
            c.lemma,
            c.definition.replace('\t', " ")
        ));
    }
    s
}

/// The wnid column of a file written by [`to_tsv`], or of a plain one-wnid-per-line list.
pub fn read_wnids(path: &Path) -> Result<Vec<String>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let w = if cols.len() > 1 { cols[1] } else { cols[0] }.trim();
        if w.starts_with('n') && w.len() == 9 && w[1..].bytes().all(|b| b.is_ascii_digit()) {
            out.push(w.to_string());
        }
    }
    Ok(out)
}
/// ILSVRC2012_ID → wnid from the devkit's `data/meta.mat` (struct array `synsets`, fields
/// `ILSVRC2012_ID` and `WNID`): the key to `ILSVRC2012_validation_ground_truth.txt`, whose
/// lines are ILSVRC2012_IDs (1..1000).
pub fn read_devkit_meta(path: &Path) -> Result<std::collections::HashMap<u32, String>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let vars =
        super::matfile::read_mat(&bytes).map_err(|e| DataError::format(path, e.to_string()))?;
    let synsets = vars
        .iter()
        .find(|(n, _)| n == "synsets")
        .map(|(_, v)| v)
        .ok_or_else(|| {
            DataError::format(
                path,
                "no `synsets` variable (is this the devkit's data/meta.mat?)",
            )
        })?;
    let mut out = std::collections::HashMap::new();
    for k in 0..synsets.len() {
        let id = synsets.field(k, "ILSVRC2012_ID").and_then(|v| v.scalar());
        let wnid = synsets.field(k, "WNID").and_then(|v| v.as_str());
        match (id, wnid) {
            (Some(id), Some(wnid)) if id >= 1.0 && id.fract() == 0.0 => {
                out.insert(id as u32, wnid.to_string());
            }
            _ => {
                return Err(DataError::format(
                    path,
                    format!(
                        "synsets({}) lacks a numeric `ILSVRC2012_ID` or a string `WNID`",
                        k + 1
                    ),
                ))
            }
        }
    }
    Ok(out)
}
