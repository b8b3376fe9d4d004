//! Per-image statistics on 8-bit planes. Each function is one pass with integer accumulators;
//! definitions follow the references users check against (OpenCV, Immerkær 1996, Hasler–Süsstrunk).
//! Weather and light statistics live in the submodules below.

pub mod atmosphere;
pub mod illuminant;
pub mod min_filter;
pub mod motion;

/// Luma at or below this level counts as dark (near-clipped shadows).
pub const DARK_LEVEL: u8 = 10;
/// Luma at or above this level counts as bright (near-clipped highlights).
pub const BRIGHT_LEVEL: u8 = 245;
/// A pixel is coloured when max(R,G,B) − min(R,G,B) exceeds this many levels; JPEG chroma noise
/// on grey content stays well below it.
pub const GRAY_SPREAD: u8 = 12;
/// An image is grayscale when fewer than this share of its pixels is coloured.
pub const GRAY_MAX_COLORED_SHARE: f64 = 0.005;

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

/// OpenCV's BORDER_REFLECT_101 index (gfedcb|abcdefgh|gfedcba).
#[inline]
fn reflect101(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let n = n as isize;
    let mut i = i;
    while i < 0 || i >= n {
        i = if i < 0 { -i } else { 2 * n - 2 - i };
    }
    i as usize
}

/// Variance of the Laplacian, exactly `cv2.Laplacian(gray, cv2.CV_64F).var()`: kernel
/// [[0,1,0],[1,-4,1],[0,1,0]], BORDER_REFLECT_101, population variance. Integer sums, so the
/// result is exact up to the final division.
pub fn laplacian_variance(luma: &[u8], w: usize, h: usize) -> f64 {
    if w == 0 || h == 0 {
        return f64::NAN;
    }
    if w >= 3 && h >= 3 {
        return second_derivatives(luma, w, h, false).0;
    }
    // Images thinner than 3 pixels: every pixel is a border pixel.
    let (mut s1, mut s2) = (0i64, 0i64);
    let px = |x: isize, y: isize| luma[reflect101(y, h) * w + reflect101(x, w)] as i64;
    for y in 0..h as isize {
        for x in 0..w as isize {
            let v = px(x - 1, y) + px(x + 1, y) + px(x, y - 1) + px(x, y + 1) - 4 * px(x, y);
            s1 += v;
            s2 += v * v;
        }
    }
    let n = (w * h) as f64;
    let mean = s1 as f64 / n;
    (s2 as f64 / n - mean * mean).max(0.0)
}

/// Immerkær's fast noise estimate: σ = sqrt(π/2) / (6 (W−2)(H−2)) · Σ |I ∗ N| over interior
/// pixels, N = [[1,−2,1],[−2,4,−2],[1,−2,1]]. NaN for images smaller than 3×3.
pub fn immerkaer_sigma(luma: &[u8], w: usize, h: usize) -> f64 {
    if w < 3 || h < 3 {
        return f64::NAN;
    }
    let mut total = 0u64;
    for y in 1..h - 1 {
        let a = &luma[(y - 1) * w..y * w];
        let b = &luma[y * w..(y + 1) * w];
        let c = &luma[(y + 1) * w..(y + 2) * w];
        let mut row = 0u64;
        for x in 1..w - 1 {
            let v = a[x - 1] as i32 - 2 * a[x] as i32 + a[x + 1] as i32 - 2 * b[x - 1] as i32
                + 4 * b[x] as i32
                - 2 * b[x + 1] as i32
                + c[x - 1] as i32
                - 2 * c[x] as i32
                + c[x + 1] as i32;
            row += v.unsigned_abs() as u64;
        }
        total += row;
    }
    let n = ((w - 2) * (h - 2)) as f64;
    (std::f64::consts::FRAC_PI_2).sqrt() * total as f64 / (6.0 * n)
}

