//! Groups under a near-copy *rule* without enumerating its pairs: a spanning forest of the rule
//! graph, found by a graph search over the multi-index in which every image leaves the index the
//! moment it is reached.
//!
//! Pair lists are quadratic in the size of a cluster of copies (10 M tiled Fashion-MNIST hashes
//! hold billions of pairs within the rule), but groups only need enough edges to connect each
//! component. Every hash is indexed in every chunk of the multi-index (one index per *tier* of
//! the rule, see [`RuleSpec`]), each slot with an "alive" bit. Expanding an image scans its
//! candidate buckets in every chunk of every tier, skipping dead slots sixteen at a time in the
//! SIMD lane mask, checks the whole rule on each hit and, when it holds, records the edge, kills
//! the other image everywhere and queues it. So each image is reached once, each edge found
//! connects two images not yet connected, and the candidate checks between images already in one
//! component — the pairs that made clusters quadratic — are never made. Exactness: every pair
//! satisfying the rule is within its tier's radius on that tier's code, so (pigeonhole) it shares
//! a candidate bucket in some chunk of that tier; when the first of the two is expanded, the other
//! is either alive there (and found) or already reached — the usual argument that a graph search
//! finds exact connected components. Tested against brute force in `tests.rs`.
//!
//! Probing the index costs the same for every expanded image, however few images are left
//! unreached: on 1 M tiled Fashion-MNIST hashes under the radius-16 tier it visits ~17,000 slots
//! per image in random order (~60 s), while the images still unreached number ~4,000 per
//! expansion on average, because the search reaches almost everything within the first few
//! thousand expansions. So the search keeps a packed list of the unreached images too and
//! expands a batch of images by one linear SIMD scan of that list (in parallel when long)
//! whenever the scan is cheaper than the index probes it replaces, judged from the probes' cost
//! so far. A scan compares each unreached image once per *cluster* of near-identical images
//! from the stack, with radii grown by the cluster's, and checks the members only for images
//! that pass ([`super::batch`]). Either way each image is expanded against every unreached
//! image it could link to, so the exactness argument is unchanged; the decisions use counts,
//! not clocks, so the forest is the same on every run and thread count.

use super::batch::{Batch, Preclusters};
use super::join::{self, ChunkIndex, LANE, Lanes, Sink, multiversion};
use super::plan::{self, KeyFn, Plan, masks_up_to};
use super::union_find::AtomicUnionFind;
use rayon::prelude::*;

/// A confirming code: one `u64` per image, compared by Hamming distance within `radius` bits.
#[derive(Clone, Copy, Debug)]
pub struct Confirm<'a> {
    pub codes: &'a [u64],
    pub radius: u32,
}

/// The colour check of the near rule (`imgstats.match_rule.NearRule`): both signatures known
/// and within `radius` bits, or a grayscale copy: one signature `neutral`, the luma structure a
/// copy's (the primary and every confirming code within `copy_radius` bits) and the luma
/// contrasts within `gray_ratio` of each other (an unknown contrast, NaN, passes).
#[derive(Clone, Copy, Debug)]
pub struct ColorCheck<'a> {
    pub codes: &'a [u64],
    /// Whether each row's signature is known (an unknown one never passes).
    pub known: &'a [bool],
    /// Luma contrast (std) per row; NaN when unknown.
    pub contrast: &'a [f64],
    pub radius: u32,
    pub copy_radius: u32,
    /// The signature of a picture without colour.
    pub neutral: u64,
    pub gray_ratio: f64,
    /// Whether the `alone` tier needs the colour check too (`ALONE_NEEDS_COLOR`).
    pub alone_too: bool,
}

impl ColorCheck<'_> {
    /// Whether rows `x` and `y` pass; `copy_luma`: their hashes are within `copy_radius`.
    #[inline]
    fn passes(&self, x: usize, y: usize, copy_luma: impl FnOnce() -> bool) -> bool {
        if !(self.known[x] && self.known[y]) {
            return false;
        }
        let (cx, cy) = (self.codes[x], self.codes[y]);
        if (cx ^ cy).count_ones() <= self.radius {
            return true;
        }
        if !(cx == self.neutral || cy == self.neutral) || !copy_luma() {
            return false;
        }
        let (kx, ky) = (self.contrast[x], self.contrast[y]);
        if kx.is_nan() || ky.is_nan() {
            return true; // unknown contrast passes
        }
        let (hi, lo) = if kx >= ky { (kx, ky) } else { (ky, kx) };
        // As NumPy: 0/0 is NaN (passes), k/0 is inf (fails).
        let ratio = hi / lo;
        ratio.is_nan() || ratio <= self.gray_ratio
    }
}

