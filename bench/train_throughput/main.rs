//! Training throughput of each architecture in repro (tch), for `run.sh` to set beside the same
//! architecture in Python torch. For every architecture it writes, under `--out`:
//! `<name>.init.safetensors` (initial weights), `<name>.json` (model config), `<name>.check.safetensors`
//! (a fixed input and repro's eval-mode logits on it, so the Python side can prove it runs the same
//! network), `repro-<name>.json` with its images/s, and `repro.json` with the run's settings.
//!
//! Each timed step is what `train` does per batch: forward (with Inception's auxiliary head),
//! cross-entropy, backward, an SGD-momentum update with weight decay. Data are one random batch
//! already in memory, so only the model and optimizer are measured — and, trained on repeatedly,
//! it shows that the network learns: each result also records the first and last loss, whether
//! every loss and weight stayed finite, the dtype of the logits inside autocast (`bfloat16` when
//! `--bf16` really runs in bf16) and whether the weights were channels-last
//! (`scripts/gpu-check.sh` reads these).

use repro::ml::models::{self, ModelConfig, Scale, ScaleSpec};
use repro::ml::optim::{OptimConfig, Optimizer};
use repro::ml::train::save_weights;
use std::path::PathBuf;
use std::time::Instant;
use tch::{nn, Device, Kind, Reduction, Tensor};

struct Args {
    out: PathBuf,
    threads: i32,
    batch: i64,
    steps: usize,
    warmup: usize,
    archs: Vec<String>,
    scale: String,
    image_size: i64,
    classes: i64,
    cuda: bool,
    bf16: bool,
    channels_last: bool,
}

