//! Pillow-exact LANCZOS resize of 8-bit single-channel ("L") images.
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
//! Speed: coefficient tables are built once per call, the first pass only computes the rows (or
//! columns) the second pass reads, the vertical pass walks whole rows with an `i32` accumulator
//! row (contiguous, auto-vectorised), and on x86-64 both kernels are compiled a second time for
//! AVX2 and picked at run time.

use std::f64::consts::PI;

/// Fractional bits of the fixed-point coefficients (Pillow: `32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;
/// Rounding offset added before the final shift (Pillow: `1 << (PRECISION_BITS - 1)`).
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Lanczos-3 support radius in input pixels at scale 1.
const SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * PI;
        x.sin() / x
    }
}

fn lanczos(x: f64) -> f64 {
    // Pillow truncates the sinc to the half-open interval [-3, 3).
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// Fixed-point filter taps for one axis: output `i` reads `len` inputs from `start` with the
/// coefficients `k[i * ksize .. i * ksize + len]`.
#[derive(Clone)]
struct Taps {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    k: Vec<i32>,
    /// The same coefficients for 16-bit multiplies, when that is cheaper (see [`Taps16`]).
    k16: Option<Taps16>,
}

/// Coefficients clamped to `i16` plus the few corrections that make them exact again.
///
/// x86's `pmaddwd` does 16 multiply-adds of 16-bit operands per AVX2 instruction where `pmulld`
/// does 8 at twice the cost, and strong downscaling (what hashing does) has small taps: only the
/// central one or two taps of an output exceed `i16` (e.g. 33 554 for 4000 → 32 px). So
/// `Σ p·k = Σ p·clamp16(k) + Σ p·(k − clamp16(k))`, the second sum over a handful of taps.
#[derive(Clone)]
struct Taps16 {
    k: Vec<i16>,
    /// Corrections of output `i` are `fixes[fix_at[i]..fix_at[i + 1]]`, as (tap index, delta).
    fix_at: Vec<usize>,
    fixes: Vec<(usize, i32)>,
}

impl Taps16 {
    /// `None` when more than 1 tap in 8 would need a correction (mild scaling or upscaling,
    /// where the plain `i32` kernel is as fast).
    fn new(k: &[i32], ksize: usize, bounds: &[(usize, usize)]) -> Option<Taps16> {
        let out = bounds.len();
        let taps: usize = bounds.iter().map(|b| b.1).sum();
        let mut k16 = Vec::with_capacity(k.len());
        let mut fix_at = vec![0];
        let mut fixes = Vec::new();
        for row in k.chunks_exact(ksize).take(out) {
            for (j, &c) in row.iter().enumerate() {
                let clamped = c.clamp(i32::from(i16::MIN), i32::from(i16::MAX));
                if clamped != c {
                    fixes.push((j, c - clamped));
                }
                k16.push(clamped as i16);
            }
            fix_at.push(fixes.len());
        }
        (fixes.len() * 8 <= taps).then_some(Taps16 {
            k: k16,
            fix_at,
            fixes,
        })
    }
}

impl Taps {
    /// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, operation for operation
    /// (the order of the floating-point operations decides the rounding, so it is kept as is).
    fn new(in_size: usize, out_size: usize) -> Taps {
        // `(double)(in1 - in0) / outSize` with a float box: the input size goes through f32.
        let scale = f64::from(in_size as f32) / out_size as f64;
        let filterscale = if scale < 1.0 { 1.0 } else { scale };
        let support = SUPPORT * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let ss = 1.0 / filterscale;

        let mut bounds = Vec::with_capacity(out_size);
        let mut k = vec![0i32; out_size * ksize];
        let mut w = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // `(int)` truncates toward zero, like Rust's `as`.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) - xmin;
            let len = xmax.max(0) as usize;
            let mut ww = 0.0;
            for (x, wx) in w.iter_mut().enumerate().take(len) {
                let v = lanczos(((x as i64 + xmin) as f64 - center + 0.5) * ss);
                *wx = v;
                ww += v;
            }
            let row = &mut k[xx * ksize..xx * ksize + len];
            for (kx, &wx) in row.iter_mut().zip(&w[..len]) {
                let v = if ww != 0.0 { wx / ww } else { wx };
                let f = v * f64::from(1u32 << PRECISION_BITS);
                *kx = if v < 0.0 {
                    (-0.5 + f) as i32
                } else {
                    (0.5 + f) as i32
                };
            }
            bounds.push((xmin as usize, len));
        }
        let k16 = Taps16::new(&k, ksize, &bounds);
        Taps {
            ksize,
            bounds,
            k,
            k16,
        }
    }

    fn taps(&self, i: usize) -> (usize, &[i32]) {
        let (start, len) = self.bounds[i];
        (start, &self.k[i * self.ksize..i * self.ksize + len])
    }

    /// Half-open range of input indices read by any output.
    fn span(&self) -> (usize, usize) {
        let first = self.bounds.first().map_or(0, |b| b.0);
        let last = self.bounds.last().map_or(0, |b| b.0 + b.1);
        (first, last.max(first))
    }
}

