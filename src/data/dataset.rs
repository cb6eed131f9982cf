//! The dataset artifact: one format for every dataset, whatever its source.
//!
//! A dataset is a stage output tree:
//! ```text
//! dataset.json            DatasetMeta: name, storage, resolution, channels, classes, splits, shards
//! classes.tsv             index, wnid, lemma, gloss, n_train, n_val (for people and reports)
//! <split>-<NNNNN>.labels  N little-endian u32 class indices
//! fixed storage:    <split>-<NNNNN>.u8   N × H × W × C uint8, row-major (HWC)
//! jpeg/raw storage: <split>-<NNNNN>.rec  the records one after another (JPEG files, or HWC bytes)
//!                   <split>-<NNNNN>.idx  per record: offset u64, length u32, height u16, width u16
//! ```
//! Small datasets (the mini profile's 32×32 images) are stored `fixed`: decoded once, every
//! image at the dataset's resolution. ImageNet-scale datasets keep each image's aspect ratio at
//! a bounded size (`jpeg` or `raw`, shorter side = the dataset's `height`), and the loader
//! decodes and augments them every epoch, as torchvision does.
//!
//! Every importer writes its splits in a seeded permutation ([`DatasetWriter::permuted`]), the
//! webdataset/FFCV convention: no shard holds one class, whatever the source's order.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Images per shard: ~100 MB at 224×224×3, ~25 MB at 32×32×3.
pub const DEFAULT_SHARD_IMAGES: usize = 2048;

/// The permutation seed of importers that take none (fixed: the same source gives the same
/// dataset).
pub const IMPORT_SEED: u64 = 0x1a9e_7e57;

/// Bytes of one `.idx` entry.
const INDEX_ENTRY: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid dataset.json ({message})")]
    Meta { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Shape { path: PathBuf, message: String },
    #[error("dataset `{dataset}` has no split `{split}` (it has: {have})")]
    NoSplit {
        dataset: String,
        split: String,
        have: String,
    },
    #[error("{path}: record {index} does not decode ({message}); rebuild the dataset stage")]
    Decode {
        path: PathBuf,
        index: usize,
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassInfo {
    /// WordNet id (`n01234567`) or another stable class id.
    pub wnid: String,
    pub lemma: String,
    #[serde(default)]
    pub gloss: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitMeta {
    pub n: usize,
    /// Shard stems in order (`train-00000`); files are `<stem>.u8` (or `.rec` + `.idx`) and
    /// `<stem>.labels`.
    pub shards: Vec<String>,
    /// Images per shard, same order.
    pub shard_sizes: Vec<usize>,
}

/// How a dataset's images are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Storage {
    /// Every image at exactly `height × width`, decoded (`<stem>.u8`).
    #[default]
    Fixed,
    /// Each image at its own size with its aspect ratio, as a baseline JPEG of this quality.
    Jpeg { quality: u8 },
    /// Each image at its own size with its aspect ratio, as HWC bytes.
    Raw,
}

impl Storage {
    pub fn is_fixed(self) -> bool {
        self == Storage::Fixed
    }

    /// `px` as this storage keeps it: a JPEG is encoded here; the other forms are the pixels.
    pub fn store(self, px: &Pixels) -> Result<StoredImage<'_>, String> {
        let bytes = match self {
            Storage::Jpeg { quality } => Cow::Owned(encode_jpeg(px, quality)?),
            Storage::Fixed | Storage::Raw => Cow::Borrowed(px.data.as_slice()),
        };
        Ok(StoredImage {
            bytes,
            height: px.height,
            width: px.width,
            channels: px.channels,
        })
    }
}

/// An image as a dataset stores it (a `fixed` image's bytes, a JPEG file or raw HWC bytes)
/// with its size. Encoding is the costly part of writing a JPEG dataset, so importers make
/// these on their decoding threads ([`Storage::store`]) and the writer only appends them
/// ([`DatasetWriter::push_stored`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredImage<'a> {
    pub bytes: Cow<'a, [u8]>,
    pub height: u32,
    pub width: u32,
    pub channels: u32,
}

