//! The bucket join: per chunk, a counting sort of the hashes by chunk key (full hashes stored
//! inline so a bucket is one contiguous run), then every bucket is compared with itself and with
//! the buckets whose key is within the chunk radius. A pair is reported only in the first chunk in
//! which it is a candidate, so each pair comes out exactly once without a global set.

use super::plan::{KeyFn, Plan, masks_up_to};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Receives pairs of (unique) ids with their distance.
pub(crate) trait Sink {
    fn push(&mut self, a: u32, b: u32, d: u32);
}

impl Sink for Vec<(u32, u32, u8)> {
    #[inline(always)]
    fn push(&mut self, a: u32, b: u32, d: u32) {
        Vec::push(self, (a, b, d as u8));
    }
}

/// Merge straight into the shared union-find: groups never need the pair list.
pub(crate) struct UnionSink<'a>(pub &'a super::union_find::AtomicUnionFind);

impl Sink for UnionSink<'_> {
    #[inline(always)]
    fn push(&mut self, a: u32, b: u32, _d: u32) {
        self.0.union(a, b);
    }
}

/// Hashes of one chunk sorted by key: bucket `b` is `hashes[offsets[b]..offsets[b + 1]]`.
pub(crate) struct ChunkIndex {
    offsets: Vec<u32>,
    pub(crate) hashes: Vec<u64>,
    pub(crate) ids: Vec<u32>,
    nonempty: Vec<u32>,
}

impl ChunkIndex {
    /// The index of one chunk; `ids[p]` is the position in `hashes` of the hash at `p`, or
    /// `labels[position]` when given (what the join hands its sinks instead of the position).
    pub(crate) fn build(hashes: &[u64], labels: Option<&[u32]>, mask: u64, width: u32) -> Self {
        let key = KeyFn::new(mask);
        let nb = 1usize << width;
        let keys: Vec<u32> = hashes.par_iter().map(|&h| key.key(h)).collect();
        let mut offsets = vec![0u32; nb + 1];
        for &k in &keys {
            offsets[k as usize + 1] += 1;
        }
        for b in 0..nb {
            offsets[b + 1] += offsets[b];
        }
        let nonempty: Vec<u32> = (0..nb as u32)
            .filter(|&b| offsets[b as usize + 1] > offsets[b as usize])
            .collect();
        let mut fill = offsets[..nb].to_vec();
        // LANE spare slots at the end: the last lane of a bucket may read past it (see `scan`).
        let mut sorted = vec![0u64; hashes.len() + LANE];
        let mut ids = vec![0u32; hashes.len()];
        for (i, (&k, &h)) in keys.iter().zip(hashes).enumerate() {
            let p = fill[k as usize] as usize;
            fill[k as usize] += 1;
            sorted[p] = h;
            ids[p] = labels.map_or(i as u32, |l| l[i]);
        }
        Self {
            offsets,
            hashes: sorted,
            ids,
            nonempty,
        }
    }

    /// Start and length of bucket `b` in `hashes` / `ids`.
    #[inline(always)]
    pub(crate) fn bucket(&self, b: u32) -> (usize, usize) {
        let lo = self.offsets[b as usize] as usize;
        let hi = self.offsets[b as usize + 1] as usize;
        (lo, hi - lo)
    }
}

pub(crate) const LANE: usize = 16;

/// How a lane of 16 distances is turned into a bit mask of hits (`bit t` = `lane[t]` within k).
pub(crate) trait Lanes {
    fn mask16(x: u64, lane: &[u64; LANE], k: u32) -> u32;

    /// Append `packed + t` to `out` at `*n` for every bit `t` of `m`, in order, and advance
    /// `*n` past them. `*n` must be below [`HITS_CAP`] (`out` has a lane of spare slots).
    /// This default writes every slot without branching on the mask and advances the write
    /// position past the kept ones only.
    #[inline(always)]
    fn append16(packed: u64, m: u32, out: &mut [u64; HITS_BUF], n: &mut usize) {
        let mut at = *n;
        for t in 0..LANE {
            out[at] = packed + t as u64;
            at += (m >> t & 1) as usize;
        }
        *n = at;
    }

