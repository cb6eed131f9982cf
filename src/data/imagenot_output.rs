//! The ImageNot builder's second half: pixels for the selected pairs only, the seeded split,
//! and the outputs — the dataset, `images.tsv` (per image: split, label, pool key, source,
//! license, similarity, caption), the selection report (`selection.json`, `selection.md`) and
//! `candidates.tsv` (every scored single-class match: the cut can be studied without
//! embedding again).

use super::dataset::{ClassInfo, DatasetMeta, DatasetWriter};
use super::error::{BadCounter, DataError};
use super::imagenot::{histogram, licenses, ClassDef, Selection};
use super::imageops::Shape;
use super::pool::{fetch_payloads, PoolRecord};
use super::render::payload_pixels;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

/// How the selected pairs become a dataset.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    pub name: String,
    pub shape: Shape,
    pub min_per_class: usize,
    pub val_fraction: f64,
    pub seed: u64,
    pub max_bad: usize,
    pub threads: usize,
    pub cut: f32,
}

/// Render every kept pair (in parallel), in the selection's order; `None` where it failed.
fn render_all(
    pool_dir: &Path,
    pool: &[PoolRecord],
    sel: &Selection,
    opt: &OutputOptions,
    bad: &mut BadCounter,
) -> Result<Vec<Vec<Option<Vec<u8>>>>, DataError> {
    let flat: Vec<(usize, usize)> = sel
        .kept
        .iter()
        .enumerate()
        .flat_map(|(c, l)| (0..l.len()).map(move |j| (c, j)))
        .collect();
    let urls: Vec<&str> = flat
        .iter()
        .map(|&(c, j)| pool[sel.kept[c][j].pool_index].url.as_str())
        .collect();
    let payloads = fetch_payloads(pool_dir, &urls)?;
    let rendered = super::parallel::map_in_order(&payloads, opt.threads, |p| {
        p.as_ref()
            .map_err(Clone::clone)
            .and_then(|p| payload_pixels(&p.ext, &p.bytes, opt.shape))
    });
    let mut out: Vec<Vec<Option<Vec<u8>>>> = sel.kept.iter().map(|l| vec![None; l.len()]).collect();
    for ((c, j), r) in flat.into_iter().zip(rendered) {
        match r {
            Ok(px) => out[c][j] = Some(px),
            Err(e) => bad.skip(format!(
                "{} ({}): {e}",
                pool[sel.kept[c][j].pool_index].key, pool[sel.kept[c][j].pool_index].url
            ))?,
        }
    }
    Ok(out)
}

/// Write the dataset and reports into `out`; returns the dataset metadata.
pub fn write_imagenot(
    out: &Path,
    pool_dir: &Path,
    pool: &[PoolRecord],
    classes: &[ClassDef],
    sel: &Selection,
    opt: &OutputOptions,
) -> Result<DatasetMeta, DataError> {
    let mut bad = BadCounter::new(pool_dir, opt.max_bad);
    let pixels = render_all(pool_dir, pool, sel, opt, &mut bad)?;
    // Classes that keep at least min_per_class images, in wnid order.
    let mut final_classes: Vec<usize> = (0..classes.len())
        .filter(|&c| pixels[c].iter().flatten().count() >= opt.min_per_class.max(1))
        .collect();
    final_classes.sort_by(|&a, &b| classes[a].wnid.cmp(&classes[b].wnid));
    let infos: Vec<ClassInfo> = final_classes
        .iter()
        .map(|&c| ClassInfo {
            wnid: classes[c].wnid.clone(),
            lemma: classes[c].lemma.clone(),
            gloss: classes[c].definition.clone(),
        })
        .collect();
    let mut w = DatasetWriter::create(out, &opt.name, opt.shape.tuple(), infos)?;
    let mut images =
        String::from("split\tlabel\twnid\tkey\tsimilarity\tsource\tlicense\tcaption\n");
    for (label, &c) in final_classes.iter().enumerate() {
        let mut items: Vec<usize> = (0..sel.kept[c].len())
            .filter(|&j| pixels[c][j].is_some())
            .collect();
        // One stream per class, so adding a class never reshuffles another.
        let class_seed = opt.seed
            ^ classes[c]
                .wnid
                .trim_start_matches('n')
                .parse::<u64>()
                .unwrap_or(0);
        items.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(class_seed));
        let n_val = ((items.len() as f64) * opt.val_fraction).round() as usize;
        for (k, &j) in items.iter().enumerate() {
            let split = if k < n_val { "val" } else { "train" };
            let px = pixels[c][j].as_ref().expect("filtered above");
            w.push(split, px, label as u32)?;
            let cand = &sel.kept[c][j];
            let r = &pool[cand.pool_index];
            let _ = writeln!(
                images,
                "{split}\t{label}\t{}\t{}\t{:.4}\t{}\t{}\t{}",
                classes[c].wnid, r.key, cand.similarity, r.source, r.license, r.caption
            );
        }
    }
    let meta = w.finish()?;
    let p = out.join("images.tsv");
    std::fs::write(&p, images).map_err(|e| DataError::io(&p, e))?;
    write_report(
        out,
        pool,
        classes,
        sel,
        opt,
        &final_classes,
        &meta,
        bad.skipped,
    )?;
    Ok(meta)
}

