//! AVX2 variants of the resize kernels: the portable kernels recompiled with AVX2 enabled, and a
//! hand-written padded horizontal pass. Only called after `cpu::level()` reported AVX2.

use super::kernels::{self, padded_output};
use super::taps::{HALF, Padded, Taps};

/// The padded horizontal pass with AVX2 intrinsics, 8 outputs at a time: each output's window is
/// multiplied in 8-lane chunks, then the 8 accumulators are reduced together (a transposing tree
/// of `hadd`s: 8 sums for the price of one) and clamped with saturating packs, which is `clip8`.
/// The per-output horizontal sum is what costs in the plain kernel; here it is amortised.
#[target_feature(enable = "avx2")]
pub(super) fn horizontal_padded(
    src: &[u8],
    sw: usize,
    rows: usize,
    p: &Padded,
    offset: usize,
    dst: &mut [u8],
) {
    use std::arch::x86_64::*;
    let dw = p.starts.len();
    let blocks = dw / 8;
    let chunks = p.kpad / 8;
    // Checked once here instead of per output: every window lies inside a row.
    assert!(
        p.starts
            .iter()
            .all(|&s| s >= offset && s - offset + p.kpad <= sw)
    );
    assert_eq!(p.k.len(), dw * p.kpad);
    let half = _mm256_set1_epi32(HALF);
    for (row, out) in src
        .chunks_exact(sw)
        .take(rows)
        .zip(dst.chunks_exact_mut(dw))
    {
        for b in 0..blocks {
            let mut v = [_mm256_setzero_si256(); 8];
            for (i, vi) in v.iter_mut().enumerate() {
                let xx = b * 8 + i;
                // SAFETY: xx < dw; the window `[s, s + kpad)` is inside `row` and the taps
                // `[xx·kpad, (xx+1)·kpad)` inside `p.k` (both asserted above); loads are unaligned.
                unsafe {
                    let px = row.as_ptr().add(p.starts.get_unchecked(xx) - offset);
                    let kp = p.k.as_ptr().add(xx * p.kpad);
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
            out[b * 8..b * 8 + 4].copy_from_slice(&lo);
            out[b * 8 + 4..b * 8 + 8].copy_from_slice(&hi);
        }
        for (xx, o) in out.iter_mut().enumerate().skip(blocks * 8) {
            *o = padded_output(row, p, offset, xx);
        }
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

#[target_feature(enable = "avx2")]
pub(super) fn vertical(
    src: &[u8],
    stride: usize,
    c0: usize,
    width: usize,
    taps: &Taps,
    offset: usize,
    dst: &mut [u8],
) {
    kernels::vertical(src, stride, c0, width, taps, offset, dst);
}
