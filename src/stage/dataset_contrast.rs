//! `dataset_contrast`: two datasets as one two-class dataset (class = which dataset an image
//! came from), balanced per split, for the paper's dataset-classification experiment (see
//! [`crate::data::contrast`]). The existing `train` and `evaluate` kinds then train and score a
//! classifier on it.
//!
//! ```yaml
//! contrast-imagenot-vs-fashion:
//!   kind: dataset_contrast
//!   inputs: [mini_imagenot, fashion_mnist]
//!   params:
//!     a: mini_imagenot            # class 0
//!     b: fashion_mnist            # class 1
//!     per_class: {val: 700}       # optional; a split left out takes the smaller count
//!     seed: 0
//!     name: imagenot-vs-fashion   # default: <a dataset>-vs-<b dataset>
//!     size: 224                   # needed when a source is jpeg/raw: shorter side → 224,
//!                                 # centre crop 224×224, written fixed
//! ```
//! Outputs: the dataset (`dataset.json`, shards, `classes.tsv`), `contrast.json` (sources,
//! content digests, counts) and `sources.tsv` (each image's source and index).

use super::{StageContext, StageError, StageKind};
use crate::data::contrast::{build_contrast, ContrastOptions, Side};
use crate::data::dataset::Dataset;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub struct DatasetContrast;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Input stage whose images are class 0.
    a: String,
    /// Input stage whose images are class 1.
    b: String,
    #[serde(default)]
    per_class: BTreeMap<String, usize>,
    #[serde(default)]
    seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Side of the square every image is resized and centre-cropped to (jpeg/raw sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u32>,
}

impl StageKind for DatasetContrast {
    fn name(&self) -> &'static str {
        "dataset_contrast"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        if p.a == p.b {
            return Err(format!(
                "`a` and `b` are both `{}`; name two different input stages",
                p.a
            ));
        }
        if p.size == Some(0) {
            return Err("`size` must be at least 1 (e.g. 224)".into());
        }
        serde_json::to_value(p).map_err(|e| e.to_string())
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let p: Params = ctx.params()?;
        let open = |input: &str| -> Result<Dataset, StageError> {
            let dir = ctx.input(input)?;
            Dataset::open(dir).map_err(|e| {
                StageError::Failed(format!(
                    "input `{input}` is not a dataset ({e}); `a:` and `b:` must name dataset stages"
                ))
            })
        };
        let (da, db) = (open(&p.a)?, open(&p.b)?);
        let name = p
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-vs-{}", da.meta.name, db.meta.name));
        let opt = ContrastOptions {
            name,
            per_class: p.per_class.clone(),
            seed: p.seed,
            size: p.size,
        };
        let a = Side {
            input: &p.a,
            dataset: &da,
        };
        let b = Side {
            input: &p.b,
            dataset: &db,
        };
        let out = ctx.out_dir.clone();
        let summary = build_contrast(&a, &b, &opt, &out, |split, done, total| {
            ctx.progress(done, total, split)
        })
        .map_err(|e| StageError::Failed(e.to_string()))?;
        let counts: Vec<String> = summary
            .per_class
            .iter()
            .map(|(s, n)| format!("{s} {n}+{n}"))
            .collect();
        eprintln!(
            "dataset_contrast: {} ({} vs {}): {}",
            summary.name,
            da.meta.name,
            db.meta.name,
            counts.join(", ")
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_need_two_different_inputs() {
        let k = DatasetContrast;
        assert!(k.resolve_params(&json!({"a": "x", "b": "x"})).is_err());
        assert!(k.resolve_params(&json!({"a": "x"})).is_err());
        let p = k
            .resolve_params(&json!({"a": "x", "b": "y"}))
            .expect("valid");
        assert_eq!(p, json!({"a": "x", "b": "y", "per_class": {}, "seed": 0}));
    }

    #[test]
    fn a_missing_input_is_named() {
        let tmp = tempfile::tempdir().expect("tmp");
        let params = json!({"a": "x", "b": "y", "per_class": {}, "seed": 0});
        let mut ctx = StageContext::detached(
            "contrast",
            params,
            tmp.path().join("out"),
            tmp.path().into(),
        );
        let e = DatasetContrast.run(&mut ctx).expect_err("no inputs");
        assert!(e.to_string().contains("needs input `x`"), "{e}");
    }
}
