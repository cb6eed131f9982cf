//! Helpers for integration tests: a temporary git repository with a pipeline and a store, and
//! a way to run the real `repro` binary in it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Repo {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
    /// Stage names from a `run --json` summary field.
    pub fn names(&self, field: &str) -> Vec<String> {
        let mut v: Vec<String> = self.json()[field]
            .as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_str().expect("str").to_string())
            .collect();
        v.sort();
        v
    }
}

pub fn repro_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_repro"))
}

impl Repo {
    pub fn new(pipeline: &str) -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repo { dir };
        repo.write("pipeline.yaml", pipeline);
        repo.write(".gitignore", "store/\n");
        repo.git(&["init", "-q"]);
        repo.commit_all("init");
        repo
    }

    /// `git add -A` and commit, as a throwaway identity.
    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            message,
        ]);
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_default()
    }

    pub fn git(&self, args: &[&str]) {
        let st = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .status()
            .expect("git");
        assert!(st.success(), "git {args:?}");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(repro_bin());
        c.args(args)
            .current_dir(self.path())
            .env("REPRO_STORE", self.path().join("store"))
            .env_remove("REPRO_GPUS");
        c
    }

    pub fn repro(&self, args: &[&str]) -> Run {
        let out: Output = self.command(args).output().expect("run repro");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `repro run --json`, asserting success.
    pub fn run_ok(&self, extra: &[&str]) -> Run {
        let mut args = vec!["run", "--json"];
        args.extend_from_slice(extra);
        let r = self.repro(&args);
        assert_eq!(
            r.code, 0,
            "repro run failed:\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        r
    }
}

/// Run one stage kind in this process on `inputs` (name, folder) into `out`, on 2 threads,
/// with this repository as its root; panics with the kind's error.
pub fn run_stage(kind: &str, params: serde_json::Value, inputs: &[(&str, &Path)], out: &Path) {
    let k = repro::stage::find(kind).expect("kind registered");
    let params = k.resolve_params(&params).expect("params");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut ctx = repro::stage::StageContext::detached(kind, params, out.to_path_buf(), root);
    ctx.threads = 2;
    ctx.inputs = inputs
        .iter()
        .map(|(n, p)| (n.to_string(), p.to_path_buf()))
        .collect();
    k.run(&mut ctx).unwrap_or_else(|e| panic!("{kind}: {e}"));
}
