//! From pairs of distinct hashes (what the join finds) to pairs of items sorted by `(i, j)`, as
//! three columns, without a global sort.
//!
//! The join's sinks ([`SelfItems`], [`CrossItems`]) turn each pair of distinct hashes into the
//! pairs of their items as they find it, each packed into one integer whose order is `(i, j)`
//! order ([`pack`]). The join emits pairs in bucket order, so they must be reordered. A
//! comparison sort of all pairs took a quarter of a 20,000-hash self join with 223,082 pairs
//! (more than the join's own compares on two threads), so the packed pairs are bucketed by spans
//! of rows instead, and only each span is sorted (see [`columns`]).
//!
//! Packing at the sink, rather than expanding the sinks' hash pairs twice here (once to count
//! the pairs of each span, once to place them), reads each pair as 8 bytes instead of 12 plus
//! two lookups of its items: at 20,000 real pHashes the count and place passes went from
//! 0.28 + 0.85 ms to 0.15 + 0.57 ms (wall, 2 threads). The items come without a lookup too:
//! the join's index stores each distinct hash's item in place of its id ([`Items`]).

use super::Pair;
use super::deal::{self, Dealt, deal};
use super::join::Sink;
use super::unique::Unique;
use rayon::prelude::*;

/// Pairs as columns sorted by `(i, j)`: what the Python binding turns into NumPy arrays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairColumns {
    pub i: Vec<u32>,
    pub j: Vec<u32>,
    pub distance: Vec<u8>,
}

impl PairColumns {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.i.len()
    }

    /// No pairs.
    pub fn is_empty(&self) -> bool {
        self.i.is_empty()
    }

    /// Columns of `(i, j, distance)` tuples.
    pub fn from_pairs(pairs: Vec<Pair>) -> Self {
        let mut c = Self {
            i: Vec::with_capacity(pairs.len()),
            j: Vec::with_capacity(pairs.len()),
            distance: Vec::with_capacity(pairs.len()),
        };
        for (i, j, d) in pairs {
            c.i.push(i);
            c.j.push(j);
            c.distance.push(d);
        }
        c
    }

    /// The same pairs as `(i, j, distance)` tuples.
    pub fn into_pairs(self) -> Vec<Pair> {
        self.i
            .into_par_iter()
            .zip(self.j)
            .zip(self.distance)
            .map(|((i, j), d)| (i, j, d))
            .collect()
    }
}

/// Bits of the distance (0..=64) at the bottom of a packed pair.
const D_BITS: u32 = 7;
/// The row is stored from this bit up; the column lies between it and the distance.
const ROW_SHIFT: u32 = 35;
/// Packed pairs hold columns below this (2^28); rows below 2^29. Larger inputs take the
/// tuple path ([`sorted_columns`]).
const MAX_PACKED_ITEMS: usize = 1 << (ROW_SHIFT - D_BITS);

/// Pairs among `items` items fit the packed form (and their labels the `SHARED` bit).
pub(crate) fn packable(items: usize) -> bool {
    items < MAX_PACKED_ITEMS
}

/// `(row, col, d)` as one integer ordered like the tuple: `row << 35 | col << 7 | d`.
#[inline(always)]
fn pack(row: u32, col: u32, d: u8) -> u64 {
    (row as u64) << ROW_SHIFT | (col as u64) << D_BITS | d as u64
}

/// Where the sinks put item pairs: packed integers ([`columns`]) or tuples ([`sorted_columns`]).
pub(crate) trait ItemOut: Default + Send {
    fn item(&mut self, row: u32, col: u32, d: u8);
}

impl ItemOut for Vec<u64> {
    #[inline(always)]
    fn item(&mut self, row: u32, col: u32, d: u8) {
        self.push(pack(row, col, d));
    }
}

impl ItemOut for Vec<Pair> {
    #[inline(always)]
    fn item(&mut self, row: u32, col: u32, d: u8) {
        self.push((row, col, d));
    }
}

/// The items of each distinct hash, and what the join's index stores for each distinct hash
/// (`labels`): its item when it has one only, else `SHARED | id`. A sink then turns a pair of
/// single-item hashes (most pairs) into the item pair without a lookup; looking the items up in
/// the sink instead (a load that depends on the index's load of the id) cost 0.2 ms of a
/// 20,000-hash self join.
pub(crate) struct Items<'a> {
    u: &'a Unique,
    /// None on the tuple path: the sinks then get the distinct hashes' ids.
    labels: Option<Vec<u32>>,
}

