//! The metric table: every metric a scan can compute, declared once.
//!
//! `metric_table!` turns the table at the bottom of this file into everything that used to be
//! six parallel lists: the [`METRIC_NAMES`] the Python layer validates against, the [`Metrics`]
//! flag struct and its name parsing, the per-metric descriptors the planner reads (which stage,
//! which plane, at what scale), the [`Record`] fields, the code that fills them, and the Arrow
//! columns (`crate::columns`), all in table order.
//!
//! # Adding a metric
//!
//! 1. Write the kernel where its family lives (`src/stats/<family>.rs`, tested against an
//!    independent reference) taking a plane: `&[u8]` luma or interleaved RGB plus its size.
//! 2. Add one row to the table below, in the position its column should take:
//!    ```text
//!    /// What the column means (the doc becomes the `Metrics` flag's doc).
//!    haze: Pixels(Rgb, Scale::LongSide(COLOR_LONG_SIDE)) {
//!        haze: f32 = |img| finite32(stats::haze(&img.rgb_fit(COLOR_LONG_SIDE))),
//!    },
//!    ```
//!    (`COLOR_LONG_SIDE` and any new `Image` method come from `plan.rs`.)
//!    - the stage is `Bytes` (the file's bytes, `|data: &[u8]|`), `Header` (no decode,
//!      `|h: &Header|`) or `Pixels(color, scale)` (`|img: &Image|`, see `plan.rs`);
//!    - `color` is `Luma` or `Rgb` (an RGB decode is requested; `img.pixels.rgb` is still `None`
//!      for sources without colour, and `img.rgb_fit` then repeats luma as R = G = B);
//!    - `scale` is the smallest decode the kernel tolerates: `Scale::Any` (1/8 JPEG is fine),
//!      `Scale::Native` (every stored pixel), `Scale::ShortSide(n)` / `Scale::LongSide(n)`
//!      (a reduced JPEG decode keeping that side at or above `n`), or `Scale::Analysis` (native,
//!      or `LongSide(analysis_size)` when the caller set one);
//!    - each column is `name: type = |input| -> Option<type>`; `None` means "not available".
//!      A metric may fill several columns (`exif`); column types are those `crate::columns`
//!      maps to Arrow (`u8`, `u32`, `u64`, `f32`, `f64`, `bool`, `String`, [`UnixMicros`]).
//! 3. Work several metrics share (a histogram, a resized plane, the three hashes) goes in an
//!    [`Image`] method that caches its result (`OnceCell`), so it runs once per image however
//!    many metrics read it. `img.rgb_fit(COLOR_LONG_SIDE)` is the RGB plane area-resized to a
//!    512-px long side, shared by the colour metrics that want a common size.
//! 4. Add a test for the kernel, and the README row. The name list, flags, parsing, planning,
//!    record field and Arrow column need no other edit.

use super::plan::{COLOR_LONG_SIDE, CROP_HASH_MIN_SIDE, Color, Image, Needs, Scale};
use super::{HASH_MIN_SIDE, SHARPNESS_LONG_SIDE};
use crate::decode::Header;
use arrow_array::ArrayRef;

/// Microseconds since 1970-01-01: an Arrow timestamp column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixMicros(pub i64);

/// Where a metric's input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The file's bytes (no parsing).
    Bytes,
    /// The header and metadata (no pixel decode).
    Header,
    /// Decoded pixels.
    Pixels,
}

/// One row of the table, as the planner sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Metric {
    pub stage: Stage,
    /// Which plane at which scale (pixel metrics only).
    pub needs: Option<Needs>,
}

