//! Batch-level mixing (torchvision's reference `RandomMixup` / `RandomCutmix`, Zhang et al. 2018
//! and Yun et al. 2019) and the cross-entropy on the soft targets it makes.
//!
//! Each batch is paired with itself rolled by one (`batch.roll(1, 0)`); λ ~ Beta(α, α). Mixup
//! blends the two images by λ; CutMix pastes a box of the partner covering about 1 − λ of the
//! area and sets λ to the part left. Targets are one-hot and mixed by the same λ. When both
//! alphas are set, each batch takes one of the two with probability ½ (`RandomChoice`). The
//! draws use libtorch's generator, which training reseeds every epoch, so mixing is
//! reproducible and resumes identically.

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// Mixup / CutMix alphas; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MixConfig {
    pub mixup_alpha: f64,
    pub cutmix_alpha: f64,
}

/// Which mixing one batch got, and its λ (weight of the batch's own targets).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mixed {
    Mixup(f64),
    Cutmix(f64),
}

impl MixConfig {
    pub fn enabled(&self) -> bool {
        self.mixup_alpha > 0.0 || self.cutmix_alpha > 0.0
    }

    /// Mix `images` (N×C×H×W, in place) and return the N×`classes` soft targets of `labels`.
    pub fn apply(&self, images: &mut Tensor, labels: &Tensor, classes: i64) -> (Tensor, Mixed) {
        let device = images.device();
        let cutmix = match (self.mixup_alpha > 0.0, self.cutmix_alpha > 0.0) {
            (true, true) => uniform(device) < 0.5,
            (false, true) => true,
            _ => false,
        };
        let onehot = labels.one_hot(classes).to_kind(Kind::Float);
        let partner_targets = onehot.roll([1], [0]);
        let partner = images.roll([1], [0]);
        let (lam, mixed) = if cutmix {
            let lam = beta(self.cutmix_alpha, device);
            let (_, _, h, w) = images.size4().unwrap_or((0, 0, 0, 0));
            let rx = Tensor::randint(w, [1], (Kind::Int64, device)).int64_value(&[0]);
            let ry = Tensor::randint(h, [1], (Kind::Int64, device)).int64_value(&[0]);
            let r = 0.5 * (1.0 - lam).sqrt();
            let (rw, rh) = ((r * w as f64) as i64, (r * h as f64) as i64);
            let (x1, y1) = ((rx - rw).max(0), (ry - rh).max(0));
            let (x2, y2) = ((rx + rw).min(w), (ry + rh).min(h));
            tch::no_grad(|| {
                images
                    .narrow(2, y1, y2 - y1)
                    .narrow(3, x1, x2 - x1)
                    .copy_(&partner.narrow(2, y1, y2 - y1).narrow(3, x1, x2 - x1))
            });
            let lam = 1.0 - ((x2 - x1) * (y2 - y1)) as f64 / (w * h).max(1) as f64;
            (lam, Mixed::Cutmix(lam))
        } else {
            let lam = beta(self.mixup_alpha, device);
            tch::no_grad(|| {
                let _ = images.g_mul_scalar_(lam).g_add_(&(partner * (1.0 - lam)));
            });
            (lam, Mixed::Mixup(lam))
        };
        (onehot * lam + partner_targets * (1.0 - lam), mixed)
    }
}

fn uniform(device: Device) -> f64 {
    Tensor::rand([1], (Kind::Double, device)).double_value(&[0])
}

/// λ ~ Beta(α, α), as torchvision draws it (`torch._sample_dirichlet([α, α])[0]`).
fn beta(alpha: f64, device: Device) -> f64 {
    Tensor::from_slice(&[alpha, alpha])
        .to_device(device)
        .internal_sample_dirichlet()
        .double_value(&[0])
}

