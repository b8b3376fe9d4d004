//! The one place that decides which SIMD kernels run: every vectorised loop in the crate (pixel
//! loops, the Pillow-exact resize, the Hamming join) asks [`level`], so one environment variable
//! steers all of them and tests can run each kernel on every level this CPU has.
//!
//! Levels are cumulative: a CPU at [`Level::Avx512`] also runs the AVX2 kernels, so a kernel
//! family with only an AVX2 variant uses it from `Avx2` up.
//!
//! `IMGSTATS_SIMD=scalar|avx2|avx512|auto` overrides the choice (a level the CPU lacks falls
//! back to the best one it has: an override can slow a run down, never crash it);
//! `IMGSTATS_NO_SIMD=1` is the older spelling of `scalar`. The choice is made once per process.

use std::sync::OnceLock;

/// A set of CPU features that kernels are compiled for. Ordered: a higher level includes the
/// lower ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Baseline x86-64 (SSE2) or any other architecture: the portable Rust loops.
    Scalar,
    /// AVX2 and POPCNT (Haswell, Zen and later).
    Avx2,
    /// AVX-512 F/BW/VL with VPOPCNTDQ (Ice Lake, Zen 4 and later).
    Avx512,
}

impl Level {
    /// Parse an `IMGSTATS_SIMD` value; `None` for `auto` and unknown values.
    fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "none" | "baseline" | "off" => Some(Level::Scalar),
            "avx2" => Some(Level::Avx2),
            "avx512" => Some(Level::Avx512),
            _ => None,
        }
    }
}

/// The best level this CPU supports (hardware only, no override).
pub fn detected() -> Level {
    static DETECTED: OnceLock<Level> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("popcnt");
            if avx2
                && has!("avx512f")
                && has!("avx512bw")
                && has!("avx512vl")
                && has!("avx512vpopcntdq")
            {
                return Level::Avx512;
            }
            if avx2 {
                return Level::Avx2;
            }
        }
        Level::Scalar
    })
}

/// The level every kernel uses: `detected()`, lowered by `IMGSTATS_SIMD` / `IMGSTATS_NO_SIMD`.
/// Never above `detected()`, which is what makes the `unsafe` calls of the kernels sound.
pub fn level() -> Level {
    #[cfg(test)]
    if let Some(forced) = testing::forced() {
        return forced;
    }
    configured()
}

fn configured() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let wanted = if var("IMGSTATS_NO_SIMD").is_some_and(|v| v != "0") {
            Some(Level::Scalar)
        } else {
            var("IMGSTATS_SIMD").and_then(|v| Level::parse(&v))
        };
        wanted.map_or(detected(), |w| w.min(detected()))
    })
}

/// Every level this CPU can run, lowest first (what the per-level tests iterate over).
#[cfg(test)]
pub(crate) fn available() -> Vec<Level> {
    [Level::Scalar, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|&l| l <= detected())
        .collect()
}

/// Define `pub fn $name` whose body is compiled twice: as written, and with AVX2 enabled (the
/// loops are written so that LLVM vectorises them; AVX2 doubles the vector width). The AVX2 copy
/// runs when [`level`] is at least [`Level::Avx2`].
macro_rules! dispatch {
    // A kernel that writes into its arguments and returns nothing.
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $crate::cpu::dispatch! { $(#[$m])* pub fn $name($($arg: $ty),*) -> () $body }
    };
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$m])*
        pub fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn body($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                if $crate::cpu::level() >= $crate::cpu::Level::Avx2 {
                    $crate::cpu::note($crate::cpu::Level::Avx2);
                    // SAFETY: `level()` is never above what the CPU supports, so it has AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $crate::cpu::note($crate::cpu::Level::Scalar);
            body($($arg),*)
        }
    };
}

pub(crate) use dispatch;

/// [`dispatch!`] with a third copy compiled for AVX-512 (F/BW/VL), run at [`Level::Avx512`]: for
/// the integer pixel kernels whose 32-bit lanes double again with 512-bit vectors (the JPEG
/// planes' colour conversion, the streamed area resize and colour sums).
macro_rules! dispatch_avx512 {
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $crate::cpu::dispatch_avx512! { $(#[$m])* pub fn $name($($arg: $ty),*) -> () $body }
    };
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$m])*
        pub fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn body($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
                fn avx512($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                if $crate::cpu::level() >= $crate::cpu::Level::Avx512 {
                    $crate::cpu::note($crate::cpu::Level::Avx512);
                    // SAFETY: `level()` is never above what the CPU supports, so it has AVX-512.
                    return unsafe { avx512($($arg),*) };
                }
                if $crate::cpu::level() >= $crate::cpu::Level::Avx2 {
                    $crate::cpu::note($crate::cpu::Level::Avx2);
                    // SAFETY: as above, for AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $crate::cpu::note($crate::cpu::Level::Scalar);
            body($($arg),*)
        }
    };
}

