//! The engine: keys, plans and executes a validated pipeline against a store. It knows stage
//! kinds only through the [`StageKind`] trait and nothing of what they compute.

pub mod action;
pub mod deps;
pub mod executor;
pub mod fingerprint;
pub mod gc;
// The action key's components live with the records that keep them (provenance sits below the
// engine); `engine::key` stays the engine's name for them.
pub use crate::provenance::key;
pub mod plan;
pub mod progress;
pub mod publish;
pub mod reaper;
pub mod resolve;
pub mod scheduler;
pub mod shared;
pub mod slurm;
pub mod verify;

use crate::pipeline::graph::KindCatalog;
use crate::pipeline::Pipeline;
use crate::stage::StageKind;
use crate::store::{Digest, Store, StoreError};
use deps::DepHasher;
use key::{KeyComponents, KEY_VERSION};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stage `{stage}`: dep `{path}` cannot be read ({message}); create it, or fix `deps:` in the pipeline")]
    Dep {
        stage: String,
        path: String,
        message: String,
    },
    #[error(transparent)]
    Exec(#[from] executor::ExecError),
    /// A target that names no stage (the message lists what does).
    #[error("{0}")]
    Target(String),
    #[error(
        "missing data paths; nothing was run:\n{list}\nsupply them, or fix the paths in {file}"
    )]
    MissingData { list: String, file: PathBuf },
    #[error("unknown kind `{0}`; `repro kinds` lists the kinds this binary knows")]
    UnknownKind(String),
    /// The shared cache (a remote) has a record it cannot deliver or that is refused.
    #[error("{0}")]
    Shared(String),
    #[error("publishing `{stage}` to {path}: {source}")]
    Publish {
        stage: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The registered stage kinds, as the pipeline validator sees them.
pub struct Kinds(pub Vec<Box<dyn StageKind>>);

impl Kinds {
    pub fn registered() -> Kinds {
        Kinds(crate::stage::registry())
    }
    pub fn get(&self, name: &str) -> Option<&dyn StageKind> {
        self.0.iter().find(|k| k.name() == name).map(|k| k.as_ref())
    }
}

impl KindCatalog for Kinds {
    fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|k| k.name()).collect()
    }
    fn resolve(&self, kind: &str, params: &Value) -> Option<Result<Value, String>> {
        self.get(kind).map(|k| k.resolve_params(params))
    }
}

pub struct Engine<'a> {
    pub pipeline: &'a Pipeline,
    pub store: &'a Store,
    pub kinds: &'a Kinds,
    deps: RefCell<DepHasher>,
    code: RefCell<HashMap<String, Digest>>,
    /// Consulted when the store has no record for a key (`repro run --remote`, `repro pull`).
    shared: Option<&'a dyn shared::SharedCache>,
    /// Keys already asked of `shared` this run: a miss is not asked again.
    remote_asked: RefCell<HashSet<crate::store::ActionKey>>,
    /// Workers publish to `shared`, not to the store (Slurm workers without a shared
    /// filesystem): a result there is taken without pulling its outputs, unless the planner
    /// needs them (see [`scheduler`]).
    results_on_shared: bool,
}

impl<'a> Engine<'a> {
    pub fn new(pipeline: &'a Pipeline, store: &'a Store, kinds: &'a Kinds) -> Engine<'a> {
        let deps = DepHasher::with_cache(store.root().join("statcache.json"));
        Engine {
            pipeline,
            store,
            kinds,
            deps: RefCell::new(deps),
            code: RefCell::new(HashMap::new()),
            shared: None,
            remote_asked: RefCell::new(HashSet::new()),
            results_on_shared: false,
        }
    }

    /// Consult `cache` for actions the store lacks.
    pub fn with_shared(mut self, cache: &'a dyn shared::SharedCache) -> Engine<'a> {
        self.shared = Some(cache);
        self
    }

    /// Workers publish to the shared cache (set with [`Engine::with_shared`]), not to the store.
    pub fn with_results_on_shared(mut self) -> Engine<'a> {
        self.results_on_shared = true;
        self
    }

    pub fn results_on_shared(&self) -> bool {
        self.results_on_shared && self.shared.is_some()
    }

    fn kind(&self, i: usize) -> Result<&dyn StageKind, EngineError> {
        let name = &self.pipeline.stages[i].kind;
        self.kinds
            .get(name)
            .ok_or_else(|| EngineError::UnknownKind(name.clone()))
    }

    fn code_fingerprint(&self, i: usize) -> Result<Digest, EngineError> {
        let kind = self.kind(i)?;
        if let Some(d) = self.code.borrow().get(kind.name()) {
            return Ok(*d);
        }
        let d = fingerprint::fingerprint(kind)?;
        self.code.borrow_mut().insert(kind.name().to_string(), d);
        Ok(d)
    }

    /// Absolute path of a `deps:` entry (relative ones are relative to the pipeline's folder).
    pub fn dep_path(&self, dep: &str) -> PathBuf {
        self.pipeline.root.join(dep)
    }

    /// The key components of stage `i` given its inputs' output digests (in `inputs[i]` order).
    pub fn components(
        &self,
        i: usize,
        input_outputs: &[Digest],
    ) -> Result<KeyComponents, EngineError> {
        let stage = &self.pipeline.stages[i];
        let mut inputs = BTreeMap::new();
        for (&j, d) in self.pipeline.inputs[i].iter().zip(input_outputs) {
            inputs.insert(self.pipeline.stages[j].name.clone(), *d);
        }
        let mut deps = BTreeMap::new();
        for dep in &stage.deps {
            let d = self
                .deps
                .borrow_mut()
                .digest(&self.dep_path(dep))
                .map_err(|e| EngineError::Dep {
                    stage: stage.name.clone(),
                    path: dep.clone(),
                    message: e.source.to_string(),
                })?;
            deps.insert(dep.clone(), d);
        }
        let kind = self.kind(i)?;
        Ok(KeyComponents {
            version: KEY_VERSION,
            kind: stage.kind.clone(),
            code: self.code_fingerprint(i)?,
            params: stage.params.clone(),
            inputs,
            deps,
            env: kind.environment_at(&stage.params, stage.resources.gpus, &self.pipeline.root),
        })
    }

    /// `deps:` paths of the selected stages that do not exist, as (stage, path): data a user
    /// must supply. Checked before anything runs, so a long run never dies halfway on them.
    pub fn missing_deps(&self, selection: &[usize]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for &i in selection {
            let stage = &self.pipeline.stages[i];
            for dep in &stage.deps {
                if !self.dep_path(dep).exists() {
                    out.push((stage.name.clone(), dep.clone()));
                }
            }
        }
        out
    }

    /// Persist caches (the deps stat cache).
    pub fn save_caches(&self) {
        self.deps.borrow_mut().save(&self.store.tmp_dir());
    }
}
