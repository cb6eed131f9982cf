//! `caption_pool`: image–caption pairs into the pool format (`pool.tsv` + webdataset shards).
//!
//! ```yaml
//! mini_pool:                      # the mini profile: real images with human-written text
//!   kind: caption_pool
//!   params: {importer: mini}      # defaults: the three sources at their installed paths
//!   deps: [/usr/share/tuxpaint/stamps, /usr/share/openclipart/svg, .deps/npm/node_modules/@iconify/json/collections.json]
//! laion_pool:                     # the paper profile: existing img2dataset output
//!   kind: caption_pool
//!   params: {importer: img2dataset, shards: /data/laion/shards, source: laion}
//! ```
//! A source set to `null` is left out. `licenses` lists the SPDX ids accepted from icon sets
//! (default: the permissive ones); Tux Paint (GPL-2+) and Open Clip Art (public domain) are
//! recorded with their license.

use super::{StageContext, StageError, StageKind};
use crate::data::error::{resolve, DataError};
use crate::data::pool::PoolWriter;
use crate::data::pool_img2dataset::import_img2dataset;
use crate::data::pool_mini::{
    import_mini_pool, MiniPoolSources, ICONIFY_DIR, OPENCLIPART_DIR, PERMISSIVE, TUXPAINT_DIR,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct CaptionPool;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    importer: String,
    #[serde(default = "d_tux")]
    tuxpaint: Option<String>,
    #[serde(default = "d_oca")]
    openclipart: Option<String>,
    #[serde(default = "d_ico")]
    iconify: Option<String>,
    #[serde(default = "d_lic")]
    licenses: Vec<String>,
    #[serde(default = "d_bad")]
    max_bad: usize,
    #[serde(default)]
    shards: Option<String>,
    #[serde(default = "d_src")]
    source: String,
}

fn d_tux() -> Option<String> {
    Some(TUXPAINT_DIR.into())
}
fn d_oca() -> Option<String> {
    Some(OPENCLIPART_DIR.into())
}
fn d_ico() -> Option<String> {
    Some(ICONIFY_DIR.into())
}
fn d_lic() -> Vec<String> {
    PERMISSIVE.iter().map(|s| s.to_string()).collect()
}
fn d_bad() -> usize {
    200
}
fn d_src() -> String {
    "laion".into()
}

fn failed(e: DataError) -> StageError {
    StageError::Failed(e.to_string())
}

impl StageKind for CaptionPool {
    fn name(&self) -> &'static str {
        "caption_pool"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        match p.importer.as_str() {
            "mini" => {}
            "img2dataset" if p.shards.is_some() => {}
            "img2dataset" => {
                return Err(
                    "importer `img2dataset` needs `shards:` (the folder of NNNNN.tar shards)"
                        .into(),
                )
            }
            other => return Err(format!("unknown importer `{other}` (mini, img2dataset)")),
        }
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let root = ctx.repo_root.clone();
        let t = std::time::Instant::now();
        if p.importer == "img2dataset" {
            let dir = resolve(&root, p.shards.as_deref().unwrap_or_default());
            let mut pool = PoolWriter::create(&ctx.out_dir).map_err(failed)?;
            let (added, incomplete) =
                import_img2dataset(&dir, &mut pool, &p.source).map_err(failed)?;
            pool.finish().map_err(failed)?;
            println!("caption_pool: {added} pairs from {} ({incomplete} samples without image or caption)", dir.display());
            return Ok(());
        }
        let src = MiniPoolSources {
            tuxpaint: p.tuxpaint.as_deref().map(|s| resolve(&root, s)),
            openclipart: p.openclipart.as_deref().map(|s| resolve(&root, s)),
            iconify: p.iconify.as_deref().map(|s| resolve(&root, s)),
            licenses: p.licenses.iter().cloned().collect(),
            max_bad: p.max_bad,
        };
        let (counts, skipped) = import_mini_pool(&src, &ctx.out_dir).map_err(failed)?;
        println!(
            "caption_pool: {counts:?}, {skipped} skipped, {:.1}s",
            t.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
