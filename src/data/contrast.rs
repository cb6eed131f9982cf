//! A contrast dataset: the images of two datasets as two classes, for a classifier that tries
//! to tell them apart (the paper's "dataset classification": ImageNot vs ImageNet, 97%).
//!
//! Class 0 holds images of dataset `a`, class 1 images of dataset `b`; each class is named
//! after its dataset. Every split holds the same number of images per class (by default the
//! smaller dataset's count), drawn by a seeded uniform sample without replacement from each
//! source split and written alternately a, b, a, b… in source order, so any window of the
//! loader's shuffle sees both classes and no source is ever held in memory whole. Two `fixed`
//! sources must already have the same resolution and channels: the stage then only selects and
//! copies bytes, so the classifier sees both through the same preprocessing and cannot win on
//! shape. Sources stored at their own size (`jpeg`/`raw`, e.g. ImageNet and ImageNot at paper
//! scale) need `size: N`: every image of both is decoded, its shorter side resized to N and its
//! centre N×N cropped (the evaluation transform), so neither aspect ratio nor size tells them
//! apart; the contrast is written `fixed` at N×N.
//!
//! Besides the dataset, the builder writes `contrast.json` (the sources, their content digests,
//! counts taken per split, seed) and `sources.tsv` (for every image: split, index, label, source
//! input, index in the source split), so every image traces back to the one it came from.

use super::dataset::{
    ClassInfo, Dataset, DatasetError, DatasetMeta, DatasetWriter, Pixels, SplitReader,
};
use super::transform::{eval_sample, EvalTransform, Interpolation};
use crate::store::digest::Hasher;
use rand::seq::index::sample;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Fewer images per class than this in a split cannot give a meaningful held-out accuracy.
pub const MIN_PER_CLASS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum ContrastError {
    #[error(
        "datasets differ in shape: `{a}` is {sa}, `{b}` is {sb}; a classifier would tell them \
         apart by shape alone. Import both at one `resolution:` and `channels:` \
         (dataset_import / imagenot_build params) before contrasting them"
    )]
    Shape {
        a: String,
        sa: String,
        b: String,
        sb: String,
    },
    #[error(
        "split `{split}`: `{input}` has {have} images, fewer than the {want} per class asked \
         for; lower `per_class.{split}`, or leave it out to take the smaller dataset's count"
    )]
    TooFewAsked {
        split: String,
        input: String,
        have: usize,
        want: usize,
    },
    #[error(
        "split `{split}`: {per_class} images per class, fewer than the {min} a held-out \
         accuracy needs; give `{input}` more images in that split",
        min = MIN_PER_CLASS
    )]
    TooFew {
        split: String,
        input: String,
        per_class: usize,
    },
    #[error(
        "the two datasets share no split (`{a}`: {sa}; `{b}`: {sb}); name them in `per_class:`"
    )]
    NoCommonSplit {
        a: String,
        sa: String,
        b: String,
        sb: String,
    },
    #[error(
        "`{input}` keeps each image at its own size (storage {storage}); give `size: N` (e.g. \
         224) to resize the shorter side of every image of both datasets to N and crop the \
         centre N×N"
    )]
    NeedsSize { input: String, storage: String },
    #[error(
        "datasets differ in channels: `{a}` has {ca}, `{b}` has {cb}; import both with one \
         `channels:`"
    )]
    Channels {
        a: String,
        ca: u32,
        b: String,
        cb: u32,
    },
    #[error("`{a}` and `{b}`: the contrast needs two different inputs")]
    Same { a: String, b: String },
    #[error("input `{input}`: {source}")]
    Dataset { input: String, source: DatasetError },
    #[error(transparent)]
    Output(DatasetError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One side of the contrast: the input stage's name and its dataset.
pub struct Side<'a> {
    pub input: &'a str,
    pub dataset: &'a Dataset,
}

