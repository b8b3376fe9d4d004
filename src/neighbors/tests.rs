//! Every search is checked against brute force on uniform, pHash-like (skewed) and edge inputs,
//! and with forced layouts so multi-chunk joins, neighbour probes and row-split buckets all run on
//! inputs small enough for the quadratic reference.

use super::plan::SplitMix;
use super::*;
use crate::cpu::testing::{same_on_every_level, with_level};

fn uniform(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix(seed);
    (0..n).map(|_| rng.next_u64()).collect()
}

/// A random 64-bit value with exactly 32 bits set and the top (DC) bit set, like every pHash.
fn phash_like(rng: &mut SplitMix) -> u64 {
    let mut h = 1u64 << 63;
    while h.count_ones() < 32 {
        h |= 1 << rng.below(63);
    }
    h
}

/// Swap `swaps` (one 1 to 0, one 0 to 1) AC bits: weight 32 and the DC bit are preserved.
fn perturb(mut h: u64, swaps: usize, rng: &mut SplitMix) -> u64 {
    for _ in 0..swaps {
        let ones: Vec<u32> = (0..63).filter(|&b| h >> b & 1 == 1).collect();
        let zeros: Vec<u32> = (0..63).filter(|&b| h >> b & 1 == 0).collect();
        h ^= 1 << ones[rng.below(ones.len())];
        h ^= 1 << zeros[rng.below(zeros.len())];
    }
    h
}

/// Clusters of near copies around pHash-like centres, exact duplicates, and one huge cluster
/// (a bucket far larger than the rest) so over-full buckets are exercised.
fn skewed(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix(seed);
    let centres: Vec<u64> = (0..(n / 20).max(1)).map(|_| phash_like(&mut rng)).collect();
    let big = centres[0];
    (0..n)
        .map(|i| match i % 10 {
            0..=2 => perturb(big, rng.below(4), &mut rng),
            3 if i > 0 => centres[rng.below(centres.len())],
            _ => perturb(centres[rng.below(centres.len())], rng.below(6), &mut rng),
        })
        .collect()
}

fn sorted(mut v: Vec<Pair>) -> Vec<Pair> {
    v.sort_unstable();
    v
}

/// Layouts forced regardless of cost: several chunk counts, radii 0..=2, leftover bits.
fn forced_plans(k: u32) -> Vec<Plan> {
    let mut plans = vec![Plan::brute(0.0)];
    for (m, width) in [(1u32, 12u32), (2, 10), (3, 9), (4, 8), (k + 1, 5)] {
        let bits: Vec<u32> = (0..64).rev().collect();
        let mut chunks = vec![0u64; m as usize];
        for (t, &b) in bits.iter().take((m * width).min(64) as usize).enumerate() {
            chunks[t % m as usize] |= 1 << b;
        }
        let width = chunks.iter().map(|c| c.count_ones()).min().unwrap();
        // A chunk with more bits than `width` would address beyond the table: trim it.
        for c in &mut chunks {
            while c.count_ones() > width {
                *c &= *c - 1;
            }
        }
        plans.push(Plan {
            chunks,
            width,
            radii: super::plan::radii(k, m),
            cost: 0.0,
        });
    }
    plans
}

#[test]
fn self_pairs_match_brute_force_uniform_and_skewed() {
    for (name, hashes) in [
        ("uniform", uniform(3000, 1)),
        ("skewed", skewed(3000, 2)),
        ("skewed-small", skewed(400, 3)),
    ] {
        for k in [0, 1, 4, 8, 10, 16] {
            let expected = brute_self_pairs(&hashes, k);
            assert_eq!(self_pairs(&hashes, k), expected, "{name} k={k}");
        }
    }
}

/// Run `check` once per SIMD level this CPU has (the portable kernel included).
fn on_every_level(check: impl Fn()) {
    for level in crate::cpu::available() {
        let ((), ran) = with_level(level, &check);
        assert!(ran, "no {level:?} join kernel ran");
    }
}

