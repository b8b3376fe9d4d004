//! Second derivatives of the luma plane: `blur` and `sharpness` (variance of the Laplacian, as
//! OpenCV computes it) and `noise` (Immerkær's σ), fused into one pass over the rows.

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
/// `[[0,1,0],[1,-4,1],[0,1,0]]`, BORDER_REFLECT_101, population variance. Integer sums, so the
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

/// Integer sums the second-derivative statistics are made of: Σv and Σv² of the Laplacian over
/// every pixel, Σ|Immerkær response| over interior pixels. Parts of a plane (its border, bands of
/// interior rows) can be summed separately and added in any order: the totals are exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DerivativeSums {
    s1: i64,
    s2: i64,
    abs_total: u64,
}

impl DerivativeSums {
    pub fn add(&mut self, other: DerivativeSums) {
        self.s1 += other.s1;
        self.s2 += other.s2;
        self.abs_total += other.abs_total;
    }

    /// `(Laplacian variance, Immerkær σ)` of a `w`×`h` plane (w, h ≥ 3) whose border
    /// ([`border_sums`]) and every interior row ([`interior_sums`]) were added; σ is NaN unless
    /// `want_noise` (and the interior sums were taken with it).
    pub fn finish(&self, w: usize, h: usize, want_noise: bool) -> (f64, f64) {
        let n = (w * h) as f64;
        let mean = self.s1 as f64 / n;
        let lap = (self.s2 as f64 / n - mean * mean).max(0.0);
        let noise = if want_noise {
            (std::f64::consts::FRAC_PI_2).sqrt() * self.abs_total as f64
                / (6.0 * ((w - 2) * (h - 2)) as f64)
        } else {
            f64::NAN
        };
        (lap, noise)
    }
}

/// Laplacian sums of the perimeter pixels of a `w`×`h` plane (w, h ≥ 3), reflect-101 at the edges.
pub fn border_sums(luma: &[u8], w: usize, h: usize) -> DerivativeSums {
    assert!(w >= 3 && h >= 3 && luma.len() >= w * h);
    // Reflect-101 with w, h ≥ 3 maps index −1 to 1 and n to n − 2: the top row's neighbours above
    // and below are both row 1, the bottom row's both row h − 2, the first column's left and right
    // both column 1, the last column's both column w − 2.
    let row = |y: usize| &luma[y * w..(y + 1) * w];
    let (mut s1, mut s2) = (0i64, 0i64);
    for (y, near) in [(0, 1), (h - 1, h - 2)] {
        // The row's inner pixels: the interior kernel's loop, with `near` above and below.
        let (a1, a2) = inner_row_sums(row(near), row(y), row(near));
        s1 += a1;
        s2 += a2;
    }
    // The first and last pixel of every row: the side columns and the four corners.
    for y in 0..h {
        let up = row(if y == 0 { 1 } else { y - 1 });
        let dn = row(if y == h - 1 { h - 2 } else { y + 1 });
        let mid = row(y);
        for (x, side) in [(0, 1), (w - 1, w - 2)] {
            let v = i64::from(up[x]) + i64::from(dn[x]) + 2 * i64::from(mid[side])
                - 4 * i64::from(mid[x]);
            s1 += v;
            s2 += v * v;
        }
    }
    DerivativeSums {
        s1,
        s2,
        abs_total: 0,
    }
}

/// `(Σv, Σv²)` of the Laplacian `v` of pixels `1..w − 1` of row `mid` (`up` and `dn` the rows
/// above and below): the loop both the border rows and [`interior_sums`] run.
#[inline(always)]
fn inner_row_sums(up: &[u8], mid: &[u8], dn: &[u8]) -> (i64, i64) {
    const CHUNK: usize = 2048; // keeps i32 sums of squares from overflowing
    let n_in = mid.len() - 2;
    let (mut s1, mut s2) = (0i64, 0i64);
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
            // |v| ≤ 1020 fits in 16 bits: saying so lets the square use `vpmaddwd`.
            let v =
                (u[i] as i16 + d[i] as i16 + l[i] as i16 + r[i] as i16 - 4 * c[i] as i16) as i32;
            a1 += v;
            a2 += v * v;
        }
        s1 += a1 as i64;
        s2 += a2 as i64;
        start = end;
    }
    (s1, s2)
}

/// Laplacian variance and (optionally) Immerkær σ in one pass over the rows, with inner loops
/// the compiler vectorises. Equal to `laplacian_variance` and `immerkaer_sigma` (tested).
pub fn second_derivatives(luma: &[u8], w: usize, h: usize, want_noise: bool) -> (f64, f64) {
    if w < 3 || h < 3 {
        let noise = if want_noise {
            immerkaer_sigma(luma, w, h)
        } else {
            f64::NAN
        };
        return (laplacian_variance(luma, w, h), noise);
    }
    let mut sums = border_sums(luma, w, h);
    sums.add(interior_sums(luma, w, h, 1, h - 1, want_noise));
    sums.finish(w, h, want_noise)
}

