//! Objects: immutable blobs named by the sha256 of their uncompressed bytes, stored as zstd
//! frames. Every read re-hashes what it decompresses; a mismatch quarantines the object so it
//! is never used again and the stage that made it recomputes.

use super::digest::{Digest, Hasher};
use super::fsutil::{persist, temp_path, touch};
use super::{io_at, Store, StoreError};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// zstd level: 3 is zstd's default, a good speed/ratio balance for weights and image shards.
const LEVEL: i32 = 3;
/// Buffer size for streaming: zstd's recommended block, small enough that allocating (and
/// zeroing) it per object costs nothing next to the I/O.
const CHUNK: usize = 128 << 10;

impl Store {
    pub fn contains(&self, d: &Digest) -> bool {
        self.object_path(d).is_file()
    }

    /// Store bytes; returns their digest. Idempotent: an existing object is kept (and marked in
    /// use, see [`Store::refresh`]).
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::of(bytes);
        if self.refresh(&digest) {
            return Ok(digest);
        }
        let dest = self.object_path(&digest);
        let tmp = temp_path(&self.tmp_dir(), "obj");
        let write = || -> io::Result<()> {
            let f = File::create(&tmp)?;
            let mut enc = zstd::Encoder::new(BufWriter::new(f), LEVEL)?;
            enc.write_all(bytes)?;
            let f = enc.finish()?.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            persist(&tmp, &dest)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            StoreError::io_sized(&dest, e, Some(bytes.len() as u64))
        })?;
        self.write_stamp(&digest);
        Ok(digest)
    }

    /// Store a file by streaming it: hashed and compressed in one pass, never held in memory.
    pub fn put_file(&self, path: &Path) -> Result<(Digest, u64), StoreError> {
        let tmp = temp_path(&self.tmp_dir(), "obj");
        // Reading the source and writing the store fail for different reasons; name the right
        // path for each.
        let mut read_failed = false;
        let mut stream = || -> io::Result<(Digest, u64)> {
            let mut src = match File::open(path) {
                Ok(f) => BufReader::with_capacity(CHUNK, f),
                Err(e) => {
                    read_failed = true;
                    return Err(e);
                }
            };
            let out = File::create(&tmp)?;
            let mut enc = zstd::Encoder::new(BufWriter::new(out), LEVEL)?;
            let mut hasher = Hasher::default();
            let mut buf = vec![0u8; CHUNK];
            let mut size = 0u64;
            loop {
                let n = match src.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        read_failed = true;
                        return Err(e);
                    }
                };
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                enc.write_all(&buf[..n])?;
                size += n as u64;
            }
            let f = enc.finish()?.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            Ok((hasher.finish(), size))
        };
        let streamed = stream();
        let (digest, size) = streamed.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            if read_failed {
                StoreError::io(path, e)
            } else {
                let needed = fs::metadata(path).map(|m| m.len()).ok();
                StoreError::io_sized(&self.tmp_dir(), e, needed)
            }
        })?;
        if self.refresh(&digest) {
            let _ = fs::remove_file(&tmp);
        } else {
            let dest = self.object_path(&digest);
            persist(&tmp, &dest).map_err(|e| {
                let _ = fs::remove_file(&tmp);
                StoreError::io_sized(&dest, e, Some(size))
            })?;
            self.write_stamp(&digest);
        }
        Ok((digest, size))
    }

    /// A writer found its object already stored: refresh its mtime under gc's shared lock, so
    /// that a gc deciding what is old cannot delete it in between (gc re-checks the age under
    /// the exclusive lock right before unlinking). The object is checked, by its stamp or by
    /// re-hashing, before it is reused; a bad one is quarantined. Whether it is there and good.
    fn refresh(&self, d: &Digest) -> bool {
        let path = self.object_path(d);
        let (before, touched) = {
            let _lock = self.gc_lock(false);
            let Ok(before) = fs::metadata(&path) else {
                return false;
            };
            // A store we may not write (another user's, read-only) cannot be gc'd by us either.
            (before, touch(&path).is_ok())
        };
        let trusted = self.stamp_matches(d, &before);
        if trusted && touched {
            self.write_stamp(d);
            return true;
        }
        trusted || self.intact(d)
    }

    /// True when the object is present and holds what its name says: cheap when the file's
    /// stat matches the stamp taken when it was last written or checked, a re-hash otherwise.
    /// A bad object is quarantined.
    pub fn intact(&self, d: &Digest) -> bool {
        let path = self.object_path(d);
        let Ok(meta) = fs::metadata(&path) else {
            return false;
        };
        if self.stamp_matches(d, &meta) {
            return true;
        }
        let Ok(file) = File::open(&path) else {
            return false;
        };
        match verify_frame(BufReader::with_capacity(CHUNK, file), d) {
            Ok(_) => {
                self.write_stamp(d);
                true
            }
            Err(_) => {
                self.quarantine(d);
                false
            }
        }
    }

    /// Read and verify an object.
    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        self.stream_verified(d, &mut out, Path::new("memory"))?;
        Ok(out)
    }

    /// Write an object's content to `dest` via a temp file beside it, so `dest` appears only
    /// when verified, and a read-only store can still be read out.
    pub fn extract_to(&self, d: &Digest, dest: &Path) -> Result<(), StoreError> {
        self.extract_sized(d, dest, None)
    }

    /// [`Store::extract_to`] of an object whose content has `size` bytes, when known.
    pub(crate) fn extract_sized(
        &self,
        d: &Digest,
        dest: &Path,
        size: Option<u64>,
    ) -> Result<(), StoreError> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let name = dest.file_name().map_or("x".into(), |n| n.to_string_lossy());
        let tmp = temp_path(dir, &format!(".{name}.repro-tmp"));
        let result = (|| {
            let f = File::create(&tmp).map_err(|e| StoreError::io_sized(dest, e, size))?;
            let mut w = BufWriter::with_capacity(CHUNK, f);
            self.stream_verified(d, &mut w, dest)?;
            w.flush().map_err(|e| StoreError::io_sized(dest, e, size))?;
            drop(w);
            fs::rename(&tmp, dest).map_err(io_at(dest))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Decompress into `out` while hashing; on mismatch quarantine the object and fail.
    /// `out_path` names where `out` writes, for errors.
    fn stream_verified(
        &self,
        d: &Digest,
        out: &mut dyn Write,
        out_path: &Path,
    ) -> Result<u64, StoreError> {
        let path = self.object_path(d);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::Missing(*d)),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let mut dec = zstd::Decoder::new(file).map_err(io_at(&path))?;
        let mut hasher = Hasher::default();
        let mut buf = vec![0u8; CHUNK];
        let mut size = 0u64;
        loop {
            let n = match dec.read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if e.kind() == io::ErrorKind::Other
                        || e.kind() == io::ErrorKind::InvalidData
                        || e.kind() == io::ErrorKind::UnexpectedEof =>
                {
                    let quarantine = self.quarantine(d);
                    return Err(StoreError::Undecodable {
                        digest: *d,
                        message: e.to_string(),
                        quarantine,
                    });
                }
                Err(e) => return Err(StoreError::io(&path, e)),
            };
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_at(out_path))?;
            size += n as u64;
        }
        let actual = hasher.finish();
        if actual != *d {
            let quarantine = self.quarantine(d);
            return Err(StoreError::Corrupt {
                digest: *d,
                actual,
                quarantine,
            });
        }
        Ok(size)
    }

    /// Re-hash an object without keeping its content. Does not quarantine: `verify` reports.
    pub fn check_object(&self, d: &Digest) -> Result<u64, String> {
        let path = self.object_path(d);
        let file = File::open(&path).map_err(|e| e.to_string())?;
        verify_frame(file, d)
    }

    /// Move a bad object aside so no later read uses it; keeps it for inspection.
    fn quarantine(&self, d: &Digest) -> PathBuf {
        let dir = self.root().join("quarantine");
        let _ = fs::create_dir_all(&dir);
        let dest = dir.join(format!("{}.{}", d.hex(), std::process::id()));
        let _ = fs::rename(self.object_path(d), &dest);
        dest
    }

    /// Every object digest in the store (for verify and gc).
    pub fn list_objects(&self) -> Result<Vec<Digest>, StoreError> {
        let base = self.root().join("objects/sha256");
        let mut out = Vec::new();
        for fan in fs::read_dir(&base).map_err(io_at(&base))? {
            let fan = fan.map_err(io_at(&base))?;
            let prefix = fan.file_name().to_string_lossy().to_string();
            if !fan.path().is_dir() {
                continue;
            }
            for e in fs::read_dir(fan.path()).map_err(io_at(&base))? {
                let e = e.map_err(io_at(&base))?;
                if let Ok(d) = format!("{prefix}{}", e.file_name().to_string_lossy()).parse() {
                    out.push(d);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Check that the zstd frame read from `r` decompresses to content whose sha256 is `digest`,
/// streaming (never the whole object in memory); the content's size when it does. The one
/// check behind `repro verify` and every download from a remote.
pub fn verify_frame(r: impl Read, digest: &Digest) -> Result<u64, String> {
    let mut dec = zstd::Decoder::new(r).map_err(|e| format!("not a zstd frame: {e}"))?;
    let mut hasher = Hasher::default();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = dec
            .read(&mut buf)
            .map_err(|e| format!("cannot decompress: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let actual = hasher.finish();
    if actual == *digest {
        Ok(size)
    } else {
        Err(format!("its content hashes to {actual}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_read_and_detect_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let d = store.put_bytes(b"hello world").expect("put");
        assert_eq!(d, Digest::of(b"hello world"));
        assert_eq!(store.read(&d).expect("read"), b"hello world");
        // Idempotent.
        assert_eq!(store.put_bytes(b"hello world").expect("put again"), d);

        // Replace the object with a valid zstd frame of other bytes: caught by the hash.
        let evil = zstd::encode_all(&b"goodbye"[..], 3).expect("zstd");
        fs::write(store.object_path(&d), evil).expect("tamper");
        assert!(store.check_object(&d).is_err());
        match store.read(&d) {
            Err(StoreError::Corrupt { .. }) => {}
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(!store.contains(&d), "a corrupt object is quarantined");
    }

    #[test]
    fn put_file_streams_and_extracts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s")).expect("open");
        let src = dir.path().join("big");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&src, &data).expect("write");
        let (d, size) = store.put_file(&src).expect("put_file");
        assert_eq!(size, data.len() as u64);
        assert_eq!(d, Digest::of(&data));
        let dest = dir.path().join("out/big");
        store.extract_to(&d, &dest).expect("extract");
        assert_eq!(fs::read(&dest).expect("read back"), data);
        assert_eq!(store.list_objects().expect("list"), vec![d]);
    }

    #[test]
    fn frames_are_checked_against_their_names() {
        let d = Digest::of(b"hello");
        let good = zstd::encode_all(&b"hello"[..], 3).expect("zstd");
        assert_eq!(verify_frame(good.as_slice(), &d), Ok(5));
        let evil = zstd::encode_all(&b"hellO"[..], 3).expect("zstd");
        assert!(verify_frame(evil.as_slice(), &d)
            .expect_err("tampered")
            .contains("hashes to"));
        assert!(verify_frame(&b"plain bytes"[..], &d).is_err());
    }
}
