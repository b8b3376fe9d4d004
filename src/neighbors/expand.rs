//! From pairs of distinct hashes (what the join finds) to pairs of items sorted by `(i, j)`, as
//! three columns, without a global sort.
//!
//! The join emits pairs in bucket order, so they must be reordered. A comparison sort of all
//! pairs took a quarter of a 20,000-hash self join with 223,082 pairs (more than the join's own
//! compares took on two threads), so the pairs are placed by a counting sort on `i` instead (the
//! row of every pair is known, and rows are items, so the counts fit an array of `n`), and only
//! each row — a few dozen `j`s — is sorted. `j` and the distance travel packed in one `u64`
//! (`j << 8 | d`; `d <= 64`), so a row sorts as plain integers and `d` follows `j`.

use super::Pair;
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
    pub fn len(&self) -> usize {
        self.i.len()
    }

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

/// Something that can list its item pairs twice in the same order.
pub(crate) trait PairSource: Sync {
    /// Number of rows (items on the `i` side).
    fn rows(&self) -> usize;
    fn each<E: Emit>(&self, e: &mut E);
}

/// Item pairs of a self join: every pair of members of two near distinct hashes, plus every pair
/// inside the members of one hash (distance 0); `i < j`.
pub(crate) struct SelfPairs<'a> {
    pub u: &'a Unique,
    pub sinks: &'a [Vec<Pair>],
}

impl PairSource for SelfPairs<'_> {
    fn rows(&self) -> usize {
        self.u.members.len()
    }

    #[inline(always)]
    fn each<E: Emit>(&self, e: &mut E) {
        let u = self.u;
        for sink in self.sinks {
            for &(a, b, d) in sink {
                let (ma, mb) = (u.members_of(a), u.members_of(b));
                if let ([x], [y]) = (ma, mb) {
                    // Most hashes occur once: no nested loop.
                    e.emit((*x).min(*y), (*x).max(*y), d);
                    continue;
                }
                for &x in ma {
                    for &y in mb {
                        e.emit(x.min(y), x.max(y), d);
                    }
                }
            }
        }
        for g in 0..u.hashes.len() as u32 {
            let m = u.members_of(g);
            for (t, &x) in m.iter().enumerate() {
                for &y in &m[t + 1..] {
                    e.emit(x, y, 0);
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

    #[inline(always)]
    fn each<E: Emit>(&self, e: &mut E) {
        for sink in self.sinks {
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

struct Count<'a>(&'a mut [usize]);

impl Emit for Count<'_> {
    #[inline(always)]
    fn emit(&mut self, row: u32, _col: u32, _d: u8) {
        self.0[row as usize] += 1;
    }
}

struct Place<'a> {
    cursor: &'a mut [usize],
    packed: &'a mut [u64],
}

impl Emit for Place<'_> {
    #[inline(always)]
    fn emit(&mut self, row: u32, col: u32, d: u8) {
        let c = &mut self.cursor[row as usize];
        self.packed[*c] = (col as u64) << 8 | d as u64;
        *c += 1;
    }
}

/// Pairs per parallel block of rows in the final pass.
const BLOCK_PAIRS: usize = 1 << 14;

/// All item pairs of `src` as columns sorted by `(i, j)`.
pub(crate) fn columns<S: PairSource>(src: &S) -> PairColumns {
    let n = src.rows();
    // offsets[r]..offsets[r + 1] will hold row r.
    let mut offsets = vec![0usize; n + 1];
    src.each(&mut Count(&mut offsets[1..]));
    for r in 0..n {
        offsets[r + 1] += offsets[r];
    }
    let total = offsets[n];
    let mut packed = vec![0u64; total];
    let mut cursor = offsets[..n].to_vec();
    src.each(&mut Place {
        cursor: &mut cursor,
        packed: &mut packed,
    });
    drop(cursor);
    let mut out = PairColumns {
        i: vec![0; total],
        j: vec![0; total],
        distance: vec![0; total],
    };
    // Blocks of whole rows with about BLOCK_PAIRS pairs each: sort every row, unpack the columns.
    let mut blocks = Vec::new();
    let (mut packed_rest, mut i_rest, mut j_rest, mut d_rest) = (
        &mut packed[..],
        &mut out.i[..],
        &mut out.j[..],
        &mut out.distance[..],
    );
    let mut r0 = 0;
    while r0 < n {
        let mut r1 = r0 + 1;
        while r1 < n && offsets[r1] - offsets[r0] < BLOCK_PAIRS {
            r1 += 1;
        }
        let len = offsets[r1] - offsets[r0];
        let (p, pr) = packed_rest.split_at_mut(len);
        let (i, ir) = i_rest.split_at_mut(len);
        let (j, jr) = j_rest.split_at_mut(len);
        let (d, dr) = d_rest.split_at_mut(len);
        blocks.push((r0, r1, p, i, j, d));
        (packed_rest, i_rest, j_rest, d_rest) = (pr, ir, jr, dr);
        r0 = r1;
    }
    blocks.into_par_iter().for_each(|(r0, r1, p, i, j, d)| {
        let base = offsets[r0];
        for r in r0..r1 {
            let (lo, hi) = (offsets[r] - base, offsets[r + 1] - base);
            p[lo..hi].sort_unstable();
            i[lo..hi].fill(r as u32);
        }
        for ((x, jj), dd) in p.iter().zip(j.iter_mut()).zip(d.iter_mut()) {
            *jj = (x >> 8) as u32;
            *dd = *x as u8;
        }
    });
    out
}
