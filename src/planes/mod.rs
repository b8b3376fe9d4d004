//! Pixel planes: what a decode hands to the statistics. An 8-bit luma plane always, interleaved
//! RGB when a colour metric asked for it; alpha already composited, 16-bit samples already scaled.
//!
//! - [`luma`]: Pillow's `convert("L")` and 16-bit scaling,
//! - [`composite`]: transparent pixels over a background that keeps the picture visible,
//! - [`orient`]: EXIF orientation (the planes are stored as decoded, not as displayed),
//! - [`ycbcr`]: a JPEG's Y/Cb/Cr planes and libjpeg-turbo's exact RGB and luma made from them,
//! - [`buffers`]: large per-image buffers reused from image to image on a worker thread.

pub mod buffers;
mod composite;
#[cfg(target_arch = "x86_64")]
mod composite_avx2;
mod luma;
mod orient;
mod ycbcr;
#[cfg(target_arch = "x86_64")]
mod ycc_avx2;

#[cfg(test)]
pub use composite::rgba_composite_slice;
pub use composite::{luma_alpha_composite, rgba_background, rgba_over};
pub use luma::{luma_and_color_sums, luma_from_rgb, luma_from_rgb_into, scale16};
pub use orient::{orient_l8, source_pixel};
pub use ycbcr::YCbCr;

/// Decoded pixels at the scale the scan asked for: an 8-bit luma plane, plus interleaved RGB when a
/// colour metric needs it. Alpha is already composited and 16-bit samples already scaled.
#[derive(Debug, Clone, Default)]
pub struct Pixels {
    pub width: usize,
    pub height: usize,
    pub luma: Vec<u8>,
    pub rgb: Option<Vec<u8>>,
    /// A full-size YCbCr JPEG decoded to its planes instead of `rgb` (which is then `None`):
    /// consumers of colour stream libjpeg's exact RGB rows from it (`YCbCr::for_each_rgb_row`).
    pub ycbcr: Option<YCbCr>,
}
