//! The exchange simulator: fills a strategy's orders against recorded market events.
//!
//! Time: every market event is seen at its exchange time. An order sent at local time `t`
//! reaches the exchange at `t + latency` and acts from then on, never on data the exchange
//! saw before it arrived (no look-ahead). Takers walk the book level by level (partial fills,
//! slippage). A resting limit order joins the back of its price level's queue and, in the
//! conservative model, fills only from trades at its price once the quantity ahead of it has
//! traded, or at once when the market trades through its price; a level shrinking without
//! trades shortens the queue ahead to the level's new size (cancels assumed ahead of us is
//! the optimistic choice, so the conservative one assumes they were behind).
//!
//! Orders reach the simulator only as [`ApprovedOrder`]s: the risk checks cannot be skipped.

use std::collections::VecDeque;

use crate::book::{L2Book, Side};
use crate::error::{Error, Result};
use crate::event::{kind, Event, BID};
use crate::risk::{ApprovedOrder, OrderSide};

/// How long an order lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInForce {
    /// Rests until filled or cancelled.
    Gtc,
    /// Fills what it can at once, the rest is cancelled.
    Ioc,
    /// Fills entirely at once or not at all.
    Fok,
    /// Rests only: rejected if it would trade on arrival.
    PostOnly,
}

/// What the simulator reports.
#[derive(Debug, Clone, PartialEq)]
pub enum SimReport {
    /// The order reached the exchange and was accepted (resting or about to trade).
    Accepted { client_id: u64, ts: i64 },
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
    /// Cancelled (by request, or the unfilled rest of an IOC).
    Cancelled {
        client_id: u64,
        ts: i64,
        remaining: i64,
    },
}

#[derive(Debug, Clone)]
struct Resting {
    client_id: u64,
    side: OrderSide,
    price: i64,
    remaining: i64,
    /// Quantity ahead in the level's queue.
    ahead: i64,
}

