//! The store under hostile conditions: a full disk, a modified object, a read-only store.
//!
//! The disk tests mount a small tmpfs (and a read-only bind mount), so they need root; without
//! it they fail saying so rather than pass without testing anything.

mod common;
use common::Repo;
use repro::store::{Digest, ErrorClass, Store, StoreError};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mount that is undone when the test ends, however it ends.
struct Mount(PathBuf);

impl Mount {
    fn new(args: &[&str], at: &Path) -> Mount {
        std::fs::create_dir_all(at).expect("mount point");
        let out = Command::new("mount")
            .args(args)
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test must run as root to mount {args:?} at {}: {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Mount(at.to_path_buf())
    }

    fn tmpfs(at: &Path, size: &str) -> Mount {
        Mount::new(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"], at)
    }

    /// `source` seen read-only at `at`.
    fn read_only_view(source: &Path, at: &Path) -> Mount {
        let m = Mount::new(&["--bind", source.to_str().expect("utf8")], at);
        let st = Command::new("mount")
            .args(["-o", "remount,ro,bind"])
            .arg(at)
            .status()
            .expect("remount");
        assert!(st.success(), "remount {} read-only", at.display());
        m
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn random_file(path: &Path, bytes: usize) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c {bytes} /dev/urandom > '{}'",
            path.display()
        ))
        .status()
        .expect("head");
    assert!(st.success());
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every write path of the store reports a full disk as `NoSpace`, naming the path, the
/// bytes and the fix, and leaves no temp file behind; what was stored before is intact.
#[test]
fn a_full_store_reports_no_space_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let small = dir.path().join("small");
    let _mount = Mount::tmpfs(&small, "4m");
    let store = Store::open(&small.join("store")).expect("open");
    let kept = store
        .put_bytes(b"stored before the disk filled")
        .expect("put");

    let big = dir.path().join("big");
    random_file(&big, 16_000_000);
    let err = store.put_file(&big).expect_err("16 MB cannot fit in 4 MB");
    assert!(err.is_no_space(), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Environment);
    let msg = err.to_string();
    assert!(msg.contains("full"), "{msg}");
    assert!(msg.contains(&small.display().to_string()), "{msg}");
    assert!(msg.contains("16000000 bytes needed"), "{msg}");
    assert!(msg.contains("--store"), "{msg}");
    assert_eq!(entries(&store.tmp_dir()), Vec::<String>::new());

    // Fill the disk, then extract an object onto it: the temp file beside the destination goes.
    let filler = small.join("filler");
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cat /dev/zero > '{}' 2>/dev/null",
            filler.display()
        ))
        .status();
    let big_small = store.put_bytes(&[1u8; 200_000]);
    assert!(
        matches!(big_small, Err(StoreError::NoSpace { .. })),
        "{big_small:?}"
    );
    let dest = small.join("out/copy");
    let err = store
        .extract_to(&kept, &dest)
        .expect_err("no room to extract");
    assert!(err.is_no_space(), "{err:?}");
    assert_eq!(entries(&small.join("out")), Vec::<String>::new());
    assert_eq!(entries(&store.tmp_dir()), Vec::<String>::new());

    let full = StoreError::if_full(&store.tmp_dir()).expect("the executor's check sees it full");
    assert!(full.to_string().contains("full"), "{full}");
    std::fs::remove_file(&filler).expect("free space");
    assert!(StoreError::if_full(&store.tmp_dir()).is_none());
    assert_eq!(
        store.read(&kept).expect("read"),
        b"stored before the disk filled"
    );
    assert_eq!(store.list_objects().expect("list"), vec![kept]);
    assert!(store.check_object(&kept).is_ok());
}