/// When two images `x`, `y` are near copies (`imgstats.match_rule.NearRule`, as
/// `imgstats.match_rule.rule_spec` maps it; the only place Python's near rule is evaluated):
/// *alone*: `primary` within `alone` bits, not blocked by `simple` (both rows simple with
/// `simple_both`, either row without), and with `color` and its `alone_too` the colour check;
/// **or** *confirmed*: `primary` within `wide` bits, every confirming code within its radius
/// and, with `color`, the colour check. `alone: None` drops the first tier.
#[derive(Clone, Debug)]
pub struct RuleSpec<'a> {
    pub primary: &'a [u64],
    pub alone: Option<u32>,
    pub wide: u32,
    pub confirms: Vec<Confirm<'a>>,
    /// Images that never match by the primary code alone (empty: none).
    pub simple: &'a [bool],
    /// The simple guard closes the alone tier only when both rows are simple.
    pub simple_both: bool,
    /// The colour check (None: none). Only filters: colour codes are never searched.
    pub color: Option<ColorCheck<'a>>,
}

impl RuleSpec<'_> {
    /// A clear message when the arrays do not all describe the same images.
    pub fn check(&self) -> Result<(), String> {
        let n = self.primary.len();
        if n >= u32::MAX as usize {
            return Err(format!("at most 2^32-2 hashes are supported, got {n}"));
        }
        for (c, conf) in self.confirms.iter().enumerate() {
            if conf.codes.len() != n {
                return Err(format!(
                    "confirming code {c} has {} values for {n} hashes",
                    conf.codes.len()
                ));
            }
        }
        if !self.simple.is_empty() && self.simple.len() != n {
            return Err(format!(
                "simple has {} values for {n} hashes",
                self.simple.len()
            ));
        }
        if let Some(c) = &self.color
            && (c.codes.len() != n || c.known.len() != n || c.contrast.len() != n)
        {
            return Err(format!(
                "colour check has {}/{}/{} codes/known/contrast values for {n} hashes",
                c.codes.len(),
                c.known.len(),
                c.contrast.len()
            ));
        }
        let bad = |r: u32| r > 64;
        if self.alone.is_some_and(bad)
            || bad(self.wide)
            || self.confirms.iter().any(|c| bad(c.radius))
            || self
                .color
                .is_some_and(|c| bad(c.radius) || bad(c.copy_radius))
        {
            return Err("radii must be between 0 and 64 bits".into());
        }
        Ok(())
    }

    /// Whether images `x` and `y` are near copies under the rule.
    #[inline]
    pub fn links(&self, x: usize, y: usize) -> bool {
        let pd = (self.primary[x] ^ self.primary[y]).count_ones();
        let alone = self.alone.is_some_and(|alone| pd <= alone) && !self.simple_blocks(x, y);
        let confirmed = pd <= self.wide && self.confirms_within(x, y, |c| c.radius);
        if !alone && !confirmed {
            return false;
        }
        let Some(color) = &self.color else {
            return true;
        };
        if alone && !color.alone_too {
            return true;
        }
        let copy = color.copy_radius;
        color.passes(x, y, || pd <= copy && self.confirms_within(x, y, |_| copy))
    }

    #[inline]
    fn simple_blocks(&self, x: usize, y: usize) -> bool {
        if self.simple.is_empty() {
            return false;
        }
        if self.simple_both {
            self.simple[x] && self.simple[y]
        } else {
            self.simple[x] || self.simple[y]
        }
    }

    /// Every confirming code of `x` and `y` within `radius(code)` bits.
    #[inline]
    fn confirms_within(&self, x: usize, y: usize, radius: impl Fn(&Confirm<'_>) -> u32) -> bool {
        self.confirms
            .iter()
            .all(|c| (c.codes[x] ^ c.codes[y]).count_ones() <= radius(c))
    }

    /// The searches that together yield every linked pair as a candidate: `(code, radius)`.
    /// The first tier searches the primary code within `alone`; the second the code whose search
    /// the planner prices lowest among the primary within `wide` and each confirming code within
    /// its radius (any one is a necessary condition of the second tier).
    fn tiers(&self, force: Option<(u32, u32)>) -> Vec<(&[u64], u32, Plan)> {
        let mut tiers = self.chosen_tiers();
        if let Some((m, width)) = force {
            for t in &mut tiers {
                t.2 = plan::forced(t.0, t.1, m, width);
            }
        }
        tiers
    }

    fn chosen_tiers(&self) -> Vec<(&[u64], u32, Plan)> {
        let mut second: Option<(&[u64], u32, Plan)> = None;
        let options = std::iter::once((self.primary, self.wide))
            .chain(self.confirms.iter().map(|c| (c.codes, c.radius)));
        for (codes, k) in options {
            let p = plan::choose(codes, codes, k, true);
            if second.as_ref().is_none_or(|s| p.cost < s.2.cost) {
                second = Some((codes, k, p));
            }
        }
        let second = second.expect("the primary code is always an option");
        let Some(alone) = self.alone else {
            return vec![second];
        };
        let same_code = std::ptr::eq(second.0, self.primary);
        if same_code && second.1 >= alone {
            return vec![second]; // the wide search already covers the first tier
        }
        let first = (
            self.primary,
            alone,
            plan::choose(self.primary, self.primary, alone, true),
        );
        if same_code && alone >= second.1 {
            return vec![first];
        }
        vec![first, second]
    }
}

