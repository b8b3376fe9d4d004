//! Closing off clusters of unreached images that nothing else can link to, so the graph search
//! of [`super::components`] stops comparing them with every image it expands.
//!
//! Once the search has reached most images, the images still unreached are mostly those of
//! *other* groups, and every expansion still compares each of them: with 10 M tiled
//! Fashion-MNIST hashes, some tens of thousands of them were compared with ten million
//! expansions (3.5·10¹¹ comparisons). They come in clusters of near-identical copies, so a
//! *seal round* groups them around leaders (members within `LEADER_RADIUS` bits of their
//! leader in every searched code) and, for each cluster, asks once whether any image that can
//! still link to an unreached image — the reached-but-unexpanded images on the stack, and the
//! other unreached images — is within the rule's radius *plus the cluster's own radius* of the
//! leader. By the triangle inequality, if none is, no image outside the cluster links to any
//! member, now or later (images reached later come from the unreached ones, already checked;
//! expanded images link to no unreached image, or they would have reached it). The cluster is
//! then a union of whole groups: it is searched by itself (its pairs checked directly), its
//! members are marked reached, and the search goes on without them. One round costs a pass
//! over the stack and the list per cluster, so rounds are only run when the comparisons they
//! would save have been spent already (see `Sealer::due`).

use super::components::{RuleSpec, TierRadii, Unreached};
use super::join::{LANE, Lanes};

