//! Perceptual hashes bit-compatible with imagehash 4.3.2 (`hash_size = 8`).
//!
//! Input is 8-bit luma, i.e. what Pillow's `convert("L")` gives (the caller's job). Every hash
//! resizes with [`crate::resize::resize_lanczos_l8`], which is Pillow-exact, so the bits match
//! imagehash on the same Pillow major version (13).
//!
//! Bit order is imagehash's hex string: bits row-major, the first bit is the most significant, so
//! `format(h, "016x") == str(imagehash.phash(img))` and `(a ^ b).count_ones()` is imagehash's
//! `h1 - h2`.
//!
//! Ties: a bit is set only when a value is *strictly* greater than the threshold, as in imagehash.
//! That makes degenerate images well defined and identical to imagehash:
//! - constant image: `ahash = 0`, `dhash = 0`, and `phash = 0x8000000000000000` (only the DC term
//!   is non-zero; the 63 others are exactly 0, equal to the median, so not above it), or `0` for
//!   an all-black image;
//! - images with exact symmetries (gradients, centred shapes) have many DCT coefficients that are
//!   exactly zero. imagehash gets exact zeros from scipy's pocketfft; a textbook DCT would give
//!   ±1e-13 noise and flip bits. So the DCT here reproduces pocketfft's floating-point operations
//!   (see the `pocketfft` module) and returns the very same doubles as scipy.

use crate::resize::resize_lanczos_l8;
use median::median64;

/// Side of the image the DCT runs on (`hash_size · highfreq_factor` = 8 · 4).
const PHASH_SIDE: usize = 32;
/// Side of the kept low-frequency block and of the aHash image.
const HASH_SIDE: usize = 8;

/// Pack 64 booleans, row-major, first one into the most significant bit.
fn pack(bits: impl Iterator<Item = bool>) -> u64 {
    bits.fold(0u64, |h, b| (h << 1) | u64::from(b))
}

/// Average hash: LANCZOS to 8×8, bit = pixel > mean of the 64 pixels.
pub fn ahash(luma: &[u8], w: usize, h: usize) -> u64 {
    ahash_from_8x8(&resize_lanczos_l8(luma, w, h, HASH_SIDE, HASH_SIDE))
}

fn ahash_from_8x8(px: &[u8]) -> u64 {
    // numpy's mean of 64 bytes is exact in f64 (sum < 2^14, division by a power of two), so
    // `p > sum / 64` is exactly `64·p > sum` in integers.
    let sum: u32 = px.iter().map(|&p| u32::from(p)).sum();
    pack(px.iter().map(|&p| u32::from(p) * 64 > sum))
}

/// Difference hash: LANCZOS to 9 wide × 8 high, bit = right neighbour > left neighbour.
pub fn dhash(luma: &[u8], w: usize, h: usize) -> u64 {
    dhash_from_9x8(&resize_lanczos_l8(luma, w, h, HASH_SIDE + 1, HASH_SIDE))
}

fn dhash_from_9x8(px: &[u8]) -> u64 {
    pack(
        px.chunks_exact(HASH_SIDE + 1)
            .flat_map(|r| r.windows(2).map(|p| p[1] > p[0])),
    )
}

/// Perceptual hash: LANCZOS to 32×32, unnormalised 2-D DCT-II, top-left 8×8 (DC included),
/// bit = coefficient > median of the 64.
pub fn phash(luma: &[u8], w: usize, h: usize) -> u64 {
    phash_from_32x32(&resize_lanczos_l8(luma, w, h, PHASH_SIDE, PHASH_SIDE))
}

fn phash_from_32x32(px: &[u8]) -> u64 {
    // Fast path: a direct DCT from a cosine table, ~20x cheaper than the exact pocketfft port.
    // Its coefficients differ from scipy's by rounding only (≲ 1e-12 of the largest), so when
    // every coefficient is clear of the median by far more than that, the bits are identical.
    // Near-ties (constant and symmetric images, where pocketfft yields exact zeros) take the
    // exact port, so the result is always scipy's.
    let fast = dct_low_8x8_direct(px);
    let med = median64(&fast);
    let scale = fast.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    if fast.iter().all(|&v| (v - med).abs() > 1e-9 * scale) {
        return pack(fast.iter().map(|&v| v > med));
    }
    let low = dct_low_8x8(px);
    let med = median64(&low);
    pack(low.iter().map(|&v| v > med))
}

