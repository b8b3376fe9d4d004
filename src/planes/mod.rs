//! Pixel planes: what a decode hands to the statistics. An 8-bit luma plane always, interleaved
//! RGB when a colour metric asked for it; alpha already composited, 16-bit samples already scaled.
//!
//! - [`luma`]: Pillow's `convert("L")` and 16-bit scaling,
//! - [`composite`]: transparent pixels over a background that keeps the picture visible,
//! - [`orient`]: EXIF orientation (the planes are stored as decoded, not as displayed).

mod composite;
mod luma;
mod orient;

pub use composite::{luma_alpha_composite, rgba_composite};
pub use luma::{luma_from_rgb, scale16};
pub use orient::{orient_l8, source_pixel};

/// Decoded pixels at the scale the scan asked for: an 8-bit luma plane, plus interleaved RGB when a
/// colour metric needs it. Alpha is already composited and 16-bit samples already scaled.
#[derive(Debug, Clone, Default)]
pub struct Pixels {
    pub width: usize,
    pub height: usize,
    pub luma: Vec<u8>,
    pub rgb: Option<Vec<u8>>,
}
