//! Choice of the multi-index layout (number of chunks, chunk width, which bits go where) from the
//! data itself, because real perceptual hashes are far from uniform.
//!
//! Multi-index hashing (Norouzi, Punjani & Fleet, CVPR 2012): split the bits into `m` disjoint
//! chunks; if two hashes differ in at most `k` bits, some chunk differs in at most `k / m` bits
//! (pigeonhole). More generally (Qin, Xiao & Wang, "GPH: similarity search in Hamming space",
//! ICDE 2018), chunk `c` may have its own radius `t_c`: as long as `sum(t_c + 1) > k`, a pair
//! within `k` differs in at most `t_c` bits in some chunk `c`, so `m` chunks need radii summing
//! to only `k + 1 - m`, not `m * floor(k / m)` — at k = 16 over four chunks, radii 3,3,3,4
//! instead of 4,4,4,4 read under half the buckets.
//!
//! Both hold for *any* disjoint choice of bits, even if some bits are left out, so we are free to
//! (1) leave out bits that are constant over the whole input (they never contribute to a
//! distance: the pHash DC bit is always 1), (2) give every chunk a mix of balanced bits, and
//! (3) choose `m` and the chunk width (the radii follow) by estimating the work on a sample of
//! pairs.

use rayon::prelude::*;

/// Deterministic PRNG for sampling (splitmix64): the plan must not change between runs.
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    #[inline]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// What the `k`-th `below(n)` call (from 0) of `SplitMix(seed)` returns, without the calls
    /// before it: the state after `k + 1` steps is `seed + (k + 1) * GAMMA`, so draws can be
    /// taken in parallel and still be the same sequence.
    #[inline]
    pub(crate) fn below_at(seed: u64, k: u64, n: usize) -> usize {
        let mut rng = SplitMix(seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        rng.below(n)
    }
}

/// The layout of the index: `chunks[c]` is the set of bits of chunk `c` (as a mask); candidate
/// buckets of a hash in chunk `c` are those whose key differs from its own in at most
/// `radii[c]` bits.
#[derive(Clone, Debug)]
pub struct Plan {
    pub chunks: Vec<u64>,
    pub width: u32,
    pub radii: Vec<u32>,
    /// Estimated cost in arbitrary units (for benchmarks and debugging).
    pub cost: f64,
}

impl Plan {
    /// One chunk with no bits: everything in one bucket, i.e. brute force.
    pub(crate) fn brute(cost: f64) -> Self {
        Self {
            chunks: vec![0],
            width: 0,
            radii: vec![0],
            cost,
        }
    }

    /// No index: every pair is compared (tiny inputs, or when the cost model says so).
    pub fn is_brute_force(&self) -> bool {
        self.width == 0
    }

    /// Chunk masks with their radii: a pair is a candidate in chunk `c` when it differs in at
    /// most `radii[c]` of the bits of `chunks[c]`.
    pub(crate) fn chunk_radii(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.chunks.iter().copied().zip(self.radii.iter().copied())
    }
}

/// Radii of `m` chunks for threshold `k` (`m <= k + 1`): the smallest with `sum(r + 1) > k`
/// (generalised pigeonhole), as even as possible, the larger ones last.
pub(crate) fn radii(k: u32, m: u32) -> Vec<u32> {
    let m = m.max(1);
    let total = (k + 1).saturating_sub(m);
    let (base, extra) = (total / m, total % m);
    (0..m).map(|c| base + u32::from(c >= m - extra)).collect()
}

/// Maps a hash to its chunk key with eight byte-indexed tables: portable (no BMI2 `pext`) and
/// fast enough that building the index is a small part of the time.
pub(crate) struct KeyFn {
    tables: Box<[[u32; 256]; 8]>,
}

impl KeyFn {
    pub(crate) fn new(mask: u64) -> Self {
        let mut tables = Box::new([[0u32; 256]; 8]);
        // Key bit t is the t-th set bit of the mask (counting from the least significant).
        let mut key_bit_of = [u32::MAX; 64];
        let mut t = 0;
        for (bit, slot) in key_bit_of.iter_mut().enumerate() {
            if mask >> bit & 1 == 1 {
                *slot = t;
                t += 1;
            }
        }
        for (byte, table) in tables.iter_mut().enumerate() {
            for (v, entry) in table.iter_mut().enumerate() {
                let mut key = 0u32;
                for b in 0..8 {
                    let bit = byte * 8 + b;
                    if v >> b & 1 == 1 && key_bit_of[bit] != u32::MAX {
                        key |= 1 << key_bit_of[bit];
                    }
                }
                *entry = key;
            }
        }
        Self { tables }
    }

