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
