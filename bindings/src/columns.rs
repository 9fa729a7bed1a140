//! `events_from_columns` / `events_to_columns`: the record <-> column transposition used by
//! the Parquet tick store (the columns are shared with Arrow without copies).

use engine_core::columns::{Columns, OwnedColumns};
use engine_core::event::FIELDS;
use numpy::{Element, PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::errors::{invalid, CoreErr};
use crate::event::{events_from, events_to_numpy, with_events_out, PyEvent};

fn column<'py, T: Element>(
    cols: &[Bound<'py, PyAny>],
    i: usize,
) -> PyResult<PyReadonlyArray1<'py, T>> {
    let name = FIELDS[i].0;
    let arr = cols[i].cast::<PyArray1<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "column {name} must be a 1-D numpy array of {} (EVENT_DTYPE's type for it)",
            FIELDS[i].2
        ))
    })?;
    let ro = arr.readonly();
    if !ro.is_contiguous() {
        return Err(PyTypeError::new_err(format!(
            "column {name} must be contiguous"
        )));
    }
    Ok(ro)
}

/// Borrows one contiguous array per field, in `EVENT_DTYPE`'s field order, and hands the
/// columns to `f`.
fn with_columns<R>(
    columns: &[Bound<'_, PyAny>],
    f: impl FnOnce(Columns<'_>) -> PyResult<R>,
) -> PyResult<R> {
    if columns.len() != FIELDS.len() {
        return Err(invalid(
            "columns",
            columns.len(),
            &format!("one array per field of EVENT_DTYPE ({})", FIELDS.len()),
        ));
    }
    let (a0, a1, a2, a3) = (
        column::<i64>(columns, 0)?,
        column::<i64>(columns, 1)?,
        column::<i64>(columns, 2)?,
        column::<i64>(columns, 3)?,
    );
    let (a4, a5, a6) = (
        column::<u64>(columns, 4)?,
        column::<u64>(columns, 5)?,
        column::<u64>(columns, 6)?,
    );
    let (a7, a8, a9, a10) = (
        column::<u32>(columns, 7)?,
        column::<u16>(columns, 8)?,
        column::<u8>(columns, 9)?,
        column::<i8>(columns, 10)?,
    );
    f(Columns {
        exch_ts: a0.as_slice()?,
        local_ts: a1.as_slice()?,
        price: a2.as_slice()?,
        qty: a3.as_slice()?,
        first_update_id: a4.as_slice()?,
        last_update_id: a5.as_slice()?,
        trade_id: a6.as_slice()?,
        instrument: a7.as_slice()?,
        flags: a8.as_slice()?,
        kind: a9.as_slice()?,
        side: a10.as_slice()?,
    })
}

/// Builds an `EVENT_DTYPE` array from one contiguous array per field, in `EVENT_DTYPE`'s field
/// order; `instrument` replaces the stored instrument column when given.
#[pyfunction]
#[pyo3(signature = (columns, instrument = None))]
#[allow(clippy::needless_pass_by_value)] // pyo3 passes extracted arguments by value
pub fn events_from_columns<'py>(
    py: Python<'py>,
    columns: Vec<Bound<'py, PyAny>>,
    instrument: Option<u32>,
) -> PyResult<Bound<'py, PyArray1<PyEvent>>> {
    let out = with_columns(&columns, |cols| {
        let mut out = Vec::new();
        cols.gather(instrument, &mut out).map_err(CoreErr)?;
        Ok(out)
    })?;
    Ok(events_to_numpy(py, out))
}

/// Like `events_from_columns`, written into `out[offset:]`; returns the events written.
#[pyfunction]
#[pyo3(signature = (columns, out, offset = 0, instrument = None))]
#[allow(clippy::needless_pass_by_value)] // pyo3 passes extracted arguments by value
pub fn gather_columns<'py>(
    columns: Vec<Bound<'py, PyAny>>,
    out: &Bound<'py, PyAny>,
    offset: usize,
    instrument: Option<u32>,
) -> PyResult<usize> {
    with_events_out(out, offset, |dst| {
        with_columns(&columns, |cols| {
            cols.gather_into(instrument, dst)
                .map_err(|e| CoreErr(e).into())
        })
    })
}

/// One contiguous array per field of `events`, in `EVENT_DTYPE`'s field order.
#[pyfunction]
pub fn events_to_columns<'py>(
    py: Python<'py>,
    events: &Bound<'py, PyAny>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let view = events_from(events, "events")?;
    let c = OwnedColumns::scatter(view.as_slice()?);
    Ok(vec![
        PyArray1::from_vec(py, c.exch_ts).into_any(),
        PyArray1::from_vec(py, c.local_ts).into_any(),
        PyArray1::from_vec(py, c.price).into_any(),
        PyArray1::from_vec(py, c.qty).into_any(),
        PyArray1::from_vec(py, c.first_update_id).into_any(),
        PyArray1::from_vec(py, c.last_update_id).into_any(),
        PyArray1::from_vec(py, c.trade_id).into_any(),
        PyArray1::from_vec(py, c.instrument).into_any(),
        PyArray1::from_vec(py, c.flags).into_any(),
        PyArray1::from_vec(py, c.kind).into_any(),
        PyArray1::from_vec(py, c.side).into_any(),
    ])
}
