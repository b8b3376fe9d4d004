//! imgstats core: decoding, per-image statistics, perceptual hashes and the near-duplicate index.
//!
//! Pure Rust: `cargo test` checks everything here without Python. The PyO3 binding lives in
//! `src/python/` behind the `python` feature and is the only code that knows about Python.

pub mod columns;
mod cpu;
pub mod decode;
pub mod error;
pub mod hash;
pub mod neighbors;
pub mod planes;
pub mod resize;
pub mod scan;
pub mod stats;

#[cfg(feature = "python")]
mod python;
