//! `imagenot_build`: build ImageNot from a caption pool (DESIGN.md §1; [`crate::data::imagenot`]).
//!
//! ```yaml
//! mini_imagenot:
//!   kind: imagenot_build
//!   inputs: [wordnet, imagenet_classes, mini_pool]
//!   params:
//!     classes: data/imagenot_classes.txt   # the published list; or `select: {min_matches: 60, max_classes: 40}`
//!     cut: 0.5
//!     per_class: 150
//!     min_per_class: 40
//!     resolution: [32, 32]
//!     seed: 0
//!   deps: [data/imagenot_classes.txt]
//! ```
//! Inputs are found by their files (`nouns.tsv`, `imagenet_classes.tsv`, `pool.tsv`). Outputs:
//! the dataset (`dataset.json`, shards, `classes.tsv`), `images.tsv`, `selection.json`,
//! `selection.md`.

use super::{StageContext, StageError, StageKind};
use crate::data::error::resolve;
use crate::data::imagenet::read_wnids;
use crate::data::imagenot::{classes_from_wnids, select, select_classes, TextEmbedder};
use crate::data::imagenot_output::{write_imagenot, OutputOptions};
use crate::data::imageops::Shape;
use crate::data::pool::read_pool;
use crate::data::wordnet::WordNet;
use crate::encoder::{SentenceEncoder, DEFAULT_MODEL_DIR};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub struct ImagenotBuild;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A file of wnids (one a line, or a TSV with wnids in column 2).
    #[serde(default)]
    pub classes: Option<String>,
    /// The selection rule, used when `classes` is absent.
    #[serde(default)]
    pub select: Option<SelectRule>,
    #[serde(default = "d_cut")]
    pub cut: f32,
    #[serde(default = "d_per")]
    pub per_class: usize,
    #[serde(default = "d_min")]
    pub min_per_class: usize,
    #[serde(default = "d_val")]
    pub val_fraction: f64,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "d_res")]
    pub resolution: [u32; 2],
    #[serde(default = "d_ch")]
    pub channels: u32,
    #[serde(default = "d_model")]
    pub model: String,
    #[serde(default = "d_batch")]
    pub batch: usize,
    #[serde(default = "d_name")]
    pub name: String,
    #[serde(default = "d_bad")]
    pub max_bad: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectRule {
    pub min_matches: usize,
    pub max_classes: usize,
}

fn d_cut() -> f32 {
    0.5
}
fn d_per() -> usize {
    1000
}
fn d_min() -> usize {
    50
}
fn d_val() -> f64 {
    0.2
}
fn d_res() -> [u32; 2] {
    [32, 32]
}
fn d_ch() -> u32 {
    3
}
fn d_model() -> String {
    DEFAULT_MODEL_DIR.into()
}
fn d_batch() -> usize {
    128
}
fn d_name() -> String {
    "imagenot".into()
}
fn d_bad() -> usize {
    200
}

struct Embedder<'a> {
    enc: &'a SentenceEncoder,
    batch: usize,
}

impl TextEmbedder for Embedder<'_> {
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        self.enc
            .encode(texts, self.batch)
            .map_err(|e| format!("{e:#}"))
    }
}

fn failed(e: impl std::fmt::Display) -> StageError {
    StageError::Failed(e.to_string())
}

fn find_input(ctx: &StageContext, file: &str, kind: &str) -> Result<PathBuf, StageError> {
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

impl StageKind for ImagenotBuild {
    fn name(&self) -> &'static str {
        "imagenot_build"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        if p.classes.is_none() == p.select.is_none() {
            return Err("give exactly one of `classes` (a wnid list file) and `select` ({min_matches, max_classes})".into());
        }
        if !(0.0..1.0).contains(&p.val_fraction) {
            return Err("`val_fraction` must be in [0, 1)".into());
        }
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn environment(&self, _params: &Value, _gpus: u32) -> BTreeMap<String, String> {
        // Embeddings are computed on the CPU in f32 whatever GPUs the stage gets.
        BTreeMap::from([("encoder".to_string(), "tch-0.24 cpu f32".to_string())])
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
        let pool_dir = find_input(ctx, "pool.tsv", "caption_pool")?;
        let pool = read_pool(&pool_dir).map_err(failed)?;
        let wnids = match (&p.classes, &p.select) {
            (Some(file), _) => {
                let path = resolve(&ctx.repo_root, file);
                if !path.exists() {
                    return Err(failed(format!("{}: class list not found", path.display())));
                }
                read_wnids(&path).map_err(failed)?
            }
            (None, Some(rule)) => {
                select_classes(&wn, &inet, &pool, rule.min_matches, rule.max_classes)
            }
            (None, None) => return Err(failed("no classes given")),
        };
        let (classes, rejected) = classes_from_wnids(&wn, &wnids, &inet);
        println!("imagenot_build: {} classes ({} rejected: ImageNet-1k, unknown or no unique lemma), {} pool pairs", classes.len(), rejected.len(), pool.len());
        tch::set_num_threads(ctx.threads.max(1) as i32);
        let enc = SentenceEncoder::load(&resolve(&ctx.repo_root, &p.model), tch::Device::Cpu)
            .map_err(|e| failed(format!("{e:#}")))?;
        let mut emb = Embedder {
            enc: &enc,
            batch: p.batch,
        };
        let t1 = std::time::Instant::now();
        let sel = select(
            &classes,
            &pool,
            &mut emb,
            p.cut,
            p.per_class,
            p.min_per_class,
        )
        .map_err(failed)?;
        println!(
            "imagenot_build: {} single-class matches embedded and scored in {:.1}s",
            sel.all.len(),
            t1.elapsed().as_secs_f64()
        );
        let opt = OutputOptions {
            name: p.name.clone(),
            shape: Shape::new(p.resolution[0], p.resolution[1], p.channels),
            min_per_class: p.min_per_class,
            val_fraction: p.val_fraction,
            seed: p.seed,
            max_bad: p.max_bad,
            threads: ctx.threads,
            cut: p.cut,
        };
        let meta =
            write_imagenot(&ctx.out_dir, &pool_dir, &pool, &classes, &sel, &opt).map_err(failed)?;
        let n = |s: &str| meta.splits.get(s).map_or(0, |m| m.n);
        println!(
            "imagenot_build: {} classes, {} train / {} val images, {:.1}s total",
            meta.classes.len(),
            n("train"),
            n("val"),
            t0.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
