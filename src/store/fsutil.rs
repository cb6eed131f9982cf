//! Durable file writes: temp file in the store, fsync, rename. A reader sees the old state or
//! the complete new one, never a torn file, even after `kill -9` or power loss.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temp path in `tmp_dir`, unique across threads, processes and hosts: a store or a
/// remote on a shared filesystem is written by machines whose process ids can coincide, so
/// each process also draws a random nonce once.
pub fn temp_path(tmp_dir: &Path, tag: &str) -> std::path::PathBuf {
    static NONCE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let nonce = NONCE.get_or_init(rand::random::<u32>);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    tmp_dir.join(format!("{tag}.{}.{nonce:08x}.{n}", std::process::id()))
}

/// Write `bytes` to `dest` atomically.
pub fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(tmp_dir, "w");
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        persist(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Rename a finished temp file into place and make the rename itself durable.
pub fn persist(tmp: &Path, dest: &Path) -> io::Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::rename(tmp, dest)?;
    if let Some(parent) = dest.parent() {
        // fsync the directory so the new name survives a crash; not all filesystems allow it.
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}
