//! `_scan_batch`: scan a batch of paths or in-memory blobs with the GIL released, polling for
//! Ctrl-C and reporting progress from the calling thread while a rayon pool does the work.

use super::arrow_export::ArrowBatch;
use super::arrow_import::{self, BinaryColumn};
use super::errors::{InternalError, panic_message};
use crate::columns::record_batch;
use crate::scan::{self, Metrics, Options, Source};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArrowBatch>()?;
    m.add_function(wrap_pyfunction!(_scan_batch, m)?)?;
    m.add_function(wrap_pyfunction!(_default_threads, m)?)?;
    m.add("METRIC_NAMES", scan::METRIC_NAMES.to_vec())?;
    m.add("OPT_IN_METRICS", scan::OPT_IN_METRICS.to_vec())?;
    m.add("DEFAULT_MAX_PIXELS", scan::DEFAULT_MAX_PIXELS)?;
    m.add("DEFAULT_MAX_FILE_SIZE", scan::DEFAULT_MAX_FILE_SIZE)?;
    m.add("HASH_MIN_SIDE", scan::HASH_MIN_SIDE)?;
    m.add("SHARPNESS_LONG_SIDE", scan::SHARPNESS_LONG_SIDE)?;
    Ok(())
}

/// Worker threads a scan uses when not told: one per CPU this thread may use (`pool.rs`), the
/// same number every other call's default pool has.
#[pyfunction]
fn _default_threads() -> usize {
    crate::pool::default_threads()
}

