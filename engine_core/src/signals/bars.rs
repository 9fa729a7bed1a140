//! OHLCV bars from trades: time bars (fixed intervals of exchange time) and volume bars
//! (a bar closes once its volume reaches a threshold).
//!
//! A bar holds the trades of its interval in arrival order: the first trade's price opens
//! it, the last closes it. Time bars are aligned on multiples of the interval since the
//! epoch; an interval without trades has no bar (nothing is invented). A volume bar closes on
//! the trade that brings its volume to the threshold or beyond (trades are not split).

use crate::error::{Error, Result};
use crate::event::{kind, Event, BID};
use crate::merge::merge_key;

/// One bar. Prices and volumes in the core's fixed point (1e-9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bar {
    /// Interval start (time bars) or the first trade's time (volume bars), ns.
    pub start: i64,
    /// The last trade's time, ns.
    pub end: i64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    /// Traded quantity.
    pub volume: i64,
    /// Quantity bought by aggressors (trades with side = bid).
    pub buy_volume: i64,
    /// Σ price·qty / 1e9, for the VWAP (i128 to stay exact).
    pub notional: i128,
    /// Number of trades.
    pub trades: u64,
}

impl Bar {
    fn open_with(start: i64, e: &Event) -> Self {
        let mut b = Bar {
            start,
            end: merge_key(e),
            open: e.price,
            high: e.price,
            low: e.price,
            close: e.price,
            ..Bar::default()
        };
        b.add_volume(e);
        b
    }

    #[inline]
    fn add(&mut self, e: &Event) {
        self.end = merge_key(e);
        self.high = self.high.max(e.price);
        self.low = self.low.min(e.price);
        self.close = e.price;
        self.add_volume(e);
    }

    #[inline]
    fn add_volume(&mut self, e: &Event) {
        self.volume = self.volume.saturating_add(e.qty);
        if e.side == BID {
            self.buy_volume = self.buy_volume.saturating_add(e.qty);
        }
        self.notional += i128::from(e.price) * i128::from(e.qty) / 1_000_000_000;
        self.trades += 1;
    }

    /// Volume-weighted average price of the bar (fixed point), or the close without volume.
    pub fn vwap(&self) -> f64 {
        if self.volume == 0 {
            return self.close as f64 / 1e9;
        }
        self.notional as f64 / self.volume as f64
    }
}

/// How bars are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarSpec {
    /// Fixed intervals of this many ns.
    Time(i64),
    /// Close when the volume reaches this quantity (fixed point).
    Volume(i64),
}

impl BarSpec {
    /// Checks the parameter.
    pub fn new_time(interval_ns: i64) -> Result<Self> {
        if interval_ns <= 0 {
            return Err(Error::invalid("interval", interval_ns, "must be > 0 ns"));
        }
        Ok(BarSpec::Time(interval_ns))
    }

    /// Checks the parameter.
    pub fn new_volume(volume: i64) -> Result<Self> {
        if volume <= 0 {
            return Err(Error::invalid(
                "volume",
                crate::fixed::format(volume),
                "must be > 0",
            ));
        }
        Ok(BarSpec::Volume(volume))
    }
}

/// Builds bars from a stream of events (trades only; other kinds are ignored).
#[derive(Debug, Clone)]
pub struct BarBuilder {
    spec: BarSpec,
    current: Option<Bar>,
}

impl BarBuilder {
    /// A builder with no bar yet.
    pub fn new(spec: BarSpec) -> Self {
        BarBuilder {
            spec,
            current: None,
        }
    }

    /// Feeds one event; returns the bar it completed, if any.
    #[inline]
    pub fn update(&mut self, e: &Event) -> Option<Bar> {
        if e.kind != kind::TRADE {
            return None;
        }
        match self.spec {
            BarSpec::Time(interval) => {
                let start = merge_key(e).div_euclid(interval) * interval;
                match &mut self.current {
                    Some(b) if b.start == start || start < b.start => {
                        // A late trade (exchange time before the bar) stays in the open bar.
                        b.add(e);
                        None
                    }
                    Some(_) => self.current.replace(Bar::open_with(start, e)),
                    None => {
                        self.current = Some(Bar::open_with(start, e));
                        None
                    }
                }
            }
            BarSpec::Volume(threshold) => {
                let done = if let Some(b) = &mut self.current {
                    b.add(e);
                    b.volume >= threshold
                } else {
                    let b = Bar::open_with(merge_key(e), e);
                    let done = b.volume >= threshold;
                    self.current = Some(b);
                    done
                };
                if done {
                    self.current.take()
                } else {
                    None
                }
            }
        }
    }

    /// The bar in progress (not complete), if any.
    pub fn current(&self) -> Option<&Bar> {
        self.current.as_ref()
    }

    /// Ends the stream: the bar in progress, if any.
    pub fn flush(&mut self) -> Option<Bar> {
        self.current.take()
    }
}

/// Every bar of `events` (the last one possibly partial).
pub fn bars(events: &[Event], spec: BarSpec) -> Vec<Bar> {
    let mut b = BarBuilder::new(spec);
    let mut out: Vec<Bar> = events.iter().filter_map(|e| b.update(e)).collect();
    out.extend(b.flush());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(t: i64, price: i64, qty: i64, side: i8) -> Event {
        Event {
            exch_ts: t,
            price,
            qty,
            side,
            kind: kind::TRADE,
            ..Event::default()
        }
    }

    #[test]
    fn time_bars_cut_on_interval_boundaries() {
        let ev = [
            trade(1_000, 10, 1, BID),
            trade(1_500, 12, 2, -1),
            trade(2_100, 9, 1, BID),
            trade(4_000, 11, 5, BID),
        ];
        let b = bars(&ev, BarSpec::new_time(1_000).unwrap());
        assert_eq!(b.len(), 3);
        assert_eq!(
            (b[0].start, b[0].open, b[0].high, b[0].low, b[0].close),
            (1_000, 10, 12, 10, 12)
        );
        assert_eq!((b[0].volume, b[0].buy_volume, b[0].trades), (3, 1, 2));
        assert_eq!((b[1].start, b[1].close), (2_000, 9));
        assert_eq!((b[2].start, b[2].volume), (4_000, 5)); // the empty 3,000 interval has no bar
    }

    #[test]
    fn volume_bars_close_on_the_trade_that_fills_them() {
        let ev = [
            trade(1, 10, 2, BID),
            trade(2, 11, 2, BID),
            trade(3, 12, 1, -1),
            trade(4, 13, 4, BID),
        ];
        let b = bars(&ev, BarSpec::new_volume(3).unwrap());
        assert_eq!(b.iter().map(|b| b.volume).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!((b[1].open, b[1].close), (12, 13));
        assert!(BarSpec::new_volume(0).is_err() && BarSpec::new_time(-1).is_err());
    }
}