#[derive(Debug, Clone)]
pub struct ContrastOptions {
    pub name: String,
    /// Images per class per split. Every split both datasets have is built; one not named here
    /// takes the smaller dataset's count.
    pub per_class: BTreeMap<String, usize>,
    pub seed: u64,
    /// Some(N): every image resized (shorter side) and centre-cropped to N×N; needed when a
    /// source is stored at its own size. None: `fixed` sources copied as they are.
    pub size: Option<u32>,
}

/// `contrast.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContrastSummary {
    pub name: String,
    pub seed: u64,
    pub height: u32,
    pub width: u32,
    pub channels: u32,
    /// Images per class, per split (both classes hold this many).
    pub per_class: BTreeMap<String, usize>,
    /// Class 0 first.
    pub classes: Vec<SourceInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub label: u32,
    /// The class name: the dataset's name, or `<name> (<input>)` when both have one name.
    pub class: String,
    /// The input stage.
    pub input: String,
    /// The dataset's own name (`dataset.json`), which is the class name.
    pub dataset: String,
    /// sha256 over the source's `dataset.json` and then, split by split, each shard's `.u8`
    /// (`.rec` and `.idx` for jpeg/raw) and `.labels` bytes of the splits used: which images
    /// the class was drawn from.
    pub content_sha256: String,
    /// Images available per split in the source.
    pub available: BTreeMap<String, usize>,
}

fn shape(m: &DatasetMeta) -> String {
    format!("{}×{}×{}", m.height, m.width, m.channels)
}

/// Seeded sorted sample of `k` of `0..n`; one stream per (split, side) so adding a split
/// does not change another's sample.
fn choose(n: usize, k: usize, seed: u64, split: &str, side: u64) -> Vec<usize> {
    let mut h = Hasher::default();
    h.update(&seed.to_le_bytes());
    h.update(split.as_bytes());
    h.update(&side.to_le_bytes());
    let d = h.finish();
    let mut rng = rand_chacha::ChaCha8Rng::from_seed(d.0);
    let mut v = sample(&mut rng, n, k).into_vec();
    v.sort_unstable();
    v
}

/// Reads one source split shard by shard, handing out the chosen images in order and hashing
/// every shard it reads.
struct Picker<'a> {
    side: &'a Side<'a>,
    split: String,
    chosen: std::vec::IntoIter<usize>,
    shard: usize,
    /// Global index of the first image of the loaded shard, and the shard's images (`fixed`
    /// sources; others are read record by record through `reader`).
    start: usize,
    images: Vec<u8>,
    count: usize,
    reader: Option<SplitReader>,
}

impl<'a> Picker<'a> {
    fn new(
        side: &'a Side<'a>,
        split: &str,
        chosen: Vec<usize>,
    ) -> Result<Picker<'a>, ContrastError> {
        let ds = side.dataset;
        let reader = if ds.meta.storage.is_fixed() {
            None
        } else {
            Some(ds.reader(split).map_err(|source| ContrastError::Dataset {
                input: side.input.to_string(),
                source,
            })?)
        };
        Ok(Picker {
            side,
            split: split.to_string(),
            chosen: chosen.into_iter(),
            shard: 0,
            start: 0,
            images: Vec::new(),
            count: 0,
            reader,
        })
    }

    fn err(&self) -> impl Fn(DatasetError) -> ContrastError + '_ {
        |source| ContrastError::Dataset {
            input: self.side.input.to_string(),
            source,
        }
    }

    /// The next chosen image and its index in the source split.
    fn next(&mut self, hasher: &mut Hasher) -> Result<Option<(usize, Pixels)>, ContrastError> {
        let Some(i) = self.chosen.next() else {
            return Ok(None);
        };
        while i >= self.start + self.count {
            self.load(hasher)?;
        }
        if let Some(r) = &self.reader {
            return Ok(Some((i, r.read(i).map_err(self.err())?)));
        }
        let m = &self.side.dataset.meta;
        let b = m.image_bytes();
        let at = (i - self.start) * b;
        let px = Pixels {
            height: m.height,
            width: m.width,
            channels: m.channels,
            data: self.images[at..at + b].to_vec(),
        };
        Ok(Some((i, px)))
    }

    fn load(&mut self, hasher: &mut Hasher) -> Result<(), ContrastError> {
        let ds = self.side.dataset;
        let count = if self.reader.is_some() {
            // Hash the shard's files as stored; the chosen records are read one by one.
            let sm = ds.split_meta(&self.split).map_err(self.err())?;
            let stem = &sm.shards[self.shard];
            for ext in ["rec", "idx", "labels"] {
                let path = ds.dir.join(format!("{stem}.{ext}"));
                let bytes = std::fs::read(&path)
                    .map_err(|source| (self.err())(DatasetError::Io { path, source }))?;
                hasher.update(&bytes);
            }
            sm.shard_sizes[self.shard]
        } else {
            let (images, labels) = ds.read_shard(&self.split, self.shard).map_err(self.err())?;
            hasher.update(&images);
            for l in &labels {
                hasher.update(&l.to_le_bytes());
            }
            self.images = images;
            labels.len()
        };
        self.start += self.count;
        self.count = count;
        self.shard += 1;
        Ok(())
    }

    /// Read (and hash) the shards after the last chosen image.
    fn drain(&mut self, hasher: &mut Hasher) -> Result<(), ContrastError> {
        let shards = self
            .side
            .dataset
            .split_meta(&self.split)
            .map_or(0, |s| s.shards.len());
        while self.shard < shards {
            self.load(hasher)?;
        }
        Ok(())
    }
}

