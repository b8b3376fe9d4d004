//! The scan: for each input, read the bytes once, probe the header, decode once at the smallest
//! scale the requested metrics allow, and compute every requested statistic from that decode.

use crate::planes::{Pixels, fit_long_side, orient_l8, reduce_box_l8, resize_area_l8};
use crate::decode::{self, DecodeRequest, Header};
use crate::error::{ImageError, Result};
use crate::{hash, stats};
use rayon::prelude::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Every metric a scan can compute. Header fields (format, size, channels, bit depth, alpha,
/// file size) are always reported; they cost no decode.
pub const METRIC_NAMES: &[&str] = &[
    "exif",
    "jpeg_quality",
    "brightness",
    "contrast",
    "dark_fraction",
    "bright_fraction",
    "blur",
    "sharpness",
    "noise",
    "entropy",
    "colorfulness",
    "is_grayscale",
    "content_hash",
    "pixel_hash",
    "phash",
    "dhash",
    "ahash",
];

/// Hashes are computed on a plane whose short side is at least this: a 1/8 JPEG decode of a
/// camera photo, and exactly the original for small images (bit-equal to imagehash there).
pub const HASH_MIN_SIDE: usize = 64;
/// `sharpness` is the Laplacian variance with the long side brought to this many pixels.
pub const SHARPNESS_LONG_SIDE: usize = 640;
/// Default pixel limit: Pillow's DecompressionBombError threshold (2 × 89,478,485).
pub const DEFAULT_MAX_PIXELS: u64 = 178_956_970;
/// Default file size limit (bytes read into memory per file).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    pub exif: bool,
    pub jpeg_quality: bool,
    pub brightness: bool,
    pub contrast: bool,
    pub dark_fraction: bool,
    pub bright_fraction: bool,
    pub blur: bool,
    pub sharpness: bool,
    pub noise: bool,
    pub entropy: bool,
    pub colorfulness: bool,
    pub is_grayscale: bool,
    pub content_hash: bool,
    pub pixel_hash: bool,
    pub phash: bool,
    pub dhash: bool,
    pub ahash: bool,
}

impl Metrics {
    pub fn all() -> Self {
        Self::from_names(METRIC_NAMES).expect("known names")
    }

    pub fn from_names<S: AsRef<str>>(names: &[S]) -> std::result::Result<Self, String> {
        let mut m = Metrics::default();
        for n in names {
            let flag = match n.as_ref() {
                "exif" => &mut m.exif,
                "jpeg_quality" => &mut m.jpeg_quality,
                "brightness" => &mut m.brightness,
                "contrast" => &mut m.contrast,
                "dark_fraction" => &mut m.dark_fraction,
                "bright_fraction" => &mut m.bright_fraction,
                "blur" => &mut m.blur,
                "sharpness" => &mut m.sharpness,
                "noise" => &mut m.noise,
                "entropy" => &mut m.entropy,
                "colorfulness" => &mut m.colorfulness,
                "is_grayscale" => &mut m.is_grayscale,
                "content_hash" => &mut m.content_hash,
                "pixel_hash" => &mut m.pixel_hash,
                "phash" => &mut m.phash,
                "dhash" => &mut m.dhash,
                "ahash" => &mut m.ahash,
                other => {
                    return Err(format!(
                        "unknown metric {other:?}; known metrics: {}",
                        METRIC_NAMES.join(", ")
                    ));
                }
            };
            *flag = true;
        }
        Ok(m)
    }

    fn hashes(&self) -> bool {
        self.phash || self.dhash || self.ahash
    }

    fn histogram(&self) -> bool {
        self.brightness
            || self.contrast
            || self.dark_fraction
            || self.bright_fraction
            || self.entropy
    }

