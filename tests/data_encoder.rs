//! The sentence encoder reproduces all-MiniLM-L6-v2's published embedding.
#![cfg(feature = "torch")]

use repro::encoder::{cosine, SentenceEncoder, DEFAULT_MODEL_DIR};
use std::path::PathBuf;

fn model() -> SentenceEncoder {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_MODEL_DIR);
    SentenceEncoder::load(&dir, tch::Device::Cpu)
        .expect("load all-MiniLM-L6-v2 (run scripts/setup-data.sh)")
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
