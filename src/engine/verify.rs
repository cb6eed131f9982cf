//! Re-execution checks (`repro verify --rerun`): run cached actions again and compare what
//! they write with what their records say they wrote.
//!
//! Each selected stage whose record is current is re-executed on its *recorded* inputs (the
//! trees in the store), by a worker (`repro exec-stage KEY --rerun-into DIR`) that writes into
//! a scratch folder and nothing into the store; so every stage is checked on its own, and a
//! chain of stages that each pass is reproducible as a whole. Files are compared byte for
//! byte, except metric files (declared by the kind, [`crate::stage::StageKind::metric_files`],
//! or by the stage's `tolerance:`), whose numbers may differ within a tolerance. The verdict is
//! kept beside the record ([`Verification`]) and shown by `repro audit`.

use super::executor::last_stderr_lines;
use super::{Engine, EngineError, Kinds};
use crate::pipeline::Pipeline;
use crate::provenance::verification::{FileCheck, ValueDiff, Verdict, Verification, MAX_VALUES};
use crate::provenance::ActionRecord;
use crate::store::{Digest, Store};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The outcome for one selected stage.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Checked {
    /// Re-executed and compared.
    Verified(Verification),
    /// No current record to check (the stage is stale): run it first.
    NotCached { stage: String, reasons: Vec<String> },
}

/// Re-execute the selected stages (the targets and what they need; all when none), `jobs` at
/// a time (each in its own worker process); `each` hears every outcome as it comes, and the
/// result lists them in pipeline order. `exe` is the repro binary that runs the workers.
pub fn rerun(
    engine: &Engine,
    targets: &[String],
    exe: &Path,
    jobs: usize,
    each: &mut (dyn FnMut(&Checked) + Send),
) -> Result<Vec<Checked>, EngineError> {
    let selection = engine
        .pipeline
        .select(targets)
        .map_err(EngineError::Target)?;
    // What to check, in pipeline order: a record, or why there is none.
    let mut todo: Vec<Result<ActionRecord, Checked>> = Vec::new();
    for status in engine.status(&selection)? {
        todo.push(match status.key.filter(|_| status.output.is_some()) {
            None => Err(Checked::NotCached {
                stage: status.stage,
                reasons: status.reasons,
            }),
            Some(key) => ActionRecord::load(engine.store, &key)?.ok_or(Checked::NotCached {
                stage: status.stage,
                reasons: vec!["its record vanished during the check".into()],
            }),
        });
    }
    let checker = Checker {
        store: engine.store,
        kinds: engine.kinds,
        pipeline: engine.pipeline,
        exe,
    };
    let results: Vec<Mutex<Option<Result<Checked, EngineError>>>> =
        todo.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let each = Mutex::new(each);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, todo.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = todo.get(i) else { break };
                let outcome = match item {
                    Err(not_cached) => Ok(not_cached.clone()),
                    Ok(record) => checker.check(record).and_then(|v| {
                        v.save(checker.store)?;
                        Ok(Checked::Verified(v))
                    }),
                };
                if let Ok(c) = &outcome {
                    (each.lock().unwrap_or_else(|e| e.into_inner()))(c);
                }
                let failed = outcome.is_err();
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
                if failed {
                    // A store error ends the check: let the other workers run out.
                    next.store(todo.len(), Ordering::Relaxed);
                }
            });
        }
    });
    results
        .into_iter()
        .filter_map(|r| r.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// What a re-execution needs of the engine: the parts that can be shared between threads.
struct Checker<'a> {
    store: &'a Store,
    kinds: &'a Kinds,
    pipeline: &'a Pipeline,
    exe: &'a Path,
}

impl Checker<'_> {
    /// Re-execute one action and compare.
    fn check(&self, record: &ActionRecord) -> Result<Verification, EngineError> {
        let store = self.store;
        let scratch = store.work_dir().join("verify");
        remove_earlier_scratch(&scratch, &record.key.to_string());
        let dir = scratch.join(format!("{}.{:016x}", record.key, rand::random::<u64>()));
        let store_root = std::path::absolute(store.root())
            .map_err(|e| crate::store::StoreError::io(store.root(), e))?;
        let clock = Instant::now();
        let failure = run_worker(self.exe, &store_root, record, &self.pipeline.root, &dir);
        let duration_s = clock.elapsed().as_secs_f64();
        let kind = self.kinds.get(&record.components.kind);
        let params = &record.components.params;
        let volatile = kind.map(|k| k.volatile_files(params)).unwrap_or_default();
        let (verdict, files, identical_files) = match &failure {
            Some(_) => (Verdict::Failed, Vec::new(), 0),
            None => {
                // Metric files and their tolerances: the kind's, then the stage's
                // `tolerance:` (which wins).
                let mut tolerances = kind.map(|k| k.metric_files(params)).unwrap_or_default();
                if let Some(i) = self.pipeline.index(&record.provenance.stage) {
                    tolerances.extend(self.pipeline.stages[i].tolerance.clone());
                }
                let (files, identical) =
                    compare(store, record, &dir.join("out"), &tolerances, &volatile);
                let verdict = files
                    .iter()
                    .map(|f| f.verdict)
                    .max()
                    .unwrap_or(Verdict::Identical);
                (verdict, files, identical)
            }
        };
        let _ = super::action::make_writable_and_remove(&dir);
        Ok(Verification {
            action: record.key,
            stage: record.provenance.stage.clone(),
            verdict,
            files,
            identical_files,
            volatile_files: volatile.into_iter().collect(),
            failure,
            checked_at: crate::provenance::now(),
            host: crate::provenance::host(),
            duration_s,
            repro_version: env!("CARGO_PKG_VERSION").to_string(),
        })
    }
}

