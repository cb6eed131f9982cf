//! A reader of the part of MATLAB's Level 5 MAT-file format that ImageNet's devkit
//! `data/meta.mat` uses: a struct array `synsets` whose fields are numbers and strings, maybe
//! zlib-compressed (`miCOMPRESSED`, MATLAB's default since v7).
//!
//! Written here rather than taken from a crate: `matfile` (the Rust crate for MAT v5) reads
//! numeric arrays only, not the struct and cell arrays meta.mat is made of. The format is
//! "MAT-File Format" (MathWorks, R2024a), chapter 1: a 128-byte header, then data elements,
//! each an 8-byte tag (type, byte count; or a 4-byte "small element" tag with its data packed
//! beside it) and its data padded to 8 bytes. Only little-endian files are read (MATLAB and
//! scipy write them on every current platform). Complex, sparse, object and function arrays
//! are refused with an error naming them.

use flate2::read::ZlibDecoder;
use std::io::Read;

#[derive(Debug, thiserror::Error)]
#[error("MAT-file: {0}")]
pub struct MatError(String);

fn bad<T>(m: impl Into<String>) -> Result<T, MatError> {
    Err(MatError(m.into()))
}

/// One MATLAB array, column-major.
#[derive(Debug, Clone, PartialEq)]
pub enum MatValue {
    /// A numeric or logical array, as f64 (meta.mat's ids and counts are small integers).
    Numeric { dims: Vec<usize>, data: Vec<f64> },
    /// A char array read as one string (rows concatenated: meta.mat's are 1×n).
    Char(String),
    Cell {
        dims: Vec<usize>,
        items: Vec<MatValue>,
    },
    /// `items[k]` holds element k's field values, in `fields` order.
    Struct {
        dims: Vec<usize>,
        fields: Vec<String>,
        items: Vec<Vec<MatValue>>,
    },
}

impl MatValue {
    /// Field `name` of struct element `k`.
    pub fn field(&self, k: usize, name: &str) -> Option<&MatValue> {
        match self {
            MatValue::Struct { fields, items, .. } => {
                let f = fields.iter().position(|f| f == name)?;
                items.get(k)?.get(f)
            }
            _ => None,
        }
    }

    /// The number of elements of a struct or cell array.
    pub fn len(&self) -> usize {
        match self {
            MatValue::Struct { items, .. } => items.len(),
            MatValue::Cell { items, .. } => items.len(),
            MatValue::Numeric { data, .. } => data.len(),
            MatValue::Char(_) => 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The single number of a 1×1 numeric array.
    pub fn scalar(&self) -> Option<f64> {
        match self {
            MatValue::Numeric { data, .. } if data.len() == 1 => Some(data[0]),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MatValue::Char(s) => Some(s),
            _ => None,
        }
    }
}

const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

/// The named top-level variables of a MAT v5 file, in file order.
pub fn read_mat(bytes: &[u8]) -> Result<Vec<(String, MatValue)>, MatError> {
    if bytes.len() < 128 || !bytes[..6].eq_ignore_ascii_case(b"MATLAB") {
        return bad("not a MAT-file (no `MATLAB` header)");
    }
    match &bytes[126..128] {
        b"IM" => {}
        b"MI" => return bad("big-endian MAT-files are not read"),
        _ => return bad("not a Level 5 MAT-file (v4 and v7.3/HDF5 are not read)"),
    }
    let mut out = Vec::new();
    let mut r = Reader(&bytes[128..]);
    while !r.0.is_empty() {
        let (ty, data) = r.element()?;
        let owned;
        let (ty, data) = if ty == MI_COMPRESSED {
            owned = inflate(data)?;
            let mut inner = Reader(&owned);
            let (t, d) = inner.element()?;
            (t, d.to_vec())
        } else {
            (ty, data.to_vec())
        };
        if ty == MI_MATRIX {
            out.push(matrix(&data)?);
        }
    }
    Ok(out)
}

fn inflate(data: &[u8]) -> Result<Vec<u8>, MatError> {
    let mut v = Vec::new();
    ZlibDecoder::new(data)
        .read_to_end(&mut v)
        .map_err(|e| MatError(format!("compressed element: {e}")))?;
    Ok(v)
}

/// Data elements one after another.
struct Reader<'a>(&'a [u8]);

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> Reader<'a> {
    /// The next element's type and data (8-byte padding skipped).
    fn element(&mut self) -> Result<(u32, &'a [u8]), MatError> {
        let b = self.0;
        if b.len() < 8 {
            return bad("truncated element tag");
        }
        let first = u32_at(b, 0);
        if first >> 16 != 0 {
            // Small element: 2 bytes type, 2 bytes count, up to 4 bytes of data.
            let n = (first >> 16) as usize;
            if n > 4 {
                return bad("small element of more than 4 bytes");
            }
            self.0 = &b[8..];
            return Ok((first & 0xffff, &b[4..4 + n]));
        }
        let n = u32_at(b, 4) as usize;
        if b.len() < 8 + n {
            return bad(format!("element of {n} bytes runs past the end"));
        }
        // Compressed elements are not padded; the others are, to 8 bytes.
        let padded = if first == MI_COMPRESSED {
            n
        } else {
            n.div_ceil(8) * 8
        };
        self.0 = &b[(8 + padded).min(b.len())..];
        Ok((first, &b[8..8 + n]))
    }
}

