//! Box reduction by an integer factor: the reduction a DCT-scaled JPEG decode performs, applied
//! to images that were decoded at full size, so hashes agree across the two paths.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_reduce_averages_blocks() {
        let src = vec![0, 2, 10, 4, 6, 20];
        let (out, w, h) = reduce_box_l8(&src, 3, 2, 2);
        assert_eq!((w, h), (2, 1));
        assert_eq!(out, vec![3, 15]);
    }

    #[test]
    fn box_reduce_is_the_same_on_every_simd_level() {
        let (w, h) = (301, 157);
        let src: Vec<u8> = (0..w * h)
            .map(|i| ((i * 2654435761usize) >> 11) as u8)
            .collect();
        for f in [2, 4, 8] {
            let (out, nw, nh) = crate::cpu::testing::same_on_every_level("reduce_box_l8", || {
                reduce_box_l8(&src, w, h, f)
            });
            assert_eq!((nw, nh, out.len()), (w.div_ceil(f), h.div_ceil(f), nw * nh));
        }
    }
}