/// Scratch folders an interrupted check of the same action left behind.
fn remove_earlier_scratch(scratch: &Path, key: &str) {
    let Ok(dir) = std::fs::read_dir(scratch) else {
        return;
    };
    for e in dir.flatten() {
        if e.file_name().to_string_lossy().starts_with(key) {
            let _ = super::action::make_writable_and_remove(&e.path());
        }
    }
}

/// Run the worker; `Some(reason)` when the re-execution failed.
fn run_worker(
    exe: &Path,
    store_root: &Path,
    record: &ActionRecord,
    repo_root: &Path,
    dir: &Path,
) -> Option<String> {
    let child = Command::new(exe)
        .arg("--store")
        .arg(store_root)
        .arg("exec-stage")
        .arg(record.key.to_string())
        .arg("--rerun-into")
        .arg(dir)
        .arg("--root")
        .arg(repo_root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Some(format!("could not start {}: {e}", exe.display())),
    };
    let last = child
        .stderr
        .take()
        .map(last_stderr_lines)
        .unwrap_or_default();
    match child.wait() {
        Ok(st) if st.success() => None,
        Ok(st) if last.is_empty() => Some(format!("the worker ended with {st}")),
        Ok(_) => Some(last.join("\n")),
        Err(e) => Some(format!("waiting for the worker: {e}")),
    }
}

/// Compare the re-executed folder `out` with the record: the files that are not identical,
/// and how many are. A `volatile` file only has to exist on both sides.
pub fn compare(
    store: &Store,
    record: &ActionRecord,
    out: &Path,
    tolerances: &BTreeMap<String, f64>,
    volatile: &BTreeSet<String>,
) -> (Vec<FileCheck>, usize) {
    let mut rerun = BTreeMap::new();
    let mut unreadable = Vec::new();
    walk(out, "", &mut rerun, &mut unreadable);
    let mut checks = Vec::new();
    let mut identical = 0;
    for entry in &record.files {
        let new = rerun.remove(&entry.path);
        if new.is_some() && volatile.contains(&entry.path) {
            continue;
        }
        if new == Some(entry.digest) {
            identical += 1;
            continue;
        }
        let mut check = FileCheck {
            path: entry.path.clone(),
            verdict: Verdict::Differs,
            recorded: Some(entry.digest),
            rerun: new,
            tolerance: None,
            values: Vec::new(),
            note: None,
        };
        if let (Some(_), Some(&tol)) = (new, tolerances.get(&entry.path)) {
            check.tolerance = Some(tol);
            let recorded = store.read(&entry.digest).ok();
            let again = std::fs::read(out.join(&entry.path)).ok();
            match (recorded, again) {
                (Some(a), Some(b)) => compare_metrics(&a, &b, tol, &mut check),
                _ => check.note = Some("could not be read back".into()),
            }
        }
        checks.push(check);
    }
    for (path, digest) in rerun {
        checks.push(FileCheck {
            path,
            verdict: Verdict::Differs,
            recorded: None,
            rerun: Some(digest),
            tolerance: None,
            values: Vec::new(),
            note: None,
        });
    }
    for path in unreadable {
        checks.push(FileCheck {
            path,
            verdict: Verdict::Differs,
            recorded: None,
            rerun: None,
            tolerance: None,
            values: Vec::new(),
            note: Some("not a regular file, or unreadable".into()),
        });
    }
    (checks, identical)
}

/// Every regular file under `dir` by `/`-separated relative path, with its digest; what is
/// neither a folder nor a readable regular file goes to `unreadable`.
fn walk(
    dir: &Path,
    prefix: &str,
    out: &mut BTreeMap<String, Digest>,
    unreadable: &mut Vec<String>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let rel = format!("{prefix}{}", e.file_name().to_string_lossy());
        let path: PathBuf = e.path();
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, &format!("{rel}/"), out, unreadable),
            Ok(m) if m.is_file() => match Digest::of_file(&path) {
                Ok(d) => {
                    out.insert(rel, d);
                }
                Err(_) => unreadable.push(rel),
            },
            _ => unreadable.push(rel),
        }
    }
}

