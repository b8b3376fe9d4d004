//! pHash of the eight dihedral transforms of an image (mirrors and 90° rotations) from one DCT.
//!
//! Mirroring or transposing the 32×32 plane only changes the signs and the order of its DCT
//! coefficients: with `C[u][v]` the coefficients of the plane `x`, mirroring left–right gives
//! `(-1)^v C[u][v]` (the cosine `cos(πv(2j+1)/64)` is odd/even about the centre for odd/even
//! `v`), top–bottom `(-1)^u C[u][v]`, and transposing gives `C[v][u]`; rotations are a transpose
//! and a mirror. So the seven other pHashes cost a sign flip, a permutation and a median each.
//!
//! The result is imagehash's `phash(img.transpose(op))` whenever resizing commutes with the
//! transform (it does exactly for a 32×32 image; for others Pillow's two resize passes round in
//! a fixed order, so a transposed image can differ by a grey level here and there). Near-ties with
//! the median take the exact path on the transformed plane, as [`super::phash`] does.

use super::{
    HASH_SIDE, PHASH_SIDE, ahash_from_8x8, dct_low_8x8_direct, median64, pack, phash_from_32x32,
};
use crate::resize::{resize_lanczos_l8, resize_lanczos_l8_two_heights};

/// The transforms, in the order of [`phash_dihedral`]'s result, named as Pillow's `Transpose`
/// members (lower case); `rot90` is Pillow's `ROTATE_90` (counter-clockwise). The scan's columns
/// are `phash_<name>` (metrics.rs); the Python side lists them as `duplicates.TRANSFORMS`.
#[cfg(test)]
const DIHEDRAL: [&str; 8] = [
    "identity",
    "hflip",
    "vflip",
    "rot90",
    "rot180",
    "rot270",
    "transpose",
    "transverse",
];

/// For transform `t`: whether output coefficient `(u, v)` reads `C[v][u]` (transposed) and its
/// sign rule (`(-1)^u` if `su`, times `(-1)^v` if `sv`).
const RULES: [(bool, bool, bool); 8] = [
    (false, false, false), // identity
    (false, false, true),  // hflip: (-1)^v C[u][v]
    (false, true, false),  // vflip: (-1)^u C[u][v]
    (true, true, false),   // rot90 (counter-clockwise): (-1)^u C[v][u]
    (false, true, true),   // rot180: (-1)^(u+v) C[u][v]
    (true, false, true),   // rot270: (-1)^v C[v][u]
    (true, false, false),  // transpose: C[v][u]
    (true, true, true),    // transverse: (-1)^(u+v) C[v][u]
];

/// `[identity, hflip, vflip, rot90, rot180, rot270, transpose, transverse]` pHashes of one luma
/// image (one LANCZOS resize to 32×32, one DCT).
pub fn phash_dihedral(luma: &[u8], w: usize, h: usize) -> [u64; 8] {
    phash_dihedral_from_32x32(&resize_lanczos_l8(luma, w, h, PHASH_SIDE, PHASH_SIDE))
}

/// The four transforms that do not transpose, as `(index in RULES, index of the transposed
/// partner)`: a transposing transform `(true, su, sv)` reads `±C[v][u]` with the signs of `su` on
/// `u` and `sv` on `v`, which is the transpose of the non-transposing `(false, sv, su)` — the same
/// 64 values (so the same median and the same near-tie test) with their bit grid transposed.
const PARTNERS: [(usize, usize); 4] = [
    (0, 6), // identity, transpose
    (1, 3), // hflip, rot90
    (2, 5), // vflip, rot270
    (4, 7), // rot180, transverse
];

fn phash_dihedral_from_32x32(px: &[u8]) -> [u64; 8] {
    let c = dct_low_8x8_direct(px);
    let scale = c.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let mut out = [0u64; 8];
    for (t, partner) in PARTNERS {
        let (_, su, sv) = RULES[t];
        // C[u][v] negated where (su and u odd) xor (sv and v odd): a flip of the sign bit.
        let low: [f64; 64] = std::array::from_fn(|i| {
            let negate = (su && (i / HASH_SIDE) % 2 == 1) ^ (sv && (i % HASH_SIDE) % 2 == 1);
            f64::from_bits(c[i].to_bits() ^ (u64::from(negate) << 63))
        });
        let med = median64(&low);
        // Same guard as `phash_from_32x32`: only bits clear of the median by far more than the
        // rounding of the direct DCT are decided here; near-ties go to the exact path.
        if low.iter().all(|&v| (v - med).abs() > 1e-9 * scale) {
            let bits = pack(low.iter().map(|&v| v > med));
            out[t] = bits;
            out[partner] = transpose_bits(bits);
        } else {
            out[t] = phash_from_32x32(&transform_plane(px, t));
            out[partner] = phash_from_32x32(&transform_plane(px, partner));
        }
    }
    out
}

