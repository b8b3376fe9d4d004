//! Resampling: the Pillow-exact LANCZOS resize the hashes are defined by, plus the two cheap
//! reductions the statistics use ([`reduce_box_l8`]: f×f block means, what a 1/f JPEG decode
//! does; [`resize_area_l8`] / [`resize_area_rgb8`]: exact area averages to an analysis size).
//!
//! Layout: `taps.rs` (Pillow's coefficients), `kernels.rs` (portable passes), `avx2.rs` (the
//! same passes for AVX2), this file (pass order, caching, dispatch), `area.rs`, `reduce.rs`.
//!
//! ## LANCZOS
//!
//! imagehash hashes are defined by `Image.resize(size, Image.LANCZOS)`, so any other resampler
//! (even a better one) moves hash bits. This module reproduces Pillow 13's
//! `src/libImaging/Resample.c` for mode "L" bit for bit:
//!
//! 1. coefficients are computed in `f64` from `lanczos(x) = sinc(x)·sinc(x/3)` on `[-3, 3)`, with
//!    `scale = (in as f32) / out` (Pillow passes the box as `float`), normalised by their sum;
//! 2. they are quantised to 22 fractional bits (`(int)(±0.5 + w·2²²)`);
//! 3. every output is `clamp((2²¹ + Σ pixel·k) >> 22, 0, 255)` in `i32`, and the image between the
//!    two passes is `u8`, exactly as in Pillow;
//! 4. an axis whose size does not change is not resampled at all;
//! 5. Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many
//!    pixels as the width (`ΔH > 0 && ΔH > 2·ΔW`), otherwise the horizontal pass first (Pillow ≤ 12
//!    always went horizontal first: the order changes rounding of the `u8` intermediate).
//!
//! Speed: coefficient tables are cached per thread and shared, the first pass only computes the
//! rows (or columns) the second pass reads, the vertical pass walks whole rows with an `i32`
//! accumulator row in 8-lane chunks, long horizontal kernels use 16-bit multiplies
//! ([`taps::Taps16`]), short ones fixed-width windows reduced 8 outputs at a time
//! ([`taps::Padded`]), and on x86-64 the kernels are compiled a second time for AVX2 and picked by
//! `cpu::level()`. Every path computes the same integer sums, so all give Pillow's pixels (tested
//! against a plain reference).

mod area;
#[cfg(target_arch = "x86_64")]
mod avx2;
mod kernels;
mod reduce;
mod taps;

pub use area::{AreaL8Rows, AreaRgbStream, fit_long_side, resize_area_l8, resize_area_rgb8};
pub use reduce::reduce_box_l8;

use crate::cpu::{self, Level};
use std::rc::Rc;
use taps::Taps;

fn horizontal(src: &[u8], sw: usize, rows: usize, taps: &Taps, offset: usize) -> Vec<u8> {
    let dw = taps.bounds.len();
    let mut dst = vec![0u8; rows * dw];
    #[cfg(target_arch = "x86_64")]
    if cpu::level() >= Level::Avx2 {
        cpu::note(Level::Avx2);
        if let Some(p) = &taps.padded {
            // SAFETY: `cpu::level()` never exceeds what the CPU supports: it has AVX2.
            unsafe { avx2::horizontal_padded(src, sw, rows, p, offset, &mut dst) };
            return dst;
        }
        // SAFETY: as above.
        unsafe { avx2::horizontal(src, sw, rows, taps, offset, &mut dst) };
        return dst;
    }
    cpu::note(Level::Scalar);
    kernels::horizontal(src, sw, rows, taps, offset, &mut dst);
    dst
}

fn vertical(
    src: &[u8],
    stride: usize,
    c0: usize,
    width: usize,
    taps: &Taps,
    offset: usize,
) -> Vec<u8> {
    let mut dst = vec![0u8; width * taps.bounds.len()];
    kernels::vertical(src, stride, c0, width, taps, offset, &mut dst);
    dst
}

