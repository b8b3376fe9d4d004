//! The images one scan of the graph search expands, grouped around leaders so the scan compares
//! each unreached image with a cluster's leader once for all its members.
//!
//! The scan of [`super::components`] costs one comparison per unreached image per expanded
//! image, and every image is expanded once: with 10 M tiled Fashion-MNIST hashes that was
//! 3·10¹¹ comparisons (a million unreached images times the images reached early, ten thousand
//! times the ten million reached late). But the images waiting on the stack were mostly pushed
//! together, as the copies one expansion reached, so they come in clusters of near-identical
//! hashes. If every member of a cluster is within `r` bits of its leader, any image that links
//! to a member is within the rule's radii *plus `r`* of the leader (triangle inequality). So the
//! scan tests the leader with grown radii, and only the rare image that passes is checked
//! against the members themselves, with the whole rule. Exactness is unchanged: each member is
//! still expanded against every unreached image it could link to.

use super::components::RuleSpec;
use super::join::ChunkIndex;
use super::plan::{self, KeyFn, masks_up_to};

/// Members are within this many bits of their leader in the primary code and the first
/// confirming code. Wider clusters take more images per leader but let more unreached images
/// through the grown radii to the member checks.
pub(super) const CLUSTER_RADIUS: u32 = 4;

/// A batch cluster takes at most this many members (an image that passes the grown radii but
/// links to no member is checked against all of them); more members of one precluster start
/// another batch cluster.
const MAX_MEMBERS: usize = 256;

/// Images popped for a scan, at most this many times the clusters wanted (the stack order is
/// the search's, so images wait longer).
const MAX_IMAGES_PER_CLUSTER: usize = 64;

/// Every image's precluster: leaders taken in image order, each with every image not yet taken
/// within `CLUSTER_RADIUS` bits of it in the primary code (found through a multi-index) and in
/// the first confirming code.
pub(super) struct Preclusters {
    /// The precluster of each image.
    pub(super) of: Vec<u32>,
    /// Leader codes per precluster: primary, first confirming (0 without one).
    primary: Vec<u64>,
    confirm: Vec<u64>,
}

impl Preclusters {
    pub(super) fn new(rule: &RuleSpec<'_>) -> Self {
        let t0 = std::time::Instant::now();
        let codes = rule.primary;
        let n = codes.len();
        let confirm = rule.confirms.first().map(|c| c.codes);
        let layout = plan::choose(codes, codes, CLUSTER_RADIUS, true);
        let chunks: Vec<(KeyFn, ChunkIndex)> = layout
            .chunks
            .iter()
            .map(|&mask| {
                (
                    KeyFn::new(mask),
                    ChunkIndex::build(codes, None, mask, layout.width),
                )
            })
            .collect();
        let probes = masks_up_to(layout.width, 0, 0);
        // One bit per slot, cleared when its image is taken (or found taken), so the images of
        // a crowded bucket are not read again by every leader that probes it.
        let mut alive: Vec<Vec<u64>> = vec![vec![u64::MAX; n.div_ceil(64)]; chunks.len()];
        let mut of = vec![u32::MAX; n];
        let (mut primary, mut leader_confirm) = (Vec::new(), Vec::new());
        for x in 0..n {
            if of[x] != u32::MAX {
                continue;
            }
            let id = primary.len() as u32;
            let (p, c) = (codes[x], confirm.map_or(0, |v| v[x]));
            primary.push(p);
            leader_confirm.push(c);
            of[x] = id;
            for ((key, index), alive) in chunks.iter().zip(&mut alive) {
                let k = key.key(p);
                for &probe in &probes {
                    let (lo, len) = index.bucket(k ^ probe);
                    let mut slot = lo;
                    while slot < lo + len {
                        let (w, bit) = (slot / 64, slot % 64);
                        let live = alive[w] >> bit;
                        if live == 0 {
                            slot = (w + 1) * 64;
                            continue;
                        }
                        slot += live.trailing_zeros() as usize;
                        if slot >= lo + len {
                            break;
                        }
                        // The bucket's own copy of the codes first (read in order); the
                        // image's rows (read at random) only for one within the radius.
                        if (index.hashes[slot] ^ p).count_ones() <= CLUSTER_RADIUS {
                            let y = index.ids[slot] as usize;
                            if of[y] != u32::MAX {
                                alive[slot / 64] &= !(1 << (slot % 64));
                            } else if confirm
                                .is_none_or(|v| (v[y] ^ c).count_ones() <= CLUSTER_RADIUS)
                            {
                                of[y] = id;
                                alive[slot / 64] &= !(1 << (slot % 64));
                            }
                        }
                        slot += 1;
                    }
                }
            }
        }
        if std::env::var_os("IMGSTATS_DEBUG_PLAN").is_some() {
            eprintln!(
                "preclusters: {} for {n} images in {:.3} s, {layout:?}",
                primary.len(),
                t0.elapsed().as_secs_f64()
            );
        }
        Self {
            of,
            primary,
            confirm: leader_confirm,
        }
    }
}