    /// Metrics defined on every native pixel (no reduced decode can serve them).
    fn native(&self, analysis_size: Option<usize>) -> bool {
        self.contrast
            || self.dark_fraction
            || self.bright_fraction
            || self.entropy
            || self.colorfulness
            || self.is_grayscale
            || self.pixel_hash
            || (analysis_size.is_none() && (self.blur || self.noise))
    }

    fn needs_pixels(&self) -> bool {
        self.histogram()
            || self.blur
            || self.sharpness
            || self.noise
            || self.colorfulness
            || self.is_grayscale
            || self.pixel_hash
            || self.hashes()
    }

    fn needs_rgb(&self) -> bool {
        // Colour metrics need RGB; so do native luma metrics, so that their luma is Pillow's
        // (from RGB) whatever else was requested, never libjpeg's Y plane.
        self.colorfulness || self.is_grayscale || self.pixel_hash || self.native(None)
    }
}

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
            metrics: Metrics::all(),
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

/// One output row. `None` means "not requested" or "not available" (e.g. no EXIF).
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub error: Option<String>,
    pub format: Option<&'static str>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub channels: Option<u8>,
    pub bit_depth: Option<u8>,
    pub has_alpha: Option<bool>,
    pub file_size: Option<u64>,
    pub orientation: Option<u8>,
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub captured_at_us: Option<i64>,
    pub jpeg_quality: Option<u8>,
    pub brightness: Option<f32>,
    pub contrast: Option<f32>,
    pub dark_fraction: Option<f32>,
    pub bright_fraction: Option<f32>,
    pub blur: Option<f64>,
    pub sharpness: Option<f64>,
    pub noise: Option<f32>,
    pub entropy: Option<f32>,
    pub colorfulness: Option<f32>,
    pub is_grayscale: Option<bool>,
    pub content_hash: Option<String>,
    pub pixel_hash: Option<u64>,
    pub phash: Option<u64>,
    pub dhash: Option<u64>,
    pub ahash: Option<u64>,
}

/// Scan many inputs on the current rayon pool. `cancel` stops workers between files; `done`
/// counts finished inputs for progress reporting. Never panics: a panic becomes an error row.
pub fn scan_many(
    sources: &[Source<'_>],
    opts: &Options,
    cancel: &AtomicBool,
    done: &AtomicUsize,
) -> Vec<Record> {
    sources
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
        .collect()
}

/// Scan one input; every failure, including a panic in a decoder, becomes `Record::error`.
pub fn scan_one(src: Source<'_>, opts: &Options) -> Record {
    let mut rec = Record::default();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let owned;
        let data: &[u8] = match src {
            Source::Bytes(b) => b,
            Source::Path(p) => {
                owned = read_file(p, opts.max_file_size)?;
                &owned
            }
        };
        measure(data, opts, &mut rec)
    }));
    let err = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(payload) => Some(ImageError::Panic(panic_text(&payload))),
    };
    if let Some(e) = err {
        rec.error = Some(e.to_string());
    }
    rec
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

fn read_file(path: &Path, max_size: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO named like an image must not wait for a writer; the type check
    // on the open file then refuses it. Reads of regular files ignore the flag.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (FIFO, socket or device)"
        };
        return Err(ImageError::Io(std::io::Error::other(kind)));
    }
    if meta.len() > max_size {
        return Err(ImageError::FileTooLarge {
            size: meta.len(),
            limit: max_size,
        });
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    if meta.len() > 0 {
        // Exactly the size stat gave: no extra read() to see end-of-file (one syscall of the
        // four per small file), and a file that grows meanwhile is read as it was.
        f.take(meta.len()).read_to_end(&mut buf)?;
        return Ok(buf);
    }
    // Size 0 is an empty file or one that does not know its size (/proc): read at most
    // max_size + 1 bytes, so a file that never ends cannot exhaust memory.
    f.take(max_size + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max_size {
        return Err(ImageError::FileTooLarge {
            size: buf.len() as u64,
            limit: max_size,
        });
    }
    Ok(buf)
}

fn measure(data: &[u8], opts: &Options, rec: &mut Record) -> Result<()> {
    let m = &opts.metrics;
    rec.file_size = Some(data.len() as u64);
    if m.content_hash {
        rec.content_hash = Some(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(data)));
    }
    let (header, decoded) = decode::probe_and_decode(data, opts.max_pixels, |header| {
        m.needs_pixels().then(|| DecodeRequest {
            reduction: if header.can_reduce {
                reduction_for(header, opts)
            } else {
                1
            },
            need_rgb: m.needs_rgb(),
        })
    })?;
    fill_header(&header, m, rec);
    let Some(decoded) = decoded else {
        return Ok(());
    };
    let d = decoded?;
    pixel_metrics(&d.pixels, d.reduction, d.gray_source, &header, opts, rec);
    Ok(())
}

