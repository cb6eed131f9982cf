//! `repro log TARGET [--follow]`: the log of a stage, wherever it is now.
//!
//! A stage's log (its stdout and stderr) lives in one of four places, by how far it got:
//! - running: `<scratch>/<key>.<nonce>/log`, scratch being `$REPRO_SCRATCH/repro-work`,
//!   `$SLURM_TMPDIR/repro-work` or `store/work/`; the execution holds `store/work/<key>.lock`;
//! - a Slurm job not started here, or running on another node: `store/logs/slurm/<job>.log`;
//! - failed: `store/logs/<stage>.<key12>.log`, kept by the worker;
//! - succeeded: an object in the store, named by the action record (`provenance.log`).
//!
//! TARGET is a stage, a matrix base name (each expansion's log in turn) or an action key prefix
//! (as `repro run` prints it). A stage shows its running execution if it has one, else its most
//! recent finished one. What the log is goes to stderr; stdout is the log itself.

use crate::engine::action::read_pending;
use crate::engine::slurm::jobs;
use crate::pipeline::Pipeline;
use crate::provenance::ActionRecord;
use crate::store::{ActionKey, Store};
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

#[derive(clap::Args)]
pub struct LogArgs {
    /// A stage, a matrix base name, or an action key prefix (as `repro run` prints it).
    target: String,
    /// Keep printing what a running stage writes until it ends.
    #[arg(short, long)]
    follow: bool,
}

/// Where one execution's log is.
enum Found {
    Live {
        key: ActionKey,
        path: PathBuf,
    },
    Slurm {
        key: ActionKey,
        job: u64,
        path: PathBuf,
    },
    Failed {
        key: ActionKey,
        path: PathBuf,
    },
    Record {
        key: ActionKey,
        record: Box<ActionRecord>,
    },
}

impl Found {
    fn key(&self) -> ActionKey {
        match self {
            Found::Live { key, .. }
            | Found::Slurm { key, .. }
            | Found::Failed { key, .. }
            | Found::Record { key, .. } => *key,
        }
    }

    fn describe(&self, stage: &str) -> String {
        let short = self.key().0.short();
        match self {
            Found::Live { path, .. } => {
                format!("{stage} ({short}): running; live log {}", path.display())
            }
            Found::Slurm { job, path, .. } => format!(
                "{stage} ({short}): Slurm job {job}; its output {} (the stage's own log is on the \
                 node running it until it ends)",
                path.display()
            ),
            Found::Failed { path, .. } => {
                format!("{stage} ({short}): failed; log {}", path.display())
            }
            Found::Record { record, .. } => format!(
                "{stage} ({short}): succeeded {}, {:.1} s on {}",
                record.provenance.ended, record.provenance.duration_s, record.provenance.host
            ),
        }
    }
}

pub fn run(pipeline: &Pipeline, store: &Store, args: &LogArgs) -> Result<i32> {
    let targets = resolve(pipeline, store, &args.target)?;
    if args.follow && targets.len() > 1 {
        let names: Vec<&str> = targets.iter().map(|(s, _)| s.as_str()).collect();
        bail!(
            "`{}` names {} stages ({}); --follow follows one",
            args.target,
            targets.len(),
            names.join(", ")
        );
    }
    let mut shown = 0;
    let mut stdout = std::io::stdout().lock();
    for (stage, found) in &targets {
        let Some(found) = found else {
            if targets.len() > 1 {
                eprintln!("==> {stage}: no log yet <==");
            }
            continue;
        };
        eprintln!("==> {} <==", found.describe(stage));
        shown += 1;
        match found {
            Found::Record { record, .. } => {
                let digest = record
                    .provenance
                    .log
                    .with_context(|| format!("the record of `{stage}` names no log"))?;
                let bytes = store
                    .read(&digest)
                    .with_context(|| format!("the log of `{stage}`"))?;
                write_out(&mut stdout, &bytes)?;
            }
            Found::Live { key, path } | Found::Slurm { key, path, .. } if args.follow => {
                follow(store, key, path, &mut stdout)?;
                eprintln!("==> {} <==", ended(store, stage, key));
            }
            Found::Live { path, .. } | Found::Slurm { path, .. } | Found::Failed { path, .. } => {
                let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
                write_out(&mut stdout, &bytes)?;
            }
        }
    }
    if shown == 0 {
        bail!(
            "`{}` has no log yet: it has not started (`repro run {}` runs it; `repro status` \
             says whether it must)",
            args.target,
            args.target
        );
    }
    Ok(0)
}