/// One chunk of one tier: the bucketed hashes, the key function, the neighbour key offsets
/// within the chunk's radius (its own key included), and one alive bit per slot.
struct LiveChunk {
    key: KeyFn,
    idx: ChunkIndex,
    probes: Vec<u32>,
    alive: Vec<u64>,
}

struct Tier<'a> {
    codes: &'a [u64],
    k: u32,
    chunks: Vec<LiveChunk>,
}

impl<'a> Tier<'a> {
    fn build(codes: &'a [u64], k: u32, plan: &Plan) -> Self {
        let n = codes.len();
        let chunks = plan
            .chunk_radii()
            .map(|(mask, radius)| {
                let mut alive = vec![u64::MAX; n.div_ceil(64) + 2];
                // Slots past the end are dead (the last lane reads into the padding).
                for (w, word) in alive.iter_mut().enumerate() {
                    let lo = w * 64;
                    if lo >= n {
                        *word = 0;
                    } else if lo + 64 > n {
                        *word = (1u64 << (n - lo)) - 1;
                    }
                }
                LiveChunk {
                    key: KeyFn::new(mask),
                    idx: ChunkIndex::build(codes, None, mask, plan.width),
                    probes: masks_up_to(plan.width, 0, radius),
                    alive,
                }
            })
            .collect();
        Self { codes, k, chunks }
    }
}

/// Sixteen alive bits starting at slot `pos`.
#[inline(always)]
fn alive16(alive: &[u64], pos: usize) -> u32 {
    let (w, sh) = (pos >> 6, pos & 63);
    let mut v = alive[w] >> sh;
    if sh > 48 {
        v |= alive[w + 1] << (64 - sh);
    }
    (v & 0xFFFF) as u32
}

/// A spanning forest of the rule graph: `(x, y)` edges, each a pair satisfying the rule, whose
/// connected components are exactly those of all pairs satisfying it. Runs on the rayon pool
/// (the join, the index build and long scans of the graph search; its probes are sequential);
/// the same forest on any number of threads.
pub fn rule_forest(rule: &RuleSpec<'_>) -> Result<Vec<(u32, u32)>, String> {
    rule_forest_forced(rule, None, None)
}

/// How [`rule_forest`] finds the forest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// The parallel bucket join, every candidate pair checked and merged into a concurrent
    /// union-find: fast while pairs are few (each bucket pair is loaded once for all its rows).
    Join,
    /// The graph search that drops reached rows from the index: one round of bucket probes per
    /// row, or a share of a linear scan of the unreached rows when that is cheaper; it never
    /// visits the pairs inside a cluster of copies.
    Graph,
    /// The graph search by bucket probes only (tests and benchmarks).
    GraphIndex,
    /// The graph search by linear scans only, in small parallel pieces (tests and benchmarks).
    GraphScan,
}

/// Rule pairs expected per hash above which the graph search pays for its per-row probes:
/// estimated from random pairs (the pairs of a join grow with the square of a cluster).
const GRAPH_PAIRS_PER_HASH: f64 = 64.0;

/// `Graph` when random pairs suggest more than `GRAPH_PAIRS_PER_HASH` rule pairs per hash.
fn choose_search(rule: &RuleSpec<'_>) -> Search {
    let n = rule.primary.len();
    let mut rng = plan::SplitMix(0xD0B1E);
    let samples = 20_000;
    let hits = (0..samples)
        .filter(|_| {
            let (x, y) = (rng.below(n), rng.below(n));
            x != y && rule.links(x, y)
        })
        .count();
    let pairs = hits as f64 / samples as f64 * n as f64 * (n as f64 - 1.0) / 2.0;
    let search = if pairs > GRAPH_PAIRS_PER_HASH * n as f64 {
        Search::Graph
    } else {
        Search::Join
    };
    if std::env::var_os("IMGSTATS_DEBUG_PLAN").is_some() {
        eprintln!("rule_forest: ~{pairs:.0} rule pairs expected for {n} hashes: {search:?}");
    }
    search
}

