//! [`SlurmExecutor`]: each launched action is one `sbatch` job; all of a run's jobs are watched
//! with one `squeue` call per poll interval.
//!
//! The planner may run on a login node: no GPU is counted here (Slurm places GPU jobs through
//! `--gres`), and nothing but `sbatch`, `squeue`, `scancel` and the store is touched. A job
//! that leaves the queue has succeeded exactly when its action record is in the store; any
//! other end is explained from Slurm's last word on it (TIMEOUT, OUT_OF_MEMORY, …) with the
//! path of its log. Submitted job ids are recorded in the store ([`super::jobs`]), so a new
//! planner reattaches to jobs a dead one left queued or running.
//!
//! With `remote:` in the config the workers share no filesystem with the planner: each job's
//! script carries its pending action, the worker pulls its inputs from the remote into a
//! node-local store and pushes its outputs and record there, and a job that leaves the queue
//! has succeeded exactly when the remote has its record (asked through the engine's
//! [`SharedCache`], which the planner reads later stages' keys from).

use super::config::SlurmConfig;
use super::jobs::{self, SubmittedJob};
use super::sbatch::{self, JobSpec, RemoteWorker};
use super::squeue::{self, JobState};
use crate::engine::executor::{
    signals, Capacity, Event, ExecError, Executor, Handle, Job, JobEnd, JobId,
};
use crate::engine::{action, shared::SharedCache};
use crate::pipeline::Resources;
use crate::provenance::ActionRecord;
use crate::store::{ActionKey, Store};
use base64::Engine as _;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

struct Watched {
    key: ActionKey,
    slurm_id: u64,
    /// The last state squeue reported (None until the first poll that saw it).
    last: Option<JobState>,
    /// The node it ran on, once squeue named one (where a node-local log is).
    node: String,
}

pub struct SlurmExecutor {
    cfg: SlurmConfig,
    store: Store,
    exe: PathBuf,
    workdir: PathBuf,
    run_id: String,
    watched: BTreeMap<JobId, Watched>,
    ready: VecDeque<Event>,
    signal_rx: Receiver<()>,
    /// Where workers publish with `remote:` in the config (`None`: the store).
    results: Option<Rc<dyn SharedCache>>,
    /// Jobs a previous planner submitted that this run reattached to (for the summary).
    pub reattached: Vec<(String, u64)>,
}

fn job_spec(
    stage: &str,
    key: &str,
    run_id: &str,
    resources: &Resources,
    exe: &Path,
    store: &Path,
    workdir: &Path,
) -> JobSpec {
    JobSpec {
        stage: stage.to_string(),
        key: key.to_string(),
        run_id: run_id.to_string(),
        cpus: resources.cpus.max(1),
        gpus: resources.gpus,
        memory: resources.memory.clone(),
        time: resources.time.clone(),
        exe: exe.to_path_buf(),
        store: store.to_path_buf(),
        workdir: workdir.to_path_buf(),
        remote: None,
    }
}

/// A remote worker's script parts, `action` being the pending action's JSON (or, in a dry
/// run, words standing for it).
fn remote_worker(cfg: &SlurmConfig, action: &str) -> Option<RemoteWorker> {
    Some(RemoteWorker {
        url: cfg.remote.clone()?,
        store: cfg.worker_store.clone(),
        log_dir: cfg.worker_log_dir.clone(),
        action: action.to_string(),
    })
}

/// Base64 in lines of 76 characters (a here-document of one huge line is legal, but unreadable
/// in `scontrol show job`).
fn base64_lines(bytes: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    lines.join("\n")
}

/// The last non-empty lines of a job's log: the worker writes its failure reason there last.
fn log_tail(path: &Path, lines: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &tail[tail.len().saturating_sub(lines)..];
    (!tail.is_empty()).then(|| tail.join("\n"))
}

impl SlurmExecutor {
    pub fn new(cfg: SlurmConfig, store: &Store, exe: PathBuf, workdir: PathBuf) -> SlurmExecutor {
        let (tx, signal_rx) = channel();
        signals::forward(tx, ());
        let run_id = format!(
            "{:x}",
            std::process::id() ^ (chrono::Utc::now().timestamp() as u32)
        );
        SlurmExecutor {
            cfg,
            store: store.clone(),
            exe,
            workdir,
            run_id,
            watched: BTreeMap::new(),
            ready: VecDeque::new(),
            signal_rx,
            results: None,
            reattached: Vec::new(),
        }
    }

    /// Workers publish to `cache` (the remote of `remote:` in the config), not to the store.
    pub fn publishing_to(mut self, cache: Rc<dyn SharedCache>) -> SlurmExecutor {
        self.results = Some(cache);
        self
    }