#[allow(clippy::too_many_arguments)]
fn write_report(
    out: &Path,
    pool: &[PoolRecord],
    classes: &[ClassDef],
    sel: &Selection,
    opt: &OutputOptions,
    final_classes: &[usize],
    meta: &DatasetMeta,
    skipped: usize,
) -> Result<(), DataError> {
    let lic = licenses(sel, pool);
    let kept_set: std::collections::BTreeSet<usize> = final_classes.iter().copied().collect();
    let per_class: Vec<_> = (0..classes.len())
        .map(|c| {
            json!({"wnid": classes[c].wnid, "lemma": classes[c].lemma, "matched": sel.matched[c], "passed_cut": sel.passed[c],
                   "kept": sel.kept[c].len(), "in_dataset": kept_set.contains(&c), "licenses": lic[c]})
        })
        .collect();
    let hist = histogram(sel.all.iter().map(|c| c.similarity), -0.2, 1.0, 24);
    // Captions just above and just below the cut: where the filter's judgement shows.
    let mut near: Vec<_> = sel
        .all
        .iter()
        .filter(|c| (c.similarity - opt.cut).abs() <= 0.05)
        .collect();
    // Closest to the cut first, on either side.
    near.sort_by(|a, b| {
        (a.similarity - opt.cut)
            .abs()
            .total_cmp(&(b.similarity - opt.cut).abs())
            .then_with(|| pool[a.pool_index].key.cmp(&pool[b.pool_index].key))
    });
    let show = |above: bool| -> Vec<serde_json::Value> {
        near.iter()
            .filter(|c| (c.similarity >= opt.cut) == above)
            .take(25)
            .map(|c| json!({"similarity": c.similarity, "class": classes[c.class].lemma, "caption": pool[c.pool_index].caption, "key": pool[c.pool_index].key}))
            .collect()
    };
    let (kept_near, rejected_near) = (show(true), show(false));
    let n_train = meta.splits.get("train").map_or(0, |s| s.n);
    let n_val = meta.splits.get("val").map_or(0, |s| s.n);
    let report = json!({
        "cut": opt.cut, "min_per_class": opt.min_per_class, "seed": opt.seed, "val_fraction": opt.val_fraction,
        "classes_considered": classes.len(), "classes_in_dataset": final_classes.len(),
        "images_train": n_train, "images_val": n_val, "multi_class_captions_dropped": sel.multi_class,
        "single_class_matches": sel.all.len(), "undecodable_skipped": skipped,
        "similarity_histogram": hist.iter().map(|(lo, n)| json!({"from": lo, "count": n})).collect::<Vec<_>>(),
        "kept_near_cut": kept_near, "rejected_near_cut": rejected_near, "classes": per_class,
    });
    // Every scored candidate, so the cut can be studied without embedding again.
    let mut cands = String::from("wnid\tlemma\tsimilarity\tkey\tcaption\n");
    let mut all: Vec<_> = sel.all.iter().collect();
    all.sort_by(|a, b| {
        a.class
            .cmp(&b.class)
            .then(b.similarity.total_cmp(&a.similarity))
            .then_with(|| pool[a.pool_index].key.cmp(&pool[b.pool_index].key))
    });
    for c in all {
        let (class, r) = (&classes[c.class], &pool[c.pool_index]);
        let _ = writeln!(
            cands,
            "{}\t{}\t{:.4}\t{}\t{}",
            class.wnid, class.lemma, c.similarity, r.key, r.caption
        );
    }
    let p = out.join("candidates.tsv");
    std::fs::write(&p, cands).map_err(|e| DataError::io(&p, e))?;
    let p = out.join("selection.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&report).expect("json"))
        .map_err(|e| DataError::io(&p, e))?;
    let mut md = format!(
        "# {} selection\n\n{} of {} classes, {n_train} train / {n_val} val images at {}×{}×{}; cut {:.2}; {} multi-class captions dropped; {skipped} undecodable skipped.\n\n| wnid | lemma | matched | ≥ cut | kept |\n|---|---|---|---|---|\n",
        opt.name, final_classes.len(), classes.len(), opt.shape.height, opt.shape.width, opt.shape.channels, opt.cut, sel.multi_class
    );
    for &c in final_classes {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            classes[c].wnid,
            classes[c].lemma,
            sel.matched[c],
            sel.passed[c],
            sel.kept[c].len()
        );
    }
    md.push_str("\n## Similarity histogram (single-class matches)\n\n");
    for (lo, n) in &hist {
        let _ = writeln!(
            md,
            "{lo:+.2} {n:>7} {}",
            "#".repeat((*n as f64).sqrt() as usize)
        );
    }
    for (title, list) in [
        ("Kept, just above the cut", &kept_near),
        ("Rejected, just below the cut", &rejected_near),
    ] {
        let _ = writeln!(md, "\n## {title}\n");
        for v in list.iter() {
            let _ = writeln!(
                md,
                "- {:.3} [{}] {}",
                v["similarity"].as_f64().unwrap_or(0.0),
                v["class"].as_str().unwrap_or(""),
                v["caption"].as_str().unwrap_or("")
            );
        }
    }
    let p = out.join("selection.md");
    std::fs::write(&p, md).map_err(|e| DataError::io(&p, e))
}
