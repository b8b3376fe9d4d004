//! Planning one image: from the requested metrics' needs (metrics.rs), the smallest decode that
//! serves all of them, and then [`Image`]: the decoded planes plus everything derived from them
//! once per image (histogram statistics, second derivatives, hashes, resized planes) that
//! several metrics share.

use super::metrics::{Metrics, Stage};
use super::{HASH_MIN_SIDE, Options, SHARPNESS_LONG_SIDE};
use crate::decode::{Decoded, Header, RowMeasures, RowWants, measure_rgb_rows};
use crate::planes::{Pixels, YCbCr, luma_from_rgb, orient_l8};
use crate::resize::{AreaL8Rows, fit_long_side, reduce_box_l8, resize_area_l8, resize_area_rgb8};
use crate::{hash, stats};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

/// Long side of the shared RGB plane colour metrics are measured on ([`Image::rgb_fit`]): a
/// common size makes them comparable across resolutions and bounds their cost.
pub(crate) const COLOR_LONG_SIDE: usize = 512;

/// Planes of at least this many pixels get the banded luma walk ([`Image::luma_pass`]); smaller
/// ones stay in cache between separate passes.
const LUMA_PASS_MIN_PIXELS: usize = 1 << 18;

/// Short side of the plane the crop-resistant hash is computed on ([`Image::crop_hashes`]):
/// imagehash segments a 300×300 resize, so a plane at least that large keeps what it uses, and
/// pictures up to twice that are hashed natively (bit-equal to imagehash on the upright picture).
pub(crate) const CROP_HASH_MIN_SIDE: usize = 300;

/// Side of the thumbnail stored with the crop-resistant hash ([`CropHashes::thumb`]).
pub(crate) const CROP_THUMB_SIDE: usize = 32;

/// The crop-resistant hash of one picture: per segment, in imagehash's order, imagehash's dHash
/// of the region and the region's box on the 300×300 segmentation grid (`x0, y0, x1, y1`,
/// flat); plus a 32×32 area-average thumbnail of the whole picture (stretched to a square, like
/// the segmentation grid), on which a candidate crop is verified once aligned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CropHashes {
    pub dhash: Vec<u64>,
    pub boxes: Vec<u16>,
    pub thumb: Vec<u8>,
}

/// Which plane a pixel metric reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Color {
    /// 8-bit luma (Pillow's `convert("L")`).
    Luma,
    /// Interleaved RGB (gray sources: R = G = B).
    Rgb,
}

/// The smallest decode a pixel metric tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    /// Any reduction (up to the 1/8 JPEG decode).
    Any,
    /// Every stored pixel.
    Native,
    /// A reduction keeping the short side at least this many pixels.
    ShortSide(usize),
    /// A reduction keeping the long side at least this many pixels.
    LongSide(usize),
    /// `Native`, or `LongSide(analysis_size)` when the caller set an analysis size.
    Analysis,
}

impl Scale {
    fn resolve(self, analysis_size: Option<usize>) -> Scale {
        match (self, analysis_size) {
            (Scale::Analysis, None) => Scale::Native,
            (Scale::Analysis, Some(a)) => Scale::LongSide(a),
            (s, _) => s,
        }
    }
}

/// What a pixel metric needs from the decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needs {
    pub color: Color,
    pub scale: Scale,
}

impl Metrics {
    fn pixel_needs(&self) -> impl Iterator<Item = Needs> + use<> {
        self.selected()
            .filter(|m| m.stage == Stage::Pixels)
            .filter_map(|m| m.needs)
    }

    /// Some requested metric is defined on every native pixel (no reduced decode can serve it).
    pub(crate) fn native(&self, analysis_size: Option<usize>) -> bool {
        self.pixel_needs()
            .any(|n| n.scale.resolve(analysis_size) == Scale::Native)
    }

    /// Some requested metric reads pixels.
    pub(crate) fn needs_pixels(&self) -> bool {
        self.pixel_needs().next().is_some()
    }

    /// The decode must produce RGB. Colour metrics need it; so do native luma metrics (and
    /// blur/noise, native unless an analysis size is set), so that their luma is Pillow's (from
    /// RGB) whatever else was requested, never libjpeg's Y plane.
    pub(crate) fn needs_rgb(&self) -> bool {
        self.pixel_needs()
            .any(|n| n.color == Color::Rgb || matches!(n.scale, Scale::Native | Scale::Analysis))
    }
}