#[test]
fn forced_layouts_match_brute_force() {
    on_every_level(check_forced_layouts);
}

fn check_forced_layouts() {
    let hashes = skewed(2500, 4);
    let u = Unique::new(&hashes);
    for k in [1, 3, 6, 8] {
        let expected = brute_self_pairs(&hashes, k);
        let expected_groups = brute_groups(&hashes, k);
        for plan in forced_plans(k) {
            // Packed by the sinks, and as tuples (the path of inputs too large to pack).
            for packed in [true, false] {
                let got = self_pairs_planned(&u, k, &plan, packed);
                assert_eq!(got, expected, "k={k} packed={packed} {plan:?}");
            }
            assert_eq!(
                groups_planned(&u, hashes.len(), k, &plan),
                expected_groups,
                "k={k} {plan:?}"
            );
        }
    }
}

#[test]
fn cross_and_nearest_match_brute_force() {
    on_every_level(check_cross_and_nearest);
}

fn check_cross_and_nearest() {
    let mut rng = SplitMix(5);
    let base = skewed(3000, 6);
    // Queries: near copies of base items, exact copies, and unrelated hashes.
    let query: Vec<u64> = (0..1500)
        .map(|i| match i % 3 {
            0 => perturb(base[rng.below(base.len())], rng.below(5), &mut rng),
            1 => base[rng.below(base.len())],
            _ => phash_like(&mut rng),
        })
        .collect();
    let (ub, uq) = (Unique::new(&base), Unique::new(&query));
    for k in [0, 2, 5, 8, 12] {
        let expected = brute_cross_pairs(&base, &query, k);
        assert_eq!(cross_pairs(&base, &query, k), expected, "k={k}");
        let expected_nearest = brute_nearest(&base, &query, k);
        assert_eq!(nearest(&base, &query, k), expected_nearest, "k={k}");
        for plan in forced_plans(k) {
            for packed in [true, false] {
                let got = cross_pairs_planned(&ub, &uq, k, &plan, packed);
                assert_eq!(got, expected, "k={k} packed={packed} {plan:?}");
            }
            assert_eq!(
                nearest_planned(&ub, &uq, k, &plan),
                expected_nearest,
                "k={k} {plan:?}"
            );
        }
    }
}

#[test]
fn portable_avx2_and_avx512_kernels_find_the_same_pairs() {
    let base = skewed(4000, 31);
    let query = skewed(1500, 32);
    let found = same_on_every_level("neighbour join", || {
        (
            self_pairs(&base, 8),
            cross_pairs(&base, &query, 6),
            nearest(&base, &query, 10),
            groups(&base, 8),
        )
    });
    assert_eq!(found.0, brute_self_pairs(&base, 8));
    assert_eq!(found.1, brute_cross_pairs(&base, &query, 6));
}

#[test]
fn groups_match_union_find_over_brute_force_pairs() {
    for hashes in [uniform(2000, 7), skewed(3000, 8)] {
        for k in [0, 3, 8, 12] {
            assert_eq!(groups(&hashes, k), brute_groups(&hashes, k), "k={k}");
        }
    }
}

#[test]
fn thousand_copies_of_one_photo_are_one_group() {
    let mut hashes = vec![0xba8c_8453_6bd3_c366u64; 1000];
    hashes.extend(uniform(10, 9));
    let g = groups(&hashes, 8);
    assert_eq!(g.sizes[0], 1000);
    assert!(g.labels[..1000].iter().all(|&l| l == 0));
    assert_eq!(self_pairs(&hashes[..1000], 0).len(), 1000 * 999 / 2);
}

