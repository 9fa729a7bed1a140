//! One instrument's simulated exchange for the live exchange simulator: market events in,
//! orders in at a given time, reports out.
//!
//! Orders reach the simulator only as [`ApprovedOrder`](crate::risk::ApprovedOrder)s, which
//! only [`RiskEngine::check`] makes: the venue owns a risk engine with default limits (no
//! trading limit: the exchange's own validity checks: positive quantity, reduce-only, client
//! id in use) and keeps its open orders and position in step with the simulator's reports.
//! Prices and quantities are checked against the tick and lot grids ([`check_order_grid`], the
//! rule of the backtest and the live order path).

use std::collections::HashSet;

use crate::book::L2Book;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::fixed::format;
use crate::risk::{ApprovedOrder, Order, OrderSide, Reject, RejectCode, RiskEngine, RiskLimits};
use crate::sim::{
    check_order_grid, check_trigger, ExchangeSim, LatencyModel, QueueModel, SimReport, TimeInForce,
    Trigger,
};
use crate::types::OrderType;

/// One instrument's simulated exchange with a risk engine of its own (see the module doc).
#[derive(Debug)]
pub struct Venue {
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
fn refused(r: &Reject, o: &Order) -> Error {
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
    /// A venue with the given grids (fixed point), latency and queue models.
    pub fn new(tick: i64, lot: i64, latency: LatencyModel, queue: QueueModel) -> Result<Self> {
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

    /// The venue's clock after `t` (times never go back).
    fn clock(&mut self, t: i64) -> i64 {
        self.now = self.now.max(t);
        self.now
    }

    /// Feeds market events, each at its exchange time or all at `at`.
    pub fn on_events(&mut self, events: &[Event], at: Option<i64>) -> Result<()> {
        for e in events {
            let t = self.clock(at.unwrap_or(e.exch_ts));
            self.sim.on_event_at(e, t, &mut self.out)?;
        }
        Ok(())
    }

    /// The grids and the risk checks of an order (a new one, or a modification) sent at `now`:
    /// the approved order, opened in the risk engine, and the venue's time.
    fn approve(
        &mut self,
        order: &Order,
        order_type: OrderType,
        tif: TimeInForce,
        now: i64,
    ) -> Result<(ApprovedOrder, i64)> {
        check_order_grid(order_type, order.price, order.qty, tif, self.tick, self.lot)?;
        let t = self.clock(now);
        let approved = self.risk.check(order, t).map_err(|r| refused(&r, order))?;
        self.risk.order_opened(&approved);
        Ok((approved, t))
    }

    /// Checks and sends a new order at `now` (a market order has price 0); what arrived by `now`
    /// acts at once.
    #[allow(clippy::too_many_arguments)] // the order's fields
    pub fn submit(
        &mut self,
        client_id: u64,
        side: OrderSide,
        qty: i64,
        order_type: OrderType,
        price: i64,
        tif: TimeInForce,
        reduce_only: bool,
        now: i64,
    ) -> Result<()> {
        self.submit_with(
            client_id,
            side,
            qty,
            order_type,
            price,
            tif,
            reduce_only,
            None,
            now,
        )
    }

    /// [`Venue::submit`] of an order that may be conditional: a stop or take-profit type
    /// needs its `trigger` (checked: [`check_trigger`]) and is parked at the exchange until
    /// its trigger price is touched (one that would trigger at once is rejected, Binance's
    /// -2021). A `close_position` trigger makes the order reduce-only.
    #[allow(clippy::too_many_arguments)] // the order's fields
    pub fn submit_with(
        &mut self,
        client_id: u64,
        side: OrderSide,
        qty: i64,
        order_type: OrderType,
        price: i64,
        tif: TimeInForce,
        reduce_only: bool,
        trigger: Option<Trigger>,
        now: i64,
    ) -> Result<()> {
        check_trigger(order_type, trigger.as_ref(), self.tick)?;
        let order = Order {
            client_id,
            instrument: 0,
            side,
            price,
            qty,
            reduce_only: reduce_only || trigger.is_some_and(|t| t.close_position),
            modify: false,
        };
        let (approved, t) = self.approve(&order, order_type, tif, now)?;
        self.sent.insert(client_id);
        self.sim.submit_with(&approved, tif, trigger, 0, t);
        self.sim.arrive_until(t, &mut self.out);
        Ok(())
    }

    /// A new mark price at `now`: conditional orders watching the mark act.
    pub fn on_mark(&mut self, mark: i64, now: i64) -> Result<()> {
        if mark <= 0 {
            return Err(Error::invalid(
                "mark",
                format(mark),
                "a mark price must be > 0",
            ));
        }
        let t = self.clock(now);
        self.sim.on_mark(mark, t, &mut self.out);
        Ok(())
    }

    /// Sends a modification of a resting order at `now`: a new price and open quantity (a new
    /// price or a larger quantity loses the queue place; `side` and `reduce_only` are the
    /// order's own, for the checks).
    pub fn modify(
        &mut self,
        client_id: u64,
        side: OrderSide,
        qty: i64,
        price: i64,
        reduce_only: bool,
        now: i64,
    ) -> Result<()> {
        let order = Order {
            client_id,
            instrument: 0,
            side,
            price,
            qty,
            reduce_only,
            modify: true,
        };
        // A modification keeps a limit order: its price must be > 0 on the grid.
        let (approved, t) = self.approve(&order, OrderType::Limit, TimeInForce::Gtc, now)?;
        self.sim.modify(&approved, t);
        self.sim.arrive_until(t, &mut self.out);
        Ok(())
    }

    /// Sends a cancel at `now`; what arrived by `now` acts at once.
    pub fn cancel(&mut self, client_id: u64, now: i64) {
        let t = self.clock(now);
        self.sim.cancel(client_id, t);
        self.sim.arrive_until(t, &mut self.out);
    }

    /// Acts on what arrived by `now`.
    pub fn arrive(&mut self, now: i64) {
        let t = self.clock(now);
        self.sim.arrive_until(t, &mut self.out);
    }

    /// Replaces an idle simulator's book with `book`; false (nothing done) when not idle.
    pub fn sync_book(&mut self, book: &L2Book) -> Result<bool> {
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
    pub fn take(&mut self) -> Vec<SimReport> {
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
                SimReport::Modified { .. } | SimReport::Triggered { .. } => {}
            }
        }
        std::mem::take(&mut self.out)
    }

    /// The simulator (its book, position, resting orders...).
    pub fn sim(&self) -> &ExchangeSim {
        &self.sim
    }

    /// The next response latency drawn from the latency model (ns).
    pub fn response_latency(&mut self) -> i64 {
        self.sim.response_latency()
    }

    /// The tick size (fixed point).
    pub fn tick_size(&self) -> i64 {
        self.tick
    }

    /// The lot size (fixed point).
    pub fn lot_size(&self) -> i64 {
        self.lot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ASK, BID};
    use crate::sim::tests::{level, trade, Q, T};

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
        out.iter()
            .map(|r| match r {
                SimReport::Accepted { .. } => "accepted",
                SimReport::Rejected { .. } => "rejected",
                SimReport::Filled { .. } => "filled",
                SimReport::Modified { .. } => "modified",
                SimReport::Cancelled { .. } => "cancelled",
                SimReport::Triggered { .. } => "triggered",
            })
            .collect()
    }

