//! `tradecore._core.SimExchange`: a thin wrapper over `engine_core::sim::ExchangeSim` for the
//! live exchange simulator (market events in, orders in at a given time, reports out).
//!
//! Orders reach the core simulator only as `ApprovedOrder`s, which only `RiskEngine::check`
//! makes: the wrapper owns a `RiskEngine` with default limits (no trading limit: the
//! exchange's own validity checks: positive quantity, reduce-only, client id in use) and keeps
//! its open orders and position in step with the simulator's reports. Prices and quantities are
//! floats at the edge, checked against the tick and lot grids (`engine_core::sim::check_order_grid`,
//! the rule of the backtest and the live order path).

// pyo3 hands extracted arguments over by value.
#![allow(clippy::needless_pass_by_value)]

use std::collections::HashSet;

use engine_core::fixed::{format, from_f64, to_f64};
use engine_core::risk::{Order, OrderSide, Reject, RejectCode, RiskEngine, RiskLimits};
use engine_core::sim::{
    check_order_grid, ExchangeSim, LatencyModel, QueueModel, SimReport, TimeInForce,
};
use engine_core::{Error, Event, L2Book, Result};
use numpy::PyArray2;
use pyo3::prelude::*;

use crate::book::{book_levels, level_out, parse_side, OrderBook};
use crate::errors::CoreErr;
use crate::event::events_from;

/// A report as Python sees it: (kind, `client_id`, ts, price, qty, maker, remaining, reason).
type ReportTuple = (&'static str, u64, i64, f64, f64, bool, f64, &'static str);

/// The wrapper's state, free of Python types (tested with `cargo test`).
#[derive(Debug)]
struct Venue {
    sim: ExchangeSim,
    risk: RiskEngine,
    tick: i64,
    lot: i64,
    /// The latest time seen (ns): the core simulator wants non-decreasing times.
    now: i64,
    /// New orders sent and not yet accepted or rejected (a rejected modification or cancel
    /// leaves its order open).
    sent: HashSet<u64>,
    out: Vec<SimReport>,
}

/// The refusal of the risk engine as an `InvalidInput` naming the field it is about.
fn refused(r: Reject, o: &Order) -> Error {
    let (field, value) = match r.code {
        RejectCode::ReduceOnlyIncreases | RejectCode::ReducingOnly => {
            ("reduce_only", o.reduce_only.to_string())
        }
        RejectCode::DuplicateClientId => ("client_id", o.client_id.to_string()),
        RejectCode::InvalidOrder => ("qty", format(o.qty)),
        code => ("order", code.name().to_string()),
    };
    Error::invalid(field, value, format!("{}: {}", r.code.name(), r.message))
}

impl Venue {
    fn new(tick: i64, lot: i64, latency: LatencyModel, queue: QueueModel) -> Result<Self> {
        let sim = ExchangeSim::new(tick, lot, latency, queue)?;
        let mut risk = RiskEngine::new(RiskLimits::default())?;
        risk.add_instrument(1.0, false)?;
        Ok(Venue {
            sim,
            risk,
            tick,
            lot,
            now: i64::MIN,
            sent: HashSet::new(),
            out: Vec::new(),
        })
    }

    fn clock(&mut self, t: i64) -> i64 {
        self.now = self.now.max(t);
        self.now
    }

    /// Feeds market events, each at its exchange time or all at `at`.
    fn on_events(&mut self, events: &[Event], at: Option<i64>) -> Result<()> {
        for e in events {
            let t = self.clock(at.unwrap_or(e.exch_ts));
            self.sim.on_event_at(e, t, &mut self.out)?;
        }
        Ok(())
    }

    /// The tick and lot grids (price 0: a market order, never post-only).
    fn check_grid(&self, price: i64, qty: i64, tif: TimeInForce) -> Result<()> {
        check_order_grid(price, qty, tif, self.tick, self.lot)
    }

    /// Checks and sends a new order at `now`; what arrived by `now` acts at once.
    #[allow(clippy::too_many_arguments)] // the order's fields
    fn submit(
        &mut self,
        client_id: u64,
        side: OrderSide,
        qty: i64,
        price: i64,
        tif: TimeInForce,
        reduce_only: bool,
        now: i64,
    ) -> Result<()> {
        self.check_grid(price, qty, tif)?;
        let order = Order {
            client_id,
            instrument: 0,
            side,
            price,
            qty,
            reduce_only,
            modify: false,
        };
        let t = self.clock(now);
        let approved = self.risk.check(&order, t).map_err(|r| refused(r, &order))?;
        self.risk.order_opened(&approved);
        self.sent.insert(client_id);
        self.sim.submit(&approved, tif, t);
        self.sim.arrive_until(t, &mut self.out);
        Ok(())
    }