impl StoredImage<'_> {
    pub fn into_owned(self) -> StoredImage<'static> {
        StoredImage {
            bytes: Cow::Owned(self.bytes.into_owned()),
            height: self.height,
            width: self.width,
            channels: self.channels,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    pub name: String,
    /// `fixed`: every image's size. `jpeg`/`raw`: the bound of the shorter side (images smaller
    /// than it are kept as they are).
    pub height: u32,
    pub width: u32,
    pub channels: u32,
    #[serde(default)]
    pub storage: Storage,
    pub classes: Vec<ClassInfo>,
    pub splits: BTreeMap<String, SplitMeta>,
}

impl DatasetMeta {
    /// Bytes of one image of a `fixed` dataset.
    pub fn image_bytes(&self) -> usize {
        (self.height * self.width * self.channels) as usize
    }
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }
}

/// One decoded image, HWC u8.
#[derive(Debug, Clone, PartialEq)]
pub struct Pixels {
    pub height: u32,
    pub width: u32,
    pub channels: u32,
    pub data: Vec<u8>,
}

/// Where a record lies in its shard's `.rec` file, and its size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    offset: u64,
    len: u32,
    height: u16,
    width: u16,
}

impl Entry {
    fn to_bytes(self) -> [u8; INDEX_ENTRY] {
        let mut b = [0u8; INDEX_ENTRY];
        b[..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[12..14].copy_from_slice(&self.height.to_le_bytes());
        b[14..].copy_from_slice(&self.width.to_le_bytes());
        b
    }
    fn from_bytes(b: &[u8]) -> Entry {
        let u =
            |r: std::ops::Range<usize>| b[r].iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x));
        Entry {
            offset: u(0..8),
            len: u(8..12) as u32,
            height: u(12..14) as u16,
            width: u(14..16) as u16,
        }
    }
}

/// A shard being written: images (`.u8` or `.rec`), index (`.idx`, variable storage only),
/// labels, records so far, bytes so far.
struct OpenShard {
    data: BufWriter<File>,
    index: Option<BufWriter<File>>,
    labels: BufWriter<File>,
    count: usize,
    offset: u64,
}

/// Writes a dataset split by split, shard by shard.
pub struct DatasetWriter {
    dir: PathBuf,
    meta: DatasetMeta,
    shard_images: usize,
    open: BTreeMap<String, OpenShard>,
    /// Per split, per class counts, for classes.tsv.
    counts: BTreeMap<String, Vec<usize>>,
    /// Some(seed): records go to a staging writer and `finish` writes each split in a seeded
    /// permutation from it.
    permute: Option<(u64, Box<DatasetWriter>)>,
}

