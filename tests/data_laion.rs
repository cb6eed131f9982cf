//! `caption_pool` with `importer: laion-parquet` on synthetic LAION metadata written here:
//! several files and row groups, NSFW-tagged and duplicate rows, and the errors a user meets.

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use repro::data::pool::read_pool;
use repro::stage::{self, StageContext};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn run(params: Value, out: &Path, threads: usize) -> Result<(), String> {
    let k = stage::find("caption_pool").expect("kind");
    let params = k.resolve_params(&params)?;
    let mut ctx = StageContext::detached(
        "laion_pool",
        params,
        out.to_path_buf(),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    );
    ctx.threads = threads;
    k.run(&mut ctx).map_err(|e| e.to_string())
}

/// One laion2B-style file: row `i` of file `f` has URL `u{(f*n+i) % dups}` when `dups` is set.
fn write_file(path: &Path, f: usize, n: usize, nsfw_col: bool) {
    let urls: Vec<String> = (0..n)
        .map(|i| {
            let g = f * n + i;
            // Every 10th row repeats the URL of the row before it (across files too).
            let id = if g % 10 == 9 { g - 1 } else { g };
            format!("https://example.com/{id}.jpg")
        })
        .collect();
    let texts: Vec<String> = (0..n)
        .map(|i| {
            if i % 97 == 5 {
                String::new()
            } else {
                format!("a photo of thing {}", f * n + i)
            }
        })
        .collect();
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        ("URL", Arc::new(StringArray::from(urls))),
        ("TEXT", Arc::new(StringArray::from(texts))),
        (
            "WIDTH",
            Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| 100 + i))),
        ),
        (
            "HEIGHT",
            Arc::new(Float64Array::from_iter_values((0..n).map(|_| 50.0))),
        ),
        (
            "similarity",
            Arc::new(Float64Array::from_iter_values((0..n).map(|_| 0.3))),
        ),
    ];
    if nsfw_col {
        let tags: Vec<&str> = (0..n)
            .map(|i| match i % 50 {
                0 => "NSFW",
                1 => "UNSURE",
                _ => "UNLIKELY",
            })
            .collect();
        cols.push(("NSFW", Arc::new(StringArray::from(tags))));
    } else {
        let p: Vec<Option<f64>> = (0..n)
            .map(|i| match i % 50 {
                0 => Some(0.9),
                1 => None,
                _ => Some(0.01),
            })
            .collect();
        cols.push(("punsafe", Arc::new(Float64Array::from(p))));
    }
    let batch = RecordBatch::try_from_iter(cols).expect("batch");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(700))
        .build();
    let file = std::fs::File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

#[test]
fn laion_parquet_streams_filters_dedups_and_is_thread_independent() {
    let tmp = tempfile::tempdir().expect("tmp");
    let src = tmp.path().join("meta");
    std::fs::create_dir_all(&src).expect("mkdir");
    let n = 2000;
    for f in 0..3 {
        write_file(&src.join(format!("part-{f:05}.parquet")), f, n, f == 1);
    }
    std::fs::write(src.join("README.txt"), "not parquet").expect("w");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (out, threads) in [(&a, 1), (&b, 3)] {
        std::fs::create_dir_all(out).expect("mkdir");
        run(
            json!({"importer": "laion-parquet", "path": src.to_str()}),
            out,
            threads,
        )
        .expect("import");
    }
    let rows = read_pool(&a).expect("read");
    // Per file: 40 NSFW-ish rows drop in the NSFW file (NSFW and UNSURE), 40 in punsafe files
    // (0.9 only: unscored rows stay, so 40 per file either way), empty captions (i % 97 == 5),
    // and every 10th row duplicates its predecessor.
    let mut expect = 0;
    let mut seen = std::collections::HashSet::new();
    for f in 0..3 {
        for i in 0..n {
            let g = f * n + i;
            let dropped_nsfw = if f == 1 { i % 50 < 2 } else { i % 50 == 0 };
            if dropped_nsfw || i % 97 == 5 {
                continue;
            }
            let id = if g % 10 == 9 { g - 1 } else { g };
            if seen.insert(id) {
                expect += 1;
            }
        }
    }
    assert_eq!(rows.len(), expect);
    assert!(rows
        .iter()
        .all(|r| r.url.starts_with("https://") && !r.caption.is_empty()));
    // Row 0 is unsafe (punsafe 0.9); row 1 has no score and stays.
    assert_eq!(rows[0].key, "part-00000-000000001");
    assert_eq!((rows[0].width, rows[0].height), (101, 50));
    assert!(
        rows.windows(2).all(|w| w[0].key < w[1].key),
        "file order, row order"
    );
    let urls: std::collections::HashSet<&str> = rows.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls.len(), rows.len(), "no duplicate URL");
    assert_eq!(
        std::fs::read(a.join("pool.parquet")).expect("a"),
        std::fs::read(b.join("pool.parquet")).expect("b"),
        "the pool does not depend on the thread count"
    );
}

#[test]
fn laion_parquet_errors_name_the_file_and_the_column() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let err = run(
        json!({"importer": "laion-parquet", "path": empty.to_str()}),
        &out,
        2,
    )
    .expect_err("empty folder");
    assert!(
        err.contains("empty") && err.contains("no `*.parquet`"),
        "{err}"
    );

    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join("x.parquet"), b"PAR1 this is not parquet").expect("w");
    let err = run(
        json!({"importer": "laion-parquet", "path": bad.to_str()}),
        &out,
        2,
    )
    .expect_err("malformed");
    assert!(err.contains("x.parquet"), "{err}");

    let renamed = tmp.path().join("renamed");
    std::fs::create_dir_all(&renamed).expect("mkdir");
    write_file(&renamed.join("p.parquet"), 0, 100, false);
    let err = run(
        json!({"importer": "laion-parquet", "path": renamed.to_str(), "columns": {"text": "caption"}}),
        &out,
        2,
    )
    .expect_err("missing column");
    assert!(
        err.contains("p.parquet") && err.contains("`caption`") && err.contains("TEXT"),
        "{err}"
    );
    run(
        json!({"importer": "laion-parquet", "path": renamed.to_str(), "columns": {"text": "TEXT"}}),
        &out,
        2,
    )
    .expect("explicit names work");
    let err = run(json!({"importer": "laion-parquet"}), &out, 2).expect_err("no path");
    assert!(err.contains("path"), "{err}");
}
