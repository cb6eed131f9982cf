//! Code fingerprints of stage kinds, from the git blob ids of their sources as compiled into
//! this binary (see build.rs). Editing the README reruns nothing; editing `src/stage/train.rs`
//! reruns only training and what follows.

use crate::store::{Digest, StoreError};

mod blobs {
    include!(concat!(env!("OUT_DIR"), "/source_blobs.rs"));
}

/// The git blob id of a compiled source file, if it is one.
pub fn blob_of(path: &str) -> Option<&'static str> {
    blobs::SOURCE_BLOBS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, b)| *b)
}

/// (path, blob id) for each of `sources`; a source ending in `/` stands for every compiled file
/// under that folder (so a file added there is covered without editing any list). Errors on a
/// path that matches no compiled source.
pub fn source_blobs(kind: &str, sources: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for s in sources {
        let before = out.len();
        if s.ends_with('/') {
            out.extend(
                blobs::SOURCE_BLOBS
                    .iter()
                    .filter(|(p, _)| p.starts_with(s))
                    .map(|(p, b)| (p.to_string(), b.to_string())),
            );
        } else if let Some(blob) = blob_of(s) {
            out.push((s.to_string(), blob.to_string()));
        }
        if out.len() == before {
            return Err(StoreError::Refused(format!(
                "stage kind `{kind}` names source `{s}`, which is not a compiled source file of repro"
            )));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The fingerprint: sha256 over the sorted `path blob` lines.
pub fn fingerprint(kind: &str, sources: &[&str]) -> Result<Digest, StoreError> {
    let text: String = source_blobs(kind, sources)?
        .iter()
        .map(|(p, b)| format!("{p} {b}\n"))
        .collect();
    Ok(Digest::of(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_names_real_sources() {
        for kind in crate::stage::registry() {
            fingerprint(kind.name(), kind.sources()).expect("sources compiled");
        }
        // The blob id is git's: "blob <len>\0<content>" hashed with sha1.
        let text = std::fs::read("src/engine/fingerprint.rs").expect("read own source");
        assert_eq!(blob_of("src/engine/fingerprint.rs").map(str::len), Some(40));
        assert!(!text.is_empty());
        let folder = source_blobs("k", &["src/store/"]).expect("a folder of sources");
        assert!(folder.iter().any(|(p, _)| p == "src/store/tree.rs"));
        assert!(source_blobs("k", &["src/nowhere/"]).is_err());
    }
}
