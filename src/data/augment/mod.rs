//! Automatic augmentation policies with torchvision's semantics
//! (`torchvision/transforms/autoaugment.py`): which ops a policy draws, at which magnitudes, with
//! which probabilities. The ops themselves are in [`ops`]; random erasing, which torchvision
//! applies after normalisation, is in [`erasing`].
//!
//! ```yaml
//! auto_augment: trivial_augment_wide            # or auto_augment_imagenet, none
//! auto_augment: {rand_augment: {ops: 2, magnitude: 9}}
//! ```
//! The draws come from the caller's generator, so an example's augmentation is as reproducible
//! as the generator's seed; they do not reproduce torch's random stream.

pub mod erasing;
pub mod ops;

pub use erasing::{random_erasing, RandomErasing};
pub use ops::{apply_op, Op};

use image::RgbImage;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// An automatic augmentation policy, applied to each training image before normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Policy {
    #[default]
    None,
    /// One op drawn uniformly, at a magnitude drawn uniformly from 31 bins (`ta_wide`).
    TrivialAugmentWide,
    /// AutoAugment's ImageNet policy: one of 25 learnt pairs of (op, probability, magnitude).
    AutoAugmentImagenet,
    /// `ops` ops drawn uniformly, each at bin `magnitude` of 31 (`ra`: 2 ops at 9).
    RandAugment { ops: u32, magnitude: u32 },
}

/// Bins of TrivialAugmentWide and RandAugment (torchvision's `num_magnitude_bins`).
const BINS: usize = 31;
/// AutoAugment's magnitude bins.
const AA_BINS: usize = 10;

/// The magnitude range an op spans over its bins, and whether a draw may negate it.
#[derive(Clone, Copy)]
enum Range {
    /// No magnitude.
    Zero,
    /// `linspace(0, max, bins)`, negated with probability ½.
    Signed(f64),
    /// `linspace(from, to, bins)`, never negated.
    Plain(f64, f64),
    /// `8 - round(i / ((bins - 1) / divisor))`: Posterize's bits.
    Bits(f64),
}

impl Range {
    fn magnitude(self, bin: usize, bins: usize) -> f64 {
        let f = bin as f64 / (bins - 1) as f64;
        match self {
            Range::Zero => 0.0,
            Range::Signed(max) => max * f,
            Range::Plain(from, to) => from + (to - from) * f,
            Range::Bits(divisor) => 8.0 - (bin as f64 / ((bins - 1) as f64 / divisor)).round(),
        }
    }
}

/// TrivialAugmentWide's ops and ranges (`_augmentation_space` of that class).
fn wide_space(op: Op) -> Range {
    match op {
        Op::ShearX | Op::ShearY => Range::Signed(0.99),
        Op::TranslateX | Op::TranslateY => Range::Signed(32.0),
        Op::Rotate => Range::Signed(135.0),
        Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness => Range::Signed(0.99),
        Op::Posterize => Range::Bits(6.0),
        Op::Solarize => Range::Plain(255.0, 0.0),
        Op::Identity | Op::AutoContrast | Op::Equalize | Op::Invert => Range::Zero,
    }
}

/// RandAugment's and AutoAugment's ranges (translation relative to the image: 150/331 of it).
fn standard_space(op: Op, w: u32, h: u32) -> Range {
    match op {
        Op::ShearX | Op::ShearY => Range::Signed(0.3),
        Op::TranslateX => Range::Signed(150.0 / 331.0 * f64::from(w)),
        Op::TranslateY => Range::Signed(150.0 / 331.0 * f64::from(h)),
        Op::Rotate => Range::Signed(30.0),
        Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness => Range::Signed(0.9),
        Op::Posterize => Range::Bits(4.0),
        Op::Solarize => Range::Plain(255.0, 0.0),
        Op::Identity | Op::AutoContrast | Op::Equalize | Op::Invert => Range::Zero,
    }
}

