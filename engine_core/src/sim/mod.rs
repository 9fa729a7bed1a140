//! The exchange simulator: fills a strategy's orders against recorded market events.
//!
//! Time: every market event is seen at its exchange time. An order sent at local time `t`
//! reaches the exchange at `t + entry latency` ([`LatencyModel`]: constant or drawn from
//! recorded latencies) and acts from then on, never on data the exchange saw before it arrived
//! (no look-ahead). Takers walk the book level by level (partial fills, slippage) and the
//! liquidity they take stays out of the simulated book until the feed next sets that level.
//! A resting limit order joins the back of its price level's queue; trades at its price
//! consume the quantity ahead of it first, then fill it; a trade through its price fills it
//! whole. Where cancellations in the level happened (ahead of it or behind) is the
//! [`QueueModel`]'s choice: conservative, or one of hftbacktest's probabilistic families.
//! Reduce-only orders are checked against the position the exchange holds: they never grow
//! it, are cut to it, and a resting one is cancelled when the position is closed.
//!
//! Orders reach the simulator only as [`ApprovedOrder`]s: the risk checks cannot be skipped.

mod latency;
mod queue;
mod venue;

pub use latency::LatencyModel;
pub use queue::QueueModel;
pub use venue::Venue;

use std::collections::VecDeque;

use crate::book::{L2Book, Side};
use crate::error::{Error, Result};
use crate::event::{kind, Event, BID};
use crate::risk::{ApprovedOrder, OrderSide};

pub use crate::types::{OrderType, TimeInForce, TriggerSource};

/// Checks an order against its instrument's grids (fixed point): a market order has no price
/// (0 inside the core) and is never post-only; a limit order's price is > 0 on the tick grid;
/// the quantity is > 0 on the lot grid. The one rule of the backtest, the paper exchange, the
/// exchange simulator and the live order path.
pub fn check_order_grid(
    order_type: OrderType,
    price: i64,
    qty: i64,
    tif: TimeInForce,
    tick: i64,
    lot: i64,
) -> Result<()> {
    if !order_type.has_limit_price() && price != 0 {
        return Err(Error::invalid(
            "price",
            crate::fixed::format(price),
            format!("a {} order has no limit price", order_type.name()),
        ));
    }
    if order_type.has_limit_price() && price <= 0 {
        return Err(Error::invalid(
            "price",
            crate::fixed::format(price),
            "a limit price must be > 0",
        ));
    }
    if order_type.has_limit_price() && price % tick != 0 {
        return Err(Error::invalid(
            "price",
            crate::fixed::format(price),
            format!("not on the tick grid {}", crate::fixed::format(tick)),
        ));
    }
    if qty <= 0 || qty % lot != 0 {
        return Err(Error::invalid(
            "qty",
            crate::fixed::format(qty),
            format!("must be > 0 on the lot grid {}", crate::fixed::format(lot)),
        ));
    }
    if !order_type.has_limit_price() && tif == TimeInForce::PostOnly {
        return Err(Error::invalid(
            "tif",
            "post-only",
            "a market order cannot be post-only",
        ));
    }
    Ok(())
}

/// Checks a conditional order's trigger against its type: a stop or take-profit type needs
/// one, with a price > 0 on the tick grid; a market or limit order has none.
pub fn check_trigger(order_type: OrderType, trigger: Option<&Trigger>, tick: i64) -> Result<()> {
    match (order_type.is_conditional(), trigger) {
        (true, None) => Err(Error::invalid(
            "trigger_price",
            "none",
            format!("a {} order needs a trigger price", order_type.name()),
        )),
        (false, Some(t)) => Err(Error::invalid(
            "trigger_price",
            crate::fixed::format(t.price),
            format!("a {} order has no trigger", order_type.name()),
        )),
        (true, Some(t)) if t.order_type != order_type => Err(Error::invalid(
            "trigger",
            t.order_type.name(),
            format!("does not match the order type {}", order_type.name()),
        )),
        (true, Some(t)) if t.price <= 0 || t.price % tick != 0 => Err(Error::invalid(
            "trigger_price",
            crate::fixed::format(t.price),
            format!(
                "must be > 0 on the tick grid {}",
                crate::fixed::format(tick)
            ),
        )),
        _ => Ok(()),
    }
}

/// What the simulator reports. `ts` is the exchange time of the report.
#[derive(Debug, Clone, PartialEq)]
pub enum SimReport {
    /// The order reached the exchange and was accepted (resting or about to trade); `qty` is
    /// the accepted quantity (a reduce-only order may be cut to the position).
    Accepted { client_id: u64, ts: i64, qty: i64 },
    /// Refused by the exchange (post-only that would cross, FOK without liquidity, ...).
    Rejected {
        client_id: u64,
        ts: i64,
        reason: &'static str,
    },
    /// A fill: price and quantity in fixed point; `maker` for a resting fill.
    Filled {
        client_id: u64,
        ts: i64,
        price: i64,
        qty: i64,
        maker: bool,
        remaining: i64,
    },
    /// A resting order now has this price and quantity.
    Modified {
        client_id: u64,
        ts: i64,
        price: i64,
        qty: i64,
    },
    /// A conditional order's trigger price was touched: it now acts as a market or limit order
    /// (its fills, rest or cancel follow).
    Triggered { client_id: u64, ts: i64 },
    /// Cancelled (by request, the unfilled rest of an IOC, or a reduce-only order whose
    /// position is closed).
    Cancelled {
        client_id: u64,
        ts: i64,
        remaining: i64,
    },
}

