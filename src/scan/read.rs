//! Reading one input file into memory, safely: bounded size, no hang on FIFOs, one read call.

use crate::error::{ImageError, Result};
use std::path::Path;

/// The whole file, refused when it is not a regular file or larger than `max_size` bytes.
pub(crate) fn read_file(path: &Path, max_size: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO named like an image must not wait for a writer; the type check
    // on the open file then refuses it. Reads of regular files ignore the flag.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (FIFO, socket or device)"
        };
        return Err(ImageError::Io(std::io::Error::other(kind)));
    }
    if meta.len() > max_size {
        return Err(ImageError::FileTooLarge {
            size: meta.len(),
            limit: max_size,
        });
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    if meta.len() > 0 {
        // Exactly the size stat gave: no extra read() to see end-of-file (one syscall of the
        // four per small file), and a file that grows meanwhile is read as it was.
        f.take(meta.len()).read_to_end(&mut buf)?;
        return Ok(buf);
    }
    // Size 0 is an empty file or one that does not know its size (/proc): read at most
    // max_size + 1 bytes, so a file that never ends cannot exhaust memory.
    f.take(max_size + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max_size {
        return Err(ImageError::FileTooLarge {
            size: buf.len() as u64,
            limit: max_size,
        });
    }
    Ok(buf)
}