pub(crate) use dispatch_avx512;

/// Record that a kernel of `level` ran (test builds only; compiles to nothing otherwise).
#[inline(always)]
pub(crate) fn note(level: Level) {
    #[cfg(test)]
    testing::note(level);
    #[cfg(not(test))]
    let _ = level;
}

/// Test-only control: force a level for the duration of a closure, and see which levels ran.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Level, available, detected};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU8, Ordering};

    /// 0 = not forced, otherwise `level as u8 + 1`.
    static FORCED: AtomicU8 = AtomicU8::new(0);
    /// Bit `level as u8` is set when a kernel of that level ran since the last `with_level`.
    static RAN: AtomicU8 = AtomicU8::new(0);
    /// Tests that force levels run one at a time (the override is process-wide because kernels
    /// run on rayon workers; tests that do not force a level may see it, which is harmless since
    /// every level computes the same results — that is what these tests check).
    static LOCK: Mutex<()> = Mutex::new(());

    pub(super) fn forced() -> Option<Level> {
        match FORCED.load(Ordering::Relaxed) {
            0 => None,
            1 => Some(Level::Scalar),
            2 => Some(Level::Avx2),
            _ => Some(Level::Avx512),
        }
    }

    pub(super) fn note(level: Level) {
        RAN.fetch_or(1 << level as u8, Ordering::Relaxed);
    }

    /// Run `f` with every kernel at `level`; returns its result and whether the forced path
    /// ran: the scalar kernels when `level` is `Scalar`, otherwise a vector kernel at or below
    /// `level` (a family without an AVX-512 variant runs its AVX2 one at `Avx512`).
    pub(crate) fn with_level<T>(level: Level, f: impl FnOnce() -> T) -> (T, bool) {
        assert!(
            level <= detected(),
            "{level:?} is not supported by this CPU"
        );
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        FORCED.store(level as u8 + 1, Ordering::Relaxed);
        RAN.store(0, Ordering::Relaxed);
        // Restore the default even if `f` panics (a failed assertion), so later tests run normally.
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                FORCED.store(0, Ordering::Relaxed);
            }
        }
        let reset = Reset;
        let out = f();
        let ran_mask = RAN.load(Ordering::Relaxed);
        let wanted = match level {
            Level::Scalar => 1,
            // Bits 1..=level: any vector level up to the forced one.
            _ => ((2u8 << level as u8) - 1) & !1,
        };
        let ran = ran_mask & wanted != 0;
        drop(reset);
        (out, ran)
    }

    /// `f(level)` on every level this CPU has; asserts that each forced level's kernels ran and
    /// that every level gives the result of the scalar one.
    pub(crate) fn same_on_every_level<T: PartialEq + std::fmt::Debug>(
        what: &str,
        f: impl Fn() -> T,
    ) -> T {
        let mut reference: Option<T> = None;
        for level in available() {
            let (out, ran) = with_level(level, &f);
            assert!(
                ran,
                "{what}: the {level:?} kernels did not run while forced"
            );
            match &reference {
                None => reference = Some(out),
                Some(r) => assert_eq!(&out, r, "{what}: {level:?} differs from scalar"),
            }
        }
        reference.expect("the scalar level is always available")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_and_never_exceed_the_cpu() {
        assert_eq!(Level::parse("scalar"), Some(Level::Scalar));
        assert_eq!(Level::parse(" AVX2 "), Some(Level::Avx2));
        assert_eq!(Level::parse("avx512"), Some(Level::Avx512));
        assert_eq!(Level::parse("auto"), None);
        assert!(configured() <= detected());
        assert_eq!(available()[0], Level::Scalar);
        assert_eq!(available().last(), Some(&detected()));
    }

    #[test]
    fn forcing_a_level_is_what_level_reports() {
        for l in available() {
            let (seen, _) = testing::with_level(l, level);
            assert_eq!(seen, l);
        }
    }
}
