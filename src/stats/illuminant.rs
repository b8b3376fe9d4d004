//! The colour of the light: mean HSV saturation and the gray-world chroma in CIELAB.
//!
//! Gray world: averaged over a scene, surfaces are roughly neutral, so the mean chroma of the image
//! is the cast of the illuminant. Tungsten and sodium light read warm (b* > 0), shade and
//! fluorescent light cool (b* < 0) or green (a* < 0). Fog, snow and dusk lower the saturation.
//!
//! CIELAB from 8-bit sRGB with the exact IEC 61966-2-1 transfer (a 256-entry table), the sRGB →
//! XYZ matrix for D65, and the reference white taken as the matrix applied to RGB = (1, 1, 1), so
//! every neutral grey has a* = b* = 0 exactly. a* and b* are computed per pixel and averaged (the
//! mean chroma, not the chroma of the mean colour: a red and a green half do not cancel to the
//! chroma of brown).

use std::sync::OnceLock;

/// sRGB (D65) → XYZ, IEC 61966-2-1.
const SRGB_TO_XYZ: [[f32; 3]; 3] = [
    [0.412_456_4, 0.357_576_1, 0.180_437_5],
    [0.212_672_9, 0.715_152_2, 0.072_175_0],
    [0.019_333_9, 0.119_192, 0.950_304_1],
];

/// Mean colour statistics of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Illuminant {
    /// Mean HSV saturation (max − min) / max per pixel (0 where max = 0), in 0–1.
    pub saturation: f64,
    /// Mean CIELAB b* (yellow +, blue −), CIELAB units (about ±100).
    pub warmth: f64,
    /// Mean CIELAB a* (magenta +, green −), CIELAB units.
    pub tint: f64,
}

impl Illuminant {
    /// The means of per-pixel sums over `n` pixels (NaN for none: 0/0).
    #[inline]
    fn from_sums(s_sum: f64, a_sum: f64, b_sum: f64, n: usize) -> Self {
        let nf = n as f64;
        Self {
            saturation: s_sum / nf,
            warmth: b_sum / nf,
            tint: a_sum / nf,
        }
    }
}

/// Exact sRGB decoding of every 8-bit level to linear light in 0–1.
fn srgb_to_linear_table() -> &'static [f32; 256] {
    static TABLE: OnceLock<[f32; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let c = i as f64 / 255.0;
            let lin = if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            };
            lin as f32
        })
    })
}

/// Cube root of t > 0 to f32 precision without a libm call, so the pixel loop vectorises: an
/// exponent-thirding bit trick (within 5 %), then two Halley steps (error cubes each time).
#[inline(always)]
fn cbrt_fast(t: f32) -> f32 {
    let mut y = f32::from_bits(t.to_bits() / 3 + 709_921_077);
    for _ in 0..2 {
        let y3 = y * y * y;
        y *= (y3 + 2.0 * t) / (2.0 * y3 + t);
    }
    y
}

/// CIELAB f(t) = t^(1/3) above (6/29)³, else the linear toe t / (3 (6/29)²) + 4/29.
#[inline(always)]
fn lab_f(t: f32) -> f32 {
    const EPS: f32 = 216.0 / 24389.0; // (6/29)^3
    const SLOPE: f32 = 841.0 / 108.0; // 1 / (3 (6/29)^2)
    let root = cbrt_fast(t.max(EPS));
    let toe = t * SLOPE + 4.0 / 29.0;
    if t > EPS { root } else { toe }
}

