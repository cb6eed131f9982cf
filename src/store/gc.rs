//! What garbage collection needs of the store, and the one rule that makes it safe beside
//! writers: an object or record is deleted only if it is still old when looked at under
//! `store/gc.lock` held exclusively, and a writer that finds its object already stored
//! refreshes the object's mtime under the same lock held shared. So gc's check and its
//! unlink are one step as far as any writer can tell: either the writer's refresh came first
//! (gc sees a young file and keeps it) or gc's unlink did (the writer finds no file and writes
//! it again).
//!
//! The lock is taken per object, never across a whole gc, so writers wait at most one unlink.

use super::{ActionKey, Digest, Store};
use std::fs::{self, File};
use std::path::Path;
use std::time::Duration;

impl Store {
    /// `store/gc.lock`, locked shared (writers) or exclusive (gc); the lock lasts as long as
    /// the returned file. `None` when the lock file cannot be opened (a read-only store,
    /// which nobody can gc either). Each call opens its own file description, so threads of
    /// one process exclude each other as processes do.
    pub(crate) fn gc_lock(&self, exclusive: bool) -> Option<File> {
        let path = self.root().join("gc.lock");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .or_else(|_| File::open(&path))
            .ok()?;
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.ok().map(|()| file)
    }

    /// Time since an object or record file was last written or refreshed; `None` if it is gone.
    pub fn age_of(&self, path: &Path) -> Option<Duration> {
        fs::metadata(path).ok()?.modified().ok()?.elapsed().ok()
    }

    pub fn object_file(&self, d: &Digest) -> std::path::PathBuf {
        self.object_path(d)
    }

    pub fn action_file(&self, key: &ActionKey) -> std::path::PathBuf {
        self.action_path(key)
    }

    /// Delete an object (with its stamp and producer entry) unless it was written or
    /// refreshed within `grace`; the bytes freed (compressed size on disk), `None` if kept.
    pub fn remove_object_if_old(&self, d: &Digest, grace: Duration) -> Option<u64> {
        let path = self.object_path(d);
        let _lock = self.gc_lock(true);
        let size = remove_if_old(self, &path, grace)?;
        let _ = fs::remove_file(self.stamp_path(d));
        let _ = fs::remove_file(self.index_path(d));
        Some(size)
    }

    /// Delete an action record unless it was written within `grace`; bytes freed, `None` if kept.
    pub fn remove_action_if_old(&self, key: &ActionKey, grace: Duration) -> Option<u64> {
        let _lock = self.gc_lock(true);
        remove_if_old(self, &self.action_path(key), grace)
    }

    /// Objects that checkpoints of unfinished actions point at.
    pub fn checkpoint_objects(&self) -> Vec<Digest> {
        let dir = self.root().join("checkpoints");
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| fs::read_to_string(e.path()).ok()?.trim().parse().ok())
            .collect()
    }

    /// Keys of actions that are planned or running (`store/pending/`).
    pub fn pending_actions(&self) -> Vec<ActionKey> {
        let Ok(entries) = fs::read_dir(self.root().join("pending")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .strip_suffix(".json")?
                    .parse()
                    .ok()
                    .map(ActionKey)
            })
            .collect()
    }
}

/// The caller holds the exclusive lock.
fn remove_if_old(store: &Store, path: &Path, grace: Duration) -> Option<u64> {
    if store.age_of(path).is_none_or(|age| age < grace) {
        return None;
    }
    let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    fs::remove_file(path).ok().map(|()| size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};
    use std::time::SystemTime;

    fn age(store: &Store, d: &Digest, by: Duration) {
        File::options()
            .write(true)
            .open(store.object_path(d))
            .expect("open")
            .set_modified(SystemTime::now() - by)
            .expect("set mtime");
    }

    /// The campaign's race, step by step: gc looks at an old object and decides to delete it;
    /// a running stage then writes the same content (deduplicated); gc deletes. Before the fix
    /// the dedup left the mtime old and the object the stage had just "written" was gone.
    #[test]
    fn gc_does_not_delete_an_object_rewritten_after_it_looked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let hour = Duration::from_secs(3600);
        let d = store.put_bytes(b"output").expect("put");
        age(&store, &d, 2 * hour);
        assert!(store
            .age_of(&store.object_path(&d))
            .is_some_and(|a| a > hour));
        store
            .put_bytes(b"output")
            .expect("the stage writes it again");
        assert_eq!(store.remove_object_if_old(&d, hour), None, "kept");
        assert!(store.intact(&d));
    }

    /// The same race with real threads meeting at a barrier, many times: whichever of gc's
    /// check-and-delete and the writer's put comes first, the object is there afterwards.
    #[test]
    fn a_deduplicated_write_is_never_lost_to_a_concurrent_gc() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let hour = Duration::from_secs(3600);
        let rounds = 300u32;
        let barrier = Arc::new(Barrier::new(2));
        let digests: Vec<Digest> = (0..rounds)
            .map(|i| store.put_bytes(&i.to_le_bytes()).expect("put"))
            .collect();
        let gc = {
            let (store, digests, barrier) = (store.clone(), digests.clone(), barrier.clone());
            std::thread::spawn(move || {
                for d in &digests {
                    barrier.wait();
                    store.remove_object_if_old(d, hour);
                    barrier.wait();
                }
            })
        };
        for (i, d) in digests.iter().enumerate() {
            age(&store, d, 2 * hour);
            barrier.wait();
            assert_eq!(store.put_bytes(&(i as u32).to_le_bytes()).expect("put"), *d);
            barrier.wait();
            assert!(store.intact(d), "round {i}: the object written is gone");
        }
        gc.join().expect("gc thread");
    }

    #[test]
    fn a_dedup_hit_refreshes_the_mtime() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let d = store.put_bytes(b"x").expect("put");
        age(&store, &d, Duration::from_secs(7200));
        store.put_bytes(b"x").expect("put again");
        let src = dir.path().join("f");
        fs::write(&src, b"x").expect("write");
        store.put_file(&src).expect("put_file");
        assert!(store
            .age_of(&store.object_path(&d))
            .is_some_and(|a| a < Duration::from_secs(60)));
        assert_eq!(
            store.remove_object_if_old(&d, Duration::from_secs(3600)),
            None
        );
        assert!(store.intact(&d), "the refresh kept the stamp valid");
    }
}
