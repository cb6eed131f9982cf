//! Batches for training and evaluation: shuffled, seeded, decoded and transformed on worker
//! threads.
//!
//! Pure Rust (no tch), so the engine and its tests never need libtorch. A [`Loader`] reads a
//! split by random access ([`SplitReader`]: positioned reads, the OS page cache keeps hot
//! shards): each training epoch is a fresh permutation of the whole split, so every batch
//! draws from every class and every shard, at any dataset size. Each example is decoded (JPEG
//! datasets) and transformed ([`Transform`]) by a worker; batches come out as square HWC `u8`
//! images plus labels, and the trainer converts them to tensors.
//!
//! Determinism: the example order depends only on (seed, epoch), and each example's
//! augmentation only on (seed, epoch, its position in the epoch), so the batches are
//! bit-identical whatever the number of workers — which is what makes a resumed training equal
//! an uninterrupted one. Worker `w` builds batches `w, w + W, w + 2W, …` into its own bounded
//! channel and the consumer takes them round-robin, so the order is fixed and at most
//! `W × prefetch` batches wait.

use super::dataset::{Dataset, DatasetError, SplitReader};
pub use super::transform::{EvalTransform, Interpolation, TrainTransform, Transform};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How training images are augmented, as recipes name it (see [`Transform::from_augment`]).
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

