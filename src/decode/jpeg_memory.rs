//! libjpeg-turbo's system-dependent memory functions (its `jmemnobs.c`), defined here so that
//! its large blocks come from the scan's per-thread buffer pool (`planes::buffers`).
//!
//! Why: a progressive JPEG keeps every DCT coefficient of the image (about 3 bytes a pixel for
//! 4:2:0) in blocks libjpeg asks `jpeg_get_large` for; with `malloc` those are fresh pages every
//! image, and faulting them in was ~47 % of the page faults left in a full scan of the wallpaper
//! corpus (66,000 of 141,000). Pooled blocks are already mapped.
//!
//! How it links: the static libjpeg-turbo archive defines these eight functions in one object
//! file (`jmemnobs.c.o`), which the linker only pulls in for symbols nothing else defines. This
//! crate defines all eight, so that object is never linked, and libjpeg's memory manager
//! (`jmemmgr.c`) calls these. Everything else behaves as `jmemnobs.c` does, except that
//! `jpeg_mem_available` always grants the whole request (see there).

use crate::planes::buffers;
use std::ffi::{c_long, c_void};

/// Bytes in front of every large block: its capacity and length, to rebuild the `Vec` when
/// libjpeg frees it (a capacity of 0 marks a block from `malloc`).
const HEADER: usize = 16;
/// Blocks outside this range come from `malloc` as in `jmemnobs.c` (small ones are not worth
/// pooling; for huge ones `malloc` can fail with NULL, which libjpeg reports as out of memory,
/// where a `Vec` would abort the process).
const POOLED: std::ops::Range<usize> = (1 << 20)..(1 << 30);

/// Blocks handed out from the pool (tests: libjpeg really calls these functions).
#[cfg(test)]
pub(super) static POOLED_BLOCKS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// `jmemnobs.c`: `malloc`.
///
/// # Safety
/// Called by libjpeg with its own object; `cinfo` is not read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jpeg_get_small(_cinfo: *mut c_void, sizeofobject: usize) -> *mut c_void {
    // SAFETY: plain `malloc`; libjpeg checks for NULL.
    unsafe { libc::malloc(sizeofobject) }
}

/// `jmemnobs.c`: `free`.
///
/// # Safety
/// `object` came from [`jpeg_get_small`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jpeg_free_small(_cinfo: *mut c_void, object: *mut c_void, _size: usize) {
    // SAFETY: `object` is a `malloc` block (libjpeg's contract).
    unsafe { libc::free(object) }
}

/// A block of `sizeofobject` bytes of unspecified content (libjpeg writes before it reads, and
/// zeroes what it needs zeroed), from this thread's buffer pool when the size is in [`POOLED`].
///
/// # Safety
/// Called by libjpeg; `cinfo` is not read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jpeg_get_large(_cinfo: *mut c_void, sizeofobject: usize) -> *mut c_void {
    let Some(total) = sizeofobject.checked_add(HEADER) else {
        return std::ptr::null_mut();
    };
    let (base, cap) = if POOLED.contains(&sizeofobject) {
        #[cfg(test)]
        POOLED_BLOCKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut v = std::mem::ManuallyDrop::new(buffers::overwritten(total));
        (v.as_mut_ptr(), v.capacity())
    } else {
        // SAFETY: plain `malloc`; NULL is handled below.
        let p = unsafe { libc::malloc(total) }.cast::<u8>();
        if p.is_null() {
            return std::ptr::null_mut();
        }
        (p, 0)
    };
    // SAFETY: `base` points to at least `total = HEADER + sizeofobject` writable bytes; the
    // header's two words are written unaligned.
    unsafe {
        base.cast::<[usize; 2]>().write_unaligned([cap, total]);
        base.add(HEADER).cast()
    }
}

/// Give a block of [`jpeg_get_large`] back: to this thread's pool, or to `free`.
///
/// # Safety
/// `object` came from [`jpeg_get_large`] and is not used afterwards (libjpeg's contract).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jpeg_free_large(_cinfo: *mut c_void, object: *mut c_void, _size: usize) {
    if object.is_null() {
        return;
    }
    // SAFETY: `jpeg_get_large` put the header `HEADER` bytes before `object`.
    unsafe {
        let base = object.cast::<u8>().sub(HEADER);
        let [cap, len] = base.cast::<[usize; 2]>().read_unaligned();
        if cap == 0 {
            libc::free(base.cast());
        } else {
            // SAFETY: `base`, `len`, `cap` are the parts of the `Vec` that `jpeg_get_large`
            // took apart (every byte up to `len` is initialised: the pool's buffers are).
            buffers::give_back(Vec::from_raw_parts(base, len, cap));
        }
    }
}

/// `jmemnobs.c` grants the whole request unless a memory limit is set (the `JPEGMEM`
/// environment variable or TurboJPEG's `TJPARAM_MAXMEMORY`), and otherwise falls back to a
/// backing store it does not have ("Memory limit exceeded"). This always grants it: the scan's
/// own pixel limit (`max_pixels`) bounds every image before libjpeg sees it, and
/// [`jpeg_open_backing_store`] is then never called.
///
/// # Safety
/// Called by libjpeg; `cinfo` is not read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jpeg_mem_available(
    _cinfo: *mut c_void,
    _min_bytes_needed: usize,
    max_bytes_needed: usize,
    _already_allocated: usize,
) -> usize {
    max_bytes_needed
}

/// Never called: [`jpeg_mem_available`] always grants the whole request, which is when
/// libjpeg's memory manager keeps every virtual array in memory. Defined because the linker
/// needs every symbol of `jmemnobs.c`; if it ever were called it reports libjpeg's first error
/// code through the object's error handler (TurboJPEG turns that into an error return) rather
/// than going on without a backing store.
///
/// # Safety
/// `cinfo` is a libjpeg object whose first field is its error manager, whose first field is its
/// `error_exit` function and whose sixth is `msg_code` (`jpeglib.h`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jpeg_open_backing_store(
    cinfo: *mut c_void,
    _info: *mut c_void,
    _total_bytes_needed: c_long,
) {
    #[repr(C)]
    struct ErrorMgr {
        error_exit: Option<unsafe extern "C" fn(*mut c_void)>,
        other_methods: [*mut c_void; 4],
        msg_code: i32,
    }
    // SAFETY: the layout in this function's contract (`jpeg_common_fields`, `jpeg_error_mgr`).
    unsafe {
        let err = *cinfo.cast::<*mut ErrorMgr>();
        (*err).msg_code = 0;
        if let Some(exit) = (*err).error_exit {
            exit(cinfo);
        }
    }
}

/// `jmemnobs.c`: no limit (`max_memory_to_use` = 0).
///
/// # Safety
/// Called by libjpeg; `cinfo` is not read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jpeg_mem_init(_cinfo: *mut c_void) -> c_long {
    0
}

/// `jmemnobs.c`: nothing to do.
///
/// # Safety
/// Called by libjpeg; `cinfo` is not read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jpeg_mem_term(_cinfo: *mut c_void) {}
