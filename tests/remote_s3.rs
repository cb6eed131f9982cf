//! Remotes in an S3-compatible bucket, against a real server ([`S3Server`]). The same scenarios
//! as tests/remote_dir.rs.

mod common;
mod remote_support;
use remote_support::s3::S3Server;
use remote_support::*;

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
