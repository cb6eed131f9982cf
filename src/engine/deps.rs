//! Content digests of `deps:` paths (files or folders), with a stat cache so an unchanged
//! multi-gigabyte dataset folder is not re-read on every `repro status`.
//!
//! The cache maps (path, size, mtime, inode) → digest; any change to those re-hashes the file.
//! It is an optimisation only: losing it costs time, never correctness.

use crate::store::digest::Hasher;
use crate::store::Digest;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ino: u64,
    digest: Digest,
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
        let entries: Vec<(PathBuf, Stamp)> = fs::read(&cache_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let cache = entries.into_iter().collect();
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
        let meta = fs::metadata(path).map_err(err)?;
        let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        if let Some(s) = self.cache.get(path) {
            if s.size == meta.len() && s.mtime_ns == mtime_ns && s.ino == meta.ino() {
                return Ok(s.digest);
            }
        }
        let mut f = File::open(path).map_err(err)?;
        let mut h = Hasher::default();
        let mut buf = vec![0u8; 128 << 10];
        loop {
            let n = f.read(&mut buf).map_err(err)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let digest = h.finish();
        // Only cache files whose mtime is safely in the past: a file modified within the same
        // clock tick as our read could change again without changing its mtime.
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .map_or(0, |d| d.as_secs());
        if age >= 2 {
            self.cache.insert(
                path.to_path_buf(),
                Stamp {
                    size: meta.len(),
                    mtime_ns,
                    ino: meta.ino(),
                    digest,
                },
            );
            self.dirty = true;
        }
        Ok(digest)
    }

    /// Persist the cache (best effort).
    pub fn save(&mut self, tmp_dir: &Path) {
        if let (true, Some(file)) = (self.dirty, &self.cache_file) {
            if let Ok(bytes) = serde_json::to_vec(&self.cache.iter().collect::<Vec<_>>()) {
                let tmp = tmp_dir.join(format!("statcache.{}", std::process::id()));
                if fs::write(&tmp, bytes).is_ok() && fs::rename(&tmp, file).is_err() {
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

    #[test]
    fn stat_cache_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        fs::write(&file, "x").expect("write");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&file)
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        let cache = dir.path().join("cache.json");
        let mut h = DepHasher::with_cache(cache.clone());
        let d = h.digest(&file).expect("digest");
        h.save(dir.path());
        let h2 = DepHasher::with_cache(cache);
        assert_eq!(h2.cache.get(&file).map(|s| s.digest), Some(d));
    }
}
