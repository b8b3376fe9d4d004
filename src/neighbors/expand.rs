//! From pairs of distinct hashes (what the join finds) to pairs of items sorted by `(i, j)`, as
//! three columns, without a global sort.
//!
//! The join emits pairs in bucket order, so they must be reordered. A comparison sort of all
//! pairs took a quarter of a 20,000-hash self join with 223,082 pairs (more than the join's own
//! compares on two threads), so the pairs are bucketed by spans of rows instead (the row of every
//! pair is known and rows are items), and only each span is sorted (see [`columns`]).

use super::Pair;
use super::unique::Unique;
use rayon::prelude::*;
use std::mem::MaybeUninit;

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

/// Receives item pairs `(row, column, distance)`, once when counting rows and once when placing.
pub(crate) trait Emit {
    fn emit(&mut self, row: u32, col: u32, d: u8);
}

/// Something that can list its item pairs twice in the same order, in `parts()` disjoint parts
/// (so counting and placing run in parallel).
pub(crate) trait PairSource: Sync {
    /// Number of rows (items on the `i` side).
    fn rows(&self) -> usize;
    fn parts(&self) -> usize;
    fn each<E: Emit>(&self, part: usize, e: &mut E);
}

/// The sinks of part `part` of `parts` (contiguous groups of sinks).
fn sinks_of(sinks: &[Vec<Pair>], part: usize, parts: usize) -> &[Vec<Pair>] {
    &sinks[part * sinks.len() / parts..(part + 1) * sinks.len() / parts]
}

/// Parts of the join's sinks: a few per thread, so uneven sinks still share the work.
fn sink_parts(sinks: &[Vec<Pair>]) -> usize {
    sinks.len().clamp(1, 4 * rayon::current_num_threads())
}

/// Item pairs of a self join: every pair of members of two near distinct hashes, plus every pair
/// inside the members of one hash (distance 0); `i < j`.
pub(crate) struct SelfPairs<'a> {
    u: &'a Unique,
    sinks: &'a [Vec<Pair>],
    /// The item of each distinct hash held by one item only, else `MANY`: one load per end of
    /// a pair instead of three (`starts[u]`, `starts[u + 1]`, `members[..]`) in the common case.
    single: Vec<u32>,
}

/// Marks a distinct hash with several items (never an item index: `Unique` caps n below it).
const MANY: u32 = u32::MAX;

impl<'a> SelfPairs<'a> {
    pub(crate) fn new(u: &'a Unique, sinks: &'a [Vec<Pair>]) -> Self {
        let single = u
            .starts
            .par_windows(2)
            .map(|w| {
                if w[1] - w[0] == 1 {
                    u.members[w[0] as usize]
                } else {
                    MANY
                }
            })
            .collect();
        Self { u, sinks, single }
    }
}

impl PairSource for SelfPairs<'_> {
    fn rows(&self) -> usize {
        self.u.members.len()
    }

    /// The sink parts, then one part for the pairs inside runs of equal hashes.
    fn parts(&self) -> usize {
        sink_parts(self.sinks) + 1
    }

    #[inline(always)]
    fn each<E: Emit>(&self, part: usize, e: &mut E) {
        let u = self.u;
        let parts = sink_parts(self.sinks);
        if part == parts {
            for g in 0..u.hashes.len() as u32 {
                let m = u.members_of(g);
                for (t, &x) in m.iter().enumerate() {
                    for &y in &m[t + 1..] {
                        e.emit(x, y, 0);
                    }
                }
            }
            return;
        }
        for sink in sinks_of(self.sinks, part, parts) {
            for &(a, b, d) in sink {
                let (x, y) = (self.single[a as usize], self.single[b as usize]);
                if x != MANY && y != MANY {
                    e.emit(x.min(y), x.max(y), d);
                    continue;
                }
                for &x in u.members_of(a) {
                    for &y in u.members_of(b) {
                        e.emit(x.min(y), x.max(y), d);
                    }
                }
            }
        }
    }
}

/// Item pairs of a cross join: `(query item, base item)` for every member of each side.
pub(crate) struct CrossPairs<'a> {
    pub base: &'a Unique,
    pub query: &'a Unique,
    pub sinks: &'a [Vec<Pair>],
}

impl PairSource for CrossPairs<'_> {
    fn rows(&self) -> usize {
        self.query.members.len()
    }

    fn parts(&self) -> usize {
        sink_parts(self.sinks)
    }

    #[inline(always)]
    fn each<E: Emit>(&self, part: usize, e: &mut E) {
        for sink in sinks_of(self.sinks, part, self.parts()) {
            for &(q, b, d) in sink {
                let mb = self.base.members_of(b);
                for &x in self.query.members_of(q) {
                    for &y in mb {
                        e.emit(x, y, d);
                    }
                }
            }
        }
    }
}

/// Counts pairs per span of rows.
struct Count<'a> {
    spans: &'a mut [usize],
    shift: u32,
}

impl Emit for Count<'_> {
    #[inline(always)]
    fn emit(&mut self, row: u32, _col: u32, _d: u8) {
        self.spans[(row >> self.shift) as usize] += 1;
    }
}

/// Appends each pair to its part's run within its span, packed so that integer order is
/// `(row, col)` order within the span: `(row % span) << 40 | col << 8 | d`. Parts place in
/// parallel into one buffer; each writes only inside its own runs (checked per write).
struct Place<'a> {
    cursor: &'a mut [usize],
    end: &'a [usize],
    packed: SharedOut,
    shift: u32,
}