/// One pixel's `(saturation, a*, b*)`. A function, not a closure, so that it can be forced
/// inline: called out of line (as LLVM chose for the closure) the lane loops do not vectorise.
#[inline(always)]
fn pixel_values(p: &[u8], lut: &[f32; 256], scale: &[[f32; 3]; 3]) -> (f32, f32, f32) {
    let (r8, g8, b8) = (p[0], p[1], p[2]);
    let mx = r8.max(g8).max(b8);
    let mn = r8.min(g8).min(b8);
    // max(mx, 1): a black pixel gives 0 / 1 = 0, branch-free.
    let sat = (mx - mn) as f32 / mx.max(1) as f32;
    let (r, g, bl) = (lut[r8 as usize], lut[g8 as usize], lut[b8 as usize]);
    let fx = lab_f(scale[0][0] * r + scale[0][1] * g + scale[0][2] * bl);
    let fy = lab_f(scale[1][0] * r + scale[1][1] * g + scale[1][2] * bl);
    let fz = lab_f(scale[2][0] * r + scale[2][1] * g + scale[2][2] * bl);
    (sat, 500.0 * (fx - fy), 200.0 * (fy - fz))
}

/// sRGB → XYZ rows divided by the reference white (XYZ of RGB = 1, 1, 1), so that every neutral
/// grey has X/Xw = Y/Yw = Z/Zw.
fn xyz_over_white() -> [[f32; 3]; 3] {
    let m = SRGB_TO_XYZ;
    let white: [f32; 3] = std::array::from_fn(|i| m[i][0] + m[i][1] + m[i][2]);
    std::array::from_fn(|i| std::array::from_fn(|j| m[i][j] / white[i]))
}

/// `pixel_values` of every grey (v, v, v): gray pictures (every gray-source decode, whose RGB
/// plane repeats the luma) look their values up instead of computing three cube roots a pixel.
/// The same function fills the table, so a looked-up value has the bits of a computed one.
fn gray_values() -> &'static [[f32; 3]; 256] {
    static TABLE: OnceLock<[[f32; 3]; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let (lut, scale) = (srgb_to_linear_table(), xyz_over_white());
        std::array::from_fn(|v| {
            let (s, a, b) = pixel_values(&[v as u8; 3], lut, &scale);
            [s, a, b]
        })
    })
}

/// Every pixel of interleaved RGB has R = G = B.
#[inline(always)]
fn all_gray(rgb: &[u8]) -> bool {
    rgb.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2])
}

/// `saturation`, `warmth` and `tint` of interleaved 8-bit RGB in one pass. NaN for no pixels.
pub fn illuminant(rgb: &[u8]) -> Illuminant {
    illuminant_kernel(rgb, true)
}

/// [`illuminant`] of a gray picture given as its one plane: the same bits as `illuminant` on the
/// RGB plane repeating it (R = G = B) — the same table values summed in the same order (LANES
/// f32 lanes per 1024-pixel block, then pixel by pixel in f64) — without building that plane.
pub fn illuminant_gray(gray: &[u8]) -> Illuminant {
    const LANES: usize = 8;
    let n = gray.len();
    if n == 0 {
        return Illuminant::from_sums(0.0, 0.0, 0.0, 0);
    }
    if n < HISTOGRAM_FORM_BELOW
        && let Some(i) = illuminant_gray_from_histogram(&super::histogram::histogram(gray), n)
    {
        return i;
    }
    let table = gray_values();
    let (mut s_sum, mut a_sum, mut b_sum) = (0f64, 0f64, 0f64);
    let mut blocks = gray.chunks_exact(1024);
    for block in &mut blocks {
        let (mut s, mut a, mut b) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
        for group in block.chunks_exact(LANES) {
            for l in 0..LANES {
                let [ps, pa, pb] = table[group[l] as usize];
                s[l] += ps;
                a[l] += pa;
                b[l] += pb;
            }
        }
        s_sum += s.iter().map(|&v| v as f64).sum::<f64>();
        a_sum += a.iter().map(|&v| v as f64).sum::<f64>();
        b_sum += b.iter().map(|&v| v as f64).sum::<f64>();
    }
    for &v in blocks.remainder() {
        let [ps, pa, pb] = table[v as usize];
        s_sum += ps as f64;
        a_sum += pa as f64;
        b_sum += pb as f64;
    }
    Illuminant::from_sums(s_sum, a_sum, b_sum, n)
}

