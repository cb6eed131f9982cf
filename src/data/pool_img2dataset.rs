//! img2dataset output (the LAION case) → the caption pool, without copying a pixel.
//!
//! img2dataset's webdataset output is `NNNNN.tar` shards of `KEY.jpg` + `KEY.txt` (caption) +
//! `KEY.json` (url, width, height, original size, status, LAION columns such as `LICENSE`
//! and `similarity` when the input parquet had them), each with a `NNNNN.parquet` holding the
//! same per-sample metadata. The pool rows point into the shards (`wds:` urls), so a LAION
//! pool costs a metadata table, not a second copy of the images.
//!
//! The metadata is read from the shards' `.json` / `.txt` members, which carry every column
//! of the shard's parquet file; the `NNNNN.parquet` files beside the shards are not read
//! (only `*.tar` files are), since they hold nothing the members lack.

use super::error::{require, DataError};
use super::pool::{for_each_member, PoolRecord, PoolWriter};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const IMAGE_EXTS: &[&str] = &["jpg", "jpeg", "png", "webp"];

#[derive(Default)]
struct Sample {
    image_ext: Option<String>,
    caption: Option<String>,
    json: Option<Value>,
}

/// Import every `*.tar` shard under `dir` (sorted by name); returns pairs added. Samples
/// without an image or a caption (img2dataset's failed downloads) are counted, not added.
pub fn import_img2dataset(
    dir: &Path,
    pool: &mut PoolWriter,
    source: &str,
) -> Result<(usize, usize), DataError> {
    require(
        dir,
        "give the folder of img2dataset webdataset shards (`NNNNN.tar`)",
    )?;
    let mut shards: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tar"))
        .collect();
    shards.sort();
    if shards.is_empty() {
        return Err(DataError::format(dir, "no `*.tar` webdataset shards here"));
    }
    let (mut added, mut incomplete) = (0, 0);
    for shard in shards {
        let abs = std::fs::canonicalize(&shard).map_err(|e| DataError::io(&shard, e))?;
        let mut samples: BTreeMap<String, Sample> = BTreeMap::new();
        for_each_member(&shard, |name, bytes| {
            let base = name.rsplit('/').next().unwrap_or(name);
            let Some((key, ext)) = base.split_once('.') else {
                return Ok(());
            };
            let s = samples
                .entry(name[..name.len() - base.len()].to_string() + key)
                .or_default();
            let ext = ext.to_ascii_lowercase();
            if IMAGE_EXTS.contains(&ext.as_str()) {
                s.image_ext = Some(ext);
            } else if ext == "txt" {
                s.caption = Some(String::from_utf8_lossy(&bytes).trim().to_string());
            } else if ext == "json" {
                s.json = serde_json::from_slice(&bytes).ok();
            }
            Ok(())
        })?;
        for (key, s) in samples {
            let meta = s.json.unwrap_or(Value::Null);
            let caption = s
                .caption
                .or_else(|| meta["caption"].as_str().map(str::to_string))
                .unwrap_or_default();
            let (Some(ext), false) = (s.image_ext, caption.is_empty()) else {
                incomplete += 1;
                continue;
            };
            let dim = |k: &str| meta[k].as_u64().unwrap_or(0) as u32;
            let license = meta["LICENSE"]
                .as_str()
                .or(meta["license"].as_str())
                .unwrap_or("unknown");
            pool.add_reference(PoolRecord {
                key: format!("{source}-{}", key.replace('/', "_")),
                caption,
                width: dim("width"),
                height: dim("height"),
                source: format!("{source}:{}", meta["url"].as_str().unwrap_or("")),
                license: if license == "?" {
                    "unknown".into()
                } else {
                    license.to_string()
                },
                url: format!("wds:{}#{key}.{ext}", abs.display()),
            })?;
            added += 1;
        }
    }
    Ok((added, incomplete))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::pool::{fetch_payloads, read_pool};

    #[test]
    fn imports_a_shard_by_reference() {
        let src = tempfile::tempdir().expect("tmp");
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).expect("append");
        };
        add("000000001.jpg", b"jpegbytes");
        add("000000001.txt", b"a dog on a beach");
        add(
            "000000001.json",
            br#"{"url": "http://x/1.jpg", "width": 64, "height": 48, "LICENSE": "?"}"#,
        );
        add("000000002.json", br#"{"status": "failed_to_download"}"#);
        std::fs::write(src.path().join("00000.tar"), b.into_inner().expect("tar")).expect("w");
        let out = tempfile::tempdir().expect("tmp");
        let mut pool = PoolWriter::create(out.path()).expect("pool");
        assert_eq!(
            import_img2dataset(src.path(), &mut pool, "laion").expect("import"),
            (1, 1)
        );
        pool.finish().expect("finish");
        let rows = read_pool(out.path()).expect("read");
        assert_eq!(
            (
                rows[0].caption.as_str(),
                rows[0].width,
                rows[0].license.as_str()
            ),
            ("a dog on a beach", 64, "unknown")
        );
        let got = fetch_payloads(out.path(), &[rows[0].url.as_str()]).expect("fetch");
        assert_eq!(got[0].as_ref().expect("payload").bytes, b"jpegbytes");
    }
}
