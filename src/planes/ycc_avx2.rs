//! The JPEG planes' hot loop (libjpeg-turbo's RGB, Pillow's luma and the colour sums of one
//! row; `ycbcr.rs`) in 16-bit lanes with AVX2, 16 pixels a step — and the same luma and colour
//! sums for a row of interleaved RGB a decoder made (`luma_color_of_rgb`, split into channels
//! with byte shuffles), and the interleaving stores the RGBA compositing kernel reuses.
//!
//! Why: the portable loop, vectorised by LLVM, works in 32-bit lanes (libjpeg's colour constants
//! do not fit in 16 bits) and multiplies with `vpmulld`; this was the largest of the scan's own
//! costs on JPEG (≈0.8 ms per megapixel). Here every step is a 16-bit operation whose
//! intermediate values provably stay in 0..65535, rewritten from the same integer expressions:
//!
//! - libjpeg's offsets `(91881·(Cr−128) + 2^15) >> 16` and `(116130·(Cb−128) + 2^15) >> 16`
//!   and the green `(−22554·(Cb−128) − 46802·(Cr−128) + 2^15) >> 16`: the bias made positive
//!   by a multiple of 2^16, the multiples of 2^16 taken out of the constants, and the rest
//!   divided in two steps of 2^8 (`⌊(256a + b)/2^16⌋ = ⌊(a + ⌊b/2^8⌋)/2^8⌋`, exact for integers);
//! - Pillow's luma `(19595R + 38470G + 7471B + 2^15) >> 16` with each constant split into
//!   `256·hi + lo` the same way;
//! - the colour sums through `vpmaddwd` (pairs of 16-bit products added into 32-bit lanes),
//!   flushed to 64 bits every 2,048 pixels, long before a lane could overflow.
//!
//! The rewritten expressions equal the originals on every input (tests: every Cb/Cr pair for
//! the offsets, every R/G/B triple for the luma, and the kernel against the portable loop).

use crate::stats::{ColorSums, GRAY_SPREAD};
use std::arch::x86_64::*;

/// Output byte `i` of the 16-byte vector `k` of 48 interleaved bytes is pixel `(16k + i) / 3`
/// of channel `(16k + i) % 3`: the `pshufb` mask that picks channel `c`'s bytes (others zero).
const fn interleave_mask(k: usize, c: usize) -> [u8; 16] {
    let mut m = [0x80u8; 16];
    let mut i = 0;
    while i < 16 {
        let j = 16 * k + i;
        if j % 3 == c {
            m[i] = (j / 3) as u8;
        }
        i += 1;
    }
    m
}

const MASKS: [[[u8; 16]; 3]; 3] = [
    [
        interleave_mask(0, 0),
        interleave_mask(0, 1),
        interleave_mask(0, 2),
    ],
    [
        interleave_mask(1, 0),
        interleave_mask(1, 1),
        interleave_mask(1, 2),
    ],
    [
        interleave_mask(2, 0),
        interleave_mask(2, 1),
        interleave_mask(2, 2),
    ],
];

/// Steps of 16 pixels between flushes of the 32-bit sums (a lane gains at most 2·510² per step).
const FLUSH_STEPS: usize = 128;

/// libjpeg's R, G, B offsets from Cb and Cr (as 16-bit lanes holding 0..255) — see the module
/// docs; `planes::ycbcr` tests them on every (Y, Cb, Cr) triple.
#[inline(always)]
unsafe fn offsets(cb: __m256i, cr: __m256i) -> [__m256i; 3] {
    let k = _mm256_set1_epi16;
    // SAFETY: AVX2 is enabled on every caller (`rgb_luma_color`); no memory is touched.
    unsafe {
        let (add, mul) = (_mm256_add_epi16, _mm256_mullo_epi16);
        // R: Cr − 179 + ((102·Cr + ((233·Cr + 2944) >> 8)) >> 8)
        let t = _mm256_srli_epi16(add(mul(cr, k(233)), k(2944)), 8);
        let r = _mm256_sub_epi16(
            add(cr, _mm256_srli_epi16(add(mul(cr, k(102)), t), 8)),
            k(179),
        );
        // G: 135 − ((44·Cb + 91·Cr + ((26·Cb + 210·Cr + 2559) >> 9)) >> 7)
        let low = add(add(mul(cb, k(26)), mul(cr, k(210))), k(2559));
        let g = _mm256_sub_epi16(
            k(135),
            _mm256_srli_epi16(
                add(
                    add(mul(cb, k(44)), mul(cr, k(91))),
                    _mm256_srli_epi16(low, 9),
                ),
                7,
            ),
        );
        // B: Cb − 227 + ((197·Cb + 175 + ((162·Cb) >> 8)) >> 8)
        let t = _mm256_srli_epi16(mul(cb, k(162)), 8);
        let b = _mm256_sub_epi16(
            add(
                cb,
                _mm256_srli_epi16(add(add(mul(cb, k(197)), k(175)), t), 8),
            ),
            k(227),
        );
        [r, g, b]
    }
}

