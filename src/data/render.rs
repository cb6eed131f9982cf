//! Payload bytes → dataset pixels: raster images are decoded, SVGs rendered with `resvg`.
//!
//! An SVG is rendered straight at the target resolution (resvg anti-aliases), scaled to fit
//! with its aspect ratio kept, centred, on white: rendering large and shrinking would cost
//! time for nothing at 32×32, and at paper resolutions the direct render is sharper anyway.

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
}
