//! EXIF orientation: which stored pixel is shown where. Planes stay in stored order; only what
//! depends on the displayed picture (hashes, `pixel_hash`, the reported size) applies it.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
