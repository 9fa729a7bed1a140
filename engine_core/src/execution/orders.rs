//! The order lifecycle: every order of a run, driven by the exchange's reports.
//!
//! An [`OrderTracker`] keeps each order's row (what was sent, what is filled, its status) and
//! the open ones in sending order. The reports move them: accepted (pending -> open), a fill
//! (partially filled, then filled), a modification, a terminal status (filled, cancelled,
//! rejected, refused, expired). Every status change goes through
//! [`OrderStatus::can_become`]: statuses only move forward and a terminal one is never left,
//! so a late or duplicate report is ignored, never applied backwards. The backtest replay and
//! paper trading drive it ([`crate::replay::Replay`]); the positions and the account a fill
//! moves are the caller's ([`crate::risk::Portfolio`], [`super::Account`]).

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::types::{OrderSide, OrderStatus, OrderType, TimeInForce};

/// One order of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderRow {
    pub client_id: u64,
    pub instrument: u32,
    pub side: OrderSide,
    pub tif: TimeInForce,
    /// Pending until the exchange accepts it, then open, partially filled and a terminal
    /// status ([`OrderStatus::can_become`]).
    pub status: OrderStatus,
    pub reduce_only: bool,
    /// Local time sent (ns).
    pub sent_ts: i64,
    /// Local time it ended (filled, cancelled, rejected, refused); -1 while open.
    pub done_ts: i64,
    /// Fixed point: the limit price; 0 for a market order.
    pub price: i64,
    /// Fixed point: the whole quantity (filled included).
    pub qty: i64,
    pub filled: i64,
    /// The exchange accepted it.
    pub accepted: bool,
    /// A forced liquidation by the exchange (not sent by the strategy).
    pub liquidation: bool,
    /// Market, limit, stop or take-profit.
    pub order_type: OrderType,
    /// A conditional order's trigger price (fixed point; 0 otherwise).
    pub trigger_price: i64,
}

/// The orders of a run and their lifecycle (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct OrderTracker {
    rows: Vec<OrderRow>,
    index: HashMap<u64, usize>,
    /// Client ids of the orders not yet in a terminal status, oldest first.
    open: Vec<u64>,
    /// Trade ids of the fills booked ([`OrderTracker::fill_once`]).
    trades: HashSet<u64>,
}

impl OrderTracker {
    /// No order yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every order, in sending order.
    pub fn rows(&self) -> &[OrderRow] {
        &self.rows
    }

    /// Client ids of the open orders, oldest first.
    pub fn open(&self) -> &[u64] {
        &self.open
    }

    /// True if `client_id` was used in this run.
    pub fn contains(&self, client_id: u64) -> bool {
        self.index.contains_key(&client_id)
    }

    /// The row index of `client_id`.
    pub fn index_of(&self, client_id: u64) -> Option<usize> {
        self.index.get(&client_id).copied()
    }

    /// The order `client_id`.
    pub fn get(&self, client_id: u64) -> Option<&OrderRow> {
        self.index_of(client_id).map(|i| &self.rows[i])
    }

    /// The order at row index `i` (from [`OrderTracker::index_of`]).
    pub fn row(&self, i: usize) -> &OrderRow {
        &self.rows[i]
    }

    /// Records a new order (pending, or terminal: refused before sending, a liquidation
    /// already filled); returns its row index. A client id used before is refused.
    pub fn insert(&mut self, row: OrderRow) -> Result<usize> {
        if self.index.contains_key(&row.client_id) {
            return Err(Error::invalid(
                "client_id",
                row.client_id,
                "is already used in this run",
            ));
        }
        let i = self.rows.len();
        self.index.insert(row.client_id, i);
        if row.status.is_open() {
            self.open.push(row.client_id);
        }
        self.rows.push(row);
        Ok(i)
    }

    /// The exchange accepted row `i` (pending or unknown -> open); a late report changes
    /// nothing.
    pub fn accepted(&mut self, i: usize) {
        let r = &mut self.rows[i];
        r.accepted = true;
        if r.status.can_become(OrderStatus::Open) {
            r.status = OrderStatus::Open;
        }
    }

    /// A fill of `qty` of row `i` with `remaining` left at the exchange: the filled quantity
    /// grows, the order is partially filled while something remains (its end is
    /// [`OrderTracker::close`] with `Filled`).
    pub fn filled(&mut self, i: usize, qty: i64, remaining: i64) {
        let r = &mut self.rows[i];
        r.filled += qty;
        r.accepted = true;
        if remaining > 0 && r.status.can_become(OrderStatus::PartiallyFilled) {
            r.status = OrderStatus::PartiallyFilled;
        }
    }