/// Largest power-of-two reduction (≤ 8) keeping `side / f >= min_side`.
pub(crate) fn largest_reduction(side: usize, min_side: usize) -> usize {
    let mut f = 1;
    while f < 8 && side / (f * 2) >= min_side {
        f *= 2;
    }
    f
}

/// The smallest decode that serves every requested metric.
pub(crate) fn reduction_for(h: &Header, opts: &Options) -> usize {
    let m = &opts.metrics;
    if m.native(opts.analysis_size) {
        return 1;
    }
    let (w, hh) = (h.width as usize, h.height as usize);
    let mut f = 8; // brightness alone: the 1/8 decode's pixels are block means (DC terms)
    for need in m.pixel_needs() {
        match need.scale.resolve(opts.analysis_size) {
            Scale::Any => {}
            Scale::ShortSide(s) => f = f.min(largest_reduction(w.min(hh), s)),
            Scale::LongSide(s) => f = f.min(largest_reduction(w.max(hh), s)),
            Scale::Native | Scale::Analysis => return 1,
        }
    }
    f
}

/// A plane and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plane {
    pub data: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

/// One decoded image and what is derived from it, each computed at most once, on first use.
/// Pixel metrics' column functions (metrics.rs) read from here.
pub(crate) struct Image<'a> {
    pub pixels: &'a Pixels,
    /// The reduction the decode applied (1 for everything but reduced JPEG decodes).
    pub reduction: usize,
    /// The source has no colour (grayscale JPEG, L/LA PNG...).
    pub gray_source: bool,
    pub header: &'a Header,
    pub opts: &'a Options,
    luma_stats: OnceCell<stats::LumaStats>,
    luma_histogram: OnceCell<[u64; 256]>,
    derivatives: OnceCell<(f64, f64)>,
    sharpness: OnceCell<f64>,
    /// The banded walk over the full-size luma plane ([`Image::luma_pass`]) has run.
    luma_pass: OnceCell<()>,
    color: OnceCell<stats::ColorStats>,
    hashes: OnceCell<[u64; 3]>,
    phash_dihedral: OnceCell<[u64; 8]>,
    dhash_dihedral: OnceCell<[u64; 8]>,
    /// The aHash, when [`Image::dhash_dihedral`] computed it along (a shared resize pass).
    shared_ahash: OnceCell<u64>,
    hash_plane: OnceCell<(Vec<u8>, usize, usize)>,
    crop_hashes: OnceCell<CropHashes>,
    rgb_fit: RefCell<Vec<(usize, Rc<Plane>)>>,
    gray_fit: RefCell<Vec<(usize, Rc<Plane>)>>,
    rgb_rows: OnceCell<RowMeasures>,
    atmosphere: OnceCell<stats::atmosphere::Atmosphere>,
    illuminant: OnceCell<stats::illuminant::Illuminant>,
    motion: OnceCell<stats::motion::Motion>,
    color_signature: OnceCell<u64>,
}

impl<'a> Image<'a> {
    pub(crate) fn new(d: &'a Decoded, header: &'a Header, opts: &'a Options) -> Self {
        Image {
            pixels: &d.pixels,
            reduction: d.reduction,
            gray_source: d.gray_source,
            header,
            opts,
            luma_stats: OnceCell::new(),
            luma_histogram: OnceCell::new(),
            derivatives: OnceCell::new(),
            sharpness: OnceCell::new(),
            luma_pass: OnceCell::new(),
            color: OnceCell::new(),
            hashes: OnceCell::new(),
            phash_dihedral: OnceCell::new(),
            dhash_dihedral: OnceCell::new(),
            shared_ahash: OnceCell::new(),
            hash_plane: OnceCell::new(),
            crop_hashes: OnceCell::new(),
            rgb_fit: RefCell::new(Vec::new()),
            gray_fit: RefCell::new(Vec::new()),
            rgb_rows: d.rgb_rows.clone().map(OnceCell::from).unwrap_or_default(),
            atmosphere: OnceCell::new(),
            illuminant: OnceCell::new(),
            motion: OnceCell::new(),
            color_signature: OnceCell::new(),
        }
    }

    fn orientation(&self) -> u8 {
        self.header.exif.orientation.unwrap_or(1)
    }

