//! Submitted jobs, recorded in the store so that the planner can die.
//!
//! `store/jobs/<action key>.json` holds the Slurm job id of an action submitted and not yet
//! settled. A new `repro run` that reaches the same action asks Slurm about that id first: a job
//! still queued or running is reattached to instead of submitted again, and a job that finished
//! meanwhile is picked up from its record. The file goes when the action settles.

use crate::store::fsutil::write_atomic;
use crate::store::{ActionKey, Digest, Store};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedJob {
    pub job_id: u64,
    pub stage: String,
    pub run_id: String,
    pub submitted: String,
}

fn path(store: &Store, key: &ActionKey) -> PathBuf {
    store.root().join("jobs").join(format!("{key}.json"))
}

/// Remember that `key` runs as `job`.
pub fn record(store: &Store, key: &ActionKey, job: &SubmittedJob) -> std::io::Result<()> {
    let dest = path(store, key);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec_pretty(job).map_err(std::io::Error::other)?;
    write_atomic(&store.tmp_dir(), &dest, &bytes)
}

/// The job submitted for `key`, if one was and has not settled. An unreadable file is treated
/// as absent: the worst case is one duplicate submission, which the action lock serialises.
pub fn lookup(store: &Store, key: &ActionKey) -> Option<SubmittedJob> {
    let bytes = std::fs::read(path(store, key)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Forget the job of `key` (its action settled: published, or failed and reported).
pub fn settle(store: &Store, key: &ActionKey) {
    let _ = std::fs::remove_file(path(store, key));
}

/// Every recorded job: what `repro status` shows as queued/running and `repro cancel` stops.
pub fn all(store: &Store) -> Vec<(ActionKey, SubmittedJob)> {
    let Ok(dir) = std::fs::read_dir(store.root().join("jobs")) else {
        return Vec::new();
    };
    let mut out: Vec<(ActionKey, SubmittedJob)> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let key = ActionKey(name.strip_suffix(".json")?.parse::<Digest>().ok()?);
            Some((key, lookup(store, &key)?))
        })
        .collect();
    out.sort_by_key(|(_, j)| j.job_id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lookup_settle() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("store");
        let key = ActionKey(Digest::of(b"a"));
        assert_eq!(lookup(&store, &key), None);
        let job = SubmittedJob {
            job_id: 42,
            stage: "s".into(),
            run_id: "r".into(),
            submitted: "t".into(),
        };
        record(&store, &key, &job).expect("record");
        assert_eq!(lookup(&store, &key), Some(job.clone()));
        assert_eq!(all(&store), vec![(key, job)]);
        settle(&store, &key);
        assert_eq!(lookup(&store, &key), None);
        assert!(all(&store).is_empty());
    }
}
