//! The nine architectures: torchvision's exact parameter counts at full size, and a forward pass
//! of the right shape at the mini scale.
#![cfg(feature = "torch")]

use repro::ml::models::{self, ModelConfig, Scale};
use tch::{nn, Device, Kind, Tensor};

/// torchvision's counts with 1,000 classes (issue 3), in the paper's order.
const TORCHVISION: [(&str, i64); 9] = [
    ("alexnet", 61_100_840),
    ("vgg19", 143_667_240),
    ("inception_v3", 27_161_264),
    ("resnet152", 60_192_808),
    ("densenet161", 28_681_000),
    ("mobilenet_v3_large", 5_483_032),
    ("efficientnet_v2_l", 118_515_272),
    ("vit_b_16", 86_567_656),
    ("convnext_large", 197_767_336),
];

#[test]
fn registry_lists_the_nine_in_paper_order() {
    let names: Vec<_> = models::registry().iter().map(|a| a.name).collect();
    let want: Vec<_> = TORCHVISION.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, want);
}

#[test]
fn full_size_parameter_counts_equal_torchvision() {
    tch::set_num_threads(2);
    for (name, want) in TORCHVISION {
        let arch = models::find(name).expect("registered");
        let cfg = ModelConfig::new(1000, arch.full_image_size, Scale::FULL);
        let got = models::param_count(arch, &cfg);
        assert_eq!(
            got, want,
            "{name}: {got} parameters, torchvision has {want}"
        );
        assert_eq!(arch.full_params, want, "{name}: registry constant");
    }
}

#[test]
fn mini_forward_shapes() {
    tch::manual_seed(0);
    for arch in models::registry() {
        let cfg = ModelConfig::new(10, 32, arch.mini);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = (arch.build)(vs.root(), &cfg);
        let xs = Tensor::randn([4, 3, 32, 32], (Kind::Float, Device::Cpu));
        let ys = net.forward_t(&xs, false);
        assert_eq!(ys.size(), vec![4, 10], "{}", arch.name);
        let (main, aux) = net.forward_aux(&xs, true);
        assert_eq!(main.size(), vec![4, 10], "{}", arch.name);
        if let Some(aux) = aux {
            assert_eq!(aux.size(), vec![4, 10], "{} aux", arch.name);
        }
        assert!(
            ys.isfinite().all().int64_value(&[]) == 1,
            "{} gives non-finite logits",
            arch.name
        );
        let n = models::count_params(&vs);
        assert!(n < 2_000_000, "{}: mini has {n} parameters", arch.name);
    }
}

#[test]
fn full_size_forward_shape_resnet_at_224() {
    let arch = models::find("resnet152").expect("registered");
    let cfg = ModelConfig::new(1000, 224, Scale::FULL);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = (arch.build)(vs.root(), &cfg);
    let ys = tch::no_grad(|| {
        net.forward_t(
            &Tensor::zeros([1, 3, 224, 224], (Kind::Float, Device::Cpu)),
            false,
        )
    });
    assert_eq!(ys.size(), vec![1, 1000]);
}
