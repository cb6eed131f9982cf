//! The Slurm executor through a real cluster: scripts/setup-slurm.sh starts munged, slurmctld
//! and three slurmd nodes in network namespaces of their own (.ci/run does it). These tests
//! fail, never skip, when the cluster is not up.

mod common;
mod remote_support;

use common::{Repo, Run};
use remote_support::s3::S3Server;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `SLURM_CONF` of the test cluster, after checking that the controller answers.
fn slurm_conf() -> String {
    let env = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".deps/slurm/env");
    let text = std::fs::read_to_string(&env).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run scripts/setup-slurm.sh first (it starts the test cluster)",
            env.display()
        )
    });
    let conf = text
        .trim()
        .strip_prefix("export SLURM_CONF=")
        .expect("env file names SLURM_CONF")
        .to_string();
    let ping = std::process::Command::new("scontrol")
        .arg("ping")
        .env("SLURM_CONF", &conf)
        .output()
        .expect("scontrol runs (apt slurm-client: scripts/setup-slurm.sh)");
    assert!(
        String::from_utf8_lossy(&ping.stdout).contains("UP"),
        "the Slurm controller does not answer: run scripts/setup-slurm.sh"
    );
    conf
}

fn slurm_repo(pipeline: &str) -> Repo {
    let repo = Repo::new(pipeline);
    repo.write(
        ".repro/config.yaml",
        "executor:\n  kind: slurm\n  poll_seconds: 0.3\n  signal_grace_seconds: 10\n",
    );
    repo
}

