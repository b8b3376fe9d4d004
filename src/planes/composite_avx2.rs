//! RGBA over a grey background (`composite.rs`'s [`super::composite::rgba_over`]) with AVX2, 16
//! pixels a step.
//!
//! Why: the portable loop reads 4-byte and writes 3-byte pixels, which LLVM does not vectorise;
//! it cost ≈3.5 ms per megapixel, 4–5 % of a full scan of the wallpaper corpus (its 32 RGBA
//! PNGs). Here the pixels are de-interleaved with byte shuffles, each channel composited in
//! 16-bit lanes with the same integer expression, and written back with the JPEG row kernel's
//! interleaving stores (`ycc_avx2.rs`), so every byte equals the portable loop's:
//!
//! - `v·a + bg·(255 − a) + 127 ≤ 255·255 + 127 < 2^16`, so the numerator fits a 16-bit lane;
//! - `⌊x / 255⌋ = ⌊x · 0x8081 / 2^23⌋` for every `x < 2^16` (a multiply-high, then a shift;
//!   tested on all of them);
//! - Pillow's luma is `ycc_avx2::luma16`, tested on every RGB triple.

use super::ycc_avx2::{bytes, luma16, rgb48_masks, store_rgb48};
use std::arch::x86_64::*;

/// `⌊x / 255⌋` of 16-bit lanes.
#[inline(always)]
unsafe fn div255(x: __m256i) -> __m256i {
    // SAFETY: AVX2 is enabled on every caller; no memory is touched.
    unsafe {
        _mm256_srli_epi16(
            _mm256_mulhi_epu16(x, _mm256_set1_epi16(0x8081u16 as i16)),
            7,
        )
    }
}

/// The first `16·⌊n/16⌋` of the `n = luma.len()` pixels: straight-alpha RGBA (`4n` bytes) over
/// the grey level `bg` into interleaved RGB (`3n` bytes) and Pillow's luma of it. Returns how
/// many pixels it did; the caller does the rest with the portable loop.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn rgba_over(rgba: &[u8], bg: u8, rgb: &mut [u8], luma: &mut [u8]) -> usize {
    let n = luma.len();
    assert!(rgba.len() >= 4 * n && rgb.len() >= 3 * n);
    let done = n / 16 * 16;
    // SAFETY: AVX2 is enabled (this function's contract); each step reads 64 bytes at
    // `4x + 64 <= 4·done <= rgba.len()`, writes 16 bytes at `x + 16 <= n` of `luma` and 48 at
    // `3x + 48 <= 3n` of `rgb`.
    unsafe {
        let k = _mm256_set1_epi16;
        let masks = rgb48_masks();
        // Within each 4-pixel quarter: R×4, G×4, B×4, A×4.
        let group = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        let bg = k(bg as i16);
        let mut x = 0;
        while x < done {
            let src = rgba.as_ptr().add(4 * x);
            let t: [__m128i; 4] = std::array::from_fn(|q| {
                _mm_shuffle_epi8(_mm_loadu_si128(src.add(16 * q).cast()), group)
            });
            // A 4×4 transpose of 32-bit words: one vector per channel, pixels in order.
            let (u0, u1) = (
                _mm_unpacklo_epi32(t[0], t[1]),
                _mm_unpackhi_epi32(t[0], t[1]),
            );
            let (u2, u3) = (
                _mm_unpacklo_epi32(t[2], t[3]),
                _mm_unpackhi_epi32(t[2], t[3]),
            );
            let r = _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(u0, u2));
            let g = _mm256_cvtepu8_epi16(_mm_unpackhi_epi64(u0, u2));
            let b = _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(u1, u3));
            let a = _mm256_cvtepu8_epi16(_mm_unpackhi_epi64(u1, u3));
            let back =
                _mm256_add_epi16(_mm256_mullo_epi16(bg, _mm256_sub_epi16(k(255), a)), k(127));
            let over = |v| div255(_mm256_add_epi16(_mm256_mullo_epi16(v, a), back));
            let (r, g, b) = (over(r), over(g), over(b));
            _mm_storeu_si128(luma.as_mut_ptr().add(x).cast(), bytes(luma16(r, g, b)));
            store_rgb48(
                rgb.as_mut_ptr().add(3 * x),
                &masks,
                [bytes(r), bytes(g), bytes(b)],
            );
            x += 16;
        }
    }
    done
}

#[cfg(test)]
mod tests {
    /// The division by 255 as a multiply-high and a shift, on every 16-bit numerator.
    #[test]
    fn multiply_high_divides_by_255_on_every_u16() {
        for x in 0..=u16::MAX as u32 {
            assert_eq!((x * 0x8081) >> 23, x / 255, "{x}");
        }
    }
}
