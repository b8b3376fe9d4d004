//! Pixel planes and the conversions between them: Pillow's luma, EXIF orientation, reductions.

/// Decoded pixels at the scale the scan asked for: an 8-bit luma plane, plus interleaved RGB when a
/// colour metric needs it. Alpha is already composited and 16-bit samples already scaled.
#[derive(Debug, Clone, Default)]
pub struct Pixels {
    pub width: usize,
    pub height: usize,
    pub luma: Vec<u8>,
    pub rgb: Option<Vec<u8>>,
}

/// Pillow's `convert("L")`: ITU-R 601-2 luma in 16-bit fixed point, rounded.
#[inline]
pub fn pillow_luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

crate::cpu::dispatch! {
pub fn luma_from_rgb(rgb: &[u8]) -> Vec<u8> {
    let n = rgb.len() / 3;
    let mut out = vec![0u8; n];
    let rgb = &rgb[..n * 3];
    for i in 0..n {
        out[i] = pillow_luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    }
    out
}
}

/// Composite straight alpha over a grey level `bg` (0 = black, 255 = white).
#[inline]
pub fn over(v: u8, a: u8, bg: u8) -> u8 {
    let a = a as u32;
    ((v as u32 * a + bg as u32 * (255 - a) + 127) / 255) as u8
}

/// The background that keeps an image visible: black under light content, white under dark.
/// Several real wallpapers keep their whole picture in the alpha channel over constant white (or
/// black) colour; a fixed background would erase them. `luma_alpha` yields (luma, alpha) pairs.
pub fn contrasting_background(luma_alpha: impl Iterator<Item = (u8, u8)>) -> u8 {
    let (mut sum, mut weight) = (0u64, 0u64);
    for (l, a) in luma_alpha {
        sum += l as u64 * a as u64;
        weight += a as u64;
    }
    // Fully transparent images, and dark content, go over white.
    if weight > 0 && sum > 128 * weight {
        0
    } else {
        255
    }
}

/// Scale a 16-bit sample to 8 bits with rounding (Pillow clips instead, which whitens most images).
#[inline]
pub fn scale16(v: u16) -> u8 {
    ((v as u32 * 255 + 32767) / 65535) as u8
}

/// Apply an EXIF orientation (1–8) to a single-channel plane; returns the new plane and size.
pub fn orient_l8(src: &[u8], w: usize, h: usize, orientation: u8) -> (Vec<u8>, usize, usize) {
    if !(2..=8).contains(&orientation) {
        return (src.to_vec(), w, h);
    }
    let transposed = orientation >= 5;
    let (nw, nh) = if transposed { (h, w) } else { (w, h) };
    let mut out = vec![0u8; w * h];
    for y in 0..nh {
        for x in 0..nw {
            let (sx, sy) = source_pixel(x, y, w, h, orientation);
            out[y * nw + x] = src[sy * w + sx];
        }
    }
    (out, nw, nh)
}

/// The stored pixel shown at display position (x, y) under EXIF `orientation` (2–8) for a
/// stored image of w×h.
#[inline]
pub fn source_pixel(x: usize, y: usize, w: usize, h: usize, orientation: u8) -> (usize, usize) {
    match orientation {
        2 => (w - 1 - x, y),
        3 => (w - 1 - x, h - 1 - y),
        4 => (x, h - 1 - y),
        5 => (y, x),
        6 => (y, h - 1 - x),
        7 => (w - 1 - y, h - 1 - x),
        8 => (w - 1 - y, x),
        _ => (x, y),
    }
}

crate::cpu::dispatch! {
/// Average non-overlapping f×f blocks (partial blocks at the edges average what they hold): the
/// same reduction a 1/f DCT-scaled JPEG decode performs, so hashes agree across the two paths.
pub fn reduce_box_l8(src: &[u8], w: usize, h: usize, f: usize) -> (Vec<u8>, usize, usize) {
    if f <= 1 {
        return (src.to_vec(), w, h);
    }
    assert!(f <= 256, "box reduction factor {f} would overflow the u16 column sums");
    let (nw, nh) = (w.div_ceil(f), h.div_ceil(f));
    // Sum f rows column-wise (u16 holds 8·255; vectorised), then f columns of that row.
    let mut acc = vec![0u16; w];
    let mut out = Vec::with_capacity(nw * nh);
    for by in 0..nh {
        acc.iter_mut().for_each(|s| *s = 0);
        let y0 = by * f;
        let y1 = (y0 + f).min(h);
        for row in src[y0 * w..y1 * w].chunks_exact(w) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v as u16;
            }
        }
        for cols in acc.chunks(f) {
            let s: u32 = cols.iter().map(|&v| v as u32).sum();
            let n = (cols.len() * (y1 - y0)) as u32;
            out.push(((s + n / 2) / n) as u8);
        }
    }
    (out, nw, nh)
}
}