/// `[identity, hflip, vflip, rot90, rot180, rot270, transpose, transverse]` dHashes of one luma
/// image: the mirrors and the half turn read the 9×8 plane of `dhash` mirrored, the transposing
/// transforms an 8-wide × 9-high plane transposed (the transformed image resized to 9×8 is the
/// image resized to 8×9, transformed). Equal to imagehash's `dhash(img.transpose(op))` up to
/// the rounding order of Pillow's two resize passes (exact for the mirrors in practice).
pub fn dhash_dihedral(luma: &[u8], w: usize, h: usize) -> [u64; 8] {
    let wide = resize_lanczos_l8(luma, w, h, HASH_SIDE + 1, HASH_SIDE);
    let tall = resize_lanczos_l8(luma, w, h, HASH_SIDE, HASH_SIDE + 1);
    dhash_dihedral_from(&wide, &tall)
}

/// [`dhash_dihedral`] and [`super::ahash`] of one luma image together: the aHash's 8×8 plane
/// and the 8-wide × 9-high plane share their horizontal LANCZOS pass (the same bytes as two
/// separate resizes, see `resize_lanczos_l8_two_heights`).
pub fn dhash_dihedral_and_ahash(luma: &[u8], w: usize, h: usize) -> ([u64; 8], u64) {
    let wide = resize_lanczos_l8(luma, w, h, HASH_SIDE + 1, HASH_SIDE);
    let (square, tall) =
        resize_lanczos_l8_two_heights(luma, w, h, HASH_SIDE, (HASH_SIDE, HASH_SIDE + 1));
    (dhash_dihedral_from(&wide, &tall), ahash_from_8x8(&square))
}

/// The eight dHashes from the 9×8 plane and the 8×9 plane. Each is one of four 8×8 comparison
/// grids — right brighter than left and left brighter than right in the wide plane, bottom
/// brighter than top and top brighter than bottom in the tall one — with its rows or columns
/// reversed, or transposed: for the wide plane's transformed copy `T`, `hflip` compares
/// `T[r][c + 1] = W[r][7 − c] > T[r][c] = W[r][8 − c]`, the "left brighter" grid with its columns
/// reversed; `transpose` compares `Tall[c + 1][r] > Tall[c][r]`, the "bottom brighter" grid
/// transposed; and so on. In `pack`'s order (row r, column c at bit 63 − (8r + c)) reversing
/// the rows is a byte swap, reversing both a bit reversal.
fn dhash_dihedral_from(wide: &[u8], tall: &[u8]) -> [u64; 8] {
    let side = HASH_SIDE;
    let (wide, tall) = (&wide[..(side + 1) * side], &tall[..side * (side + 1)]);
    let (mut right, mut left, mut below, mut above) = (0u64, 0u64, 0u64, 0u64);
    for r in 0..side {
        for c in 0..side {
            let bit = 63 - (side * r + c);
            let (a, b) = (wide[(side + 1) * r + c], wide[(side + 1) * r + c + 1]);
            right |= u64::from(b > a) << bit;
            left |= u64::from(a > b) << bit;
            let (p, q) = (tall[side * r + c], tall[side * (r + 1) + c]);
            below |= u64::from(q > p) << bit;
            above |= u64::from(p > q) << bit;
        }
    }
    let reverse_columns = |x: u64| x.reverse_bits().swap_bytes();
    let (below_t, above_t) = (transpose_bits(below), transpose_bits(above));
    [
        right,                    // identity: W[r][c + 1] > W[r][c]
        reverse_columns(left),    // hflip: W[r][7 − c] > W[r][8 − c]
        right.swap_bytes(),       // vflip: W[7 − r][c + 1] > W[7 − r][c]
        below_t.swap_bytes(),     // rot90: Tall[c + 1][7 − r] > Tall[c][7 − r]
        left.reverse_bits(),      // rot180: W[7 − r][7 − c] > W[7 − r][8 − c]
        reverse_columns(above_t), // rot270: Tall[7 − c][r] > Tall[8 − c][r]
        below_t,                  // transpose: Tall[c + 1][r] > Tall[c][r]
        above_t.reverse_bits(),   // transverse: Tall[7 − c][7 − r] > Tall[8 − c][7 − r]
    ]
}