impl SimReport {
    /// The client order id the report is about.
    pub fn client_id(&self) -> u64 {
        match *self {
            SimReport::Accepted { client_id, .. }
            | SimReport::Rejected { client_id, .. }
            | SimReport::Filled { client_id, .. }
            | SimReport::Modified { client_id, .. }
            | SimReport::Triggered { client_id, .. }
            | SimReport::Cancelled { client_id, .. } => client_id,
        }
    }

    /// The exchange time of the report.
    pub fn ts(&self) -> i64 {
        match *self {
            SimReport::Accepted { ts, .. }
            | SimReport::Rejected { ts, .. }
            | SimReport::Filled { ts, .. }
            | SimReport::Modified { ts, .. }
            | SimReport::Triggered { ts, .. }
            | SimReport::Cancelled { ts, .. } => ts,
        }
    }
}

#[derive(Debug, Clone)]
struct Resting {
    client_id: u64,
    side: OrderSide,
    price: i64,
    remaining: i64,
    reduce_only: bool,
    /// Quantity ahead in the level's queue.
    ahead: i64,
    /// Quantity traded at the level since its last depth update (so a queue model does not
    /// count it twice as a cancellation).
    traded: i64,
}

/// The trigger of a conditional order (stop or take-profit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// Stop or take-profit, market or limit once triggered.
    pub order_type: OrderType,
    /// The trigger price (fixed point, > 0, on the tick grid).
    pub price: i64,
    /// The price watched: the last trade or the mark.
    pub source: TriggerSource,
    /// Close the whole position when triggered (Binance's `closePosition`): the quantity is
    /// the position then, reduce-only.
    pub close_position: bool,
}

/// A conditional order waiting at the exchange for its trigger.
#[derive(Debug, Clone, Copy)]
struct Parked {
    order: NewOrder,
    trigger: Trigger,
}

#[derive(Debug, Clone)]
enum Action {
    New {
        client_id: u64,
        side: OrderSide,
        price: i64,
        qty: i64,
        tif: TimeInForce,
        reduce_only: bool,
        trigger: Option<Trigger>,
        protect: i64,
    },
    Cancel {
        client_id: u64,
    },
    Modify {
        client_id: u64,
        price: i64,
        qty: i64,
    },
}

/// The simulator of one instrument's exchange.
#[derive(Debug)]
pub struct ExchangeSim {
    book: L2Book,
    lot: i64,
    latency: LatencyModel,
    queue: QueueModel,
    /// Actions in flight, in arrival order (ties keep the sending order).
    pending: VecDeque<(i64, Action)>,
    resting: Vec<Resting>,
    /// The position the exchange holds for us (fixed point, signed).
    position: i64,
    /// Levels our takers emptied or thinned that the feed has not set since: (side, price).
    taken: Vec<(Side, i64)>,
    /// Conditional orders waiting for their trigger, in arrival order.
    parked: Vec<Parked>,
    /// The last trade price and the mark price seen (fixed point, 0: none yet).
    last_price: i64,
    mark_price: i64,
}

impl ExchangeSim {
    /// A simulator over a book of `tick` and `lot` (fixed point).
    pub fn new(tick: i64, lot: i64, latency: LatencyModel, queue: QueueModel) -> Result<Self> {
        Ok(ExchangeSim {
            book: L2Book::new(tick, lot)?,
            lot,
            latency,
            queue,
            pending: VecDeque::new(),
            resting: Vec::new(),
            position: 0,
            taken: Vec::new(),
            parked: Vec::new(),
            last_price: 0,
            mark_price: 0,
        })
    }

    /// The exchange's book.
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// Resting orders.
    pub fn resting(&self) -> usize {
        self.resting.len()
    }

    /// The position the exchange holds (fixed point, signed).
    pub fn position(&self) -> i64 {
        self.position
    }

    /// Sets the position the exchange holds: a forced liquidation closed it outside the book.
    pub fn set_position(&mut self, qty: i64) {
        self.position = qty;
    }

    /// True when nothing of ours is at this exchange: no order resting or in flight, and no
    /// level still marked by one of our fills. Its book then only follows the feed, so a
    /// caller may stop feeding it and later [`ExchangeSim::sync_book`] it.
    pub fn is_idle(&self) -> bool {
        self.resting.is_empty()
            && self.pending.is_empty()
            && self.taken.is_empty()
            && self.parked.is_empty()
    }

