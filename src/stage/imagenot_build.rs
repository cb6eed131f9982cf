//! `imagenot_build`: the dataset from a selection, pixels last (docs/design.md §1;
//! [`crate::data::imagenot_output`]).
//!
//! ```yaml
//! mini_imagenot:                  # the pool holds the pixels: no download
//!   kind: imagenot_build
//!   inputs: [mini_select, mini_pool]
//!   params: {per_class: 150, min_per_class: 40, resolution: [32, 32], seed: 0}
//! imagenot:                       # LAION: the selection's download.parquet fetched by img2dataset
//!   kind: imagenot_build
//!   inputs: [imagenot_select]
//!   params: {download: /data/imagenot/download, per_class: 1000, min_per_class: 100, resolution: [224, 224]}
//! ```
//! At paper scale, `short_side: 256` (instead of `resolution`) keeps each image's aspect
//! ratio, bounds its shorter side and stores it as JPEG (`storage: jpeg`, `quality`, default
//! 95) or `raw`, exactly as `dataset_import` stores ImageNet, so both go through the same
//! training and evaluation transforms.
//!
//! Inputs are found by their files (`selection.parquet`, and `pool.parquet` when a pool is
//! given). Outputs: the dataset (`dataset.json`, shards, `classes.tsv`), `images.tsv`,
//! `build.json` (per class: selected, missing from the download, undecodable, kept).

use super::dataset_import::{check_storage, short_side_size, storage_defaults};
use super::{StageContext, StageError, StageKind};
use crate::data::error::resolve;
use crate::data::imagefolder::ImportSize;
use crate::data::imagenot_output::{write_imagenot, OutputOptions};
use crate::data::imagenot_selection::{read_selection, SELECTION_PARQUET};
use crate::data::imageops::Shape;
use crate::data::pool_table::POOL_PARQUET;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct ImagenotBuild;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// img2dataset's output folder, for selected web URLs.
    #[serde(default)]
    pub download: Option<String>,
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
    #[serde(default = "d_name")]
    pub name: String,
    #[serde(default = "d_bad")]
    pub max_bad: usize,
    /// Bound of the shorter side, aspect kept (instead of `resolution`). The three are left
    /// out of the resolved params when not given, so fixed-size builds keep their keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_side: Option<u32>,
    /// With `short_side`: `jpeg` (default) or `raw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
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
fn d_name() -> String {
    "imagenot".into()
}
fn d_bad() -> usize {
    200
}

const BOTH: &str = "give one of `short_side: N` (aspect kept, e.g. 256 at paper scale) or \
                    `resolution: [H, W]` (squashed, for the mini profile)";
const STORAGE_ALONE: &str = "`storage` and `quality` apply with `short_side` only \
                             (`resolution` stores fixed-size images)";

fn failed(e: impl std::fmt::Display) -> StageError {
    StageError::Failed(e.to_string())
}

impl StageKind for ImagenotBuild {
    fn name(&self) -> &'static str {
        "imagenot_build"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let mut p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        if !(0.0..1.0).contains(&p.val_fraction) {
            return Err("`val_fraction` must be in [0, 1)".into());
        }
        if p.short_side.is_some() {
            if params.get("resolution").is_some() {
                return Err(BOTH.into());
            }
            storage_defaults(&mut p.storage, &mut p.quality);
        } else if p.storage.is_some() || p.quality.is_some() {
            return Err(STORAGE_ALONE.into());
        }
        if p.channels != 1 && p.channels != 3 {
            return Err("`channels` must be 1 or 3".into());
        }
        check_storage(p.short_side, p.storage.as_deref(), p.quality)?;
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let t0 = std::time::Instant::now();
        let sel_dir =
            super::imagenot_select::find_input(ctx, SELECTION_PARQUET, "imagenot_select")?;
        let pool_dir = ctx
            .inputs
            .values()
            .find(|d| d.join(POOL_PARQUET).exists())
            .cloned();
        let download = p.download.as_deref().map(|d| resolve(&ctx.repo_root, d));
        let (summary, rows) = read_selection(&sel_dir).map_err(failed)?;
        let [height, width] = p.resolution;
        let size = match p.short_side {
            Some(s) => short_side_size(s, p.channels, p.storage.as_deref(), p.quality),
            None => ImportSize::Fixed(Shape::new(height, width, p.channels)),
        };
        let opt = OutputOptions {
            name: p.name.clone(),
            size,
            per_class: p.per_class,
            min_per_class: p.min_per_class,
            val_fraction: p.val_fraction,
            seed: p.seed,
            max_bad: p.max_bad,
            threads: ctx.threads,
        };
        let meta = write_imagenot(
            &ctx.out_dir,
            pool_dir.as_deref(),
            download.as_deref(),
            &summary,
            &rows,
            &opt,
        )
        .map_err(failed)?;
        let n = |s: &str| meta.splits.get(s).map_or(0, |m| m.n);
        println!(
            "imagenot_build: {} selected rows → {} classes, {} train / {} val images, {:.1}s",
            rows.len(),
            meta.classes.len(),
            n("train"),
            n("val"),
            t0.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_side_defaults_to_jpeg_and_fixed_params_are_unchanged() {
        let k = ImagenotBuild;
        let fixed = k
            .resolve_params(&json!({"resolution": [32, 32]}))
            .expect("fixed");
        for key in ["short_side", "storage", "quality"] {
            assert!(
                fixed.get(key).is_none(),
                "{key} stays out of a fixed build's key"
            );
        }
        let p = k.resolve_params(&json!({"short_side": 256})).expect("jpeg");
        assert_eq!(
            (&p["short_side"], &p["storage"], &p["quality"]),
            (&json!(256), &json!("jpeg"), &json!(95))
        );
        let p = k
            .resolve_params(&json!({"short_side": 64, "storage": "raw"}))
            .expect("raw");
        assert!(p.get("quality").is_none());
        for bad in [
            json!({"short_side": 256, "resolution": [224, 224]}),
            json!({"storage": "jpeg"}),
            json!({"short_side": 256, "storage": "png"}),
            json!({"short_side": 0}),
            json!({"short_side": 256, "quality": 0}),
        ] {
            assert!(k.resolve_params(&bad).is_err(), "{bad}");
        }
    }
}
