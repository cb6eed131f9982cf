//! The ImageNot builder's second half: pixels for the selected pairs only, the seeded split,
//! and the outputs — the dataset, `images.tsv` (per image: split, label, pool key, source,
//! license, similarity, caption) and `build.json` (per class: selected, missing from the
//! download, undecodable, in the dataset).
//!
//! A selected URL is found either in the pool itself (`pool:`, `iconify:`, `file:` urls: the
//! mini pool holds its pixels) or, for web URLs, in an img2dataset download folder: its
//! per-shard `NNNNN.parquet` files map each URL to a shard and key, and each needed shard is
//! read once, only the needed members kept.

use super::dataset::{ClassInfo, DatasetMeta, Pixels};
use super::error::{BadCounter, DataError};
use super::imagefolder::ImportSize;
use super::imagenot_selection::{SelectedRow, SelectionSummary};
use super::pool::fetch_payloads;
use super::pool_table::str_values;
use super::render::payload_image;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

/// How the selected pairs become a dataset.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    pub name: String,
    /// A fixed `resolution` (the mini profile), or the shorter side bounded with the aspect
    /// kept, stored as JPEG or raw (paper scale), as `dataset_import` writes ImageNet.
    pub size: ImportSize,
    pub per_class: usize,
    pub min_per_class: usize,
    pub val_fraction: f64,
    pub seed: u64,
    pub max_bad: usize,
    pub threads: usize,
}

