//! Two more dataset layouts into the dataset format: ImageNet's ImageFolder and CIFAR-10's
//! binary batches (the paper profile's benchmark side and its transfer target).
//!
//! - ImageFolder: `ROOT/train/<class>/*.{JPEG,jpg,png}`; classes are the sorted folder names
//!   of `train` (wnids for ImageNet). Validation is `ROOT/val/<class>/…`, or ImageNet's
//!   official flat `ROOT/val/*.JPEG` with its labels in `LOC_val_solution.csv` (Kaggle's
//!   release: `ImageId,PredictionString`, the first wnid of each row), in a file of one wnid
//!   per line in image-number order (`ILSVRC2012_val_00000001` first), or in the official
//!   devkit's `ILSVRC2012_validation_ground_truth.txt` (one ILSVRC2012_ID per line, mapped to
//!   wnids by `meta.mat` beside it; [`crate::data::matfile`]). Each split is written in
//!   a seeded permutation of its files; images are decoded in parallel, a chunk at a time, so
//!   memory stays bounded whatever the dataset's size. Undecodable files are skipped and
//!   counted, up to a cap.
//! - CIFAR-10 binary (`cifar-10-batches-bin/`): `data_batch_{1..5}.bin` and `test_batch.bin`,
//!   records of 1 label byte + 3,072 bytes of planar 32×32 R, G, B; class names from
//!   `batches.meta.txt`.

use super::dataset::{
    decode_jpeg, ClassInfo, DatasetError, DatasetMeta, DatasetWriter, Pixels, Storage, StoredImage,
    IMPORT_SEED,
};
use super::error::{require, BadCounter, DataError};
use super::imageops::{fit, flatten_on_white, Shape};
use super::transform::{resize_region, Interpolation};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const IMAGE_EXTS: &[&str] = &["jpeg", "jpg", "png"];

/// Files decoded together: enough to keep every thread busy, few enough to bound memory.
const CHUNK_PER_THREAD: usize = 32;

/// How imported images are sized and stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ImportSize {
    /// Every image squashed to one shape, stored decoded (small datasets).
    Fixed(Shape),
    /// Aspect ratio kept: images whose shorter side exceeds `short_side` are shrunk to it
    /// (bicubic, antialiased); stored as `storage` (jpeg or raw).
    ShortSide {
        short_side: u32,
        channels: u32,
        storage: Storage,
    },
}

impl ImportSize {
    /// How a dataset sized this way stores its images.
    pub fn storage(self) -> Storage {
        match self {
            ImportSize::Fixed(_) => Storage::Fixed,
            ImportSize::ShortSide { storage, .. } => storage,
        }
    }

    /// The writer of a dataset sized this way (`fixed`, or `jpeg`/`raw` bounded by
    /// `short_side`): one code path for every stage that writes decoded images.
    pub fn writer(
        self,
        out: &Path,
        name: &str,
        classes: Vec<ClassInfo>,
    ) -> Result<DatasetWriter, DatasetError> {
        Ok(match self {
            ImportSize::Fixed(shape) => DatasetWriter::create(out, name, shape.tuple(), classes)?,
            ImportSize::ShortSide {
                short_side,
                channels,
                storage,
            } => DatasetWriter::create(out, name, (short_side, short_side, channels), classes)?
                .with_storage(storage, short_side),
        })
    }
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| IMAGE_EXTS.contains(&e.to_string_lossy().to_lowercase().as_str()))
}

/// Decode any image file to RGB (alpha composited on white) or gray; JPEGs with zune-jpeg.
pub fn decode_file(path: &Path, channels: u32) -> Result<Pixels, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    decode_bytes(&bytes, channels).map_err(|e| format!("{}: {e}", path.display()))
}

/// Decode an encoded image (JPEG, PNG, …) to RGB (alpha composited on white) or gray, at its
/// own size.
pub fn decode_bytes(bytes: &[u8], channels: u32) -> Result<Pixels, String> {
    let is_jpeg = bytes.starts_with(&[0xFF, 0xD8]);
    if is_jpeg {
        if let Ok(px) = decode_jpeg(bytes, channels) {
            return Ok(px);
        }
    }
    // PNG, and the rare JPEG zune-jpeg refuses (the image crate decodes more variants).
    let img = image::load_from_memory(bytes).map_err(|e| format!("undecodable ({e})"))?;
    let rgb = if img.color().has_alpha() {
        flatten_on_white(&img.to_rgba8())
    } else {
        img.to_rgb8()
    };
    let (width, height) = rgb.dimensions();
    let data = if channels == 1 {
        image::DynamicImage::ImageRgb8(rgb).to_luma8().into_raw()
    } else {
        rgb.into_raw()
    };
    Ok(Pixels {
        height,
        width,
        channels,
        data,
    })
}

