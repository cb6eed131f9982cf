//! The sentence encoders reproduce independent references: all-MiniLM-L6-v2's model card, and
//! all-mpnet-base-v2 through sentence-transformers (scripts/mpnet_reference.py).
#![cfg(feature = "torch")]

use repro::encoder::{cosine, SentenceEncoder, MINILM_MODEL_DIR, MPNET_MODEL_DIR};
use std::path::PathBuf;

fn load(dir: &str) -> SentenceEncoder {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    SentenceEncoder::load(&dir, tch::Device::Cpu)
        .unwrap_or_else(|e| panic!("{e} (run scripts/setup-data.sh)"))
}

fn model() -> SentenceEncoder {
    load(MINILM_MODEL_DIR)
}

/// Printed by scripts/mpnet_reference.py (sentence-transformers 6.3.0, transformers 5.25.0,
/// torch 2.11.0, CPU f32): each sentence's first six values.
const MPNET_SENTENCES: [(&str, [f32; 6]); 4] = [
    (
        "This is an example sentence",
        [0.022503, -0.078292, -0.023031, -0.0051, -0.080341, 0.039132],
    ),
    (
        "Each sentence is converted",
        [0.041702, 0.001097, -0.015534, 0.070922, -0.001773, 0.046611],
    ),
    (
        "pen which is a female swan",
        [
            0.049903, -0.087187, -0.030407, -0.018918, -0.032087, 0.017296,
        ],
    ),
    (
        "a black ballpoint pen on a white desk",
        [
            0.037014, -0.081637, 0.007862, -0.004686, -0.051515, 0.009198,
        ],
    ),
];
/// The fifth reference sentence: 170 tokens, past MPNet's exact relative-position buckets.
const MPNET_LONG: [f32; 6] = [0.045017, -0.017963, -0.046848, 0.013764, -0.060283, 0.0374];
/// sentence-transformers' cosines: (0,1), (2,3) and (2,4).
const MPNET_COSINES: [(usize, usize, f32); 3] =
    [(0, 1, 0.404885), (2, 3, 0.388709), (2, 4, 0.197854)];

#[test]
fn mpnet_matches_sentence_transformers() {
    let enc = load(MPNET_MODEL_DIR);
    let mut texts: Vec<String> = MPNET_SENTENCES.iter().map(|(t, _)| t.to_string()).collect();
    texts.push(["a photograph of a dog running on the beach near the water"; 14].join(" "));
    let v = enc.encode(&texts, 8).expect("encode");
    assert_eq!(v[0].len(), 768);
    let want = MPNET_SENTENCES.iter().map(|(_, w)| w).chain([&MPNET_LONG]);
    for (i, w) in want.enumerate() {
        for (d, w) in w.iter().enumerate() {
            assert!(
                (v[i][d] - w).abs() < 1e-4,
                "sentence {i} dim {d}: got {}, want {w}; first values {:?}",
                v[i][d],
                &v[i][..6]
            );
        }
        let norm: f32 = v[i].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "modules.json says Normalize");
    }
    for (a, b, want) in MPNET_COSINES {
        let got = cosine(&v[a], &v[b]);
        assert!(
            (got - want).abs() < 1e-4,
            "cosine({a},{b}) {got}, want {want}"
        );
    }
    // Batch size and padding do not change an embedding.
    let alone = enc.encode(&texts[2..3], 1).expect("encode");
    assert!(cosine(&alone[0], &v[2]) > 0.99999);
}

#[test]
fn mpnet_truncates_at_max_seq_length() {
    // sentence_bert_config.json says 384 tokens; past that, more words change nothing.
    let enc = load(MPNET_MODEL_DIR);
    let long = ["a dog on a beach"; 100].join(" ");
    let longer = format!("{long} {}", ["a cat in a tree"; 100].join(" "));
    let v = enc.encode(&[long, longer], 2).expect("encode");
    assert!(cosine(&v[0], &v[1]) > 0.99999);
}

#[test]
fn minilm_matches_the_model_card() {
    let enc = model();
    let texts = vec![
        "This is an example sentence".to_string(),
        "Each sentence is converted".to_string(),
    ];
    let v = enc.encode(&texts, 8).expect("encode");
    assert_eq!(v[0].len(), 384);
    let want = [0.0677, 0.0635, 0.0487, 0.0793, 0.0374];
    for (i, w) in want.iter().enumerate() {
        assert!(
            (v[0][i] - w).abs() < 1e-3,
            "dim {i}: got {}, want {w}; first values {:?}",
            v[0][i],
            &v[0][..5]
        );
    }
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    // Batching and padding do not change an embedding.
    let alone = enc.encode(&texts[..1], 1).expect("encode");
    assert!(cosine(&alone[0], &v[0]) > 0.99999);
}

#[test]
fn similar_texts_score_higher() {
    let enc = model();
    let t: Vec<String> = [
        "dog which is a member of the genus Canis",
        "a cute puppy",
        "a spreadsheet of tax records",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = enc.encode(&t, 4).expect("encode");
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.1);
}