/// Does Pillow 13 run the vertical pass first for this resize?
///
/// Pillow 13 orders the passes so the first one removes most pixels: vertical first iff the
/// height shrinks by more than twice as many rows as the width shrinks by columns.
pub fn vertical_first(sw: usize, sh: usize, dw: usize, dh: usize) -> bool {
    let dy = sh as i64 - dh as i64;
    let dx = sw as i64 - dw as i64;
    dy > 0 && dy > 2 * dx
}

/// Taps for `in_size → out_size`, from a small per-thread cache: computing them costs hundreds
/// of `sin` calls, more than resizing a thumbnail, and datasets repeat a few sizes.
fn cached_taps(in_size: usize, out_size: usize) -> Rc<Taps> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<(usize, usize), Rc<Taps>>> = RefCell::new(HashMap::new());
    }
    // The scan of one image asks for the same handful of tables (8 lookups for the hashes of a
    // thumbnail): a linear look at the last few found saves hashing the key each time.
    type Recent = [Option<((usize, usize), Rc<Taps>)>; 8];
    thread_local! {
        static RECENT: RefCell<(Recent, usize)> = RefCell::new((Default::default(), 0));
    }
    let key = (in_size, out_size);
    let hit = RECENT.with(|r| {
        let r = r.borrow();
        r.0.iter()
            .flatten()
            .find(|(k, _)| *k == key)
            .map(|(_, t)| t.clone())
    });
    if let Some(t) = hit {
        return t;
    }
    let t = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(t) = c.get(&key) {
            return t.clone();
        }
        if c.len() >= 256 {
            c.clear(); // many distinct sizes: keep memory bounded
        }
        let t = Rc::new(Taps::new(in_size, out_size));
        c.insert(key, t.clone());
        t
    });
    RECENT.with(|r| {
        let (slots, next) = &mut *r.borrow_mut();
        slots[*next] = Some((key, t.clone()));
        *next = (*next + 1) % slots.len();
    });
    t
}

/// Resize a row-major `sw`×`sh` 8-bit luma image to `dw`×`dh` exactly like Pillow 13's
/// `Image.resize((dw, dh), Image.LANCZOS)` on a mode "L" image.
///
/// Returns `dw * dh` bytes, row-major. An empty source (`sw` or `sh` is 0) gives an all-zero
/// result (Pillow cannot build such an image); an empty target gives an empty vector.
///
/// # Panics
/// If `src.len() != sw * sh`.
pub fn resize_lanczos_l8(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    assert_eq!(src.len(), sw * sh, "source buffer is not {sw}x{sh}");
    if dw == 0 || dh == 0 {
        return Vec::new();
    }
    if sw == 0 || sh == 0 {
        return vec![0; dw * dh];
    }
    let need_h = dw != sw;
    let need_v = dh != sh;
    match (need_h, need_v) {
        (false, false) => src.to_vec(),
        (true, false) => horizontal(src, sw, sh, &cached_taps(sw, dw), 0),
        (false, true) => vertical(src, sw, 0, sw, &cached_taps(sh, dh), 0),
        (true, true) => {
            let tv = cached_taps(sh, dh);
            let th = cached_taps(sw, dw);
            if vertical_first(sw, sh, dw, dh) {
                // Only the columns the horizontal pass reads are resampled vertically.
                let (c0, c1) = th.read_span();
                let tmp = vertical(src, sw, c0, c1 - c0, &tv, 0);
                horizontal(&tmp, c1 - c0, dh, &th, c0)
            } else {
                // Only the rows the vertical pass reads are resampled horizontally (as Pillow).
                let (r0, r1) = tv.span();
                let tmp = horizontal(&src[r0 * sw..], sw, r1 - r0, &th, 0);
                vertical(&tmp, dw, 0, dw, &tv, r0)
            }
        }
    }
}

