//! Cost of the weather kernels on one 512×384 analysis plane (not a test: never gates CI).
//! `cargo bench --bench weather_kernels [REPS]`: microseconds per image, median of REPS runs, one
//! thread, next to the existing colour pass (`color_stats`) for scale.

use imgstats::luma_from_rgb;
use imgstats::stats::{atmosphere, color_stats, illuminant, motion};
use std::hint::black_box;
use std::time::Instant;

fn median_us(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let reps: usize = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .and_then(|a| a.parse().ok())
        .unwrap_or(51);
    let (w, h) = (512usize, 384usize);
    // A smooth picture with texture on top: gradients in every direction, no flat areas.
    let mut seed = 1u64;
    let rgb: Vec<u8> = (0..w * h * 3)
        .map(|i| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (p, c) = (i / 3, i % 3);
            let (x, y) = (p % w, p / w);
            let base = (x * 200 / w + y * 40 / h + c * 10) as u64;
            (base + (seed >> 59)).min(255) as u8
        })
        .collect();
    let luma = luma_from_rgb(&rgb);
    let rows = [
        (
            "haze + airlight",
            median_us(reps, || {
                black_box(atmosphere::atmosphere(black_box(&rgb), w, h));
            }),
        ),
        (
            "saturation + warmth + tint",
            median_us(reps, || {
                black_box(illuminant::illuminant(black_box(&rgb)));
            }),
        ),
        (
            "motion_blur + blur_angle",
            median_us(reps, || {
                black_box(motion::motion(black_box(&luma), w, h));
            }),
        ),
        (
            "(existing) color_stats",
            median_us(reps, || {
                black_box(color_stats(black_box(&rgb)));
            }),
        ),
    ];
    println!("{w}x{h} RGB, median of {reps} runs, one thread");
    for (name, us) in rows {
        println!("{name:30} {us:8.0} µs");
    }
}
