//! The file cache: `store/files/sha256/ab/cdef…` holds objects decompressed, read-only, so a
//! stage's inputs are hard links to one verified copy instead of a private copy per stage (at
//! paper scale, 8 trainings on a 200 GB dataset would otherwise write 1.6 TB before starting).
//!
//! Why hard links: they work on every local filesystem and cost nothing, and reflinks
//! (copy-on-write clones) exist only on a few (btrfs, XFS). Where a link cannot be made — the
//! stage's scratch is on another filesystem (`REPRO_SCRATCH`, `SLURM_TMPDIR`), or
//! `REPRO_INPUTS=copy` — the input is copied as before.
//!
//! Integrity: a cache file is written by decompressing its object while hashing it (so it is
//! verified when written) and is mode 0444, so a stage that is not root cannot change it. Each
//! has a stamp, `<file>.stamp` (size, mtime, inode, device when last verified); a file whose
//! stat differs from its stamp is re-hashed before it is linked, and deleted and rewritten when
//! its content changed, so a modified input is never used. The stamp leaves out ctime on
//! purpose: making a hard link changes the file's ctime, so every materialization would look
//! like a modification. `repro verify` re-hashes every cache file; gc removes the cache files
//! of deleted objects.

use super::fsutil::temp_path;
use super::{io_at, Digest, Store, StoreError};
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn stamp_of(m: &Metadata) -> String {
    format!(
        "{} {}.{:09} {} {}\n",
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ino(),
        m.dev()
    )
}

fn stamp_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".stamp");
    PathBuf::from(s)
}

/// How inputs are materialized: hard links into the file cache unless `REPRO_INPUTS=copy`.
fn links_wanted() -> bool {
    std::env::var("REPRO_INPUTS").map_or(true, |v| v != "copy")
}

impl Store {
    pub(crate) fn files_dir(&self) -> PathBuf {
        self.root().join("files/sha256")
    }

    fn cached_path(&self, d: &Digest) -> PathBuf {
        self.files_dir().join(d.fanout_path())
    }

    fn write_file_stamp(&self, file: &Path) {
        let Ok(meta) = fs::symlink_metadata(file) else {
            return;
        };
        let tmp = temp_path(&self.tmp_dir(), "fstamp");
        if fs::write(&tmp, stamp_of(&meta))
            .and_then(|()| fs::rename(&tmp, stamp_path(file)))
            .is_err()
        {
            let _ = fs::remove_file(&tmp);
        }
    }

