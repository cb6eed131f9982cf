//! `repro embed TEXT... [--json]`: sentence embeddings from the encoder the ImageNot builder
//! uses, to check it against a reference (the model card's values) or to explore the cut.

use crate::encoder::{cosine, SentenceEncoder, DEFAULT_MODEL_DIR};
use anyhow::{bail, Result};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct EmbedArgs {
    /// Sentences to embed.
    #[arg(required = true)]
    pub text: Vec<String>,
    /// Print one JSON object per sentence: {"text", "embedding"}.
    #[arg(long)]
    pub json: bool,
    /// A Hugging Face model folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long, default_value = DEFAULT_MODEL_DIR, env = "REPRO_ENCODER")]
    pub model: PathBuf,
    /// Values to show per vector without --json.
    #[arg(long, default_value_t = 8)]
    pub show: usize,
}

pub fn run(args: &EmbedArgs) -> Result<()> {
    if args.text.is_empty() {
        bail!("give at least one sentence");
    }
    let enc = SentenceEncoder::load(&args.model, tch::Device::Cpu)?;
    let vecs = enc.encode(&args.text, 32)?;
    for (t, v) in args.text.iter().zip(&vecs) {
        if args.json {
            println!("{}", serde_json::json!({"text": t, "embedding": v}));
        } else {
            let head: Vec<String> = v
                .iter()
                .take(args.show)
                .map(|x| format!("{x:.4}"))
                .collect();
            println!(
                "{t}\n  [{}{}] ({} dims)",
                head.join(", "),
                if v.len() > args.show { ", …" } else { "" },
                v.len()
            );
        }
    }
    if !args.json && vecs.len() > 1 {
        println!(
            "cosine similarity to the first: {}",
            vecs[1..]
                .iter()
                .map(|v| format!("{:.4}", cosine(&vecs[0], v)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
