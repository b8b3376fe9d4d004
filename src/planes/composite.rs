//! Transparent pixels composited over a grey background, so statistics see the picture a viewer
//! sees (and not black where the file stores "transparent black").

use super::luma::pillow_luma;

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

/// Composite RGBA over the contrasting background: `(luma, Some(rgb))`.
pub fn rgba_composite(px: impl Iterator<Item = [u8; 4]>) -> (Vec<u8>, Option<Vec<u8>>) {
    let px: Vec<[u8; 4]> = px.collect();
    let bg = contrasting_background(px.iter().map(|p| (pillow_luma(p[0], p[1], p[2]), p[3])));
    let mut rgb = Vec::with_capacity(px.len() * 3);
    let mut luma = Vec::with_capacity(px.len());
    for [r, g, b, a] in px {
        let (r, g, b) = (over(r, a, bg), over(g, a, bg), over(b, a, bg));
        rgb.extend_from_slice(&[r, g, b]);
        luma.push(pillow_luma(r, g, b));
    }
    (luma, Some(rgb))
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
}
