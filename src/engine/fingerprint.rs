//! Code fingerprints of stage kinds. A kind's code is its *source closure*: every file its
//! `src/stage/<kind>.rs` reaches through the import graph, computed by build.rs (see
//! `imports.rs`) with the git blob id each file had when compiled, plus the kind's declared
//! [`extra_sources`](crate::stage::StageKind::extra_sources). Editing the README reruns
//! nothing; editing `src/stats/bootstrap.rs` reruns exactly the kinds that reach it.

use crate::stage::StageKind;
use crate::store::{Digest, StoreError};

#[cfg(test)]
#[path = "imports.rs"]
mod imports;

mod blobs {
    include!(concat!(env!("OUT_DIR"), "/source_blobs.rs"));
}

/// The git blob id of a compiled source file (any file under `src/`), if it is one.
pub fn blob_of(path: &str) -> Option<&'static str> {
    blobs::SOURCE_BLOBS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, b)| *b)
}

/// The import-graph closure of `kind` as compiled: sorted (path, blob id).
pub fn closure(kind: &str) -> Result<&'static [(&'static str, &'static str)], StoreError> {
    blobs::KIND_CLOSURES
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            StoreError::Refused(format!(
                "stage kind `{kind}` has no source closure: a kind must live in src/stage/{kind}.rs"
            ))
        })
}

/// (path, blob id) of everything that makes `kind`'s code: its closure and its extra sources,
/// sorted. Errors on an extra source that is not a file under `src/` of this build.
pub fn source_blobs(kind: &dyn StageKind) -> Result<Vec<(String, String)>, StoreError> {
    let mut out: Vec<(String, String)> = closure(kind.name())?
        .iter()
        .map(|(p, b)| (p.to_string(), b.to_string()))
        .collect();
    for extra in kind.extra_sources() {
        let blob = blob_of(extra).ok_or_else(|| {
            StoreError::Refused(format!(
                "stage kind `{}` names extra source `{extra}`, which is not a file under src/ of this build",
                kind.name()
            ))
        })?;
        out.push((extra.to_string(), blob.to_string()));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The fingerprint: sha256 over the sorted `path blob` lines.
pub fn fingerprint(kind: &dyn StageKind) -> Result<Digest, StoreError> {
    Ok(digest_of(&source_blobs(kind)?))
}

fn digest_of(sources: &[(String, String)]) -> Digest {
    let text: String = sources.iter().map(|(p, b)| format!("{p} {b}\n")).collect();
    Digest::of(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(kind: &str) -> Vec<&'static str> {
        closure(kind)
            .expect("closure")
            .iter()
            .map(|(p, _)| *p)
            .collect()
    }

    #[test]
    fn every_registered_kind_has_a_closure_holding_its_own_file() {
        for kind in crate::stage::registry() {
            let own = format!("src/stage/{}.rs", kind.name());
            assert!(files(kind.name()).contains(&own.as_str()), "{own}");
            fingerprint(kind.as_ref()).expect("sources compiled");
        }
        // The blob id is git's, 40 hex digits, for every file under src/.
        assert_eq!(blob_of("src/engine/fingerprint.rs").map(str::len), Some(40));
        assert!(closure("no_such_kind").is_err());
    }

    /// Files each kind reaches only indirectly, which the hand-written lists missed.
    #[test]
    fn closures_hold_indirect_imports_and_not_unrelated_code() {
        let report = files("report");
        assert!(report.contains(&"src/stats/bootstrap.rs"), "{report:?}");
        assert!(report.contains(&"src/stats/mod.rs"));
        // The importers reach data/error.rs through their readers (idx.rs, imagenet.rs, …);
        // dataset_subset reaches only dataset.rs, whose errors are its own.
        for kind in [
            "dataset_import",
            "wordnet",
            "imagenet_classes",
            "caption_pool",
        ] {
            assert!(files(kind).contains(&"src/data/error.rs"), "{kind}");
        }
        assert!(!files("dataset_subset").contains(&"src/data/error.rs"));
        let train = files("train");
        assert!(train.contains(&"src/ml/finetune.rs"), "{train:?}");
        // evaluate reads what train wrote (the model card in ml/train.rs) and finds its dataset
        // through stage/train.rs; it uses nothing of the recipes, which the item-level graph
        // sees (a file-level list would have added ml/recipe.rs through ml/train.rs).
        let evaluate = files("evaluate");
        assert!(evaluate.contains(&"src/ml/train.rs"), "{evaluate:?}");
        assert!(evaluate.contains(&"src/stage/train.rs"), "{evaluate:?}");
        assert!(!evaluate.contains(&"src/ml/recipe.rs"), "{evaluate:?}");
        // Nothing of ML in the statistics kinds, nor of other kinds through the registry.
        let rank = files("rank_stats");
        assert!(!rank.iter().any(|p| p.starts_with("src/ml/")), "{rank:?}");
        assert!(!rank.contains(&"src/stage/report.rs"), "{rank:?}");
        assert!(!files("cmd").contains(&"src/stats/bootstrap.rs"));
    }

    #[test]
    fn extra_sources_enter_the_fingerprint() {
        struct K(&'static [&'static str]);
        impl StageKind for K {
            fn name(&self) -> &'static str {
                "cmd"
            }
            fn extra_sources(&self) -> &'static [&'static str] {
                self.0
            }
            fn run(
                &self,
                _: &mut crate::stage::StageContext,
            ) -> Result<(), crate::stage::StageError> {
                Ok(())
            }
        }
        let plain = fingerprint(&K(&[])).expect("fingerprint");
        let extra = fingerprint(&K(&["src/store/tree.rs"])).expect("fingerprint");
        assert_ne!(plain, extra);
        assert!(fingerprint(&K(&["README.md"])).is_err());
    }
}
