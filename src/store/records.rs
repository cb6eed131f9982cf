//! Action records, the producer index, stage refs and checkpoints: the small mutable-looking
//! parts of the store, each still written atomically.
//!
//! A record is published only after every object it names is in the store, so no reader ever
//! sees a record whose outputs are missing.

use super::digest::Digest;
use super::fsutil::write_atomic;
use super::name::check_name;
use super::{io_at, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::io;
use std::path::PathBuf;

/// The key of an action: sha256 of the canonical encoding of its key components.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionKey(pub Digest);

impl fmt::Display for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionKey({})", self.0.short())
    }
}

impl Store {
    pub(crate) fn action_path(&self, key: &ActionKey) -> PathBuf {
        self.root().join("actions/sha256").join(key.0.fanout_path())
    }

    pub(crate) fn index_path(&self, d: &Digest) -> PathBuf {
        self.root().join("index/sha256").join(d.fanout_path())
    }

    fn ref_path(&self, stage: &str) -> Result<PathBuf, StoreError> {
        check_name(stage)
            .map_err(|why| StoreError::Refused(format!("stage name {stage:?} {why}")))?;
        // Stage names may hold `@`, `=`, `,`, spaces; never `/` or `..` (checked above).
        Ok(self.root().join("refs/stages").join(stage))
    }

    /// Write a record. Its rename into place holds gc's shared lock: gc, which re-checks a
    /// record's age under the exclusive lock before deleting it, never unlinks a record just
    /// (re)published under the name it judged old.
    pub fn put_action(&self, key: &ActionKey, record: &[u8]) -> Result<(), StoreError> {
        let path = self.action_path(key);
        let _lock = self.gc_lock(false);
        write_atomic(&self.tmp_dir(), &path, record).map_err(io_at(&path))
    }

    /// The record's bytes, or `None` when there is none.
    pub fn get_action(&self, key: &ActionKey) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.action_path(key);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    pub fn has_action(&self, key: &ActionKey) -> bool {
        self.action_path(key).is_file()
    }

    pub fn list_actions(&self) -> Result<Vec<ActionKey>, StoreError> {
        let base = self.root().join("actions/sha256");
        let mut out = Vec::new();
        for fan in fs::read_dir(&base).map_err(io_at(&base))? {
            let fan = fan.map_err(io_at(&base))?;
            let prefix = fan.file_name().to_string_lossy().to_string();
            for e in fs::read_dir(fan.path()).map_err(io_at(&base))? {
                let e = e.map_err(io_at(&base))?;
                if let Ok(d) = format!("{prefix}{}", e.file_name().to_string_lossy()).parse() {
                    out.push(ActionKey(d));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Remember which action produced an artifact (a tree or a file in it), for `audit`.
    pub fn index_producer(&self, artifact: &Digest, key: &ActionKey) -> Result<(), StoreError> {
        let path = self.index_path(artifact);
        if path.is_file() {
            // First producer wins: identical content from another action is the same artifact.
            return Ok(());
        }
        write_atomic(&self.tmp_dir(), &path, key.to_string().as_bytes()).map_err(io_at(&path))
    }

    pub fn producer_of(&self, artifact: &Digest) -> Option<ActionKey> {
        let text = fs::read_to_string(self.index_path(artifact)).ok()?;
        text.trim().parse().ok().map(ActionKey)
    }

    pub fn set_ref(&self, stage: &str, key: &ActionKey) -> Result<(), StoreError> {
        let path = self.ref_path(stage)?;
        write_atomic(&self.tmp_dir(), &path, key.to_string().as_bytes()).map_err(io_at(&path))
    }

    /// The last action this stage published, if any.
    pub fn get_ref(&self, stage: &str) -> Option<ActionKey> {
        let text = fs::read_to_string(self.ref_path(stage).ok()?).ok()?;
        text.trim().parse().ok().map(ActionKey)
    }

    fn pin_path(&self, name: &str) -> Result<PathBuf, StoreError> {
        check_name(name).map_err(|why| {
            StoreError::Refused(format!(
                "pin name {name:?} {why}; choose another with --name"
            ))
        })?;
        Ok(self.root().join("refs/pins").join(name))
    }

    /// Pin `key` under `name` (replacing an older pin of that name): gc keeps its record, its
    /// outputs and its whole lineage until the pin is removed.
    pub fn set_pin(&self, name: &str, key: &ActionKey) -> Result<(), StoreError> {
        let path = self.pin_path(name)?;
        write_atomic(&self.tmp_dir(), &path, key.to_string().as_bytes()).map_err(io_at(&path))
    }

    /// Remove the pin `name`; whether there was one.
    pub fn remove_pin(&self, name: &str) -> Result<bool, StoreError> {
        let path = self.pin_path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    /// Every pin as (name, key), by name. A pin file that does not hold a key is an error
    /// naming it: gc must never guess what a pin meant.
    pub fn pins(&self) -> Result<Vec<(String, ActionKey)>, StoreError> {
        let dir = self.root().join("refs/pins");
        let mut out = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io(&dir, e)),
        };
        for entry in entries {
            let path = entry.map_err(io_at(&dir))?.path();
            let text = fs::read_to_string(&path).map_err(io_at(&path))?;
            let key = text.trim().parse::<Digest>().map_err(|_| StoreError::Io {
                path: path.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    "not an action key; remove it with `repro pin remove`",
                ),
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((name, ActionKey(key)));
        }
        out.sort();
        Ok(out)
    }

    fn checkpoint_path(&self, key: &ActionKey) -> PathBuf {
        self.root().join("checkpoints").join(key.to_string())
    }

    /// Point the action's checkpoint at an object (already stored).
    pub fn set_checkpoint(&self, key: &ActionKey, object: &Digest) -> Result<(), StoreError> {
        let path = self.checkpoint_path(key);
        write_atomic(&self.tmp_dir(), &path, object.to_string().as_bytes()).map_err(io_at(&path))
    }

    pub fn get_checkpoint(&self, key: &ActionKey) -> Option<Digest> {
        fs::read_to_string(self.checkpoint_path(key))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// A finished action needs no checkpoint.
    pub fn clear_checkpoint(&self, key: &ActionKey) {
        let _ = fs::remove_file(self.checkpoint_path(key));
    }
}