/// [`rule_forest`] with every tier's layout forced to `m` chunks of `width` bits and/or the
/// search forced (tests and benchmarks: small inputs would otherwise always be searched as one
/// bucket, by the join).
#[doc(hidden)]
pub fn rule_forest_forced(
    rule: &RuleSpec<'_>,
    force: Option<(u32, u32)>,
    search: Option<Search>,
) -> Result<Vec<(u32, u32)>, String> {
    rule.check()?;
    let n = rule.primary.len();
    if n < 2 {
        return Ok(Vec::new());
    }
    let debug = std::env::var_os("IMGSTATS_DEBUG_PLAN").is_some();
    let t0 = std::time::Instant::now();
    let mode = match search.unwrap_or_else(|| choose_search(rule)) {
        Search::Join => return Ok(join_forest(rule, force)),
        Search::Graph => Expand::Either,
        Search::GraphIndex => Expand::Index,
        Search::GraphScan => Expand::Scan,
    };
    let plans = rule.tiers(force);
    let t1 = std::time::Instant::now();
    let edges = dispatch(rule, &plans, mode);
    if debug {
        eprintln!(
            "rule_forest: plan {:.3} s, search {:.3} s",
            (t1 - t0).as_secs_f64(),
            t1.elapsed().as_secs_f64()
        );
    }
    Ok(edges)
}

/// How the graph search expands images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expand {
    /// Whichever of the two below is estimated cheaper at the time.
    Either,
    Index,
    Scan,
}

