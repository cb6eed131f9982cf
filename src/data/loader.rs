//! Batches for training and evaluation: shuffled, seeded, augmented, prepared on worker threads.
//!
//! Pure Rust (no tch), so the engine and its tests never need libtorch. A [`Loader`] streams a
//! split's shards: each epoch it shuffles the shard order, then reads `shuffle_shards` shards at
//! a time and shuffles the examples within that window (a full shuffle whenever the split fits in
//! one window, as every mini dataset does). Batches come out as HWC `u8` images plus labels; the
//! trainer converts them to tensors.
//!
//! Determinism: the example order depends only on (seed, epoch), and each example's augmentation
//! only on (seed, epoch, its position in the epoch), so the batches are bit-identical whatever
//! the number of workers — which is what makes a resumed training equal an uninterrupted one.
//! Worker `w` builds batches `w, w + W, w + 2W, …` into its own bounded channel and the consumer
//! takes them round-robin, so the order is fixed and at most `W × prefetch` batches wait.

use super::dataset::{Dataset, DatasetError};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How training images are augmented (evaluation never augments).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Augment {
    /// Resize to the output size only.
    None,
    /// Zero-pad by `padding` on each side, take a random output-size crop (the CIFAR recipe).
    Crop { padding: u32, hflip: bool },
    /// Random-resized crop: area in `[scale_min, 1]`, aspect ratio in `[3/4, 4/3]`, bilinear
    /// resize to the output size (the ImageNet recipe).
    ResizedCrop { scale_min: f64, hflip: bool },
}

#[derive(Debug, Clone)]
pub struct LoaderConfig {
    pub split: String,
    pub batch_size: usize,
    /// Shuffle (training) or keep dataset order (evaluation).
    pub shuffle: bool,
    pub drop_last: bool,
    pub augment: Augment,
    /// Output side in pixels (square); the dataset's own size when equal.
    pub out_size: u32,
    pub seed: u64,
    pub workers: usize,
    /// Batches each worker may hold ready.
    pub prefetch: usize,
    /// Shards read and shuffled together.
    pub shuffle_shards: usize,
}

/// One batch: `n` images of `size × size × channels` bytes (HWC) and their labels, plus each
/// example's index in the split (evaluation writes per-example predictions by it).
#[derive(Debug, Clone)]
pub struct Batch {
    pub n: usize,
    pub size: u32,
    pub channels: u32,
    pub images: Vec<u8>,
    pub labels: Vec<u32>,
    pub indices: Vec<u64>,
}

/// One shard in memory: (images, labels).
type Shard = Arc<(Vec<u8>, Vec<u32>)>;

/// Shards kept in memory, shared by the workers; evicted oldest-first beyond `capacity`.
struct ShardCache {
    ds: Dataset,
    split: String,
    capacity: usize,
    inner: Mutex<(HashMap<usize, Shard>, Vec<usize>)>,
}

impl ShardCache {
    fn get(&self, shard: usize) -> Result<Shard, DatasetError> {
        if let Some(s) = self.inner.lock().expect("shard cache lock").0.get(&shard) {
            return Ok(s.clone());
        }
        // Read outside the lock; two workers may read the same shard once each, harmlessly.
        let data = Arc::new(self.ds.read_shard(&self.split, shard)?);
        let mut guard = self.inner.lock().expect("shard cache lock");
        let (map, order) = &mut *guard;
        if let std::collections::hash_map::Entry::Vacant(e) = map.entry(shard) {
            e.insert(data.clone());
            order.push(shard);
            while order.len() > self.capacity {
                let old = order.remove(0);
                map.remove(&old);
            }
        }
        Ok(data)
    }
}

/// A split ready to be iterated epoch after epoch.
pub struct Loader {
    cache: Arc<ShardCache>,
    cfg: LoaderConfig,
    /// Per shard: (first global index, size).
    shards: Vec<(u64, usize)>,
    height: u32,
    width: u32,
    channels: u32,
}

