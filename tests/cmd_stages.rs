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