/// Planes of fewer pixels than this may take [`illuminant_gray_from_histogram`] (one partial
/// block of [`illuminant_gray`]: pixel-by-pixel sums, all exact).
pub const HISTOGRAM_FORM_BELOW: usize = 1024;

/// [`illuminant_gray`] of a plane of fewer than 1024 pixels given by its histogram (`n` pixels):
/// the sum over levels of count × value instead of one value a pixel (a 28×28 thumbnail: 256
/// products in a few vector lanes against 784 looked-up sums, which waited ~3 cycles a pixel
/// on one chain of additions). `illuminant_gray` counts the levels for it; the scan passes the
/// luma plane's histogram, which it has counted already. The same bits as the definition (one
/// partial block, summed pixel by pixel in f64), because every sum here is exact: each count is
/// below 2^10 and each value an f32 (24 significant bits), so each product is exact in f64, and
/// every partial sum stays a multiple of [`gray_sums_are_exact`]'s unit below its bound. `None`
/// where that does not hold (1024 pixels or more, or a table that fails the check): the caller
/// sums the pixels.
pub fn illuminant_gray_from_histogram(hist: &[u64; 256], n: usize) -> Option<Illuminant> {
    if !(1..HISTOGRAM_FORM_BELOW).contains(&n) || !gray_sums_are_exact() {
        return None;
    }
    debug_assert_eq!(hist.iter().sum::<u64>(), n as u64);
    const LANES: usize = 8;
    let columns = gray_columns();
    let mut sums = [[0f64; LANES]; 3];
    for (i, counts) in hist.chunks_exact(LANES).enumerate() {
        for (q, sum) in sums.iter_mut().enumerate() {
            let values = &columns[q][i * LANES..][..LANES];
            for l in 0..LANES {
                // Counts are below 1024: through i32, whose conversion to f64 vectorises.
                sum[l] += f64::from(counts[l] as i32) * values[l];
            }
        }
    }
    let total = |s: &[f64; LANES]| s.iter().sum::<f64>();
    Some(Illuminant::from_sums(
        total(&sums[0]),
        total(&sums[1]),
        total(&sums[2]),
        n,
    ))
}

/// [`gray_values`] as three columns of f64 (saturation, a*, b*), for lane-wise products.
fn gray_columns() -> &'static [[f64; 256]; 3] {
    static COLUMNS: OnceLock<[[f64; 256]; 3]> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        let table = gray_values();
        std::array::from_fn(|q| std::array::from_fn(|v| f64::from(table[v][q])))
    })
}

/// Whether every sum of at most 1023 values of [`gray_values`] (per quantity) is exact in f64,
/// whatever the order: every value is a multiple of the smallest unit in the last place `u`
/// among them (each is an f32), so every partial sum is a multiple of `u` below
/// `1023 · max |v|`, which f64 holds exactly while that bound is below `2^53 · u`. (A grey's
/// a*/b* are rounding residues: below 2^-13 with units of at least 2^-42, and its saturation is
/// 0, so this holds with 14 bits to spare; a test pins it.)
fn gray_sums_are_exact() -> bool {
    static EXACT: OnceLock<bool> = OnceLock::new();
    *EXACT.get_or_init(|| {
        let table = gray_values();
        (0..3).all(|q| {
            let values = table.iter().map(|v| f64::from(v[q])).filter(|&v| v != 0.0);
            let (mut unit, mut max) = (f64::INFINITY, 0f64);
            for v in values {
                // The unit in the last place of the f32 `v`: 2^(exponent − 23) (normal values).
                let ulp = f64::from(f32::from_bits((v as f32).to_bits() & 0x7F80_0000))
                    / f64::from(1u32 << 23);
                unit = unit.min(ulp);
                max = max.max(v.abs());
            }
            max == 0.0 || (unit > 0.0 && 1023.0 * max < unit * 2f64.powi(53))
        })
    })
}

