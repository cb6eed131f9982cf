//! Training: one function, [`train`], that the `train` and `finetune` stages call and tests
//! drive. From scratch by default; with [`TrainJob::pretrained`] it starts from another run's
//! weights with a fresh head, training all layers or the head only ([`super::finetune`]).
//!
//! Each epoch ends with a checkpoint (weights, BatchNorm statistics, optimizer state, step,
//! metrics so far) handed to the host, which keeps it in the store under the action key. A
//! killed training restarts from its last finished epoch, and on the CPU with a fixed seed it
//! ends with bit-identical weights: batch order and augmentation depend only on (seed, epoch,
//! position), and libtorch's generator is reseeded from (seed, epoch) at every epoch start.
//!
//! Outputs: `model.safetensors` (torchvision parameter names), `model.json` (what evaluation
//! needs to rebuild the network), `metrics.json` (per-epoch loss, accuracy, learning rate) and
//! `timing.json` (per-epoch seconds and images/s, and the epoch a resumed run started after):
//! what differs between two correct executions lives only in `timing.json`, so the other files
//! of a rerun are identical byte for byte.
//!
//! Per step, in torchvision's order: random erasing of the normalised images, mixup / CutMix,
//! the (label-smoothed, soft-target) loss, backward, gradient clipping, the update, the EMA
//! update. With `model_ema` the saved weights are the EMA's, which evaluation then uses.

use super::device::{self, Normalization, Precision, LIBTORCH_VERSION};
use super::ema::ModelEma;
use super::finetune::{Pretrained, PretrainedInfo};
use super::mix::soft_cross_entropy;
use super::models::{self, Arch, ModelConfig, Net, Scale};
use super::optim::Optimizer;
use super::recipe::{NormalizationSource, ScheduleKind, TrainConfig};
use crate::data::augment::erasing::{self, EraseValue, RandomErasing};
use crate::data::dataset::Dataset;
use crate::data::loader::{Loader, LoaderConfig, Transform};
use crate::data::stats::sample_stats;
use crate::data::transform::{EvalTransform, TrainTransform};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{nn, Device, Kind, Reduction, Tensor};

/// What training needs from whoever runs it (the stage context, or a test).
pub trait TrainHost {
    fn progress(&mut self, done: u64, total: u64, message: &str);
    /// Keep `file` as the latest checkpoint.
    fn save_checkpoint(&mut self, file: &Path) -> std::io::Result<()>;
    /// Restore the latest checkpoint into `dest`; `false` when there is none.
    fn load_checkpoint(&mut self, dest: &Path) -> std::io::Result<bool>;
    /// True when whoever runs training wants it to stop soon (a preemption's warning).
    fn stop_requested(&self) -> bool {
        false
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Data(#[from] crate::data::dataset::DatasetError),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("pretrained model {path}: {msg}")]
    Pretrained { path: PathBuf, msg: String },
    #[error(
        "training diverged in epoch {epoch}: the loss became {loss} (lower the learning rate)"
    )]
    Diverged { epoch: u32, loss: f64 },
    #[error("stopped after epoch {0} as asked (a simulated interruption)")]
    Interrupted(u32),
    /// Asked to stop (e.g. before a Slurm time limit); the checkpoint of the last finished
    /// epoch is kept, and training resumes from it.
    #[error("stopped on request during epoch {epoch}; resumes from the checkpoint after epoch {resumes_after}")]
    StopRequested { epoch: u32, resumes_after: u32 },
}

/// One training run.
pub struct TrainJob<'a> {
    pub dataset: &'a Dataset,
    pub cfg: &'a TrainConfig,
    pub device: Device,
    pub threads: usize,
    pub out_dir: &'a Path,
    pub host: &'a mut dyn TrainHost,
    /// Start from these weights with a fresh head (fine-tuning); `None` = from scratch.
    pub pretrained: Option<&'a Pretrained>,
    /// Tests: stop with [`TrainError::Interrupted`] after this many epochs of this call.
    pub interrupt_after: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: u32,
    pub loss: f64,
    /// Training top-1 on the (augmented) batches, in [0, 1].
    pub accuracy: f64,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
}

/// How long one epoch took in this execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochTiming {
    pub epoch: u32,
    pub seconds: f64,
    pub images_per_s: f64,
}

