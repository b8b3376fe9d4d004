//! What the scan measures on an image's RGB rows while they are made. A full-size YCbCr JPEG is
//! decoded to its planes (`jpeg.rs`) and `planes::YCbCr` turns them into libjpeg's exact RGB one
//! row at a time, so the full-size RGB image is never stored; a decoder that makes a whole RGB
//! (or RGBA) image walks down its rows once for the luma plane (and the compositing) and
//! everything below, instead of one pass over the image per result — on a large image each
//! pass read it from memory again. Colour statistics, `pixel_hash` and the 512-px colour plane
//! are taken from the rows in that walk. Each result has the bytes the whole-image kernels give
//! (`color_stats`, `hash::pixel_hash`, `resize_area_rgb8`): integer sums, the same xxh3 stream,
//! the same float additions in the same order.

use crate::planes::{
    YCbCr, buffers, luma_and_color_sums, luma_from_rgb_into, rgba_background, rgba_over,
};
use crate::resize::{AreaRgbStream, fit_long_side};
use crate::stats::{ColorStats, ColorSums};
use xxhash_rust::xxh3::{Xxh3, xxh3_64_with_seed};

/// Which results a walk over the RGB rows computes (nothing by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowWants {
    /// Colourfulness and the grayscale test.
    pub color: bool,
    /// `pixel_hash` of the stored (upright) picture.
    pub pixel_hash: bool,
    /// The RGB plane area-resized to this long side.
    pub fit_long_side: Option<usize>,
}

impl RowWants {
    /// Nothing from the rows (`Default`, usable in `const` items).
    pub const NONE: RowWants = RowWants {
        color: false,
        pixel_hash: false,
        fit_long_side: None,
    };

    pub fn any(&self) -> bool {
        self.color || self.pixel_hash || self.fit_long_side.is_some()
    }
}

/// What one walk measured: `None` for what was not wanted.
#[derive(Debug, Clone, Default)]
pub struct RowMeasures {
    pub color: Option<ColorStats>,
    pub pixel_hash: Option<u64>,
    /// `(rgb, width, height)` of the resized plane.
    pub fit: Option<(Vec<u8>, usize, usize)>,
}

/// The accumulators of one walk.
struct Measuring {
    sums: Option<ColorSums>,
    hasher: Option<Box<Xxh3>>,
    seed: u64,
    all_gray: bool,
    fit: Option<(AreaRgbStream, usize, usize)>,
}

impl Measuring {
    fn new(want: RowWants, w: usize, h: usize) -> Self {
        // `hash::pixel_hash` of an upright image: xxh3 of the RGB bytes seeded with the size, or
        // of the luma when every pixel is gray (luma = R = G = B there).
        let seed = ((w as u64) << 32) ^ h as u64;
        Measuring {
            sums: want.color.then(ColorSums::default),
            hasher: want.pixel_hash.then(|| Box::new(Xxh3::with_seed(seed))),
            seed,
            all_gray: true,
            fit: want.fit_long_side.map(|s| {
                let (dw, dh) = fit_long_side(w, h, s);
                (AreaRgbStream::new(w, h, dw, dh), dw, dh)
            }),
        }
    }

    fn push(&mut self, row: &[u8]) {
        if let Some(s) = &mut self.sums {
            s.add(row);
        }
        if let Some(h) = &mut self.hasher {
            h.update(row);
            self.all_gray =
                self.all_gray && row.chunks_exact(3).all(|c| c[0] == c[1] && c[1] == c[2]);
        }
        if let Some((f, _, _)) = &mut self.fit {
            f.push(row);
        }
    }

    fn finish(self, luma: &[u8]) -> RowMeasures {
        let (all_gray, seed) = (self.all_gray, self.seed);
        RowMeasures {
            color: self.sums.map(|s| s.finish()),
            pixel_hash: self.hasher.map(|h| {
                if all_gray {
                    xxh3_64_with_seed(luma, seed)
                } else {
                    h.digest()
                }
            }),
            fit: self.fit.map(|(f, w, h)| (f.finish(), w, h)),
        }
    }
}

/// The luma plane and, in the same walk over the RGB rows, what `want` asks for.
pub fn luma_and_measures(p: &YCbCr, want: RowWants) -> (Vec<u8>, RowMeasures) {
    if !want.any() {
        return (p.luma(), RowMeasures::default());
    }
    let mut m = Measuring::new(want, p.width, p.height);
    // The colour sums are taken inside the conversion kernel, not from the rows after it.
    let luma = match m.sums.take() {
        Some(mut sums) => {
            let luma = p.luma_color_and_rgb_rows(&mut sums, |row| m.push(row));
            m.sums = Some(sums);
            luma
        }
        None => p.luma_and_rgb_rows(|row| m.push(row)),
    };
    let measures = m.finish(&luma);
    (luma, measures)
}

