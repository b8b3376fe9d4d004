//! Area-average resize: every output pixel is the exact mean of the source area it covers. The
//! statistics measured "at an analysis size" (sharpness at 640 px, blur/noise at `analysis_size`,
//! colour metrics on a 512-px RGB plane) see images brought to a common size this way.

crate::cpu::dispatch! {
/// Area-average resize of a single-channel plane (each output pixel is the exact mean of the
/// source area it covers). Used to bring images to a common analysis size.
pub fn resize_area_l8(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
    resize_area::<1>(src, w, h, dw, dh)
}
}

crate::cpu::dispatch! {
/// [`resize_area_l8`] on interleaved RGB: each channel gets exactly the bytes the single-channel
/// resize would give it (same weights, same operation order).
pub fn resize_area_rgb8(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
    resize_area::<3>(src, w, h, dw, dh)
}
}

/// Area resize of `C` interleaved channels. The vertical pass runs first as whole-row
/// multiply-adds (vectorised), so the horizontal pass only sees `dh` rows.
#[inline(always)]
fn resize_area<const C: usize>(src: &[u8], w: usize, h: usize, dw: usize, dh: usize) -> Vec<u8> {
    if dw == w && dh == h {
        return src.to_vec();
    }
    let xs = area_weights(w, dw);
    let ys = area_weights(h, dh);
    let mut acc = vec![0f32; C * w];
    let mut out = vec![0u8; C * dw * dh];
    for (oy, taps) in ys.iter().enumerate() {
        acc.iter_mut().for_each(|v| *v = 0.0);
        for &(iy, wt) in taps {
            for (a, &p) in acc.iter_mut().zip(&src[C * iy * w..C * (iy + 1) * w]) {
                *a += p as f32 * wt;
            }
        }
        for (ox, taps) in xs.iter().enumerate() {
            for c in 0..C {
                let v: f32 = taps.iter().map(|&(i, wt)| acc[C * i + c] * wt).sum();
                out[C * (oy * dw + ox) + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// For each output index, the input indices it covers and the share of each (summing to 1).
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
    use crate::cpu::testing::same_on_every_level;

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
    fn rgb_resize_is_the_luma_resize_per_channel_on_every_level() {
        let (w, h) = (613, 217);
        let rgb: Vec<u8> = (0..3 * w * h)
            .map(|i| ((i * 2654435761usize) >> 9) as u8)
            .collect();
        for (dw, dh) in [fit_long_side(w, h, 512), (100, 37), (w, h)] {
            let out =
                same_on_every_level("resize_area_rgb8", || resize_area_rgb8(&rgb, w, h, dw, dh));
            for c in 0..3 {
                let plane: Vec<u8> = rgb.iter().skip(c).step_by(3).copied().collect();
                let want =
                    same_on_every_level("resize_area_l8", || resize_area_l8(&plane, w, h, dw, dh));
                let got: Vec<u8> = out.iter().skip(c).step_by(3).copied().collect();
                assert_eq!(got, want, "channel {c} at {dw}x{dh}");
            }
        }
    }
}
