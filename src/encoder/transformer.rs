//! The encoder stack of BERT, RoBERTa and MPNet in tch, parameter names as in Hugging Face's
//! `BertModel` / `RobertaModel` / `MPNetModel` (Devlin et al. 2019, arXiv 1810.04805; Liu et
//! al. 2019, arXiv 1907.11692; Song et al. 2020, arXiv 2004.09297). The three share the
//! post-norm layer; they differ in positions (BERT 0..T; RoBERTa and MPNet count real tokens
//! from `pad_id + 1`), token types (BERT and RoBERTa add type 0; MPNet has none), the
//! attention's parameter names, and MPNet's relative-position bias added to every layer's
//! attention scores.

use super::config::{Config, Family};
use super::relative_position::bucket_matrix;
use super::EncoderError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// Per-layer parameter names (after `encoder.layer.{l}.`).
struct Names {
    q: &'static str,
    k: &'static str,
    v: &'static str,
    attn_out: &'static str,
    attn_norm: &'static str,
}

const BERT_NAMES: Names = Names {
    q: "attention.self.query",
    k: "attention.self.key",
    v: "attention.self.value",
    attn_out: "attention.output.dense",
    attn_norm: "attention.output.LayerNorm",
};

const MPNET_NAMES: Names = Names {
    q: "attention.attn.q",
    k: "attention.attn.k",
    v: "attention.attn.v",
    attn_out: "attention.attn.o",
    attn_norm: "attention.LayerNorm",
};

pub struct Transformer {
    pub cfg: Config,
    weights: HashMap<String, Tensor>,
    pub device: Device,
    /// Weight and activation precision: f32 on the CPU, bf16 on a GPU.
    pub kind: Kind,
    dir: PathBuf,
}

impl Transformer {
    /// Load `model.safetensors` from `dir` as `kind` on `device`.
    pub fn load(dir: &Path, cfg: Config, device: Device, kind: Kind) -> Result<Self, EncoderError> {
        let st = dir.join("model.safetensors");
        let mut weights = HashMap::new();
        for (name, t) in Tensor::read_safetensors(&st).map_err(|e| EncoderError::bad(&st, e))? {
            // Checkpoints saved from task heads prefix the encoder's names.
            let name = ["bert.", "roberta.", "mpnet.", "model."]
                .iter()
                .find_map(|p| name.strip_prefix(p))
                .unwrap_or(&name)
                .to_string();
            // Integer buffers (position_ids) keep their kind.
            let t = if t.is_floating_point() {
                t.to_kind(kind)
            } else {
                t
            };
            weights.insert(name, t.to_device(device));
        }
        let tr = Transformer {
            cfg,
            weights,
            device,
            kind,
            dir: dir.to_path_buf(),
        };
        tr.w("embeddings.word_embeddings.weight")?;
        if tr.cfg.family == Family::Mpnet {
            tr.w("encoder.relative_attention_bias.weight")?;
        }
        Ok(tr)
    }

    fn w(&self, name: &str) -> Result<&Tensor, EncoderError> {
        self.weights.get(name).ok_or_else(|| {
            EncoderError::bad(
                &self.dir.join("model.safetensors"),
                format!("weights lack `{name}`"),
            )
        })
    }

    fn linear(&self, x: &Tensor, prefix: &str) -> Result<Tensor, EncoderError> {
        Ok(x.linear(
            self.w(&format!("{prefix}.weight"))?,
            Some(self.w(&format!("{prefix}.bias"))?),
        ))
    }

    fn layer_norm(&self, x: &Tensor, prefix: &str) -> Result<Tensor, EncoderError> {
        let (w, b) = (
            self.w(&format!("{prefix}.weight"))?,
            self.w(&format!("{prefix}.bias"))?,
        );
        Ok(x.layer_norm([self.cfg.hidden], Some(w), Some(b), self.cfg.eps, false))
    }

    fn embed(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor, EncoderError> {
        let (b, t) = ids.size2().map_err(EncoderError::Torch)?;
        let positions = match self.cfg.family {
            Family::Bert => Tensor::arange(t, (Kind::Int64, self.device))
                .unsqueeze(0)
                .expand([b, t], false),
            // pad_id + 1 + running count of real tokens; pad_id on padding.
            Family::Roberta | Family::Mpnet => mask.cumsum(1, Kind::Int64) * mask + self.cfg.pad_id,
        };
        let lookup = |name: &str, idx: &Tensor| -> Result<Tensor, EncoderError> {
            Ok(Tensor::embedding(self.w(name)?, idx, -1, false, false))
        };
        let mut emb = lookup("embeddings.word_embeddings.weight", ids)?
            + lookup("embeddings.position_embeddings.weight", &positions)?;
        if self.cfg.family != Family::Mpnet {
            emb += self.w("embeddings.token_type_embeddings.weight")?.get(0);
        }
        self.layer_norm(&emb, "embeddings.LayerNorm")
    }

    /// MPNet's [1, heads, T, T] relative-position bias (positions 0..T whatever the padding:
    /// right padding keeps real tokens at the same offsets).
    fn position_bias(&self, t: i64) -> Result<Tensor, EncoderError> {
        let buckets = Tensor::from_slice(&bucket_matrix(t as usize, self.cfg.buckets))
            .view([t, t])
            .to_device(self.device);
        let bias = Tensor::embedding(
            self.w("encoder.relative_attention_bias.weight")?,
            &buckets,
            -1,
            false,
            false,
        );
        Ok(bias.permute([2, 0, 1]).unsqueeze(0))
    }

    /// Last hidden states [B, T, H] of a right-padded batch: ids and mask are [B, T] int64.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor, EncoderError> {
        let (b, t) = ids.size2().map_err(EncoderError::Torch)?;
        let mut x = self.embed(ids, mask)?;
        let (h, nh) = (self.cfg.hidden, self.cfg.heads);
        let hd = h / nh;
        // Additive mask: 0 for tokens, a large negative for padding, broadcast over heads/queries.
        let mask_bias = ((mask.to_kind(self.kind) - 1.0) * 1e9).view([b, 1, 1, t]);
        // Out of place: the sum broadcasts to [B, heads, T, T].
        let (bias, names) = match self.cfg.family {
            Family::Mpnet => (mask_bias + self.position_bias(t)?, &MPNET_NAMES),
            Family::Bert | Family::Roberta => (mask_bias, &BERT_NAMES),
        };
        for l in 0..self.cfg.layers {
            let p = format!("encoder.layer.{l}");
            let split = |y: Tensor| y.view([b, t, nh, hd]).transpose(1, 2);
            let q = split(self.linear(&x, &format!("{p}.{}", names.q))?);
            let k = split(self.linear(&x, &format!("{p}.{}", names.k))?);
            let v = split(self.linear(&x, &format!("{p}.{}", names.v))?);
            let scores = q.matmul(&k.transpose(-1, -2)) / (hd as f64).sqrt() + &bias;
            let ctx = scores
                .softmax(-1, self.kind)
                .matmul(&v)
                .transpose(1, 2)
                .contiguous()
                .view([b, t, h]);
            let attn = self.linear(&ctx, &format!("{p}.{}", names.attn_out))?;
            x = self.layer_norm(&(attn + &x), &format!("{p}.{}", names.attn_norm))?;
            let inter = self
                .linear(&x, &format!("{p}.intermediate.dense"))?
                .gelu("none");
            let out = self.linear(&inter, &format!("{p}.output.dense"))?;
            x = self.layer_norm(&(out + &x), &format!("{p}.output.LayerNorm"))?;
        }
        Ok(x)
    }
}