/// Compare two versions of a metric file: JSON of the same shape whose numbers differ by at
/// most `tol`. Fills `check`'s verdict, values and note.
fn compare_metrics(recorded: &[u8], rerun: &[u8], tol: f64, check: &mut FileCheck) {
    let parse = |b: &[u8]| serde_json::from_slice::<Value>(b).ok();
    let (Some(a), Some(b)) = (parse(recorded), parse(rerun)) else {
        check.note = Some("not JSON on both sides, so compared byte for byte".into());
        return;
    };
    let mut values = Vec::new();
    let within = diff_values("", &a, &b, tol, &mut values);
    check.verdict = if within {
        Verdict::WithinTolerance
    } else {
        Verdict::Differs
    };
    check.values = values;
}

/// Walk two JSON values side by side; record each differing leaf (up to [`MAX_VALUES`]).
/// True when every difference is a number within `tol`.
fn diff_values(at: &str, a: &Value, b: &Value, tol: f64, out: &mut Vec<ValueDiff>) -> bool {
    let mut push = |d: ValueDiff| {
        if out.len() < MAX_VALUES {
            out.push(d);
        }
    };
    let field = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            let d = (x - y).abs();
            if x == y || d == 0.0 {
                return true;
            }
            let within = d <= tol;
            push(ValueDiff {
                field: at.to_string(),
                recorded: a.clone(),
                rerun: b.clone(),
                difference: Some(d),
                within_tolerance: within,
            });
            within
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut ok = true;
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => ok &= diff_values(&field(k), va, vb, tol, out),
                    None => {
                        ok = false;
                        if out.len() < MAX_VALUES {
                            out.push(ValueDiff {
                                field: field(k),
                                recorded: va.clone(),
                                rerun: Value::Null,
                                difference: None,
                                within_tolerance: false,
                            });
                        }
                    }
                }
            }
            for (k, vb) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                ok = false;
                if out.len() < MAX_VALUES {
                    out.push(ValueDiff {
                        field: field(k),
                        recorded: Value::Null,
                        rerun: vb.clone(),
                        difference: None,
                        within_tolerance: false,
                    });
                }
            }
            ok
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            let mut ok = true;
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                ok &= diff_values(&format!("{at}[{i}]"), va, vb, tol, out);
            }
            ok
        }
        _ if a == b => true,
        _ => {
            push(ValueDiff {
                field: at.to_string(),
                recorded: a.clone(),
                rerun: b.clone(),
                difference: None,
                within_tolerance: false,
            });
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_of(a: Value, b: Value, tol: f64) -> FileCheck {
        let mut c = FileCheck {
            path: "m.json".into(),
            verdict: Verdict::Differs,
            recorded: None,
            rerun: None,
            tolerance: Some(tol),
            values: Vec::new(),
            note: None,
        };
        compare_metrics(
            a.to_string().as_bytes(),
            b.to_string().as_bytes(),
            tol,
            &mut c,
        );
        c
    }

    #[test]
    fn numbers_within_tolerance_pass_and_beyond_it_are_named() {
        let a = json!({"accuracy": 0.5, "per_class": [0.1, 0.2], "model": "x"});
        let close = json!({"accuracy": 0.5 + 1e-12, "per_class": [0.1, 0.2], "model": "x"});
        let c = check_of(a.clone(), close, 1e-9);
        assert_eq!(c.verdict, Verdict::WithinTolerance);
        assert_eq!(c.values.len(), 1);
        assert!(c.values[0].within_tolerance);

        let far = json!({"accuracy": 0.5, "per_class": [0.1, 0.25], "model": "x"});
        let c = check_of(a.clone(), far, 1e-9);
        assert_eq!(c.verdict, Verdict::Differs);
        assert_eq!(c.values[0].field, "per_class[1]");
        assert!((c.values[0].difference.unwrap_or(0.0) - 0.05).abs() < 1e-12);

        // Another shape or another string is a difference whatever the tolerance.
        let renamed = json!({"accuracy": 0.5, "per_class": [0.1, 0.2], "model": "y"});
        assert_eq!(check_of(a.clone(), renamed, 1.0).verdict, Verdict::Differs);
        let shorter = json!({"accuracy": 0.5, "per_class": [0.1], "model": "x"});
        assert_eq!(check_of(a.clone(), shorter, 1.0).verdict, Verdict::Differs);
        let extra = json!({"accuracy": 0.5, "per_class": [0.1, 0.2], "model": "x", "n": 1});
        let c = check_of(a, extra, 1.0);
        assert_eq!(
            (c.verdict, c.values[0].field.as_str()),
            (Verdict::Differs, "n")
        );
    }

    #[test]
    fn a_metric_file_that_is_not_json_stays_a_difference() {
        let mut c = check_of(json!(1), json!(1), 1.0);
        c.verdict = Verdict::Differs;
        compare_metrics(b"not json", b"not json either", 1.0, &mut c);
        assert_eq!(c.verdict, Verdict::Differs);
        assert!(c.note.is_some());
    }
}
