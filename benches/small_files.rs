//! Per-image cost of the scan's phases on small files (not a test: never gates CI). Run with
//! `cargo bench --bench small_files -- LIST [N] [REPS]` where LIST holds one image path per
//! line (`benches/.data/fashion-mnist-png.txt` after `python benches/bench_scan.py --corpus
//! mnist`). Files are read into memory first, so the phases other than `scan_one (path)` exclude
//! the file system; one thread. Prints microseconds of CPU time (this thread's, so other load on
//! the machine does not count) per image for each phase (median of REPS).
//!
//! `-- LIST N REPS --per-mp` is the same for large images, in milliseconds per megapixel, with
//! the JPEG decode split into its stages (libjpeg-turbo to Y/Cb/Cr planes = Huffman decode + IDCT;
//! to RGB adds its chroma upsampling and colour conversion) and the colour work of the full scan
//! (the 512-px RGB plane, colour statistics, weather statistics). The Huffman/IDCT split inside
//! libjpeg-turbo comes from `perf` (benches/README.md).

use imgstats::{
    DecodeRequest, Decoded, METRIC_NAMES, Metrics, OPT_IN_METRICS, Options, Source, ahash, dhash,
    hashes, phash, probe, probe_and_decode, resize_lanczos_l8, scan_one, stats,
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
    let per_mp = args.iter().any(|a| a == "--per-mp");
    let args: Vec<String> = args.into_iter().filter(|a| a != "--per-mp").collect();
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
    if per_mp {
        large_images(&files, reps);
        return;
    }
    let opts = Options::default();
    let limit = opts.max_pixels;
    let decoded: Vec<Decoded> = files
        .iter()
        .map(|d| {
            let (_, dec) = probe_and_decode(d, limit, |_| {
                Some(DecodeRequest {
                    reduction: 1,
                    need_rgb: true,
                    rgb_rows: Default::default(),
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
    // Opt-in metrics (the crop-resistant hash: milliseconds an image) are not in the scan.
    for &name in METRIC_NAMES.iter().filter(|n| !OPT_IN_METRICS.contains(n)) {
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
                        rgb_rows: Default::default(),
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

/// Milliseconds per megapixel of each phase of the full scan on large images (JPEGs), one thread.
fn large_images(files: &[Vec<u8>], reps: usize) {
    use imgstats::{fit_long_side, luma_from_rgb, reduce_box_l8, resize_area_rgb8};
    use turbojpeg::{Decompressor, PixelFormat, YuvImage};
    let opts = Options::default();
    let limit = opts.max_pixels;
    let decode = |d: &[u8]| {
        let (_, dec) = probe_and_decode(d, limit, |_| {
            Some(DecodeRequest {
                reduction: 1,
                need_rgb: true,
                rgb_rows: Default::default(),
            })
        })
        .expect("probe");
        dec.expect("decode requested").expect("decode")
    };
    let decoded: Vec<Decoded> = files.iter().map(|d| decode(d)).collect();
    let mp: f64 = decoded
        .iter()
        .map(|d| (d.pixels.width * d.pixels.height) as f64 / 1e6)
        .sum();
    let rgb: Vec<Vec<u8>> = files
        .iter()
        .map(|d| {
            turbojpeg::decompress(d, PixelFormat::RGB)
                .expect("rgb")
                .pixels
        })
        .collect();
    let mut sink = 0u64;
    let report = |name: &str, us_per_image: f64| {
        println!(
            "{name:<40} {:7.2} ms/MP",
            us_per_image * files.len() as f64 / 1e3 / mp
        );
    };
    let n = files.len();
    // PHASES=a,b: only the phases whose name contains one of these (the decodes are slow).
    let only: Option<Vec<String>> = std::env::var("PHASES")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let phase = |name: &str, f: &mut dyn FnMut()| {
        if only
            .as_ref()
            .is_none_or(|o| o.iter().any(|p| name.contains(p.as_str())))
        {
            report(name, per_image_us(reps, n, f));
        }
    };
    let to = |format: PixelFormat| {
        move |d: &[u8]| {
            let mut dec = Decompressor::new().unwrap();
            let h = dec.read_header(d).unwrap();
            let mut buf = vec![0u8; h.width * h.height * format.size()];
            let image = turbojpeg::Image {
                pixels: buf.as_mut_slice(),
                width: h.width,
                pitch: h.width * format.size(),
                height: h.height,
                format,
            };
            dec.decompress(d, image).unwrap();
            buf[buf.len() / 2] as u64
        }
    };
    phase("scan_one, every metric", &mut || {
        for d in files {
            sink ^= scan_one(Source::Bytes(d), &opts).file_size.unwrap_or(0);
        }
    });
    phase("libjpeg -> Y/Cb/Cr planes", &mut || {
        for d in files {
            let mut dec = Decompressor::new().unwrap();
            let h = dec.read_header(d).unwrap();
            let len = turbojpeg::yuv_pixels_len(h.width, 1, h.height, h.subsamp).unwrap();
            let mut buf = vec![0u8; len];
            let image = YuvImage {
                pixels: buf.as_mut_slice(),
                width: h.width,
                align: 1,
                height: h.height,
                subsamp: h.subsamp,
            };
            sink ^= dec
                .decompress_to_yuv(d, image)
                .map_or(1, |_| buf[len / 2] as u64);
        }
    });
    let to_rgb = to(PixelFormat::RGB);
    phase("libjpeg -> RGB", &mut || {
        for d in files {
            sink ^= to_rgb(d);
        }
    });
    let to_gray = to(PixelFormat::GRAY);
    phase("libjpeg -> Y only", &mut || {
        for d in files {
            sink ^= to_gray(d);
        }
    });
    phase("decode as the scan does (planes + luma)", &mut || {
        for d in files {
            sink ^= decode(d).pixels.luma[0] as u64;
        }
    });
    let planar: Vec<_> = decoded
        .iter()
        .filter_map(|d| d.pixels.ycbcr.as_ref())
        .collect();
    phase("  planes -> exact luma", &mut || {
        for p in &planar {
            sink ^= p.luma()[0] as u64;
        }
    });
    phase("  planes -> exact RGB rows", &mut || {
        for p in &planar {
            p.for_each_rgb_row(|row| sink ^= row[0] as u64);
        }
    });
    phase(
        "  planes -> luma + RGB rows + colour sums (the scan's kernel)",
        &mut || {
            for p in &planar {
                let mut sums = stats::ColorSums::default();
                sink ^= p.luma_color_and_rgb_rows(&mut sums, |row| sink ^= row[0] as u64)[0] as u64;
            }
        },
    );
    phase("luma_from_rgb (the RGB path)", &mut || {
        for r in &rgb {
            sink ^= luma_from_rgb(r)[0] as u64;
        }
    });
    phase("histogram stats", &mut || {
        for d in &decoded {
            sink ^= stats::luma_stats(&stats::histogram(&d.pixels.luma)).mean as u64;
        }
    });
    phase("laplace alone (native)", &mut || {
        for d in &decoded {
            let p = &d.pixels;
            sink ^= stats::second_derivatives(&p.luma, p.width, p.height, false).0 as u64;
        }
    });
    phase("luma plane read (sum)", &mut || {
        for d in &decoded {
            sink ^= d.pixels.luma.iter().map(|&v| v as u64).sum::<u64>();
        }
    });
    phase("laplace+noise (native)", &mut || {
        for d in &decoded {
            let p = &d.pixels;
            sink ^= stats::second_derivatives(&p.luma, p.width, p.height, true).0 as u64;
        }
    });
    phase("sharpness (area 640 + laplace)", &mut || {
        for d in &decoded {
            let p = &d.pixels;
            let (w, h) = fit_long_side(p.width, p.height, imgstats::SHARPNESS_LONG_SIDE);
            let small = imgstats::resize_area_l8(&p.luma, p.width, p.height, w, h);
            sink ^= stats::second_derivatives(&small, w, h, false).0 as u64;
        }
    });
    phase("hashes (box reduce + p/d/a hash)", &mut || {
        for d in &decoded {
            let p = &d.pixels;
            let f = (p.width.min(p.height) / imgstats::HASH_MIN_SIDE).clamp(1, 8);
            let f = 1 << f.ilog2();
            let (plane, w, h) = reduce_box_l8(&p.luma, p.width, p.height, f);
            sink ^= hashes(&plane, w, h)[0];
        }
    });
    phase("colour stats (RGB buffer)", &mut || {
        for r in &rgb {
            sink ^= stats::color_stats(r).is_grayscale as u64;
        }
    });
    phase("512-px RGB plane (area, RGB buffer)", &mut || {
        for (d, r) in decoded.iter().zip(&rgb) {
            let p = &d.pixels;
            let (w, h) = fit_long_side(p.width, p.height, 512);
            sink ^= resize_area_rgb8(r, p.width, p.height, w, h)[0] as u64;
        }
    });
    phase("512-px RGB plane (area, streamed rows)", &mut || {
        for (d, r) in decoded.iter().zip(&rgb) {
            let p = &d.pixels;
            let (w, h) = fit_long_side(p.width, p.height, 512);
            let mut s = imgstats::AreaRgbStream::new(p.width, p.height, w, h);
            r.chunks_exact(3 * p.width).for_each(|row| s.push(row));
            sink ^= s.finish()[0] as u64;
        }
    });
    let small: Vec<(Vec<u8>, usize, usize)> = decoded
        .iter()
        .zip(&rgb)
        .map(|(d, r)| {
            let p = &d.pixels;
            let (w, h) = fit_long_side(p.width, p.height, 512);
            (resize_area_rgb8(r, p.width, p.height, w, h), w, h)
        })
        .collect();
    phase("weather stats on the 512 plane", &mut || {
        for (plane, w, h) in &small {
            sink ^= stats::atmosphere::atmosphere(plane, *w, *h).haze as u64;
            sink ^= stats::illuminant::illuminant(plane).warmth as u64;
            let luma = luma_from_rgb(plane);
            sink ^= stats::motion::motion(&luma, *w, *h).motion_blur as u64;
        }
    });
    phase("pixel_hash (xxh3 of RGB)", &mut || {
        for r in &rgb {
            sink ^= xxhash_rust::xxh3::xxh3_64(r);
        }
    });
    println!("({n} images, {mp:.1} MP, checksum {sink})");
}