/// One scan's images: clusters of stack images, each with its reference codes (its
/// precluster's leader, which need not be in the batch), its radii and its members (in pop
/// order).
#[derive(Default)]
pub(super) struct Batch {
    /// Reference codes: primary, first confirming (0 without one).
    pub(super) primary: Vec<u64>,
    pub(super) confirm: Vec<u64>,
    /// Largest member distance to the reference: primary, first confirming code.
    pub(super) radii: Vec<(u32, u32)>,
    /// Members of cluster `c`: `members[start[c]..start[c + 1]]`.
    pub(super) start: Vec<u32>,
    pub(super) members: Vec<u32>,
    /// The members' own codes, laid out as `members`: primary, first confirming (0 without
    /// one). The scan tests them before the rule, which reads every array at random rows.
    pub(super) member_primary: Vec<u64>,
    pub(super) member_confirm: Vec<u64>,
    /// `(cluster, image)` in pop order, before they are laid out by cluster.
    assigned: Vec<(u32, u32)>,
    sizes: Vec<u32>,
    /// The batch cluster of each precluster in this batch: `(batch stamp, cluster)`.
    slot: Vec<(u32, u32)>,
    stamp: u32,
}

impl Batch {
    /// Clusters in the batch.
    pub(super) fn clusters(&self) -> usize {
        self.radii.len()
    }

    /// Images in the batch.
    pub(super) fn images(&self) -> usize {
        self.assigned.len()
    }

    /// Members of cluster `c`.
    #[cfg(test)]
    fn members_of(&self, c: usize) -> &[u32] {
        &self.members[self.span(c)]
    }

