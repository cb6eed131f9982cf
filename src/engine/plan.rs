//! Planning: which stages are fresh (a valid record with complete outputs exists for their
//! key) and, for the others, why not. One forward pass in topological order.

use super::key::KeyComponents;
use super::{Engine, EngineError};
use crate::provenance::{ActionRecord, RecordHead};
use crate::store::{ActionKey, Digest};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Fresh,
    Stale,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    pub stage: String,
    pub kind: String,
    pub state: State,
    pub reasons: Vec<String>,
    /// Known when every input is fresh.
    pub key: Option<ActionKey>,
    /// The output tree, when fresh.
    pub output: Option<Digest>,
}

/// The outcome of looking a key up in the store.
pub enum Lookup {
    /// A usable record exists; its output tree.
    Hit(Digest),
    /// No usable record; the reasons say why.
    Miss(Vec<String>),
}

impl Engine<'_> {
    /// Look up the record for `comps`; a record whose outputs are gone or modified counts as a
    /// miss (and a modified object is quarantined, so the rerun writes it afresh).
    pub fn lookup(&self, i: usize, comps: &KeyComponents) -> Result<Lookup, EngineError> {
        self.lookup_key(i, comps, &comps.key())
    }

    /// [`Engine::lookup`] when the key of `comps` is already known (hashing the components is
    /// the no-op run's largest cost).
    pub fn lookup_key(
        &self,
        i: usize,
        comps: &KeyComponents,
        key: &ActionKey,
    ) -> Result<Lookup, EngineError> {
        match RecordHead::load(self.store, key, comps) {
            Ok(Some(rec)) if rec.outputs_intact(self.store) => return Ok(Lookup::Hit(rec.output)),
            Ok(Some(_)) => {
                return Ok(Lookup::Miss(vec![
                    "outputs missing from the store (deleted or corrupt)".into(),
                ]))
            }
            Ok(None) => {}
            Err(e) => return Ok(Lookup::Miss(vec![format!("action record unusable: {e}")])),
        }
        Ok(Lookup::Miss(self.why_changed(i, Some(comps))))
    }

    /// Compare with the last record this stage published.
    fn why_changed(&self, i: usize, now: Option<&KeyComponents>) -> Vec<String> {
        let stage = &self.pipeline.stages[i];
        let last = self
            .store
            .get_ref(&stage.name)
            .and_then(|k| ActionRecord::load(self.store, &k).ok().flatten());
        match (last, now) {
            (None, _) => vec!["never run".into()],
            (Some(last), Some(now)) => {
                let d = now.diff(&last.components);
                if d.is_empty() {
                    vec!["no record for this key".into()]
                } else {
                    d
                }
            }
            (Some(_), None) => Vec::new(),
        }
    }

    /// Status of the selected stages (indices in topological order).
    pub fn status(&self, selection: &[usize]) -> Result<Vec<StageStatus>, EngineError> {
        let n = self.pipeline.stages.len();
        let mut outputs: Vec<Option<Digest>> = vec![None; n];
        let mut out = Vec::with_capacity(selection.len());
        for &i in selection {
            let stage = &self.pipeline.stages[i];
            let ins = &self.pipeline.inputs[i];
            let known: Vec<Digest> = ins.iter().filter_map(|&j| outputs[j]).collect();
            let mut status = StageStatus {
                stage: stage.name.clone(),
                kind: stage.kind.clone(),
                state: State::Stale,
                reasons: Vec::new(),
                key: None,
                output: None,
            };
            if known.len() < ins.len() {
                for &j in ins.iter().filter(|&&j| outputs[j].is_none()) {
                    status
                        .reasons
                        .push(format!("input {} is stale", self.pipeline.stages[j].name));
                }
                for (_, dep) in self.missing_deps(&[i]) {
                    status.reasons.push(format!("dep {dep} does not exist"));
                }
            } else {
                match self.resolve(i, &known) {
                    Err(EngineError::Dep { path, message, .. }) => {
                        status
                            .reasons
                            .push(format!("dep {path} cannot be read: {message}"));
                    }
                    Err(e) => return Err(e),
                    Ok(resolved) => {
                        status.key = Some(resolved.key);
                        match resolved.local {
                            Lookup::Hit(output) => {
                                status.state = State::Fresh;
                                status.output = Some(output);
                                outputs[i] = Some(output);
                            }
                            Lookup::Miss(reasons) => status.reasons = reasons,
                        }
                    }
                }
            }
            out.push(status);
        }
        self.save_caches();
        Ok(out)
    }
}
