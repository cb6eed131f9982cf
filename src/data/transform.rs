//! Per-sample image transforms with torchvision's semantics, on the loader's worker threads.
//!
//! - Training: `RandomResizedCrop(crop, scale, ratio, interpolation)` then
//!   `RandomHorizontalFlip()`, parameters drawn exactly as torchvision's `get_params` draws
//!   them (ten tries, then the central fallback), crop taken before resizing as torchvision does.
//! - Evaluation: `Resize(resize)` of the shorter side (the longer one truncated as torchvision
//!   computes it) then `CenterCrop(crop)`.
//! - The CIFAR recipe's pad-and-crop, kept for the small fixed-size datasets.
//!
//! Resizing is fast_image_resize's SIMD convolution, whose filters are Pillow's: bilinear and
//! bicubic (Catmull-Rom, a = −0.5) with the kernel widened when shrinking, which is what
//! torchvision computes on PIL images and on tensors with `antialias=True`.

use super::augment::{self, Policy};
use super::dataset::Pixels;
use fast_image_resize as fr;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    #[default]
    Bilinear,
    Bicubic,
}

impl Interpolation {
    fn filter(self) -> fr::FilterType {
        match self {
            Interpolation::Bilinear => fr::FilterType::Bilinear,
            Interpolation::Bicubic => fr::FilterType::CatmullRom,
        }
    }
}

/// torchvision's `RandomResizedCrop(crop, scale, ratio, interpolation)` + optional
/// `RandomHorizontalFlip(0.5)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainTransform {
    /// Output side (square).
    pub crop: u32,
    /// Fraction of the image's area: torchvision's default (0.08, 1.0).
    pub scale: (f64, f64),
    /// Aspect ratio range (width / height): torchvision's default (3/4, 4/3).
    pub ratio: (f64, f64),
    #[serde(default)]
    pub interpolation: Interpolation,
    pub hflip: bool,
    /// AutoAugment / RandAugment / TrivialAugmentWide after the flip (RGB images only).
    #[serde(default)]
    pub policy: Policy,
}

impl TrainTransform {
    /// torchvision's defaults at `crop` px, bilinear, with flips.
    pub fn imagenet(crop: u32) -> TrainTransform {
        TrainTransform {
            crop,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            interpolation: Interpolation::Bilinear,
            hflip: true,
            policy: Policy::None,
        }
    }
}

/// torchvision's evaluation preset: `Resize(resize)` (shorter side) → `CenterCrop(crop)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalTransform {
    pub resize: u32,
    pub crop: u32,
    #[serde(default)]
    pub interpolation: Interpolation,
}

impl EvalTransform {
    /// The ImageNet convention `resize = crop / 0.875` (256 → 224), bilinear.
    pub fn imagenet(crop: u32) -> EvalTransform {
        EvalTransform {
            resize: (f64::from(crop) / 0.875).round() as u32,
            crop,
            interpolation: Interpolation::Bilinear,
        }
    }
}

/// What the loader does to each example.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Transform {
    Train(TrainTransform),
    Eval(EvalTransform),
    /// Resize to `size × size` if needed, zero-pad by `padding`, take a random `size` crop,
    /// optionally flip (the CIFAR recipe, for small fixed-size datasets).
    PadCrop {
        size: u32,
        padding: u32,
        hflip: bool,
    },
}

impl Transform {
    /// Side of the square images this transform outputs.
    pub fn out_size(&self) -> u32 {
        match self {
            Transform::Train(t) => t.crop,
            Transform::Eval(t) => t.crop,
            Transform::PadCrop { size, .. } => *size,
        }
    }

    /// Transform one example; `rng` is the example's own (seeded by the loader).
    pub fn apply(&self, src: &Pixels, rng: &mut ChaCha8Rng) -> Pixels {
        match self {
            Transform::Train(t) => train_sample(src, t, rng),
            Transform::Eval(t) => eval_sample(src, t),
            Transform::PadCrop {
                size,
                padding,
                hflip,
            } => {
                let flip = *hflip && rng.gen_bool(0.5);
                let p = i64::from(*padding);
                let dx = rng.gen_range(0..=2 * p) - p;
                let dy = rng.gen_range(0..=2 * p) - p;
                let full = (0, 0, src.width, src.height);
                let base = if src.width == *size && src.height == *size {
                    src.clone()
                } else {
                    resize_region(src, full, (*size, *size), Interpolation::Bilinear)
                };
                shift(&base, dx, dy, flip)
            }
        }
    }
}

