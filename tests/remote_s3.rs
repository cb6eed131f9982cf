//! Remotes in an S3-compatible bucket, against a real server: `s3s-fs` (installed by
//! scripts/setup-s3.sh) on a free 127.0.0.1 port, serving a temp dir, killed on drop. The same
//! scenarios as tests/remote_dir.rs.

mod common;
mod remote_support;
use remote_support::*;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct S3Server {
    child: Child,
    port: u16,
    root: tempfile::TempDir,
}

const ACCESS: &str = "repro-test-access";
const SECRET: &str = "repro-test-secret-key";

impl S3Server {
    fn start() -> S3Server {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".deps/bin/s3s-fs");
        assert!(
            bin.is_file(),
            "{} is missing: run scripts/setup-s3.sh to install the S3 test server",
            bin.display()
        );
        let root = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS, "--secret-key", SECRET])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        S3Server { child, port, root }
    }

    /// A bucket (a directory to s3s-fs) and a target under `prefix` in it.
    fn target(&self, bucket: &str, prefix: &str) -> Target {
        std::fs::create_dir_all(self.root.path().join(bucket)).expect("bucket");
        Target {
            url: format!("s3://{bucket}/{prefix}"),
            env: vec![
                ("AWS_ACCESS_KEY_ID".into(), ACCESS.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()),
                ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
                (
                    "AWS_ENDPOINT_URL".into(),
                    format!("http://127.0.0.1:{}", self.port),
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

#[test]
fn push_then_pull_into_a_fresh_clone_s3() {
    let s = S3Server::start();
    push_then_pull_into_a_fresh_clone(&s.target("cache", "team/repro"));
}

#[test]
fn run_consults_the_configured_remote_s3() {
    let s = S3Server::start();
    run_consults_the_configured_remote(&s.target("cache", "repro"));
}

#[test]
fn tampered_object_is_refused_s3() {
    let s = S3Server::start();
    tampered_object_is_refused(&s.target("cache", "repro"));
}

#[test]
fn concurrent_pushes_lose_nothing_s3() {
    let s = S3Server::start();
    concurrent_pushes_lose_nothing(&s.target("cache", "repro"));
}

#[test]
fn only_trusted_signatures_are_accepted_s3() {
    let s = S3Server::start();
    only_trusted_signatures_are_accepted(&s.target("cache", "signed"), &s.target("cache", "plain"));
}

#[test]
fn a_large_object_goes_up_in_parts_and_comes_back_whole_s3() {
    let s = S3Server::start();
    a_large_object_goes_up_in_parts_and_comes_back_whole(&s.target("cache", "big"));
}

#[test]
fn unreachable_server_is_a_clear_error() {
    let s = S3Server::start();
    let t = s.target("cache", "repro");
    drop(s);
    let r = project("x\n");
    ok(r.repro(&["run", "--json"]), "run");
    let push = repro(&r, &t, &["push", "--remote", &t.url]);
    assert_eq!(push.code, 3, "the environment's fault: {}", push.stderr);
    assert!(
        push.stderr.contains("s3://cache/repro") && push.stderr.contains("unreachable"),
        "{}",
        push.stderr
    );
    // `run` with a dead remote computes everything here, and asks the remote only once.
    let b = project("x\n");
    let run = ok(repro(&b, &t, &["run", "--json", "--remote", &t.url]), "run");
    assert_eq!(run.names("executed").len(), 3);
    assert_eq!(
        run.stderr.matches("unreachable").count(),
        1,
        "{}",
        run.stderr
    );
}
