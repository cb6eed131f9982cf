//! `repro exec-stage KEY --remote URL --action-stdin`: a worker that shares no filesystem with
//! the planner (a Slurm job on a cluster without one). Its pending action arrives on stdin
//! (base64 of its JSON, as the job script carries it); its inputs come from the remote into
//! the store it is given (node-local), and its outputs and record go back to the remote, where
//! the planner looks for them when the job ends.

use super::exit;
use crate::engine::action::{self, PendingAction};
use crate::engine::Kinds;
use crate::remote::{Quiet, Remote};
use crate::store::{ActionKey, Store};
use anyhow::{bail, Context, Result};
use base64::Engine as _;
use std::io::Read;
use std::path::Path;

/// The pending action `key` from base64 `text`, refused unless its components hash to `key`.
fn decode(text: &str, key: &ActionKey) -> Result<PendingAction> {
    let compact: String = text.split_whitespace().collect();
    let json = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .context("the action on stdin is not base64")?;
    let action: PendingAction =
        serde_json::from_slice(&json).context("the action on stdin is not a pending action")?;
    if action.components.key() != *key {
        bail!(
            "the action on stdin hashes to {}, not to {key}",
            action.components.key()
        );
    }
    Ok(action)
}

/// Pull the inputs, execute, push the result; the exit status as `exec-stage`'s.
pub fn run(store: &Path, key: &str, url: &str, kinds: &Kinds) -> Result<i32> {
    let key = ActionKey(key.parse()?);
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the action from stdin")?;
    let pending = decode(&text, &key)?;
    let kind = kinds
        .get(&pending.components.kind)
        .with_context(|| format!("unknown kind `{}`", pending.components.kind))?;
    let store = Store::open(store)
        .with_context(|| format!("opening the worker's store at {}", store.display()))?;
    // The project's `.repro/config.yaml` (signing and trusted keys) when the node has the
    // project; else the REPRO_* variables the job inherited.
    let remote = Remote::from_config(Some(url), &pending.repo_root)?
        .with_context(|| format!("opening the remote {url}"))?;
    // A requeued job whose first run already pushed, or another run of the same action.
    if !pending.force && remote.get_record(&key)?.is_some() {
        return Ok(exit::SUCCESS);
    }
    for (name, tree) in &pending.components.inputs {
        remote
            .fetch_tree(&store, tree, &key)
            .with_context(|| format!("pulling input `{name}` of stage `{}`", pending.stage))?;
    }
    // The worker has written its reason to the stderr it was started with.
    match action::execute(&store, &key, &pending, kind) {
        Ok(_) => {}
        Err(f) if f.environment => return Ok(exit::ENVIRONMENT),
        Err(_) => return Ok(exit::STAGE_FAILED),
    }
    remote
        .push(&store, &[key], &Quiet)
        .with_context(|| format!("pushing the result of stage `{}`", pending.stage))?;
    Ok(exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_that_does_not_hash_to_its_key_is_refused() {
        let text = base64::engine::general_purpose::STANDARD.encode(b"{\"stage\": 1}");
        let key = ActionKey(crate::store::Digest::of(b"k"));
        assert!(decode(&text, &key).is_err());
        assert!(decode("not base64 !", &key).is_err());
    }
}