    /// Histogram statistics of the luma plane (brightness, contrast, fractions, entropy).
    pub(crate) fn luma_stats(&self) -> stats::LumaStats {
        self.luma_pass();
        *self
            .luma_stats
            .get_or_init(|| stats::luma_stats(self.luma_histogram()))
    }

    /// Count of each level of the decoded luma plane, for planes the banded [`Image::luma_pass`]
    /// leaves alone (small ones): the histogram statistics and a small gray picture's
    /// [`Image::illuminant`] both read it.
    fn luma_histogram(&self) -> &[u64; 256] {
        self.luma_histogram
            .get_or_init(|| stats::histogram(&self.pixels.luma))
    }

    /// `(Laplacian variance, Immerkær σ)` of the blur/noise plane: native, or area-resized to
    /// `analysis_size`. σ is computed only when `noise` was requested (NaN otherwise).
    pub(crate) fn derivatives(&self) -> (f64, f64) {
        self.luma_pass();
        *self.derivatives.get_or_init(|| {
            let p = self.pixels;
            let want_noise = self.opts.metrics.noise;
            match self.opts.analysis_size {
                Some(a) => {
                    let (dw, dh) = fit_long_side(p.width, p.height, a);
                    let plane = resize_area_l8(&p.luma, p.width, p.height, dw, dh);
                    stats::second_derivatives(&plane, dw, dh, want_noise)
                }
                None => stats::second_derivatives(&p.luma, p.width, p.height, want_noise),
            }
        })
    }

    /// Laplacian variance with the long side at [`SHARPNESS_LONG_SIDE`]. An image already
    /// within that size reuses the native blur pass (the same number).
    pub(crate) fn sharpness(&self) -> f64 {
        let p = self.pixels;
        let (dw, dh) = fit_long_side(p.width, p.height, SHARPNESS_LONG_SIDE);
        if self.opts.analysis_size.is_none() && (dw, dh) == (p.width, p.height) {
            return self.derivatives().0;
        }
        self.luma_pass();
        *self.sharpness.get_or_init(|| {
            let small = resize_area_l8(&p.luma, p.width, p.height, dw, dh);
            stats::second_derivatives(&small, dw, dh, false).0
        })
    }

    /// One walk down the full-size luma plane, in bands of rows that stay in cache, for every
    /// full-size luma result the requested metrics need: the histogram, the second-derivative
    /// sums (blur, noise), the sharpness plane's rows and the hash plane's box reduction. Each
    /// pass on its own would stream the whole plane from memory again (≈0.14 ms/MP a read). The
    /// results are the separate passes' (integer sums added per band; the resize and reduction
    /// make each output row from the same rows with the same operations; tested), stored in the
    /// cells the getters read. Small planes (in cache anyway) and analysis-size scans keep the
    /// separate passes.
    fn luma_pass(&self) {
        self.luma_pass.get_or_init(|| {
            let p = self.pixels;
            let (w, h) = (p.width, p.height);
            if self.opts.analysis_size.is_some() || w < 3 || h < 3 || w * h < LUMA_PASS_MIN_PIXELS {
                return;
            }
            let m = &self.opts.metrics;
            let want_hist =
                m.brightness || m.contrast || m.dark_fraction || m.bright_fraction || m.entropy;
            let want_derivatives = m.blur || m.noise;
            let (dw, dh) = fit_long_side(w, h, SHARPNESS_LONG_SIDE);
            let mut sharp =
                (m.sharpness && (dw, dh) != (w, h)).then(|| AreaL8Rows::new(w, h, dw, dh));
            let want_hash = m.phash || m.dhash || m.ahash || m.phash_dihedral || m.dhash_dihedral;
            let extra = self.hash_reduction();
            let mut reduced = (want_hash && extra > 1)
                .then(|| Vec::with_capacity(w.div_ceil(extra) * h.div_ceil(extra)));
            let luma = &p.luma[..w * h];
            // ~128 KB of rows, a multiple of 8 so every box-reduction block lies in one band.
            let band = ((128 * 1024 / w).max(8) / 8) * 8;
            let mut hist = [0u64; 256];
            let mut sums = want_derivatives.then(|| stats::border_sums(luma, w, h));
            let mut y0 = 0;
            while y0 < h {
                let y1 = (y0 + band).min(h);
                let rows = &luma[y0 * w..y1 * w];
                if want_hist {
                    for (t, c) in hist.iter_mut().zip(stats::histogram(rows)) {
                        *t += c;
                    }
                }
                if let Some(s) = &mut sums {
                    let (a, b) = (y0.max(1), y1.min(h - 1));
                    if a < b {
                        s.add(stats::interior_sums(luma, w, h, a, b, m.noise));
                    }
                }
                if let Some(out) = &mut reduced {
                    out.extend(reduce_box_l8(rows, w, y1 - y0, extra).0);
                }
                if let Some(s) = &mut sharp {
                    s.advance(luma, y1);
                }
                y0 = y1;
            }
            if want_hist {
                let _ = self.luma_stats.set(stats::luma_stats(&hist));
            }
            if let Some(s) = sums {
                let _ = self.derivatives.set(s.finish(w, h, m.noise));
            }
            if let Some(s) = sharp {
                let small = s.finish();
                let _ = self
                    .sharpness
                    .set(stats::second_derivatives(&small, dw, dh, false).0);
            }
            if let Some(plane) = reduced {
                let (pw, ph) = (w.div_ceil(extra), h.div_ceil(extra));
                let _ = self
                    .hash_plane
                    .set(orient_l8(&plane, pw, ph, self.orientation()));
            }
        });
    }