crate::simd::dispatch! {
/// Laplacian variance and (optionally) Immerkær σ in one pass over the rows, with inner loops
/// the compiler vectorises. Equal to `laplacian_variance` and `immerkaer_sigma` (tested).
/// Immerkær's kernel is separable, [1,−2,1]ᵀ ⊗ [1,−2,1]: each row's horizontal second difference is
/// computed once and combined across three rows.
pub fn second_derivatives(luma: &[u8], w: usize, h: usize, want_noise: bool) -> (f64, f64) {
    if w < 3 || h < 3 {
        let noise = if want_noise {
            immerkaer_sigma(luma, w, h)
        } else {
            f64::NAN
        };
        return (laplacian_variance(luma, w, h), noise);
    }
    // Perimeter: reflect-101 with w, h ≥ 3 maps index −1 to 1 and n to n − 2.
    let (mut s1, mut s2) = (0i64, 0i64);
    let refl = |i: usize, d: isize, n: usize| -> usize {
        match (i, d) {
            (0, -1) => 1,
            (i, 1) if i == n - 1 => n - 2,
            _ => (i as isize + d) as usize,
        }
    };
    let mut border = |x: usize, y: usize| {
        let at = |xx: usize, yy: usize| luma[yy * w + xx] as i64;
        let v = at(refl(x, -1, w), y) + at(refl(x, 1, w), y) + at(x, refl(y, -1, h))
            + at(x, refl(y, 1, h))
            - 4 * at(x, y);
        s1 += v;
        s2 += v * v;
    };
    for x in 0..w {
        border(x, 0);
        border(x, h - 1);
    }
    for y in 1..h - 1 {
        border(0, y);
        border(w - 1, y);
    }
    let n_in = w - 2;
    let row = |y: usize| &luma[y * w..(y + 1) * w];
    // Horizontal second differences of three consecutive rows (Immerkær only).
    let mut hd: [Vec<i16>; 3] = [vec![0; n_in], vec![0; n_in], vec![0; n_in]];
    if want_noise {
        hdiff(row(0), &mut hd[0]);
        hdiff(row(1), &mut hd[1]);
    }
    let mut abs_total = 0u64;
    const CHUNK: usize = 2048; // keeps i32 sums of squares from overflowing
    for y in 1..h - 1 {
        let (up, mid, dn) = (row(y - 1), row(y), row(y + 1));
        let mut start = 0;
        while start < n_in {
            let end = (start + CHUNK).min(n_in);
            let len = end - start;
            // Equal-length slices and an index loop: no bounds checks, so the loop vectorises.
            let (u, d) = (&up[1 + start..][..len], &dn[1 + start..][..len]);
            let (l, r, c) = (
                &mid[start..][..len],
                &mid[2 + start..][..len],
                &mid[1 + start..][..len],
            );
            let (mut a1, mut a2) = (0i32, 0i32);
            for i in 0..len {
                let v = u[i] as i32 + d[i] as i32 + l[i] as i32 + r[i] as i32 - 4 * c[i] as i32;
                a1 += v;
                a2 += v * v;
            }
            s1 += a1 as i64;
            s2 += a2 as i64;
            start = end;
        }
        if want_noise {
            let slot = (y + 1) % 3;
            hdiff(dn, &mut hd[slot]);
            let (a, b, c) = (
                &hd[(y - 1) % 3][..n_in],
                &hd[y % 3][..n_in],
                &hd[slot][..n_in],
            );
            let mut start = 0;
            while start < n_in {
                // |v| ≤ 4080, so 2048 of them fit a u32 sum.
                let end = (start + CHUNK).min(n_in);
                let mut acc = 0u32;
                for i in start..end {
                    acc += (a[i] as i32 - 2 * b[i] as i32 + c[i] as i32).unsigned_abs();
                }
                abs_total += acc as u64;
                start = end;
            }
        }
    }
    let n = (w * h) as f64;
    let mean = s1 as f64 / n;
    let lap = (s2 as f64 / n - mean * mean).max(0.0);
    let noise = if want_noise {
        (std::f64::consts::FRAC_PI_2).sqrt() * abs_total as f64 / (6.0 * (n_in * (h - 2)) as f64)
    } else {
        f64::NAN
    };
    (lap, noise)
}
}

#[inline(always)]
fn hdiff(row: &[u8], out: &mut [i16]) {
    let n = out.len();
    let (a, b, c) = (&row[..n], &row[1..][..n], &row[2..][..n]);
    for i in 0..n {
        out[i] = a[i] as i16 - 2 * b[i] as i16 + c[i] as i16;
    }
}

/// Colour statistics of interleaved RGB in one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorStats {
    /// Hasler & Süsstrunk (2003): sqrt(σrg²+σyb²) + 0.3·sqrt(μrg²+μyb²), rg = R−G, yb = ½(R+G)−B.
    pub colorfulness: f64,
    /// Fewer than GRAY_MAX_COLORED_SHARE of pixels have a channel spread above GRAY_SPREAD.
    pub is_grayscale: bool,
}

