//! Per-image cost of the scan's phases on small files (not a test: never gates CI). Run with
//! `cargo bench --bench small_files -- LIST [N] [REPS]` where LIST holds one image path per
//! line (`benches/.data/fashion-mnist-png.txt` after `python benches/bench_scan.py --corpus
//! mnist`). Files are read into memory first, so the phases other than `scan_one (path)` exclude
//! the file system; one thread. Prints microseconds of CPU time (this thread's, so other load on
//! the machine does not count) per image for each phase (median of REPS).

use imgstats::{
    DecodeRequest, Decoded, METRIC_NAMES, Metrics, Options, Source, ahash, dhash, hashes, phash,
    probe, probe_and_decode, resize_lanczos_l8, scan_one, stats,
};

/// CPU time of this thread in seconds: the machine is shared, and wall time would count the
/// time other processes held the core.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to; the clock id is a constant Linux knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn per_image_us(reps: usize, n: usize, mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..reps)
        .map(|_| {
            let t = thread_cpu_seconds();
            f();
            (thread_cpu_seconds() - t) * 1e6 / n as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let list = args
        .first()
        .expect("usage: small_files LIST [N] [REPS]")
        .clone();
    let n: usize = args.get(1).map_or(5000, |s| s.parse().unwrap());
    let reps: usize = args.get(2).map_or(5, |s| s.parse().unwrap());
    let paths: Vec<std::path::PathBuf> = std::fs::read_to_string(&list)
        .expect("read list")
        .lines()
        .filter(|l| !l.is_empty())
        .take(n)
        .map(std::path::PathBuf::from)
        .collect();
    let files: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("read image"))
        .collect();
    let n = files.len();
    let opts = Options::default();
    let limit = opts.max_pixels;
    let decoded: Vec<Decoded> = files
        .iter()
        .map(|d| {
            let (_, dec) = probe_and_decode(d, limit, |_| {
                Some(DecodeRequest {
                    reduction: 1,
                    need_rgb: true,
                })
            })
            .expect("probe");
            dec.expect("decode requested").expect("decode")
        })
        .collect();
    let mut sink = 0u64;
    let report = |name: &str, us: f64| println!("{name:<22} {us:8.2} µs/image");
    report(
        "scan_one (all)",
        per_image_us(reps, n, || {
            for d in &files {
                sink ^= scan_one(Source::Bytes(d), &opts).file_size.unwrap_or(0);
            }
        }),
    );
    report(
        "scan_one (path)",
        per_image_us(reps, n, || {
            for p in &paths {
                sink ^= scan_one(Source::Path(p), &opts).file_size.unwrap_or(0);
            }
        }),
    );
    // Each metric alone, on bytes: the decode it needs plus its own work (brightness alone is
    // about the decode, so the difference to it is the metric's cost).
    for &name in METRIC_NAMES {
        let one = Options {
            metrics: Metrics::from_names(&[name]).expect("known metric"),
            ..Options::default()
        };
        report(
            &format!("  only {name}"),
            per_image_us(reps, n, || {
                for d in &files {
                    sink ^= scan_one(Source::Bytes(d), &one).file_size.unwrap_or(0);
                }
            }),
        );
    }
    report(
        "probe",
        per_image_us(reps, n, || {
            for d in &files {
                sink ^= u64::from(probe(d, limit).map_or(0, |h| h.width));
            }
        }),
    );
    report(
        "probe+decode",
        per_image_us(reps, n, || {
            for d in &files {
                let r = probe_and_decode(d, limit, |_| {
                    Some(DecodeRequest {
                        reduction: 1,
                        need_rgb: true,
                    })
                });
                sink ^= r.map_or(0, |(h, _)| u64::from(h.height));
            }
        }),
    );
    report(
        "hashes",
        per_image_us(reps, n, || {
            for d in &decoded {
                let p = &d.pixels;
                sink ^= hashes(&p.luma, p.width, p.height)[0];
            }
        }),
    );
    for (name, f) in [
        ("  phash", phash as fn(&[u8], usize, usize) -> u64),
        ("  dhash", dhash),
        ("  ahash", ahash),
    ] {
        report(
            name,
            per_image_us(reps, n, || {
                for d in &decoded {
                    let p = &d.pixels;
                    sink ^= f(&p.luma, p.width, p.height);
                }
            }),
        );
    }
    report(
        "  resize 32x32",
        per_image_us(reps, n, || {
            for d in &decoded {
                let p = &d.pixels;
                sink ^= u64::from(resize_lanczos_l8(&p.luma, p.width, p.height, 32, 32)[5]);
            }
        }),
    );
    report(
        "histogram stats",
        per_image_us(reps, n, || {
            for d in &decoded {
                sink ^= stats::luma_stats(&stats::histogram(&d.pixels.luma)).mean as u64;
            }
        }),
    );
    report(
        "laplace+noise",
        per_image_us(reps, n, || {
            for d in &decoded {
                let p = &d.pixels;
                sink ^= stats::second_derivatives(&p.luma, p.width, p.height, true).0 as u64;
            }
        }),
    );
    report(
        "content hash",
        per_image_us(reps, n, || {
            for d in &files {
                sink ^= xxhash_rust::xxh3::xxh3_128(d) as u64;
            }
        }),
    );
    println!("({n} images, checksum {sink})");
}