/// `value` as `Some` unless it is NaN (a statistic undefined on this image).
pub(crate) fn finite(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

/// [`finite`], stored as `f32`.
pub(crate) fn finite32(v: f64) -> Option<f32> {
    finite(v).map(|v| v as f32)
}

/// The input type of a stage's column functions.
macro_rules! stage_input {
    (Bytes) => { &[u8] };
    (Header) => { &Header };
    (Pixels) => { &Image<'_> };
}

/// Expand the body only for rows of the wanted stage.
macro_rules! on_stage {
    (Bytes, Bytes, $($body:tt)*) => { $($body)* };
    (Header, Header, $($body:tt)*) => { $($body)* };
    (Pixels, Pixels, $($body:tt)*) => { $($body)* };
    ($row:ident, $wanted:ident, $($body:tt)*) => {};
}

macro_rules! needs {
    () => {
        None
    };
    ($color:ident, $scale:expr) => {
        Some(Needs {
            color: Color::$color,
            scale: $scale,
        })
    };
}

/// Generate the metric API from the table (see the module documentation).
macro_rules! metric_table {
    (
        always { $( $(#[$bdoc:meta])* $base:ident : $bty:ty ),* $(,)? }
        $(
            $(#[$doc:meta])*
            $name:ident : $stage:ident $( ( $color:ident, $scale:expr ) )? {
                $( $col:ident : $cty:ty = $f:expr ),* $(,)?
            }
        ),* $(,)?
    ) => {
        /// Every metric a scan can compute, in column order. Header fields (format, size,
        /// channels, bit depth, alpha, file size) are always reported; they cost no decode.
        pub const METRIC_NAMES: &[&str] = &[$(stringify!($name)),*];

        /// The planner's view of every metric, in [`METRIC_NAMES`] order.
        pub(crate) static METRICS: &[Metric] = &[$(Metric {
            stage: Stage::$stage,
            needs: needs!($($color, $scale)?),
        }),*];

        /// Which metrics to compute.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct Metrics {
            $( $(#[$doc])* pub $name: bool, )*
        }

        impl Metrics {
            /// Flags in [`METRIC_NAMES`] order.
            fn flags(&self) -> [bool; METRIC_NAMES.len()] {
                [$(self.$name),*]
            }

            fn flag_mut(&mut self, name: &str) -> Option<&mut bool> {
                match name {
                    $( stringify!($name) => Some(&mut self.$name), )*
                    _ => None,
                }
            }
        }

        /// One output row. `None` means "not requested" or "not available" (e.g. no EXIF).
        #[derive(Debug, Clone, Default)]
        pub struct Record {
            $( $(#[$bdoc])* pub $base: Option<$bty>, )*
            $( $( pub $col: Option<$cty>, )* )*
        }

        impl Record {
            /// Columns computed from the file's bytes (requested metrics only).
            #[allow(clippy::redundant_closure_call, reason = "column functions are written inline in the table")]
            pub(crate) fn measure_bytes(&mut self, m: &Metrics, input: stage_input!(Bytes)) {
                $( on_stage!($stage, Bytes, if m.$name { $(
                    let f: fn(stage_input!(Bytes)) -> Option<$cty> = $f;
                    self.$col = f(input);
                )* }); )*
                let _ = (m, input);
            }

            /// Columns computed from the header (requested metrics only).
            #[allow(clippy::redundant_closure_call, reason = "column functions are written inline in the table")]
            pub(crate) fn measure_header(&mut self, m: &Metrics, input: stage_input!(Header)) {
                $( on_stage!($stage, Header, if m.$name { $(
                    let f: fn(stage_input!(Header)) -> Option<$cty> = $f;
                    self.$col = f(input);
                )* }); )*
                let _ = (m, input);
            }

            /// Columns computed from the decoded image (requested metrics only).
            #[allow(clippy::redundant_closure_call, reason = "column functions are written inline in the table")]
            pub(crate) fn measure_pixels(&mut self, m: &Metrics, input: stage_input!(Pixels)) {
                $( on_stage!($stage, Pixels, if m.$name { $(
                    let f: fn(stage_input!(Pixels)) -> Option<$cty> = $f;
                    self.$col = f(input);
                )* }); )*
                let _ = (m, input);
            }

            /// `(name, column)` of the always-present columns, then of every requested metric,
            /// in table order.
            pub(crate) fn columns(
                records: &[Record],
                m: &Metrics,
                mut push: impl FnMut(&'static str, ArrayRef),
            ) {
                use crate::columns::ArrowColumn;
                $( push(stringify!($base), ArrowColumn::column(records.iter().map(|r| &r.$base))); )*
                $( if m.$name { $(
                    push(stringify!($col), ArrowColumn::column(records.iter().map(|r| &r.$col)));
                )* } )*
            }
        }
    };
}

metric_table! {
    always {
        /// Why the file has no statistics (unreadable, corrupt, too large...), else `None`.
        error: String,
        format: &'static str,
        /// Displayed size (after EXIF orientation).
        width: u32,
        height: u32,
        channels: u8,
        bit_depth: u8,
        has_alpha: bool,
        file_size: u64,
    }

    /// EXIF orientation, camera make and model, capture time.
    exif: Header {
        orientation: u8 = |h| h.exif.orientation,
        camera_make: String = |h| h.exif.make.clone(),
        camera_model: String = |h| h.exif.model.clone(),
        captured_at: UnixMicros = |h| h.exif.captured_at_us.map(UnixMicros),
    },
    /// Encoder quality estimated from the JPEG quantisation tables.
    jpeg_quality: Header {
        jpeg_quality: u8 = |h| h.jpeg_quality,
    },
    /// Mean luma; the 1/8 JPEG decode's pixels are block means, so it is exact there.
    brightness: Pixels(Luma, Scale::Any) {
        brightness: f32 = |img| finite32(img.luma_stats().mean),
    },
    /// Standard deviation of luma.
    contrast: Pixels(Luma, Scale::Native) {
        contrast: f32 = |img| finite32(img.luma_stats().std),
    },
    /// Share of pixels at or below `stats::DARK_LEVEL`.
    dark_fraction: Pixels(Luma, Scale::Native) {
        dark_fraction: f32 = |img| finite32(img.luma_stats().dark_fraction),
    },
    /// Share of pixels at or above `stats::BRIGHT_LEVEL`.
    bright_fraction: Pixels(Luma, Scale::Native) {
        bright_fraction: f32 = |img| finite32(img.luma_stats().bright_fraction),
    },
    /// Variance of the Laplacian (OpenCV's), natively or at `analysis_size`.
    blur: Pixels(Luma, Scale::Analysis) {
        blur: f64 = |img| finite(img.derivatives().0),
    },
    /// Variance of the Laplacian with the long side at `SHARPNESS_LONG_SIDE`.
    sharpness: Pixels(Luma, Scale::LongSide(SHARPNESS_LONG_SIDE)) {
        sharpness: f64 = |img| finite(img.sharpness()),
    },
    /// Immerkær's noise σ, natively or at `analysis_size`.
    noise: Pixels(Luma, Scale::Analysis) {
        noise: f32 = |img| finite32(img.derivatives().1),
    },
    /// Shannon entropy of the luma histogram, in bits.
    entropy: Pixels(Luma, Scale::Native) {
        entropy: f32 = |img| finite32(img.luma_stats().entropy),
    },
    /// Hasler–Süsstrunk colourfulness.
    colorfulness: Pixels(Rgb, Scale::Native) {
        colorfulness: f32 = |img| Some(img.color().colorfulness as f32),
    },
    /// Fewer than `stats::GRAY_MAX_COLORED_SHARE` of the pixels are coloured.
    is_grayscale: Pixels(Rgb, Scale::Native) {
        is_grayscale: bool = |img| Some(img.color().is_grayscale),
    },
    /// Dark channel prior (He, Sun & Tang 2009) at `COLOR_LONG_SIDE`: mean of the 15×15 minimum of
    /// min(R,G,B), 0–1.
    haze: Pixels(Rgb, Scale::LongSide(COLOR_LONG_SIDE)) {
        haze: f32 = |img| finite32(img.atmosphere().haze),
    },
    /// Airlight: mean (R+G+B)/3 under the brightest 0.1 % of the dark channel, 0–1 (shares the
    /// dark-channel pass with `haze`).
    airlight: Pixels(Rgb, Scale::LongSide(COLOR_LONG_SIDE)) {
        airlight: f32 = |img| finite32(img.atmosphere().airlight),
    },
    /// Mean HSV saturation at `COLOR_LONG_SIDE`, 0–1.
    saturation: Pixels(Rgb, Scale::LongSide(COLOR_LONG_SIDE)) {
        saturation: f32 = |img| finite32(img.illuminant().saturation),
    },
    /// Mean CIELAB b* at `COLOR_LONG_SIDE` (gray-world cast: warm +, cool −).
    warmth: Pixels(Rgb, Scale::LongSide(COLOR_LONG_SIDE)) {
        warmth: f32 = |img| finite32(img.illuminant().warmth),
    },
    /// Mean CIELAB a* at `COLOR_LONG_SIDE` (magenta +, green −).
    tint: Pixels(Rgb, Scale::LongSide(COLOR_LONG_SIDE)) {
        tint: f32 = |img| finite32(img.illuminant().tint),
    },
    /// Directional loss of fine detail at `COLOR_LONG_SIDE`, 0–1 (motion blur removes detail
    /// along one direction, defocus along all).
    motion_blur: Pixels(Rgb, Scale::LongSide(COLOR_LONG_SIDE)) {
        motion_blur: f32 = |img| finite32(img.motion().motion_blur),
    },
    /// The motion direction in degrees [0, 180) on the displayed image (0 = horizontal,
    /// counter-clockwise); shares the tensor pass with `motion_blur`.
    blur_angle: Pixels(Rgb, Scale::LongSide(COLOR_LONG_SIDE)) {
        blur_angle: f32 = |img| finite32(img.motion().blur_angle),
    },
    /// xxh3-128 of the file's bytes (hex).
    content_hash: Bytes {
        content_hash: String = |data| Some(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(data))),
    },
    /// xxh3-64 of the decoded pixels as displayed.
    pixel_hash: Pixels(Rgb, Scale::Native) {
        pixel_hash: u64 = |img| Some(img.pixel_hash()),
    },
    /// imagehash's pHash.
    phash: Pixels(Luma, Scale::ShortSide(HASH_MIN_SIDE)) {
        phash: u64 = |img| Some(img.hashes()[0]),
    },
    /// imagehash's dHash.
    dhash: Pixels(Luma, Scale::ShortSide(HASH_MIN_SIDE)) {
        dhash: u64 = |img| Some(img.hashes()[1]),
    },
    /// imagehash's average hash.
    ahash: Pixels(Luma, Scale::ShortSide(HASH_MIN_SIDE)) {
        ahash: u64 = |img| Some(img.hashes()[2]),
    },
    /// Colour signature at `COLOR_LONG_SIDE`: opponent chroma of 2×2 cells as a unary code, so
    /// the Hamming distance of two signatures is a colour distance (`stats::color_signature`);
    /// it lets `duplicates` keep apart one layout in different colours.
    color_signature: Pixels(Rgb, Scale::LongSide(COLOR_LONG_SIDE)) {
        color_signature: u64 = |img| Some(img.color_signature()),
    },
    /// pHash of the mirrored and 90°-rotated picture (Pillow's `Transpose` names; `rot90` is
    /// counter-clockwise), from the same 32×32 DCT as `phash` (`duplicates(invariant=True)`).
    phash_dihedral: Pixels(Luma, Scale::ShortSide(HASH_MIN_SIDE)) {
        phash_hflip: u64 = |img| Some(img.phash_dihedral()[1]),
        phash_vflip: u64 = |img| Some(img.phash_dihedral()[2]),
        phash_rot90: u64 = |img| Some(img.phash_dihedral()[3]),
        phash_rot180: u64 = |img| Some(img.phash_dihedral()[4]),
        phash_rot270: u64 = |img| Some(img.phash_dihedral()[5]),
        phash_transpose: u64 = |img| Some(img.phash_dihedral()[6]),
        phash_transverse: u64 = |img| Some(img.phash_dihedral()[7]),
    },
    /// dHash of the mirrored and 90°-rotated picture (same names), so flip/rotation matches
    /// are confirmed by two hashes like near copies.
    dhash_dihedral: Pixels(Luma, Scale::ShortSide(HASH_MIN_SIDE)) {
        dhash_hflip: u64 = |img| Some(img.dhash_dihedral()[1]),
        dhash_vflip: u64 = |img| Some(img.dhash_dihedral()[2]),
        dhash_rot90: u64 = |img| Some(img.dhash_dihedral()[3]),
        dhash_rot180: u64 = |img| Some(img.dhash_dihedral()[4]),
        dhash_rot270: u64 = |img| Some(img.dhash_dihedral()[5]),
        dhash_transpose: u64 = |img| Some(img.dhash_dihedral()[6]),
        dhash_transverse: u64 = |img| Some(img.dhash_dihedral()[7]),
    },
    /// imagehash's `crop_resistant_hash` (not in the default set, see `OPT_IN_METRICS`): the
    /// dHash of every bright/dark segment's box, in imagehash's order; the boxes on the 300×300
    /// segmentation grid, four values per segment (`x0, y0, x1, y1`, divide by 300 for a
    /// fraction of the width/height); a 32×32 luma thumbnail (row-major, stretched to a square)
    /// that candidate crops are verified on (`imgstats.crop_match`).
    crop_hash: Pixels(Luma, Scale::ShortSide(CROP_HASH_MIN_SIDE)) {
        crop_hash: Vec<u64> = |img| Some(img.crop_hashes().dhash.clone()),
        crop_boxes: Vec<u16> = |img| Some(img.crop_hashes().boxes.clone()),
        crop_thumb: Vec<u8> = |img| Some(img.crop_hashes().thumb.clone()),
    },
}

/// Metrics computed only when asked for by name: too costly for every scan.
pub const OPT_IN_METRICS: &[&str] = &["crop_hash"];

impl Metrics {
    /// Every metric.
    pub fn all() -> Self {
        Self::from_names(METRIC_NAMES).expect("known names")
    }

    /// What a scan computes when the caller names no metrics: all but [`OPT_IN_METRICS`].
    pub fn default_set() -> Self {
        let names: Vec<&str> = METRIC_NAMES
            .iter()
            .copied()
            .filter(|n| !OPT_IN_METRICS.contains(n))
            .collect();
        Self::from_names(&names).expect("known names")
    }

    /// The metrics named in `names`; an unknown name is an error listing the known ones.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> std::result::Result<Self, String> {
        let mut m = Metrics::default();
        for n in names {
            let flag = m.flag_mut(n.as_ref()).ok_or_else(|| {
                format!(
                    "unknown metric {:?}; known metrics: {}",
                    n.as_ref(),
                    METRIC_NAMES.join(", ")
                )
            })?;
            *flag = true;
        }
        Ok(m)
    }

    /// The descriptors of the requested metrics.
    pub(crate) fn selected(&self) -> impl Iterator<Item = &'static Metric> + use<> {
        METRICS
            .iter()
            .zip(self.flags())
            .filter_map(|(metric, on)| on.then_some(metric))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_round_trip() {
        let all = Metrics::all();
        assert!(all.phash && all.exif && all.blur);
        assert!(Metrics::from_names(&["nope"]).is_err());
        let only = Metrics::from_names(&["brightness"]).unwrap();
        assert!(!only.native(None) && only.needs_pixels() && !only.needs_rgb());
    }

    #[test]
    fn table_generates_one_consistent_list() {
        assert_eq!(METRICS.len(), METRIC_NAMES.len());
        for (m, &name) in METRICS.iter().zip(METRIC_NAMES) {
            assert_eq!(m.needs.is_some(), m.stage == Stage::Pixels, "{name}");
            let one = Metrics::from_names(&[name]).unwrap();
            let selected: Vec<_> = one.selected().collect();
            assert!(
                selected.len() == 1 && std::ptr::eq(selected[0], m),
                "{name}"
            );
        }
        let err = Metrics::from_names(&["brightnes"]).unwrap_err();
        assert!(
            err.contains("\"brightnes\"") && err.contains("phash"),
            "{err}"
        );
        assert_eq!(Metrics::all().selected().count(), METRIC_NAMES.len());
        assert_eq!(Metrics::default().selected().count(), 0);
        let default = Metrics::default_set();
        assert!(default.phash && !default.crop_hash);
        assert_eq!(
            default.selected().count(),
            METRIC_NAMES.len() - OPT_IN_METRICS.len()
        );
    }
}