impl DatasetWriter {
    /// A `fixed` dataset of `height × width × channels` images.
    pub fn create(
        dir: &Path,
        name: &str,
        (height, width, channels): (u32, u32, u32),
        classes: Vec<ClassInfo>,
    ) -> Result<Self, DatasetError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        Ok(DatasetWriter {
            dir: dir.to_path_buf(),
            meta: DatasetMeta {
                name: name.to_string(),
                height,
                width,
                channels,
                storage: Storage::Fixed,
                classes,
                splits: BTreeMap::new(),
            },
            shard_images: DEFAULT_SHARD_IMAGES,
            open: BTreeMap::new(),
            counts: BTreeMap::new(),
            permute: None,
        })
    }

    /// Store images at their own size (`jpeg` or `raw`), `short_side` being the bound the
    /// importer resized to (recorded as the dataset's height and width).
    pub fn with_storage(mut self, storage: Storage, short_side: u32) -> Self {
        self.meta.storage = storage;
        if !storage.is_fixed() {
            self.meta.height = short_side;
            self.meta.width = short_side;
        }
        self
    }

    pub fn with_shard_images(mut self, n: usize) -> Self {
        self.shard_images = n.max(1);
        self
    }

    /// Write every split in a permutation seeded by `seed` rather than in push order. Records
    /// are staged under `.staging/` and copied once at [`finish`](Self::finish), so memory stays
    /// bounded by one index entry per image.
    pub fn permuted(mut self, seed: u64) -> Result<Self, DatasetError> {
        let staging = self.dir.join(".staging");
        let inner = DatasetWriter {
            dir: staging.clone(),
            meta: self.meta.clone(),
            shard_images: self.shard_images,
            open: BTreeMap::new(),
            counts: BTreeMap::new(),
            permute: None,
        };
        fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        self.permute = Some((seed, Box::new(inner)));
        Ok(self)
    }

    pub fn meta(&self) -> &DatasetMeta {
        &self.meta
    }

    /// Append one image (HWC uint8 at a `fixed` dataset's resolution) with its class index.
    pub fn push(&mut self, split: &str, image: &[u8], label: u32) -> Result<(), DatasetError> {
        let (h, w) = (self.meta.height, self.meta.width);
        if !self.meta.storage.is_fixed() {
            return Err(self.shape_error(
                "push of raw bytes to a dataset stored at variable size; use push_pixels",
            ));
        }
        if image.len() != self.meta.image_bytes() {
            return Err(self.shape_error(&format!(
                "image of {} bytes pushed to a dataset of {}-byte images",
                image.len(),
                self.meta.image_bytes()
            )));
        }
        self.push_record(split, image, (h, w), label)
    }

    /// Append one image of any size: a `fixed` dataset needs it at its resolution; `jpeg` and
    /// `raw` store it as it is (the importer has bounded its size).
    pub fn push_pixels(
        &mut self,
        split: &str,
        px: &Pixels,
        label: u32,
    ) -> Result<(), DatasetError> {
        if px.data.len() != (px.height * px.width * px.channels) as usize {
            return Err(self.shape_error(&format!(
                "{}×{}×{} image of {} bytes",
                px.height,
                px.width,
                px.channels,
                px.data.len()
            )));
        }
        let stored = self
            .meta
            .storage
            .store(px)
            .map_err(|e| self.shape_error(&e))?;
        self.push_stored(split, &stored, label)
    }

    /// Append an image already in this dataset's stored form ([`Storage::store`] with
    /// [`Self::meta`]'s storage, e.g. on a decoding thread).
    pub fn push_stored(
        &mut self,
        split: &str,
        img: &StoredImage,
        label: u32,
    ) -> Result<(), DatasetError> {
        let raw_len = (img.height * img.width * img.channels) as usize;
        let raw_mismatch = self.meta.storage == Storage::Raw && img.bytes.len() != raw_len;
        if img.channels != self.meta.channels || raw_mismatch {
            return Err(self.shape_error(&format!(
                "{}×{}×{} image ({} bytes) pushed to a dataset of {} channels",
                img.height,
                img.width,
                img.channels,
                img.bytes.len(),
                self.meta.channels
            )));
        }
        match self.meta.storage {
            Storage::Fixed => self.push(split, &img.bytes, label),
            _ => self.push_record(split, &img.bytes, (img.height, img.width), label),
        }
    }

    /// Append record `i` of `reader` as it is stored (no decoding) with class `label`: for
    /// subsets of a dataset of the same storage.
    pub fn copy_from(
        &mut self,
        split: &str,
        reader: &SplitReader,
        i: usize,
        label: u32,
    ) -> Result<(), DatasetError> {
        if reader.storage != self.meta.storage || reader.channels != self.meta.channels {
            return Err(self.shape_error("records copied between datasets of different storage"));
        }
        let (record, hw) = reader.read_record(i)?;
        self.push_record(split, &record, hw, label)
    }

    fn shape_error(&self, message: &str) -> DatasetError {
        DatasetError::Shape {
            path: self.dir.clone(),
            message: message.to_string(),
        }
    }

    /// Append one record as stored (fixed bytes, JPEG file or raw bytes).
    fn push_record(
        &mut self,
        split: &str,
        record: &[u8],
        (height, width): (u32, u32),
        label: u32,
    ) -> Result<(), DatasetError> {
        if label as usize >= self.meta.classes.len() {
            return Err(self.shape_error(&format!(
                "label {label} out of range for {} classes",
                self.meta.classes.len()
            )));
        }
        if height > u32::from(u16::MAX) || width > u32::from(u16::MAX) {
            return Err(self.shape_error(&format!(
                "{height}×{width} image: sides are limited to 65,535 px"
            )));
        }
        if let Some((_, staging)) = &mut self.permute {
            return staging.push_record(split, record, (height, width), label);
        }
        let full = self
            .open
            .get(split)
            .is_some_and(|s| s.count >= self.shard_images);
        if full || !self.open.contains_key(split) {
            self.close_shard(split)?;
            self.open_shard(split)?;
        }
        let shard = self.open.get_mut(split).expect("shard opened above");
        shard.data.write_all(record).map_err(io_err(&self.dir))?;
        if let Some(index) = &mut shard.index {
            let e = Entry {
                offset: shard.offset,
                len: record.len() as u32,
                height: height as u16,
                width: width as u16,
            };
            index.write_all(&e.to_bytes()).map_err(io_err(&self.dir))?;
        }
        shard
            .labels
            .write_all(&label.to_le_bytes())
            .map_err(io_err(&self.dir))?;
        shard.count += 1;
        shard.offset += record.len() as u64;
        let meta = self
            .meta
            .splits
            .get_mut(split)
            .expect("split created with its shard");
        meta.n += 1;
        *meta.shard_sizes.last_mut().expect("shard created above") += 1;
        let counts = self
            .counts
            .entry(split.to_string())
            .or_insert_with(|| vec![0; self.meta.classes.len()]);
        counts[label as usize] += 1;
        Ok(())
    }

    fn open_shard(&mut self, split: &str) -> Result<(), DatasetError> {
        let entry = self
            .meta
            .splits
            .entry(split.to_string())
            .or_insert(SplitMeta {
                n: 0,
                shards: Vec::new(),
                shard_sizes: Vec::new(),
            });
        let stem = format!("{split}-{:05}", entry.shards.len());
        entry.shards.push(stem.clone());
        entry.shard_sizes.push(0);
        let create = |ext: &str| -> Result<BufWriter<File>, DatasetError> {
            let p = self.dir.join(format!("{stem}.{ext}"));
            Ok(BufWriter::new(File::create(&p).map_err(io_err(&p))?))
        };
        let fixed = self.meta.storage.is_fixed();
        let shard = OpenShard {
            data: create(if fixed { "u8" } else { "rec" })?,
            index: if fixed { None } else { Some(create("idx")?) },
            labels: create("labels")?,
            count: 0,
            offset: 0,
        };
        self.open.insert(split.to_string(), shard);
        Ok(())
    }

    fn close_shard(&mut self, split: &str) -> Result<(), DatasetError> {
        if let Some(mut s) = self.open.remove(split) {
            s.data.flush().map_err(io_err(&self.dir))?;
            if let Some(i) = &mut s.index {
                i.flush().map_err(io_err(&self.dir))?;
            }
            s.labels.flush().map_err(io_err(&self.dir))?;
        }
        Ok(())
    }

    /// Flush every shard and write `dataset.json` and `classes.tsv`.
    pub fn finish(mut self) -> Result<DatasetMeta, DatasetError> {
        if let Some((seed, staging)) = self.permute.take() {
            let staging_dir = staging.dir.clone();
            let staged = Dataset {
                dir: staging_dir.clone(),
                meta: staging.finish()?,
            };
            for split in staged.meta.splits.keys() {
                let reader = staged.reader(split)?;
                let mut order: Vec<usize> = (0..reader.len()).collect();
                order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ split_salt(split)));
                for i in order {
                    let (record, (h, w)) = reader.read_record(i)?;
                    self.push_record(split, &record, (h, w), reader.label(i))?;
                }
            }
            fs::remove_dir_all(&staging_dir).map_err(io_err(&staging_dir))?;
        }
        let splits: Vec<String> = self.open.keys().cloned().collect();
        for s in splits {
            self.close_shard(&s)?;
        }
        let meta_path = self.dir.join("dataset.json");
        let json = serde_json::to_vec_pretty(&self.meta).expect("DatasetMeta serializes");
        fs::write(&meta_path, json).map_err(io_err(&meta_path))?;
        let mut tsv = String::from("index\twnid\tlemma\tgloss\tn_train\tn_val\n");
        let count = |split: &str, i: usize| self.counts.get(split).map_or(0, |c| c[i]);
        for (i, c) in self.meta.classes.iter().enumerate() {
            let gloss = c.gloss.replace(['\t', '\n'], " ");
            tsv.push_str(&format!(
                "{i}\t{}\t{}\t{gloss}\t{}\t{}\n",
                c.wnid,
                c.lemma,
                count("train", i),
                count("val", i)
            ));
        }
        let tsv_path = self.dir.join("classes.tsv");
        fs::write(&tsv_path, tsv).map_err(io_err(&tsv_path))?;
        Ok(self.meta)
    }
}

