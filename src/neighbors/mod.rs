//! Exact all-pairs-within-k Hamming search over 64-bit hashes (perceptual hashes), groups of near
//! copies via union-find, and nearest matches of one set in another (leakage across splits).
//!
//! Every function returns exactly what brute force returns (tested against [`brute_self_pairs`]
//! and friends), in sub-quadratic time on realistic data: exact-equal hashes are collapsed first,
//! then a multi-index-hashing bucket join whose layout is chosen from the data (see `plan.rs`)
//! finds the remaining pairs, with brute force inside over-full buckets. Work runs on the current
//! rayon pool; [`with_threads`] runs a call on the shared pool of a given size (`crate::pool`).

mod batch;
mod components;
mod deal;
mod expand;
mod join;
mod plan;
mod segments;
#[cfg(test)]
mod tests;
mod union_find;
mod unique;

pub use crate::pool::with_threads;
pub use components::{
    ColorCheck, Confirm, RuleSpec, Search, brute_rule_groups, rule_forest, rule_forest_forced,
    rule_groups,
};
pub use expand::PairColumns;
pub use plan::Plan;
pub use segments::{brute_owner_pairs, match_counts, owner_pairs};

use rayon::prelude::*;
use std::sync::atomic::AtomicU64;
use union_find::AtomicUnionFind;
use unique::Unique;

/// `(i, j, distance)`; for [`self_pairs`] `i < j`, for [`cross_pairs`] `(query, base, distance)`.
pub type Pair = (u32, u32, u8);

/// Group membership from union-find: `labels[i]` is the group of item `i`, numbered 0.. in order
/// of first appearance; `sizes[g]` is the number of items in group `g`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Groups {
    pub labels: Vec<u32>,
    pub sizes: Vec<u32>,
}

/// The layout a self join of `hashes` at threshold `k` would use (for benchmarks and debugging).
pub fn self_plan(hashes: &[u64], k: u32) -> Plan {
    plan::choose_distinct(hashes, k.min(64))
}

/// The distinct hashes of `hashes` and the layout of their self join, found side by side: the
/// layout is chosen from the input as given (`plan::choose_distinct`), so neither waits for the
/// other. Both are short and partly serial; at 20,000 hashes they were an eighth of a pair
/// search one after the other.
fn unique_and_plan(hashes: &[u64], k: u32) -> (Unique, Plan) {
    rayon::join(
        || Unique::sorted(hashes),
        || plan::choose_distinct(hashes, k),
    )
}

/// A layout with `m` chunks of `width` bits at threshold `k`, bypassing the cost model (for
/// benchmarks that calibrate it). `width == 0` is brute force.
#[doc(hidden)]
pub fn forced_plan(hashes: &[u64], k: u32, m: u32, width: u32) -> Plan {
    let u = Unique::sorted(hashes);
    plan::forced(&u.hashes, k.min(64), m, width)
}

/// [`groups`] under a given layout (benchmarks).
#[doc(hidden)]
pub fn groups_with_plan(hashes: &[u64], k: u32, plan: &Plan) -> Groups {
    let u = Unique::sorted(hashes);
    groups_planned(&u, hashes.len(), k.min(64), plan)
}

/// [`self_pair_columns`] under a given layout (benchmarks).
#[doc(hidden)]
pub fn self_pair_columns_with_plan(hashes: &[u64], k: u32, plan: &Plan) -> PairColumns {
    let u = Unique::sorted(hashes);
    let packed = expand::packable(hashes.len());
    self_columns_planned(&u, k.min(64), plan, packed, &mut PhaseClock::new())
}

/// All `i < j` with `popcount(hashes[i] ^ hashes[j]) <= k`, sorted by `(i, j)`.
///
/// The output is inherently quadratic in the size of a group of near copies (1,000 copies of one
/// photo are 499,500 pairs): use [`groups`] when only membership matters.
pub fn self_pairs(hashes: &[u64], k: u32) -> Vec<Pair> {
    self_pair_columns(hashes, k).into_pairs()
}