    /// Conditional orders waiting for their trigger.
    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    /// Replaces the exchange's book with `book` (a book that saw the same events up to some
    /// point) and applies the events since that point. Only for an idle simulator.
    pub fn sync_book<'a>(
        &mut self,
        book: &L2Book,
        since: impl Iterator<Item = &'a Event>,
    ) -> Result<()> {
        debug_assert!(self.is_idle());
        self.book.clone_from(book);
        // The trades it missed while dormant are not known here: no last price until the next.
        self.last_price = 0;
        for e in since {
            if e.kind == kind::TRADE {
                self.last_price = e.price;
            } else {
                self.book.apply_event(e)?;
            }
        }
        Ok(())
    }

    /// When the next order action in flight reaches the exchange.
    #[inline]
    pub fn next_arrival(&self) -> Option<i64> {
        self.pending.front().map(|p| p.0)
    }

    /// A response latency for an answer of the exchange (ns).
    #[inline]
    pub fn response_latency(&mut self) -> i64 {
        self.latency.response()
    }

    fn send(&mut self, sent: i64, action: Action) -> i64 {
        let at = sent.saturating_add(self.latency.entry());
        // Sampled latencies can reorder actions in flight: keep them sorted by arrival.
        let i = self.pending.partition_point(|p| p.0 <= at);
        self.pending.insert(i, (at, action));
        at
    }

    /// Sends an approved order at local time `sent` (ns); returns when it reaches the exchange.
    pub fn submit(&mut self, order: &ApprovedOrder, tif: TimeInForce, sent: i64) -> i64 {
        self.submit_with(order, tif, None, 0, sent)
    }

    /// [`ExchangeSim::submit`] of an order that may be conditional (`trigger`): it waits at
    /// the exchange until its trigger price is touched, then acts as a market order (IOC) or
    /// a limit order with `tif`. One whose trigger holds already on arrival is rejected
    /// ("order would immediately trigger", Binance's -2021). `protect` (fixed point, 0:
    /// none) bounds how far a market order walks the book: a buy takes no level above it, a
    /// sell none below (the rest is cancelled), as Binance's percent-price filters bound a
    /// market order.
    pub fn submit_with(
        &mut self,
        order: &ApprovedOrder,
        tif: TimeInForce,
        trigger: Option<Trigger>,
        protect: i64,
        sent: i64,
    ) -> i64 {
        let o = order.order();
        self.send(
            sent,
            Action::New {
                client_id: o.client_id,
                side: o.side,
                price: o.price,
                qty: o.qty,
                tif,
                reduce_only: o.reduce_only,
                trigger,
                protect,
            },
        )
    }

    /// A new mark price at exchange time `t`: conditional orders watching the mark act.
    pub fn on_mark(&mut self, mark: i64, t: i64, out: &mut Vec<SimReport>) {
        if self.pending.front().is_some_and(|p| p.0 <= t) {
            self.arrive_until(t, out);
        }
        self.mark_price = mark;
        self.fire(TriggerSource::MarkPrice, mark, t, out);
    }

    /// Triggers the parked orders watching `source` that `price` touches, in arrival order.
    fn fire(&mut self, source: TriggerSource, price: i64, t: i64, out: &mut Vec<SimReport>) {
        let mut k = 0;
        while k < self.parked.len() {
            let p = self.parked[k];
            if p.trigger.source == source
                && p.trigger
                    .order_type
                    .triggers(p.order.side, p.trigger.price, price)
            {
                self.parked.remove(k);
                out.push(SimReport::Triggered {
                    client_id: p.order.client_id,
                    ts: t,
                });
                let mut o = p.order;
                if p.trigger.close_position {
                    o.qty = self.reducible(o.side);
                    if o.qty == 0 {
                        out.push(SimReport::Cancelled {
                            client_id: o.client_id,
                            ts: t,
                            remaining: 0,
                        });
                        continue;
                    }
                }
                // Refused once triggered (a post-only that would cross, no liquidity, nothing
                // left to reduce): the exchange ends it (Binance expires it); it is over.
                let before = out.len();
                self.on_new_order(t, o, false, out);
                if let Some(SimReport::Rejected { .. }) = out.get(before) {
                    out[before] = SimReport::Cancelled {
                        client_id: o.client_id,
                        ts: t,
                        remaining: o.qty,
                    };
                }
            } else {
                k += 1;
            }
        }
    }

    /// Sends a modification of a resting order at local time `sent`: a new price, or a larger
    /// quantity, sends it to the back of its level's queue; a smaller quantity at the same
    /// price keeps its place. The new values must have passed the risk checks (as a modify).
    pub fn modify(&mut self, approved: &ApprovedOrder, sent: i64) -> i64 {
        let o = approved.order();
        self.send(
            sent,
            Action::Modify {
                client_id: o.client_id,
                price: o.price,
                qty: o.qty,
            },
        )
    }

    /// Sends a cancel at local time `sent`.
    pub fn cancel(&mut self, client_id: u64, sent: i64) -> i64 {
        self.send(sent, Action::Cancel { client_id })
    }

    /// Feeds one market event at exchange time `t` (the caller keeps `t` non-decreasing).
    /// Orders that arrived by `t` act first.
    #[inline]
    pub fn on_event_at(&mut self, e: &Event, t: i64, out: &mut Vec<SimReport>) -> Result<()> {
        if self.pending.front().is_some_and(|p| p.0 <= t) {
            self.arrive_until(t, out);
        }
        match e.kind {
            kind::DEPTH | kind::SNAPSHOT => {
                let side = if e.side == BID { Side::Bid } else { Side::Ask };
                if !self.taken.is_empty() {
                    self.taken.retain(|&(s, p)| !(s == side && p == e.price));
                }
                if self.resting.is_empty() {
                    return self.apply(e);
                }
                let prev = self.book.qty_at(side, e.price);
                self.apply(e)?;
                let own = if e.side == BID {
                    OrderSide::Buy
                } else {
                    OrderSide::Sell
                };
                let (queue, lot) = (self.queue, self.lot);
                for r in self
                    .resting
                    .iter_mut()
                    .filter(|r| r.side == own && r.price == e.price)
                {
                    // The recorded level is the others' quantity: our order is not in it.
                    r.ahead = queue.on_level_change(r.ahead, prev, e.qty, r.traded, lot);
                    r.traded = 0;
                }
            }
            kind::CLEAR => {
                self.taken.clear();
                self.apply(e)?;
            }
            kind::TRADE => self.on_trade(e, t, out),
            _ => {}
        }
        Ok(())
    }

    /// [`ExchangeSim::on_event_at`] at the event's exchange time.
    pub fn on_event(&mut self, e: &Event, out: &mut Vec<SimReport>) -> Result<()> {
        self.on_event_at(e, e.exch_ts, out)
    }

    #[inline]
    fn apply(&mut self, e: &Event) -> Result<()> {
        self.book.apply_event(e)
    }

    /// Acts on every pending order that reached the exchange by `t`.
    pub fn arrive_until(&mut self, t: i64, out: &mut Vec<SimReport>) {
        while self.pending.front().is_some_and(|p| p.0 <= t) {
            let Some((at, action)) = self.pending.pop_front() else {
                break;
            };
            match action {
                Action::New {
                    client_id,
                    side,
                    price,
                    qty,
                    tif,
                    reduce_only,
                    trigger,
                    protect,
                } => {
                    let o = NewOrder {
                        client_id,
                        side,
                        price,
                        qty,
                        tif,
                        reduce_only,
                        protect,
                    };
                    match trigger {
                        None => self.on_new(at, o, out),
                        Some(t) => self.on_conditional(at, o, t, out),
                    }
                }
                Action::Modify {
                    client_id,
                    price,
                    qty,
                } => self.on_modify(at, client_id, price, qty, out),
                Action::Cancel { client_id } => {
                    if let Some(i) = self
                        .parked
                        .iter()
                        .position(|p| p.order.client_id == client_id)
                    {
                        let p = self.parked.remove(i);
                        out.push(SimReport::Cancelled {
                            client_id,
                            ts: at,
                            remaining: p.order.qty,
                        });
                    } else if let Some(i) =
                        self.resting.iter().position(|r| r.client_id == client_id)
                    {
                        let r = self.resting.remove(i);
                        out.push(SimReport::Cancelled {
                            client_id,
                            ts: at,
                            remaining: r.remaining,
                        });
                    } else {
                        out.push(SimReport::Rejected {
                            client_id,
                            ts: at,
                            reason: "unknown order (filled or cancelled)",
                        });
                    }
                }
            }
        }
    }

    /// How much a reduce-only order on `side` may still trade: what closes the position.
    fn reducible(&self, side: OrderSide) -> i64 {
        reducible(self.position, side)
    }

    /// Why the exchange refuses a new order on arrival, if it does.
    fn refusal(
        &self,
        side: OrderSide,
        price: i64,
        qty: i64,
        tif: TimeInForce,
    ) -> Option<&'static str> {
        let book_side = own_side(side).opposite();
        let best_opposite = self.book.best(book_side);
        let crosses = |p: i64| crosses(side, price, p);
        if tif == TimeInForce::PostOnly && best_opposite.is_some_and(|l| crosses(l.price)) {
            return Some("post-only order would cross");
        }
        if price == 0 && best_opposite.is_none() {
            return Some("market order without liquidity");
        }
        if tif == TimeInForce::Fok {
            let mut available = 0;
            for l in self.book.levels(book_side) {
                if !crosses(l.price) || available >= qty {
                    break;
                }
                available += l.qty;
            }
            if available < qty {
                return Some("fill-or-kill without enough liquidity");
            }
        }
        None
    }

    /// A conditional order arrives: checked, then parked until its trigger.
    fn on_conditional(&mut self, at: i64, o: NewOrder, trigger: Trigger, out: &mut Vec<SimReport>) {
        let watched = match trigger.source {
            TriggerSource::LastPrice => self.last_price,
            TriggerSource::MarkPrice => self.mark_price,
        };
        let reason = if watched > 0 && trigger.order_type.triggers(o.side, trigger.price, watched) {
            Some("order would immediately trigger")
        } else if (o.reduce_only || trigger.close_position) && self.reducible(o.side) == 0 {
            Some("reduce-only order would not reduce the position")
        } else {
            None
        };
        if let Some(reason) = reason {
            out.push(SimReport::Rejected {
                client_id: o.client_id,
                ts: at,
                reason,
            });
            return;
        }
        out.push(SimReport::Accepted {
            client_id: o.client_id,
            ts: at,
            qty: o.qty,
        });
        self.parked.push(Parked { order: o, trigger });
    }

    fn on_new(&mut self, at: i64, o: NewOrder, out: &mut Vec<SimReport>) {
        self.on_new_order(at, o, true, out);
    }

    /// A new order acts on the book; `announce`: report it accepted first (a triggered
    /// conditional order was accepted when it was parked).
    fn on_new_order(&mut self, at: i64, o: NewOrder, announce: bool, out: &mut Vec<SimReport>) {
        let NewOrder {
            client_id,
            side,
            price,
            mut qty,
            tif,
            reduce_only,
            protect,
        } = o;
        // How far the order may walk: its limit, or a market order's protection (0: none).
        let walk = if price == 0 { protect } else { price };
        if reduce_only {
            let room = self.reducible(side);
            if room == 0 {
                out.push(SimReport::Rejected {
                    client_id,
                    ts: at,
                    reason: "reduce-only order would not reduce the position",
                });
                return;
            }
            qty = qty.min(room);
        }
        let book_side = own_side(side).opposite();
        if let Some(reason) = self.refusal(side, price, qty, tif) {
            out.push(SimReport::Rejected {
                client_id,
                ts: at,
                reason,
            });
            return;
        }
        if announce {
            out.push(SimReport::Accepted {
                client_id,
                ts: at,
                qty,
            });
        }
        let mut remaining = qty;
        while remaining > 0 {
            let Some(l) = self.book.best(book_side) else {
                break;
            };
            if !crosses(side, walk, l.price) {
                break;
            }
            let take = remaining.min(l.qty);
            remaining -= take;
            // The taken liquidity leaves the book until the feed says otherwise.
            // (The book's own levels are on its grid, so this cannot fail.)
            let _ = self.book.set_level(book_side, l.price, l.qty - take);
            if !self.taken.contains(&(book_side, l.price)) {
                self.taken.push((book_side, l.price));
            }
            self.position += side.sign() * take;
            out.push(SimReport::Filled {
                client_id,
                ts: at,
                price: l.price,
                qty: take,
                maker: false,
                remaining,
            });
        }
        if remaining == 0 {
            self.close_reduce_only(at, out);
            return;
        }
        if price == 0 || tif == TimeInForce::Ioc || tif == TimeInForce::Fok {
            out.push(SimReport::Cancelled {
                client_id,
                ts: at,
                remaining,
            });
            self.close_reduce_only(at, out);
            return;
        }
        // Rest at the back of the queue of its level.
        let ahead = self.book.qty_at(own_side(side), price);
        self.resting.push(Resting {
            client_id,
            side,
            price,
            remaining,
            reduce_only,
            ahead,
            traded: 0,
        });
        self.close_reduce_only(at, out);
    }

    /// Cuts resting reduce-only orders to what still reduces the position, cancelling those
    /// with nothing left (as exchanges do when the position closes).
    fn close_reduce_only(&mut self, at: i64, out: &mut Vec<SimReport>) {
        if !self.resting.iter().any(|r| r.reduce_only) {
            return;
        }
        let (buy_room, sell_room) = (
            self.reducible(OrderSide::Buy),
            self.reducible(OrderSide::Sell),
        );
        self.resting.retain_mut(|r| {
            if !r.reduce_only {
                return true;
            }
            let room = if r.side == OrderSide::Buy {
                buy_room
            } else {
                sell_room
            };
            if room == 0 {
                out.push(SimReport::Cancelled {
                    client_id: r.client_id,
                    ts: at,
                    remaining: r.remaining,
                });
                return false;
            }
            if r.remaining > room {
                r.remaining = room;
                out.push(SimReport::Modified {
                    client_id: r.client_id,
                    ts: at,
                    price: r.price,
                    qty: room,
                });
            }
            true
        });
    }

    fn on_modify(
        &mut self,
        at: i64,
        client_id: u64,
        price: i64,
        qty: i64,
        out: &mut Vec<SimReport>,
    ) {
        let Some(i) = self.resting.iter().position(|r| r.client_id == client_id) else {
            out.push(SimReport::Rejected {
                client_id,
                ts: at,
                reason: "unknown order (filled or cancelled)",
            });
            return;
        };
        let side = self.resting[i].side;
        let crossing = self
            .book
            .best(own_side(side).opposite())
            .is_some_and(|l| crosses(side, price, l.price));
        if price <= 0 || qty <= 0 || crossing {
            out.push(SimReport::Rejected {
                client_id,
                ts: at,
                reason: "a modification must keep a resting limit order (price > 0, qty > 0, not crossing)",
            });
            return;
        }
        let ahead = self.book.qty_at(own_side(side), price);
        let r = &mut self.resting[i];
        if price != r.price || qty > r.remaining {
            // Loses its place: to the back of the (new) level's queue.
            r.ahead = ahead;
            r.traded = 0;
        }
        r.price = price;
        r.remaining = qty;
        out.push(SimReport::Modified {
            client_id,
            ts: at,
            price,
            qty,
        });
        self.close_reduce_only(at, out);
    }

    /// A trade: it fills resting orders it goes through, then fires the conditional orders
    /// its price touches (a triggered order takes no part in the trade that triggered it).
    fn on_trade(&mut self, e: &Event, t: i64, out: &mut Vec<SimReport>) {
        self.last_price = e.price;
        self.trade_through(e, t, out);
        if !self.parked.is_empty() {
            self.fire(TriggerSource::LastPrice, e.price, t, out);
        }
    }

    fn trade_through(&mut self, e: &Event, t: i64, out: &mut Vec<SimReport>) {
        if self.resting.is_empty() {
            return;
        }
        // An aggressive buy (side = bid) trades against resting sells, and a sell against buys;
        // an unknown aggressor (0) against both.
        let hits = if e.side == BID {
            OrderSide::Sell
        } else {
            OrderSide::Buy
        };
        let mut volume = e.qty;
        let mut filled_any = false;
        let mut i = 0;
        while i < self.resting.len() {
            let r = &mut self.resting[i];
            if r.side != hits && e.side != 0 {
                i += 1;
                continue;
            }
            let through = if r.side == OrderSide::Buy {
                e.price < r.price
            } else {
                e.price > r.price
            };
            let at = e.price == r.price;
            if !(through || at) {
                i += 1;
                continue;
            }
            let mut fill = if through {
                r.remaining
            } else {
                // At our price: the trade first consumes the queue ahead of us.
                r.traded += e.qty;
                let consumed = volume.min(r.ahead);
                r.ahead -= consumed;
                volume -= consumed;
                let f = volume.min(r.remaining);
                volume -= f;
                f
            };
            if r.reduce_only {
                fill = fill.min(reducible(self.position, r.side));
            }
            if fill > 0 {
                let r = &mut self.resting[i];
                r.remaining -= fill;
                self.position += r.side.sign() * fill;
                filled_any = true;
                out.push(SimReport::Filled {
                    client_id: r.client_id,
                    ts: t,
                    price: r.price,
                    qty: fill,
                    maker: true,
                    remaining: r.remaining,
                });
                if r.remaining == 0 {
                    self.resting.remove(i);
                    continue;
                }
            }
            i += 1;
        }
        if filled_any {
            self.close_reduce_only(t, out);
        }
    }
}

