//! `_walk_files`: the sorted file list of a folder for `scan`, walked with the GIL released.

use super::errors::run_detached;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_walk_files, m)?)?;
    Ok(())
}

/// Every file under `root` (os.fsencode bytes) whose lower-cased ending is in `endings` (lower
/// case, with the dot; `None`: every file), as os.fsencode bytes in the order Python's
/// `sorted()` gives the decoded paths. Symlinked directories are not followed (see
/// `crate::walk`).
#[pyfunction]
#[pyo3(signature = (root, endings))]
fn _walk_files<'py>(
    py: Python<'py>,
    root: Vec<u8>,
    endings: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyList>> {
    let listing = run_detached(py, || crate::walk::Listing::walk(&root, endings.as_deref()))?;
    let prefix = listing.prefix.as_slice();
    let paths = listing.relative.iter().map(|r| {
        PyBytes::new_with(py, prefix.len() + r.len(), |buf| {
            buf[..prefix.len()].copy_from_slice(prefix);
            buf[prefix.len()..].copy_from_slice(r);
            Ok(())
        })
    });
    PyList::new(py, paths.collect::<PyResult<Vec<_>>>()?)
}
