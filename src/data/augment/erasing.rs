//! Random erasing (Zhong et al. 2017, torchvision's `RandomErasing`): with probability `p`, a
//! rectangle of random area and aspect ratio of the normalised image is overwritten with 0 or
//! with standard-normal noise. torchvision's reference training runs it last, on the normalised
//! CHW tensor, so it works on that layout here.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// What an erased rectangle is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EraseValue {
    /// 0 on the normalised image (the dataset mean), torchvision's default.
    Zero,
    /// Independent standard-normal values per element (`value="random"`).
    Random,
}

/// torchvision's `RandomErasing(p, scale, ratio, value)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomErasing {
    pub p: f64,
    /// Erased area as a fraction of the image.
    pub scale: (f64, f64),
    /// Aspect ratio (height / width) range, drawn log-uniformly.
    pub ratio: (f64, f64),
    pub value: EraseValue,
}

impl Default for RandomErasing {
    fn default() -> Self {
        RandomErasing {
            p: 0.5,
            scale: (0.02, 0.33),
            ratio: (0.3, 3.3),
            value: EraseValue::Zero,
        }
    }
}

impl RandomErasing {
    /// `p` with torchvision's other defaults (the recipes' `--random-erase p`).
    pub fn with_p(p: f64) -> Self {
        RandomErasing {
            p,
            ..Default::default()
        }
    }
}

/// An erased rectangle: `(top, left, height, width)`.
pub type Rect = (usize, usize, usize, usize);

/// torchvision's `RandomErasing.get_params` after the coin: up to 10 tries at a random area and
/// log-uniform aspect ratio; `None` when the coin says no or no try fits in `h × w`.
pub fn draw(cfg: &RandomErasing, (h, w): (usize, usize), rng: &mut impl Rng) -> Option<Rect> {
    if rng.gen::<f64>() >= cfg.p {
        return None;
    }
    let area = (h * w) as f64;
    let (lo, hi) = (cfg.ratio.0.ln(), cfg.ratio.1.ln());
    for _ in 0..10 {
        let erase = area * rng.gen_range(cfg.scale.0..=cfg.scale.1);
        let aspect = rng.gen_range(lo..=hi).exp();
        // Python's round() rounds half to even.
        let eh = (erase * aspect).sqrt().round_ties_even() as usize;
        let ew = (erase / aspect).sqrt().round_ties_even() as usize;
        if !(eh < h && ew < w) {
            continue;
        }
        let top = rng.gen_range(0..=h - eh);
        let left = rng.gen_range(0..=w - ew);
        return Some((top, left, eh, ew));
    }
    None
}

/// Erase one rectangle of the `c × h × w` image `chw` as `cfg` says; returns the rectangle
/// when one was erased.
pub fn random_erasing(
    cfg: &RandomErasing,
    chw: &mut [f32],
    (c, h, w): (usize, usize, usize),
    rng: &mut impl Rng,
) -> Option<Rect> {
    debug_assert_eq!(chw.len(), c * h * w);
    let (top, left, eh, ew) = draw(cfg, (h, w), rng)?;
    for ch in 0..c {
        for y in top..top + eh {
            let row = &mut chw[(ch * h + y) * w + left..][..ew];
            match cfg.value {
                EraseValue::Zero => row.fill(0.0),
                EraseValue::Random => row.iter_mut().for_each(|v| *v = normal(rng)),
            }
        }
    }
    Some((top, left, eh, ew))
}

/// A standard-normal draw (Box–Muller).
fn normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// On seed 3, over 2,000 draws of p = 0.5 on 3×40×50: about half erase; each erased
    /// rectangle is exactly the zeroed region, within torchvision's area and ratio bounds
    /// (up to rounding), the same in every channel.
    #[test]
    fn erases_a_bounded_rectangle_with_probability_p() {
        let (c, h, w) = (3, 40, 50);
        let cfg = RandomErasing::with_p(0.5);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut erased = 0;
        for _ in 0..2000 {
            let mut img = vec![1.0f32; c * h * w];
            let Some((top, left, eh, ew)) = random_erasing(&cfg, &mut img, (c, h, w), &mut rng)
            else {
                assert!(img.iter().all(|&v| v == 1.0));
                continue;
            };
            erased += 1;
            let frac = (eh * ew) as f64 / (h * w) as f64;
            assert!((0.01..=0.40).contains(&frac), "area fraction {frac}");
            let zeros = img.iter().filter(|&&v| v == 0.0).count();
            assert_eq!(zeros, c * eh * ew);
            for ch in 0..c {
                assert_eq!(img[(ch * h + top) * w + left], 0.0);
                assert_eq!(img[(ch * h + top + eh - 1) * w + left + ew - 1], 0.0);
            }
        }
        assert!(
            (900..=1100).contains(&erased),
            "{erased} of 2000 erased at p = 0.5"
        );
    }

    #[test]
    fn random_value_is_standard_normal() {
        let (c, h, w) = (3, 64, 64);
        let cfg = RandomErasing {
            p: 1.0,
            scale: (0.3, 0.33),
            ratio: (1.0, 1.0),
            value: EraseValue::Random,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut img = vec![f32::NAN; c * h * w];
        random_erasing(&cfg, &mut img, (c, h, w), &mut rng).expect("p = 1 erases");
        let v: Vec<f64> = img
            .iter()
            .filter(|x| !x.is_nan())
            .map(|&x| f64::from(x))
            .collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(
            v.len() > 3000 && mean.abs() < 0.05 && (var - 1.0).abs() < 0.08,
            "{mean} {var}"
        );
    }
}
