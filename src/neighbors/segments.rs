//! Images with several hashes each (the segments of a crop-resistant hash): the exact join
//! "which segments of two different images are within k bits", and per pair of images how many
//! segments matched — imagehash's `ImageMultiHash.hash_diff` count, for every pair at once.
//!
//! The segments of all images are flattened into one hash list with an owner per segment; the
//! multi-index self join finds every near pair of segments, and pairs inside one image are
//! dropped. So the answer is exactly brute force's, at the cost of one self join over
//! (images × segments per image) hashes.

use super::{Pair, self_pairs};

/// Every pair of segments of *different* owners within `k` bits, as `(s, t, distance)` with
/// `owners[s] < owners[t]`, sorted by `(owners[s], owners[t], s, t)`.
pub fn owner_pairs(hashes: &[u64], owners: &[u32], k: u32) -> Vec<Pair> {
    assert_eq!(hashes.len(), owners.len(), "one owner per hash");
    let mut out: Vec<Pair> = self_pairs(hashes, k)
        .into_iter()
        .filter(|&(s, t, _)| owners[s as usize] != owners[t as usize])
        .map(|(s, t, d)| {
            if owners[s as usize] < owners[t as usize] {
                (s, t, d)
            } else {
                (t, s, d)
            }
        })
        .collect();
    out.sort_unstable_by_key(|&(s, t, _)| (owners[s as usize], owners[t as usize], s, t));
    out
}

/// Per pair of owners with at least one near segment pair: `(a, b, matched_a, matched_b,
/// min_distance)` with `a < b`, where `matched_a` is the number of distinct segments of `a`
/// within `k` bits of some segment of `b` (imagehash's `a.hash_diff(b, hamming_cutoff=k)[0]`)
/// and `matched_b` the reverse. `pairs` is [`owner_pairs`]' output.
pub fn match_counts(pairs: &[Pair], owners: &[u32]) -> Vec<(u32, u32, u32, u32, u8)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < pairs.len() {
        let key = |p: &Pair| (owners[p.0 as usize], owners[p.1 as usize]);
        let (a, b) = key(&pairs[start]);
        let mut end = start;
        while end < pairs.len() && key(&pairs[end]) == (a, b) {
            end += 1;
        }
        let run = &pairs[start..end];
        // Within a run, s is sorted: distinct s are counted by changes; t needs a sort.
        let matched_a = 1 + run.windows(2).filter(|w| w[0].0 != w[1].0).count();
        let mut ts: Vec<u32> = run.iter().map(|p| p.1).collect();
        ts.sort_unstable();
        ts.dedup();
        let min_d = run.iter().map(|p| p.2).min().unwrap_or(0);
        out.push((a, b, matched_a as u32, ts.len() as u32, min_d));
        start = end;
    }
    out
}

/// [`owner_pairs`] by brute force (tests and benchmarks).
pub fn brute_owner_pairs(hashes: &[u64], owners: &[u32], k: u32) -> Vec<Pair> {
    let mut out = Vec::new();
    for s in 0..hashes.len() {
        for t in 0..hashes.len() {
            if owners[s] < owners[t] {
                let d = (hashes[s] ^ hashes[t]).count_ones();
                if d <= k {
                    out.push((s as u32, t as u32, d as u8));
                }
            }
        }
    }
    out.sort_unstable_by_key(|&(s, t, _)| (owners[s as usize], owners[t as usize], s, t));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Images of 1–12 segments: about a third of the segments are copies of an earlier
    /// segment (of any image) with two bits flipped.
    fn segments(n_images: u32, seed: u64) -> (Vec<u64>, Vec<u32>) {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            // xorshift64*: deterministic, no dependency.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let (mut hashes, mut owners): (Vec<u64>, Vec<u32>) = (Vec::new(), Vec::new());
        for img in 0..n_images {
            for _ in 0..1 + next() % 12 {
                let h = if !hashes.is_empty() && next() % 3 == 0 {
                    let src = hashes[(next() % hashes.len() as u64) as usize];
                    src ^ (1u64 << (next() % 64)) ^ (1u64 << (next() % 64))
                } else {
                    next()
                };
                hashes.push(h);
                owners.push(img);
            }
        }
        (hashes, owners)
    }

    #[test]
    fn owner_pairs_equal_brute_force() {
        for seed in 0..6 {
            let (h, o) = segments(60, seed);
            for k in [0, 2, 3, 8, 20] {
                assert_eq!(
                    owner_pairs(&h, &o, k),
                    brute_owner_pairs(&h, &o, k),
                    "seed {seed} k {k}"
                );
            }
        }
    }

    #[test]
    fn counts_are_imagehash_hash_diff_counts() {
        let (h, o) = segments(40, 9);
        let k = 4;
        let counts = match_counts(&owner_pairs(&h, &o, k), &o);
        // Brute force: for every pair of images, segments of a with some segment of b within k.
        let of = |img: u32| -> Vec<usize> { (0..h.len()).filter(|&s| o[s] == img).collect() };
        let near = |x: u64, y: u64| (x ^ y).count_ones() <= k;
        let mut want = Vec::new();
        for a in 0..40u32 {
            for b in a + 1..40 {
                let (sa, sb) = (of(a), of(b));
                let na = sa.iter().filter(|&&s| sb.iter().any(|&t| near(h[s], h[t])));
                let nb = sb.iter().filter(|&&t| sa.iter().any(|&s| near(h[s], h[t])));
                let (na, nb) = (na.count(), nb.count());
                if na > 0 {
                    let mut d = 64;
                    for &s in &sa {
                        for &t in &sb {
                            d = d.min((h[s] ^ h[t]).count_ones());
                        }
                    }
                    want.push((a, b, na as u32, nb as u32, d as u8));
                }
            }
        }
        assert!(want.len() > 5, "the fixture must have matches");
        assert_eq!(counts, want);
    }

    #[test]
    fn same_image_pairs_are_dropped() {
        let h = [7u64, 7, 7];
        let o = [0u32, 0, 1];
        assert_eq!(owner_pairs(&h, &o, 0), vec![(0, 2, 0), (1, 2, 0)]);
        assert_eq!(
            match_counts(&owner_pairs(&h, &o, 0), &o),
            vec![(0, 1, 2, 1, 0)]
        );
    }
}
