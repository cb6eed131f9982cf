//! Content digests of `deps:` paths (files or folders), with a stat cache so an unchanged
//! multi-gigabyte dataset folder is not re-read on every `repro status`.
//!
//! The cache maps (path, size, mtime, ctime, inode, device) → digest, as git's index does; any
//! change to those re-hashes the file. ctime matters because a user can put mtime back
//! (`touch -d`, `cp -p`, `rsync -t`) but not ctime, which any write moves to now. The racy
//! rule: a stamp is kept only when both times are at least [`RACY`] older than the stat, so a
//! write in the same timestamp tick as our read, which leaves the times as they were, can
//! never be hidden behind a cached digest. It is an optimisation only: losing the cache costs
//! time, never correctness.

use crate::store::Digest;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A file's times are trusted only this long after they were set: coarser than the timestamp
/// granularity of any filesystem a dataset is likely to sit on (FAT and some network
/// filesystems keep 1-2 s; Linux local filesystems a clock tick).
const RACY: Duration = Duration::from_secs(2);

/// Bump when `Stamp` changes: a cache file of another version is dropped, not misread.
const CACHE_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
    digest: Digest,
}

impl Stamp {
    fn matches(&self, m: &fs::Metadata) -> bool {
        self.size == m.len()
            && self.mtime_ns == mtime_ns(m)
            && self.ctime_ns == ctime_ns(m)
            && self.ino == m.ino()
            && self.dev == m.dev()
    }
}

fn mtime_ns(m: &fs::Metadata) -> i128 {
    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
}

fn ctime_ns(m: &fs::Metadata) -> i128 {
    i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec())
}

/// Whether a stat taken at `now` can be cached: neither time within [`RACY`] of it (or in its
/// future, a clock skewed against a network filesystem).
fn settled(m: &fs::Metadata, now: SystemTime) -> bool {
    let Ok(now) = now.duration_since(UNIX_EPOCH) else {
        return false;
    };
    let limit = i128::try_from(now.saturating_sub(RACY).as_nanos()).unwrap_or(i128::MAX);
    mtime_ns(m) <= limit && ctime_ns(m) <= limit
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    entries: Vec<(PathBuf, Stamp)>,
}

#[derive(Default)]
pub struct DepHasher {
    cache: HashMap<PathBuf, Stamp>,
    cache_file: Option<PathBuf>,
    dirty: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct DepError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl DepHasher {
    /// A hasher whose cache persists in `cache_file`.
    pub fn with_cache(cache_file: PathBuf) -> DepHasher {
        let cache = fs::read(&cache_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<CacheFile>(&b).ok())
            .filter(|c| c.version == CACHE_VERSION)
            .map(|c| c.entries.into_iter().collect())
            .unwrap_or_default();
        DepHasher {
            cache,
            cache_file: Some(cache_file),
            dirty: false,
        }
    }

    /// Digest of a file's bytes, or of a folder's sorted (relative path, file digest) listing.
    pub fn digest(&mut self, path: &Path) -> Result<Digest, DepError> {
        let err = |source| DepError {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::metadata(path).map_err(err)?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, path, &mut files).map_err(err)?;
            files.sort();
            let mut listing = String::new();
            for rel in files {
                let d = self.file_digest(&path.join(&rel))?;
                listing.push_str(&format!("{rel}\0{d}\n"));
            }
            Ok(Digest::of(listing.as_bytes()))
        } else {
            self.file_digest(path)
        }
    }

    fn file_digest(&mut self, path: &Path) -> Result<Digest, DepError> {
        let err = |source| DepError {
            path: path.to_path_buf(),
            source,
        };
        let now = SystemTime::now();
        let meta = fs::metadata(path).map_err(err)?;
        if let Some(s) = self.cache.get(path) {
            if s.matches(&meta) {
                return Ok(s.digest);
            }
        }
        let digest = Digest::of_file(path).map_err(err)?;
        if settled(&meta, now) {
            self.cache.insert(
                path.to_path_buf(),
                Stamp {
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                    ctime_ns: ctime_ns(&meta),
                    ino: meta.ino(),
                    dev: meta.dev(),
                    digest,
                },
            );
        } else if self.cache.remove(path).is_none() {
            return Ok(digest);
        }
        self.dirty = true;
        Ok(digest)
    }

