//! Lanczos-3 filter coefficients exactly as Pillow computes them (`precompute_coeffs` and
//! `normalize_coeffs_8bpc` in `Resample.c`), and two re-layouts of the same integers that let the
//! kernels run faster without changing a single sum: [`Taps16`] and [`Padded`].

use std::f64::consts::PI;

/// Fractional bits of the fixed-point coefficients (Pillow: `32 - 8 - 2`).
pub(super) const PRECISION_BITS: u32 = 22;
/// Rounding offset added before the final shift (Pillow: `1 << (PRECISION_BITS - 1)`).
pub(super) const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Lanczos-3 support radius in input pixels at scale 1.
pub(super) const SUPPORT: f64 = 3.0;

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
pub(super) struct Taps {
    pub(super) ksize: usize,
    pub(super) bounds: Vec<(usize, usize)>,
    pub(super) k: Vec<i32>,
    /// The same coefficients for 16-bit multiplies, when that is cheaper (see [`Taps16`]).
    pub(super) k16: Option<Taps16>,
    /// The same coefficients in fixed-width windows, when that is cheaper (see [`Padded`]).
    pub(super) padded: Option<Padded>,
}

/// Every output's window widened with zero taps to `kpad` (a multiple of 8) inputs, shifted left
/// where it would run past the last input.
///
/// Short kernels (upscaling, mild downscaling: 7–24 taps) spend more time on per-output loop
/// set-up than on multiplies when each output has its own length; with a fixed width the dot
/// product is a few 8-lane vector multiplies. Zero taps add exactly nothing, so the sums, and
/// hence the pixels, are unchanged.
#[derive(Clone)]
pub(super) struct Padded {
    pub(super) kpad: usize,
    pub(super) starts: Vec<usize>,
    pub(super) k: Vec<i32>,
}

impl Padded {
    /// `None` when the input is narrower than one padded window.
    pub(super) fn new(
        k: &[i32],
        ksize: usize,
        bounds: &[(usize, usize)],
        in_size: usize,
    ) -> Option<Padded> {
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
pub(super) struct Taps16 {
    pub(super) k: Vec<i16>,
    /// Corrections of output `i` are `fixes[fix_at[i]..fix_at[i + 1]]`, as (tap index, delta).
    pub(super) fix_at: Vec<usize>,
    pub(super) fixes: Vec<(usize, i32)>,
}

impl Taps16 {
    /// `None` when more than 1 tap in 8 would need a correction (mild scaling or upscaling,
    /// where the plain `i32` kernel is as fast).
    pub(super) fn new(k: &[i32], ksize: usize, bounds: &[(usize, usize)]) -> Option<Taps16> {
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
    pub(super) fn new(in_size: usize, out_size: usize) -> Taps {
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

    pub(super) fn taps(&self, i: usize) -> (usize, &[i32]) {
        let (start, len) = self.bounds[i];
        (start, &self.k[i * self.ksize..i * self.ksize + len])
    }

    /// Half-open range of input indices with a tap of any output (what the vertical pass reads).
    pub(super) fn span(&self) -> (usize, usize) {
        let first = self.bounds.first().map_or(0, |b| b.0);
        let last = self.bounds.last().map_or(0, |b| b.0 + b.1);
        (first, last.max(first))
    }

    /// Half-open range of input indices the horizontal pass reads: the padded windows, if used.
    pub(super) fn read_span(&self) -> (usize, usize) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // The window widths the resize tests run through the AVX2 pass's unrolled (1–3 chunks
        // of 8 taps) and general loops.
        for (i, o, kpad) in [
            (28, 32, 8),
            (64, 32, 16),
            (28, 9, 24),
            (40, 9, 32),
            (60, 9, 48),
        ] {
            let t = Taps::new(i, o);
            assert_eq!(t.padded.as_ref().map(|p| p.kpad), Some(kpad), "{i}->{o}");
        }
        // Narrower than one window, or long kernels with 16-bit taps: not padded.
        assert!(Taps::new(7, 32).padded.is_none());
        assert!(Taps::new(4000, 32).padded.is_none());
    }
}