#[test]
fn edge_cases() {
    assert!(self_pairs(&[], 8).is_empty());
    assert!(self_pairs(&[42], 8).is_empty());
    assert_eq!(
        groups(&[], 8),
        Groups {
            labels: vec![],
            sizes: vec![]
        }
    );
    assert_eq!(groups(&[7], 0).sizes, vec![1]);
    let equal = vec![5u64; 50];
    assert_eq!(self_pairs(&equal, 0).len(), 50 * 49 / 2);
    assert_eq!(groups(&equal, 0).sizes, vec![50]);
    // k = 64 (and beyond) matches everything.
    let hashes = uniform(300, 10);
    assert_eq!(self_pairs(&hashes, 64).len(), 300 * 299 / 2);
    assert_eq!(self_pairs(&hashes, 200).len(), 300 * 299 / 2);
    assert_eq!(groups(&hashes, 64).sizes, vec![300]);
    // Complementary hashes are 64 apart.
    assert_eq!(self_pairs(&[0, u64::MAX], 63), vec![]);
    assert_eq!(self_pairs(&[0, u64::MAX], 64), vec![(0, 1, 64)]);
    assert!(cross_pairs(&[], &[1, 2], 8).is_empty());
    assert!(nearest(&[1, 2], &[], 8).is_empty());
    assert_eq!(nearest(&[3, 1, 1], &[0], 2), vec![(0, 1, 1)]);
}

#[test]
fn components_merge_edges_and_reject_bad_input() {
    let g = components(5, &[4, 1], &[1, 3]).unwrap();
    assert_eq!(g.labels, vec![0, 1, 2, 1, 1]);
    assert_eq!(g.sizes, vec![1, 3, 1]);
    assert!(components(2, &[0], &[]).is_err());
    assert!(components(2, &[0], &[2]).is_err());
}

#[test]
fn explicit_thread_count_gives_the_same_answer() {
    let hashes = skewed(3000, 11);
    let expected = brute_self_pairs(&hashes, 8);
    for t in [1, 3] {
        assert_eq!(with_threads(Some(t), || self_pairs(&hashes, 8)), expected);
    }
    assert_eq!(sorted(expected.clone()), expected);
}

#[test]
fn planner_leaves_out_constant_bits_and_prefers_an_index_at_scale() {
    let mut rng = SplitMix(12);
    let hashes: Vec<u64> = (0..200_000).map(|_| phash_like(&mut rng)).collect();
    let plan = self_plan(&hashes, 8);
    assert!(!plan.is_brute_force(), "{plan:?}");
    // The DC bit (bit 63) is set everywhere: it can never split buckets.
    assert!(plan.chunks.iter().all(|c| c >> 63 & 1 == 0), "{plan:?}");
}

/// Flip `flips` random bits of `h` (a correlated second code for the rule tests).
fn flip(mut h: u64, flips: usize, rng: &mut SplitMix) -> u64 {
    for _ in 0..flips {
        h ^= 1 << rng.below(64);
    }
    h
}

/// Every layout the rule forest can be searched with on small inputs.
const RULE_LAYOUTS: [Option<(u32, u32)>; 5] = [
    None,
    Some((1, 10)),
    Some((2, 9)),
    Some((3, 8)),
    Some((5, 6)),
];

/// Checks every search under every layout; returns whether the rule formed any group (so the
/// caller can insist the inputs are not all singletons).
fn check_rule_forest(rule: &RuleSpec<'_>, what: &str) -> bool {
    let want = brute_rule_groups(rule);
    let mut multi = false;
    for (force, search) in RULE_LAYOUTS.into_iter().flat_map(|f| {
        [
            Search::Join,
            Search::Graph,
            Search::GraphIndex,
            Search::GraphScan,
        ]
        .map(|s| (f, s))
    }) {
        let edges = rule_forest_forced(rule, force, Some(search)).unwrap();
        // A forest: every edge satisfies the rule and joins two parts not yet joined.
        for &(x, y) in &edges {
            assert!(
                rule.links(x as usize, y as usize),
                "{what} {force:?} {search:?}: ({x}, {y})"
            );
        }
        assert_eq!(
            edges.len(),
            rule.primary.len() - want.sizes.len(),
            "{what} {force:?} {search:?}: not a spanning forest"
        );
        let a: Vec<u32> = edges.iter().map(|e| e.0).collect();
        let b: Vec<u32> = edges.iter().map(|e| e.1).collect();
        let got = components(rule.primary.len(), &a, &b).unwrap();
        assert_eq!(got, want, "{what} {force:?} {search:?}");
        multi |= want.sizes.iter().any(|&s| s > 1);
    }
    multi
}

