//! `tradecore._core.SimExchange`: a thin wrapper over `engine_core::sim::Venue` (one
//! instrument's simulated exchange with its own risk engine) for the live exchange simulator.
//! Prices and quantities are floats at the edge, fixed point inside.

// pyo3 hands extracted arguments over by value.
#![allow(clippy::needless_pass_by_value)]

use engine_core::fixed::{format, to_f64};
use engine_core::risk::OrderSide;
use engine_core::sim::{
    LatencyModel, OrderType, QueueModel, SimReport, TimeInForce, Trigger, TriggerSource, Venue,
};
use engine_core::Error;
use numpy::PyArray2;
use pyo3::prelude::*;

use crate::book::{book_levels, level_out, parse_side, OrderBook};
use crate::errors::CoreErr;
use crate::event::events_from;
use crate::types::{fixed, order_price};

/// A report as Python sees it: (kind, `client_id`, ts, price, qty, maker, remaining, reason).
type ReportTuple = (&'static str, u64, i64, f64, f64, bool, f64, &'static str);

fn report_tuple(r: &SimReport) -> ReportTuple {
    match *r {
        SimReport::Accepted { client_id, ts, qty } => {
            let q = to_f64(qty);
            ("accepted", client_id, ts, 0.0, q, false, q, "")
        }
        SimReport::Rejected {
            client_id,
            ts,
            reason,
        } => ("rejected", client_id, ts, 0.0, 0.0, false, 0.0, reason),
        SimReport::Filled {
            client_id,
            ts,
            price,
            qty,
            maker,
            remaining,
        } => (
            "filled",
            client_id,
            ts,
            to_f64(price),
            to_f64(qty),
            maker,
            to_f64(remaining),
            "",
        ),
        SimReport::Modified {
            client_id,
            ts,
            price,
            qty,
        } => {
            let q = to_f64(qty);
            ("modified", client_id, ts, to_f64(price), q, false, q, "")
        }
        SimReport::Triggered { client_id, ts } => {
            ("triggered", client_id, ts, 0.0, 0.0, false, 0.0, "")
        }
        SimReport::Cancelled {
            client_id,
            ts,
            remaining,
        } => (
            "cancelled",
            client_id,
            ts,
            0.0,
            0.0,
            false,
            to_f64(remaining),
            "",
        ),
    }
}

fn side_of(side: i8) -> PyResult<OrderSide> {
    match side {
        1 => Ok(OrderSide::Buy),
        -1 => Ok(OrderSide::Sell),
        _ => Err(CoreErr(Error::invalid(
            "side",
            side,
            "must be +1 (buy) or -1 (sell)",
        ))
        .into()),
    }
}

/// One instrument's matching engine for a live exchange simulator (see the module doc).
#[pyclass(module = "tradecore._core", name = "SimExchange")]
pub struct SimExchange {
    inner: Venue,
}

impl SimExchange {
    fn reports(&mut self) -> Vec<ReportTuple> {
        self.inner.take().iter().map(report_tuple).collect()
    }
}

#[pymethods]
impl SimExchange {
    #[new]
    #[pyo3(signature = (tick_size, lot_size, *, entry_latency_ns = 0, response_latency_ns = 0, queue = "conservative"))]
    fn new(
        tick_size: f64,
        lot_size: f64,
        entry_latency_ns: i64,
        response_latency_ns: i64,
        queue: &str,
    ) -> PyResult<Self> {
        let latency =
            LatencyModel::constant(entry_latency_ns, response_latency_ns).map_err(CoreErr)?;
        let queue = QueueModel::parse(queue).map_err(CoreErr)?;
        let inner = Venue::new(
            fixed("tick_size", tick_size)?,
            fixed("lot_size", lot_size)?,
            latency,
            queue,
        )
        .map_err(CoreErr)?;
        Ok(SimExchange { inner })
    }

    /// Feeds market events (each at its exchange time, or all at `now_ns`); returns the reports.
    #[pyo3(signature = (events, now_ns = None))]
    fn on_events(
        &mut self,
        events: &Bound<'_, PyAny>,
        now_ns: Option<i64>,
    ) -> PyResult<Vec<ReportTuple>> {
        let view = events_from(events, "events")?;
        let fed = self.inner.on_events(view.as_slice()?, now_ns);
        // Reports of the events before a bad one are delivered with the next call.
        fed.map_err(CoreErr)?;
        Ok(self.reports())
    }