/// Pillow's luma of R, G, B in 16-bit lanes (0..255 each).
#[inline(always)]
pub(super) unsafe fn luma16(r: __m256i, g: __m256i, b: __m256i) -> __m256i {
    let k = _mm256_set1_epi16;
    // SAFETY: AVX2 is enabled on every caller.
    unsafe {
        let (add, mul) = (_mm256_add_epi16, _mm256_mullo_epi16);
        let hi = add(add(mul(r, k(76)), mul(g, k(150))), mul(b, k(29)));
        let lo = add(add(mul(r, k(139)), mul(g, k(70))), mul(b, k(47)));
        _mm256_srli_epi16(add(add(hi, k(128)), _mm256_srli_epi16(lo, 8)), 8)
    }
}

/// 16 lanes of 0..255 as 16 bytes.
#[inline(always)]
pub(super) unsafe fn bytes(v: __m256i) -> __m128i {
    // SAFETY: AVX2 is enabled on every caller.
    unsafe { _mm_packus_epi16(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)) }
}

#[inline(always)]
unsafe fn load16(s: &[u8], x: usize) -> __m256i {
    debug_assert!(x + 16 <= s.len());
    // SAFETY: AVX2 is enabled on every caller; the caller checked `x + 16 <= s.len()`.
    unsafe { _mm256_cvtepu8_epi16(_mm_loadu_si128(s.as_ptr().add(x).cast())) }
}

/// 16 pixels of R, G and B (one byte each in a 16-byte vector) written as 48 interleaved
/// bytes at `dst`; `masks` is [`MASKS`] loaded.
///
/// # Safety
/// AVX2 is enabled on every caller, and `dst` has room for 48 bytes.
#[inline(always)]
pub(super) unsafe fn store_rgb48(dst: *mut u8, masks: &[[__m128i; 3]; 3], planes: [__m128i; 3]) {
    for (i, m) in masks.iter().enumerate() {
        // SAFETY: as the function's contract says.
        unsafe {
            let v = _mm_or_si128(
                _mm_or_si128(
                    _mm_shuffle_epi8(planes[0], m[0]),
                    _mm_shuffle_epi8(planes[1], m[1]),
                ),
                _mm_shuffle_epi8(planes[2], m[2]),
            );
            _mm_storeu_si128(dst.add(16 * i).cast(), v);
        }
    }
}

/// A table of `pshufb` masks ([`MASKS`], [`SPLIT`]) in registers.
///
/// # Safety
/// AVX2 is enabled on every caller.
#[inline(always)]
unsafe fn load_masks(table: &[[[u8; 16]; 3]; 3]) -> [[__m128i; 3]; 3] {
    // SAFETY: each mask is 16 bytes; SSE2 loads.
    table.map(|m| m.map(|c| unsafe { _mm_loadu_si128(c.as_ptr().cast()) }))
}

/// [`MASKS`] in registers, for [`store_rgb48`].
///
/// # Safety
/// AVX2 is enabled on every caller.
#[inline(always)]
pub(super) unsafe fn rgb48_masks() -> [[__m128i; 3]; 3] {
    // SAFETY: AVX2 is enabled on every caller.
    unsafe { load_masks(&MASKS) }
}

/// 8 lanes of 32-bit sums added up.
#[inline(always)]
unsafe fn lanes_sum(v: __m256i) -> i64 {
    let mut a = [0i32; 8];
    // SAFETY: `a` has room for 32 bytes; AVX2 is enabled on every caller.
    unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) };
    a.iter().map(|&x| x as i64).sum()
}

/// The colour sums of up to `16·FLUSH_STEPS` pixels in 32-bit (and, for the coloured count,
/// 16-bit) lanes: Σ(R−G) and Σ(R−G)² and Σ(R+G−2B) and its square through `vpmaddwd` (pairs of
/// 16-bit products added into 32-bit lanes), and the pixels whose channel spread exceeds
/// `GRAY_SPREAD`. A lane gains at most 2·510² per step, so they cannot overflow before
/// [`Sums16::flush`].
struct Sums16 {
    rg1: __m256i,
    rg2: __m256i,
    yb1: __m256i,
    yb2: __m256i,
    colored: __m256i,
}

