//! Arrow PyCapsule interface: polars (or pyarrow) imports the batch without a copy.

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// Record batches of one schema (the rows of one scan call, in order), exported once through
/// `__arrow_c_stream__` (`pl.DataFrame(obj)`: one chunk per batch).
#[pyclass(module = "imgstats._imgstats")]
pub struct ArrowBatch {
    batches: Option<Vec<RecordBatch>>,
}

impl ArrowBatch {
    /// `batches` must not be empty (the stream's schema is the first batch's).
    pub fn new(batches: Vec<RecordBatch>) -> Self {
        assert!(!batches.is_empty(), "an Arrow stream needs a schema");
        ArrowBatch {
            batches: Some(batches),
        }
    }
}

#[pymethods]
impl ArrowBatch {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &mut self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema; // we export our own schema; consumers cast if they must
        let batches = self
            .batches
            .take()
            .ok_or_else(|| PyValueError::new_err("this Arrow batch was already consumed"))?;
        let schema = batches[0].schema();
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    fn __len__(&self) -> usize {
        self.batches
            .as_ref()
            .map_or(0, |b| b.iter().map(RecordBatch::num_rows).sum())
    }
}