/// `timing.json`: how this execution went, as opposed to what it computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// The epoch training resumed after (0 = from scratch).
    pub resumed_from_epoch: u32,
    /// Every epoch, including those run before a resume (from the checkpoint).
    pub epochs: Vec<EpochTiming>,
}

/// The file [`Timing`] is written to; the `train` and `finetune` kinds declare it volatile.
pub const TIMING_FILE: &str = "timing.json";

/// How to rebuild the trained network (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub model: String,
    pub config: ModelConfig,
    pub normalization: Normalization,
    pub dataset: String,
    pub class_names: Vec<String>,
    /// How evaluation resizes and crops for this model (datasets stored at their own sizes);
    /// absent on fixed-size datasets and in cards written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_transform: Option<EvalTransform>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metrics {
    pub model: String,
    pub dataset: String,
    pub params: i64,
    pub params_full: i64,
    pub scale: Scale,
    pub image_size: i64,
    pub num_classes: i64,
    pub device: String,
    pub precision: String,
    pub libtorch: String,
    pub threads: usize,
    pub seed: u64,
    pub train_examples: usize,
    pub epochs: Vec<EpochMetrics>,
    pub config: TrainConfig,
    /// Where a fine-tuning started (absent when trained from scratch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<PretrainedInfo>,
}

/// The part of a checkpoint that is not tensors.
#[derive(Debug, Serialize, Deserialize)]
struct CheckpointMeta {
    epochs_done: u32,
    step: i64,
    history: Vec<EpochMetrics>,
    /// Timings of the finished epochs (absent in checkpoints written before they were kept).
    #[serde(default)]
    timing: Vec<EpochTiming>,
    /// The EMA's update count (absent without `model_ema`).
    #[serde(default)]
    ema_n_averaged: Option<i64>,
}

pub fn build(arch: &Arch, vs: &nn::VarStore, cfg: &ModelConfig) -> Box<dyn Net> {
    (arch.build)(vs.root(), cfg)
}

/// What [`train`] wrote to `metrics.json` and `timing.json`.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub metrics: Metrics,
    pub timing: Timing,
}