crate::cpu::dispatch_avx512! {
/// [`DerivativeSums`] of the interior pixels of rows `y0..y1` (1 ≤ y0 ≤ y1 ≤ h − 1) of a `w`×`h`
/// plane (w, h ≥ 3): a band of rows can be summed while it is in cache, next to other passes.
/// Immerkær's kernel is separable, [1,−2,1]ᵀ ⊗ [1,−2,1]: each row's horizontal second difference
/// is computed once and combined across three rows.
pub fn interior_sums(luma: &[u8], w: usize, h: usize, y0: usize, y1: usize, want_noise: bool) -> DerivativeSums {
    assert!(w >= 3 && h >= 3 && luma.len() >= w * h && 1 <= y0 && y0 <= y1 && y1 < h);
    if w < FLAT_BELOW_WIDTH {
        interior_sums_flat(luma, w, y0, y1, want_noise)
    } else {
        interior_sums_by_row(luma, w, y0, y1, want_noise)
    }
}
}

/// Rows narrower than this are summed as one run ([`interior_sums_flat`]): a row loop over 26
/// pixels (a 28×28 thumbnail) never reaches the vectorised body, whose blocks are 32–64 wide.
const FLAT_BELOW_WIDTH: usize = 64;

/// [`interior_sums`] row by row (wide planes).
#[inline(always)]
fn interior_sums_by_row(
    luma: &[u8],
    w: usize,
    y0: usize,
    y1: usize,
    want_noise: bool,
) -> DerivativeSums {
    let (mut s1, mut s2) = (0i64, 0i64);
    let n_in = w - 2;
    let row = |y: usize| &luma[y * w..(y + 1) * w];
    // Horizontal second differences of three consecutive rows (Immerkær only).
    let mut hd: [Vec<i16>; 3] = if want_noise {
        [vec![0; n_in], vec![0; n_in], vec![0; n_in]]
    } else {
        Default::default()
    };
    if want_noise {
        hdiff(row(y0 - 1), &mut hd[(y0 - 1) % 3]);
        hdiff(row(y0), &mut hd[y0 % 3]);
    }
    let mut abs_total = 0u64;
    for y in y0..y1 {
        let (up, mid, dn) = (row(y - 1), row(y), row(y + 1));
        let (a1, a2) = inner_row_sums(up, mid, dn);
        s1 += a1;
        s2 += a2;
        if want_noise {
            let slot = (y + 1) % 3;
            hdiff(dn, &mut hd[slot]);
            let (a, b, c) = (
                &hd[(y - 1) % 3][..n_in],
                &hd[y % 3][..n_in],
                &hd[slot][..n_in],
            );
            abs_total += immerkaer_abs_sum(a, b, c);
        }
    }
    DerivativeSums { s1, s2, abs_total }
}

/// [`interior_sums`] of narrow planes as one run along the rows: the interior pixels of rows
/// `y0..y1` are the flat indices from `(y0, 1)` to `(y1 − 1, w − 2)` except the last pixel of one
/// row and the first of the next at each row break. The run computes those too (their
/// neighbours to the side are in the adjacent row: meaningless values, but of the same formula)
/// and their terms are then taken back out one by one; every sum is an exact integer, so the
/// totals are the row loop's.
#[inline(always)]
fn interior_sums_flat(
    luma: &[u8],
    w: usize,
    y0: usize,
    y1: usize,
    want_noise: bool,
) -> DerivativeSums {
    let (start, end) = (y0 * w + 1, y1 * w - 1);
    if start >= end {
        return DerivativeSums::default();
    }
    let breaks = || (y0..y1 - 1).flat_map(|y| [y * w + w - 1, (y + 1) * w]);
    let laplacian = |i: usize| {
        i64::from(luma[i - w])
            + i64::from(luma[i + w])
            + i64::from(luma[i - 1])
            + i64::from(luma[i + 1])
            - 4 * i64::from(luma[i])
    };
    let (mut s1, mut s2) = inner_row_sums(
        &luma[start - 1 - w..],
        &luma[start - 1..end + 1],
        &luma[start - 1 + w..],
    );
    for i in breaks() {
        let v = laplacian(i);
        s1 -= v;
        s2 -= v * v;
    }
    let mut abs_total = 0u64;
    if want_noise {
        // Horizontal second differences of the run and of one row above and below it.
        let (h0, h1) = (start - w, end + w);
        let mut hd = vec![0i16; h1 - h0];
        hdiff(&luma[h0 - 1..h1 + 1], &mut hd);
        let n = end - start;
        let (a, b, c) = (&hd[..n], &hd[w..w + n], &hd[2 * w..2 * w + n]);
        abs_total = immerkaer_abs_sum(a, b, c);
        for i in breaks() {
            let k = i - start;
            abs_total -= u64::from((a[k] - 2 * b[k] + c[k]).unsigned_abs());
        }
    }
    DerivativeSums { s1, s2, abs_total }
}

