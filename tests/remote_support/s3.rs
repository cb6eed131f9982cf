//! A real S3-compatible server for tests: `s3s-fs` (installed by scripts/setup-s3.sh) on a free
//! port, serving a temp dir, killed on drop.

use super::Target;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct S3Server {
    child: Child,
    host: String,
    port: u16,
    root: tempfile::TempDir,
}

const ACCESS: &str = "repro-test-access";
const SECRET: &str = "repro-test-secret-key";

impl S3Server {
    /// On a free 127.0.0.1 port.
    pub fn start() -> S3Server {
        S3Server::start_on("127.0.0.1")
    }

    /// On a free port of `host` (an address other machines reach, for Slurm nodes).
    pub fn start_on(host: &str) -> S3Server {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".deps/bin/s3s-fs");
        assert!(
            bin.is_file(),
            "{} is missing: run scripts/setup-s3.sh to install the S3 test server",
            bin.display()
        );
        let root = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind((host, 0))
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(&bin)
            .args(["--host", host, "--port", &port.to_string()])
            .args(["--access-key", ACCESS, "--secret-key", SECRET])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((host, port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        S3Server {
            child,
            host: host.to_string(),
            port,
            root,
        }
    }

    /// A bucket (a directory to s3s-fs) and a target under `prefix` in it.
    pub fn target(&self, bucket: &str, prefix: &str) -> Target {
        std::fs::create_dir_all(self.root.path().join(bucket)).expect("bucket");
        Target {
            url: format!("s3://{bucket}/{prefix}"),
            env: vec![
                ("AWS_ACCESS_KEY_ID".into(), ACCESS.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()),
                ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
                (
                    "AWS_ENDPOINT_URL".into(),
                    format!("http://{}:{}", self.host, self.port),
                ),
            ],
            blobs: self.root.path().join(bucket).join(prefix),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
