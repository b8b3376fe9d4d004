//! The scan: for each input, read the bytes once, probe the header, decode once at the smallest
//! scale the requested metrics allow, and compute every requested statistic from that decode.
//!
//! - `metrics.rs`: the metric table (every metric declared once; how to add one),
//! - `plan.rs`: the smallest decode for the requested metrics, and the per-image shared work,
//! - `read.rs`: reading a file safely,
//! - this file: options, the per-input flow and the parallel loop.

mod metrics;
mod plan;
mod read;

pub use metrics::{METRIC_NAMES, Metrics, OPT_IN_METRICS, Record, UnixMicros};

use crate::decode::{self, DecodeRequest, Header};
use crate::error::{ImageError, Result, panic_text};
use plan::{Image, reduction_for};
use rayon::prelude::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Hashes are computed on a plane whose short side is at least this: a 1/8 JPEG decode of a
/// camera photo, and exactly the original for small images (bit-equal to imagehash there).
pub const HASH_MIN_SIDE: usize = 64;
/// `sharpness` is the Laplacian variance with the long side brought to this many pixels.
pub const SHARPNESS_LONG_SIDE: usize = 640;
/// Default pixel limit: Pillow's DecompressionBombError threshold (2 × 89,478,485).
pub const DEFAULT_MAX_PIXELS: u64 = 178_956_970;
/// Default file size limit (bytes read into memory per file).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// What to compute and the limits that protect the process.
#[derive(Debug, Clone)]
pub struct Options {
    pub metrics: Metrics,
    pub max_pixels: u64,
    pub max_file_size: u64,
    /// Compute `blur` and `noise` with the long side resized to this size instead of natively.
    pub analysis_size: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            metrics: Metrics::default_set(),
            max_pixels: DEFAULT_MAX_PIXELS,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            analysis_size: None,
        }
    }
}

/// One input: a file path, or encoded bytes already in memory.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Path(&'a Path),
    Bytes(&'a [u8]),
}

/// Scan many inputs on the current rayon pool. `cancel` stops workers between files; `done`
/// counts finished inputs for progress reporting. Never panics: a panic becomes an error row.
pub fn scan_many(
    sources: &[Source<'_>],
    opts: &Options,
    cancel: &AtomicBool,
    done: &AtomicUsize,
) -> Vec<Record> {
    let records = sources
        .par_iter()
        .with_max_len(1)
        .map(|src| {
            if cancel.load(Ordering::Relaxed) {
                return Record {
                    error: Some("cancelled".into()),
                    ..Record::default()
                };
            }
            let r = scan_one(*src, opts);
            done.fetch_add(1, Ordering::Relaxed);
            r
        })
        .collect();
    // What the workers kept for the next image is let go, so an idle process holds none of it:
    // the open directories of `read` and the image buffers of `planes::buffers`.
    rayon::broadcast(|_| {
        read::forget_directory();
        crate::planes::buffers::release();
    });
    records
}

/// Scan one input; every failure, including a panic in a decoder, becomes `Record::error`.
pub fn scan_one(src: Source<'_>, opts: &Options) -> Record {
    let mut rec = Record::default();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let owned;
        let data: &[u8] = match src {
            Source::Bytes(b) => b,
            Source::Path(p) => {
                owned = read::read_file(p, opts.max_file_size)?;
                &owned
            }
        };
        measure(data, opts, &mut rec)
    }));
    let err = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(payload) => Some(ImageError::Panic(panic_text(payload.as_ref()))),
    };
    if let Some(e) = err {
        rec.error = Some(e.to_string());
    }
    rec
}

/// Bytes → header → pixels, filling each stage's columns as soon as its input exists, so a file
/// that fails to decode still reports its size, header and content hash.
fn measure(data: &[u8], opts: &Options, rec: &mut Record) -> Result<()> {
    let m = &opts.metrics;
    rec.file_size = Some(data.len() as u64);
    rec.measure_bytes(m, data);
    let (header, decoded) = decode::probe_and_decode(data, opts.max_pixels, |header| {
        m.needs_pixels().then(|| DecodeRequest {
            reduction: if header.can_reduce {
                reduction_for(header, opts)
            } else {
                1
            },
            need_rgb: m.needs_rgb(),
            rgb_rows: plan::row_wants(header, opts),
        })
    })?;
    fill_header(&header, rec);
    rec.measure_header(m, &header);
    let Some(decoded) = decoded else {
        return Ok(());
    };
    let d = decoded?;
    rec.measure_pixels(m, &Image::new(&d, &header, opts));
    crate::planes::buffers::give_back_pixels(d.pixels);
    Ok(())
}

/// The always-present columns from the header (size as displayed, after EXIF orientation).
fn fill_header(h: &Header, rec: &mut Record) {
    let orientation = h.exif.orientation.unwrap_or(1);
    let (w, hgt) = if orientation >= 5 {
        (h.height, h.width)
    } else {
        (h.width, h.height)
    };
    rec.format = Some(h.format);
    rec.width = Some(w);
    rec.height = Some(hgt);
    rec.channels = Some(h.channels);
    rec.bit_depth = Some(h.bit_depth);
    rec.has_alpha = Some(h.has_alpha);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_inputs_become_error_rows() {
        let opts = Options::default();
        let r = scan_one(Source::Bytes(b""), &opts);
        assert_eq!(r.error.as_deref(), Some("empty file (0 bytes)"));
        let r = scan_one(Source::Bytes(b"not an image at all"), &opts);
        assert!(
            r.error
                .unwrap()
                .starts_with("not a recognised image format")
        );
        let r = scan_one(Source::Bytes(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]), &opts);
        assert!(r.error.unwrap().contains("jpeg"));
        let r = scan_one(Source::Path(Path::new("/nonexistent/x.jpg")), &opts);
        assert!(r.error.unwrap().starts_with("cannot read file"));
    }
}
