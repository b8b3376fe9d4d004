//! Arrow PyCapsule interface, inbound: a pyarrow `BinaryArray` / `LargeBinaryArray` /
//! `BinaryViewArray`, a `ChunkedArray` of them or a polars Binary `Series` is imported through
//! the Arrow C data interface without copying a blob. The imported arrays own the producer's
//! buffers (released through its callback when dropped), so the scan reads the images straight
//! from the offsets + values (or views) buffers with the GIL released.

use arrow_array::cast::AsArray;
use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi};
use arrow_array::ffi_stream::{ArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::{Array, ArrayReader, ArrayRef, make_array};
use arrow_schema::DataType;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// Encoded images held in Arrow memory: one or more binary chunks, in order.
pub struct BinaryColumn {
    chunks: Vec<ArrayRef>,
}

/// True if `obj` speaks the Arrow PyCapsule interface (an array or a stream of arrays).
pub fn is_arrow(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(obj.hasattr("__arrow_c_array__")? || obj.hasattr("__arrow_c_stream__")?)
}

impl BinaryColumn {
    /// Import `obj` (`__arrow_c_array__` preferred, else `__arrow_c_stream__`) without copying.
    pub fn import(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let chunks = if obj.hasattr("__arrow_c_array__")? {
            vec![import_array(obj)?]
        } else {
            import_stream(obj)?
        };
        for chunk in &chunks {
            check_binary(chunk.data_type())?;
        }
        Ok(BinaryColumn { chunks })
    }

    /// Every entry in order: the encoded bytes, or None for a null entry. Slices honour the
    /// array's offset (a sliced pyarrow array arrives with a non-zero offset).
    pub fn values(&self) -> impl Iterator<Item = Option<&[u8]>> {
        self.chunks.iter().flat_map(|chunk| {
            let chunk: &dyn Array = chunk.as_ref();
            (0..chunk.len()).map(move |i| {
                if chunk.is_null(i) {
                    return None;
                }
                Some(match chunk.data_type() {
                    DataType::Binary => chunk.as_binary::<i32>().value(i),
                    DataType::LargeBinary => chunk.as_binary::<i64>().value(i),
                    // check_binary admitted nothing else
                    _ => chunk.as_binary_view().value(i),
                })
            })
        })
    }
}

fn check_binary(dtype: &DataType) -> PyResult<()> {
    match dtype {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Ok(()),
        other => Err(PyTypeError::new_err(format!(
            "expected an Arrow binary, large_binary or binary_view array of encoded images, \
             got {other}"
        ))),
    }
}

fn arrow_err(e: arrow_schema::ArrowError) -> PyErr {
    PyValueError::new_err(format!("cannot import the Arrow array: {e}"))
}

fn import_array(obj: &Bound<'_, PyAny>) -> PyResult<ArrayRef> {
    let (schema, array): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) =
        obj.call_method0("__arrow_c_array__")?.extract()?;
    let schema_ptr = schema.pointer_checked(Some(c"arrow_schema"))?;
    let array_ptr = array.pointer_checked(Some(c"arrow_array"))?;
    // SAFETY: the capsules were checked by name, so they hold an `ArrowSchema` and an
    // `ArrowArray` of the C data interface. `from_raw` moves the array out (leaving a released
    // one behind for the capsule's destructor), so the producer's buffers are released exactly
    // once, when our `ArrayRef` is dropped; the schema is only borrowed for the call.
    let data = unsafe {
        let array = FFI_ArrowArray::from_raw(array_ptr.as_ptr().cast());
        let schema = &*schema_ptr.as_ptr().cast::<FFI_ArrowSchema>();
        from_ffi(array, schema)
    }
    .map_err(arrow_err)?;
    Ok(make_array(data))
}

fn import_stream(obj: &Bound<'_, PyAny>) -> PyResult<Vec<ArrayRef>> {
    let capsule: Bound<'_, PyCapsule> = obj.call_method0("__arrow_c_stream__")?.extract()?;
    let ptr = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: a capsule named "arrow_array_stream" holds an `ArrowArrayStream`; `from_raw`
    // moves it out and leaves a released stream for the capsule's destructor.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(ptr.as_ptr().cast()) };
    let reader = ArrayStreamReader::try_new(stream).map_err(arrow_err)?;
    check_binary(reader.field().data_type())?;
    reader.map(|chunk| chunk.map_err(arrow_err)).collect()
}