#[test]
fn rule_forest_matches_brute_force_components() {
    on_every_level(check_rule_forests);
}

fn check_rule_forests() {
    for (seed, n) in [(1u64, 600usize), (2, 1500), (3, 2500)] {
        let mut rng = SplitMix(seed ^ 0xABC);
        for (name, primary) in [("uniform", uniform(n, seed)), ("skewed", skewed(n, seed))] {
            // Confirming codes correlated with the primary (so the second tier matters) and one
            // independent code (so it rejects).
            let second: Vec<u64> = primary
                .iter()
                .map(|&h| flip(h.rotate_left(17), rng.below(5), &mut rng))
                .collect();
            let colour: Vec<u64> = primary
                .iter()
                .map(|&h| flip(h ^ 0x5555, rng.below(3), &mut rng))
                .collect();
            let simple: Vec<bool> = (0..n).map(|_| rng.below(7) == 0).collect();
            let rules = [
                RuleSpec {
                    primary: &primary,
                    alone: Some(4),
                    wide: 9,
                    confirms: vec![Confirm {
                        codes: &second,
                        radius: 5,
                    }],
                    simple: &simple,
                    simple_both: false,
                    color: None,
                },
                RuleSpec {
                    primary: &primary,
                    alone: Some(8),
                    wide: 14,
                    confirms: vec![Confirm {
                        codes: &second,
                        radius: 10,
                    }],
                    simple: &[],
                    simple_both: false,
                    color: None,
                },
                RuleSpec {
                    primary: &primary,
                    alone: Some(3),
                    wide: 8,
                    confirms: vec![
                        Confirm {
                            codes: &second,
                            radius: 7,
                        },
                        Confirm {
                            codes: &colour,
                            radius: 2,
                        },
                    ],
                    simple: &simple,
                    simple_both: false,
                    color: None,
                },
                RuleSpec {
                    primary: &primary,
                    alone: None,
                    wide: 6,
                    confirms: vec![Confirm {
                        codes: &second,
                        radius: 4,
                    }],
                    simple: &simple,
                    simple_both: false,
                    color: None,
                },
                RuleSpec {
                    primary: &primary,
                    alone: None,
                    wide: 5,
                    confirms: vec![],
                    simple: &[],
                    simple_both: false,
                    color: None,
                },
                RuleSpec {
                    primary: &primary,
                    alone: Some(6),
                    wide: 2,
                    confirms: vec![],
                    simple: &simple,
                    simple_both: false,
                    color: None,
                },
            ];
            let mut grouped = 0;
            for (r, rule) in rules.iter().enumerate() {
                grouped += check_rule_forest(rule, &format!("{name} n={n} rule {r}")) as usize;
            }
            if name == "skewed" {
                assert_eq!(
                    grouped,
                    rules.len(),
                    "every rule should group some skewed hashes"
                );
            }
        }
    }
}

#[test]
fn rule_forest_joins_a_dense_cluster_and_rejects_bad_input() {
    // 3,000 near copies of one hash: one group, 2,999 edges.
    let mut rng = SplitMix(5);
    let centre = phash_like(&mut rng);
    let primary: Vec<u64> = (0..3000)
        .map(|_| perturb(centre, rng.below(3), &mut rng))
        .collect();
    let rule = RuleSpec {
        primary: &primary,
        alone: Some(8),
        wide: 8,
        confirms: vec![],
        simple: &[],
        simple_both: false,
        color: None,
    };
    let g = rule_groups(&rule).unwrap();
    assert_eq!(g.sizes, vec![3000]);
    let short = [1u64];
    let bad = RuleSpec {
        confirms: vec![Confirm {
            codes: &short,
            radius: 3,
        }],
        ..rule.clone()
    };
    assert!(rule_forest(&bad).unwrap_err().contains("confirming code 0"));
    let wide = RuleSpec {
        wide: 65,
        ..rule.clone()
    };
    assert!(rule_forest(&wide).is_err());
    let empty = RuleSpec {
        primary: &[],
        ..rule
    };
    assert_eq!(rule_forest(&empty).unwrap(), vec![]);
}

