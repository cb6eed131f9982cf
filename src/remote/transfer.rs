//! Push and pull: copy what is missing between a store and a remote.
//!
//! - Only missing objects move: existence is checked for all of them at once (in parallel),
//!   then the missing ones are transferred in parallel.
//! - Nothing enters the store unverified: a downloaded object is streamed to `store/tmp/`,
//!   decompressed and hashed there, and renamed into place only when its digest matches its
//!   name; otherwise the temp file is deleted.
//! - Records go after their objects, on both sides: a push uploads every object of every
//!   record before the first record, a pull publishes a record only once its outputs are in
//!   the store. Nobody sees a record whose outputs are missing.
//! - Nothing on the remote is overwritten (create-if-absent), so concurrent pushes are safe.

use super::backend::{action_key, object_key, Put};
use super::sign::Envelope;
use super::{parallel, Progress, Remote, RemoteError};
use crate::provenance::ActionRecord;
use crate::store::verify_frame;
use crate::store::{fsutil, io_at};
use crate::store::{ActionKey, Digest, Store};
use std::collections::BTreeSet;

#[derive(Debug, Default, serde::Serialize)]
pub struct PushReport {
    pub records_pushed: usize,
    pub records_present: usize,
    pub objects_pushed: usize,
    pub objects_present: usize,
    /// Bytes uploaded (compressed, as stored).
    pub bytes: u64,
}

/// The first error of a batch, or the values.
fn all<R>(results: Vec<Result<R, RemoteError>>) -> Result<Vec<R>, RemoteError> {
    results.into_iter().collect()
}

impl Remote {
    /// Push the records `keys` (each must be in the store with its outputs) and their objects.
    pub fn push(
        &self,
        store: &Store,
        keys: &[ActionKey],
        progress: &dyn Progress,
    ) -> Result<PushReport, RemoteError> {
        let mut records = Vec::new();
        let mut objects = BTreeSet::new();
        for key in keys {
            let rec = ActionRecord::load(store, key)?.ok_or_else(|| RemoteError::BadRecord {
                remote: "the local store".into(),
                key: key.to_string(),
                message: "it is not in the store; run the stage first".into(),
            })?;
            if !rec.outputs_present(store) {
                return Err(RemoteError::BadRecord {
                    remote: "the local store".into(),
                    key: key.to_string(),
                    message: "its outputs are not all in the store; rerun the stage".into(),
                });
            }
            objects.insert(rec.output);
            objects.extend(rec.files.iter().map(|e| e.digest));
            // Logs travel when present; they are provenance, not outputs.
            objects.extend(rec.provenance.log.filter(|d| store.contains(d)));
            records.push(*key);
        }
        let objects: Vec<Digest> = objects.into_iter().collect();
        let b = self.backend.as_ref();
        let present = all(parallel(&objects, self.jobs, |d| b.exists(&object_key(d))))?;
        let missing: Vec<Digest> = objects
            .iter()
            .zip(&present)
            .filter(|(_, p)| !**p)
            .map(|(d, _)| *d)
            .collect();
        let mut report = PushReport {
            objects_present: objects.len() - missing.len(),
            ..PushReport::default()
        };
        progress.start("push", missing.len() as u64);
        let sent = all(parallel(
            &missing,
            self.jobs,
            |d| -> Result<(Put, u64), RemoteError> {
                let path = store.object_file(d);
                // Never spread a corrupt object: the store's own check, streamed, before it
                // leaves; then the file itself is streamed up (objects can be model weights).
                let file = std::fs::File::open(&path).map_err(io_at(&path))?;
                verify_frame(std::io::BufReader::new(file), d)
                    .map(drop)
                    .map_err(|message| RemoteError::Tampered {
                        remote: format!("the local store ({})", store.root().display()),
                        digest: *d,
                        message: format!("{message}; run `repro verify`"),
                    })?;
                let size = std::fs::metadata(&path).map_err(io_at(&path))?.len();
                let put = b.put_file_if_absent(&object_key(d), &path)?;
                progress.advance(size);
                Ok((put, size))
            },
        ));
        progress.finish();
        for (put, size) in sent? {
            if put == Put::Created {
                report.objects_pushed += 1;
                report.bytes += size;
            } else {
                report.objects_present += 1;
            }
        }
        // Every object is on the remote: now the records may appear.
        for key in &records {
            let bytes = store.get_action(key)?.unwrap_or_default();
            let envelope = Envelope::seal(&bytes, self.signer.as_ref());
            let json = serde_json::to_vec_pretty(&envelope).expect("envelope serializes");
            match b.put_if_absent(&action_key(key), &json)? {
                Put::Created => report.records_pushed += 1,
                Put::Existed => report.records_present += 1,
            }
        }
        Ok(report)
    }

