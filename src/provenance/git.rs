//! The git state a result was made at: HEAD commit, whether the tree was dirty, and whether the
//! sources of the stage's kind (as compiled) match HEAD's blobs.

use git2::{Repository, StatusOptions};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GitState {
    /// HEAD commit id; `None` outside a repository or before the first commit.
    pub commit: Option<String>,
    /// Tracked files differ from HEAD.
    pub dirty: bool,
    /// Compiled sources of the stage's kind whose blob differs from HEAD's (edited, uncommitted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources_not_at_head: Vec<String>,
}

impl GitState {
    /// Read the state of the repository containing `dir`; `sources` are (path, blob id) pairs
    /// compiled into the binary, compared with HEAD where the repository is repro's own.
    pub fn read(dir: &Path, sources: &[(String, String)]) -> GitState {
        let Ok(repo) = Repository::discover(dir) else {
            return GitState::default();
        };
        let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let mut opts = StatusOptions::new();
        opts.include_untracked(false).include_ignored(false);
        let dirty = repo
            .statuses(Some(&mut opts))
            .map(|s| !s.is_empty())
            .unwrap_or(false);
        let mut not_at_head = Vec::new();
        if let Some(tree) = head.as_ref().and_then(|c| c.tree().ok()) {
            for (path, blob) in sources {
                if let Ok(entry) = tree.get_path(Path::new(path)) {
                    if entry.id().to_string() != *blob {
                        not_at_head.push(path.clone());
                    }
                }
            }
        }
        GitState {
            commit: head.map(|c| c.id().to_string()),
            dirty,
            sources_not_at_head: not_at_head,
        }
    }
}
