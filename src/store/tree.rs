//! Trees: a stage's output directory as one object — a manifest listing each file's path,
//! digest, size and mode. The tree's digest (the manifest's) names the whole output, so early
//! cutoff is one comparison and a downstream key changes exactly when some output byte did.

use super::{io_at, Digest, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// `/`-separated path relative to the tree root.
    pub path: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Tree {
    pub entries: Vec<TreeEntry>,
}

impl Tree {
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    pub fn get(&self, path: &str) -> Option<&TreeEntry> {
        self.entries.iter().find(|e| e.path == path)
    }
}

/// Tree paths come from manifests that may have been pulled from elsewhere: refuse anything
/// that could escape the directory it is written into.
fn safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

impl Store {
    /// Store every file under `dir` and the manifest; returns the tree digest.
    pub fn put_tree(&self, dir: &Path) -> Result<(Digest, Tree), StoreError> {
        let mut files = Vec::new();
        collect(dir, dir, &mut files)?;
        files.sort();
        let mut tree = Tree::default();
        for rel in files {
            let path = dir.join(&rel);
            let mode = fs::metadata(&path)
                .map_err(io_at(&path))?
                .permissions()
                .mode();
            let (digest, size) = self.put_file(&path)?;
            tree.entries.push(TreeEntry {
                path: rel,
                digest,
                size,
                executable: mode & 0o111 != 0,
            });
        }
        let digest = self.put_bytes(&serde_json::to_vec(&tree).expect("Tree serializes"))?;
        Ok((digest, tree))
    }

    pub fn read_tree(&self, d: &Digest) -> Result<Tree, StoreError> {
        let bytes = self.read(d)?;
        let tree: Tree = serde_json::from_slice(&bytes).map_err(|e| StoreError::BadRecord {
            path: self.object_path(d),
            message: format!("not a tree manifest: {e}"),
        })?;
        if let Some(bad) = tree.entries.iter().find(|e| !safe_relative(&e.path)) {
            return Err(StoreError::Refused(format!(
                "tree {d} lists the unsafe path `{}` (absolute or with `..`); refusing to write it",
                bad.path
            )));
        }
        Ok(tree)
    }

    /// True when the tree manifest and every object it lists are present.
    pub fn tree_complete(&self, d: &Digest) -> bool {
        self.contains(d)
            && self
                .read_tree(d)
                .is_ok_and(|t| t.entries.iter().all(|e| self.contains(&e.digest)))
    }

    /// Write a tree's files under `dest`, verifying each: writable copies (`export`), or, with
    /// `read_only`, a stage's inputs — hard links into the file cache where possible (see
    /// `file_cache`), read-only so a stage cannot alter them in place.
    pub fn materialize(
        &self,
        d: &Digest,
        dest: &Path,
        read_only: bool,
    ) -> Result<Tree, StoreError> {
        let tree = self.read_tree(d)?;
        fs::create_dir_all(dest).map_err(io_at(dest))?;
        for e in &tree.entries {
            let path = dest.join(&e.path);
            if read_only {
                self.link_or_copy(&e.digest, e.size, e.executable, &path)?;
                continue;
            }
            self.extract_sized(&e.digest, &path, Some(e.size))?;
            let mode = if e.executable { 0o755 } else { 0o644 };
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io_at(&path))?;
        }
        Ok(tree)
    }
}

/// A tree holds regular files only (folders are implied by their paths). Anything else in an
/// output is refused with its path, never followed or skipped: a link would make the tree
/// depend on whatever it points at (outside the store, or the store itself), and a FIFO,
/// socket or device has no content to store.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), StoreError> {
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let path = entry.path();
        // `DirEntry::file_type` does not follow links.
        let ft = entry.file_type().map_err(io_at(&path))?;
        let rel = path
            .strip_prefix(root)
            .expect("walked from root")
            .to_string_lossy()
            .replace('\\', "/");
        if ft.is_dir() {
            collect(root, &path, out)?;
        } else if ft.is_file() {
            out.push(rel);
        } else {
            return Err(StoreError::Refused(refusal(&rel, &path, ft)));
        }
    }
    Ok(())
}

fn refusal(rel: &str, path: &Path, ft: fs::FileType) -> String {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_symlink() {
        let target = fs::read_link(path)
            .map(|t| format!(" (→ {})", t.display()))
            .unwrap_or_default();
        return format!(
            "output `{rel}` is a symbolic link{target}; outputs must be regular files and links \
             are never followed: copy the file or folder instead (`cp -rL`)"
        );
    }
    let what = if ft.is_fifo() {
        "a named pipe (FIFO)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    format!("output `{rel}` is {what}; outputs must be regular files: write its content to a file instead")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_roundtrip_and_unsafe_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s")).expect("open");
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("sub")).expect("mkdir");
        fs::write(src.join("a.txt"), "a").expect("write");
        fs::write(src.join("sub/b.txt"), "b").expect("write");
        let (d, tree) = store.put_tree(&src).expect("put_tree");
        assert_eq!(tree.entries.len(), 2);
        assert_eq!(tree.entries[1].path, "sub/b.txt");
        let (d2, _) = store.put_tree(&src).expect("again");
        assert_eq!(d, d2, "same content, same tree digest");
        let out = dir.path().join("out");
        store.materialize(&d, &out, true).expect("materialize");
        assert_eq!(
            fs::read_to_string(out.join("sub/b.txt")).expect("read"),
            "b"
        );
        let mode = fs::metadata(out.join("a.txt"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o222, 0, "inputs are read-only");

        let evil = Tree {
            entries: vec![TreeEntry {
                path: "../x".into(),
                digest: Digest::of(b""),
                size: 0,
                executable: false,
            }],
        };
        let ed = store
            .put_bytes(&serde_json::to_vec(&evil).expect("json"))
            .expect("put");
        assert!(matches!(store.read_tree(&ed), Err(StoreError::Refused(_))));
    }

    #[test]
    fn links_and_special_files_are_refused_by_relative_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s")).expect("open");
        let outside = dir.path().join("outside");
        fs::create_dir_all(&outside).expect("mkdir");
        fs::write(outside.join("secret"), "x").expect("write");
        let out = dir.path().join("out");
        fs::create_dir_all(out.join("sub")).expect("mkdir");
        std::os::unix::fs::symlink(&outside, out.join("sub/d")).expect("symlink");
        let e = store.put_tree(&out).expect_err("a link is refused");
        let msg = e.to_string();
        assert!(msg.contains("output `sub/d` is a symbolic link"), "{msg}");
        assert!(msg.contains("copy the file"), "{msg}");
        fs::remove_file(out.join("sub/d")).expect("rm");

        let fifo =
            std::ffi::CString::new(out.join("pipe").as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: mkfifo on a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let msg = store
            .put_tree(&out)
            .expect_err("a FIFO is refused")
            .to_string();
        assert!(msg.contains("output `pipe` is a named pipe"), "{msg}");
    }
}
