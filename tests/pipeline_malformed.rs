//! The corpus in tests/data/malformed_pipelines: every file is a pipeline repro must refuse
//! with exit code 2 and the error its `# expect:` line names, never a panic or a silent
//! success. Also the smallest of all, an empty file.

mod common;
use std::path::Path;
use std::process::Command;

struct Case {
    expect: String,
    env: Vec<(String, String)>,
}

/// The `# expect:` and `# env:` header lines of a corpus file.
fn header(bytes: &[u8]) -> Case {
    let text = String::from_utf8_lossy(bytes);
    let mut case = Case {
        expect: String::new(),
        env: Vec::new(),
    };
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(e) = line.strip_prefix("# expect: ") {
            case.expect = e.to_string();
        } else if let Some((k, v)) = line.strip_prefix("# env: ").and_then(|e| e.split_once('=')) {
            case.env.push((k.to_string(), v.to_string()));
        }
    }
    case
}

/// `repro dag -f file`: (exit code, stderr).
fn dag(dir: &Path, file: &Path, env: &[(String, String)]) -> (i32, String) {
    let out = Command::new(common::repro_bin())
        .args(["dag", "-f"])
        .arg(file)
        .current_dir(dir)
        .env("REPRO_STORE", dir.join("store"))
        .env_remove("REPRO_MAX_MATRIX")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run repro");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_malformed_pipeline_is_refused_with_its_error() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/malformed_pipelines");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 50, "the corpus has {} files", files.len());
    let mut wrong = Vec::new();
    for file in &files {
        let case = header(&std::fs::read(file).expect("read"));
        let name = file.file_name().expect("name").to_string_lossy();
        assert!(!case.expect.is_empty(), "{name} has no `# expect:` line");
        let (code, stderr) = dag(tmp.path(), file, &case.env);
        if code != 2 || !stderr.contains(&case.expect) || stderr.contains("panicked") {
            wrong.push(format!(
                "{name}: exit {code}, expected 2 and {:?}; stderr:\n{stderr}",
                case.expect
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn an_empty_file_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("pipeline.yaml");
    std::fs::write(&file, "").expect("write");
    let (code, stderr) = dag(tmp.path(), &file, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("missing field `stages`"), "{stderr}");
}

/// Issue 16 item 2: a matrix value holding `../` made a stage name that, as the input folder
/// of the stage reading it (`work/<key>/in/<name>`), put files outside the store.
#[test]
fn a_matrix_value_cannot_place_files_outside_the_store() {
    let r = common::Repo::new(
        r#"
stages:
  a:
    kind: cmd
    matrix: {m: ["x/../../../../../esc"]}
    params: {cmd: "echo planted > $REPRO_OUT/f"}
  b:
    kind: cmd
    inputs: [a]
    params: {cmd: "true"}
"#,
    );
    let run = r.repro(&["run"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("pipeline.yaml:5:18: matrix value \"x/../../../../../esc\""),
        "{}",
        run.stderr
    );
    assert!(
        !r.path().join("esc").exists(),
        "nothing was written outside the store"
    );
}

/// Pin names name files in `store/refs/pins` and follow the stage-name rule.
#[test]
fn a_pin_name_cannot_leave_the_pins_folder() {
    let r =
        common::Repo::new("stages:\n  s: {kind: cmd, params: {cmd: \"echo x > $REPRO_OUT/x\"}}\n");
    r.run_ok(&[]);
    for bad in ["../../x", "..", "a\nb"] {
        let pin = r.repro(&["pin", "add", "s", "--name", bad]);
        assert_eq!(pin.code, 2, "{bad:?}: {}", pin.stderr);
        assert!(pin.stderr.contains("pin name"), "{}", pin.stderr);
    }
    assert!(!r.path().join("store/x").exists());
    assert_eq!(r.repro(&["pin", "add", "s"]).code, 0);
}