/// The output buffer shared by the placing threads.
#[derive(Clone, Copy)]
struct SharedOut(*mut MaybeUninit<u64>);
// SAFETY: threads write disjoint positions (each `Place` stays inside its own runs).
unsafe impl Send for SharedOut {}
// SAFETY: as above.
unsafe impl Sync for SharedOut {}

impl Emit for Place<'_> {
    #[inline(always)]
    fn emit(&mut self, row: u32, col: u32, d: u8) {
        let s = (row >> self.shift) as usize;
        let c = self.cursor[s];
        assert!(
            c < self.end[s],
            "pair source listed more pairs than it counted"
        );
        let low = (row & ((1 << self.shift) - 1)) as u64;
        // SAFETY: c lies in this part's run of span s, which no other part writes, inside the
        // buffer's capacity (the runs tile 0..total).
        unsafe { (*self.packed.0.add(c)).write(low << 40 | (col as u64) << 8 | d as u64) };
        self.cursor[s] = c + 1;
    }
}

/// At most this many spans: their write cursors and open cache lines stay in L1/L2.
const MAX_SPANS_LOG2: u32 = 11;
/// Pairs per parallel block in the final pass.
const BLOCK_PAIRS: usize = 1 << 14;

/// All item pairs of `src` as columns sorted by `(i, j)`.
///
/// Rows are cut into at most 2,048 spans of `2^shift` consecutive rows. One pass counts the
/// pairs of each span, a second appends every pair to its span's run (a few thousand sequential
/// write streams rather than one cache miss per pair, which a counting sort straight on rows
/// costs once the output outgrows the cache), then each span — a few hundred to a few thousand
/// pairs — is sorted as integers on its own, in cache, in parallel, and unpacked into columns.
pub(crate) fn columns<S: PairSource>(src: &S) -> PairColumns {
    let n = src.rows();
    let bits = usize::BITS - n.max(1).leading_zeros();
    let shift = bits.saturating_sub(MAX_SPANS_LOG2);
    let n_spans = (n >> shift) + 1;
    let parts = src.parts();
    // counts[p][s]: pairs of part p in span s (a few KB per part).
    let mut counts = vec![0usize; parts * n_spans];
    counts
        .par_chunks_mut(n_spans)
        .enumerate()
        .for_each(|(p, spans)| src.each(p, &mut Count { spans, shift }));
    // Span s holds offsets[s]..offsets[s + 1]: the runs of parts 0, 1, ... in turn.
    let mut starts = vec![0usize; parts * n_spans];
    let mut offsets = vec![0usize; n_spans + 1];
    let mut total = 0;
    for s in 0..n_spans {
        offsets[s] = total;
        for p in 0..parts {
            starts[p * n_spans + s] = total;
            total += counts[p * n_spans + s];
        }
    }
    offsets[n_spans] = total;
    for (c, st) in counts.iter_mut().zip(&starts) {
        *c += st; // now the end of each run
    }
    let ends = counts;
    // Written once each below, so never zeroed: zeroing and first-touch page faults of the
    // ~17 bytes per pair were a third of this function's time.
    let mut packed: Vec<u64> = Vec::with_capacity(total);
    let out_ptr = SharedOut(packed.spare_capacity_mut().as_mut_ptr());
    starts
        .par_chunks_mut(n_spans)
        .zip(ends.par_chunks(n_spans))
        .enumerate()
        .for_each(|(p, (cursor, end))| {
            let mut place = Place {
                cursor,
                end,
                packed: out_ptr,
                shift,
            };
            src.each(p, &mut place);
        });
    // Every run was filled to its end, so the runs tile 0..total.
    assert!(
        starts == ends,
        "pair source listed fewer pairs than it counted"
    );
    drop((starts, ends));
    // SAFETY: the runs partition 0..total and each was written in full (checked above).
    unsafe { packed.set_len(total) };
    let mut out = PairColumns {
        i: Vec::with_capacity(total),
        j: Vec::with_capacity(total),
        distance: Vec::with_capacity(total),
    };
    // Blocks of whole spans with about BLOCK_PAIRS pairs each.
    let mut blocks = Vec::new();
    let (mut packed_rest, mut i_rest, mut j_rest, mut d_rest) = (
        &mut packed[..],
        &mut out.i.spare_capacity_mut()[..total],
        &mut out.j.spare_capacity_mut()[..total],
        &mut out.distance.spare_capacity_mut()[..total],
    );
    let mut s0 = 0;
    while s0 < n_spans {
        let mut s1 = s0 + 1;
        while s1 < n_spans && offsets[s1] - offsets[s0] < BLOCK_PAIRS {
            s1 += 1;
        }
        let len = offsets[s1] - offsets[s0];
        let (p, pr) = packed_rest.split_at_mut(len);
        let (i, ir) = i_rest.split_at_mut(len);
        let (j, jr) = j_rest.split_at_mut(len);
        let (d, dr) = d_rest.split_at_mut(len);
        blocks.push((s0, s1, p, i, j, d));
        (packed_rest, i_rest, j_rest, d_rest) = (pr, ir, jr, dr);
        s0 = s1;
    }
    blocks.into_par_iter().for_each(|(s0, s1, p, i, j, d)| {
        let base = offsets[s0];
        for s in s0..s1 {
            let (lo, hi) = (offsets[s] - base, offsets[s + 1] - base);
            p[lo..hi].sort_unstable();
            let row0 = (s << shift) as u32;
            for t in lo..hi {
                let x = p[t];
                i[t].write(row0 + (x >> 40) as u32);
                j[t].write((x >> 8) as u32);
                d[t].write(x as u8);
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
