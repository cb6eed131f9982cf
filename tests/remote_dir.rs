//! Remotes in a shared directory (a plain path and `file://`): push, pull, `run` consulting
//! the remote, tampering, concurrent pushes, signatures, and the errors people see.

mod common;
mod remote_support;
use remote_support::*;

fn dir_target(dir: &tempfile::TempDir, url_form: bool) -> Target {
    let blobs = dir.path().join("cache");
    let url = if url_form {
        format!("file://{}", blobs.display())
    } else {
        blobs.display().to_string()
    };
    Target {
        url,
        env: Vec::new(),
        blobs,
    }
}

#[test]
fn push_then_pull_into_a_fresh_clone_dir() {
    let d = tempfile::tempdir().expect("tempdir");
    push_then_pull_into_a_fresh_clone(&dir_target(&d, false));
}

#[test]
fn run_consults_the_configured_remote_file_url() {
    let d = tempfile::tempdir().expect("tempdir");
    run_consults_the_configured_remote(&dir_target(&d, true));
}

#[test]
fn tampered_object_is_refused_dir() {
    let d = tempfile::tempdir().expect("tempdir");
    tampered_object_is_refused(&dir_target(&d, false));
}

#[test]
fn concurrent_pushes_lose_nothing_dir() {
    let d = tempfile::tempdir().expect("tempdir");
    let t = dir_target(&d, false);
    concurrent_pushes_lose_nothing(&t);
    let leftovers = std::fs::read_dir(t.blobs.join("tmp")).expect("tmp").count();
    assert_eq!(leftovers, 0, "no temp files are left on the remote");
}

#[test]
fn only_trusted_signatures_are_accepted_dir() {
    let d = tempfile::tempdir().expect("tempdir");
    let signed = dir_target(&d, false);
    let unsigned = Target {
        url: d.path().join("plain").display().to_string(),
        env: Vec::new(),
        blobs: d.path().join("plain"),
    };
    only_trusted_signatures_are_accepted(&signed, &unsigned);
}

#[test]
fn bad_remote_and_bad_key_are_clear_errors() {
    let r = project("x\n");
    let t = Target {
        url: "/nonexistent-mount/repro-cache".into(),
        env: Vec::new(),
        blobs: "/nonexistent-mount".into(),
    };
    let pull = repro(&r, &t, &["pull", "--remote", &t.url]);
    assert_eq!(
        pull.code, 3,
        "an unreachable remote is the environment's fault"
    );
    assert!(
        pull.stderr.contains("/nonexistent-mount/repro-cache")
            && pull.stderr.contains("unreachable"),
        "{}",
        pull.stderr
    );
    let none = repro(&r, &t, &["push"]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("--remote"), "{}", none.stderr);
    let odd = repro(&r, &t, &["push", "--remote", "ftp://host/x"]);
    assert!(odd.stderr.contains("unsupported scheme"), "{}", odd.stderr);

    let d = tempfile::tempdir().expect("tempdir");
    let key = d.path().join("bad.key");
    std::fs::write(&key, "not a key\n").expect("write");
    r.write(
        ".repro/config.yaml",
        &format!(
            "remote: {}\nsigning_key: {}\n",
            d.path().join("c").display(),
            key.display()
        ),
    );
    let push = repro(&r, &t, &["push"]);
    assert_eq!(push.code, 2);
    assert!(
        push.stderr.contains(&key.display().to_string())
            && push.stderr.contains("repro key generate"),
        "{}",
        push.stderr
    );
    r.write(".repro/config.yaml", "remote: /tmp\nremtoe: x\n");
    let typo = repro(&r, &t, &["push"]);
    assert!(
        typo.stderr.contains(".repro/config.yaml") && typo.stderr.contains("remtoe"),
        "{}",
        typo.stderr
    );
}

#[test]
fn a_large_object_is_streamed_to_a_directory_and_back_dir() {
    let d = tempfile::tempdir().expect("tempdir");
    a_large_object_goes_up_in_parts_and_comes_back_whole(&dir_target(&d, false));
}
