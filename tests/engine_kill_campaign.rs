//! The `kill -9` campaign as a test: a 10-stage pipeline is run and the planner killed outright
//! at 20 seeded random moments (its workers die with it). After each kill `repro verify`
//! passes, the next run completes, and every stage's output equals a clean run's.

mod common;

use common::Repo;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// Ten stages in a diamond-rich DAG, deterministic outputs, a little time each.
fn pipeline() -> String {
    let mut y = String::from("stages:\n");
    for i in 0..10usize {
        y.push_str(&format!("  s{i}:\n    kind: cmd\n"));
        let ins: Vec<String> = [i.checked_sub(1), i.checked_sub(3)]
            .into_iter()
            .flatten()
            .map(|j| format!("s{j}"))
            .collect();
        if !ins.is_empty() {
            y.push_str(&format!("    inputs: [{}]\n", ins.join(", ")));
        }
        y.push_str(&format!(
            "    params: {{cmd: 'sleep 0.{}; seq 1 {} > $REPRO_OUT/n; cat $REPRO_IN/*/n 2>/dev/null | wc -l > $REPRO_OUT/sum; head -c 200000 /dev/zero > $REPRO_OUT/pad'}}\n",
            1 + i % 3,
            1000 * (i + 1)
        ));
    }
    y
}

/// Each stage's output tree, from `status --json` (all must be fresh).
fn outputs(repo: &Repo) -> Vec<(String, String)> {
    let s = repo.repro(&["status", "--json"]);
    let v = s.json();
    v.as_array()
        .expect("list")
        .iter()
        .map(|st| {
            assert_eq!(st["state"], "fresh", "{st}");
            (
                st["stage"].as_str().expect("name").to_string(),
                st["output"].as_str().expect("output").to_string(),
            )
        })
        .collect()
}

#[test]
fn twenty_seeded_kill_9s_leave_a_sound_store_and_the_same_results() {
    let clean = Repo::new(&pipeline());
    clean.run_ok(&[]);
    let want = outputs(&clean);

    let repo = Repo::new(&pipeline());
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    for round in 0..20 {
        // Some rounds start from scratch, the others from what the last kill left.
        if round % 4 == 0 {
            let _ = std::fs::remove_dir_all(repo.path().join("store"));
        }
        let mut child = repo
            .command(&["run", "-j", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..1500)));
        let _ = child.kill();
        let _ = child.wait();
        let v = repo.repro(&["verify", "--json"]);
        assert_eq!(
            v.code, 0,
            "round {round}: verify after kill -9: {}",
            v.stdout
        );
    }
    repo.run_ok(&[]);
    assert_eq!(
        outputs(&repo),
        want,
        "the killed-and-resumed store computed the same outputs"
    );
    assert_eq!(repo.repro(&["verify"]).code, 0);
}
