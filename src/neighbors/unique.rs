//! Collapse exact-equal hashes before the search: real datasets hold many byte-identical copies,
//! and a bucket full of equal hashes would otherwise cost quadratic time.

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
        let mut order: Vec<(u64, u32)> = hashes
            .par_iter()
            .enumerate()
            .map(|(i, &h)| (h, i as u32))
            .collect();
        order.par_sort_unstable();
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
