//! Dealing items into buckets in parallel (a counting scatter): each of a few parts counts its
//! items per bucket, then writes them into its own run of every bucket, so the parts run side by
//! side without atomics and a bucket's items come out together. Used to bucket a pair search's
//! output by span of rows (`expand.rs`) and its input by top bits (`unique.rs`).

use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Items in bucket order and where each bucket starts (`starts[b]..starts[b + 1]`, with
/// `starts.len() == n_buckets + 1`); inside a bucket, part 0's items first, in the order it put
/// them, then part 1's, and so on.
pub(crate) struct Dealt<T> {
    pub items: Vec<T>,
    pub starts: Vec<usize>,
}

/// Deal the items of `parts` parts into `n_buckets` buckets. `count(p, counts)` adds one to
/// `counts[bucket]` for each item of part `p`; `put(p, dealer)` then hands the same items to
/// `dealer.put(bucket, item)`. A part that puts more items into a bucket than it counted there,
/// or fewer, panics (nothing is read uninitialised).
pub(crate) fn deal<T: Send + Sync>(
    parts: usize,
    n_buckets: usize,
    count: impl Fn(usize, &mut [usize]) + Sync,
    put: impl Fn(usize, &mut Dealer<'_, T>) + Sync,
) -> Dealt<T> {
    let parts = parts.max(1);
    // cursors[p][b]: part p's count in bucket b, then where it writes its next item there.
    let mut cursors = vec![0usize; parts * n_buckets];
    cursors
        .par_chunks_mut(n_buckets.max(1))
        .enumerate()
        .for_each(|(p, counts)| count(p, counts));
    // Bucket b holds the runs of parts 0, 1, ... in turn; part p's run of bucket b ends at
    // ends[p][b].
    let mut starts = Vec::with_capacity(n_buckets + 1);
    let mut ends = vec![0usize; parts * n_buckets];
    let mut total = 0;
    for b in 0..n_buckets {
        starts.push(total);
        for p in 0..parts {
            let count = cursors[p * n_buckets + b];
            cursors[p * n_buckets + b] = total;
            total += count;
            ends[p * n_buckets + b] = total;
        }
    }
    starts.push(total);
    // Written once each below, so never zeroed: zeroing and first-touch page faults of the
    // output were a third of the pair search's output pass.
    let mut items: Vec<T> = Vec::with_capacity(total);
    let out = SharedOut(items.spare_capacity_mut().as_mut_ptr());
    cursors
        .par_chunks_mut(n_buckets.max(1))
        .zip(ends.par_chunks(n_buckets.max(1)))
        .enumerate()
        .for_each(|(p, (cursor, end))| put(p, &mut Dealer { cursor, end, out }));
    assert!(cursors == ends, "dealt fewer items than were counted");
    // SAFETY: every run was filled to its end (checked above), and the runs tile 0..total.
    unsafe { items.set_len(total) };
    Dealt { items, starts }
}

/// Consecutive ranges `b0..b1` of whole buckets holding about `target` items each (the last may
/// hold fewer): units of parallel work over dealt buckets, for `starts` as [`Dealt`] gives it.
pub(crate) fn blocks(starts: &[usize], target: usize) -> Vec<(usize, usize)> {
    let n_buckets = starts.len() - 1;
    let mut out = Vec::new();
    let mut b0 = 0;
    while b0 < n_buckets {
        let mut b1 = b0 + 1;
        while b1 < n_buckets && starts[b1] - starts[b0] < target {
            b1 += 1;
        }
        out.push((b0, b1));
        b0 = b1;
    }
    out
}

/// Writes one part's items into its runs.
pub(crate) struct Dealer<'a, T> {
    cursor: &'a mut [usize],
    end: &'a [usize],
    out: SharedOut<T>,
}

impl<T> Dealer<'_, T> {
    /// Put `item` into `bucket`.
    #[inline(always)]
    pub(crate) fn put(&mut self, bucket: usize, item: T) {
        let c = self.cursor[bucket];
        assert!(c < self.end[bucket], "dealt more items than were counted");
        // SAFETY: c lies in this part's run of the bucket, which no other part writes, and the
        // runs tile the buffer's capacity.
        unsafe { (*self.out.0.add(c)).write(item) };
        self.cursor[bucket] = c + 1;
    }
}

/// The output buffer shared by the dealing parts.
struct SharedOut<T>(*mut MaybeUninit<T>);

impl<T> Clone for SharedOut<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SharedOut<T> {}
// SAFETY: parts write disjoint positions (each stays inside its own runs, checked per write).
unsafe impl<T: Send> Send for SharedOut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedOut<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items of three parts dealt by their value mod 5: bucket order, parts in turn inside a
    /// bucket, each part's items in the order it put them.
    #[test]
    fn deals_in_bucket_then_part_order() {
        let parts: Vec<Vec<u32>> = vec![vec![7, 2, 12, 5], vec![], vec![3, 17, 0, 8, 2]];
        let dealt = deal(
            parts.len(),
            5,
            |p, counts| parts[p].iter().for_each(|&x| counts[x as usize % 5] += 1),
            |p, dealer| parts[p].iter().for_each(|&x| dealer.put(x as usize % 5, x)),
        );
        assert_eq!(dealt.items, vec![5, 0, 7, 2, 12, 17, 2, 3, 8]);
        assert_eq!(dealt.starts, vec![0, 2, 2, 7, 9, 9]);
        assert_eq!(blocks(&dealt.starts, 3), vec![(0, 3), (3, 5)]);
        assert_eq!(
            blocks(&dealt.starts, 1),
            vec![(0, 1), (1, 3), (3, 4), (4, 5)]
        );
    }

    #[test]
    #[should_panic(expected = "dealt more items than were counted")]
    fn putting_more_than_counted_panics() {
        deal(
            1,
            2,
            |_, counts| counts[0] += 1,
            |_, d| (0..2).for_each(|x| d.put(0, x)),
        );
    }

    #[test]
    #[should_panic(expected = "dealt fewer items than were counted")]
    fn putting_fewer_than_counted_panics() {
        deal(
            2,
            2,
            |_, counts| counts[1] += 1,
            |p, d| {
                if p == 0 {
                    d.put(1, 0u8);
                }
            },
        );
    }
}
