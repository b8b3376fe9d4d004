//! Bindings for the Hamming index: NumPy uint64 hashes in, NumPy index/distance columns out.
//! Inputs are copied once under the GIL (any contiguity), the search runs with the GIL released
//! on the rayon pool (or a pool of `threads`), and results move into NumPy without a copy.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::neighbors::{self, Pair};
use crate::python::run_detached;

type Columns<'py> = (
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u8>>,
);

/// `(x, y)` edge columns.
type Edges<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<u32>>);

/// `(labels, sizes)` of a grouping.
type LabelsSizes<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<u32>>);

fn hashes(arr: &PyReadonlyArray1<'_, u64>) -> Vec<u64> {
    // to_vec handles strided views; one copy of 8 bytes per hash is noise next to the search.
    arr.as_array().to_vec()
}

fn check_k(k: u32) -> PyResult<u32> {
    if k > 64 {
        return Err(PyValueError::new_err(format!(
            "threshold k={k} is above 64, the number of bits in a hash"
        )));
    }
    Ok(k)
}

fn columns(py: Python<'_>, pairs: Vec<Pair>) -> Columns<'_> {
    pair_columns(py, neighbors::PairColumns::from_pairs(pairs))
}

/// Pair columns move into NumPy without a copy.
fn pair_columns(py: Python<'_>, c: neighbors::PairColumns) -> Columns<'_> {
    (
        c.i.into_pyarray(py),
        c.j.into_pyarray(py),
        c.distance.into_pyarray(py),
    )
}

/// All `i < j` with Hamming distance `<= k`: `(i, j, distance)` arrays sorted by `(i, j)`.
#[pyfunction]
#[pyo3(signature = (hashes, k, threads=None))]
fn _self_pairs<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    k: u32,
    threads: Option<usize>,
) -> PyResult<Columns<'py>> {
    let k = check_k(k)?;
    let h = self::hashes(&hashes);
    let c = run_detached(py, || {
        crate::pool::with_threads(threads, || neighbors::self_pair_columns(&h, k))
    })?;
    Ok(pair_columns(py, c))
}

/// `(query index, base index, distance)` for every pair within `k`, sorted; with
/// `nearest_only`, one row per matched query: its closest base (ties: smallest base index).
#[pyfunction]
#[pyo3(signature = (base, query, k, nearest_only=false, threads=None))]
fn _cross_pairs<'py>(
    py: Python<'py>,
    base: PyReadonlyArray1<'py, u64>,
    query: PyReadonlyArray1<'py, u64>,
    k: u32,
    nearest_only: bool,
    threads: Option<usize>,
) -> PyResult<Columns<'py>> {
    let k = check_k(k)?;
    let (b, q) = (hashes(&base), hashes(&query));
    let pairs = run_detached(py, || {
        crate::pool::with_threads(threads, || {
            if nearest_only {
                neighbors::PairColumns::from_pairs(neighbors::nearest(&b, &q, k))
            } else {
                neighbors::cross_pair_columns(&b, &q, k)
            }
        })
    })?;
    Ok(pair_columns(py, pairs))
}

/// `(labels, sizes)`: group of every hash (single linkage within `k`, numbered by first
/// appearance) and the size of every group.
#[pyfunction]
#[pyo3(signature = (hashes, k, threads=None))]
fn _groups<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    k: u32,
    threads: Option<usize>,
) -> PyResult<LabelsSizes<'py>> {
    let k = check_k(k)?;
    let h = self::hashes(&hashes);
    let g = run_detached(py, || {
        crate::pool::with_threads(threads, || neighbors::groups(&h, k))
    })?;
    Ok((g.labels.into_pyarray(py), g.sizes.into_pyarray(py)))
}

/// `(labels, sizes)` of the connected components of `n` nodes joined by edges `(a[e], b[e])`.
#[pyfunction]
fn _components<'py>(
    py: Python<'py>,
    n: usize,
    a: PyReadonlyArray1<'py, u32>,
    b: PyReadonlyArray1<'py, u32>,
) -> PyResult<LabelsSizes<'py>> {
    let (a, b) = (a.as_array().to_vec(), b.as_array().to_vec());
    let g =
        run_detached(py, || neighbors::components(n, &a, &b))?.map_err(PyValueError::new_err)?;
    Ok((g.labels.into_pyarray(py), g.sizes.into_pyarray(py)))
}

/// Near pairs between the segments of different images: `(s, t, distance)` arrays with
/// `owners[s] < owners[t]`, sorted by owners then segments (exact, like brute force).
#[pyfunction]
#[pyo3(signature = (hashes, owners, k, threads=None))]
fn _owner_pairs<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    owners: PyReadonlyArray1<'py, u32>,
    k: u32,
    threads: Option<usize>,
) -> PyResult<Columns<'py>> {
    let k = check_k(k)?;
    let (h, o) = (self::hashes(&hashes), owners.as_array().to_vec());
    if h.len() != o.len() {
        return Err(PyValueError::new_err(format!(
            "{} hashes but {} owners: one owner per hash",
            h.len(),
            o.len()
        )));
    }
    let pairs = run_detached(py, || {
        crate::pool::with_threads(threads, || neighbors::owner_pairs(&h, &o, k))
    })?;
    Ok(columns(py, pairs))
}

