//! Timing of the Hamming index (not a test: never gates CI). Run with
//! `cargo bench --bench neighbors -- [uniform|realistic=FILE] N K [groups|pairs|leak|brute] [REPS] [THREADS]`
//! where FILE holds real pHashes, one hex value per line (`benches/bench_neighbors.py --dump`).
//! Prints one JSON line per run: median/min seconds, result size, plan.

use imgstats::neighbors as nb;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

/// Real pHashes tiled to `n` items, each copy with 0..=20 random AC bits flipped (the DC bit,
/// the most significant, is kept): clusters of near copies with the real bit correlations.
fn realistic(path: &str, n: usize, seed: u64) -> Vec<u64> {
    let text = std::fs::read_to_string(path).expect("read hash file");
    let real: Vec<u64> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| u64::from_str_radix(l.trim(), 16).expect("hex hash"))
        .collect();
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let mut h = real[i % real.len()];
            if i >= real.len() {
                for _ in 0..rng.below(21) {
                    h ^= 1 << rng.below(63);
                }
            }
            h
        })
        .collect()
}

fn uniform(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng(seed);
    (0..n).map(|_| rng.next()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let source = args.first().map_or("uniform", String::as_str).to_string();
    let n: usize = args.get(1).map_or(1_000_000, |s| s.parse().unwrap());
    let k: u32 = args.get(2).map_or(8, |s| s.parse().unwrap());
    let what = args.get(3).map_or("groups", String::as_str).to_string();
    let reps: usize = args.get(4).map_or(3, |s| s.parse().unwrap());
    let threads: Option<usize> = args.get(5).map(|s| s.parse().unwrap());
    let make = |n: usize, seed: u64| match source.strip_prefix("realistic=") {
        Some(path) => realistic(path, n, seed),
        None => uniform(n, seed),
    };
    let hashes = make(n, 1);
    // Leakage: `n` train hashes vs n/10 test hashes, a third of them near copies of train items.
    let query: Vec<u64> = if what == "leak" {
        let mut rng = Rng(99);
        let fresh = make(n / 10, 2);
        (0..n / 10)
            .map(|i| {
                if i % 3 == 0 {
                    hashes[rng.below(n as u64) as usize] ^ (1 << rng.below(63))
                } else {
                    fresh[i]
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    // IMGSTATS_PLAN="m,width" forces a layout (to calibrate the planner's cost model).
    let forced = std::env::var("IMGSTATS_PLAN").ok().map(|s| {
        let v: Vec<u32> = s.split(',').map(|x| x.parse().unwrap()).collect();
        nb::forced_plan(&hashes, k, v[0], v[1])
    });
    let plan = forced.clone().unwrap_or_else(|| nb::self_plan(&hashes, k));
    let mut times = Vec::new();
    let mut size = 0usize;
    for _ in 0..reps {
        let t = Instant::now();
        size = nb::with_threads(threads, || match what.as_str() {
            "pairs" => match &forced {
                Some(p) => nb::self_pair_columns_with_plan(&hashes, k, p).len(),
                None => nb::self_pair_columns(&hashes, k).len(),
            },
            "leak" => nb::nearest(&hashes, &query, k).len(),
            "brute" => nb::brute_self_pairs(&hashes, k).len(),
            _ => match &forced {
                Some(p) => nb::groups_with_plan(&hashes, k, p).sizes.len(),
                None => nb::groups(&hashes, k).sizes.len(),
            },
        });
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"source\":\"{}\",\"n\":{n},\"k\":{k},\"what\":\"{what}\",\"median_s\":{:.4},\"min_s\":{:.4},\"result\":{size},\"isa\":\"{:?}\",\"plan\":\"m={} width={} radii={:?}\"}}",
        source.split('/').next_back().unwrap_or(""),
        times[times.len() / 2],
        times[0],
        imgstats::simd_level(),
        plan.chunks.len(),
        plan.width,
        plan.radii,
    );
}