/// Two LANCZOS resizes of one image to the same width and two heights (`dw`×`dh_a` and
/// `dw`×`dh_b`), each exactly [`resize_lanczos_l8`]'s result. When Pillow runs the horizontal
/// pass first for both, that pass (independent per row) is computed once over the rows either
/// vertical pass reads: the aHash's 8×8 and the transposed dHash's 8×9 planes share it.
pub fn resize_lanczos_l8_two_heights(
    src: &[u8],
    sw: usize,
    sh: usize,
    dw: usize,
    (dh_a, dh_b): (usize, usize),
) -> (Vec<u8>, Vec<u8>) {
    let shared = sw > 0
        && sh > 0
        && dw > 0
        && dw != sw
        && [dh_a, dh_b]
            .iter()
            .all(|&dh| dh > 0 && dh != sh && !vertical_first(sw, sh, dw, dh));
    if !shared {
        return (
            resize_lanczos_l8(src, sw, sh, dw, dh_a),
            resize_lanczos_l8(src, sw, sh, dw, dh_b),
        );
    }
    assert_eq!(src.len(), sw * sh, "source buffer is not {sw}x{sh}");
    let (ta, tb) = (cached_taps(sh, dh_a), cached_taps(sh, dh_b));
    let th = cached_taps(sw, dw);
    let ((a0, a1), (b0, b1)) = (ta.span(), tb.span());
    let (r0, r1) = (a0.min(b0), a1.max(b1));
    let tmp = horizontal(&src[r0 * sw..], sw, r1 - r0, &th, 0);
    (
        vertical(&tmp, dw, 0, dw, &ta, r0),
        vertical(&tmp, dw, 0, dw, &tb, r0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::testing::{same_on_every_level, with_level};
    use taps::{HALF, PRECISION_BITS};

    fn clip8(ss: i32) -> u8 {
        (ss >> PRECISION_BITS).clamp(0, 255) as u8
    }

    /// Plain per-pixel two-pass reference: i32 taps only (no 16-bit path, no cropping, no SIMD
    /// dispatch), written as Pillow's loops.
    fn reference(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
        let hpass = |img: &[u8], w: usize, h: usize| -> Vec<u8> {
            if w == dw {
                return img.to_vec();
            }
            let t = Taps::new(w, dw);
            let mut out = vec![0u8; dw * h];
            for y in 0..h {
                for x in 0..dw {
                    let (start, k) = t.taps(x);
                    let mut ss = HALF;
                    for (j, &c) in k.iter().enumerate() {
                        ss += i32::from(img[y * w + start + j]) * c;
                    }
                    out[y * dw + x] = clip8(ss);
                }
            }
            out
        };
        let vpass = |img: &[u8], w: usize, h: usize| -> Vec<u8> {
            if h == dh {
                return img.to_vec();
            }
            let t = Taps::new(h, dh);
            let mut out = vec![0u8; w * dh];
            for y in 0..dh {
                let (start, k) = t.taps(y);
                for x in 0..w {
                    let mut ss = HALF;
                    for (j, &c) in k.iter().enumerate() {
                        ss += i32::from(img[(start + j) * w + x]) * c;
                    }
                    out[y * w + x] = clip8(ss);
                }
            }
            out
        };
        if vertical_first(sw, sh, dw, dh) {
            hpass(&vpass(src, sw, sh), sw, dh)
        } else {
            vpass(&hpass(src, sw, sh), dw, sh)
        }
    }

    use crate::test_support::noise_bytes as noise;

    #[test]
    fn constant_image_stays_constant() {
        for v in [0u8, 1, 77, 254, 255] {
            let src = vec![v; 123 * 45];
            for (dw, dh) in [(32, 32), (9, 8), (8, 8), (200, 90), (123, 7), (5, 45)] {
                let out = resize_lanczos_l8(&src, 123, 45, dw, dh);
                assert!(out.iter().all(|&p| p == v), "{v} -> {dw}x{dh}");
            }
        }
    }

    #[test]
    fn identity_and_single_axis() {
        let src = noise(31 * 17, 1);
        assert_eq!(resize_lanczos_l8(&src, 31, 17, 31, 17), src);
        // A horizontal-only resize treats every row independently.
        let out = resize_lanczos_l8(&src, 31, 17, 8, 17);
        for r in 0..17 {
            let row = resize_lanczos_l8(&src[r * 31..(r + 1) * 31], 31, 1, 8, 1);
            assert_eq!(&out[r * 8..(r + 1) * 8], &row[..]);
        }
    }

    #[test]
    fn cropped_and_dispatched_passes_match_plain_reference() {
        let sizes = [
            (1, 1, 8, 8),
            (7, 5, 32, 32),
            (37, 1000, 32, 32),
            (1000, 23, 9, 8),
            (640, 480, 32, 32),
            (4000, 30, 32, 8),
            (3000, 40, 9, 8),
            (33, 200, 8, 8),
            (200, 33, 8, 8),
            (50, 50, 49, 51),
            // Padded windows: upscaling, mild downscaling, vertical-first with a padded
            // horizontal pass, windows shifted at both edges, an input exactly one window wide.
            (28, 28, 32, 32),
            (28, 28, 9, 8),
            (8, 8, 32, 32),
            (64, 64, 32, 32),
            (60, 600, 32, 32),
            (9, 30, 32, 8),
            (31, 17, 30, 16),
            // Padded windows of 2, 4 and 6 chunks of 8 taps (the AVX2 pass unrolls 1–3).
            (64, 20, 32, 20),
            (40, 40, 9, 8),
            (60, 60, 9, 8),
        ];
        // Once per SIMD level this CPU has: the scalar fallbacks run too, not just AVX2.
        for level in crate::cpu::available() {
            let ((), ran) = with_level(level, || {
                for (i, &(sw, sh, dw, dh)) in sizes.iter().enumerate() {
                    let src = noise(sw * sh, i as u64);
                    assert_eq!(
                        resize_lanczos_l8(&src, sw, sh, dw, dh),
                        reference(&src, sw, sh, dw, dh),
                        "{sw}x{sh} -> {dw}x{dh} at {level:?}"
                    );
                }
            });
            assert!(ran, "the {level:?} resize kernels did not run");
        }
    }

    #[test]
    fn scalar_and_simd_kernels_are_bit_exact() {
        // Random sizes cover all three horizontal layouts (16-bit taps, padded windows, plain
        // i32) and both pass orders; every level must give the scalar bytes.
        let mut s = 7u64;
        let mut next = |n: usize| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            1 + (s >> 33) as usize % n
        };
        for case in 0..60 {
            let (sw, sh) = (next(700), next(700));
            let (dw, dh) = if case % 3 == 0 {
                (next(80), next(80))
            } else {
                (9, 8)
            };
            let src = noise(sw * sh, case);
            same_on_every_level(&format!("{sw}x{sh} -> {dw}x{dh}"), || {
                resize_lanczos_l8(&src, sw, sh, dw, dh)
            });
        }
    }

    #[test]
    fn two_heights_equal_two_resizes() {
        // Shared horizontal pass (thumbnails, photos' hash planes), and the fallbacks: one or
        // both vertical-first, an unchanged width or height, degenerate sizes.
        for (i, &(sw, sh)) in [
            (28, 28),
            (1, 1),
            (2, 9),
            (9, 2),
            (64, 85),
            (85, 64),
            (8, 40),
            (30, 200),
            (300, 9),
            (0, 0),
        ]
        .iter()
        .enumerate()
        {
            let src = noise(sw * sh, i as u64);
            for (dw, dhs) in [(8, (8, 9)), (9, (8, 9)), (8, (9, 9)), (32, (32, 8))] {
                let got = resize_lanczos_l8_two_heights(&src, sw, sh, dw, dhs);
                let want = (
                    resize_lanczos_l8(&src, sw, sh, dw, dhs.0),
                    resize_lanczos_l8(&src, sw, sh, dw, dhs.1),
                );
                assert_eq!(got, want, "{sw}x{sh} -> {dw} x {dhs:?}");
            }
        }
    }

    #[test]
    fn pass_order_rule() {
        assert!(!vertical_first(4000, 3000, 32, 32));
        assert!(vertical_first(37, 1000, 32, 32));
        assert!(!vertical_first(8, 8, 32, 32));
        assert!(vertical_first(100, 100, 100, 50));
        assert!(!vertical_first(100, 100, 50, 100));
    }

    #[test]
    fn degenerate_sizes() {
        assert!(resize_lanczos_l8(&[1, 2, 3], 3, 1, 0, 5).is_empty());
        assert_eq!(resize_lanczos_l8(&[], 0, 0, 2, 2), vec![0; 4]);
        assert_eq!(resize_lanczos_l8(&[200], 1, 1, 3, 2), vec![200; 6]);
    }
}
