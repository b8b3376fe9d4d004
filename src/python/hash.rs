//! Bindings for the perceptual hashes and the Pillow-exact LANCZOS resize.
//!
//! Inputs are 2-D C-contiguous `uint8` arrays (H×W luma); the Python layer (`imgstats.hashes`)
//! does the `convert("L")` and makes arrays contiguous. The GIL is released around every core call.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::hash;
use crate::python::run_detached;
use crate::resize::resize_lanczos_l8;

/// `(pixels, width, height)` of a 2-D C-contiguous uint8 array.
fn luma<'a>(arr: &'a PyReadonlyArray2<'_, u8>) -> PyResult<(&'a [u8], usize, usize)> {
    let shape = arr.shape();
    let (h, w) = (shape[0], shape[1]);
    let px = arr
        .as_slice()
        .map_err(|_| PyValueError::new_err("expected a C-contiguous 2-D uint8 array"))?;
    if w == 0 || h == 0 {
        return Err(PyValueError::new_err(format!(
            "cannot hash an empty {w}x{h} image"
        )));
    }
    Ok((px, w, h))
}

/// pHash (imagehash 4.3.2, hash_size 8) of an H×W uint8 luma array.
#[pyfunction]
fn _phash_l8(py: Python<'_>, arr: PyReadonlyArray2<'_, u8>) -> PyResult<u64> {
    let (px, w, h) = luma(&arr)?;
    run_detached(py, || hash::phash(px, w, h))
}

/// dHash (imagehash 4.3.2, hash_size 8) of an H×W uint8 luma array.
#[pyfunction]
fn _dhash_l8(py: Python<'_>, arr: PyReadonlyArray2<'_, u8>) -> PyResult<u64> {
    let (px, w, h) = luma(&arr)?;
    run_detached(py, || hash::dhash(px, w, h))
}

/// aHash (imagehash 4.3.2 `average_hash`, hash_size 8) of an H×W uint8 luma array.
#[pyfunction]
fn _ahash_l8(py: Python<'_>, arr: PyReadonlyArray2<'_, u8>) -> PyResult<u64> {
    let (px, w, h) = luma(&arr)?;
    run_detached(py, || hash::ahash(px, w, h))
}

/// `(phash, dhash, ahash)` of an H×W uint8 luma array.
#[pyfunction]
fn _hashes_l8(py: Python<'_>, arr: PyReadonlyArray2<'_, u8>) -> PyResult<(u64, u64, u64)> {
    let (px, w, h) = luma(&arr)?;
    let [p, d, a] = run_detached(py, || hash::hashes(px, w, h))?;
    Ok((p, d, a))
}

/// `(phash, dhash, ahash)` of many luma arrays as an N×3 uint64 array, computed in parallel.
#[pyfunction]
fn _hashes_l8_batch<'py>(
    py: Python<'py>,
    arrays: Vec<PyReadonlyArray2<'py, u8>>,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let inputs = arrays.iter().map(luma).collect::<PyResult<Vec<_>>>()?;
    let rows: Vec<[u64; 3]> = run_detached(py, || {
        crate::pool::with_threads(None, || {
            inputs
                .par_iter()
                .map(|&(px, w, h)| hash::hashes(px, w, h))
                .collect()
        })
    })?;
    let flat: Vec<u64> = rows.into_iter().flatten().collect();
    let out = Array2::from_shape_vec((flat.len() / 3, 3), flat)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(out.into_pyarray(py))
}

/// One crop-resistant segment as Python sees it: `(dhash, x0, y0, x1, y1, pixels)`.
type SegmentTuple = (u64, u16, u16, u16, u16, u32);

/// imagehash's `crop_resistant_hash` segments of an H×W uint8 luma array:
/// `[(dhash, x0, y0, x1, y1, pixels)]` in imagehash's order, the box on the 300×300 grid.
#[pyfunction]
fn _crop_resistant_l8(
    py: Python<'_>,
    arr: PyReadonlyArray2<'_, u8>,
) -> PyResult<Vec<SegmentTuple>> {
    let (px, w, h) = luma(&arr)?;
    let segs = run_detached(py, || hash::crop_resistant_segments(px, w, h))?;
    Ok(segs
        .iter()
        .map(|s| (s.dhash, s.x0, s.y0, s.x1, s.y1, s.pixels))
        .collect())
}

/// Pillow-13-exact `Image.resize((width, height), Image.LANCZOS)` of an H×W uint8 luma array.
#[pyfunction]
fn _resize_lanczos_l8<'py>(
    py: Python<'py>,
    arr: PyReadonlyArray2<'py, u8>,
    width: usize,
    height: usize,
) -> PyResult<Bound<'py, PyArray2<u8>>> {
    let (px, w, h) = luma(&arr)?;
    if width == 0 || height == 0 {
        return Err(PyValueError::new_err(
            "target width and height must be positive",
        ));
    }
    let out = run_detached(py, || resize_lanczos_l8(px, w, h, width, height))?;
    let out = Array2::from_shape_vec((height, width), out)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(out.into_pyarray(py))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_phash_l8, m)?)?;
    m.add_function(wrap_pyfunction!(_dhash_l8, m)?)?;
    m.add_function(wrap_pyfunction!(_ahash_l8, m)?)?;
    m.add_function(wrap_pyfunction!(_hashes_l8, m)?)?;
    m.add_function(wrap_pyfunction!(_hashes_l8_batch, m)?)?;
    m.add_function(wrap_pyfunction!(_resize_lanczos_l8, m)?)?;
    m.add_function(wrap_pyfunction!(_crop_resistant_l8, m)?)?;
    Ok(())
}