crate::cpu::dispatch! {
/// [`illuminant`]; `gray_table`: look gray blocks up in [`gray_values`] (false only in tests, to
/// compare with the computed values).
pub fn illuminant_kernel(rgb: &[u8], gray_table: bool) -> Illuminant {
    let n = rgb.len() / 3;
    if n == 0 {
        return Illuminant::from_sums(0.0, 0.0, 0.0, 0);
    }
    let lut = srgb_to_linear_table();
    let scale = xyz_over_white();
    let pixel = |p: &[u8]| pixel_values(p, lut, &scale);
    let gray = gray_values();
    // LANES independent f32 accumulators per quantity so the loop vectorises (a single float
    // sum is a serial dependency the compiler may not reorder); flushed to f64 every 1024 pixels
    // to keep the rounding error far below 1e-6.
    const LANES: usize = 8;
    let (mut s_sum, mut a_sum, mut b_sum) = (0f64, 0f64, 0f64);
    let rgb = &rgb[..3 * n];
    let mut blocks = rgb.chunks_exact(3 * 1024);
    for block in &mut blocks {
        let (mut s, mut a, mut b) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
        if gray_table && all_gray(block) {
            for group in block.chunks_exact(3 * LANES) {
                for l in 0..LANES {
                    let [ps, pa, pb] = gray[group[3 * l] as usize];
                    s[l] += ps;
                    a[l] += pa;
                    b[l] += pb;
                }
            }
        } else {
            for group in block.chunks_exact(3 * LANES) {
                for l in 0..LANES {
                    let (ps, pa, pb) = pixel(&group[3 * l..3 * l + 3]);
                    s[l] += ps;
                    a[l] += pa;
                    b[l] += pb;
                }
            }
        }
        s_sum += s.iter().map(|&v| v as f64).sum::<f64>();
        a_sum += a.iter().map(|&v| v as f64).sum::<f64>();
        b_sum += b.iter().map(|&v| v as f64).sum::<f64>();
    }
    // The tail (all of an image under 1024 pixels, e.g. a 28×28 thumbnail) is summed pixel by
    // pixel in f64. Its per-pixel values are computed LANES at a time into arrays first, so that
    // part vectorises like the blocks; the sums keep pixel order, so the result is the same bits
    // as summing each pixel as it is computed.
    let tail = blocks.remainder();
    if gray_table && all_gray(tail) {
        for p in tail.chunks_exact(3) {
            let [ps, pa, pb] = gray[p[0] as usize];
            s_sum += ps as f64;
            a_sum += pa as f64;
            b_sum += pb as f64;
        }
        return Illuminant::from_sums(s_sum, a_sum, b_sum, n);
    }
    let mut groups = tail.chunks_exact(3 * LANES);
    for group in &mut groups {
        let (mut s, mut a, mut b) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
        for l in 0..LANES {
            (s[l], a[l], b[l]) = pixel(&group[3 * l..3 * l + 3]);
        }
        for l in 0..LANES {
            s_sum += s[l] as f64;
            a_sum += a[l] as f64;
            b_sum += b[l] as f64;
        }
    }
    for p in groups.remainder().chunks_exact(3) {
        let (ps, pa, pb) = pixel(p);
        s_sum += ps as f64;
        a_sum += pa as f64;
        b_sum += pb as f64;
    }
    Illuminant::from_sums(s_sum, a_sum, b_sum, n)
}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::testing::same_on_every_level;
    use crate::stats::atmosphere::tests::fixture_rgb;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-3)
    }

    #[test]
    fn fast_cube_root_is_accurate() {
        let mut t = 216.0f32 / 24389.0;
        while t <= 1.2 {
            let (got, want) = (cbrt_fast(t) as f64, (t as f64).cbrt());
            assert!((got - want).abs() <= 3e-7 * want, "{t}: {got} vs {want}");
            t *= 1.001;
        }
    }

    #[test]
    fn greys_are_neutral_and_unsaturated() {
        for v in [0u8, 1, 10, 128, 254, 255] {
            let c = illuminant(&[v, v, v].repeat(10));
            assert_eq!(c.saturation, 0.0);
            assert!(c.warmth.abs() < 1e-4 && c.tint.abs() < 1e-4, "{v}: {c:?}");
        }
    }

    #[test]
    fn primaries_match_published_lab() {
        // sRGB primaries in CIELAB (D65), e.g. Lindbloom's calculator / colormath.
        let red = illuminant(&[255, 0, 0]);
        assert!(
            close(red.tint, 80.09, 1e-3) && close(red.warmth, 67.20, 1e-3),
            "{red:?}"
        );
        let blue = illuminant(&[0, 0, 255]);
        assert!(
            close(blue.tint, 79.19, 1e-3) && close(blue.warmth, -107.86, 1e-3),
            "{blue:?}"
        );
        assert_eq!(red.saturation, 1.0);
    }

    #[test]
    fn chroma_is_the_mean_over_pixels_not_of_the_mean_colour() {
        let (red, green) = (illuminant(&[255, 0, 0]), illuminant(&[0, 255, 0]));
        let half = illuminant(&[255, 0, 0, 0, 255, 0]);
        assert!(
            (half.tint - (red.tint + green.tint) / 2.0).abs() < 1e-3,
            "{half:?}"
        );
        assert!((half.warmth - (red.warmth + green.warmth) / 2.0).abs() < 1e-3);
        // The mean colour (127.5, 127.5, 0) would read strongly yellow instead.
        let mean_colour = illuminant(&[128, 128, 0]);
        assert!((mean_colour.warmth - half.warmth).abs() > 5.0);
    }

    #[test]
    fn white_balance_gains_move_the_right_way() {
        let base = fixture_rgb(32, 32);
        let gain = |gr: f64, gg: f64, gb: f64| -> Vec<u8> {
            base.chunks_exact(3)
                .flat_map(|p| {
                    [
                        (p[0] as f64 * gr).min(255.0) as u8,
                        (p[1] as f64 * gg).min(255.0) as u8,
                        (p[2] as f64 * gb).min(255.0) as u8,
                    ]
                })
                .collect()
        };
        let c0 = illuminant(&base);
        assert!(illuminant(&gain(1.2, 1.0, 0.8)).warmth > c0.warmth);
        assert!(illuminant(&gain(0.8, 1.0, 1.2)).warmth < c0.warmth);
        assert!(illuminant(&gain(1.0, 1.15, 1.0)).tint < c0.tint);
    }

    #[test]
    fn small_images_are_the_in_order_sum_of_their_pixels_on_every_level() {
        // Under 1024 pixels every pixel is in the tail, which is defined as the f64 sum in pixel
        // order of each pixel's value (what a one-pixel image reports): the grouped tail must
        // give exactly those bits, on every SIMD level, for tails of any length.
        for (w, h) in [(1, 1), (7, 1), (8, 1), (9, 2), (28, 28), (31, 33), (40, 25)] {
            let rgb = fixture_rgb(w, h);
            let mut want = [0f64; 3];
            for p in rgb.chunks_exact(3) {
                let one = illuminant(p);
                want[0] += one.saturation;
                want[1] += one.warmth;
                want[2] += one.tint;
            }
            let n = (w * h) as f64;
            let got = same_on_every_level("illuminant tail", || {
                let c = illuminant(&rgb);
                [c.saturation, c.warmth, c.tint].map(f64::to_bits)
            });
            assert_eq!(got, want.map(|v| (v / n).to_bits()), "{w}x{h}");
        }
    }

    #[test]
    fn gray_pictures_take_the_table_with_the_same_bits() {
        // Blocks (1024 pixels) and tails of gray planes: the table path gives exactly the bits
        // of the computed path, on every SIMD level; a plane with one coloured pixel in a block
        // computes that block and still takes the table for the other blocks.
        for n in [1usize, 9, 784, 1024, 1500, 3000] {
            let luma: Vec<u8> = (0..n).map(|i| ((i * 37 + i / 7) % 256) as u8).collect();
            let mut rgb: Vec<u8> = luma.iter().flat_map(|&v| [v, v, v]).collect();
            for colour in [false, true] {
                if colour {
                    rgb[3 * (n / 2)] ^= 1;
                }
                let bits = |table: bool| {
                    let rgb = &rgb;
                    same_on_every_level("illuminant gray", move || {
                        let c = illuminant_kernel(rgb, table);
                        [c.saturation, c.warmth, c.tint].map(f64::to_bits)
                    })
                };
                assert_eq!(bits(true), bits(false), "{n} pixels, colour {colour}");
            }
        }
    }

    #[test]
    fn gray_plane_gives_the_bits_of_its_rgb_plane() {
        // Under one block, exactly one, several with a tail; every level of the kernel.
        // Below 1024 pixels the histogram form is taken: its exactness holds.
        assert!(gray_sums_are_exact());
        for n in [1usize, 2, 3, 5, 7, 784, 1023, 1024, 1031, 5000] {
            let gray = crate::test_support::noise_bytes(n, n as u64);
            let rgb: Vec<u8> = gray.iter().flat_map(|&v| [v, v, v]).collect();
            let want = same_on_every_level("illuminant", || {
                let c = illuminant(&rgb);
                [c.saturation, c.warmth, c.tint].map(f64::to_bits)
            });
            let c = illuminant_gray(&gray);
            assert_eq!(
                [c.saturation, c.warmth, c.tint].map(f64::to_bits),
                want,
                "{n}"
            );
        }
        assert!(illuminant_gray(&[]).warmth.is_nan());
    }

    #[test]
    fn histogram_form_gives_the_bits_of_the_pixel_sums() {
        // Every size up to the limit with few or all levels, so that each count, each lane and
        // the largest counts (one level everywhere) are exercised; over the limit it declines.
        for n in 1..1024usize {
            let noise = crate::test_support::noise_bytes(n, 7 * n as u64);
            let few: Vec<u8> = noise.iter().map(|&v| v / 64 * 85).collect();
            let flat = vec![(n % 256) as u8; n];
            for gray in [noise, few, flat] {
                let hist = crate::stats::histogram(&gray);
                let c = illuminant_gray_from_histogram(&hist, n).expect("under the limit");
                // The definition: the RGB kernel on R = G = B, its tail summed pixel by pixel.
                let rgb: Vec<u8> = gray.iter().flat_map(|&v| [v, v, v]).collect();
                let want = illuminant_kernel(&rgb, false);
                assert_eq!(
                    [c.saturation, c.warmth, c.tint].map(f64::to_bits),
                    [want.saturation, want.warmth, want.tint].map(f64::to_bits),
                    "{n} pixels"
                );
            }
        }
        let big = crate::test_support::noise_bytes(1024, 3);
        assert!(illuminant_gray_from_histogram(&crate::stats::histogram(&big), 1024).is_none());
        assert!(illuminant_gray_from_histogram(&[0; 256], 0).is_none());
    }

    #[test]
    fn matches_numpy_reference() {
        // Expected values from tests/reference_weather.py (python -m tests.reference_weather).
        let c = illuminant(&fixture_rgb(24, 17));
        assert!(close(c.saturation, REF_SATURATION, 1e-4), "{c:?}");
        assert!(close(c.warmth, REF_WARMTH, 1e-4), "{c:?}");
        assert!(close(c.tint, REF_TINT, 1e-4), "{c:?}");
    }

    const REF_SATURATION: f64 = 0.7779288865783067;
    const REF_WARMTH: f64 = 9.654713205779945;
    const REF_TINT: f64 = 5.864144527071384;
}
