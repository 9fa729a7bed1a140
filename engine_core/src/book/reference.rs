//! A deliberately simple `BTreeMap` book: the reference model of the property tests and the
//! baseline of the book benchmark. No validation, no tricks.

use std::collections::BTreeMap;

use crate::event::{kind, Event, BID};

/// Reference L2 book: price -> quantity per side.
#[derive(Debug, Clone, Default)]
pub struct BTreeBook {
    /// Bid levels.
    pub bids: BTreeMap<i64, i64>,
    /// Ask levels.
    pub asks: BTreeMap<i64, i64>,
}

impl BTreeBook {
    /// Sets (or removes, for 0) one level.
    pub fn set(&mut self, side: i8, price: i64, qty: i64) {
        let map = if side == BID {
            &mut self.bids
        } else {
            &mut self.asks
        };
        if qty == 0 {
            map.remove(&price);
        } else {
            map.insert(price, qty);
        }
    }

    /// Applies depth, snapshot and clear events.
    pub fn apply(&mut self, events: &[Event]) {
        for e in events {
            match e.kind {
                kind::DEPTH | kind::SNAPSHOT => self.set(e.side, e.price, e.qty),
                kind::CLEAR => {
                    self.bids.clear();
                    self.asks.clear();
                }
                _ => {}
            }
        }
    }

    /// Best bid as (price, qty).
    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.iter().next_back().map(|(p, q)| (*p, *q))
    }

    /// Best ask as (price, qty).
    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.iter().next().map(|(p, q)| (*p, *q))
    }
}
