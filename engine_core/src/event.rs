//! The normalized event record: one fixed-size `#[repr(C)]` struct for every market-data
//! event of every venue. Python mirrors it exactly with a numpy structured dtype
//! (`tradecore.EVENT_DTYPE`), so batches cross between Rust, numpy and Parquet without a copy
//! and without one Python object per event.
//!
//! Layout (64 bytes, one cache line, little-endian, no implicit padding):
//!
//! | offset | field            | type | meaning                                             |
//! |-------:|------------------|------|-----------------------------------------------------|
//! | 0      | `exch_ts`        | i64  | exchange timestamp, ns since the epoch (0: not sent) |
//! | 8      | `local_ts`       | i64  | local receive timestamp, ns since the epoch          |
//! | 16     | `price`          | i64  | fixed point, 1e-9 units ([`crate::fixed`])          |
//! | 24     | `qty`            | i64  | fixed point, 1e-9 units; 0 removes a book level     |
//! | 32     | `first_update_id`| u64  | exchange sequence: first update id of the message   |
//! | 40     | `last_update_id` | u64  | exchange sequence: last update id of the message    |
//! | 48     | `trade_id`       | u64  | exchange trade id (trades), else 0                  |
//! | 56     | `instrument`     | u32  | instrument index within a multi-instrument stream   |
//! | 60     | `flags`          | u16  | bit set, see [`flags`]                              |
//! | 62     | `kind`           | u8   | see [`kind`]                                        |
//! | 63     | `side`           | i8   | +1 bid / buy aggressor, -1 ask / sell aggressor, 0  |
//!
//! The record stays 64 bytes (one cache line) for every kind. A message that carries more
//! than one record's worth of values (Binance's `markPriceUpdate`, `kline`, `forceOrder`) is
//! written as several consecutive events of distinct kinds with the same times and
//! instrument, the last one flagged [`flags::LAST_IN_MESSAGE`]; each kind's use of the fields
//! is documented on its constant in [`kind`]. A field a kind does not use is 0. Prices and
//! quantities stay fixed point (1e-9); a funding rate is fixed point too (1e-9 units, signed).

/// Event kinds. Values are stable: they are stored in files.
pub mod kind {
    /// A price level of the L2 book is set to `qty` (0 removes it).
    pub const DEPTH: u8 = 1;
    /// A level of a full book snapshot (always preceded by [`CLEAR`]).
    pub const SNAPSHOT: u8 = 2;
    /// The book is emptied (before a snapshot).
    pub const CLEAR: u8 = 3;
    /// A public trade; `side` is the aggressor's side.
    pub const TRADE: u8 = 4;
    /// Best bid or offer (one event per side).
    pub const BBO: u8 = 5;
    /// A mark price (Binance `markPriceUpdate`, first event of the message): `price` = the
    /// mark price `p`, `qty` = the index price `i` (a price, in the same fixed point), `exch_ts`
    /// = the event time `E`. Always followed by a [`FUNDING`] event of the same message.
    pub const MARK: u8 = 6;
    /// The funding of a perpetual as announced with the mark price (second event of a
    /// `markPriceUpdate`): `price` = the mark price `p` (repeated, so the event stands alone),
    /// `qty` = the funding rate `r` for the next funding time, in 1e-9 units (signed: 0.0001
    /// is `100_000`), `trade_id` = the next funding time `T`, ns since the epoch. Binance's
    /// estimated settle price `P` (meaningful only for delivery contracts) is not kept.
    pub const FUNDING: u8 = 7;
    /// An aggregate trade (`aggTrade`): `price` `p`, `qty` `q`, `side` the aggressor's side
    /// (from `m`), `trade_id` = the aggregate trade id `a`, `first_update_id` /
    /// `last_update_id` = the first and last trade ids `f` / `l` it aggregates, `exch_ts` =
    /// the trade time `T`. The same trades as the `trade` stream: the simulator matches on
    /// [`TRADE`] events only, so a recording with both counts no trade twice.
    pub const AGG_TRADE: u8 = 8;
    /// A kline (candlestick), first of three events: `price` = open `o`, `qty` = high `h`,
    /// `first_update_id` / `last_update_id` = the kline's open time `t` / close time `T` (ns
    /// since the epoch), `trade_id` = the number of trades `n`; flag [`flags::CLOSED`] when
    /// the kline is closed (`x`). `exch_ts` = the event time `E`.
    pub const KLINE: u8 = 9;
    /// A kline, second event: `price` = low `l`, `qty` = close `c`, `first_update_id` /
    /// `last_update_id` = the first / last trade id `f` / `L` (`u64::MAX` when Binance sends
    /// -1: no trade), `trade_id` = the interval `i` in ms (`1m` is `60_000`).
    pub const KLINE_CLOSE: u8 = 10;
    /// A kline, third and last event: `price` = base asset volume `v`, `qty` = taker buy base
    /// asset volume `V` (both quantities). The quote volumes `q`/`Q` are not kept (a daily
    /// quote volume overflows the fixed point; volume times price approximates them).
    pub const KLINE_VOLUME: u8 = 11;
    /// A liquidation order (`forceOrder`), first of two events: `price` = the order's price
    /// `p`, `qty` = its original quantity `q`, `side` = the order's side `S` (+1 BUY: a short
    /// was liquidated; -1 SELL: a long), `exch_ts` = the order's trade time `T`.
    pub const LIQUIDATION: u8 = 12;
    /// A liquidation order, second event: `price` = the average fill price `ap`, `qty` = the
    /// accumulated filled quantity `z`, `side` as in [`LIQUIDATION`]; flag [`flags::CLOSED`]
    /// when its status `X` is `FILLED`.
    pub const LIQUIDATION_FILL: u8 = 13;

