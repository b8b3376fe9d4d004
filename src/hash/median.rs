//! numpy's median of 64 values (pHash's threshold): the mean of the two middle order statistics,
//! in `f64::total_cmp` order. A full scan takes four of them per image (the four sign patterns
//! of the dihedral pHashes, the first of which is pHash itself), and on a 28×28 thumbnail a
//! selection cost ~0.25 µs each (1 µs of the ~13.5 µs its scan took); a sorting network in
//! eight AVX-512 registers takes a third of that.

/// The ordering key of `x` whose integer order is `f64::total_cmp`'s (the key `total_cmp` itself
/// compares): the same order statistics, with plain integer comparisons.
#[inline(always)]
fn key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

/// The value whose [`key`] is `k`.
#[inline(always)]
fn value(k: i64) -> f64 {
    f64::from_bits((k ^ (((k >> 63) as u64) >> 1) as i64) as u64)
}

/// The mean of the 32nd and 33rd smallest of `v` (numpy's median of an even count).
pub(super) fn median64(v: &[f64; 64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::level() >= crate::cpu::Level::Avx512 {
        crate::cpu::note(crate::cpu::Level::Avx512);
        // SAFETY: `level()` is never above what the CPU supports, so it has AVX-512F.
        return unsafe { avx512::median64(v) };
    }
    crate::cpu::note(crate::cpu::Level::Scalar);
    median64_select(v)
}

/// [`median64`] by selection: the definition the network is tested against.
fn median64_select(v: &[f64; 64]) -> f64 {
    let mut s = v.map(key);
    let (_, lower, upper) = s.select_nth_unstable(31);
    let next = upper.iter().copied().min().map_or(f64::INFINITY, value);
    (value(*lower) + next) / 2.0
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::value;
    use std::arch::x86_64::*;

    /// One step `(K, J)` of Batcher's bitonic sort over the 64 keys, eight per register (key `i`
    /// is lane `i % 8` of register `i / 8`): every key `i` with partner `i ^ J > i` takes the
    /// smaller of the two if its `K`-block sorts ascending (`i & K == 0`), else the larger.
    /// Partners 8 or more apart are whole registers; closer ones are lanes of one register,
    /// brought together by a permutation and kept by a constant blend mask.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn step<const K: usize, const J: usize>(r: &mut [__m512i; 8]) {
        if J >= 8 {
            for a in 0..8 {
                let b = a ^ (J / 8);
                if b > a {
                    let (x, y) = (r[a], r[b]);
                    let (lo, hi) = (_mm512_min_epi64(x, y), _mm512_max_epi64(x, y));
                    (r[a], r[b]) = if (8 * a) & K == 0 { (lo, hi) } else { (hi, lo) };
                }
            }
        } else {
            let partner = _mm512_set_epi64(
                (7 ^ J) as i64,
                (6 ^ J) as i64,
                (5 ^ J) as i64,
                (4 ^ J) as i64,
                (3 ^ J) as i64,
                (2 ^ J) as i64,
                (1 ^ J) as i64,
                J as i64,
            );
            for (a, x) in r.iter_mut().enumerate() {
                // Lane l keeps the larger when it is the upper of its pair xor its block descends.
                let mut take_max = 0u8;
                for l in 0..8 {
                    if (l & J != 0) != ((8 * a + l) & K != 0) {
                        take_max |= 1 << l;
                    }
                }
                let y = _mm512_permutexvar_epi64(partner, *x);
                let (lo, hi) = (_mm512_min_epi64(*x, y), _mm512_max_epi64(*x, y));
                *x = _mm512_mask_blend_epi64(take_max, lo, hi);
            }
        }
    }

    /// [`super::median64`]: the two halves of 32 sorted by the network's first five stages, the
    /// first ascending and the second descending, so their elementwise minimum holds the 32
    /// smallest keys and the maximum the 32 largest (the bitonic split). The 32nd smallest is
    /// the largest of the first set, the 33rd the smallest of the second.
    #[target_feature(enable = "avx512f")]
    pub(super) fn median64(v: &[f64; 64]) -> f64 {
        let mut r: [__m512i; 8] = std::array::from_fn(|i| {
            // SAFETY: `v[8 * i..]` holds at least 8 f64 (i < 8); the load is unaligned.
            let bits = unsafe { _mm512_loadu_si512(v[8 * i..].as_ptr().cast()) };
            // `super::key` on 8 lanes.
            _mm512_xor_si512(bits, _mm512_srli_epi64::<1>(_mm512_srai_epi64::<63>(bits)))
        });
        step::<2, 1>(&mut r);
        step::<4, 2>(&mut r);
        step::<4, 1>(&mut r);
        step::<8, 4>(&mut r);
        step::<8, 2>(&mut r);
        step::<8, 1>(&mut r);
        step::<16, 8>(&mut r);
        step::<16, 4>(&mut r);
        step::<16, 2>(&mut r);
        step::<16, 1>(&mut r);
        step::<32, 16>(&mut r);
        step::<32, 8>(&mut r);
        step::<32, 4>(&mut r);
        step::<32, 2>(&mut r);
        step::<32, 1>(&mut r);
        let low: [__m512i; 4] = std::array::from_fn(|a| _mm512_min_epi64(r[a], r[a + 4]));
        let high: [__m512i; 4] = std::array::from_fn(|a| _mm512_max_epi64(r[a], r[a + 4]));
        let lower = _mm512_reduce_max_epi64(_mm512_max_epi64(
            _mm512_max_epi64(low[0], low[1]),
            _mm512_max_epi64(low[2], low[3]),
        ));
        let upper = _mm512_reduce_min_epi64(_mm512_min_epi64(
            _mm512_min_epi64(high[0], high[1]),
            _mm512_min_epi64(high[2], high[3]),
        ));
        (value(lower) + value(upper)) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::{Level, available, testing::with_level};

    /// 64 values of one of several kinds: few distinct values (ties), signed zeros, wide
    /// magnitudes, infinities and NaNs of both signs, sorted and reversed runs.
    fn values(round: usize, state: &mut u64) -> [f64; 64] {
        let mut next = || {
            *state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*state >> 33) as i64 % 2001 - 1000
        };
        let mut v: [f64; 64] = std::array::from_fn(|_| {
            let r = next();
            match round % 6 {
                0 => (r % 5) as f64,
                1 => r as f64 * 1e-3,
                2 => (r as f64).powi(3) * 1e9,
                3 => {
                    [
                        0.0,
                        -0.0,
                        f64::INFINITY,
                        f64::NEG_INFINITY,
                        f64::NAN,
                        -f64::NAN,
                    ][r.unsigned_abs() as usize % 6]
                        + if r % 3 == 0 { r as f64 } else { 0.0 }
                }
                4 => r as f64 / 7.0,
                _ => -0.0 * r.signum() as f64,
            }
        });
        if round.is_multiple_of(5) {
            v.sort_by(f64::total_cmp);
            if round.is_multiple_of(10) {
                v.reverse();
            }
        }
        v
    }

    #[test]
    fn every_level_gives_the_selection() {
        let mut state = 11u64;
        for round in 0..3000 {
            let v = values(round, &mut state);
            let want = median64_select(&v).to_bits();
            for level in available() {
                let (got, ran) = with_level(level, || median64(&v));
                assert_eq!(got.to_bits(), want, "{level:?} {v:?}");
                // No AVX2 variant: forced to AVX2, the selection runs.
                assert!(
                    ran || level == Level::Avx2,
                    "{level:?}: its kernel did not run"
                );
            }
        }
    }

    #[test]
    fn every_level_finds_the_middle_of_shuffled_distinct_values() {
        // Random orders of 0..64 (the median is 31.5). A wrong step of the network shows as a
        // wrong middle pair for some order (dropping `step::<16, 4>` does here). The final
        // split tolerates halves that are only nearly sorted, so not every dropped step does
        // (`step::<8, 1>` and `step::<32, 1>` do not, on these orders): the network is kept
        // whole, as Batcher's construction proves it.
        let mut state = 3u64;
        for level in available() {
            let (bad, _) = with_level(level, || {
                let mut v: [f64; 64] = std::array::from_fn(|i| i as f64);
                (0..20_000)
                    .filter(|_| {
                        for i in (1..64).rev() {
                            state = state
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            v.swap(i, (state >> 33) as usize % (i + 1));
                        }
                        median64(&v) != 31.5
                    })
                    .count()
            });
            assert_eq!(bad, 0, "{level:?}");
        }
    }

    #[test]
    fn the_selection_is_the_mean_of_the_sorted_middle_pair() {
        let mut state = 5u64;
        for round in 0..500 {
            let v = values(round, &mut state);
            let mut s = v;
            s.sort_by(f64::total_cmp);
            assert_eq!(
                median64_select(&v).to_bits(),
                ((s[31] + s[32]) / 2.0).to_bits(),
                "{v:?}"
            );
        }
    }
}