    /// The box reduction of the decoded luma that gives the hash plane (see
    /// [`Image::upright_reduced`]).
    fn hash_reduction(&self) -> usize {
        let target = largest_reduction(
            self.header.width.min(self.header.height) as usize,
            HASH_MIN_SIDE,
        );
        (target / self.reduction.max(1)).max(1)
    }

    /// Colourfulness and the grayscale test (trivially gray for sources without colour).
    pub(crate) fn color(&self) -> stats::ColorStats {
        *self.color.get_or_init(|| {
            let gray = stats::ColorStats {
                colorfulness: 0.0,
                is_grayscale: true,
            };
            if self.gray_source {
                return gray;
            }
            if let Some(c) = self.measured_rows().and_then(|m| m.color) {
                return c;
            }
            match &self.pixels.rgb {
                Some(rgb) => stats::color_stats(rgb),
                None if self.pixels.ycbcr.is_some() => self
                    .rgb_rows_for(RowWants {
                        color: true,
                        ..RowWants::default()
                    })
                    .color
                    .expect("colour was asked for"),
                None => gray,
            }
        })
    }

    /// `pixel_hash` of the decoded picture as displayed.
    pub(crate) fn pixel_hash(&self) -> u64 {
        let rotated = (2..=8).contains(&self.orientation());
        if rotated && let Some(planes) = &self.pixels.ycbcr {
            // Rare (a rotated JPEG asked for its pixel hash): materialise the RGB once.
            let p = Pixels {
                rgb: Some(planes.to_rgb()),
                ycbcr: None,
                ..self.pixels.clone()
            };
            return hash::pixel_hash(&p, self.orientation());
        }
        // A row walk hashed the stored picture, which is the displayed one when upright.
        let walked = self.measured_rows().and_then(|m| m.pixel_hash);
        match walked.filter(|_| !rotated) {
            Some(h) => h,
            None if self.pixels.ycbcr.is_some() => self
                .rgb_rows_for(RowWants {
                    pixel_hash: true,
                    ..RowWants::default()
                })
                .pixel_hash
                .expect("the hash was asked for"),
            None => hash::pixel_hash(self.pixels, self.orientation()),
        }
    }

    /// `[phash, dhash, ahash]` of the displayed picture, box-reduced to the same scale a 1/f
    /// JPEG decode would give, so hashes agree whichever way the pixels were decoded.
    pub(crate) fn hashes(&self) -> [u64; 3] {
        *self.hashes.get_or_init(|| {
            let (plane, pw, ph) = self.hash_plane();
            let m = &self.opts.metrics;
            // The identity variant of the dihedral hashes is the hash itself (same plane, same
            // resize, same DCT): when those are requested, reuse it rather than resize twice.
            [
                if m.phash_dihedral {
                    self.phash_dihedral()[0]
                } else {
                    hash::phash(plane, *pw, *ph)
                },
                if m.dhash_dihedral {
                    self.dhash_dihedral()[0]
                } else {
                    hash::dhash(plane, *pw, *ph)
                },
                match self.shared_ahash.get() {
                    Some(&a) => a, // computed with the dihedral dHashes (same bits)
                    None => hash::ahash(plane, *pw, *ph),
                },
            ]
        })
    }

