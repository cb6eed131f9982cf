//! Stage kinds: what a stage *does*. The engine plans and caches; a kind computes.
//!
//! A kind is a file `src/stage/<name>.rs` whose name is the kind's `name()` (build.rs finds a
//! kind's code there: its fingerprint covers every file that file reaches through the import
//! graph), declared with a `pub mod` line below and listed in [`registry`]; what it computes
//! usually lives in `data`, `ml`, `stats` or `report`. A kind reads its inputs and writes its
//! outputs only through the [`StageContext`] it is given, so the same kind runs in the local
//! executor, in `repro exec-stage` on another host, or in a test.

pub mod caption_pool;
pub mod classification_stats;
pub mod cmd;
pub mod context;
pub mod dataset_contrast;
pub mod dataset_import;
pub mod dataset_subset;
#[cfg(feature = "torch")]
pub mod evaluate;
#[cfg(feature = "torch")]
pub mod finetune;
pub mod holdout_split;
pub mod imagenet_classes;
#[cfg(feature = "torch")]
pub mod imagenot_build;
#[cfg(feature = "torch")]
pub mod imagenot_select;
pub mod lr_choice;
pub mod rank_stats;
pub mod report;
#[cfg(feature = "torch")]
pub mod train;
pub mod wordnet;

pub use context::{StageContext, StageError};

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One kind of stage (`kind:` in pipeline.yaml).
pub trait StageKind: Send + Sync {
    /// The name used as `kind:` in pipeline.yaml.
    fn name(&self) -> &'static str;

    /// Files under `src/` that shape this kind's behaviour but that the import graph of
    /// `src/stage/<name>.rs` cannot see (a data file embedded by a macro with a computed path).
    /// The kind's code fingerprint covers its import closure (build.rs) and these: editing one
    /// reruns every stage of this kind and what follows; editing anything else reruns nothing.
    fn extra_sources(&self) -> &'static [&'static str] {
        &[]
    }

    /// Validate the user's params and fill defaults. The result is what the action key hashes
    /// and what the stage sees, so two spellings of the same settings share one cache entry.
    fn resolve_params(&self, params: &Value) -> Result<Value, String> {
        Ok(params.clone())
    }

    /// Environment facts that change results and so belong in the key (libtorch version,
    /// device class, precision). Must be cheap and must not depend on the host's load.
    fn environment(&self, _params: &Value, _gpus: u32) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// [`StageKind::environment`] of a stage whose pipeline lives in `root`: a kind that runs
    /// commands to observe its environment runs them there, as the stage itself would, so the
    /// key does not depend on the folder `repro` was started from.
    fn environment_at(
        &self,
        params: &Value,
        gpus: u32,
        _root: &std::path::Path,
    ) -> BTreeMap<String, String> {
        self.environment(params, gpus)
    }

    /// Output files whose numbers may differ slightly between two correct executions (metrics
    /// summed in another order on another machine): path in the output tree → the largest
    /// absolute difference of any number in it that `repro verify --rerun` accepts. Every
    /// other file must be identical byte for byte. A stage's `tolerance:` key adds to these.
    fn metric_files(&self, _params: &Value) -> BTreeMap<String, f64> {
        BTreeMap::new()
    }

    /// Output files that record how an execution went rather than what it computed
    /// (wall-clock timings): `repro verify --rerun` checks that a rerun writes them too, but
    /// not what they hold.
    fn volatile_files(&self, _params: &Value) -> BTreeSet<String> {
        BTreeSet::new()
    }

    /// Compute the outputs. Runs in a fresh process (`repro exec-stage`) whose stdout and
    /// stderr are the stage log.
    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError>;
}

/// Every stage kind this binary knows, in one table.
pub fn registry() -> Vec<Box<dyn StageKind>> {
    vec![
        Box::new(cmd::Cmd),
        Box::new(wordnet::Wordnet),
        Box::new(imagenet_classes::ImagenetClasses),
        Box::new(caption_pool::CaptionPool),
        Box::new(dataset_import::DatasetImport),
        Box::new(dataset_subset::DatasetSubset),
        Box::new(holdout_split::HoldoutSplit),
        Box::new(lr_choice::LrChoice),
        Box::new(dataset_contrast::DatasetContrast),
        #[cfg(feature = "torch")]
        Box::new(imagenot_build::ImagenotBuild),
        #[cfg(feature = "torch")]
        Box::new(imagenot_select::ImagenotSelect),
        Box::new(rank_stats::RankStats),
        Box::new(classification_stats::ClassificationStatsKind),
        Box::new(report::ReportKind),
        #[cfg(feature = "torch")]
        Box::new(train::Train),
        #[cfg(feature = "torch")]
        Box::new(evaluate::Evaluate),
        #[cfg(feature = "torch")]
        Box::new(finetune::Finetune),
    ]
}

/// Look a kind up by name.
pub fn find(name: &str) -> Option<Box<dyn StageKind>> {
    registry().into_iter().find(|k| k.name() == name)
}