crate::simd::dispatch! {
pub fn color_stats(rgb: &[u8]) -> ColorStats {
    let n = (rgb.len() / 3) as u64;
    if n == 0 {
        return ColorStats {
            colorfulness: f64::NAN,
            is_grayscale: true,
        };
    }
    // yb is a half-integer: accumulate 2·yb to stay in integers. Chunks of 4096 pixels keep the
    // i32 sums of squares below 2^31 (510² · 4096 ≈ 1.07e9).
    let (mut rg1, mut rg2, mut yb1, mut yb2, mut colored) = (0i64, 0i64, 0i64, 0i64, 0u64);
    for chunk in rgb.chunks(3 * 4096) {
        let (mut a1, mut a2, mut b1, mut b2, mut c) = (0i32, 0i32, 0i32, 0i32, 0u32);
        for p in chunk.chunks_exact(3) {
            let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
            let rg = r - g;
            let yb = r + g - 2 * b;
            a1 += rg;
            a2 += rg * rg;
            b1 += yb;
            b2 += yb * yb;
            let spread = r.max(g).max(b) - r.min(g).min(b);
            c += (spread > GRAY_SPREAD as i32) as u32;
        }
        rg1 += a1 as i64;
        rg2 += a2 as i64;
        yb1 += b1 as i64;
        yb2 += b2 as i64;
        colored += c as u64;
    }
    let nf = n as f64;
    let mrg = rg1 as f64 / nf;
    let myb = yb1 as f64 / nf / 2.0;
    let vrg = (rg2 as f64 / nf - mrg * mrg).max(0.0);
    let vyb = (yb2 as f64 / nf / 4.0 - myb * myb).max(0.0);
    ColorStats {
        colorfulness: (vrg + vyb).sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt(),
        is_grayscale: (colored as f64) < GRAY_MAX_COLORED_SHARE * nf,
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct (slow) Laplacian with explicit reflect-101 padding, the reference for the fast one.
    fn laplacian_reference(l: &[u8], w: usize, h: usize) -> f64 {
        let mut vals = Vec::new();
        for y in 0..h as isize {
            for x in 0..w as isize {
                let p = |xx: isize, yy: isize| l[reflect101(yy, h) * w + reflect101(xx, w)] as f64;
                vals.push(p(x - 1, y) + p(x + 1, y) + p(x, y - 1) + p(x, y + 1) - 4.0 * p(x, y));
            }
        }
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / vals.len() as f64
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn reflect101_matches_opencv() {
        assert_eq!(reflect101(-1, 5), 1);
        assert_eq!(reflect101(-2, 5), 2);
        assert_eq!(reflect101(5, 5), 3);
        assert_eq!(reflect101(6, 5), 2);
        assert_eq!(reflect101(-1, 2), 1);
        assert_eq!(reflect101(2, 2), 0);
    }

    #[test]
    fn laplacian_matches_reference_on_many_sizes() {
        let mut seed = 7;
        for &(w, h) in &[
            (1, 1),
            (1, 5),
            (5, 1),
            (2, 2),
            (3, 3),
            (4, 7),
            (17, 9),
            (64, 33),
        ] {
            let img: Vec<u8> = (0..w * h).map(|_| lcg(&mut seed) as u8).collect();
            let fast = laplacian_variance(&img, w, h);
            let slow = laplacian_reference(&img, w, h);
            assert!(
                (fast - slow).abs() <= 1e-9 * slow.max(1.0),
                "{w}x{h}: {fast} vs {slow}"
            );
        }
    }

    #[test]
    fn fused_pass_equals_separate_functions() {
        let mut seed = 11;
        for &(w, h) in &[(1, 1), (2, 9), (3, 3), (4, 7), (17, 9), (64, 33), (2500, 5)] {
            let img: Vec<u8> = (0..w * h).map(|_| lcg(&mut seed) as u8).collect();
            let (lap, noise) = second_derivatives(&img, w, h, true);
            let lap_ref = laplacian_reference(&img, w, h);
            assert!((lap - lap_ref).abs() <= 1e-9 * lap_ref.max(1.0), "{w}x{h}");
            let n_ref = immerkaer_sigma(&img, w, h);
            assert!(
                noise == n_ref || (noise.is_nan() && n_ref.is_nan()),
                "{w}x{h}: {noise} {n_ref}"
            );
        }
    }

    #[test]
    fn immerkaer_is_zero_on_planes_and_recovers_sigma() {
        let (w, h) = (256, 256);
        let ramp: Vec<u8> = (0..w * h)
            .map(|i| ((i % w) / 2 + (i / w) / 4) as u8)
            .collect();
        assert!(immerkaer_sigma(&ramp, w, h) < 1e-9);
        // Box–Muller Gaussian noise of σ = 5 on mid-grey.
        let mut seed = 42;
        let noisy: Vec<u8> = (0..w * h)
            .map(|_| {
                let u1 = (lcg(&mut seed) as f64 + 1.0) / (1u64 << 31) as f64;
                let u2 = lcg(&mut seed) as f64 / (1u64 << 31) as f64;
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                (128.0 + 5.0 * z).round().clamp(0.0, 255.0) as u8
            })
            .collect();
        let s = immerkaer_sigma(&noisy, w, h);
        assert!((s - 5.0).abs() < 0.25, "sigma {s}");
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

    #[test]
    fn colorfulness_and_grayscale() {
        let gray: Vec<u8> = (0..300).map(|i| (i / 3) as u8).collect();
        let c = color_stats(&gray);
        assert!(c.is_grayscale);
        assert_eq!(c.colorfulness, 0.0);
        let red: Vec<u8> = (0..100).flat_map(|_| [255u8, 0, 0]).collect();
        let c = color_stats(&red);
        assert!(!c.is_grayscale);
        // rg = 255, yb = 127.5, no variance: 0.3 * sqrt(255² + 127.5²).
        assert!((c.colorfulness - 0.3 * (255f64.powi(2) + 127.5f64.powi(2)).sqrt()).abs() < 1e-9);
    }
}