    /// The pHash of the picture as displayed and of its 7 mirrored / 90°-rotated versions
    /// (`hash::DIHEDRAL` order), from the same plane as [`Image::hashes`].
    pub(crate) fn phash_dihedral(&self) -> [u64; 8] {
        *self.phash_dihedral.get_or_init(|| {
            let (plane, pw, ph) = self.hash_plane();
            hash::phash_dihedral(plane, *pw, *ph)
        })
    }

    /// The dHash of the picture as displayed and of its 7 mirrored / 90°-rotated versions.
    pub(crate) fn dhash_dihedral(&self) -> [u64; 8] {
        *self.dhash_dihedral.get_or_init(|| {
            let (plane, pw, ph) = self.hash_plane();
            if !self.opts.metrics.ahash {
                return hash::dhash_dihedral(plane, *pw, *ph);
            }
            let (dihedral, ahash) = hash::dhash_dihedral_and_ahash(plane, *pw, *ph);
            let _ = self.shared_ahash.set(ahash);
            dihedral
        })
    }

    /// The displayed luma box-reduced to the scale a reduced JPEG decode for the hashes gives
    /// (computed once, shared by the hashes and their dihedral variants).
    fn hash_plane(&self) -> &(Vec<u8>, usize, usize) {
        self.luma_pass();
        self.hash_plane
            .get_or_init(|| self.upright_reduced(HASH_MIN_SIDE))
    }

    /// The displayed luma box-reduced to the scale a reduced JPEG decode keeping `min_side`
    /// pixels on the short side gives (the same plane whichever way the pixels were decoded).
    fn upright_reduced(&self, min_side: usize) -> (Vec<u8>, usize, usize) {
        let (p, h) = (self.pixels, self.header);
        let target = largest_reduction(h.width.min(h.height) as usize, min_side);
        let extra = (target / self.reduction.max(1)).max(1);
        let (plane, pw, ph) = reduce_box_l8(&p.luma, p.width, p.height, extra);
        orient_l8(&plane, pw, ph, self.orientation())
    }

    /// imagehash's crop-resistant hash of the displayed picture (at [`CROP_HASH_MIN_SIDE`]), with
    /// the box of every segment and the picture's thumbnail.
    pub(crate) fn crop_hashes(&self) -> &CropHashes {
        self.crop_hashes.get_or_init(|| {
            let (plane, w, h) = self.upright_reduced(CROP_HASH_MIN_SIDE);
            let mut out = CropHashes::default();
            for seg in hash::crop_resistant_segments(&plane, w, h) {
                out.dhash.push(seg.dhash);
                out.boxes.extend([seg.x0, seg.y0, seg.x1, seg.y1]);
            }
            if w > 0 && h > 0 {
                out.thumb = resize_area_l8(&plane, w, h, CROP_THUMB_SIDE, CROP_THUMB_SIDE);
            }
            out
        })
    }

    /// Haze and airlight of the shared [`COLOR_LONG_SIDE`] RGB plane (orientation-invariant).
    pub(crate) fn atmosphere(&self) -> stats::atmosphere::Atmosphere {
        *self.atmosphere.get_or_init(|| {
            if let Some(g) = self.gray_fit(COLOR_LONG_SIDE) {
                return stats::atmosphere::atmosphere_gray(&g.data, g.width, g.height);
            }
            let p = self.rgb_fit(COLOR_LONG_SIDE);
            stats::atmosphere::atmosphere(&p.data, p.width, p.height)
        })
    }

    /// Saturation, warmth and tint of the shared [`COLOR_LONG_SIDE`] RGB plane (per-pixel means,
    /// so orientation-invariant).
    pub(crate) fn illuminant(&self) -> stats::illuminant::Illuminant {
        *self.illuminant.get_or_init(|| {
            let p = self.pixels;
            let n = p.width * p.height;
            let native = fit_long_side(p.width, p.height, COLOR_LONG_SIDE) == (p.width, p.height);
            if self.gray_fit_available() && native && n < stats::illuminant::HISTOGRAM_FORM_BELOW {
                // The fitted plane is the luma plane itself, small enough for its histogram
                // (counted anyway for the brightness statistics) to serve.
                if let Some(i) =
                    stats::illuminant::illuminant_gray_from_histogram(self.luma_histogram(), n)
                {
                    return i;
                }
            }
            if let Some(g) = self.gray_fit(COLOR_LONG_SIDE) {
                return stats::illuminant::illuminant_gray(&g.data);
            }
            let p = self.rgb_fit(COLOR_LONG_SIDE);
            stats::illuminant::illuminant(&p.data)
        })
    }

