//! Scenarios every remote must pass, written once and run against a shared directory
//! (tests/remote_dir.rs) and a real S3-compatible server (tests/remote_s3.rs).
#![allow(dead_code)]

pub mod s3;

use super::common::{repro_bin, Repo, Run};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Three stages; `data` writes many files so transfers run in parallel.
pub const PIPELINE: &str = r#"
stages:
  data:
    kind: cmd
    params: {cmd: "cp input.txt $REPRO_OUT/data.txt; for i in $(seq 1 40); do echo $i $(cat input.txt) > $REPRO_OUT/f$i.txt; done"}
    deps: [input.txt]
  model:
    kind: cmd
    inputs: [data]
    params: {cmd: "wc -c < $REPRO_IN/data/data.txt > $REPRO_OUT/size.txt"}
  report:
    kind: cmd
    inputs: [model]
    params: {cmd: "cp $REPRO_IN/model/size.txt $REPRO_OUT/report.txt"}
"#;

/// A remote under test: its URL, the environment that reaches it, and where its blobs live
/// on disk (to tamper with them).
pub struct Target {
    pub url: String,
    pub env: Vec<(String, String)>,
    pub blobs: PathBuf,
}

pub fn project(input: &str) -> Repo {
    let r = Repo::new(PIPELINE);
    r.write("input.txt", input);
    r
}

pub fn repro(r: &Repo, t: &Target, args: &[&str]) -> Run {
    let out = command(r, t, args).output().expect("run repro");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn command(r: &Repo, t: &Target, args: &[&str]) -> Command {
    let mut c = r.command(args);
    for (k, v) in &t.env {
        c.env(k, v);
    }
    c.env_remove("REPRO_REMOTE")
        .env_remove("REPRO_SIGNING_KEY")
        .env_remove("REPRO_TRUSTED_KEYS");
    c
}

pub fn ok(run: Run, what: &str) -> Run {
    assert_eq!(
        run.code, 0,
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run
}

pub fn push(r: &Repo, t: &Target) -> serde_json::Value {
    ok(repro(r, t, &["push", "--remote", &t.url, "--json"]), "push").json()["report"].clone()
}

/// Every object file of a store.
pub fn objects(store: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let base = store.join("objects/sha256");
    for fan in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        for e in std::fs::read_dir(fan.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push(e.path());
        }
    }
    out.sort();
    out
}

/// The digest a store object file is named by.
fn digest_of(path: &Path) -> String {
    let fan = path.parent().and_then(|p| p.file_name()).expect("fan");
    format!(
        "{}{}",
        fan.to_string_lossy(),
        path.file_name().expect("name").to_string_lossy()
    )
}

/// Push from one store, pull into a fresh clone's store: the clone then runs nothing. A
/// second push moves nothing.
pub fn push_then_pull_into_a_fresh_clone(t: &Target) {
    let a = project("hello\n");
    ok(a.repro(&["run", "--json"]), "run");
    let first = push(&a, t);
    assert_eq!(first["records_pushed"], 3, "{first}");
    assert!(
        first["objects_pushed"].as_u64().expect("n") >= 42,
        "{first}"
    );
    let again = push(&a, t);
    assert_eq!(
        again["records_pushed"], 0,
        "only missing records move: {again}"
    );
    assert_eq!(
        again["objects_pushed"], 0,
        "only missing objects move: {again}"
    );

    let b = project("hello\n");
    let pulled = ok(
        repro(&b, t, &["pull", "--remote", &t.url, "--json"]),
        "pull",
    )
    .json();
    let mut names: Vec<String> = pulled["report"]["pulled"]
        .as_array()
        .expect("pulled")
        .iter()
        .map(|v| v.as_str().expect("str").to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["data", "model", "report"], "{pulled}");
    let run = b.run_ok(&[]);
    assert!(run.names("executed").is_empty(), "{}", run.stdout);
    assert_eq!(run.names("cached").len(), 3);
    // The pulled outputs are the pushed ones, and `verify` finds the store sound.
    ok(b.repro(&["verify"]), "verify");
    let dest = b.path().join("exported");
    ok(
        b.repro(&["export", "report", dest.to_str().expect("utf8")]),
        "export",
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("report.txt"))
            .expect("report")
            .trim(),
        "6"
    );
}

