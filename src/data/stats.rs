//! Per-channel pixel statistics of a split, for input normalisation.
//!
//! Measured on a seeded random sample of the whole split (every image stands the same chance,
//! whatever its shard or class), at the images' stored size; or torchvision's ImageNet
//! constants where a recipe asks for them.

use super::dataset::{Dataset, DatasetError};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// torchvision's ImageNet mean and standard deviation (RGB, pixels in [0, 1]).
pub const IMAGENET_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f64; 3] = [0.229, 0.224, 0.225];

/// Per-channel mean and standard deviation of pixel values in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelStats {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// Images the statistics were measured on.
    pub images: usize,
}

/// Statistics of up to `max_images` images drawn without replacement from `split` (seeded).
pub fn sample_stats(
    ds: &Dataset,
    split: &str,
    max_images: usize,
    seed: u64,
) -> Result<ChannelStats, DatasetError> {
    let reader = ds.reader(split)?;
    let c = ds.meta.channels as usize;
    let n = reader.len();
    let k = max_images.min(n);
    let mut picks = sample(&mut ChaCha8Rng::seed_from_u64(seed), n, k).into_vec();
    // Reading in split order keeps the positioned reads sequential on disk.
    picks.sort_unstable();
    let (mut sum, mut sq, mut count) = (vec![0f64; c], vec![0f64; c], 0u64);
    for i in picks {
        let px = reader.read(i)?;
        // Per image in integers (exact), then into the running f64 totals.
        let (mut s, mut q) = (vec![0u64; c], vec![0u64; c]);
        for p in px.data.chunks_exact(c) {
            for ((&v, s), q) in p.iter().zip(s.iter_mut()).zip(q.iter_mut()) {
                *s += u64::from(v);
                *q += u64::from(v) * u64::from(v);
            }
        }
        for (((total, total_sq), s), q) in sum.iter_mut().zip(sq.iter_mut()).zip(&s).zip(&q) {
            *total += *s as f64 / 255.0;
            *total_sq += *q as f64 / (255.0 * 255.0);
        }
        count += (px.data.len() / c) as u64;
    }
    let n_px = count.max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n_px).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(q, m)| (q / n_px - m * m).max(1e-12).sqrt().max(1e-3))
        .collect();
    Ok(ChannelStats {
        mean,
        std,
        images: k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{ClassInfo, DatasetWriter};

    #[test]
    fn sample_covers_the_whole_split_not_its_first_shard() {
        // Class-sorted on purpose (no permutation): 10 shards of black, then 10 of white.
        let dir = tempfile::tempdir().expect("tmp");
        let classes = (0..2)
            .map(|i| ClassInfo {
                wnid: format!("c{i}"),
                lemma: String::new(),
                gloss: String::new(),
            })
            .collect();
        let mut w = DatasetWriter::create(dir.path(), "bw", (2, 2, 1), classes)
            .expect("create")
            .with_shard_images(10);
        for i in 0..200u32 {
            let v = if i < 100 { 0 } else { 255 };
            w.push("train", &[v; 4], i / 100).expect("push");
        }
        w.finish().expect("finish");
        let ds = Dataset::open(dir.path()).expect("open");
        let s = sample_stats(&ds, "train", 60, 1).expect("stats");
        assert_eq!(s.images, 60);
        assert!((s.mean[0] - 0.5).abs() < 0.15, "mean {}", s.mean[0]);
        assert!(s.std[0] > 0.4, "std {}", s.std[0]);
        let all = sample_stats(&ds, "train", 10_000, 1).expect("stats");
        assert_eq!(all.images, 200);
        assert!((all.mean[0] - 0.5).abs() < 1e-9);
    }
}
