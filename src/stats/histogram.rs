//! Histogram statistics of the luma plane: brightness, contrast, clipped shadows and highlights,
//! entropy — one 256-bin count, then arithmetic on the bins.

/// Luma at or below this level counts as dark (near-clipped shadows).
pub const DARK_LEVEL: u8 = 10;
/// Luma at or above this level counts as bright (near-clipped highlights).
pub const BRIGHT_LEVEL: u8 = 245;

/// Count of pixels at each luma level.
pub fn histogram(luma: &[u8]) -> [u64; 256] {
    // Eight sub-histograms break the store-to-load dependency on runs of equal pixels (smooth
    // regions of photos): a bin is incremented at most every eighth pixel, not every fourth
    // (0.31 -> 0.29 ms/MP on 40 of the wallpaper JPEGs); eight pixels are one load. u32 bins
    // halve what is zeroed per image and hold any count below the pixel limit (the plane is
    // counted in pieces of under 2^32 pixels all the same).
    if luma.len() >= 1 << 32 {
        let (a, b) = luma.split_at(1 << 31);
        let (ha, hb) = (histogram(a), histogram(b));
        return std::array::from_fn(|i| ha[i] + hb[i]);
    }
    // Small planes (thumbnails): zeroing and merging eight 1 KB sub-histograms would cost more
    // than the runs they break (a 28×28 image: 2048 bins against 784 pixels).
    if luma.len() < SMALL_PLANE {
        counted::<SMALL_K>(luma)
    } else {
        counted::<8>(luma)
    }
}

/// Below this many pixels, [`SMALL_K`] sub-histograms (measured on Fashion-MNIST's 28×28: 0.89
/// µs with eight, 0.82 with four, 1.18 with one, for the histogram and its statistics).
const SMALL_PLANE: usize = 16 * 1024;
const SMALL_K: usize = 4;

/// [`histogram`] with `K` sub-histograms (K divides 8): byte j of each 8-byte load goes to
/// sub-histogram j mod K.
#[inline(always)]
fn counted<const K: usize>(luma: &[u8]) -> [u64; 256] {
    let mut h = [[0u32; 256]; K];
    let mut chunks = luma.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        for j in 0..8 {
            h[j % K][((v >> (8 * j)) & 0xff) as usize] += 1;
        }
    }
    for &v in chunks.remainder() {
        h[0][v as usize] += 1;
    }
    let mut out = [0u64; 256];
    for (i, o) in out.iter_mut().enumerate() {
        *o = h.iter().map(|hk| u64::from(hk[i])).sum();
    }
    out
}

/// Statistics of the luma histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LumaStats {
    pub mean: f64,
    pub std: f64,
    pub dark_fraction: f64,
    pub bright_fraction: f64,
    /// Shannon entropy of the 256-bin luma histogram, in bits (0–8).
    pub entropy: f64,
}

/// Mean, standard deviation, clipped fractions and entropy from a histogram (NaN when empty).
pub fn luma_stats(hist: &[u64; 256]) -> LumaStats {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return LumaStats {
            mean: f64::NAN,
            std: f64::NAN,
            dark_fraction: f64::NAN,
            bright_fraction: f64::NAN,
            entropy: f64::NAN,
        };
    }
    // The sum of squares fits u64 below ~2.8·10^14 pixels (255² · n < 2^64); beyond, u128.
    let (s1, s2) = if n < 1 << 40 {
        let (mut s1, mut s2) = (0u64, 0u64);
        for (v, &c) in hist.iter().enumerate() {
            s1 += v as u64 * c;
            s2 += (v * v) as u64 * c;
        }
        (s1 as u128, s2 as u128)
    } else {
        let (mut s1, mut s2) = (0u128, 0u128);
        for (v, &c) in hist.iter().enumerate() {
            s1 += v as u128 * c as u128;
            s2 += (v * v) as u128 * c as u128;
        }
        (s1, s2)
    };
    let entropy = entropy_bits(hist, n);
    let nf = n as f64;
    let mean = s1 as f64 / nf;
    let var = (s2 as f64 / nf - mean * mean).max(0.0);
    let dark: u64 = hist[..=DARK_LEVEL as usize].iter().sum();
    let bright: u64 = hist[BRIGHT_LEVEL as usize..].iter().sum();
    LumaStats {
        mean,
        std: var.sqrt(),
        dark_fraction: dark as f64 / nf,
        bright_fraction: bright as f64 / nf,
        entropy,
    }
}