    /// Motion blur and its direction on the luma of the shared [`COLOR_LONG_SIDE`] plane, turned
    /// upright first: the angle is a direction on the displayed picture.
    pub(crate) fn motion(&self) -> stats::motion::Motion {
        *self.motion.get_or_init(|| {
            let (w, h) = fit_long_side(self.pixels.width, self.pixels.height, COLOR_LONG_SIDE);
            if !stats::motion::measurable(w, h) {
                return stats::motion::UNDEFINED; // a thumbnail: no plane needed
            }
            let gray = self.gray_fit(COLOR_LONG_SIDE);
            let from_rgb;
            let luma: &[u8] = match &gray {
                // The luma of R = G = B = v is v (Pillow's weights sum to 1 exactly).
                Some(g) => &g.data,
                None => {
                    from_rgb = luma_from_rgb(&self.rgb_fit(COLOR_LONG_SIDE).data);
                    &from_rgb
                }
            };
            let (luma, w, h) = orient_l8(luma, w, h, self.orientation());
            stats::motion::motion(&luma, w, h)
        })
    }

    /// The colour signature (`stats::color_signature`) of the shared [`COLOR_LONG_SIDE`] plane,
    /// its 2×2 cells taken on the displayed picture.
    pub(crate) fn color_signature(&self) -> u64 {
        *self.color_signature.get_or_init(|| {
            if self.gray_fit_available() {
                return stats::color_signature::color_signature_gray();
            }
            let p = self.rgb_fit(COLOR_LONG_SIDE);
            stats::color_signature::color_signature(&p.data, p.width, p.height, self.orientation())
        })
    }

    /// The decode has one gray plane and no colour ([`Image::rgb_fit`] would repeat it as
    /// R = G = B).
    fn gray_fit_available(&self) -> bool {
        self.pixels.rgb.is_none() && self.pixels.ycbcr.is_none()
    }

    /// For a decode without colour: the gray plane [`Image::rgb_fit`] repeats as R = G = B, not
    /// repeated (the colour metrics have gray versions giving the same bits, tested in
    /// `stats`). Computed once per image and size, like `rgb_fit`.
    fn gray_fit(&self, long_side: usize) -> Option<Rc<Plane>> {
        if !self.gray_fit_available() {
            return None;
        }
        let p = self.pixels;
        Some(fit_once(
            &self.gray_fit,
            p.width,
            p.height,
            long_side,
            |dw, dh| resize_area_l8(&p.luma, p.width, p.height, dw, dh),
        ))
    }

    /// The RGB plane area-resized so its long side is at most `long_side` (stored orientation;
    /// gray sources give R = G = B), computed once per image and size and shared by every metric
    /// that reads it. Declare such metrics with `Pixels(Rgb, Scale::LongSide(long_side))` so the
    /// decode keeps at least that many pixels.
    pub(crate) fn rgb_fit(&self, long_side: usize) -> Rc<Plane> {
        let p = self.pixels;
        fit_once(&self.rgb_fit, p.width, p.height, long_side, |dw, dh| {
            let walked = self.measured_rows().and_then(|m| m.fit.as_ref());
            if let Some((data, _, _)) = walked.filter(|(_, w, h)| (*w, *h) == (dw, dh)) {
                return data.clone();
            }
            match &p.rgb {
                Some(rgb) => resize_area_rgb8(rgb, p.width, p.height, dw, dh),
                None if p.ycbcr.is_some() => {
                    let want = RowWants {
                        fit_long_side: Some(long_side),
                        ..RowWants::default()
                    };
                    self.rgb_rows_for(want)
                        .fit
                        .expect("the plane was asked for")
                        .0
                }
                None => {
                    let gray = self.gray_fit(long_side).expect("a decode without colour");
                    gray.data.iter().flat_map(|&v| [v, v, v]).collect()
                }
            }
        })
    }
}

