//! What the scan measures on a planar JPEG's RGB rows while they are made (`jpeg.rs` decodes a
//! full-size YCbCr JPEG to its planes; `planes::YCbCr` turns them into libjpeg's exact RGB one
//! row at a time). Colour statistics, `pixel_hash` and the 512-px colour plane are taken from
//! those rows in the same walk that makes the luma plane, so the full-size RGB image is never
//! stored. Each result has the bytes the RGB decode's whole-image kernels give (`color_stats`,
//! `hash::pixel_hash`, `resize_area_rgb8`): integer sums, the same xxh3 stream, the same float
//! additions in the same order.

use crate::planes::YCbCr;
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
