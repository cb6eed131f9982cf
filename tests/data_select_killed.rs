//! A selection killed mid-stage (the planner and its worker `kill -9`ed while `imagenot_select`
//! embeds) leaves a sound store, and the next `repro run` reruns it cleanly to the same
//! selection as an uninterrupted run: through the real binary, on a LAION-format parquet and
//! the mini profile's encoder.
#![cfg(feature = "torch")]

mod common;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use common::Repo;
use parquet::arrow::ArrowWriter;
use repro::data::wordnet::{WordNet, DATA_NOUN};
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Captions for two classes (pen the swan, seedling), enough that embedding takes a moment.
fn write_laion(path: &Path) {
    let n = 400;
    let caption = |i: usize| match i % 4 {
        0 => format!("A pen swimming with her cygnets, photo {i}"),
        1 => format!("Seedling growing in pot number {i}"),
        2 => format!("Fountain pen and ink, item {i}"),
        _ => format!("Young tomato seedling in the garden, row {i}"),
    };
    let batch = RecordBatch::try_from_iter([
        (
            "URL",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("http://img.test/{i}.jpg")),
            )) as ArrayRef,
        ),
        (
            "TEXT",
            Arc::new(StringArray::from_iter_values((0..n).map(caption))) as ArrayRef,
        ),
        (
            "WIDTH",
            Arc::new(Int64Array::from(vec![256; n])) as ArrayRef,
        ),
        (
            "HEIGHT",
            Arc::new(Int64Array::from(vec![256; n])) as ArrayRef,
        ),
    ])
    .expect("batch");
    let f = std::fs::File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(f, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

fn pipeline() -> String {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join(repro::encoder::MPNET_MODEL_DIR);
    format!(
        r#"stages:
  wordnet:
    kind: cmd
    params: {{cmd: 'cp inputs/nouns.tsv $REPRO_OUT/'}}
    deps: [inputs/nouns.tsv]
  inet:
    kind: cmd
    params: {{cmd: 'cp inputs/imagenet_classes.tsv $REPRO_OUT/'}}
    deps: [inputs/imagenet_classes.tsv]
  pool:
    kind: caption_pool
    params: {{importer: laion-parquet, path: inputs/laion}}
    deps: [inputs/laion/part-00000.parquet]
  sel:
    kind: imagenot_select
    inputs: [wordnet, inet, pool]
    params: {{classes: inputs/classes.txt, model: {model}, cut: 0.3, per_class: 50, min_per_class: 1, batch: 8, chunk: 16}}
    deps: [inputs/classes.txt]
    resources: {{cpus: 1}}
"#,
        model = model.display(),
    )
}

fn repo() -> Repo {
    let repo = Repo::new(&pipeline());
    let root = repo.path().to_path_buf();
    std::fs::create_dir_all(root.join("inputs/laion")).expect("mkdir");
    write_laion(&root.join("inputs/laion/part-00000.parquet"));
    let wn = WordNet::load_data_noun(Path::new(DATA_NOUN)).expect("wordnet");
    repo.write("inputs/nouns.tsv", &wn.to_tsv());
    repo.write(
        "inputs/imagenet_classes.tsv",
        "index\twnid\tlemma\tdefinition\n0\tn01440764\ttench\ta fish\n",
    );
    repo.write("inputs/classes.txt", "n01858845\nn11552594\n");
    repo.commit_all("inputs");
    repo
}

/// The `sel` stage's entry in `status --json`.
fn sel_status(repo: &Repo) -> serde_json::Value {
    let v = repo.repro(&["status", "--json"]).json();
    v.as_array()
        .expect("list")
        .iter()
        .find(|s| s["stage"] == "sel")
        .expect("sel")
        .clone()
}

/// The `sel` stage's output digest (it must be fresh).
fn selection(repo: &Repo) -> String {
    let sel = sel_status(repo);
    assert_eq!(sel["state"], "fresh", "{sel}");
    sel["output"].as_str().expect("output").to_string()
}

#[test]
fn a_selection_killed_mid_stage_reruns_to_the_same_result() {
    let clean = repo();
    clean.run_ok(&[]);
    let want = selection(&clean);

    let repo = repo();
    let mut child = repo
        .command(&["run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Kill once `sel` has started (its model loads and embeds for a few seconds).
    let stdout = child.stdout.take().expect("stdout");
    let started = Instant::now();
    let mut seen = false;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if line.starts_with("run") && line.contains("sel ") {
            seen = true;
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "sel never started"
        );
    }
    assert!(seen, "the run ended before `sel` started");
    std::thread::sleep(Duration::from_millis(700));
    let _ = child.kill();
    let _ = child.wait();
    let sel = sel_status(&repo);
    assert_ne!(
        sel["state"], "fresh",
        "the kill came after `sel` finished: no test"
    );
    let v = repo.repro(&["verify", "--json"]);
    assert_eq!(v.code, 0, "verify after the kill: {}", v.stdout);
    repo.run_ok(&[]);
    assert_eq!(
        selection(&repo),
        want,
        "the rerun selected what an uninterrupted run selects"
    );
}