/// The ops TrivialAugmentWide and RandAugment draw from, in torchvision's order: all but
/// Invert, which [`Op::ALL`] lists last.
const UNIFORM_OPS: &[Op] = match Op::ALL.split_last() {
    Some((Op::Invert, rest)) => rest,
    _ => panic!("Op::ALL must end with Invert"),
};

type SubPolicy = [(Op, f64, usize); 2];

/// AutoAugment's ImageNet policy (`AutoAugmentPolicy.IMAGENET`): (op, probability, magnitude
/// bin); a bin of 0 for ops without magnitude.
const IMAGENET_POLICY: [SubPolicy; 25] = {
    use Op::*;
    [
        [(Posterize, 0.4, 8), (Rotate, 0.6, 9)],
        [(Solarize, 0.6, 5), (AutoContrast, 0.6, 0)],
        [(Equalize, 0.8, 0), (Equalize, 0.6, 0)],
        [(Posterize, 0.6, 7), (Posterize, 0.6, 6)],
        [(Equalize, 0.4, 0), (Solarize, 0.2, 4)],
        [(Equalize, 0.4, 0), (Rotate, 0.8, 8)],
        [(Solarize, 0.6, 3), (Equalize, 0.6, 0)],
        [(Posterize, 0.8, 5), (Equalize, 1.0, 0)],
        [(Rotate, 0.2, 3), (Solarize, 0.6, 8)],
        [(Equalize, 0.6, 0), (Posterize, 0.4, 6)],
        [(Rotate, 0.8, 8), (Color, 0.4, 0)],
        [(Rotate, 0.4, 9), (Equalize, 0.6, 0)],
        [(Equalize, 0.0, 0), (Equalize, 0.8, 0)],
        [(Invert, 0.6, 0), (Equalize, 1.0, 0)],
        [(Color, 0.6, 4), (Contrast, 1.0, 8)],
        [(Rotate, 0.8, 8), (Color, 1.0, 2)],
        [(Color, 0.8, 8), (Solarize, 0.8, 7)],
        [(Sharpness, 0.4, 7), (Invert, 0.6, 0)],
        [(ShearX, 0.6, 5), (Equalize, 1.0, 0)],
        [(Color, 0.4, 0), (Equalize, 0.6, 0)],
        [(Equalize, 0.4, 0), (Solarize, 0.2, 4)],
        [(Solarize, 0.6, 5), (AutoContrast, 0.6, 0)],
        [(Invert, 0.6, 0), (Equalize, 1.0, 0)],
        [(Color, 0.6, 4), (Contrast, 1.0, 8)],
        [(Equalize, 0.8, 0), (Equalize, 0.6, 0)],
    ]
};

fn signed(range: Range, magnitude: f64, rng: &mut impl Rng) -> f64 {
    if matches!(range, Range::Signed(_)) && rng.gen_bool(0.5) {
        -magnitude
    } else {
        magnitude
    }
}

