//! The caption pool: image–caption pairs in one format, whatever their source.
//!
//! ```text
//! pool.parquet             key, URL, TEXT, WIDTH, HEIGHT, LICENSE, source  (one row a pair;
//!                          LAION's column names, written and read a batch at a time: pool_table.rs)
//! shards/pool-NNNNN.tar    webdataset shards: KEY.png|jpg|svg, KEY.txt (caption), KEY.json
//! ```
//! `url` says where the pixels are, as in LAION's metadata, where text is read first and only
//! the selected images are fetched:
//! - `pool:shards/pool-00003.tar#KEY.png`: inside this pool's own shards;
//! - `wds:/abs/shard.tar#member.jpg` (`#KEY.*`: an image of any format): inside an existing
//!   webdataset shard (img2dataset output,
//!   left where it is: copying LAION-scale shards would double terabytes);
//! - `file:/abs/path.svg`: a file on disk;
//! - `iconify:/abs/set.json#icon-name`: an icon body inside an `@iconify/json` set file.
//!
//! Tar members are read with their paths checked: an absolute path or a `..` component is
//! refused with an error naming the archive and the member.

use super::error::DataError;
use super::pool_table::{for_each_pool_batch, PoolTableWriter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read};
use std::path::{Component, Path, PathBuf};

/// Pairs per pool shard.
pub const SHARD_PAIRS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolRecord {
    pub key: String,
    pub caption: String,
    pub width: u32,
    pub height: u32,
    /// Which importer and collection (`tuxpaint`, `openclipart`, `iconify:mdi`, `laion`).
    pub source: String,
    /// SPDX id where known (`MIT`, `CC0-1.0`, `GPL-2.0-or-later`), else the source's words.
    pub license: String,
    pub url: String,
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes a pool: rows into `pool.parquet` as they come, payloads into webdataset shards.
pub struct PoolWriter {
    dir: PathBuf,
    rows: PoolTableWriter,
    tar: Option<tar::Builder<BufWriter<File>>>,
    shard: usize,
    in_shard: usize,
}

impl PoolWriter {
    pub fn create(dir: &Path) -> Result<PoolWriter, DataError> {
        let shards = dir.join("shards");
        fs::create_dir_all(&shards).map_err(|e| DataError::io(&shards, e))?;
        Ok(PoolWriter {
            dir: dir.to_path_buf(),
            rows: PoolTableWriter::create(dir)?,
            tar: None,
            shard: 0,
            in_shard: 0,
        })
    }

    fn shard_name(&self) -> String {
        format!("shards/pool-{:05}.tar", self.shard)
    }

    /// Add a pair whose pixels are copied into the pool's shards (`ext`: png, jpg or svg).
    pub fn add_embedded(
        &mut self,
        mut rec: PoolRecord,
        ext: &str,
        bytes: &[u8],
    ) -> Result<(), DataError> {
        if self.tar.is_none() || self.in_shard >= SHARD_PAIRS {
            self.close_shard()?;
            if self.in_shard >= SHARD_PAIRS {
                self.shard += 1;
            }
            self.in_shard = 0;
            let path = self.dir.join(self.shard_name());
            let f = File::create(&path).map_err(|e| DataError::io(&path, e))?;
            self.tar = Some(tar::Builder::new(BufWriter::new(f)));
        }
        rec.caption = clean(&rec.caption);
        rec.source = clean(&rec.source);
        rec.license = clean(&rec.license);
        rec.url = format!("pool:{}#{}.{ext}", self.shard_name(), rec.key);
        let json = serde_json::to_vec(&rec).expect("record serializes");
        let shard_path = self.dir.join(self.shard_name());
        let tar = self.tar.as_mut().expect("opened above");
        for (name, data) in [
            (format!("{}.{ext}", rec.key), bytes),
            (format!("{}.txt", rec.key), rec.caption.as_bytes()),
            (format!("{}.json", rec.key), &json[..]),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0); // deterministic bytes: same pool, same digest
            h.set_cksum();
            tar.append_data(&mut h, &name, data)
                .map_err(|e| DataError::io(&shard_path, e))?;
        }
        self.in_shard += 1;
        self.rows.push(rec)
    }

    /// Add a pair whose pixels stay where `rec.url` points.
    pub fn add_reference(&mut self, mut rec: PoolRecord) -> Result<(), DataError> {
        rec.caption = clean(&rec.caption);
        rec.source = clean(&rec.source);
        rec.license = clean(&rec.license);
        self.rows.push(rec)
    }

    fn close_shard(&mut self) -> Result<(), DataError> {
        if let Some(t) = self.tar.take() {
            let path = self.dir.join(self.shard_name());
            let mut w = t.into_inner().map_err(|e| DataError::io(&path, e))?;
            std::io::Write::flush(&mut w).map_err(|e| DataError::io(&path, e))?;
        }
        Ok(())
    }

    /// Close the last shard and the row table; returns the number of pairs.
    pub fn finish(mut self) -> Result<usize, DataError> {
        self.close_shard()?;
        self.rows.finish()
    }
}

