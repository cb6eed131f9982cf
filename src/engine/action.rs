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
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything needed to execute an action, written to `store/pending/<key>.json` by the planner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingAction {
    pub stage: String,
    pub components: KeyComponents,
    pub resources: Resources,
    /// Where the stage runs (the pipeline's folder).
    pub repo_root: PathBuf,
    /// Re-execute even when a record exists.
    pub force: bool,
}

/// Where the scratch folders of executions of `key` go: node-local scratch when the host
/// names one (`REPRO_SCRATCH`, or Slurm's `SLURM_TMPDIR`), else `store/work/`. Each execution
/// gets a folder of its own, `<key>.<nonce>`, that no earlier execution can reach.
fn scratch_root(store: &Store) -> PathBuf {
    ["REPRO_SCRATCH", "SLURM_TMPDIR"]
        .iter()
        .find_map(|v| std::env::var_os(v).filter(|s| !s.is_empty()))
        .map(|d| PathBuf::from(d).join("repro-work"))
        .unwrap_or_else(|| store.work_dir())
}

fn pending_path(store: &Store, key: &ActionKey) -> PathBuf {
    store.root().join("pending").join(format!("{key}.json"))
}

pub fn write_pending(store: &Store, action: &PendingAction) -> Result<ActionKey, StoreError> {
    let key = action.components.key();
    let path = pending_path(store, &key);
    let bytes = serde_json::to_vec_pretty(action).expect("PendingAction serializes");
    write_atomic(&store.tmp_dir(), &path, &bytes).map_err(|e| StoreError::io(&path, e))?;
    Ok(key)
}

/// Forget the pending action `key` (a worker elsewhere published it, or it failed).
pub fn remove_pending(store: &Store, key: &ActionKey) {
    let _ = fs::remove_file(pending_path(store, key));
}

pub fn read_pending(store: &Store, key: &ActionKey) -> Result<PendingAction, StoreError> {
    let path = pending_path(store, key);
    let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
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

/// Why an execution failed. The worker has already written `message` to its stderr (the
/// executor's channel for the reason); `environment` says the cause lies outside the stage.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExecFailure {
    pub message: String,
    pub environment: bool,
    /// The stage stopped on request with a checkpoint to resume from.
    pub stopped: bool,
}

impl ExecFailure {
    fn stage(message: String) -> ExecFailure {
        ExecFailure {
            message,
            environment: false,
            stopped: false,
        }
    }
    fn environment(message: String) -> ExecFailure {
        ExecFailure {
            message,
            environment: true,
            stopped: false,
        }
    }
    fn from_store(what: &str, e: &StoreError) -> ExecFailure {
        ExecFailure {
            environment: e.class() == crate::store::ErrorClass::Environment,
            ..ExecFailure::stage(format!("{what}: {e}"))
        }
    }
}