#[cfg(test)]
thread_local! {
    /// Images closed off by seal rounds on this thread (tests check rounds did close some).
    pub(super) static CLOSED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Members of a cluster are within this many bits of its leader in each searched code.
const LEADER_RADIUS: u32 = 4;

/// Clusters larger than this stay in the list: closing one off searches its pairs directly.
const MAX_CLOSED_CLUSTER: usize = 2048;

/// A round gives up when the unreached images form more clusters than this share of them
/// (they are not copies of a few pictures, so no cluster would be worth closing).
const MAX_CLUSTER_SHARE: usize = 4;

/// When to run a seal round: after the scans since the last one cost as much as a round
/// (comparisons), and more after rounds that closed little.
pub(super) struct Sealer {
    spent: u64,
    /// Multiplies the price of the next round after a round that closed less than half.
    patience: u64,
    /// Clusters of the last round (the price of a round is about that many passes).
    last_clusters: usize,
    /// Tests: rounds far more often than they pay.
    eager: bool,
    pub(super) rounds: u64,
    pub(super) closed: u64,
}

impl Sealer {
    pub(super) fn new(eager: bool) -> Self {
        Self {
            spent: 0,
            patience: 1,
            last_clusters: 0,
            eager,
            rounds: 0,
            closed: 0,
        }
    }

    /// Count the comparisons of a scan.
    pub(super) fn spend(&mut self, comparisons: usize) {
        self.spent += comparisons as u64;
    }

    /// Whether a round is worth its price now: the unreached list is short next to the stack
    /// (so the stack's expansions are what its images cost), and scans since the last round
    /// cost more than a round would.
    pub(super) fn due(&self, list: usize, stack: usize) -> bool {
        if list == 0 || stack == 0 {
            return false;
        }
        if self.eager {
            // Tests: whenever the scans since the last round cost one pass over everything.
            return self.spent >= (stack + list) as u64;
        }
        let clusters = if self.last_clusters > 0 {
            self.last_clusters
        } else {
            list / 16 + 1
        };
        list * 4 <= stack && self.spent >= self.patience * (clusters * (stack + list)) as u64
    }

    /// Run a round over `list` (compacted: every entry unreached) and `stack`; closed clusters
    /// are searched by themselves, their edges appended to `edges` and their members marked in
    /// `reached`. Returns how many images were closed off. Inlined into the search, so its
    /// SIMD kernels get the search's CPU features.
    #[inline(always)]
    pub(super) fn round<L: Lanes>(
        &mut self,
        rule: &RuleSpec<'_>,
        list: &Unreached,
        stack: &[u32],
        reached: &mut [bool],
        edges: &mut Vec<(u32, u32)>,
    ) -> usize {
        self.rounds += 1;
        // A round may cost what the scans since the last one did (comparisons), no more: the
        // clustering and the checks stop there (clusters left unchecked stay in the list).
        let budget = if self.eager { u64::MAX } else { self.spent };
        self.spent = 0;
        let clusters = clusters::<L>(list, budget);
        let Some(clusters) = clusters else {
            self.patience = self.patience.saturating_mul(2);
            self.last_clusters = list.len() / MAX_CLUSTER_SHARE;
            return 0;
        };
        self.last_clusters = clusters.len();
        let others = Codes::gather(rule, stack);
        let mut closed = 0;
        let mut work = 0u64;
        for cluster in &clusters {
            if cluster.members.len() > MAX_CLOSED_CLUSTER {
                continue; // searched by itself pair by pair, it could cost more than it saves
            }
            work += (stack.len() + list.len()) as u64;
            if work > budget {
                break;
            }
            if cluster.reaches::<L>(rule, &others, list) {
                continue;
            }
            closed += cluster.members.len();
            search_alone(rule, list, &cluster.members, reached, edges);
        }
        if closed * 2 < list.len() {
            self.patience = self.patience.saturating_mul(2);
        }
        self.closed += closed as u64;
        #[cfg(test)]
        CLOSED.with(|c| c.set(c.get() + closed as u64));
        closed
    }
}

/// Codes of some images, padded by a lane for the SIMD scan.
struct Codes {
    primary: Vec<u64>,
    confirm: Option<Vec<u64>>,
    len: usize,
}

impl Codes {
    fn gather(rule: &RuleSpec<'_>, rows: &[u32]) -> Self {
        let pad = |v: &[u64]| {
            let mut out: Vec<u64> = rows.iter().map(|&r| v[r as usize]).collect();
            out.resize(rows.len() + LANE, 0);
            out
        };
        Self {
            primary: pad(rule.primary),
            confirm: rule.confirms.first().map(|c| pad(c.codes)),
            len: rows.len(),
        }
    }
}

/// A leader and the list positions of its members (the leader first), within `radius` bits
/// of it in the primary code and `confirm_radius` in the first confirming code.
struct Cluster {
    leader: usize,
    members: Vec<usize>,
    radius: u32,
    confirm_radius: u32,
}

/// Leader clustering of the list: each unassigned entry in turn leads the unassigned entries
/// within `LEADER_RADIUS` of it. None when the entries form too many clusters, or clustering
/// them would compare more than `budget` pairs.
#[inline(always)]
fn clusters<L: Lanes>(list: &Unreached, budget: u64) -> Option<Vec<Cluster>> {
    let n = list.len();
    let mut work = 0u64;
    let mut assigned = vec![false; n + LANE];
    let mut out = Vec::new();
    for leader in 0..n {
        if assigned[leader] {
            continue;
        }
        work += (n - leader) as u64;
        if out.len() * MAX_CLUSTER_SHARE > n || work > budget {
            return None;
        }
        let (c, cc) = (list.codes[leader], list.confirm.as_ref().map(|v| v[leader]));
        let mut cluster = Cluster {
            leader,
            members: Vec::new(),
            radius: 0,
            confirm_radius: 0,
        };
        let mut pos = leader - leader % LANE;
        while pos < n {
            let lane: &[u64; LANE] = list.codes[pos..pos + LANE].try_into().unwrap();
            let mut m = L::mask16(c, lane, LEADER_RADIUS);
            if let (Some(cc), Some(codes)) = (cc, &list.confirm) {
                let clane: &[u64; LANE] = codes[pos..pos + LANE].try_into().unwrap();
                m &= L::mask16(cc, clane, LEADER_RADIUS);
            }
            if n - pos < LANE {
                m &= (1u32 << (n - pos)) - 1;
            }
            while m != 0 {
                let q = pos + m.trailing_zeros() as usize;
                m &= m - 1;
                if q < leader || assigned[q] {
                    continue;
                }
                assigned[q] = true;
                cluster.members.push(q);
                cluster.radius = cluster.radius.max((c ^ list.codes[q]).count_ones());
                if let (Some(cc), Some(codes)) = (cc, &list.confirm) {
                    cluster.confirm_radius =
                        cluster.confirm_radius.max((cc ^ codes[q]).count_ones());
                }
            }
            pos += LANE;
        }
        out.push(cluster);
    }
    Some(out)
}

impl Cluster {
    /// Whether any image outside the cluster — on the stack (`others`) or elsewhere in the
    /// list — might link to a member: within the alone radius plus the cluster's radius of the
    /// leader, or within the wide radius plus it with the confirming code within its radius
    /// plus the cluster's (the triangle inequality on each code; colour and guards only
    /// remove links, so they are not needed for a "no").
    #[inline(always)]
    fn reaches<L: Lanes>(&self, rule: &RuleSpec<'_>, others: &Codes, list: &Unreached) -> bool {
        let tiers = TierRadii::of(rule).grown(self.radius, self.confirm_radius);
        let c = list.codes[self.leader];
        let cc = list.confirm.as_ref().map(|v| v[self.leader]);
        let mut pos = 0;
        while pos < others.len {
            let mut m = tiers.mask::<L>(c, cc, &others.primary, others.confirm.as_deref(), pos);
            if others.len - pos < LANE {
                m &= (1u32 << (others.len - pos)) - 1;
            }
            if m != 0 {
                return true;
            }
            pos += LANE;
        }
        let mut members = self.members.iter().copied().peekable();
        let n = list.len();
        let mut pos = 0;
        while pos < n {
            let mut m = tiers.mask::<L>(c, cc, &list.codes, list.confirm.as_deref(), pos);
            if n - pos < LANE {
                m &= (1u32 << (n - pos)) - 1;
            }
            while m != 0 {
                let q = pos + m.trailing_zeros() as usize;
                m &= m - 1;
                // Members are in list order: skip those before `q`, then `q` is one or not.
                while members.next_if(|&p| p < q).is_some() {}
                if members.peek() != Some(&q) {
                    return true;
                }
            }
            pos += LANE;
        }
        false
    }
}

/// A graph search among `members` (list positions) alone, every pair checked by the rule:
/// appends a spanning forest of their links to `edges` and marks them reached.
fn search_alone(
    rule: &RuleSpec<'_>,
    list: &Unreached,
    members: &[usize],
    reached: &mut [bool],
    edges: &mut Vec<(u32, u32)>,
) {
    let ids: Vec<usize> = members.iter().map(|&p| list.ids[p] as usize).collect();
    let mut done = vec![false; ids.len()];
    let mut stack = Vec::new();
    for seed in 0..ids.len() {
        if done[seed] {
            continue;
        }
        done[seed] = true;
        stack.push(seed);
        while let Some(a) = stack.pop() {
            for b in 0..ids.len() {
                if !done[b] && rule.links(ids[a], ids[b]) {
                    done[b] = true;
                    edges.push((ids[a] as u32, ids[b] as u32));
                    stack.push(b);
                }
            }
        }
    }
    for &id in &ids {
        reached[id] = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neighbors::join::Portable;
    use crate::neighbors::plan::SplitMix;
    use crate::neighbors::tests::default_like_rule;

    fn flip(h: u64, bits: usize, rng: &mut SplitMix) -> u64 {
        let mut out = h;
        while (out ^ h).count_ones() < bits as u32 {
            out ^= 1 << rng.below(64);
        }
        out
    }

    #[test]
    fn a_round_closes_only_clusters_nothing_else_can_reach() {
        // A: isolated copies. B: copies 10 bits from an image on the stack. C: copies 10 bits
        // from an unreached image u of its own (a cluster of one). D: below.
        let mut rng = SplitMix(3);
        let (mut primary, mut confirm) = (Vec::new(), Vec::new());
        let mut copies = |p: u64, d: u64, k: usize, rng: &mut SplitMix| {
            for _ in 0..k {
                primary.push(flip(p, rng.below(2), rng));
                confirm.push(flip(d, rng.below(2), rng));
            }
        };
        let (a, b, c) = (rng.next_u64(), rng.next_u64(), rng.next_u64());
        let (da, db, dc) = (rng.next_u64(), rng.next_u64(), rng.next_u64());
        copies(a, da, 8, &mut rng); // rows 0-7
        copies(b, db, 8, &mut rng); // rows 8-15
        copies(c, dc, 8, &mut rng); // rows 16-23
        let u = (flip(c, 10, &mut rng), flip(dc, 10, &mut rng)); // row 24
        let s = (flip(b, 10, &mut rng), flip(db, 10, &mut rng)); // row 25, on the stack
        // D: a leader and a member 4 bits off it; an image on the stack 14 bits from the member
        // is 18 from the leader, so only the cluster's own radius shows it can reach D.
        let (d, dd) = (rng.next_u64(), rng.next_u64());
        let m = d ^ 0xF;
        let z = m ^ (0x3FFF << 20);
        for (p, d) in [u, s, (d, dd), (m, dd), (z, dd)] {
            primary.push(p); // rows 24 (u), 25 (s), 26-27 (D), 28 (z, on the stack)
            confirm.push(d);
        }
        let rule = default_like_rule(&primary, &confirm);
        let mut list = Unreached::new(&rule);
        let mut reached = vec![false; primary.len()];
        reached[25] = true;
        reached[28] = true;
        list.compact(&reached);
        let mut edges = Vec::new();
        let closed =
            Sealer::new(true).round::<Portable>(&rule, &list, &[25, 28], &mut reached, &mut edges);
        assert_eq!(closed, 8, "only A is closed off");
        assert_eq!(reached[..8], [true; 8]);
        assert!(reached[8..25].iter().chain(&reached[26..28]).all(|&r| !r));
        assert_eq!(edges.len(), 7, "A's copies form one group");
        assert!(edges.iter().all(|&(x, y)| x < 8 && y < 8));
    }
}
