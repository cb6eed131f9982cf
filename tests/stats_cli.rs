//! `repro stats --input FILE.csv [--json]` through the real binary: the JSON contract, the
//! published table, and errors that name the file and line.

use std::process::Command;

fn repro(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(args)
        .output()
        .expect("run repro")
}

#[test]
fn json_fields_for_a_table() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("t.csv");
    // Published ImageNet top-1 (a) against itself shifted and with one swap (b).
    std::fs::write(
        &path,
        "model,a,b\nalexnet,56.522,30\nvgg19,72.376,41\ninception_v3,77.294,45\nresnet152,78.312,44\n",
    )
    .expect("write");
    let out = repro(&["stats", "--input", path.to_str().expect("utf-8"), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["n"], 4);
    // One discordant pair of six: τ-b = (5 − 1) / 6.
    assert!((v["kendall_tau_b"].as_f64().expect("tau") - 4.0 / 6.0).abs() < 1e-12);
    for field in [
        "spearman_rho",
        "lin_ccc_log_improvement",
        "probit_slope",
        "pearson_pairwise_improvement",
        "kendall_tau_p_value",
    ] {
        assert!(v[field].is_f64(), "{field} in {v}");
    }
    let human = repro(&["stats", "--input", path.to_str().expect("utf-8")]);
    assert!(human.status.success());
    assert!(String::from_utf8_lossy(&human.stdout).contains("kendall_tau_b"));
}

#[test]
fn malformed_csv_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "model,a,b\nalexnet,56.5,30\nvgg19,seventy,41\n").expect("write");
    let out = repro(&["stats", "--input", path.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv") && err.contains("line 3") && err.contains("seventy"),
        "{err}"
    );
}
