//! A colour signature packed in a `u64` whose Hamming distance is a colour distance, so two
//! pictures with the same luma layout in different colours (a black|white split and a navy|red
//! one; a logo in two colour schemes) can be told apart by the same XOR + popcount join that
//! compares the perceptual hashes (which see luma only).
//!
//! # Encoding
//!
//! The displayed picture is cut into 2×2 cells (left/right and top/bottom halves; with an odd
//! width or height the middle column or row belongs to no cell, so mirroring or rotating the
//! picture permutes the cells exactly). For each cell, from the sums of R, G, B over its `n`
//! pixels, two opponent chroma values normalised by the cell's lightness (so a brightness change
//! barely moves them; the `+ 16` levels keep dark, noisy cells from swinging):
//!
//! ```text
//! a = 3 (ΣR − ΣG)         / (ΣR + ΣG + ΣB + 48 n)      red (+) – green (−)
//! b = 1.5 (ΣR + ΣG − 2ΣB) / (ΣR + ΣG + ΣB + 48 n)      yellow (+) – blue (−)
//! ```
//!
//! i.e. `(R̄ − Ḡ) / (Ȳ + 16)` and `((R̄ + Ḡ)/2 − B̄) / (Ȳ + 16)` with `Ȳ = (R̄ + Ḡ + B̄)/3`. Each is
//! quantised to a level 0–8, `q = ⌊4.5 + 4 tanh(v / 0.6)⌋` (neutral = 4; the tanh spends the
//! levels where photos are, and saturated colours still land at the ends), written as the
//! thermometer comparisons against [`THRESHOLDS`] (`v ≥ 0.6 atanh((k − 4.5)/4)`, k = 1..8) so
//! the value is the same on every platform. Value `i = 2·cell + channel` (cells top-left,
//! top-right, bottom-left, bottom-right; channel 0 = a, 1 = b) takes bits `8i .. 8i+7`, and bit
//! `8i + k − 1` is set iff `v ≥ THRESHOLDS[k − 1]`: a unary code, so the Hamming distance of two
//! signatures is the L1 distance of their 8 levels (0–64). A neutral picture (gray, black, white)
//! is `0x0f0f0f0f0f0f0f0f`; a cell without pixels counts as neutral.

/// Levels of lightness added to each cell's mean before dividing the chroma by it.
pub const COLOR_SIGNATURE_DARK_FLOOR: f64 = 16.0;

/// `0.6 · atanh((k − 4.5) / 4)` for k = 1..8: the chroma values at which the level steps up.
pub const THRESHOLDS: [f64; 8] = [
    -0.812415060330663,
    -0.43990112063802816,
    -0.23653720810928103,
    -0.07539432848427181,
    0.07539432848427181,
    0.23653720810928103,
    0.43990112063802816,
    0.812415060330663,
];

/// The code of a neutral picture: level 4 in every value.
pub const NEUTRAL_SIGNATURE: u64 = 0x0f0f_0f0f_0f0f_0f0f;

/// Sums of R, G, B and the pixel count of the 2×2 cells of the *stored* plane (row-major: top-left,
/// top-right, bottom-left, bottom-right); the middle column / row of an odd size is left out.
fn cell_sums(rgb: &[u8], w: usize, h: usize) -> [[u64; 4]; 4] {
    let mut cells = [[0u64; 4]; 4];
    for y in 0..h {
        let cy = match (2 * y + 1).cmp(&h) {
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Greater => 1,
            std::cmp::Ordering::Equal => continue,
        };
        let row = &rgb[3 * y * w..3 * (y + 1) * w];
        // Halves of the row: [0, w/2) and [w - w/2, w); equal length, the odd middle skipped.
        let half = w / 2;
        for (cx, part) in [(0, &row[..3 * half]), (1, &row[3 * (w - half)..])] {
            let (mut r, mut g, mut b) = (0u64, 0u64, 0u64);
            for p in part.chunks_exact(3) {
                r += p[0] as u64;
                g += p[1] as u64;
                b += p[2] as u64;
            }
            let c = &mut cells[2 * cy + cx];
            c[0] += r;
            c[1] += g;
            c[2] += b;
            c[3] += half as u64;
        }
    }
    cells
}

/// The level bits of one chroma value: bit k − 1 set iff `v >= THRESHOLDS[k − 1]`.
fn thermometer(v: f64) -> u64 {
    THRESHOLDS
        .iter()
        .enumerate()
        .map(|(k, &t)| ((v >= t) as u64) << k)
        .sum()
}

/// The two chroma values `(a, b)` of one cell from its sums (0 for an empty cell).
pub fn cell_chroma(sr: u64, sg: u64, sb: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 0.0);
    }
    let den = (sr + sg + sb) as f64 + 3.0 * COLOR_SIGNATURE_DARK_FLOOR * n as f64;
    let a = 3.0 * (sr as f64 - sg as f64) / den;
    let b = 1.5 * ((sr + sg) as f64 - 2.0 * sb as f64) / den;
    (a, b)
}

