//! `index.html` as a report stage writes it: the page ([`super::page`]) from the report folders
//! alone, with no commit, date or verdicts, so a rerun writes the same bytes. Publishing
//! (`repro run`, `repro report`) rewrites it with those, from the store.

use super::page::{write_page, PageContext};
use super::ReportError;
use std::path::Path;

/// Write `dir/index.html` showing every `dir/<id>/report.json` in the paper's order. Call it
/// again after adding report folders from other stages.
pub fn write_index(dir: &Path) -> Result<(), ReportError> {
    write_page(dir, &PageContext::default())
}