    /// Sends a modification of a resting order at `now`: a new price and open quantity (a new
    /// price or a larger quantity loses the queue place; `side` and `reduce_only` are the
    /// order's own, for the checks).
    #[allow(clippy::too_many_arguments)] // the order's fields
    fn modify(
        &mut self,
        client_id: u64,
        side: OrderSide,
        qty: i64,
        price: i64,
        reduce_only: bool,
        now: i64,
    ) -> Result<()> {
        if price == 0 {
            return Err(Error::invalid(
                "price",
                0,
                "a modification keeps a limit order (price > 0)",
            ));
        }
        self.check_grid(price, qty, TimeInForce::Gtc)?;
        let order = Order {
            client_id,
            instrument: 0,
            side,
            price,
            qty,
            reduce_only,
            modify: true,
        };
        let t = self.clock(now);
        let approved = self.risk.check(&order, t).map_err(|r| refused(r, &order))?;
        self.risk.order_opened(&approved);
        self.sim.modify(&approved, t);
        self.sim.arrive_until(t, &mut self.out);
        Ok(())
    }

    /// Sends a cancel at `now`; what arrived by `now` acts at once.
    fn cancel(&mut self, client_id: u64, now: i64) {
        let t = self.clock(now);
        self.sim.cancel(client_id, t);
        self.sim.arrive_until(t, &mut self.out);
    }

    /// Acts on what arrived by `now`.
    fn arrive(&mut self, now: i64) {
        let t = self.clock(now);
        self.sim.arrive_until(t, &mut self.out);
    }

    /// Replaces an idle simulator's book with `book`; false (nothing done) when not idle.
    fn sync_book(&mut self, book: &L2Book) -> Result<bool> {
        if !self.sim.is_idle() {
            return Ok(false);
        }
        if (book.tick_size(), book.lot_size()) != (self.tick, self.lot) {
            return Err(Error::invalid(
                "book",
                format!(
                    "tick {} lot {}",
                    format(book.tick_size()),
                    format(book.lot_size())
                ),
                format!(
                    "must have the simulator's tick {} and lot {}",
                    format(self.tick),
                    format(self.lot)
                ),
            ));
        }
        self.sim.sync_book(book, std::iter::empty())?;
        Ok(true)
    }

    /// The reports since the last call, after keeping the risk engine's books with them.
    fn take(&mut self) -> Vec<SimReport> {
        for r in &self.out {
            match *r {
                SimReport::Filled {
                    client_id,
                    qty,
                    remaining,
                    ..
                } => {
                    // Cannot fail: a filled order is open in the risk engine until its last
                    // fill (remaining 0), and a fill quantity is > 0.
                    let _ = self.risk.on_fill(client_id, qty);
                    if remaining == 0 {
                        // A reduce-only order cut by the exchange fills less than approved.
                        self.risk.order_closed(client_id);
                    }
                }
                SimReport::Rejected { client_id, .. } => {
                    if self.sent.remove(&client_id) {
                        self.risk.order_closed(client_id);
                    }
                }
                SimReport::Cancelled { client_id, .. } => self.risk.order_closed(client_id),
                SimReport::Accepted { client_id, .. } => {
                    self.sent.remove(&client_id);
                }
                SimReport::Modified { .. } => {}
            }
        }
        std::mem::take(&mut self.out)
    }
}

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

