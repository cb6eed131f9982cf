//! ViT-B/16 — Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image
//! Recognition at Scale" (ICLR 2021), torchvision `vit_b_16`: 16×16 patch embedding, a class
//! token, learned position embeddings, 12 pre-norm encoder blocks (multi-head self-attention,
//! GELU MLP), LayerNorm eps 1e-6, a linear head on the class token.
//!
//! Names: `conv_proj`, `class_token`, `encoder.pos_embedding`,
//! `encoder.layers.encoder_layer_<i>.{ln_1,self_attention.{in_proj_weight,in_proj_bias,out_proj},ln_2,mlp.0,mlp.3}`,
//! `encoder.ln`, `heads.head`. Width scales the hidden size in whole 64-dim heads, depth the
//! number of layers, `patch` the patch size (the mini profile uses 4 px patches at 32×32).

use super::{Arch, ModelConfig, Net, Scale};
use crate::ml::layers::{layer_norm, linear};
use tch::nn::{self, Init};
use tch::Tensor;

pub const ARCH: Arch = Arch {
    name: "vit_b_16",
    title: "ViT-B/16",
    year: 2020,
    imagenet_top1: 81.072,
    full_params: 86_567_656,
    full_image_size: 224,
    mini: Scale {
        width: 0.1667,
        depth: 0.25,
        patch: Some(8),
    },
    build: |p, cfg| Box::new(VisionTransformer::new(p, cfg)),
};

const HIDDEN: i64 = 768;
const HEADS: i64 = 12;
const LAYERS: i64 = 12;
const PATCH: i64 = 16;
const EPS: f64 = 1e-6;

fn xavier(fan_in: i64, fan_out: i64) -> Init {
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
    Init::Uniform { lo: -a, up: a }
}

#[derive(Debug)]
struct EncoderBlock {
    ln_1: nn::LayerNorm,
    in_proj_weight: Tensor,
    in_proj_bias: Tensor,
    out_proj: nn::Linear,
    ln_2: nn::LayerNorm,
    mlp_0: nn::Linear,
    mlp_3: nn::Linear,
    heads: i64,
}

impl EncoderBlock {
    fn new(p: nn::Path, hidden: i64, heads: i64, mlp: i64) -> Self {
        let sa = &p / "self_attention";
        let m = &p / "mlp";
        let mlp_init = |q: nn::Path, a, b| {
            nn::linear(
                q,
                a,
                b,
                nn::LinearConfig {
                    ws_init: xavier(a, b),
                    bs_init: Some(Init::Randn {
                        mean: 0.0,
                        stdev: 1e-6,
                    }),
                    bias: true,
                },
            )
        };
        EncoderBlock {
            ln_1: layer_norm(&p / "ln_1", hidden, EPS),
            in_proj_weight: sa.var(
                "in_proj_weight",
                &[3 * hidden, hidden],
                xavier(hidden, 3 * hidden),
            ),
            in_proj_bias: sa.zeros("in_proj_bias", &[3 * hidden]),
            out_proj: linear(
                &sa / "out_proj",
                hidden,
                hidden,
                nn::init::DEFAULT_KAIMING_UNIFORM,
            ),
            ln_2: layer_norm(&p / "ln_2", hidden, EPS),
            mlp_0: mlp_init(&m / 0, hidden, mlp),
            mlp_3: mlp_init(&m / 3, mlp, hidden),
            heads,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let (n, l, d) = xs.size3().expect("tokens are (batch, length, hidden)");
        let h = self.heads;
        let y = xs
            .apply(&self.ln_1)
            .linear(&self.in_proj_weight, Some(&self.in_proj_bias));
        // (n, l, 3, heads, head_dim) → three (n, heads, l, head_dim)
        let qkv = y.view([n, l, 3, h, d / h]).permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let att = Tensor::scaled_dot_product_attention(
            &q,
            &k,
            &v,
            None::<Tensor>,
            0.0,
            false,
            None,
            false,
        );
        let att = att.transpose(1, 2).reshape([n, l, d]).apply(&self.out_proj);
        let x = att.dropout(0.0, train) + xs;
        let y = x
            .apply(&self.ln_2)
            .apply(&self.mlp_0)
            .gelu("none")
            .apply(&self.mlp_3);
        x + y
    }
}

#[derive(Debug)]
pub struct VisionTransformer {
    conv_proj: nn::Conv2D,
    class_token: Tensor,
    pos_embedding: Tensor,
    layers: Vec<EncoderBlock>,
    ln: nn::LayerNorm,
    head: nn::Linear,
    hidden: i64,
}

impl VisionTransformer {
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let heads = ((HEADS as f64 * cfg.scale.width).round() as i64).max(1);
        let hidden = heads * (HIDDEN / HEADS);
        let patch = cfg.scale.patch.unwrap_or(PATCH);
        assert!(
            cfg.image_size % patch == 0,
            "ViT: image size {} is not a multiple of the patch size {patch}",
            cfg.image_size
        );
        let seq = (cfg.image_size / patch).pow(2) + 1;
        let fan_in = 3 * patch * patch;
        let conv_cfg = nn::ConvConfig {
            stride: patch,
            ws_init: Init::Randn {
                mean: 0.0,
                stdev: (1.0 / fan_in as f64).sqrt(),
            },
            bs_init: Init::Const(0.0),
            ..Default::default()
        };
        let enc = &p / "encoder";
        let layers_path = &enc / "layers";
        let layers = (0..cfg.blocks(LAYERS))
            .map(|i| {
                EncoderBlock::new(
                    &layers_path / format!("encoder_layer_{i}"),
                    hidden,
                    heads,
                    4 * hidden,
                )
            })
            .collect();
        VisionTransformer {
            conv_proj: nn::conv2d(&p / "conv_proj", 3, hidden, patch, conv_cfg),
            class_token: p.zeros("class_token", &[1, 1, hidden]),
            pos_embedding: enc.var(
                "pos_embedding",
                &[1, seq, hidden],
                Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
            ),
            layers,
            ln: layer_norm(&enc / "ln", hidden, EPS),
            // torchvision zero-initialises the head.
            head: linear(
                &p / "heads" / "head",
                hidden,
                cfg.num_classes,
                Init::Const(0.0),
            ),
            hidden,
        }
    }
}

impl Net for VisionTransformer {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let n = xs.size()[0];
        let x = xs.apply(&self.conv_proj).flatten(2, -1).transpose(1, 2);
        let cls = self.class_token.expand([n, 1, self.hidden], false);
        let mut x = Tensor::cat(&[cls, x], 1) + &self.pos_embedding;
        for l in &self.layers {
            x = l.forward_t(&x, train);
        }
        x.apply(&self.ln).select(1, 0).apply(&self.head)
    }
}
