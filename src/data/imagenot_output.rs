//! The ImageNot builder's second half: pixels for the selected pairs only, the seeded split,
//! and the outputs — the dataset, `images.tsv` (per image: split, label, pool key, source,
//! license, similarity, caption) and `build.json` (per class: selected, missing from the
//! download, undecodable, in the dataset).
//!
//! A selected URL is found either in the pool itself (`pool:`, `iconify:`, `file:` urls: the
//! mini pool holds its pixels) or, for web URLs, in an img2dataset download folder: its
//! per-shard `NNNNN.parquet` files map each URL to a shard and key, and each needed shard is
//! read once, only the needed members kept.

use super::dataset::{ClassInfo, Dataset, DatasetMeta};
use super::error::{BadCounter, DataError};
use super::imagefolder::ImportSize;
use super::imagenot_selection::{SelectedRow, SelectionSummary};
use super::pool::fetch_payloads_batched;
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

/// Payloads fetched, decoded (in parallel) and staged per batch: memory holds one batch of
/// payloads and their pixels, whatever the number of images.
const FETCH_BATCH_PER_THREAD: usize = 64;

/// Build the dataset from the selection: per class, the first `per_class` selected pairs (in
/// rank order) whose pixels are found and decode; classes left with fewer than
/// `min_per_class` are dropped.
///
/// Two passes with bounded memory. Every located pair is fetched (each archive read once),
/// decoded and written in its stored form to a staging dataset under `out`, batch by batch;
/// then the chosen records are copied from it into the dataset in the seeded order and the
/// staging is removed. Memory holds one batch of pixels and an index entry per selected row.
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
    // Per fetched url, its row.
    let (fetch_rows, fetchable): (Vec<usize>, Vec<&str>) = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            if web(&r.url) {
                index.get(&r.url).map(|loc| (i, loc.as_str()))
            } else {
                Some((i, r.url.as_str()))
            }
        })
        .unzip();
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    let mut located = vec![false; rows.len()];
    for &i in &fetch_rows {
        located[i] = true;
    }
    for (r, _) in rows.iter().zip(&located).filter(|(_, &l)| !l) {
        *missing.entry(&r.wnid).or_default() += 1;
    }
    // Pass 1: every decodable pair, staged; a staged record's label is its row's class among
    // all the selected classes (the dataset's labels are known only once classes are counted).
    let selected: Vec<&str> = rows
        .iter()
        .map(|r| r.wnid.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let staging_dir = out.join(".staging-pixels");
    let staging_infos = selected
        .iter()
        .map(|w| ClassInfo {
            wnid: w.to_string(),
            lemma: String::new(),
            gloss: String::new(),
        })
        .collect();
    let mut staging = opt.size.writer(&staging_dir, &opt.name, staging_infos)?;
    let mut staged: Vec<Option<usize>> = vec![None; rows.len()];
    let mut n_staged = 0usize;
    let mut bad = BadCounter::new(download.or(pool_dir).unwrap_or(out), opt.max_bad);
    let mut undecodable: BTreeMap<&str, usize> = BTreeMap::new();
    let base = pool_dir.unwrap_or(out);
    let batch = opt.threads.max(1) * FETCH_BATCH_PER_THREAD;
    fetch_payloads_batched(base, &fetchable, batch, |items| {
        // Decoded, sized and encoded on the threads; the writer only appends.
        let stored = super::parallel::map_in_order(&items, opt.threads, |(_, p)| {
            let p = p.as_ref().map_err(Clone::clone)?;
            let px = payload_image(&p.ext, &p.bytes, opt.size)?;
            Ok(opt.size.storage().store(&px)?.into_owned())
        });
        for ((k, _), img) in items.iter().zip(stored) {
            let row = fetch_rows[*k];
            let r = &rows[row];
            match img {
                Ok(img) => {
                    let label = selected.binary_search(&r.wnid.as_str()).expect("selected");
                    staging.push_stored("all", &img, label as u32)?;
                    staged[row] = Some(n_staged);
                    n_staged += 1;
                }
                Err(e) => {
                    *undecodable.entry(&r.wnid).or_default() += 1;
                    bad.skip(format!("{} ({}): {e}", r.key, r.url))?;
                }
            }
        }
        Ok(())
    })?;
    staging.finish()?;
    // Per wnid: (row index, staged record) in rank order, at most per_class.
    let mut got: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let list = got.entry(&r.wnid).or_default();
        if let Some(rec) = staged[i].filter(|_| list.len() < opt.per_class) {
            list.push((i, rec));
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
    // (split, label, wnid, row, staged record), then each split in a seeded permutation, so
    // no shard holds one class; images.tsv follows the same order (the report relies on it).
    let mut placed: Vec<(&str, usize, &str, usize, usize)> = Vec::new();
    for (label, wnid) in final_classes.iter().enumerate() {
        let mut items: Vec<&(usize, usize)> = got[wnid].iter().collect();
        // One stream per class, so adding a class never reshuffles another.
        let class_seed = opt.seed ^ wnid.trim_start_matches('n').parse::<u64>().unwrap_or(0);
        items.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(class_seed));
        let n_val = ((items.len() as f64) * opt.val_fraction).round() as usize;
        for (k, (i, rec)) in items.into_iter().enumerate() {
            let split = if k < n_val { "val" } else { "train" };
            placed.push((split, label, wnid, *i, *rec));
        }
    }
    let mut order = rand_chacha::ChaCha8Rng::seed_from_u64(opt.seed ^ 0x005e_ed0f_5a11);
    placed.shuffle(&mut order);
    let staged_ds = Dataset::open(&staging_dir)?;
    let reader = staged_ds.reader("all").ok();
    for (split, label, wnid, i, rec) in placed {
        let reader = reader.as_ref().expect("a placed image was staged");
        w.copy_from(split, reader, rec, label as u32)?;
        let r = &rows[i];
        let _ = writeln!(
            images,
            "{split}\t{label}\t{wnid}\t{}\t{:.4}\t{}\t{}\t{}",
            r.key, r.similarity, r.source, r.license, r.caption
        );
    }
    let meta = w.finish()?;
    std::fs::remove_dir_all(&staging_dir).map_err(|e| DataError::io(&staging_dir, e))?;
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