/// The whole training transform of one example: random-resized crop, flip, then the
/// augmentation policy (torchvision's order; gray images skip the policy, whose ops are RGB).
pub fn train_sample(src: &Pixels, t: &TrainTransform, rng: &mut ChaCha8Rng) -> Pixels {
    let rect = random_resized_rect(rng, src.width, src.height, t.scale, t.ratio);
    let mut out = resize_region(src, rect, (t.crop, t.crop), t.interpolation);
    if t.hflip && rng.gen_bool(0.5) {
        hflip(&mut out);
    }
    if t.policy != Policy::None && out.channels == 3 {
        let (w, h) = (out.width, out.height);
        if let Some(mut img) = image::RgbImage::from_raw(w, h, std::mem::take(&mut out.data)) {
            augment::apply(&t.policy, &mut img, rng);
            out.data = img.into_raw();
        }
    }
    out
}

/// `Resize(resize)` of the shorter side, then `CenterCrop(crop)`, as torchvision computes them.
pub fn eval_sample(src: &Pixels, t: &EvalTransform) -> Pixels {
    let (w, h) = (src.width, src.height);
    let (short, long) = (w.min(h), w.max(h));
    // torchvision: new_long = int(size * long / short), i.e. truncated.
    let new_long = (u64::from(t.resize) * u64::from(long) / u64::from(short.max(1))) as u32;
    let (nw, nh) = if w <= h {
        (t.resize, new_long)
    } else {
        (new_long, t.resize)
    };
    let resized = if (nw, nh) == (w, h) {
        src.clone()
    } else {
        resize_region(src, (0, 0, w, h), (nw, nh), t.interpolation)
    };
    center_crop(&resized, t.crop)
}

/// torchvision's `CenterCrop`: offsets `int(round((side - crop) / 2))` (Python rounds half to
/// even), zero padding where the image is smaller than the crop.
pub fn center_crop(src: &Pixels, crop: u32) -> Pixels {
    let offset = |side: u32| -> i64 {
        let d = (f64::from(side) - f64::from(crop)) / 2.0;
        d.round_ties_even() as i64
    };
    let (left, top) = (offset(src.width), offset(src.height));
    let c = src.channels as usize;
    let mut out = vec![0u8; (crop * crop) as usize * c];
    for y in 0..crop as i64 {
        let sy = y + top;
        if sy < 0 || sy >= i64::from(src.height) {
            continue;
        }
        for x in 0..crop as i64 {
            let sx = x + left;
            if sx < 0 || sx >= i64::from(src.width) {
                continue;
            }
            let o = (y as usize * crop as usize + x as usize) * c;
            let i = (sy as usize * src.width as usize + sx as usize) * c;
            out[o..o + c].copy_from_slice(&src.data[i..i + c]);
        }
    }
    Pixels {
        height: crop,
        width: crop,
        channels: src.channels,
        data: out,
    }
}

/// torchvision's `RandomResizedCrop.get_params`: (left, top, width, height) in pixels.
pub fn random_resized_rect(
    rng: &mut ChaCha8Rng,
    width: u32,
    height: u32,
    scale: (f64, f64),
    ratio: (f64, f64),
) -> (u32, u32, u32, u32) {
    let area = f64::from(width) * f64::from(height);
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    let (s0, s1) = (scale.0.min(scale.1), scale.1);
    for _ in 0..10 {
        let target = area * rng.gen_range(s0..=s1);
        let aspect = rng.gen_range(lr0.min(lr1)..=lr1.max(lr0)).exp();
        let w = (target * aspect).sqrt().round() as i64;
        let h = (target / aspect).sqrt().round() as i64;
        if 0 < w && w <= i64::from(width) && 0 < h && h <= i64::from(height) {
            let top = rng.gen_range(0..=(i64::from(height) - h)) as u32;
            let left = rng.gen_range(0..=(i64::from(width) - w)) as u32;
            return (left, top, w as u32, h as u32);
        }
    }
    // Central fallback, clamping the aspect ratio to the range.
    let in_ratio = f64::from(width) / f64::from(height);
    let (w, h) = if in_ratio < ratio.0.min(ratio.1) {
        let w = width;
        (
            w,
            ((f64::from(w) / ratio.0.min(ratio.1)).round() as u32).min(height),
        )
    } else if in_ratio > ratio.0.max(ratio.1) {
        let h = height;
        (
            ((f64::from(h) * ratio.0.max(ratio.1)).round() as u32).min(width),
            h,
        )
    } else {
        (width, height)
    };
    ((width - w) / 2, (height - h) / 2, w.max(1), h.max(1))
}