/// A closed pipe (`repro log x | head`) ends the output quietly.
fn write_out(out: &mut impl Write, bytes: &[u8]) -> Result<()> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// (stage, its log) for each stage TARGET names.
fn resolve(
    pipeline: &Pipeline,
    store: &Store,
    target: &str,
) -> Result<Vec<(String, Option<Found>)>> {
    let stages: Vec<String> = match pipeline.index(target) {
        Some(i) => vec![pipeline.stages[i].name.clone()],
        None => pipeline
            .stages
            .iter()
            .filter(|s| s.base == target)
            .map(|s| s.name.clone())
            .collect(),
    };
    if !stages.is_empty() {
        return Ok(stages
            .into_iter()
            .map(|s| {
                let found = for_stage(store, &s);
                (s, found)
            })
            .collect());
    }
    let by_key = for_key_prefix(store, target)?;
    match by_key {
        Some((stage, found)) => Ok(vec![(stage, Some(found))]),
        None => bail!(
            "`{target}` is neither a stage of {} nor the prefix of an action key in the store \
             (see `repro dag`)",
            pipeline.file.display()
        ),
    }
}

/// The folders executions of this store may use for scratch (see `engine::action`).
fn scratch_roots(store: &Store) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["REPRO_SCRATCH", "SLURM_TMPDIR"]
        .iter()
        .filter_map(|v| std::env::var_os(v).filter(|s| !s.is_empty()))
        .map(|d| PathBuf::from(d).join("repro-work"))
        .collect();
    roots.push(store.work_dir());
    roots
}

/// `<scratch>/<key>.<nonce>/log` of an execution of `key`, if one is in a scratch folder here.
fn live_log(store: &Store, key: &ActionKey) -> Option<PathBuf> {
    let prefix = format!("{key}.");
    scratch_roots(store).into_iter().find_map(|root| {
        std::fs::read_dir(root).ok()?.flatten().find_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let log = e.path().join("log");
            (name.starts_with(&prefix) && !name.ends_with(".lock") && log.is_file()).then_some(log)
        })
    })
}

/// Whether an execution of `key` holds its lock now.
fn running(store: &Store, key: &ActionKey) -> bool {
    let Ok(lock) = File::open(store.work_dir().join(format!("{key}.lock"))) else {
        return false;
    };
    // Taken and released at once; a worker starting meanwhile waits that long.
    lock.try_lock_shared().is_err()
}

/// A running or queued execution of `key`.
fn in_flight(store: &Store, key: ActionKey) -> Option<Found> {
    if let Some(path) = live_log(store, &key).filter(|_| running(store, &key)) {
        return Some(Found::Live { key, path });
    }
    let job = jobs::lookup(store, &key)?;
    let path = store
        .logs_dir()
        .join("slurm")
        .join(format!("{}.log", job.job_id));
    Some(Found::Slurm {
        key,
        job: job.job_id,
        path,
    })
}

/// The log of `stage`: its running execution, else its most recent finished one.
fn for_stage(store: &Store, stage: &str) -> Option<Found> {
    for key in store.pending_actions() {
        if read_pending(store, &key).is_ok_and(|p| p.stage == stage) {
            if let Some(found) = in_flight(store, key) {
                return Some(found);
            }
        }
    }
    let mut finished: Vec<(SystemTime, Found)> = Vec::new();
    if let Some(key) = store.get_ref(stage) {
        if let Ok(Some(record)) = ActionRecord::load(store, &key) {
            let at = modified(&store.action_file(&key));
            finished.push((
                at,
                Found::Record {
                    key,
                    record: Box::new(record),
                },
            ));
        }
    }
    let prefix = format!("{}.", stage.replace('/', "_"));
    for (path, key12) in failed_logs(store) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.strip_prefix(&prefix) == Some(&format!("{key12}.log")) {
            if let Some(key) = full_key(store, &key12) {
                finished.push((modified(&path), Found::Failed { key, path }));
            }
        }
    }
    finished.sort_by_key(|(at, _)| *at);
    finished.pop().map(|(_, f)| f)
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Kept failure logs, `store/logs/<stage>.<key12>.log`, with their 12-digit key prefix.
fn failed_logs(store: &Store) -> Vec<(PathBuf, String)> {
    let Ok(dir) = std::fs::read_dir(store.logs_dir()) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let key12 = name.strip_suffix(".log")?.rsplit('.').next()?.to_string();
            (key12.len() == 12 && key12.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (e.path(), key12))
        })
        .collect()
}