    /// The bits of `hits` whose pair was *not* a candidate in any `earlier` chunk (more
    /// differing bits than its radius under every earlier `(mask, radius)`): those are reported
    /// in this chunk.
    #[inline(always)]
    fn fresh16(x: u64, lane: &[u64; LANE], hits: u32, earlier: &[(u64, u32)]) -> u32 {
        let mut out = 0;
        let mut m = hits;
        while m != 0 {
            let t = m.trailing_zeros();
            let z = x ^ lane[t as usize];
            if earlier.iter().all(|&(e, r)| (z & e).count_ones() > r) {
                out |= 1 << t;
            }
            m &= m - 1;
        }
        out
    }
}

/// Plain Rust; LLVM vectorises the popcounts but not the mask (it reduces with shuffles).
pub(crate) struct Portable;

impl Lanes for Portable {
    #[inline(always)]
    fn mask16(x: u64, lane: &[u64; LANE], k: u32) -> u32 {
        let mut m = 0u32;
        for (t, &y) in lane.iter().enumerate() {
            m |= (((x ^ y).count_ones() <= k) as u32) << t;
        }
        m
    }
}

/// AVX-512 VPOPCNTDQ: two VPOPCNTQ and two compares straight into mask registers. Only used
/// inside functions compiled with those features after run-time detection.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    #[inline(always)]
    fn mask16(x: u64, lane: &[u64; LANE], k: u32) -> u32 {
        use std::arch::x86_64::*;
        // SAFETY: only reached from `v512` kernels, entered after detecting avx512f and
        // avx512vpopcntdq; the loads are unaligned loads of 2 x 8 in-bounds u64.
        unsafe {
            let xv = _mm512_set1_epi64(x as i64);
            let kv = _mm512_set1_epi64(k as i64);
            let a = _mm512_loadu_si512(lane.as_ptr().cast());
            let b = _mm512_loadu_si512(lane.as_ptr().add(8).cast());
            let ma = _mm512_cmple_epu64_mask(_mm512_popcnt_epi64(_mm512_xor_si512(a, xv)), kv);
            let mb = _mm512_cmple_epu64_mask(_mm512_popcnt_epi64(_mm512_xor_si512(b, xv)), kv);
            ma as u32 | (mb as u32) << 8
        }
    }

    /// A compress into a register and a plain store per half: the compress straight to memory
    /// is microcoded and slow on AMD Zen 4. The stores write whole vectors, into the spare lane.
    #[inline(always)]
    fn append16(packed: u64, m: u32, out: &mut [u64; HITS_BUF], n: &mut usize) {
        use std::arch::x86_64::*;
        assert!(*n < HITS_CAP);
        // SAFETY: as in `mask16`; both stores end at most LANE slots past `*n < HITS_CAP`,
        // inside `out` (HITS_CAP + LANE slots).
        unsafe {
            let base = _mm512_set1_epi64(packed as i64);
            let lo = _mm512_add_epi64(base, _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7));
            let hi = _mm512_add_epi64(base, _mm512_setr_epi64(8, 9, 10, 11, 12, 13, 14, 15));
            let (ml, mh) = (m as u8, (m >> 8) as u8);
            let p = out.as_mut_ptr().add(*n);
            _mm512_storeu_si512(p.cast(), _mm512_maskz_compress_epi64(ml, lo));
            let p = p.add(ml.count_ones() as usize);
            _mm512_storeu_si512(p.cast(), _mm512_maskz_compress_epi64(mh, hi));
            *n += m.count_ones() as usize;
        }
    }

    /// All 16 at once: a pair within `k` is a candidate in most chunks (close copies agree
    /// everywhere), so per-hit scalar checks cost as much as the compares themselves.
    #[inline(always)]
    fn fresh16(x: u64, lane: &[u64; LANE], hits: u32, earlier: &[(u64, u32)]) -> u32 {
        use std::arch::x86_64::*;
        // SAFETY: as in `mask16`.
        unsafe {
            let xv = _mm512_set1_epi64(x as i64);
            let a = _mm512_xor_si512(_mm512_loadu_si512(lane.as_ptr().cast()), xv);
            let b = _mm512_xor_si512(_mm512_loadu_si512(lane.as_ptr().add(8).cast()), xv);
            let (mut ma, mut mb) = (hits as u8, (hits >> 8) as u8);
            for &(e, r) in earlier {
                let rv = _mm512_set1_epi64(r as i64);
                let ev = _mm512_set1_epi64(e as i64);
                let pa = _mm512_popcnt_epi64(_mm512_and_si512(a, ev));
                let pb = _mm512_popcnt_epi64(_mm512_and_si512(b, ev));
                ma = _mm512_mask_cmpgt_epu64_mask(ma, pa, rv);
                mb = _mm512_mask_cmpgt_epu64_mask(mb, pb, rv);
            }
            ma as u32 | (mb as u32) << 8
        }
    }
}

