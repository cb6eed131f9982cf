//! The scheduler on the recording executor: real pipelines of `cmd` stages and a real store,
//! no worker processes. A "successful" job publishes a record whose output is one file with
//! the bytes the test chose, as `exec-stage` would.

use super::*;
use crate::engine::executor::recording::RecordingExecutor;
use crate::engine::executor::Capacity;
use crate::engine::Kinds;
use crate::pipeline::Pipeline;
use crate::provenance::{ActionRecord, GitState, Provenance};
use crate::store::Store;
use std::cell::RefCell;
use std::collections::HashMap;

struct Quiet;
impl Reporter for Quiet {
    fn begin(&self, _: usize) {}
    fn cached(&self, _: &str) {}
    fn started(&self, _: &str, _: &ActionKey, _: Option<std::time::Duration>) {}
    fn progress(&self, _: &str, _: u64, _: u64, _: &str) {}
    fn finished(&self, _: &str, _: f64) {}
    fn failed(&self, _: &str, _: &str, _: Option<&Path>) {}
    fn note(&self, _: &str) {}
    fn end(&self) {}
}

struct World {
    dir: tempfile::TempDir,
    store: Store,
    kinds: Kinds,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("store")).expect("store");
        World {
            dir,
            store,
            kinds: Kinds::registered(),
        }
    }

    fn pipeline(&self, yaml: &str) -> Pipeline {
        Pipeline::from_text(&self.dir.path().join("pipeline.yaml"), yaml, &self.kinds)
            .expect("pipeline")
    }

    /// Run `yaml` with `slots` CPU slots and `gpus` GPUs; `outputs` maps a stage to the bytes
    /// its job outputs (absent: the job fails).
    fn run(
        &self,
        yaml: &str,
        capacity: Capacity,
        outputs: &HashMap<&str, &str>,
        opts: RunOptions,
    ) -> (RunSummary, Vec<String>, usize) {
        let p = self.pipeline(yaml);
        let engine = Engine::new(&p, &self.store, &self.kinds);
        let store = &self.store;
        let mut exec = RecordingExecutor::new(capacity, |job: &Job| {
            match outputs.get(job.stage.as_str()) {
                Some(bytes) => {
                    publish(store, &job.key, bytes);
                    JobEnd::Succeeded
                }
                None => JobEnd::Failed {
                    reason: "scripted failure".into(),
                    environment: false,
                },
            }
        });
        let summary = run(&engine, &opts, &Quiet, &mut exec).expect("run");
        (summary, exec.launched.clone(), exec.max_running)
    }
}

/// What a worker does on success: outputs into the store, then the record.
fn publish(store: &Store, key: &ActionKey, bytes: &str) {
    let pending = action::read_pending(store, key).expect("pending");
    let out = tempfile::tempdir().expect("tmp");
    std::fs::write(out.path().join("out"), bytes).expect("write");
    let (output, tree) = store.put_tree(out.path()).expect("put");
    ActionRecord {
        key: *key,
        components: pending.components,
        output,
        files: tree.entries,
        provenance: Provenance {
            stage: pending.stage,
            git: GitState::default(),
            code_sources: Default::default(),
            repro_version: "test".into(),
            host: "test".into(),
            started: String::new(),
            ended: String::new(),
            duration_s: 0.0,
            peak_memory_bytes: 0,
            exit_status: 0,
            log: None,
            resources: pending.resources,
            gpus: Vec::new(),
            batch_job: None,
            failed_attempts: Vec::new(),
        },
    }
    .publish(store)
    .expect("publish");
}

fn slots(n: usize) -> Capacity {
    Capacity {
        cpu_slots: n,
        gpus: Some(0),
        jobs: None,
    }
}

const CHAIN: &str = "stages:\n  a:\n    kind: cmd\n    params: {cmd: 'A1'}\n  b:\n    kind: cmd\n    inputs: [a]\n    params: {cmd: 'B'}\n";

#[test]
fn stages_run_after_their_inputs_and_a_second_run_launches_nothing() {
    let w = World::new();
    let out = HashMap::from([("a", "x"), ("b", "y")]);
    let (s, launched, _) = w.run(CHAIN, slots(2), &out, RunOptions::default());
    assert_eq!(launched, ["a", "b"]);
    assert_eq!(s.executed, ["a", "b"]);
    let (s, launched, _) = w.run(CHAIN, slots(2), &out, RunOptions::default());
    assert!(launched.is_empty());
    assert_eq!(s.cached, ["a", "b"]);
}

#[test]
fn early_cutoff_a_changed_stage_with_the_same_output_stops_there() {
    let w = World::new();
    let out = HashMap::from([("a", "x"), ("b", "y")]);
    w.run(CHAIN, slots(2), &out, RunOptions::default());
    let (s, launched, _) = w.run(
        &CHAIN.replace("A1", "A2"),
        slots(2),
        &out,
        RunOptions::default(),
    );
    assert_eq!(launched, ["a"], "b's inputs are unchanged, so b is cached");
    assert_eq!(s.cached, ["b"]);
    // A different output reruns b.
    let out2 = HashMap::from([("a", "z"), ("b", "y")]);
    let (_, launched, _) = w.run(
        &CHAIN.replace("A1", "A3"),
        slots(2),
        &out2,
        RunOptions::default(),
    );
    assert_eq!(launched, ["a", "b"]);
}

