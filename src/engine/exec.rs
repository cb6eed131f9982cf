//! The local executor: runs a plan's stages in parallel, each as `repro exec-stage KEY` in its
//! own process group, within CPU and GPU slots.
//!
//! A stage's key is computed only when its inputs are done, so a rerun upstream that produces
//! the same outputs finds the downstream record and stops there (early cutoff). A failing stage
//! records nothing; `keep_going` continues with what does not depend on it. On Ctrl-C running
//! stages are stopped; since objects and records are written by rename, nothing half-written
//! stays in the store.

use super::action::{self, PendingAction};
use super::plan::Lookup;
use super::{Engine, EngineError};
use crate::provenance::ActionRecord;
use crate::store::{ActionKey, Digest};
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a run reports what happens; the CLI draws it (progress bars or plain lines).
pub trait Reporter {
    fn begin(&self, total: usize);
    fn cached(&self, stage: &str);
    fn started(&self, stage: &str, key: &ActionKey);
    fn progress(&self, stage: &str, done: u64, total: u64, message: &str);
    fn finished(&self, stage: &str, seconds: f64);
    fn failed(&self, stage: &str, message: &str, log: Option<&Path>);
    fn note(&self, message: &str);
    fn end(&self);
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub targets: Vec<String>,
    pub jobs: usize,
    pub keep_going: bool,
    pub force: bool,
    /// Number of GPUs on this host (`nvidia-smi -L`).
    pub gpus: u32,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct RunSummary {
    pub executed: Vec<String>,
    pub cached: Vec<String>,
    /// Of the cached, those whose record and outputs came from the remote.
    pub pulled: Vec<String>,
    pub failed: Vec<String>,
    /// Not run because an input failed (or the run stopped early).
    pub not_run: Vec<String>,
    pub interrupted: bool,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, handler as libc::sighandler_t);
        }
    }
}

/// GPUs on this host: `REPRO_GPUS` if set, else the lines of `nvidia-smi -L`, else 0.
pub fn detect_gpus() -> u32 {
    if let Some(n) = std::env::var("REPRO_GPUS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    Command::new("nvidia-smi")
        .arg("-L")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.starts_with("GPU "))
                .count() as u32
        })
        .unwrap_or(0)
}

enum Slot {
    Waiting,
    Running(Box<Running>),
    Done(Digest),
    Failed,
    NotRun,
}

struct Running {
    child: Child,
    key: ActionKey,
    started: Instant,
    cpus: usize,
    gpus: Vec<u32>,
    progress: PathBuf,
    offset: u64,
}

