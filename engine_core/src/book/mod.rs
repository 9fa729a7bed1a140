//! L2 price-level order book for one instrument, in fixed point.
//!
//! [`L2Book`] validates every input against the instrument's grid (tick and lot size). A batch
//! of normalized [`Event`]s is applied in order; a bad event stops it there, naming the event.

mod ladder;
pub mod reference;

use crate::error::{Error, Result};
use crate::event::{flags, kind, Event, ASK, BID};
use crate::fixed::{self, Grid};
use ladder::Ladder;

/// Side of the book (or of an order: a buy order is on the bid side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Bids; a buy order.
    Bid,
    /// Asks; a sell order.
    Ask,
}

impl Side {
    /// From the event encoding (+1 bid, -1 ask).
    pub fn from_i8(v: i8) -> Result<Side> {
        match v {
            BID => Ok(Side::Bid),
            ASK => Ok(Side::Ask),
            other => Err(Error::invalid("side", other, "must be 1 (bid) or -1 (ask)")),
        }
    }

    /// The event encoding (+1 bid, -1 ask).
    pub fn as_i8(self) -> i8 {
        match self {
            Side::Bid => BID,
            Side::Ask => ASK,
        }
    }

    /// The other side.
    #[must_use]
    pub fn opposite(self) -> Side {
        match self {
            Side::Bid => Side::Ask,
            Side::Ask => Side::Bid,
        }
    }
}

/// A price level: fixed-point price and quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// Price, 1e-9 units.
    pub price: i64,
    /// Quantity, 1e-9 units.
    pub qty: i64,
}

/// L2 book of one instrument. See the module docs.
#[derive(Debug, Clone)]
pub struct L2Book {
    bids: Ladder,
    asks: Ladder,
    tick: Grid,
    lot: Grid,
    last_update_id: u64,
    in_sync: bool,
}

impl L2Book {
    /// An empty book on the grid of `tick_size` and `lot_size` (fixed point, both > 0).
    pub fn new(tick_size: i64, lot_size: i64) -> Result<Self> {
        Ok(L2Book {
            bids: Ladder::default(),
            asks: Ladder::default(),
            tick: Grid::new("tick_size", tick_size)?,
            lot: Grid::new("lot_size", lot_size)?,
            last_update_id: 0,
            in_sync: true,
        })
    }

    /// Tick size, fixed point.
    pub fn tick_size(&self) -> i64 {
        self.tick.step()
    }

    /// Lot size, fixed point.
    pub fn lot_size(&self) -> i64 {
        self.lot.step()
    }

    /// The hot-path form of [`L2Book::check`]: true when the level fits the grid.
    #[inline]
    fn valid(&self, price: i64, qty: i64) -> bool {
        price > 0 && qty >= 0 && self.tick.contains(price) && self.lot.contains(qty)
    }

    /// Checks a level against the grid: price > 0 on the tick grid, qty >= 0 on the lot grid.
    #[inline]
    fn check(&self, price: i64, qty: i64) -> Result<()> {
        if price <= 0 {
            return Err(Error::invalid(
                "price",
                fixed::format(price),
                "must be positive",
            ));
        }
        if !self.tick.contains(price) {
            return Err(Error::invalid(
                "price",
                fixed::format(price),
                format!(
                    "not a multiple of the tick size {}",
                    fixed::format(self.tick.step())
                ),
            ));
        }
        if qty < 0 {
            return Err(Error::invalid(
                "qty",
                fixed::format(qty),
                "must not be negative",
            ));
        }
        if !self.lot.contains(qty) {
            return Err(Error::invalid(
                "qty",
                fixed::format(qty),
                format!(
                    "not a multiple of the lot size {}",
                    fixed::format(self.lot.step())
                ),
            ));
        }
        Ok(())
    }

    /// Ladder key of a price on the grid: ticks for bids, minus ticks for asks (so that for
    /// both ladders "better" means "greater key").
    #[inline]
    fn ticks(&self, price: i64) -> i64 {
        self.tick.div_exact(price)
    }

    #[inline]
    fn price_of(&self, ticks: i64) -> i64 {
        ticks * self.tick.step()
    }

