//! Objects: immutable blobs named by the sha256 of their uncompressed bytes, stored as zstd
//! frames. Every read re-hashes what it decompresses; a mismatch quarantines the object so it
//! is never used again and the stage that made it recomputes.

use super::digest::{Digest, Hasher};
use super::fsutil::{persist, temp_path};
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

    /// Store bytes; returns their digest. Idempotent: an existing object is left as is.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::of(bytes);
        if self.contains(&digest) {
            return Ok(digest);
        }
        let tmp = temp_path(&self.tmp_dir(), "obj");
        let write = || -> io::Result<()> {
            let f = File::create(&tmp)?;
            let mut enc = zstd::Encoder::new(BufWriter::new(f), LEVEL)?;
            enc.write_all(bytes)?;
            let f = enc.finish()?.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            persist(&tmp, &self.object_path(&digest))
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            StoreError::Io {
                path: self.object_path(&digest),
                source: e,
            }
        })?;
        Ok(digest)
    }

    /// Store a file by streaming it: hashed and compressed in one pass, never held in memory.
    pub fn put_file(&self, path: &Path) -> Result<(Digest, u64), StoreError> {
        let tmp = temp_path(&self.tmp_dir(), "obj");
        let stream = || -> io::Result<(Digest, u64)> {
            let mut src = BufReader::with_capacity(CHUNK, File::open(path)?);
            let out = File::create(&tmp)?;
            let mut enc = zstd::Encoder::new(BufWriter::new(out), LEVEL)?;
            let mut hasher = Hasher::default();
            let mut buf = vec![0u8; CHUNK];
            let mut size = 0u64;
            loop {
                let n = src.read(&mut buf)?;
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
        let (digest, size) = stream().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            StoreError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        })?;
        let dest = self.object_path(&digest);
        if dest.is_file() {
            let _ = fs::remove_file(&tmp);
        } else {
            persist(&tmp, &dest).map_err(io_at(&dest))?;
        }
        Ok((digest, size))
    }

    /// Read and verify an object.
    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        self.stream_verified(d, &mut out)?;
        Ok(out)
    }

    /// Write an object's content to `dest` (via a temp file, so `dest` appears only when verified).
    pub fn extract_to(&self, d: &Digest, dest: &Path) -> Result<(), StoreError> {
        let tmp = temp_path(&self.tmp_dir(), "x");
        let result = (|| {
            let f = File::create(&tmp).map_err(io_at(&tmp))?;
            let mut w = BufWriter::with_capacity(CHUNK, f);
            self.stream_verified(d, &mut w)?;
            w.flush().map_err(io_at(&tmp))?;
            drop(w);
            if let Some(p) = dest.parent() {
                fs::create_dir_all(p).map_err(io_at(p))?;
            }
            fs::rename(&tmp, dest).map_err(io_at(dest))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Decompress into `out` while hashing; on mismatch quarantine the object and fail.
    fn stream_verified(&self, d: &Digest, out: &mut dyn Write) -> Result<u64, StoreError> {
        let path = self.object_path(d);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::Missing(*d)),
            Err(e) => return Err(StoreError::Io { path, source: e }),
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
                Err(e) => return Err(StoreError::Io { path, source: e }),
            };
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_at(&path))?;
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
