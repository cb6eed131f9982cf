//! A shared cache: a second place to find action records, consulted when the store has none.
//!
//! The engine knows it only through [`SharedCache`] — no URLs, no S3 — so a remote, another
//! store or anything else that can make a record and its outputs local can serve. `repro run`
//! asks it before executing a stage; `repro pull` walks the pipeline asking it for each stage.

use super::key::KeyComponents;
use super::plan::Lookup;
use super::{Engine, EngineError};
use crate::store::{ActionKey, Digest, Store};

pub trait SharedCache {
    /// Its name for messages (a URL).
    fn describe(&self) -> String;
    /// Make the record of `key` and its outputs local if the cache has them: `Ok(true)` when
    /// the store now holds both, `Ok(false)` when the cache has no such record. `Err` says why
    /// a record it has cannot be used (tampered object, untrusted signature, unreachable).
    fn fetch(&self, store: &Store, key: &ActionKey) -> Result<bool, String>;
    /// The output tree of the cache's record of `key`, the record checked as `fetch` checks
    /// it, nothing downloaded: what a planner needs to key later stages when its workers
    /// publish to the cache and it need not hold the outputs. `Ok(None)`: no such record.
    fn output_of(&self, key: &ActionKey) -> Result<Option<Digest>, String>;
}

#[derive(Debug, Default, serde::Serialize)]
pub struct PullReport {
    /// Stages whose record and outputs came from the shared cache.
    pub pulled: Vec<String>,
    /// Stages the store already had.
    pub present: Vec<String>,
    /// Stages the shared cache has no record for (at their current key).
    pub absent: Vec<String>,
    /// Stages whose key is unknown: an input is neither local nor pulled, or a dep is missing.
    pub blocked: Vec<String>,
    /// (stage, why its record was refused).
    pub refused: Vec<(String, String)>,
}

impl Engine<'_> {
    /// Ask the shared cache for the action of `comps`; the output tree when it was fetched.
    pub fn fetch_shared(
        &self,
        i: usize,
        comps: &KeyComponents,
    ) -> Result<Option<Digest>, EngineError> {
        let Some(cache) = self.shared else {
            return Ok(None);
        };
        let key = comps.key();
        match cache.fetch(self.store, &key) {
            Ok(true) => match self.lookup(i, comps)? {
                Lookup::Hit(d) => Ok(Some(d)),
                Lookup::Miss(_) => Ok(None),
            },
            Ok(false) => Ok(None),
            Err(message) => Err(EngineError::Shared(message)),
        }
    }

    /// The output tree of the result a worker published to the shared cache for `key`,
    /// nothing downloaded. `None` when the cache has no such record.
    pub fn shared_output(&self, key: &ActionKey) -> Result<Option<Digest>, EngineError> {
        match self.shared {
            Some(cache) => cache.output_of(key).map_err(EngineError::Shared),
            None => Ok(None),
        }
    }

    /// Pull the current records of the selected stages (indices in topological order) and
    /// their outputs. Keys are computed as `run` would, so a stage's key is known once its
    /// inputs are local or pulled.
    pub fn pull(&self, selection: &[usize]) -> Result<PullReport, EngineError> {
        let n = self.pipeline.stages.len();
        let mut outputs: Vec<Option<Digest>> = vec![None; n];
        let mut report = PullReport::default();
        for &i in selection {
            let name = self.pipeline.stages[i].name.clone();
            let known: Vec<Digest> = self.pipeline.inputs[i]
                .iter()
                .filter_map(|&j| outputs[j])
                .collect();
            if known.len() < self.pipeline.inputs[i].len() {
                report.blocked.push(name);
                continue;
            }
            let resolved = match self.resolve(i, &known) {
                Ok(r) => r,
                Err(EngineError::Dep { .. }) => {
                    report.blocked.push(name);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Lookup::Hit(d) = resolved.local {
                outputs[i] = Some(d);
                report.present.push(name);
                continue;
            }
            match self.fetch_shared(i, &resolved.components) {
                Ok(Some(d)) => {
                    outputs[i] = Some(d);
                    report.pulled.push(name);
                }
                Ok(None) => report.absent.push(name),
                Err(e) => report.refused.push((name, e.to_string())),
            }
        }
        self.save_caches();
        Ok(report)
    }
}
