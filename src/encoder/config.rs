//! What a sentence-transformers model folder says about itself: the transformer's shape
//! (`config.json`), its maximum sequence length (`sentence_bert_config.json`), how token
//! states become one vector (`1_Pooling/config.json`, [`super::pooling`]) and whether that
//! vector is L2-normalised (`modules.json` lists a `Normalize` module).
//!
//! A plain Hugging Face folder without the sentence-transformers files gets what this
//! project always used: mean pooling, normalised, the tokenizer's own truncation.

use super::pooling::Pooling;
use super::EncoderError;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Bert,
    Roberta,
    /// MPNet (Song et al. 2020, arXiv 2004.09297): RoBERTa-style positions plus a learned
    /// relative-position bias shared by all layers.
    Mpnet,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub family: Family,
    pub hidden: i64,
    pub heads: i64,
    pub layers: usize,
    pub eps: f64,
    pub pad_id: i64,
    /// MPNet's relative-position buckets (`relative_attention_num_buckets`).
    pub buckets: i64,
    /// Tokens per sentence, special tokens included (`max_seq_length`); `None`: the
    /// tokenizer's own truncation.
    pub max_len: Option<usize>,
    pub pooling: Pooling,
    pub normalize: bool,
}

fn read_json(path: &Path) -> Result<serde_json::Value, EncoderError> {
    let text = std::fs::read_to_string(path).map_err(|e| EncoderError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| EncoderError::bad(path, format!("invalid JSON: {e}")))
}

/// Read `dir`'s configuration files.
pub fn read_config(dir: &Path) -> Result<Config, EncoderError> {
    let path = dir.join("config.json");
    let v = read_json(&path)?;
    let family = match v["model_type"].as_str().unwrap_or("") {
        "bert" => Family::Bert,
        "roberta" | "xlm-roberta" => Family::Roberta,
        "mpnet" => Family::Mpnet,
        other => {
            return Err(EncoderError::bad(
                &path,
                format!("model_type `{other}` is not supported (bert, roberta, mpnet)"),
            ))
        }
    };
    if v["hidden_act"].as_str().is_some_and(|a| a != "gelu") {
        return Err(EncoderError::bad(
            &path,
            format!("hidden_act {} is not supported (gelu)", v["hidden_act"]),
        ));
    }
    let int = |k: &str| {
        v[k].as_i64()
            .ok_or_else(|| EncoderError::bad(&path, format!("`{k}` missing")))
    };
    let st = dir.join("sentence_bert_config.json");
    let max_len = if st.exists() {
        read_json(&st)?["max_seq_length"]
            .as_u64()
            .map(|n| n as usize)
    } else {
        None
    };
    let pool = dir.join("1_Pooling").join("config.json");
    let pooling = if pool.exists() {
        Pooling::from_config(&pool, &read_json(&pool)?)?
    } else {
        Pooling::default()
    };
    let modules = dir.join("modules.json");
    let normalize = if modules.exists() {
        read_json(&modules)?.as_array().is_some_and(|ms| {
            ms.iter()
                .any(|m| m["type"].as_str().is_some_and(|t| t.ends_with("Normalize")))
        })
    } else {
        true
    };
    Ok(Config {
        family,
        hidden: int("hidden_size")?,
        heads: int("num_attention_heads")?,
        layers: int("num_hidden_layers")? as usize,
        eps: v["layer_norm_eps"].as_f64().unwrap_or(1e-12),
        pad_id: v["pad_token_id"]
            .as_i64()
            .unwrap_or(if family == Family::Bert { 0 } else { 1 }),
        buckets: v["relative_attention_num_buckets"].as_i64().unwrap_or(32),
        max_len,
        pooling,
        normalize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    const MPNET: &str = r#"{"model_type": "mpnet", "hidden_size": 8, "num_attention_heads": 2,
        "num_hidden_layers": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1,
        "relative_attention_num_buckets": 32, "hidden_act": "gelu"}"#;

    #[test]
    fn unsupported_model_type_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "config.json", r#"{"model_type": "gpt2"}"#);
        let err = read_config(dir.path()).expect_err("gpt2").to_string();
        assert!(err.contains("gpt2") && err.contains("config.json"), "{err}");
    }

    #[test]
    fn sentence_transformers_files_are_read() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "config.json", MPNET);
        write(
            dir.path(),
            "sentence_bert_config.json",
            r#"{"max_seq_length": 384}"#,
        );
        write(
            dir.path(),
            "1_Pooling/config.json",
            r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
        );
        write(
            dir.path(),
            "modules.json",
            r#"[{"type": "sentence_transformers.models.Transformer"},
                {"type": "sentence_transformers.models.Pooling"}]"#,
        );
        let c = read_config(dir.path()).expect("config");
        assert_eq!(c.family, Family::Mpnet);
        assert_eq!(c.max_len, Some(384));
        assert_eq!(
            c.pooling,
            Pooling {
                modes: vec![super::super::pooling::Mode::Cls]
            }
        );
        assert!(!c.normalize, "no Normalize module: not normalised");
    }

    #[test]
    fn a_plain_folder_keeps_mean_and_normalise() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "config.json", MPNET);
        let c = read_config(dir.path()).expect("config");
        assert_eq!(c.pooling, Pooling::default());
        assert!(c.normalize);
        assert_eq!(c.max_len, None);
    }
}
