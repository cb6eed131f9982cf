//! Publishing: copying the outputs of stages marked `publish: DIR` out of the store into the
//! repository (e.g. `reports/`), where people read them and git tracks them.
//!
//! Each top-level entry of the output tree replaces the entry of the same name in DIR; other
//! files in DIR are left alone. Files are first written to a temporary sibling folder, so a
//! failure never leaves a half-written report in place.

use super::plan::State;
use super::{action::make_writable_and_remove, Engine, EngineError};
use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

#[derive(Debug, serde::Serialize)]
pub struct Published {
    pub stage: String,
    pub dir: PathBuf,
    pub files: usize,
}

impl Engine<'_> {
    /// Publish every fresh stage that has `publish:`. Stale ones are returned as errors in the
    /// second list, with the reason, and left untouched on disk.
    pub fn publish(&self) -> Result<(Vec<Published>, Vec<String>), EngineError> {
        let p = self.pipeline;
        let wanted: Vec<usize> = (0..p.stages.len())
            .filter(|&i| p.stages[i].publish.is_some())
            .collect();
        if wanted.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let names: Vec<String> = wanted.iter().map(|&i| p.stages[i].name.clone()).collect();
        let selection = p.select(&names).map_err(EngineError::Target)?;
        let status = self.status(&selection)?;
        let (mut done, mut stale) = (Vec::new(), Vec::new());
        for &i in &wanted {
            let stage = &p.stages[i];
            let st = status
                .iter()
                .find(|s| s.stage == stage.name)
                .expect("selected");
            let (State::Fresh, Some(output)) = (st.state, st.output) else {
                stale.push(format!(
                    "{} is stale ({}); run `repro run {}`",
                    stage.name,
                    st.reasons.join("; "),
                    stage.name
                ));
                continue;
            };
            let dir = p
                .root
                .join(stage.publish.as_deref().expect("filtered on publish"));
            let tmp = p.root.join(format!(
                ".{}.publishing.{}",
                stage.name.replace(['/', '@'], "_"),
                std::process::id()
            ));
            let _ = make_writable_and_remove(&tmp);
            let io = |source: std::io::Error, what: &PathBuf| EngineError::Publish {
                stage: stage.name.clone(),
                path: what.clone(),
                source,
            };
            let tree = self.store.materialize(&output, &tmp, false)?;
            fs::create_dir_all(&dir).map_err(|e| io(e, &dir))?;
            let tops: BTreeSet<String> = tree
                .entries
                .iter()
                .map(|e| e.path.split('/').next().unwrap_or(&e.path).to_string())
                .collect();
            for top in &tops {
                let dest = dir.join(top);
                if dest.is_dir() {
                    fs::remove_dir_all(&dest).map_err(|e| io(e, &dest))?;
                } else if dest.exists() {
                    fs::remove_file(&dest).map_err(|e| io(e, &dest))?;
                }
                fs::rename(tmp.join(top), &dest).map_err(|e| io(e, &dest))?;
            }
            let _ = fs::remove_dir_all(&tmp);
            done.push(Published {
                stage: stage.name.clone(),
                dir,
                files: tree.entries.len(),
            });
        }
        Ok((done, stale))
    }
}