/// `x` as a value the compiler cannot hoist: for the lane compares of short runs (a bucket is
/// one or two lanes), where `x` is the same for every lane of a run but changes from run to run.
/// Without it LLVM hoists the 512-bit broadcast of `x` out of the run's loop and, short of
/// registers, spills it to the stack and reloads it for every lane, a few instructions after
/// storing it. Which build that stalled in depended on the stack layout (the join at 100,000
/// uniform hashes: 23.5 ms in one build, 12.3 ms in another with the same loop, perf putting a
/// third of the samples on the instruction after the reload — most likely a failed
/// store-to-load forward of the 64-byte slot). A scalar round trip and a broadcast never stall
/// that way: 12.6-15 ms in every build since. Long scans against one hash keep the hoisted
/// broadcast in a register and do not use this.
#[inline(always)]
pub(crate) fn opaque(x: u64) -> u64 {
    std::hint::black_box(x)
}

/// Candidate pairs are collected here before the sink sees them: up to this many.
pub(crate) const HITS_CAP: usize = 256;
/// The buffer's length: a lane of spare slots past the capacity for whole-vector stores.
pub(crate) const HITS_BUF: usize = HITS_CAP + LANE;

/// Pairs found by the lane compares, as `row << 32 | column` positions in the chunk indexes,
/// handed to the sink a batch at a time. Handing each hit over where it was found put two
/// unpredictable branches in the innermost loop (does this lane hold a hit? another one?); in
/// the 20,000-hash self join one lane in five holds one, in no pattern.
struct Hits {
    buf: [u64; HITS_BUF],
    n: usize,
}

impl Hits {
    /// One per task, emptied at its end (not per bucket: a bucket is often one lane, and zeroing
    /// the buffer per bucket cost more than the lane).
    fn new() -> Self {
        Self {
            buf: [0; HITS_BUF],
            n: 0,
        }
    }

    /// The pairs collected so far as `(row, column)` positions; empties the batch.
    #[inline(always)]
    fn drain(&mut self, mut f: impl FnMut(usize, usize)) {
        for &c in &self.buf[..self.n] {
            f((c >> 32) as usize, c as u32 as usize);
        }
        self.n = 0;
    }
}

/// Collect into `hits` every `job.idx.hashes[start + j]`, `j < len`, within `k` of `x` (the
/// hash at position `row` of the row side) whose pair is seen for the first time in this chunk
/// (see `ChunkJob::earlier`); `flush` empties `hits` when full. Whole lanes of 16 are reduced to
/// a bit mask so misses cost no branch; the last lane reads up to 15 slots past the run (the
/// array is padded) and masks them off, because a scalar tail costs more than the whole vector
/// part in buckets of ~10-100 hashes. The earlier-chunk filter runs on lanes with hits only.
#[inline(always)]
fn scan<L: Lanes>(
    job: &ChunkJob<'_>,
    x: u64,
    row: usize,
    start: usize,
    len: usize,
    hits: &mut Hits,
    flush: &mut impl FnMut(&mut Hits),
) {
    let data = &job.idx.hashes;
    let mut base = 0;
    while base < len {
        let lane: &[u64; LANE] = data[start + base..start + base + LANE].try_into().unwrap();
        let mut m = L::mask16(opaque(x), lane, job.k);
        if len - base < LANE {
            m &= (1u32 << (len - base)) - 1;
        }
        if m != 0 {
            if !job.earlier.is_empty() {
                m = L::fresh16(x, lane, m, job.earlier);
            }
            L::append16(
                (row as u64) << 32 | (start + base) as u64,
                m,
                &mut hits.buf,
                &mut hits.n,
            );
            if hits.n >= HITS_CAP {
                flush(hits);
            }
        }
        base += LANE;
    }
}

/// What one chunk's join needs to know.
pub(crate) struct ChunkJob<'a> {
    pub idx: &'a ChunkIndex,
    /// Neighbour key offsets of weight 1..=radius (self join) or 0..=radius (cross join).
    pub probes: &'a [u32],
    /// Masks and radii of the chunks before this one: a pair that was a candidate there has
    /// already been reported.
    pub earlier: &'a [(u64, u32)],
    pub k: u32,
}