/// The book side an order of `side` rests on.
fn own_side(side: OrderSide) -> Side {
    match side {
        OrderSide::Buy => Side::Bid,
        OrderSide::Sell => Side::Ask,
    }
}

/// True when an order of `side` at `price` (0: a market order) trades against a level at
/// `level` on the other side.
fn crosses(side: OrderSide, price: i64, level: i64) -> bool {
    price == 0
        || match side {
            OrderSide::Buy => price >= level,
            OrderSide::Sell => price <= level,
        }
}

/// What a reduce-only order on `side` may trade against `position`: what closes it.
fn reducible(position: i64, side: OrderSide) -> i64 {
    match side {
        OrderSide::Buy => (-position).max(0),
        OrderSide::Sell => position.max(0),
    }
}

/// A new order's fields as it reaches the exchange.
#[derive(Debug, Clone, Copy)]
struct NewOrder {
    client_id: u64,
    side: OrderSide,
    price: i64,
    qty: i64,
    tif: TimeInForce,
    reduce_only: bool,
    /// A market order's price protection (0: none).
    protect: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{flags, ASK};
    use crate::risk::{Order, RiskEngine, RiskLimits};

    pub(super) const Q: i64 = 1_000_000_000;
    pub(super) const T: i64 = 100_000_000; // tick 0.1

