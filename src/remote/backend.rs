//! The one thing a remote must do: hold immutable blobs under `/`-separated keys, and add a key
//! only if it is absent. A shared directory and an S3 bucket both implement it; everything
//! else (what to move, verification, signing) is written once, above this trait.
//!
//! Methods are synchronous and take `&self`: transfers call them from several threads at once.

use super::RemoteError;

/// Whether a create-if-absent write added the key or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    Existed,
}

pub trait Backend: Send + Sync {
    /// The remote as people name it (its URL), for messages.
    fn describe(&self) -> String;
    fn exists(&self, key: &str) -> Result<bool, RemoteError>;
    /// The blob's bytes, or `None` when the key is absent.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError>;
    /// Stream the blob into the file `dest` (created); `false` when the key is absent. Objects
    /// can be model weights: a download never holds one in memory.
    fn get_to(&self, key: &str, dest: &std::path::Path) -> Result<bool, RemoteError>;
    /// Write `bytes` under `key` unless the key exists; never overwrites. Two writers racing on
    /// one key both succeed, and one of their (identical, content-named) blobs is kept.
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<Put, RemoteError>;
    /// The same for the content of the file `src`, streamed: objects can be larger than memory
    /// (and than one S3 PUT's 5 GB).
    fn put_file_if_absent(&self, key: &str, src: &std::path::Path) -> Result<Put, RemoteError>;
}

/// The remote's layout mirrors the store's: `objects/sha256/ab/cdef…` holds the same zstd
/// frame the store holds, `actions/sha256/12/34…` a DSSE envelope around the action record.
pub fn object_key(d: &crate::store::Digest) -> String {
    format!("objects/sha256/{}", d.fanout_path())
}

pub fn action_key(k: &crate::store::ActionKey) -> String {
    format!("actions/sha256/{}", k.0.fanout_path())
}
