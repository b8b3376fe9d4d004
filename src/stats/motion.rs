//! Motion blur from the gradient structure tensor summed over the image.
//!
//! A linear motion blur along direction θ averages the image along θ, which suppresses the gradient
//! component along θ and leaves the one across it: the summed tensor
//! J = Σ [gx², gx·gy; gx·gy, gy²] becomes anisotropic, its dominant eigenvector (the dominant
//! gradient orientation) perpendicular to the motion. Defocus blur shrinks gradients in every
//! direction and leaves the anisotropy alone, and a smooth scene has small but isotropic gradients
//! — which is what the variance of the Laplacian cannot tell apart from motion.
//!
//! Gradients: 3×3 Sobel on luma (`cv2.Sobel(ksize=3)`), evaluated on interior pixels only so no
//! border rule enters. Integer sums, so the tensor is exact. Defined at the analysis size the scan
//! passes (512 px long side) so the blur length is measured relative to the picture.

/// Motion statistics of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Motion {
    /// Anisotropy (λ1 − λ2) / (λ1 + λ2) of the summed structure tensor, in 0–1; NaN when the
    /// image has no gradient at all (flat, or thinner than 3 px).
    pub motion_blur: f64,
    /// Direction of the motion (perpendicular to the dominant gradient) in degrees in [0, 180):
    /// 0 = horizontal, 90 = vertical, counter-clockwise as seen on screen (45 = lower left to
    /// upper right). NaN with `motion_blur`.
    pub blur_angle: f64,
}

/// The summed structure tensor (Σgx², Σgy², Σgx·gy) of the interior Sobel gradients.
pub fn structure_tensor(luma: &[u8], w: usize, h: usize) -> (i64, i64, i64) {
    assert_eq!(luma.len(), w * h, "plane size");
    if w < 3 || h < 3 {
        return (0, 0, 0);
    }
    let n = w - 2;
    let mut sx = vec![0i16; n];
    let mut sy = vec![0i16; n];
    let (mut xx, mut yy, mut xy) = (0i64, 0i64, 0i64);
    for y in 1..h - 1 {
        let (u, m, d) = (
            &luma[(y - 1) * w..y * w],
            &luma[y * w..(y + 1) * w],
            &luma[(y + 1) * w..(y + 2) * w],
        );
        sobel_row(u, m, d, &mut sx, &mut sy);
        let (a, b, c) = tensor_row(&sx, &sy);
        xx += a;
        yy += b;
        xy += c;
    }
    (xx, yy, xy)
}

crate::simd::dispatch! {
/// Sobel gx, gy of one interior row from the rows above (u), at (m) and below (d).
pub fn sobel_row(u: &[u8], m: &[u8], d: &[u8], sx: &mut [i16], sy: &mut [i16]) -> () {
    let n = sx.len();
    let (ul, uc, ur) = (&u[..n], &u[1..n + 1], &u[2..n + 2]);
    let (ml, mr) = (&m[..n], &m[2..n + 2]);
    let (dl, dc, dr) = (&d[..n], &d[1..n + 1], &d[2..n + 2]);
    let sy = &mut sy[..n];
    for i in 0..n {
        let gx = (ur[i] as i16 - ul[i] as i16)
            + 2 * (mr[i] as i16 - ml[i] as i16)
            + (dr[i] as i16 - dl[i] as i16);
        let gy = (dl[i] as i16 - ul[i] as i16)
            + 2 * (dc[i] as i16 - uc[i] as i16)
            + (dr[i] as i16 - ur[i] as i16);
        sx[i] = gx;
        sy[i] = gy;
    }
}
}

crate::simd::dispatch! {
/// Σgx², Σgy², Σgx·gy of one row of Sobel gradients. |g| ≤ 1020: a product fits i32, but a sum
/// of a few thousand of them does not, so the sums are i64.
pub fn tensor_row(sx: &[i16], sy: &[i16]) -> (i64, i64, i64) {
    let (mut xx, mut yy, mut xy) = (0i64, 0i64, 0i64);
    for (&gx, &gy) in sx.iter().zip(sy) {
        let (gx, gy) = (gx as i32, gy as i32);
        xx += (gx * gx) as i64;
        yy += (gy * gy) as i64;
        xy += (gx * gy) as i64;
    }
    (xx, yy, xy)
}
}

/// Anisotropy and motion direction of luma (`w`×`h`, row-major).
pub fn motion(luma: &[u8], w: usize, h: usize) -> Motion {
    let (xx, yy, xy) = structure_tensor(luma, w, h);
    from_tensor(xx as f64, yy as f64, xy as f64)
}

