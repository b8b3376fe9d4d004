//! imgstats core: per-image statistics, perceptual hashes and the near-duplicate index for image
//! datasets. Pure Rust: `cargo test` checks everything here without Python; the PyO3 binding
//! (`src/python/`, behind the `python` feature) is the only code that knows about Python.
//!
//! The pipeline, one folder per stage (see ARCHITECTURE.md):
//!
//! ```text
//! scan/read.rs   bytes ──► decode/      header (no pixels) ──► plan: smallest decode the
//!                          (jpeg, webp,  metrics allow ──► one decode ──► planes/ (luma, RGB,
//!                          image_crate)  alpha composited; orientation)
//!   ──► resize/   (Pillow LANCZOS, box, area) ──► stats/ (histogram, laplacian, color)
//!                                              ──► hash/   (pHash/dHash/aHash, pixel hash)
//!   ──► scan/     (metric table, per-image flow, parallel loop) ──► columns.rs (Arrow batch)
//!   ──► neighbors/ (Hamming index over the hashes: pairs, groups, nearest)
//! ```
//!
//! `cpu.rs` picks the SIMD level once for every kernel; `pool.rs` holds the shared worker pools.

mod columns;
mod cpu;
mod decode;
mod error;
mod hash;
pub mod neighbors;
mod planes;
mod pool;
mod resize;
mod scan;
pub mod stats;
#[cfg(test)]
mod test_support;
pub mod walk;

#[cfg(feature = "python")]
mod python;

pub use columns::{ArrowColumn, record_batch};
pub use cpu::{Level as SimdLevel, level as simd_level};
pub use decode::{DecodeRequest, Decoded, ExifInfo, Header, decode, probe, probe_and_decode};
pub use error::{ImageError, Result};
pub use hash::{
    CropSegment, ahash, crop_resistant_hash, crop_resistant_segments, dhash, hashes, phash,
    pixel_hash,
};
pub use planes::{Pixels, YCbCr, luma_from_rgb};
pub use pool::with_threads;
pub use resize::{
    fit_long_side, reduce_box_l8, resize_area_l8, resize_area_rgb8, resize_lanczos_l8,
};
// The streamed 512-px colour plane, for `benches/small_files.rs --per-mp`.
pub use resize::AreaRgbStream;
pub use scan::{
    DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_PIXELS, HASH_MIN_SIDE, METRIC_NAMES, Metrics,
    OPT_IN_METRICS, Options, Record, SHARPNESS_LONG_SIDE, Source, UnixMicros, scan_many, scan_one,
};