/// Read every row of the pool in `dir` (for pools that fit in memory: tests, the mini pool's
/// class ranking; stages stream with [`for_each_pool_batch`]).
pub fn read_pool(dir: &Path) -> Result<Vec<PoolRecord>, DataError> {
    let mut out = Vec::new();
    for_each_pool_batch(dir, |rows| {
        out.extend(rows);
        Ok(())
    })?;
    Ok(out)
}

/// A tar member's path, refused when absolute or climbing out with `..`.
pub fn safe_member_path(archive: &Path, entry_path: &Path) -> Result<String, DataError> {
    for c in entry_path.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => {
                return Err(DataError::format(
                    archive,
                    format!(
                        "tar member `{}` has an absolute path: refused",
                        entry_path.display()
                    ),
                ))
            }
            Component::ParentDir => {
                return Err(DataError::format(
                    archive,
                    format!(
                        "tar member `{}` contains `..`: refused",
                        entry_path.display()
                    ),
                ))
            }
            _ => {}
        }
    }
    Ok(entry_path
        .to_string_lossy()
        .trim_start_matches("./")
        .to_string())
}

/// Visit every regular member of a tar archive (paths checked) with its bytes.
pub fn for_each_member(
    archive: &Path,
    f: impl FnMut(&str, Vec<u8>) -> Result<(), DataError>,
) -> Result<(), DataError> {
    for_each_member_where(archive, |_| true, f)
}

/// Visit the members `want` accepts; the others are skipped unread.
pub fn for_each_member_where(
    archive: &Path,
    want: impl Fn(&str) -> bool,
    mut f: impl FnMut(&str, Vec<u8>) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let file = File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let mut ar = tar::Archive::new(std::io::BufReader::new(file));
    for entry in ar.entries().map_err(|e| DataError::io(archive, e))? {
        let mut entry = entry.map_err(|e| DataError::io(archive, e))?;
        let raw = entry
            .path()
            .map_err(|e| DataError::io(archive, e))?
            .into_owned();
        let name = safe_member_path(archive, &raw)?;
        if !entry.header().entry_type().is_file() || !want(&name) {
            continue;
        }
        let mut buf = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut buf).map_err(|e| {
            DataError::format(
                archive,
                format!("truncated archive: member `{name}` cannot be read ({e})"),
            )
        })?;
        if (buf.len() as u64) < entry.size() {
            return Err(DataError::format(
                archive,
                format!("truncated archive: member `{name}` ends early"),
            ));
        }
        f(&name, buf)?;
    }
    Ok(())
}

/// The payload of one pair: its bytes and format (`png`, `jpg`, `svg`).
#[derive(Debug, Clone)]
pub struct Payload {
    pub ext: String,
    pub bytes: Vec<u8>,
}

/// One fetched pair: its index in the `urls` asked for, and its payload or why there is none.
pub type Fetched = (usize, Result<Payload, String>);

