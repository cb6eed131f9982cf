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

/// Remove `dir` and everything under it, never following a symbolic link: a link is removed as
/// a link, and only real directories get their owner permissions back (a stage may leave
/// read-only folders; a file needs no permission of its own to be unlinked).
///
/// A stage's scratch can hold links it made to anything (`ln -s /data $REPRO_OUT/d`), so a
/// cleanup that followed them would chmod or delete files outside the store. Directory
/// entries are judged by `lstat`; `remove_dir_all` itself does not follow links.
pub fn remove_tree(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fn give_back_write(dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            // `DirEntry::file_type` does not follow links.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let path = entry.path();
                allow_owner(&path);
                give_back_write(&path);
            }
        }
    }
    fn allow_owner(dir: &Path) {
        if let Ok(meta) = fs::symlink_metadata(dir) {
            if meta.is_dir() {
                let mode = meta.permissions().mode() | 0o700;
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode));
            }
        }
    }
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(dir);
    }
    allow_owner(dir);
    give_back_write(dir);
    fs::remove_dir_all(dir)
}

/// Set a file's mtime to now (`touch`), the way a writer that found its object already there
/// tells gc that the object is in use again. Needs ownership or write access, not a write.
pub fn touch(path: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: a valid NUL-terminated path; a null `times` means "now" for both stamps.
    if unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), std::ptr::null(), 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The mount point of the filesystem holding `path` (the highest ancestor on the same
/// device), for messages that must say which disk is full; `path` itself when unknown.
pub fn mount_point(path: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::MetadataExt;
    let mut existing = path;
    let dev = loop {
        match fs::metadata(existing) {
            Ok(m) => break m.dev(),
            Err(_) => match existing.parent() {
                Some(p) => existing = p,
                None => return path.to_path_buf(),
            },
        }
    };
    let mut mount = existing;
    while let Some(parent) = mount.parent() {
        match fs::metadata(parent) {
            Ok(m) if m.dev() == dev => mount = parent,
            _ => break,
        }
    }
    mount.to_path_buf()
}

/// Bytes available to this user on the filesystem holding `path` (`statvfs`); `None` when it
/// cannot be asked.
pub fn available_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct it is given; a valid NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn remove_tree_never_follows_links() {
        let t = tempfile::tempdir().expect("tempdir");
        let outside = t.path().join("outside");
        fs::create_dir_all(outside.join("sub")).expect("mkdir");
        fs::write(outside.join("sub/f"), "keep").expect("write");
        for p in [&outside.join("sub/f"), &outside.join("sub"), &outside] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o500)).expect("chmod");
        }
        let work = t.path().join("work");
        fs::create_dir_all(work.join("out/locked")).expect("mkdir");
        symlink(&outside, work.join("out/d")).expect("symlink");
        // `work/out/up` → the temp dir holding everything (0700, as tempdir makes it).
        symlink("../..", work.join("out/up")).expect("symlink");
        let top = mode(t.path());
        symlink(outside.join("sub/f"), work.join("out/f")).expect("symlink");
        fs::set_permissions(work.join("out/locked"), fs::Permissions::from_mode(0o500))
            .expect("chmod");
        fs::set_permissions(work.join("out"), fs::Permissions::from_mode(0o500)).expect("chmod");

        remove_tree(&work).expect("remove");
        assert!(!work.exists());
        assert_eq!(mode(&outside), 0o500);
        assert_eq!(mode(&outside.join("sub")), 0o500);
        assert_eq!(mode(&outside.join("sub/f")), 0o500);
        assert_eq!(
            mode(t.path()),
            top,
            "the folder `up` points at is untouched"
        );

        // A link passed as the tree itself is removed as a link.
        let link = t.path().join("link");
        symlink(&outside, &link).expect("symlink");
        remove_tree(&link).expect("remove link");
        assert!(fs::symlink_metadata(&link).is_err());
        assert_eq!(
            fs::read_to_string(outside.join("sub/f")).expect("read"),
            "keep"
        );
        assert!(remove_tree(&t.path().join("absent")).is_ok());
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o700)).expect("chmod");
        fs::set_permissions(outside.join("sub"), fs::Permissions::from_mode(0o700)).expect("chmod");
    }

    #[test]
    fn touch_refreshes_mtime_and_fails_on_a_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        fs::write(&f, "x").expect("write");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        File::options()
            .write(true)
            .open(&f)
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        touch(&f).expect("touch");
        let age = fs::metadata(&f)
            .and_then(|m| m.modified())
            .expect("mtime")
            .elapsed()
            .unwrap_or_default();
        assert!(age.as_secs() < 60, "mtime refreshed, age {age:?}");
        assert!(touch(&dir.path().join("gone")).is_err());
        assert_eq!(
            mount_point(&dir.path().join("not/yet")),
            mount_point(dir.path())
        );
    }
}
