//! Image decoding throughput during import (decode + fit to 32×32×3), driven by
//! `bench/data/decode.sh`, which runs Python PIL on the same files. Ignored by default.

use repro::data::imagefolder::{decode_files, ImportSize};
use repro::data::imageops::Shape;
use std::path::PathBuf;
use std::time::Instant;

#[test]
#[ignore]
fn decode_throughput() {
    let list = std::env::var("REPRO_DECODE_FILES")
        .expect("REPRO_DECODE_FILES: a file listing image paths");
    let files: Vec<PathBuf> = std::fs::read_to_string(&list)
        .expect("list")
        .lines()
        .map(PathBuf::from)
        .collect();
    let shape = ImportSize::Fixed(Shape::new(32, 32, 3));
    let reps: usize = std::env::var("REPRO_DECODE_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    for threads in [1, 2] {
        // Warm the page cache first, as the PIL side does.
        let _ = decode_files(&files, shape, threads);
        let t = Instant::now();
        let mut ok = 0;
        for _ in 0..reps {
            ok = decode_files(&files, shape, threads)
                .iter()
                .filter(|r| r.is_ok())
                .count();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{}",
            serde_json::json!({"impl": "repro (image crate)", "threads": threads, "files": files.len(), "decoded": ok,
                               "images_per_s": (files.len() * reps) as f64 / secs})
        );
    }
}
