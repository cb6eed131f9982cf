//! The action record: the key's components, the outputs, and how they were made.

use super::key::KeyComponents;
use crate::pipeline::Resources;
use crate::store::{ActionKey, Digest, Store, StoreError, TreeEntry};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::GitState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub stage: String,
    pub git: GitState,
    /// (path, git blob id) of the kind's sources as compiled.
    pub code_sources: BTreeMap<String, String>,
    pub repro_version: String,
    pub host: String,
    pub started: String,
    pub ended: String,
    pub duration_s: f64,
    pub peak_memory_bytes: u64,
    pub exit_status: i32,
    /// Digest of the stage's stdout+stderr.
    pub log: Option<Digest>,
    pub resources: Resources,
    pub gpus: Vec<u32>,
    /// Where the worker ran when a batch system placed it (absent: a local process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_job: Option<BatchJob>,
    /// The reasons of the attempts that failed before this one succeeded (`retries:`): a
    /// flaky stage's success says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<String>,
}

/// A Slurm job's identity, as its worker saw it in its environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchJob {
    pub executor: String,
    pub job_id: String,
    pub node: Option<String>,
    pub partition: Option<String>,
}

impl BatchJob {
    /// From `SLURM_JOB_ID`, `SLURMD_NODENAME`, `SLURM_JOB_PARTITION`; `None` outside Slurm.
    pub fn from_env() -> Option<BatchJob> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(BatchJob {
            executor: "slurm".into(),
            job_id: var("SLURM_JOB_ID")?,
            node: var("SLURMD_NODENAME"),
            partition: var("SLURM_JOB_PARTITION"),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub key: ActionKey,
    pub components: KeyComponents,
    /// Digest of the output tree.
    pub output: Digest,
    /// The tree's files, so checking that outputs are present needs no object reads.
    pub files: Vec<TreeEntry>,
    pub provenance: Provenance,
}

/// What planning needs of a record, parsed without the provenance: the no-op path reads one
/// per stage, so it must be cheap.
#[derive(Debug, Deserialize)]
pub struct RecordHead {
    pub key: ActionKey,
    pub components: KeyComponents,
    pub output: Digest,
    pub files: Vec<TreeEntry>,
}

impl RecordHead {
    /// The record for `components` (whose key is `key`), if one exists and really is for them.
    /// Comparing the components structurally checks the record as hashing them would.
    pub fn load(
        store: &Store,
        key: &ActionKey,
        components: &KeyComponents,
    ) -> Result<Option<RecordHead>, StoreError> {
        let Some(bytes) = store.get_action(key)? else {
            return Ok(None);
        };
        let bad = |message: String| StoreError::BadRecord {
            path: store.root().join("actions"),
            message,
        };
        let head: RecordHead =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("{key}: {e}")))?;
        if head.key != *key || head.components != *components {
            return Err(bad(format!(
                "{key}: its components are not the ones that hash to its name"
            )));
        }
        Ok(Some(head))
    }

    /// True when the output tree and every file object are in the store and unmodified: a
    /// stat against each object's verification stamp, a re-hash only where it differs
    /// (`Store::intact`), so a cache hit never hands out an object changed on disk.
    pub fn outputs_intact(&self, store: &Store) -> bool {
        store.intact(&self.output) && self.files.iter().all(|e| store.intact(&e.digest))
    }
}

impl ActionRecord {
    /// Read and check a record: it must parse and its components must hash to its key.
    pub fn load(store: &Store, key: &ActionKey) -> Result<Option<ActionRecord>, StoreError> {
        let Some(bytes) = store.get_action(key)? else {
            return Ok(None);
        };
        let bad = |message: String| StoreError::BadRecord {
            path: store.root().join("actions"),
            message,
        };
        let rec: ActionRecord =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("{key}: {e}")))?;
        if rec.key != *key || rec.components.key() != *key {
            return Err(bad(format!(
                "{key}: its components hash to {}, not to its name",
                rec.components.key()
            )));
        }
        Ok(Some(rec))
    }

    /// True when the output tree and every file object are in the store.
    pub fn outputs_present(&self, store: &Store) -> bool {
        store.contains(&self.output) && self.files.iter().all(|e| store.contains(&e.digest))
    }

    /// Publish: the outputs must already be in the store. Indexes producers for `audit`.
    pub fn publish(&self, store: &Store) -> Result<(), StoreError> {
        if !self.outputs_present(store) {
            return Err(StoreError::Refused(format!(
                "refusing to publish action {}: its outputs are not all in the store",
                self.key
            )));
        }
        store.put_action(
            &self.key,
            &serde_json::to_vec_pretty(self).expect("record serializes"),
        )?;
        store.index_producer(&self.output, &self.key)?;
        for e in &self.files {
            store.index_producer(&e.digest, &self.key)?;
        }
        if let Some(log) = &self.provenance.log {
            store.index_producer(log, &self.key)?;
        }
        store.set_ref(&self.provenance.stage, &self.key)
    }
}