/// Images per class for each split: the asked count, else the smaller dataset's.
fn plan(
    a: &Side,
    b: &Side,
    opt: &ContrastOptions,
) -> Result<BTreeMap<String, usize>, ContrastError> {
    let (ma, mb) = (&a.dataset.meta, &b.dataset.meta);
    // Every split both have, and any split named in `per_class` (which must then exist).
    let mut splits: Vec<String> = ma
        .splits
        .keys()
        .filter(|s| mb.splits.contains_key(*s))
        .chain(opt.per_class.keys())
        .cloned()
        .collect();
    splits.sort();
    splits.dedup();
    if splits.is_empty() {
        let names = |m: &DatasetMeta| m.splits.keys().cloned().collect::<Vec<_>>().join(", ");
        return Err(ContrastError::NoCommonSplit {
            a: a.input.into(),
            sa: names(ma),
            b: b.input.into(),
            sb: names(mb),
        });
    }
    let mut out = BTreeMap::new();
    for split in splits {
        let mut have = Vec::new();
        for side in [a, b] {
            let n = side
                .dataset
                .split_meta(&split)
                .map_err(|source| ContrastError::Dataset {
                    input: side.input.into(),
                    source,
                })?
                .n;
            have.push((side.input, n));
        }
        let smaller = have.iter().min_by_key(|h| h.1).copied().unwrap_or(("", 0));
        let per_class = match opt.per_class.get(&split) {
            Some(&want) => {
                if let Some(&(input, n)) = have.iter().find(|h| h.1 < want) {
                    return Err(ContrastError::TooFewAsked {
                        split,
                        input: input.into(),
                        have: n,
                        want,
                    });
                }
                want
            }
            None => smaller.1,
        };
        if per_class < MIN_PER_CLASS {
            return Err(ContrastError::TooFew {
                split,
                input: smaller.0.into(),
                per_class,
            });
        }
        out.insert(split, per_class);
    }
    Ok(out)
}

