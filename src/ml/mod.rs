//! The paper's nine architectures and their training and evaluation, in tch (feature `torch`).
//!
//! - [`models`]: the architectures, one file each, and their registry (`repro models`);
//! - [`layers`]: blocks shared by them, named as torchvision names them;
//! - [`recipe`]: the train stage's params and each architecture's default recipe;
//! - [`optim`]: SGD / AdamW / RMSprop, weight-decay groups, clipping and the learning-rate
//!   schedules, with checkpointable state;
//! - [`mix`]: mixup / CutMix and the soft-target loss; [`ema`]: the model EMA;
//! - [`device`]: CPU or CUDA, bf16 autocast, channels-last, input normalisation;
//! - [`train`], [`eval`]: the loops behind the `train` and `evaluate` stages;
//! - [`finetune`]: starting weights and the replaced head for the `finetune` stage.
//!
//! Batches come from [`crate::data::loader`], which is plain Rust and knows nothing of tch.

pub mod device;
pub mod ema;
pub mod eval;
pub mod finetune;
pub mod layers;
pub mod mix;
pub mod models;
pub mod optim;
pub mod recipe;
pub mod train;
