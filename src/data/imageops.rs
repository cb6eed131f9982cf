//! Pixels into the dataset format: decode, convert channels, resize to the profile's resolution.
//!
//! Every importer ends here, so every dataset is resized the same way: a Triangle (bilinear)
//! filter when shrinking or growing, after converting to the target channel count. Images with
//! alpha are composited on white first, because clip art and icons are drawn on a transparent
//! canvas and a black background would make every class look alike.

use image::{imageops::FilterType, DynamicImage, GrayImage, RgbImage, RgbaImage};

/// Target shape of one dataset image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub height: u32,
    pub width: u32,
    /// 1 (gray) or 3 (RGB).
    pub channels: u32,
}

impl Shape {
    pub fn new(height: u32, width: u32, channels: u32) -> Shape {
        Shape {
            height,
            width,
            channels,
        }
    }
    pub fn bytes(&self) -> usize {
        (self.height * self.width * self.channels) as usize
    }
    pub fn tuple(&self) -> (u32, u32, u32) {
        (self.height, self.width, self.channels)
    }
}

/// Composite RGBA over white.
pub fn flatten_on_white(img: &RgbaImage) -> RgbImage {
    let mut out = RgbImage::new(img.width(), img.height());
    for (o, p) in out.pixels_mut().zip(img.pixels()) {
        let a = u32::from(p[3]);
        for c in 0..3 {
            o[c] = ((u32::from(p[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// Any decoded image → HWC uint8 bytes of `shape`.
pub fn fit(img: &DynamicImage, shape: Shape) -> Vec<u8> {
    let (w, h) = (shape.width, shape.height);
    match shape.channels {
        1 => {
            let g: GrayImage = if img.color().has_alpha() {
                DynamicImage::ImageRgb8(flatten_on_white(&img.to_rgba8())).to_luma8()
            } else {
                img.to_luma8()
            };
            resize_gray(&g, h, w).into_raw()
        }
        _ => {
            let rgb = if img.color().has_alpha() {
                flatten_on_white(&img.to_rgba8())
            } else {
                img.to_rgb8()
            };
            if rgb.width() == w && rgb.height() == h {
                rgb.into_raw()
            } else {
                image::imageops::resize(&rgb, w, h, FilterType::Triangle).into_raw()
            }
        }
    }
}

/// Gray bytes (h × w) → HWC bytes of `shape` (gray replicated to RGB when asked).
pub fn fit_gray_raw(pixels: &[u8], src_h: u32, src_w: u32, shape: Shape) -> Vec<u8> {
    let g = GrayImage::from_raw(src_w, src_h, pixels.to_vec()).expect("caller passes h*w bytes");
    let g = resize_gray(&g, shape.height, shape.width);
    if shape.channels == 1 {
        g.into_raw()
    } else {
        g.into_raw().iter().flat_map(|&v| [v, v, v]).collect()
    }
}

fn resize_gray(g: &GrayImage, h: u32, w: u32) -> GrayImage {
    if g.width() == w && g.height() == h {
        g.clone()
    } else {
        image::imageops::resize(g, w, h, FilterType::Triangle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transparent_becomes_white_and_sizes_match() {
        let img = DynamicImage::ImageRgba8(RgbaImage::from_pixel(10, 6, image::Rgba([0, 0, 0, 0])));
        let out = fit(&img, Shape::new(4, 4, 3));
        assert_eq!(out.len(), 48);
        assert!(out.iter().all(|&v| v == 255));
        let gray = fit_gray_raw(&[0, 255, 0, 255], 2, 2, Shape::new(2, 2, 3));
        assert_eq!(gray, vec![0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]);
    }
}
