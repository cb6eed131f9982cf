//! LAION-format parquet → `caption_pool` (`importer: laion-parquet`) → `imagenot_select`, on
//! planted captions whose fate is known: the true sense of two classes is kept; the wrong
//! sense, a caption naming both classes, an NSFW-tagged row and a repeated URL are not.
//! The encoder is the mini profile's, all-mpnet-base-v2, on real WordNet.
#![cfg(feature = "torch")]

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use repro::data::imagenot_selection::read_selection;
use repro::data::wordnet::{WordNet, DATA_NOUN};
use repro::stage::{self, StageContext};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// pen (female swan) and seedling.
const CLASSES: &str = "n01858845\nn11552594\n";

/// (url, caption, NSFW tag)
type Row = (&'static str, &'static str, &'static str);
const ROWS: [Row; 7] = [
    (
        "u/cob-and-pen",
        "A pen swimming with her cygnets on the lake",
        "UNLIKELY",
    ),
    ("u/tray", "Seedling growing in a small pot", "UNLIKELY"),
    (
        "u/fountain",
        "Fountain pen with blue ink on paper",
        "UNLIKELY",
    ),
    ("u/both", "A pen and a seedling", "UNLIKELY"),
    ("u/nsfw", "Seedling sprouting from the soil", "NSFW"),
    ("u/tray", "Seedling tray in the greenhouse", "UNLIKELY"),
    (
        "u/garden",
        "Young tomato seedling in the garden",
        "UNLIKELY",
    ),
];

fn run_stage(kind: &str, params: Value, inputs: &[(&str, &Path)], out: &Path) {
    let k = stage::find(kind).expect("kind registered");
    let params = k.resolve_params(&params).expect("params");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut ctx = StageContext::detached(kind, params, out.to_path_buf(), root);
    ctx.threads = 2;
    ctx.inputs = inputs
        .iter()
        .map(|(n, p)| (n.to_string(), p.to_path_buf()))
        .collect();
    k.run(&mut ctx).unwrap_or_else(|e| panic!("{kind}: {e}"));
}

fn write_laion(path: &Path) {
    let col = |f: fn(&Row) -> &'static str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(ROWS.iter().map(f)))
    };
    let batch = RecordBatch::try_from_iter([
        ("URL", col(|r| r.0)),
        ("TEXT", col(|r| r.1)),
        ("NSFW", col(|r| r.2)),
        (
            "WIDTH",
            Arc::new(Int64Array::from(vec![256; ROWS.len()])) as ArrayRef,
        ),
        (
            "HEIGHT",
            Arc::new(Int64Array::from(vec![256; ROWS.len()])) as ArrayRef,
        ),
    ])
    .expect("batch");
    let f = std::fs::File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(f, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

#[test]
fn planted_captions_select_exactly_the_true_senses() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = |n: &str| {
        let d = tmp.path().join(n);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    };
    let (laion, pool, wordnet, inet, sel) = (
        dir("laion"),
        dir("pool"),
        dir("wordnet"),
        dir("inet"),
        dir("sel"),
    );
    write_laion(&laion.join("part-00000.parquet"));
    let wn = WordNet::load_data_noun(Path::new(DATA_NOUN)).expect("wordnet");
    std::fs::write(wordnet.join("nouns.tsv"), wn.to_tsv()).expect("nouns");
    std::fs::write(
        inet.join("imagenet_classes.tsv"),
        "index\twnid\tlemma\tdefinition\n0\tn01440764\ttench\ta fish\n",
    )
    .expect("inet");
    let classes = tmp.path().join("classes.txt");
    std::fs::write(&classes, CLASSES).expect("classes");

    run_stage(
        "caption_pool",
        json!({"importer": "laion-parquet", "path": laion.to_str()}),
        &[],
        &pool,
    );
    run_stage(
        "imagenot_select",
        json!({"classes": classes.to_str(), "model": repro::encoder::MPNET_MODEL_DIR,
               "cut": 0.3, "per_class": 10, "min_per_class": 1}),
        &[
            ("wordnet", &wordnet),
            ("imagenet_classes", &inet),
            ("pool", &pool),
        ],
        &sel,
    );
    let (summary, rows) = read_selection(&sel).expect("selection");
    let got: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r.wnid.as_str(), r.caption.as_str()))
        .collect();
    let want: BTreeSet<(&str, &str)> = [
        ("n01858845", ROWS[0].1),
        ("n11552594", ROWS[1].1),
        ("n11552594", ROWS[6].1),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "{summary:#?}");
    assert_eq!(
        summary.pool_rows, 5,
        "the NSFW row and the repeated URL never reach the pool"
    );
    assert_eq!(summary.multi_class_captions_dropped, 1);
    let pen = &summary
        .classes
        .iter()
        .find(|c| c.lemma == "pen")
        .expect("pen");
    assert_eq!((pen.matched, pen.selected), (2, 1), "{pen:?}");
    assert_eq!(
        pen.other_sense, 1,
        "the fountain pen passes the cut and is removed by the sense check: {pen:?}"
    );
}
