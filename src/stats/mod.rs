//! Per-image statistics on 8-bit planes. Each function is one pass with integer accumulators;
//! definitions follow the references users check against (OpenCV, Immerkær 1996, Hasler–Süsstrunk).
//!
//! One file per family of statistics, each computed from a plane the scan prepared (see
//! `scan/plan.rs` for which plane at which scale):
//! - `histogram.rs`: brightness, contrast, dark/bright fractions, entropy (luma histogram),
//! - `laplacian.rs`: blur, sharpness, noise (second derivatives of luma),
//! - `color.rs`: colorfulness, is_grayscale (interleaved RGB),
//! - `atmosphere.rs` (with `min_filter.rs`): haze and airlight (dark channel prior),
//! - `illuminant.rs`: saturation, warmth, tint (HSV / CIELAB on RGB),
//! - `motion.rs`: motion_blur, blur_angle (structure tensors of fine vs coarse detail),
//! - `color_signature.rs`: color_signature (2×2 cells of opponent chroma as a unary `u64` code).

pub mod atmosphere;
mod color;
pub mod color_signature;
mod histogram;
pub mod illuminant;
mod laplacian;
pub mod min_filter;
pub mod motion;

pub use color::{ColorStats, ColorSums, GRAY_MAX_COLORED_SHARE, GRAY_SPREAD, color_stats};
pub use histogram::{BRIGHT_LEVEL, DARK_LEVEL, LumaStats, histogram, luma_stats};
pub use laplacian::{
    DerivativeSums, border_sums, immerkaer_sigma, interior_sums, laplacian_variance,
    second_derivatives,
};