impl Transform {
    /// The transform a recipe's `augment` asks for at `out_size` px. `None` is the evaluation
    /// preset: on aspect-kept datasets torchvision's `Resize(out/0.875) → CenterCrop(out)`, on
    /// fixed-size ones the whole image resized.
    pub fn from_augment(augment: Augment, out_size: u32, fixed_storage: bool) -> Transform {
        match augment {
            Augment::None if fixed_storage => Transform::Eval(EvalTransform {
                resize: out_size,
                crop: out_size,
                interpolation: Interpolation::Bilinear,
            }),
            Augment::None => Transform::Eval(EvalTransform::imagenet(out_size)),
            Augment::Crop { padding, hflip } => Transform::PadCrop {
                size: out_size,
                padding,
                hflip,
            },
            Augment::ResizedCrop { scale_min, hflip } => Transform::Train(TrainTransform {
                scale: (scale_min, 1.0),
                hflip,
                ..TrainTransform::imagenet(out_size)
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoaderConfig {
    pub split: String,
    pub batch_size: usize,
    /// Shuffle (training) or keep dataset order (evaluation).
    pub shuffle: bool,
    pub drop_last: bool,
    pub transform: Transform,
    pub seed: u64,
    /// Decoding threads: the stage's CPUs.
    pub workers: usize,
    /// Batches each worker may hold ready.
    pub prefetch: usize,
    /// Repeated augmentation (torchvision's `RASampler`, `--ra-reps`): each example this many
    /// times in a row, each copy augmented on its own; 1 = off. See [`Loader::epoch_len`].
    pub repeats: usize,
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

/// A split ready to be iterated epoch after epoch.
pub struct Loader {
    reader: Arc<SplitReader>,
    cfg: LoaderConfig,
    channels: u32,
}

impl Loader {
    pub fn new(ds: &Dataset, cfg: LoaderConfig) -> Result<Loader, DatasetError> {
        let reader = Arc::new(ds.reader(&cfg.split)?);
        Ok(Loader {
            reader,
            cfg,
            channels: ds.meta.channels,
        })
    }

    pub fn len(&self) -> usize {
        self.reader.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Examples one epoch yields: the split's size, or with repeats, as torchvision's
    /// `RASampler` on one process, the size rounded down to a multiple of 256 (so an epoch
    /// costs what it costs without repeats and sees about 1/repeats of the distinct images).
    pub fn epoch_len(&self) -> usize {
        let n = self.len();
        if self.cfg.repeats > 1 && n >= 256 {
            n / 256 * 256
        } else {
            n
        }
    }

    pub fn batches_per_epoch(&self) -> usize {
        let n = self.epoch_len();
        let b = self.cfg.batch_size.max(1);
        if self.cfg.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The epoch's example order: a seeded permutation of the whole split when shuffling,
    /// each example repeated `repeats` times in a row and cut to [`epoch_len`](Self::epoch_len).
    fn order(&self, epoch: u64) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.len()).collect();
        if self.cfg.shuffle {
            out.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(
                self.cfg.seed,
                epoch,
                u64::MAX,
            )));
        }
        if self.cfg.repeats > 1 {
            let reps = self.cfg.repeats;
            out = out
                .into_iter()
                .flat_map(|i| std::iter::repeat_n(i, reps))
                .take(self.epoch_len())
                .collect();
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
                reader: self.reader.clone(),
                order: order.clone(),
                transform: self.cfg.transform,
                seed: self.cfg.seed,
                channels: self.channels,
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
    reader: Arc<SplitReader>,
    order: Arc<Vec<usize>>,
    transform: Transform,
    seed: u64,
    channels: u32,
    epoch: u64,
}

impl Job {
    fn build(&self, start: usize, end: usize) -> Result<Batch, DatasetError> {
        let s = self.transform.out_size();
        let c = self.channels;
        let out_bytes = (s * s * c) as usize;
        let mut images = Vec::with_capacity((end - start) * out_bytes);
        let mut labels = Vec::with_capacity(end - start);
        let mut indices = Vec::with_capacity(end - start);
        for pos in start..end {
            let i = self.order[pos];
            let src = self.reader.read(i)?;
            let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed, self.epoch, pos as u64));
            let out = self.transform.apply(&src, &mut rng);
            debug_assert_eq!(out.data.len(), out_bytes);
            images.extend_from_slice(&out.data);
            labels.push(self.reader.label(i));
            indices.push(i as u64);
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

    fn cfg(shuffle: bool, transform: Transform, workers: usize) -> LoaderConfig {
        LoaderConfig {
            split: "train".into(),
            batch_size: 4,
            shuffle,
            drop_last: false,
            transform,
            seed: 7,
            repeats: 1,
            workers,
            prefetch: 2,
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
        let none = Transform::from_augment(Augment::None, 4, true);
        let l = Loader::new(&ds, cfg(false, none, 3)).expect("loader");
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
        let aug = Transform::from_augment(
            Augment::Crop {
                padding: 1,
                hflip: true,
            },
            4,
            true,
        );
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
    fn the_first_batch_mixes_all_shards() {
        // 40 shards of 8: a window-based shuffle would draw a batch from a few shards only.
        let dir = tempfile::tempdir().expect("tmp");
        let ds = toy(dir.path(), 320, 8);
        let none = Transform::from_augment(Augment::None, 4, true);
        let l = Loader::new(
            &ds,
            LoaderConfig {
                batch_size: 64,
                ..cfg(true, none, 2)
            },
        )
        .expect("l");
        let b = collect(&l, 0);
        let shards: std::collections::BTreeSet<u64> = b[0].indices.iter().map(|i| i / 8).collect();
        assert!(
            shards.len() >= 25,
            "batch 0 drew from {} of 40 shards",
            shards.len()
        );
    }

    #[test]
    fn repeated_augmentation_repeats_in_a_row_and_keeps_the_epoch_length() {
        // 600 examples, 4 repeats: 512 per epoch (600 rounded down to 256s), 128 distinct.
        let dir = tempfile::tempdir().expect("tmp");
        let ds = toy(dir.path(), 600, 64);
        let crop = Transform::from_augment(
            Augment::Crop {
                padding: 1,
                hflip: false,
            },
            4,
            true,
        );
        let l = Loader::new(
            &ds,
            LoaderConfig {
                batch_size: 64,
                drop_last: true,
                repeats: 4,
                ..cfg(true, crop, 2)
            },
        )
        .expect("l");
        assert_eq!((l.epoch_len(), l.batches_per_epoch()), (512, 8));
        let b = collect(&l, 0);
        let idx: Vec<u64> = b.iter().flat_map(|b| b.indices.clone()).collect();
        assert_eq!(idx.len(), 512);
        for run in idx.chunks(4) {
            assert!(run.iter().all(|&i| i == run[0]), "copies in a row: {run:?}");
        }
        let distinct: std::collections::BTreeSet<u64> = idx.iter().copied().collect();
        assert_eq!(distinct.len(), 128);
        // Each copy is augmented on its own: the four crops of one image are not all equal.
        let image = |k: usize| &b[k / 64].images[(k % 64) * 16..(k % 64 + 1) * 16];
        let varied = (0..128)
            .filter(|r| (1..4).any(|c| image(4 * r + c) != image(4 * r)))
            .count();
        assert!(
            varied > 64,
            "only {varied} of 128 images got different crops"
        );
    }
}
