//! Luma as Pillow computes it, and 16-bit samples brought to 8 bits.

/// Pillow's `convert("L")`: ITU-R 601-2 luma in 16-bit fixed point, rounded.
#[inline]
pub fn pillow_luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// Pillow luma of every pixel of interleaved RGB.
pub fn luma_from_rgb(rgb: &[u8]) -> Vec<u8> {
    // Every byte is written by the kernel.
    let mut out = super::buffers::overwritten(rgb.len() / 3);
    luma_from_rgb_into(rgb, &mut out);
    out
}

crate::cpu::dispatch! {
/// Pillow luma of the first `out.len()` pixels of interleaved RGB, into `out`.
pub fn luma_from_rgb_into(rgb: &[u8], out: &mut [u8]) {
    let (px, _) = rgb.as_chunks::<3>();
    assert!(px.len() >= out.len(), "RGB for every luma pixel");
    for (o, p) in out.iter_mut().zip(px) {
        *o = pillow_luma(p[0], p[1], p[2]);
    }
}
}

/// Pillow luma of a row of interleaved RGB into `out` and the row's colour sums added to `sums`
/// (`ColorSums::add`), in one pass: with AVX2, 16 pixels a step in 16-bit lanes
/// (`ycc_avx2::luma_color_of_rgb`); the per-level kernels do the rest.
pub fn luma_and_color_sums(rgb: &[u8], out: &mut [u8], sums: &mut crate::stats::ColorSums) {
    let n = out.len();
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::level() >= crate::cpu::Level::Avx2 {
        crate::cpu::note(crate::cpu::Level::Avx2);
        // SAFETY: `level()` is never above what the CPU supports, so it has AVX2.
        done = unsafe { super::ycc_avx2::luma_color_of_rgb(rgb, out, sums) };
    }
    let rest = &rgb[3 * done..3 * n];
    luma_from_rgb_into(rest, &mut out[done..]);
    sums.add(rest);
}

/// Scale a 16-bit sample to 8 bits with rounding (Pillow clips instead, which whitens most images).
#[inline]
pub fn scale16(v: u16) -> u8 {
    ((v as u32 * 255 + 32767) / 65535) as u8
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
    fn fused_luma_and_colour_sums_equal_the_separate_kernels_on_every_level() {
        use crate::stats::ColorSums;
        // Noise, then every corner of the RGB cube and grey ramps (spreads at the threshold),
        // over lengths around the vector width and across the 2,048-pixel flushes.
        let mut rgb = crate::test_support::noise_bytes(3 * 5000, 4);
        for (i, v) in rgb[..3 * 600].iter_mut().enumerate() {
            *v = match (i / 3) % 4 {
                0 => [0, 255][(i / 3 / 4) % 2],
                1 => (i / 9) as u8,
                2 => 255,
                _ => (i % 3 * 6) as u8,
            };
        }
        for n in [0, 1, 15, 16, 17, 600, 2047, 2048, 2049, 5000] {
            let rgb = &rgb[..3 * n];
            let got = crate::cpu::testing::same_on_every_level("luma_and_color_sums", || {
                let (mut luma, mut sums) = (vec![0u8; n], ColorSums::default());
                luma_and_color_sums(rgb, &mut luma, &mut sums);
                (luma, format!("{sums:?}"))
            });
            let mut want = ColorSums::default();
            want.add(rgb);
            assert_eq!(got, (luma_from_rgb(rgb), format!("{want:?}")), "{n}");
        }
    }

    #[test]
    fn luma_kernel_is_the_same_on_every_simd_level() {
        let rgb: Vec<u8> = (0..3 * 1001u32)
            .map(|i| ((i * 2654435761) >> 13) as u8)
            .collect();
        let out = crate::cpu::testing::same_on_every_level("luma_from_rgb", || luma_from_rgb(&rgb));
        for (i, &l) in out.iter().enumerate() {
            assert_eq!(l, pillow_luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]));
        }
    }
}
