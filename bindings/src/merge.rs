//! `tradecore._core.merge_events`: the k-way exchange-time merge of event streams.

use engine_core::merge::merge_streams;
use pyo3::prelude::*;

use crate::errors::invalid;
use crate::event::{events_from, with_events_out};

/// Merges the buffered heads of several streams into `out[offset:]` (see
/// `engine_core::merge::merge_streams`); returns the events written and how many were taken
/// from each stream.
#[pyfunction]
#[pyo3(signature = (streams, last, out, offset = 0))]
#[allow(clippy::needless_pass_by_value)] // pyo3 passes extracted arguments by value
pub fn merge_events<'py>(
    streams: Vec<Bound<'py, PyAny>>,
    last: Vec<bool>,
    out: &Bound<'py, PyAny>,
    offset: usize,
) -> PyResult<(usize, Vec<usize>)> {
    if last.len() != streams.len() {
        return Err(invalid(
            "last",
            last.len(),
            &format!("must have one flag per stream ({})", streams.len()),
        ));
    }
    let views = streams
        .iter()
        .map(|s| events_from(s, "streams"))
        .collect::<PyResult<Vec<_>>>()?;
    let slices = views
        .iter()
        .map(crate::event::EventsView::as_slice)
        .collect::<PyResult<Vec<_>>>()?;
    with_events_out(out, offset, |dst| Ok(merge_streams(&slices, &last, dst)))
}