/// Each split gets its own permutation stream from the one seed.
fn split_salt(split: &str) -> u64 {
    split.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A baseline JPEG of `px` (RGB or gray).
pub fn encode_jpeg(px: &Pixels, quality: u8) -> Result<Vec<u8>, String> {
    let color = if px.channels == 1 {
        image::ColorType::L8
    } else {
        image::ColorType::Rgb8
    };
    let mut out = Vec::with_capacity(px.data.len() / 6);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(&px.data, px.width, px.height, color)
        .map_err(|e| format!("JPEG encoding failed: {e}"))?;
    Ok(out)
}

/// Decode a JPEG to `channels` (1 or 3) with zune-jpeg (SIMD IDCT and colour conversion).
pub fn decode_jpeg(bytes: &[u8], channels: u32) -> Result<Pixels, String> {
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let space = if channels == 1 {
        ColorSpace::Luma
    } else {
        ColorSpace::RGB
    };
    let options = DecoderOptions::default().jpeg_set_out_colorspace(space);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(
        zune_core::bytestream::ZCursor::new(bytes),
        options,
    );
    let data = d.decode().map_err(|e| e.to_string())?;
    let (w, h) = d.dimensions().ok_or("no image size in the JPEG header")?;
    let px = Pixels {
        height: h as u32,
        width: w as u32,
        channels,
        data,
    };
    if px.data.len() != (px.height * px.width * channels) as usize {
        return Err(format!(
            "decoded {} bytes for a {w}×{h} image",
            px.data.len()
        ));
    }
    Ok(px)
}

/// A dataset opened for reading.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub dir: PathBuf,
    pub meta: DatasetMeta,
}

