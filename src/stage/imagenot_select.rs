//! `imagenot_select`: choose ImageNot's pairs from a caption pool by text alone (docs/design.md §1,
//! "text first, pixels last"; [`crate::data::imagenot_select`]).
//!
//! ```yaml
//! imagenot_select:
//!   kind: imagenot_select
//!   inputs: [wordnet, imagenet_classes, laion_pool]
//!   params: {classes: data/imagenot_classes.txt, cut: 0.58, per_class: 1000, min_per_class: 100, oversample: 1.5, sense_check: true}
//!   resources: {cpus: 16, gpus: 1}
//! ```
//! Outputs: `selection.parquet` (per class, best first: wnid, lemma, rank, similarity, key,
//! url, caption, license, source; `per_class × oversample` rows at most), `download.parquet`
//! (url, caption, key, wnid) for img2dataset:
//! ```text
//! img2dataset --url_list OUT/download.parquet --input_format parquet \
//!   --url_col url --caption_col caption --save_additional_columns '["key","wnid"]' \
//!   --output_format webdataset --output_folder DOWNLOAD
//! ```
//! and the report: `selection.json`, `selection.md`, `candidates.tsv`. `sense_check` (default
//! on) drops captions closer to another WordNet sense of the class's lemma than to the class.
//! The encoder runs on the stage's first GPU when it has one (bf16), else on the CPU (f32).

use super::{StageContext, StageError, StageKind};
use crate::data::error::resolve;
use crate::data::imagenet::read_wnids;
use crate::data::imagenot::{classes_from_wnids, select_classes, TextEmbedder};
use crate::data::imagenot_select::{select_streaming, SelectOptions};
use crate::data::imagenot_selection::{write_selection, SelectionReport};
use crate::data::pool_table::POOL_PARQUET;
use crate::data::wordnet::WordNet;
use crate::encoder::{unit, SentenceEncoder, DEFAULT_MODEL_DIR};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub struct ImagenotSelect;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A file of wnids (one a line, or a TSV with wnids in column 2).
    #[serde(default)]
    pub classes: Option<String>,
    /// The selection rule, used when `classes` is absent (reads the whole pool: small pools).
    #[serde(default)]
    pub select: Option<SelectRule>,
    #[serde(default = "d_cut")]
    pub cut: f32,
    #[serde(default = "d_per")]
    pub per_class: usize,
    #[serde(default = "d_min")]
    pub min_per_class: usize,
    #[serde(default = "d_over")]
    pub oversample: f64,
    #[serde(default = "d_model")]
    pub model: String,
    #[serde(default = "d_batch")]
    pub batch: usize,
    #[serde(default = "d_chunk")]
    pub chunk: usize,
    #[serde(default = "d_sense_check")]
    pub sense_check: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectRule {
    pub min_matches: usize,
    pub max_classes: usize,
}

/// LAIONet's published cut, calibrated for all-mpnet-base-v2 (the default `model`).
fn d_cut() -> f32 {
    0.58
}
fn d_per() -> usize {
    1000
}
fn d_min() -> usize {
    50
}
fn d_over() -> f64 {
    1.5
}
fn d_model() -> String {
    DEFAULT_MODEL_DIR.into()
}
fn d_batch() -> usize {
    128
}
fn d_chunk() -> usize {
    8192
}
fn d_sense_check() -> bool {
    true
}

struct Embedder<'a> {
    enc: &'a SentenceEncoder,
    batch: usize,
}

impl TextEmbedder for Embedder<'_> {
    /// Unit vectors whatever the model's own normalisation: the cut is on cosine similarity.
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let mut vecs = self
            .enc
            .encode(texts, self.batch)
            .map_err(|e| e.to_string())?;
        if !self.enc.normalizes() {
            vecs.iter_mut().for_each(|v| unit(v));
        }
        Ok(vecs)
    }
}

fn failed(e: impl std::fmt::Display) -> StageError {
    StageError::Failed(e.to_string())
}

pub(crate) fn find_input(
    ctx: &StageContext,
    file: &str,
    kind: &str,
) -> Result<PathBuf, StageError> {
    ctx.inputs
        .values()
        .find(|d| d.join(file).exists())
        .cloned()
        .ok_or_else(|| {
            StageError::Failed(format!(
                "stage `{}` needs an input with `{file}` (a `{kind}` stage); add it to `inputs:`",
                ctx.stage
            ))
        })
}

