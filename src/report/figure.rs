//! Drawing a figure once and writing it twice: `figure.svg` (vector, text as text) and
//! `figure.png` (raster, text rasterised with DejaVu Sans loaded at run time).
//!
//! plotters draws text through `ab_glyph`, which needs a font registered before the first
//! label — in SVG output too, because label placement measures text. The font is read from
//! `REPRO_FONT` or Debian's `fonts-dejavu-core` path, once per process.

use super::ReportError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where Debian's `fonts-dejavu-core` puts DejaVu Sans.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// The family name figures use for all text.
pub const FAMILY: &str = "sans-serif";

/// Ten distinguishable colours (the "tab10" palette), one per series.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A figure that can draw itself on any plotters backend.
pub trait Figure {
    /// Width and height in pixels (PNG) and user units (SVG).
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Turn any plotters error into the message of a [`ReportError::Draw`].
pub fn msg<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Register the font for plotters' text (first call only); a clear error when it is missing.
pub fn ensure_font() -> Result<(), ReportError> {
    static LOADED: OnceLock<Result<(), (PathBuf, String)>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = std::env::var_os("REPRO_FONT")
                .map_or_else(|| PathBuf::from(DEFAULT_FONT), PathBuf::from);
            let bytes = std::fs::read(&path).map_err(|e| (path.clone(), e.to_string()))?;
            // plotters keeps the font for the life of the process: leak it once, deliberately.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
                .map_err(|_| (path.clone(), "not a TrueType font".to_string()))?;
            Ok(())
        })
        .clone()
        .map_err(|(path, msg)| ReportError::Font { path, msg })
}

/// Draw `fig` into `dir/figure.svg` and `dir/figure.png`.
pub fn render_figure<F: Figure>(fig: &F, dir: &Path) -> Result<(), ReportError> {
    ensure_font()?;
    let size = fig.size();
    let draw_err = |what: &Path| {
        let what = what.display().to_string();
        move |msg: String| ReportError::Draw { what, msg }
    };
    let svg = dir.join("figure.svg");
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        fig.draw(&root).map_err(draw_err(&svg))?;
        root.present().map_err(msg).map_err(draw_err(&svg))?;
    }
    fix_embedded_png(&svg)?;
    let png = dir.join("figure.png");
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        fig.draw(&root).map_err(draw_err(&png))?;
        root.present().map_err(msg).map_err(draw_err(&png))?;
    }
    Ok(())
}

/// plotters-svg embeds bitmaps as `data:png;base64,…`, which is not a MIME type; browsers
/// want `data:image/png;base64,…`.
fn fix_embedded_png(svg: &Path) -> Result<(), ReportError> {
    let text = std::fs::read_to_string(svg).map_err(super::io_err(svg))?;
    if text.contains("\"data:png;base64,") {
        let fixed = text.replace("\"data:png;base64,", "\"data:image/png;base64,");
        std::fs::write(svg, fixed).map_err(super::io_err(svg))?;
    }
    Ok(())
}

/// A text style in the figures' family.
pub fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

/// Write `labels` centred at backend pixel positions (from `ChartContext::backend_coord`),
/// alternating between two rows so that long model names do not collide: the ab_glyph text
/// path cannot rotate text in PNG output.
pub fn staggered_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[(String, (i32, i32))],
    size: f64,
) -> Result<(), String> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let (bx, by) = area.get_base_pixel();
    let style = font(size).pos(Pos::new(HPos::Center, VPos::Top));
    let row = (size * 1.3) as i32;
    for (i, (label, (x, y))) in labels.iter().enumerate() {
        let at = (x - bx, y - by + 6 + (i as i32 % 2) * row);
        area.draw(&Text::new(label.clone(), at, style.clone()))
            .map_err(msg)?;
    }
    Ok(())
}
