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
//! Speed: coefficient tables are cached per thread and shared, the first pass only computes the
//! rows (or columns) the second pass reads, the vertical pass walks whole rows with an `i32`
//! accumulator row in 8-lane chunks, long horizontal kernels use 16-bit multiplies ([`Taps16`]),
//! short ones fixed-width windows reduced 8 outputs at a time ([`Padded`]), and on x86-64 the
//! kernels are compiled a second time for AVX2 and picked at run time. Every path computes the
//! same integer sums, so all give Pillow's pixels (tested against a plain reference).

use std::f64::consts::PI;
use std::rc::Rc;

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
    /// The same coefficients in fixed-width windows, when that is cheaper (see [`Padded`]).
    padded: Option<Padded>,
}

/// Every output's window widened with zero taps to `kpad` (a multiple of 8) inputs, shifted left
/// where it would run past the last input.
///
/// Short kernels (upscaling, mild downscaling: 7–24 taps) spend more time on per-output loop
/// set-up than on multiplies when each output has its own length; with a fixed width the dot
/// product is a few 8-lane vector multiplies. Zero taps add exactly nothing, so the sums, and
/// hence the pixels, are unchanged.
#[derive(Clone)]
struct Padded {
    kpad: usize,
    starts: Vec<usize>,
    k: Vec<i32>,
}