    #[test]
    fn a_market_order_walks_the_book_at_once_and_the_risk_books_follow() {
        let mut v = venue();
        v.submit(
            1,
            OrderSide::Buy,
            5 * Q,
            OrderType::Market,
            0,
            TimeInForce::Ioc,
            false,
            10,
        )
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
            OrderType::Limit,
            1005 * T,
            TimeInForce::Gtc,
            true,
            30,
        )
        .unwrap();
        assert_eq!(v.risk.open_orders(), 1);
        let e = v
            .submit(
                3,
                OrderSide::Sell,
                Q,
                OrderType::Limit,
                1005 * T,
                TimeInForce::Gtc,
                true,
                31,
            )
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
        let lim = OrderType::Limit;
        let cases = [
            (
                lim,
                1000 * T + 1,
                Q,
                TimeInForce::Gtc,
                "invalid price: 100.000000001",
            ),
            (
                lim,
                1000 * T,
                Q + 1,
                TimeInForce::Gtc,
                "invalid qty: 1.000000001",
            ),
            (lim, 1000 * T, 0, TimeInForce::Gtc, "invalid qty: 0"),
            (
                lim,
                0,
                Q,
                TimeInForce::Gtc,
                "invalid price: 0 (a limit price must be > 0)",
            ),
            (lim, -1000 * T, Q, TimeInForce::Gtc, "invalid price: -100"),
            (
                OrderType::Market,
                1000 * T,
                Q,
                TimeInForce::Ioc,
                "invalid price: 100 (a market",
            ),
            (
                OrderType::Market,
                0,
                Q,
                TimeInForce::PostOnly,
                "invalid tif: post-only",
            ),
        ];
        for (ty, price, qty, tif, msg) in cases {
            let e = v
                .submit(1, OrderSide::Buy, qty, ty, price, tif, false, 1)
                .unwrap_err();
            assert!(e.to_string().starts_with(msg), "{e}");
        }
        v.submit(
            1,
            OrderSide::Buy,
            Q,
            OrderType::Limit,
            999 * T,
            TimeInForce::Gtc,
            false,
            2,
        )
        .unwrap();
        let e = v
            .submit(
                1,
                OrderSide::Buy,
                Q,
                OrderType::Limit,
                999 * T,
                TimeInForce::Gtc,
                false,
                3,
            )
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
            OrderType::Limit,
            1000 * T,
            TimeInForce::PostOnly,
            false,
            5,
        )
        .unwrap();
        v.submit(
            2,
            OrderSide::Buy,
            Q,
            OrderType::Limit,
            999 * T,
            TimeInForce::Gtc,
            false,
            5,
        )
        .unwrap();
        assert_eq!(kinds(&v.take()), ["accepted", "accepted"]);
        // Events at the replay clock (100), whatever their exchange times (times never go back).
        v.on_events(&[trade(7, ASK, 1000 * T, 8 * Q)], Some(100))
            .unwrap();
        let out = v.take();
        assert_eq!(kinds(&out), ["filled"]);
        assert_eq!(out[0].ts(), 100);
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
            OrderType::Limit,
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
        book.set_level(crate::book::Side::Bid, 990 * T, Q).unwrap();
        assert!(v.sync_book(&book).unwrap());
        assert_eq!(v.sim.book().best_bid().map(|l| l.price), Some(990 * T));
        assert!(v.sync_book(&L2Book::new(T, Q).unwrap()).is_err());
    }
    #[test]
    fn a_stop_order_parks_then_fires_on_a_trade_through_it() {
        use crate::sim::TriggerSource;
        let mut v = venue();
        let stop = |price| {
            Some(Trigger {
                order_type: OrderType::StopMarket,
                price,
                source: TriggerSource::LastPrice,
                close_position: false,
            })
        };
        // No trigger: refused before the matching engine.
        let e = v
            .submit_with(
                1,
                OrderSide::Sell,
                Q,
                OrderType::StopMarket,
                0,
                TimeInForce::Ioc,
                false,
                None,
                1,
            )
            .unwrap_err();
        assert!(e.to_string().starts_with("invalid trigger_price"), "{e}");
        v.on_events(&[trade(2, ASK, 1000 * T, Q / 1000)], None)
            .unwrap();
        v.take();
        // At or above the last trade a sell stop would trigger at once.
        v.submit_with(
            2,
            OrderSide::Sell,
            Q,
            OrderType::StopMarket,
            0,
            TimeInForce::Ioc,
            false,
            stop(1000 * T),
            3,
        )
        .unwrap();
        v.submit_with(
            3,
            OrderSide::Sell,
            Q,
            OrderType::StopMarket,
            0,
            TimeInForce::Ioc,
            false,
            stop(999 * T),
            3,
        )
        .unwrap();
        let out = v.take();
        assert_eq!(kinds(&out), ["rejected", "accepted"]);
        assert_eq!(v.sim.parked(), 1);
        v.on_events(&[trade(4, BID, 999 * T, Q / 1000)], None)
            .unwrap();
        let out = v.take();
        assert_eq!(kinds(&out), ["triggered", "filled"]);
        assert_eq!(v.sim.position(), -Q);
        assert_eq!(v.risk.open_orders(), 0);
        assert!(v.on_mark(0, 5).is_err());
        v.on_mark(1000 * T, 5).unwrap();
    }
}
