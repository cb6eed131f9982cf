//! One action, executed on its own: `repro exec-stage KEY` reads the pending action from the
//! store, runs the stage kind in this process and publishes outputs and record to the store.
//! Nothing it needs lives in the memory of the process that planned the run, so the same
//! command serves the local executor, a batch job on another host, or a person debugging.

use super::key::KeyComponents;
use crate::pipeline::Resources;
use crate::provenance::{self, ActionRecord, GitState, Provenance};
use crate::stage::context::CheckpointStore;
use crate::stage::{StageContext, StageKind};
use crate::store::fsutil::write_atomic;
use crate::store::{ActionKey, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything needed to execute an action, written to `store/pending/<key>.json` by the planner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingAction {
    pub stage: String,
    pub components: KeyComponents,
    pub resources: Resources,
    /// GPU ids assigned by the scheduler (also in `CUDA_VISIBLE_DEVICES`).
    pub gpus: Vec<u32>,
    /// Where the stage runs (the pipeline's folder).
    pub repo_root: PathBuf,
    /// Re-execute even when a record exists.
    pub force: bool,
}

/// Where a stage's scratch lives while it runs.
pub fn work_dir(store: &Store, key: &ActionKey) -> PathBuf {
    store.work_dir().join(key.to_string())
}

fn pending_path(store: &Store, key: &ActionKey) -> PathBuf {
    store.root().join("pending").join(format!("{key}.json"))
}

pub fn write_pending(store: &Store, action: &PendingAction) -> Result<ActionKey, StoreError> {
    let key = action.components.key();
    let path = pending_path(store, &key);
    let bytes = serde_json::to_vec_pretty(action).expect("PendingAction serializes");
    write_atomic(&store.tmp_dir(), &path, &bytes)
        .map_err(|e| StoreError::Io { path, source: e })?;
    Ok(key)
}

pub fn read_pending(store: &Store, key: &ActionKey) -> Result<PendingAction, StoreError> {
    let path = pending_path(store, key);
    let bytes = fs::read(&path).map_err(|e| StoreError::Io {
        path: path.clone(),
        source: e,
    })?;
    let action: PendingAction =
        serde_json::from_slice(&bytes).map_err(|e| StoreError::BadRecord {
            path: path.clone(),
            message: e.to_string(),
        })?;
    if action.components.key() != *key {
        return Err(StoreError::BadRecord {
            path,
            message: "its components do not hash to its name".into(),
        });
    }
    Ok(action)
}

/// How an execution ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Another process finished the same action first.
    AlreadyDone,
    Published,
}

struct StoreCheckpoints<'a> {
    store: &'a Store,
    key: ActionKey,
}

impl CheckpointStore for StoreCheckpoints<'_> {
    fn save(&self, file: &Path) -> io::Result<()> {
        let (d, _) = self.store.put_file(file).map_err(io::Error::other)?;
        self.store
            .set_checkpoint(&self.key, &d)
            .map_err(io::Error::other)
    }
    fn load(&self, dest: &Path) -> io::Result<bool> {
        match self.store.get_checkpoint(&self.key) {
            None => Ok(false),
            Some(d) => match self.store.extract_to(&d, dest) {
                Ok(()) => Ok(true),
                // A lost or corrupt checkpoint only costs time: start over.
                Err(StoreError::Missing(_))
                | Err(StoreError::Corrupt { .. })
                | Err(StoreError::Undecodable { .. }) => Ok(false),
                Err(e) => Err(io::Error::other(e)),
            },
        }
    }
}