fn fill_header(h: &Header, m: &Metrics, rec: &mut Record) {
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
    if m.exif {
        rec.orientation = h.exif.orientation;
        rec.camera_make = h.exif.make.clone();
        rec.camera_model = h.exif.model.clone();
        rec.captured_at_us = h.exif.captured_at_us;
    }
    if m.jpeg_quality {
        rec.jpeg_quality = h.jpeg_quality;
    }
}

/// Largest power-of-two reduction (≤ 8) keeping `side / f >= min_side`.
fn largest_reduction(side: usize, min_side: usize) -> usize {
    let mut f = 1;
    while f < 8 && side / (f * 2) >= min_side {
        f *= 2;
    }
    f
}

/// The smallest decode that serves every requested metric.
fn reduction_for(h: &Header, opts: &Options) -> usize {
    let m = &opts.metrics;
    if m.native(opts.analysis_size) {
        return 1;
    }
    let (w, hh) = (h.width as usize, h.height as usize);
    let mut f = 8; // brightness alone: the 1/8 decode's pixels are block means (DC terms)
    if m.hashes() {
        f = f.min(largest_reduction(w.min(hh), HASH_MIN_SIDE));
    }
    if m.sharpness {
        f = f.min(largest_reduction(w.max(hh), SHARPNESS_LONG_SIDE));
    }
    if let (Some(a), true) = (opts.analysis_size, m.blur || m.noise) {
        f = f.min(largest_reduction(w.max(hh), a));
    }
    f
}

