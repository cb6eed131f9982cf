//! Resolution: once a stage's inputs are known, its key components, key and where its result
//! already is — computed once per stage and used by `run`, `status`, `pull`, `--dry-run` and
//! `audit`, so they cannot disagree about a key.

use super::key::KeyComponents;
use super::plan::Lookup;
use super::{Engine, EngineError};
use crate::store::{ActionKey, Digest};

/// A stage whose inputs are known.
pub struct Resolved {
    pub components: KeyComponents,
    pub key: ActionKey,
    /// The local store's answer.
    pub local: Lookup,
}

/// Where a resolved stage's result comes from.
pub enum Source {
    /// The local store has it.
    Local(Digest),
    /// The shared cache had it; it is local now.
    Pulled(Digest),
    /// The shared cache has it; it stays there (its output tree's digest is known).
    Shared(Digest),
    /// Nobody has it: it must run. The reasons say why (a diff against the last record).
    Run(Vec<String>),
}

impl Engine<'_> {
    /// Resolve stage `i` given its inputs' output trees (in `inputs[i]` order).
    pub fn resolve(&self, i: usize, input_outputs: &[Digest]) -> Result<Resolved, EngineError> {
        let components = self.components(i, input_outputs)?;
        let key = components.key();
        let local = self.lookup_key(i, &components, &key)?;
        Ok(Resolved {
            components,
            key,
            local,
        })
    }

    /// Where `r`'s result comes from: the store, else the shared cache (asked at most once per
    /// key and run; a refused or unreachable record is reported through `note` and run here).
    /// `pull`: make a shared result local; else only its record is read.
    pub fn source(
        &self,
        i: usize,
        r: &Resolved,
        pull: bool,
        note: &mut dyn FnMut(String),
    ) -> Source {
        let reasons = match &r.local {
            Lookup::Hit(d) => return Source::Local(*d),
            Lookup::Miss(reasons) => reasons.clone(),
        };
        if self.shared.is_none() || !self.remote_asked.borrow_mut().insert(r.key) {
            return Source::Run(reasons);
        }
        let found = match (pull, self.shared) {
            (false, Some(cache)) => cache
                .output_of(&r.key)
                .map(|d| d.map(Source::Shared))
                .map_err(EngineError::Shared),
            _ => self
                .fetch_shared(i, &r.components)
                .map(|d| d.map(Source::Pulled)),
        };
        match found {
            Ok(Some(source)) => source,
            Ok(None) => Source::Run(reasons),
            Err(e) => {
                note(format!(
                    "{}: {e}; running it here",
                    self.pipeline.stages[i].name
                ));
                Source::Run(reasons)
            }
        }
    }
}