    #[inline(always)]
    pub(crate) fn key(&self, h: u64) -> u32 {
        let t = &self.tables;
        t[0][(h & 0xff) as usize]
            | t[1][(h >> 8 & 0xff) as usize]
            | t[2][(h >> 16 & 0xff) as usize]
            | t[3][(h >> 24 & 0xff) as usize]
            | t[4][(h >> 32 & 0xff) as usize]
            | t[5][(h >> 40 & 0xff) as usize]
            | t[6][(h >> 48 & 0xff) as usize]
            | t[7][(h >> 56 & 0xff) as usize]
    }
}

/// All masks over `width` bits with between `lo` and `hi` bits set, lighter masks first.
pub(crate) fn masks_up_to(width: u32, lo: u32, hi: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for weight in lo..=hi.min(width) {
        push_combinations(width, weight, 0, 0, &mut out);
    }
    out
}

fn push_combinations(width: u32, left: u32, from: u32, acc: u32, out: &mut Vec<u32>) {
    if left == 0 {
        out.push(acc);
        return;
    }
    for bit in from..=(width - left) {
        push_combinations(width, left - 1, bit + 1, acc | 1 << bit, out);
    }
}

/// Keys within `radius` bits of one `width`-bit key (the probes of one chunk), as a float.
pub(crate) fn binomial_sum(width: u32, radius: u32) -> f64 {
    let mut total = 0.0;
    let mut c = 1.0;
    for i in 0..=radius.min(width) {
        total += c;
        c = c * (width - i) as f64 / (i + 1) as f64;
    }
    total
}

/// Bits that vary over the input, most balanced first (a bit set in half the hashes splits best).
fn varying_bits_by_balance(sets: &[&[u64]]) -> Vec<u32> {
    let (mut all_and, mut all_or) = (u64::MAX, 0u64);
    let mut ones = [0u64; 64];
    let mut seen = 0u64;
    let mut rng = SplitMix(0x5EED);
    for hashes in sets {
        for &h in *hashes {
            all_and &= h;
            all_or |= h;
        }
        // Bit frequencies from a sample: exact counts over 10M hashes are not worth the time,
        // and at 20,000 hashes the bit-by-bit count was a tenth of the whole search. 8,192
        // samples put each frequency within about ±1.1 % (two standard errors): enough to rank.
        let step = hashes.len().div_ceil(8_192).max(1);
        let mut i = if hashes.is_empty() {
            0
        } else {
            rng.below(step)
        };
        // Counted per byte value (eight increments a hash, not 64), then per bit: the
        // bit-by-bit count was 0.1-0.2 ms of a 20,000-hash search, on its serial start.
        let mut byte_counts = [[0u32; 256]; 8];
        while i < hashes.len() {
            let h = hashes[i];
            for (t, counts) in byte_counts.iter_mut().enumerate() {
                counts[(h >> (8 * t)) as usize & 0xff] += 1;
            }
            seen += 1;
            i += step;
        }
        for (t, counts) in byte_counts.iter().enumerate() {
            for (v, &c) in counts.iter().enumerate() {
                for b in 0..8 {
                    ones[8 * t + b] += (v >> b & 1) as u64 * c as u64;
                }
            }
        }
    }
    let varying = all_and ^ all_or;
    let mut bits: Vec<u32> = (0..64).filter(|&b| varying >> b & 1 == 1).collect();
    let seen = seen.max(1) as f64;
    bits.sort_by(|&a, &b| {
        let da = (ones[a as usize] as f64 / seen - 0.5).abs();
        let db = (ones[b as usize] as f64 / seen - 0.5).abs();
        da.total_cmp(&db).then(a.cmp(&b))
    });
    bits
}

/// Deal the first `m * width` bits to `m` chunks in snake order so each chunk gets a similar mix.
fn assign(bits: &[u32], m: u32, width: u32) -> Vec<u64> {
    let mut chunks = vec![0u64; m as usize];
    for (t, &bit) in bits.iter().take((m * width) as usize).enumerate() {
        let round = t / m as usize;
        let pos = t % m as usize;
        let c = if round.is_multiple_of(2) {
            pos
        } else {
            m as usize - 1 - pos
        };
        chunks[c] |= 1 << bit;
    }
    chunks
}

// Cost units: nanoseconds of wall time on the 2-core reference machine (AVX-512), fitted on
// 1M uniform hashes at k=8 with forced layouts (`IMGSTATS_PLAN=m,width cargo bench ...`).
// A lane is 16 distances evaluated at once; a probe is one neighbour bucket looked up at random;
// a row visit is one hash compared against one non-empty bucket (its last lane is partly wasted).
const COST_LANE: f64 = 2.7;
const COST_PROBE: f64 = 12.0;
const COST_ROW: f64 = 3.0;
const COST_BUILD: f64 = 8.0;
/// Offsets array of 2^24 u32 = 64 MiB per chunk: the largest table we allow.
const MAX_WIDTH: u32 = 24;
/// Enumerating more neighbour keys than this per bucket is never the best plan.
const MAX_PROBES: f64 = 20_000.0;

