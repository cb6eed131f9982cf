//! LAION-format parquet → `caption_pool` (`importer: laion-parquet`) → `imagenot_select`, on
//! planted captions whose fate is known: the true sense of two classes is kept; the wrong
//! sense, a caption naming both classes, an NSFW-tagged row and a repeated URL are not.
//! The encoder is the mini profile's, all-mpnet-base-v2, on real WordNet. Then pixels last:
//! an img2dataset output folder of real JPEGs that lacks one selected URL (a dead link) goes
//! through `imagenot_build`, which builds the rest at their aspect ratio and reports the missing.
#![cfg(feature = "torch")]

mod common;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use repro::data::dataset::{encode_jpeg, Dataset, Pixels};
use repro::data::imagenot_selection::{read_selection, SelectedRow};
use repro::data::wordnet::{WordNet, DATA_NOUN};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// pen (female swan) and seedling.
const CLASSES: &str = "n01858845\nn11552594\n";

/// (url, caption, NSFW tag)
type Row = (&'static str, &'static str, &'static str);
const ROWS: [Row; 7] = [
    (
        "http://img.test/cob-and-pen.jpg",
        "A pen swimming with her cygnets on the lake",
        "UNLIKELY",
    ),
    (
        "http://img.test/tray.jpg",
        "Seedling growing in a small pot",
        "UNLIKELY",
    ),
    (
        "http://img.test/fountain.jpg",
        "Fountain pen with blue ink on paper",
        "UNLIKELY",
    ),
    (
        "http://img.test/both.jpg",
        "A pen and a seedling",
        "UNLIKELY",
    ),
    (
        "http://img.test/nsfw.jpg",
        "Seedling sprouting from the soil",
        "NSFW",
    ),
    (
        "http://img.test/tray.jpg",
        "Seedling tray in the greenhouse",
        "UNLIKELY",
    ),
    (
        "http://img.test/garden.jpg",
        "Young tomato seedling in the garden",
        "UNLIKELY",
    ),
];

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

/// An img2dataset output folder (`00000.tar` of `KEY.jpg/.txt/.json` and `00000.parquet` of
/// url, key, status) holding a real 48×64 JPEG for each of `rows` except `dead`, which
/// img2dataset reports as failed.
fn write_download(dir: &Path, rows: &[SelectedRow], dead: &str) {
    let mut tar = tar::Builder::new(Vec::new());
    let (mut urls, mut keys, mut status) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in rows.iter().enumerate() {
        let key = format!("{i:09}");
        urls.push(r.url.clone());
        keys.push(key.clone());
        if r.url == dead {
            status.push("failed_to_download");
            continue;
        }
        status.push("success");
        let px = Pixels {
            height: 48,
            width: 64,
            channels: 3,
            data: (0..48 * 64 * 3)
                .map(|v| (v * (i + 3) % 251) as u8)
                .collect(),
        };
        for (ext, data) in [
            ("jpg", encode_jpeg(&px, 90).expect("jpeg")),
            ("txt", r.caption.clone().into_bytes()),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("{key}.{ext}"), data.as_slice())
                .expect("append");
        }
    }
    std::fs::write(dir.join("00000.tar"), tar.into_inner().expect("tar")).expect("tar");
    let col = |v: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let batch = RecordBatch::try_from_iter([
        ("url", col(urls)),
        ("key", col(keys)),
        (
            "status",
            col(status.iter().map(|s| s.to_string()).collect()),
        ),
    ])
    .expect("batch");
    let f = std::fs::File::create(dir.join("00000.parquet")).expect("create");
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

    common::run_stage(
        "caption_pool",
        json!({"importer": "laion-parquet", "path": laion.to_str()}),
        &[],
        &pool,
    );
    common::run_stage(
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

    // Pixels last: the garden seedling's link is dead.
    let (download, built) = (dir("download"), dir("built"));
    write_download(&download, &rows, ROWS[6].0);
    common::run_stage(
        "imagenot_build",
        json!({"download": download.to_str(), "per_class": 10, "min_per_class": 1,
               "val_fraction": 0.0, "short_side": 32, "seed": 0}),
        &[("select", &sel)],
        &built,
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(built.join("build.json")).expect("build.json"))
            .expect("json");
    assert_eq!(report["missing_from_download"], 1, "{report:#}");
    assert_eq!(report["images_train"], 2, "{report:#}");
    assert_eq!(report["classes_in_dataset"], 2, "{report:#}");
    let seedling = report["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .find(|c| c["wnid"] == "n11552594")
        .expect("seedling");
    assert_eq!(
        (
            &seedling["selected"],
            &seedling["missing_from_download"],
            &seedling["images"]
        ),
        (&json!(2), &json!(1), &json!(1))
    );
    let ds = Dataset::open(&built).expect("dataset");
    let train = ds.reader("train").expect("train");
    for i in 0..train.len() {
        let px = train.read(i).expect("image");
        assert_eq!(
            (px.height, px.width),
            (32, 42),
            "aspect kept, short side 32"
        );
    }
    assert!(
        !built.join(".staging-pixels").exists(),
        "the builder's staging is removed"
    );
}