/// The plane of `cache` for `long_side`, made by `make(dw, dh)` (the `w`×`h` source fitted to
/// it) the first time: each fitted plane is computed once per image and size.
fn fit_once(
    cache: &RefCell<Vec<(usize, Rc<Plane>)>>,
    w: usize,
    h: usize,
    long_side: usize,
    make: impl FnOnce(usize, usize) -> Vec<u8>,
) -> Rc<Plane> {
    if let Some((_, p)) = cache.borrow().iter().find(|(s, _)| *s == long_side) {
        return p.clone();
    }
    let (dw, dh) = fit_long_side(w, h, long_side);
    let plane = Rc::new(Plane {
        data: make(dw, dh),
        width: dw,
        height: dh,
    });
    cache.borrow_mut().push((long_side, plane.clone()));
    plane
}

/// What to measure on a planar JPEG's RGB rows while the decode makes them: every colour result
/// the requested metrics read (so one walk serves them all).
pub(crate) fn row_wants(header: &Header, opts: &Options) -> RowWants {
    let m = &opts.metrics;
    let fit_need = Needs {
        color: Color::Rgb,
        scale: Scale::LongSide(COLOR_LONG_SIDE),
    };
    let upright = !(2..=8).contains(&header.exif.orientation.unwrap_or(1));
    RowWants {
        color: m.colorfulness || m.is_grayscale,
        pixel_hash: m.pixel_hash && upright,
        fit_long_side: m
            .pixel_needs()
            .any(|n| n == fit_need)
            .then_some(COLOR_LONG_SIDE),
    }
}

