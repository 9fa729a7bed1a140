//! `tradecore.BinanceFeed`: raw websocket message bytes -> parsed -> synchronised -> applied to
//! an `OrderBook`, in one call.

use engine_core::feed::binance::{BinanceFeed as CoreFeed, SyncConfig};
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::book::OrderBook;
use crate::errors::{invalid, CoreErr};
use crate::event::{events_to_numpy, PyEvent};

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Binance book feed bound to an `OrderBook`.
#[pyclass(module = "tradecore._core")]
pub struct BinanceFeed {
    pub(crate) inner: CoreFeed,
    book: Py<OrderBook>,
}

#[pymethods]
impl BinanceFeed {
    #[new]
    #[pyo3(signature = (book, *, max_pending = 10_000))]
    fn new(book: Py<OrderBook>, max_pending: i64) -> PyResult<Self> {
        if max_pending < 1 {
            return Err(invalid("max_pending", max_pending, "must be at least 1"));
        }
        let config = SyncConfig {
            max_pending: max_pending as usize,
            ..SyncConfig::default()
        };
        Ok(BinanceFeed {
            inner: CoreFeed::new(config),
            book,
        })
    }

    /// Handles one raw message; returns the number of events it produced.
    #[pyo3(signature = (message, local_ts = None))]
    fn on_message(
        &mut self,
        py: Python<'_>,
        message: &[u8],
        local_ts: Option<i64>,
    ) -> PyResult<usize> {
        let mut book = self.book.bind(py).try_borrow_mut()?;
        let ts = local_ts.unwrap_or_else(now_ns);
        self.inner
            .on_message(message, ts, &mut book.inner)
            .map_err(|e| CoreErr(e).into())
    }

    /// The events of the last message (a copy).
    fn last_events<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyArray1<PyEvent>> {
        events_to_numpy(py, self.inner.last_events().to_vec())
    }

    #[getter]
    fn book(&self, py: Python<'_>) -> Py<OrderBook> {
        self.book.clone_ref(py)
    }

    /// True when the book is in sync with the exchange (a snapshot applied, no gap since).
    #[getter]
    fn in_sync(&self) -> bool {
        self.inner.sync().in_sync()
    }

    #[getter]
    fn gap_count(&self) -> u64 {
        self.inner.sync().stats.gap_count
    }

    #[getter]
    fn messages(&self) -> u64 {
        self.inner.messages()
    }

    #[getter]
    fn pending(&self) -> usize {
        self.inner.sync().pending()
    }
}
