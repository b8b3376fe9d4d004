//! Colour statistics of interleaved RGB: Hasler–Süsstrunk colourfulness and the grayscale test.

/// A pixel is coloured when max(R,G,B) − min(R,G,B) exceeds this many levels; JPEG chroma noise
/// on grey content stays well below it.
pub const GRAY_SPREAD: u8 = 12;
/// An image is grayscale when fewer than this share of its pixels is coloured.
pub const GRAY_MAX_COLORED_SHARE: f64 = 0.005;

/// Colour statistics of interleaved RGB in one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorStats {
    /// Hasler & Süsstrunk (2003): sqrt(σrg²+σyb²) + 0.3·sqrt(μrg²+μyb²), rg = R−G, yb = ½(R+G)−B.
    pub colorfulness: f64,
    /// Fewer than GRAY_MAX_COLORED_SHARE of pixels have a channel spread above GRAY_SPREAD.
    pub is_grayscale: bool,
}

/// Integer sums colour statistics are made of; rows can be added in any split (the totals are
/// exact), so a decoder streaming RGB rows gets the bytes [`color_stats`] gives on the whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColorSums {
    rg1: i64,
    rg2: i64,
    yb1: i64,
    yb2: i64,
    colored: u64,
    n: u64,
}

impl ColorSums {
    /// Add interleaved RGB pixels.
    pub fn add(&mut self, rgb: &[u8]) {
        color_sums_add(self, rgb);
    }

    /// Add sums a caller took itself over `n` pixels (a decoder's fused row kernel): Σ(R−G),
    /// Σ(R−G)², Σ(R+G−2B), Σ(R+G−2B)² and the count of pixels whose channel spread exceeds
    /// [`GRAY_SPREAD`].
    pub fn add_parts(&mut self, rg: (i64, i64), yb2: (i64, i64), colored: u64, n: u64) {
        self.rg1 += rg.0;
        self.rg2 += rg.1;
        self.yb1 += yb2.0;
        self.yb2 += yb2.1;
        self.colored += colored;
        self.n += n;
    }

    /// Colourfulness and the grayscale test of every pixel added.
    pub fn finish(&self) -> ColorStats {
        if self.n == 0 {
            return ColorStats {
                colorfulness: f64::NAN,
                is_grayscale: true,
            };
        }
        let nf = self.n as f64;
        let mrg = self.rg1 as f64 / nf;
        let myb = self.yb1 as f64 / nf / 2.0;
        let vrg = (self.rg2 as f64 / nf - mrg * mrg).max(0.0);
        let vyb = (self.yb2 as f64 / nf / 4.0 - myb * myb).max(0.0);
        ColorStats {
            colorfulness: (vrg + vyb).sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt(),
            is_grayscale: (self.colored as f64) < GRAY_MAX_COLORED_SHARE * nf,
        }
    }
}

/// Colourfulness and the grayscale test of interleaved RGB, in one pass with integer sums.
pub fn color_stats(rgb: &[u8]) -> ColorStats {
    let mut sums = ColorSums::default();
    sums.add(rgb);
    sums.finish()
}

crate::cpu::dispatch_avx512! {
/// [`ColorSums::add`], vectorised.
pub fn color_sums_add(s: &mut ColorSums, rgb: &[u8]) {
    // yb is a half-integer: accumulate 2·yb to stay in integers. Chunks of 4096 pixels keep the
    // i32 sums of squares below 2^31 (510² · 4096 ≈ 1.07e9).
    s.n += (rgb.len() / 3) as u64;
    for chunk in rgb[..rgb.len() / 3 * 3].chunks(3 * 4096) {
        let (mut a1, mut a2, mut b1, mut b2, mut c) = (0i32, 0i32, 0i32, 0i32, 0u32);
        for p in chunk.chunks_exact(3) {
            let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
            let rg = r - g;
            let yb = r + g - 2 * b;
            a1 += rg;
            a2 += rg * rg;
            b1 += yb;
            b2 += yb * yb;
            let spread = r.max(g).max(b) - r.min(g).min(b);
            c += (spread > GRAY_SPREAD as i32) as u32;
        }
        s.rg1 += a1 as i64;
        s.rg2 += a2 as i64;
        s.yb1 += b1 as i64;
        s.yb2 += b2 as i64;
        s.colored += c as u64;
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colorfulness_and_grayscale() {
        let gray: Vec<u8> = (0..300).map(|i| (i / 3) as u8).collect();
        let c = color_stats(&gray);
        assert!(c.is_grayscale);
        assert_eq!(c.colorfulness, 0.0);
        let red: Vec<u8> = (0..100).flat_map(|_| [255u8, 0, 0]).collect();
        let c = color_stats(&red);
        assert!(!c.is_grayscale);
        // rg = 255, yb = 127.5, no variance: 0.3 * sqrt(255² + 127.5²).
        assert!((c.colorfulness - 0.3 * (255f64.powi(2) + 127.5f64.powi(2)).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn color_stats_are_the_same_on_every_simd_level() {
        let rgb: Vec<u8> = (0..3 * 10_007u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        crate::cpu::testing::same_on_every_level("color_sums_add", || {
            let c = color_stats(&rgb);
            (c.colorfulness.to_bits(), c.is_grayscale)
        });
    }

    #[test]
    fn rows_added_in_any_split_give_the_whole_image_statistics() {
        let rgb: Vec<u8> = (0..3 * 10_007u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut sums = ColorSums::default();
        for row in rgb.chunks(3 * 333) {
            sums.add(row);
        }
        assert_eq!(sums.finish(), color_stats(&rgb));
    }
}
