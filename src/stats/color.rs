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

crate::cpu::dispatch! {
/// Colourfulness and the grayscale test of interleaved RGB, in one pass with integer sums.
pub fn color_stats(rgb: &[u8]) -> ColorStats {
    let n = (rgb.len() / 3) as u64;
    if n == 0 {
        return ColorStats {
            colorfulness: f64::NAN,
            is_grayscale: true,
        };
    }
    // yb is a half-integer: accumulate 2·yb to stay in integers. Chunks of 4096 pixels keep the
    // i32 sums of squares below 2^31 (510² · 4096 ≈ 1.07e9).
    let (mut rg1, mut rg2, mut yb1, mut yb2, mut colored) = (0i64, 0i64, 0i64, 0i64, 0u64);
    for chunk in rgb.chunks(3 * 4096) {
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
        rg1 += a1 as i64;
        rg2 += a2 as i64;
        yb1 += b1 as i64;
        yb2 += b2 as i64;
        colored += c as u64;
    }
    let nf = n as f64;
    let mrg = rg1 as f64 / nf;
    let myb = yb1 as f64 / nf / 2.0;
    let vrg = (rg2 as f64 / nf - mrg * mrg).max(0.0);
    let vyb = (yb2 as f64 / nf / 4.0 - myb * myb).max(0.0);
    ColorStats {
        colorfulness: (vrg + vyb).sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt(),
        is_grayscale: (colored as f64) < GRAY_MAX_COLORED_SHARE * nf,
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
        crate::cpu::testing::same_on_every_level("color_stats", || {
            let c = color_stats(&rgb);
            (c.colorfulness.to_bits(), c.is_grayscale)
        });
    }
}