/// Numeric element data as f64, by its storage type (MATLAB stores doubles in the smallest
/// type that holds them).
fn numbers(ty: u32, d: &[u8]) -> Result<Vec<f64>, MatError> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            d.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk")) as f64)
                .collect()
        };
    }
    Ok(match ty {
        1 => d.iter().map(|&x| f64::from(x as i8)).collect(),
        2 => d.iter().map(|&x| f64::from(x)).collect(),
        3 => conv!(i16, 2),
        4 => conv!(u16, 2),
        5 => conv!(i32, 4),
        6 => conv!(u32, 4),
        7 => conv!(f32, 4),
        9 => conv!(f64, 8),
        12 => conv!(i64, 8),
        13 => conv!(u64, 8),
        other => return bad(format!("numeric data of element type {other}")),
    })
}

/// Character data: UTF-8/ASCII bytes, or UTF-16 code units (MATLAB's `char`).
fn chars(ty: u32, d: &[u8]) -> Result<String, MatError> {
    Ok(match ty {
        1 | 2 | 16 => String::from_utf8_lossy(d).into_owned(),
        4 | 17 => {
            let units: Vec<u16> = d
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        18 => d
            .chunks_exact(4)
            .filter_map(|c| char::from_u32(u32_at(c, 0)))
            .collect(),
        other => return bad(format!("character data of element type {other}")),
    })
}

/// One miMATRIX element's contents: (name, value).
fn matrix(data: &[u8]) -> Result<(String, MatValue), MatError> {
    if data.is_empty() {
        // An empty array (e.g. a struct field never assigned).
        let empty = MatValue::Numeric {
            dims: vec![0, 0],
            data: Vec::new(),
        };
        return Ok((String::new(), empty));
    }
    let mut r = Reader(data);
    let (_, flags) = r.element()?;
    if flags.len() < 4 {
        return bad("array flags too short");
    }
    let class = flags[0];
    let complex = flags[1] & 0x08 != 0;
    let (dty, d) = r.element()?;
    let dims: Vec<usize> = numbers(dty, d)?.into_iter().map(|x| x as usize).collect();
    let count: usize = dims.iter().product();
    let (nty, n) = r.element()?;
    let name = chars(nty, n)?;
    let value = match class {
        1 => {
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let (ty, d) = r.element()?;
                if ty != MI_MATRIX {
                    return bad(format!("cell element of type {ty}"));
                }
                items.push(matrix(d)?.1);
            }
            MatValue::Cell { dims, items }
        }
        2 => {
            let (_, len) = r.element()?;
            let len = numbers(5, len)?.first().copied().unwrap_or(0.0) as usize;
            let (_, names) = r.element()?;
            if len == 0 {
                return bad("struct with field names of length 0");
            }
            let fields: Vec<String> = names
                .chunks(len)
                .map(|c| {
                    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                    String::from_utf8_lossy(&c[..end]).into_owned()
                })
                .collect();
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let mut values = Vec::with_capacity(fields.len());
                for f in &fields {
                    let (ty, d) = r.element()?;
                    if ty != MI_MATRIX {
                        return bad(format!("field `{f}` of type {ty}"));
                    }
                    values.push(matrix(d)?.1);
                }
                items.push(values);
            }
            MatValue::Struct {
                dims,
                fields,
                items,
            }
        }
        4 => {
            let (ty, d) = r.element()?;
            MatValue::Char(chars(ty, d)?)
        }
        6..=15 if !complex => {
            let (ty, d) = r.element()?;
            MatValue::Numeric {
                dims,
                data: numbers(ty, d)?,
            }
        }
        6..=15 => return bad(format!("`{name}`: complex arrays are not read")),
        other => return bad(format!("`{name}`: array class {other} is not read")),
    };
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(ty: u32, data: &[u8]) -> Vec<u8> {
        let mut v = ty.to_le_bytes().to_vec();
        v.extend((data.len() as u32).to_le_bytes());
        v.extend(data);
        v.resize(v.len().div_ceil(8) * 8, 0);
        v
    }

    fn header() -> Vec<u8> {
        let mut h = b"MATLAB 5.0 MAT-file, test".to_vec();
        h.resize(124, b' ');
        h.extend([0x00, 0x01, b'I', b'M']);
        h
    }

    /// A hand-built 1×1 double array `x = 7`, small-element name, compressed.
    #[test]
    fn reads_a_compressed_scalar_and_refuses_other_files() {
        let mut m = tag(6, &[6, 0, 0, 0, 0, 0, 0, 0]);
        m.extend(tag(5, &[1, 0, 0, 0, 1, 0, 0, 0]));
        m.extend([1, 0, 1, 0, b'x', 0, 0, 0]); // small element: miINT8, 1 byte
        m.extend(tag(2, &[7])); // the double stored as uint8
        let matrix = tag(14, &m);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, &matrix).expect("zlib");
        let z = z.finish().expect("zlib");
        let mut file = header();
        file.extend(15u32.to_le_bytes());
        file.extend((z.len() as u32).to_le_bytes());
        file.extend(z);
        let vars = read_mat(&file).expect("reads");
        assert_eq!(vars.len(), 1);
        assert_eq!(vars[0].0, "x");
        assert_eq!(vars[0].1.scalar(), Some(7.0));
        assert!(read_mat(b"not a mat file").is_err());
        let mut be = header();
        be[126..].copy_from_slice(b"MI");
        assert!(read_mat(&be).is_err());
    }

    /// The devkit-like fixture scipy wrote (scripts/devkit-meta-fixture.py): a compressed 4×1
    /// struct array of scalars, strings, an empty array and a row vector.
    #[test]
    fn reads_the_scipy_written_devkit_fixture() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/devkit/meta.mat");
        let vars = read_mat(&std::fs::read(path).expect("fixture")).expect("reads");
        let (name, s) = &vars[0];
        assert_eq!(name, "synsets");
        assert_eq!(s.len(), 4);
        assert_eq!(
            s.field(0, "ILSVRC2012_ID").and_then(MatValue::scalar),
            Some(1.0)
        );
        assert_eq!(
            s.field(1, "WNID").and_then(MatValue::as_str),
            Some("n01440764")
        );
        assert_eq!(
            s.field(2, "words").and_then(MatValue::as_str),
            Some("Chihuahua")
        );
        assert!(s.field(0, "children").is_some_and(MatValue::is_empty));
        assert_eq!(
            s.field(3, "children"),
            Some(&MatValue::Numeric {
                dims: vec![1, 1],
                data: vec![3.0]
            })
        );
        assert_eq!(
            s.field(3, "num_train_images").and_then(MatValue::scalar),
            Some(0.0)
        );
        assert!(s.field(0, "no_such_field").is_none());
    }
}
