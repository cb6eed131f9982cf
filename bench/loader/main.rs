//! Loader throughput: images/s the loader turns into augmented batches, on real Fashion-MNIST
//! at the mini profile's 32×32×3, with 1 and 2 worker threads. `bench/loader/run.sh` prints it
//! beside the mini training throughput of the same machine, in one run: training never waits on
//! the loader as long as the first number is well above the second.

use repro::data::dataset::Dataset;
use repro::data::imageops::Shape;
use repro::data::loader::{Augment, Loader, LoaderConfig};
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let src = Path::new("/usr/share/datasets/fashion-mnist");
    let dir = tempfile::tempdir()?;
    repro::data::idx::import_fashion_mnist(src, dir.path(), Some(Shape::new(32, 32, 3)))?;
    let ds = Dataset::open(dir.path())?;
    for workers in [1, 2] {
        let cfg = LoaderConfig {
            split: "train".into(),
            batch_size: 128,
            shuffle: true,
            drop_last: true,
            augment: Augment::Crop {
                padding: 4,
                hflip: true,
            },
            out_size: 32,
            seed: 0,
            workers,
            prefetch: 4,
            shuffle_shards: 4,
        };
        let loader = Loader::new(&ds, cfg)?;
        let t = Instant::now();
        let mut images = 0usize;
        for epoch in 0..2 {
            for batch in loader.epoch(epoch) {
                images += batch?.n;
            }
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "loader  workers={workers}  {:>9.0} images/s into batches of 128 (crop+flip, 32x32x3)",
            images as f64 / secs
        );
    }
    Ok(())
}
