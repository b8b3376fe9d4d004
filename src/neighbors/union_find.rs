//! Lock-free union-find, so rayon workers can merge groups while they find pairs instead of
//! collecting every pair first (1,000 copies of one photo would be 500k pairs).

use std::sync::atomic::{AtomicU32, Ordering};

/// Union-find over `0..n` whose `union` and `find` can be called from many threads at once.
///
/// Roots are always linked from the larger index to the smaller, so every parent pointer points to
/// a smaller index and no interleaving of CAS operations can create a cycle; path halving only
/// replaces a parent by one of its ancestors and keeps that invariant.
pub(crate) struct AtomicUnionFind {
    parent: Vec<AtomicU32>,
}

impl AtomicUnionFind {
    pub(crate) fn new(n: usize) -> Self {
        assert!(
            n <= u32::MAX as usize,
            "union-find supports at most 2^32-1 items"
        );
        Self {
            parent: (0..n as u32).map(AtomicU32::new).collect(),
        }
    }

    #[inline]
    pub(crate) fn find(&self, mut x: u32) -> u32 {
        loop {
            let p = self.parent[x as usize].load(Ordering::Acquire);
            if p == x {
                return x;
            }
            let gp = self.parent[p as usize].load(Ordering::Acquire);
            if gp != p {
                // Path halving; losing the race is harmless (someone else shortened it).
                let _ = self.parent[x as usize].compare_exchange_weak(
                    p,
                    gp,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
            x = gp;
        }
    }

    #[inline]
    pub(crate) fn union(&self, a: u32, b: u32) {
        self.merge(a, b);
    }

    /// Union that says whether it joined two sets (false: already one). Exactly one of several
    /// concurrent calls that join the same two sets returns true, so the edges of the calls that
    /// return true form a spanning forest.
    #[inline]
    pub(crate) fn merge(&self, a: u32, b: u32) -> bool {
        let (mut a, mut b) = (a, b);
        loop {
            a = self.find(a);
            b = self.find(b);
            if a == b {
                return false;
            }
            if a < b {
                std::mem::swap(&mut a, &mut b);
            }
            // a > b: link the larger root under the smaller one; retry if a stopped being a root.
            if self.parent[a as usize]
                .compare_exchange(a, b, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return true;
            }
        }
    }

    /// Dense labels 0..g numbered in order of first appearance, and the size of each group.
    pub(crate) fn labels(&self) -> (Vec<u32>, Vec<u32>) {
        let n = self.parent.len();
        let mut label_of_root = vec![u32::MAX; n];
        let mut labels = Vec::with_capacity(n);
        let mut sizes: Vec<u32> = Vec::new();
        for i in 0..n as u32 {
            let root = self.find(i) as usize;
            if label_of_root[root] == u32::MAX {
                label_of_root[root] = sizes.len() as u32;
                sizes.push(0);
            }
            let l = label_of_root[root];
            sizes[l as usize] += 1;
            labels.push(l);
        }
        (labels, sizes)
    }
}