impl StageKind for ImagenotSelect {
    fn name(&self) -> &'static str {
        "imagenot_select"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        if p.classes.is_none() == p.select.is_none() {
            return Err("give exactly one of `classes` (a wnid list file) and `select` ({min_matches, max_classes})".into());
        }
        if p.oversample < 1.0 {
            return Err("`oversample` must be at least 1".into());
        }
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn environment(&self, _params: &Value, gpus: u32) -> BTreeMap<String, String> {
        let device = if gpus > 0 {
            "tch-0.24 cuda bf16"
        } else {
            "tch-0.24 cpu f32"
        };
        BTreeMap::from([("encoder".to_string(), device.to_string())])
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let t0 = std::time::Instant::now();
        let wn = WordNet::load_tsv(&find_input(ctx, "nouns.tsv", "wordnet")?.join("nouns.tsv"))
            .map_err(failed)?;
        let inet_path = find_input(ctx, "imagenet_classes.tsv", "imagenet_classes")?
            .join("imagenet_classes.tsv");
        let inet: BTreeSet<String> = read_wnids(&inet_path)
            .map_err(failed)?
            .into_iter()
            .collect();
        let pool_dir = find_input(ctx, POOL_PARQUET, "caption_pool")?;
        let wnids = match (&p.classes, &p.select) {
            (Some(file), _) => {
                let path = resolve(&ctx.repo_root, file);
                if !path.exists() {
                    return Err(failed(format!("{}: class list not found", path.display())));
                }
                read_wnids(&path).map_err(failed)?
            }
            (None, Some(rule)) => select_classes(
                &wn,
                &inet,
                &pool_dir,
                rule.min_matches,
                rule.max_classes,
                ctx.threads.max(1),
            )
            .map_err(failed)?,
            (None, None) => return Err(failed("no classes given")),
        };
        let (classes, rejected) = classes_from_wnids(&wn, &wnids, &inet);
        println!(
            "imagenot_select: {} classes ({} rejected: ImageNet-1k, unknown or no unique lemma)",
            classes.len(),
            rejected.len()
        );
        let (device, kind) = match ctx.gpus.first() {
            Some(&g) if tch::Cuda::is_available() => {
                (tch::Device::Cuda(g as usize), tch::Kind::BFloat16)
            }
            _ => (tch::Device::Cpu, tch::Kind::Float),
        };
        tch::set_num_threads(ctx.threads.max(1) as i32);
        let enc = SentenceEncoder::load_as(&resolve(&ctx.repo_root, &p.model), device, kind)
            .map_err(failed)?;
        let mut emb = Embedder {
            enc: &enc,
            batch: p.batch,
        };
        let opt = SelectOptions {
            cut: p.cut,
            per_class: p.per_class,
            min_per_class: p.min_per_class,
            oversample: p.oversample,
            chunk: p.chunk,
            sense_check: p.sense_check,
            threads: ctx.threads.max(1),
        };
        let cands_path = ctx.out_dir.join("candidates.tsv");
        let f = std::fs::File::create(&cands_path).map_err(failed)?;
        let mut cands = std::io::BufWriter::new(f);
        std::io::Write::write_all(
            &mut cands,
            b"wnid\tlemma\tsimilarity\tother_sense\tkey\tcaption\n",
        )
        .map_err(failed)?;
        let out_dir = ctx.out_dir.clone();
        let sel = select_streaming(&classes, &pool_dir, &mut emb, &opt, &out_dir, &mut cands)
            .map_err(failed)?;
        std::io::Write::flush(&mut cands).map_err(failed)?;
        let report = SelectionReport {
            cut: p.cut,
            per_class: p.per_class,
            min_per_class: p.min_per_class,
            oversample: p.oversample,
            sense_check: p.sense_check,
            device: format!("{device:?} {kind:?}"),
        };
        let kept = write_selection(&out_dir, &classes, &sel, &report).map_err(failed)?;
        println!(
            "imagenot_select: {} rows, {} single-class matches scored, {kept} selected in {} classes, {:.1}s",
            sel.rows,
            sel.scored,
            sel.kept.iter().filter(|k| k.len() >= p.min_per_class.max(1)).count(),
            t0.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
