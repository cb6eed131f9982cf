//! Payload bytes → dataset pixels: raster images are decoded, SVGs rendered with `resvg`.
//!
//! An SVG is rendered straight at the target resolution (resvg anti-aliases), scaled to fit
//! with its aspect ratio kept, centred, on white: rendering large and shrinking would cost
//! time for nothing at 32×32, and at paper resolutions the direct render is sharper anyway.

use super::dataset::Pixels;
use super::imagefolder::{bound_short_side, decode_bytes, ImportSize};
use super::imageops::{fit, Shape};
use resvg::{tiny_skia, usvg};

/// Render an SVG document into HWC bytes of `shape`.
pub fn render_svg(bytes: &[u8], shape: Shape) -> Result<Vec<u8>, String> {
    let opts = usvg::Options::default();
    let tree = usvg::Tree::from_data(bytes, &opts).map_err(|e| format!("invalid SVG: {e}"))?;
    let size = tree.size();
    let (sw, sh) = (size.width(), size.height());
    if sw <= 0.0 || sh <= 0.0 {
        return Err("SVG has an empty canvas".into());
    }
    let (w, h) = (shape.width, shape.height);
    let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or("zero-sized target")?;
    let scale = (w as f32 / sw).min(h as f32 / sh);
    let (dx, dy) = ((w as f32 - sw * scale) / 2.0, (h as f32 - sh * scale) / 2.0);
    let transform = tiny_skia::Transform::from_row(scale, 0.0, 0.0, scale, dx, dy);
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    // Premultiplied RGBA over white: out = c + (255 - a).
    let data = pixmap.data();
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    let mut blank = true;
    for px in data.chunks_exact(4) {
        let a = 255 - px[3];
        for c in &px[..3] {
            rgb.push(c.saturating_add(a));
        }
        blank &= px[3] == 0;
    }
    if blank {
        return Err("SVG renders to nothing at this size".into());
    }
    Ok(match shape.channels {
        1 => rgb
            .chunks_exact(3)
            .map(|p| {
                ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000)
                    as u8
            })
            .collect(),
        _ => rgb,
    })
}

/// Decode (or render) one pool payload by its extension.
pub fn payload_pixels(ext: &str, bytes: &[u8], shape: Shape) -> Result<Vec<u8>, String> {
    match ext {
        "svg" => render_svg(bytes, shape),
        _ => {
            let img = image::load_from_memory(bytes)
                .map_err(|e| format!("undecodable {ext} image: {e}"))?;
            Ok(fit(&img, shape))
        }
    }
}

/// Decode (or render) one pool payload sized as `size`: squashed to a fixed shape, or at its
/// own aspect ratio with the shorter side bounded (an SVG, having no pixel size, is rendered
/// into a `short_side` square, fitted and centred).
pub fn payload_image(ext: &str, bytes: &[u8], size: ImportSize) -> Result<Pixels, String> {
    let shape = match size {
        ImportSize::Fixed(shape) => shape,
        ImportSize::ShortSide {
            short_side,
            channels,
            ..
        } if ext != "svg" => {
            let px = decode_bytes(bytes, channels)
                .map_err(|e| format!("undecodable {ext} image: {e}"))?;
            return Ok(bound_short_side(px, short_side));
        }
        ImportSize::ShortSide {
            short_side,
            channels,
            ..
        } => Shape::new(short_side, short_side, channels),
    };
    Ok(Pixels {
        height: shape.height,
        width: shape.width,
        channels: shape.channels,
        data: payload_pixels(ext, bytes, shape)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_centred_black_square_on_white() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10" viewBox="0 0 20 10"><rect x="5" y="0" width="10" height="10" fill="currentColor"/></svg>"#;
        let px = render_svg(svg, Shape::new(8, 8, 3)).expect("render");
        assert_eq!(px.len(), 8 * 8 * 3);
        let at = |x: usize, y: usize| px[(y * 8 + x) * 3];
        assert_eq!(at(0, 4), 255, "left margin is white");
        assert_eq!(at(4, 4), 0, "centre is black");
        assert_eq!(at(4, 0), 255, "letterboxed top is white");
        assert!(render_svg(b"<svg", Shape::new(8, 8, 3)).is_err());
    }

    #[test]
    fn short_side_keeps_aspect_and_fixed_squashes() {
        let img = image::RgbImage::from_pixel(40, 20, image::Rgb([200, 10, 10]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        let size = ImportSize::ShortSide {
            short_side: 16,
            channels: 3,
            storage: crate::data::dataset::Storage::Raw,
        };
        let px = payload_image("png", &png, size).expect("decode");
        assert_eq!((px.height, px.width, px.data.len()), (16, 32, 16 * 32 * 3));
        let fixed = payload_image("png", &png, ImportSize::Fixed(Shape::new(8, 8, 3)));
        let fixed = fixed.expect("decode");
        assert_eq!((fixed.height, fixed.width), (8, 8));
        assert_eq!(
            fixed.data,
            payload_pixels("png", &png, Shape::new(8, 8, 3)).expect("same path")
        );
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10"/></svg>"#;
        let px = payload_image("svg", svg, size).expect("render");
        assert_eq!((px.height, px.width), (16, 16));
    }
}
