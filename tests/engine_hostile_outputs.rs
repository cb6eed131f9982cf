//! A stage's outputs are whatever its command left in `$REPRO_OUT`, links and pipes included:
//! repro refuses what a tree cannot hold, names it, and never acts on what a link points at.

mod common;
use common::Repo;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).expect("stat").permissions().mode() & 0o7777
}

/// Mode of every entry under `dir` (links not followed), by path.
fn modes(dir: &Path) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            out.insert(p.display().to_string(), mode(&p));
            if e.file_type().expect("type").is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// No execution scratch is left behind (lock files may stay).
fn no_scratch(r: &Repo) {
    let left: Vec<_> = fs::read_dir(r.path().join("store/work"))
        .expect("work")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "scratch left: {left:?}");
}

#[test]
fn cleanup_after_a_failure_leaves_a_linked_folder_alone() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("data");
    fs::create_dir_all(secret.join("sub")).expect("mkdir");
    fs::write(secret.join("sub/f"), "keep").expect("write");
    for (p, m) in [
        (secret.join("sub/f"), 0o400),
        (secret.join("sub"), 0o500),
        (secret.clone(), 0o500),
    ] {
        fs::set_permissions(&p, fs::Permissions::from_mode(m)).expect("chmod");
    }
    let before = (modes(&secret), mode(&secret));
    let r = Repo::new(&format!(
        "stages:\n  s:\n    kind: cmd\n    params: {{cmd: \"ln -s {} $REPRO_OUT/d; exit 1\"}}\n",
        secret.display()
    ));
    let run = r.repro(&["run"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        (modes(&secret), mode(&secret)),
        before,
        "the folder the link points at kept its permissions"
    );
    assert_eq!(
        fs::read_to_string(secret.join("sub/f")).expect("read"),
        "keep"
    );
    no_scratch(&r);
    for p in [secret.join("sub"), secret] {
        fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).expect("chmod back");
    }
}

#[test]
fn a_link_to_the_store_is_refused_by_name_and_changes_nothing() {
    let r = Repo::new(
        r#"
stages:
  first: {kind: cmd, params: {cmd: "echo x > $REPRO_OUT/x"}}
  up: {kind: cmd, inputs: [first], params: {cmd: "echo y > $REPRO_OUT/y; ln -s ../../.. $REPRO_OUT/up"}}
"#,
    );
    r.run_ok(&["first"]);
    let store = r.path().join("store");
    let before: BTreeMap<_, _> = ["objects", "actions", "refs"]
        .iter()
        .flat_map(|d| modes(&store.join(d)))
        .collect();
    let top = mode(&store);
    let run = r.repro(&["run", "up"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let after: BTreeMap<_, _> = ["objects", "actions", "refs"]
        .iter()
        .flat_map(|d| modes(&store.join(d)))
        .collect();
    assert_eq!(after, before, "nothing in the store was chmodded");
    assert_eq!(mode(&store), top);
    no_scratch(&r);
    assert!(!store.join("refs/stages/up").exists(), "nothing published");
}

/// The refusal (which `store::tree` tests name the path in) reaches the terminal, not only the
/// stage's log (issue 16 item 10).
#[test]
fn a_link_refusal_reaches_the_terminal() {
    let r =
        Repo::new("stages:\n  up: {kind: cmd, params: {cmd: \"ln -s ../../.. $REPRO_OUT/up\"}}\n");
    let run = r.repro(&["run"]);
    assert_eq!(run.code, 1);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("output `up` is a symbolic link"), "{all}");
}

#[test]
fn a_named_pipe_in_the_outputs_is_refused_by_name() {
    let r = Repo::new(
        "stages:\n  p: {kind: cmd, params: {cmd: \"mkdir $REPRO_OUT/q && mkfifo $REPRO_OUT/q/fifo\"}}\n",
    );
    let run = r.repro(&["run"]);
    assert_eq!(
        run.code, 1,
        "a FIFO is not silently dropped: {}",
        run.stderr
    );
    assert!(!r.path().join("store/refs/stages/p").exists());
    no_scratch(&r);
}
