//! The scheduler: walks the plan, resolves each stage once its inputs are done, takes what a
//! store or the shared cache already has, and hands the rest to an [`Executor`] within its
//! capacity, longest remaining chain first. It sleeps in [`Executor::wait`] between events.
//!
//! A stage's key is computed only when its inputs are done, so a rerun upstream that produces
//! the same outputs finds the downstream record and stops there (early cutoff). A failing stage
//! records nothing; `keep_going` continues with what does not depend on it. On Ctrl-C running
//! stages are stopped; since objects and records are written by rename, nothing half-written
//! stays in the store.
//!
//! When workers publish to the shared cache rather than the store
//! ([`Engine::with_results_on_shared`]), a stage's result is taken from the cache's record
//! alone: the planner needs only its output digest to key later stages, which run on workers
//! that pull their inputs themselves. No output comes into the store during the run
//! ([`Engine::pull`] brings them when they are wanted here).

use super::action::{self, PendingAction};
use super::executor::{Capacity, Event, Executor, Job, JobEnd};
use super::resolve::Source;
use super::{Engine, EngineError};
use crate::provenance::ActionRecord;
use crate::store::{ActionKey, Digest};
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// How a run reports what happens; the CLI draws it (progress bars or plain lines).
pub trait Reporter {
    fn begin(&self, total: usize);
    fn cached(&self, stage: &str);
    /// `expected`: how long the stage's last run took (from its record), for an ETA.
    fn started(&self, stage: &str, key: &ActionKey, expected: Option<Duration>);
    fn progress(&self, stage: &str, done: u64, total: u64, message: &str);
    fn finished(&self, stage: &str, seconds: f64);
    fn failed(&self, stage: &str, message: &str, log: Option<&Path>);
    fn note(&self, message: &str);
    /// How many stages run now and how many wait (for inputs or for a slot).
    fn queue(&self, _running: usize, _waiting: usize) {}
    /// A running stage was stopped (Ctrl-C) before it finished.
    fn stopped(&self, _stage: &str) {}
    /// Called once on every way out of a run that started (success, failure, interruption).
    fn end(&self);
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub targets: Vec<String>,
    pub keep_going: bool,
    pub force: bool,
    /// How long stopped stages get between TERM and KILL.
    pub grace: Duration,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct RunSummary {
    pub executed: Vec<String>,
    /// Taken from the local store.
    pub cached: Vec<String>,
    /// Taken from the remote (not also counted as cached).
    pub pulled: Vec<String>,
    /// Done on the shared cache, where workers publish, and left there (outputs not pulled).
    pub shared: Vec<String>,
    pub failed: Vec<String>,
    /// Of the failed, those whose cause lies in the environment (disk, permissions, cluster).
    pub failed_environment: Vec<String>,
    /// Not run because an input failed (or the run stopped early).
    pub not_run: Vec<String>,
    pub interrupted: bool,
}

enum Slot {
    Waiting,
    /// Resolved, to be executed.
    Ready(Box<super::resolve::Resolved>),
    Running {
        key: ActionKey,
        started: Instant,
    },
    Done(Digest),
    Failed,
    NotRun,
}

/// Run the selected stages of `engine`'s pipeline on `executor`.
pub fn run(
    engine: &Engine,
    opts: &RunOptions,
    reporter: &dyn Reporter,
    executor: &mut dyn Executor,
) -> Result<RunSummary, EngineError> {
    let p = engine.pipeline;
    let selection = p.select(&opts.targets).map_err(EngineError::Target)?;
    for &i in &selection {
        let s = &p.stages[i];
        executor.check(&s.name, &s.resources)?;
    }
    let missing = engine.missing_deps(&selection);
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|(s, d)| format!("  {d} (dep of stage `{s}`)"))
            .collect();
        return Err(EngineError::MissingData {
            list: list.join("\n"),
            file: p.file.clone(),
        });
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
    let priority = chain_lengths(engine, &selection);
    let pull = !engine.results_on_shared();
    let capacity = executor.capacity();
    let mut slots: Vec<Slot> = (0..p.stages.len()).map(|_| Slot::NotRun).collect();
    for &i in &selection {
        slots[i] = Slot::Waiting;
    }
    let mut retried: HashSet<usize> = HashSet::new();
    let (mut used_cpus, mut used_gpus, mut running) = (0usize, 0u32, 0usize);
    let mut summary = RunSummary::default();
    let mut stop_launching = false;
    reporter.begin(selection.len());

