//! A remote in an S3-compatible bucket (`s3://bucket/prefix`), configured by the standard
//! `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
//! `AWS_ENDPOINT_URL` for stores other than AWS).
//!
//! `object_store` is async; the engine is not. This file owns a small tokio runtime and blocks
//! on it, so the async world ends here. `block_on` may be called from several transfer threads
//! at once: that is how transfers run in parallel. Create-if-absent is `PutMode::Create`
//! (`If-None-Match: *`), which the server enforces atomically.

use super::backend::{Backend, Put};
use super::RemoteError;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

pub struct S3Remote {
    url: String,
    prefix: String,
    store: AmazonS3,
    runtime: tokio::runtime::Runtime,
}

impl S3Remote {
    /// `url` is `s3://bucket` or `s3://bucket/prefix`.
    pub fn open(url: &str) -> Result<S3Remote, RemoteError> {
        let bad = |message: String| RemoteError::Config {
            what: format!("remote {url}"),
            message,
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("an S3 remote is written s3://bucket/prefix".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("the URL names no bucket".into()));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        // A local or on-premises endpoint (http://127.0.0.1:…) is plain HTTP; allow it when the
        // user configured one, instead of failing with a TLS error.
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .unwrap_or_default();
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        if std::env::var("AWS_DEFAULT_REGION").is_err() && std::env::var("AWS_REGION").is_err() {
            builder = builder.with_region("us-east-1");
        }
        let store = builder.build().map_err(|e| {
            bad(format!(
                "{e}; set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for a store other than AWS, AWS_ENDPOINT_URL"
            ))
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("repro-s3")
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the I/O runtime: {e}")))?;
        Ok(S3Remote {
            url: url.trim_end_matches('/').to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            store,
            runtime,
        })
    }

    fn path(&self, key: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(key)
        } else {
            ObjPath::from(format!("{}/{key}", self.prefix))
        }
    }

    fn err(&self, key: &str, e: object_store::Error) -> RemoteError {
        let message = e.to_string();
        // Connection failures say so plainly: the usual cause is a wrong endpoint or no network.
        if message.contains("error sending request")
            || message.contains("Connection refused")
            || message.contains("dns error")
        {
            return RemoteError::Unreachable {
                remote: self.url.clone(),
                message,
                hint: "check AWS_ENDPOINT_URL and the network; is the server running?".into(),
            };
        }
        RemoteError::Io {
            remote: self.url.clone(),
            key: key.to_string(),
            message,
        }
    }
}

impl Backend for S3Remote {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        let path = self.path(key);
        match self.runtime.block_on(self.store.head(&path)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err(key, e)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        let path = self.path(key);
        let fetch = async {
            let r = self.store.get(&path).await?;
            r.bytes().await
        };
        match self.runtime.block_on(fetch) {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(key, e)),
        }
    }

    fn get_to(&self, key: &str, dest: &std::path::Path) -> Result<bool, RemoteError> {
        use futures::StreamExt;
        use std::io::Write;
        let path = self.path(key);
        let fetch = async {
            let mut stream = self.store.get(&path).await?.into_stream();
            let mut file = std::fs::File::create(dest).map_err(io_error)?;
            while let Some(chunk) = stream.next().await {
                file.write_all(&chunk?).map_err(io_error)?;
            }
            Ok::<(), object_store::Error>(())
        };
        match self.runtime.block_on(fetch) {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err(key, e)),
        }
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<Put, RemoteError> {
        let path = self.path(key);
        let payload = PutPayload::from(bytes.to_vec());
        let put = self
            .store
            .put_opts(&path, payload, PutOptions::from(PutMode::Create));
        match self.runtime.block_on(put) {
            Ok(_) => Ok(Put::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Put::Existed),
            Err(e) => Err(self.err(key, e)),
        }
    }

    fn put_file_if_absent(&self, key: &str, src: &std::path::Path) -> Result<Put, RemoteError> {
        let size = std::fs::metadata(src)
            .map_err(|e| self.err(key, io_error(e)))?
            .len();
        if size <= SINGLE_PUT_MAX {
            let bytes = std::fs::read(src).map_err(|e| self.err(key, io_error(e)))?;
            return self.put_if_absent(key, &bytes);
        }
        // Multipart uploads cannot be conditional: ask first. Two pushers racing past the
        // check upload the same content-named bytes, so either write is right.
        if self.exists(key)? {
            return Ok(Put::Existed);
        }
        let path = self.path(key);
        let upload = async {
            let mut file = std::fs::File::open(src).map_err(io_error)?;
            let mut w = WriteMultipart::new_with_chunk_size(
                self.store.put_multipart(&path).await?,
                PART_SIZE,
            );
            let mut buf = vec![0u8; PART_SIZE];
            loop {
                // At most a few parts in flight: memory stays bounded whatever the file's size.
                w.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                let n = std::io::Read::read(&mut file, &mut buf).map_err(io_error)?;
                if n == 0 {
                    break;
                }
                w.write(&buf[..n]);
            }
            w.finish().await
        };
        match self.runtime.block_on(upload) {
            Ok(_) => Ok(Put::Created),
            Err(e) => Err(self.err(key, e)),
        }
    }
}

/// Objects up to this size go in one conditional PUT; larger ones in parts (S3 caps one PUT at
/// 5 GB and each part at 5 GB, with at most 10,000 parts: 16 MiB parts reach 156 GiB).
const SINGLE_PUT_MAX: u64 = 64 << 20;
const PART_SIZE: usize = 16 << 20;
const PARTS_IN_FLIGHT: usize = 4;

fn io_error(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "local file",
        source: Box::new(e),
    }
}