/// Choose the layout for a join of `query` against `base` (the same slice for a self-join).
/// `self_join` halves pair counts and bucket visits (each unordered pair is looked at once).
pub(crate) fn choose(base: &[u64], query: &[u64], k: u32, self_join: bool) -> Plan {
    choose_with(base, query, k, self_join, false)
}

/// [`choose`] for a self join of the *distinct* values of `hashes`, from `hashes` as given (so
/// it need not wait for them to be found): sampled pairs of equal hashes are not counted as
/// candidates, since the join never compares them.
pub(crate) fn choose_distinct(hashes: &[u64], k: u32) -> Plan {
    choose_with(hashes, hashes, k, true, true)
}

fn choose_with(base: &[u64], query: &[u64], k: u32, self_join: bool, skip_equal: bool) -> Plan {
    let (nb, nq) = (base.len() as f64, query.len() as f64);
    let total_pairs = if self_join {
        nb * (nb - 1.0) / 2.0
    } else {
        nb * nq
    };
    let brute = Plan::brute(total_pairs / 16.0 * COST_LANE);
    // IMGSTATS_FORCE_BRUTE: benchmarks compare the index with brute force on the same kernel.
    if total_pairs < 1e6 || k >= 32 || std::env::var_os("IMGSTATS_FORCE_BRUTE").is_some() {
        return brute;
    }
    let bits = if self_join {
        varying_bits_by_balance(&[base])
    } else {
        varying_bits_by_balance(&[base, query])
    };
    let e = bits.len() as u32;
    if e == 0 {
        return brute;
    }
    // Sample pairs once; every candidate layout is scored on the same pairs. Pair t takes the
    // stream's draws 2t and 2t + 1, in parallel (drawn one after the other, with the random
    // loads, they were 0.2 ms of a 20,000-hash search's serial start).
    const SEED: u64 = 0xC0FFEE;
    let samples = 20_000;
    let side = if self_join { base } else { query };
    let xors: Vec<u64> = (0..samples as u64)
        .into_par_iter()
        .map(|t| {
            let a = base[SplitMix::below_at(SEED, 2 * t, base.len())];
            let b = side[SplitMix::below_at(SEED, 2 * t + 1, side.len())];
            a ^ b
        })
        .filter(|&x| !skip_equal || x != 0)
        .collect();
    let log_n = nb.max(2.0).log2();
    // Every (m, width) the search may use; scored in parallel (a few hundred chunk masks on
    // 20,000 samples each: most of the planner's time), the cheapest kept in this order on ties.
    let mut layouts = Vec::new();
    for m in 1..=(k + 1).min(e) {
        let widest = *radii(k, m).last().expect("m >= 1");
        let w_hi = (e / m).min(MAX_WIDTH);
        let w_lo = ((log_n - 8.0).max(1.0) as u32).min(w_hi);
        for width in w_lo..=w_hi {
            if binomial_sum(width, widest) <= MAX_PROBES {
                layouts.push((m, width));
            }
        }
    }
    let scored: Vec<Plan> = layouts
        .par_iter()
        .map(|&(m, width)| {
            let radii = radii(k, m);
            let chunks = assign(&bits, m, width);
            let buckets = (1u64 << width) as f64;
            let fill = (nb / buckets).min(1.0);
            let mut cost = m as f64 * (nb * COST_BUILD + buckets);
            for (&mask, &radius) in chunks.iter().zip(&radii) {
                // Pairs that share a candidate bucket in this chunk (+0.5: never zero).
                let hits = count_within(&xors, mask, radius);
                let compares = total_pairs * (hits as f64 + 0.5) / samples as f64;
                let probes = binomial_sum(width, radius);
                // Self join: each unordered bucket pair once, so half the probes.
                let (probes_done, row_visits) = if self_join {
                    (nb.min(buckets) * probes / 2.0, nb * probes / 2.0 * fill)
                } else {
                    (nq * probes, nq * probes * fill)
                };
                cost +=
                    compares / 16.0 * COST_LANE + probes_done * COST_PROBE + row_visits * COST_ROW;
            }
            Plan {
                chunks,
                width,
                radii,
                cost,
            }
        })
        .collect();
    let mut best = brute;
    for plan in scored {
        if plan.cost < best.cost {
            best = plan;
        }
    }
    if std::env::var_os("IMGSTATS_DEBUG_PLAN").is_some() {
        eprintln!("plan(nb={nb}, nq={nq}, k={k}, self={self_join}): {best:?}");
    }
    best
}