/// URL → `wds:` location of its image, for the URLs in `wanted`, from an img2dataset output
/// folder (`NNNNN.parquet` beside `NNNNN.tar`; rows whose `status` is not `success` skipped).
pub fn download_index(
    dir: &Path,
    wanted: &HashSet<&str>,
) -> Result<HashMap<String, String>, DataError> {
    super::error::require(
        dir,
        "give the img2dataset output folder (`--output_folder`)",
    )?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    let mut out = HashMap::new();
    for path in files {
        let bad = |e: &dyn std::fmt::Display| DataError::format(&path, e.to_string());
        let tar = path.with_extension("tar");
        let f = std::fs::File::open(&path).map_err(|e| DataError::io(&path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| bad(&e))?
            .build()
            .map_err(|e| bad(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| bad(&e))?;
            let (Some(url), Some(key)) = (str_values(&batch, "url"), str_values(&batch, "key"))
            else {
                return Err(bad(
                    &"an img2dataset shard table needs columns `url` and `key`",
                ));
            };
            let status = str_values(&batch, "status");
            for i in 0..batch.num_rows() {
                let ok = status.as_ref().is_none_or(|s| s(i) == "success");
                if ok && wanted.contains(url(i)) {
                    out.insert(
                        url(i).to_string(),
                        format!("wds:{}#{}.*", tar.display(), key(i)),
                    );
                }
            }
        }
    }
    Ok(out)
}

/// Build the dataset from the selection: per class, the first `per_class` selected pairs (in
/// rank order) whose pixels are found and decode; classes left with fewer than
/// `min_per_class` are dropped.
pub fn write_imagenot(
    out: &Path,
    pool_dir: Option<&Path>,
    download: Option<&Path>,
    summary: &SelectionSummary,
    rows: &[SelectedRow],
    opt: &OutputOptions,
) -> Result<DatasetMeta, DataError> {
    let web = |u: &str| u.starts_with("http://") || u.starts_with("https://");
    let index = match download {
        Some(d) => download_index(
            d,
            &rows
                .iter()
                .map(|r| r.url.as_str())
                .filter(|u| web(u))
                .collect(),
        )?,
        None => HashMap::new(),
    };
    let located: Vec<Option<&str>> = rows
        .iter()
        .map(|r| {
            if web(&r.url) {
                index.get(&r.url).map(String::as_str)
            } else {
                Some(r.url.as_str())
            }
        })
        .collect();
    let fetchable: Vec<&str> = located.iter().flatten().copied().collect();
    let base = pool_dir.unwrap_or(out);
    let payloads = fetch_payloads(base, &fetchable)?;
    let pixels = super::parallel::map_in_order(&payloads, opt.threads, |p| {
        p.as_ref()
            .map_err(Clone::clone)
            .and_then(|p| payload_image(&p.ext, &p.bytes, opt.size))
    });
    let mut pixels = pixels.into_iter();
    let mut bad = BadCounter::new(download.or(pool_dir).unwrap_or(out), opt.max_bad);
    // Per wnid: (row index, pixels) in rank order, at most per_class; and what went missing.
    let mut got: BTreeMap<&str, Vec<(usize, Pixels)>> = BTreeMap::new();
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    let mut undecodable: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (r, loc)) in rows.iter().zip(&located).enumerate() {
        let list = got.entry(&r.wnid).or_default();
        if loc.is_none() {
            *missing.entry(&r.wnid).or_default() += 1;
            continue;
        }
        match pixels.next().expect("one result per fetched url") {
            Ok(px) if list.len() < opt.per_class => list.push((i, px)),
            Ok(_) => {}
            Err(e) => {
                *undecodable.entry(&r.wnid).or_default() += 1;
                bad.skip(format!("{} ({}): {e}", r.key, r.url))?;
            }
        }
    }
    let lemma: HashMap<&str, (&str, &str)> = summary
        .classes
        .iter()
        .map(|c| (c.wnid.as_str(), (c.lemma.as_str(), c.gloss.as_str())))
        .collect();
    let final_classes: Vec<&str> = got
        .iter()
        .filter(|(_, l)| l.len() >= opt.min_per_class.max(1))
        .map(|(w, _)| *w)
        .collect();
    let infos: Vec<ClassInfo> = final_classes
        .iter()
        .map(|w| ClassInfo {
            wnid: w.to_string(),
            lemma: lemma.get(w).map_or("", |l| l.0).to_string(),
            gloss: lemma.get(w).map_or("", |l| l.1).to_string(),
        })
        .collect();
    let mut w = opt.size.writer(out, &opt.name, infos)?;
    let mut images =
        String::from("split\tlabel\twnid\tkey\tsimilarity\tsource\tlicense\tcaption\n");
    // (split, label, wnid, row, pixels), then each split in a seeded permutation, so no shard
    // holds one class; images.tsv follows the same order (the report relies on it).
    let mut placed: Vec<(&str, usize, &str, usize, &Pixels)> = Vec::new();
    for (label, wnid) in final_classes.iter().enumerate() {
        let mut items: Vec<&(usize, Pixels)> = got[wnid].iter().collect();
        // One stream per class, so adding a class never reshuffles another.
        let class_seed = opt.seed ^ wnid.trim_start_matches('n').parse::<u64>().unwrap_or(0);
        items.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(class_seed));
        let n_val = ((items.len() as f64) * opt.val_fraction).round() as usize;
        for (k, (i, px)) in items.into_iter().enumerate() {
            let split = if k < n_val { "val" } else { "train" };
            placed.push((split, label, wnid, *i, px));
        }
    }
    let mut order = rand_chacha::ChaCha8Rng::seed_from_u64(opt.seed ^ 0x005e_ed0f_5a11);
    placed.shuffle(&mut order);
    for (split, label, wnid, i, px) in placed {
        w.push_pixels(split, px, label as u32)?;
        let r = &rows[i];
        let _ = writeln!(
            images,
            "{split}\t{label}\t{wnid}\t{}\t{:.4}\t{}\t{}\t{}",
            r.key, r.similarity, r.source, r.license, r.caption
        );
    }
    let meta = w.finish()?;
    let p = out.join("images.tsv");
    std::fs::write(&p, images).map_err(|e| DataError::io(&p, e))?;
    let classes: Vec<_> = got
        .iter()
        .map(|(w, l)| {
            json!({"wnid": w, "lemma": lemma.get(w).map_or("", |l| l.0), "selected": rows.iter().filter(|r| r.wnid == *w).count(),
                   "missing_from_download": missing.get(w).copied().unwrap_or(0), "undecodable": undecodable.get(w).copied().unwrap_or(0),
                   "images": l.len(), "in_dataset": final_classes.contains(w)})
        })
        .collect();
    let report = json!({
        "per_class": opt.per_class, "min_per_class": opt.min_per_class, "seed": opt.seed, "val_fraction": opt.val_fraction,
        "classes_selected": got.len(), "classes_in_dataset": final_classes.len(),
        "images_train": meta.splits.get("train").map_or(0, |s| s.n), "images_val": meta.splits.get("val").map_or(0, |s| s.n),
        "missing_from_download": missing.values().sum::<usize>(), "undecodable_skipped": bad.skipped, "classes": classes,
    });
    let p = out.join("build.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&report).expect("json"))
        .map_err(|e| DataError::io(&p, e))?;
    Ok(meta)
}
