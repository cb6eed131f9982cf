//! The executor seam: the scheduler hands an [`Executor`] actions whose inputs are done and
//! whose results are in no cache, and learns from it, one [`Event`] at a time, how they ended.
//!
//! An executor only starts and watches `repro exec-stage KEY` workers; the store is the source
//! of truth for success (a worker that exits 0 has published the action's record). What a
//! stage may ask for is the executor's business: the local one refuses a stage needing more
//! GPUs than the host has, a cluster one leaves placement to the cluster.
//!
//! - [`local`]: worker processes on this host, within CPU and GPU slots;
//! - [`recording`]: a scripted executor for scheduler tests (no binary, no processes);
//! - [`signals`]: Ctrl-C and SIGTERM as events;
//! - [`crate::engine::slurm`]: one `sbatch` job per action.

pub mod local;
pub mod recording;
pub mod signals;

use crate::pipeline::Resources;
use crate::store::ActionKey;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

/// The scheduler's name for one launched action (the stage's index in the pipeline).
pub type JobId = usize;

/// One action to execute: its pending file is already in the store under `key`.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub stage: String,
    pub key: ActionKey,
    pub resources: Resources,
}

/// What the executor calls a launched job (a process id, a Slurm job id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    pub job: JobId,
    pub id: String,
}

/// How much may run at once. The scheduler counts each running job's CPUs (capped at
/// `cpu_slots`, so a stage asking for more than the host has still runs, alone), its GPUs and
/// the jobs themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub cpu_slots: usize,
    /// GPUs this executor places itself; `None` when the cluster places them.
    pub gpus: Option<u32>,
    /// Jobs launched and not ended at once; `None`: only CPUs and GPUs bound it.
    pub jobs: Option<usize>,
}

/// How a job ended, as the executor saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// The worker exited successfully; the scheduler still checks the store for the record.
    Succeeded,
    /// The worker failed. `environment`: the cause lies outside the stage (the disk, a
    /// missing tool, the cluster), not in the stage's code or data.
    Failed { reason: String, environment: bool },
    /// Stopped by [`Executor::cancel_all`] or by someone else (scancel).
    Cancelled,
}

impl JobEnd {
    /// How a job that was being cancelled ended: a success stands, anything else is the cancel.
    pub fn or_cancelled(self) -> JobEnd {
        match self {
            JobEnd::Succeeded => JobEnd::Succeeded,
            _ => JobEnd::Cancelled,
        }
    }
}

/// What [`Executor::wait`] reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Ended {
        job: JobId,
        end: JobEnd,
    },
    /// A running stage's progress line (see docs: `REPRO_PROGRESS`).
    Progress {
        job: JobId,
        done: u64,
        total: u64,
        message: String,
    },
    /// Ctrl-C or SIGTERM reached the planner.
    Interrupted,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("stage `{stage}` needs {needed} GPU(s) but this host has {available}; run it on a host with GPUs (e.g. `--executor slurm`), or lower `resources.gpus`")]
    TooManyGpus {
        stage: String,
        needed: u32,
        available: u32,
    },
    #[error("cannot start the worker `{exe}`: {source}")]
    Spawn { exe: String, source: std::io::Error },
    #[error("{0}")]
    Cluster(String),
}

/// Starts workers and reports how they end. Implementations own their waiting: `wait` blocks
/// until something happens (an exit, a progress line, a signal), it does not spin.
pub trait Executor {
    fn name(&self) -> &'static str;
    fn capacity(&self) -> Capacity;
    /// Refuse, before anything runs, a stage this executor can never run.
    fn check(&self, stage: &str, resources: &Resources) -> Result<(), ExecError>;
    fn launch(&mut self, job: &Job) -> Result<Handle, ExecError>;
    /// Block until the next event. Called only while at least one job is launched and not ended.
    fn wait(&mut self) -> Event;
    /// Stop every launched job (TERM, then KILL after `grace`) and say how each ended.
    fn cancel_all(&mut self, grace: Duration) -> Vec<(JobId, JobEnd)>;
}

/// How many of a worker's last stderr lines make its failure reason.
pub const REASON_LINES: usize = 6;

/// The last [`REASON_LINES`] non-blank lines a worker wrote to `stderr`, read to its end: the
/// worker writes its failure reason last (the local executor and `verify --rerun` both read it).
pub fn last_stderr_lines(stderr: impl Read) -> Vec<String> {
    let mut last = VecDeque::with_capacity(REASON_LINES);
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if line.trim().is_empty() {
            continue;
        }
        if last.len() == REASON_LINES {
            last.pop_front();
        }
        last.push_back(line);
    }
    Vec::from(last)
}
