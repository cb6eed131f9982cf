//! `repro models [--json] [--scale mini|full|W,D[,P]]`: the nine architectures with their
//! parameter counts at full size (1,000 classes, as torchvision counts them) and at the
//! configured scale.

use crate::ml::models::{self, ModelConfig, Scale, ScaleSpec};
use serde::Serialize;

#[derive(clap::Args, Debug, Clone)]
pub struct ModelsArgs {
    /// Print JSON (an array of objects with "name", "params", "params_full", …).
    #[arg(long)]
    pub json: bool,
    /// Scale to count at: `mini` (each architecture's mini-profile scale), `full`, or explicit
    /// multipliers `WIDTH,DEPTH[,PATCH]` (e.g. `0.25,0.5` or `0.25,0.25,4` for ViT).
    #[arg(long, default_value = "mini")]
    pub scale: String,
    /// Classes of the configured-scale model.
    #[arg(long, default_value_t = 1000)]
    pub num_classes: i64,
    /// Input side of the configured-scale model (default: 32 for `mini`, else the
    /// architecture's full resolution).
    #[arg(long)]
    pub image_size: Option<i64>,
}

#[derive(Debug, Serialize)]
struct Row {
    name: &'static str,
    title: &'static str,
    year: u32,
    /// Parameters at the configured scale.
    params: i64,
    /// Parameters at full size with 1,000 classes (torchvision's count).
    params_full: i64,
    scale: Scale,
    num_classes: i64,
    image_size: i64,
    imagenet_top1: f64,
}

fn parse_scale(s: &str) -> anyhow::Result<ScaleSpec> {
    if s == "mini" || s == "full" {
        return Ok(ScaleSpec::Named(s.to_string()));
    }
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let num = |i: usize| -> anyhow::Result<f64> {
        parts[i]
            .parse::<f64>()
            .map_err(|_| anyhow::anyhow!("--scale {s}: `{}` is not a number", parts[i]))
    };
    match parts.len() {
        2 => Ok(ScaleSpec::Custom(Scale {
            width: num(0)?,
            depth: num(1)?,
            patch: None,
        })),
        3 => Ok(ScaleSpec::Custom(Scale {
            width: num(0)?,
            depth: num(1)?,
            patch: Some(num(2)? as i64),
        })),
        _ => anyhow::bail!("--scale {s}: use `mini`, `full` or WIDTH,DEPTH[,PATCH]"),
    }
}

pub fn run(args: &ModelsArgs) -> anyhow::Result<()> {
    let spec = parse_scale(&args.scale)?;
    let mut rows = Vec::new();
    for arch in models::registry() {
        let scale = spec.resolve(arch).map_err(anyhow::Error::msg)?;
        let image_size = args.image_size.unwrap_or(if args.scale == "mini" {
            32
        } else {
            arch.full_image_size
        });
        let full = models::param_count(
            arch,
            &ModelConfig::new(1000, arch.full_image_size, Scale::FULL),
        );
        let cfg = ModelConfig::new(args.num_classes, image_size, scale);
        let params = if cfg == ModelConfig::new(1000, arch.full_image_size, Scale::FULL) {
            full
        } else {
            models::param_count(arch, &cfg)
        };
        rows.push(Row {
            name: arch.name,
            title: arch.title,
            year: arch.year,
            params,
            params_full: full,
            scale,
            num_classes: args.num_classes,
            image_size,
            imagenet_top1: arch.imagenet_top1,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{:<20} {:<22} {:>5} {:>14} {:>12}  scale (width, depth, patch)",
            "name", "title", "year", "params (full)", "params"
        );
        for r in &rows {
            let patch = r.scale.patch.map_or(String::new(), |p| format!(", {p}"));
            println!(
                "{:<20} {:<22} {:>5} {:>14} {:>12}  {}, {}{patch}",
                r.name, r.title, r.year, r.params_full, r.params, r.scale.width, r.scale.depth
            );
        }
    }
    Ok(())
}