fn nan_none(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

fn pixel_metrics(
    p: &Pixels,
    reduction: usize,
    gray_source: bool,
    h: &Header,
    opts: &Options,
    rec: &mut Record,
) {
    let m = &opts.metrics;
    let (w, hh, luma) = (p.width, p.height, p.luma.as_slice());
    if m.histogram() {
        let s = stats::luma_stats(&stats::histogram(luma));
        let f = |on: bool, v: f64| (on && !v.is_nan()).then_some(v as f32);
        rec.brightness = f(m.brightness, s.mean);
        rec.contrast = f(m.contrast, s.std);
        rec.dark_fraction = f(m.dark_fraction, s.dark_fraction);
        rec.bright_fraction = f(m.bright_fraction, s.bright_fraction);
        rec.entropy = f(m.entropy, s.entropy);
    }
    // The Laplacian variance of the decoded plane, when computed: `sharpness` of an image already
    // within the 640-px analysis size is the same number.
    let mut plane_lap = None;
    if m.blur || m.noise {
        let resized;
        let (plane, pw, ph) = match opts.analysis_size {
            Some(a) => {
                let (dw, dh) = fit_long_side(w, hh, a);
                resized = resize_area_l8(luma, w, hh, dw, dh);
                (resized.as_slice(), dw, dh)
            }
            None => (luma, w, hh),
        };
        let (lap, noise) = stats::second_derivatives(plane, pw, ph, m.noise);
        if opts.analysis_size.is_none() {
            plane_lap = Some(lap);
        }
        if m.blur {
            rec.blur = nan_none(lap);
        }
        if m.noise {
            rec.noise = nan_none(noise).map(|v| v as f32);
        }
    }
    if m.sharpness {
        let (dw, dh) = fit_long_side(w, hh, SHARPNESS_LONG_SIDE);
        let lap = match plane_lap {
            Some(lap) if (dw, dh) == (w, hh) => lap,
            _ => {
                let small = resize_area_l8(luma, w, hh, dw, dh);
                stats::second_derivatives(&small, dw, dh, false).0
            }
        };
        rec.sharpness = nan_none(lap);
    }
    if m.colorfulness || m.is_grayscale {
        let c = match (&p.rgb, gray_source) {
            (Some(rgb), false) => stats::color_stats(rgb),
            _ => stats::ColorStats {
                colorfulness: 0.0,
                is_grayscale: true,
            },
        };
        rec.colorfulness = m.colorfulness.then_some(c.colorfulness as f32);
        rec.is_grayscale = m.is_grayscale.then_some(c.is_grayscale);
    }
    if m.pixel_hash {
        rec.pixel_hash = Some(pixel_hash(p, h.exif.orientation.unwrap_or(1)));
    }
    if m.hashes() {
        let target = largest_reduction(h.width.min(h.height) as usize, HASH_MIN_SIDE);
        let extra = (target / reduction.max(1)).max(1);
        let (plane, pw, ph) = reduce_box_l8(luma, w, hh, extra);
        let (plane, pw, ph) = orient_l8(&plane, pw, ph, h.exif.orientation.unwrap_or(1));
        let [ph_, dh_, ah_] = hash::hashes(&plane, pw, ph);
        rec.phash = m.phash.then_some(ph_);
        rec.dhash = m.dhash.then_some(dh_);
        rec.ahash = m.ahash.then_some(ah_);
    }
}

/// Hash of the decoded picture as displayed (after EXIF orientation): the same pixels in another
/// lossless container, or physically rotated and saved without the tag, hash alike. An RGB image
/// whose channels are all equal hashes as its luma, like the same picture saved as L.
fn pixel_hash(p: &Pixels, orientation: u8) -> u64 {
    let (data, ch) = match &p.rgb {
        Some(rgb) if !rgb.chunks_exact(3).all(|c| c[0] == c[1] && c[1] == c[2]) => {
            (rgb.as_slice(), 3)
        }
        _ => (p.luma.as_slice(), 1),
    };
    let (w, h) = (p.width, p.height);
    let (dw, dh) = if orientation >= 5 { (h, w) } else { (w, h) };
    let seed = ((dw as u64) << 32) ^ dh as u64;
    if !(2..=8).contains(&orientation) {
        return xxhash_rust::xxh3::xxh3_64_with_seed(data, seed);
    }
    // Stream the displayed rows into the hasher without materialising the rotated image.
    let mut hasher = xxhash_rust::xxh3::Xxh3::with_seed(seed);
    let mut row = vec![0u8; dw * ch];
    for y in 0..dh {
        for x in 0..dw {
            let (sx, sy) = crate::planes::source_pixel(x, y, w, h, orientation);
            let src = (sy * w + sx) * ch;
            row[x * ch..(x + 1) * ch].copy_from_slice(&data[src..src + ch]);
        }
        hasher.update(&row);
    }
    hasher.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions() {
        assert_eq!(largest_reduction(4000, 64), 8);
        assert_eq!(largest_reduction(200, 64), 2);
        assert_eq!(largest_reduction(28, 64), 1);
        assert_eq!(largest_reduction(1280, 640), 2);
    }

    #[test]
    fn metric_names_round_trip() {
        let all = Metrics::all();
        assert!(all.phash && all.exif && all.blur);
        assert!(Metrics::from_names(&["nope"]).is_err());
        let only = Metrics::from_names(&["brightness"]).unwrap();
        assert!(!only.native(None) && only.needs_pixels() && !only.needs_rgb());
    }

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