    /// Human name of a kind, for reports.
    pub fn name(kind: u8) -> &'static str {
        match kind {
            DEPTH => "depth",
            SNAPSHOT => "snapshot",
            CLEAR => "clear",
            TRADE => "trade",
            BBO => "bbo",
            MARK => "mark",
            FUNDING => "funding",
            AGG_TRADE => "agg_trade",
            KLINE => "kline",
            KLINE_CLOSE => "kline_close",
            KLINE_VOLUME => "kline_volume",
            LIQUIDATION => "liquidation",
            LIQUIDATION_FILL => "liquidation_fill",
            _ => "unknown",
        }
    }

    /// Every kind defined so far, in numeric order.
    pub const ALL: [u8; 13] = [
        DEPTH,
        SNAPSHOT,
        CLEAR,
        TRADE,
        BBO,
        MARK,
        FUNDING,
        AGG_TRADE,
        KLINE,
        KLINE_CLOSE,
        KLINE_VOLUME,
        LIQUIDATION,
        LIQUIDATION_FILL,
    ];

    /// One more than the largest kind code (the size of a table indexed by kind).
    pub const COUNT: usize = 14;
}

/// Event flag bits.
pub mod flags {
    /// The last event produced from one exchange message (a batch boundary: the book is
    /// consistent after applying it).
    pub const LAST_IN_MESSAGE: u16 = 1;
    /// Received while the book was not in sync (before the first snapshot, or after a gap and
    /// until a new snapshot). Never trade on a book built from such events.
    pub const OUT_OF_SYNC: u16 = 1 << 1;
    /// The venue sent no exchange timestamp for this event (`exch_ts` is 0).
    pub const NO_EXCH_TS: u16 = 1 << 2;
    /// A trade that is not a normal market trade (Binance futures: insurance fund, ADL).
    pub const NON_MARKET_TRADE: u16 = 1 << 3;
    /// A kline that is closed (final), or a liquidation order that is wholly filled.
    pub const CLOSED: u16 = 1 << 4;
}

/// Bid side of the book / buy aggressor.
pub const BID: i8 = 1;
/// Ask side of the book / sell aggressor.
pub const ASK: i8 = -1;

/// One normalized market-data event. See the module docs for the layout.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Event {
    pub exch_ts: i64,
    pub local_ts: i64,
    pub price: i64,
    pub qty: i64,
    pub first_update_id: u64,
    pub last_update_id: u64,
    pub trade_id: u64,
    pub instrument: u32,
    pub flags: u16,
    pub kind: u8,
    pub side: i8,
}

/// Name, byte offset and numpy type code of each field, in order: the single source of truth
/// from which the bindings build `EVENT_DTYPE`.
pub const FIELDS: [(&str, usize, &str); 11] = [
    ("exch_ts", std::mem::offset_of!(Event, exch_ts), "<i8"),
    ("local_ts", std::mem::offset_of!(Event, local_ts), "<i8"),
    ("price", std::mem::offset_of!(Event, price), "<i8"),
    ("qty", std::mem::offset_of!(Event, qty), "<i8"),
    (
        "first_update_id",
        std::mem::offset_of!(Event, first_update_id),
        "<u8",
    ),
    (
        "last_update_id",
        std::mem::offset_of!(Event, last_update_id),
        "<u8",
    ),
    ("trade_id", std::mem::offset_of!(Event, trade_id), "<u8"),
    ("instrument", std::mem::offset_of!(Event, instrument), "<u4"),
    ("flags", std::mem::offset_of!(Event, flags), "<u2"),
    ("kind", std::mem::offset_of!(Event, kind), "u1"),
    ("side", std::mem::offset_of!(Event, side), "i1"),
];

const _: () = assert!(std::mem::size_of::<Event>() == 64);
const _: () = assert!(std::mem::align_of::<Event>() == 8);

impl Event {
    /// True for the kinds an L2 book applies (depth, snapshot, clear).
    #[inline]
    pub fn is_book(&self) -> bool {
        matches!(self.kind, kind::DEPTH | kind::SNAPSHOT | kind::CLEAR)
    }

    /// True when the event carries the given flag bit(s).
    #[inline]
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_tile_the_record_without_padding() {
        let mut end = 0;
        for (name, off, code) in FIELDS {
            assert_eq!(off, end, "{name} does not follow the previous field");
            let size: usize = code.trim_start_matches(['<', 'i', 'u']).parse().unwrap();
            end = off + size;
        }
        assert_eq!(end, std::mem::size_of::<Event>());
    }
}