/// [`self_pairs`] as columns (what the Python binding returns, without a transposition).
pub fn self_pair_columns(hashes: &[u64], k: u32) -> PairColumns {
    let k = k.min(64);
    let mut clock = PhaseClock::new();
    let (u, plan) = unique_and_plan(hashes, k);
    clock.mark("unique+plan");
    let packed = expand::packable(hashes.len());
    let out = self_columns_planned(&u, k, &plan, packed, &mut clock);
    clock.report(out.len());
    out
}

/// Every item pair of the self join of `u` under `plan`, as columns sorted by `(i, j)`: packed
/// into integers by the join's sinks (`packed`, inputs `expand::packable` allows), or as
/// tuples sorted at the end.
fn self_columns_planned(
    u: &Unique,
    k: u32,
    plan: &Plan,
    packed: bool,
    clock: &mut PhaseClock,
) -> PairColumns {
    let items = expand::Items::new(u, packed);
    if packed {
        let parts: Vec<Vec<u64>> = self_item_pairs(u, &items, k, plan);
        clock.mark("join");
        let out = expand::columns(items.len(), &parts);
        clock.mark("output");
        out
    } else {
        expand::sorted_columns(self_item_pairs(u, &items, k, plan))
    }
}

/// The item pairs of the self join in pieces: those inside runs of equal hashes, then the join's
/// sinks.
fn self_item_pairs<O: expand::ItemOut>(
    u: &Unique,
    items: &expand::Items<'_>,
    k: u32,
    plan: &Plan,
) -> Vec<O> {
    let mut parts = items.run_pairs::<O>();
    if u.hashes.len() > 1 && k > 0 {
        let make = || expand::SelfItems::<O>::new(items);
        let sinks = join::self_join(&u.hashes, items.labels(), k, plan, make);
        parts.extend(sinks.into_iter().map(|s| s.out));
    }
    parts
}

/// Wall time per phase of a pair search, printed to stderr when `IMGSTATS_DEBUG_PLAN` is set
/// (how the README's per-phase table was measured).
struct PhaseClock {
    last: Option<std::time::Instant>,
    marks: Vec<(&'static str, f64)>,
}

impl PhaseClock {
    fn new() -> Self {
        let on = std::env::var_os("IMGSTATS_DEBUG_PLAN").is_some();
        Self {
            last: on.then(std::time::Instant::now),
            marks: Vec::new(),
        }
    }

    fn mark(&mut self, phase: &'static str) {
        if let Some(last) = self.last {
            let now = std::time::Instant::now();
            self.marks.push((phase, (now - last).as_secs_f64() * 1e3));
            self.last = Some(now);
        }
    }