/// Train as `job` says.
pub fn train(job: TrainJob) -> Result<TrainOutcome, TrainError> {
    let cfg = job.cfg;
    let ds = job.dataset;
    let arch = models::find(&cfg.model).ok_or_else(|| {
        TrainError::Config(format!(
            "unknown model `{}`; known: {}",
            cfg.model,
            models::names().join(", ")
        ))
    })?;
    let num_classes = ds.meta.num_classes() as i64;
    // A fine-tuning keeps the pretrained network's scale and input size; only the head changes.
    let mc = match job.pretrained {
        Some(p) => {
            p.check(arch)?;
            ModelConfig::new(num_classes, p.card.config.image_size, p.card.config.scale)
        }
        None => {
            let scale = cfg.scale.resolve(arch).map_err(TrainError::Config)?;
            let image_size = i64::from(cfg.image_size.unwrap_or(ds.meta.width));
            ModelConfig::new(num_classes, image_size, scale)
        }
    };
    let (scale, image_size) = (mc.scale, mc.image_size);
    let cuda = job.device.is_cuda();
    let precision = cfg.precision.effective(cuda);
    tch::set_num_threads(job.threads.max(1) as i32);
    tch::manual_seed(cfg.seed as i64);

    let vs = nn::VarStore::new(job.device);
    let net = build(arch, &vs, &mc);
    let init = match job.pretrained {
        Some(p) => Some(p.apply(arch, &vs)?),
        None => None,
    };
    // Head-only fine-tuning runs the frozen backbone in inference mode (see `finetune`).
    let train_mode = job.pretrained.is_none_or(Pretrained::train_mode);
    let params = models::count_params(&vs);
    let mut opt = Optimizer::new(&vs, cfg.optim_config());
    // Micro-batches per optimizer step (gradient accumulation; 1 = none).
    let accumulate = u64::from(cfg.accumulate_steps.max(1));
    let mut ema = cfg.model_ema.then(|| {
        let decay = ModelEma::adjusted_decay(
            cfg.model_ema_decay,
            cfg.batch_size * accumulate as usize,
            cfg.model_ema_steps,
            cfg.epochs,
        );
        ModelEma::new(&vs, decay)
    });
    // torchvision resets the EMA during the learning-rate warm-up.
    let warmup_epochs = match cfg.schedule {
        ScheduleKind::Cosine => cfg.warmup_epochs,
        _ => 0,
    };
    let mix = cfg.mix();
    let erase = RandomErasing::with_p(cfg.random_erase);
    let norm = match cfg.normalization {
        NormalizationSource::Sample => {
            Normalization::from(sample_stats(ds, &cfg.split, NORM_SAMPLE_IMAGES, cfg.seed)?)
        }
        NormalizationSource::Imagenet if ds.meta.channels == 3 => Normalization::imagenet(),
        NormalizationSource::Imagenet => {
            return Err(TrainError::Config(format!(
                "`normalization: imagenet` needs 3-channel images; this dataset has {}",
                ds.meta.channels
            )))
        }
    };
    let fixed = ds.meta.storage.is_fixed();
    let loader = Loader::new(
        ds,
        loader_config(cfg, image_size as u32, true, fixed, job.threads),
    )?;
    let per_epoch = loader.batches_per_epoch() as u64;
    // Optimizer steps per epoch; an epoch's last micro-batches short of a step are dropped,
    // as the loader drops a short last batch.
    let steps_per_epoch = per_epoch / accumulate;
    if steps_per_epoch == 0 {
        return Err(TrainError::Config(format!(
            "split `{}` has {} examples, fewer than one batch of {} × {accumulate}",
            cfg.split,
            loader.len(),
            cfg.batch_size
        )));
    }
    let per_epoch = steps_per_epoch * accumulate;
    let total_steps = per_epoch * u64::from(cfg.epochs);
    let total_opt_steps = steps_per_epoch * u64::from(cfg.epochs);
    let schedule = cfg.schedule();

    let scratch = Scratch::new()?;
    let ckpt = scratch.0.join("checkpoint.safetensors");
    let mut history = Vec::new();
    let mut timing = Vec::new();
    let mut start = 0u32;
    if job.host.load_checkpoint(&ckpt)? {
        let meta = restore(&ckpt, &vs, &mut opt, ema.as_mut())?;
        start = meta.epochs_done;
        history = meta.history;
        timing = meta.timing;
        eprintln!("train: resuming after epoch {start} of {}", cfg.epochs);
    }
    if cuda && cfg.channels_last {
        device::to_channels_last(&vs);
    }
    if precision == Precision::Bf16 {
        device::use_bf16_autocast();
    }
    let (decay, exempt) = opt.decay_split();
    if let Some(i) = &init {
        eprintln!(
            "train: fine-tuning from {} ({} classes): {} tensors copied, fresh head {:?}, training {} layers",
            i.dataset,
            i.num_classes,
            i.copied,
            i.fresh,
            i.layers.name()
        );
    }
    eprintln!(
        "train: {} ({params} parameters, {decay} tensors decayed, {exempt} exempt) on {} at {image_size}px, {} examples, {per_epoch} steps/epoch",
        arch.name,
        device::device_class(job.device),
        loader.len()
    );

    let mut epochs_this_call = 0;
    for epoch in start..cfg.epochs {
        tch::manual_seed(
            (cfg.seed as i64)
                .wrapping_mul(1_000_003)
                .wrapping_add(i64::from(epoch)),
        );
        let t0 = Instant::now();
        let (mut loss_sum, mut correct, mut seen) =
            (Tensor::zeros([1], (Kind::Double, job.device)), 0i64, 0usize);
        let mut correct_t = Tensor::zeros([1], (Kind::Int64, job.device));
        let mut lr = cfg.lr();
        let mut erase_rng = ChaCha8Rng::seed_from_u64(
            cfg.seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(u64::from(epoch)),
        );
        for (i, batch) in loader
            .epoch(u64::from(epoch))
            .take(per_epoch as usize)
            .enumerate()
        {
            // The last finished epoch's checkpoint is in the store: stopping here loses at
            // most one epoch, and a short warning (the grace period) is enough.
            if job.host.stop_requested() {
                return Err(TrainError::StopRequested {
                    epoch: epoch + 1,
                    resumes_after: epoch,
                });
            }
            let batch = batch?;
            let step = u64::from(epoch) * per_epoch + i as u64;
            // This micro-batch's optimizer step, within the epoch and overall.
            let opt_i = i as u64 / accumulate;
            let at = if cfg.lr_per_epoch {
                u64::from(epoch) * steps_per_epoch
            } else {
                u64::from(epoch) * steps_per_epoch + opt_i
            };
            lr = schedule.lr(cfg.lr(), at, steps_per_epoch, total_opt_steps);
            let mut xs = norm.to_input(
                &batch.images,
                batch.n,
                batch.size,
                batch.channels,
                job.device,
            );
            let labels: Vec<i64> = batch.labels.iter().map(|&l| i64::from(l)).collect();
            let ys = Tensor::from_slice(&labels).to_device(job.device);
            if erase.p > 0.0 {
                erase_batch(&mut xs, &erase, &mut erase_rng);
            }
            let soft = mix
                .enabled()
                .then(|| mix.apply(&mut xs, &ys, num_classes).0);
            let (loss, logits) = tch::autocast(precision == Precision::Bf16, || {
                let (out, aux) = net.forward_aux(&xs, train_mode);
                let ce = |t: &Tensor| {
                    let t = t.to_kind(Kind::Float);
                    match &soft {
                        Some(targets) => soft_cross_entropy(&t, targets, cfg.label_smoothing),
                        None => t.cross_entropy_loss(
                            &ys,
                            None::<Tensor>,
                            Reduction::Mean,
                            -100,
                            cfg.label_smoothing,
                        ),
                    }
                };
                let mut loss = ce(&out);
                if let Some(aux) = aux {
                    loss += ce(&aux) * cfg.aux_weight;
                }
                (loss, out)
            });
            if (i as u64).is_multiple_of(accumulate) {
                opt.zero_grad();
            }
            if accumulate == 1 {
                loss.backward();
            } else {
                (&loss / accumulate as f64).backward();
            }
            // The optimizer step (and the EMA's) after the last micro-batch of a step.
            if (i as u64 + 1).is_multiple_of(accumulate) {
                if let Some(max_norm) = cfg.clip_grad_norm {
                    opt.clip_grad_norm(max_norm);
                }
                opt.step(lr);
                if let Some(ema) = ema.as_mut() {
                    if opt_i.is_multiple_of(u64::from(cfg.model_ema_steps)) {
                        ema.update(&vs);
                        if epoch < warmup_epochs {
                            ema.n_averaged = 0;
                        }
                    }
                }
            }
            // Accumulate on the device; read back once per epoch (no per-step sync on CUDA).
            tch::no_grad(|| {
                loss_sum += loss.detach().to_kind(Kind::Double) * batch.n as f64;
                correct_t += logits.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64);
            });
            seen += batch.n;
            if i % 10 == 0 || i as u64 + 1 == per_epoch {
                job.host.progress(
                    step + 1,
                    total_steps,
                    &format!("epoch {}/{}", epoch + 1, cfg.epochs),
                );
            }
        }
        correct += correct_t.int64_value(&[0]);
        let loss = loss_sum.double_value(&[0]) / seen.max(1) as f64;
        if !loss.is_finite() {
            return Err(TrainError::Diverged {
                epoch: epoch + 1,
                loss,
            });
        }
        let seconds = t0.elapsed().as_secs_f64();
        let m = EpochMetrics {
            epoch: epoch + 1,
            loss,
            accuracy: correct as f64 / seen.max(1) as f64,
            lr,
        };
        let t = EpochTiming {
            epoch: epoch + 1,
            seconds,
            images_per_s: seen as f64 / seconds.max(1e-9),
        };
        eprintln!(
            "train: epoch {} loss {:.4} acc {:.4} {:.0} img/s {:.1}s",
            m.epoch, m.loss, m.accuracy, t.images_per_s, t.seconds
        );
        history.push(m);
        timing.push(t);
        let meta = CheckpointMeta {
            epochs_done: epoch + 1,
            step: opt.step,
            history: history.clone(),
            timing: timing.clone(),
            ema_n_averaged: ema.as_ref().map(|e| e.n_averaged),
        };
        save_checkpoint(&ckpt, &vs, &opt, ema.as_ref(), &meta)?;
        job.host.save_checkpoint(&ckpt)?;
        epochs_this_call += 1;
        if job.interrupt_after == Some(epochs_this_call) && epoch + 1 < cfg.epochs {
            return Err(TrainError::Interrupted(epoch + 1));
        }
    }

    if let Some(ema) = &ema {
        ema.copy_into(&vs);
    }
    save_weights(&vs, &job.out_dir.join("model.safetensors"))?;
    let card = ModelCard {
        model: arch.name.to_string(),
        config: mc,
        normalization: norm,
        dataset: ds.meta.name.clone(),
        class_names: ds.meta.classes.iter().map(|c| c.lemma.clone()).collect(),
        eval_transform: (!fixed).then(|| eval_transform(cfg, image_size as u32)),
    };
    write_json(&job.out_dir.join("model.json"), &card)?;
    let metrics = Metrics {
        model: arch.name.to_string(),
        dataset: ds.meta.name.clone(),
        params,
        params_full: arch.full_params,
        scale,
        image_size,
        num_classes: mc.num_classes,
        device: device::device_class(job.device).to_string(),
        precision: precision.name().to_string(),
        libtorch: LIBTORCH_VERSION.to_string(),
        threads: job.threads,
        seed: cfg.seed,
        train_examples: loader.len(),
        epochs: history,
        config: cfg.clone(),
        pretrained: init,
    };
    write_json(&job.out_dir.join("metrics.json"), &metrics)?;
    let timing = Timing {
        resumed_from_epoch: start,
        epochs: timing,
    };
    write_json(&job.out_dir.join(TIMING_FILE), &timing)?;
    Ok(TrainOutcome { metrics, timing })
}