impl Sums16 {
    #[inline(always)]
    unsafe fn new() -> Self {
        // SAFETY: AVX2 is enabled on every caller.
        let zero = unsafe { _mm256_setzero_si256() };
        Sums16 {
            rg1: zero,
            rg2: zero,
            yb1: zero,
            yb2: zero,
            colored: zero,
        }
    }

    /// Add 16 pixels (16-bit lanes of 0..255 each).
    #[inline(always)]
    unsafe fn add(&mut self, r: __m256i, g: __m256i, b: __m256i) {
        // SAFETY: AVX2 is enabled on every caller; no memory is touched.
        unsafe {
            let k = _mm256_set1_epi16;
            let rgd = _mm256_sub_epi16(r, g);
            let ybd = _mm256_sub_epi16(_mm256_add_epi16(r, g), _mm256_add_epi16(b, b));
            self.rg1 = _mm256_add_epi32(self.rg1, _mm256_madd_epi16(rgd, k(1)));
            self.rg2 = _mm256_add_epi32(self.rg2, _mm256_madd_epi16(rgd, rgd));
            self.yb1 = _mm256_add_epi32(self.yb1, _mm256_madd_epi16(ybd, k(1)));
            self.yb2 = _mm256_add_epi32(self.yb2, _mm256_madd_epi16(ybd, ybd));
            let spread = _mm256_sub_epi16(
                _mm256_max_epi16(r, _mm256_max_epi16(g, b)),
                _mm256_min_epi16(r, _mm256_min_epi16(g, b)),
            );
            // −1 in each coloured lane: subtracting counts them (≤ FLUSH_STEPS per lane).
            self.colored = _mm256_sub_epi16(
                self.colored,
                _mm256_cmpgt_epi16(spread, k(GRAY_SPREAD as i16)),
            );
        }
    }

    /// Add the sums of the `n` pixels added to `sums`.
    #[inline(always)]
    unsafe fn flush(self, sums: &mut ColorSums, n: usize) {
        // SAFETY: AVX2 is enabled on every caller.
        unsafe {
            sums.add_parts(
                (lanes_sum(self.rg1), lanes_sum(self.rg2)),
                (lanes_sum(self.yb1), lanes_sum(self.yb2)),
                lanes_sum(_mm256_madd_epi16(self.colored, _mm256_set1_epi16(1))) as u64,
                n as u64,
            );
        }
    }
}

/// Byte `j` of the `pshufb` mask that takes channel `c`'s bytes out of 16-byte vector `k` of 48
/// interleaved bytes (pixel `j` of channel `c` is byte `3j + c`); the other lanes read zero.
const fn split_mask(k: usize, c: usize) -> [u8; 16] {
    let mut m = [0x80u8; 16];
    let mut j = 0;
    while j < 16 {
        let i = 3 * j + c;
        if i / 16 == k {
            m[j] = (i % 16) as u8;
        }
        j += 1;
    }
    m
}

const SPLIT: [[[u8; 16]; 3]; 3] = [
    [split_mask(0, 0), split_mask(0, 1), split_mask(0, 2)],
    [split_mask(1, 0), split_mask(1, 1), split_mask(1, 2)],
    [split_mask(2, 0), split_mask(2, 1), split_mask(2, 2)],
];

/// The first `16·⌊n/16⌋` pixels of a row of interleaved RGB (`3n` bytes, `n = luma.len()`):
/// Pillow's luma into `luma` and the colour sums added to `sums` (a decoder's RGB image walked
/// row by row, `decode::rgb_rows`). Returns how many pixels it did; the caller does the rest.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn luma_color_of_rgb(rgb: &[u8], luma: &mut [u8], sums: &mut ColorSums) -> usize {
    let n = luma.len();
    assert!(rgb.len() >= 3 * n);
    let done = n / 16 * 16;
    // SAFETY: AVX2 is enabled (this function's contract); each step reads 48 bytes at
    // `3x + 48 <= 3n` of `rgb` and writes 16 at `x + 16 <= n` of `luma`.
    unsafe {
        let masks = load_masks(&SPLIT);
        let mut x = 0;
        while x < done {
            let (start, stop) = (x, (x + 16 * FLUSH_STEPS).min(done));
            let mut acc = Sums16::new();
            while x < stop {
                let src = rgb.as_ptr().add(3 * x);
                let v: [__m128i; 3] =
                    std::array::from_fn(|k| _mm_loadu_si128(src.add(16 * k).cast()));
                let channel = |c: usize| {
                    let mut out = _mm_shuffle_epi8(v[0], masks[0][c]);
                    out = _mm_or_si128(out, _mm_shuffle_epi8(v[1], masks[1][c]));
                    _mm256_cvtepu8_epi16(_mm_or_si128(out, _mm_shuffle_epi8(v[2], masks[2][c])))
                };
                let (r, g, b) = (channel(0), channel(1), channel(2));
                _mm_storeu_si128(luma.as_mut_ptr().add(x).cast(), bytes(luma16(r, g, b)));
                acc.add(r, g, b);
                x += 16;
            }
            acc.flush(sums, stop - start);
        }
    }
    done
}

