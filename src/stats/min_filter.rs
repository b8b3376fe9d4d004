//! Separable square minimum filter in O(1) comparisons per pixel (van Herk 1992; Gil & Werman
//! 1993), the erosion the dark channel prior needs.
//!
//! Border rule: the window is clipped to the image, i.e. pixels outside count as +∞ (255). For a
//! minimum this equals replicating the edge (`scipy.ndimage.minimum_filter(mode="nearest")`), since
//! the replicated values are already inside the clipped window.

/// Block minima of the van Herk / Gil–Werman pass with window `2r+1` down the columns.
///
/// Element `i` of lane `l` lives at `src[i * step + l]`; with `step = lanes = width` every column
/// of a plane is filtered at once with whole-row `min` operations, which the compiler vectorises.
/// `scratch.g` / `scratch.h` receive the forward / backward running minima of every block of
/// `2r+1` padded rows and are reused across images.
fn van_herk(src: &[u8], len: usize, step: usize, lanes: usize, r: usize, scratch: &mut Scratch) {
    let k = 2 * r + 1;
    let plen = padded_len(len, r);
    scratch.g.resize(plen * lanes, 0);
    scratch.h.resize(plen * lanes, 0);
    let (g, h) = (&mut scratch.g, &mut scratch.h);
    // Padded index p holds source index p − r; outside the source reads 255 (the clipped window).
    let load = |p: usize, out: &mut [u8]| {
        if p >= r && p - r < len {
            let base = (p - r) * step;
            out.copy_from_slice(&src[base..base + lanes]);
        } else {
            out.fill(u8::MAX);
        }
    };
    // g: running minimum from the start of each block of k; h: from the end of each block.
    for p in 0..plen {
        let (done, rest) = g.split_at_mut(p * lanes);
        let cur = &mut rest[..lanes];
        load(p, cur);
        if p % k != 0 {
            let prev = &done[(p - 1) * lanes..];
            for (c, &q) in cur.iter_mut().zip(prev) {
                *c = (*c).min(q);
            }
        }
    }
    for p in (0..plen).rev() {
        let (head, tail) = h.split_at_mut((p + 1) * lanes);
        let cur = &mut head[p * lanes..];
        load(p, cur);
        if p % k != k - 1 {
            let next = &tail[..lanes];
            for (c, &q) in cur.iter_mut().zip(next) {
                *c = (*c).min(q);
            }
        }
    }
}

/// Padded length: r on each side, rounded up to whole blocks of 2r+1.
fn padded_len(len: usize, r: usize) -> usize {
    let k = 2 * r + 1;
    (len + 2 * r).div_ceil(k) * k
}

/// Reusable scratch for [`min_filter_square`].
#[derive(Default)]
pub struct Scratch {
    g: Vec<u8>,
    h: Vec<u8>,
    tmp: Vec<u8>,
}

/// Minimum over the `(2r+1)×(2r+1)` window clipped to the image, for a row-major `w`×`h` plane.
pub fn min_filter_square(src: &[u8], w: usize, h: usize, r: usize, out: &mut Vec<u8>) {
    min_filter_square_with(src, w, h, r, out, &mut Scratch::default());
}

/// [`min_filter_square`] with caller-owned scratch buffers.
pub fn min_filter_square_with(
    src: &[u8],
    w: usize,
    h: usize,
    r: usize,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) {
    assert_eq!(src.len(), w * h, "plane size");
    out.clear();
    out.resize(w * h, 0);
    if w == 0 || h == 0 {
        return;
    }
    // Vertical pass over all columns at once: window [y−r, y+r] is padded [y, y+2r], and the
    // minimum over it is min(h[y], g[y+2r]) because exactly one block boundary lies inside.
    van_herk(src, h, w, w, r, scratch);
    let mut tmp = std::mem::take(&mut scratch.tmp);
    tmp.clear();
    tmp.resize(w * h, 0);
    for y in 0..h {
        let a = &scratch.h[y * w..(y + 1) * w];
        let b = &scratch.g[(y + 2 * r) * w..(y + 2 * r + 1) * w];
        for ((t, &x), &z) in tmp[y * w..(y + 1) * w].iter_mut().zip(a).zip(b) {
            *t = x.min(z);
        }
    }
    // Horizontal pass, one row at a time in a padded row buffer (stays in L1).
    let k = 2 * r + 1;
    let plen = padded_len(w, r);
    let mut row = vec![u8::MAX; plen];
    let (mut g, mut hh) = (vec![0u8; plen], vec![0u8; plen]);
    for y in 0..h {
        row[r..r + w].copy_from_slice(&tmp[y * w..(y + 1) * w]);
        for (gb, rb) in g.chunks_exact_mut(k).zip(row.chunks_exact(k)) {
            let mut m = u8::MAX;
            for (o, &v) in gb.iter_mut().zip(rb) {
                m = m.min(v);
                *o = m;
            }
        }
        for (hb, rb) in hh.chunks_exact_mut(k).zip(row.chunks_exact(k)) {
            let mut m = u8::MAX;
            for (o, &v) in hb.iter_mut().zip(rb).rev() {
                m = m.min(v);
                *o = m;
            }
        }
        let out_row = &mut out[y * w..(y + 1) * w];
        let (a, b) = (&hh[..w], &g[2 * r..2 * r + w]);
        for ((o, &x), &z) in out_row.iter_mut().zip(a).zip(b) {
            *o = x.min(z);
        }
    }
    scratch.tmp = tmp;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(src: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
        let mut out = vec![0; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut m = u8::MAX;
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                        m = m.min(src[yy * w + xx]);
                    }
                }
                out[y * w + x] = m;
            }
        }
        out
    }

    #[test]
    fn equals_brute_force_on_many_shapes() {
        let mut seed = 12345u64;
        let mut scratch = Scratch::default();
        for &(w, h) in &[
            (1, 1),
            (1, 9),
            (9, 1),
            (7, 7),
            (15, 15),
            (16, 31),
            (40, 23),
            (100, 3),
        ] {
            for &r in &[0usize, 1, 3, 7, 20] {
                let src: Vec<u8> = (0..w * h)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (seed >> 56) as u8
                    })
                    .collect();
                let mut out = Vec::new();
                min_filter_square_with(&src, w, h, r, &mut out, &mut scratch);
                assert_eq!(out, brute(&src, w, h, r), "w={w} h={h} r={r}");
            }
        }
    }

    #[test]
    fn single_dark_pixel_spreads_to_a_clipped_square() {
        let (w, h) = (20, 12);
        let mut src = vec![200u8; w * h];
        src[w + 1] = 3; // (x=1, y=1)
        let mut out = Vec::new();
        min_filter_square(&src, w, h, 7, &mut out);
        for y in 0..h {
            for x in 0..w {
                let inside = x <= 8 && y <= 8;
                assert_eq!(out[y * w + x], if inside { 3 } else { 200 }, "({x},{y})");
            }
        }
    }
}