/// Cosine table of the direct DCT: `COS[k][n] = 2 cos(πk(2n+1)/64)` for the 8 kept frequencies and
/// the first half of the inputs (the second half mirrors it: `COS[k][31-n] = (-1)^k COS[k][n]`).
fn cos_table() -> &'static [[f64; PHASH_SIDE / 2]; HASH_SIDE] {
    use std::sync::OnceLock;
    static COS: OnceLock<[[f64; PHASH_SIDE / 2]; HASH_SIDE]> = OnceLock::new();
    COS.get_or_init(|| {
        let mut t = [[0.0; PHASH_SIDE / 2]; HASH_SIDE];
        for (k, row) in t.iter_mut().enumerate() {
            for (n, v) in row.iter_mut().enumerate() {
                let a = std::f64::consts::PI * (k * (2 * n + 1)) as f64 / (2 * PHASH_SIDE) as f64;
                *v = 2.0 * a.cos();
            }
        }
        t
    })
}

crate::cpu::dispatch_avx512! {
/// The same 8×8 corner as `dct_low_8x8` (the exact pocketfft port), by direct sums:
/// `y[k] = 2 Σ x[n] cos(πk(2n+1)/2N)`.
/// Even frequencies see `x[n] + x[31-n]`, odd ones `x[n] - x[31-n]` (the cosines mirror), which
/// halves the multiplies; the inner loops run along rows of 32 and are vectorised.
pub fn dct_low_8x8_direct(px: &[u8]) -> [f64; 64] {
    const H: usize = PHASH_SIDE / 2;
    let c = cos_table();
    // Axis 0 (down the columns): sums and differences of mirrored rows, exact in f64.
    let mut sum = [[0.0f64; PHASH_SIDE]; H];
    let mut diff = [[0.0f64; PHASH_SIDE]; H];
    let row = |i: usize| &px[i * PHASH_SIDE..(i + 1) * PHASH_SIDE];
    for i in 0..H {
        let (a, b) = (row(i), row(PHASH_SIDE - 1 - i));
        for j in 0..PHASH_SIDE {
            let (a, b) = (f64::from(a[j]), f64::from(b[j]));
            sum[i][j] = a + b;
            diff[i][j] = a - b;
        }
    }
    let mut t = [[0.0f64; PHASH_SIDE]; HASH_SIDE];
    for (u, tu) in t.iter_mut().enumerate() {
        let half = if u % 2 == 0 { &sum } else { &diff };
        for (hi, &w) in half.iter().zip(&c[u]) {
            for (acc, &v) in tu.iter_mut().zip(hi) {
                *acc += v * w;
            }
        }
    }
    // Axis 1 on the 8 kept rows, with the same mirroring along each row.
    let mut low = [0.0f64; 64];
    for (u, tu) in t.iter().enumerate() {
        let mut s = [0.0f64; H];
        let mut d = [0.0f64; H];
        for n in 0..H {
            s[n] = tu[n] + tu[PHASH_SIDE - 1 - n];
            d[n] = tu[n] - tu[PHASH_SIDE - 1 - n];
        }
        for (v, cv) in c.iter().enumerate() {
            let half = if v % 2 == 0 { &s } else { &d };
            low[u * HASH_SIDE + v] = half.iter().zip(cv).map(|(a, b)| a * b).sum();
        }
    }
    low
}
}

/// `scipy.fftpack.dct(scipy.fftpack.dct(x, axis=0), axis=1)[:8, :8]` on a 32×32 image, bit for bit:
/// every column, then the 8 kept rows, go through [`pocketfft::Dct2::dct2`].
fn dct_low_8x8(px: &[u8]) -> [f64; 64] {
    assert_eq!(px.len(), PHASH_SIDE * PHASH_SIDE);
    let plan = pocketfft::Dct2::get();
    // Axis 0: transform each column; keep the 8 lowest frequencies, stored row-major.
    let mut rows = [[0.0f64; PHASH_SIDE]; HASH_SIDE];
    let mut col = [0.0f64; PHASH_SIDE];
    for j in 0..PHASH_SIDE {
        for (i, c) in col.iter_mut().enumerate() {
            *c = f64::from(px[i * PHASH_SIDE + j]);
        }
        plan.dct2(&mut col);
        for (u, row) in rows.iter_mut().enumerate() {
            row[j] = col[u];
        }
    }
    // Axis 1 on the kept rows.
    let mut low = [0.0f64; 64];
    for (u, row) in rows.iter_mut().enumerate() {
        plan.dct2(row);
        low[u * HASH_SIDE..(u + 1) * HASH_SIDE].copy_from_slice(&row[..HASH_SIDE]);
    }
    low
}

mod crop_resistant;
mod dihedral;
mod median;
mod pillow_filters;
mod pixel;
mod pocketfft;

pub use crop_resistant::{CropSegment, crop_resistant_hash, crop_resistant_segments};
pub use dihedral::{dhash_dihedral, dhash_dihedral_and_ahash, phash_dihedral};
pub use pixel::pixel_hash;

