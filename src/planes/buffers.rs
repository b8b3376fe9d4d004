//! Large per-image buffers (JPEG planes, luma planes, decoded RGB/RGBA, libjpeg-turbo's large
//! blocks) reused from one image to the next on the same worker thread.
//!
//! Why: a buffer of megabytes is a fresh `mmap` from the allocator every time, so the kernel
//! faults in and zeroes every page again and unmaps it after the image (measured ≈5 % of a full
//! scan's CPU in page faults on the wallpaper corpus). A buffer a previous image gave back is
//! already mapped. Buffers are handed out zeroed ([`zeroed`], for decoders that write through
//! `&mut [u8]`), empty with the capacity ([`empty`], for planes filled by `extend`), or with a
//! previous image's bytes ([`overwritten`]) only to kernels that write every byte, so no stale
//! byte of a previous image can be read. [`release`] drops what a thread keeps (the scan
//! calls it on every worker when a call ends, so an idle process holds none of it).

use std::cell::RefCell;

/// Buffers smaller than this are not worth keeping (the allocator reuses them anyway).
const MIN_KEEP: usize = 1 << 20;
/// At most this many buffers, and this many bytes, per thread. An RGBA image holds three at once
/// (decoded RGBA, composited RGB, luma) and a progressive JPEG its coefficient block, its planes
/// and its luma. The kept buffers add to the scan's peak memory (wallpaper corpus, 2 threads:
/// 371 MB against Pillow's 282 MB; page faults 258k → 82k with the decoders' outputs and
/// libjpeg's large blocks pooled); 0 turns reuse off (every buffer fresh from the allocator).
const MAX_BUFFERS: usize = 4;
const MAX_BYTES: usize = 96 << 20;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A kept buffer of capacity ≥ `n` (the smallest such), or the largest kept one; `None` when
/// none is kept.
fn take(n: usize) -> Option<Vec<u8>> {
    if n < MIN_KEEP {
        return None;
    }
    FREE.with(|f| {
        let mut f = f.borrow_mut();
        let fits = (0..f.len())
            .filter(|&i| f[i].capacity() >= n)
            .min_by_key(|&i| f[i].capacity());
        let i = fits.or_else(|| (0..f.len()).max_by_key(|&i| f[i].capacity()))?;
        Some(f.swap_remove(i))
    })
}

/// `n` zero bytes.
pub fn zeroed(n: usize) -> Vec<u8> {
    match take(n) {
        Some(mut v) => {
            v.clear();
            v.resize(n, 0);
            v
        }
        None => vec![0u8; n],
    }
}

/// `n` bytes of unspecified content (a previous image's, or zeros): only for callers that
/// overwrite every byte before anything reads it.
pub fn overwritten(n: usize) -> Vec<u8> {
    match take(n) {
        Some(mut v) => {
            if v.len() >= n {
                v.truncate(n);
            } else {
                v.resize(n, 0);
            }
            v
        }
        None => vec![0u8; n],
    }
}

/// An empty buffer with room for `n` bytes.
pub fn empty(n: usize) -> Vec<u8> {
    match take(n) {
        Some(mut v) => {
            v.clear();
            v.reserve(n);
            v
        }
        None => Vec::with_capacity(n),
    }
}

/// Keep `v` for a later image on this thread (the smallest are dropped past the limits).
pub fn give_back(v: Vec<u8>) {
    if v.capacity() < MIN_KEEP || v.capacity() > MAX_BYTES {
        return;
    }
    FREE.with(|f| {
        let mut f = f.borrow_mut();
        f.push(v);
        while f.len() > MAX_BUFFERS || f.iter().map(Vec::capacity).sum::<usize>() > MAX_BYTES {
            let smallest = (0..f.len())
                .min_by_key(|&i| f[i].capacity())
                .expect("non-empty");
            f.swap_remove(smallest);
        }
    });
}

/// Give back every buffer of a decoded image.
pub fn give_back_pixels(p: super::Pixels) {
    give_back(p.luma);
    if let Some(rgb) = p.rgb {
        give_back(rgb);
    }
    if let Some(planes) = p.ycbcr {
        give_back(planes.into_data());
    }
}

/// Drop every buffer this thread keeps.
pub fn release() {
    FREE.with(|f| f.borrow_mut().clear());
}

/// Bytes this thread keeps (tests).
#[cfg(test)]
fn kept() -> usize {
    FREE.with(|f| f.borrow().iter().map(Vec::capacity).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_buffers_come_back_zeroed_or_empty_and_are_bounded() {
        release();
        let mut a = zeroed(3 << 20);
        a.iter_mut().for_each(|v| *v = 0xAB);
        let ptr = a.as_ptr();
        give_back(a);
        let b = zeroed(2 << 20);
        assert_eq!(b.as_ptr(), ptr, "the kept buffer is reused");
        assert!(b.len() == 2 << 20 && b.iter().all(|&v| v == 0));
        give_back(b);
        let c = empty(1 << 21);
        assert!(c.is_empty() && c.capacity() >= 1 << 21);
        give_back(c);
        let d = overwritten(5 << 20);
        assert_eq!(d.len(), 5 << 20);
        give_back(d);
        for _ in 0..10 {
            give_back(vec![1u8; 2 << 20]);
        }
        assert!(kept() <= MAX_BYTES);
        FREE.with(|f| assert!(f.borrow().len() <= MAX_BUFFERS));
        give_back(vec![0u8; 100]);
        FREE.with(|f| assert!(f.borrow().iter().all(|v| v.capacity() >= MIN_KEEP)));
        release();
        assert_eq!(kept(), 0);
    }
}