multiversion!(
    /// The graph search, compiled for each CPU level.
    fn dispatch<>(rule: &RuleSpec<'_>, plans: &[TierPlan<'_>], mode: Expand) -> Vec<(u32, u32)> => search
);
multiversion!(
    /// One piece of a scan, compiled for each CPU level.
    fn scan_piece<>(rule: &RuleSpec<'_>, batch: &Batch, group: (usize, usize), list: &Unreached, range: (usize, usize), reached: &[bool]) -> Vec<(u32, u32)> => scan_piece_body
);

/// A rule's two hash tiers as radii: `primary` within `alone`, or within `wide` with the first
/// confirming code within `confirm`. Holding for a pair is necessary for a link, so the scan
/// narrows candidates with it in SIMD before asking the whole rule: with the radii grown by a
/// batch cluster's own for its leader, as is for each member.
#[derive(Clone, Copy, Debug)]
pub(super) struct TierRadii {
    alone: Option<u32>,
    wide: u32,
    confirm: Option<u32>,
}

impl TierRadii {
    pub(super) fn of(rule: &RuleSpec<'_>) -> Self {
        Self {
            alone: rule.alone,
            wide: rule.wide,
            confirm: rule.confirms.first().map(|c| c.radius),
        }
    }

    /// Whether a pair with codes `x`, `y` (first confirming codes `cx`, `cy`, 0 without one)
    /// passes: the scalar [`TierRadii::mask`].
    #[inline(always)]
    pub(super) fn pass(&self, x: u64, y: u64, cx: u64, cy: u64) -> bool {
        let d = (x ^ y).count_ones();
        let confirmed = self.confirm.is_none_or(|r| (cx ^ cy).count_ones() <= r);
        (d <= self.wide && confirmed) || self.alone.is_some_and(|a| d <= a)
    }

    /// Every radius `primary` (the confirming one `confirm`) bits wider, at most 64.
    pub(super) fn grown(self, primary: u32, confirm: u32) -> Self {
        Self {
            alone: self.alone.map(|a| (a + primary).min(64)),
            wide: (self.wide + primary).min(64),
            confirm: self.confirm.map(|r| (r + confirm).min(64)),
        }
    }

    /// The lane of 16 images at `pos` of `primary` (and `confirm_codes`) that pass for an image
    /// with codes `x` (and `cx`). A method, not a closure: closures do not get the caller's CPU
    /// features, and the intrinsics would become calls.
    #[inline(always)]
    pub(super) fn mask<L: Lanes>(
        &self,
        x: u64,
        cx: Option<u64>,
        primary: &[u64],
        confirm_codes: Option<&[u64]>,
        pos: usize,
    ) -> u32 {
        let lane: &[u64; LANE] = primary[pos..pos + LANE].try_into().unwrap();
        let mut w = L::mask16(x, lane, self.wide);
        if let (Some(cx), Some(codes), Some(r)) = (cx, confirm_codes, self.confirm) {
            let clane: &[u64; LANE] = codes[pos..pos + LANE].try_into().unwrap();
            w &= L::mask16(cx, clane, r);
        }
        match self.alone {
            Some(a) => w | L::mask16(x, lane, a),
            None => w,
        }
    }
}

/// The images not reached yet, packed for a linear scan: ids and primary codes, the codes padded
/// by one lane (the last lane reads past the end and masks the padding off). Reached images are
/// marked dead in their lane's mask, skipped while scanning, and dropped when they make up a
/// ninth of the list.
pub(super) struct Unreached {
    pub(super) ids: Vec<u32>,
    pub(super) codes: Vec<u64>,
    /// The first confirming code (checked in the scan too: calling the rule on every image
    /// within the wide primary radius cost as much as the scan itself).
    pub(super) confirm: Option<Vec<u64>>,
    /// One bit per entry, a lane's sixteen per `u16`: reached since the last compaction. The
    /// scan reads it with the codes; asking `reached` instead, for each hit, was a cache miss
    /// per hit, and most hits near the images just expanded were reached by them.
    pub(super) dead: Vec<u16>,
    /// Each image's entry (`u32::MAX` once dropped).
    at: Vec<u32>,
}

impl Unreached {
    pub(super) fn new(rule: &RuleSpec<'_>) -> Self {
        let n = rule.primary.len();
        let padded = |codes: &[u64]| {
            let mut v = codes.to_vec();
            v.resize(n + LANE, 0);
            v
        };
        Self {
            ids: (0..n as u32).collect(),
            codes: padded(rule.primary),
            confirm: rule.confirms.first().map(|c| padded(c.codes)),
            dead: vec![0; n / LANE + 2],
            at: (0..n as u32).collect(),
        }
    }

    /// Mark image `id` reached.
    #[inline]
    pub(super) fn kill(&mut self, id: u32) {
        let p = self.at[id as usize];
        if p != u32::MAX {
            self.dead[p as usize / LANE] |= 1 << (p as usize % LANE);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(super) fn compact(&mut self, reached: &[bool]) {
        let mut w = 0;
        for r in 0..self.ids.len() {
            let id = self.ids[r];
            if reached[id as usize] {
                self.at[id as usize] = u32::MAX;
            } else {
                self.at[id as usize] = w as u32;
                self.ids[w] = id;
                self.codes[w] = self.codes[r];
                if let Some(c) = &mut self.confirm {
                    c[w] = c[r];
                }
                w += 1;
            }
        }
        self.ids.truncate(w);
        self.dead.clear();
        self.dead.resize(w / LANE + 2, 0);
        for codes in std::iter::once(&mut self.codes).chain(self.confirm.as_mut()) {
            codes.truncate(w);
            codes.resize(w + LANE, 0);
        }
    }
}

/// Images expanded by one scan of the unreached list.
const SCAN_BATCH: usize = 8;
/// Estimated cost, in nanoseconds on one core, of comparing one unreached image with one
/// expanded image in a batched scan, of one lane of 16 slots read through the index (random
/// access: measured 26-57 ns on the 2-core EPYC) and of one bucket probe.
const SCAN_NS: f64 = 0.15;
const LANE_NS: f64 = 30.0;
const PROBE_NS: f64 = 5.0;
/// Unreached images per parallel piece of a scan (a group of images against a piece is a rayon
/// task), and comparisons a scan gathers images for, up to `SCAN_MAX_BATCH` of them.
const SCAN_PIECE: usize = 1 << 14;
const SCAN_WORK: usize = 1 << 20;
const SCAN_MAX_BATCH: usize = 2048;
/// While scanning, one expansion in this many goes through the index again to keep its cost
/// estimate current, but only while the scan is within `RECHECK_RATIO` of that estimate.
const RECHECK_EVERY: u32 = 64;
const RECHECK_RATIO: f64 = 8.0;

/// A tier of the rule as searched: the code, its radius and the index layout.
type TierPlan<'a> = (&'a [u64], u32, Plan);

/// A guess at the cost of expanding one image through the index before any was measured: the
/// share of all images in its candidate buckets (sampled pairs of images, as `plan::choose`
/// scores layouts) read slot by slot, plus the bucket probes. A radius-16 tier reads a third of
/// the images or more, so the scan wins from the start; a narrow one a few per cent.
fn first_index_ns(plans: &[TierPlan<'_>], n: usize) -> f64 {
    let mut rng = plan::SplitMix(0x5EED);
    let samples = 2_000;
    plans
        .iter()
        .map(|(codes, _, plan)| {
            let probes: f64 = plan
                .radii
                .iter()
                .map(|&r| plan::binomial_sum(plan.width, r))
                .sum();
            let shared: usize = (0..samples)
                .map(|_| {
                    let x = codes[rng.below(n)] ^ codes[rng.below(n)];
                    plan.chunk_radii()
                        .filter(|&(mask, r)| (x & mask).count_ones() <= r)
                        .count()
                })
                .sum();
            let share = shared as f64 / samples as f64;
            share * n as f64 * LANE_NS / LANE as f64 + probes * PROBE_NS
        })
        .sum()
}

/// Mark image `y` reached: in `reached`, in the packed list of unreached images (when the
/// search scans) and in the count of images left.
#[inline(always)]
fn reach(y: u32, reached: &mut [bool], list: Option<&mut Unreached>, unreached: &mut usize) {
    reached[y as usize] = true;
    if let Some(l) = list {
        l.kill(y);
    }
    *unreached -= 1;
}

/// The graph search (depth first: a stack is enough, any order gives a spanning forest).
#[inline(always)]
fn search<L: Lanes>(rule: &RuleSpec<'_>, plans: &[TierPlan<'_>], mode: Expand) -> Vec<(u32, u32)> {
    let n = rule.primary.len();
    // The index is built when the first expansion needs it (a dense rule may never).
    let build = || -> Vec<Tier<'_>> {
        plans
            .iter()
            .map(|(codes, k, plan)| Tier::build(codes, *k, plan))
            .collect()
    };
    let mut tiers: Option<Vec<Tier<'_>>> = (mode == Expand::Index).then(build);
    let mut reached = vec![false; n];
    let mut unreached_count = n;
    let mut edges: Vec<(u32, u32)> = Vec::new();
    let mut stack: Vec<u32> = Vec::new();
    let mut list = (mode != Expand::Index).then(|| Unreached::new(rule));
    // Estimated nanoseconds of one index expansion: the running mean of the recent ones, at
    // first a guess from the layouts.
    let mut index_ns = first_index_ns(plans, n);
    let mut measured = false;
    let mut since_index = 0u32;
    let piece = if mode == Expand::Scan {
        3 * LANE
    } else {
        SCAN_PIECE
    };
    // Counters for IMGSTATS_DEBUG_PLAN: lanes compared, hits already reached, hits the rule
    // rejected; expansions by index and by scan, and unreached images scanned.
    let (mut lanes, mut stale, mut rejected) = (0u64, 0u64, 0u64);
    let (mut by_index, mut by_scan, mut scanned) = (0u64, 0u64, 0u64);
    let mut batch = Batch::default();
    // The images a scan reached.
    let mut fresh: Vec<u32> = Vec::new();
    let mut preclusters: Option<Preclusters> = None;
    for seed in 0..n {
        if reached[seed] {
            continue;
        }
        reach(
            seed as u32,
            &mut reached,
            list.as_mut(),
            &mut unreached_count,
        );
        stack.push(seed as u32);
        while !stack.is_empty() {
            let scan = match (&mut list, mode) {
                (None, _) => false,
                (Some(_), Expand::Scan) => true,
                (Some(l), _) => {
                    let scan_ns = l.len() as f64 * SCAN_NS;
                    since_index += 1;
                    let recheck = measured
                        && since_index >= RECHECK_EVERY
                        && scan_ns * RECHECK_RATIO > index_ns;
                    scan_ns < index_ns && !recheck
                }
            };
            if scan {
                let l = list.as_mut().expect("scan mode has a list");
                // Compacting costs one pass over the list, a scan `SCAN_BATCH` passes.
                if l.len() > unreached_count + unreached_count / 8 + LANE {
                    l.compact(&reached);
                }
                // Enough images for `SCAN_WORK` comparisons, so a short list still gives both
                // threads work (every image on the stack is expanded anyway; a larger batch only
                // drops reached images from the list a little later).
                let want = (SCAN_WORK / l.len().max(1)).clamp(SCAN_BATCH, SCAN_MAX_BATCH);
                let pre = preclusters.get_or_insert_with(|| Preclusters::new(rule));
                batch.fill(pre, rule, &mut stack, want);
                by_scan += batch.images() as u64;
                scanned += (l.len() * batch.clusters()) as u64;
                fresh.clear();
                for (x, y) in scan_unreached(rule, &batch, l, &reached, piece) {
                    // Two images of the batch may both reach `y`: the first one links it.
                    if !reached[y as usize] {
                        reach(y, &mut reached, Some(&mut *l), &mut unreached_count);
                        edges.push((x, y));
                        fresh.push(y);
                    }
                }
                // Pushed precluster by precluster, so later batches pop copies together.
                fresh.sort_unstable_by_key(|&y| (pre.of[y as usize], y));
                stack.extend(fresh.iter().rev());
                continue;
            }
            since_index = 0;
            by_index += 1;
            let x = stack.pop().expect("the stack is not empty") as usize;
            let lanes_before = lanes;
            let mut probes = 0usize;
            for tier in tiers.get_or_insert_with(build) {
                let hx = tier.codes[x];
                let k = tier.k;
                for ch in &mut tier.chunks {
                    probes += ch.probes.len();
                    let key = ch.key.key(hx);
                    for &p in &ch.probes {
                        let (lo, len) = ch.idx.bucket(key ^ p);
                        let mut base = 0;
                        while base < len {
                            let pos = lo + base;
                            let mut m = alive16(&ch.alive, pos);
                            if len - base < LANE {
                                m &= (1u32 << (len - base)) - 1;
                            }
                            if m != 0 {
                                lanes += 1;
                                let lane: &[u64; LANE] =
                                    ch.idx.hashes[pos..pos + LANE].try_into().unwrap();
                                m &= L::mask16(join::opaque(hx), lane, k);
                            }
                            while m != 0 {
                                let t = m.trailing_zeros() as usize;
                                m &= m - 1;
                                let slot = pos + t;
                                let y = ch.idx.ids[slot] as usize;
                                if reached[y] {
                                    // Reached from elsewhere: drop it from this chunk for good.
                                    stale += 1;
                                    ch.alive[slot >> 6] &= !(1u64 << (slot & 63));
                                } else if rule.links(x, y) {
                                    reach(
                                        y as u32,
                                        &mut reached,
                                        list.as_mut(),
                                        &mut unreached_count,
                                    );
                                    ch.alive[slot >> 6] &= !(1u64 << (slot & 63));
                                    edges.push((x as u32, y as u32));
                                    stack.push(y as u32);
                                } else {
                                    rejected += 1;
                                }
                            }
                            base += LANE;
                        }
                    }
                }
            }
            let ns = (lanes - lanes_before) as f64 * LANE_NS + probes as f64 * PROBE_NS;
            index_ns = if measured {
                0.875 * index_ns + 0.125 * ns
            } else {
                ns
            };
            measured = true;
        }
    }
    if std::env::var_os("IMGSTATS_DEBUG_PLAN").is_some() {
        eprintln!(
            "rule_forest: n={n} edges={} lanes={lanes} stale={stale} rejected={rejected} \
             expanded by index {by_index}, by scan {by_scan} ({scanned} comparisons)",
            edges.len(),
        );
    }
    edges
}

/// The links `(x, y)` from the images of `batch` to unreached images `y` of `list`, in groups of
/// `SCAN_BATCH` clusters against pieces of the list (in parallel when there are several): for
/// each group in turn, each `y` once with the first member (of the group's first cluster) it
/// links to, in list order. So the result does not depend on the number of threads.
fn scan_unreached(
    rule: &RuleSpec<'_>,
    batch: &Batch,
    list: &Unreached,
    reached: &[bool],
    piece: usize,
) -> Vec<(u32, u32)> {
    let len = list.len();
    let g = batch.clusters();
    let tasks: Vec<((usize, usize), (usize, usize))> = (0..g)
        .step_by(SCAN_BATCH)
        .flat_map(|lo| {
            let group = (lo, (lo + SCAN_BATCH).min(g));
            (0..len)
                .step_by(piece)
                .map(move |at| (group, (at, (at + piece).min(len))))
        })
        .collect();
    if tasks.len() == 1 {
        let (group, range) = tasks[0];
        return scan_piece(rule, batch, group, list, range, reached);
    }
    tasks
        .par_iter()
        .map(|&(group, range)| scan_piece(rule, batch, group, list, range, reached))
        .collect::<Vec<_>>()
        .concat()
}

/// [`scan_unreached`] for clusters `group` of `batch` over `list[range]`: each leader's codes
/// within the rule's radii grown by its cluster's (a necessary condition for a link to any
/// member, by the triangle inequality), then the whole rule against the members.
#[inline(always)]
fn scan_piece_body<L: Lanes>(
    rule: &RuleSpec<'_>,
    batch: &Batch,
    group: (usize, usize),
    list: &Unreached,
    range: (usize, usize),
    reached: &[bool],
) -> Vec<(u32, u32)> {
    let clusters = group.0..group.1;
    let widest = rule.wide.max(rule.alone.unwrap_or(0));
    let base = TierRadii::of(rule);
    // Per cluster: the prefilter radius (the widest primary radius, grown) and the two hash
    // tiers grown by the cluster's radii; lanes with a prefilter hit are narrowed to the tiers
    // before any member is asked.
    let ks: Vec<u32> = clusters
        .clone()
        .map(|c| (widest + batch.radii[c].0).min(64))
        .collect();
    let tiers: Vec<TierRadii> = clusters
        .clone()
        .map(|c| base.grown(batch.radii[c].0, batch.radii[c].1))
        .collect();
    let has_confirm = !rule.confirms.is_empty();
    let mut hits = Vec::new();
    let (lo, hi) = range;
    let mut pos = lo;
    while pos < hi {
        let live = !list.dead[pos / LANE] as u32;
        if live & 0xFFFF == 0 {
            pos += LANE;
            continue;
        }
        let lane: &[u64; LANE] = list.codes[pos..pos + LANE].try_into().unwrap();
        let mut any = 0u32;
        let mut masks = [0u32; SCAN_BATCH];
        for (b, c) in clusters.clone().enumerate() {
            let hx = batch.primary[c];
            let mut m = L::mask16(hx, lane, ks[b]) & live;
            if m != 0 {
                let cx = has_confirm.then(|| batch.confirm[c]);
                m &= tiers[b].mask::<L>(hx, cx, &list.codes, list.confirm.as_deref(), pos);
            }
            masks[b] = m;
            any |= m;
        }
        if hi - pos < LANE {
            any &= (1u32 << (hi - pos)) - 1;
        }
        while any != 0 {
            let t = any.trailing_zeros() as usize;
            any &= any - 1;
            // The members' packed codes first, the image's id and the rule only for a member
            // that passes: most images through the grown radii link to no member, and the id,
            // `reached` and the rule's arrays are each a cache miss.
            let (py, cy) = (
                list.codes[pos + t],
                list.confirm.as_ref().map_or(0, |v| v[pos + t]),
            );
            let linked = clusters.clone().enumerate().find_map(|(b, c)| {
                if masks[b] >> t & 1 == 0 {
                    return None;
                }
                batch.span(c).find_map(|i| {
                    if !base.pass(batch.member_primary[i], py, batch.member_confirm[i], cy) {
                        return None;
                    }
                    let (m, y) = (batch.members[i], list.ids[pos + t]);
                    // Dead entries are masked off; `reached` is the safety net.
                    (!reached[y as usize] && rule.links(m as usize, y as usize)).then_some((m, y))
                })
            });
            if let Some(hit) = linked {
                hits.push(hit);
            }
        }
        pos += LANE;
    }
    hits
}

/// Feeds the join's candidates through the whole rule into a shared union-find; keeps the pairs
/// that joined two sets (the forest).
struct ForestSink<'a> {
    rule: &'a RuleSpec<'a>,
    uf: &'a AtomicUnionFind,
    edges: Vec<(u32, u32)>,
}