fn parse() -> Args {
    let mut a = Args {
        out: PathBuf::from("bench/out/train_throughput"),
        threads: 2,
        batch: 128,
        steps: 10,
        warmup: 2,
        archs: models::names().iter().map(|s| s.to_string()).collect(),
        scale: "mini".into(),
        image_size: 32,
        classes: 10,
        cuda: false,
        bf16: false,
        channels_last: false,
    };
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|s| s != "--bench")
        .collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--out" => a.out = PathBuf::from(v),
            "--threads" => a.threads = v.parse().expect("--threads N"),
            "--batch" => a.batch = v.parse().expect("--batch N"),
            "--steps" => a.steps = v.parse().expect("--steps N"),
            "--warmup" => a.warmup = v.parse().expect("--warmup N"),
            "--archs" => a.archs = v.split(',').map(str::to_string).collect(),
            "--scale" => a.scale = v,
            "--image-size" => a.image_size = v.parse().expect("--image-size N"),
            "--classes" => a.classes = v.parse().expect("--classes N"),
            "--cuda" => {
                a.cuda = true;
                i -= 1;
            }
            "--bf16" => {
                a.bf16 = true;
                i -= 1;
            }
            "--channels-last" => {
                a.channels_last = true;
                i -= 1;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn main() {
    let args = parse();
    std::fs::create_dir_all(&args.out).expect("create --out");
    tch::set_num_threads(args.threads);
    let device = if args.cuda {
        Device::Cuda(0)
    } else {
        Device::Cpu
    };
    if args.bf16 {
        repro::ml::device::use_bf16_autocast();
    }
    let mut results = serde_json::Map::new();
    for name in &args.archs {
        let arch = models::find(name).unwrap_or_else(|| panic!("unknown architecture {name}"));
        let spec = if args.scale == "mini" || args.scale == "full" {
            ScaleSpec::Named(args.scale.clone())
        } else {
            panic!("--scale mini|full")
        };
        let scale: Scale = spec.resolve(arch).expect("scale");
        let cfg = ModelConfig::new(args.classes, args.image_size, scale);
        tch::manual_seed(0);
        let vs = nn::VarStore::new(device);
        let net = (arch.build)(vs.root(), &cfg);
        let params = models::count_params(&vs);
        save_weights(&vs, &args.out.join(format!("{name}.init.safetensors"))).expect("save init");
        let card = serde_json::json!({"model": name, "num_classes": cfg.num_classes, "image_size": cfg.image_size, "scale": scale});
        std::fs::write(args.out.join(format!("{name}.json")), card.to_string())
            .expect("write card");
        let probe = Tensor::randn(
            [4, 3, args.image_size, args.image_size],
            (Kind::Float, Device::Cpu),
        );
        let logits =
            tch::no_grad(|| net.forward_t(&probe.to_device(device), false)).to_device(Device::Cpu);
        Tensor::write_safetensors(
            &[("input", &probe), ("logits", &logits)],
            args.out.join(format!("{name}.check.safetensors")),
        )
        .expect("write check");

        let mut opt = Optimizer::new(
            &vs,
            OptimConfig {
                weight_decay: 5e-4,
                no_decay_norm_bias: false,
                ..Default::default()
            },
        );
        if args.channels_last {
            repro::ml::device::to_channels_last(&vs);
        }
        let mut xs = Tensor::randn(
            [args.batch, 3, args.image_size, args.image_size],
            (Kind::Float, device),
        );
        if args.channels_last {
            xs = xs.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]);
        }
        let (mut loss_first, mut loss_last, mut autocast_dtype) = (f64::NAN, f64::NAN, None);
        let ys = Tensor::randint(args.classes, [args.batch], (Kind::Int64, device));
        let mut t0 = Instant::now();
        for step in 0..args.warmup + args.steps {
            if step == args.warmup {
                if args.cuda {
                    tch::Cuda::synchronize(0);
                }
                t0 = Instant::now();
            }
            let loss = tch::autocast(args.bf16, || {
                let (out, aux) = net.forward_aux(&xs, true);
                autocast_dtype.get_or_insert_with(|| format!("{:?}", out.kind()));
                let ce = |t: &Tensor| {
                    t.to_kind(Kind::Float).cross_entropy_loss(
                        &ys,
                        None::<Tensor>,
                        Reduction::Mean,
                        -100,
                        0.0,
                    )
                };
                let l = ce(&out);
                aux.map_or_else(|| l.shallow_clone(), |a| &l + ce(&a) * 0.4)
            });
            opt.zero_grad();
            loss.backward();
            opt.step(0.01);
            // Read the loss only outside the timed steps (a read synchronises the device).
            if step == 0 {
                loss_first = loss.double_value(&[]);
            }
            if step + 1 == args.warmup + args.steps {
                loss_last = loss.double_value(&[]);
            }
        }
        if args.cuda {
            tch::Cuda::synchronize(0);
        }
        let secs = t0.elapsed().as_secs_f64();
        let weights_finite = vs
            .trainable_variables()
            .iter()
            .all(|t| t.isfinite().all().int64_value(&[]) == 1);
        // Channels-last = NHWC in memory on some 4-d weight: channel stride 1, width stride C
        // (a contiguous 1×1 kernel also has channel stride 1, but width stride 1).
        let channels_last = vs.trainable_variables().iter().any(|t| {
            let (size, stride) = (t.size(), t.stride());
            t.dim() == 4 && size[1] > 1 && stride[1] == 1 && stride[3] == size[1]
        });
        let ips = (args.steps as i64 * args.batch) as f64 / secs;
        eprintln!("repro  {name:<20} {params:>10} params  {ips:>8.1} img/s");
        let finite = loss_first.is_finite() && loss_last.is_finite() && weights_finite;
        let row = serde_json::json!({"params": params, "images_per_s": ips,
            "loss_first": loss_first, "loss_last": loss_last, "finite": finite,
            "autocast_dtype": autocast_dtype, "channels_last": channels_last});
        let path = args.out.join(format!("repro-{name}.json"));
        std::fs::write(path, row.to_string()).expect("write result");
        results.insert(name.clone(), row);
    }
    let meta = serde_json::json!({"threads": args.threads, "batch": args.batch, "steps": args.steps, "image_size": args.image_size,
        "scale": args.scale, "device": if args.cuda {"cuda"} else {"cpu"}, "bf16": args.bf16, "channels_last": args.channels_last,
        "classes": args.classes, "warmup": args.warmup, "results": results});
    std::fs::write(
        args.out.join("repro.json"),
        serde_json::to_string_pretty(&meta).expect("json"),
    )
    .expect("write repro.json");
}