/// The campaign's reproduction end to end: a 16 MB output on a full 4 MB store. It used to
/// panic (exit 101) writing its failure into a log on the full disk and leave its scratch.
#[test]
fn a_16_mb_output_on_a_full_4_mb_store_fails_cleanly() {
    let r = Repo::new(
        r#"
stages:
  big:
    kind: cmd
    params: {cmd: "head -c 16000000 /dev/urandom > $REPRO_OUT/big"}
"#,
    );
    let store = r.path().join("store");
    let mount = Mount::tmpfs(&store, "4m");
    let run = r.repro(&["run"]);
    assert_ne!(run.code, 101, "panicked:\n{}\n{}", run.stdout, run.stderr);
    assert!(
        !run.stdout.contains("101"),
        "the worker panicked:\n{}",
        run.stdout
    );
    assert_eq!(
        run.code, 3,
        "the environment's fault:\n{}\n{}",
        run.stdout, run.stderr
    );
    let text = format!("{}{}", run.stdout, run.stderr).to_lowercase();
    assert!(
        text.contains("full") || text.contains("no space"),
        "{}",
        run.stderr
    );
    assert!(
        text.contains(&store.display().to_string().to_lowercase()),
        "{text}"
    );
    assert_eq!(entries(&store.join("tmp")), Vec::<String>::new());
    // Only the action's lock file stays (removing a lock others may wait on is a race).
    let work: Vec<String> = entries(&store.join("work"))
        .into_iter()
        .filter(|e| !e.ends_with(".lock"))
        .collect();
    assert_eq!(work, Vec::<String>::new());
    let v = r.repro(&["verify"]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    drop(mount);
}

/// A byte flipped inside an object file, size kept: `run` used to call the stage cached
/// (exit 0) while `verify` found the object corrupt. Now the lookup notices (the object's stat
/// no longer matches its verification stamp, so it is re-hashed), and the stage reruns.
#[test]
fn a_byte_flip_in_an_output_object_reruns_the_stage() {
    let r = Repo::new(
        r#"
stages:
  a:
    kind: cmd
    params: {cmd: "seq 1 20000 > $REPRO_OUT/a.txt"}
  b:
    kind: cmd
    inputs: [a]
    params: {cmd: "wc -l < $REPRO_IN/a/a.txt > $REPRO_OUT/b.txt"}
"#,
    );
    r.run_ok(&[]);
    let content: Vec<u8> = (1..=20000)
        .map(|i| format!("{i}\n"))
        .collect::<String>()
        .into();
    let object = r
        .path()
        .join("store/objects/sha256")
        .join(Digest::of(&content).fanout_path());
    let mut bytes = std::fs::read(&object).expect("a.txt's object");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(&object, &bytes).expect("flip a byte in place");

    let run = r.run_ok(&[]);
    assert_eq!(
        run.names("executed"),
        vec!["a".to_string()],
        "{}",
        run.stdout
    );
    assert!(!run.names("cached").contains(&"a".to_string()));
    let v = r.repro(&["verify"]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let again = r.run_ok(&[]);
    assert_eq!(again.names("executed"), Vec::<String>::new());
}

/// `export` from a store on a read-only filesystem: it used to stage its files in
/// `store/tmp` and fail with "Read-only file system" twice over.
#[test]
fn export_reads_a_read_only_store() {
    let r = Repo::new(
        r#"
stages:
  a:
    kind: cmd
    params: {cmd: "mkdir $REPRO_OUT/d; echo hi > $REPRO_OUT/d/x.txt"}
"#,
    );
    r.run_ok(&[]);
    let ro = r.path().join("ro-store");
    let _ro = Mount::read_only_view(&r.path().join("store"), &ro);
    let dest = tempfile::tempdir().expect("tempdir");
    let out = r
        .command(&["export", "a", dest.path().join("e").to_str().expect("utf8")])
        .env("REPRO_STORE", &ro)
        .output()
        .expect("run repro");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dest.path().join("e/d/x.txt")).expect("exported"),
        "hi\n"
    );
    assert_eq!(entries(&dest.path().join("e/d")), vec!["x.txt".to_string()]);
}

/// An I/O error's cause appears once in the message chain the CLI prints.
#[test]
fn an_io_error_names_its_cause_once() {
    let err = StoreError::io(Path::new("/s/tmp/x"), std::io::Error::from_raw_os_error(30));
    let chained = format!("{:#}", anyhow::Error::from(err));
    assert_eq!(chained.matches("os error 30").count(), 1, "{chained}");
    let full = StoreError::io(Path::new("/s/tmp/x"), std::io::Error::from_raw_os_error(28));
    assert!(full.is_no_space());
}
