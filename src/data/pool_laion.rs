//! LAION's parquet metadata → the caption pool, streamed: text first, no pixel touched.
//!
//! Reads every `*.parquet` file of a folder (sorted by name), projecting only the columns it
//! uses (`URL`, `TEXT`, `WIDTH`, `HEIGHT`, `LICENSE`, `NSFW`, `punsafe`; names configurable:
//! laion400m says `NSFW`, laion2B `punsafe`). Each row group is one unit of work; the stage's
//! threads decode units in parallel a batch at a time and hand batches to the writer through
//! bounded channels, and the writer takes units in file order, so the pool is the same
//! whatever the thread count. Memory is bounded by the threads and the batch size, never by
//! the number of rows: a unit may start only within [`window`] units of the one being
//! written, and each holds at most [`QUEUED_BATCHES`] decoded batches.
//!
//! Filters, as LAIONet (Shirali & Hardt 2023) applies them to LAION:
//! - NSFW: when an `NSFW` column exists, only rows tagged `UNLIKELY` are kept; when a
//!   `punsafe` column exists, only rows with `punsafe < max_punsafe` (rows without a value are
//!   kept: LAION left them unscored);
//! - rows without a URL or a caption are dropped;
//! - duplicate URLs: the first occurrence in file order is kept. The set holds a 64-bit hash
//!   per distinct URL (about 16 bytes each with the table's slack: 32 MB per 2 M URLs, 37 GB
//!   for all of laion2B-en, so at that scale run with `dedup: false` per part and let the
//!   selection's bounded top-N stand); two distinct URLs share a hash with probability
//!   about n²/2⁶⁵ (one expected false duplicate in ~6·10⁹ URLs).
//!
//! Row keys are `<file stem>-<row in file>`, so a selected row leads back to its source.

use super::error::{require, DataError};
use super::pool::{PoolRecord, PoolWriter};
use super::pool_table::{num_values, str_values, ROWS_PER_BATCH};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Condvar, Mutex};

/// Decoded batches a unit may queue ahead of the writer.
pub const QUEUED_BATCHES: usize = 2;

/// Units that may be in flight ahead of the one being written.
pub fn window(threads: usize) -> usize {
    threads.max(1) * 2
}

/// Column names in the input files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LaionColumns {
    pub url: String,
    pub text: String,
    pub width: String,
    pub height: String,
    pub license: String,
    pub nsfw: String,
    pub punsafe: String,
}

impl Default for LaionColumns {
    fn default() -> Self {
        LaionColumns {
            url: "URL".into(),
            text: "TEXT".into(),
            width: "WIDTH".into(),
            height: "HEIGHT".into(),
            license: "LICENSE".into(),
            nsfw: "NSFW".into(),
            punsafe: "punsafe".into(),
        }
    }
}

/// What to import and how.
#[derive(Debug, Clone)]
pub struct LaionImport {
    pub dir: PathBuf,
    pub columns: LaionColumns,
    pub max_punsafe: f64,
    pub dedup: bool,
    pub threads: usize,
}

/// What the import saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LaionCounts {
    pub files: usize,
    pub rows: usize,
    pub kept: usize,
    pub nsfw_dropped: usize,
    pub empty_dropped: usize,
    pub duplicates_dropped: usize,
}

struct Unit {
    file: usize,
    row_group: usize,
    first_row: usize,
}

struct Chunk {
    rows: Vec<PoolRecord>,
    seen: usize,
    nsfw: usize,
    empty: usize,
}

fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    require(dir, "give the folder of LAION metadata parquet files")?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataError::format(dir, "no `*.parquet` file in this folder"));
    }
    Ok(files)
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, DataError> {
    let f = File::open(path).map_err(|e| DataError::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| DataError::format(path, format!("not a readable parquet file: {e}")))
}

/// Decode one row group, sending its filtered rows a batch at a time.
fn read_unit(
    path: &Path,
    unit: &Unit,
    cols: &LaionColumns,
    max_punsafe: f64,
    send: &mut dyn FnMut(Chunk) -> bool,
) -> Result<(), DataError> {
    let b = open(path)?;
    let schema = b.schema().clone();
    let wanted = [
        &cols.url,
        &cols.text,
        &cols.width,
        &cols.height,
        &cols.license,
        &cols.nsfw,
        &cols.punsafe,
    ];
    let roots: Vec<usize> = wanted
        .iter()
        .filter_map(|n| schema.index_of(n).ok())
        .collect();
    let mask = ProjectionMask::roots(b.parquet_schema(), roots);
    let reader = b
        .with_projection(mask)
        .with_row_groups(vec![unit.row_group])
        .with_batch_size(ROWS_PER_BATCH)
        .build()
        .map_err(|e| DataError::format(path, e.to_string()))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = format!(
        "laion:{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut row = unit.first_row;
    for batch in reader {
        let batch = batch
            .map_err(|e| DataError::format(path, format!("row group {}: {e}", unit.row_group)))?;
        let (url, text) = match (
            str_values(&batch, &cols.url),
            str_values(&batch, &cols.text),
        ) {
            (Some(u), Some(t)) => (u, t),
            _ => {
                return Err(DataError::format(
                    path,
                    format!("columns `{}` and `{}` must be strings", cols.url, cols.text),
                ))
            }
        };
        let (w, h) = (
            num_values(&batch, &cols.width),
            num_values(&batch, &cols.height),
        );
        let license = str_values(&batch, &cols.license);
        let nsfw = str_values(&batch, &cols.nsfw);
        let punsafe = num_values(&batch, &cols.punsafe);
        let mut chunk = Chunk {
            rows: Vec::with_capacity(batch.num_rows()),
            seen: batch.num_rows(),
            nsfw: 0,
            empty: 0,
        };
        for i in 0..batch.num_rows() {
            let unsafe_tag = nsfw
                .as_ref()
                .is_some_and(|f| !f(i).eq_ignore_ascii_case("UNLIKELY"));
            let unsafe_p = punsafe
                .as_ref()
                .is_some_and(|f| f(i).is_some_and(|p| p >= max_punsafe));
            let (u, t) = (url(i).trim(), text(i).trim());
            if unsafe_tag || unsafe_p {
                chunk.nsfw += 1;
            } else if u.is_empty() || t.is_empty() {
                chunk.empty += 1;
            } else {
                let dim = |f: &Option<Box<dyn Fn(usize) -> Option<f64> + '_>>| {
                    f.as_ref().and_then(|f| f(i)).unwrap_or(0.0).max(0.0) as u32
                };
                chunk.rows.push(PoolRecord {
                    key: format!("{stem}-{:09}", row + i),
                    caption: t.to_string(),
                    width: dim(&w),
                    height: dim(&h),
                    source: source.clone(),
                    license: license.as_ref().map_or("unknown", |f| f(i)).to_string(),
                    url: u.to_string(),
                });
            }
        }
        row += batch.num_rows();
        if !send(chunk) {
            return Ok(()); // the writer stopped (an error elsewhere): nothing more is wanted
        }
    }
    Ok(())
}