/// Scan `paths` (os.fsencode() bytes) then `blobs` (encoded images in memory: a list of `bytes`,
/// or an Arrow binary array / chunked array / polars Series read in place) on a pool of
/// `threads` workers with the GIL released; `progress(n_done)` is called from this thread while
/// the workers run, and Ctrl-C cancels between files. Everything after the inputs is keyword-only
/// and defaults to the core's `Options::default()` (all metrics, Pillow's pixel limit, 1 GiB).
#[pyfunction]
#[pyo3(signature = (
    paths,
    blobs,
    *,
    metrics = None,
    threads = 1,
    max_pixels = crate::DEFAULT_MAX_PIXELS,
    max_file_size = crate::DEFAULT_MAX_FILE_SIZE,
    analysis_size = None,
    progress = None,
))]
#[allow(
    clippy::too_many_arguments,
    reason = "keyword-only arguments of one Python call"
)]
fn _scan_batch(
    py: Python<'_>,
    paths: Vec<Vec<u8>>,
    blobs: &Bound<'_, PyAny>,
    metrics: Option<Vec<String>>,
    threads: usize,
    max_pixels: u64,
    max_file_size: u64,
    analysis_size: Option<usize>,
    progress: Option<Py<PyAny>>,
) -> PyResult<ArrowBatch> {
    let metrics = match metrics {
        None => Metrics::default_set(),
        Some(names) => Metrics::from_names(&names).map_err(PyValueError::new_err)?,
    };
    if analysis_size == Some(0) {
        return Err(PyValueError::new_err(
            "analysis_size must be a positive number of pixels",
        ));
    }
    let opts = Options {
        metrics,
        max_pixels,
        max_file_size,
        analysis_size,
    };
    // Imported first: `sources` borrows the blobs, so they must outlive it.
    let blobs = Blobs::extract(blobs)?;
    // Paths arrive as os.fsencode() bytes so that names which are not UTF-8 still open; the
    // `path` column shows them with U+FFFD replacements.
    let mut names: Vec<String> = paths
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let mut sources: Vec<Source<'_>> = paths
        .iter()
        .map(|p| Source::Path(Path::new(OsStr::from_bytes(p))))
        .collect();
    let offset = names.len();
    let mut null_rows = Vec::new();
    for (i, b) in blobs.values().enumerate() {
        names.push(format!("<bytes #{}>", offset + i));
        if b.is_none() {
            null_rows.push(offset + i);
        }
        sources.push(Source::Bytes(b.unwrap_or_default()));
    }
    let pool = crate::pool::pool(threads)
        .map_err(|e| InternalError::new_err(format!("cannot start worker threads: {e}")))?;
    let cancel = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    let mut interrupt: Option<PyErr> = None;
    let records = py.detach(|| {
        std::thread::scope(|s| {
            // The worker signals completion on a channel, so a finished batch is noticed at once
            // rather than at the next poll.
            let (finished, wait) = std::sync::mpsc::channel::<()>();
            let (sources, opts, cancel, done, pool) = (&sources, &opts, &cancel, &done, &pool);
            let worker = s.spawn(move || {
                let records = pool.install(|| scan::scan_many(sources, opts, cancel, done));
                let _ = finished.send(());
                records
            });
            let mut reported = usize::MAX;
            while wait.recv_timeout(Duration::from_millis(25)).is_err() && !worker.is_finished() {
                let n = done.load(Ordering::Relaxed);
                let poll = Python::attach(|py| -> PyResult<()> {
                    py.check_signals()?;
                    if let (Some(cb), true) = (&progress, n != reported) {
                        cb.call1(py, (n,))?;
                    }
                    Ok(())
                });
                reported = n;
                if let Err(e) = poll {
                    cancel.store(true, Ordering::Relaxed);
                    interrupt.get_or_insert(e);
                }
            }
            worker.join()
        })
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    let mut records = records.map_err(|p| InternalError::new_err(panic_message(&p)))?;
    for i in null_rows {
        // A null has no bytes at all: say so rather than "empty file", and keep the row.
        records[i] = scan::Record {
            error: Some("null entry: this row of the Arrow column holds no image bytes".into()),
            ..scan::Record::default()
        };
    }
    // The columns are built on the (now idle) pool, one Arrow batch per slice of rows, with the
    // GIL released: on a scan of small files this serial step was 4 % of the wall time.
    let batches = py
        .detach(|| pool.install(|| record_batches(&names, &records, &opts.metrics)))
        .map_err(|e| InternalError::new_err(format!("building Arrow columns: {e}")))?;
    Ok(ArrowBatch::new(batches))
}

/// Rows per Arrow batch when the columns are built in parallel: small enough to spread a batch
/// of small files over the workers, large enough that polars' chunks stay few.
const ROWS_PER_ARROW_BATCH: usize = 8192;

/// [`record_batch`] over slices of the rows, in parallel on the current pool, in row order.
fn record_batches(
    names: &[String],
    records: &[scan::Record],
    metrics: &Metrics,
) -> Result<Vec<arrow_array::RecordBatch>, arrow_schema::ArrowError> {
    use rayon::prelude::*;
    if records.len() <= ROWS_PER_ARROW_BATCH {
        return Ok(vec![record_batch(names, records, metrics)?]);
    }
    names
        .par_chunks(ROWS_PER_ARROW_BATCH)
        .zip(records.par_chunks(ROWS_PER_ARROW_BATCH))
        .map(|(n, r)| record_batch(n, r, metrics))
        .collect()
}

/// The in-memory images of one call: Python `bytes` objects, or an Arrow column read in place.
enum Blobs<'py> {
    Bytes(Vec<Bound<'py, PyBytes>>),
    Arrow(BinaryColumn),
}

impl<'py> Blobs<'py> {
    fn extract(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if arrow_import::is_arrow(obj)? {
            return Ok(Blobs::Arrow(BinaryColumn::import(obj)?));
        }
        obj.extract().map(Blobs::Bytes).map_err(|e| {
            PyTypeError::new_err(format!(
                "blobs: expected a list of bytes or an Arrow binary array: {e}"
            ))
        })
    }

    /// Each blob's bytes in order (None: a null entry of an Arrow column).
    fn values(&self) -> Box<dyn Iterator<Item = Option<&[u8]>> + '_> {
        match self {
            Blobs::Bytes(list) => Box::new(list.iter().map(|b| Some(b.as_bytes()))),
            Blobs::Arrow(column) => Box::new(column.values()),
        }
    }
}
