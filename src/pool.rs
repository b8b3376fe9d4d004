//! Worker pools: one rayon pool per requested thread count, built once and reused by every call
//! (the scan and the neighbour index), because building a pool costs more than a small batch.

use rayon::{ThreadPool, ThreadPoolBuildError, ThreadPoolBuilder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The shared pool of `threads` workers (at least one), built on first use.
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
    let p = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("imgstats-{i}"))
            .build()?,
    );
    pools.insert(threads, p.clone());
    Ok(p)
}

/// Run `f` on the shared pool of `threads` threads (None or 0: the current/global rayon pool).
/// If no thread can be started (resource limits), `f` runs on the current pool: same answer.
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> T {
    match threads {
        Some(n) if n > 0 => match pool(n) {
            Ok(pool) => pool.install(f),
            Err(_) => f(),
        },
        _ => f(),
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
    }
}