/// A unit of parallel work in a self join.
#[derive(Clone, Copy)]
pub(crate) enum Task {
    /// Buckets `nonempty[lo..hi]`, each in full.
    Buckets(u32, u32),
    /// Rows `lo..hi` of the over-full bucket `nonempty[pos]`: split so one bucket full of
    /// near-identical hashes still uses every core.
    Rows(u32, u32, u32),
}

const ROWS_PER_TASK: usize = 256;

pub(crate) fn self_tasks(idx: &ChunkIndex) -> Vec<Task> {
    let threads = rayon::current_num_threads().max(1);
    let target = (idx.ids.len() / (threads * 64)).max(1024);
    let mut tasks = Vec::new();
    let (mut start, mut acc) = (0usize, 0usize);
    for (p, &b) in idx.nonempty.iter().enumerate() {
        let size = (idx.offsets[b as usize + 1] - idx.offsets[b as usize]) as usize;
        if size > 2 * ROWS_PER_TASK {
            if start < p {
                tasks.push(Task::Buckets(start as u32, p as u32));
            }
            for lo in (0..size).step_by(ROWS_PER_TASK) {
                let hi = (lo + ROWS_PER_TASK).min(size);
                tasks.push(Task::Rows(p as u32, lo as u32, hi as u32));
            }
            start = p + 1;
            acc = 0;
            continue;
        }
        acc += size;
        if acc >= target {
            tasks.push(Task::Buckets(start as u32, p as u32 + 1));
            start = p + 1;
            acc = 0;
        }
    }
    if start < idx.nonempty.len() {
        tasks.push(Task::Buckets(start as u32, idx.nonempty.len() as u32));
    }
    tasks
}

#[inline(always)]
fn self_rows<L: Lanes>(
    job: &ChunkJob<'_>,
    b: u32,
    (lo, hi): (usize, usize),
    hits: &mut Hits,
    flush: &mut impl FnMut(&mut Hits),
) {
    let hs = &job.idx.hashes;
    let (a0, alen) = job.idx.bucket(b);
    for (i, &x) in (a0 + lo..).zip(&hs[a0 + lo..a0 + hi]) {
        scan::<L>(job, x, i, i + 1, a0 + alen - i - 1, hits, flush);
    }
    let rows = hi - lo;
    for &p in job.probes {
        let b2 = b ^ p;
        // Each unordered bucket pair once: from the smaller key.
        if b2 <= b {
            continue;
        }
        let (b0, blen) = job.idx.bucket(b2);
        if blen == 0 {
            continue;
        }
        // The pair of runs is symmetric: loop over the one that needs fewer lanes in all.
        if blen * rows.div_ceil(LANE) < rows * blen.div_ceil(LANE) {
            for (j, &y) in (b0..).zip(&hs[b0..b0 + blen]) {
                scan::<L>(job, y, j, a0 + lo, rows, hits, flush);
            }
        } else {
            for (i, &x) in (a0 + lo..).zip(&hs[a0 + lo..a0 + hi]) {
                scan::<L>(job, x, i, b0, blen, hits, flush);
            }
        }
    }
}

#[inline(always)]
fn self_task_body<S: Sink, L: Lanes>(job: &ChunkJob<'_>, task: Task, sink: &mut S) {
    let (hs, ids) = (&job.idx.hashes, &job.idx.ids);
    let mut hits = Hits::new();
    let mut flush = |h: &mut Hits| {
        h.drain(|r, c| sink.push(ids[r], ids[c], (hs[r] ^ hs[c]).count_ones()));
    };
    match task {
        Task::Buckets(lo, hi) => {
            for &b in &job.idx.nonempty[lo as usize..hi as usize] {
                let len = job.idx.bucket(b).1;
                self_rows::<L>(job, b, (0, len), &mut hits, &mut flush);
            }
        }
        Task::Rows(pos, lo, hi) => {
            let b = job.idx.nonempty[pos as usize];
            self_rows::<L>(job, b, (lo as usize, hi as usize), &mut hits, &mut flush);
        }
    }
    flush(&mut hits);
}

/// Rows `lo..hi` of query bucket `bq` against the base buckets within the chunk radius. The
/// query side is bucketed too, so a base bucket is loaded once for all queries that probe it
/// (probing query by query was memory-bound: 127 KB of random reads per query at 1M base).
#[inline(always)]
fn cross_rows<L: Lanes>(
    job: &ChunkJob<'_>,
    qidx: &ChunkIndex,
    bq: u32,
    (lo, hi): (usize, usize),
    hits: &mut Hits,
    flush: &mut impl FnMut(&mut Hits),
) {
    let qs = &qidx.hashes;
    let (a0, _) = qidx.bucket(bq);
    for &p in job.probes {
        let (b0, blen) = job.idx.bucket(bq ^ p);
        if blen == 0 {
            continue;
        }
        for (i, &x) in (a0 + lo..).zip(&qs[a0 + lo..a0 + hi]) {
            scan::<L>(job, x, i, b0, blen, hits, flush);
        }
    }
}