/// Images the normalisation statistics are measured on, drawn from the whole split.
const NORM_SAMPLE_IMAGES: usize = 10_000;

/// `workers: 0` (the default) means one per CPU of the stage.
pub fn loader_config(
    cfg: &TrainConfig,
    out_size: u32,
    train: bool,
    fixed_storage: bool,
    threads: usize,
) -> LoaderConfig {
    // Fixed-size (small) datasets keep the recipe's simple augmentations; datasets stored at
    // their own sizes get torchvision's transforms at the recipe's crop sizes and policy.
    let transform = if fixed_storage {
        Transform::from_augment(cfg.augment(), out_size, true)
    } else if train {
        Transform::Train(TrainTransform {
            crop: cfg.train_crop.unwrap_or(out_size),
            scale: (cfg.rrc_scale_min, 1.0),
            ratio: cfg.rrc_ratio,
            interpolation: cfg.interpolation,
            hflip: cfg.hflip,
            policy: cfg.auto_augment,
        })
    } else {
        Transform::Eval(eval_transform(cfg, out_size))
    };
    LoaderConfig {
        split: cfg.split.clone(),
        batch_size: cfg.batch_size,
        shuffle: train,
        drop_last: train,
        transform,
        seed: cfg.seed,
        workers: if cfg.workers == 0 {
            threads
        } else {
            cfg.workers
        },
        prefetch: 4,
        repeats: if train { cfg.ra_reps as usize } else { 1 },
    }
}