/// `repro run` with a configured remote pulls instead of executing.
pub fn run_consults_the_configured_remote(t: &Target) {
    let a = project("remote run\n");
    ok(a.repro(&["run", "--json"]), "run");
    push(&a, t);
    let b = project("remote run\n");
    b.write(".repro/config.yaml", &format!("remote: {}\n", t.url));
    let run = ok(repro(&b, t, &["run", "--json"]), "run with remote");
    assert!(
        run.names("executed").is_empty(),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(run.names("pulled"), ["data", "model", "report"]);
    // A stage whose inputs changed is not on the remote: it runs here, the rest is pulled.
    let c = project("remote run\n");
    c.write(".repro/config.yaml", &format!("remote: {}\n", t.url));
    c.write(
        "pipeline.yaml",
        &PIPELINE.replace(
            "report.txt\"}",
            "report.txt; echo changed >> $REPRO_OUT/report.txt\"}",
        ),
    );
    let run = ok(repro(&c, t, &["run", "--json"]), "run with remote");
    assert_eq!(run.names("executed"), ["report"]);
    assert_eq!(run.names("pulled"), ["data", "model"]);
}

/// A tampered object on the remote is refused with a clear error and never enters the store;
/// `repro run` then computes the stage here.
pub fn tampered_object_is_refused(t: &Target) {
    let a = project("tamper\n");
    ok(a.repro(&["run", "--json"]), "run");
    push(&a, t);
    // The object of data.txt ("tamper\n"): replace it on the remote by a valid zstd frame of
    // other bytes, as an attacker or a bad disk would.
    let digest = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(b"tamper\n"))
    };
    let victim = t
        .blobs
        .join("objects/sha256")
        .join(&digest[..2])
        .join(&digest[2..]);
    assert!(victim.is_file(), "pushed object at {}", victim.display());
    std::fs::write(&victim, zstd::encode_all(&b"evil\n"[..], 3).expect("zstd")).expect("tamper");

    let b = project("tamper\n");
    let pulled = repro(&b, t, &["pull", "--remote", &t.url]);
    assert_eq!(pulled.code, 1, "{}\n{}", pulled.stdout, pulled.stderr);
    assert!(
        pulled.stderr.contains(&digest) && pulled.stderr.contains("tampered"),
        "the error names the object: {}",
        pulled.stderr
    );
    let store = b.path().join("store");
    assert!(
        objects(&store).iter().all(|p| digest_of(p) != digest),
        "the tampered object did not enter the store"
    );
    let leftovers: Vec<_> = std::fs::read_dir(store.join("tmp"))
        .expect("tmp")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("pull."))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the refused download is deleted: {leftovers:?}"
    );
    assert!(
        std::fs::read_dir(store.join("actions/sha256"))
            .expect("actions")
            .next()
            .is_none(),
        "no record was published"
    );
    let run = ok(repro(&b, t, &["run", "--json", "--remote", &t.url]), "run");
    assert_eq!(run.names("executed"), ["data"], "{}", run.stderr);
    assert!(run.stderr.contains("tampered"), "{}", run.stderr);
}

