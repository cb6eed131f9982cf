//! The content-addressed store.
//!
//! ```text
//! store/objects/sha256/ab/cdef…   zstd frame; name = sha256 of the UNcompressed bytes
//! store/actions/sha256/12/34…     action record (JSON) keyed by the action key
//! store/index/sha256/ab/cdef…     artifact digest → the action key that produced it (for audit)
//! store/refs/stages/<stage>       the last action key each stage published (for "why stale?")
//! store/refs/pins/<name>          action keys `repro pin` keeps from gc, with their lineage
//! store/checkpoints/<key>         the latest checkpoint object of an unfinished action
//! store/tmp/                      write, fsync, rename: a crash never leaves a half object
//! store/work/                     per-execution scratch (inputs, outputs, log)
//! store/logs/                     logs of failed executions
//! ```
//! Objects and records are immutable and content-named, so concurrent writers need no global
//! lock and a store can be shared by copying what is missing.

pub mod digest;
pub(crate) mod fsutil;
pub mod name;
mod objects;
mod records;
pub mod tree;

pub use digest::Digest;
pub use objects::verify_frame;
pub use records::ActionKey;
pub use tree::{Tree, TreeEntry};

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("object {digest} is corrupt: its content hashes to {actual}; it has been moved to {quarantine} (rerun to recompute it)")]
    Corrupt {
        digest: Digest,
        actual: Digest,
        quarantine: PathBuf,
    },
    #[error("object {0} is not in the store (it was deleted or never pushed); rerun the stage that makes it")]
    Missing(Digest),
    #[error(
        "object {digest} cannot be decompressed ({message}); it has been moved to {quarantine}"
    )]
    Undecodable {
        digest: Digest,
        message: String,
        quarantine: PathBuf,
    },
    #[error("action record {path} is invalid: {message}")]
    BadRecord { path: PathBuf, message: String },
    #[error("{0}")]
    Refused(String),
}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open (creating the layout if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for sub in [
            "objects/sha256",
            "actions/sha256",
            "index/sha256",
            "refs/stages",
            "refs/pins",
            "tmp",
            "work",
            "logs",
            "checkpoints",
        ] {
            let p = root.join(sub);
            std::fs::create_dir_all(&p).map_err(io_at(&p))?;
        }
        let root = root.canonicalize().map_err(io_at(root))?;
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn work_dir(&self) -> PathBuf {
        self.root.join("work")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub(crate) fn object_path(&self, d: &Digest) -> PathBuf {
        self.root.join("objects/sha256").join(d.fanout_path())
    }
}
