//! caption_pool `laion-parquet` at two sizes: peak RSS (VmHWM) and rows/s, each size in its own
//! process so one size's peak cannot hide the other's. `bench/laion/run.sh` drives it.
//!
//!   laion gen DIR ROWS      synthetic LAION-format parquet (8 files, 64k-row groups)
//!   laion import DIR OUT T  the importer on T threads; prints rows, seconds, peak RSS

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use repro::data::pool::PoolWriter;
use repro::data::pool_laion::{import_laion, LaionColumns, LaionImport};
use std::path::PathBuf;
use std::sync::Arc;

const WORDS: &[&str] = &[
    "photo", "of", "a", "the", "red", "vintage", "dog", "cat", "beach", "sunset", "stock", "image",
    "wooden", "chair", "with", "and", "in", "for", "sale", "new", "old", "lamp", "flower",
    "garden", "city", "street", "car", "bicycle", "mountain", "lake", "bird", "tree",
];

fn caption(i: u64) -> String {
    // Zipf-ish: low word ids far more often (x^3 of a uniform hash).
    let mut h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let n = 4 + (h % 9) as usize;
    (0..n)
        .map(|_| {
            h ^= h >> 29;
            h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let u = (h >> 11) as f64 / (1u64 << 53) as f64;
            WORDS[((u * u * u) * WORDS.len() as f64) as usize % WORDS.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn gen(dir: PathBuf, rows: u64) {
    std::fs::create_dir_all(&dir).expect("mkdir");
    let files = 8;
    let per = rows / files;
    for f in 0..files {
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(65536))
            .build();
        let path = dir.join(format!("part-{f:05}.parquet"));
        let mut w: Option<ArrowWriter<std::fs::File>> = None;
        let mut start = f * per;
        while start < (f + 1) * per {
            let end = (start + 65536).min((f + 1) * per);
            let ids = start..end;
            let cols: Vec<(&str, ArrayRef)> = vec![
                (
                    "URL",
                    Arc::new(StringArray::from_iter_values(ids.clone().map(|i| {
                        format!("https://img.example.com/{}/{i}.jpg", i % 1000)
                    }))),
                ),
                (
                    "TEXT",
                    Arc::new(StringArray::from_iter_values(ids.clone().map(caption))),
                ),
                (
                    "WIDTH",
                    Arc::new(Int64Array::from_iter_values(
                        ids.clone().map(|i| 200 + (i % 800) as i64),
                    )),
                ),
                (
                    "HEIGHT",
                    Arc::new(Int64Array::from_iter_values(
                        ids.clone().map(|i| 200 + (i % 600) as i64),
                    )),
                ),
                (
                    "similarity",
                    Arc::new(Float64Array::from_iter_values(
                        ids.clone().map(|i| 0.28 + (i % 10) as f64 / 100.0),
                    )),
                ),
                (
                    "punsafe",
                    Arc::new(Float64Array::from_iter_values(ids.clone().map(|i| {
                        if i % 37 == 0 {
                            0.8
                        } else {
                            0.01
                        }
                    }))),
                ),
            ];
            let batch = RecordBatch::try_from_iter(cols).expect("batch");
            let w = w.get_or_insert_with(|| {
                ArrowWriter::try_new(
                    std::fs::File::create(&path).expect("create"),
                    batch.schema(),
                    Some(props.clone()),
                )
                .expect("writer")
            });
            w.write(&batch).expect("write");
            start = end;
        }
        if let Some(w) = w {
            w.close().expect("close");
        }
    }
}

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let a: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match a.first().map(String::as_str) {
        Some("gen") => gen(PathBuf::from(&a[1]), a[2].parse().expect("rows")),
        Some("import") => {
            let out = PathBuf::from(&a[2]);
            std::fs::create_dir_all(&out).expect("mkdir");
            let opt = LaionImport {
                dir: PathBuf::from(&a[1]),
                columns: LaionColumns::default(),
                max_punsafe: 0.1,
                dedup: a.get(4).is_none_or(|d| d != "nodedup"),
                threads: a.get(3).map_or(2, |t| t.parse().expect("threads")),
            };
            let t = std::time::Instant::now();
            let mut pool = PoolWriter::create(&out).expect("pool");
            let c = import_laion(&opt, &mut pool, &mut |_| {}).expect("import");
            pool.finish().expect("finish");
            let s = t.elapsed().as_secs_f64();
            println!(
                "rows {} kept {} dedup {} secs {s:.2} rows_per_s {:.0} peak_rss_mb {:.1}",
                c.rows,
                c.kept,
                opt.dedup,
                c.rows as f64 / s,
                peak_rss_mb()
            );
        }
        _ => eprintln!("usage: laion gen DIR ROWS | laion import DIR OUT [THREADS] [nodedup]"),
    }
}