/// `repro run --executor slurm` in the background, its output dropped (a planner to kill).
fn planner(repo: &Repo, conf: &str) -> std::process::Child {
    repo.command(&["run", "--executor", "slurm"])
        .env("SLURM_CONF", conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn")
}

fn repro(repo: &Repo, conf: &str, args: &[&str]) -> Run {
    let out = repo
        .command(args)
        .env("SLURM_CONF", conf)
        .output()
        .expect("run repro");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const DAG: &str = r#"
stages:
  a:
    kind: cmd
    params: {cmd: 'echo "$SLURM_JOB_ID $SLURMD_NODENAME" > $REPRO_OUT/where; echo a >> ../runs.log; sleep 2'}
  b:
    kind: cmd
    inputs: [a]
    params: {cmd: 'echo "$SLURM_JOB_ID $SLURMD_NODENAME" > $REPRO_OUT/where; echo b >> ../runs.log; sleep 2'}
  c:
    kind: cmd
    inputs: [a]
    params: {cmd: 'echo "$SLURM_JOB_ID $SLURMD_NODENAME" > $REPRO_OUT/where; echo c >> ../runs.log; sleep 2'}
  d:
    kind: cmd
    inputs: [b, c]
    params: {cmd: 'cat $REPRO_IN/b/where $REPRO_IN/c/where > $REPRO_OUT/both; echo d >> ../runs.log'}
"#;

#[test]
fn a_dag_runs_as_slurm_jobs_and_a_second_run_executes_nothing() {
    let conf = slurm_conf();
    let repo = slurm_repo(&DAG.replace("../runs.log", &repo_log()));
    let r = repro(&repo, &conf, &["run", "--json", "--executor", "slurm"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.names("executed"), ["a", "b", "c", "d"]);
    let out = repo.path().join("exported");
    let e = repro(&repo, &conf, &["export", "d", out.to_str().expect("utf-8")]);
    assert_eq!(e.code, 0, "{}", e.stderr);
    let both = std::fs::read_to_string(out.join("both")).expect("d's output");
    for line in both.lines() {
        let (job, node) = line.split_once(' ').expect("job id and node");
        assert!(
            job.parse::<u64>().is_ok(),
            "ran under Slurm: SLURM_JOB_ID={job:?}"
        );
        assert!(node.starts_with("node"), "SLURMD_NODENAME={node:?}");
    }
    let again = repro(&repo, &conf, &["run", "--json", "--executor", "slurm"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.names("executed").is_empty());
    // Provenance says where it ran.
    let audit = repro(&repo, &conf, &["audit", "d", "--json"]);
    assert!(
        audit.stdout.contains("\"batch_job\"") && audit.stdout.contains("\"node"),
        "{}",
        audit.stdout
    );
}

/// The address the nodes reach this host at: the controller's (`SlurmctldHost=host(ADDR)`).
fn controller_addr(conf: &str) -> String {
    let text = std::fs::read_to_string(conf).expect("slurm.conf");
    text.lines()
        .find_map(|l| l.strip_prefix("SlurmctldHost="))
        .and_then(|h| h.split_once('(')?.1.strip_suffix(')'))
        .expect("SlurmctldHost=host(addr) in slurm.conf")
        .to_string()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn workers_without_a_shared_store_pull_inputs_from_s3_and_push_results_there() {
    let conf = slurm_conf();
    let s3 = S3Server::start_on(&controller_addr(&conf));
    let t = s3.target("cache", "cluster");
    // Each node gets a store of its own, which neither the planner nor another node uses: `b`
    // and `c` find `a`'s output only on the remote.
    let nodes = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(nodes.path().join("logs")).expect("logs");
    let repo = Repo::new(&DAG.replace("../runs.log", &repo_log()));
    repo.write(
        ".repro/config.yaml",
        &format!(
            "executor:\n  kind: slurm\n  poll_seconds: 0.3\n  remote: {}\n  worker_store: \"{}/$SLURMD_NODENAME\"\n  worker_log_dir: {}\n",
            t.url,
            nodes.path().display(),
            nodes.path().join("logs").display()
        ),
    );
    let run = |args: &[&str]| {
        let mut c = repo.command(args);
        c.env("SLURM_CONF", &conf);
        for (k, v) in &t.env {
            c.env(k, v);
        }
        let out = c.output().expect("run repro");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let r = run(&["run", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.names("executed"), ["a", "b", "c", "d"]);
    // Every record is on the remote, and the workers' stores are where the config put them.
    let records = files_under(&t.blobs.join("actions"));
    assert_eq!(records.len(), 4, "{records:?}");
    let worker_records = files_under(nodes.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/actions/"))
        .count();
    assert!(
        worker_records >= 4,
        "records in the workers' stores: {worker_records}"
    );
    // No output came to the planner: the results are on the remote.
    let out = repo.path().join("exported");
    let e = run(&["export", "d", out.to_str().expect("utf-8")]);
    assert_ne!(e.code, 0, "d's outputs stayed on the remote");
    // A second run finds everything on the remote and executes nothing.
    let again = run(&["run", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.names("executed").is_empty(), "{}", again.stdout);
    assert_eq!(again.names("shared"), ["a", "b", "c", "d"]);
    // `repro pull` brings them, from the remote the workers filled.
    let p = run(&["pull", "--remote", &t.url]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let e = run(&["export", "d", out.to_str().expect("utf-8")]);
    assert_eq!(e.code, 0, "{}", e.stderr);
    let both = std::fs::read_to_string(out.join("both")).expect("d's output");
    assert_eq!(both.lines().count(), 2, "{both}");
}

#[test]
fn status_shows_a_running_job_and_cancel_stops_what_a_dead_planner_left() {
    let conf = slurm_conf();
    let repo = slurm_repo("stages:\n  slow:\n    kind: cmd\n    params: {cmd: 'sleep 120'}\n");
    let mut child = planner(&repo, &conf);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(repo.path().join("store/jobs"))
        .map(|d| d.count())
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < deadline, "never submitted");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().expect("kill -9 the planner");
    let _ = child.wait();
    let status = repro(&repo, &conf, &["status"]);
    assert!(status.stdout.contains("slurm job"), "{}", status.stdout);
    let c = repro(&repo, &conf, &["cancel", "--json"]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert!(c.stdout.contains("\"slow\""), "{}", c.stdout);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let q = std::process::Command::new("squeue")
            .args(["-h", "-o", "%j"])
            .env("SLURM_CONF", &conf)
            .output()
            .expect("squeue");
        if !String::from_utf8_lossy(&q.stdout).contains(".slow") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the job is still queued after repro cancel"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A log outside the repo, shared by every node (the temp folder is on the shared filesystem).
fn repo_log() -> String {
    let dir = tempfile::tempdir().expect("tmp").keep();
    dir.join("runs.log").display().to_string()
}

#[test]
fn a_gpu_stage_gets_gres_in_the_dry_run() {
    let conf = slurm_conf();
    let repo = slurm_repo(
        "stages:\n  t:\n    kind: cmd\n    params: {cmd: 'true'}\n    resources: {cpus: 8, gpus: 1, memory: 16G, time: 4h}\n",
    );
    let r = repro(&repo, &conf, &["run", "--executor", "slurm", "--dry-run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "sbatch",
        "--gres=gpu:1",
        "--cpus-per-task=8",
        "--mem=16384M",
        "--time=0-04:00:00",
        "exec-stage",
    ] {
        assert!(r.stdout.contains(want), "{want} missing:\n{}", r.stdout);
    }
}

#[test]
fn a_cancelled_job_fails_its_stage_with_the_reason_and_keep_going_finishes_the_rest() {
    let conf = slurm_conf();
    let repo = slurm_repo(
        "stages:\n  slow:\n    kind: cmd\n    params: {cmd: 'sleep 60'}\n  quick:\n    kind: cmd\n    params: {cmd: 'sleep 3; echo ok > $REPRO_OUT/x'}\n",
    );
    let child = repo
        .command(&["run", "--json", "--keep-going", "--executor", "slurm"])
        .env("SLURM_CONF", &conf)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait for the slow job to be queued, then scancel it by name.
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let q = std::process::Command::new("squeue")
            .args(["-h", "-o", "%i %j"])
            .env("SLURM_CONF", &conf)
            .output()
            .expect("squeue");
        let text = String::from_utf8_lossy(&q.stdout).into_owned();
        if let Some(line) = text.lines().find(|l| l.ends_with(".slow")) {
            break line.split_whitespace().next().expect("id").to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the slow stage never reached the queue"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(1));
    let st = std::process::Command::new("scancel")
        .arg(&id)
        .env("SLURM_CONF", &conf)
        .status()
        .expect("scancel");
    assert!(st.success());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let all = format!("{stdout}\n{stderr}");
    assert!(all.contains("CANCELLED"), "reason missing:\n{all}");
    assert!(
        all.contains(&format!("logs/slurm/{id}.log")),
        "log path missing:\n{all}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json summary");
    assert_eq!(v["executed"], serde_json::json!(["quick"]));
}

#[test]
fn a_stage_over_its_time_limit_ends_as_timeout() {
    let conf = slurm_conf();
    let repo = slurm_repo(
        "stages:\n  long:\n    kind: cmd\n    params: {cmd: 'sleep 300'}\n    resources: {time: 1m}\n",
    );
    let r = repro(&repo, &conf, &["run", "--executor", "slurm"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("TIMEOUT"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn a_killed_planner_is_replaced_without_running_any_stage_twice() {
    let conf = slurm_conf();
    let log = repo_log();
    let repo = slurm_repo(
        &DAG.replace("../runs.log", &log)
            .replace("sleep 2", "sleep 6"),
    );
    let mut child = planner(&repo, &conf);
    // Let `a` finish and `b`, `c` be submitted, then kill the planner outright.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains('a')
        || !std::fs::read_dir(repo.path().join("store/jobs"))
            .map(|d| d.count() >= 2)
            .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "b and c were never submitted");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let r = repro(&repo, &conf, &["run", "--json", "--executor", "slurm"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mut runs: Vec<String> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(str::to_string)
        .collect();
    runs.sort();
    assert_eq!(runs, ["a", "b", "c", "d"], "each stage ran exactly once");
}

/// A mini training, slow enough to be caught between epochs (several seconds each here).
#[cfg(feature = "torch")]
const TRAINING: &str = r#"stages:
  fashion_full:
    kind: dataset_import
    params: {format: fashion-mnist, resolution: [32, 32], channels: 3}
  fashion:
    kind: dataset_subset
    inputs: [fashion_full]
    params: {sizes: {train: 2000, val: 100}, seed: 0}
  train:
    kind: train
    inputs: [fashion]
    params: {model: resnet152, scale: mini, epochs: 6, batch_size: 32, seed: 0}
"#;

/// The digest of `train`'s model.safetensors, from its record.
#[cfg(feature = "torch")]
fn weights_digest(repo: &Repo, conf: &str) -> String {
    let dir = repo.path().join("exported-train");
    let e = repro(
        repo,
        conf,
        &["export", "train", dir.to_str().expect("utf-8")],
    );
    assert_eq!(e.code, 0, "{}", e.stderr);
    let bytes = std::fs::read(dir.join("model.safetensors")).expect("weights");
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(&bytes))
}

#[cfg(feature = "torch")]
#[test]
fn a_training_requeued_mid_run_resumes_from_its_checkpoint_to_identical_weights() {
    let conf = slurm_conf();
    // The reference: the same training, uninterrupted, on the local executor.
    let reference = Repo::new(TRAINING);
    reference.run_ok(&[]);
    let want = weights_digest(&reference, &conf);

    let repo = slurm_repo(TRAINING);
    let child = repo
        .command(&["run", "--json", "--executor", "slurm"])
        .env("SLURM_CONF", &conf)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait for the first epoch's checkpoint, then requeue the training's job from outside.
    let deadline = Instant::now() + Duration::from_secs(300);
    let checkpoints = repo.path().join("store/checkpoints");
    let job = loop {
        assert!(Instant::now() < deadline, "no checkpoint was ever written");
        let has_checkpoint = std::fs::read_dir(&checkpoints)
            .map(|d| d.count() > 0)
            .unwrap_or(false);
        let jobs: Vec<serde_json::Value> = std::fs::read_dir(repo.path().join("store/jobs"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
                    .collect()
            })
            .unwrap_or_default();
        let train = jobs.iter().find(|j| j["stage"] == "train");
        if let (true, Some(j)) = (has_checkpoint, train) {
            break j["job_id"].as_u64().expect("job id");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let requeue = std::process::Command::new("scontrol")
        .args(["requeue", &job.to_string()])
        .env("SLURM_CONF", &conf)
        .output()
        .expect("scontrol");
    assert!(
        requeue.status.success(),
        "scontrol requeue {job}: {}",
        String::from_utf8_lossy(&requeue.stderr)
    );
    let out = child.wait_with_output().expect("planner");
    assert!(out.status.success(), "the run completes after the requeue");

    let export = repo.path().join("exported-metrics");
    let e = repro(
        &repo,
        &conf,
        &["export", "train", export.to_str().expect("utf-8")],
    );
    assert_eq!(e.code, 0, "{}", e.stderr);
    let timing: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("timing.json")).expect("timing"))
            .expect("json");
    assert!(
        timing["resumed_from_epoch"]
            .as_u64()
            .expect("resumed_from_epoch")
            >= 1,
        "the requeued job resumed from a checkpoint: {}",
        timing["resumed_from_epoch"]
    );
    assert_eq!(
        weights_digest(&repo, &conf),
        want,
        "weights byte-identical to the uninterrupted run"
    );
}
