//! Bad input gets one clear error naming the file, line and column — never a panic.

mod common;
use common::Repo;

fn error_of(pipeline: &str) -> String {
    let r = Repo::new(pipeline);
    let out = r.repro(&["status"]);
    assert_eq!(
        out.code, 2,
        "expected a usage error; stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out.stderr
}

#[test]
fn unknown_key() {
    let e =
        error_of("stages:\n  a:\n    kind: cmd\n    params: {cmd: \"true\"}\n    imputs: [b]\n");
    assert!(e.contains("pipeline.yaml:5:5: "), "{e}");
    assert!(e.contains("unknown field `imputs`"), "{e}");
}

#[test]
fn unknown_stage() {
    let e =
        error_of("stages:\n  a:\n    kind: cmd\n    params: {cmd: \"true\"}\n    inputs: [a2]\n");
    assert!(e.contains("pipeline.yaml:5:14: "), "{e}");
    assert!(e.contains("input `a2`, which is not a stage"), "{e}");
}

#[test]
fn cycle_is_named() {
    let e = error_of(
        "stages:\n  a: {kind: cmd, params: {cmd: x}, inputs: [c]}\n  b: {kind: cmd, params: {cmd: x}, inputs: [a]}\n  c: {kind: cmd, params: {cmd: x}, inputs: [b]}\n",
    );
    assert!(e.contains("cycle"), "{e}");
    for s in ["a", "b", "c"] {
        assert!(
            e.contains(&format!("{s} →")) || e.contains(&format!("→ {s}")),
            "{e}"
        );
    }
    assert!(e.contains("pipeline.yaml:"), "{e}");
}

#[test]
fn wrong_type() {
    let e = error_of(
        "stages:\n  a:\n    kind: cmd\n    params: {cmd: \"true\"}\n    resources: {gpus: lots}\n",
    );
    assert!(e.contains("pipeline.yaml:5:"), "{e}");
    assert!(e.contains("invalid type"), "{e}");
}

#[test]
fn unknown_kind() {
    let e = error_of("stages:\n  a:\n    kind: trian\n");
    assert!(e.contains("pipeline.yaml:3:5: "), "{e}");
    assert!(
        e.contains("unknown kind `trian`") && e.contains("known kinds: cmd"),
        "{e}"
    );
}

#[test]
fn bad_params_and_syntax_and_missing_file() {
    let e = error_of("stages:\n  a:\n    kind: cmd\n    params: {command: ls}\n");
    assert!(
        e.contains("pipeline.yaml:4:5: ") && e.contains("needs `params: {cmd"),
        "{e}"
    );
    let e = error_of("stages:\n  a: [unclosed\n");
    assert!(e.contains("pipeline.yaml:"), "{e}");
    let r = Repo::new("stages: {}\n");
    let out = r.repro(&["-f", "nope.yaml", "status"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("nope.yaml: cannot read the pipeline file"),
        "{}",
        out.stderr
    );
}

#[test]
fn matrix_variable_errors() {
    let e = error_of("stages:\n  t:\n    kind: cmd\n    matrix: {m: [a, b]}\n    params: {cmd: \"echo ${model}\"}\n");
    assert!(
        e.contains("pipeline.yaml:5:25: `${model}` is neither a matrix variable nor a param"),
        "{e}"
    );
    assert!(e.contains("(matrix: [m]; params: [cmd])"), "{e}");
}