#[inline(always)]
fn cross_task_body<S: Sink, L: Lanes>(
    job: &ChunkJob<'_>,
    qidx: &ChunkIndex,
    task: Task,
    sink: &mut S,
) {
    let (qs, qids) = (&qidx.hashes, &qidx.ids);
    let (hs, ids) = (&job.idx.hashes, &job.idx.ids);
    let mut hits = Hits::new();
    let mut flush = |h: &mut Hits| {
        h.drain(|q, c| sink.push(qids[q], ids[c], (qs[q] ^ hs[c]).count_ones()));
    };
    match task {
        Task::Buckets(lo, hi) => {
            for &b in &qidx.nonempty[lo as usize..hi as usize] {
                let len = qidx.bucket(b).1;
                cross_rows::<L>(job, qidx, b, (0, len), &mut hits, &mut flush);
            }
        }
        Task::Rows(pos, lo, hi) => {
            let b = qidx.nonempty[pos as usize];
            let rows = (lo as usize, hi as usize);
            cross_rows::<L>(job, qidx, b, rows, &mut hits, &mut flush);
        }
    }
    flush(&mut hits);
}

/// Run-time CPU dispatch (`crate::cpu::level()`): the same generic body compiled for AVX-512
/// VPOPCNTDQ, for AVX2+POPCNT, and for baseline x86-64 / other targets (where `count_ones` is a
/// bit-twiddling sequence). `$body` takes the `Lanes` implementation as its last type parameter.
macro_rules! multiversion {
    ($(#[$doc:meta])* $vis:vis fn $name:ident<$($g:ident: $bound:path),*>($($arg:ident: $ty:ty),*) -> $ret:ty => $body:ident) => {
        $(#[$doc])*
        $vis fn $name<$($g: $bound),*>($($arg: $ty),*) -> $ret {
            use $crate::cpu::{self, Level};
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt,avx2")]
                fn v512<$($g: $bound),*>($($arg: $ty),*) -> $ret {
                    $body::<$($g,)* $crate::neighbors::join::Avx512>($($arg),*)
                }
                #[target_feature(enable = "popcnt,avx2")]
                fn v256<$($g: $bound),*>($($arg: $ty),*) -> $ret {
                    $body::<$($g,)* $crate::neighbors::join::Portable>($($arg),*)
                }
                match cpu::level() {
                    Level::Avx512 => {
                        cpu::note(Level::Avx512);
                        // SAFETY: `cpu::level()` never exceeds what the CPU supports.
                        return unsafe { v512($($arg),*) };
                    }
                    Level::Avx2 => {
                        cpu::note(Level::Avx2);
                        // SAFETY: as above.
                        return unsafe { v256($($arg),*) };
                    }
                    Level::Scalar => {}
                }
            }
            cpu::note(Level::Scalar);
            $body::<$($g,)* $crate::neighbors::join::Portable>($($arg),*)
        }
    };
}

pub(crate) use multiversion;

multiversion!(
    /// One self-join task of one chunk.
    pub(crate) fn self_task<S: Sink>(job: &ChunkJob<'_>, task: Task, sink: &mut S) -> () => self_task_body
);
multiversion!(
    /// One cross-join task of one chunk.
    pub(crate) fn cross_task<S: Sink>(job: &ChunkJob<'_>, qidx: &ChunkIndex, task: Task, sink: &mut S) -> () => cross_task_body
);

/// Up to this many hashes, the next chunk's index is built while this chunk's pairs are joined,
/// so the build's serial counting sort (~0.13 ms a chunk at 20,000 hashes, with the other core
/// idle) overlaps the join (20,000 real pHashes: join 4.50 -> 4.16 ms; `duplicates` on 1M
/// uniform hashes 7.83-7.93 s without it, 7.55-7.69 s with it). Above it, one index at a time
/// keeps peak memory at one index (10M hashes: ~200 MB).
const OVERLAP_BUILD_MAX: usize = 1 << 21;

/// The index of every chunk in turn, handed to `each` with the chunk's number; while `each`
/// runs on chunk `c`, chunk `c + 1`'s index is built alongside (small inputs, see
/// [`OVERLAP_BUILD_MAX`]).
fn for_each_chunk<T: Send>(
    chunks: &[(u64, u32)],
    n: usize,
    build: impl Fn(u64) -> T + Sync,
    mut each: impl FnMut(usize, T) + Send,
) {
    let overlap = n <= OVERLAP_BUILD_MAX;
    let mut next = None;
    for (c, &(mask, _)) in chunks.iter().enumerate() {
        let built = next.take().unwrap_or_else(|| build(mask));
        match chunks.get(c + 1) {
            Some(&(mask, _)) if overlap => {
                next = rayon::join(|| Some(build(mask)), || each(c, built)).0;
            }
            _ => each(c, built),
        }
    }
}

/// Run the self join of `hashes` under `plan`, feeding pairs (a, b, d) with a != b to sinks made
/// by `make_sink`; returns the sinks so the caller can collect pairs. `a` and `b` are positions
/// in `hashes`, or their `labels` when given.
pub(crate) fn self_join<S, F>(
    hashes: &[u64],
    labels: Option<&[u32]>,
    k: u32,
    plan: &Plan,
    make_sink: F,
) -> Vec<S>
where
    S: Sink + Send,
    F: Fn() -> S + Sync,
{
    let chunks: Vec<(u64, u32)> = plan.chunk_radii().collect();
    let mut sinks = Vec::new();
    let build = |mask| ChunkIndex::build(hashes, labels, mask, plan.width);
    for_each_chunk(&chunks, hashes.len(), build, |c, idx| {
        let probes = masks_up_to(plan.width, 1, chunks[c].1);
        let job = ChunkJob {
            idx: &idx,
            probes: &probes,
            earlier: &chunks[..c],
            k,
        };
        let tasks = self_tasks(&idx);
        // Every task its own job that an idle worker can steal. By default rayon cuts a list
        // into a few runs per thread and never cuts a running run again: with 128 tasks of
        // 20-100 ms (1M uniform hashes at radius 16) one worker was left with a quarter of a
        // chunk while the other idled, 1.1 s on one core at the end of the widest chunk.
        let mut out: Vec<S> = tasks
            .par_iter()
            .with_max_len(1)
            .fold(&make_sink, |mut sink, &task| {
                self_task::<S>(&job, task, &mut sink);
                sink
            })
            .collect();
        sinks.append(&mut out);
    });
    sinks
}

/// Run the join of `queries` against `base` under `plan`; sinks receive (query id, base id, d),
/// positions in `queries` and `base`, or their labels when given (`labels`: base, queries).
pub(crate) fn cross_join<S, F>(
    base: &[u64],
    queries: &[u64],
    labels: (Option<&[u32]>, Option<&[u32]>),
    k: u32,
    plan: &Plan,
    make_sink: F,
) -> Vec<S>
where
    S: Sink + Send,
    F: Fn() -> S + Sync,
{
    let chunks: Vec<(u64, u32)> = plan.chunk_radii().collect();
    let mut sinks = Vec::new();
    let build = |mask| {
        rayon::join(
            || ChunkIndex::build(base, labels.0, mask, plan.width),
            || ChunkIndex::build(queries, labels.1, mask, plan.width),
        )
    };
    let n = base.len() + queries.len();
    for_each_chunk(&chunks, n, build, |c, (idx, qidx)| {
        let probes = masks_up_to(plan.width, 0, chunks[c].1);
        let job = ChunkJob {
            idx: &idx,
            probes: &probes,
            earlier: &chunks[..c],
            k,
        };
        let tasks = self_tasks(&qidx);
        // One stealable job per task, as in `self_join`.
        let mut out: Vec<S> = tasks
            .par_iter()
            .with_max_len(1)
            .fold(&make_sink, |mut sink, &task| {
                cross_task::<S>(&job, &qidx, task, &mut sink);
                sink
            })
            .collect();
        sinks.append(&mut out);
    });
    sinks
}

/// Keeps, per query, the smallest `(distance << 32 | base id)`: the nearest base, ties broken
/// by the smaller id, whatever order the workers find them in.
pub(crate) struct NearestSink<'a>(pub &'a [AtomicU64]);

impl Sink for NearestSink<'_> {
    #[inline(always)]
    fn push(&mut self, q: u32, b: u32, d: u32) {
        self.0[q as usize].fetch_min((d as u64) << 32 | b as u64, Ordering::Relaxed);
    }
}