impl Image<'_> {
    /// What the decode measured on the planes' RGB rows, or (when it was not asked: a caller
    /// outside the scan) one walk over them now.
    fn rgb_rows(&self) -> &RowMeasures {
        self.rgb_rows
            .get_or_init(|| self.rgb_rows_for(row_wants(self.header, self.opts)))
    }

    /// What was measured on the image's RGB rows: for a planar JPEG, its walk (made now if the
    /// decode was not asked for one); for a decoder's RGB image (`pixels.rgb`), what the decode
    /// measured, if it was asked to. The caller computes what is missing.
    fn measured_rows(&self) -> Option<&RowMeasures> {
        if self.pixels.ycbcr.is_some() {
            Some(self.rgb_rows())
        } else {
            self.rgb_rows.get().filter(|_| self.pixels.rgb.is_some())
        }
    }

    /// One more walk over the planes' RGB rows, for `want`.
    fn rgb_rows_for(&self, want: RowWants) -> RowMeasures {
        let planes: &YCbCr = self.pixels.ycbcr.as_ref().expect("a planar JPEG decode");
        measure_rgb_rows(planes, &self.pixels.luma, want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{DecodeRequest, probe_and_decode};

    #[test]
    fn reductions() {
        assert_eq!(largest_reduction(4000, 64), 8);
        assert_eq!(largest_reduction(200, 64), 2);
        assert_eq!(largest_reduction(28, 64), 1);
        assert_eq!(largest_reduction(1280, 640), 2);
    }

    /// A `w`×`h` binary PPM of a colour gradient.
    fn ppm(w: usize, h: usize) -> Vec<u8> {
        let mut data = format!("P6 {w} {h} 255\n").into_bytes();
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, 77]);
            }
        }
        data
    }

    #[test]
    fn hashes_reused_from_the_dihedral_variants_equal_the_hashes_alone() {
        // With the dihedral metrics requested, phash and dhash are their identity variants;
        // they must be the very hashes a scan of phash/dhash alone computes.
        use crate::scan::{Source, scan_one};
        let alone = Options {
            metrics: Metrics::from_names(&["phash", "dhash", "ahash"]).unwrap(),
            ..Options::default()
        };
        let all = Options::default();
        for (i, (w, h)) in [(28, 28), (9, 8), (33, 70), (200, 150), (1, 1)]
            .into_iter()
            .enumerate()
        {
            let mut gray = format!("P5 {w} {h} 255\n").into_bytes();
            gray.extend(crate::test_support::noise_bytes(w * h, i as u64));
            for data in [gray, ppm(w, h)] {
                let (a, b) = (
                    scan_one(Source::Bytes(&data), &alone),
                    scan_one(Source::Bytes(&data), &all),
                );
                assert!(a.error.is_none() && b.error.is_none(), "{w}x{h}");
                assert_eq!(
                    (a.phash, a.dhash, a.ahash),
                    (b.phash, b.dhash, b.ahash),
                    "{w}x{h}"
                );
                assert!(a.phash.is_some() && a.dhash.is_some());
            }
        }
    }

    /// `data` decoded at full size with its RGB plane.
    fn decode_full_rgb(data: &[u8], opts: &Options) -> (Header, Decoded) {
        let (header, decoded) = probe_and_decode(data, opts.max_pixels, |_| {
            Some(DecodeRequest {
                reduction: 1,
                need_rgb: true,
                rgb_rows: RowWants::default(),
            })
        })
        .unwrap();
        (header, decoded.unwrap().unwrap())
    }

    #[test]
    fn shared_rgb_plane_is_resized_once_and_matches_the_kernel() {
        let (w, h) = (1300, 700);
        let data = ppm(w, h);
        let opts = Options::default();
        let (header, d) = decode_full_rgb(&data, &opts);
        let img = Image::new(&d, &header, &opts);
        let a = img.rgb_fit(COLOR_LONG_SIDE);
        let b = img.rgb_fit(COLOR_LONG_SIDE);
        assert!(
            Rc::ptr_eq(&a, &b),
            "the second metric must reuse the first one's plane"
        );
        assert_eq!((a.width, a.height), (512, 276));
        let rgb = d.pixels.rgb.as_ref().unwrap();
        assert_eq!(a.data, resize_area_rgb8(rgb, w, h, 512, 276));
    }

    #[test]
    fn banded_luma_walk_gives_the_separate_passes_results() {
        // Large enough for the banded walk; odd sizes so the last band, box block and area row
        // are partial; a textured plane so every statistic is non-trivial.
        for (w, h) in [(1301, 707), (700, 1203), (2049, 131)] {
            let mut data = format!("P5 {w} {h} 255\n").into_bytes();
            let noise = crate::test_support::noise_bytes(w * h, (w + h) as u64);
            data.extend((0..w * h).map(|i| ((i % w) / 7 + (i / w) / 5) as u8 ^ (noise[i] & 15)));
            let opts = Options::default();
            let (header, d) = decode_full_rgb(&data, &opts);
            assert!(w * h >= LUMA_PASS_MIN_PIXELS);
            let img = Image::new(&d, &header, &opts);
            let luma = &d.pixels.luma;
            assert_eq!(img.luma_stats(), stats::luma_stats(&stats::histogram(luma)));
            let (lap, noise) = img.derivatives();
            let want = stats::second_derivatives(luma, w, h, true);
            assert_eq!(
                (lap.to_bits(), noise.to_bits()),
                (want.0.to_bits(), want.1.to_bits())
            );
            let (dw, dh) = fit_long_side(w, h, SHARPNESS_LONG_SIDE);
            let small = resize_area_l8(luma, w, h, dw, dh);
            let sharp = stats::second_derivatives(&small, dw, dh, false).0;
            assert_eq!(img.sharpness().to_bits(), sharp.to_bits(), "{w}x{h}");
            assert_eq!(
                img.hash_plane(),
                &img.upright_reduced(HASH_MIN_SIDE),
                "{w}x{h}"
            );
            assert!(img.luma_pass.get().is_some(), "the banded walk ran");
        }
    }

    #[test]
    fn plans_follow_the_table() {
        // A PPM header is enough for a probe (no pixels are read).
        let header = |w: u32, h: u32| {
            let data = format!("P6 {w} {h} 255\n").into_bytes();
            crate::decode::probe(&data, u64::MAX).unwrap()
        };
        let opts = |names: &[&str], analysis_size| Options {
            metrics: Metrics::from_names(names).unwrap(),
            analysis_size,
            ..Options::default()
        };
        let big = header(4000, 3000);
        // PPM cannot be reduced, but the planner's answer does not depend on the format.
        assert_eq!(reduction_for(&big, &opts(&["brightness"], None)), 8);
        assert_eq!(reduction_for(&big, &opts(&["phash"], None)), 8);
        assert_eq!(reduction_for(&big, &opts(&["sharpness"], None)), 4);
        assert_eq!(reduction_for(&big, &opts(&["blur"], None)), 1);
        assert_eq!(reduction_for(&big, &opts(&["blur"], Some(1000))), 4);
        assert_eq!(reduction_for(&big, &opts(&["phash", "entropy"], None)), 1);
        let m = |names: &[&str]| Metrics::from_names(names).unwrap();
        assert!(!m(&["exif", "content_hash"]).needs_pixels());
        assert!(m(&["colorfulness"]).needs_rgb() && !m(&["phash"]).needs_rgb());
        assert!(m(&["blur"]).native(None) && !m(&["blur"]).native(Some(640)));
    }
}
