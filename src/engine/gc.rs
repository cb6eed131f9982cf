//! Garbage collection: delete what the current pipeline no longer needs.
//!
//! A deleted record takes its re-execution verdict (`repro verify --rerun`) with it.
//!
//! Kept: for every stage of the pipeline, the record of its current key (when fresh) and of its
//! last run (what `repro status` diffs against), with their output trees, files and logs; the
//! checkpoints of unfinished actions; the inputs of pending actions; and anything written within
//! the grace period; and every pinned action (`repro pin`) with its whole lineage, so a pinned
//! result can still be audited and its inputs exported after the pipeline moved on. The grace
//! period is what makes gc safe beside a running `repro run`: a
//! stage's objects are written before its record, and none of them is older than the run — an
//! object the stage finds already stored has its mtime refreshed, under a lock that gc's last
//! age check before each unlink also takes (see `store/gc.rs`).

use super::action::read_pending;
use super::{Engine, EngineError};
use crate::provenance::verification::Verification;
use crate::provenance::ActionRecord;
use crate::store::{ActionKey, Digest};
use std::collections::HashSet;
use std::time::Duration;

#[derive(Debug, Default, serde::Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub kept_objects: usize,
    pub kept_records: usize,
    pub deleted_objects: usize,
    pub deleted_records: usize,
    /// Bytes on disk (compressed) freed, or that would be freed with `--dry-run`.
    pub freed_bytes: u64,
}

impl Engine<'_> {
    pub fn gc(&self, dry_run: bool, grace: Duration) -> Result<GcReport, EngineError> {
        let store = self.store;
        let p = self.pipeline;
        let all: Vec<usize> = (0..p.stages.len()).collect();
        let mut keep_records: HashSet<ActionKey> = HashSet::new();
        for s in self.status(&all)? {
            if let (Some(k), Some(_)) = (s.key, s.output) {
                keep_records.insert(k);
            }
            if let Some(k) = store.get_ref(&s.stage) {
                keep_records.insert(k);
            }
        }
        // A pin keeps its action and, through the producer index, every action upstream of it.
        let mut upstream: Vec<ActionKey> = store.pins()?.into_iter().map(|(_, k)| k).collect();
        let mut walked = HashSet::new();
        while let Some(key) = upstream.pop() {
            if !walked.insert(key) {
                continue;
            }
            keep_records.insert(key);
            if let Ok(Some(rec)) = ActionRecord::load(store, &key) {
                upstream.extend(
                    rec.components
                        .inputs
                        .values()
                        .filter_map(|d| store.producer_of(d)),
                );
            }
        }
        let mut keep_objects: HashSet<Digest> = store.checkpoint_objects().into_iter().collect();
        let keep_tree = |d: &Digest, keep: &mut HashSet<Digest>| {
            keep.insert(*d);
            if let Ok(t) = store.read_tree(d) {
                keep.extend(t.entries.iter().map(|e| e.digest));
            }
        };
        for key in store.pending_actions() {
            if let Ok(action) = read_pending(store, &key) {
                for d in action.components.inputs.values() {
                    keep_tree(d, &mut keep_objects);
                }
            }
        }
        for key in &keep_records {
            if let Ok(Some(rec)) = ActionRecord::load(store, key) {
                keep_objects.insert(rec.output);
                keep_objects.extend(rec.files.iter().map(|e| e.digest));
                keep_objects.extend(rec.provenance.log);
            }
        }
        // A first look by age; `remove_*_if_old` looks again under gc's lock right before
        // deleting, so a writer that refreshed a file since is never undone (store/gc.rs).
        let young = |path: &std::path::Path| store.age_of(path).is_none_or(|age| age < grace);
        let mut report = GcReport {
            dry_run,
            ..GcReport::default()
        };
        for key in store.list_actions()? {
            let path = store.action_file(&key);
            let freed = if keep_records.contains(&key) || young(&path) {
                None
            } else if dry_run {
                Some(file_size(&path))
            } else {
                store
                    .remove_action_if_old(&key, grace)
                    .map(|bytes| bytes + Verification::remove(store, &key))
            };
            match freed {
                Some(bytes) => {
                    report.deleted_records += 1;
                    report.freed_bytes += bytes;
                }
                None => report.kept_records += 1,
            }
        }
        for d in store.list_objects()? {
            let path = store.object_file(&d);
            let freed = if keep_objects.contains(&d) || young(&path) {
                None
            } else if dry_run {
                Some(file_size(&path))
            } else {
                store.remove_object_if_old(&d, grace)
            };
            match freed {
                Some(bytes) => {
                    report.deleted_objects += 1;
                    report.freed_bytes += bytes;
                }
                None => report.kept_objects += 1,
            }
        }
        // Decompressed copies of objects that are gone (see store::file_cache).
        if !dry_run {
            report.freed_bytes += self.store.prune_file_cache();
        }
        Ok(report)
    }
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
