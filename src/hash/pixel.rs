//! `pixel_hash`: an exact-content hash of the decoded picture, for "same pixels, other file".

use crate::planes::{Pixels, source_pixel};

/// Hash of the decoded picture as displayed (after EXIF orientation): the same pixels in another
/// lossless container, or physically rotated and saved without the tag, hash alike. An RGB image
/// whose channels are all equal hashes as its luma, like the same picture saved as L.
pub fn pixel_hash(p: &Pixels, orientation: u8) -> u64 {
    let (data, ch) = match &p.rgb {
        Some(rgb) if !rgb.chunks_exact(3).all(|c| c[0] == c[1] && c[1] == c[2]) => {
            (rgb.as_slice(), 3)
        }
        _ => (p.luma.as_slice(), 1),
    };
    let (w, h) = (p.width, p.height);
    let (dw, dh) = if orientation >= 5 { (h, w) } else { (w, h) };
    let seed = ((dw as u64) << 32) ^ dh as u64;
    if !(2..=8).contains(&orientation) {
        return xxhash_rust::xxh3::xxh3_64_with_seed(data, seed);
    }
    // Stream the displayed rows into the hasher without materialising the rotated image.
    let mut hasher = xxhash_rust::xxh3::Xxh3::with_seed(seed);
    let mut row = vec![0u8; dw * ch];
    for y in 0..dh {
        for x in 0..dw {
            let (sx, sy) = source_pixel(x, y, w, h, orientation);
            let src = (sy * w + sx) * ch;
            row[x * ch..(x + 1) * ch].copy_from_slice(&data[src..src + ch]);
        }
        hasher.update(&row);
    }
    hasher.digest()
}