/// Marks a label as a distinct hash's id (held by several items), not an item.
const SHARED: u32 = 1 << 31;

impl<'a> Items<'a> {
    /// With `labelled` (the packed path: [`packable`] inputs), the index stores labels.
    pub(crate) fn new(u: &'a Unique, labelled: bool) -> Self {
        assert!(
            !labelled || packable(u.members.len()),
            "labels need items below the SHARED bit"
        );
        let labels = labelled.then(|| {
            u.starts
                .par_windows(2)
                .enumerate()
                .map(|(g, w)| {
                    if w[1] - w[0] == 1 {
                        u.members[w[0] as usize]
                    } else {
                        SHARED | g as u32
                    }
                })
                .collect()
        });
        Self { u, labels }
    }

    /// What the join's index should store per distinct hash (None: its id).
    pub(crate) fn labels(&self) -> Option<&[u32]> {
        self.labels.as_deref()
    }

    /// Number of items.
    pub(crate) fn len(&self) -> usize {
        self.u.members.len()
    }

    /// `f` for each item behind `label` (an index label, or a distinct hash's id without labels).
    #[inline(always)]
    fn each_item(&self, label: u32, mut f: impl FnMut(u32)) {
        match self.labels {
            Some(_) if label & SHARED == 0 => f(label),
            Some(_) => self
                .u
                .members_of(label & !SHARED)
                .iter()
                .for_each(|&x| f(x)),
            None => self.u.members_of(label).iter().for_each(|&x| f(x)),
        }
    }

    /// `label` is a single item (no lookup needed).
    #[inline(always)]
    fn is_item(&self, label: u32) -> bool {
        self.labels.is_some() && label & SHARED == 0
    }

    /// Every pair of items inside the runs of equal hashes (distance 0), `i < j`, in parallel
    /// pieces.
    pub(crate) fn run_pairs<O: ItemOut>(&self) -> Vec<O> {
        let groups = self.u.starts.len() - 1;
        (0..groups as u32)
            .into_par_iter()
            .with_min_len(1 << 14)
            .fold(O::default, |mut out, g| {
                let m = self.u.members_of(g);
                for (t, &x) in m.iter().enumerate() {
                    for &y in &m[t + 1..] {
                        out.item(x, y, 0);
                    }
                }
                out
            })
            .collect()
    }
}

/// Join sink of a self join: pairs of distinct hashes in, every pair of their items out, `i < j`.
pub(crate) struct SelfItems<'a, O> {
    items: &'a Items<'a>,
    pub(crate) out: O,
}

impl<'a, O: ItemOut> SelfItems<'a, O> {
    pub(crate) fn new(items: &'a Items<'a>) -> Self {
        Self {
            items,
            out: O::default(),
        }
    }
}

impl<O: ItemOut> Sink for SelfItems<'_, O> {
    #[inline(always)]
    fn push(&mut self, a: u32, b: u32, d: u32) {
        let (it, out) = (self.items, &mut self.out);
        if it.is_item(a) && it.is_item(b) {
            out.item(a.min(b), a.max(b), d as u8);
            return;
        }
        it.each_item(a, |x| {
            it.each_item(b, |y| out.item(x.min(y), x.max(y), d as u8));
        });
    }
}

/// Join sink of a cross join: `(query hash, base hash)` in, `(query item, base item)` out.
pub(crate) struct CrossItems<'a, O> {
    base: &'a Items<'a>,
    query: &'a Items<'a>,
    pub(crate) out: O,
}

impl<'a, O: ItemOut> CrossItems<'a, O> {
    pub(crate) fn new(base: &'a Items<'a>, query: &'a Items<'a>) -> Self {
        Self {
            base,
            query,
            out: O::default(),
        }
    }
}

impl<O: ItemOut> Sink for CrossItems<'_, O> {
    #[inline(always)]
    fn push(&mut self, q: u32, b: u32, d: u32) {
        let (base, query, out) = (self.base, self.query, &mut self.out);
        if query.is_item(q) && base.is_item(b) {
            out.item(q, b, d as u8);
            return;
        }
        query.each_item(q, |x| base.each_item(b, |y| out.item(x, y, d as u8)));
    }
}