/// How many of `xors` have at most `radius` bits set under `mask`. `choose` scores a few hundred
/// chunk masks on 20,000 sampled pairs each; compiled for baseline x86-64, `count_ones` is a
/// bit-twiddling sequence and this loop was 11 % of a 20,000-hash self join, so it is compiled
/// again with POPCNT / AVX-512 VPOPCNTDQ (8 popcounts per instruction) and picked at run time.
fn count_within(xors: &[u64], mask: u64, radius: u32) -> usize {
    #[inline(always)]
    fn body(xors: &[u64], mask: u64, radius: u32) -> usize {
        xors.iter()
            .map(|&x| ((x & mask).count_ones() <= radius) as usize)
            .sum()
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt,avx2")]
        fn v512(xors: &[u64], mask: u64, radius: u32) -> usize {
            body(xors, mask, radius)
        }
        #[target_feature(enable = "popcnt,avx2")]
        fn v256(xors: &[u64], mask: u64, radius: u32) -> usize {
            body(xors, mask, radius)
        }
        match crate::cpu::level() {
            // SAFETY: `cpu::level()` never exceeds what the CPU supports.
            crate::cpu::Level::Avx512 => return unsafe { v512(xors, mask, radius) },
            // SAFETY: as above.
            crate::cpu::Level::Avx2 => return unsafe { v256(xors, mask, radius) },
            crate::cpu::Level::Scalar => {}
        }
    }
    body(xors, mask, radius)
}

/// The layout `choose` would build for `m` chunks of `width` bits, without scoring it.
pub(crate) fn forced(hashes: &[u64], k: u32, m: u32, width: u32) -> Plan {
    let bits = varying_bits_by_balance(&[hashes]);
    let m = m.max(1);
    let width = width.min(bits.len() as u32 / m).min(MAX_WIDTH);
    if width == 0 {
        return Plan::brute(0.0);
    }
    Plan {
        chunks: assign(&bits, m, width),
        width,
        radii: radii(k, m),
        cost: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_by_index_equal_the_stream() {
        let mut rng = SplitMix(0xC0FFEE);
        for k in 0..2000u64 {
            let n = 1 + 7 * k as usize;
            assert_eq!(SplitMix::below_at(0xC0FFEE, k, n), rng.below(n), "draw {k}");
        }
    }

    /// The bit order from byte counts equals the one from counting bit by bit (the definition).
    #[test]
    fn bit_balance_from_byte_counts_equals_the_bitwise_count() {
        let mut rng = SplitMix(9);
        // Skewed bits (each set with its own probability), a constant bit, more than one sample
        // step, and two sets.
        let skewed: Vec<u64> = (0..20_000)
            .map(|_| {
                (0..63).fold(1u64 << 63, |h, b| {
                    h | (((rng.next_u64() % 64) < b as u64) as u64) << b
                })
            })
            .collect();
        let other: Vec<u64> = (0..3000).map(|_| rng.next_u64()).collect();
        // Bit 0 is never set and bit 63 always in `skewed`: left out there, not with `other`.
        for (sets, varying) in [
            (vec![&skewed[..]], 62),
            (vec![&skewed[..3000], &other[..]], 64),
        ] {
            let got = varying_bits_by_balance(&sets);
            // The reference: the same samples, counted bit by bit.
            let (mut all_and, mut all_or, mut seen) = (u64::MAX, 0u64, 0u64);
            let mut ones = [0u64; 64];
            let mut rng = SplitMix(0x5EED);
            for hashes in &sets {
                for &h in *hashes {
                    all_and &= h;
                    all_or |= h;
                }
                let step = hashes.len().div_ceil(8_192).max(1);
                let mut i = rng.below(step);
                while i < hashes.len() {
                    for (b, count) in ones.iter_mut().enumerate() {
                        *count += hashes[i] >> b & 1;
                    }
                    seen += 1;
                    i += step;
                }
            }
            let mut want: Vec<u32> = (0..64)
                .filter(|&b| (all_and ^ all_or) >> b & 1 == 1)
                .collect();
            want.sort_by(|&a, &b| {
                let da = (ones[a as usize] as f64 / seen as f64 - 0.5).abs();
                let db = (ones[b as usize] as f64 / seen as f64 - 0.5).abs();
                da.total_cmp(&db).then(a.cmp(&b))
            });
            assert_eq!(got, want);
            assert_eq!(got.len(), varying);
        }
    }
}