    /// Pop images from `stack` until the batch holds `want` clusters (or the stack is empty,
    /// or `want * MAX_IMAGES_PER_CLUSTER` images were popped); images of one precluster share
    /// a batch cluster.
    pub(super) fn fill(
        &mut self,
        pre: &Preclusters,
        rule: &RuleSpec<'_>,
        stack: &mut Vec<u32>,
        want: usize,
    ) {
        self.primary.clear();
        self.confirm.clear();
        self.radii.clear();
        self.assigned.clear();
        self.sizes.clear();
        if self.slot.len() != pre.primary.len() {
            self.slot = vec![(0, 0); pre.primary.len()];
        }
        // A fresh stamp marks every slot stale (they are reset when the stamp wraps).
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.slot.fill((0, 0));
            self.stamp = 1;
        }
        let confirm = rule.confirms.first().map(|c| c.codes);
        let cap = want * MAX_IMAGES_PER_CLUSTER;
        while self.clusters() < want && self.images() < cap {
            let Some(x) = stack.pop() else { break };
            let pc = pre.of[x as usize] as usize;
            let (p, c) = (
                rule.primary[x as usize],
                confirm.map_or(0, |v| v[x as usize]),
            );
            let (rp, rc) = (pre.primary[pc], pre.confirm[pc]);
            let (dp, dc) = ((rp ^ p).count_ones(), (rc ^ c).count_ones());
            let (stamp, at) = self.slot[pc];
            let cluster = if stamp == self.stamp && (self.sizes[at as usize] as usize) < MAX_MEMBERS
            {
                at as usize
            } else {
                let at = self.clusters();
                self.slot[pc] = (self.stamp, at as u32);
                self.primary.push(rp);
                self.confirm.push(rc);
                self.radii.push((0, 0));
                self.sizes.push(0);
                at
            };
            let r = &mut self.radii[cluster];
            *r = (r.0.max(dp), r.1.max(dc));
            self.sizes[cluster] += 1;
            self.assigned.push((cluster as u32, x));
        }
        self.lay_out();
        self.member_primary.clear();
        self.member_primary
            .extend(self.members.iter().map(|&m| rule.primary[m as usize]));
        self.member_confirm.clear();
        self.member_confirm.extend(
            self.members
                .iter()
                .map(|&m| confirm.map_or(0, |v| v[m as usize])),
        );
    }

    /// Positions in `members` of cluster `c`.
    #[inline]
    pub(super) fn span(&self, c: usize) -> std::ops::Range<usize> {
        self.start[c] as usize..self.start[c + 1] as usize
    }

    /// Members laid out cluster by cluster (a counting sort: pop order within a cluster).
    fn lay_out(&mut self) {
        let g = self.clusters();
        self.start.clear();
        self.start.resize(g + 1, 0);
        for (c, &size) in self.sizes.iter().enumerate() {
            self.start[c + 1] = self.start[c] + size;
        }
        self.members.clear();
        self.members.resize(self.assigned.len(), 0);
        let mut next: Vec<u32> = self.start[..g].to_vec();
        for &(c, x) in &self.assigned {
            self.members[next[c as usize] as usize] = x;
            next[c as usize] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neighbors::plan::SplitMix;
    use crate::neighbors::tests::default_like_rule as rule;

    /// `pictures` random pictures, `copies` copies each with 0-3 bits flipped in each code,
    /// interleaved (image `i` is a copy of picture `i % pictures`).
    fn copies(pictures: usize, copies: usize, seed: u64) -> (Vec<u64>, Vec<u64>) {
        let mut rng = SplitMix(seed);
        let bases: Vec<(u64, u64)> = (0..pictures)
            .map(|_| (rng.next_u64(), rng.next_u64()))
            .collect();
        let flip = |mut v: u64, rng: &mut SplitMix| {
            for _ in 0..rng.below(4) {
                v ^= 1 << rng.below(64);
            }
            v
        };
        (0..pictures * copies)
            .map(|i| {
                let (p, c) = bases[i % pictures];
                (flip(p, &mut rng), flip(c, &mut rng))
            })
            .unzip()
    }

    #[test]
    fn preclusters_hold_every_image_within_the_radius_of_its_leader() {
        let (primary, confirm) = copies(50, 40, 7);
        let r = rule(&primary, &confirm);
        let pre = Preclusters::new(&r);
        // Each precluster is led by its first image, and holds only images near the leader.
        let mut leader = vec![usize::MAX; pre.primary.len()];
        for (y, &k) in pre.of.iter().enumerate() {
            let k = k as usize;
            if leader[k] == usize::MAX {
                leader[k] = y;
                assert_eq!((pre.primary[k], pre.confirm[k]), (primary[y], confirm[y]));
            }
            assert!((primary[y] ^ pre.primary[k]).count_ones() <= CLUSTER_RADIUS);
            assert!((confirm[y] ^ pre.confirm[k]).count_ones() <= CLUSTER_RADIUS);
        }
        assert!(
            leader.windows(2).all(|w| w[0] < w[1]),
            "leaders in image order"
        );
        // Brute-force leader clustering: leaders in image order, each taking every untaken
        // image near it. The index only finds images that share a chunk key with the leader,
        // so it may form more, but not many more.
        let mut taken = vec![false; primary.len()];
        let mut exact = 0;
        for x in 0..primary.len() {
            if taken[x] {
                continue;
            }
            exact += 1;
            for y in x..primary.len() {
                taken[y] |= (primary[x] ^ primary[y]).count_ones() <= CLUSTER_RADIUS
                    && (confirm[x] ^ confirm[y]).count_ones() <= CLUSTER_RADIUS;
            }
        }
        let found = pre.primary.len();
        assert!(
            found >= exact && found * 2 <= exact * 3,
            "{found} vs {exact}"
        );
    }

    #[test]
    fn a_batch_takes_whole_preclusters_and_their_radii() {
        let (primary, confirm) = copies(30, 20, 9);
        let r = rule(&primary, &confirm);
        let pre = Preclusters::new(&r);
        let mut stack: Vec<u32> = (0..600).collect();
        let mut batch = Batch::default();
        let mut seen = vec![0; 600];
        while !stack.is_empty() {
            let before = stack.len();
            batch.fill(&pre, &r, &mut stack, 8);
            assert!(batch.clusters() <= 8);
            assert_eq!(batch.images(), before - stack.len());
            for c in 0..batch.clusters() {
                let members = batch.members_of(c);
                let pc = pre.of[members[0] as usize];
                let mut widest = (0, 0);
                for &m in members {
                    seen[m as usize] += 1;
                    assert_eq!(pre.of[m as usize], pc, "one precluster per batch cluster");
                    let dp = (primary[m as usize] ^ batch.primary[c]).count_ones();
                    let dc = (confirm[m as usize] ^ batch.confirm[c]).count_ones();
                    widest = (widest.0.max(dp), widest.1.max(dc));
                }
                assert_eq!(
                    widest, batch.radii[c],
                    "radii are the members' largest distances"
                );
                assert!(members.windows(2).all(|w| w[0] > w[1]), "pop order");
            }
        }
        assert!(seen.iter().all(|&s| s == 1));
    }
}