    /// Sets one level (0 removes it), after validating it against the grid.
    pub fn set_level(&mut self, side: Side, price: i64, qty: i64) -> Result<()> {
        self.check(price, qty)?;
        let t = self.ticks(price);
        match side {
            Side::Bid => self.bids.set(t, qty),
            Side::Ask => self.asks.set(-t, qty),
        }
        Ok(())
    }

    /// Empties both sides.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Applies depth, snapshot and clear events in order; other kinds are ignored.
    ///
    /// Each level is validated as it is applied (price > 0 on the tick grid, qty >= 0 on the
    /// lot grid, side bid or ask). On a bad event the call stops there: the events before it
    /// stay applied, the bad one and the rest are not, and the error carries its index, so a
    /// caller can resume after it. (One pass, not validate-then-apply: streaming a large batch
    /// through memory twice cost more than the book updates themselves.)
    pub fn apply(&mut self, events: &[Event]) -> Result<(), (usize, Error)> {
        for (i, e) in events.iter().enumerate() {
            match e.kind {
                kind::DEPTH | kind::SNAPSHOT => {
                    if !((e.side == BID || e.side == ASK) && self.valid(e.price, e.qty)) {
                        return Err((i, self.explain(e)));
                    }
                    let t = self.ticks(e.price);
                    if e.side == BID {
                        self.bids.set(t, e.qty);
                    } else {
                        self.asks.set(-t, e.qty);
                    }
                }
                kind::CLEAR => self.clear(),
                _ => continue,
            }
            if e.last_update_id != 0 {
                self.last_update_id = e.last_update_id;
            }
            self.in_sync = e.flags & flags::OUT_OF_SYNC == 0;
        }
        Ok(())
    }

    /// Applies one depth, snapshot or clear event (other kinds are ignored), validated as in
    /// [`L2Book::apply`]: the replay loop's per-event path.
    #[inline]
    pub fn apply_event(&mut self, e: &Event) -> Result<()> {
        match e.kind {
            kind::DEPTH | kind::SNAPSHOT => {
                if !((e.side == BID || e.side == ASK) && self.valid(e.price, e.qty)) {
                    return Err(self.explain(e));
                }
                let t = self.ticks(e.price);
                if e.side == BID {
                    self.bids.set(t, e.qty);
                } else {
                    self.asks.set(-t, e.qty);
                }
            }
            kind::CLEAR => self.clear(),
            _ => return Ok(()),
        }
        if e.last_update_id != 0 {
            self.last_update_id = e.last_update_id;
        }
        self.in_sync = e.flags & flags::OUT_OF_SYNC == 0;
        Ok(())
    }

    /// Applies one exchange message's level sets straight from (price, qty) lists (bids, then
    /// asks), as a live feed does in the steady state; same validation and stopping rule as
    /// [`L2Book::apply`], with indexes counted over bids then asks.
    pub fn apply_levels(
        &mut self,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
        last_update_id: u64,
    ) -> Result<(), (usize, Error)> {
        for (side, levels, offset) in [(BID, bids, 0), (ASK, asks, bids.len())] {
            for (i, &(price, qty)) in levels.iter().enumerate() {
                if !self.valid(price, qty) {
                    let e = Event {
                        kind: kind::DEPTH,
                        side,
                        price,
                        qty,
                        ..Event::default()
                    };
                    return Err((offset + i, self.explain(&e)));
                }
                let t = self.ticks(price);
                if side == BID {
                    self.bids.set(t, qty);
                } else {
                    self.asks.set(-t, qty);
                }
            }
        }
        if last_update_id != 0 {
            self.last_update_id = last_update_id;
        }
        self.in_sync = true;
        Ok(())
    }

    #[cold]
    fn explain(&self, e: &Event) -> Error {
        match Side::from_i8(e.side).and_then(|_| self.check(e.price, e.qty)) {
            Err(err) => err,
            Ok(()) => Error::invalid("event", format!("{e:?}"), "rejected"),
        }
    }

