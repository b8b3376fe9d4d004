//! Pillow 13's `ImageFilter.GaussianBlur` and `ImageFilter.MedianFilter` on mode "L", bit for
//! bit: imagehash's `crop_resistant_hash` segments a blurred, median-filtered 300×300 plane, so a
//! single differing pixel can move a segment boundary.
//!
//! - `GaussianBlur(r)` is `src/libImaging/BoxBlur.c`: three passes of an extended box blur (a
//!   box of integer radius plus a fractional weight on the two far pixels) horizontally, then the
//!   same three along columns; weights are 24-bit fixed point, edges repeat the border pixel, and
//!   every pass rounds to `u8`. The box radius comes from `_gaussian_blur_radius` in `f32`.
//! - `MedianFilter(3)` is `expand(1)` (border pixels repeated) then `RankFilter.c` rank 4 of the
//!   3×3 window: the median of nine values, which any selection gives identically.

/// Passes Pillow's `gaussian_blur` runs when Python does not say (`_imaging.c`: `passes = 3`).
const GAUSSIAN_PASSES: i32 = 3;

/// `_gaussian_blur_radius` of `BoxBlur.c`: the extended-box radius whose `passes` repetitions
/// approximate a Gaussian of standard deviation `radius` (Gwosdek et al. 2011). Mixed
/// `f32`/`f64` exactly where the C code mixes `float` with `double` literals.
fn box_radius(radius: f32, passes: i32) -> f32 {
    let sigma2: f32 = radius * radius / passes as f32;
    let big_l: f32 = (12.0f64 * f64::from(sigma2) + 1.0).sqrt() as f32;
    let l: f32 = ((f64::from(big_l) - 1.0) / 2.0).floor() as f32;
    let mut a: f32 = (2.0 * l + 1.0) * (l * (l + 1.0) - 3.0 * sigma2);
    a /= 6.0 * (sigma2 - (l + 1.0) * (l + 1.0));
    l + a
}

/// One line of `ImagingLineBoxBlur8`: `out[x]` is the box mean around `x` with fixed-point
/// weights `ww` (inner pixels) and `fw` (the two fractional far pixels). Unsigned wrapping
/// arithmetic as in C (`acc` goes through intermediate "negative" values only transiently).
fn box_blur_line(out: &mut [u8], line: &[u8], radius: usize, ww: u32, fw: u32) {
    let lastx = line.len() - 1;
    let edge_a = (radius + 1).min(line.len());
    let edge_b = line.len().saturating_sub(radius + 1);
    let px = |i: usize| u32::from(line[i]);
    let mut acc: u32 = px(0) * (radius as u32 + 1);
    for x in 0..edge_a.saturating_sub(1) {
        acc = acc.wrapping_add(px(x));
    }
    acc = acc.wrapping_add(px(lastx).wrapping_mul((radius + 1 - edge_a) as u32));
    let mut step = |x: usize, sub: usize, add: usize, left: usize, right: usize| {
        acc = acc.wrapping_add(px(add)).wrapping_sub(px(sub));
        let bulk = acc
            .wrapping_mul(ww)
            .wrapping_add((px(left) + px(right)).wrapping_mul(fw));
        out[x] = (bulk.wrapping_add(1 << 23) >> 24) as u8;
    };
    if edge_a <= edge_b {
        for x in 0..edge_a {
            step(x, 0, x + radius, 0, x + radius + 1);
        }
        for x in edge_a..edge_b {
            step(
                x,
                x - radius - 1,
                x + radius,
                x - radius - 1,
                x + radius + 1,
            );
        }
        for x in edge_b..=lastx {
            step(x, x - radius - 1, lastx, x - radius - 1, lastx);
        }
    } else {
        for x in 0..edge_b {
            step(x, 0, x + radius, 0, x + radius + 1);
        }
        for x in edge_b..edge_a {
            step(x, 0, lastx, 0, lastx);
        }
        for x in edge_a..=lastx {
            step(x, x - radius - 1, lastx, x - radius - 1, lastx);
        }
    }
}

/// `ImagingHorizontalBoxBlur` applied `passes` times to every row of a `w`×`h` plane, in place.
fn box_blur_rows(px: &mut [u8], w: usize, float_radius: f32, passes: i32) {
    let radius = float_radius as usize;
    let ww = ((1u32 << 24) as f32 / (float_radius * 2.0 + 1.0)) as u32;
    let fw = ((1u32 << 24) - (radius as u32 * 2 + 1) * ww) / 2;
    let mut out = vec![0u8; w];
    for row in px.chunks_exact_mut(w) {
        for _ in 0..passes {
            box_blur_line(&mut out, row, radius, ww, fw);
            row.copy_from_slice(&out);
        }
    }
}