/// The colour signature of interleaved RGB (`w`×`h`, stored order) as displayed under EXIF
/// `orientation` (1–8; other values: as stored). See the module documentation for the encoding.
pub fn color_signature(rgb: &[u8], w: usize, h: usize, orientation: u8) -> u64 {
    assert_eq!(rgb.len(), 3 * w * h, "RGB plane size");
    let stored = cell_sums(rgb, w, h);
    let mut code = 0u64;
    for cy in 0..2 {
        for cx in 0..2 {
            // The stored cell shown at displayed cell (cx, cy): the cells form a 2×2 picture.
            let (sx, sy) = crate::planes::source_pixel(cx, cy, 2, 2, orientation);
            let [sr, sg, sb, n] = stored[2 * sy + sx];
            let (a, b) = cell_chroma(sr, sg, sb, n);
            let i = 2 * (2 * cy + cx);
            code |= thermometer(a) << (8 * i);
            code |= thermometer(b) << (8 * (i + 1));
        }
    }
    code
}

/// [`color_signature`] of a gray picture (R = G = B, any size and orientation): every cell's
/// chroma is exactly 0 (ΣR = ΣG = ΣB) or the cell is empty, so the code is always
/// [`NEUTRAL_SIGNATURE`] and the RGB plane need not be built.
pub fn color_signature_gray() -> u64 {
    NEUTRAL_SIGNATURE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: usize, h: usize, left: [u8; 3], right: [u8; 3]) -> Vec<u8> {
        (0..w * h)
            .flat_map(|i| if i % w < w / 2 { left } else { right })
            .collect()
    }

    #[test]
    fn thresholds_are_the_tanh_levels() {
        for (k, &t) in THRESHOLDS.iter().enumerate() {
            let want = 0.6 * (((k + 1) as f64 - 4.5) / 4.0).atanh();
            assert!((t - want).abs() < 1e-9, "{k}: {t} vs {want}");
        }
        for v in [-3.0, -0.5, -0.1, 0.0, 0.03, 0.2, 0.9, 5.0] {
            let q = (4.5 + 4.0 * (v / 0.6f64).tanh()).floor().clamp(0.0, 8.0) as u32;
            assert_eq!(thermometer(v).count_ones(), q, "{v}");
            assert_eq!(thermometer(v), (1u64 << q) - 1, "unary code");
        }
    }

    #[test]
    fn neutral_pictures_and_hamming_as_l1() {
        for v in [0u8, 128, 255] {
            let gray = solid(10, 6, [v; 3], [v; 3]);
            assert_eq!(color_signature(&gray, 10, 6, 1), NEUTRAL_SIGNATURE);
        }
        let bw = solid(10, 6, [0; 3], [255; 3]);
        let navy_red = solid(10, 6, [0, 0, 128], [255, 0, 0]);
        let (x, y) = (
            color_signature(&bw, 10, 6, 1),
            color_signature(&navy_red, 10, 6, 1),
        );
        assert_eq!(x, NEUTRAL_SIGNATURE);
        // navy: a = 0 (level 4), b = −1.5·256/(128 + 96) → level 0; red: a, b → level 8.
        let levels =
            |c: u64| -> Vec<u32> { (0..8).map(|i| (c >> (8 * i) & 0xff).count_ones()).collect() };
        assert_eq!(levels(y), vec![4, 0, 8, 8, 4, 0, 8, 8]);
        let l1: u32 = levels(x)
            .iter()
            .zip(levels(y))
            .map(|(a, b)| a.abs_diff(b))
            .sum();
        assert_eq!((x ^ y).count_ones(), l1);
        assert_eq!(l1, 24);
    }

    #[test]
    fn orientation_permutes_the_cells() {
        // A picture with four differently coloured quadrants (odd size: the middle is skipped).
        let (w, h) = (9, 7);
        let quad = [[200, 30, 30], [30, 200, 30], [30, 30, 200], [200, 200, 30]];
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                quad[2 * usize::from(2 * y >= h) + usize::from(2 * x >= w)]
            })
            .collect();
        let stored = color_signature(&rgb, w, h, 1);
        for o in 2..=8u8 {
            let (plane, nw, nh) = orient_rgb(&rgb, w, h, o);
            assert_eq!(
                color_signature(&rgb, w, h, o),
                color_signature(&plane, nw, nh, 1),
                "{o}"
            );
        }
        assert_ne!(color_signature(&rgb, w, h, 2), stored);
    }

    fn orient_rgb(src: &[u8], w: usize, h: usize, o: u8) -> (Vec<u8>, usize, usize) {
        let (nw, nh) = if o >= 5 { (h, w) } else { (w, h) };
        let mut out = Vec::with_capacity(src.len());
        for y in 0..nh {
            for x in 0..nw {
                let (sx, sy) = crate::planes::source_pixel(x, y, w, h, o);
                out.extend_from_slice(&src[3 * (sy * w + sx)..3 * (sy * w + sx) + 3]);
            }
        }
        (out, nw, nh)
    }

    #[test]
    fn gray_pictures_are_neutral_as_computed() {
        for (i, (w, h)) in [(1, 1), (2, 1), (1, 2), (3, 3), (28, 28), (27, 31)]
            .into_iter()
            .enumerate()
        {
            let gray = crate::test_support::noise_bytes(w * h, i as u64);
            let rgb: Vec<u8> = gray.iter().flat_map(|&v| [v, v, v]).collect();
            for orientation in 1..=8 {
                assert_eq!(
                    color_signature(&rgb, w, h, orientation),
                    color_signature_gray(),
                    "{w}x{h} orientation {orientation}"
                );
            }
        }
    }
}