#[test]
fn rule_forest_is_the_same_on_any_number_of_threads() {
    // Clusters that chain into large groups, plus far-away strays: the scan runs in parallel
    // pieces over many images at once, and its forest must not depend on the thread count.
    let mut rng = SplitMix(11);
    let mut primary = Vec::new();
    for _ in 0..40 {
        let centre = phash_like(&mut rng);
        for _ in 0..rng.below(300) + 1 {
            primary.push(perturb(centre, rng.below(12), &mut rng));
        }
    }
    let rule = RuleSpec {
        primary: &primary,
        alone: Some(8),
        wide: 16,
        confirms: vec![],
        simple: &[],
        simple_both: false,
        color: None,
    };
    let on = |threads: usize, search: Search| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| rule_forest_forced(&rule, None, Some(search)).unwrap())
    };
    for search in [Search::Graph, Search::GraphScan] {
        let one = on(1, search);
        assert_eq!(
            one.len(),
            primary.len() - brute_rule_groups(&rule).sizes.len()
        );
        assert_eq!(on(3, search), one, "{search:?}");
    }
}

/// The default rule's shape without its guards: primary within 8 bits, or within 16 with the
/// confirming code within 16.
pub(super) fn default_like_rule<'a>(primary: &'a [u64], confirm: &'a [u64]) -> RuleSpec<'a> {
    RuleSpec {
        primary,
        alone: Some(8),
        wide: 16,
        confirms: vec![Confirm {
            codes: confirm,
            radius: 16,
        }],
        simple: &[],
        simple_both: false,
        color: None,
    }
}

#[test]
fn rule_forest_is_exact_on_a_chain_of_clusters_and_isolated_ones() {
    // A chain of clusters the search walks through, plus isolated clusters of copies that no
    // image of the chain links to (far away) and clusters just within reach of the chain (10
    // bits: inside the radii a batch cluster's leader is scanned with, outside the rule): the
    // groups stay exact.
    let mut rng = SplitMix(21);
    let mut primary = Vec::new();
    let mut confirm = Vec::new();
    let start = phash_like(&mut rng);
    let mut centre = start;
    for _ in 0..30 {
        for _ in 0..60 {
            primary.push(perturb(centre, rng.below(3), &mut rng));
            confirm.push(perturb(!centre, rng.below(3), &mut rng));
        }
        centre = perturb(centre, 6, &mut rng);
    }
    for c in 0..12 {
        // Even clusters far from everything, odd ones 10 bits from a chain cluster.
        let centre = if c % 2 == 0 {
            phash_like(&mut rng)
        } else {
            perturb(primary[rng.below(1800)], 10, &mut rng)
        };
        let dcentre = if c % 2 == 0 {
            phash_like(&mut rng)
        } else {
            !centre
        };
        for _ in 0..8 {
            primary.push(perturb(centre, rng.below(2), &mut rng));
            confirm.push(perturb(dcentre, rng.below(2), &mut rng));
        }
    }
    let rule = default_like_rule(&primary, &confirm);
    assert!(check_rule_forest(&rule, "chain and isolated clusters"));
}

/// Colour codes for `primary`'s rows: a code per hash neighbourhood with a few bits flipped,
/// some rows neutral (`NEUTRAL`), some unknown; contrasts 10-40 with some NaN (unknown) and 0.
fn colour_rows(primary: &[u64], rng: &mut SplitMix) -> (Vec<u64>, Vec<bool>, Vec<f64>) {
    let codes = primary
        .iter()
        .map(|&h| match rng.below(10) {
            0 => NEUTRAL,
            _ => flip((h >> 40).wrapping_mul(0x9E37_79B9), rng.below(6), rng),
        })
        .collect();
    let known = (0..primary.len()).map(|_| rng.below(10) != 0).collect();
    let contrast = (0..primary.len())
        .map(|_| match rng.below(12) {
            0 => f64::NAN,
            1 => 0.0,
            _ => 10.0 + rng.below(31) as f64,
        })
        .collect();
    (codes, known, contrast)
}

