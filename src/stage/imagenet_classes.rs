//! `imagenet_classes`: the ImageNet-1k classes (wnid, lemma, definition) in label order, as
//! `imagenet_classes.tsv`, from the timm wheel's data files.
//!
//! ```yaml
//! imagenet_classes:
//!   kind: imagenet_classes
//!   params: {timm_info: .deps/pypi/timm/timm/data/_info}   # the default (scripts/setup-data.sh)
//! ```

use super::{StageContext, StageError, StageKind};
use crate::data::error::resolve;
use crate::data::imagenet::{load_imagenet1k, to_tsv, TIMM_INFO_DIR};
use serde_json::{json, Value};

pub struct ImagenetClasses;

impl StageKind for ImagenetClasses {
    fn name(&self) -> &'static str {
        "imagenet_classes"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let mut p = params.as_object().cloned().unwrap_or_default();
        for k in p.keys() {
            if k != "timm_info" {
                return Err(format!(
                    "unknown param `{k}` (imagenet_classes takes `timm_info`)"
                ));
            }
        }
        p.entry("timm_info").or_insert(json!(TIMM_INFO_DIR));
        Ok(Value::Object(p))
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let dir = resolve(
            &ctx.repo_root,
            ctx.params["timm_info"].as_str().unwrap_or(TIMM_INFO_DIR),
        );
        let classes = load_imagenet1k(&dir).map_err(|e| StageError::Failed(e.to_string()))?;
        std::fs::write(ctx.out_dir.join("imagenet_classes.tsv"), to_tsv(&classes))?;
        println!(
            "imagenet_classes: {} classes from {}",
            classes.len(),
            dir.display()
        );
        Ok(())
    }
}