    /// The `sbatch` job a stage gets.
    fn spec(
        &self,
        stage: &str,
        key: &str,
        resources: &Resources,
        remote: Option<RemoteWorker>,
    ) -> JobSpec {
        JobSpec {
            remote,
            ..job_spec(
                stage,
                key,
                &self.run_id,
                resources,
                &self.exe,
                self.store.root(),
                &self.workdir,
            )
        }
    }

    /// With `remote:`, the script parts of a worker that reads its action from its script.
    fn remote_worker_of(&self, key: &ActionKey) -> Result<Option<RemoteWorker>, ExecError> {
        if self.cfg.remote.is_none() {
            return Ok(None);
        }
        let pending = action::read_pending(&self.store, key)
            .map_err(|e| ExecError::Cluster(e.to_string()))?;
        let json = serde_json::to_vec(&pending).expect("PendingAction serializes");
        Ok(remote_worker(&self.cfg, &base64_lines(&json)))
    }

    /// `sbatch …` as a user would type it, for `run --executor slurm --dry-run` (which submits
    /// nothing, so it needs no executor).
    pub fn dry_run_line(
        cfg: &SlurmConfig,
        stage: &str,
        key: &str,
        resources: &Resources,
        store: &Path,
        workdir: &Path,
    ) -> Result<String, ExecError> {
        let exe = std::env::current_exe()
            .map_err(|e| ExecError::Cluster(format!("locating the repro binary: {e}")))?;
        let store = std::path::absolute(store).unwrap_or_else(|_| store.to_path_buf());
        let remote = remote_worker(cfg, "(the pending action: base64 of its JSON)");
        let spec = JobSpec {
            remote,
            ..job_spec(stage, key, "dry-run", resources, &exe, &store, workdir)
        };
        let args =
            sbatch::sbatch_args(cfg, &spec).map_err(|e| ExecError::Cluster(e.to_string()))?;
        Ok(sbatch::display_command(&args))
    }

    /// Whether the action of `key` succeeded: its record is in the store, or on the remote
    /// the workers publish to.
    fn published(&self, key: &ActionKey) -> bool {
        match &self.results {
            Some(cache) => matches!(cache.output_of(key), Ok(Some(_))),
            None => {
                matches!(ActionRecord::load(&self.store, key), Ok(Some(rec)) if rec.outputs_present(&self.store))
            }
        }
    }

    fn log_of(&self, slurm_id: u64) -> PathBuf {
        let dir = match &self.cfg.remote {
            Some(_) => PathBuf::from(&self.cfg.worker_log_dir),
            None => sbatch::log_dir(self.store.root()),
        };
        dir.join(format!("{slurm_id}.log"))
    }

    /// One `squeue` for every watched job; queue an `Ended` for each that left the queue.
    fn poll(&mut self) -> Result<(), squeue::QueueError> {
        let ids: Vec<u64> = self.watched.values().map(|w| w.slurm_id).collect();
        let states = squeue::query(&ids)?;
        let mut ended = Vec::new();
        for (&job, w) in self.watched.iter_mut() {
            if let Some(info) = states.get(&w.slurm_id).filter(|i| !i.node.is_empty()) {
                w.node = info.node.clone();
            }
            match states.get(&w.slurm_id) {
                Some(info) if info.state.is_live() => w.last = Some(info.state.clone()),
                Some(info) => ended.push((job, Some(info.state.clone()))),
                // Gone from the controller's memory: only the store can say how it went.
                None => ended.push((job, None)),
            }
        }
        for (job, state) in ended {
            let Some(w) = self.watched.remove(&job) else {
                continue;
            };
            let end = if self.published(&w.key) {
                JobEnd::Succeeded
            } else {
                let log_path = self.log_of(w.slurm_id);
                let log = match (&self.cfg.remote, w.node.as_str()) {
                    // A node-local log: say which node's.
                    (Some(_), node) if !node.is_empty() => {
                        format!("{node}:{}", log_path.display())
                    }
                    _ => log_path.display().to_string(),
                };
                let mut reason = match &state {
                    Some(JobState::Failed) => {
                        JobState::Failed.explain(squeue::exit_code(w.slurm_id).as_deref(), &log)
                    }
                    Some(s) => s.explain(None, &log),
                    None => format!("left the queue without publishing a record (log: {log})"),
                };
                if matches!(state, Some(JobState::Failed) | None) {
                    if let Some(tail) = log_tail(&log_path, 4) {
                        reason = format!("{reason}\n{tail}");
                    }
                }
                JobEnd::Failed {
                    reason: format!("Slurm job {}: {reason}", w.slurm_id),
                    environment: matches!(state, Some(JobState::NodeFail)),
                }
            };
            jobs::settle(&self.store, &w.key);
            if self.results.is_some() {
                // Its worker read the action from its script and published elsewhere.
                action::remove_pending(&self.store, &w.key);
            }
            self.ready.push_back(Event::Ended { job, end });
        }
        Ok(())
    }
}