fn fixed(field: &'static str, v: f64) -> PyResult<i64> {
    from_f64(field, v).map_err(|e| CoreErr(e).into())
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
    #[pyo3(signature = (client_id, side, qty, price, tif, reduce_only, now_ns))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn submit(
        &mut self,
        client_id: u64,
        side: i8,
        qty: f64,
        price: f64,
        tif: u8,
        reduce_only: bool,
        now_ns: i64,
    ) -> PyResult<Vec<ReportTuple>> {
        let side = side_of(side)?;
        let tif = TimeInForce::from_code(tif).map_err(CoreErr)?;
        let (qty, price) = (fixed("qty", qty)?, fixed("price", price)?);
        self.inner
            .submit(client_id, side, qty, price, tif, reduce_only, now_ns)
            .map_err(CoreErr)?;
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
        self.inner.sim.response_latency()
    }

    /// True when nothing of ours is at the exchange (no order resting or in flight, no level
    /// still marked by a fill): feeding it market events may then be skipped.
    #[getter]
    fn is_idle(&self) -> bool {
        self.inner.sim.is_idle()
    }

    /// The position the exchange holds (signed).
    #[getter]
    fn position(&self) -> f64 {
        to_f64(self.inner.sim.position())
    }

    /// Resting orders.
    #[getter]
    fn resting(&self) -> usize {
        self.inner.sim.resting()
    }

    /// When the next order action in flight reaches the exchange (ns), if any.
    #[getter]
    fn next_arrival(&self) -> Option<i64> {
        self.inner.sim.next_arrival()
    }

    #[getter]
    fn tick_size(&self) -> f64 {
        to_f64(self.inner.tick)
    }

    #[getter]
    fn lot_size(&self) -> f64 {
        to_f64(self.inner.lot)
    }

    /// The exchange's best bid (price, qty): the feed's book minus the liquidity our takers
    /// took, until the feed sets those levels again.
    fn best_bid(&self) -> Option<(f64, f64)> {
        self.inner.sim.book().best_bid().map(level_out)
    }

    fn best_ask(&self) -> Option<(f64, f64)> {
        self.inner.sim.book().best_ask().map(level_out)
    }

    /// Up to `n` levels of a side of the exchange's book, shape (k, 2): price, qty.
    fn levels<'py>(
        &self,
        py: Python<'py>,
        side: &Bound<'_, PyAny>,
        n: i64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        book_levels(py, self.inner.sim.book(), parse_side(side)?, n)
    }

    fn __repr__(&self) -> String {
        let s = &self.inner.sim;
        format!(
            "SimExchange(tick_size={}, lot_size={}, position={}, resting={}, idle={})",
            format(self.inner.tick),
            format(self.inner.lot),
            format(s.position()),
            s.resting(),
            s.is_idle()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine_core::event::{flags, kind, ASK, BID};

    const Q: i64 = 1_000_000_000;
    const T: i64 = 100_000_000; // tick 0.1

    fn level(t: i64, side: i8, price: i64, qty: i64) -> Event {
        Event {
            exch_ts: t,
            kind: kind::DEPTH,
            side,
            price,
            qty,
            flags: flags::LAST_IN_MESSAGE,
            ..Event::default()
        }
    }

    fn trade(t: i64, aggressor: i8, price: i64, qty: i64) -> Event {
        Event {
            exch_ts: t,
            kind: kind::TRADE,
            side: aggressor,
            price,
            qty,
            ..Event::default()
        }
    }

    /// Bid 100.0 x 5 / ask 100.1 x 3, ask 100.2 x 4.
    fn venue() -> Venue {
        let mut v = Venue::new(
            T,
            Q / 1000,
            LatencyModel::constant(0, 0).unwrap(),
            QueueModel::Conservative,
        )
        .unwrap();
        let book = [
            level(0, BID, 1000 * T, 5 * Q),
            level(0, ASK, 1001 * T, 3 * Q),
            level(0, ASK, 1002 * T, 4 * Q),
        ];
        v.on_events(&book, None).unwrap();
        v.take();
        v
    }

    fn kinds(out: &[SimReport]) -> Vec<&'static str> {
        out.iter().map(|r| report_tuple(r).0).collect()
    }

    #[test]
    fn a_market_order_walks_the_book_at_once_and_the_risk_books_follow() {
        let mut v = venue();
        v.submit(1, OrderSide::Buy, 5 * Q, 0, TimeInForce::Ioc, false, 10)
            .unwrap();
        let out = v.take();
        assert_eq!(kinds(&out), ["accepted", "filled", "filled"]);
        let prices: Vec<i64> = out
            .iter()
            .filter_map(|r| match r {
                SimReport::Filled { price, .. } => Some(*price),
                _ => None,
            })
            .collect();
        assert_eq!(prices, [1001 * T, 1002 * T]);
        assert_eq!(v.sim.position(), 5 * Q);
        assert_eq!(v.risk.position(0), Some(5 * Q));
        assert_eq!(v.risk.open_orders(), 0);
        // The taken liquidity keeps the simulator busy until the feed sets those levels.
        assert!(!v.sim.is_idle());
        v.on_events(
            &[
                level(20, ASK, 1001 * T, 3 * Q),
                level(20, ASK, 1002 * T, 4 * Q),
            ],
            None,
        )
        .unwrap();
        assert!(v.sim.is_idle());
        // A reduce-only sell beyond the position is cut to it; one more is refused.
        v.submit(
            2,
            OrderSide::Sell,
            5 * Q,
            1005 * T,
            TimeInForce::Gtc,
            true,
            30,
        )
        .unwrap();
        assert_eq!(v.risk.open_orders(), 1);
        let e = v
            .submit(3, OrderSide::Sell, Q, 1005 * T, TimeInForce::Gtc, true, 31)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid reduce_only: true (reduce_only_increases"),
            "{e}"
        );
    }

    #[test]
    fn validity_checks_name_the_field() {
        let mut v = venue();
        let cases = [
            (
                1000 * T + 1,
                Q,
                TimeInForce::Gtc,
                "invalid price: 100.000000001",
            ),
            (
                1000 * T,
                Q + 1,
                TimeInForce::Gtc,
                "invalid qty: 1.000000001",
            ),
            (1000 * T, 0, TimeInForce::Gtc, "invalid qty: 0"),
            (0, Q, TimeInForce::PostOnly, "invalid tif: post-only"),
        ];
        for (price, qty, tif, msg) in cases {
            let e = v
                .submit(1, OrderSide::Buy, qty, price, tif, false, 1)
                .unwrap_err();
            assert!(e.to_string().starts_with(msg), "{e}");
        }
        v.submit(1, OrderSide::Buy, Q, 999 * T, TimeInForce::Gtc, false, 2)
            .unwrap();
        let e = v
            .submit(1, OrderSide::Buy, Q, 999 * T, TimeInForce::Gtc, false, 3)
            .unwrap_err();
        assert!(e.to_string().starts_with("invalid client_id: 1"), "{e}");
        assert!(v.take().len() == 1 && v.sim.resting() == 1);
    }

    #[test]
    fn a_resting_order_fills_on_trades_and_cancels_close_it() {
        let mut v = venue();
        v.submit(
            1,
            OrderSide::Buy,
            2 * Q,
            1000 * T,
            TimeInForce::PostOnly,
            false,
            5,
        )
        .unwrap();
        v.submit(2, OrderSide::Buy, Q, 999 * T, TimeInForce::Gtc, false, 5)
            .unwrap();
        assert_eq!(kinds(&v.take()), ["accepted", "accepted"]);
        // Events at the replay clock (100), whatever their exchange times (times never go back).
        v.on_events(&[trade(7, ASK, 1000 * T, 8 * Q)], Some(100))
            .unwrap();
        let out = v.take();
        assert_eq!(kinds(&out), ["filled"]);
        assert_eq!(report_tuple(&out[0]).2, 100);
        assert_eq!(v.risk.open_orders(), 1);
        v.cancel(2, 50);
        v.cancel(2, 60);
        let out = v.take();
        assert_eq!(kinds(&out), ["cancelled", "rejected"]);
        assert_eq!(out[0].ts(), 100);
        assert_eq!(v.risk.open_orders(), 0);
        assert!(v.sim.is_idle());
        // A modification the exchange refuses (it would cross) leaves the order open.
        v.submit(
            3,
            OrderSide::Sell,
            Q,
            1003 * T,
            TimeInForce::Gtc,
            false,
            110,
        )
        .unwrap();
        v.modify(3, OrderSide::Sell, Q, 1000 * T, false, 111)
            .unwrap();
        v.modify(3, OrderSide::Sell, Q / 2, 1004 * T, false, 112)
            .unwrap();
        assert_eq!(kinds(&v.take()), ["accepted", "rejected", "modified"]);
        assert_eq!(v.risk.open_orders(), 1);
        v.cancel(3, 113);
        v.take();
        let mut book = L2Book::new(T, Q / 1000).unwrap();
        book.set_level(engine_core::Side::Bid, 990 * T, Q).unwrap();
        assert!(v.sync_book(&book).unwrap());
        assert_eq!(v.sim.book().best_bid().map(|l| l.price), Some(990 * T));
        assert!(v.sync_book(&L2Book::new(T, Q).unwrap()).is_err());
    }
}