/// Shrink so the shorter side is at most `short_side` (torchvision's `Resize(short_side)`
/// sizes), keeping the aspect ratio; smaller images are kept as they are.
pub fn bound_short_side(px: Pixels, short_side: u32) -> Pixels {
    let (w, h) = (px.width, px.height);
    let short = w.min(h);
    if short <= short_side {
        return px;
    }
    let long = u64::from(w.max(h)) * u64::from(short_side) / u64::from(short);
    let (nw, nh) = if w <= h {
        (short_side, long as u32)
    } else {
        (long as u32, short_side)
    };
    resize_region(&px, (0, 0, w, h), (nw, nh), Interpolation::Bicubic)
}

/// Decode, size and store (JPEG-encode, for `jpeg` storage) `files` on `threads` threads;
/// errors per file.
pub fn decode_files(
    files: &[PathBuf],
    size: ImportSize,
    threads: usize,
) -> Vec<Result<StoredImage<'static>, String>> {
    super::parallel::map_in_order(files, threads, |f| {
        let px = match size {
            ImportSize::Fixed(shape) => {
                let img =
                    image::open(f).map_err(|e| format!("{}: undecodable ({e})", f.display()))?;
                Pixels {
                    height: shape.height,
                    width: shape.width,
                    channels: shape.channels,
                    data: fit(&img, shape),
                }
            }
            ImportSize::ShortSide {
                short_side,
                channels,
                ..
            } => bound_short_side(decode_file(f, channels)?, short_side),
        };
        Ok(size.storage().store(&px)?.into_owned())
    })
}

/// Options of an ImageFolder import.
#[derive(Debug, Clone)]
pub struct FolderImport {
    pub name: String,
    pub size: ImportSize,
    pub threads: usize,
    pub max_bad: usize,
    /// Seed of each split's permutation.
    pub seed: u64,
    /// Labels of a flat `val/` folder; found in ROOT when not given.
    pub val_labels: Option<PathBuf>,
}

/// Import an ImageFolder tree.
pub fn import_imagefolder(
    root: &Path,
    out: &Path,
    opt: &FolderImport,
) -> Result<DatasetMeta, DataError> {
    require(
        root,
        "give the folder holding `train/<class>/` and `val/<class>/` (or ImageNet's flat `val/`)",
    )?;
    let train = root.join("train");
    require(
        &train,
        "an ImageFolder root needs a `train/` folder of class folders",
    )?;
    let class_dirs: Vec<PathBuf> = list_dir(&train)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if class_dirs.is_empty() {
        return Err(DataError::format(&train, "no class folders"));
    }
    let names: Vec<String> = class_dirs
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let classes = names
        .iter()
        .map(|n| ClassInfo {
            wnid: n.clone(),
            lemma: n.clone(),
            gloss: String::new(),
        })
        .collect();
    let mut w = opt.size.writer(out, &opt.name, classes)?;
    let mut bad = BadCounter::new(root, opt.max_bad);
    for split in ["train", "val"] {
        let split_dir = root.join(split);
        if !split_dir.exists() {
            continue;
        }
        let mut files = split_files(root, &split_dir, &names, opt.val_labels.as_deref())?;
        files.shuffle(&mut ChaCha8Rng::seed_from_u64(
            opt.seed ^ (split == "val") as u64,
        ));
        let chunk = opt.threads.max(1) * CHUNK_PER_THREAD;
        for part in files.chunks(chunk) {
            let paths: Vec<PathBuf> = part.iter().map(|(p, _)| p.clone()).collect();
            for (r, (_, label)) in decode_files(&paths, opt.size, opt.threads)
                .into_iter()
                .zip(part)
            {
                match r {
                    Ok(img) => w.push_stored(split, &img, *label)?,
                    Err(e) => bad.skip(e)?,
                }
            }
        }
    }
    Ok(w.finish()?)
}