impl Sink for ForestSink<'_> {
    #[inline(always)]
    fn push(&mut self, a: u32, b: u32, _d: u32) {
        if self.rule.links(a as usize, b as usize) && self.uf.merge(a, b) {
            self.edges.push((a, b));
        }
    }
}

/// The forest by the parallel bucket join (`join::self_join`): every candidate pair of every
/// tier is checked against the rule and merged into a concurrent union-find.
fn join_forest(rule: &RuleSpec<'_>, force: Option<(u32, u32)>) -> Vec<(u32, u32)> {
    let uf = AtomicUnionFind::new(rule.primary.len());
    let mut edges = Vec::new();
    for (codes, k, plan) in rule.tiers(force) {
        let sinks = join::self_join(codes, None, k, &plan, || ForestSink {
            rule,
            uf: &uf,
            edges: Vec::new(),
        });
        for s in sinks {
            edges.extend(s.edges);
        }
    }
    edges
}

/// Reference: union-find over every pair satisfying the rule (quadratic), labels numbered by
/// first appearance.
pub fn brute_rule_groups(rule: &RuleSpec<'_>) -> super::Groups {
    let n = rule.primary.len();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for x in 0..n {
        for y in x + 1..n {
            if rule.links(x, y) {
                a.push(x as u32);
                b.push(y as u32);
            }
        }
    }
    super::components(n, &a, &b).expect("pairs are in range")
}

/// Groups (numbered by first appearance) from the forest of [`rule_forest`].
pub fn rule_groups(rule: &RuleSpec<'_>) -> Result<super::Groups, String> {
    let edges = rule_forest(rule)?;
    let a: Vec<u32> = edges.iter().map(|e| e.0).collect();
    let b: Vec<u32> = edges.iter().map(|e| e.1).collect();
    super::components(rule.primary.len(), &a, &b)
}