    /// Persist the cache (best effort).
    pub fn save(&mut self, tmp_dir: &Path) {
        if let (true, Some(file)) = (self.dirty, &self.cache_file) {
            let cache = CacheFile {
                version: CACHE_VERSION,
                entries: self
                    .cache
                    .iter()
                    .map(|(p, s)| (p.clone(), s.clone()))
                    .collect(),
            };
            if let Ok(bytes) = serde_json::to_vec(&cache) {
                let tmp = crate::store::fsutil::temp_path(tmp_dir, "statcache");
                if fs::write(&tmp, bytes)
                    .and_then(|()| fs::rename(&tmp, file))
                    .is_err()
                {
                    let _ = fs::remove_file(&tmp);
                }
            }
            self.dirty = false;
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else {
            out.push(
                p.strip_prefix(root)
                    .map_err(io::Error::other)?
                    .to_string_lossy()
                    .to_string(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_digest_tracks_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("d")).expect("mkdir");
        fs::write(dir.path().join("d/a"), "1").expect("write");
        let mut h = DepHasher::default();
        let first = h.digest(&dir.path().join("d")).expect("digest");
        fs::write(dir.path().join("d/a"), "2").expect("write");
        let second = h.digest(&dir.path().join("d")).expect("digest");
        assert_ne!(first, second);
        assert_eq!(
            h.digest(&dir.path().join("d/a")).expect("file"),
            Digest::of(b"2")
        );
        assert!(h.digest(&dir.path().join("missing")).is_err());
    }

    fn set_mtime(file: &Path, t: SystemTime) {
        fs::File::options()
            .write(true)
            .open(file)
            .expect("open")
            .set_modified(t)
            .expect("mtime");
    }

    /// The campaign's case: a file rewritten with the same size and its mtime put back
    /// (`touch -d`, `cp -p`) kept its old size, mtime and inode, and the old digest was reused.
    /// Also: the cache persists, and a just-written file is never cached (racy rule).
    #[test]
    fn stat_cache_sees_a_same_size_rewrite_with_mtime_restored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        fs::write(&file, "aaaa").expect("write");
        let old = SystemTime::now() - Duration::from_secs(60);
        set_mtime(&file, old);
        let cache = dir.path().join("cache.json");
        let mut h = DepHasher::with_cache(cache.clone());
        assert_eq!(h.digest(&file).expect("digest"), Digest::of(b"aaaa"));
        assert!(h.cache.is_empty(), "ctime is fresh: racy, not cached");

        std::thread::sleep(RACY + Duration::from_millis(100));
        assert_eq!(h.digest(&file).expect("digest"), Digest::of(b"aaaa"));
        assert!(h.cache.contains_key(&file), "settled: cached");
        h.save(dir.path());
        let mut h = DepHasher::with_cache(cache);
        assert_eq!(
            h.cache.get(&file).map(|s| s.digest),
            Some(Digest::of(b"aaaa")),
            "persisted"
        );

        let ino = fs::metadata(&file).expect("stat").ino();
        fs::write(&file, "bbbb").expect("rewrite in place");
        set_mtime(&file, old);
        let m = fs::metadata(&file).expect("stat");
        assert_eq!(
            (m.len(), m.ino(), mtime_ns(&m)),
            (4, ino, h.cache[&file].mtime_ns)
        );
        assert_eq!(
            h.digest(&file).expect("digest"),
            Digest::of(b"bbbb"),
            "same size, inode and mtime: the new ctime shows the rewrite"
        );
        assert!(!h.cache.contains_key(&file), "the stale stamp is dropped");
    }

    #[test]
    fn a_cache_file_of_another_version_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache.json");
        fs::write(
            &cache,
            r#"[["/x", {"size": 1, "mtime_ns": 0, "ino": 1, "digest": "00"}]]"#,
        )
        .expect("write");
        assert!(DepHasher::with_cache(cache).cache.is_empty());
    }
}
