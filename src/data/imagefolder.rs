//! Two more dataset layouts into the dataset format: ImageNet's ImageFolder and CIFAR-10's
//! binary batches (the paper profile's benchmark side and its transfer target).
//!
//! - ImageFolder: `ROOT/train/<class>/*.{JPEG,jpg,png}` and `ROOT/val/<class>/…`; classes are
//!   the sorted folder names of `train` (wnids for ImageNet). Images are decoded in parallel
//!   and resized once; undecodable files are skipped and counted, up to a cap.
//! - CIFAR-10 binary (`cifar-10-batches-bin/`): `data_batch_{1..5}.bin` and `test_batch.bin`,
//!   records of 1 label byte + 3,072 bytes of planar 32×32 R, G, B; class names from
//!   `batches.meta.txt`.

use super::dataset::{ClassInfo, DatasetMeta, DatasetWriter};
use super::error::{require, BadCounter, DataError};
use super::imageops::{fit, Shape};
use std::path::{Path, PathBuf};

const IMAGE_EXTS: &[&str] = &["jpeg", "jpg", "png"];

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

/// Decode and fit `files` on `threads` threads; errors per file.
pub fn decode_files(
    files: &[PathBuf],
    shape: Shape,
    threads: usize,
) -> Vec<Result<Vec<u8>, String>> {
    super::parallel::map_in_order(files, threads, |f| {
        let img = image::open(f).map_err(|e| format!("{}: undecodable ({e})", f.display()))?;
        Ok(fit(&img, shape))
    })
}

/// Import an ImageFolder tree.
pub fn import_imagefolder(
    root: &Path,
    out: &Path,
    name: &str,
    shape: Shape,
    threads: usize,
    max_bad: usize,
) -> Result<DatasetMeta, DataError> {
    require(
        root,
        "give the folder holding `train/<class>/` and `val/<class>/`",
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
    let mut w = DatasetWriter::create(out, name, shape.tuple(), classes)?;
    let mut bad = BadCounter::new(root, max_bad);
    for split in ["train", "val"] {
        let split_dir = root.join(split);
        if !split_dir.exists() {
            continue;
        }
        for (label, class) in names.iter().enumerate() {
            let dir = split_dir.join(class);
            if !dir.exists() {
                continue;
            }
            let files: Vec<PathBuf> = list_dir(&dir)?
                .into_iter()
                .filter(|p| {
                    p.extension().is_some_and(|e| {
                        IMAGE_EXTS.contains(&e.to_string_lossy().to_lowercase().as_str())
                    })
                })
                .collect();
            for r in decode_files(&files, shape, threads) {
                match r {
                    Ok(px) => w.push(split, &px, label as u32)?,
                    Err(e) => bad.skip(e)?,
                }
            }
        }
    }
    Ok(w.finish()?)
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
    let mut w = DatasetWriter::create(out, "cifar10", target.tuple(), classes)?;
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
        let meta = import_imagefolder(root.path(), out.path(), "toy", Shape::new(4, 4, 3), 2, 1)
            .expect("import");
        assert_eq!(
            (
                meta.splits["train"].n,
                meta.splits["val"].n,
                meta.classes.len()
            ),
            (2, 1, 2)
        );
        let err = import_imagefolder(root.path(), out.path(), "toy", Shape::new(4, 4, 3), 2, 0)
            .expect_err("cap")
            .to_string();
        assert!(err.contains("broken.JPEG"), "{err}");
    }
}
