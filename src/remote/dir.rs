//! A remote in a directory (a plain path or `file://`): typically a shared or network
//! filesystem several machines mount.
//!
//! Create-if-absent is a hard link from a finished temp file to the final name: `link(2)` fails
//! when the name exists, so nothing is ever overwritten and a reader sees a blob whole or not
//! at all — also when two machines push the same object at once.

use super::backend::{Backend, Put};
use super::RemoteError;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct DirRemote {
    root: PathBuf,
}

impl DirRemote {
    /// Open the remote at `root`, creating it if its parent exists.
    pub fn open(root: &Path) -> Result<DirRemote, RemoteError> {
        let parent_ok = root
            .parent()
            .is_none_or(|p| p.as_os_str().is_empty() || p.is_dir());
        if !root.is_dir() && !parent_ok {
            return Err(RemoteError::Unreachable {
                remote: root.display().to_string(),
                message: "neither it nor its parent directory exists".into(),
                hint: "mount the shared filesystem, or fix the remote path".into(),
            });
        }
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp).map_err(|e| RemoteError::Unreachable {
            remote: root.display().to_string(),
            message: e.to_string(),
            hint: "check that the directory is writable".into(),
        })?;
        Ok(DirRemote {
            root: root.to_path_buf(),
        })
    }

    fn io(&self, key: &str, e: io::Error) -> RemoteError {
        RemoteError::Io {
            remote: self.describe(),
            key: key.to_string(),
            message: e.to_string(),
        }
    }
}

impl Backend for DirRemote {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        Ok(self.root.join(key).is_file())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        match fs::read(self.root.join(key)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(key, e)),
        }
    }

    fn get_to(&self, key: &str, dest: &Path) -> Result<bool, RemoteError> {
        match fs::copy(self.root.join(key), dest) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io(key, e)),
        }
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<Put, RemoteError> {
        self.put_with(key, |f| f.write_all(bytes))
    }

    fn put_file_if_absent(&self, key: &str, src: &std::path::Path) -> Result<Put, RemoteError> {
        self.put_with(key, |f| {
            File::open(src)
                .and_then(|mut r| io::copy(&mut r, f))
                .map(drop)
        })
    }
}

impl DirRemote {
    /// Write a temp file with `fill`, fsync it, and link it into place unless `key` exists.
    fn put_with(
        &self,
        key: &str,
        fill: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<Put, RemoteError> {
        let dest = self.root.join(key);
        if dest.is_file() {
            return Ok(Put::Existed);
        }
        let tmp = crate::store::fsutil::temp_path(&self.root.join("tmp"), "put");
        let write = || -> io::Result<Put> {
            let mut f = File::create(&tmp)?;
            fill(&mut f)?;
            f.sync_all()?;
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
            let put = match fs::hard_link(&tmp, &dest) {
                Ok(()) => Put::Created,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Put::Existed,
                Err(e) => return Err(e),
            };
            if let Some(parent) = dest.parent() {
                if let Ok(d) = File::open(parent) {
                    let _ = d.sync_all();
                }
            }
            Ok(put)
        };
        let result = write();
        let _ = fs::remove_file(&tmp);
        result.map_err(|e| self.io(key, e))
    }
}