/// The recipe's evaluation preset: `Resize(eval_resize) → CenterCrop(eval_crop)`, by default
/// the ImageNet convention at the training size (256 → 224).
pub fn eval_transform(cfg: &TrainConfig, out_size: u32) -> EvalTransform {
    let crop = cfg.eval_crop.unwrap_or(out_size);
    EvalTransform {
        resize: cfg
            .eval_resize
            .unwrap_or_else(|| EvalTransform::imagenet(crop).resize),
        crop,
        interpolation: cfg.eval_interpolation,
    }
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    std::fs::write(path, bytes)
}

/// Contiguous CPU copies, sorted by name (safetensors needs contiguous data; CUDA tensors and
/// channels-last layouts are converted here).
fn cpu_named(vs: &nn::VarStore, prefix: &str) -> Vec<(String, Tensor)> {
    let vars: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    vars.into_iter()
        .map(|(n, t)| {
            (
                format!("{prefix}{n}"),
                t.detach().to_device(Device::Cpu).contiguous(),
            )
        })
        .collect()
}

/// The final weights under torchvision's names.
pub fn save_weights(vs: &nn::VarStore, path: &Path) -> Result<(), TrainError> {
    Ok(Tensor::write_safetensors(&cpu_named(vs, ""), path)?)
}

/// Load weights written by [`save_weights`] into a var store built for the same model.
pub fn load_weights(vs: &nn::VarStore, path: &Path) -> Result<(), TrainError> {
    let named: BTreeMap<String, Tensor> = Tensor::read_safetensors(path)?.into_iter().collect();
    copy_into(vs, &named, "", path)
}