pub fn run(
    engine: &Engine,
    opts: &RunOptions,
    reporter: &dyn Reporter,
    exe: &Path,
) -> Result<RunSummary, EngineError> {
    let p = engine.pipeline;
    let selection = p.select(&opts.targets).map_err(EngineError::Plan)?;
    for &i in &selection {
        let s = &p.stages[i];
        if s.resources.gpus > opts.gpus {
            return Err(EngineError::Plan(format!(
                "stage `{}` needs {} GPU(s) but this host has {}; run it where GPUs are, or lower `resources.gpus`",
                s.name, s.resources.gpus, opts.gpus
            )));
        }
    }
    let missing = engine.missing_deps(&selection);
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|(s, d)| format!("  {d} (dep of stage `{s}`)"))
            .collect();
        return Err(EngineError::Plan(format!(
            "missing data paths; nothing was run:\n{}\nsupply them, or fix the paths in {}",
            list.join("\n"),
            p.file.display()
        )));
    }
    let forced: HashSet<usize> = if !opts.force {
        HashSet::new()
    } else if opts.targets.is_empty() {
        selection.iter().copied().collect()
    } else {
        (0..p.stages.len())
            .filter(|&i| {
                opts.targets
                    .iter()
                    .any(|t| *t == p.stages[i].name || *t == p.stages[i].base)
            })
            .collect()
    };
    install_signal_handlers();
    let jobs = opts.jobs.max(1);
    let mut slots: Vec<Slot> = (0..p.stages.len()).map(|_| Slot::NotRun).collect();
    for &i in &selection {
        slots[i] = Slot::Waiting;
    }
    let mut retried: HashSet<usize> = HashSet::new();
    let mut free_gpus: Vec<u32> = (0..opts.gpus).rev().collect();
    let mut free_cpus = jobs;
    let mut summary = RunSummary::default();
    let mut stop_launching = false;
    reporter.begin(selection.len());

    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            summary.interrupted = true;
            stop_all(&mut slots, reporter);
            break;
        }
        // Launch (or resolve from cache) every stage whose inputs are done.
        let mut changed = false;
        for &i in &selection {
            if !matches!(slots[i], Slot::Waiting) || stop_launching {
                continue;
            }
            let ins = &p.inputs[i];
            if ins
                .iter()
                .any(|&j| matches!(slots[j], Slot::Failed | Slot::NotRun))
            {
                slots[i] = Slot::NotRun;
                changed = true;
                continue;
            }
            let done: Vec<Digest> = ins
                .iter()
                .filter_map(|&j| {
                    if let Slot::Done(d) = slots[j] {
                        Some(d)
                    } else {
                        None
                    }
                })
                .collect();
            if done.len() < ins.len() {
                continue;
            }
            let stage = &p.stages[i];
            let comps = match engine.components(i, &done) {
                Ok(c) => c,
                Err(e) => {
                    reporter.failed(&stage.name, &e.to_string(), None);
                    summary.failed.push(stage.name.clone());
                    slots[i] = Slot::Failed;
                    stop_launching |= !opts.keep_going;
                    changed = true;
                    continue;
                }
            };
            if !forced.contains(&i) {
                if let Lookup::Hit(output) = engine.lookup(i, &comps)? {
                    reporter.cached(&stage.name);
                    summary.cached.push(stage.name.clone());
                    slots[i] = Slot::Done(output);
                    changed = true;
                    continue;
                }
                // Not here: perhaps a shared cache (a remote) has it; a refused record is
                // recomputed here, never used.
                match engine.fetch_shared(i, &comps) {
                    Ok(Some(output)) => {
                        reporter.cached(&stage.name);
                        summary.cached.push(stage.name.clone());
                        summary.pulled.push(stage.name.clone());
                        slots[i] = Slot::Done(output);
                        changed = true;
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => reporter.note(&format!("{}: {e}; running it here", stage.name)),
                }
            }
            let cpus = (stage.resources.cpus.max(1) as usize).min(jobs);
            let gpus_needed = stage.resources.gpus as usize;
            let running = slots
                .iter()
                .filter(|s| matches!(s, Slot::Running(_)))
                .count();
            if (cpus > free_cpus && running > 0) || gpus_needed > free_gpus.len() {
                continue;
            }
            let gpus: Vec<u32> = (0..gpus_needed).filter_map(|_| free_gpus.pop()).collect();
            let pending = PendingAction {
                stage: stage.name.clone(),
                components: comps,
                resources: stage.resources.clone(),
                gpus: gpus.clone(),
                repo_root: p.root.clone(),
                force: forced.contains(&i),
            };
            let key = action::write_pending(engine.store, &pending)?;
            let child = spawn(exe, engine.store.root(), &key, cpus, &gpus).map_err(|e| {
                EngineError::Plan(format!("cannot start `{} exec-stage`: {e}", exe.display()))
            })?;
            reporter.started(&stage.name, &key);
            free_cpus = free_cpus.saturating_sub(cpus);
            let progress = action::work_dir(engine.store, &key).join("progress");
            slots[i] = Slot::Running(Box::new(Running {
                child,
                key,
                started: Instant::now(),
                cpus,
                gpus,
                progress,
                offset: 0,
            }));
            changed = true;
        }
        let any_running = slots.iter().any(|s| matches!(s, Slot::Running(_)));
        if !any_running && !changed {
            break;
        }
        if !any_running {
            continue;
        }
        std::thread::sleep(Duration::from_millis(15));
        // Reap finished stages.
        for i in 0..slots.len() {
            let Slot::Running(r) = &mut slots[i] else {
                continue;
            };
            read_progress(r, &p.stages[i].name, reporter);
            let status = match r.child.try_wait() {
                Ok(Some(st)) => st,
                Ok(None) => continue,
                Err(e) => {
                    return Err(EngineError::Plan(format!(
                        "waiting for stage `{}`: {e}",
                        p.stages[i].name
                    )))
                }
            };
            let Slot::Running(r) = std::mem::replace(&mut slots[i], Slot::NotRun) else {
                unreachable!()
            };
            free_cpus += r.cpus;
            free_gpus.extend(&r.gpus);
            let name = p.stages[i].name.clone();
            let record = if status.success() {
                ActionRecord::load(engine.store, &r.key).ok().flatten()
            } else {
                None
            };
            if let Some(rec) = record {
                reporter.finished(&name, r.started.elapsed().as_secs_f64());
                summary.executed.push(name);
                slots[i] = Slot::Done(rec.output);
                continue;
            }
            // An input whose objects vanished (quarantined as corrupt) is recomputed once.
            let lost: Vec<usize> = p.inputs[i]
                .iter()
                .copied()
                .filter(|&j| matches!(slots[j], Slot::Done(d) if !engine.store.tree_complete(&d)))
                .collect();
            if !lost.is_empty() && retried.insert(i) {
                for &j in &lost {
                    reporter.note(&format!(
                        "input {} of {name} was corrupt and has been quarantined; recomputing it",
                        p.stages[j].name
                    ));
                    slots[j] = Slot::Waiting;
                }
                slots[i] = Slot::Waiting;
                continue;
            }
            let log = engine.store.logs_dir().join(format!(
                "{}.{}.log",
                name.replace('/', "_"),
                r.key.0.short()
            ));
            let message = if status.success() {
                "exec-stage exited 0 but published no record".to_string()
            } else {
                format!("exited with {status}")
            };
            reporter.failed(&name, &message, log.exists().then_some(log.as_path()));
            summary.failed.push(name);
            slots[i] = Slot::Failed;
            stop_launching |= !opts.keep_going;
        }
    }
    for &i in &selection {
        if matches!(slots[i], Slot::Waiting | Slot::NotRun) {
            summary.not_run.push(p.stages[i].name.clone());
        }
    }
    engine.save_caches();
    reporter.end();
    Ok(summary)
}

