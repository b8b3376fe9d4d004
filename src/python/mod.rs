//! The one binding layer: converts Python inputs, releases the GIL around core calls, and turns
//! panics into Python exceptions instead of aborting the interpreter.

use pyo3::prelude::*;

mod arrow_export;
mod arrow_import;
mod errors;
mod hash;
mod neighbors;
mod scan;
mod walk;

pub(crate) use errors::run_detached;

#[pymodule]
fn _imgstats(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    scan::register(m)?;
    hash::register(m)?;
    neighbors::register(m)?;
    walk::register(m)?;
    Ok(())
}