    /// A fill of `qty` of row `i` at local time `at` with `remaining` left at the exchange:
    /// [`OrderTracker::filled`], and the order ends `Filled` when nothing remains. True if it
    /// ended now.
    pub fn fill(&mut self, i: usize, qty: i64, remaining: i64, at: i64) -> bool {
        self.filled(i, qty, remaining);
        remaining <= 0 && self.close(self.rows[i].client_id, OrderStatus::Filled, at)
    }

    /// [`OrderTracker::fill`] of a fill the exchange numbered `trade_id`, once: a fill reported
    /// again (the stream and the poll, a replay of the stream) is ignored. `remaining` is what
    /// the order has left after it (its quantity minus everything filled, at least 0). Returns
    /// None for a duplicate, else whether the order ended.
    pub fn fill_once(&mut self, i: usize, trade_id: u64, qty: i64, at: i64) -> Option<bool> {
        if !self.trades.insert(trade_id) {
            return None;
        }
        let r = &self.rows[i];
        let remaining = (r.qty - r.filled - qty).max(0);
        Some(self.fill(i, qty, remaining, at))
    }

    /// Row `i` now has this limit price and open quantity (fixed point).
    pub fn modified(&mut self, i: usize, price: i64, open_qty: i64) {
        let r = &mut self.rows[i];
        r.price = price;
        r.qty = r.filled + open_qty;
    }

    /// Row `i` moves to `status` at local time `at` if its status may become it (the one rule,
    /// [`OrderStatus::can_become`]); a terminal status ends it. True if it changed.
    pub fn set_status(&mut self, i: usize, status: OrderStatus, at: i64) -> bool {
        if status.is_terminal() {
            let id = self.rows[i].client_id;
            return self.close(id, status, at);
        }
        let r = &mut self.rows[i];
        if !r.status.can_become(status) {
            return false;
        }
        r.status = status;
        if status == OrderStatus::Open {
            r.accepted = true;
        }
        true
    }

    /// Order `client_id` ends with `status` at local time `at`, if its status may become it;
    /// it leaves the open orders either way. True if the status changed.
    pub fn close(&mut self, client_id: u64, status: OrderStatus, at: i64) -> bool {
        let mut changed = false;
        if let Some(&i) = self.index.get(&client_id) {
            let row = &mut self.rows[i];
            if row.status.can_become(status) {
                row.status = status;
                row.done_ts = at;
                changed = true;
            }
        }
        if let Some(p) = self.open.iter().position(|&c| c == client_id) {
            self.open.remove(p);
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64) -> OrderRow {
        OrderRow {
            client_id: id,
            instrument: 0,
            side: OrderSide::Buy,
            tif: TimeInForce::Gtc,
            status: OrderStatus::Pending,
            reduce_only: false,
            sent_ts: 1,
            done_ts: -1,
            price: 100,
            qty: 10,
            filled: 0,
            accepted: false,
            liquidation: false,
            order_type: OrderType::Limit,
            trigger_price: 0,
        }
    }

    #[test]
    fn reports_move_an_order_forward_only() {
        let mut t = OrderTracker::new();
        let i = t.insert(row(1)).unwrap();
        assert!(t.insert(row(1)).is_err());
        t.accepted(i);
        assert_eq!(t.row(i).status, OrderStatus::Open);
        t.filled(i, 4, 6);
        assert_eq!(t.row(i).status, OrderStatus::PartiallyFilled);
        t.accepted(i); // a late acceptance: no step back
        assert_eq!(t.row(i).status, OrderStatus::PartiallyFilled);
        t.modified(i, 99, 3);
        assert_eq!((t.row(i).price, t.row(i).qty), (99, 7));
        assert!(t.close(1, OrderStatus::Cancelled, 5));
        assert!(
            !t.close(1, OrderStatus::Filled, 6),
            "a terminal status is never left"
        );
        assert_eq!(
            (t.row(i).status, t.row(i).done_ts),
            (OrderStatus::Cancelled, 5)
        );
        assert!(t.open().is_empty());
        let mut refused = row(2);
        refused.status = OrderStatus::Refused;
        t.insert(refused).unwrap();
        assert!(t.open().is_empty() && t.get(2).is_some());
        // fills by trade id: booked once; the last one ends the order
        let k = t.insert(row(3)).unwrap();
        assert_eq!(t.fill_once(k, 7, 4, 10), Some(false));
        assert_eq!(t.fill_once(k, 7, 4, 11), None, "the same trade again");
        assert_eq!(t.fill_once(k, 8, 6, 12), Some(true));
        assert_eq!(
            (t.row(k).status, t.row(k).filled, t.row(k).done_ts),
            (OrderStatus::Filled, 10, 12)
        );
    }
}
