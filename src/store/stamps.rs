//! Verification stamps: `store/stamps/sha256/ab/cdef…` holds the stat (size, mtime, ctime,
//! inode, device) that an object file had when the store last knew its content to be right —
//! when it wrote the object, or re-hashed it. Checking an object is then one `stat` and one
//! small read, and a re-hash only when they differ, so `status` can check every output it
//! calls fresh without reading gigabytes. ctime cannot be set back by a user, so a write
//! whose mtime was restored (`touch -d`) still shows.
//!
//! A stamp is a cache: a lost one costs one re-hash. A write within the same clock tick as
//! the stamp, same size, is not seen (git's "racy" case); `repro verify` re-hashes everything.

use super::fsutil::temp_path;
use super::{Digest, Store};
use std::fs::{self, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

fn stamp_of(m: &Metadata) -> String {
    format!(
        "{} {}.{:09} {}.{:09} {} {}\n",
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.ino(),
        m.dev()
    )
}

impl Store {
    pub(crate) fn stamp_path(&self, d: &Digest) -> PathBuf {
        self.root().join("stamps/sha256").join(d.fanout_path())
    }

    /// Whether `meta` (the object's stat) is the one its stamp recorded.
    pub(crate) fn stamp_matches(&self, d: &Digest, meta: &Metadata) -> bool {
        fs::read_to_string(self.stamp_path(d)).is_ok_and(|s| s == stamp_of(meta))
    }

    /// Record the object's current stat as known good. Best effort: a stamp that cannot be
    /// written (read-only or full store) only costs a re-hash later.
    pub(crate) fn write_stamp(&self, d: &Digest) {
        let Ok(meta) = fs::metadata(self.object_path(d)) else {
            return;
        };
        let path = self.stamp_path(d);
        let tmp = temp_path(&self.tmp_dir(), "stamp");
        let written = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(&tmp, stamp_of(&meta)))
            .and_then(|()| fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_flip_of_the_same_size_is_caught_and_quarantined() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let d = store.put_bytes(&[7u8; 4096]).expect("put");
        assert!(store.stamp_path(&d).is_file(), "stamped when written");
        assert!(store.intact(&d));
        let path = store.object_path(&d);
        let before = fs::metadata(&path).expect("stat");
        let mut bytes = fs::read(&path).expect("read");
        let at = bytes.len() / 2;
        bytes[at] ^= 0xff;
        fs::write(&path, &bytes).expect("flip a byte in place");
        // Put the mtime back, as a careless tool or `touch -d` would: ctime still moved.
        fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(before.modified().expect("mtime"))
            .expect("restore mtime");
        assert_eq!(fs::metadata(&path).expect("stat").len(), before.len());
        assert!(!store.intact(&d), "a modified object is not intact");
        assert!(!store.contains(&d), "and it is quarantined");
        // Writing the content again repairs the store.
        assert_eq!(store.put_bytes(&[7u8; 4096]).expect("put"), d);
        assert!(store.intact(&d));
    }
}