/// `Σ |a − 2b + c|` over three rows of horizontal second differences (equal lengths): Immerkær's
/// response summed, the loop both [`interior_sums`] paths run.
#[inline(always)]
fn immerkaer_abs_sum(a: &[i16], b: &[i16], c: &[i16]) -> u64 {
    const CHUNK: usize = 2048; // |v| ≤ 2040 below, so 2048 of them fit a u32 sum
    let n = a.len();
    let (b, c) = (&b[..n], &c[..n]);
    let mut total = 0u64;
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let mut acc = 0u32;
        for i in start..end {
            // Each horizontal difference is within ±510, so |a − 2b + c| ≤ 2040: i16 lanes,
            // twice as many per vector as i32.
            acc += u32::from((a[i] - 2 * b[i] + c[i]).unsigned_abs());
        }
        total += u64::from(acc);
        start = end;
    }
    total
}

#[inline(always)]
fn hdiff(row: &[u8], out: &mut [i16]) {
    let n = out.len();
    let (a, b, c) = (&row[..n], &row[1..][..n], &row[2..][..n]);
    for i in 0..n {
        out[i] = a[i] as i16 - 2 * b[i] as i16 + c[i] as i16;
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
    fn the_flat_run_gives_the_row_loop_s_sums() {
        // Every band of rows of narrow and wide shapes, with and without the noise sums; the
        // 0/255 checkerboard gives the largest differences, noise the rest.
        let mut seed = 3;
        for &(w, h) in &[
            (3, 3),
            (3, 9),
            (4, 4),
            (5, 7),
            (28, 28),
            (31, 6),
            (63, 40),
            (70, 5),
        ] {
            let noise: Vec<u8> = (0..w * h).map(|_| lcg(&mut seed) as u8).collect();
            let board: Vec<u8> = (0..w * h)
                .map(|i| if (i / w + i % w) % 2 == 0 { 0 } else { 255 })
                .collect();
            for img in [&noise, &board] {
                for y0 in 1..h {
                    for y1 in y0..h {
                        for want_noise in [false, true] {
                            assert_eq!(
                                interior_sums_flat(img, w, y0, y1, want_noise),
                                interior_sums_by_row(img, w, y0, y1, want_noise),
                                "{w}x{h} rows {y0}..{y1} noise {want_noise}"
                            );
                        }
                    }
                }
            }
        }
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
    fn fused_pass_holds_the_largest_differences() {
        // A 0/255 checkerboard: every second difference at its extreme (±510 per row, ±2040
        // for Immerkær's kernel, ±1020 for the Laplacian).
        let (w, h) = (67, 21);
        let img: Vec<u8> = (0..w * h)
            .map(|i| if (i % w + i / w) % 2 == 0 { 255 } else { 0 })
            .collect();
        let (lap, noise) = second_derivatives(&img, w, h, true);
        assert_eq!(noise, immerkaer_sigma(&img, w, h));
        let lap_ref = laplacian_reference(&img, w, h);
        assert!(
            (lap - lap_ref).abs() <= 1e-9 * lap_ref,
            "{lap} vs {lap_ref}"
        );
    }

    #[test]
    fn bands_of_rows_sum_to_the_whole_plane() {
        let mut seed = 3;
        for &(w, h) in &[(3, 3), (5, 17), (64, 33), (301, 40)] {
            let img: Vec<u8> = (0..w * h).map(|_| lcg(&mut seed) as u8).collect();
            for want_noise in [false, true] {
                let whole = second_derivatives(&img, w, h, want_noise);
                for band in [1, 2, 7, 64] {
                    let mut sums = border_sums(&img, w, h);
                    let mut y = 1;
                    while y < h - 1 {
                        let end = (y + band).min(h - 1);
                        sums.add(interior_sums(&img, w, h, y, end, want_noise));
                        y = end;
                    }
                    let banded = sums.finish(w, h, want_noise);
                    assert_eq!(
                        (banded.0.to_bits(), banded.1.to_bits()),
                        (whole.0.to_bits(), whole.1.to_bits()),
                        "{w}x{h} band {band} noise {want_noise}"
                    );
                }
            }
        }
    }

    #[test]
    fn fused_pass_is_the_same_on_every_simd_level() {
        let mut seed = 5;
        for &(w, h) in &[(3, 3), (17, 9), (640, 427), (2500, 5)] {
            let img: Vec<u8> = (0..w * h).map(|_| lcg(&mut seed) as u8).collect();
            crate::cpu::testing::same_on_every_level("second_derivatives", || {
                let (lap, noise) = second_derivatives(&img, w, h, true);
                (lap.to_bits(), noise.to_bits())
            });
        }
        // A 0/255 checkerboard: every Laplacian is ±1020, the extreme the 16-bit kernel holds.
        let (w, h) = (301, 67);
        let board: Vec<u8> = (0..w * h)
            .map(|i| if (i % w + i / w) % 2 == 0 { 255 } else { 0 })
            .collect();
        let (lap, _) = crate::cpu::testing::same_on_every_level("second_derivatives", || {
            second_derivatives(&board, w, h, true)
        });
        let want = laplacian_reference(&board, w, h);
        assert!((lap - want).abs() <= 1e-9 * want, "{lap} vs {want}");
        assert!(
            want > 1020.0 * 1020.0 * 0.9,
            "the board reaches the extreme: {want}"
        );
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
}