impl Loader {
    pub fn new(ds: &Dataset, cfg: LoaderConfig) -> Result<Loader, DatasetError> {
        let sm = ds.split_meta(&cfg.split)?.clone();
        let mut shards = Vec::new();
        let mut start = 0u64;
        for &n in &sm.shard_sizes {
            shards.push((start, n));
            start += n as u64;
        }
        let window = cfg.shuffle_shards.max(1);
        let cache = Arc::new(ShardCache {
            ds: ds.clone(),
            split: cfg.split.clone(),
            // The current window, the next one (workers run ahead) and one spare.
            capacity: 2 * window + 1,
            inner: Mutex::new((HashMap::new(), Vec::new())),
        });
        let (height, width, channels) = (ds.meta.height, ds.meta.width, ds.meta.channels);
        Ok(Loader {
            cache,
            cfg,
            shards,
            height,
            width,
            channels,
        })
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn batches_per_epoch(&self) -> usize {
        let n = self.len();
        let b = self.cfg.batch_size.max(1);
        if self.cfg.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The epoch's example order as (shard, index in shard).
    fn order(&self, epoch: u64) -> Vec<(usize, usize)> {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.cfg.seed, epoch, u64::MAX));
        let mut shard_order: Vec<usize> = (0..self.shards.len()).collect();
        if self.cfg.shuffle {
            shard_order.shuffle(&mut rng);
        }
        let mut out = Vec::with_capacity(self.len());
        for window in shard_order.chunks(self.cfg.shuffle_shards.max(1)) {
            let start = out.len();
            for &s in window {
                out.extend((0..self.shards[s].1).map(|i| (s, i)));
            }
            if self.cfg.shuffle {
                out[start..].shuffle(&mut rng);
            }
        }
        out
    }

    /// Start the workers for one epoch.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        let order = Arc::new(self.order(epoch));
        let b = self.cfg.batch_size.max(1);
        let n_batches = self.batches_per_epoch();
        let workers = self.cfg.workers.clamp(1, n_batches.max(1));
        let mut receivers = Vec::new();
        let mut handles = Vec::new();
        for w in 0..workers {
            let (tx, rx) = sync_channel(self.cfg.prefetch.max(1));
            let job = Job {
                cache: self.cache.clone(),
                order: order.clone(),
                shards: self.shards.clone(),
                cfg: self.cfg.clone(),
                dims: (self.height, self.width, self.channels),
                epoch,
            };
            handles.push(std::thread::spawn(move || {
                let mut i = w;
                while i < n_batches {
                    let end = ((i + 1) * b).min(job.order.len());
                    let batch = job.build(i * b, end);
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        return; // consumer gone, or error delivered
                    }
                    i += workers;
                }
            }));
            receivers.push(rx);
        }
        EpochIter {
            receivers,
            handles,
            next: 0,
            n_batches,
        }
    }
}

/// The batches of one epoch, in order.
pub struct EpochIter {
    receivers: Vec<Receiver<Result<Batch, DatasetError>>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    n_batches: usize,
}

impl Iterator for EpochIter {
    type Item = Result<Batch, DatasetError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.n_batches {
            return None;
        }
        let rx = &self.receivers[self.next % self.receivers.len()];
        self.next += 1;
        match rx.recv() {
            Ok(b) => Some(b),
            Err(_) => {
                self.next = self.n_batches;
                Some(Err(DatasetError::Shape {
                    path: "loader".into(),
                    message: "a loader worker stopped".into(),
                }))
            }
        }
    }
}

