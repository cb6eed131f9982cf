//! The content-addressed store.
//!
//! ```text
//! store/objects/sha256/ab/cdef…   zstd frame; name = sha256 of the UNcompressed bytes
//! store/actions/sha256/12/34…     action record (JSON) keyed by the action key
//! store/index/sha256/ab/cdef…     artifact digest → the action key that produced it (for audit)
//! store/refs/stages/<stage>       the last action key each stage published (for "why stale?")
//! store/refs/pins/<name>          action keys `repro pin` keeps from gc, with their lineage
//! store/checkpoints/<key>         the latest checkpoint object of an unfinished action
//! store/stamps/sha256/ab/cdef…    stat of an object when last known good (see stamps.rs)
//! store/gc.lock                   gc deletes under it exclusively, writers refresh shared (gc.rs)
//! store/quarantine/               objects found corrupt, kept for inspection
//! store/tmp/                      write, fsync, rename: a crash never leaves a half object
//! store/files/sha256/ab/cdef…     objects decompressed, read-only: what stage inputs hard-link
//!                                 to (with `.stamp` and `.lock` beside; see file_cache.rs)
//! store/pending/<key>.json        an action planned and not yet published (what exec-stage runs)
//! store/work/<key>.<nonce>/       one execution's scratch (inputs, outputs, log), unless
//!                                 REPRO_SCRATCH / SLURM_TMPDIR put it on node-local disk
//! store/work/<key>.lock           held by an execution and every process it started
//! store/work/<key>.progress       a running stage's progress channel (REPRO_PROGRESS)
//! store/jobs/<key>.json           the Slurm job an action was submitted as, until it settles
//! store/logs/                     logs of failed executions; logs/slurm/<job>.log of Slurm jobs
//! ```
//! Objects and records are immutable and content-named, so concurrent writers need no global
//! lock and a store can be shared by copying what is missing.

pub mod digest;
mod file_cache;
pub(crate) mod fsutil;
mod gc;
pub mod name;
mod objects;
mod records;
mod stamps;
pub mod tree;

pub use digest::Digest;
pub use objects::verify_frame;
pub use records::ActionKey;
pub use tree::{Tree, TreeEntry};

use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum StoreError {
    /// An I/O failure at `path`; its cause is part of the message, not a separate `source()`,
    /// so an error chain printed with `{:#}` names it once.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The filesystem holding `path` is full (ENOSPC) or the user's quota is spent (EDQUOT).
    NoSpace {
        path: PathBuf,
        /// Bytes the failed write wanted to store, when known.
        needed: Option<u64>,
    },
    Corrupt {
        digest: Digest,
        actual: Digest,
        quarantine: PathBuf,
    },
    Missing(Digest),
    Undecodable {
        digest: Digest,
        message: String,
        quarantine: PathBuf,
    },
    BadRecord {
        path: PathBuf,
        message: String,
    },
    Refused(String),
}

/// What kind of trouble a [`StoreError`] is, for the CLI to choose an exit code and a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The machine, not the data: disk full, permission denied, read-only filesystem, I/O.
    Environment,
    /// The store holds something wrong or lacks something a record names.
    Corruption,
    /// The store refused an operation on purpose (unsafe path, symlink output, unfinished
    /// outputs).
    Refused,
}

impl StoreError {
    /// An I/O error at `path`, with disk-full errors told apart.
    pub fn io(path: &Path, source: std::io::Error) -> StoreError {
        Self::io_sized(path, source, None)
    }

    /// Like [`StoreError::io`], for a write of `needed` bytes.
    pub fn io_sized(path: &Path, source: std::io::Error, needed: Option<u64>) -> StoreError {
        if is_no_space(&source) {
            StoreError::NoSpace {
                path: path.to_path_buf(),
                needed,
            }
        } else {
            StoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Io { .. } | StoreError::NoSpace { .. } => ErrorClass::Environment,
            StoreError::Corrupt { .. }
            | StoreError::Missing(_)
            | StoreError::Undecodable { .. }
            | StoreError::BadRecord { .. } => ErrorClass::Corruption,
            StoreError::Refused(_) => ErrorClass::Refused,
        }
    }

    pub fn is_no_space(&self) -> bool {
        matches!(self, StoreError::NoSpace { .. })
    }

    /// `NoSpace` for `path` when its filesystem has (almost) nothing left: for an executor to
    /// tell "the stage failed because the disk under its work folder filled" from other
    /// failures, before it cleans up. `None` when there is room or it cannot tell.
    pub fn if_full(path: &Path) -> Option<StoreError> {
        let free = fsutil::available_bytes(path)?;
        (free < FULL_BELOW).then(|| StoreError::NoSpace {
            path: path.to_path_buf(),
            needed: None,
        })
    }
}

/// Below this many available bytes a filesystem counts as full: less than a zstd frame's
/// buffers and a record, so the next write would fail.
const FULL_BELOW: u64 = 1 << 20;

/// ENOSPC or EDQUOT: the write failed for want of space, not because of what was written.
pub fn is_no_space(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Io { path, source } => write!(f, "store {}: {source}", path.display()),
            StoreError::NoSpace { path, needed } => {
                let mount = fsutil::mount_point(path);
                write!(
                    f,
                    "no space left: the filesystem at {} is full (writing {}",
                    mount.display(),
                    path.display()
                )?;
                if let Some(n) = needed {
                    write!(f, ", {n} bytes needed")?;
                }
                write!(
                    f,
                    "); free space there, or move the store to a larger disk with --store \
                     (or REPRO_STORE)"
                )
            }
            StoreError::Corrupt {
                digest,
                actual,
                quarantine,
            } => write!(
                f,
                "object {digest} is corrupt: its content hashes to {actual}; it has been moved \
                 to {} (rerun to recompute it)",
                quarantine.display()
            ),
            StoreError::Missing(d) => write!(
                f,
                "object {d} is not in the store (it was deleted or never pushed); rerun the \
                 stage that makes it"
            ),
            StoreError::Undecodable {
                digest,
                message,
                quarantine,
            } => write!(
                f,
                "object {digest} cannot be decompressed ({message}); it has been moved to {}",
                quarantine.display()
            ),
            StoreError::BadRecord { path, message } => {
                write!(f, "action record {} is invalid: {message}", path.display())
            }
            StoreError::Refused(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for StoreError {}

pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::io(path, source)
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