/// The first `16·⌊n/16⌋` pixels of a row: `y`, `cb`, `cr` (upsampled to full width, `n` each)
/// to interleaved RGB (`3n` bytes), Pillow's luma (`n`), and their colour sums added to
/// `sums`. Returns how many pixels it did; the caller does the rest with the portable loop.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn rgb_luma_color(
    y: &[u8],
    cb: &[u8],
    cr: &[u8],
    rgb: &mut [u8],
    luma: &mut [u8],
    sums: &mut ColorSums,
) -> usize {
    let n = luma.len();
    assert!(y.len() >= n && cb.len() >= n && cr.len() >= n && rgb.len() >= 3 * n);
    let done = n / 16 * 16;
    // SAFETY: AVX2 is enabled (this function's contract); every load reads 16 bytes at
    // `x + 16 <= done <= n` of slices at least `n` long, every store writes 16 bytes at
    // `x + 16 <= n` of `luma` and at `3x + 48 <= 3n` of `rgb`.
    unsafe {
        let k = _mm256_set1_epi16;
        let masks = rgb48_masks();
        let mut x = 0;
        while x < done {
            let (start, stop) = (x, (x + 16 * FLUSH_STEPS).min(done));
            let zero = _mm256_setzero_si256();
            let mut acc = Sums16::new();
            while x < stop {
                let yy = load16(y, x);
                let [ro, go, bo] = offsets(load16(cb, x), load16(cr, x));
                let clamp = |v| _mm256_min_epi16(_mm256_max_epi16(v, zero), k(255));
                let r = clamp(_mm256_add_epi16(yy, ro));
                let g = clamp(_mm256_add_epi16(yy, go));
                let b = clamp(_mm256_add_epi16(yy, bo));
                _mm_storeu_si128(luma.as_mut_ptr().add(x).cast(), bytes(luma16(r, g, b)));
                store_rgb48(
                    rgb.as_mut_ptr().add(3 * x),
                    &masks,
                    [bytes(r), bytes(g), bytes(b)],
                );
                acc.add(r, g, b);
                x += 16;
            }
            acc.flush(sums, stop - start);
        }
    }
    done
}

#[cfg(test)]
mod tests {
    /// The 16-bit rewrites, lane by lane in scalar `u16` arithmetic (each intermediate must
    /// stay below 2^16: checked), against libjpeg's and Pillow's expressions on every input.
    #[test]
    fn sixteen_bit_rewrites_equal_the_original_expressions_everywhere() {
        let fits = |v: u32| {
            assert!(v < 1 << 16, "{v} overflows 16 bits");
            v
        };
        for cb in 0..=255u32 {
            for cr in 0..=255u32 {
                let (b, r) = (cb as i32 - 128, cr as i32 - 128);
                let low = fits(26 * cb + 210 * cr + 2559);
                let g16 = 135 - (fits(44 * cb + 91 * cr + (low >> 9)) >> 7) as i32;
                assert_eq!(
                    g16,
                    (-22554 * b + 32768 - 46802 * r) >> 16,
                    "cb={cb} cr={cr}"
                );
            }
            let v = cb;
            let b16 = v as i32 - 227 + (fits(197 * v + 175 + (fits(162 * v) >> 8)) >> 8) as i32;
            assert_eq!(b16, (116130 * (v as i32 - 128) + 32768) >> 16, "cb={v}");
            let t = fits(233 * v + 2944) >> 8;
            let r16 = v as i32 - 179 + (fits(102 * v + t) >> 8) as i32;
            assert_eq!(r16, (91881 * (v as i32 - 128) + 32768) >> 16, "cr={v}");
        }
        for r in 0..=255u32 {
            for g in 0..=255u32 {
                for b in 0..=255u32 {
                    let hi = fits(76 * r + 150 * g + 29 * b);
                    let lo = fits(139 * r + 70 * g + 47 * b);
                    let l16 = fits(hi + 128 + (lo >> 8)) >> 8;
                    assert_eq!(l16, (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
                }
            }
        }
    }
}
