//! The study as written: `pipeline.yaml` parsed into typed stages ([`spec`]) and validated into
//! a DAG ([`graph`]). Nothing downstream sees raw YAML.

mod check;
pub mod graph;
mod locate;
pub mod shown;
pub mod spec;
mod subst;

pub use graph::Pipeline;
pub use spec::{Resources, Stage};

use std::fmt;
use std::path::PathBuf;

/// An error in pipeline.yaml, pointing at the file, line and column.
#[derive(Debug, thiserror::Error)]
pub struct PipelineError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub message: String,
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(l), Some(c)) = (self.line, self.col) {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": {}", self.message)
    }
}