/// Eigen-analysis of J = [[xx, xy], [xy, yy]] (image axes: x right, y down).
pub fn from_tensor(xx: f64, yy: f64, xy: f64) -> Motion {
    let trace = xx + yy;
    if trace <= 0.0 {
        return Motion {
            motion_blur: f64::NAN,
            blur_angle: f64::NAN,
        };
    }
    let diff = xx - yy;
    // λ1 − λ2 = sqrt((xx − yy)² + 4 xy²); λ1 + λ2 = trace.
    let anisotropy = (diff * diff + 4.0 * xy * xy).sqrt() / trace;
    // Dominant gradient orientation on screen (y up, so the sign of xy flips), then +90° for the
    // motion, folded into [0, 180).
    let gradient = 0.5 * (-2.0 * xy).atan2(diff).to_degrees();
    let angle = (gradient + 90.0).rem_euclid(180.0);
    Motion {
        motion_blur: anisotropy.min(1.0),
        blur_angle: if angle >= 180.0 { 0.0 } else { angle },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::atmosphere::tests::fixture_rgb;

    fn fixture_luma(w: usize, h: usize) -> Vec<u8> {
        fixture_rgb(w, h).chunks_exact(3).map(|p| p[1]).collect()
    }

    /// Brute-force tensor from the explicit Sobel kernels.
    fn brute(l: &[u8], w: usize, h: usize) -> (i64, i64, i64) {
        let kx = [[-1i64, 0, 1], [-2, 0, 2], [-1, 0, 1]];
        let (mut a, mut b, mut c) = (0, 0, 0);
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let (mut gx, mut gy) = (0i64, 0i64);
                for j in 0..3 {
                    for i in 0..3 {
                        let v = l[(y + j - 1) * w + x + i - 1] as i64;
                        gx += kx[j][i] * v;
                        gy += kx[i][j] * v;
                    }
                }
                a += gx * gx;
                b += gy * gy;
                c += gx * gy;
            }
        }
        (a, b, c)
    }

    #[test]
    fn tensor_equals_brute_force() {
        for &(w, h) in &[(3, 3), (5, 4), (24, 17), (1100, 7)] {
            let l = fixture_luma(w, h);
            assert_eq!(structure_tensor(&l, w, h), brute(&l, w, h), "{w}x{h}");
        }
    }

    /// Stripes of luma varying along direction φ (degrees, screen convention: y up).
    fn stripes(w: usize, h: usize, phi: f64) -> Vec<u8> {
        let (c, s) = (phi.to_radians().cos(), phi.to_radians().sin());
        let mut out = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let t = x as f64 * c - y as f64 * s; // screen y points up
                out.push((127.5 + 100.0 * (t / 3.0).sin()).round() as u8);
            }
        }
        out
    }

    #[test]
    fn stripes_give_the_motion_direction_perpendicular_to_their_gradient() {
        // Stripes whose intensity varies along φ look like a blur along φ + 90°.
        for phi in [0.0, 30.0, 45.0, 90.0, 120.0, 160.0] {
            let m = motion(&stripes(96, 96, phi), 96, 96);
            let want = (phi + 90.0) % 180.0;
            let err = ((m.blur_angle - want + 90.0).rem_euclid(180.0) - 90.0).abs();
            assert!(err < 2.0, "phi {phi}: angle {} want {want}", m.blur_angle);
            assert!(m.motion_blur > 0.9, "phi {phi}: {}", m.motion_blur);
        }
    }

    #[test]
    fn conventions_by_hand() {
        // Only horizontal gradients (vertical edges): motion is vertical.
        assert_eq!(from_tensor(1.0, 0.0, 0.0).blur_angle, 90.0);
        // Only vertical gradients: motion is horizontal.
        assert_eq!(from_tensor(0.0, 1.0, 0.0).blur_angle, 0.0);
        // gx = gy (image y down): the gradient points down-right, i.e. −45° on screen, so the
        // motion runs at 45° (lower left to upper right).
        let m = from_tensor(1.0, 1.0, 1.0);
        assert!((m.blur_angle - 45.0).abs() < 1e-9, "{m:?}");
        assert!((m.motion_blur - 1.0).abs() < 1e-12);
        assert!(from_tensor(1.0, 1.0, 0.0).motion_blur.abs() < 1e-12);
        assert!(from_tensor(0.0, 0.0, 0.0).motion_blur.is_nan());
    }

    #[test]
    fn matches_numpy_reference() {
        // Expected values from `python -m tests.reference_weather` ("motion (green plane)").
        let m = motion(&fixture_luma(24, 17), 24, 17);
        assert!((m.motion_blur - REF_MOTION_BLUR).abs() <= 1e-4 * REF_MOTION_BLUR.abs());
        assert!((m.blur_angle - REF_BLUR_ANGLE).abs() <= 1e-4 * REF_BLUR_ANGLE.abs().max(1.0));
    }

    const REF_MOTION_BLUR: f64 = 0.31159234707244904;
    const REF_BLUR_ANGLE: f64 = 50.41879260194672;
}
