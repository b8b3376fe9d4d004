//! Shared fixtures for the unit tests (compiled only under `cargo test`).

/// `n` pseudo-random bytes from Knuth's MMIX linear congruential generator (the top byte of each
/// state): deterministic in `seed`, no dependency, and the same sequence every test used before
/// it was shared here.
pub(crate) fn noise_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 56) as u8
        })
        .collect()
}