/// The transpose of an 8×8 bit matrix (bit 8i + j ↔ bit 8j + i; Hacker's Delight §7-3).
fn transpose_bits(x: u64) -> u64 {
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    let x = x ^ t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    let x = x ^ t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^ t ^ (t << 28)
}

/// The 32×32 plane under transform `t` (as Pillow's `Image.transpose`).
fn transform_plane(px: &[u8], t: usize) -> Vec<u8> {
    transform(px, PHASH_SIDE, PHASH_SIDE, t).0
}

/// A `w`×`h` plane under transform `t` (as Pillow's `Image.transpose`), with its new size.
fn transform(px: &[u8], w: usize, h: usize, t: usize) -> (Vec<u8>, usize, usize) {
    let (ow, oh) = if RULES[t].0 { (h, w) } else { (w, h) };
    let mut out = vec![0u8; w * h];
    for i in 0..oh {
        for j in 0..ow {
            let (r, c) = match t {
                0 => (i, j),
                1 => (i, w - 1 - j),
                2 => (h - 1 - i, j),
                3 => (j, w - 1 - i),
                4 => (h - 1 - i, w - 1 - j),
                5 => (h - 1 - j, i),
                6 => (j, i),
                _ => (h - 1 - j, w - 1 - i),
            };
            out[i * ow + j] = px[r * w + c];
        }
    }
    (out, ow, oh)
}

#[cfg(test)]
mod tests {
    use super::super::dhash_from_9x8;
    use super::*;

    fn lcg_plane(seed: u64) -> Vec<u8> {
        crate::test_support::noise_bytes(PHASH_SIDE * PHASH_SIDE, seed)
    }

    #[test]
    fn every_variant_is_the_phash_of_the_transformed_plane() {
        let mut planes: Vec<Vec<u8>> = (0..200).map(lcg_plane).collect();
        // Symmetric and constant planes: exact-zero coefficients, the exact path.
        planes.push(vec![77; PHASH_SIDE * PHASH_SIDE]);
        planes.push(
            (0..PHASH_SIDE * PHASH_SIDE)
                .map(|k| (k % 32 * 8) as u8)
                .collect(),
        );
        planes.push(
            (0..PHASH_SIDE * PHASH_SIDE)
                .map(|k| ((k / 32).abs_diff(16) + (k % 32).abs_diff(16)) as u8 * 7)
                .collect(),
        );
        for px in &planes {
            let got = phash_dihedral_from_32x32(px);
            for (t, &g) in got.iter().enumerate() {
                assert_eq!(
                    g,
                    phash_from_32x32(&transform_plane(px, t)),
                    "{}",
                    DIHEDRAL[t]
                );
            }
            assert_eq!(got[0], phash_from_32x32(px));
        }
    }

    #[test]
    fn dhash_variants_are_the_dhash_of_the_transformed_image_for_exact_sizes() {
        // The transposing variants resize with the passes in another order, so compare exactly on
        // the mirrors (a mirrored resize is the resize mirrored) and within rounding otherwise.
        for seed in 0..50 {
            let (w, h) = (40, 24);
            let img: Vec<u8> = lcg_plane(seed).into_iter().cycle().take(w * h).collect();
            let got = dhash_dihedral(&img, w, h);
            assert_eq!(got[0], super::super::dhash(&img, w, h));
            for t in [1, 2, 4] {
                let (moved, mw, mh) = transform(&img, w, h, t);
                assert_eq!(
                    got[t],
                    super::super::dhash(&moved, mw, mh),
                    "{}",
                    DIHEDRAL[t]
                );
            }
            for t in [3, 5, 6, 7] {
                let (moved, mw, mh) = transform(&img, w, h, t);
                let d = (got[t] ^ super::super::dhash(&moved, mw, mh)).count_ones();
                assert!(d <= 6, "{} {d}", DIHEDRAL[t]);
            }
        }
    }