/// Redirect this process's stdout and stderr into `log`, so the kind's output (and that of any
/// command it runs) is the stage log.
fn redirect_output(log: &File) -> io::Result<()> {
    for fd in [1, 2] {
        // SAFETY: dup2 on valid descriptors we own; replaces fd 1/2 atomically.
        if unsafe { libc::dup2(log.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Execute the pending action `key`. Errors before the kind runs are returned; a failing kind
/// returns `Err` after its log is saved under `store/logs/`.
pub fn execute(
    store: &Store,
    key: &ActionKey,
    action: &PendingAction,
    kind: &dyn StageKind,
) -> Result<Outcome, String> {
    check_code(action, kind)?;
    let lock_path = store.work_dir().join(format!("{key}.lock"));
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    // Two runs sharing a store wait here instead of computing the same action twice.
    lock.lock()
        .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;
    if !action.force {
        if let Ok(Some(rec)) = ActionRecord::load(store, key) {
            if rec.outputs_present(store) {
                return Ok(Outcome::AlreadyDone);
            }
        }
    }
    let work = work_dir(store, key);
    // A killed earlier attempt may have left scratch behind: start clean.
    let _ = make_writable_and_remove(&work);
    let (in_dir, out_dir) = (work.join("in"), work.join("out"));
    for d in [&in_dir, &out_dir] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let log_path = work.join("log");
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    redirect_output(&log).map_err(|e| format!("redirect output to {}: {e}", log_path.display()))?;

    let started = provenance::now();
    let clock = Instant::now();
    let result = run_kind(store, key, action, kind, &work);
    let duration_s = clock.elapsed().as_secs_f64();
    let ended = provenance::now();
    match result {
        Err(message) => {
            eprintln!("\nstage `{}` failed: {message}", action.stage);
            let kept = store.logs_dir().join(format!(
                "{}.{}.log",
                action.stage.replace('/', "_"),
                key.0.short()
            ));
            let _ = fs::copy(&log_path, &kept);
            let _ = make_writable_and_remove(&work);
            Err(format!("{message} (log: {})", kept.display()))
        }
        Ok(()) => {
            let publish = || -> Result<(), StoreError> {
                let (output, tree) = store.put_tree(&out_dir)?;
                let (log_digest, _) = store.put_file(&log_path)?;
                let sources = super::fingerprint::source_blobs(kind)?;
                let record = ActionRecord {
                    key: *key,
                    components: action.components.clone(),
                    output,
                    files: tree.entries,
                    provenance: Provenance {
                        stage: action.stage.clone(),
                        git: GitState::read(&action.repo_root, &sources),
                        code_sources: sources.into_iter().collect(),
                        repro_version: env!("CARGO_PKG_VERSION").to_string(),
                        host: provenance::host(),
                        started,
                        ended,
                        duration_s,
                        peak_memory_bytes: provenance::peak_memory_bytes(),
                        exit_status: 0,
                        log: Some(log_digest),
                        resources: action.resources.clone(),
                        gpus: action.gpus.clone(),
                    },
                };
                record.publish(store)?;
                store.clear_checkpoint(key);
                Ok(())
            };
            let r = publish().map_err(|e| format!("publishing the outputs failed: {e}"));
            let _ = make_writable_and_remove(&work);
            let _ = fs::remove_file(pending_path(store, key));
            r.map(|()| Outcome::Published)
        }
    }
}

/// The worker checks the code: the planned key names a code fingerprint, and a result must be
/// published only by the code it names, not by whatever binary happens to run the action (a
/// rebuild during a long run, another host with another build).
fn check_code(action: &PendingAction, kind: &dyn StageKind) -> Result<(), String> {
    let own = super::fingerprint::fingerprint(kind).map_err(|e| e.to_string())?;
    let planned = action.components.code;
    if own == planned {
        return Ok(());
    }
    Err(format!(
        "refusing to run stage `{}`: kind `{}` was planned with code fingerprint {planned} but \
         this binary's `{}` code is {own} (the binary changed since the run was planned, or \
         another build runs it); rebuild and rerun `repro run` with the same binary that runs \
         the stages",
        action.stage,
        kind.name(),
        kind.name()
    ))
}

fn run_kind(
    store: &Store,
    key: &ActionKey,
    action: &PendingAction,
    kind: &dyn StageKind,
    work: &Path,
) -> Result<(), String> {
    let mut inputs = std::collections::BTreeMap::new();
    for (name, digest) in &action.components.inputs {
        let dest = work.join("in").join(name);
        store
            .materialize(digest, &dest, true)
            .map_err(|e| format!("input `{name}`: {e}"))?;
        inputs.insert(name.clone(), dest);
    }
    let progress = File::create(work.join("progress")).map_err(|e| e.to_string())?;
    let mut ctx = StageContext {
        stage: action.stage.clone(),
        params: action.components.params.clone(),
        inputs,
        in_dir: work.join("in"),
        out_dir: work.join("out"),
        repo_root: action.repo_root.clone(),
        threads: action.resources.cpus.max(1) as usize,
        gpus: action.gpus.clone(),
        progress: Some(Box::new(progress)),
        checkpoints: Some(Box::new(StoreCheckpoints { store, key: *key })),
    };
    kind.run(&mut ctx).map_err(|e| e.to_string())
}

/// Remove a stage's scratch (read-only inputs, whatever the stage left, links included) without
/// following any link out of it: see [`crate::store::fsutil::remove_tree`].
pub fn make_writable_and_remove(dir: &Path) -> io::Result<()> {
    crate::store::fsutil::remove_tree(dir)
}