fn copy_into(
    vs: &nn::VarStore,
    named: &BTreeMap<String, Tensor>,
    prefix: &str,
    path: &Path,
) -> Result<(), TrainError> {
    let vars = vs.variables();
    for (name, mut var) in vars {
        let key = format!("{prefix}{name}");
        let src = named.get(&key).ok_or_else(|| {
            TrainError::Config(format!(
                "{}: no tensor `{key}` (built for another model?)",
                path.display()
            ))
        })?;
        if src.size() != var.size() {
            return Err(TrainError::Config(format!(
                "{}: `{key}` has shape {:?}, the model expects {:?}",
                path.display(),
                src.size(),
                var.size()
            )));
        }
        tch::no_grad(|| var.copy_(src));
    }
    Ok(())
}

/// Random erasing of each image of the normalised N×C×H×W batch `xs` (torchvision erases
/// per image in the dataset transform; the rectangles come from `rng`, the noise of
/// `value: random` from libtorch's generator).
fn erase_batch(xs: &mut Tensor, cfg: &RandomErasing, rng: &mut ChaCha8Rng) {
    let Ok((n, c, h, w)) = xs.size4() else { return };
    tch::no_grad(|| {
        for i in 0..n {
            let Some((top, left, eh, ew)) = erasing::draw(cfg, (h as usize, w as usize), rng)
            else {
                continue;
            };
            let mut region =
                xs.get(i)
                    .narrow(1, top as i64, eh as i64)
                    .narrow(2, left as i64, ew as i64);
            match cfg.value {
                EraseValue::Zero => {
                    let _ = region.fill_(0.0);
                }
                EraseValue::Random => {
                    let noise = Tensor::randn([c, eh as i64, ew as i64], (xs.kind(), xs.device()));
                    region.copy_(&noise);
                }
            }
        }
    });
}

fn save_checkpoint(
    path: &Path,
    vs: &nn::VarStore,
    opt: &Optimizer,
    ema: Option<&ModelEma>,
    meta: &CheckpointMeta,
) -> Result<(), TrainError> {
    let mut named = cpu_named(vs, "model.");
    let ema_state = ema.map(ModelEma::state).unwrap_or_default();
    for (prefix, (n, t)) in opt
        .state()
        .into_iter()
        .map(|s| ("optim", s))
        .chain(ema_state.into_iter().map(|s| ("ema", s)))
    {
        named.push((
            format!("{prefix}.{n}"),
            t.detach().to_device(Device::Cpu).contiguous(),
        ));
    }
    let json = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
    named.push(("meta.json".to_string(), Tensor::from_slice(&json)));
    Ok(Tensor::write_safetensors(&named, path)?)
}

fn restore(
    path: &Path,
    vs: &nn::VarStore,
    opt: &mut Optimizer,
    ema: Option<&mut ModelEma>,
) -> Result<CheckpointMeta, TrainError> {
    let named: BTreeMap<String, Tensor> = Tensor::read_safetensors(path)?.into_iter().collect();
    let bad = |m: String| TrainError::Config(format!("checkpoint {}: {m}", path.display()));
    let raw = named
        .get("meta.json")
        .ok_or_else(|| bad("no meta.json".into()))?;
    let mut bytes = vec![0u8; raw.numel()];
    raw.copy_data_u8(&mut bytes, raw.numel());
    let meta: CheckpointMeta = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    copy_into(vs, &named, "model.", path)?;
    let optim: BTreeMap<String, Tensor> = named
        .iter()
        .filter_map(|(k, t)| {
            k.strip_prefix("optim.")
                .map(|k| (k.to_string(), t.shallow_clone()))
        })
        .collect();
    opt.load_state(&optim, meta.step).map_err(bad)?;
    if let Some(ema) = ema {
        let averaged: BTreeMap<String, Tensor> = named
            .iter()
            .filter_map(|(k, t)| {
                k.strip_prefix("ema.")
                    .map(|k| (k.to_string(), t.shallow_clone()))
            })
            .collect();
        ema.load_state(&averaged, meta.ema_n_averaged.unwrap_or(0))
            .map_err(bad)?;
    }
    Ok(meta)
}

/// A private temporary directory, removed on drop (never inside the stage's output tree).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("repro-train-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