/// Take one unit's batches in order: count, dedup, append.
fn write_unit(
    rx: Receiver<Result<Chunk, DataError>>,
    dedup: bool,
    seen: &mut HashSet<u64>,
    counts: &mut LaionCounts,
    pool: &mut PoolWriter,
) -> Result<(), DataError> {
    for chunk in rx {
        let chunk = chunk?;
        counts.rows += chunk.seen;
        counts.nsfw_dropped += chunk.nsfw;
        counts.empty_dropped += chunk.empty;
        for r in chunk.rows {
            if dedup && !seen.insert(url_hash(&r.url)) {
                counts.duplicates_dropped += 1;
                continue;
            }
            pool.add_reference(r)?;
            counts.kept += 1;
        }
    }
    Ok(())
}

fn url_hash(url: &str) -> u64 {
    // SipHash with fixed keys: the same URL hashes the same in every run.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    url.hash(&mut h);
    h.finish()
}

/// Import every parquet file of `opt.dir` into `pool`; `progress` sees the counts after each
/// row group.
pub fn import_laion(
    opt: &LaionImport,
    pool: &mut PoolWriter,
    progress: &mut dyn FnMut(&LaionCounts),
) -> Result<LaionCounts, DataError> {
    let files = parquet_files(&opt.dir)?;
    let mut units = Vec::new();
    for (fi, path) in files.iter().enumerate() {
        let b = open(path)?;
        let schema = b.schema();
        for c in [&opt.columns.url, &opt.columns.text] {
            if schema.index_of(c).is_err() {
                let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(DataError::format(
                    path,
                    format!(
                        "no column `{c}` (columns: {}); name it in `columns:`",
                        have.join(", ")
                    ),
                ));
            }
        }
        let mut first_row = 0;
        for (rg, meta) in b.metadata().row_groups().iter().enumerate() {
            units.push(Unit {
                file: fi,
                row_group: rg,
                first_row,
            });
            first_row += meta.num_rows() as usize;
        }
    }
    let mut counts = LaionCounts {
        files: files.len(),
        ..Default::default()
    };
    let mut seen: HashSet<u64> = HashSet::new();
    let (senders, mut receivers): (Vec<_>, Vec<_>) = units
        .iter()
        .map(|_| {
            let (tx, rx) = sync_channel::<Result<Chunk, DataError>>(QUEUED_BATCHES);
            (Mutex::new(Some(tx)), rx)
        })
        .unzip();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let gate = (Mutex::new(0usize), Condvar::new());
    let win = window(opt.threads);
    let senders = &senders;
    std::thread::scope(|s| {
        for _ in 0..opt.threads.max(1).min(units.len().max(1)) {
            s.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::SeqCst);
                if j >= units.len() || stop.load(Ordering::SeqCst) {
                    return;
                }
                {
                    let mut written = gate.0.lock().unwrap_or_else(|e| e.into_inner());
                    while j >= *written + win && !stop.load(Ordering::SeqCst) {
                        written = gate.1.wait(written).unwrap_or_else(|e| e.into_inner());
                    }
                }
                let tx: SyncSender<_> = match senders[j].lock().map(|mut t| t.take()) {
                    Ok(Some(tx)) => tx,
                    _ => return,
                };
                let u = &units[j];
                let mut send = |c: Chunk| tx.send(Ok(c)).is_ok();
                if let Err(e) =
                    read_unit(&files[u.file], u, &opt.columns, opt.max_punsafe, &mut send)
                {
                    let _ = tx.send(Err(e));
                }
            });
        }
        let mut result = Ok(());
        for (j, rx) in std::mem::take(&mut receivers).into_iter().enumerate() {
            result = write_unit(rx, opt.dedup, &mut seen, &mut counts, pool);
            if result.is_err() {
                break;
            }
            *gate.0.lock().unwrap_or_else(|e| e.into_inner()) = j + 1;
            gate.1.notify_all();
            progress(&counts);
        }
        // On an error the remaining receivers are gone (senders fail) and waiting units wake.
        stop.store(true, Ordering::SeqCst);
        gate.1.notify_all();
        result
    })?;
    Ok(counts)
}