const FORK: &str = "stages:\n  bad:\n    kind: cmd\n    params: {cmd: 'x'}\n  after:\n    kind: cmd\n    inputs: [bad]\n    params: {cmd: 'y'}\n  other:\n    kind: cmd\n    params: {cmd: 'z'}\n  other2:\n    kind: cmd\n    inputs: [other]\n    params: {cmd: 'w'}\n";

#[test]
fn a_failure_stops_launching_unless_keep_going() {
    let w = World::new();
    let out = HashMap::from([("after", "1"), ("other", "2"), ("other2", "3")]);
    // One slot; `bad` and `other` head chains of equal length: `bad` is first in the file.
    let (s, launched, _) = w.run(FORK, slots(1), &out, RunOptions::default());
    assert_eq!(launched, ["bad"]);
    assert_eq!(s.failed, ["bad"]);
    assert_eq!(s.not_run, ["after", "other", "other2"]);
    let keep = RunOptions {
        keep_going: true,
        ..Default::default()
    };
    let (s, _, _) = w.run(FORK, slots(1), &out, keep);
    assert_eq!(s.failed, ["bad"]);
    assert_eq!(s.executed, ["other", "other2"]);
    assert_eq!(s.not_run, ["after"]);
}

#[test]
fn cpu_and_gpu_slots_bound_what_runs_at_once() {
    let w = World::new();
    let four: String = (0..4)
        .map(|i| format!("  s{i}:\n    kind: cmd\n    params: {{cmd: 'c{i}'}}\n"))
        .collect();
    let out: HashMap<&str, &str> =
        HashMap::from([("s0", "0"), ("s1", "1"), ("s2", "2"), ("s3", "3")]);
    let (_, _, max) = w.run(
        &format!("stages:\n{four}"),
        slots(2),
        &out,
        RunOptions::default(),
    );
    assert_eq!(max, 2);
    let w = World::new();
    let gpu = four.replace("kind: cmd\n", "kind: cmd\n    resources: {gpus: 1}\n");
    let cap = Capacity {
        cpu_slots: 16,
        gpus: Some(3),
        jobs: None,
    };
    let (s, _, max) = w.run(&format!("stages:\n{gpu}"), cap, &out, RunOptions::default());
    assert_eq!((max, s.executed.len()), (3, 4));
    let w = World::new();
    let cap = Capacity {
        cpu_slots: 1 << 20,
        gpus: None,
        jobs: Some(1),
    };
    let (_, _, max) = w.run(&format!("stages:\n{gpu}"), cap, &out, RunOptions::default());
    assert_eq!(max, 1, "max_jobs bounds a cluster executor");
}

#[test]
fn a_stage_needing_more_gpus_than_the_executor_places_is_refused_before_anything_runs() {
    let w = World::new();
    let p = w.pipeline(
        "stages:\n  t:\n    kind: cmd\n    params: {cmd: 'x'}\n    resources: {gpus: 2}\n",
    );
    let engine = Engine::new(&p, &w.store, &w.kinds);
    let mut exec = RecordingExecutor::new(slots(4), |_: &Job| JobEnd::Succeeded);
    let err = run(&engine, &RunOptions::default(), &Quiet, &mut exec).expect_err("refused");
    assert!(err.to_string().contains("needs 2 GPU(s)"), "{err}");
    assert!(exec.launched.is_empty());
    // A cluster places GPUs itself: the same stage is launched from a host without any.
    let cluster = Capacity {
        cpu_slots: 1 << 20,
        gpus: None,
        jobs: Some(10),
    };
    let (s, _, _) = w.run(
        "stages:\n  t:\n    kind: cmd\n    params: {cmd: 'x'}\n    resources: {gpus: 2}\n",
        cluster,
        &HashMap::from([("t", "1")]),
        RunOptions::default(),
    );
    assert_eq!(s.executed, ["t"]);
}

#[test]
fn the_longest_chain_starts_first() {
    let w = World::new();
    let yaml = "stages:\n  z:\n    kind: cmd\n    params: {cmd: 'z'}\n  a:\n    kind: cmd\n    params: {cmd: 'a'}\n  b:\n    kind: cmd\n    inputs: [a]\n    params: {cmd: 'b'}\n  c:\n    kind: cmd\n    inputs: [b]\n    params: {cmd: 'c'}\n";
    let out = HashMap::from([("z", "1"), ("a", "2"), ("b", "3"), ("c", "4")]);
    let (_, launched, _) = w.run(yaml, slots(1), &out, RunOptions::default());
    assert_eq!(launched[0], "a");
}

#[test]
fn an_interrupt_cancels_running_jobs_and_publishes_nothing_for_them() {
    let w = World::new();
    let p = w.pipeline(CHAIN);
    let engine = Engine::new(&p, &w.store, &w.kinds);
    let launched_keys = RefCell::new(Vec::new());
    let mut exec = RecordingExecutor::new(slots(2), |job: &Job| {
        launched_keys.borrow_mut().push(job.key);
        JobEnd::Succeeded
    });
    exec.interrupt_after = Some(1);
    let s = run(&engine, &RunOptions::default(), &Quiet, &mut exec).expect("run");
    assert!(s.interrupted);
    assert_eq!(exec.cancelled, ["a"]);
    assert!(s.executed.is_empty());
    assert_eq!(s.not_run, ["a", "b"]);
    assert!(!w.store.has_action(&launched_keys.borrow()[0]));
}