impl Executor for SlurmExecutor {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn capacity(&self) -> Capacity {
        // Slurm decides what runs where and when; `max_jobs` bounds what this run keeps queued.
        Capacity {
            cpu_slots: usize::MAX,
            gpus: None,
            jobs: Some(self.cfg.max_jobs.max(1)),
        }
    }

    fn check(&self, stage: &str, resources: &Resources) -> Result<(), ExecError> {
        // Bad `time:`/`memory:` values are refused before anything is submitted.
        sbatch::sbatch_args(&self.cfg, &self.spec(stage, "check", resources, None))
            .map(|_| ())
            .map_err(|e| ExecError::Cluster(e.to_string()))
    }

    fn launch(&mut self, job: &Job) -> Result<Handle, ExecError> {
        // A job a dead planner submitted for the same action: reattach instead of submitting.
        if let Some(prev) = jobs::lookup(&self.store, &job.key) {
            let live = squeue::query(&[prev.job_id])
                .map_err(|e| ExecError::Cluster(e.to_string()))?
                .get(&prev.job_id)
                .is_some_and(|i| i.state.is_live());
            if live {
                self.reattached.push((job.stage.clone(), prev.job_id));
                self.watched.insert(
                    job.id,
                    Watched {
                        key: job.key,
                        slurm_id: prev.job_id,
                        last: None,
                        node: String::new(),
                    },
                );
                return Ok(Handle {
                    job: job.id,
                    id: prev.job_id.to_string(),
                });
            }
            jobs::settle(&self.store, &job.key);
        }
        let remote = self.remote_worker_of(&job.key)?;
        let spec = self.spec(&job.stage, &job.key.to_string(), &job.resources, remote);
        let args =
            sbatch::sbatch_args(&self.cfg, &spec).map_err(|e| ExecError::Cluster(e.to_string()))?;
        let slurm_id =
            sbatch::submit(&spec, &args).map_err(|e| ExecError::Cluster(e.to_string()))?;
        let record = SubmittedJob {
            job_id: slurm_id,
            stage: job.stage.clone(),
            run_id: self.run_id.clone(),
            submitted: crate::provenance::now(),
        };
        jobs::record(&self.store, &job.key, &record).map_err(|e| {
            ExecError::Cluster(format!(
                "submitted Slurm job {slurm_id} but cannot record it in {}: {e}",
                self.store.root().display()
            ))
        })?;
        self.watched.insert(
            job.id,
            Watched {
                key: job.key,
                slurm_id,
                last: None,
                node: String::new(),
            },
        );
        Ok(Handle {
            job: job.id,
            id: slurm_id.to_string(),
        })
    }

    fn wait(&mut self) -> Event {
        let interval = Duration::from_secs_f64(self.cfg.poll_seconds.max(0.2));
        loop {
            if let Some(ev) = self.ready.pop_front() {
                return ev;
            }
            match self.signal_rx.recv_timeout(interval) {
                Ok(()) => return Event::Interrupted,
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
            }
            if let Err(e) = self.poll() {
                // The controller may be restarting: say so in the log of every job's end only if
                // it stays away; here, try again next interval.
                eprintln!("repro: {e}; retrying in {:.0} s", interval.as_secs_f64());
            }
        }
    }

    fn cancel_all(&mut self, grace: Duration) -> Vec<(JobId, JobEnd)> {
        let ids: Vec<u64> = self.watched.values().map(|w| w.slurm_id).collect();
        if let Err(e) = squeue::cancel(&ids) {
            eprintln!("repro: {e}");
        }
        let deadline = Instant::now() + grace + Duration::from_secs(30);
        while !self.watched.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            if self.poll().is_err() {
                break;
            }
        }
        let mut out = Vec::new();
        while let Some(ev) = self.ready.pop_front() {
            if let Event::Ended { job, end } = ev {
                out.push((job, end.or_cancelled()));
            }
        }
        // Still listed after the grace: scancel was sent; count them as cancelled.
        for (job, w) in std::mem::take(&mut self.watched) {
            jobs::settle(&self.store, &w.key);
            out.push((job, JobEnd::Cancelled));
        }
        out
    }
}
