//! One blob through exactly what `imgstats.scan(list_of_bytes)` runs per input: header probe,
//! decode and every metric (`scan_one` with all metrics).
//!
//! `scan_one` turns a decoder panic into an error row, but libfuzzer-sys installs a panic hook
//! that aborts first, so any panic on the way is reported as a crash: a panic is a bug even
//! when the scan survives it.
#![no_main]

use imgstats::{Options, Source, scan_one};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // 4 MP bounds what a mutated header may make a decoder allocate (~8 bytes a pixel), so
    // libFuzzer's RSS limit catches leaks rather than legitimate large declared sizes; the
    // limit is checked before any allocation, as in a default scan.
    let opts = Options {
        max_pixels: 4_000_000,
        ..Options::default()
    };
    let record = scan_one(Source::Bytes(data), &opts);
    if record.error.is_none() {
        // A measured image has a size: every success path fills the header columns.
        assert!(record.width.is_some() && record.height.is_some());
    }
});