    /// The cache file of object `d`, verified: reused when its stat matches its stamp or its
    /// content re-hashes to `d`, else (re)written from the object.
    pub(crate) fn cached_file(&self, d: &Digest, size: u64) -> Result<PathBuf, StoreError> {
        let path = self.cached_path(d);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_at(dir))?;
        }
        // One writer per object: eight stages starting on the same input wait for one
        // decompression instead of each writing their own (the lock goes with the file).
        let lock_path = path.with_extension("lock");
        let lock = File::create(&lock_path).map_err(io_at(&lock_path))?;
        lock.lock().map_err(io_at(&lock_path))?;
        if let Ok(meta) = fs::symlink_metadata(&path) {
            let stamped = fs::read_to_string(stamp_path(&path)).is_ok_and(|s| s == stamp_of(&meta));
            if meta.is_file() && (stamped || Digest::of_file(&path).is_ok_and(|h| h == *d)) {
                if !stamped {
                    self.write_file_stamp(&path);
                }
                return Ok(path);
            }
            // Changed behind the store's back: never used; written afresh below.
            let _ = fs::remove_file(&path);
        }
        // Written beside, then linked into place: a process that does not take the lock (an
        // older binary) can never swap the inode under a reader, as a rename could.
        let tmp = temp_path(&self.tmp_dir(), "file");
        let placed = self
            .extract_sized(d, &tmp, Some(size))
            .and_then(|()| {
                fs::set_permissions(&tmp, fs::Permissions::from_mode(0o444)).map_err(io_at(&tmp))
            })
            .and_then(|()| {
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir).map_err(io_at(dir))?;
                }
                match fs::hard_link(&tmp, &path) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(StoreError::io(&path, e)),
                }
            });
        let _ = fs::remove_file(&tmp);
        if placed? {
            self.write_file_stamp(&path);
        } else if !Digest::of_file(&path).is_ok_and(|h| h == *d) {
            return Err(StoreError::Refused(format!(
                "cache file {} changed while it was being written; rerun",
                path.display()
            )));
        }
        Ok(path)
    }

    /// Put object `d` at `dest` read-only: a hard link to its cache file where possible, else a
    /// verified copy. `Ok(true)` when linked.
    pub(crate) fn link_or_copy(
        &self,
        d: &Digest,
        size: u64,
        executable: bool,
        dest: &Path,
    ) -> Result<bool, StoreError> {
        // An executable input needs its own mode bits, which a shared inode cannot give.
        if links_wanted() && !executable {
            let cached = self.cached_file(d, size)?;
            if let Some(dir) = dest.parent() {
                fs::create_dir_all(dir).map_err(io_at(dir))?;
            }
            match fs::hard_link(&cached, dest) {
                Ok(()) => return Ok(true),
                // Another filesystem, or one without links: copy instead.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EXDEV | libc::EPERM | libc::EMLINK)
                    ) => {}
                Err(e) => return Err(StoreError::io(dest, e)),
            }
        }
        self.extract_sized(d, dest, Some(size))?;
        let mode = if executable { 0o555 } else { 0o444 };
        fs::set_permissions(dest, fs::Permissions::from_mode(mode)).map_err(io_at(dest))?;
        Ok(false)
    }

    /// Every cache file: `(object, path)`.
    fn cache_files(&self) -> Vec<(Digest, PathBuf)> {
        let mut out = Vec::new();
        let Ok(fans) = fs::read_dir(self.files_dir()) else {
            return out;
        };
        for fan in fans.flatten() {
            let Ok(files) = fs::read_dir(fan.path()) else {
                continue;
            };
            for f in files.flatten() {
                let name = format!(
                    "{}{}",
                    fan.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                );
                if let Ok(d) = name.parse::<Digest>() {
                    out.push((d, f.path()));
                }
            }
        }
        out
    }

    /// Re-hash every cache file; delete (with its stamp) each whose content is not its name.
    /// Returns (checked, removed).
    pub fn verify_file_cache(&self) -> (usize, Vec<Digest>) {
        let files = self.cache_files();
        let mut removed = Vec::new();
        for (d, path) in &files {
            if !Digest::of_file(path).is_ok_and(|h| h == *d) {
                let _ = fs::remove_file(path);
                let _ = fs::remove_file(stamp_path(path));
                removed.push(*d);
            }
        }
        (files.len(), removed)
    }

    /// Delete the cache files whose object is gone (after gc); returns the bytes freed.
    pub fn prune_file_cache(&self) -> u64 {
        let mut freed = 0;
        for (d, path) in self.cache_files() {
            if !self.contains(&d) {
                freed += fs::metadata(&path).map_or(0, |m| m.len());
                let _ = fs::remove_file(&path);
                let _ = fs::remove_file(stamp_path(&path));
                let _ = fs::remove_file(path.with_extension("lock"));
            }
        }
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_links_to_one_verified_copy_and_a_modified_copy_is_never_used() {
        let t = tempfile::tempdir().expect("tmp");
        let store = Store::open(&t.path().join("store")).expect("store");
        let d = store.put_bytes(b"the input").expect("put");
        let (a, b) = (t.path().join("a/in"), t.path().join("b/in"));
        assert!(store.link_or_copy(&d, 9, false, &a).expect("a"));
        assert!(store.link_or_copy(&d, 9, false, &b).expect("b"));
        let (ma, mb) = (fs::metadata(&a).expect("a"), fs::metadata(&b).expect("b"));
        assert_eq!(ma.ino(), mb.ino(), "one copy on disk");
        assert_eq!(ma.permissions().mode() & 0o777, 0o444);
        // Root can write a 0444 file: tamper with the shared copy, same size.
        let cache = store.cached_path(&d);
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o644)).expect("chmod");
        fs::write(&cache, b"THE INPUT").expect("tamper");
        let c = t.path().join("c/in");
        store.link_or_copy(&d, 9, false, &c).expect("c");
        assert_eq!(
            fs::read(&c).expect("read"),
            b"the input",
            "re-verified and rewritten"
        );
        assert_ne!(
            fs::metadata(&c).expect("c").ino(),
            ma.ino(),
            "the tampered inode is not reused"
        );
        // verify finds nothing wrong now, and finds a tampered file.
        assert_eq!(store.verify_file_cache().1, Vec::<Digest>::new());
        let cache = store.cached_path(&d);
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o644)).expect("chmod");
        fs::write(&cache, b"xxx").expect("tamper");
        assert_eq!(store.verify_file_cache().1, vec![d]);
    }

    #[test]
    fn copies_when_asked_and_for_executables() {
        let t = tempfile::tempdir().expect("tmp");
        let store = Store::open(&t.path().join("store")).expect("store");
        let d = store.put_bytes(b"#!/bin/sh\n").expect("put");
        let x = t.path().join("x");
        assert!(!store.link_or_copy(&d, 10, true, &x).expect("x"));
        assert_eq!(
            fs::metadata(&x).expect("x").permissions().mode() & 0o777,
            0o555
        );
        assert_eq!(store.prune_file_cache(), 0);
    }
}