/// A near-copy rule over one set of images (`neighbors::RuleSpec`), holding copies of its arrays:
/// `primary` within `alone` bits (not blocked by `simple`: both rows with `simple_both`, either
/// without; with the colour check when `alone_needs_color`), or within `wide` bits with every
/// `confirms[c]` within `radii[c]` bits and the colour check. The colour check (with
/// `color_codes`): both `color_known`, signatures within `color_radius` bits, or one equal to
/// `neutral` with the primary and confirming codes within `copy_radius` and the `contrast`s (NaN:
/// unknown, passes) within `gray_ratio`. The one place Python's rules are evaluated: `forest`
/// for groups, `links` for candidate pairs found by a search.
#[pyclass(module = "imgstats._imgstats", name = "_Rule", frozen)]
pub(crate) struct Rule {
    primary: Vec<u64>,
    alone: Option<u32>,
    wide: u32,
    codes: Vec<Vec<u64>>,
    radii: Vec<u32>,
    simple: Vec<bool>,
    simple_both: bool,
    color: Option<(Vec<u64>, Vec<bool>, Vec<f64>)>,
    color_radius: u32,
    copy_radius: u32,
    neutral: u64,
    gray_ratio: f64,
    alone_needs_color: bool,
}

impl Rule {
    fn spec(&self) -> neighbors::RuleSpec<'_> {
        neighbors::RuleSpec {
            primary: &self.primary,
            alone: self.alone,
            wide: self.wide,
            confirms: self
                .codes
                .iter()
                .zip(&self.radii)
                .map(|(c, &radius)| neighbors::Confirm { codes: c, radius })
                .collect(),
            simple: &self.simple,
            simple_both: self.simple_both,
            color: self.color.as_ref().map(|(c, k, t)| neighbors::ColorCheck {
                codes: c,
                known: k,
                contrast: t,
                radius: self.color_radius,
                copy_radius: self.copy_radius,
                neutral: self.neutral,
                gray_ratio: self.gray_ratio,
                alone_too: self.alone_needs_color,
            }),
        }
    }
}

#[pymethods]
impl Rule {
    #[new]
    #[pyo3(signature = (
        primary, alone, wide, confirms, radii, simple=None, *, simple_both=false,
        color_codes=None, color_known=None, contrast=None, color_radius=0, copy_radius=0,
        neutral=0, gray_ratio=1.5, alone_needs_color=true
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        primary: PyReadonlyArray1<'_, u64>,
        alone: Option<u32>,
        wide: u32,
        confirms: Vec<PyReadonlyArray1<'_, u64>>,
        radii: Vec<u32>,
        simple: Option<PyReadonlyArray1<'_, bool>>,
        simple_both: bool,
        color_codes: Option<PyReadonlyArray1<'_, u64>>,
        color_known: Option<PyReadonlyArray1<'_, bool>>,
        contrast: Option<PyReadonlyArray1<'_, f64>>,
        color_radius: u32,
        copy_radius: u32,
        neutral: u64,
        gray_ratio: f64,
        alone_needs_color: bool,
    ) -> PyResult<Self> {
        if confirms.len() != radii.len() {
            return Err(PyValueError::new_err(format!(
                "{} confirming codes but {} radii",
                confirms.len(),
                radii.len()
            )));
        }
        let color = match (color_codes, color_known, contrast) {
            (None, None, None) => None,
            (Some(c), Some(k), Some(t)) => {
                Some((hashes(&c), k.as_array().to_vec(), t.as_array().to_vec()))
            }
            _ => {
                return Err(PyValueError::new_err(
                    "color_codes, color_known and contrast go together",
                ));
            }
        };
        let rule = Self {
            primary: hashes(&primary),
            alone,
            wide,
            codes: confirms.iter().map(hashes).collect(),
            radii,
            simple: simple.map_or_else(Vec::new, |s| s.as_array().to_vec()),
            simple_both,
            color,
            color_radius,
            copy_radius,
            neutral,
            gray_ratio,
            alone_needs_color,
        };
        rule.spec().check().map_err(PyValueError::new_err)?;
        Ok(rule)
    }

    /// `(x, y)` edges of a spanning forest of the rule: each edge satisfies it, and the
    /// connected components of the edges are exactly those of all pairs that do.
    #[pyo3(signature = (threads=None))]
    fn forest<'py>(&self, py: Python<'py>, threads: Option<usize>) -> PyResult<Edges<'py>> {
        let edges = run_detached(py, || {
            crate::pool::with_threads(threads, || neighbors::rule_forest(&self.spec()))
        })?
        .map_err(PyValueError::new_err)?;
        let (a, b): (Vec<u32>, Vec<u32>) = edges.into_iter().unzip();
        Ok((a.into_pyarray(py), b.into_pyarray(py)))
    }

    /// Whether each pair `(x[i], y[i])` of rows satisfies the rule.
    fn links<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, i64>,
        y: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        let (x, y) = (x.as_array(), y.as_array());
        if x.len() != y.len() {
            return Err(PyValueError::new_err(format!(
                "{} first rows but {} second rows",
                x.len(),
                y.len()
            )));
        }
        let n = self.primary.len() as i64;
        if let Some(bad) = x.iter().chain(y.iter()).find(|&&r| !(0..n).contains(&r)) {
            return Err(PyValueError::new_err(format!(
                "row {bad} is out of range for {n} rows"
            )));
        }
        let spec = self.spec();
        let out: Vec<bool> = x
            .iter()
            .zip(y.iter())
            .map(|(&a, &b)| spec.links(a as usize, b as usize))
            .collect();
        Ok(out.into_pyarray(py))
    }

    fn __len__(&self) -> usize {
        self.primary.len()
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_self_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(_cross_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(_groups, m)?)?;
    m.add_function(wrap_pyfunction!(_components, m)?)?;
    m.add_function(wrap_pyfunction!(_owner_pairs, m)?)?;
    m.add_class::<Rule>()?;
    Ok(())
}