thread_local! {
    /// One resizer per thread keeps its scratch buffers between images.
    static RESIZER: RefCell<fr::Resizer> = RefCell::new(fr::Resizer::new());
}

/// Crop `rect` (left, top, width, height) out of `src` and resize it to `(width, height)`. The
/// filter sees only the crop, as after torchvision's `crop` then `resize`.
pub fn resize_region(
    src: &Pixels,
    rect: (u32, u32, u32, u32),
    (out_w, out_h): (u32, u32),
    interpolation: Interpolation,
) -> Pixels {
    let pt = if src.channels == 1 {
        fr::PixelType::U8
    } else {
        fr::PixelType::U8x3
    };
    let (left, top, w, h) = rect;
    let full = fr::images::ImageRef::new(src.width, src.height, &src.data, pt)
        .expect("Pixels hold height × width × channels bytes");
    let view = fr::images::CroppedImage::new(&full, left, top, w, h)
        .expect("crop rectangles are drawn inside the image");
    let mut dst = fr::images::Image::new(out_w, out_h, pt);
    let options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(interpolation.filter()));
    RESIZER.with(|r| {
        r.borrow_mut()
            .resize(&view, &mut dst, &options)
            .expect("same pixel type on both sides")
    });
    Pixels {
        height: out_h,
        width: out_w,
        channels: src.channels,
        data: dst.into_vec(),
    }
}

/// Mirror left–right in place.
pub fn hflip(px: &mut Pixels) {
    let c = px.channels as usize;
    let row = px.width as usize * c;
    for line in px.data.chunks_exact_mut(row) {
        let w = px.width as usize;
        for x in 0..w / 2 {
            for k in 0..c {
                line.swap(x * c + k, (w - 1 - x) * c + k);
            }
        }
    }
}