/// The (file, label) pairs of one split: class folders, or a flat folder with a label file.
fn split_files(
    root: &Path,
    split_dir: &Path,
    names: &[String],
    val_labels: Option<&Path>,
) -> Result<Vec<(PathBuf, u32)>, DataError> {
    let entries = list_dir(split_dir)?;
    let has_class_dirs = entries.iter().any(|p| p.is_dir());
    if has_class_dirs {
        let mut out = Vec::new();
        for (label, class) in names.iter().enumerate() {
            let dir = split_dir.join(class);
            if !dir.exists() {
                continue;
            }
            out.extend(
                list_dir(&dir)?
                    .into_iter()
                    .filter(|p| is_image(p))
                    .map(|p| (p, label as u32)),
            );
        }
        return Ok(out);
    }
    let images: Vec<PathBuf> = entries.into_iter().filter(|p| is_image(p)).collect();
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let labels_path = match val_labels {
        Some(p) => p.to_path_buf(),
        None => [
            "LOC_val_solution.csv",
            "val_labels.txt",
            "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt",
        ]
            .iter()
            .map(|f| root.join(f))
            .find(|p| p.exists())
            .ok_or_else(|| DataError::Missing {
                path: split_dir.to_path_buf(),
                hint: "a flat validation folder needs its labels: put ImageNet's `LOC_val_solution.csv`, a one-wnid-per-line `val_labels.txt` or the unpacked devkit `ILSVRC2012_devkit_t12/` in the root, or give `val_labels`".into(),
            })?,
    };
    let wnid_of = read_val_labels(&labels_path)?;
    let index: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let mut out = Vec::with_capacity(images.len());
    for p in images {
        let stem = p
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let wnid = wnid_of.get(&stem).ok_or_else(|| {
            DataError::format(
                &labels_path,
                format!("no label for `{}` (image {stem})", p.display()),
            )
        })?;
        let label = index.get(wnid.as_str()).ok_or_else(|| {
            DataError::format(
                &labels_path,
                format!("{stem} is labelled `{wnid}`, which is not a class folder of train/"),
            )
        })?;
        out.push((p, *label));
    }
    Ok(out)
}

/// Image id (file stem) → wnid, from `LOC_val_solution.csv` or a one-wnid-per-line file
/// (line k labels `ILSVRC2012_val_{k:08}`).
pub fn read_val_labels(path: &Path) -> Result<HashMap<String, String>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut out = HashMap::new();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    let csv = lines
        .peek()
        .is_some_and(|l| l.starts_with("ImageId,PredictionString"));
    if csv {
        lines.next();
        for (i, line) in lines.enumerate() {
            let (id, pred) = line.split_once(',').ok_or_else(|| {
                DataError::format(
                    path,
                    format!("line {}: expected `ImageId,PredictionString`", i + 2),
                )
            })?;
            let wnid = pred.split_whitespace().next().ok_or_else(|| {
                DataError::format(path, format!("line {}: no wnid for {id}", i + 2))
            })?;
            out.insert(id.trim().to_string(), wnid.to_string());
        }
    } else {
        // The devkit's ground truth numbers classes by ILSVRC2012_ID; meta.mat, beside it in
        // the devkit's data/, maps those to wnids.
        let mut ids: Option<HashMap<u32, String>> = None;
        for (i, line) in lines.enumerate() {
            let label = line.trim();
            let wnid = match label.parse::<u32>() {
                Ok(id) => {
                    if ids.is_none() {
                        let meta = path.with_file_name("meta.mat");
                        require(&meta, "numeric labels (the devkit's ILSVRC2012_validation_ground_truth.txt) are ILSVRC2012_IDs: put the devkit's data/meta.mat beside the labels file, or give LOC_val_solution.csv or one wnid per line")?;
                        ids = Some(super::imagenet::read_devkit_meta(&meta)?);
                    }
                    ids.as_ref()
                        .and_then(|m| m.get(&id))
                        .ok_or_else(|| {
                            DataError::format(
                                path,
                                format!("line {}: ILSVRC2012_ID {id} is not in meta.mat", i + 1),
                            )
                        })?
                        .as_str()
                }
                Err(_) => label,
            };
            out.insert(format!("ILSVRC2012_val_{:08}", i + 1), wnid.to_string());
        }
    }
    Ok(out)
}