    /// Best bid.
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best().map(|(k, q)| Level {
            price: self.price_of(k),
            qty: q,
        })
    }

    /// Best ask.
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best().map(|(k, q)| Level {
            price: self.price_of(-k),
            qty: q,
        })
    }

    /// Best level of a side.
    pub fn best(&self, side: Side) -> Option<Level> {
        match side {
            Side::Bid => self.best_bid(),
            Side::Ask => self.best_ask(),
        }
    }

    /// Quantity resting at `price` on `side` (0 when there is no level).
    pub fn qty_at(&self, side: Side, price: i64) -> i64 {
        if price <= 0 || !self.tick.contains(price) {
            return 0;
        }
        let t = self.ticks(price);
        match side {
            Side::Bid => self.bids.get(t),
            Side::Ask => self.asks.get(-t),
        }
    }

    /// Levels of a side from the best outwards.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = Level> + '_ {
        let (ladder, sign) = match side {
            Side::Bid => (&self.bids, 1),
            Side::Ask => (&self.asks, -1),
        };
        let step = self.tick.step();
        ladder.iter_from_best().map(move |(k, q)| Level {
            price: k * sign * step,
            qty: q,
        })
    }

    /// Number of levels on a side.
    pub fn depth(&self, side: Side) -> usize {
        match side {
            Side::Bid => self.bids.len(),
            Side::Ask => self.asks.len(),
        }
    }

    /// Mid price (float), when both sides have a level.
    pub fn mid(&self) -> Option<f64> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        Some(f64::midpoint(
            fixed::to_f64(b.price),
            fixed::to_f64(a.price),
        ))
    }

    /// The pre-trade risk check's reference price: the mid in fixed point (rounded as a
    /// price given in float), 0 when a side is empty (the check keeps its previous one).
    pub fn reference_price(&self) -> i64 {
        #[allow(clippy::cast_possible_truncation)] // a mid of two in-range prices
        self.mid()
            .map_or(0, |m| (m * fixed::SCALE as f64).round() as i64)
            .max(0)
    }

    /// Best ask minus best bid, fixed point (negative when crossed).
    pub fn spread(&self) -> Option<i64> {
        Some(self.best_ask()?.price - self.best_bid()?.price)
    }

    /// Size-weighted mid: `(bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty)`.
    pub fn microprice(&self) -> Option<f64> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        let (bq, aq) = (b.qty as f64, a.qty as f64);
        Some((fixed::to_f64(b.price) * aq + fixed::to_f64(a.price) * bq) / (bq + aq))
    }

    /// (bid volume − ask volume) / (bid volume + ask volume) over the best `n` levels of each
    /// side, in [-1, 1]; `None` when both sides are empty.
    pub fn imbalance(&self, n: usize) -> Option<f64> {
        let bid: i128 = self
            .bids
            .iter_from_best()
            .take(n)
            .map(|(_, q)| i128::from(q))
            .sum();
        let ask: i128 = self
            .asks
            .iter_from_best()
            .take(n)
            .map(|(_, q)| i128::from(q))
            .sum();
        let total = bid + ask;
        (total > 0).then(|| (bid - ask) as f64 / total as f64)
    }

    /// Walks the opposite side for an order of `side` and quantity `qty`: returns the average
    /// price (float) and the quantity that the book could fill (fixed point, <= `qty`).
    /// `None` when nothing could be filled.
    pub fn cost_to_fill(&self, side: Side, qty: i64) -> Result<Option<(f64, i64)>> {
        if qty <= 0 {
            return Err(Error::invalid(
                "qty",
                fixed::format(qty),
                "must be positive",
            ));
        }
        let mut left = qty;
        let mut notional: i128 = 0;
        for level in self.levels(side.opposite()) {
            let take = left.min(level.qty);
            notional += i128::from(take) * i128::from(level.price);
            left -= take;
            if left == 0 {
                break;
            }
        }
        let filled = qty - left;
        Ok((filled > 0).then(|| {
            let avg = notional as f64 / filled as f64;
            (avg / fixed::SCALE as f64, filled)
        }))
    }

    /// True when the best bid is at or above the best ask.
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// `last_update_id` of the last applied event that carried one.
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    /// Marks the book as not mirroring the exchange until the next clear (a snapshot).
    pub fn mark_out_of_sync(&mut self) {
        self.in_sync = false;
    }

    /// False when the last applied book event was flagged out of sync (see
    /// [`flags::OUT_OF_SYNC`]): the book must not be traded on until a snapshot.
    pub fn in_sync(&self) -> bool {
        self.in_sync
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::SCALE;

    fn px(x: f64) -> i64 {
        fixed::from_f64("price", x).unwrap()
    }

    fn ev(kind: u8, side: i8, price: f64, qty: f64) -> Event {
        Event {
            kind,
            side,
            price: px(price),
            qty: px(qty),
            ..Event::default()
        }
    }

    fn book() -> L2Book {
        L2Book::new(px(0.1), px(0.001)).unwrap()
    }

    #[test]
    fn top_of_book_and_derived_values() {
        let mut b = book();
        b.apply(&[
            ev(kind::DEPTH, BID, 100.0, 1.0),
            ev(kind::DEPTH, BID, 99.9, 2.0),
            ev(kind::DEPTH, ASK, 100.2, 3.0),
            ev(kind::DEPTH, ASK, 100.3, 1.0),
        ])
        .unwrap();
        assert_eq!(
            b.best_bid(),
            Some(Level {
                price: px(100.0),
                qty: SCALE
            })
        );
        assert_eq!(
            b.best_ask(),
            Some(Level {
                price: px(100.2),
                qty: 3 * SCALE
            })
        );
        assert_eq!(b.spread(), Some(px(0.2)));
        assert!((b.mid().unwrap() - 100.1).abs() < 1e-12);
        assert!((b.microprice().unwrap() - (100.0 * 3.0 + 100.2 * 1.0) / 4.0).abs() < 1e-9);
        assert!((b.imbalance(1).unwrap() - (1.0 - 3.0) / 4.0).abs() < 1e-12);
        assert!((b.imbalance(5).unwrap() - (3.0 - 4.0) / 7.0).abs() < 1e-12);
        let (avg, filled) = b.cost_to_fill(Side::Bid, px(3.5)).unwrap().unwrap();
        assert_eq!(filled, px(3.5));
        assert!((avg - (100.2 * 3.0 + 100.3 * 0.5) / 3.5).abs() < 1e-9);
        let (_, filled) = b.cost_to_fill(Side::Bid, px(10.0)).unwrap().unwrap();
        assert_eq!(filled, px(4.0));
        assert!(!b.is_crossed());
        b.set_level(Side::Bid, px(100.2), px(1.0)).unwrap();
        assert!(b.is_crossed());
    }

    #[test]
    fn clear_and_snapshot_rebuild() {
        let mut b = book();
        b.apply(&[ev(kind::DEPTH, BID, 100.0, 1.0)]).unwrap();
        let mut clear = ev(kind::CLEAR, 0, 0.0, 0.0);
        clear.last_update_id = 7;
        b.apply(&[clear, ev(kind::SNAPSHOT, ASK, 101.0, 1.0)])
            .unwrap();
        assert_eq!(b.best_bid(), None);
        assert_eq!(b.depth(Side::Ask), 1);
        assert_eq!(b.last_update_id(), 7);
    }

    #[test]
    fn a_bad_event_stops_the_batch_where_it_is() {
        let mut b = book();
        let batch = [
            ev(kind::DEPTH, BID, 100.0, 1.0),
            ev(kind::DEPTH, BID, 100.05, 1.0),
            ev(kind::DEPTH, BID, 99.0, 1.0),
        ];
        let (i, err) = b.apply(&batch).unwrap_err();
        assert_eq!(i, 1);
        assert!(err.to_string().contains("100.05"), "{err}");
        assert_eq!(
            b.best_bid(),
            Some(Level {
                price: px(100.0),
                qty: SCALE
            })
        );
        assert_eq!(b.depth(Side::Bid), 1);
        for bad in [
            ev(kind::DEPTH, BID, -1.0, 1.0),
            ev(kind::DEPTH, BID, 0.0, 1.0),
            ev(kind::DEPTH, BID, 100.0, -1.0),
            ev(kind::DEPTH, BID, 100.0, 0.0005),
            ev(kind::DEPTH, 3, 100.0, 1.0),
        ] {
            assert!(b.apply(&[bad]).is_err());
        }
        // Trades are not book events: nothing is validated or applied.
        b.apply(&[ev(kind::TRADE, 0, 0.0, 0.0)]).unwrap();
    }

    #[test]
    fn out_of_sync_flag_is_tracked() {
        let mut b = book();
        let mut e = ev(kind::DEPTH, BID, 100.0, 1.0);
        e.flags = flags::OUT_OF_SYNC;
        b.apply(&[e]).unwrap();
        assert!(!b.in_sync());
        b.apply(&[ev(kind::CLEAR, 0, 0.0, 0.0)]).unwrap();
        assert!(b.in_sync());
    }
}