/// Every action key this store knows of: records, planned or running actions, Slurm jobs.
fn known_keys(store: &Store) -> Vec<ActionKey> {
    let mut keys = store.list_actions().unwrap_or_default();
    keys.extend(store.pending_actions());
    keys.extend(jobs::all(store).into_iter().map(|(k, _)| k));
    keys.sort_by_key(|k| k.to_string());
    keys.dedup();
    keys
}

/// The one known key starting with `prefix`.
fn full_key(store: &Store, prefix: &str) -> Option<ActionKey> {
    let mut hits = known_keys(store)
        .into_iter()
        .filter(|k| k.to_string().starts_with(prefix));
    let first = hits.next()?;
    hits.next().is_none().then_some(first)
}

/// The log of the action whose key starts with `prefix`, and its stage.
fn for_key_prefix(store: &Store, prefix: &str) -> Result<Option<(String, Found)>> {
    let prefix = prefix.to_ascii_lowercase();
    if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hits: Vec<ActionKey> = known_keys(store)
        .into_iter()
        .filter(|k| k.to_string().starts_with(&prefix))
        .collect();
    let key = match hits.as_slice() {
        [] => {
            // A failure whose pending file is gone is known only by its kept log.
            let logs: Vec<(PathBuf, String)> = failed_logs(store)
                .into_iter()
                .filter(|(_, k12)| k12.starts_with(&prefix) || prefix.starts_with(k12.as_str()))
                .collect();
            return Ok(match logs.as_slice() {
                [(path, k12)] => {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    let stage = name
                        .strip_suffix(&format!(".{k12}.log"))
                        .unwrap_or_default()
                        .to_string();
                    let key = full_key(store, k12);
                    key.map(|key| {
                        (
                            stage,
                            Found::Failed {
                                key,
                                path: path.clone(),
                            },
                        )
                    })
                }
                _ => None,
            });
        }
        [key] => *key,
        many => bail!(
            "key prefix `{prefix}` is ambiguous ({} actions); give more digits",
            many.len()
        ),
    };
    let pending = read_pending(store, &key).ok();
    let record = ActionRecord::load(store, &key).ok().flatten();
    let stage = pending
        .as_ref()
        .map(|p| p.stage.clone())
        .or_else(|| record.as_ref().map(|r| r.provenance.stage.clone()))
        .or_else(|| jobs::lookup(store, &key).map(|j| j.stage))
        .unwrap_or_else(|| key.0.short());
    if let Some(found) = in_flight(store, key) {
        return Ok(Some((stage, found)));
    }
    let kept = store
        .logs_dir()
        .join(format!("{}.{}.log", stage.replace('/', "_"), key.0.short()));
    let failed = kept.is_file().then(|| (modified(&kept), kept));
    let done = record.map(|r| (modified(&store.action_file(&key)), r));
    Ok(match (failed, done) {
        (Some((tf, path)), Some((tr, _))) if tf > tr => Some((stage, Found::Failed { key, path })),
        (_, Some((_, record))) => Some((
            stage,
            Found::Record {
                key,
                record: Box::new(record),
            },
        )),
        (Some((_, path)), None) => Some((stage, Found::Failed { key, path })),
        (None, None) => None,
    })
}

/// Print `path` from the start and then what is appended, until the execution of `key` ends:
/// its lock is free, or its record appears. The worker deletes the live log when it ends; the
/// open file still reads to its end.
fn follow(store: &Store, key: &ActionKey, path: &Path, out: &mut impl Write) -> Result<()> {
    let mut file = File::open(path).with_context(|| path.display().to_string())?;
    let mut buf = Vec::new();
    loop {
        let done =
            store.has_action(key) || !running(store, key) && jobs::lookup(store, key).is_none();
        buf.clear();
        file.read_to_end(&mut buf)?;
        if !buf.is_empty() {
            write_out(out, &buf)?;
        }
        if done {
            return Ok(());
        }
        // A log rotated away under us (a retried Slurm job) restarts from the new file.
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.len() < file.stream_position()? {
                file.seek(SeekFrom::Start(0))?;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How the followed execution ended, for the closing line.
fn ended(store: &Store, stage: &str, key: &ActionKey) -> String {
    if store.has_action(key) {
        return format!("{stage}: succeeded");
    }
    let kept = store
        .logs_dir()
        .join(format!("{}.{}.log", stage.replace('/', "_"), key.0.short()));
    if kept.is_file() {
        format!("{stage}: failed; log kept at {}", kept.display())
    } else {
        format!("{stage}: ended (stopped before it finished)")
    }
}
