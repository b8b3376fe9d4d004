//! Collapse exact-equal hashes before the search: real datasets hold many byte-identical copies,
//! and a bucket full of equal hashes would otherwise cost quadratic time.

use super::deal::{self, Dealt, deal};
use rayon::prelude::*;

/// The distinct hashes of an input, with the members of each (in increasing input order).
pub(crate) struct Unique {
    /// Distinct hash values, in order of first appearance in the input.
    pub hashes: Vec<u64>,
    /// `members[starts[u]..starts[u + 1]]` are the input indices holding `hashes[u]`, ascending.
    pub starts: Vec<u32>,
    pub members: Vec<u32>,
}

impl Unique {
    /// Distinct hashes in order of first appearance (needed for deterministic nearest matches).
    pub(crate) fn new(hashes: &[u64]) -> Self {
        Self::build(hashes, true)
    }

    /// Distinct hashes in increasing order: one parallel sort fewer (groups and pair lists are
    /// renumbered by item order afterwards anyway).
    pub(crate) fn sorted(hashes: &[u64]) -> Self {
        Self::build(hashes, false)
    }

    fn build(hashes: &[u64], by_first_appearance: bool) -> Self {
        assert!(
            hashes.len() < u32::MAX as usize,
            "at most 2^32-2 hashes are supported"
        );
        // Sorting (hash, index) pairs keeps members ascending within each distinct hash.
        let order = sorted_pairs(hashes);
        let mut uniq = Vec::new();
        let mut starts = Vec::new();
        for (pos, &(h, _)) in order.iter().enumerate() {
            if uniq.last() != Some(&h) {
                uniq.push(h);
                starts.push(pos as u32);
            }
        }
        starts.push(order.len() as u32);
        if !by_first_appearance {
            let members = order.into_iter().map(|(_, i)| i).collect();
            return Self {
                hashes: uniq,
                starts,
                members,
            };
        }
        // Renumber distinct hashes by first appearance, so "smallest unique id" means "appears
        // first in the input" (deterministic tie-breaking for nearest matches).
        let mut by_first: Vec<u32> = (0..uniq.len() as u32).collect();
        by_first.par_sort_unstable_by_key(|&u| order[starts[u as usize] as usize].1);
        let mut hashes_out = Vec::with_capacity(uniq.len());
        let mut starts_out = Vec::with_capacity(starts.len());
        let mut members = Vec::with_capacity(order.len());
        for &u in &by_first {
            hashes_out.push(uniq[u as usize]);
            starts_out.push(members.len() as u32);
            let run = &order[starts[u as usize] as usize..starts[u as usize + 1] as usize];
            members.extend(run.iter().map(|&(_, i)| i));
        }
        starts_out.push(members.len() as u32);
        Self {
            hashes: hashes_out,
            starts: starts_out,
            members,
        }
    }

    #[inline]
    pub(crate) fn members_of(&self, u: u32) -> &[u32] {
        &self.members[self.starts[u as usize] as usize..self.starts[u as usize + 1] as usize]
    }

    /// Unique id of every input item.
    pub(crate) fn inverse(&self, n: usize) -> Vec<u32> {
        let mut inv = vec![0u32; n];
        for u in 0..self.hashes.len() as u32 {
            for &m in self.members_of(u) {
                inv[m as usize] = u;
            }
        }
        inv
    }
}

/// Inputs per bucket of the counting pass in [`sorted_pairs`], on average (log2): 16; 8 and 32
/// measured no faster at 20,000 and 100,000 hashes.
const PER_BUCKET_LOG2: u32 = 4;
/// A bucket at least this large is sorted by all threads (clustered hashes can share top bits).
const PARALLEL_BUCKET: usize = 1 << 16;
/// Pairs per parallel block of buckets in the final sort.
const BLOCK: usize = 1 << 13;

/// `(hashes[i], i)` for every `i`, sorted. One counting pass on the hashes' top bits deals them
/// into buckets of ~16 (in parallel, each thread writing its own runs), then every bucket is
/// sorted on its own, in cache. A comparison sort of all of them (`par_sort_unstable`) took
/// 3.3 ms of a 13 ms search of 100,000 uniform hashes on 2 cores, alongside the planner; this
/// takes 1.5-2.4 ms there, and 0.52 against ~0.85 ms at 20,000 real pHashes.
pub(crate) fn sorted_pairs(hashes: &[u64]) -> Vec<(u64, u32)> {
    let n = hashes.len();
    let bits = (usize::BITS - n.leading_zeros())
        .saturating_sub(PER_BUCKET_LOG2)
        .clamp(1, 16);
    let shift = 64 - bits;
    let nb = 1usize << bits;
    let bucket = |h: u64| (h >> shift) as usize;
    // Contiguous pieces of the input, one per thread.
    let pieces = rayon::current_num_threads().clamp(1, n.max(1));
    let piece = |p: usize| p * n / pieces..(p + 1) * n / pieces;
    let Dealt {
        items: mut out,
        starts,
    } = deal(
        pieces,
        nb,
        |p, counts| {
            for &h in &hashes[piece(p)] {
                counts[bucket(h)] += 1;
            }
        },
        |p, dealer| {
            for i in piece(p) {
                dealer.put(bucket(hashes[i]), (hashes[i], i as u32));
            }
        },
    );
    // Blocks of whole buckets with about BLOCK pairs each, sorted in parallel.
    let mut blocks = Vec::new();
    let mut rest = &mut out[..];
    for (b0, b1) in deal::blocks(&starts, BLOCK) {
        let (block, r) = rest.split_at_mut(starts[b1] - starts[b0]);
        blocks.push((b0, b1, block));
        rest = r;
    }
    blocks.into_par_iter().for_each(|(b0, b1, block)| {
        for b in b0..b1 {
            let run = &mut block[starts[b] - starts[b0]..starts[b + 1] - starts[b0]];
            if run.len() >= PARALLEL_BUCKET {
                run.par_sort_unstable();
            } else {
                run.sort_unstable();
            }
        }
    });
    out
}