/// `[phash, dhash, ahash]` of one luma image (three resizes of the full image; no shared work is
/// possible because each target size has its own filter). An empty image (`w` or `h` is 0)
/// hashes to `[0, 0, 0]`; Pillow cannot represent one.
pub fn hashes(luma: &[u8], w: usize, h: usize) -> [u64; 3] {
    [phash(luma, w, h), dhash(luma, w, h), ahash(luma, w, h)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scipy.fftpack.dct(np.arange(32.0))` from scipy 1.17 (shortest round-trip reprs).
    const SCIPY_DCT_ARANGE32: [f64; 32] = [
        992.0,
        -414.84476091447783,
        0.0,
        -45.94445993879662,
        0.0,
        -16.430244579452868,
        0.0,
        -8.295924452306517,
        0.0,
        -4.945145994134673,
        0.0,
        -3.2452641508492936,
        0.0,
        -2.26346397136653,
        0.0,
        -1.642938371635351,
        0.0,
        -1.2232212598164898,
        0.0,
        -0.923361045811995,
        0.0,
        -0.6987955475587202,
        0.0,
        -0.5231973204650675,
        0.0,
        -0.38002015470723194,
        0.0,
        -0.2582256596025996,
        0.0,
        -0.1499590680167131,
        0.0,
        -0.04918609657693196,
    ];
    /// `scipy.fftpack.dct([(i * 73 + 41) % 256 for i in range(32)])` from scipy 1.17.
    const SCIPY_DCT_MIXED32: [f64; 32] = [
        6944.0,
        -13.78727813730055,
        -224.19212687681934,
        -65.42842854040518,
        -241.14672706512442,
        -64.94529357028483,
        -284.6977864500737,
        -42.43395297213256,
        -473.0263206457788,
        941.5333011638484,
        172.04877263414386,
        -240.35678383305358,
        -117.82385938815992,
        -246.00485843294757,
        -213.88614097929587,
        -341.68585384942514,
        -362.0386719675123,
        -789.5046592360083,
        -2171.6224329109214,
        1318.0091576392947,
        176.3358669398085,
        330.1374039900337,
        -52.19042459728124,
        189.94250737658166,
        -195.93391737092588,
        154.15633964492605,
        -532.632095575804,
        375.3372104133682,
        1212.3264643713935,
        -37.95241947828902,
        183.98972359857376,
        -4.165745309067194,
    ];

    /// Textbook O(N²) DCT-II of one vector (unnormalised, scipy's convention).
    fn dct1(x: &[f64]) -> Vec<f64> {
        let n = x.len();
        (0..n)
            .map(|k| {
                2.0 * x
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        v * (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2 * n) as f64)
                            .cos()
                    })
                    .sum::<f64>()
            })
            .collect()
    }

    fn image(seed: u64) -> Vec<u8> {
        crate::test_support::noise_bytes(1024, seed)
    }

    #[test]
    fn dct_matches_separable_textbook_dct() {
        let px = image(3);
        // Full 2-D reference: columns then rows.
        let mut m = vec![vec![0.0; 32]; 32];
        for j in 0..32 {
            let col: Vec<f64> = (0..32).map(|i| f64::from(px[i * 32 + j])).collect();
            for (k, v) in dct1(&col).into_iter().enumerate() {
                m[k][j] = v;
            }
        }
        let low = dct_low_8x8(&px);
        for u in 0..8 {
            let r = dct1(&m[u]);
            for v in 0..8 {
                let d = (low[u * 8 + v] - r[v]).abs();
                assert!(
                    d < 1e-8 * (1.0 + r[v].abs()),
                    "({u},{v}) {} vs {}",
                    low[u * 8 + v],
                    r[v]
                );
            }
        }
    }

    #[test]
    fn dc_term_is_four_n_squared_times_mean() {
        let px = vec![10u8; 1024];
        let low = dct_low_8x8(&px);
        // y[0] = 2·Σx per axis: 2·32·2·32·10.
        assert!((low[0] - 40960.0).abs() < 1e-9);
        assert!(low[1..].iter().all(|v| v.abs() < 1e-9));
    }

    #[test]
    fn median_is_mean_of_middle_pair() {
        let mut v = [0.0f64; 64];
        for (i, x) in v.iter_mut().enumerate() {
            *x = ((i * 37) % 64) as f64; // a permutation of 0..64
        }
        assert_eq!(median64(&v), 31.5);
        let p = pack(v.iter().map(|&x| x > median64(&v)));
        assert_eq!(p.count_ones(), 32);
    }

    #[test]
    fn median_on_integer_keys_equals_the_float_selection() {
        let float_median = |v: &[f64; 64]| {
            let mut s = *v;
            let (_, lower, upper) = s.select_nth_unstable_by(31, f64::total_cmp);
            let next = upper.iter().copied().fold(f64::INFINITY, f64::min);
            (*lower + next) / 2.0
        };
        let mut state = 7u64;
        for round in 0..2000 {
            let mut v = [0.0f64; 64];
            for x in &mut v {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (state >> 33) as i64 % 2001 - 1000;
                // Few distinct values in some rounds (ties), signed zeros, wide magnitudes.
                *x = match round % 4 {
                    0 => (r % 5) as f64,
                    1 => r as f64 * 1e-3,
                    2 => (r as f64).powi(3) * 1e9,
                    _ => -0.0 * r.signum() as f64 + r as f64 / 7.0,
                };
            }
            assert_eq!(median64(&v), float_median(&v), "{v:?}");
        }
    }

    #[test]
    fn phash_sets_half_the_bits_and_the_dc_bit() {
        for seed in 0..20 {
            let h = phash_from_32x32(&image(seed));
            assert_eq!(h.count_ones(), 32);
            assert_eq!(
                h >> 63,
                1,
                "DC is the largest coefficient of a non-negative image"
            );
        }
    }

    #[test]
    fn bit_order_is_row_major_msb_first() {
        // Only the top-left pixel above the mean: the first (most significant) bit.
        let mut px = [0u8; 64];
        px[0] = 200;
        assert_eq!(ahash_from_8x8(&px), 1 << 63);
        px[0] = 0;
        px[63] = 200;
        assert_eq!(ahash_from_8x8(&px), 1);
        // dHash: rising ramp in every row sets all bits; a falling ramp none.
        let up: Vec<u8> = (0..72).map(|i| (i % 9) as u8 * 10).collect();
        assert_eq!(dhash_from_9x8(&up), u64::MAX);
        let down: Vec<u8> = (0..72).map(|i| 90 - (i % 9) as u8 * 10).collect();
        assert_eq!(dhash_from_9x8(&down), 0);
        // Only row 1, column 0 rises: bit 8 from the top.
        let mut one = [5u8; 72];
        one[9 + 1] = 6;
        assert_eq!(dhash_from_9x8(&one), 1 << (63 - 8));
    }

    #[test]
    fn direct_dct_agrees_with_the_exact_port() {
        for seed in 0..50 {
            let px = image(seed);
            let (a, b) = (dct_low_8x8(&px), dct_low_8x8_direct(&px));
            let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-11 * scale, "seed {seed}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn direct_dct_and_hashes_are_the_same_on_every_simd_level() {
        for seed in 0..20 {
            let px = image(seed);
            let dct = crate::cpu::testing::same_on_every_level("dct_low_8x8_direct", || {
                dct_low_8x8_direct(&px).map(f64::to_bits)
            });
            assert_eq!(dct.len(), 64);
            crate::cpu::testing::same_on_every_level("hashes", || hashes(&px, 32, 32));
        }
    }

    #[test]
    fn constant_images() {
        let px = vec![128u8; 50 * 40];
        assert_eq!(hashes(&px, 50, 40), [1 << 63, 0, 0]);
        let black = vec![0u8; 9 * 8];
        assert_eq!(hashes(&black, 9, 8), [0, 0, 0]);
        assert_eq!(hashes(&[], 0, 0), [0, 0, 0]);
        assert_eq!(hashes(&[], 7, 0), [0, 0, 0]);
    }

    #[test]
    fn symmetric_coefficients_are_exactly_zero() {
        // Rows all equal: every vertical frequency u > 0 cancels exactly in pocketfft's
        // butterflies.
        let px: Vec<u8> = (0..1024).map(|i| ((i % 32) * 8) as u8).collect();
        let low = dct_low_8x8(&px);
        assert!(low[8..].iter().all(|&v| v == 0.0), "{:?}", &low[8..16]);
        assert!(low[..8].iter().any(|&v| v != 0.0));
    }

    #[test]
    fn pocketfft_dct_matches_scipy_values() {
        let inputs: [fn(usize) -> f64; 2] = [|i| i as f64, |i| ((i * 73 + 41) % 256) as f64];
        for (f, want) in inputs.iter().zip([SCIPY_DCT_ARANGE32, SCIPY_DCT_MIXED32]) {
            let mut x = [0.0f64; 32];
            for (i, v) in x.iter_mut().enumerate() {
                *v = f(i);
            }
            pocketfft::Dct2::get().dct2(&mut x);
            for (k, (&a, &b)) in x.iter().zip(want.iter()).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "k={k}: {a:e} vs scipy {b:e}");
            }
        }
    }
}