/// Item pairs as tuples, for inputs too large to pack: one parallel sort of all of them.
pub(crate) fn sorted_columns(parts: Vec<Vec<Pair>>) -> PairColumns {
    let mut pairs = parts.concat();
    pairs.par_sort_unstable();
    PairColumns::from_pairs(pairs)
}

/// The sinks of part `part` of `parts` (contiguous groups of sinks).
fn sinks_of(sinks: &[Vec<u64>], part: usize, parts: usize) -> &[Vec<u64>] {
    &sinks[part * sinks.len() / parts..(part + 1) * sinks.len() / parts]
}

/// At most this many spans: their write cursors and open cache lines stay in L1/L2.
const MAX_SPANS_LOG2: u32 = 11;
/// Pairs per parallel block in the final pass.
const BLOCK_PAIRS: usize = 1 << 14;

/// The packed item pairs of `sinks` (rows below `rows`) as columns sorted by `(i, j)`.
///
/// Rows are cut into at most 2,048 spans of `2^shift` consecutive rows. One pass counts the
/// pairs of each span, a second appends every pair to its span's run (a few thousand sequential
/// write streams rather than one cache miss per pair, which a counting sort straight on rows
/// costs once the output outgrows the cache), then each span — a few hundred to a few thousand
/// pairs — is sorted as integers on its own, in cache, in parallel, and unpacked into columns.
/// The sinks are taken in a few parts per thread, so uneven sinks still share the work.
pub(crate) fn columns(rows: usize, sinks: &[Vec<u64>]) -> PairColumns {
    let bits = usize::BITS - rows.max(1).leading_zeros();
    let shift = bits.saturating_sub(MAX_SPANS_LOG2);
    let span_of = |key: u64| (key >> (ROW_SHIFT + shift)) as usize;
    let n_spans = (rows >> shift) + 1;
    let parts = sinks.len().clamp(1, 4 * rayon::current_num_threads());
    let Dealt {
        items: mut packed,
        starts: offsets,
    } = deal(
        parts,
        n_spans,
        |p, counts| {
            for sink in sinks_of(sinks, p, parts) {
                for &key in sink {
                    counts[span_of(key)] += 1;
                }
            }
        },
        |p, dealer| {
            for sink in sinks_of(sinks, p, parts) {
                for &key in sink {
                    dealer.put(span_of(key), key);
                }
            }
        },
    );
    let total = packed.len();
    let mut out = PairColumns {
        i: Vec::with_capacity(total),
        j: Vec::with_capacity(total),
        distance: Vec::with_capacity(total),
    };
    // Blocks of whole spans with about BLOCK_PAIRS pairs each, each with its slices.
    let mut blocks = Vec::new();
    let (mut packed_rest, mut i_rest, mut j_rest, mut d_rest) = (
        &mut packed[..],
        &mut out.i.spare_capacity_mut()[..total],
        &mut out.j.spare_capacity_mut()[..total],
        &mut out.distance.spare_capacity_mut()[..total],
    );
    for (s0, s1) in deal::blocks(&offsets, BLOCK_PAIRS) {
        let len = offsets[s1] - offsets[s0];
        let (p, pr) = packed_rest.split_at_mut(len);
        let (i, ir) = i_rest.split_at_mut(len);
        let (j, jr) = j_rest.split_at_mut(len);
        let (d, dr) = d_rest.split_at_mut(len);
        blocks.push((s0, s1, p, i, j, d));
        (packed_rest, i_rest, j_rest, d_rest) = (pr, ir, jr, dr);
    }
    blocks.into_par_iter().for_each(|(s0, s1, p, i, j, d)| {
        let base = offsets[s0];
        for s in s0..s1 {
            let (lo, hi) = (offsets[s] - base, offsets[s + 1] - base);
            // The keys of a span share their row's high bits: key order is (row, col) order.
            p[lo..hi].sort_unstable();
            for t in lo..hi {
                let x = p[t];
                i[t].write((x >> ROW_SHIFT) as u32);
                j[t].write((x >> D_BITS) as u32 & (MAX_PACKED_ITEMS as u32 - 1));
                d[t].write((x & ((1 << D_BITS) - 1)) as u8);
            }
        }
    });
    // SAFETY: the blocks tile 0..total, and every position of each block was written above.
    unsafe {
        out.i.set_len(total);
        out.j.set_len(total);
        out.distance.set_len(total);
    }
    out
}