#[derive(Debug, Clone)]
enum Action {
    New {
        client_id: u64,
        side: OrderSide,
        price: i64,
        qty: i64,
        tif: TimeInForce,
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
    latency: i64,
    now: i64,
    pending: VecDeque<(i64, Action)>,
    resting: Vec<Resting>,
}

impl ExchangeSim {
    /// A simulator over a book of `tick` and `lot` (fixed point), with a constant order
    /// latency in ns (>= 0).
    pub fn new(tick: i64, lot: i64, latency_ns: i64) -> Result<Self> {
        if latency_ns < 0 {
            return Err(Error::invalid("latency_ns", latency_ns, "must be >= 0"));
        }
        Ok(ExchangeSim {
            book: L2Book::new(tick, lot)?,
            latency: latency_ns,
            now: i64::MIN,
            pending: VecDeque::new(),
            resting: Vec::new(),
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

    /// Sends an approved order at local time `sent` (ns); it acts at `sent + latency`.
    pub fn submit(&mut self, order: &ApprovedOrder, tif: TimeInForce, sent: i64) {
        let o = order.order();
        self.pending.push_back((
            sent + self.latency,
            Action::New {
                client_id: o.client_id,
                side: o.side,
                price: o.price,
                qty: o.qty,
                tif,
            },
        ));
    }

    /// Sends a modification of a resting order at local time `sent`: a new price, or a larger
    /// quantity, sends it to the back of its level's queue; a smaller quantity at the same
    /// price keeps its place. The new values must have passed the risk checks (as a modify).
    pub fn modify(&mut self, approved: &ApprovedOrder, sent: i64) {
        let o = approved.order();
        self.pending.push_back((
            sent + self.latency,
            Action::Modify {
                client_id: o.client_id,
                price: o.price,
                qty: o.qty,
            },
        ));
    }

    /// Sends a cancel at local time `sent`.
    pub fn cancel(&mut self, client_id: u64, sent: i64) {
        self.pending
            .push_back((sent + self.latency, Action::Cancel { client_id }));
    }

    /// Feeds one market event (exchange time order). Orders that arrived before it act first.
    pub fn on_event(&mut self, e: &Event, out: &mut Vec<SimReport>) -> Result<()> {
        let t = e.exch_ts;
        self.arrive_until(t, out);
        self.now = self.now.max(t);
        match e.kind {
            kind::DEPTH | kind::SNAPSHOT | kind::CLEAR => {
                self.book
                    .apply(std::slice::from_ref(e))
                    .map_err(|(_, err)| err)?;
                if e.kind != kind::CLEAR {
                    // Conservative: a level that shrank without trades shortens the queue
                    // ahead of us to no more than the level's new size (the recorded level
                    // is the others' quantity: our simulated order is not in it).
                    let side = if e.side == BID {
                        OrderSide::Buy
                    } else {
                        OrderSide::Sell
                    };
                    for r in self
                        .resting
                        .iter_mut()
                        .filter(|r| r.side == side && r.price == e.price)
                    {
                        r.ahead = r.ahead.min(e.qty);
                    }
                }
            }
            kind::TRADE => self.on_trade(e, out),
            _ => {}
        }
        Ok(())
    }

    /// Acts on every pending order that reached the exchange by `t`.
    pub fn arrive_until(&mut self, t: i64, out: &mut Vec<SimReport>) {
        while let Some((at, action)) = self.pending.pop_front() {
            if at > t {
                self.pending.push_front((at, action));
                break;
            }
            match action {
                Action::New {
                    client_id,
                    side,
                    price,
                    qty,
                    tif,
                } => self.on_new(at, client_id, side, price, qty, tif, out),
                Action::Modify {
                    client_id,
                    price,
                    qty,
                } => self.on_modify(at, client_id, price, qty, out),
                Action::Cancel { client_id } => {
                    if let Some(i) = self.resting.iter().position(|r| r.client_id == client_id) {
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

    #[allow(clippy::too_many_arguments)]
    fn on_new(
        &mut self,
        at: i64,
        client_id: u64,
        side: OrderSide,
        price: i64,
        qty: i64,
        tif: TimeInForce,
        out: &mut Vec<SimReport>,
    ) {
        let (best_opposite, book_side) = match side {
            OrderSide::Buy => (self.book.best_ask(), Side::Ask),
            OrderSide::Sell => (self.book.best_bid(), Side::Bid),
        };
        let crosses = |p: i64| {
            price == 0
                || if side == OrderSide::Buy {
                    price >= p
                } else {
                    price <= p
                }
        };
        let would_trade = best_opposite.is_some_and(|l| crosses(l.price));
        if tif == TimeInForce::PostOnly && would_trade {
            out.push(SimReport::Rejected {
                client_id,
                ts: at,
                reason: "post-only order would cross",
            });
            return;
        }
        if price == 0 && best_opposite.is_none() {
            out.push(SimReport::Rejected {
                client_id,
                ts: at,
                reason: "market order without liquidity",
            });
            return;
        }
        // Liquidity it can take, best price first.
        let levels: Vec<(i64, i64)> = self
            .book
            .levels(book_side)
            .take_while(|l| crosses(l.price))
            .map(|l| (l.price, l.qty))
            .collect();
        let available: i64 = levels.iter().map(|l| l.1).sum();
        if tif == TimeInForce::Fok && available < qty {
            out.push(SimReport::Rejected {
                client_id,
                ts: at,
                reason: "fill-or-kill without enough liquidity",
            });
            return;
        }
        out.push(SimReport::Accepted { client_id, ts: at });
        let mut remaining = qty;
        for (p, q) in levels {
            if remaining == 0 {
                break;
            }
            let take = remaining.min(q);
            remaining -= take;
            // The taken liquidity leaves the book until the feed says otherwise.
            // (The book's own levels are on its grid, so this cannot fail.)
            let _ = self.book.set_level(book_side, p, q - take);
            out.push(SimReport::Filled {
                client_id,
                ts: at,
                price: p,
                qty: take,
                maker: false,
                remaining,
            });
        }
        if remaining == 0 {
            return;
        }
        if price == 0 || tif == TimeInForce::Ioc || tif == TimeInForce::Fok {
            out.push(SimReport::Cancelled {
                client_id,
                ts: at,
                remaining,
            });
            return;
        }
        // Rest at the back of the queue of its level.
        let own_side = if side == OrderSide::Buy {
            Side::Bid
        } else {
            Side::Ask
        };
        let ahead = self.book.qty_at(own_side, price);
        self.resting.push(Resting {
            client_id,
            side,
            price,
            remaining,
            ahead,
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
        let opposite = match side {
            OrderSide::Buy => self.book.best_ask(),
            OrderSide::Sell => self.book.best_bid(),
        };
        let crosses = opposite.is_some_and(|l| {
            if side == OrderSide::Buy {
                price >= l.price
            } else {
                price <= l.price
            }
        });
        if price <= 0 || qty <= 0 || crosses {
            out.push(SimReport::Rejected {
                client_id,
                ts: at,
                reason: "a modification must keep a resting limit order (price > 0, qty > 0, not crossing)",
            });
            return;
        }
        let own = if side == OrderSide::Buy {
            Side::Bid
        } else {
            Side::Ask
        };
        let ahead = self.book.qty_at(own, price);
        let r = &mut self.resting[i];
        if price != r.price || qty > r.remaining {
            // Loses its place: to the back of the (new) level's queue.
            r.ahead = ahead;
        }
        r.price = price;
        r.remaining = qty;
        out.push(SimReport::Modified {
            client_id,
            ts: at,
            price,
            qty,
        });
    }

    fn on_trade(&mut self, e: &Event, out: &mut Vec<SimReport>) {
        let t = e.exch_ts;
        // An aggressive sell (side = ask) trades against bids, and a buy against asks.
        let hits = if e.side == BID {
            OrderSide::Sell
        } else {
            OrderSide::Buy
        };
        let mut volume = e.qty;
        let mut done = Vec::new();
        for (i, r) in self.resting.iter_mut().enumerate() {
            if r.side != hits && e.side != 0 {
                continue;
            }
            let through = if r.side == OrderSide::Buy {
                e.price < r.price
            } else {
                e.price > r.price
            };
            let at = e.price == r.price;
            if !(through || at) {
                continue;
            }
            let fill = if through {
                r.remaining
            } else {
                // At our price: the trade first consumes the queue ahead of us.
                let consumed = volume.min(r.ahead);
                r.ahead -= consumed;
                volume -= consumed;
                let f = volume.min(r.remaining);
                volume -= f;
                f
            };
            if fill > 0 {
                r.remaining -= fill;
                out.push(SimReport::Filled {
                    client_id: r.client_id,
                    ts: t,
                    price: r.price,
                    qty: fill,
                    maker: true,
                    remaining: r.remaining,
                });
                if r.remaining == 0 {
                    done.push(i);
                }
            }
        }
        for i in done.into_iter().rev() {
            self.resting.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{flags, ASK};
    use crate::risk::{Order, RiskEngine, RiskLimits};

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

    /// A market with bid 100.0 x 5 / ask 100.1 x 3, ask 100.2 x 4.
    fn market(latency: i64) -> (ExchangeSim, RiskEngine) {
        let mut sim = ExchangeSim::new(T, Q / 1000, latency).unwrap();
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
}