crate::cpu::dispatch! {
/// Area-average resize of a single-channel plane (each output pixel is the exact mean of the
/// source area it covers). Used to bring images to a common analysis size. The vertical pass runs
/// first as whole-row multiply-adds (vectorised), so the horizontal pass only sees `dh` rows.
pub fn resize_area_l8(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
    if dw == w && dh == h {
        return src.to_vec();
    }
    let xs = area_weights(w, dw);
    let ys = area_weights(h, dh);
    let mut acc = vec![0f32; w];
    let mut out = vec![0u8; dw * dh];
    for (oy, taps) in ys.iter().enumerate() {
        acc.iter_mut().for_each(|v| *v = 0.0);
        for &(iy, wt) in taps {
            for (a, &p) in acc.iter_mut().zip(&src[iy * w..(iy + 1) * w]) {
                *a += p as f32 * wt;
            }
        }
        for (ox, taps) in xs.iter().enumerate() {
            let v: f32 = taps.iter().map(|&(i, wt)| acc[i] * wt).sum();
            out[oy * dw + ox] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}
}

fn area_weights(n: usize, dn: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = n as f64 / dn as f64;
    (0..dn)
        .map(|o| {
            let a = o as f64 * scale;
            let b = (o as f64 + 1.0) * scale;
            let mut taps = Vec::new();
            let mut i = a.floor() as usize;
            while (i as f64) < b && i < n {
                let lo = a.max(i as f64);
                let hi = b.min(i as f64 + 1.0);
                if hi > lo {
                    taps.push((i, ((hi - lo) / scale) as f32));
                }
                i += 1;
            }
            taps
        })
        .collect()
}

/// Size with the long side at most `long_side`, keeping the aspect ratio.
pub fn fit_long_side(w: usize, h: usize, long_side: usize) -> (usize, usize) {
    let m = w.max(h);
    if m <= long_side || long_side == 0 {
        return (w, h);
    }
    let s = long_side as f64 / m as f64;
    (
        ((w as f64 * s).round() as usize).max(1),
        ((h as f64 * s).round() as usize).max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_matches_pillow_formula() {
        assert_eq!(pillow_luma(255, 255, 255), 255);
        assert_eq!(pillow_luma(0, 0, 0), 0);
        assert_eq!(pillow_luma(255, 0, 0), 76);
        assert_eq!(pillow_luma(0, 255, 0), 150);
        assert_eq!(pillow_luma(0, 0, 255), 29);
    }

    #[test]
    fn orientation_round_trips() {
        let (w, h) = (3, 2);
        let src: Vec<u8> = (0..6).collect();
        // 6 = rotate 90 CW to display; applying 6 then 8 restores the original.
        let (a, aw, ah) = orient_l8(&src, w, h, 6);
        assert_eq!((aw, ah), (2, 3));
        assert_eq!(a, vec![3, 0, 4, 1, 5, 2]);
        let (b, bw, bh) = orient_l8(&a, aw, ah, 8);
        assert_eq!((bw, bh, b), (w, h, src.clone()));
        let (m, _, _) = orient_l8(&src, w, h, 2);
        assert_eq!(m, vec![2, 1, 0, 5, 4, 3]);
    }

    #[test]
    fn box_reduce_averages_blocks() {
        let src = vec![0, 2, 10, 4, 6, 20];
        let (out, w, h) = reduce_box_l8(&src, 3, 2, 2);
        assert_eq!((w, h), (2, 1));
        assert_eq!(out, vec![3, 15]);
    }

    #[test]
    fn area_resize_preserves_mean_and_constants() {
        let src = vec![100u8; 17 * 13];
        assert!(resize_area_l8(&src, 17, 13, 5, 4).iter().all(|&v| v == 100));
        let src: Vec<u8> = (0..64).map(|i| (i * 4) as u8).collect();
        let out = resize_area_l8(&src, 8, 8, 4, 4);
        let m_in: f64 = src.iter().map(|&v| v as f64).sum::<f64>() / 64.0;
        let m_out: f64 = out.iter().map(|&v| v as f64).sum::<f64>() / 16.0;
        assert!((m_in - m_out).abs() < 0.6);
    }

    #[test]
    fn compositing_and_16bit() {
        assert_eq!(over(0, 255, 255), 0);
        assert_eq!(over(0, 0, 255), 255);
        assert_eq!(over(255, 0, 0), 0);
        assert_eq!(
            contrasting_background([(255, 10), (255, 200)].into_iter()),
            0
        );
        assert_eq!(contrasting_background([(0, 255)].into_iter()), 255);
        assert_eq!(scale16(65535), 255);
        assert_eq!(scale16(0), 0);
        assert_eq!(scale16(257 * 100), 100);
    }
}
