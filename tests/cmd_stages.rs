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