/// Pillow's `clip8`: arithmetic shift (floor), then clamp to a byte.
#[inline(always)]
fn clip8(ss: i32) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// `Σ p·c` with 16-bit operands: the shape LLVM turns into `pmaddwd`.
#[inline(always)]
fn dot16(px: &[u8], k: &[i16]) -> i32 {
    px.iter().zip(k).fold(0i32, |s, (&p, &c)| {
        s.wrapping_add(i32::from(p) * i32::from(c))
    })
}

/// Horizontal pass: `rows` rows of width `sw` starting at byte `src` → rows of width `taps.len`.
#[inline(always)]
fn horizontal_kernel(src: &[u8], sw: usize, rows: usize, taps: &Taps, dst: &mut [u8]) {
    let dw = taps.bounds.len();
    for (row, out) in src
        .chunks_exact(sw)
        .take(rows)
        .zip(dst.chunks_exact_mut(dw))
    {
        for (xx, o) in out.iter_mut().enumerate() {
            let (start, len) = taps.bounds[xx];
            let px = &row[start..start + len];
            let at = xx * taps.ksize..xx * taps.ksize + len;
            let ss = match &taps.k16 {
                // The true sum fits in i32, so wrapping intermediates still give it exactly.
                Some(t) => {
                    let fixes = &t.fixes[t.fix_at[xx]..t.fix_at[xx + 1]];
                    fixes
                        .iter()
                        .fold(HALF.wrapping_add(dot16(px, &t.k[at])), |s, &(j, d)| {
                            s.wrapping_add(i32::from(px[j]) * d)
                        })
                }
                None => taps.k[at]
                    .iter()
                    .zip(px)
                    .fold(HALF, |s, (&c, &p)| s + i32::from(p) * c),
            };
            *o = clip8(ss);
        }
    }
}

