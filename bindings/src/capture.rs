//! `tradecore.read_capture` / `read_binance`, the `CaptureReader` chunk iterator behind
//! `iter_capture` / `iter_binance`, and their `CaptureReport`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use engine_core::event::kind;
use engine_core::feed::binance::MsgKind;
use engine_core::feed::capture::{self, CaptureReader, ReadOptions};
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::errors::{invalid, CoreErr};
use crate::event::{events_to_numpy, PyEvent};

/// Accepts one path or a sequence of paths.
pub fn paths_from(obj: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(p) = obj.extract::<PathBuf>() {
        return Ok(vec![p]);
    }
    obj.extract::<Vec<PathBuf>>().map_err(|_| {
        invalid(
            "paths",
            obj.repr().map_or("?".into(), |r| r.to_string()),
            "must be a path or a list of paths",
        )
    })
}

/// A break in the depth update-id chain.
#[pyclass(module = "tradecore._core", frozen, get_all)]
#[derive(Clone)]
pub struct Gap {
    event_index: u64,
    file: String,
    line: u64,
    local_ts: i64,
    expected: u64,
    got: u64,
    check: &'static str,
}

#[pymethods]
impl Gap {
    fn __repr__(&self) -> String {
        format!(
            "Gap(event_index={}, file={:?}, line={}, check={:?}, expected={}, got={})",
            self.event_index, self.file, self.line, self.check, self.expected, self.got
        )
    }
}

/// What a capture read saw.
#[pyclass(module = "tradecore._core", frozen, get_all)]
#[derive(Clone)]
pub struct CaptureReport {
    format: Option<String>,
    venue: Option<String>,
    records: u64,
    files: Vec<String>,
    bytes_total: u64,
    bytes_read: u64,
    ts_units: Vec<Option<&'static str>>,
    lines: u64,
    blank_lines: u64,
    messages: BTreeMap<&'static str, u64>,
    events: BTreeMap<&'static str, u64>,
    total_events: u64,
    gaps: Vec<Gap>,
    gap_count: u64,
    snapshots: u64,
    stale_messages: u64,
    stale_events: u64,
    unsynced_events: u64,
    skipped_lines: u64,
    errors: Vec<String>,
    skipped: BTreeMap<String, u64>,
    other_symbol_lines: u64,
    first_local_ts: Option<i64>,
    last_local_ts: Option<i64>,
    first_exch_ts: Option<i64>,
    last_exch_ts: Option<i64>,
    symbol: Option<String>,
    market: Option<&'static str>,
}

impl CaptureReport {
    pub fn from_core(r: &capture::CaptureReport) -> Self {
        CaptureReport {
            format: r.format.clone(),
            venue: r.venue.clone(),
            records: r.records,
            files: r.files.clone(),
            bytes_total: r.bytes_total,
            bytes_read: r.bytes_read,
            ts_units: r
                .ts_units
                .iter()
                .map(|u| u.map(capture::TsUnit::name))
                .collect(),
            lines: r.lines,
            blank_lines: r.blank_lines,
            messages: MsgKind::ALL
                .iter()
                .map(|k| (k.name(), r.messages_of(*k)))
                .collect(),
            events: kind::ALL
                .iter()
                .map(|&k| (kind::name(k), r.events[usize::from(k)]))
                .collect(),
            total_events: r.total_events(),
            gaps: r
                .gaps
                .iter()
                .map(|g| Gap {
                    event_index: g.event_index,
                    file: r.files.get(g.source).cloned().unwrap_or_default(),
                    line: g.line,
                    local_ts: g.local_ts,
                    expected: g.expected,
                    got: g.got,
                    check: g.check,
                })
                .collect(),
            gap_count: r.sync.gap_count,
            snapshots: r.sync.snapshots,
            stale_messages: r.sync.stale_messages,
            stale_events: r.sync.stale_events,
            unsynced_events: r.sync.unsynced_events,
            skipped_lines: r.skipped_lines,
            errors: r.errors.clone(),
            skipped: r.skipped.iter().cloned().collect(),
            other_symbol_lines: r.other_symbol_lines,
            first_local_ts: r.local_ts_range.map(|x| x.0),
            last_local_ts: r.local_ts_range.map(|x| x.1),
            first_exch_ts: r.exch_ts_range.map(|x| x.0),
            last_exch_ts: r.exch_ts_range.map(|x| x.1),
            symbol: r.symbol.clone(),
            market: r.market.map(engine_core::feed::binance::Market::name),
        }
    }
}

#[pymethods]
impl CaptureReport {
    /// Seconds between the first and the last local receive time.
    #[getter]
    fn span_seconds(&self) -> f64 {
        match (self.first_local_ts, self.last_local_ts) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => 0.0,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "CaptureReport(format={:?}, venue={:?}, symbol={:?}, lines={}, events={}, gaps={}, snapshots={}, skipped_lines={}, span={:.1}s)",
            self.format.as_deref().unwrap_or("?"),
            self.venue.as_deref().unwrap_or("?"),
            self.symbol.as_deref().unwrap_or("?"),
            self.lines,
            self.total_events,
            self.gap_count,
            self.snapshots,
            self.skipped_lines,
            self.span_seconds()
        )
    }
}

fn options(symbol: Option<String>, format: Option<String>, lenient: bool) -> ReadOptions {
    ReadOptions {
        symbol,
        lenient,
        format,
        ..ReadOptions::default()
    }
}

/// Reads whole recordings into one array.
#[pyfunction]
#[pyo3(signature = (paths, symbol = None, *, format = None, lenient = false))]
pub fn read_capture<'py>(
    py: Python<'py>,
    paths: &Bound<'py, PyAny>,
    symbol: Option<String>,
    format: Option<String>,
    lenient: bool,
) -> PyResult<(Bound<'py, PyArray1<PyEvent>>, CaptureReport)> {
    let paths = paths_from(paths)?;
    let (events, report) = py.detach(|| -> Result<_, CoreErr> {
        let mut reader = CaptureReader::open(&paths, options(symbol, format, lenient))?;
        let events = reader.read_all()?;
        Ok((events, CaptureReport::from_core(reader.report())))
    })?;
    Ok((events_to_numpy(py, events), report))
}

/// Iterator over chunks of a recording (see `tradecore.iter_capture`).
#[pyclass(module = "tradecore._core", name = "CaptureReader")]
pub struct PyCaptureReader {
    reader: CaptureReader,
    chunk_events: usize,
}

#[pymethods]
impl PyCaptureReader {
    #[new]
    #[pyo3(signature = (paths, symbol = None, *, chunk_events = 1_000_000, format = None, lenient = false))]
    fn new(
        paths: &Bound<'_, PyAny>,
        symbol: Option<String>,
        chunk_events: i64,
        format: Option<String>,
        lenient: bool,
    ) -> PyResult<Self> {
        if chunk_events < 1 {
            return Err(invalid("chunk_events", chunk_events, "must be at least 1"));
        }
        let paths = paths_from(paths)?;
        let reader =
            CaptureReader::open(&paths, options(symbol, format, lenient)).map_err(CoreErr)?;
        Ok(PyCaptureReader {
            reader,
            chunk_events: chunk_events as usize,
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, PyArray1<PyEvent>>>> {
        let (reader, n) = (&mut self.reader, self.chunk_events);
        let chunk = py.detach(|| reader.next_chunk(n)).map_err(CoreErr)?;
        Ok(chunk.map(|c| events_to_numpy(py, c)))
    }

    /// The report so far; complete once the iterator is exhausted.
    #[getter]
    fn report(&self) -> CaptureReport {
        CaptureReport::from_core(self.reader.report())
    }
}
