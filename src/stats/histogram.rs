//! Histogram statistics of the luma plane: brightness, contrast, clipped shadows and highlights,
//! entropy — one 256-bin count, then arithmetic on the bins.

/// Luma at or below this level counts as dark (near-clipped shadows).
pub const DARK_LEVEL: u8 = 10;
/// Luma at or above this level counts as bright (near-clipped highlights).
pub const BRIGHT_LEVEL: u8 = 245;

/// Count of pixels at each luma level.
pub fn histogram(luma: &[u8]) -> [u64; 256] {
    // Four sub-histograms break the store-to-load dependency on runs of equal pixels; u32 bins
    // halve what is zeroed per image and hold any count below the pixel limit (the plane is
    // counted in pieces of under 2^32 pixels all the same).
    if luma.len() >= 1 << 32 {
        let (a, b) = luma.split_at(1 << 31);
        let (ha, hb) = (histogram(a), histogram(b));
        return std::array::from_fn(|i| ha[i] + hb[i]);
    }
    let mut h = [[0u32; 256]; 4];
    let mut chunks = luma.chunks_exact(4);
    for c in &mut chunks {
        h[0][c[0] as usize] += 1;
        h[1][c[1] as usize] += 1;
        h[2][c[2] as usize] += 1;
        h[3][c[3] as usize] += 1;
    }
    for &v in chunks.remainder() {
        h[0][v as usize] += 1;
    }
    let mut out = [0u64; 256];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u64::from(h[0][i]) + u64::from(h[1][i]) + u64::from(h[2][i]) + u64::from(h[3][i]);
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
    // u128: the sums of squares overflow u64 beyond ~2.8·10^14 pixels; cheap next to the logs.
    let (mut s1, mut s2) = (0u128, 0u128);
    let mut entropy = 0.0;
    let inv_n = 1.0 / n as f64;
    for (v, &c) in hist.iter().enumerate().filter(|(_, c)| **c > 0) {
        s1 += v as u128 * c as u128;
        s2 += (v * v) as u128 * c as u128;
        let p = c as f64 * inv_n;
        entropy -= p * p.log2();
    }
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
        entropy: entropy.max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
