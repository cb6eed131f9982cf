//! Loader throughput on ImageNet-like JPEGs, and the import's peak memory.
//!
//! `cargo bench --bench loader -- import ROOT OUT STORAGE` imports the ImageFolder ROOT
//! aspect-kept at shorter side 256, storage `jpeg` (quality 95) or `raw`, and prints one JSON
//! line: images, bytes stored, seconds, peak RSS.
//! `cargo bench --bench loader -- load DATASET WORKERS` runs one training epoch of the loader
//! (decode → RandomResizedCrop(224) → flip, batches of 64) and prints images/s.
//! `bench/loader/run.sh` runs both beside torchvision's DataLoader on the same files.

use repro::data::dataset::{Dataset, Storage};
use repro::data::imagefolder::{import_imagefolder, FolderImport, ImportSize};
use repro::data::loader::{Loader, LoaderConfig, TrainTransform, Transform};
use std::path::Path;
use std::time::Instant;

fn peak_rss_kib() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_maxrss
}

fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        n += e?.metadata()?.len();
    }
    Ok(n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["import", root, out, storage] => {
            let storage = if storage == "raw" {
                Storage::Raw
            } else {
                Storage::Jpeg { quality: 95 }
            };
            let opt = FolderImport {
                name: "bench".into(),
                size: ImportSize::ShortSide {
                    short_side: 256,
                    channels: 3,
                    storage,
                },
                threads,
                max_bad: 0,
                seed: 0,
                val_labels: None,
            };
            let t = Instant::now();
            let meta = import_imagefolder(Path::new(root), Path::new(out), &opt)?;
            println!(
                "{{\"stage\":\"import\",\"storage\":\"{}\",\"images\":{},\"bytes\":{},\"seconds\":{:.2},\"threads\":{threads},\"peak_rss_kib\":{}}}",
                if storage == Storage::Raw { "raw" } else { "jpeg95" },
                meta.splits.values().map(|s| s.n).sum::<usize>(),
                dir_bytes(Path::new(out))?,
                t.elapsed().as_secs_f64(),
                peak_rss_kib()
            );
        }
        ["load", dataset, workers] => {
            let workers: usize = workers.parse()?;
            let ds = Dataset::open(Path::new(dataset))?;
            let loader = Loader::new(
                &ds,
                LoaderConfig {
                    split: "train".into(),
                    batch_size: 64,
                    shuffle: true,
                    drop_last: true,
                    transform: Transform::Train(TrainTransform::imagenet(224)),
                    seed: 0,
                    workers,
                    prefetch: 4,
                    repeats: 1,
                },
            )?;
            let t = Instant::now();
            let mut images = 0usize;
            for batch in loader.epoch(0) {
                images += batch?.n;
            }
            let rate = images as f64 / t.elapsed().as_secs_f64();
            println!(
                "{{\"impl\":\"repro loader\",\"storage\":\"{:?}\",\"workers\":{workers},\"images\":{images},\"images_per_s\":{rate:.1},\"per_core\":{:.1}}}",
                ds.meta.storage,
                rate / workers as f64
            );
        }
        _ => {
            eprintln!("usage: loader import ROOT OUT jpeg|raw | loader load DATASET WORKERS");
            std::process::exit(2);
        }
    }
    Ok(())
}