    /// The remote's record for `key`, opened and checked: signed by a trusted key when trust
    /// is configured, and its components must hash to its name.
    pub fn get_record(&self, key: &ActionKey) -> Result<Option<ActionRecord>, RemoteError> {
        let Some(bytes) = self.backend.get(&action_key(key))? else {
            return Ok(None);
        };
        let bad = |message: String| RemoteError::BadRecord {
            remote: self.describe(),
            key: key.to_string(),
            message,
        };
        let envelope: Envelope = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("it is not a DSSE envelope ({e})")))?;
        let payload =
            envelope
                .open(self.trusted.as_deref())
                .map_err(|message| match self.trusted {
                    Some(_) => RemoteError::Untrusted {
                        remote: self.describe(),
                        key: key.to_string(),
                        message,
                    },
                    None => bad(message),
                })?;
        let rec: ActionRecord = serde_json::from_slice(&payload)
            .map_err(|e| bad(format!("it is not an action record ({e})")))?;
        if rec.key != *key || rec.components.key() != *key {
            return Err(bad(format!(
                "its components hash to {}, not to its name",
                rec.components.key()
            )));
        }
        Ok(Some(rec))
    }

    /// Make the remote's record for `key` local with its outputs (and log, when the remote has
    /// it). `None` when the remote has no record for `key`.
    pub fn fetch(
        &self,
        store: &Store,
        key: &ActionKey,
        progress: &dyn Progress,
    ) -> Result<Option<ActionRecord>, RemoteError> {
        let Some(rec) = self.get_record(key)? else {
            return Ok(None);
        };
        let mut wanted: BTreeSet<Digest> = rec.files.iter().map(|e| e.digest).collect();
        wanted.insert(rec.output);
        let required: Vec<Digest> = wanted.into_iter().filter(|d| !store.contains(d)).collect();
        let optional: Vec<Digest> = rec
            .provenance
            .log
            .into_iter()
            .filter(|d| !store.contains(d) && !required.contains(d))
            .collect();
        progress.start("pull", (required.len() + optional.len()) as u64);
        let got = self.download(store, &required, key, false, progress);
        let log = self.download(store, &optional, key, true, progress);
        progress.finish();
        got?;
        log?;
        // The manifest must list exactly the files the record names: else `outputs_present`
        // would vouch for files a reader cannot materialize.
        let tree = store.read_tree(&rec.output)?;
        let listed: BTreeSet<Digest> = tree.entries.iter().map(|e| e.digest).collect();
        let named: BTreeSet<Digest> = rec.files.iter().map(|e| e.digest).collect();
        if listed != named {
            return Err(RemoteError::BadRecord {
                remote: self.describe(),
                key: key.to_string(),
                message: "the files it names are not the files of its output tree".into(),
            });
        }
        rec.publish(store)?;
        Ok(Some(rec))
    }

    /// Make the output tree `tree` and its files local, each verified: the inputs of `action`
    /// on a worker whose store is its own (node-local), not the planner's.
    pub fn fetch_tree(
        &self,
        store: &Store,
        tree: &Digest,
        action: &ActionKey,
    ) -> Result<(), RemoteError> {
        if !store.contains(tree) {
            self.download(store, &[*tree], action, false, &super::Quiet)?;
        }
        let missing: BTreeSet<Digest> = store
            .read_tree(tree)?
            .entries
            .iter()
            .map(|e| e.digest)
            .filter(|d| !store.contains(d))
            .collect();
        let missing: Vec<Digest> = missing.into_iter().collect();
        self.download(store, &missing, action, false, &super::Quiet)
    }

    /// Download and verify `digests` into the store; absent ones fail unless `optional`.
    fn download(
        &self,
        store: &Store,
        digests: &[Digest],
        action: &ActionKey,
        optional: bool,
        progress: &dyn Progress,
    ) -> Result<(), RemoteError> {
        all(parallel(digests, self.jobs, |d| {
            self.download_one(store, d, action, optional, progress)
        }))
        .map(|_| ())
    }

    /// Download to store/tmp, verify there, then rename into place: the object's name appears
    /// only once its content is known to hash to it. The temp file never outlives the call.
    fn download_one(
        &self,
        store: &Store,
        d: &Digest,
        action: &ActionKey,
        optional: bool,
        progress: &dyn Progress,
    ) -> Result<(), RemoteError> {
        let tmp = fsutil::temp_path(&store.tmp_dir(), "pull");
        let result = (|| {
            if !self.backend.get_to(&object_key(d), &tmp)? {
                if optional {
                    return Ok(());
                }
                return Err(RemoteError::MissingObject {
                    remote: self.describe(),
                    digest: *d,
                    action: action.to_string(),
                });
            }
            let file = std::fs::File::open(&tmp).map_err(io_at(&tmp))?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            verify_frame(std::io::BufReader::new(&file), d)
                .map(drop)
                .map_err(|message| RemoteError::Tampered {
                    remote: self.describe(),
                    digest: *d,
                    message,
                })?;
            file.sync_all().map_err(io_at(&tmp))?;
            let dest = store.object_file(d);
            fsutil::persist(&tmp, &dest).map_err(io_at(&dest))?;
            // Just verified: stamp it, so the first lookup does not hash it again.
            store.write_stamp(d);
            progress.advance(size);
            Ok(())
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }
}

impl crate::engine::shared::SharedCache for Remote {
    fn describe(&self) -> String {
        Remote::describe(self)
    }

    fn fetch(&self, store: &Store, key: &ActionKey) -> Result<bool, String> {
        use std::sync::atomic::Ordering;
        if self.offline.load(Ordering::Relaxed) {
            return Ok(false);
        }
        match Remote::fetch(self, store, key, &super::Quiet) {
            Ok(r) => Ok(r.is_some()),
            Err(e @ RemoteError::Unreachable { .. }) => {
                self.offline.store(true, Ordering::Relaxed);
                Err(format!("{e} (not asking it again in this run)"))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn output_of(&self, key: &ActionKey) -> Result<Option<Digest>, String> {
        self.get_record(key)
            .map(|r| r.map(|r| r.output))
            .map_err(|e| e.to_string())
    }
}