/// Mean cross-entropy of `logits` against probability `targets`, label smoothing applied to
/// the targets as `torch.nn.functional.cross_entropy` does (`t (1 − ε) + ε / classes`).
pub fn soft_cross_entropy(logits: &Tensor, targets: &Tensor, smoothing: f64) -> Tensor {
    let classes = logits.size().last().copied().unwrap_or(1) as f64;
    let t = targets * (1.0 - smoothing) + smoothing / classes;
    -(t * logits.log_softmax(-1, Kind::Float))
        .sum_dim_intlist(-1, false, Kind::Float)
        .mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Reduction;

    fn batch() -> (Tensor, Tensor) {
        let images = Tensor::arange(4, (Kind::Float, Device::Cpu))
            .view([4, 1, 1, 1])
            .expand([4, 3, 8, 10], false)
            .contiguous();
        (images, Tensor::from_slice(&[0i64, 1, 2, 3]))
    }

    #[test]
    fn mixup_blends_images_and_targets_by_one_lambda() {
        tch::manual_seed(11);
        let (mut x, y) = batch();
        let cfg = MixConfig {
            mixup_alpha: 0.2,
            cutmix_alpha: 0.0,
        };
        let (t, how) = cfg.apply(&mut x, &y, 5);
        let Mixed::Mixup(lam) = how else {
            panic!("mixup only, got {how:?}")
        };
        assert!((0.0..=1.0).contains(&lam));
        // Image 1 (value 1) is mixed with image 0 (value 0): λ·1 + (1 − λ)·0.
        assert!((x.double_value(&[1, 0, 3, 3]) - lam).abs() < 1e-6);
        assert!((t.double_value(&[1, 1]) - lam).abs() < 1e-6);
        assert!((t.double_value(&[1, 0]) - (1.0 - lam)).abs() < 1e-6);
        let sums = t.sum_dim_intlist(-1, false, Kind::Float);
        assert!(sums.allclose(
            &Tensor::ones([4], (Kind::Float, Device::Cpu)),
            1e-6,
            1e-6,
            false
        ));
    }

    /// CutMix pastes one box of the partner; λ is the area left, and the targets say so.
    #[test]
    fn cutmix_pastes_a_box_and_lambda_is_the_area_left() {
        tch::manual_seed(3);
        let cfg = MixConfig {
            mixup_alpha: 0.0,
            cutmix_alpha: 1.0,
        };
        for _ in 0..20 {
            let (mut x, y) = batch();
            let (t, how) = cfg.apply(&mut x, &y, 4);
            let Mixed::Cutmix(lam) = how else {
                panic!("cutmix only, got {how:?}")
            };
            // Image 2 (value 2) gets a box of image 1 (value 1).
            let pasted = x.get(2).get(0).eq(1.0).sum(Kind::Int64).int64_value(&[]) as f64;
            assert!(
                (1.0 - pasted / 80.0 - lam).abs() < 1e-9,
                "{pasted} vs λ {lam}"
            );
            assert!((t.double_value(&[2, 2]) - lam).abs() < 1e-6);
        }
    }

    #[test]
    fn both_alphas_pick_each_about_half_the_batches() {
        tch::manual_seed(5);
        let cfg = MixConfig {
            mixup_alpha: 0.2,
            cutmix_alpha: 1.0,
        };
        let cut = (0..200)
            .filter(|_| {
                let (mut x, y) = batch();
                matches!(cfg.apply(&mut x, &y, 4).1, Mixed::Cutmix(_))
            })
            .count();
        assert!((70..=130).contains(&cut), "{cut} of 200 batches cut-mixed");
    }

    /// On one-hot targets the soft loss equals libtorch's cross-entropy, smoothing included.
    #[test]
    fn soft_loss_equals_hard_loss_on_one_hot_targets() {
        tch::manual_seed(1);
        let logits = Tensor::randn([6, 5], (Kind::Float, Device::Cpu));
        let y = Tensor::from_slice(&[0i64, 4, 2, 2, 1, 3]);
        for eps in [0.0, 0.1] {
            let hard = logits.cross_entropy_loss(&y, None::<Tensor>, Reduction::Mean, -100, eps);
            let soft = soft_cross_entropy(&logits, &y.one_hot(5).to_kind(Kind::Float), eps);
            assert!((hard.double_value(&[]) - soft.double_value(&[])).abs() < 1e-5);
        }
    }
}