/// One split of a `fixed` dataset loaded into memory.
#[derive(Debug, Clone)]
pub struct SplitData {
    pub n: usize,
    /// N × H × W × C uint8.
    pub images: Vec<u8>,
    pub labels: Vec<u32>,
}

/// Random access to the records of one split: labels and index in memory (20 bytes an
/// image), pixels read on demand with positioned reads, so many threads share one reader.
#[derive(Debug)]
pub struct SplitReader {
    storage: Storage,
    channels: u32,
    fixed: (u32, u32),
    /// Per shard: data file, its path, its index (empty for `fixed`).
    shards: Vec<(File, PathBuf, Vec<Entry>)>,
    /// First split index of each shard.
    starts: Vec<usize>,
    labels: Vec<u32>,
}

impl SplitReader {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn label(&self, i: usize) -> u32 {
        self.labels[i]
    }
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    fn locate(&self, i: usize) -> (usize, usize) {
        let s = self.starts.partition_point(|&st| st <= i) - 1;
        (s, i - self.starts[s])
    }

    /// Record `i` as stored, with its (height, width).
    pub fn read_record(&self, i: usize) -> Result<(Vec<u8>, (u32, u32)), DatasetError> {
        let (s, k) = self.locate(i);
        let (file, path, index) = &self.shards[s];
        let (offset, len, hw) = if self.storage.is_fixed() {
            let (h, w) = self.fixed;
            let bytes = (h * w * self.channels) as u64;
            (k as u64 * bytes, bytes as usize, (h, w))
        } else {
            let e = index[k];
            (
                e.offset,
                e.len as usize,
                (u32::from(e.height), u32::from(e.width)),
            )
        };
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset).map_err(io_err(path))?;
        Ok((buf, hw))
    }

    /// Record `i` decoded.
    pub fn read(&self, i: usize) -> Result<Pixels, DatasetError> {
        let (record, (height, width)) = self.read_record(i)?;
        let px = match self.storage {
            Storage::Fixed | Storage::Raw => Pixels {
                height,
                width,
                channels: self.channels,
                data: record,
            },
            Storage::Jpeg { .. } => decode_jpeg(&record, self.channels).map_err(|message| {
                let (s, _) = self.locate(i);
                DatasetError::Decode {
                    path: self.shards[s].1.clone(),
                    index: i,
                    message,
                }
            })?,
        };
        if px.data.len() != (height * width * self.channels) as usize {
            let (s, _) = self.locate(i);
            return Err(DatasetError::Decode {
                path: self.shards[s].1.clone(),
                index: i,
                message: format!("{} bytes for a {height}×{width} image", px.data.len()),
            });
        }
        Ok(px)
    }
}

