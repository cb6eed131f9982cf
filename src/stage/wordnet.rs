//! `wordnet`: WordNet 3.0's noun synsets (wnid, lemmas, hypernyms, gloss) as `nouns.tsv`.
//!
//! ```yaml
//! wordnet:
//!   kind: wordnet
//!   params: {data_noun: /usr/share/wordnet/data.noun}   # the default; Debian `wordnet-base`
//!   deps: [/usr/share/wordnet/data.noun]
//! ```

use super::{StageContext, StageError, StageKind};
use crate::data::error::resolve;
use crate::data::wordnet::{WordNet, DATA_NOUN};
use serde_json::{json, Value};

pub struct Wordnet;

impl StageKind for Wordnet {
    fn name(&self) -> &'static str {
        "wordnet"
    }

    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        let mut p = params.as_object().cloned().unwrap_or_default();
        for k in p.keys() {
            if k != "data_noun" {
                return Err(format!("unknown param `{k}` (wordnet takes `data_noun`)"));
            }
        }
        p.entry("data_noun").or_insert(json!(DATA_NOUN));
        Ok(Value::Object(p))
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let path = resolve(
            &ctx.repo_root,
            ctx.params["data_noun"].as_str().unwrap_or(DATA_NOUN),
        );
        let wn = WordNet::load_data_noun(&path).map_err(|e| StageError::Failed(e.to_string()))?;
        std::fs::write(ctx.out_dir.join("nouns.tsv"), wn.to_tsv())?;
        println!(
            "wordnet: {} noun synsets from {}",
            wn.synsets.len(),
            path.display()
        );
        Ok(())
    }
}
