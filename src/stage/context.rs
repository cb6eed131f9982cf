//! The only door between a running stage and the world: inputs, outputs, params, progress,
//! checkpoints.

use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a stage failed. Kinds may use `anyhow` internally; the engine only needs the message.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("{0}")]
    Failed(String),
    #[error("bad params: {0}")]
    Params(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
    /// The stage stopped early because it was asked to (see [`stop_requested`]), after saving
    /// a checkpoint to resume from.
    #[error("stopped on request after saving a checkpoint: {0}")]
    Stopped(String),
}

/// Set when the worker is asked to stop soon (Slurm's `--signal=B:USR1@GRACE` before a time
/// limit or a preemption). A resumable stage checks it, keeps its checkpoint and returns
/// [`StageError::Stopped`]; the worker then has its job requeued, and the requeued job resumes.
pub static STOP_REQUESTED: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
    std::sync::LazyLock::new(Default::default);

/// True once the worker has been asked to stop soon.
pub fn stop_requested() -> bool {
    STOP_REQUESTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Saves and restores a stage's checkpoint. Implemented by the engine over the store, keyed by
/// the action key, so a killed stage resumes where it stopped and a changed stage never sees a
/// stale checkpoint.
pub trait CheckpointStore {
    /// Save `file` as the latest checkpoint (atomically replaces the previous one).
    fn save(&self, file: &Path) -> std::io::Result<()>;
    /// Restore the latest checkpoint into `dest`; `false` when there is none.
    fn load(&self, dest: &Path) -> std::io::Result<bool>;
}

/// What bounds one execution: the stage's `resources.memory` and `timeout:` (the `cmd` kind
/// enforces them on its command).
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub timeout: Option<std::time::Duration>,
}

pub struct StageContext<'a> {
    /// The stage's name in the pipeline (after matrix expansion).
    pub stage: String,
    /// Resolved params (defaults filled).
    pub params: Value,
    /// Input stage name → read-only directory holding that stage's output tree.
    pub inputs: BTreeMap<String, PathBuf>,
    /// The folder holding one read-only subfolder per input (what `cmd` exports as `REPRO_IN`).
    pub in_dir: PathBuf,
    /// Empty directory; every file written here becomes part of the stage's output tree.
    pub out_dir: PathBuf,
    /// The repository root (where pipeline.yaml lives).
    pub repo_root: PathBuf,
    /// CPU threads the stage may use.
    pub threads: usize,
    /// GPU ids assigned to this stage (already in `CUDA_VISIBLE_DEVICES`).
    pub gpus: Vec<u32>,
    pub limits: Limits,
    pub(crate) progress: Option<Box<dyn Write + 'a>>,
    pub(crate) checkpoints: Option<Box<dyn CheckpointStore + 'a>>,
}

impl<'a> StageContext<'a> {
    /// A context outside the engine (tests, benchmarks): no progress, no checkpoints.
    pub fn detached(stage: &str, params: Value, out_dir: PathBuf, repo_root: PathBuf) -> Self {
        StageContext {
            stage: stage.to_string(),
            params,
            inputs: BTreeMap::new(),
            in_dir: out_dir.join("../in"),
            out_dir,
            repo_root,
            threads: 1,
            gpus: Vec::new(),
            limits: Limits::default(),
            progress: None,
            checkpoints: None,
        }
    }

    /// Params deserialized into the kind's own struct.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, StageError> {
        serde_json::from_value(self.params.clone()).map_err(|e| StageError::Params(e.to_string()))
    }

    /// The directory of input stage `name`.
    pub fn input(&self, name: &str) -> Result<&Path, StageError> {
        self.inputs.get(name).map(PathBuf::as_path).ok_or_else(|| {
            let have: Vec<_> = self.inputs.keys().cloned().collect();
            StageError::Failed(format!(
                "stage `{}` needs input `{name}`, but its inputs are [{}]; add it to `inputs:` in pipeline.yaml",
                self.stage,
                have.join(", ")
            ))
        })
    }

    /// The input named `name`; without a name, the only input holding the file `marker`
    /// (`dataset.json`, `model.json`). `what`/`whats` name the thing for errors, `param` the
    /// param that picks one.
    pub fn input_holding(
        &self,
        name: Option<&str>,
        marker: &str,
        (what, whats): (&str, &str),
        param: &str,
    ) -> Result<PathBuf, StageError> {
        if let Some(n) = name {
            return Ok(self.input(n)?.to_path_buf());
        }
        let found: Vec<_> = self
            .inputs
            .iter()
            .filter(|(_, p)| p.join(marker).is_file())
            .collect();
        match found.as_slice() {
            [(_, p)] => Ok(p.to_path_buf()),
            [] => Err(StageError::Failed(format!(
                "stage `{}`: no input holds {what} ({marker})",
                self.stage
            ))),
            many => {
                let names: Vec<&str> = many.iter().map(|(n, _)| n.as_str()).collect();
                Err(StageError::Params(format!(
                    "several inputs hold {whats} ({}); say which with `{param}: <input>`",
                    names.join(", ")
                )))
            }
        }
    }

    /// Report progress (shown as the stage's line in `repro run`).
    pub fn progress(&mut self, done: u64, total: u64, message: &str) {
        if let Some(w) = self.progress.as_mut() {
            // Progress is advisory: a failed write must never fail the stage.
            let line = serde_json::json!({"done": done, "total": total, "msg": message});
            let _ = writeln!(w, "{line}");
            let _ = w.flush();
        }
    }

    pub fn save_checkpoint(&self, file: &Path) -> Result<(), StageError> {
        match &self.checkpoints {
            Some(c) => Ok(c.save(file)?),
            None => Ok(()),
        }
    }

    pub fn load_checkpoint(&self, dest: &Path) -> Result<bool, StageError> {
        match &self.checkpoints {
            Some(c) => Ok(c.load(dest)?),
            None => Ok(false),
        }
    }
}
