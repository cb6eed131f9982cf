//! `repro kinds`: the stage kinds this binary knows, with the code identity of each — its
//! source closure (every file `src/stage/<kind>.rs` reaches through the import graph, with the
//! git blob id compiled in) and the fingerprint over it that enters every action key.

use crate::engine::{fingerprint, Kinds};
use anyhow::Result;

pub fn run(kinds: &Kinds, json: bool) -> Result<()> {
    let mut rows = Vec::new();
    for kind in &kinds.0 {
        let sources = fingerprint::source_blobs(kind.as_ref())?;
        let digest = fingerprint::fingerprint(kind.as_ref())?;
        rows.push((kind.name(), sources, digest));
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(name, sources, digest)| {
                let closure: Vec<_> = sources
                    .iter()
                    .map(|(path, blob)| serde_json::json!({"path": path, "blob": blob}))
                    .collect();
                serde_json::json!({"kind": name, "fingerprint": digest.to_string(), "closure": closure})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (name, sources, digest) in rows {
            println!("{name:<22} {} {:>3} files", digest.short(), sources.len());
        }
    }
    Ok(())
}