const NEUTRAL: u64 = 0x0F0F_0F0F_0F0F_0F0F;

#[test]
fn rule_forest_with_the_colour_check_matches_brute_force_components() {
    on_every_level(|| {
        for (seed, n) in [(7u64, 800usize), (8, 2000)] {
            let mut rng = SplitMix(seed);
            for (name, primary) in [("uniform", uniform(n, seed)), ("skewed", skewed(n, seed))] {
                let second: Vec<u64> = primary
                    .iter()
                    .map(|&h| flip(h.rotate_left(9), rng.below(6), &mut rng))
                    .collect();
                let (codes, known, contrast) = colour_rows(&primary, &mut rng);
                let simple: Vec<bool> = (0..n).map(|_| rng.below(4) == 0).collect();
                let mut grouped = 0;
                for (r, (alone, wide, kd, kc, both, alone_too)) in [
                    (Some(6), 12, 8, 3, true, true),
                    (Some(8), 16, 16, 6, false, true),
                    (Some(6), 10, 7, 2, true, false),
                    (None, 8, 6, 4, true, true),
                ]
                .into_iter()
                .enumerate()
                {
                    let rule = RuleSpec {
                        primary: &primary,
                        alone,
                        wide,
                        confirms: vec![Confirm {
                            codes: &second,
                            radius: kd,
                        }],
                        simple: &simple,
                        simple_both: both,
                        color: Some(ColorCheck {
                            codes: &codes,
                            known: &known,
                            contrast: &contrast,
                            radius: kc,
                            copy_radius: alone.unwrap_or(5),
                            neutral: NEUTRAL,
                            gray_ratio: 1.5,
                            alone_too,
                        }),
                    };
                    grouped +=
                        check_rule_forest(&rule, &format!("{name} n={n} colour rule {r}")) as usize;
                }
                if name == "skewed" {
                    assert_eq!(
                        grouped, 4,
                        "every colour rule should group some skewed hashes"
                    );
                }
            }
        }
    });
}

#[test]
fn colour_check_follows_the_grayscale_copy_exemption() {
    // Rows: 0 coloured, 1 neutral (contrast 30), 2 neutral (contrast 45.1: > 1.5x row 0's 30),
    // 3 coloured unknown, 4 neutral with unknown contrast, 5 neutral contrast 0, 6 contrast 0.
    let primary = [0u64, 1, 1, 1, 1, 1, 1];
    let confirm = [0u64; 7];
    let codes = [0xFFu64, NEUTRAL, NEUTRAL, 0xFF, NEUTRAL, NEUTRAL, 0xFF];
    let known = [true, true, true, false, true, true, true];
    let contrast = [30.0, 30.0, 45.1, 30.0, f64::NAN, 0.0, 0.0];
    let rule = RuleSpec {
        primary: &primary,
        alone: Some(1),
        wide: 1,
        confirms: vec![Confirm {
            codes: &confirm,
            radius: 0,
        }],
        simple: &[],
        simple_both: true,
        color: Some(ColorCheck {
            codes: &codes,
            known: &known,
            contrast: &contrast,
            radius: 0,
            copy_radius: 1,
            neutral: NEUTRAL,
            gray_ratio: 1.5,
            alone_too: true,
        }),
    };
    assert!(rule.links(0, 1)); // a grayscale copy, same contrast
    assert!(!rule.links(0, 2)); // contrasts 1.503x apart
    assert!(!rule.links(0, 3)); // unknown signature never passes
    assert!(rule.links(0, 4)); // unknown contrast passes
    assert!(!rule.links(0, 5)); // 30 / 0 is inf
    assert!(rule.links(5, 6)); // 0 / 0 is NaN: passes (as NumPy)
    assert!(rule.links(0, 6)); // same signature: no contrast needed
    // Outside the copy radius the exemption is closed.
    let far = RuleSpec {
        color: rule.color.map(|c| ColorCheck {
            copy_radius: 0,
            ..c
        }),
        ..rule.clone()
    };
    assert!(!far.links(0, 1) && far.links(0, 6));
}

