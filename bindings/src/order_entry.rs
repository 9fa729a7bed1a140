//! `tradecore._core.IntentLog` and `tradecore._core.OrderEntry`: thin wrappers over
//! `engine_core::gateway::{IntentLog, OrderEntry}`, the live order path in one call.

// pyo3 hands extracted arguments over by value.
#![allow(clippy::needless_pass_by_value)]

use std::path::PathBuf;

use engine_core::fixed::from_f64;
use engine_core::gateway::{
    BinanceOrderRequest, EntryInstrument, EntryMarket, EntryOrder, IntentLog as CoreLog,
    OrderEntry as CoreEntry,
};
use engine_core::risk::OrderSide;
use engine_core::sim::TimeInForce;
use engine_core::Error;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyTuple};
use pyo3::IntoPyObjectExt;

use crate::book::OrderBook;
use crate::errors::CoreErr;
use crate::gateway::BinanceEncoder;
use crate::risk::PyRiskEngine;
use crate::types::order_price;

/// The journal's intent log: a fixed-size file mapped into memory, JSON lines appended.
#[pyclass(module = "tradecore._core", name = "IntentLog")]
pub struct IntentLog {
    inner: CoreLog,
}

#[pymethods]
impl IntentLog {
    /// Creates (or empties) the log at `path`, `size` bytes long.
    #[new]
    fn new(path: PathBuf, size: usize) -> PyResult<Self> {
        Ok(IntentLog {
            inner: CoreLog::create(&path, size).map_err(CoreErr)?,
        })
    }

    /// Appends a line (ending with a newline); full: `InvalidInput`, nothing written.
    fn append(&mut self, line: &[u8]) -> PyResult<()> {
        self.inner.append(line).map_err(CoreErr)?;
        Ok(())
    }

    /// Bytes written since the start or the last `reset`.
    #[getter]
    fn used(&self) -> usize {
        self.inner.used()
    }

    /// The mapping's size in bytes.
    #[getter]
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// Empties the log (once the journal's database has every line).
    fn reset(&mut self) {
        self.inner.reset();
    }

    /// Writes the mapping to the disk.
    fn sync(&self) -> PyResult<()> {
        self.inner.sync().map_err(CoreErr)?;
        Ok(())
    }
}

/// The live order path of a trading backend: grid, risk check, intent, request bytes.
#[pyclass(module = "tradecore._core", name = "OrderEntry")]
pub struct OrderEntry {
    inner: CoreEntry,
    risk: Py<PyRiskEngine>,
    log: Py<IntentLog>,
    request: Vec<u8>,
}

#[pymethods]
impl OrderEntry {
    /// `instruments`: (journal symbol, tick size, lot size) per instrument, in order.
    #[new]
    fn new(
        risk: Py<PyRiskEngine>,
        log: Py<IntentLog>,
        instruments: Vec<(String, f64, f64)>,
    ) -> PyResult<Self> {
        let insts = instruments
            .into_iter()
            .map(|(symbol, tick, lot)| {
                Ok(EntryInstrument {
                    symbol,
                    tick: from_f64("tick_size", tick).map_err(CoreErr)?,
                    lot: from_f64("lot_size", lot).map_err(CoreErr)?,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(OrderEntry {
            inner: CoreEntry::new(insts).map_err(CoreErr)?,
            risk,
            log,
            request: Vec::with_capacity(512),
        })
    }

    /// From now on, `place` builds the Binance USD-M request: `head` is the request line and
    /// headers (each ending in CRLF, `Content-Length` excluded), `venue_symbols` the
    /// exchange's symbol of each instrument, the client order id `{client_prefix}{client_id}`.
    fn set_native(
        &mut self,
        encoder: PyRef<'_, BinanceEncoder>,
        head: &[u8],
        venue_symbols: Vec<String>,
        client_prefix: String,
    ) -> PyResult<()> {
        self.inner
            .set_native(BinanceOrderRequest {
                encoder: encoder.inner.clone(),
                head: head.to_vec(),
                venue_symbols,
                client_prefix,
            })
            .map_err(CoreErr)?;
        Ok(())
    }

    /// True once `set_native` was called.
    #[getter]
    fn native(&self) -> bool {
        self.inner.is_native()
    }

    /// Places an order (`side` +1/-1, `price` 0.0 for a market order, `tif` 0 GTC, 1 IOC,
    /// 2 FOK, 3 post-only; the market: the instrument's book (its mid is the reference
    /// price), a reference price or None, the time of the data, in sync;
    /// `now_ns` the local time). Returns the request's bytes (native), True (accepted, the
    /// gateway builds the request), or (code, message) when the risk check refused it; its
    /// intent is in the log in every case. Malformed: `InvalidInput`, nothing logged.
    /// `request=False`: no request's bytes even on the native path (True when accepted: an
    /// order the native request cannot carry, a stop or take-profit, goes through ccxt).
    #[pyo3(signature = (client_id, instrument, side, qty, price, tif, reduce_only, reference, data_ts, in_sync, now_ns, *, request = true))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn place<'py>(
        &mut self,
        py: Python<'py>,
        client_id: u64,
        instrument: usize,
        side: i64,
        qty: f64,
        price: Option<f64>,
        tif: u8,
        reduce_only: bool,
        reference: &Bound<'py, PyAny>,
        data_ts: i64,
        in_sync: bool,
        now_ns: i64,
        request: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let side = OrderSide::from_sign(side).map_err(CoreErr)?;
        let (order_type, price) = order_price(price)?;
        let order = EntryOrder {
            client_id,
            instrument,
            side,
            order_type,
            price,
            qty: from_f64("qty", qty).map_err(CoreErr)?,
            tif: TimeInForce::from_code(tif).map_err(CoreErr)?,
            reduce_only,
        };
        let reference = if let Ok(book) = reference.cast::<OrderBook>() {
            book.try_borrow()
                .map_err(|_| {
                    CoreErr(Error::invalid(
                        "reference",
                        "OrderBook",
                        "is being updated (by another thread)",
                    ))
                })?
                .inner
                .reference_price()
        } else if reference.is_none() {
            0
        } else {
            let price = reference.extract::<f64>().map_err(|_| {
                CoreErr(Error::invalid(
                    "reference",
                    reference.get_type().to_string(),
                    "must be an OrderBook, a price or None",
                ))
            })?;
            from_f64("reference", price).map_err(CoreErr)?
        };
        let market = EntryMarket {
            reference,
            data_ts,
            in_sync,
        };
        let mut risk = self.risk.borrow_mut(py);
        let mut log = self.log.borrow_mut(py);
        self.request.clear();
        let r = self
            .inner
            .place(
                &mut risk.inner,
                &mut log.inner,
                &order,
                market,
                now_ns,
                &mut self.request,
            )
            .map_err(CoreErr)?;
        match r {
            Err(reject) => PyTuple::new(
                py,
                [
                    reject.code.name().into_bound_py_any(py)?,
                    reject.message.into_bound_py_any(py)?,
                ],
            )
            .map(Bound::into_any),
            Ok(()) if request && self.inner.is_native() => {
                Ok(PyBytes::new(py, &self.request).into_any())
            }
            Ok(()) => Ok(PyBool::new(py, true).to_owned().into_any()),
        }
    }
}