    /// Sends a new order at `now_ns`; returns the reports of everything that arrived by then.
    /// `order_type` (an `OrderType` code; None: limit with a price, market without) and for a
    /// stop or take-profit type its `trigger_price`, what it watches (`trigger_by`: "last" or
    /// "mark") and `close_position` (closes the whole position when triggered).
    #[pyo3(signature = (client_id, side, qty, price, tif, reduce_only, now_ns, *, order_type = None, trigger_price = None, trigger_by = "last", close_position = false))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn submit(
        &mut self,
        client_id: u64,
        side: i8,
        qty: f64,
        price: Option<f64>,
        tif: u8,
        reduce_only: bool,
        now_ns: i64,
        order_type: Option<u8>,
        trigger_price: Option<f64>,
        trigger_by: &str,
        close_position: bool,
    ) -> PyResult<Vec<ReportTuple>> {
        let side = side_of(side)?;
        let tif = TimeInForce::from_code(tif).map_err(CoreErr)?;
        let (order_type, price) = match order_type {
            None => order_price(price)?,
            Some(code) => (
                OrderType::from_code(code).map_err(CoreErr)?,
                match price {
                    Some(p) => fixed("price", p)?,
                    None => 0,
                },
            ),
        };
        let source = match trigger_by {
            "last" => TriggerSource::LastPrice,
            "mark" => TriggerSource::MarkPrice,
            other => {
                return Err(CoreErr(Error::invalid(
                    "trigger_by",
                    format!("{other:?}"),
                    "must be 'last' or 'mark'",
                ))
                .into())
            }
        };
        let trigger = match trigger_price {
            Some(p) => Some(Trigger {
                order_type,
                price: fixed("trigger_price", p)?,
                source,
                close_position,
            }),
            None => None,
        };
        let qty = fixed("qty", qty)?;
        self.inner
            .submit_with(
                client_id,
                side,
                qty,
                order_type,
                price,
                tif,
                reduce_only,
                trigger,
                now_ns,
            )
            .map_err(CoreErr)?;
        Ok(self.reports())
    }

    /// A mark price at `now_ns`: stop and take-profit orders watching the mark act; returns
    /// the reports.
    fn on_mark(&mut self, price: f64, now_ns: i64) -> PyResult<Vec<ReportTuple>> {
        let mark = fixed("price", price)?;
        self.inner.on_mark(mark, now_ns).map_err(CoreErr)?;
        Ok(self.reports())
    }

    /// Sends a modification of a resting order at `now_ns` (`side`, `reduce_only`: the order's
    /// own); returns the reports of everything that arrived by then.
    #[pyo3(signature = (client_id, side, qty, price, reduce_only, now_ns))]
    fn modify(
        &mut self,
        client_id: u64,
        side: i8,
        qty: f64,
        price: f64,
        reduce_only: bool,
        now_ns: i64,
    ) -> PyResult<Vec<ReportTuple>> {
        let side = side_of(side)?;
        let (qty, price) = (fixed("qty", qty)?, fixed("price", price)?);
        self.inner
            .modify(client_id, side, qty, price, reduce_only, now_ns)
            .map_err(CoreErr)?;
        Ok(self.reports())
    }

    /// Sends a cancel at `now_ns`; returns the reports of everything that arrived by then.
    fn cancel(&mut self, client_id: u64, now_ns: i64) -> Vec<ReportTuple> {
        self.inner.cancel(client_id, now_ns);
        self.reports()
    }

    /// Acts on the orders in flight that arrived by `now_ns`; returns the reports.
    fn arrive(&mut self, now_ns: i64) -> Vec<ReportTuple> {
        self.inner.arrive(now_ns);
        self.reports()
    }

    /// Copies `book` (a book that saw the same events) into an idle simulator; returns False,
    /// doing nothing, when orders are at the exchange (its own book is then fed).
    fn sync_book(&mut self, book: PyRef<'_, OrderBook>) -> PyResult<bool> {
        self.inner
            .sync_book(&book.inner)
            .map_err(|e| CoreErr(e).into())
    }

    /// A response latency (ns) for an answer of the exchange.
    fn response_latency(&mut self) -> i64 {
        self.inner.response_latency()
    }

    /// True when nothing of ours is at the exchange (no order resting or in flight, no level
    /// still marked by a fill): feeding it market events may then be skipped.
    #[getter]
    fn is_idle(&self) -> bool {
        self.inner.sim().is_idle()
    }

    /// The position the exchange holds (signed).
    #[getter]
    fn position(&self) -> f64 {
        to_f64(self.inner.sim().position())
    }

    /// Resting orders.
    #[getter]
    fn resting(&self) -> usize {
        self.inner.sim().resting()
    }

    /// When the next order action in flight reaches the exchange (ns), if any.
    #[getter]
    fn next_arrival(&self) -> Option<i64> {
        self.inner.sim().next_arrival()
    }

    #[getter]
    fn tick_size(&self) -> f64 {
        to_f64(self.inner.tick_size())
    }

    #[getter]
    fn lot_size(&self) -> f64 {
        to_f64(self.inner.lot_size())
    }

    /// The exchange's best bid (price, qty): the feed's book minus the liquidity our takers
    /// took, until the feed sets those levels again.
    fn best_bid(&self) -> Option<(f64, f64)> {
        self.inner.sim().book().best_bid().map(level_out)
    }

    fn best_ask(&self) -> Option<(f64, f64)> {
        self.inner.sim().book().best_ask().map(level_out)
    }

    /// Up to `n` levels of a side of the exchange's book, shape (k, 2): price, qty.
    fn levels<'py>(
        &self,
        py: Python<'py>,
        side: &Bound<'_, PyAny>,
        n: i64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        book_levels(py, self.inner.sim().book(), parse_side(side)?, n)
    }

    fn __repr__(&self) -> String {
        let s = self.inner.sim();
        format!(
            "SimExchange(tick_size={}, lot_size={}, position={}, resting={}, idle={})",
            format(self.inner.tick_size()),
            format(self.inner.lot_size()),
            format(s.position()),
            s.resting(),
            s.is_idle()
        )
    }
}