/// Images of at most this many pixels reuse the `p·log2 p` terms of earlier images of the same
/// size (a 28×28 dataset computes each term once per thread instead of ~200 `log2` a file).
const MEMO_MAX_PIXELS: u64 = 4096;

thread_local! {
    /// The pixel count the terms are for, and `p·log2 p` per count (NaN: not computed yet).
    static TERMS: std::cell::RefCell<(u64, Vec<f64>)> = const { std::cell::RefCell::new((0, Vec::new())) };
}

/// Shannon entropy (bits) of a histogram of `n > 0` pixels: `−Σ p·log2 p` over the non-empty
/// bins in bin order, `p = c·(1/n)`. Small images take each term from a per-thread memo of the
/// same expression (so the same bits); a change of size refills it (at most 32 KB).
fn entropy_bits(hist: &[u64; 256], n: u64) -> f64 {
    let inv_n = 1.0 / n as f64;
    let term = |c: u64| {
        let p = c as f64 * inv_n;
        p * p.log2()
    };
    let entropy = if n > MEMO_MAX_PIXELS {
        let mut entropy = 0.0;
        for &c in hist.iter().filter(|&&c| c > 0) {
            entropy -= term(c);
        }
        entropy
    } else {
        // The sum is a local of the closure (returned), not a captured variable: captured, it
        // lived in memory and each subtraction waited on the previous one's store.
        TERMS.with(|t| {
            let (size, terms) = &mut *t.borrow_mut();
            if *size != n {
                *size = n;
                terms.clear();
                terms.resize(n as usize + 1, f64::NAN);
                // An empty bin subtracts +0, which leaves every sum as it is (x − 0 = x, and
                // +0 − +0 = +0): no branch on empty bins, whose pattern is unpredictable.
                terms[0] = 0.0;
            }
            let mut entropy = 0.0;
            for &c in hist {
                let known = &mut terms[c as usize];
                if known.is_nan() {
                    *known = term(c);
                }
                entropy -= *known;
            }
            entropy
        })
    };
    entropy.max(0.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn remembered_entropy_terms_give_the_same_bits() {
        // The direct sum, as luma_stats computed it before the memo.
        fn direct(hist: &[u64; 256]) -> f64 {
            let n: u64 = hist.iter().sum();
            let inv_n = 1.0 / n as f64;
            let mut e = 0.0;
            for &c in hist.iter().filter(|&&c| c > 0) {
                let p = c as f64 * inv_n;
                e -= p * p.log2();
            }
            e.max(0.0)
        }
        let noise = crate::test_support::noise_bytes(5000, 11);
        // Sizes that share and change the memo, on both sides of its limit, twice over.
        for round in 0..2 {
            for n in [784usize, 784, 1024, 1, 4096, 4097, 5000, 784] {
                let luma: Vec<u8> = noise[..n].iter().map(|&v| v >> (round + 2)).collect();
                let h = super::histogram(&luma);
                let got = super::luma_stats(&h).entropy;
                assert_eq!(got.to_bits(), direct(&h).to_bits(), "n = {n}");
            }
        }
    }

    use super::*;

    #[test]
    fn histogram_counts_every_pixel_once() {
        // Both sides of the small-plane split, every remainder of the 8-byte loads.
        let noise = crate::test_support::noise_bytes(40_000, 7);
        for n in (0..40).chain([4095, 4096, 4097, 4999, SMALL_PLANE - 1, SMALL_PLANE, 39_999]) {
            let mut want = [0u64; 256];
            noise[..n].iter().for_each(|&v| want[v as usize] += 1);
            assert_eq!(histogram(&noise[..n]), want, "{n} pixels");
        }
    }

    #[test]
    fn histogram_stats() {
        let luma = [0u8, 0, 255, 255];
        let s = luma_stats(&histogram(&luma));
        assert_eq!(s.mean, 127.5);
        assert_eq!(s.std, 127.5);
        assert_eq!(s.dark_fraction, 0.5);
        assert_eq!(s.bright_fraction, 0.5);
        assert!((s.entropy - 1.0).abs() < 1e-12);
        let flat = luma_stats(&histogram(&[77u8; 1000]));
        assert_eq!((flat.std, flat.entropy), (0.0, 0.0));
    }
}