    #[test]
    fn dhash_variants_read_the_transformed_planes_in_place() {
        // The gathers compare exactly the pixels of the plane `transform` builds.
        for seed in 0..100 {
            let (w, h) = (29 + seed as usize % 7, 23 + seed as usize % 11);
            let img: Vec<u8> = lcg_plane(seed).into_iter().cycle().take(w * h).collect();
            let wide = resize_lanczos_l8(&img, w, h, HASH_SIDE + 1, HASH_SIDE);
            let tall = resize_lanczos_l8(&img, w, h, HASH_SIDE, HASH_SIDE + 1);
            let got = dhash_dihedral(&img, w, h);
            for (t, &g) in got.iter().enumerate() {
                let moved = if RULES[t].0 {
                    transform(&tall, HASH_SIDE, HASH_SIDE + 1, t).0
                } else {
                    transform(&wide, HASH_SIDE + 1, HASH_SIDE, t).0
                };
                assert_eq!(g, dhash_from_9x8(&moved), "{}", DIHEDRAL[t]);
            }
        }
    }

    /// The dHashes read through per-transform gather tables (the transformed plane's pixel `k`
    /// comes from plane index `table[k]`): the definition the comparison grids are checked against.
    fn dhash_dihedral_gathered(wide: &[u8], tall: &[u8]) -> [u64; 8] {
        let tables = dhash_gathers();
        let mut out = [0u64; 8];
        for (t, o) in out.iter_mut().enumerate() {
            let plane = if RULES[t].0 { tall } else { wide };
            // The transformed 9×8 plane read in place: the same comparisons `dhash_from_9x8` makes
            // on the plane `transform` would build.
            let at = &tables[t];
            *o = pack((0..HASH_SIDE).flat_map(|r| {
                (0..HASH_SIDE).map(move |c| {
                    let k = r * (HASH_SIDE + 1) + c;
                    plane[usize::from(at[k + 1])] > plane[usize::from(at[k])]
                })
            }));
        }
        out
    }

    /// For each transform `t`, where pixel `k` of the transformed 9-wide × 8-high plane comes from
    /// in the plane `dhash_dihedral` resizes for it (9×8, or 8×9 for the transposing transforms).
    fn dhash_gathers() -> &'static [[u8; (HASH_SIDE + 1) * HASH_SIDE]; 8] {
        use std::sync::OnceLock;
        static TABLES: OnceLock<[[u8; (HASH_SIDE + 1) * HASH_SIDE]; 8]> = OnceLock::new();
        TABLES.get_or_init(|| {
            let mut tables = [[0u8; (HASH_SIDE + 1) * HASH_SIDE]; 8];
            for (t, table) in tables.iter_mut().enumerate() {
                let (w, h) = if RULES[t].0 {
                    (HASH_SIDE, HASH_SIDE + 1)
                } else {
                    (HASH_SIDE + 1, HASH_SIDE)
                };
                // Transform a plane of indices: each output pixel is then its source's index.
                let index: Vec<u8> = (0..w * h).map(|i| i as u8).collect();
                let (moved, mw, mh) = transform(&index, w, h, t);
                debug_assert_eq!((mw, mh), (HASH_SIDE + 1, HASH_SIDE));
                table.copy_from_slice(&moved);
            }
            tables
        })
    }

    #[test]
    fn comparison_grids_give_the_gathered_dhashes() {
        for seed in 0..300u64 {
            // Few levels, so that equal neighbours (neither brighter) are common.
            let levels = [2u8, 3, 255][seed as usize % 3];
            let noise = crate::test_support::noise_bytes(2 * 72, seed);
            let (wide, tall): (Vec<u8>, Vec<u8>) = (
                noise[..72].iter().map(|v| v % levels).collect(),
                noise[72..].iter().map(|v| v % levels).collect(),
            );
            assert_eq!(
                dhash_dihedral_from(&wide, &tall),
                dhash_dihedral_gathered(&wide, &tall),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn bit_transpose_is_the_matrix_transpose() {
        let mut x = 0x0123_4567_89AB_CDEFu64;
        for _ in 0..100 {
            let mut want = 0u64;
            for i in 0..8 {
                for j in 0..8 {
                    want |= ((x >> (8 * i + j)) & 1) << (8 * j + i);
                }
            }
            assert_eq!(transpose_bits(x), want);
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
    }

    #[test]
    fn transforms_compose_like_the_dihedral_group() {
        let px = lcg_plane(9);
        let twice = |t: usize| transform_plane(&transform_plane(&px, t), t);
        // Mirrors, the half turn, transpose and transverse are involutions; rot90 twice = rot180.
        for t in [1, 2, 4, 6, 7] {
            assert_eq!(twice(t), px, "{}", DIHEDRAL[t]);
        }
        assert_eq!(twice(3), transform_plane(&px, 4));
        assert_eq!(transform_plane(&transform_plane(&px, 3), 5), px);
    }
}
