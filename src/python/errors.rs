//! Exception hierarchy and the panic guard every long call goes through.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

create_exception!(
    _imgstats,
    ImgstatsError,
    PyException,
    "Base class of imgstats errors."
);
create_exception!(
    _imgstats,
    InternalError,
    ImgstatsError,
    "A bug inside imgstats (a Rust panic)."
);

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ImgstatsError", py.get_type::<ImgstatsError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    Ok(())
}

/// Panics inside the guard, so tests can prove a Rust panic surfaces as `InternalError` and the
/// interpreter survives.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    run_detached(py, || panic!("deliberate panic for tests"))
}

/// Release the GIL, run `f`, and turn a panic into `InternalError` instead of aborting Python.
pub(crate) fn run_detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .map_err(|payload| InternalError::new_err(panic_message(&payload)))
}

pub(crate) fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    format!(
        "internal error (please report): {}",
        crate::error::panic_text(payload.as_ref())
    )
}