/// The counting-sort output path (`expand.rs`): rows far longer than one parallel block, runs of
/// equal hashes whose members interleave with their near neighbours' (so `min`/`max` swaps and
/// the distance-0 run pairs matter), and near pairs across runs, checked against brute force.
#[test]
fn pair_columns_of_equal_runs_and_long_rows_match_brute_force() {
    let mut rng = SplitMix(41);
    let centre = phash_like(&mut rng);
    let near = perturb(centre, 1, &mut rng);
    let mut hashes: Vec<u64> = (0..900)
        .map(|i| match i % 3 {
            0 => centre,
            1 => near,
            _ => perturb(centre, 2 + rng.below(3), &mut rng),
        })
        .collect();
    // Enough items for rows to be cut into spans of several rows (n > 2,048).
    hashes.extend(uniform(100, 42));
    hashes.extend(skewed(4000, 44));
    for k in [0, 2, 5, 8] {
        let expected = brute_self_pairs(&hashes, k);
        let got = self_pair_columns(&hashes, k);
        assert_eq!(got.len(), expected.len(), "k={k}");
        assert_eq!(got.clone().into_pairs(), expected, "k={k}");
        assert_eq!(PairColumns::from_pairs(expected), got, "k={k}");
    }
    // 300 equal hashes alone give 44,850 pairs at distance 0: several blocks of rows.
    assert!(brute_self_pairs(&hashes, 0).len() > 2 * (1 << 14));
    let query: Vec<u64> = hashes.iter().step_by(7).map(|&h| h ^ 1).collect();
    for k in [1, 4, 8] {
        let want = brute_cross_pairs(&hashes, &query, k);
        assert_eq!(cross_pair_columns(&hashes, &query, k).into_pairs(), want);
    }
}

/// Chunk radii are the generalised pigeonhole's smallest: `sum(r + 1) = k + 1` (any less and a
/// pair within `k` could miss every chunk), spread evenly.
#[test]
fn chunk_radii_sum_to_the_generalised_pigeonhole() {
    for k in 0..=24u32 {
        for m in 1..=k + 1 {
            let r = super::plan::radii(k, m);
            assert_eq!(r.len(), m as usize);
            assert_eq!(r.iter().map(|&t| t + 1).sum::<u32>(), k + 1, "k={k} m={m}");
            let (lo, hi) = (r.iter().min().unwrap(), r.iter().max().unwrap());
            assert!(hi - lo <= 1, "k={k} m={m}: {r:?}");
        }
    }
    assert_eq!(super::plan::radii(16, 4), vec![3, 3, 3, 4]);
}