    loop {
        // Resolve every stage whose inputs are done: each exactly once per run.
        let mut changed = true;
        while changed {
            changed = false;
            for &i in &selection {
                if !matches!(slots[i], Slot::Waiting) {
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
                    .filter_map(|&j| match slots[j] {
                        Slot::Done(d) => Some(d),
                        _ => None,
                    })
                    .collect();
                if done.len() < ins.len() {
                    continue;
                }
                changed = true;
                let name = &p.stages[i].name;
                let resolved = match engine.resolve(i, &done) {
                    Ok(r) => r,
                    Err(e) => {
                        reporter.failed(name, &e.to_string(), None);
                        summary.failed.push(name.clone());
                        slots[i] = Slot::Failed;
                        stop_launching |= !opts.keep_going;
                        continue;
                    }
                };
                if forced.contains(&i) {
                    slots[i] = Slot::Ready(Box::new(resolved));
                    continue;
                }
                slots[i] = match engine.source(i, &resolved, pull, &mut |m| reporter.note(&m)) {
                    Source::Local(d) => {
                        reporter.cached(name);
                        summary.cached.push(name.clone());
                        Slot::Done(d)
                    }
                    Source::Pulled(d) => {
                        reporter.cached(name);
                        summary.pulled.push(name.clone());
                        Slot::Done(d)
                    }
                    Source::Shared(d) => {
                        reporter.cached(name);
                        summary.shared.push(name.clone());
                        Slot::Done(d)
                    }
                    Source::Run(_) => Slot::Ready(Box::new(resolved)),
                };
            }
        }
        // Launch what fits, longest remaining chain first.
        if !stop_launching {
            let mut ready: Vec<usize> = selection
                .iter()
                .copied()
                .filter(|&i| matches!(slots[i], Slot::Ready(_)))
                .collect();
            ready.sort_by_key(|&i| std::cmp::Reverse(priority[i]));
            for i in ready {
                let stage = &p.stages[i];
                let (cpus, gpus) = slots_of(stage, &capacity);
                let fits_cpu = running == 0 || used_cpus + cpus <= capacity.cpu_slots;
                let fits_gpu = capacity.gpus.is_none_or(|n| used_gpus + gpus <= n);
                let fits_jobs = capacity.jobs.is_none_or(|n| running < n);
                if !(fits_cpu && fits_gpu && fits_jobs) {
                    continue;
                }
                let Slot::Ready(r) = std::mem::replace(&mut slots[i], Slot::NotRun) else {
                    unreachable!("filtered on Ready")
                };
                let pending = PendingAction {
                    stage: stage.name.clone(),
                    components: r.components,
                    resources: stage.resources.clone(),
                    repo_root: p.root.clone(),
                    force: forced.contains(&i),
                };
                // Writing the pending action or launching it may fail; neither may abort the
                // run while other stages are running: the stage fails (an environment failure).
                let launched = action::write_pending(engine.store, &pending)
                    .map_err(|e| e.to_string())
                    .and_then(|key| {
                        let job = Job {
                            id: i,
                            stage: stage.name.clone(),
                            key,
                            resources: stage.resources.clone(),
                        };
                        executor
                            .launch(&job)
                            .map(|_| key)
                            .map_err(|e| e.to_string())
                    });
                let key = match launched {
                    Ok(key) => key,
                    Err(why) => {
                        reporter.failed(&stage.name, &why, None);
                        summary.failed.push(stage.name.clone());
                        summary.failed_environment.push(stage.name.clone());
                        slots[i] = Slot::Failed;
                        stop_launching |= !opts.keep_going;
                        continue;
                    }
                };
                reporter.started(&stage.name, &key, previous_duration(engine, &stage.name));
                used_cpus += cpus;
                used_gpus += gpus;
                running += 1;
                slots[i] = Slot::Running {
                    key,
                    started: Instant::now(),
                };
            }
        }
        if running == 0 {
            break;
        }
        let waiting = selection
            .iter()
            .filter(|&&i| matches!(slots[i], Slot::Waiting | Slot::Ready(_)))
            .count();
        reporter.queue(running, waiting);
        let (i, end) = match executor.wait() {
            Event::Progress {
                job,
                done,
                total,
                message,
            } => {
                reporter.progress(&p.stages[job].name, done, total, &message);
                continue;
            }
            Event::Interrupted => {
                summary.interrupted = true;
                reporter
                    .note("interrupted: stopping running stages (nothing half-written is kept)");
                for (job, end) in executor.cancel_all(opts.grace) {
                    settle(engine, &mut slots, &mut summary, reporter, job, end);
                }
                break;
            }
            Event::Ended { job, end } => (job, end),
        };
        running -= 1;
        let stage = &p.stages[i];
        let (cpus, gpus) = slots_of(stage, &capacity);
        used_cpus -= cpus;
        used_gpus -= gpus;
        if !settle(engine, &mut slots, &mut summary, reporter, i, end.clone()) {
            // An input whose objects vanished (quarantined as corrupt) is recomputed once. (When
            // the planner does not pull, inputs are not in the store to begin with.)
            let lost: Vec<usize> = p.inputs[i]
                .iter()
                .copied()
                .filter(|&j| {
                    pull && matches!(slots[j], Slot::Done(d) if !engine.store.tree_complete(&d))
                })
                .collect();
            if !lost.is_empty() && retried.insert(i) {
                for &j in &lost {
                    reporter.note(&format!(
                        "input {} of {} was corrupt and has been quarantined; recomputing it",
                        p.stages[j].name, stage.name
                    ));
                    slots[j] = Slot::Waiting;
                }
                slots[i] = Slot::Waiting;
                continue;
            }
            fail(engine, &mut slots, &mut summary, reporter, i, end);
            stop_launching |= !opts.keep_going;
        }
    }
    for &i in &selection {
        if matches!(slots[i], Slot::Waiting | Slot::Ready(_) | Slot::NotRun) {
            summary.not_run.push(p.stages[i].name.clone());
        }
    }
    engine.save_caches();
    reporter.end();
    Ok(summary)
}

/// A job that ended: `true` when its record is in the store, or in the shared cache when workers
/// publish there (the store or the cache, not the executor, says whether an action succeeded).
fn settle(
    engine: &Engine,
    slots: &mut [Slot],
    summary: &mut RunSummary,
    reporter: &dyn Reporter,
    i: usize,
    end: JobEnd,
) -> bool {
    let Slot::Running { key, started } = slots[i] else {
        return false;
    };
    let name = &engine.pipeline.stages[i].name;
    let record = ActionRecord::load(engine.store, &key).ok().flatten();
    let on_shared = || match engine.shared_output(&key) {
        Ok(d) => d,
        Err(e) => {
            reporter.note(&format!("{name}: {e}"));
            None
        }
    };
    let shared = match &record {
        None if end == JobEnd::Succeeded && engine.results_on_shared() => on_shared(),
        _ => None,
    };
    if let Some(d) = shared {
        reporter.finished(name, started.elapsed().as_secs_f64());
        summary.executed.push(name.clone());
        slots[i] = Slot::Done(d);
        return true;
    }
    match record {
        Some(rec) if rec.outputs_present(engine.store) => {
            reporter.finished(name, started.elapsed().as_secs_f64());
            let retried = &rec.provenance.failed_attempts;
            if !retried.is_empty() {
                reporter.note(&format!(
                    "{name} succeeded on attempt {} (`retries:`); `repro audit {name}` shows why the others failed",
                    retried.len() + 1
                ));
            }
            summary.executed.push(name.clone());
            slots[i] = Slot::Done(rec.output);
            true
        }
        _ if end == JobEnd::Cancelled => {
            reporter.stopped(name);
            slots[i] = Slot::NotRun;
            true
        }
        _ => false,
    }
}

fn fail(
    engine: &Engine,
    slots: &mut [Slot],
    summary: &mut RunSummary,
    reporter: &dyn Reporter,
    i: usize,
    end: JobEnd,
) {
    let Slot::Running { key, .. } = slots[i] else {
        return;
    };
    let name = engine.pipeline.stages[i].name.clone();
    let log =
        engine
            .store
            .logs_dir()
            .join(format!("{}.{}.log", name.replace('/', "_"), key.0.short()));
    let (message, environment) = match end {
        JobEnd::Failed {
            reason,
            environment,
        } => (reason, environment),
        JobEnd::Succeeded => ("the worker exited 0 but published no record".into(), false),
        JobEnd::Cancelled => ("cancelled".into(), false),
    };
    // The worker's reason already names its log; name it here only when it does not.
    let log = (log.exists() && !message.contains(&log.display().to_string())).then_some(log);
    reporter.failed(&name, &message, log.as_deref());
    if environment {
        summary.failed_environment.push(name.clone());
    }
    summary.failed.push(name);
    slots[i] = Slot::Failed;
}

/// How long the last recorded run of `stage` took (whatever its key): what an ETA expects.
fn previous_duration(engine: &Engine, stage: &str) -> Option<Duration> {
    let key = engine.store.get_ref(stage)?;
    let record = ActionRecord::load(engine.store, &key).ok().flatten()?;
    Duration::try_from_secs_f64(record.provenance.duration_s).ok()
}

/// The CPU slots and counted GPUs a running stage holds: its CPUs capped at the executor's
/// slots (a larger stage still runs, alone), its GPUs when the executor places them.
fn slots_of(stage: &crate::pipeline::Stage, capacity: &Capacity) -> (usize, u32) {
    let cpus = (stage.resources.cpus.max(1) as usize).min(capacity.cpu_slots);
    let gpus = if capacity.gpus.is_some() {
        stage.resources.gpus
    } else {
        0
    };
    (cpus, gpus)
}

/// For each selected stage, the number of stages on the longest chain from it to the end of
/// the selection: what is launched first when slots are short, so a long chain is not left
/// waiting behind short independent stages.
fn chain_lengths(engine: &Engine, selection: &[usize]) -> Vec<usize> {
    let p = engine.pipeline;
    let selected: HashSet<usize> = selection.iter().copied().collect();
    let mut len = vec![1usize; p.stages.len()];
    // `selection` is in topological order: walking it backwards sees consumers first.
    for &i in selection.iter().rev() {
        for &j in &p.inputs[i] {
            if selected.contains(&j) {
                len[j] = len[j].max(len[i] + 1);
            }
        }
    }
    len
}

#[cfg(test)]
mod tests;