impl Drop for EpochIter {
    fn drop(&mut self) {
        // Dropping the receivers unblocks the workers; then wait for them.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

struct Job {
    cache: Arc<ShardCache>,
    order: Arc<Vec<(usize, usize)>>,
    shards: Vec<(u64, usize)>,
    cfg: LoaderConfig,
    dims: (u32, u32, u32),
    epoch: u64,
}

impl Job {
    fn build(&self, start: usize, end: usize) -> Result<Batch, DatasetError> {
        let (h, w, c) = self.dims;
        let s = self.cfg.out_size;
        let img_bytes = (h * w * c) as usize;
        let out_bytes = (s * s * c) as usize;
        let mut images = vec![0u8; (end - start) * out_bytes];
        let mut labels = Vec::with_capacity(end - start);
        let mut indices = Vec::with_capacity(end - start);
        for (k, pos) in (start..end).enumerate() {
            let (shard, i) = self.order[pos];
            let data = self.cache.get(shard)?;
            let src = &data.0[i * img_bytes..(i + 1) * img_bytes];
            let dst = &mut images[k * out_bytes..(k + 1) * out_bytes];
            let mut rng = ChaCha8Rng::seed_from_u64(mix(self.cfg.seed, self.epoch, pos as u64));
            let view = Image { data: src, h, w, c };
            match self.cfg.augment {
                Augment::None => view.resize_into(dst, s, (0.0, 0.0, w as f64, h as f64), false),
                Augment::Crop { padding, hflip } => {
                    let flip = hflip && rng.gen_bool(0.5);
                    let dx = rng.gen_range(0..=2 * padding) as i64 - padding as i64;
                    let dy = rng.gen_range(0..=2 * padding) as i64 - padding as i64;
                    if s == w && s == h {
                        view.shift_into(dst, dx, dy, flip);
                    } else {
                        let mut resized = vec![0u8; out_bytes];
                        view.resize_into(&mut resized, s, (0.0, 0.0, w as f64, h as f64), false);
                        Image {
                            data: &resized,
                            h: s,
                            w: s,
                            c,
                        }
                        .shift_into(dst, dx, dy, flip);
                    }
                }
                Augment::ResizedCrop { scale_min, hflip } => {
                    let flip = hflip && rng.gen_bool(0.5);
                    let rect = random_resized_rect(&mut rng, w, h, scale_min);
                    view.resize_into(dst, s, rect, flip);
                }
            }
            labels.push(data.1[i]);
            indices.push(self.shards[shard].0 + i as u64);
        }
        Ok(Batch {
            n: end - start,
            size: s,
            channels: c,
            images,
            labels,
            indices,
        })
    }
}

/// A 64-bit mix of (seed, epoch, position) for per-example RNG seeds (SplitMix64 finaliser).
fn mix(seed: u64, epoch: u64, pos: u64) -> u64 {
    let mut z =
        seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ pos.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// torchvision's `RandomResizedCrop.get_params`: 10 tries at a random area and log-uniform
/// aspect ratio, falling back to a central crop. Returns (x, y, width, height).
fn random_resized_rect(
    rng: &mut ChaCha8Rng,
    w: u32,
    h: u32,
    scale_min: f64,
) -> (f64, f64, f64, f64) {
    let area = (w * h) as f64;
    let (lr0, lr1) = ((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
    for _ in 0..10 {
        let target = area * rng.gen_range(scale_min.min(1.0)..=1.0);
        let ratio = rng.gen_range(lr0..=lr1).exp();
        let cw = (target * ratio).sqrt().round();
        let ch = (target / ratio).sqrt().round();
        if cw > 0.0 && ch > 0.0 && cw <= w as f64 && ch <= h as f64 {
            let x = rng.gen_range(0..=(w as f64 - cw) as u32) as f64;
            let y = rng.gen_range(0..=(h as f64 - ch) as u32) as f64;
            return (x, y, cw, ch);
        }
    }
    let side = w.min(h) as f64;
    ((w as f64 - side) / 2.0, (h as f64 - side) / 2.0, side, side)
}

/// A borrowed HWC u8 image.
struct Image<'a> {
    data: &'a [u8],
    h: u32,
    w: u32,
    c: u32,
}

impl Image<'_> {
    /// Translate by (dx, dy) with zero fill (= pad then crop), optionally mirrored.
    fn shift_into(&self, dst: &mut [u8], dx: i64, dy: i64, flip: bool) {
        let (h, w, c) = (self.h as i64, self.w as i64, self.c as usize);
        for y in 0..h {
            let sy = y + dy;
            for x in 0..w {
                let sx0 = x + dx;
                let sx = if flip { w - 1 - sx0 } else { sx0 };
                let o = ((y * w + x) as usize) * c;
                if sy < 0 || sy >= h || sx0 < 0 || sx0 >= w {
                    dst[o..o + c].fill(0);
                } else {
                    let i = ((sy * w + sx) as usize) * c;
                    dst[o..o + c].copy_from_slice(&self.data[i..i + c]);
                }
            }
        }
    }

    /// Bilinear resize of `rect` (x, y, width, height) to `s × s`, optionally mirrored.
    fn resize_into(&self, dst: &mut [u8], s: u32, rect: (f64, f64, f64, f64), flip: bool) {
        let (rx, ry, rw, rh) = rect;
        let c = self.c as usize;
        let (w, h) = (self.w as i64, self.h as i64);
        if !flip
            && rx == 0.0
            && ry == 0.0
            && rw as i64 == w
            && rh as i64 == h
            && s as i64 == w
            && s as i64 == h
        {
            dst.copy_from_slice(self.data);
            return;
        }
        let px = |x: i64, y: i64, ch: usize| {
            self.data[((y.clamp(0, h - 1) * w + x.clamp(0, w - 1)) as usize) * c + ch] as f64
        };
        for oy in 0..s as i64 {
            // Pixel-centre mapping (align_corners = false).
            let fy = ry + (oy as f64 + 0.5) * rh / s as f64 - 0.5;
            let y0 = fy.floor();
            let ty = fy - y0;
            for ox in 0..s as i64 {
                let sx = if flip { s as i64 - 1 - ox } else { ox };
                let fx = rx + (sx as f64 + 0.5) * rw / s as f64 - 0.5;
                let x0 = fx.floor();
                let tx = fx - x0;
                let (x0, y0) = (x0 as i64, y0 as i64);
                let o = ((oy * s as i64 + ox) as usize) * c;
                for ch in 0..c {
                    let top = px(x0, y0, ch) * (1.0 - tx) + px(x0 + 1, y0, ch) * tx;
                    let bot = px(x0, y0 + 1, ch) * (1.0 - tx) + px(x0 + 1, y0 + 1, ch) * tx;
                    dst[o + ch] = (top * (1.0 - ty) + bot * ty).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{ClassInfo, DatasetWriter};

    fn toy(dir: &std::path::Path, n: usize, shard: usize) -> Dataset {
        let classes = (0..3)
            .map(|i| ClassInfo {
                wnid: format!("c{i}"),
                lemma: format!("c{i}"),
                gloss: String::new(),
            })
            .collect();
        let mut w = DatasetWriter::create(dir, "toy", (4, 4, 1), classes)
            .expect("create")
            .with_shard_images(shard);
        for i in 0..n {
            w.push("train", &[i as u8; 16], (i % 3) as u32)
                .expect("push");
        }
        w.finish().expect("finish");
        Dataset::open(dir).expect("open")
    }

    fn cfg(shuffle: bool, augment: Augment, workers: usize) -> LoaderConfig {
        LoaderConfig {
            split: "train".into(),
            batch_size: 4,
            shuffle,
            drop_last: false,
            augment,
            out_size: 4,
            seed: 7,
            workers,
            prefetch: 2,
            shuffle_shards: 2,
        }
    }

    fn collect(l: &Loader, epoch: u64) -> Vec<Batch> {
        l.epoch(epoch)
            .collect::<Result<Vec<_>, _>>()
            .expect("batches")
    }

    #[test]
    fn unshuffled_keeps_dataset_order_and_covers_everything() {
        let dir = tempfile::tempdir().expect("tmp");
        let ds = toy(dir.path(), 10, 3);
        let l = Loader::new(&ds, cfg(false, Augment::None, 3)).expect("loader");
        let b = collect(&l, 0);
        assert_eq!(b.len(), 3);
        let idx: Vec<u64> = b.iter().flat_map(|b| b.indices.clone()).collect();
        assert_eq!(idx, (0..10).collect::<Vec<_>>());
        assert_eq!(b[2].n, 2);
        assert_eq!(b[1].images[0], 4, "example 4's pixels");
        assert_eq!(b[1].labels[0], 1);
    }

    #[test]
    fn shuffle_is_a_seeded_permutation_independent_of_workers() {
        let dir = tempfile::tempdir().expect("tmp");
        let ds = toy(dir.path(), 23, 5);
        let aug = Augment::Crop {
            padding: 1,
            hflip: true,
        };
        let one = collect(&Loader::new(&ds, cfg(true, aug, 1)).expect("l"), 3);
        let three = collect(&Loader::new(&ds, cfg(true, aug, 3)).expect("l"), 3);
        let flat = |b: &[Batch]| {
            (
                b.iter().flat_map(|b| b.indices.clone()).collect::<Vec<_>>(),
                b.iter().flat_map(|b| b.images.clone()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(flat(&one), flat(&three), "same batches with 1 or 3 workers");
        let (mut idx, _) = flat(&one);
        assert_ne!(idx, (0..23).collect::<Vec<_>>(), "shuffled");
        idx.sort();
        assert_eq!(idx, (0..23).collect::<Vec<_>>(), "a permutation");
        let other = collect(&Loader::new(&ds, cfg(true, aug, 2)).expect("l"), 4);
        assert_ne!(flat(&one).0, flat(&other).0, "another epoch, another order");
    }

    #[test]
    fn crop_shifts_with_zero_fill_and_flip_mirrors() {
        let data: Vec<u8> = (1..=9).collect(); // 3×3, one channel
        let img = Image {
            data: &data,
            h: 3,
            w: 3,
            c: 1,
        };
        let mut out = [0u8; 9];
        img.shift_into(&mut out, 1, 0, false);
        assert_eq!(out, [2, 3, 0, 5, 6, 0, 8, 9, 0]);
        img.shift_into(&mut out, 0, 0, true);
        assert_eq!(out, [3, 2, 1, 6, 5, 4, 9, 8, 7]);
        let mut big = [0u8; 36];
        img.resize_into(&mut big, 6, (0.0, 0.0, 3.0, 3.0), false);
        assert_eq!(big[0], 1);
        assert_eq!(big[35], 9);
    }

    #[test]
    fn resized_crop_stays_inside_the_image() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let (x, y, w, h) = random_resized_rect(&mut rng, 32, 24, 0.08);
            assert!(x >= 0.0 && y >= 0.0 && x + w <= 32.0 && y + h <= 24.0 && w >= 1.0 && h >= 1.0);
        }
    }
}