/// `Lanes::fresh16` keeps exactly the hits whose pair had more differing bits than the chunk's
/// radius under every earlier chunk mask, on every kernel (the join's only guard against
/// reporting a pair twice); the radii differ between chunks.
#[test]
fn fresh_filter_keeps_hits_not_seen_in_earlier_chunks() {
    use super::join::{LANE, Lanes, Portable};
    let mut rng = SplitMix(43);
    for round in 0..2000 {
        let x = rng.next_u64();
        let lane: [u64; LANE] = std::array::from_fn(|_| {
            // Mostly near x, so every outcome of the filter occurs.
            let mut y = x;
            for _ in 0..rng.below(10) {
                y ^= 1 << rng.below(64);
            }
            y
        });
        let earlier: Vec<(u64, u32)> = (0..round % 5)
            .map(|_| (rng.next_u64(), rng.below(4) as u32))
            .collect();
        let hits = rng.next_u64() as u32 & 0xffff;
        let mut want = 0u32;
        for (t, &y) in lane.iter().enumerate() {
            let fresh = earlier.iter().all(|&(e, r)| ((x ^ y) & e).count_ones() > r);
            if hits >> t & 1 == 1 && fresh {
                want |= 1 << t;
            }
        }
        assert_eq!(Portable::fresh16(x, &lane, hits, &earlier), want);
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::detected() == crate::cpu::Level::Avx512 {
            use super::join::Avx512;
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt,avx2")]
            fn v512(x: u64, lane: &[u64; LANE], hits: u32, earlier: &[(u64, u32)]) -> u32 {
                Avx512::fresh16(x, lane, hits, earlier)
            }
            // SAFETY: the CPU has every feature v512 is compiled for.
            let got = unsafe { v512(x, &lane, hits, &earlier) };
            assert_eq!(got, want, "round {round}");
        }
    }
}

/// `Lanes::append16` appends exactly the masked slots, in order, on every kernel: the join's
/// hits pass through it (a lost or repeated slot would lose or repeat a pair), at every fill of
/// the batch up to its capacity.
#[test]
fn append_keeps_the_masked_slots_in_order() {
    use super::join::{HITS_BUF, HITS_CAP, Lanes, Portable};
    let mut rng = SplitMix(47);
    for round in 0..3000 {
        let m = match round % 4 {
            0 => rng.next_u64() as u32 & 0xffff,
            1 => 0xffff,
            2 => 1 << rng.below(16),
            _ => 0,
        };
        let packed = rng.next_u64() >> 17;
        let n0 = rng.below(HITS_CAP);
        let want: Vec<u64> = (0..16u64)
            .filter(|&t| m >> t & 1 == 1)
            .map(|t| packed + t)
            .collect();
        let check = |append: &dyn Fn(&mut [u64; HITS_BUF], &mut usize)| {
            let mut out = [u64::MAX; HITS_BUF];
            let mut n = n0;
            append(&mut out, &mut n);
            assert_eq!(n, n0 + want.len(), "round {round}");
            assert_eq!(&out[n0..n], &want[..], "round {round}");
            assert!(out[..n0].iter().all(|&v| v == u64::MAX), "round {round}");
        };
        check(&|out, n| Portable::append16(packed, m, out, n));
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::detected() == crate::cpu::Level::Avx512 {
            use super::join::Avx512;
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt,avx2")]
            fn v512(packed: u64, m: u32, out: &mut [u64; HITS_BUF], n: &mut usize) {
                Avx512::append16(packed, m, out, n);
            }
            // SAFETY: the CPU has every feature v512 is compiled for.
            check(&|out, n| unsafe { v512(packed, m, out, n) });
        }
    }
}

#[test]
fn sorted_pairs_equal_a_plain_sort() {
    let mut rng = SplitMix(77);
    let cases: Vec<(&str, Vec<u64>)> = vec![
        ("empty", vec![]),
        ("one", vec![5]),
        ("uniform", uniform(10_000, 3)),
        ("skewed", skewed(5000, 4)),
        // Every hash shares its top 20 bits: one bucket of them all, sorted in parallel.
        (
            "one bucket",
            (0..70_000)
                .map(|_| 0xABCDE << 44 | rng.next_u64() >> 20)
                .collect(),
        ),
        (
            "copies",
            (0..20_000u64)
                .map(|i| (i % 37) * 0x0101_0101_0101_0101)
                .collect(),
        ),
    ];
    for (name, hashes) in cases {
        let mut want: Vec<(u64, u32)> = (0..hashes.len() as u32)
            .map(|i| (hashes[i as usize], i))
            .collect();
        want.sort_unstable();
        // The input is dealt in one piece per thread: one, two and three pieces.
        for threads in [1, 2, 3] {
            let got = with_threads(Some(threads), || unique::sorted_pairs(&hashes));
            assert!(got == want, "{name}, {threads} threads");
        }
    }
}