/// Two stores pushing overlapping content at the same moment: both succeed, nothing is lost,
/// and each one's results can be pulled whole.
pub fn concurrent_pushes_lose_nothing(t: &Target) {
    let a = project("shared input\n");
    let b = project("shared input\n");
    // Same `data` (same objects), different `model`.
    b.write("pipeline.yaml", &PIPELINE.replace("wc -c <", "wc -l <"));
    ok(a.repro(&["run", "--json"]), "run a");
    ok(b.repro(&["run", "--json"]), "run b");
    let spawn = |r: &Repo| -> Child {
        command(r, t, &["push", "--remote", &t.url, "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn push")
    };
    let (pa, pb) = (spawn(&a), spawn(&b));
    for (name, child) in [("a", pa), ("b", pb)] {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "push {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (name, pipeline) in [
        ("a", PIPELINE.to_string()),
        ("b", PIPELINE.replace("wc -c <", "wc -l <")),
    ] {
        let c = project("shared input\n");
        c.write("pipeline.yaml", &pipeline);
        ok(repro(&c, t, &["pull", "--remote", &t.url]), "pull");
        let run = c.run_ok(&[]);
        assert!(run.names("executed").is_empty(), "{name}: {}", run.stdout);
        ok(c.repro(&["verify"]), "verify");
    }
}

/// With trusted keys configured, an unsigned record and one signed by another key are refused;
/// one signed by a trusted key is accepted.
pub fn only_trusted_signatures_are_accepted(t: &Target, t_unsigned: &Target) {
    let keys = tempfile::tempdir().expect("tempdir");
    let gen = |name: &str| -> PathBuf {
        let path = keys.path().join(name);
        let out = Command::new(repro_bin())
            .args(["key", "generate", "--out", path.to_str().expect("utf8")])
            .output()
            .expect("key generate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    };
    let alice = gen("alice.key");
    let mallory = gen("mallory.key");

    // Alice pushes signed to `t`; the same results go unsigned to `t_unsigned`.
    let a = project("signed\n");
    a.write(
        ".repro/config.yaml",
        &format!("signing_key: {}\n", alice.display()),
    );
    ok(a.repro(&["run", "--json"]), "run");
    push(&a, t);
    let plain = project("signed\n");
    ok(plain.repro(&["run", "--json"]), "run");
    push(&plain, t_unsigned);

    let trusting = |who: &Path| -> Repo {
        let r = project("signed\n");
        r.write(
            ".repro/config.yaml",
            &format!("trusted_keys: [{}.pub]\n", who.display()),
        );
        r
    };
    let b = trusting(&alice);
    let pulled = ok(
        repro(&b, t, &["pull", "--remote", &t.url, "--json"]),
        "pull signed",
    )
    .json();
    assert_eq!(pulled["report"]["pulled"].as_array().expect("a").len(), 3);

    let c = trusting(&alice);
    let refused = repro(&c, t_unsigned, &["pull", "--remote", &t_unsigned.url]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(refused.stderr.contains("unsigned"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("trusted_keys"),
        "says the fix: {}",
        refused.stderr
    );
    let d = trusting(&mallory);
    let refused = repro(&d, t, &["pull", "--remote", &t.url]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(refused.stderr.contains("untrusted"), "{}", refused.stderr);
    for r in [&c, &d] {
        assert!(
            std::fs::read_dir(r.path().join("store/actions/sha256"))
                .expect("actions")
                .next()
                .is_none(),
            "a refused record is not published"
        );
    }
    // `run` does not use a refused record: it computes here.
    let run = ok(repro(&d, t, &["run", "--json", "--remote", &t.url]), "run");
    assert_eq!(run.names("executed").len(), 3);
}

/// An object larger than one PUT (S3: sent in parts, streamed from disk) survives the round
/// trip: pushed from one store, pulled into a fresh clone, the same bytes, `verify` clean.
pub fn a_large_object_goes_up_in_parts_and_comes_back_whole(t: &Target) {
    let pipeline = "stages:\n  big:\n    kind: cmd\n    params: {cmd: 'head -c 90000000 /dev/urandom > $REPRO_OUT/weights'}\n";
    let a = Repo::new(pipeline);
    a.run_ok(&[]);
    let report = push(&a, t);
    assert!(
        report["bytes"].as_u64().expect("bytes") > 90_000_000,
        "{report}"
    );
    let b = Repo::new(pipeline);
    ok(
        repro(&b, t, &["pull", "--remote", &t.url, "--json"]),
        "pull",
    );
    ok(b.repro(&["verify"]), "verify");
    let (ea, eb) = (a.path().join("exported"), b.path().join("exported"));
    ok(
        a.repro(&["export", "big", ea.to_str().expect("utf8")]),
        "export a",
    );
    ok(
        b.repro(&["export", "big", eb.to_str().expect("utf8")]),
        "export b",
    );
    assert!(
        std::fs::read(ea.join("weights")).expect("a")
            == std::fs::read(eb.join("weights")).expect("b"),
        "the pulled object is the pushed one"
    );
}