impl Padded {
    /// `None` when the input is narrower than one padded window.
    fn new(k: &[i32], ksize: usize, bounds: &[(usize, usize)], in_size: usize) -> Option<Padded> {
        let kpad = ksize.next_multiple_of(8);
        if in_size < kpad {
            return None;
        }
        let mut starts = Vec::with_capacity(bounds.len());
        let mut kp = vec![0i32; bounds.len() * kpad];
        for (i, &(start, len)) in bounds.iter().enumerate() {
            let s = start.min(in_size - kpad);
            let at = i * kpad + (start - s);
            kp[at..at + len].copy_from_slice(&k[i * ksize..i * ksize + len]);
            starts.push(s);
        }
        Some(Padded {
            kpad,
            starts,
            k: kp,
        })
    }
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
        let padded = if k16.is_none() {
            Padded::new(&k, ksize, &bounds, in_size)
        } else {
            None
        };
        Taps {
            ksize,
            bounds,
            k,
            k16,
            padded,
        }
    }

    fn taps(&self, i: usize) -> (usize, &[i32]) {
        let (start, len) = self.bounds[i];
        (start, &self.k[i * self.ksize..i * self.ksize + len])
    }

    /// Half-open range of input indices with a tap of any output (what the vertical pass reads).
    fn span(&self) -> (usize, usize) {
        let first = self.bounds.first().map_or(0, |b| b.0);
        let last = self.bounds.last().map_or(0, |b| b.0 + b.1);
        (first, last.max(first))
    }

    /// Half-open range of input indices the horizontal pass reads: the padded windows, if used.
    fn read_span(&self) -> (usize, usize) {
        match &self.padded {
            Some(p) => {
                let first = p.starts.iter().copied().min().unwrap_or(0);
                let last = p.starts.iter().map(|s| s + p.kpad).max().unwrap_or(0);
                (first, last.max(first))
            }
            None => self.span(),
        }
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
/// The rows start at input column `offset` (the columns before it are not read).
#[inline(always)]
fn horizontal_kernel(
    src: &[u8],
    sw: usize,
    rows: usize,
    taps: &Taps,
    offset: usize,
    dst: &mut [u8],
) {
    let dw = taps.bounds.len();
    let rows = src
        .chunks_exact(sw)
        .take(rows)
        .zip(dst.chunks_exact_mut(dw));
    if let Some(p) = &taps.padded {
        for (row, out) in rows {
            for (xx, o) in out.iter_mut().enumerate() {
                *o = padded_output(row, p, offset, xx);
            }
        }
        return;
    }
    for (row, out) in rows {
        for (xx, o) in out.iter_mut().enumerate() {
            let (start, len) = taps.bounds[xx];
            let px = &row[start - offset..start - offset + len];
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

/// Output `xx` of one row through its padded window.
#[inline(always)]
fn padded_output(row: &[u8], p: &Padded, offset: usize, xx: usize) -> u8 {
    let s = p.starts[xx] - offset;
    let px = &row[s..s + p.kpad];
    let k = &p.k[xx * p.kpad..(xx + 1) * p.kpad];
    let mut acc = [0i32; 8];
    for (pc, kc) in px.as_chunks::<8>().0.iter().zip(k.as_chunks::<8>().0) {
        for l in 0..8 {
            // Wrapping: lanes hold partial sums; the total fits in i32, so it comes out exact.
            acc[l] = acc[l].wrapping_add(i32::from(pc[l]) * kc[l]);
        }
    }
    clip8(acc.iter().fold(HALF, |s, &a| s.wrapping_add(a)))
}

/// The padded horizontal pass with AVX2 intrinsics, 8 outputs at a time: each output's window is
/// multiplied in 8-lane chunks, then the 8 accumulators are reduced together (a transposing tree
/// of `hadd`s: 8 sums for the price of one) and clamped with saturating packs, which is `clip8`.
/// The per-output horizontal sum is what costs in the plain kernel; here it is amortised.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn horizontal_padded_avx2(
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

/// Vertical pass over whole rows: columns `[c0, c0 + width)` of a `stride`-wide image whose first
/// row is input row `offset`.
#[inline(always)]
fn vertical_kernel(
    src: &[u8],
    stride: usize,
    c0: usize,
    width: usize,
    taps: &Taps,
    offset: usize,
    dst: &mut [u8],
) {
    let mut acc = vec![0i32; width];
    for (yy, out) in dst.chunks_exact_mut(width).enumerate() {
        let (start, k) = taps.taps(yy);
        acc.fill(HALF);
        for (j, &c) in k.iter().enumerate() {
            let off = (start - offset + j) * stride + c0;
            let row = &src[off..off + width];
            // Fixed 8-lane chunks: a loop of unknown length vectorises only from ~32 columns on,
            // and hash thumbnails are narrower than that.
            let (acc8, acc_tail) = acc.as_chunks_mut::<8>();
            let (row8, row_tail) = row.as_chunks::<8>();
            for (a, p) in acc8.iter_mut().zip(row8) {
                for l in 0..8 {
                    a[l] += i32::from(p[l]) * c;
                }
            }
            for (a, &p) in acc_tail.iter_mut().zip(row_tail) {
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
fn horizontal_avx2(src: &[u8], sw: usize, rows: usize, taps: &Taps, offset: usize, dst: &mut [u8]) {
    horizontal_kernel(src, sw, rows, taps, offset, dst)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical_avx2(
    src: &[u8],
    stride: usize,
    c0: usize,
    width: usize,
    taps: &Taps,
    offset: usize,
    dst: &mut [u8],
) {
    vertical_kernel(src, stride, c0, width, taps, offset, dst)
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

fn horizontal(src: &[u8], sw: usize, rows: usize, taps: &Taps, offset: usize) -> Vec<u8> {
    let dw = taps.bounds.len();
    let mut dst = vec![0u8; rows * dw];
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        if let Some(p) = &taps.padded {
            // SAFETY: the CPU supports AVX2 (checked just above at run time).
            unsafe { horizontal_padded_avx2(src, sw, rows, p, offset, &mut dst) };
            return dst;
        }
        // SAFETY: the CPU supports AVX2 (checked just above at run time).
        unsafe { horizontal_avx2(src, sw, rows, taps, offset, &mut dst) };
        return dst;
    }
    horizontal_kernel(src, sw, rows, taps, offset, &mut dst);
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
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above at run time).
        unsafe { vertical_avx2(src, stride, c0, width, taps, offset, &mut dst) };
        return dst;
    }
    vertical_kernel(src, stride, c0, width, taps, offset, &mut dst);
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
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(t) = c.get(&(in_size, out_size)) {
            return t.clone();
        }
        if c.len() >= 256 {
            c.clear(); // many distinct sizes: keep memory bounded
        }
        let t = Rc::new(Taps::new(in_size, out_size));
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
            // Padded windows: upscaling, mild downscaling, vertical-first with a padded
            // horizontal pass, windows shifted at both edges, an input exactly one window wide.
            (28, 28, 32, 32),
            (28, 28, 9, 8),
            (8, 8, 32, 32),
            (64, 64, 32, 32),
            (60, 600, 32, 32),
            (9, 30, 32, 8),
            (31, 17, 30, 16),
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
    fn padded_windows_hold_the_same_taps() {
        for (i, o) in [
            (28, 32),
            (28, 9),
            (8, 32),
            (64, 32),
            (60, 32),
            (9, 32),
            (31, 30),
        ] {
            let t = Taps::new(i, o);
            let p = t.padded.as_ref().expect("short kernels use padded windows");
            assert_eq!(p.kpad % 8, 0);
            for xx in 0..o {
                let (start, k) = t.taps(xx);
                let s = p.starts[xx];
                assert!(s <= start && start + k.len() <= s + p.kpad && s + p.kpad <= i);
                let row = &p.k[xx * p.kpad..(xx + 1) * p.kpad];
                let (before, rest) = row.split_at(start - s);
                let (taps, after) = rest.split_at(k.len());
                assert_eq!(taps, k, "{i}->{o} output {xx}");
                assert!(before.iter().chain(after).all(|&c| c == 0));
            }
        }
        // Narrower than one window, or long kernels with 16-bit taps: not padded.
        assert!(Taps::new(7, 32).padded.is_none());
        assert!(Taps::new(4000, 32).padded.is_none());
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
