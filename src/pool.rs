//! Worker pools: one rayon pool per requested thread count, built once and reused by every call
//! (the scan and the neighbour index), because building a pool costs more than a small batch.
//!
//! A pool with one worker per CPU this process may use pins worker `i` to the `i`-th of those
//! CPUs. On the 2-vCPU KVM session machine the workers, woken together after an idle spell, were
//! placed on one vCPU and took turns there while the other vCPU stayed idle (`perf sched
//! timehist`); most likely the guest scheduler takes an idle vCPU that the host has descheduled
//! for a busy one (`vcpu_is_preempted`) and does not wake threads onto it. A 20,000-hash
//! `near_pairs` call spent 15.3 of its 16.7 ms waiting in the run queue; pinned, it takes 9.5 ms
//! and does not wait (`benches/bench_pinning.py`). Only a pool that covers the allowed CPUs
//! exactly is pinned, one worker per CPU, so pinning never crowds the workers of several
//! processes (or of a smaller pool) onto the same CPUs, and rayon's work stealing moves work away
//! from a worker whose CPU is busy with something else. It is every call's default pool
//! (`with_threads(None, ..)`, and the `threads` Python gives a scan by default).
//! `IMGSTATS_PIN_THREADS=0` turns it off.

use rayon::{ThreadPool, ThreadPoolBuildError, ThreadPoolBuilder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The shared pool of `threads` workers (at least one), built on first use; pinned when
/// `threads` is the number of CPUs the calling thread may use (see the module comment).
pub fn pool(threads: usize) -> Result<Arc<ThreadPool>, ThreadPoolBuildError> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let threads = threads.max(1);
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.get(&threads) {
        return Ok(p.clone());
    }
    let cpus = pinned_cpus(threads);
    let p = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("imgstats-{i}"))
            .start_handler(move |i| {
                if let Some(&cpu) = cpus.get(i) {
                    pin_current_thread(cpu);
                }
            })
            .build()?,
    );
    // rayon starts its workers (and runs their start handler) in the background: one empty
    // task on every worker returns once each has started, so the pool is pinned when returned.
    p.broadcast(|_| ());
    pools.insert(threads, p.clone());
    Ok(p)
}

/// The CPU of each worker of a pool of `threads`: the CPUs the calling thread may use, when they
/// are exactly `threads` and pinning is not turned off; otherwise none (no worker is pinned).
fn pinned_cpus(threads: usize) -> Vec<usize> {
    if std::env::var_os("IMGSTATS_PIN_THREADS").is_some_and(|v| v == "0") {
        return Vec::new();
    }
    let cpus = allowed_cpus();
    if cpus.len() == threads {
        cpus
    } else {
        Vec::new()
    }
}

/// Workers a call uses when it is not told: one per CPU the calling thread may use (what
/// `os.sched_getaffinity(0)` lists), or the machine's parallelism where the kernel does not say.
/// `scan`'s default (`_imgstats._default_threads`) and [`with_threads`]' are this one number.
pub fn default_threads() -> usize {
    match allowed_cpus().len() {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// The CPUs the calling thread may run on (empty if the kernel does not say).
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `set` is a plain bit set the kernel fills; its size is passed with it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// Restrict the calling thread to `cpu`. A failure (a CPU taken away meanwhile, a seccomp
/// filter) leaves the thread unpinned: pinning only helps the scheduler, the results do not
/// depend on it.
fn pin_current_thread(cpu: usize) {
    // SAFETY: as in `allowed_cpus`; `cpu` is below CPU_SETSIZE (it came from such a set).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Run `f` on the shared pool of `threads` threads. None or 0: one worker per CPU this thread
/// may use, the pool a scan uses by default (so it is pinned, see the module comment); but inside
/// a rayon worker, or when `RAYON_NUM_THREADS` configures rayon's global pool, the current pool
/// as it is. If no thread can be started (resource limits), `f` runs on the current pool: same
/// answer.
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> T {
    let n = match threads {
        Some(n) if n > 0 => n,
        _ if rayon::current_thread_index().is_some()
            || std::env::var_os("RAYON_NUM_THREADS").is_some() =>
        {
            return f();
        }
        _ => default_threads(),
    };
    match pool(n) {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_are_built_once_per_size() {
        let a = pool(2).unwrap();
        let b = pool(2).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.current_num_threads(), 2);
        assert_eq!(with_threads(Some(3), rayon::current_num_threads), 3);
        assert!(Arc::ptr_eq(&pool(0).unwrap(), &pool(1).unwrap()));
        // The default is one worker per allowed CPU, and a nested call stays on its pool.
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            assert_eq!(default_threads(), allowed_cpus().len());
            assert_eq!(
                with_threads(None, rayon::current_num_threads),
                default_threads()
            );
        }
        assert_eq!(
            with_threads(Some(3), || with_threads(None, rayon::current_num_threads)),
            3
        );
    }

    #[test]
    fn a_pool_covering_the_allowed_cpus_pins_one_worker_to_each() {
        let cpus = allowed_cpus();
        assert!(!cpus.is_empty());
        let each = pool(cpus.len()).unwrap().broadcast(|_| allowed_cpus());
        if std::env::var_os("IMGSTATS_PIN_THREADS").is_some_and(|v| v == "0") {
            assert!(each.iter().all(|c| *c == cpus));
            return;
        }
        assert_eq!(
            each.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1; cpus.len()]
        );
        let mut got: Vec<usize> = each.into_iter().flatten().collect();
        got.sort_unstable();
        assert_eq!(got, cpus, "one worker on each allowed CPU");
        // Any other size is left to the scheduler: workers keep the whole set.
        let more = pool(cpus.len() + 1).unwrap().broadcast(|_| allowed_cpus());
        assert!(more.iter().all(|c| *c == cpus));
        if cpus.len() > 1 {
            let fewer = pool(cpus.len() - 1).unwrap().broadcast(|_| allowed_cpus());
            assert!(fewer.iter().all(|c| *c == cpus));
        }
    }
}
