//! The dataset artifact: one format for every dataset, whatever its source.
//!
//! A dataset is a stage output tree:
//! ```text
//! dataset.json            DatasetMeta: name, resolution, channels, classes, splits and shards
//! classes.tsv             index, wnid, lemma, gloss, n_train, n_val (for people and reports)
//! <split>-<NNNNN>.u8      images of one shard, N × H × W × C uint8, row-major (HWC)
//! <split>-<NNNNN>.labels  N little-endian u32 class indices
//! ```
//! Images are decoded and resized once, when the dataset is built, so training never decodes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Images per shard: ~100 MB at 224×224×3, ~25 MB at 32×32×3.
pub const DEFAULT_SHARD_IMAGES: usize = 2048;

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
    /// Shard stems in order (`train-00000`); files are `<stem>.u8` and `<stem>.labels`.
    pub shards: Vec<String>,
    /// Images per shard, same order.
    pub shard_sizes: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    pub name: String,
    pub height: u32,
    pub width: u32,
    pub channels: u32,
    pub classes: Vec<ClassInfo>,
    pub splits: BTreeMap<String, SplitMeta>,
}

impl DatasetMeta {
    pub fn image_bytes(&self) -> usize {
        (self.height * self.width * self.channels) as usize
    }
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }
}

/// Writes a dataset split by split, shard by shard.
pub struct DatasetWriter {
    dir: PathBuf,
    meta: DatasetMeta,
    shard_images: usize,
    /// Open shard per split: (images, labels, count in shard).
    open: BTreeMap<String, (BufWriter<File>, BufWriter<File>, usize)>,
    /// Per split, per class counts, for classes.tsv.
    counts: BTreeMap<String, Vec<usize>>,
}

impl DatasetWriter {
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
                classes,
                splits: BTreeMap::new(),
            },
            shard_images: DEFAULT_SHARD_IMAGES,
            open: BTreeMap::new(),
            counts: BTreeMap::new(),
        })
    }

    pub fn with_shard_images(mut self, n: usize) -> Self {
        self.shard_images = n.max(1);
        self
    }

    /// Append one image (HWC uint8 at the dataset's resolution) with its class index.
    pub fn push(&mut self, split: &str, image: &[u8], label: u32) -> Result<(), DatasetError> {
        let want = self.meta.image_bytes();
        if image.len() != want {
            return Err(DatasetError::Shape {
                path: self.dir.clone(),
                message: format!(
                    "image of {} bytes pushed to a dataset of {want}-byte images",
                    image.len()
                ),
            });
        }
        if label as usize >= self.meta.classes.len() {
            return Err(DatasetError::Shape {
                path: self.dir.clone(),
                message: format!(
                    "label {label} out of range for {} classes",
                    self.meta.classes.len()
                ),
            });
        }
        let full = self
            .open
            .get(split)
            .is_some_and(|(_, _, n)| *n >= self.shard_images);
        if full || !self.open.contains_key(split) {
            self.close_shard(split)?;
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
            let img = self.dir.join(format!("{stem}.u8"));
            let lab = self.dir.join(format!("{stem}.labels"));
            let img_f = File::create(&img).map_err(io_err(&img))?;
            let lab_f = File::create(&lab).map_err(io_err(&lab))?;
            self.open.insert(
                split.to_string(),
                (BufWriter::new(img_f), BufWriter::new(lab_f), 0),
            );
        }
        let (img_w, lab_w, n) = self.open.get_mut(split).expect("shard opened above");
        img_w.write_all(image).map_err(io_err(&self.dir))?;
        lab_w
            .write_all(&label.to_le_bytes())
            .map_err(io_err(&self.dir))?;
        *n += 1;
        let meta = self
            .meta
            .splits
            .get_mut(split)
            .expect("split created above");
        meta.n += 1;
        *meta.shard_sizes.last_mut().expect("shard created above") += 1;
        let counts = self
            .counts
            .entry(split.to_string())
            .or_insert_with(|| vec![0; self.meta.classes.len()]);
        counts[label as usize] += 1;
        Ok(())
    }

    fn close_shard(&mut self, split: &str) -> Result<(), DatasetError> {
        if let Some((mut img, mut lab, _)) = self.open.remove(split) {
            img.flush().map_err(io_err(&self.dir))?;
            lab.flush().map_err(io_err(&self.dir))?;
        }
        Ok(())
    }

    /// Flush every shard and write `dataset.json` and `classes.tsv`.
    pub fn finish(mut self) -> Result<DatasetMeta, DatasetError> {
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

/// A dataset opened for reading.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub dir: PathBuf,
    pub meta: DatasetMeta,
}

/// One split loaded into memory.
#[derive(Debug, Clone)]
pub struct SplitData {
    pub n: usize,
    /// N × H × W × C uint8.
    pub images: Vec<u8>,
    pub labels: Vec<u32>,
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

    /// Read one shard: (images, labels), checking sizes against the metadata.
    pub fn read_shard(
        &self,
        split: &str,
        index: usize,
    ) -> Result<(Vec<u8>, Vec<u32>), DatasetError> {
        let sm = self.split_meta(split)?;
        let stem = &sm.shards[index];
        let n = sm.shard_sizes[index];
        let img_path = self.dir.join(format!("{stem}.u8"));
        let lab_path = self.dir.join(format!("{stem}.labels"));
        let images = fs::read(&img_path).map_err(io_err(&img_path))?;
        let raw = fs::read(&lab_path).map_err(io_err(&lab_path))?;
        if images.len() != n * self.meta.image_bytes() || raw.len() != n * 4 {
            return Err(DatasetError::Shape {
                path: img_path,
                message: format!(
                    "shard should hold {n} images of {} bytes and {n} labels; found {} image bytes and {} label bytes (truncated or corrupt: rebuild the dataset stage)",
                    self.meta.image_bytes(),
                    images.len(),
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
        Ok((images, labels))
    }

    /// Load a whole split into memory.
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
}