/// Translate by (dx, dy) with zero fill (= pad then crop), optionally mirrored.
fn shift(src: &Pixels, dx: i64, dy: i64, flip: bool) -> Pixels {
    let (h, w, c) = (
        i64::from(src.height),
        i64::from(src.width),
        src.channels as usize,
    );
    let mut dst = vec![0u8; src.data.len()];
    for y in 0..h {
        let sy = y + dy;
        for x in 0..w {
            let sx0 = x + dx;
            if sy < 0 || sy >= h || sx0 < 0 || sx0 >= w {
                continue;
            }
            let sx = if flip { w - 1 - sx0 } else { sx0 };
            let o = ((y * w + x) as usize) * c;
            let i = ((sy * w + sx) as usize) * c;
            dst[o..o + c].copy_from_slice(&src.data[i..i + c]);
        }
    }
    Pixels { data: dst, ..*src }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn gray(w: u32, h: u32, data: Vec<u8>) -> Pixels {
        Pixels {
            height: h,
            width: w,
            channels: 1,
            data,
        }
    }

    #[test]
    fn shift_zero_fills_and_flip_mirrors() {
        let img = gray(3, 3, (1..=9).collect());
        assert_eq!(shift(&img, 1, 0, false).data, [2, 3, 0, 5, 6, 0, 8, 9, 0]);
        assert_eq!(shift(&img, 0, 0, true).data, [3, 2, 1, 6, 5, 4, 9, 8, 7]);
        let mut f = img.clone();
        hflip(&mut f);
        assert_eq!(f.data, [3, 2, 1, 6, 5, 4, 9, 8, 7]);
    }

    #[test]
    fn resized_crop_stays_inside_and_covers_torchvision_ranges() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut min_frac, mut max_frac) = (1.0f64, 0.0f64);
        for _ in 0..2000 {
            let (x, y, w, h) =
                random_resized_rect(&mut rng, 320, 240, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0));
            assert!(x + w <= 320 && y + h <= 240 && w >= 1 && h >= 1);
            let frac = f64::from(w * h) / (320.0 * 240.0);
            min_frac = min_frac.min(frac);
            max_frac = max_frac.max(frac);
        }
        assert!(min_frac < 0.1 && max_frac > 0.9, "{min_frac} {max_frac}");
        // A 10:1 strip never fits the ratio range: the fallback keeps the whole height.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let r = random_resized_rect(&mut rng, 1000, 100, (0.99, 1.0), (3.0 / 4.0, 4.0 / 3.0));
        assert_eq!(r, (433, 0, 133, 100));
    }

    #[test]
    fn eval_resizes_the_shorter_side_then_center_crops() {
        let src = gray(64, 48, (0..64 * 48).map(|i| (i % 251) as u8).collect());
        let t = EvalTransform {
            resize: 36,
            crop: 32,
            interpolation: Interpolation::Bilinear,
        };
        let out = eval_sample(&src, &t);
        assert_eq!((out.width, out.height, out.data.len()), (32, 32, 1024));
        // Same size in, no resize: a pure center crop with torchvision's offsets (8, 8).
        let same = EvalTransform {
            resize: 48,
            crop: 32,
            interpolation: Interpolation::Bilinear,
        };
        let out = eval_sample(&src, &same);
        assert_eq!(out.data[0], src.data[8 * 64 + 16]);
    }

    /// The synthetic image of scripts/eval-transform-reference.py.
    fn synthetic() -> Pixels {
        let (w, h) = (67u32, 50u32);
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    data.push(((x * 3 + y * 2 + c * 40 + ((x * y) >> 3)) % 256) as u8);
                }
            }
        }
        Pixels {
            height: h,
            width: w,
            channels: 3,
            data,
        }
    }

    #[test]
    fn eval_transform_matches_torchvision() {
        // Pillow and fast_image_resize share the filters and round their fixed-point sums
        // differently. Bilinear: at most 2 levels on any byte. Bicubic: the synthetic image's
        // 255 → 0 wraps make the kernel ring, and the two clip the overshoot at different
        // points, so a few bytes differ by more (7 measured): at most 8, and at most 2% of
        // the bytes by more than 2. Both: 0.25 levels on average.
        for (interpolation, fixture, max_diff) in [
            (
                Interpolation::Bilinear,
                &include_bytes!("../../tests/data/eval_transform_bilinear.bin")[..],
                2,
            ),
            (
                Interpolation::Bicubic,
                &include_bytes!("../../tests/data/eval_transform_bicubic.bin")[..],
                8,
            ),
        ] {
            let t = EvalTransform {
                resize: 36,
                crop: 32,
                interpolation,
            };
            let out = eval_sample(&synthetic(), &t);
            assert_eq!(out.data.len(), fixture.len());
            let diffs: Vec<u32> = out
                .data
                .iter()
                .zip(fixture)
                .map(|(&a, &b)| u32::from(a.abs_diff(b)))
                .collect();
            let max = diffs.iter().copied().max().unwrap_or(0);
            let mean = f64::from(diffs.iter().sum::<u32>()) / diffs.len() as f64;
            let over = diffs.iter().filter(|&&d| d > 2).count() as f64 / diffs.len() as f64;
            eprintln!("{interpolation:?}: max diff {max}, mean {mean:.3}, >2 on {over:.4}");
            assert!(
                max <= max_diff && mean <= 0.25 && over <= 0.02,
                "{interpolation:?}: max diff {max}, mean {mean:.3}, >2 on {over:.4}"
            );
        }
    }

    #[test]
    fn bigger_crop_than_image_pads_with_zeros() {
        let src = gray(2, 2, vec![9; 4]);
        let out = center_crop(&src, 4);
        assert_eq!(out.data, [0, 0, 0, 0, 0, 9, 9, 0, 0, 9, 9, 0, 0, 0, 0, 0]);
    }
}
