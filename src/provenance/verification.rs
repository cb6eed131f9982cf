//! The verdict of re-executing an action (`repro verify --rerun`): did the same inputs, params
//! and code give the same outputs? Kept in the store beside the action's record, under
//! `verifications/sha256/<key>.json`, and shown by `repro audit`. It is provenance *about* an
//! action, so it never alters the record or its content-addressed key; a later check of the
//! same action replaces it.

use crate::store::fsutil::write_atomic;
use crate::store::{ActionKey, Digest, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

/// What a re-execution showed, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every output file is the same, byte for byte.
    Identical,
    /// Some metric files differ, every number in them within its declared tolerance; the
    /// other files are identical.
    WithinTolerance,
    /// Some file differs beyond tolerance, or is missing, or is new.
    Differs,
    /// The re-execution itself failed.
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Identical => "identical",
            Verdict::WithinTolerance => "within tolerance",
            Verdict::Differs => "DIFFERS",
            Verdict::Failed => "FAILED",
        }
    }

    /// True when the outputs are confirmed (identical or within tolerance).
    pub fn confirmed(self) -> bool {
        matches!(self, Verdict::Identical | Verdict::WithinTolerance)
    }
}

/// How one output file compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileCheck {
    pub path: String,
    pub verdict: Verdict,
    /// The recorded file's digest (absent: the re-execution wrote a file the record lacks).
    pub recorded: Option<Digest>,
    /// The re-executed file's digest (absent: the re-execution did not write it).
    pub rerun: Option<Digest>,
    /// The tolerance its numbers were compared with, when it is a metric file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// The values that differ, by JSON path (at most [`MAX_VALUES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueDiff>,
    /// Why the numbers could not be compared (not JSON, another shape), when they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// At most this many differing values are kept per file: enough to see the pattern.
pub const MAX_VALUES: usize = 20;

/// One value of a metric file that differs between the record and the re-execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueDiff {
    /// Where, e.g. `accuracy` or `epochs[2].loss`.
    pub field: String,
    pub recorded: Value,
    pub rerun: Value,
    /// |recorded − rerun| for numbers.
    pub difference: Option<f64>,
    pub within_tolerance: bool,
}

/// The verdict on one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub action: ActionKey,
    pub stage: String,
    pub verdict: Verdict,
    /// The files that are not identical (all of them when the verdict is not `identical`).
    pub files: Vec<FileCheck>,
    /// How many output files were identical.
    pub identical_files: usize,
    /// Files the kind declares volatile (timings): the rerun wrote them, their content was not
    /// compared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volatile_files: Vec<String>,
    /// Why the re-execution failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub checked_at: String,
    pub host: String,
    pub duration_s: f64,
    pub repro_version: String,
}

impl Verification {
    fn path(store: &Store, key: &ActionKey) -> PathBuf {
        store
            .root()
            .join("verifications/sha256")
            .join(format!("{}.json", key.0.fanout_path()))
    }

    /// Keep this verdict (replacing an earlier one of the same action).
    pub fn save(&self, store: &Store) -> Result<(), StoreError> {
        let path = Verification::path(store, &self.action);
        let bytes = serde_json::to_vec_pretty(self).expect("a verification serializes");
        write_atomic(&store.tmp_dir(), &path, &bytes).map_err(|e| StoreError::io(&path, e))
    }

    /// Forget the verdict on `key` (its record is being deleted: a verdict without a record
    /// describes nothing). Returns the bytes freed.
    pub fn remove(store: &Store, key: &ActionKey) -> u64 {
        let path = Verification::path(store, key);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        match std::fs::remove_file(&path) {
            Ok(()) => size,
            Err(_) => 0,
        }
    }

    /// The last verdict on `key`; `None` when it was never re-executed (or its file is unreadable,
    /// which a new check repairs).
    pub fn load(store: &Store, key: &ActionKey) -> Option<Verification> {
        let bytes = std::fs::read(Verification::path(store, key)).ok()?;
        serde_json::from_slice::<Verification>(&bytes)
            .ok()
            .filter(|v| v.action == *key)
    }

    /// One line for people: the verdict and, when something differs, what.
    pub fn summary(&self) -> String {
        let mut line = self.verdict.as_str().to_string();
        if let Some(f) = &self.failure {
            line.push_str(&format!(": {f}"));
        }
        let differing: Vec<String> = self.files.iter().map(FileCheck::describe).collect();
        if !differing.is_empty() {
            line.push_str(&format!(": {}", differing.join("; ")));
        }
        if !self.volatile_files.is_empty() && self.failure.is_none() {
            line.push_str(&format!(
                " ({} not compared: timings)",
                self.volatile_files.join(", ")
            ));
        }
        line
    }
}

impl FileCheck {
    /// `eval.json (accuracy 0.5 → 0.6)`, `out.txt (missing from the re-execution)`.
    pub fn describe(&self) -> String {
        let what = match (&self.recorded, &self.rerun) {
            (Some(_), None) => "missing from the re-execution".to_string(),
            (None, Some(_)) => "new in the re-execution".to_string(),
            (Some(a), Some(b)) if self.values.is_empty() => {
                format!("{} → {}", a.short(), b.short())
            }
            _ => self
                .values
                .iter()
                .take(3)
                .map(|v| format!("{} {} → {}", v.field, v.recorded, v.rerun))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let more = self.values.len().saturating_sub(3);
        let more = if more > 0 && self.rerun.is_some() && self.recorded.is_some() {
            format!(", {more} more")
        } else {
            String::new()
        };
        let within = match (self.verdict, self.tolerance) {
            (Verdict::WithinTolerance, Some(t)) => format!(", within {t:e}"),
            _ => String::new(),
        };
        format!("{} ({what}{more}{within})", self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_is_kept_beside_the_record_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("store")).expect("store");
        let key = ActionKey(Digest::of(b"an action"));
        assert_eq!(Verification::load(&store, &key), None);
        let v = Verification {
            action: key,
            stage: "s".into(),
            verdict: Verdict::Differs,
            files: vec![FileCheck {
                path: "eval.json".into(),
                verdict: Verdict::Differs,
                recorded: Some(Digest::of(b"a")),
                rerun: Some(Digest::of(b"b")),
                tolerance: Some(1e-9),
                values: vec![ValueDiff {
                    field: "accuracy".into(),
                    recorded: 0.5.into(),
                    rerun: 0.6.into(),
                    difference: Some(0.1),
                    within_tolerance: false,
                }],
                note: None,
            }],
            identical_files: 2,
            failure: None,
            volatile_files: Vec::new(),
            checked_at: "2026-01-01T00:00:00.000Z".into(),
            host: "h".into(),
            duration_s: 1.0,
            repro_version: "0".into(),
        };
        v.save(&store).expect("save");
        assert_eq!(Verification::load(&store, &key), Some(v.clone()));
        assert_eq!(
            v.summary(),
            "DIFFERS: eval.json (accuracy 0.5 → 0.6)",
            "the summary names the file and the value"
        );
        // Another action has no verdict.
        assert_eq!(
            Verification::load(&store, &ActionKey(Digest::of(b"other"))),
            None
        );
    }
}
