//! AVX2 variants of the horizontal resize kernels: the portable kernel recompiled with AVX2
//! enabled, and a hand-written padded pass. Only called after `cpu::level()` reported AVX2.

use super::kernels::{self, padded_output};
use super::taps::{HALF, Padded, Taps};

/// The padded horizontal pass with AVX2 intrinsics, 8 outputs at a time: each output's window is
/// multiplied in 8-lane chunks, then the 8 accumulators are reduced together (a transposing tree
/// of `hadd`s: 8 sums for the price of one) and clamped with saturating packs, which is `clip8`.
/// The per-output horizontal sum is what costs in the plain kernel; here it is amortised.
/// Blocks of 8 outputs are the outer loop and rows the inner one, so a block's windows and taps
/// are set up once, not once a row (hash thumbnails have 28-ish rows of 8–32 outputs). Outputs
/// past the last full block go through the portable per-output loop.
#[target_feature(enable = "avx2")]
pub(super) fn horizontal_padded(
    src: &[u8],
    sw: usize,
    rows: usize,
    p: &Padded,
    offset: usize,
    dst: &mut [u8],
) {
    let dw = p.starts.len();
    let chunks = p.kpad / 8;
    // Checked once here instead of per output: every window lies inside a row.
    assert!(
        p.starts
            .iter()
            .all(|&s| s >= offset && s - offset + p.kpad <= sw)
    );
    assert_eq!(p.k.len(), dw * p.kpad);
    assert!(src.len() >= rows * sw && dst.len() >= rows * dw);
    for b in 0..dw / 8 {
        // SAFETY: AVX2 is enabled here; the windows and taps are inside `src`'s rows and `p.k`,
        // `src` holds `rows` rows and `dst` `rows · dw` bytes (asserted above).
        unsafe {
            match chunks {
                1 => padded_block::<1>(src, sw, rows, p, offset, b, dst),
                2 => padded_block::<2>(src, sw, rows, p, offset, b, dst),
                3 => padded_block::<3>(src, sw, rows, p, offset, b, dst),
                _ => padded_block::<0>(src, sw, rows, p, offset, b, dst),
            }
        }
    }
    for (row, out) in src
        .chunks_exact(sw)
        .take(rows)
        .zip(dst.chunks_exact_mut(dw))
    {
        for (xx, o) in out.iter_mut().enumerate().skip(dw / 8 * 8) {
            *o = padded_output(row, p, offset, xx);
        }
    }
}

/// Outputs `8b..8b + 8` of every row of [`horizontal_padded`]. `CHUNKS` is the window's number
/// of 8-tap chunks when known at compile time (1–3: fully unrolled), 0 for any other.
///
/// # Safety
/// AVX2 must be enabled; every window `[starts[x] - offset, + kpad)` lies inside a row of `sw`
/// bytes, `p.k` holds `kpad` taps per output, `src` `rows` rows and `dst` `rows · dw` bytes.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn padded_block<const CHUNKS: usize>(
    src: &[u8],
    sw: usize,
    rows: usize,
    p: &Padded,
    offset: usize,
    b: usize,
    dst: &mut [u8],
) {
    use std::arch::x86_64::*;
    let dw = p.starts.len();
    let chunks = if CHUNKS == 0 { p.kpad / 8 } else { CHUNKS };
    let half = _mm256_set1_epi32(HALF);
    let starts: [usize; 8] = std::array::from_fn(|i| p.starts[8 * b + i] - offset);
    let taps: [usize; 8] = std::array::from_fn(|i| (8 * b + i) * p.kpad);
    for y in 0..rows {
        let row = &src[y * sw..(y + 1) * sw];
        let mut v = [_mm256_setzero_si256(); 8];
        for (i, vi) in v.iter_mut().enumerate() {
            // SAFETY: the window `[starts[i], starts[i] + kpad)` is inside `row` and the taps
            // `[taps[i], taps[i] + kpad)` inside `p.k` (the caller's contract); loads are
            // unaligned.
            unsafe {
                let px = row.as_ptr().add(starts[i]);
                let kp = p.k.as_ptr().add(taps[i]);
                for c in 0..chunks {
                    let bytes = _mm_loadl_epi64(px.add(c * 8).cast());
                    let coef = _mm256_loadu_si256(kp.add(c * 8).cast());
                    let prod = _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes), coef);
                    *vi = _mm256_add_epi32(*vi, prod);
                }
            }
        }
        // Lane l of `sums` is Σ v[l]: pairwise sums within 128-bit halves, then the halves.
        let h01 = _mm256_hadd_epi32(v[0], v[1]);
        let h23 = _mm256_hadd_epi32(v[2], v[3]);
        let h45 = _mm256_hadd_epi32(v[4], v[5]);
        let h67 = _mm256_hadd_epi32(v[6], v[7]);
        let h0123 = _mm256_hadd_epi32(h01, h23);
        let h4567 = _mm256_hadd_epi32(h45, h67);
        let sums = _mm256_add_epi32(
            _mm256_permute2x128_si256::<0x20>(h0123, h4567),
            _mm256_permute2x128_si256::<0x31>(h0123, h4567),
        );
        // (HALF + Σ) >> 22, then saturate to i16 and to u8: the clamp to 0..=255.
        let r = _mm256_srai_epi32::<22>(_mm256_add_epi32(sums, half));
        let r16 = _mm256_packs_epi32(r, r);
        let r8 = _mm256_packus_epi16(r16, r16);
        let lo = _mm_cvtsi128_si32(_mm256_castsi256_si128(r8)).to_le_bytes();
        let hi = _mm_cvtsi128_si32(_mm256_extracti128_si256::<1>(r8)).to_le_bytes();
        let o = y * dw + 8 * b;
        dst[o..o + 4].copy_from_slice(&lo);
        dst[o + 4..o + 8].copy_from_slice(&hi);
    }
}

#[target_feature(enable = "avx2")]
pub(super) fn horizontal(
    src: &[u8],
    sw: usize,
    rows: usize,
    taps: &Taps,
    offset: usize,
    dst: &mut [u8],
) {
    kernels::horizontal(src, sw, rows, taps, offset, dst);
}