/// A second walk for results the first one was not asked for.
pub fn measure_rgb_rows(p: &YCbCr, luma: &[u8], want: RowWants) -> RowMeasures {
    let mut m = Measuring::new(want, p.width, p.height);
    p.for_each_rgb_row(|row| m.push(row));
    m.finish(luma)
}

/// The luma plane of a `w`×`h` RGB image (Pillow's) and, in the same walk down its rows, what
/// `want` asks for (`None` when it asks for nothing).
pub fn luma_and_measures_of_rgb(
    rgb: &[u8],
    w: usize,
    h: usize,
    want: RowWants,
) -> (Vec<u8>, Option<RowMeasures>) {
    // Every byte is written below.
    let mut luma = buffers::overwritten(w * h);
    if !want.any() {
        luma_from_rgb_into(rgb, &mut luma);
        return (luma, None);
    }
    let mut m = Measuring::new(want, w, h);
    // The colour sums are taken with the luma, in one pass over the row.
    let mut sums = m.sums.take();
    for (row, l) in rgb.chunks_exact(3 * w).zip(luma.chunks_exact_mut(w)) {
        match &mut sums {
            Some(s) => luma_and_color_sums(row, l, s),
            None => luma_from_rgb_into(row, l),
        }
        m.push(row);
    }
    m.sums = sums;
    let measures = m.finish(&luma);
    (luma, Some(measures))
}

/// A `w`×`h` RGBA image over its contrasting background (`planes::rgba_composite_slice`'s
/// bytes), made one row at a time, with what `want` asks for measured on each row while it is in
/// cache: `(luma, rgb, measures)`.
pub fn composite_and_measures(
    rgba: &[u8],
    w: usize,
    h: usize,
    want: RowWants,
) -> (Vec<u8>, Vec<u8>, Option<RowMeasures>) {
    let bg = rgba_background(&rgba[..4 * w * h]);
    // `rgba_over` writes every byte of both.
    let mut rgb = buffers::overwritten(3 * w * h);
    let mut luma = buffers::overwritten(w * h);
    let mut m = want.any().then(|| Measuring::new(want, w, h));
    let rows = rgba.chunks_exact(4 * w).zip(rgb.chunks_exact_mut(3 * w));
    for ((src, row), l) in rows.zip(luma.chunks_exact_mut(w)) {
        rgba_over(src, bg, row, l);
        if let Some(m) = &mut m {
            m.push(row);
        }
    }
    let measures = m.map(|m| m.finish(&luma));
    (luma, rgb, measures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planes::{Pixels, luma_from_rgb, rgba_composite_slice};
    use crate::resize::resize_area_rgb8;

    /// The walks give the whole-image kernels' bytes: luma, compositing, colour statistics,
    /// `pixel_hash` (colour and all-gray images) and the 512-px plane.
    #[test]
    fn walks_equal_the_whole_image_kernels() {
        let all = RowWants {
            color: true,
            pixel_hash: true,
            fit_long_side: Some(512),
        };
        let noise = crate::test_support::noise_bytes(4 * 1300 * 700, 3);
        for (w, h) in [(1300, 700), (700, 1300), (1, 1), (17, 3), (600, 1)] {
            let rgba = &noise[..4 * w * h];
            let colour: Vec<u8> = rgba
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            let gray: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0]; 3]).collect();
            let check = |rgb: &[u8], luma: &[u8], m: RowMeasures, what: &str| {
                let p = Pixels {
                    width: w,
                    height: h,
                    luma: luma.to_vec(),
                    rgb: Some(rgb.to_vec()),
                    ycbcr: None,
                };
                assert_eq!(m.color, Some(crate::stats::color_stats(rgb)), "{what}");
                assert_eq!(m.pixel_hash, Some(crate::hash::pixel_hash(&p, 1)), "{what}");
                let (dw, dh) = fit_long_side(w, h, 512);
                let fit = resize_area_rgb8(rgb, w, h, dw, dh);
                assert_eq!(m.fit, Some((fit, dw, dh)), "{what}");
            };
            for (name, rgb) in [("colour", &colour), ("gray", &gray)] {
                let (luma, m) = luma_and_measures_of_rgb(rgb, w, h, all);
                assert_eq!(luma, luma_from_rgb(rgb), "{name} {w}x{h}");
                check(rgb, &luma, m.expect("asked"), &format!("{name} {w}x{h}"));
                let (luma_only, none) = luma_and_measures_of_rgb(rgb, w, h, RowWants::NONE);
                assert!(none.is_none() && luma_only == luma);
            }
            let (luma, rgb, m) = composite_and_measures(rgba, w, h, all);
            let (want_luma, want_rgb) = rgba_composite_slice(rgba);
            assert_eq!(
                (&luma, Some(&rgb)),
                (&want_luma, want_rgb.as_ref()),
                "{w}x{h}"
            );
            check(&rgb, &luma, m.expect("asked"), &format!("rgba {w}x{h}"));
        }
    }
}