fn spawn(
    exe: &Path,
    store: &Path,
    key: &ActionKey,
    cpus: usize,
    gpus: &[u32],
) -> std::io::Result<Child> {
    let visible: Vec<String> = gpus.iter().map(u32::to_string).collect();
    let mut cmd = Command::new(exe);
    cmd.arg("--store")
        .arg(store)
        .arg("exec-stage")
        .arg(key.to_string())
        .env("CUDA_VISIBLE_DEVICES", visible.join(","))
        .env("OMP_NUM_THREADS", cpus.to_string())
        .env("REPRO_THREADS", cpus.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Errors before the stage's log exists (bad store, bad pending file) reach the terminal.
        .stderr(Stdio::inherit())
        // Own process group: the terminal's Ctrl-C reaches only us, and we stop stages cleanly.
        .process_group(0);
    // SAFETY: prctl is async-signal-safe; it makes the stage die with this process.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn()
}

fn read_progress(r: &mut Running, stage: &str, reporter: &dyn Reporter) {
    let Ok(mut f) = std::fs::File::open(&r.progress) else {
        return;
    };
    if f.seek(SeekFrom::Start(r.offset)).is_err() {
        return;
    }
    let mut buf = String::new();
    if f.read_to_string(&mut buf).is_err() {
        return;
    }
    let Some(end) = buf.rfind('\n') else { return };
    r.offset += end as u64 + 1;
    if let Some(last) = buf[..end].lines().last() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(last) {
            let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
            reporter.progress(
                stage,
                n("done"),
                n("total"),
                v.get("msg").and_then(|m| m.as_str()).unwrap_or(""),
            );
        }
    }
}

/// Stop every running stage: SIGTERM to its process group, then SIGKILL after a grace period.
fn stop_all(slots: &mut [Slot], reporter: &dyn Reporter) {
    let mut running: Vec<&mut Running> = slots
        .iter_mut()
        .filter_map(|s| {
            if let Slot::Running(r) = s {
                Some(r.as_mut())
            } else {
                None
            }
        })
        .collect();
    if running.is_empty() {
        return;
    }
    reporter.note("interrupted: stopping running stages (nothing half-written is kept)");
    for r in running.iter() {
        // SAFETY: signalling a process group we created.
        unsafe {
            libc::kill(-(r.child.id() as i32), libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for r in running.iter_mut() {
        while r.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                // SAFETY: as above.
                unsafe {
                    libc::kill(-(r.child.id() as i32), libc::SIGKILL);
                }
                let _ = r.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for s in slots.iter_mut() {
        if matches!(s, Slot::Running(_)) {
            *s = Slot::NotRun;
        }
    }
}
