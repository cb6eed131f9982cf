//! Remotes: a shared directory or an S3-compatible bucket that holds the same immutable,
//! content-named objects and action records as a store, so machines share results by copying
//! what is missing.
//!
//! - [`backend`]: the trait a remote implements (get, exists, create-if-absent put);
//!   [`dir`] and [`s3`] implement it.
//! - [`transfer`]: push and pull — only missing objects move, in parallel; every downloaded
//!   object is verified before it enters the store; records go after their objects.
//! - [`sign`]: records travel in DSSE envelopes, signed with ed25519 when a key is configured;
//!   with trusted keys configured, anything else is refused.
//! - [`config`]: `.repro/config.yaml` and the `REPRO_*` variables.
//!
//! The engine sees a remote only through [`crate::engine::shared::SharedCache`].

pub mod backend;
pub mod config;
pub mod dir;
pub mod s3;
pub mod sign;
pub mod transfer;

use crate::store::{Digest, StoreError};
use backend::Backend;
use sign::{PublicKey, Signer25519};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("remote {remote} is unreachable: {message}; {hint}")]
    Unreachable {
        remote: String,
        message: String,
        hint: String,
    },
    #[error("remote {remote}, {key}: {message}")]
    Io {
        remote: String,
        key: String,
        message: String,
    },
    #[error("{what}: {message}")]
    Config { what: String, message: String },
    #[error("key {path}: {message}")]
    Key { path: String, message: String },
    #[error("object {digest} on remote {remote} is corrupt or was tampered with ({message}); it was not stored. Delete it from the remote and push it again from a good store")]
    Tampered {
        remote: String,
        digest: Digest,
        message: String,
    },
    #[error("object {digest} is named by action {action} but is not on remote {remote}; push that stage again from a store that has it")]
    MissingObject {
        remote: String,
        digest: Digest,
        action: String,
    },
    #[error("action record {key} on remote {remote} is refused: {message}")]
    BadRecord {
        remote: String,
        key: String,
        message: String,
    },
    #[error("action record {key} on remote {remote} is refused: {message}; only records signed by a trusted key are accepted (add the publisher's public key to `trusted_keys` in .repro/config.yaml, or have them push with a trusted `signing_key`)")]
    Untrusted {
        remote: String,
        key: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A remote with what it takes to publish to it and to trust what comes from it.
pub struct Remote {
    pub(crate) backend: Box<dyn Backend>,
    pub(crate) signer: Option<Signer25519>,
    pub(crate) trusted: Option<Vec<PublicKey>>,
    /// Transfers in flight at once.
    pub jobs: usize,
    /// Set once the remote proved unreachable during a run: later stages stop asking it, so
    /// a dead network costs one timeout, not one per stage.
    pub(crate) offline: std::sync::atomic::AtomicBool,
}

impl Remote {
    /// Open a remote by URL: `s3://bucket/prefix`, `file:///path`, or a plain path (relative
    /// paths are relative to `base`, the project folder).
    pub fn open(url: &str, base: &Path) -> Result<Remote, RemoteError> {
        let backend: Box<dyn Backend> = if url.starts_with("s3://") {
            Box::new(s3::S3Remote::open(url)?)
        } else if let Some(path) = url.strip_prefix("file://") {
            Box::new(dir::DirRemote::open(Path::new(path))?)
        } else if url.contains("://") {
            return Err(RemoteError::Config {
                what: format!("remote {url}"),
                message: "unsupported scheme; use s3://bucket/prefix, file:///path or a plain path"
                    .into(),
            });
        } else {
            Box::new(dir::DirRemote::open(&base.join(url))?)
        };
        Ok(Remote {
            backend,
            signer: None,
            trusted: None,
            jobs: 16,
            offline: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Open the remote `url` (else the configured one) with the configured keys; `None` when
    /// no remote is given or configured.
    pub fn from_config(url: Option<&str>, project: &Path) -> Result<Option<Remote>, RemoteError> {
        let cfg = config::RemoteConfig::load(project)?;
        let Some(url) = url.map(str::to_string).or(cfg.remote.clone()) else {
            return Ok(None);
        };
        let mut remote = Remote::open(&url, project)?;
        remote.signer = cfg.signer()?;
        remote.trusted = cfg.trusted()?;
        Ok(Some(remote))
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }
}

/// How transfers report progress; the CLI draws it as a bar.
pub trait Progress: Sync {
    fn start(&self, what: &str, objects: u64);
    fn advance(&self, bytes: u64);
    fn finish(&self);
}

/// Progress that shows nothing (the engine's remote lookups during `repro run`).
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Run `f` on every item with up to `jobs` threads; results in input order.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                out.lock().expect("results lock")[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}