/// Fetch the pixels of the pairs at `urls` (relative `pool:` urls resolve against `pool_dir`),
/// reading each archive or icon set once, and hand them to `sink` `batch` at a time (in
/// container order, not `urls` order), so memory holds one batch of payloads, never all of
/// them. Every url is handed over exactly once; a missing member or file is an error for that
/// url only, so callers can skip and count it.
pub fn fetch_payloads_batched(
    pool_dir: &Path,
    urls: &[&str],
    batch: usize,
    mut sink: impl FnMut(Vec<Fetched>) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let batch = batch.max(1);
    let mut buf: Vec<Fetched> = Vec::with_capacity(batch);
    let mut emit = |item: Fetched, buf: &mut Vec<Fetched>| -> Result<(), DataError> {
        buf.push(item);
        if buf.len() >= batch {
            sink(std::mem::take(buf))?;
        }
        Ok(())
    };
    // container path → [(member, index)]
    let mut tars: BTreeMap<PathBuf, Vec<(String, usize)>> = BTreeMap::new();
    let mut sets: BTreeMap<PathBuf, Vec<(String, usize)>> = BTreeMap::new();
    for (i, url) in urls.iter().enumerate() {
        let (scheme, rest) = url.split_once(':').unwrap_or(("", url));
        let split = |r: &str| {
            r.rsplit_once('#')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        };
        match (scheme, split(rest)) {
            ("pool", Some((p, m))) => tars.entry(pool_dir.join(p)).or_default().push((m, i)),
            ("wds", Some((p, m))) => tars.entry(PathBuf::from(p)).or_default().push((m, i)),
            ("iconify", Some((p, m))) => sets.entry(PathBuf::from(p)).or_default().push((m, i)),
            ("file", _) => {
                let p = Path::new(rest);
                let ext = p
                    .extension()
                    .map(|e| e.to_string_lossy().to_lowercase())
                    .unwrap_or_default();
                let got = fs::read(p)
                    .map(|bytes| Payload { ext, bytes })
                    .map_err(|e| format!("{rest}: {e}"));
                emit((i, got), &mut buf)?;
            }
            _ => emit((i, Err(format!("unknown pool url `{url}`"))), &mut buf)?,
        }
    }
    for (archive, wanted) in tars {
        // member → (the indices asking for it, handed over yet)
        let mut index: BTreeMap<String, (Vec<usize>, bool)> = BTreeMap::new();
        for (m, i) in wanted {
            index.entry(m).or_default().0.push(i);
        }
        // `KEY.*` names an image of any format (img2dataset's `--encode_format`).
        let key_of = |index: &BTreeMap<String, (Vec<usize>, bool)>, name: &str| {
            if index.contains_key(name) {
                return Some(name.to_string());
            }
            let (stem, ext) = name.rsplit_once('.')?;
            let image = ["jpg", "jpeg", "png", "webp"].contains(&ext.to_lowercase().as_str());
            let any = format!("{stem}.*");
            (image && index.contains_key(&any)).then_some(any)
        };
        let wanted_names = index.clone();
        for_each_member_where(
            &archive,
            |name| key_of(&wanted_names, name).is_some(),
            |name, bytes| {
                let Some(key) = key_of(&index, name) else {
                    return Ok(());
                };
                let (indices, done) = index.get_mut(&key).expect("key found above");
                if *done {
                    return Ok(()); // a second member for the same key: the first one stands
                }
                *done = true;
                let ext = name.rsplit('.').next().unwrap_or("").to_lowercase();
                let payload = Payload { ext, bytes };
                for &i in indices.iter() {
                    emit((i, Ok(payload.clone())), &mut buf)?;
                }
                Ok(())
            },
        )?;
        for (m, (indices, done)) in index {
            if !done {
                for i in indices {
                    let e = format!("{}: no member `{m}`", archive.display());
                    emit((i, Err(e)), &mut buf)?;
                }
            }
        }
    }
    for (set, wanted) in sets {
        let icons =
            super::pool_mini::iconify_set_svgs(&set, wanted.iter().map(|(m, _)| m.as_str()))?;
        for (m, i) in wanted {
            let got = icons
                .get(&m)
                .map(|svg| Payload {
                    ext: "svg".into(),
                    bytes: svg.clone().into_bytes(),
                })
                .ok_or_else(|| format!("{}: no icon `{m}`", set.display()));
            emit((i, got), &mut buf)?;
        }
    }
    if !buf.is_empty() {
        sink(buf)?;
    }
    Ok(())
}

/// All of [`fetch_payloads_batched`] at once, in `urls` order: for a few pairs only.
pub fn fetch_payloads(
    pool_dir: &Path,
    urls: &[&str],
) -> Result<Vec<Result<Payload, String>>, DataError> {
    let mut out: Vec<Result<Payload, String>> = vec![Err("not fetched".into()); urls.len()];
    fetch_payloads_batched(pool_dir, urls, 64, |items| {
        for (i, got) in items {
            out[i] = got;
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_fetch_roundtrip_and_unsafe_members_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut w = PoolWriter::create(dir.path()).expect("create");
        let rec = |k: &str| PoolRecord {
            key: k.into(),
            caption: format!("a\tcaption  for {k}"),
            width: 1,
            height: 1,
            source: "test".into(),
            license: "CC0-1.0".into(),
            url: String::new(),
        };
        w.add_embedded(rec("k1"), "svg", b"<svg/>").expect("add");
        let f = dir.path().join("x.png");
        fs::write(&f, b"png!").expect("w");
        let mut r2 = rec("k2");
        r2.url = format!("file:{}", f.display());
        w.add_reference(r2).expect("add");
        assert_eq!(w.finish().expect("finish"), 2);
        let rows = read_pool(dir.path()).expect("read");
        assert_eq!(rows[0].caption, "a caption for k1");
        let urls: Vec<&str> = rows.iter().map(|r| r.url.as_str()).collect();
        let got = fetch_payloads(dir.path(), &urls).expect("fetch");
        assert_eq!(got[0].as_ref().expect("k1").bytes, b"<svg/>");
        assert_eq!(got[1].as_ref().expect("k2").ext, "png");
        let twice = fetch_payloads(dir.path(), &[urls[0], urls[0]]).expect("fetch");
        assert!(
            twice
                .iter()
                .all(|g| g.as_ref().is_ok_and(|p| p.bytes == b"<svg/>")),
            "a member asked for twice is handed to both: {twice:?}"
        );

        let bad = dir.path().join("bad.tar");
        let mut raw = vec![0u8; 512];
        raw[..12].copy_from_slice(b"../../escape");
        raw[100..107].copy_from_slice(b"0000644");
        raw[124..135].copy_from_slice(b"00000000000");
        raw[156] = b'0';
        raw[148..156].copy_from_slice(b"        ");
        let sum: u32 = raw.iter().map(|&b| u32::from(b)).sum();
        raw[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        raw.extend_from_slice(&[0u8; 1024]);
        fs::write(&bad, raw).expect("w");
        let err = for_each_member(&bad, |_, _| Ok(()))
            .expect_err("refused")
            .to_string();
        assert!(err.contains("bad.tar") && err.contains(".."), "{err}");
    }
}