fn transpose(px: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut t = vec![0u8; px.len()];
    for y in 0..h {
        for x in 0..w {
            t[x * h + y] = px[y * w + x];
        }
    }
    t
}

/// Pillow's `image.filter(ImageFilter.GaussianBlur(radius))` of a `w`×`h` luma plane.
pub fn gaussian_blur_l8(px: &[u8], w: usize, h: usize, radius: f32) -> Vec<u8> {
    assert_eq!(px.len(), w * h, "plane is not {w}x{h}");
    if w == 0 || h == 0 || radius == 0.0 {
        return px.to_vec();
    }
    let r = box_radius(radius, GAUSSIAN_PASSES);
    let mut rows = px.to_vec();
    if r != 0.0 {
        box_blur_rows(&mut rows, w, r, GAUSSIAN_PASSES);
        // Columns: Pillow transposes, blurs rows, transposes back.
        let mut cols = transpose(&rows, w, h);
        box_blur_rows(&mut cols, h, r, GAUSSIAN_PASSES);
        rows = transpose(&cols, h, w);
    }
    rows
}

/// Pillow's `image.filter(ImageFilter.MedianFilter(3))` of a `w`×`h` luma plane: the median of
/// each 3×3 window, the border repeated outside the image.
pub fn median3_l8(px: &[u8], w: usize, h: usize) -> Vec<u8> {
    assert_eq!(px.len(), w * h, "plane is not {w}x{h}");
    let at = |x: isize, y: isize| {
        let x = x.clamp(0, w as isize - 1) as usize;
        let y = y.clamp(0, h as isize - 1) as usize;
        px[y * w + x]
    };
    let mut out = vec![0u8; w * h];
    for y in 0..h as isize {
        for x in 0..w as isize {
            let mut win = [0u8; 9];
            let mut i = 0;
            for dy in -1..=1 {
                for dx in -1..=1 {
                    win[i] = at(x + dx, y + dy);
                    i += 1;
                }
            }
            let (_, m, _) = win.select_nth_unstable(4);
            out[y as usize * w + x as usize] = *m;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_radius_is_pillows() {
        // GaussianBlur(2), 3 passes: σ² = 4/3, L = √17, l = 1, a = 3·(2 − 4)/(6·(4/3 − 4)) = 0.375
        // (the C formula evaluated in numpy float32 gives exactly 1.375).
        assert_eq!(box_radius(2.0, 3), 1.375);
        assert_eq!(box_radius(0.5, 3).floor(), 0.0);
    }

    /// Values from Pillow 13:
    /// `np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur()))` with
    /// `a = (np.arange(48).reshape(6, 8) * 37 % 256).astype(np.uint8)`.
    #[test]
    fn gaussian_blur_matches_pillow() {
        let a: Vec<u8> = (0..48u32).map(|i| (i * 37 % 256) as u8).collect();
        let got = gaussian_blur_l8(&a, 8, 6, 2.0);
        assert_eq!(got, PILLOW_BLUR_6X8);
    }

    const PILLOW_BLUR_6X8: [u8; 48] = [
        78, 89, 104, 117, 121, 117, 105, 96, 91, 99, 110, 119, 121, 115, 106, 98, 109, 114, 118,
        121, 119, 114, 108, 103, 128, 128, 125, 122, 118, 115, 113, 112, 143, 138, 130, 122, 116,
        116, 119, 123, 151, 143, 132, 121, 116, 118, 125, 131,
    ];

    /// `ImageFilter.MedianFilter()` with the border repeated: a lone bright pixel vanishes, a
    /// 2-pixel-thick line survives, corners see their repeated neighbours.
    #[test]
    fn median_removes_speckle_keeps_lines() {
        let (w, h) = (7, 6);
        let mut px = vec![10u8; w * h];
        px[2 * w + 3] = 250;
        assert_eq!(median3_l8(&px, w, h), vec![10u8; w * h]);
        for x in 0..w {
            px[4 * w + x] = 200;
            px[5 * w + x] = 200;
        }
        let m = median3_l8(&px, w, h);
        assert!(m[4 * w..].iter().all(|&v| v == 200));
        assert!(m[..3 * w].iter().all(|&v| v == 10));
    }
}
