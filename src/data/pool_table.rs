//! `pool.parquet`: the caption pool's row table, in LAION's own column names.
//!
//! ```text
//! key      Utf8   the pool's row key (a source file and row for LAION, a name for mini)
//! URL      Utf8   where the pixels are (see `pool.rs` for the schemes)
//! TEXT     Utf8   the caption, whitespace collapsed
//! WIDTH    Int64  HEIGHT Int64  LICENSE Utf8  source Utf8
//! ```
//! Written incrementally (a record batch every [`ROWS_PER_BATCH`] rows, a row group every
//! [`ROWS_PER_GROUP`]) and read back a batch at a time, so neither side holds the pool: a
//! LAION-scale pool costs its rows on disk, never in memory. Because the pool is itself
//! LAION-format parquet, the `laion-parquet` importer reads it like any LAION file.

use super::error::DataError;
use super::pool::PoolRecord;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const POOL_PARQUET: &str = "pool.parquet";
pub const ROWS_PER_BATCH: usize = 8192;
pub const ROWS_PER_GROUP: usize = 65536;

fn schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let i = |n: &str| Field::new(n, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        s("key"),
        s("URL"),
        s("TEXT"),
        i("WIDTH"),
        i("HEIGHT"),
        s("LICENSE"),
        s("source"),
    ]))
}

/// Writer properties shared by every parquet file repro writes: zstd, bounded row groups.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .build()
}

/// Appends pool rows to `pool.parquet`, a batch at a time.
pub struct PoolTableWriter {
    path: PathBuf,
    writer: ArrowWriter<File>,
    buf: Vec<PoolRecord>,
    rows: usize,
}

impl PoolTableWriter {
    pub fn create(dir: &Path) -> Result<PoolTableWriter, DataError> {
        let path = dir.join(POOL_PARQUET);
        let f = File::create(&path).map_err(|e| DataError::io(&path, e))?;
        let writer = ArrowWriter::try_new(f, schema(), Some(writer_properties()))
            .map_err(|e| DataError::format(&path, e.to_string()))?;
        Ok(PoolTableWriter {
            path,
            writer,
            buf: Vec::with_capacity(ROWS_PER_BATCH),
            rows: 0,
        })
    }

    pub fn push(&mut self, rec: PoolRecord) -> Result<(), DataError> {
        self.buf.push(rec);
        self.rows += 1;
        if self.buf.len() >= ROWS_PER_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DataError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.buf);
        let s = |f: fn(&PoolRecord) -> &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
        };
        let i = |f: fn(&PoolRecord) -> u32| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| i64::from(f(r))),
            ))
        };
        let cols = vec![
            s(|r| &r.key),
            s(|r| &r.url),
            s(|r| &r.caption),
            i(|r| r.width),
            i(|r| r.height),
            s(|r| &r.license),
            s(|r| &r.source),
        ];
        let batch = RecordBatch::try_new(schema(), cols).expect("columns match the schema");
        self.writer
            .write(&batch)
            .map_err(|e| DataError::format(&self.path, e.to_string()))?;
        self.buf = rows;
        self.buf.clear();
        Ok(())
    }

    /// Write the rest and the footer; returns the number of rows.
    pub fn finish(mut self) -> Result<usize, DataError> {
        self.flush()?;
        self.writer
            .close()
            .map_err(|e| DataError::format(&self.path, e.to_string()))?;
        Ok(self.rows)
    }
}

/// A string column by name, as `&str` per row (`Utf8` or `LargeUtf8`; nulls read as "").
pub fn str_values<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Option<Box<dyn Fn(usize) -> &'a str + 'a>> {
    let col = batch.column_by_name(name)?;
    if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
        return Some(Box::new(
            move |i| if a.is_null(i) { "" } else { a.value(i) },
        ));
    }
    if let Some(a) = col.as_any().downcast_ref::<arrow_array::LargeStringArray>() {
        return Some(Box::new(
            move |i| if a.is_null(i) { "" } else { a.value(i) },
        ));
    }
    None
}

/// A numeric column by name as `f64` per row (any integer or float type; nulls are `None`).
pub fn num_values<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Option<Box<dyn Fn(usize) -> Option<f64> + 'a>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    let col = batch.column_by_name(name)?;
    macro_rules! prim {
        ($t:ty) => {{
            let a = col.as_primitive::<$t>();
            Some(Box::new(move |i| {
                (!a.is_null(i)).then(|| a.value(i) as f64)
            }))
        }};
    }
    match col.data_type() {
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float64 => prim!(Float64Type),
        _ => None,
    }
}

/// Visit the rows of `pool.parquet` in `dir` a batch at a time, in file order.
pub fn for_each_pool_batch(
    dir: &Path,
    mut f: impl FnMut(Vec<PoolRecord>) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let path = dir.join(POOL_PARQUET);
    let bad = |e: &dyn std::fmt::Display| DataError::format(&path, e.to_string());
    let file = File::open(&path).map_err(|e| DataError::io(&path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(&e))?
        .with_batch_size(ROWS_PER_BATCH)
        .build()
        .map_err(|e| bad(&e))?;
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let missing = |c: &str| bad(&format!("not a caption pool: no column `{c}`"));
        let (key, url, text, lic, src) = (
            str_values(&batch, "key").ok_or_else(|| missing("key"))?,
            str_values(&batch, "URL").ok_or_else(|| missing("URL"))?,
            str_values(&batch, "TEXT").ok_or_else(|| missing("TEXT"))?,
            str_values(&batch, "LICENSE").ok_or_else(|| missing("LICENSE"))?,
            str_values(&batch, "source").ok_or_else(|| missing("source"))?,
        );
        let (w, h) = (
            num_values(&batch, "WIDTH").ok_or_else(|| missing("WIDTH"))?,
            num_values(&batch, "HEIGHT").ok_or_else(|| missing("HEIGHT"))?,
        );
        let rows = (0..batch.num_rows())
            .map(|i| PoolRecord {
                key: key(i).to_string(),
                caption: text(i).to_string(),
                width: w(i).unwrap_or(0.0) as u32,
                height: h(i).unwrap_or(0.0) as u32,
                source: src(i).to_string(),
                license: lic(i).to_string(),
                url: url(i).to_string(),
            })
            .collect();
        f(rows)?;
    }
    Ok(())
}