/// Import CIFAR-10's binary batches from `dir`; `shape` None keeps 32×32×3.
pub fn import_cifar10(
    dir: &Path,
    out: &Path,
    shape: Option<Shape>,
) -> Result<DatasetMeta, DataError> {
    require(
        dir,
        "give the `cifar-10-batches-bin` folder of CIFAR-10's binary version",
    )?;
    let meta_path = dir.join("batches.meta.txt");
    let names: Vec<String> = match std::fs::read_to_string(&meta_path) {
        Ok(t) => t
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => (0..10).map(|i| format!("class {i}")).collect(),
    };
    let classes: Vec<ClassInfo> = names
        .iter()
        .enumerate()
        .map(|(i, n)| ClassInfo {
            wnid: format!("cifar10:{i}"),
            lemma: n.clone(),
            gloss: String::new(),
        })
        .collect();
    let target = shape.unwrap_or(Shape::new(32, 32, 3));
    let mut w =
        DatasetWriter::create(out, "cifar10", target.tuple(), classes)?.permuted(IMPORT_SEED)?;
    let files = (1..=5)
        .map(|i| ("train", format!("data_batch_{i}.bin")))
        .chain([("val", "test_batch.bin".to_string())]);
    for (split, f) in files {
        let path = dir.join(&f);
        let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
        if bytes.len() % 3073 != 0 {
            return Err(DataError::format(
                &path,
                format!(
                    "truncated: {} bytes is not a whole number of 3,073-byte records",
                    bytes.len()
                ),
            ));
        }
        let mut hwc = vec![0u8; 3072];
        for rec in bytes.chunks_exact(3073) {
            let label = rec[0];
            if usize::from(label) >= names.len() {
                return Err(DataError::format(
                    &path,
                    format!("label {label} but {} classes", names.len()),
                ));
            }
            for p in 0..1024 {
                for c in 0..3 {
                    hwc[p * 3 + c] = rec[1 + c * 1024 + p];
                }
            }
            if target == Shape::new(32, 32, 3) {
                w.push(split, &hwc, u32::from(label))?;
            } else {
                let img = image::DynamicImage::ImageRgb8(
                    image::RgbImage::from_raw(32, 32, hwc.clone()).expect("3072 bytes"),
                );
                w.push(split, &fit(&img, target), u32::from(label))?;
            }
        }
    }
    Ok(w.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cifar_planar_to_hwc_and_truncation() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut rec = vec![3u8];
        rec.extend(
            std::iter::repeat_n(10, 1024)
                .chain(std::iter::repeat_n(20, 1024))
                .chain(std::iter::repeat_n(30, 1024)),
        );
        for f in [
            "data_batch_1.bin",
            "data_batch_2.bin",
            "data_batch_3.bin",
            "data_batch_4.bin",
            "data_batch_5.bin",
            "test_batch.bin",
        ] {
            std::fs::write(dir.path().join(f), &rec).expect("w");
        }
        let out = tempfile::tempdir().expect("tmp");
        let meta = import_cifar10(dir.path(), out.path(), None).expect("import");
        assert_eq!((meta.splits["train"].n, meta.splits["val"].n), (5, 1));
        let ds = super::super::dataset::Dataset::open(out.path()).expect("open");
        let val = ds.load_split("val").expect("val");
        assert_eq!((&val.images[..3], val.labels[0]), (&[10u8, 20, 30][..], 3));
        std::fs::write(dir.path().join("test_batch.bin"), &rec[..100]).expect("w");
        let err = import_cifar10(dir.path(), out.path(), None)
            .expect_err("truncated")
            .to_string();
        assert!(
            err.contains("test_batch.bin") && err.contains("truncated"),
            "{err}"
        );
    }

    /// A class-sorted ImageFolder of 100 classes × 20 images of 40×30, imported aspect-kept.
    #[test]
    fn class_sorted_folder_becomes_well_mixed_aspect_kept_shards() {
        use crate::data::dataset::Dataset;
        use crate::data::loader::{Loader, LoaderConfig, TrainTransform, Transform};
        let root = tempfile::tempdir().expect("tmp");
        for class in 0..100u32 {
            let d = root.path().join("train").join(format!("n{class:08}"));
            std::fs::create_dir_all(&d).expect("mkdir");
            for i in 0..20u32 {
                let v = (class * 2 + i) as u8;
                image::RgbImage::from_pixel(40, 30, image::Rgb([v, 255 - v, 7]))
                    .save(d.join(format!("{i}.png")))
                    .expect("png");
            }
        }
        let out = tempfile::tempdir().expect("tmp");
        let opt = FolderImport {
            name: "sorted".into(),
            size: ImportSize::ShortSide {
                short_side: 24,
                channels: 3,
                storage: Storage::Jpeg { quality: 95 },
            },
            threads: 2,
            max_bad: 0,
            seed: 3,
            val_labels: None,
        };
        import_imagefolder(root.path(), out.path(), &opt).expect("import");
        let ds = Dataset::open(out.path()).expect("open");
        let reader = ds.reader("train").expect("reader");
        assert_eq!(reader.len(), 2000);
        // Written in a permutation: the stored order is not the class order.
        let stored = reader.labels();
        assert!(stored.windows(2).filter(|w| w[0] > w[1]).count() > 500);
        let first: std::collections::BTreeSet<u32> = stored[..64].iter().copied().collect();
        assert!(
            first.len() >= 30,
            "the first 64 stored images hold {} classes",
            first.len()
        );
        // Aspect kept: 40×30 → shorter side 24 → 32×24.
        let px = reader.read(0).expect("decode");
        assert_eq!((px.width, px.height, px.channels), (32, 24, 3));
        // Every training batch of 64 draws from at least 30 classes.
        let loader = Loader::new(
            &ds,
            LoaderConfig {
                split: "train".into(),
                batch_size: 64,
                shuffle: true,
                drop_last: true,
                transform: Transform::Train(TrainTransform::imagenet(16)),
                seed: 11,
                workers: 2,
                prefetch: 2,
                repeats: 1,
            },
        )
        .expect("loader");
        for epoch in 0..2 {
            for b in loader.epoch(epoch) {
                let b = b.expect("batch");
                assert_eq!(b.images.len(), 64 * 16 * 16 * 3);
                let classes: std::collections::BTreeSet<u32> = b.labels.iter().copied().collect();
                assert!(classes.len() >= 30, "a batch of {} classes", classes.len());
            }
        }
    }

    #[test]
    fn flat_val_folder_takes_labels_from_loc_val_solution() {
        let root = tempfile::tempdir().expect("tmp");
        for class in ["n01440764", "n02119789"] {
            let d = root.path().join("train").join(class);
            std::fs::create_dir_all(&d).expect("mkdir");
            image::RgbImage::from_pixel(8, 6, image::Rgb([1, 2, 3]))
                .save(d.join("a.png"))
                .expect("png");
        }
        let val = root.path().join("val");
        std::fs::create_dir_all(&val).expect("mkdir");
        for i in 1..=3 {
            image::RgbImage::from_pixel(8, 6, image::Rgb([9, 9, 9]))
                .save(val.join(format!("ILSVRC2012_val_{i:08}.png")))
                .expect("png");
        }
        std::fs::write(
            root.path().join("LOC_val_solution.csv"),
            "ImageId,PredictionString\nILSVRC2012_val_00000001,n02119789 1 2 3 4 n02119789 5 6 7 8\nILSVRC2012_val_00000002,n01440764 1 2 3 4\nILSVRC2012_val_00000003,n02119789 0 0 1 1\n",
        )
        .expect("csv");
        let out = tempfile::tempdir().expect("tmp");
        let opt = FolderImport {
            name: "flat".into(),
            size: ImportSize::Fixed(Shape::new(4, 4, 3)),
            threads: 1,
            max_bad: 0,
            seed: 0,
            val_labels: None,
        };
        let meta = import_imagefolder(root.path(), out.path(), &opt).expect("import");
        assert_eq!(meta.splits["val"].n, 3);
        let ds = super::super::dataset::Dataset::open(out.path()).expect("open");
        let mut labels = ds.reader("val").expect("val").labels().to_vec();
        labels.sort();
        assert_eq!(labels, [0, 1, 1]);
        // A label naming no class folder is one clear error.
        std::fs::write(
            root.path().join("LOC_val_solution.csv"),
            "ImageId,PredictionString\nILSVRC2012_val_00000001,n09999999 1 2 3 4\n",
        )
        .expect("csv");
        let err = import_imagefolder(root.path(), out.path(), &opt)
            .expect_err("unknown wnid")
            .to_string();
        assert!(
            err.contains("n09999999") || err.contains("no label"),
            "{err}"
        );
    }

    /// The official devkit layout: ground truth by ILSVRC2012_ID, meta.mat beside it
    /// (tests/data/devkit/meta.mat, written by scripts/devkit-meta-fixture.py with scipy).
    #[test]
    fn flat_val_folder_takes_labels_from_the_devkit_ground_truth_and_meta_mat() {
        let root = tempfile::tempdir().expect("tmp");
        for class in ["n01440764", "n02119789"] {
            let d = root.path().join("train").join(class);
            std::fs::create_dir_all(&d).expect("mkdir");
            image::RgbImage::from_pixel(5, 7, image::Rgb([1, 2, 3]))
                .save(d.join("a.png"))
                .expect("png");
        }
        let val = root.path().join("val");
        std::fs::create_dir_all(&val).expect("mkdir");
        for i in 1..=3 {
            image::RgbImage::from_pixel(8, 6, image::Rgb([9, 9, 9]))
                .save(val.join(format!("ILSVRC2012_val_{i:08}.png")))
                .expect("png");
        }
        let data = root.path().join("ILSVRC2012_devkit_t12/data");
        std::fs::create_dir_all(&data).expect("mkdir");
        let truth = data.join("ILSVRC2012_validation_ground_truth.txt");
        // IDs 1 = n02119789 and 2 = n01440764 in the fixture.
        std::fs::write(&truth, "1\n2\n1\n").expect("truth");
        let opt = FolderImport {
            name: "devkit".into(),
            size: ImportSize::Fixed(Shape::new(4, 4, 3)),
            threads: 1,
            max_bad: 0,
            seed: 0,
            val_labels: None,
        };
        let out = tempfile::tempdir().expect("tmp");
        let err = import_imagefolder(root.path(), out.path(), &opt)
            .expect_err("no meta.mat")
            .to_string();
        assert!(err.contains("meta.mat"), "{err}");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/devkit/meta.mat");
        std::fs::copy(&fixture, data.join("meta.mat")).expect("fixture");
        let labels = read_val_labels(&truth).expect("labels");
        assert_eq!(labels["ILSVRC2012_val_00000001"], "n02119789");
        assert_eq!(labels["ILSVRC2012_val_00000002"], "n01440764");
        let out = tempfile::tempdir().expect("tmp");
        import_imagefolder(root.path(), out.path(), &opt).expect("import");
        let ds = super::super::dataset::Dataset::open(out.path()).expect("open");
        let mut got = ds.reader("val").expect("val").labels().to_vec();
        got.sort();
        assert_eq!(got, [0, 1, 1]);
        std::fs::write(&truth, "1\n7\n").expect("truth");
        let err = read_val_labels(&truth).expect_err("unknown id").to_string();
        assert!(err.contains("line 2") && err.contains("7"), "{err}");
    }

    #[test]
    fn imagefolder_skips_and_counts_bad_images() {
        let root = tempfile::tempdir().expect("tmp");
        for (split, class) in [("train", "n001"), ("train", "n002"), ("val", "n001")] {
            let d = root.path().join(split).join(class);
            std::fs::create_dir_all(&d).expect("mkdir");
            image::RgbImage::from_pixel(5, 7, image::Rgb([1, 2, 3]))
                .save(d.join("a.png"))
                .expect("png");
        }
        std::fs::write(root.path().join("train/n002/broken.JPEG"), b"not a jpeg").expect("w");
        let out = tempfile::tempdir().expect("tmp");
        let opt = |max_bad| FolderImport {
            name: "toy".into(),
            size: ImportSize::Fixed(Shape::new(4, 4, 3)),
            threads: 2,
            max_bad,
            seed: 0,
            val_labels: None,
        };
        let meta = import_imagefolder(root.path(), out.path(), &opt(1)).expect("import");
        assert_eq!(
            (
                meta.splits["train"].n,
                meta.splits["val"].n,
                meta.classes.len()
            ),
            (2, 1, 2)
        );
        let err = import_imagefolder(root.path(), out.path(), &opt(0))
            .expect_err("cap")
            .to_string();
        assert!(err.contains("broken.JPEG"), "{err}");
    }
}
