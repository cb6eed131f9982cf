//! `cmd` stages driven through the real binary: params in the command, `env:`, `versions:`,
//! `timeout:` and `resources.memory`.

mod common;
use common::Repo;

#[test]
fn params_are_substituted_into_the_command_before_the_key() {
    let pipeline = |n: u32| {
        format!(
            "stages:\n  gen:\n    kind: cmd\n    matrix: {{m: [a]}}\n    params:\n      cmd: \"echo ${{n}} ${{m}} ${{opt.k}} $${{REPRO_STAGE}} > $REPRO_OUT/out.txt\"\n      n: {n}\n      opt: {{k: v}}\n"
        )
    };
    let repo = Repo::new(&pipeline(200));
    repo.run_ok(&[]);
    let out = repo.repro(&["export", "gen@a", "exported"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(repo.read("exported/out.txt"), "200 a v gen@a\n");
    // The key hashes the final command: a changed param reruns the stage.
    repo.write("pipeline.yaml", &pipeline(300));
    let status = repo.repro(&["status"]);
    assert!(
        status.stdout.contains("param cmd changed"),
        "{}",
        status.stdout
    );
    // An unknown name is an error at its position.
    repo.write(
        "pipeline.yaml",
        "stages:\n  gen:\n    kind: cmd\n    params: {cmd: \"echo ${nope}\"}\n",
    );
    let r = repo.repro(&["status"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("pipeline.yaml:4:25: `${nope}` is neither"),
        "{}",
        r.stderr
    );
}

#[test]
fn declared_env_and_tool_versions_enter_the_key() {
    let pipeline = |greeting: &str| {
        format!(
            "stages:\n  hello:\n    kind: cmd\n    params:\n      cmd: \"echo $GREETING $(cat tool-version) > $REPRO_OUT/g\"\n      env: {{GREETING: {greeting}}}\n      versions: {{tool: \"cat tool-version\"}}\n"
        )
    };
    let repo = Repo::new(&pipeline("hi"));
    repo.write("tool-version", "1.0\n");
    repo.run_ok(&[]);
    assert_eq!(repo.repro(&["export", "hello", "e1"]).code, 0);
    assert_eq!(repo.read("e1/g"), "hi 1.0\n");
    // The record keeps what the version command said.
    let audit = repo.repro(&["audit", "hello", "--json"]);
    assert!(
        audit.stdout.contains("\"tool\": \"1.0\""),
        "{}",
        audit.stdout
    );

    repo.write("tool-version", "2.0\n");
    let status = repo.repro(&["status"]);
    assert!(
        status.stdout.contains("environment tool changed 1.0 → 2.0"),
        "{}",
        status.stdout
    );
    repo.write("pipeline.yaml", &pipeline("hello"));
    let status = repo.repro(&["status"]);
    assert!(
        status.stdout.contains("param env.GREETING changed"),
        "{}",
        status.stdout
    );
}

#[test]
fn timeout_stops_the_command_and_says_so() {
    let repo = Repo::new(
        "stages:\n  slow:\n    kind: cmd\n    timeout: 1s\n    params: {cmd: \"sleep 30 & sleep 30\"}\n",
    );
    let start = std::time::Instant::now();
    let r = repo.repro(&["run"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(start.elapsed().as_secs() < 15, "took {:?}", start.elapsed());
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("timed out after 1s"), "{all}");
    // A changed timeout is not a changed result: the key is the same.
    repo.write(
        "pipeline.yaml",
        "stages:\n  slow:\n    kind: cmd\n    timeout: 1m\n    params: {cmd: \"sleep 30 & sleep 30\"}\n",
    );
    let dry = repo.repro(&["run", "--dry-run"]);
    assert!(!dry.stdout.contains("param"), "{}", dry.stdout);
}

#[test]
fn memory_caps_the_commands_virtual_memory() {
    let repo = Repo::new(
        "stages:\n  m:\n    kind: cmd\n    resources: {memory: 64M}\n    params: {cmd: \"ulimit -v > $REPRO_OUT/v\"}\n",
    );
    repo.run_ok(&[]);
    assert_eq!(repo.repro(&["export", "m", "e"]).code, 0);
    assert_eq!(repo.read("e/v").trim(), "65536");
}

#[test]
fn bad_limits_are_refused_where_they_are_written() {
    for (text, expect) in [
        (
            "stages:\n  a:\n    kind: cmd\n    timeout: soon\n    params: {cmd: \"true\"}\n",
            "pipeline.yaml:4:14: `timeout: soon` is not a duration",
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    resources: {timeout: 5s}\n    params: {cmd: \"true\"}\n",
            "`timeout:` is a key of the stage",
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    resources: {memory: lots}\n    params: {cmd: \"true\"}\n",
            "`memory: lots` is not a size",
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    params: {cmd: \"true\", env: {REPRO_OUT: x}}\n",
            "REPRO_* names are reserved",
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    resources: {retries: 2}\n    params: {cmd: \"true\"}\n",
            "`retries:` is a key of the stage",
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    retries: -1\n    params: {cmd: \"true\"}\n",
            "retries",
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    tolerance: {m.json: -1}\n    params: {cmd: \"true\"}\n",
            "`m.json: -1` is not a tolerance",
        ),
    ] {
        repo_refuses(text, expect);
    }
}

fn repo_refuses(text: &str, expect: &str) {
    let repo = Repo::new(text);
    let r = repo.repro(&["status"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(expect), "{expect}\n{}", r.stderr);
}

#[test]
fn retries_rerun_a_flaky_stage_and_its_record_says_so() {
    // Fails on its first two attempts, succeeds on the third (the count lives outside the
    // scratch folder, in the repository).
    let flaky = |retries: u32| {
        format!(
            "stages:\n  flaky:\n    kind: cmd\n    retries: {retries}\n    params: {{cmd: \"n=$(cat tries 2>/dev/null || echo 0); echo $((n+1)) > tries; echo partial > $REPRO_OUT/p$n; [ $n -ge 2 ] && echo ok > $REPRO_OUT/o\"}}\n"
        )
    };
    let repo = Repo::new(&flaky(1));
    let r = repo.repro(&["run"]);
    assert_eq!(
        r.code, 1,
        "one retry is not enough: {}{}",
        r.stdout, r.stderr
    );
    std::fs::remove_file(repo.path().join("tries")).expect("reset");
    // `retries:` is not in the key: the stage was never recorded, and now succeeds.
    repo.write("pipeline.yaml", &flaky(2));
    let r = repo.repro(&["run"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("flaky succeeded on attempt 3"),
        "{}",
        r.stdout
    );
    assert_eq!(repo.read("tries"), "3\n");
    // Each attempt starts from an empty output folder: only the last one's files are kept.
    let out = repo.repro(&["export", "flaky", "exported"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut files: Vec<String> = std::fs::read_dir(repo.path().join("exported"))
        .expect("exported")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["o", "p2"]);
    let audit = repo.repro(&["audit", "flaky", "--json"]).json();
    let failed = &audit["lineage"][0]["provenance"]["failed_attempts"];
    assert_eq!(failed.as_array().map(Vec::len), Some(2), "{audit}");
    assert!(repo
        .repro(&["audit", "flaky"])
        .stdout
        .contains("succeeded on attempt 3"));
}

#[test]
fn version_commands_run_in_the_pipelines_folder_wherever_repro_starts() {
    let repo = Repo::new(
        "stages:\n  v:\n    kind: cmd\n    params:\n      cmd: \"cat tool-version > $REPRO_OUT/v\"\n      versions: {tool: \"cat tool-version\"}\n",
    );
    repo.write("tool-version", "1.2.3\n");
    repo.run_ok(&[]);
    // From another folder, with -f: the same key (the version is read from the same file).
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(common::repro_bin())
        .args(["-f"])
        .arg(repo.path().join("pipeline.yaml"))
        .args(["--store"])
        .arg(repo.path().join("store"))
        .args(["status", "--json"])
        .current_dir(elsewhere.path())
        .output()
        .expect("repro");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status[0]["state"], "fresh", "{status}");
    let audit = repo.repro(&["audit", "v", "--json"]).json();
    assert_eq!(audit["lineage"][0]["components"]["env"]["tool"], "1.2.3");
}