/// Vertical pass over whole rows: columns `[c0, c0 + width)` of a `stride`-wide image.
#[inline(always)]
fn vertical_kernel(
    src: &[u8],
    stride: usize,
    c0: usize,
    width: usize,
    taps: &Taps,
    dst: &mut [u8],
) {
    let mut acc = vec![0i32; width];
    for (yy, out) in dst.chunks_exact_mut(width).enumerate() {
        let (start, k) = taps.taps(yy);
        acc.fill(HALF);
        for (j, &c) in k.iter().enumerate() {
            let off = (start + j) * stride + c0;
            let row = &src[off..off + width];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += i32::from(p) * c;
            }
        }
        for (o, &a) in out.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn horizontal_avx2(src: &[u8], sw: usize, rows: usize, taps: &Taps, dst: &mut [u8]) {
    horizontal_kernel(src, sw, rows, taps, dst)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical_avx2(src: &[u8], stride: usize, c0: usize, width: usize, taps: &Taps, dst: &mut [u8]) {
    vertical_kernel(src, stride, c0, width, taps, dst)
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

fn horizontal(src: &[u8], sw: usize, rows: usize, taps: &Taps) -> Vec<u8> {
    let mut dst = vec![0u8; rows * taps.bounds.len()];
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above at run time).
        unsafe { horizontal_avx2(src, sw, rows, taps, &mut dst) };
        return dst;
    }
    horizontal_kernel(src, sw, rows, taps, &mut dst);
    dst
}

fn vertical(src: &[u8], stride: usize, c0: usize, width: usize, taps: &Taps) -> Vec<u8> {
    let mut dst = vec![0u8; width * taps.bounds.len()];
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above at run time).
        unsafe { vertical_avx2(src, stride, c0, width, taps, &mut dst) };
        return dst;
    }
    vertical_kernel(src, stride, c0, width, taps, &mut dst);
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
fn cached_taps(in_size: usize, out_size: usize) -> Taps {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<(usize, usize), Taps>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(t) = c.get(&(in_size, out_size)) {
            return t.clone();
        }
        if c.len() >= 256 {
            c.clear(); // many distinct sizes: keep memory bounded
        }
        let t = Taps::new(in_size, out_size);
        c.insert((in_size, out_size), t.clone());
        t
    })
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
        (true, false) => horizontal(src, sw, sh, &cached_taps(sw, dw)),
        (false, true) => vertical(src, sw, 0, sw, &cached_taps(sh, dh)),
        (true, true) => {
            let mut tv = cached_taps(sh, dh);
            let mut th = cached_taps(sw, dw);
            if vertical_first(sw, sh, dw, dh) {
                // Only the columns the horizontal pass reads are resampled vertically.
                let (c0, c1) = th.span();
                let tmp = vertical(src, sw, c0, c1 - c0, &tv);
                for b in &mut th.bounds {
                    b.0 -= c0;
                }
                horizontal(&tmp, c1 - c0, dh, &th)
            } else {
                // Only the rows the vertical pass reads are resampled horizontally (as Pillow).
                let (r0, r1) = tv.span();
                let tmp = horizontal(&src[r0 * sw..], sw, r1 - r0, &th);
                for b in &mut tv.bounds {
                    b.0 -= r0;
                }
                vertical(&tmp, dw, 0, dw, &tv)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn coefficients_sum_to_one_in_fixed_point() {
        for (i, o) in [(100, 32), (37, 8), (8, 32), (1000, 9), (5, 7), (3, 1)] {
            let t = Taps::new(i, o);
            for xx in 0..o {
                let (start, k) = t.taps(xx);
                assert!(start + k.len() <= i);
                let s: i64 = k.iter().map(|&c| i64::from(c)).sum();
                // Rounding each tap moves the sum by at most half a unit per tap.
                assert!(
                    (s - (1 << 22)).abs() <= k.len() as i64,
                    "{i}->{o} out {xx}: {s}"
                );
            }
        }
    }

    #[test]
    fn sixteen_bit_taps_are_exact() {
        // 4000 → 32 has central taps just above i16::MAX: the clamp-and-fix path must be used.
        for (i, o, corrected) in [
            (4000, 32, true),
            (4000, 8, false),
            (4000, 9, false),
            (1000, 9, true),
        ] {
            let t = Taps::new(i, o);
            let t16 = t.k16.as_ref().expect("strong downscale uses 16-bit taps");
            assert_eq!(!t16.fixes.is_empty(), corrected, "{i}->{o}");
            for xx in 0..o {
                let (_, k) = t.taps(xx);
                let mut k2: Vec<i32> = t16.k[xx * t.ksize..][..k.len()]
                    .iter()
                    .map(|&c| i32::from(c))
                    .collect();
                for &(j, d) in &t16.fixes[t16.fix_at[xx]..t16.fix_at[xx + 1]] {
                    k2[j] += d;
                }
                assert_eq!(k2, k, "{i}->{o} output {xx}");
            }
        }
        // Upscaling: taps near 2^22 would all need fixes; the i32 kernel is used instead.
        assert!(Taps::new(8, 32).k16.is_none());
    }

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
        ];
        for (i, &(sw, sh, dw, dh)) in sizes.iter().enumerate() {
            let src = noise(sw * sh, i as u64);
            assert_eq!(
                resize_lanczos_l8(&src, sw, sh, dw, dh),
                reference(&src, sw, sh, dw, dh),
                "{sw}x{sh} -> {dw}x{dh}"
            );
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