/// Build the contrast of `a` (class 0) and `b` (class 1) into `out`.
pub fn build_contrast(
    a: &Side,
    b: &Side,
    opt: &ContrastOptions,
    out: &Path,
    mut progress: impl FnMut(&str, u64, u64),
) -> Result<ContrastSummary, ContrastError> {
    if a.input == b.input {
        return Err(ContrastError::Same {
            a: a.input.into(),
            b: b.input.into(),
        });
    }
    let (ma, mb) = (&a.dataset.meta, &b.dataset.meta);
    if let Some(s) = [a, b]
        .into_iter()
        .find(|s| opt.size.is_none() && !s.dataset.meta.storage.is_fixed())
    {
        let storage = serde_json::to_value(s.dataset.meta.storage).unwrap_or_default();
        return Err(ContrastError::NeedsSize {
            input: s.input.into(),
            storage: storage["kind"].as_str().unwrap_or("?").into(),
        });
    }
    if opt.size.is_some() && ma.channels != mb.channels {
        return Err(ContrastError::Channels {
            a: a.input.into(),
            ca: ma.channels,
            b: b.input.into(),
            cb: mb.channels,
        });
    }
    if opt.size.is_none()
        && (ma.height, ma.width, ma.channels) != (mb.height, mb.width, mb.channels)
    {
        return Err(ContrastError::Shape {
            a: a.input.into(),
            sa: shape(ma),
            b: b.input.into(),
            sb: shape(mb),
        });
    }
    let per_class = plan(a, b, opt)?;
    let sides = [a, b];
    let class_name = |s: &Side| {
        if ma.name == mb.name {
            format!("{} ({})", s.dataset.meta.name, s.input)
        } else {
            s.dataset.meta.name.clone()
        }
    };
    let classes: Vec<ClassInfo> = sides
        .iter()
        .map(|s| ClassInfo {
            wnid: s.input.to_string(),
            lemma: class_name(s),
            gloss: format!(
                "an image of dataset `{}` (input stage `{}`)",
                s.dataset.meta.name, s.input
            ),
        })
        .collect();
    let (height, width) = opt.size.map_or((ma.height, ma.width), |n| (n, n));
    let resize = opt.size.map(|n| EvalTransform {
        resize: n,
        crop: n,
        interpolation: Interpolation::Bilinear,
    });
    let mut w = DatasetWriter::create(out, &opt.name, (height, width, ma.channels), classes)
        .map_err(ContrastError::Output)?;
    let mut hashers = Vec::new();
    for s in sides {
        let mut h = Hasher::default();
        let path = s.dataset.dir.join("dataset.json");
        h.update(
            &std::fs::read(&path).map_err(|source| ContrastError::Dataset {
                input: s.input.into(),
                source: DatasetError::Io { path, source },
            })?,
        );
        hashers.push(h);
    }
    let mut tsv = String::from("split\tindex\tlabel\tsource\tsource_index\n");
    for (split, &k) in &per_class {
        let mut pickers: Vec<Picker> = sides
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let n = s.dataset.split_meta(split).map_or(0, |m| m.n);
                Picker::new(s, split, choose(n, k, opt.seed, split, c as u64))
            })
            .collect::<Result<_, _>>()?;
        let mut index = 0usize;
        for j in 0..k {
            for (c, p) in pickers.iter_mut().enumerate() {
                let (src, img) = p.next(&mut hashers[c])?.ok_or_else(|| {
                    std::io::Error::other(format!("sample of split `{split}` ended early"))
                })?;
                let img = match &resize {
                    Some(t) => eval_sample(&img, t),
                    None => img,
                };
                w.push(split, &img.data, c as u32)
                    .map_err(ContrastError::Output)?;
                let _ = writeln!(tsv, "{split}\t{index}\t{c}\t{}\t{src}", sides[c].input);
                index += 1;
            }
            if j % 4096 == 0 {
                progress(split, j as u64, k as u64);
            }
        }
        for (c, p) in pickers.iter_mut().enumerate() {
            p.drain(&mut hashers[c])?;
        }
    }
    w.finish().map_err(ContrastError::Output)?;
    std::fs::write(out.join("sources.tsv"), tsv)?;
    let summary = ContrastSummary {
        name: opt.name.clone(),
        seed: opt.seed,
        height,
        width,
        channels: ma.channels,
        per_class: per_class.clone(),
        classes: sides
            .iter()
            .zip(hashers)
            .enumerate()
            .map(|(c, (s, h))| SourceInfo {
                label: c as u32,
                class: class_name(s),
                input: s.input.to_string(),
                dataset: s.dataset.meta.name.clone(),
                content_sha256: h.finish().hex(),
                available: per_class
                    .keys()
                    .map(|sp| (sp.clone(), s.dataset.split_meta(sp).map_or(0, |m| m.n)))
                    .collect(),
            })
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&summary).unwrap_or_default();
    std::fs::write(out.join("contrast.json"), json)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::Storage;

    /// A dataset named `name` of `h`×`w`×`c` images; image i of a split has every byte
    /// `base + i` (mod 256), so a written image says which source image it was.
    fn toy(dir: &Path, name: &str, (h, w, c): (u32, u32, u32), sizes: &[(&str, usize)], base: u8) {
        let classes = vec![
            ClassInfo {
                wnid: "x".into(),
                lemma: "x".into(),
                gloss: String::new(),
            },
            ClassInfo {
                wnid: "y".into(),
                lemma: "y".into(),
                gloss: String::new(),
            },
        ];
        let mut wr = DatasetWriter::create(dir, name, (h, w, c), classes)
            .expect("writer")
            .with_shard_images(7);
        let bytes = (h * w * c) as usize;
        for (split, n) in sizes {
            for i in 0..*n {
                let px = vec![base.wrapping_add(i as u8); bytes];
                wr.push(split, &px, (i % 2) as u32).expect("push");
            }
        }
        wr.finish().expect("finish");
    }

    fn opts(per_class: &[(&str, usize)], seed: u64) -> ContrastOptions {
        ContrastOptions {
            name: "a-vs-b".into(),
            per_class: per_class.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            seed,
            size: None,
        }
    }

    struct Two {
        _tmp: tempfile::TempDir,
        a: Dataset,
        b: Dataset,
        out: std::path::PathBuf,
    }

    fn two(shape_b: (u32, u32, u32)) -> Two {
        let tmp = tempfile::tempdir().expect("tmp");
        let (da, db) = (tmp.path().join("a"), tmp.path().join("b"));
        toy(&da, "alpha", (4, 4, 3), &[("train", 40), ("val", 15)], 0);
        toy(
            &db,
            "beta",
            shape_b,
            &[("train", 25), ("val", 30), ("test", 12)],
            100,
        );
        let out = tmp.path().join("out");
        Two {
            a: Dataset::open(&da).expect("a"),
            b: Dataset::open(&db).expect("b"),
            out,
            _tmp: tmp,
        }
    }

    fn build(t: &Two, o: &ContrastOptions, out: &Path) -> Result<ContrastSummary, ContrastError> {
        let a = Side {
            input: "in_a",
            dataset: &t.a,
        };
        let b = Side {
            input: "in_b",
            dataset: &t.b,
        };
        build_contrast(&a, &b, o, out, |_, _, _| {})
    }

    #[test]
    fn balanced_by_default_on_the_smaller_count_and_traceable() {
        let t = two((4, 4, 3));
        let s = build(&t, &opts(&[], 3), &t.out).expect("builds");
        // Common splits only; per class = the smaller dataset's count.
        assert_eq!(
            s.per_class,
            BTreeMap::from([("train".into(), 25), ("val".into(), 15)])
        );
        let ds = Dataset::open(&t.out).expect("open");
        let names: Vec<&str> = ds.meta.classes.iter().map(|c| c.lemma.as_str()).collect();
        assert_eq!(names, ["alpha", "beta"]);
        for (split, k) in [("train", 25), ("val", 15)] {
            let d = ds.load_split(split).expect("split");
            assert_eq!(d.n, 2 * k);
            // Alternating a, b, a, b…
            assert!(d
                .labels
                .iter()
                .enumerate()
                .all(|(i, &l)| l as usize == i % 2));
        }
        // Every written image is the source image sources.tsv names.
        let tsv = std::fs::read_to_string(t.out.join("sources.tsv")).expect("tsv");
        let val = ds.load_split("val").expect("val");
        let mut seen_b = Vec::new();
        for line in tsv.lines().skip(1).filter(|l| l.starts_with("val\t")) {
            let f: Vec<&str> = line.split('\t').collect();
            let (i, label, src): (usize, u32, usize) = (
                f[1].parse().expect("index"),
                f[2].parse().expect("label"),
                f[4].parse().expect("source index"),
            );
            assert_eq!(val.labels[i], label);
            let base = if label == 0 { 0u8 } else { 100 };
            assert_eq!(val.images[i * 48], base.wrapping_add(src as u8));
            if label == 1 {
                seen_b.push(src);
            }
        }
        assert_eq!(seen_b.len(), 15);
        assert!(seen_b.windows(2).all(|w| w[0] < w[1]), "distinct, in order");
        assert!(seen_b.iter().all(|&i| i < 30));
        let json: ContrastSummary =
            serde_json::from_slice(&std::fs::read(t.out.join("contrast.json")).expect("json"))
                .expect("parses");
        assert_eq!(json, s);
        assert_eq!(s.classes[1].available["val"], 30);
        assert_eq!(s.classes[0].content_sha256.len(), 64);
        assert_ne!(s.classes[0].content_sha256, s.classes[1].content_sha256);
    }

    #[test]
    fn seeded_deterministic_and_seed_sensitive() {
        let t = two((4, 4, 3));
        let o = opts(&[("val", 12)], 5);
        let (x, y, z) = (t.out.join("x"), t.out.join("y"), t.out.join("z"));
        let s1 = build(&t, &o, &x).expect("x");
        let s2 = build(&t, &o, &y).expect("y");
        build(&t, &opts(&[("val", 12)], 6), &z).expect("z");
        let read = |d: &Path, f: &str| std::fs::read(d.join(f)).expect("read");
        for f in [
            "val-00000.u8",
            "val-00000.labels",
            "sources.tsv",
            "dataset.json",
        ] {
            assert_eq!(read(&x, f), read(&y, f), "{f} is deterministic");
        }
        assert_eq!(s1, s2);
        assert_ne!(
            read(&x, "sources.tsv"),
            read(&z, "sources.tsv"),
            "seed matters"
        );
        // The content digest does not depend on the sample.
        assert_eq!(s1.classes[1].content_sha256, {
            let s3 = build(&t, &opts(&[("val", 12)], 6), &t.out.join("w")).expect("w");
            s3.classes[1].content_sha256.clone()
        });
        // The named split as asked, the other common split at the smaller count.
        assert_eq!(
            s1.per_class,
            BTreeMap::from([("train".into(), 25), ("val".into(), 12)])
        );
    }

    #[test]
    fn datasets_of_one_name_are_told_apart_by_input() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (da, db) = (tmp.path().join("a"), tmp.path().join("b"));
        toy(&da, "same", (2, 2, 1), &[("val", 12)], 0);
        toy(&db, "same", (2, 2, 1), &[("val", 12)], 50);
        let (a, b) = (
            Dataset::open(&da).expect("a"),
            Dataset::open(&db).expect("b"),
        );
        let s = build_contrast(
            &Side {
                input: "x",
                dataset: &a,
            },
            &Side {
                input: "y",
                dataset: &b,
            },
            &opts(&[], 0),
            &tmp.path().join("out"),
            |_, _, _| {},
        )
        .expect("builds");
        assert_eq!(
            (s.classes[0].class.as_str(), s.classes[1].class.as_str()),
            ("same (x)", "same (y)")
        );
    }

    #[test]
    fn refuses_different_shapes_naming_both_and_the_fix() {
        let t = two((4, 4, 1));
        let e = build(&t, &opts(&[], 0), &t.out)
            .expect_err("shape")
            .to_string();
        assert!(
            e.contains("`in_a` is 4×4×3") && e.contains("`in_b` is 4×4×1"),
            "{e}"
        );
        assert!(e.contains("resolution:") && e.contains("channels:"), "{e}");
        assert!(!t.out.join("dataset.json").exists());
    }

    /// A `jpeg` dataset of `n` val images of varying aspect, every byte of image i near
    /// `base + 10 i`.
    fn jpeg_toy(dir: &Path, n: usize, base: u8) {
        let classes = vec![ClassInfo {
            wnid: "x".into(),
            lemma: "x".into(),
            gloss: String::new(),
        }];
        let mut wr = DatasetWriter::create(dir, "web", (16, 16, 3), classes)
            .expect("writer")
            .with_storage(Storage::Jpeg { quality: 95 }, 16)
            .with_shard_images(4);
        for i in 0..n {
            let (height, width) = if i % 2 == 0 { (16, 24) } else { (20, 16) };
            let px = Pixels {
                height,
                width,
                channels: 3,
                data: vec![base + 10 * i as u8; (height * width * 3) as usize],
            };
            wr.push_pixels("val", &px, 0).expect("push");
        }
        wr.finish().expect("finish");
    }

    #[test]
    fn jpeg_sources_are_resized_and_centre_cropped_to_size() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (da, db) = (tmp.path().join("a"), tmp.path().join("b"));
        toy(&da, "alpha", (8, 8, 3), &[("val", 12)], 0);
        jpeg_toy(&db, 12, 20);
        let (a, b) = (
            Dataset::open(&da).expect("a"),
            Dataset::open(&db).expect("b"),
        );
        let (sa, sb) = (
            Side {
                input: "fixed",
                dataset: &a,
            },
            Side {
                input: "web",
                dataset: &b,
            },
        );
        let out = tmp.path().join("out");
        let e = build_contrast(&sa, &sb, &opts(&[], 0), &out, |_, _, _| {})
            .expect_err("needs a size")
            .to_string();
        assert!(
            e.contains("`web`") && e.contains("storage jpeg") && e.contains("size: N"),
            "{e}"
        );
        let o = ContrastOptions {
            size: Some(8),
            ..opts(&[], 0)
        };
        let s = build_contrast(&sa, &sb, &o, &out, |_, _, _| {}).expect("builds");
        assert_eq!((s.height, s.width, s.channels), (8, 8, 3));
        let ds = Dataset::open(&out).expect("open");
        assert!(ds.meta.storage.is_fixed());
        let val = ds.load_split("val").expect("val");
        assert_eq!(val.n, 24);
        let tsv = std::fs::read_to_string(out.join("sources.tsv")).expect("tsv");
        for line in tsv.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            let (i, label, src): (usize, u32, usize) = (
                f[1].parse().expect("index"),
                f[2].parse().expect("label"),
                f[4].parse().expect("source index"),
            );
            let img = &val.images[i * 192..(i + 1) * 192];
            if label == 0 {
                // Already 8×8: the transform leaves a fixed image as it is.
                assert!(img.iter().all(|&v| v == src as u8), "fixed image {src}");
            } else {
                // Flat colour survives JPEG and resizing within a few levels.
                let want = i32::from(20 + 10 * src as u8);
                assert!(
                    img.iter().all(|&v| (i32::from(v) - want).abs() <= 3),
                    "jpeg image {src}"
                );
            }
        }
        // The digest covers the jpeg source's records and index.
        assert_eq!(s.classes[1].content_sha256.len(), 64);
    }

    #[test]
    fn too_few_images_and_missing_splits_are_named() {
        let t = two((4, 4, 3));
        let e = build(&t, &opts(&[("val", 20)], 0), &t.out)
            .expect_err("too many asked")
            .to_string();
        assert!(
            e.contains("`in_a` has 15 images") && e.contains("per_class.val"),
            "{e}"
        );
        let e = build(&t, &opts(&[("val", 5)], 0), &t.out)
            .expect_err("too few")
            .to_string();
        assert!(e.contains("fewer than the 10"), "{e}");
        let e = build(&t, &opts(&[("test", 10)], 0), &t.out)
            .expect_err("no such split")
            .to_string();
        assert!(
            e.contains("input `in_a`") && e.contains("no split `test`"),
            "{e}"
        );
    }
}