    pub(super) fn level(t: i64, side: i8, price: i64, qty: i64) -> Event {
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

    pub(super) fn trade(t: i64, aggressor: i8, price: i64, qty: i64) -> Event {
        Event {
            exch_ts: t,
            kind: kind::TRADE,
            side: aggressor,
            price,
            qty,
            ..Event::default()
        }
    }

    /// A market with bid 100.0 x 5 / ask 100.1 x 3, ask 100.2 x 4.
    fn market(latency: i64) -> (ExchangeSim, RiskEngine) {
        let mut sim = ExchangeSim::new(
            T,
            Q / 1000,
            LatencyModel::constant(latency, 0).unwrap(),
            QueueModel::Conservative,
        )
        .unwrap();
        let mut out = Vec::new();
        for e in [
            level(0, BID, 1000 * T, 5 * Q),
            level(0, ASK, 1001 * T, 3 * Q),
            level(0, ASK, 1002 * T, 4 * Q),
        ] {
            sim.on_event(&e, &mut out).unwrap();
        }
        let mut risk = RiskEngine::new(RiskLimits::default()).unwrap();
        risk.add_instrument(1.0, false).unwrap();
        (sim, risk)
    }

    fn approve(
        risk: &mut RiskEngine,
        id: u64,
        side: OrderSide,
        price: i64,
        qty: i64,
    ) -> ApprovedOrder {
        let o = Order {
            client_id: id,
            instrument: 0,
            side,
            price,
            qty,
            reduce_only: false,
            modify: false,
        };
        risk.check(&o, 0).unwrap()
    }

    fn fills(out: &[SimReport]) -> Vec<(i64, i64, bool)> {
        out.iter()
            .filter_map(|r| match r {
                SimReport::Filled {
                    price, qty, maker, ..
                } => Some((*price, *qty, *maker)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_taker_walks_the_book() {
        let (mut sim, mut risk) = market(0);
        let a = approve(&mut risk, 1, OrderSide::Buy, 1002 * T, 5 * Q);
        sim.submit(&a, TimeInForce::Ioc, 10);
        let mut out = Vec::new();
        sim.arrive_until(10, &mut out);
        assert_eq!(
            fills(&out),
            vec![(1001 * T, 3 * Q, false), (1002 * T, 2 * Q, false)]
        );
        // FOK beyond the liquidity is refused whole; post-only that would cross is refused.
        let b = approve(&mut risk, 2, OrderSide::Buy, 1002 * T, 10 * Q);
        sim.submit(&b, TimeInForce::Fok, 20);
        let c = approve(&mut risk, 3, OrderSide::Buy, 1002 * T, Q);
        sim.submit(&c, TimeInForce::PostOnly, 20);
        let mut out = Vec::new();
        sim.arrive_until(20, &mut out);
        assert!(matches!(out[0], SimReport::Rejected { client_id: 2, .. }));
        assert!(matches!(
            out[1],
            SimReport::Rejected {
                client_id: 3,
                reason: "post-only order would cross",
                ..
            }
        ));
    }

    #[test]
    fn a_resting_order_fills_after_the_queue_ahead() {
        let (mut sim, mut risk) = market(0);
        let a = approve(&mut risk, 1, OrderSide::Buy, 1000 * T, 2 * Q);
        sim.submit(&a, TimeInForce::Gtc, 5);
        let mut out = Vec::new();
        // 5 ahead of us. A sell of 4 at our price: 1 still ahead.
        sim.on_event(&trade(10, ASK, 1000 * T, 4 * Q), &mut out)
            .unwrap();
        assert!(fills(&out).is_empty());
        // A sell of 2: 1 more ahead, then 1 of ours.
        sim.on_event(&trade(11, ASK, 1000 * T, 2 * Q), &mut out)
            .unwrap();
        assert_eq!(fills(&out), vec![(1000 * T, Q, true)]);
        // A trade through our price fills the rest.
        sim.on_event(&trade(12, ASK, 999 * T, Q / 2), &mut out)
            .unwrap();
        assert_eq!(fills(&out)[1], (1000 * T, Q, true));
        assert_eq!(sim.resting(), 0);
    }

    #[test]
    fn modifications_keep_or_lose_the_queue_place() {
        let (mut sim, mut risk) = market(0);
        let a = approve(&mut risk, 1, OrderSide::Buy, 1000 * T, 2 * Q);
        sim.submit(&a, TimeInForce::Gtc, 1);
        let mut out = Vec::new();
        sim.on_event(&trade(2, ASK, 1000 * T, 4 * Q), &mut out)
            .unwrap(); // 1 left ahead
                       // Smaller at the same price: keeps its place (1 ahead).
        let smaller = Order {
            modify: true,
            ..*approve(&mut risk, 10, OrderSide::Buy, 1000 * T, Q).order()
        };
        let m = risk
            .check(
                &Order {
                    client_id: 1,
                    ..smaller
                },
                0,
            )
            .unwrap();
        sim.modify(&m, 3);
        sim.on_event(&trade(4, ASK, 1000 * T, 2 * Q), &mut out)
            .unwrap();
        assert_eq!(fills(&out), vec![(1000 * T, Q, true)]);
        assert!(out
            .iter()
            .any(|r| matches!(r, SimReport::Modified { client_id: 1, qty, .. } if *qty == Q)));
        // A new price goes to the back of that level; one that would cross is refused.
        let b = approve(&mut risk, 2, OrderSide::Buy, 999 * T, Q);
        sim.submit(&b, TimeInForce::Gtc, 5);
        let up = risk
            .check(
                &Order {
                    client_id: 2,
                    price: 1001 * T,
                    qty: Q,
                    modify: true,
                    ..*b.order()
                },
                0,
            )
            .unwrap();
        sim.modify(&up, 6);
        let mut out = Vec::new();
        sim.arrive_until(6, &mut out);
        assert!(
            matches!(out.last(), Some(SimReport::Rejected { client_id: 2, .. })),
            "{out:?}"
        );
    }

    #[test]
    fn cancels_ahead_shorten_the_queue_conservatively() {
        let (mut sim, mut risk) = market(0);
        let a = approve(&mut risk, 1, OrderSide::Buy, 1000 * T, Q);
        sim.submit(&a, TimeInForce::Gtc, 5);
        let mut out = Vec::new();
        // The level drops from 5 to 2 without trades: at most 2 can be ahead now.
        sim.on_event(&level(10, BID, 1000 * T, 2 * Q), &mut out)
            .unwrap();
        sim.on_event(&trade(11, ASK, 1000 * T, 2 * Q + Q / 2), &mut out)
            .unwrap();
        assert_eq!(fills(&out), vec![(1000 * T, Q / 2, true)]);
    }

    #[test]
    fn latency_puts_the_order_behind_a_price_move() {
        // With 50 ns of latency the order arrives after the ask moved away: it rests.
        let (mut sim, mut risk) = market(50);
        let a = approve(&mut risk, 1, OrderSide::Buy, 1001 * T, Q);
        sim.submit(&a, TimeInForce::Gtc, 0);
        let mut out = Vec::new();
        sim.on_event(&level(20, ASK, 1001 * T, 0), &mut out)
            .unwrap(); // the 100.1 ask is gone
        sim.on_event(&level(60, BID, 999 * T, Q), &mut out).unwrap(); // the order arrives before this
        assert!(fills(&out).is_empty(), "{out:?}");
        assert_eq!(sim.resting(), 1);
    }

    #[test]
    fn cancels_and_determinism() {
        let run = || {
            let (mut sim, mut risk) = market(7);
            let mut out = Vec::new();
            let a = approve(&mut risk, 1, OrderSide::Sell, 1003 * T, Q);
            sim.submit(&a, TimeInForce::Gtc, 0);
            sim.cancel(1, 5);
            sim.cancel(9, 5);
            sim.on_event(&trade(100, BID, 1003 * T, Q), &mut out)
                .unwrap();
            out
        };
        let out = run();
        assert!(
            matches!(out[1], SimReport::Cancelled { client_id: 1, remaining, .. } if remaining == Q)
        );
        assert!(matches!(out[2], SimReport::Rejected { client_id: 9, .. }));
        assert_eq!(run(), out);
    }

    #[test]
    fn reduce_only_never_grows_the_position() {
        let (mut sim, mut risk) = market(0);
        // The risk engine believes we are long 5 (its view can lag the exchange's): the
        // exchange still enforces reduce-only against the position it holds.
        let x = approve(&mut risk, 99, OrderSide::Buy, 1000 * T, 5 * Q);
        risk.order_opened(&x);
        risk.on_fill(99, 5 * Q).unwrap();
        let mut out = Vec::new();
        // Flat at the exchange: a reduce-only sell is refused.
        let ro = |risk: &mut RiskEngine, id, side, price, qty| {
            let o = Order {
                reduce_only: true,
                ..*approve(risk, id, side, price, qty).order()
            };
            risk.check(&o, 0).unwrap()
        };
        let a = ro(&mut risk, 1, OrderSide::Sell, 1000 * T, Q);
        sim.submit(&a, TimeInForce::Ioc, 1);
        sim.arrive_until(1, &mut out);
        assert!(matches!(out[0], SimReport::Rejected { client_id: 1, .. }));
        // Long 2, a reduce-only sell of 5 is cut to 2.
        let b = approve(&mut risk, 2, OrderSide::Buy, 1001 * T, 2 * Q);
        sim.submit(&b, TimeInForce::Ioc, 2);
        let c = ro(&mut risk, 3, OrderSide::Sell, 1005 * T, 5 * Q);
        sim.submit(&c, TimeInForce::Gtc, 3);
        let mut out = Vec::new();
        sim.arrive_until(3, &mut out);
        assert_eq!(sim.position(), 2 * Q);
        assert!(out.contains(&SimReport::Accepted {
            client_id: 3,
            ts: 3,
            qty: 2 * Q
        }));
        // Another sell closes the position: the resting reduce-only order is cancelled.
        let d = approve(&mut risk, 4, OrderSide::Sell, 1000 * T, 2 * Q);
        sim.submit(&d, TimeInForce::Ioc, 4);
        let mut out = Vec::new();
        sim.arrive_until(4, &mut out);
        assert_eq!(sim.position(), 0);
        assert!(
            matches!(out.last(), Some(SimReport::Cancelled { client_id: 3, remaining, .. }) if *remaining == 2 * Q)
        );
        assert_eq!(sim.resting(), 0);
    }

    #[test]
    fn a_probabilistic_queue_moves_forward_on_cancellations() {
        let run = |queue| {
            let mut sim =
                ExchangeSim::new(T, Q / 1000, LatencyModel::constant(0, 0).unwrap(), queue)
                    .unwrap();
            let mut out = Vec::new();
            sim.on_event(&level(0, BID, 1000 * T, 10 * Q), &mut out)
                .unwrap();
            let mut risk = RiskEngine::new(RiskLimits::default()).unwrap();
            risk.add_instrument(1.0, false).unwrap();
            let a = approve(&mut risk, 1, OrderSide::Buy, 1000 * T, Q);
            sim.submit(&a, TimeInForce::Gtc, 1);
            // 10 ahead; others join behind (15), then 5 are cancelled (10).
            sim.on_event(&level(2, BID, 1000 * T, 15 * Q), &mut out)
                .unwrap();
            sim.on_event(&level(3, BID, 1000 * T, 10 * Q), &mut out)
                .unwrap();
            // A sell of 8 at our price.
            sim.on_event(&trade(4, ASK, 1000 * T, 8 * Q), &mut out)
                .unwrap();
            fills(&out)
        };
        // Conservative: the 5 cancelled were behind us, 10 still ahead: no fill.
        assert!(run(QueueModel::Conservative).is_empty());
        // Power(1): front 10, back 5 -> p = 1/3 behind, 10/3 ahead cancelled: 6.67 ahead, so
        // the 8 sold fill all of our 1.
        assert_eq!(run(QueueModel::Power(1.0)), vec![(1000 * T, Q, true)]);
    }
}
