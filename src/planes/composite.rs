//! Transparent pixels composited over a grey background, so statistics see the picture a viewer
//! sees (and not black where the file stores "transparent black").

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

/// Composite interleaved RGBA over the contrasting background: `(luma, Some(rgb))` (the
/// whole-image definition; decoders composite row by row in `decode::rgb_rows`, tested equal).
#[cfg(test)]
pub fn rgba_composite_slice(rgba: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    let n = rgba.len() / 4;
    let rgba = &rgba[..4 * n];
    let bg = rgba_background(rgba);
    // `rgba_over` writes every byte of both.
    let mut rgb = super::buffers::overwritten(3 * n);
    let mut luma = super::buffers::overwritten(n);
    rgba_over(rgba, bg, &mut rgb, &mut luma);
    (luma, Some(rgb))
}

/// [`contrasting_background`] of interleaved RGBA bytes.
pub fn rgba_background(rgba: &[u8]) -> u8 {
    let (sum, weight) = rgba_luma_alpha_sums(rgba);
    // `contrasting_background`'s rule on the sums it would take.
    if weight > 0 && sum > 128 * weight {
        0
    } else {
        255
    }
}

crate::cpu::dispatch! {
/// Σ luma·alpha and Σ alpha over RGBA pixels (the sums [`contrasting_background`] takes), in u32
/// lanes over blocks small enough that they cannot overflow.
pub fn rgba_luma_alpha_sums(rgba: &[u8]) -> (u64, u64) {
    // 255 · 255 · 65,536 < 2^32.
    const BLOCK: usize = 4 * 65_536;
    let (mut sum, mut weight) = (0u64, 0u64);
    for block in rgba.chunks(BLOCK) {
        let (mut s, mut w) = (0u32, 0u32);
        for p in block.chunks_exact(4) {
            let l = (p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16;
            s += l * p[3] as u32;
            w += p[3] as u32;
        }
        sum += s as u64;
        weight += w as u64;
    }
    (sum, weight)
}
}

crate::cpu::dispatch! {
/// Every RGBA pixel over the grey level `bg`: [`over`] per channel (in u16 lanes: the numerator
/// is at most 255·255 + 127 and the division by 255 a multiply-high), and Pillow's luma of it.
/// With AVX2 the pixels go 16 at a time through `composite_avx2.rs`; the portable loop does the
/// rest (and everything at the scalar level).
pub fn rgba_over(rgba: &[u8], bg: u8, rgb: &mut [u8], luma: &mut [u8]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::level() >= crate::cpu::Level::Avx2 {
        // SAFETY: `level()` is never above what the CPU supports, so it has AVX2.
        done = unsafe { super::composite_avx2::rgba_over(rgba, bg, rgb, luma) };
    }
    rgba_over_portable(&rgba[4 * done..], bg, &mut rgb[3 * done..], &mut luma[done..]);
}
}

/// The portable loop of [`rgba_over`].
#[inline(always)]
fn rgba_over_portable(rgba: &[u8], bg: u8, rgb: &mut [u8], luma: &mut [u8]) {
    let n = luma.len();
    let (rgba, rgb) = (&rgba[..4 * n], &mut rgb[..3 * n]);
    let bg = bg as u16;
    for i in 0..n {
        let a = rgba[4 * i + 3] as u16;
        let back = bg * (255 - a) + 127;
        let r = (rgba[4 * i] as u16 * a + back) / 255;
        let g = (rgba[4 * i + 1] as u16 * a + back) / 255;
        let b = (rgba[4 * i + 2] as u16 * a + back) / 255;
        rgb[3 * i] = r as u8;
        rgb[3 * i + 1] = g as u8;
        rgb[3 * i + 2] = b as u8;
        luma[i] = ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8;
    }
}

/// Composite (luma, alpha) pairs over the contrasting background.
pub fn luma_alpha_composite(px: impl Iterator<Item = (u8, u8)>) -> Vec<u8> {
    let px: Vec<(u8, u8)> = px.collect();
    let bg = contrasting_background(px.iter().copied());
    px.into_iter().map(|(l, a)| over(l, a, bg)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planes::luma::pillow_luma;
    use crate::planes::scale16;

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

    /// The per-pixel reference: `contrasting_background`, then `over` and `pillow_luma`.
    fn reference(rgba: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let px = || rgba.chunks_exact(4);
        let bg = contrasting_background(px().map(|p| (pillow_luma(p[0], p[1], p[2]), p[3])));
        let rgb: Vec<u8> = px()
            .flat_map(|p| {
                [
                    over(p[0], p[3], bg),
                    over(p[1], p[3], bg),
                    over(p[2], p[3], bg),
                ]
            })
            .collect();
        let luma = rgb
            .chunks_exact(3)
            .map(|c| pillow_luma(c[0], c[1], c[2]))
            .collect();
        (luma, rgb)
    }

    #[test]
    fn rgba_kernel_equals_the_per_pixel_definition_on_every_level() {
        use crate::cpu::testing::same_on_every_level;
        // Every (value, alpha) pair on both backgrounds, then noise that is light (black
        // background) and dark (white background), at lengths around the vector widths.
        let mut every: Vec<u8> = Vec::new();
        for v in 0..=255u8 {
            for a in 0..=255u8 {
                every.extend_from_slice(&[v, 255 - v, v / 3, a]);
            }
        }
        let noise = crate::test_support::noise_bytes(4 * 1003, 9);
        let light: Vec<u8> = noise.iter().map(|&v| v | 0xC0).collect();
        let dark: Vec<u8> = noise.iter().map(|&v| v & 0x3F).collect();
        let transparent = [0u8; 4 * 37];
        for (name, rgba) in [
            ("every", &every[..]),
            ("light", &light[..]),
            ("dark", &dark[..]),
            ("transparent", &transparent[..]),
            ("short", &light[..4 * 5]),
            ("empty", &[][..]),
        ] {
            let got = same_on_every_level("rgba_over", || rgba_composite_slice(rgba));
            let (luma, rgb) = reference(rgba);
            assert_eq!(got, (luma, Some(rgb)), "{name}");
        }
    }
}