/// Augment `img` in place as `policy` says, drawing from `rng`.
pub fn apply(policy: &Policy, img: &mut RgbImage, rng: &mut impl Rng) {
    let (w, h) = img.dimensions();
    match *policy {
        Policy::None => {}
        Policy::TrivialAugmentWide => {
            let op = UNIFORM_OPS[rng.gen_range(0..UNIFORM_OPS.len())];
            let range = wide_space(op);
            let m = range.magnitude(rng.gen_range(0..BINS), BINS);
            apply_op(img, op, signed(range, m, rng));
        }
        Policy::RandAugment { ops, magnitude } => {
            let bin = (magnitude as usize).min(BINS - 1);
            for _ in 0..ops {
                let op = UNIFORM_OPS[rng.gen_range(0..UNIFORM_OPS.len())];
                let range = standard_space(op, w, h);
                apply_op(img, op, signed(range, range.magnitude(bin, BINS), rng));
            }
        }
        Policy::AutoAugmentImagenet => {
            let sub = IMAGENET_POLICY[rng.gen_range(0..IMAGENET_POLICY.len())];
            for (op, p, bin) in sub {
                if rng.gen::<f64>() <= p {
                    let range = standard_space(op, w, h);
                    apply_op(img, op, signed(range, range.magnitude(bin, AA_BINS), rng));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn photo() -> RgbImage {
        RgbImage::from_fn(32, 24, |x, y| {
            image::Rgb([
                (x * 7 + y) as u8,
                (y * 9 + 20) as u8,
                ((x * y) % 200 + 30) as u8,
            ])
        })
    }

    /// Digest of the outputs of `n` draws of `policy` from seed 7.
    fn run(policy: Policy, n: usize) -> (Vec<RgbImage>, usize) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let outs: Vec<RgbImage> = (0..n)
            .map(|_| {
                let mut img = photo();
                apply(&policy, &mut img, &mut rng);
                img
            })
            .collect();
        let changed = outs.iter().filter(|o| **o != photo()).count();
        (outs, changed)
    }

    #[test]
    fn magnitudes_match_torchvision_bins() {
        // torch.linspace(0, 0.99, 31)[30], the Posterize bits of TrivialAugmentWide and of
        // AutoAugment, Solarize's first and last threshold.
        assert!((Range::Signed(0.99).magnitude(30, BINS) - 0.99).abs() < 1e-12);
        let bits: Vec<f64> = (0..BINS)
            .step_by(5)
            .map(|i| Range::Bits(6.0).magnitude(i, BINS))
            .collect();
        assert_eq!(bits, [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0]);
        let aa: Vec<f64> = (0..AA_BINS)
            .map(|i| Range::Bits(4.0).magnitude(i, AA_BINS))
            .collect();
        assert_eq!(aa, [8.0, 8.0, 7.0, 7.0, 6.0, 6.0, 5.0, 5.0, 4.0, 4.0]);
        assert_eq!(Range::Plain(255.0, 0.0).magnitude(0, BINS), 255.0);
        assert_eq!(Range::Plain(255.0, 0.0).magnitude(30, BINS), 0.0);
        let t = standard_space(Op::TranslateX, 331, 10).magnitude(30, BINS);
        assert!((t - 150.0).abs() < 1e-9);
    }

    /// Each policy on seed 7: reproducible, changes most images, leaves the size alone;
    /// `none` changes nothing.
    #[test]
    fn each_policy_is_seeded_and_augments() {
        for policy in [
            Policy::TrivialAugmentWide,
            Policy::AutoAugmentImagenet,
            Policy::RandAugment {
                ops: 2,
                magnitude: 9,
            },
        ] {
            let (a, changed) = run(policy, 40);
            let (b, _) = run(policy, 40);
            assert_eq!(a, b, "{policy:?} is not reproducible from its seed");
            assert!(
                changed >= 24,
                "{policy:?} changed only {changed} of 40 images"
            );
            assert!(a.iter().all(|o| o.dimensions() == (32, 24)));
            let distinct: std::collections::HashSet<&[u8]> =
                a.iter().map(|o| o.as_raw().as_slice()).collect();
            assert!(
                distinct.len() >= 10,
                "{policy:?} gave only {} distinct images",
                distinct.len()
            );
        }
        let (_, changed) = run(Policy::None, 5);
        assert_eq!(changed, 0);
    }

    #[test]
    fn policies_read_as_users_write_them() {
        // Stage params reach the recipe as JSON.
        let p: Policy =
            serde_json::from_str(r#"{"rand_augment": {"ops": 2, "magnitude": 9}}"#).expect("ra");
        let ra = Policy::RandAugment {
            ops: 2,
            magnitude: 9,
        };
        assert_eq!(p, ra);
        let t: Policy = serde_json::from_str(r#""trivial_augment_wide""#).expect("ta");
        assert_eq!(t, Policy::TrivialAugmentWide);
        assert!(serde_json::from_str::<Policy>(r#""auto_augment_cifar""#).is_err());
    }
}