impl Dataset {
    pub fn open(dir: &Path) -> Result<Dataset, DatasetError> {
        let path = dir.join("dataset.json");
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        let meta: DatasetMeta = serde_json::from_slice(&bytes).map_err(|e| DatasetError::Meta {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(Dataset {
            dir: dir.to_path_buf(),
            meta,
        })
    }

    pub fn split_meta(&self, split: &str) -> Result<&SplitMeta, DatasetError> {
        self.meta
            .splits
            .get(split)
            .ok_or_else(|| DatasetError::NoSplit {
                dataset: self.meta.name.clone(),
                split: split.to_string(),
                have: self
                    .meta
                    .splits
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn read_labels(&self, stem: &str, n: usize) -> Result<Vec<u32>, DatasetError> {
        let lab_path = self.dir.join(format!("{stem}.labels"));
        let raw = fs::read(&lab_path).map_err(io_err(&lab_path))?;
        if raw.len() != n * 4 {
            return Err(DatasetError::Shape {
                path: lab_path,
                message: format!(
                    "shard should hold {n} labels; found {} bytes (truncated or corrupt: rebuild the dataset stage)",
                    raw.len()
                ),
            });
        }
        let labels: Vec<u32> = raw
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let classes = self.meta.num_classes() as u32;
        if let Some(bad) = labels.iter().find(|&&l| l >= classes) {
            return Err(DatasetError::Shape {
                path: lab_path,
                message: format!("label {bad} out of range for {classes} classes"),
            });
        }
        Ok(labels)
    }

    /// Open a split for random access (any storage).
    pub fn reader(&self, split: &str) -> Result<SplitReader, DatasetError> {
        let sm = self.split_meta(split)?;
        let fixed = self.meta.storage.is_fixed();
        let mut shards = Vec::with_capacity(sm.shards.len());
        let mut starts = Vec::with_capacity(sm.shards.len());
        let mut labels = Vec::with_capacity(sm.n);
        for (stem, &n) in sm.shards.iter().zip(&sm.shard_sizes) {
            let data_path = self
                .dir
                .join(format!("{stem}.{}", if fixed { "u8" } else { "rec" }));
            let file = File::open(&data_path).map_err(io_err(&data_path))?;
            let size = file.metadata().map_err(io_err(&data_path))?.len();
            let index = if fixed {
                let want = (n * self.meta.image_bytes()) as u64;
                if size != want {
                    return Err(DatasetError::Shape {
                        path: data_path,
                        message: format!(
                            "shard should hold {n} images of {} bytes; found {size} bytes (truncated or corrupt: rebuild the dataset stage)",
                            self.meta.image_bytes()
                        ),
                    });
                }
                Vec::new()
            } else {
                let idx_path = self.dir.join(format!("{stem}.idx"));
                let raw = fs::read(&idx_path).map_err(io_err(&idx_path))?;
                let index: Vec<Entry> = raw
                    .chunks_exact(INDEX_ENTRY)
                    .map(Entry::from_bytes)
                    .collect();
                let end = index.last().map_or(0, |e| e.offset + u64::from(e.len));
                if raw.len() != n * INDEX_ENTRY || end != size {
                    return Err(DatasetError::Shape {
                        path: idx_path,
                        message: format!(
                            "index should describe {n} records ending at byte {size}; it has {} bytes ending at {end} (truncated or corrupt: rebuild the dataset stage)",
                            raw.len()
                        ),
                    });
                }
                index
            };
            starts.push(labels.len());
            labels.extend(self.read_labels(stem, n)?);
            shards.push((file, data_path, index));
        }
        Ok(SplitReader {
            storage: self.meta.storage,
            channels: self.meta.channels,
            fixed: (self.meta.height, self.meta.width),
            shards,
            starts,
            labels,
        })
    }

    fn require_fixed(&self) -> Result<(), DatasetError> {
        if self.meta.storage.is_fixed() {
            Ok(())
        } else {
            Err(DatasetError::Shape {
                path: self.dir.clone(),
                message: "this dataset keeps each image at its own size (storage jpeg/raw); read it record by record (Dataset::reader), or import it with a fixed `resolution`".into(),
            })
        }
    }

    /// Read one shard of a `fixed` dataset: (images, labels), checking sizes.
    pub fn read_shard(
        &self,
        split: &str,
        index: usize,
    ) -> Result<(Vec<u8>, Vec<u32>), DatasetError> {
        self.require_fixed()?;
        let sm = self.split_meta(split)?;
        let stem = &sm.shards[index];
        let n = sm.shard_sizes[index];
        let img_path = self.dir.join(format!("{stem}.u8"));
        let images = fs::read(&img_path).map_err(io_err(&img_path))?;
        if images.len() != n * self.meta.image_bytes() {
            return Err(DatasetError::Shape {
                path: img_path,
                message: format!(
                    "shard should hold {n} images of {} bytes; found {} bytes (truncated or corrupt: rebuild the dataset stage)",
                    self.meta.image_bytes(),
                    images.len(),
                ),
            });
        }
        Ok((images, self.read_labels(stem, n)?))
    }

    /// Load a whole split of a `fixed` dataset into memory.
    pub fn load_split(&self, split: &str) -> Result<SplitData, DatasetError> {
        let sm = self.split_meta(split)?;
        let mut images = Vec::with_capacity(sm.n * self.meta.image_bytes());
        let mut labels = Vec::with_capacity(sm.n);
        for i in 0..sm.shards.len() {
            let (im, lb) = self.read_shard(split, i)?;
            images.extend_from_slice(&im);
            labels.extend_from_slice(&lb);
        }
        Ok(SplitData {
            n: labels.len(),
            images,
            labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_roundtrip_across_shards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let classes = vec![
            ClassInfo {
                wnid: "n1".into(),
                lemma: "a".into(),
                gloss: "first".into(),
            },
            ClassInfo {
                wnid: "n2".into(),
                lemma: "b".into(),
                gloss: "second".into(),
            },
        ];
        let mut w = DatasetWriter::create(dir.path(), "toy", (2, 2, 1), classes)
            .expect("create")
            .with_shard_images(3);
        for i in 0..7u8 {
            w.push("train", &[i; 4], u32::from(i % 2)).expect("push");
        }
        w.push("val", &[9; 4], 1).expect("push val");
        assert!(w.push("val", &[9; 3], 1).is_err(), "wrong size is refused");
        let meta = w.finish().expect("finish");
        assert_eq!(meta.splits["train"].shards.len(), 3);
        let ds = Dataset::open(dir.path()).expect("open");
        let train = ds.load_split("train").expect("load");
        assert_eq!(train.n, 7);
        assert_eq!(&train.images[24..28], &[6; 4]);
        assert_eq!(train.labels, vec![0, 1, 0, 1, 0, 1, 0]);
        let tsv = fs::read_to_string(dir.path().join("classes.tsv")).expect("tsv");
        assert!(tsv.contains("0\tn1\ta\tfirst\t4\t0"));
        assert!(ds.load_split("test").is_err());
    }

    fn classes(n: usize) -> Vec<ClassInfo> {
        (0..n)
            .map(|i| ClassInfo {
                wnid: format!("c{i}"),
                lemma: String::new(),
                gloss: String::new(),
            })
            .collect()
    }

    #[test]
    fn permuted_writer_is_a_seeded_permutation_of_each_split() {
        let write = |seed: u64| {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut w = DatasetWriter::create(dir.path(), "p", (1, 1, 1), classes(10))
                .expect("create")
                .with_shard_images(7)
                .permuted(seed)
                .expect("permuted");
            for i in 0..50u8 {
                w.push("train", &[i], u32::from(i / 5)).expect("push");
            }
            w.finish().expect("finish");
            assert!(!dir.path().join(".staging").exists(), "staging removed");
            let ds = Dataset::open(dir.path()).expect("open");
            let r = ds.reader("train").expect("reader");
            let px: Vec<u8> = (0..r.len())
                .map(|i| r.read(i).expect("read").data[0])
                .collect();
            for (i, &p) in px.iter().enumerate() {
                assert_eq!(
                    r.label(i),
                    u32::from(p / 5),
                    "labels travel with their images"
                );
            }
            px
        };
        let a = write(1);
        assert_ne!(a, (0..50).collect::<Vec<u8>>(), "not in push order");
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<u8>>(), "every image once");
        assert_eq!(a, write(1), "seeded");
        assert_ne!(a, write(2));
    }

    #[test]
    fn jpeg_and_raw_records_keep_their_own_size() {
        for storage in [Storage::Jpeg { quality: 95 }, Storage::Raw] {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut w = DatasetWriter::create(dir.path(), "v", (0, 0, 3), classes(2))
                .expect("create")
                .with_storage(storage, 64)
                .with_shard_images(2);
            for (i, (h, wd)) in [(10u32, 30u32), (64, 48), (5, 5)].into_iter().enumerate() {
                let px = Pixels {
                    height: h,
                    width: wd,
                    channels: 3,
                    data: vec![100 + i as u8 * 50; (h * wd * 3) as usize],
                };
                w.push_pixels("train", &px, i as u32 % 2).expect("push");
            }
            assert!(
                w.push("train", &[0; 12], 0).is_err(),
                "fixed-size push refused"
            );
            w.finish().expect("finish");
            let ds = Dataset::open(dir.path()).expect("open");
            assert_eq!(ds.meta.storage, storage);
            assert!(
                ds.load_split("train").is_err(),
                "whole-split loads are for fixed datasets"
            );
            let r = ds.reader("train").expect("reader");
            let got: Vec<(u32, u32, u8)> = (0..3)
                .map(|i| {
                    let p = r.read(i).expect("read");
                    (p.height, p.width, p.data[p.data.len() / 2])
                })
                .collect();
            for (g, want) in got
                .iter()
                .zip([(10, 30, 100u8), (64, 48, 150), (5, 5, 200)])
            {
                assert_eq!((g.0, g.1), (want.0, want.1), "{storage:?}");
                assert!(
                    g.2.abs_diff(want.2) <= 2,
                    "{storage:?}: {} vs {}",
                    g.2,
                    want.2
                );
            }
            // A truncated index is named, with the fix.
            let idx = dir.path().join("train-00000.idx");
            let bytes = fs::read(&idx).expect("idx");
            fs::write(&idx, &bytes[..20]).expect("truncate");
            let err = ds.reader("train").expect_err("truncated").to_string();
            assert!(
                err.contains("train-00000.idx") && err.contains("rebuild"),
                "{err}"
            );
        }
    }
}
