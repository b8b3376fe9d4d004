//! Arrow PyCapsule interface: polars (or pyarrow) imports the batch without a copy.

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// A record batch exported once through `__arrow_c_stream__` (`pl.DataFrame(obj)`).
#[pyclass(module = "imgstats._imgstats")]
pub struct ArrowBatch {
    batch: Option<RecordBatch>,
}

impl ArrowBatch {
    pub fn new(batch: RecordBatch) -> Self {
        ArrowBatch { batch: Some(batch) }
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
        let batch = self
            .batch
            .take()
            .ok_or_else(|| PyValueError::new_err("this Arrow batch was already consumed"))?;
        let schema = batch.schema();
        let reader = RecordBatchIterator::new(vec![Ok(batch)], schema);
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    fn __len__(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.num_rows())
    }
}