    fn report(&self, pairs: usize) {
        if self.last.is_some() {
            let parts: Vec<String> = self
                .marks
                .iter()
                .map(|(p, ms)| format!("{p} {ms:.3} ms"))
                .collect();
            eprintln!("self_pairs phases ({pairs} pairs): {}", parts.join(", "));
        }
    }
}

#[cfg(test)]
fn self_pairs_planned(u: &Unique, k: u32, plan: &Plan, packed: bool) -> Vec<Pair> {
    self_columns_planned(u, k, plan, packed, &mut PhaseClock::new()).into_pairs()
}

/// All `(q, b, d)` with `popcount(query[q] ^ base[b]) = d <= k`, sorted by `(q, b)`.
pub fn cross_pairs(base: &[u64], query: &[u64], k: u32) -> Vec<Pair> {
    cross_pair_columns(base, query, k).into_pairs()
}

/// [`cross_pairs`] as columns `(q, b, distance)`.
pub fn cross_pair_columns(base: &[u64], query: &[u64], k: u32) -> PairColumns {
    let k = k.min(64);
    if base.is_empty() || query.is_empty() {
        return PairColumns::default();
    }
    let (ub, uq) = rayon::join(|| Unique::sorted(base), || Unique::sorted(query));
    let plan = plan::choose(&ub.hashes, &uq.hashes, k, false);
    let packed = expand::packable(base.len().max(query.len()));
    cross_columns_planned(&ub, &uq, k, &plan, packed)
}

/// Every `(query item, base item)` pair of the join of `uq` against `ub`, as columns sorted by
/// `(q, b)`: packed by the sinks, or as tuples (as in `self_columns_planned`).
fn cross_columns_planned(
    ub: &Unique,
    uq: &Unique,
    k: u32,
    plan: &Plan,
    packed: bool,
) -> PairColumns {
    let (ib, iq) = (
        expand::Items::new(ub, packed),
        expand::Items::new(uq, packed),
    );
    if packed {
        let parts: Vec<Vec<u64>> = cross_item_pairs(ub, uq, (&ib, &iq), k, plan);
        expand::columns(iq.len(), &parts)
    } else {
        expand::sorted_columns(cross_item_pairs(ub, uq, (&ib, &iq), k, plan))
    }
}

/// The item pairs of the cross join, one piece per join sink.
fn cross_item_pairs<O: expand::ItemOut>(
    ub: &Unique,
    uq: &Unique,
    (ib, iq): (&expand::Items<'_>, &expand::Items<'_>),
    k: u32,
    plan: &Plan,
) -> Vec<O> {
    let make = || expand::CrossItems::<O>::new(ib, iq);
    let labels = (ib.labels(), iq.labels());
    let sinks = join::cross_join(&ub.hashes, &uq.hashes, labels, k, plan, make);
    sinks.into_iter().map(|s| s.out).collect()
}

#[cfg(test)]
fn cross_pairs_planned(ub: &Unique, uq: &Unique, k: u32, plan: &Plan, packed: bool) -> Vec<Pair> {
    cross_columns_planned(ub, uq, k, plan, packed).into_pairs()
}

/// For each query with some base hash within `k`: `(q, b, d)` with the smallest `d` (ties: the
/// smallest `b`). Queries without a match are absent. Sorted by `q`.
pub fn nearest(base: &[u64], query: &[u64], k: u32) -> Vec<Pair> {
    let k = k.min(64);
    if base.is_empty() || query.is_empty() {
        return Vec::new();
    }
    let (ub, uq) = rayon::join(|| Unique::new(base), || Unique::new(query));
    let plan = plan::choose(&ub.hashes, &uq.hashes, k, false);
    nearest_planned(&ub, &uq, k, &plan)
}

fn nearest_planned(ub: &Unique, uq: &Unique, k: u32, plan: &Plan) -> Vec<Pair> {
    let best: Vec<AtomicU64> = (0..uq.hashes.len())
        .map(|_| AtomicU64::new(u64::MAX))
        .collect();
    join::cross_join(&ub.hashes, &uq.hashes, (None, None), k, plan, || {
        join::NearestSink(&best)
    });
    // Unique ids are in order of first appearance, so the smallest id is the smallest index.
    let mut out: Vec<Pair> = Vec::new();
    for (q, best) in best.iter().enumerate() {
        let v = best.load(std::sync::atomic::Ordering::Relaxed);
        if v != u64::MAX {
            let target = ub.members_of(v as u32)[0];
            out.extend(
                uq.members_of(q as u32)
                    .iter()
                    .map(|&x| (x, target, (v >> 32) as u8)),
            );
        }
    }
    out.par_sort_unstable();
    out
}

/// Groups of hashes connected by chains of pairs within `k` (single linkage), without
/// materialising the pairs: the join feeds a concurrent union-find directly.
pub fn groups(hashes: &[u64], k: u32) -> Groups {
    let k = k.min(64);
    let (u, plan) = unique_and_plan(hashes, k);
    groups_planned(&u, hashes.len(), k, &plan)
}

fn groups_planned(u: &Unique, n: usize, k: u32, plan: &Plan) -> Groups {
    let uf = AtomicUnionFind::new(u.hashes.len());
    if u.hashes.len() > 1 && k > 0 {
        join::self_join(&u.hashes, None, k, plan, || join::UnionSink(&uf));
    }
    let (unique_labels, _) = uf.labels();
    let labels: Vec<u32> = u
        .inverse(n)
        .into_iter()
        .map(|x| unique_labels[x as usize])
        .collect();
    relabel(labels)
}

/// Renumber labels 0.. by first appearance and count sizes.
fn relabel(labels: Vec<u32>) -> Groups {
    let max = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut new_of = vec![u32::MAX; max];
    let mut sizes: Vec<u32> = Vec::new();
    let labels = labels
        .into_iter()
        .map(|l| {
            let slot = &mut new_of[l as usize];
            if *slot == u32::MAX {
                *slot = sizes.len() as u32;
                sizes.push(0);
            }
            sizes[*slot as usize] += 1;
            *slot
        })
        .collect();
    Groups { labels, sizes }
}

/// Connected components of the graph on `0..n` with edges `(a[e], b[e])`: merges several notions
/// of "same picture" (equal bytes, equal pixels, near hashes, flipped copies) into one grouping.
pub fn components(n: usize, a: &[u32], b: &[u32]) -> Result<Groups, String> {
    if a.len() != b.len() {
        return Err(format!(
            "edge arrays differ in length ({} vs {})",
            a.len(),
            b.len()
        ));
    }
    if let Some(&bad) = a.iter().chain(b).find(|&&x| x as usize >= n) {
        return Err(format!("edge endpoint {bad} is out of range for {n} items"));
    }
    let uf = AtomicUnionFind::new(n);
    for (&x, &y) in a.iter().zip(b) {
        uf.union(x, y);
    }
    let (labels, sizes) = uf.labels();
    Ok(Groups { labels, sizes })
}

/// Reference: every `i < j` within `k`, by brute force (`count_ones`). Quadratic.
pub fn brute_self_pairs(hashes: &[u64], k: u32) -> Vec<Pair> {
    let mut out = Vec::new();
    for (i, &x) in hashes.iter().enumerate() {
        for (j, &y) in hashes.iter().enumerate().skip(i + 1) {
            let d = (x ^ y).count_ones();
            if d <= k {
                out.push((i as u32, j as u32, d as u8));
            }
        }
    }
    out
}

/// Reference: every `(q, b, d)` within `k`, by brute force. Quadratic.
pub fn brute_cross_pairs(base: &[u64], query: &[u64], k: u32) -> Vec<Pair> {
    let mut out = Vec::new();
    for (q, &x) in query.iter().enumerate() {
        for (b, &y) in base.iter().enumerate() {
            let d = (x ^ y).count_ones();
            if d <= k {
                out.push((q as u32, b as u32, d as u8));
            }
        }
    }
    out
}

/// Reference: nearest base within `k` of each query (ties: smallest base index), brute force.
pub fn brute_nearest(base: &[u64], query: &[u64], k: u32) -> Vec<Pair> {
    let mut out = Vec::new();
    for (q, &x) in query.iter().enumerate() {
        let best = base
            .iter()
            .enumerate()
            .map(|(b, &y)| ((x ^ y).count_ones(), b))
            .filter(|&(d, _)| d <= k)
            .min();
        if let Some((d, b)) = best {
            out.push((q as u32, b as u32, d as u8));
        }
    }
    out
}

/// Reference grouping: union-find over the brute-force pairs.
pub fn brute_groups(hashes: &[u64], k: u32) -> Groups {
    let pairs = brute_self_pairs(hashes, k);
    let a: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    let b: Vec<u32> = pairs.iter().map(|p| p.1).collect();
    components(hashes.len(), &a, &b).expect("brute-force pairs are in range")
}
