//! `caption_pool`: image–caption pairs into the pool format (`pool.parquet` + webdataset shards).
//!
//! ```yaml
//! mini_pool:                      # the mini profile: real images with human-written text
//!   kind: caption_pool
//!   params: {importer: mini}      # defaults: the three sources at their installed paths
//!   deps: [/usr/share/tuxpaint/stamps, /usr/share/openclipart/svg, .deps/npm/node_modules/@iconify/json/collections.json]
//! laion_pool:                     # the paper profile: LAION's metadata, text only
//!   kind: caption_pool
//!   params: {importer: laion-parquet, path: /data/laion/metadata}
//!   # optional: columns: {url: URL, text: TEXT, ...}, max_punsafe: 0.1, dedup: true
//! shards_pool:                    # images already downloaded by img2dataset
//!   kind: caption_pool
//!   params: {importer: img2dataset, shards: /data/laion/shards, source: laion}
//! ```
//! `laion-parquet` streams every `*.parquet` of `path` ([`crate::data::pool_laion`]): column
//! projection, NSFW rows dropped, URLs deduplicated, memory bounded by the stage's threads.
//! A source set to `null` is left out. `licenses` lists the SPDX ids accepted from icon sets
//! (default: the permissive ones); Tux Paint (GPL-2+) and Open Clip Art (public domain) are
//! recorded with their license.

use super::{StageContext, StageError, StageKind};
use crate::data::error::{resolve, DataError};
use crate::data::pool::PoolWriter;
use crate::data::pool_img2dataset::import_img2dataset;
use crate::data::pool_laion::{import_laion, LaionColumns, LaionImport};
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
    /// `laion-parquet`: the folder of metadata parquet files.
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    columns: LaionColumns,
    #[serde(default = "d_punsafe")]
    max_punsafe: f64,
    #[serde(default = "d_true")]
    dedup: bool,
}

fn d_punsafe() -> f64 {
    // LAION's own safety classifier: its "safe" subsets keep punsafe below 0.1.
    0.1
}
fn d_true() -> bool {
    true
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
            "laion-parquet" if p.path.is_some() => {}
            "laion-parquet" => {
                return Err("importer `laion-parquet` needs `path:` (the folder of LAION metadata parquet files)".into())
            }
            other => {
                return Err(format!(
                    "unknown importer `{other}` (mini, img2dataset, laion-parquet)"
                ))
            }
        }
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let root = ctx.repo_root.clone();
        let t = std::time::Instant::now();
        if p.importer == "laion-parquet" {
            let opt = LaionImport {
                dir: resolve(&root, p.path.as_deref().unwrap_or_default()),
                columns: p.columns.clone(),
                max_punsafe: p.max_punsafe,
                dedup: p.dedup,
                threads: ctx.threads.max(1),
            };
            let mut pool = PoolWriter::create(&ctx.out_dir).map_err(failed)?;
            let mut last = std::time::Instant::now();
            let counts = import_laion(&opt, &mut pool, &mut |c| {
                if last.elapsed().as_secs() >= 10 {
                    last = std::time::Instant::now();
                    let rate = c.rows as f64 / t.elapsed().as_secs_f64().max(1e-9);
                    println!(
                        "caption_pool: {} rows read, {} kept ({rate:.0} rows/s)",
                        c.rows, c.kept
                    );
                }
            })
            .map_err(failed)?;
            pool.finish().map_err(failed)?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "caption_pool: {counts:?} from {}, {secs:.1}s ({:.0} rows/s)",
                opt.dir.display(),
                counts.rows as f64 / secs.max(1e-9)
            );
            return Ok(());
        }
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