/// Under Slurm, put this job back in the queue (`scontrol requeue`): the requeued job runs the
/// same action and resumes from its checkpoint. `Err` says why not (not a Slurm job, or
/// `scontrol` refused), in which case the stop is a failure.
fn requeue_slurm_job() -> Result<String, String> {
    let id = std::env::var("SLURM_JOB_ID")
        .map_err(|_| "not running as a Slurm job, so nobody resumes it".to_string())?;
    let out = std::process::Command::new("scontrol")
        .args(["requeue", &id])
        .output()
        .map_err(|e| format!("cannot run `scontrol requeue {id}`: {e}"))?;
    if out.status.success() {
        Ok(id)
    } else {
        Err(format!(
            "`scontrol requeue {id}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
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

/// The stderr the worker was started with, kept before it is redirected: where the worker's
/// failure reason goes. Not inherited by the stage's commands.
fn console() -> Option<File> {
    // SAFETY: F_DUPFD_CLOEXEC duplicates fd 2 into a new descriptor that we own.
    let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3) };
    // SAFETY: `fd` is a fresh descriptor owned by nothing else.
    (fd >= 0).then(|| unsafe { File::from_raw_fd(fd) })
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

/// Let the stage's processes inherit `lock`'s descriptor: the lock is then held until the last
/// process of the execution is gone, so a new execution of the same action never overlaps one
/// that a killed worker left behind.
fn inherit_lock(lock: &File) -> io::Result<()> {
    // SAFETY: clearing FD_CLOEXEC on a descriptor we own.
    if unsafe { libc::fcntl(lock.as_raw_fd(), libc::F_SETFD, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The GPUs this execution was given, as the stage numbers them: `CUDA_VISIBLE_DEVICES` (set
/// by the local executor or by Slurm) renumbers them from 0.
fn visible_gpus(resources: &Resources) -> Vec<u32> {
    (0..resources.gpus).collect()
}

/// The GPUs as the host numbers them, for provenance.
fn host_gpus() -> Vec<u32> {
    std::env::var("CUDA_VISIBLE_DEVICES")
        .unwrap_or_default()
        .split(',')
        .filter_map(|g| g.trim().parse().ok())
        .collect()
}

/// The progress channel: the file the executor named in `REPRO_PROGRESS`, else one in the
/// scratch folder.
fn progress_channel(work: &Path) -> PathBuf {
    std::env::var_os("REPRO_PROGRESS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| work.join("progress"))
}

/// Remove the scratch of earlier executions of `key` (called with the action lock held, so
/// none of their processes is alive).
fn remove_stale_scratch(root: &Path, key: &ActionKey) {
    let prefix = format!("{key}.");
    let Ok(dir) = fs::read_dir(root) else { return };
    for e in dir.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && !name.ends_with(".lock") && !name.ends_with(".progress") {
            let _ = make_writable_and_remove(&e.path());
        }
    }
}

/// Execute the pending action `key`: run the kind in this process (its output is the stage log)
/// and publish outputs and record. A failure is written, as one reason, to the stderr this
/// worker was started with (where the executor reads it), and its log is kept under
/// `store/logs/`.
pub fn execute(
    store: &Store,
    key: &ActionKey,
    action: &PendingAction,
    kind: &dyn StageKind,
) -> Result<Outcome, ExecFailure> {
    let console = console();
    // Slurm's warning before a time limit or a preemption: resumable stages stop at a
    // checkpoint; the others ignore it and run on (the signal's default would kill them).
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGUSR1,
        std::sync::Arc::clone(&crate::stage::context::STOP_REQUESTED),
    );
    let mut result = execute_here(store, key, action, kind);
    if let Err(f) = &mut result {
        if f.stopped {
            match requeue_slurm_job() {
                Ok(id) => f.message = format!("{}; Slurm job {id} requeued to resume", f.message),
                Err(why) => f.message = format!("{}; {why}", f.message),
            }
        }
    }
    if let (Err(failure), Some(mut console)) = (&result, console) {
        let _ = writeln!(console, "{}", failure.message);
    }
    result
}

fn execute_here(
    store: &Store,
    key: &ActionKey,
    action: &PendingAction,
    kind: &dyn StageKind,
) -> Result<Outcome, ExecFailure> {
    check_code(action, kind).map_err(ExecFailure::stage)?;
    let env = |what: String| move |e: io::Error| ExecFailure::environment(format!("{what}: {e}"));
    let root = scratch_root(store);
    fs::create_dir_all(&root).map_err(env(root.display().to_string()))?;
    let lock_path = store.work_dir().join(format!("{key}.lock"));
    let lock = File::create(&lock_path).map_err(env(lock_path.display().to_string()))?;
    // Two runs sharing a store wait here instead of computing the same action twice; an
    // earlier execution's leftover processes hold the lock until they are gone.
    if lock.try_lock().is_err() {
        let _ = writeln!(
            io::stderr(),
            "stage `{}`: waiting for another execution of this action to end (lock {})",
            action.stage,
            lock_path.display()
        );
        lock.lock()
            .map_err(env(format!("lock {}", lock_path.display())))?;
    }
    if !action.force {
        if let Ok(Some(rec)) = ActionRecord::load(store, key) {
            if rec.outputs_present(store) {
                return Ok(Outcome::AlreadyDone);
            }
        }
    }
    remove_stale_scratch(&root, key);
    let work = root.join(format!("{key}.{:016x}", rand::random::<u64>()));
    let (in_dir, out_dir) = (work.join("in"), work.join("out"));
    for d in [&in_dir, &out_dir] {
        fs::create_dir_all(d).map_err(env(d.display().to_string()))?;
    }
    let log_path = work.join("log");
    let log = File::create(&log_path).map_err(env(log_path.display().to_string()))?;
    redirect_output(&log).map_err(env(format!("redirect output to {}", log_path.display())))?;
    inherit_lock(&lock).map_err(env(format!("lock {}", lock_path.display())))?;
    // The stage's commands find the progress channel in the environment; set before any thread.
    let progress = progress_channel(&work);
    std::env::set_var("REPRO_PROGRESS", &progress);
    super::reaper::become_subreaper();
    super::reaper::stop_tree_on_signal();

    let started = provenance::now();
    let clock = Instant::now();
    let (result, failed_attempts) = run_with_retries(store, key, action, kind, &work, &progress);
    // Whatever the stage left running is killed (no grace: the stage is over, and a process
    // ignoring TERM could go on writing meanwhile) before its outputs are read.
    super::reaper::kill_descendants(std::time::Duration::ZERO);
    let duration_s = clock.elapsed().as_secs_f64();
    let ended = provenance::now();
    let published = result.and_then(|()| {
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
                    gpus: host_gpus(),
                    batch_job: crate::provenance::BatchJob::from_env(),
                    failed_attempts: failed_attempts.clone(),
                },
            };
            record.publish(store)?;
            store.clear_checkpoint(key);
            Ok(())
        };
        publish().map_err(|e| ExecFailure::from_store("saving its outputs failed", &e))
    });
    let outcome = match published {
        Ok(()) => {
            let _ = fs::remove_file(pending_path(store, key));
            Ok(Outcome::Published)
        }
        Err(mut failure) => {
            // A stage whose command failed on a full disk says so (its own message may not).
            if let Some(full) = StoreError::if_full(&work) {
                failure.message = format!("{}; {full}", failure.message);
                failure.environment = true;
            }
            // The log may sit on that full disk: writing to it must not panic.
            let _ = writeln!(
                io::stderr(),
                "\nstage `{}` failed: {}",
                action.stage,
                failure.message
            );
            let kept = store.logs_dir().join(format!(
                "{}.{}.log",
                action.stage.replace('/', "_"),
                key.0.short()
            ));
            let saved =
                fs::create_dir_all(store.logs_dir()).and_then(|()| fs::copy(&log_path, &kept));
            let log_note = match saved {
                Ok(_) => format!("log: {}", kept.display()),
                Err(e) => format!("its log could not be kept at {}: {e}", kept.display()),
            };
            let message = format!(
                "stage `{}` failed: {} ({log_note})",
                action.stage, failure.message
            );
            Err(ExecFailure { message, ..failure })
        }
    };
    let _ = make_writable_and_remove(&work);
    outcome
}

/// Re-execute the recorded action `record` into `dir` (`dir/out`, its log `dir/log`) for
/// `repro verify --rerun`: inputs come from the store as recorded; nothing is written to the
/// store (no objects, no record, no checkpoint), so the real result stays as it was. The
/// caller compares `dir/out` with the record and removes `dir`. A failure is also written,
/// as one reason, to the stderr this worker was started with.
pub fn rerun(
    store: &Store,
    record: &ActionRecord,
    kind: &dyn StageKind,
    repo_root: &Path,
    dir: &Path,
) -> Result<(), ExecFailure> {
    let console = console();
    let result = rerun_here(store, record, kind, repo_root, dir);
    if let (Err(failure), Some(mut console)) = (&result, console) {
        let _ = writeln!(console, "{}", failure.message);
    }
    result
}

fn rerun_here(
    store: &Store,
    record: &ActionRecord,
    kind: &dyn StageKind,
    repo_root: &Path,
    dir: &Path,
) -> Result<(), ExecFailure> {
    let action = PendingAction {
        stage: record.provenance.stage.clone(),
        components: record.components.clone(),
        resources: record.provenance.resources.clone(),
        repo_root: repo_root.to_path_buf(),
        force: true,
    };
    check_code(&action, kind).map_err(ExecFailure::stage)?;
    let env = |what: String| move |e: io::Error| ExecFailure::environment(format!("{what}: {e}"));
    for d in [dir.join("in"), dir.join("out")] {
        fs::create_dir_all(&d).map_err(env(d.display().to_string()))?;
    }
    let log_path = dir.join("log");
    let log = File::create(&log_path).map_err(env(log_path.display().to_string()))?;
    redirect_output(&log).map_err(env(format!("redirect output to {}", log_path.display())))?;
    let progress = progress_channel(dir);
    std::env::set_var("REPRO_PROGRESS", &progress);
    super::reaper::become_subreaper();
    super::reaper::stop_tree_on_signal();
    let inputs = materialize_inputs(store, &action, dir)?;
    let result = run_kind(&action, kind, dir, &inputs, &progress, None);
    super::reaper::kill_descendants(std::time::Duration::ZERO);
    result.map_err(|f| ExecFailure {
        message: format!(
            "re-executing stage `{}` failed: {}",
            action.stage, f.message
        ),
        ..f
    })
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

/// The input trees of `action`, materialized read-only under `work/in/<name>`.
fn materialize_inputs(
    store: &Store,
    action: &PendingAction,
    work: &Path,
) -> Result<BTreeMap<String, PathBuf>, ExecFailure> {
    let mut inputs = BTreeMap::new();
    for (name, digest) in &action.components.inputs {
        let dest = work.join("in").join(name);
        store
            .materialize(digest, &dest, true)
            .map_err(|e| ExecFailure::from_store(&format!("input `{name}`"), &e))?;
        inputs.insert(name.clone(), dest);
    }
    Ok(inputs)
}

/// Run the kind once into `work/out`. `checkpoints` is `None` for a re-execution, which must
/// neither resume from nor write anything to the store.
fn run_kind<'a>(
    action: &PendingAction,
    kind: &dyn StageKind,
    work: &Path,
    inputs: &BTreeMap<String, PathBuf>,
    progress_path: &Path,
    checkpoints: Option<Box<dyn CheckpointStore + 'a>>,
) -> Result<(), ExecFailure> {
    let progress = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(progress_path)
        .map_err(|e| ExecFailure::environment(format!("{}: {e}", progress_path.display())))?;
    let mut ctx = StageContext {
        stage: action.stage.clone(),
        params: action.components.params.clone(),
        inputs: inputs.clone(),
        in_dir: work.join("in"),
        out_dir: work.join("out"),
        repo_root: action.repo_root.clone(),
        threads: action.resources.cpus.max(1) as usize,
        gpus: visible_gpus(&action.resources),
        limits: crate::stage::context::Limits {
            memory_bytes: action.resources.memory_bytes(),
            timeout: action.resources.timeout(),
        },
        progress: Some(Box::new(progress)),
        checkpoints,
    };
    // A kind that panics (a libtorch error surfacing through tch's unwrap, a bug) is a failed
    // stage with its reason, like any other: its log is kept and its scratch removed, where a
    // dead worker would leave both behind and say only "status 101".
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kind.run(&mut ctx))) {
        Ok(result) => result.map_err(|e| ExecFailure::stage(e.to_string())),
        Err(panic) => Err(ExecFailure::stage(format!(
            "the `{}` stage kind panicked: {}",
            kind.name(),
            panic_reason(panic.as_ref())
        ))),
    }
}

/// A panic's message, cut to its first line (libtorch's errors carry a C++ backtrace, which the
/// log has in full; through `unwrap`'s Debug formatting its line breaks arrive escaped).
fn panic_reason(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let first = text.lines().next().unwrap_or_default();
    first.split("\\n").next().unwrap_or_default().to_string()
}

/// Run the kind, and again after a failure of the stage itself while `retries:` allows (an
/// environment failure or a requested stop is not retried: another try would meet the same
/// cause). Each attempt starts from an empty output folder. Returns the result and the
/// reasons of the attempts that failed before it.
fn run_with_retries(
    store: &Store,
    key: &ActionKey,
    action: &PendingAction,
    kind: &dyn StageKind,
    work: &Path,
    progress_path: &Path,
) -> (Result<(), ExecFailure>, Vec<String>) {
    let inputs = match materialize_inputs(store, action, work) {
        Ok(i) => i,
        Err(f) => return (Err(f), Vec::new()),
    };
    let retries = action.resources.retries as usize;
    let mut failed = Vec::new();
    loop {
        let checkpoints = Box::new(StoreCheckpoints { store, key: *key });
        let failure = match run_kind(
            action,
            kind,
            work,
            &inputs,
            progress_path,
            Some(checkpoints),
        ) {
            Err(f) if !f.environment && !f.stopped && failed.len() < retries => f.message,
            result => return (result, failed),
        };
        super::reaper::kill_descendants(std::time::Duration::ZERO);
        let left = retries - failed.len();
        let _ = writeln!(
            io::stderr(),
            "\nrepro: attempt {} of stage `{}` failed: {failure}; retrying ({left} {} left)",
            failed.len() + 1,
            action.stage,
            if left == 1 { "retry" } else { "retries" }
        );
        failed.push(failure);
        let out = work.join("out");
        if let Err(e) = make_writable_and_remove(&out).and_then(|()| fs::create_dir_all(&out)) {
            let f = ExecFailure::environment(format!("emptying {}: {e}", out.display()));
            return (Err(f), failed);
        }
    }
}

/// Remove a stage's scratch (read-only inputs, whatever the stage left, links included) without
/// following any link out of it: see [`crate::store::fsutil::remove_tree`].
pub fn make_writable_and_remove(dir: &Path) -> io::Result<()> {
    crate::store::fsutil::remove_tree(dir)
}
