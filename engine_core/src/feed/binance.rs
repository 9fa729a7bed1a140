//! Binance market data: a message parser (raw websocket bytes -> normalized events) and the
//! book-sync state machine of Binance's documented procedure, for spot and for futures
//! (USD-M and COIN-M). The same code serves the capture reader and the live feed.
//!
//! Supported messages, raw or wrapped in a combined stream (`{"stream": .., "data": ..}`):
//! `depthUpdate` diffs (`<symbol>@depth`, `@depth@100ms`, `@depth@0ms`, ...), `trade`,
//! `aggTrade`, `bookTicker`, futures `markPriceUpdate` (`<symbol>@markPrice`,
//! `@markPrice@1s`), `kline` (`<symbol>@kline_<interval>`), `forceOrder` liquidations
//! (`<symbol>@forceOrder`, `!forceOrder@arr`), and REST depth snapshots
//! (`{"lastUpdateId": .., "bids", "asks"}`). Subscription replies (`{"result": .., "id": ..}`)
//! are recognised and produce no event. See [`crate::event::kind`] for the events of each.
//!
//! Values are checked as they are read: a negative quantity or price (a book level, a trade,
//! a kline) and a mark price that is not positive are errors naming the field and value.

use std::collections::VecDeque;

use super::json::{Cursor, JsonError};
use crate::event::{flags, kind, Event, ASK, BID};
use crate::fixed::{self, DecimalError};

const MS: i64 = 1_000_000;

/// Which of Binance's markets a stream comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Market {
    /// Spot: depth events chain by `U == previous u + 1`.
    Spot,
    /// USD-M futures: depth events chain by `pu == previous u`.
    UsdM,
    /// COIN-M futures (inverse): chain like USD-M.
    CoinM,
}

impl Market {
    /// A futures market from its symbol: COIN-M symbols name a delivery (`BTCUSD_PERP`,
    /// `BTCUSD_240927`); USD-M symbols do not.
    pub fn of_futures_symbol(symbol: Option<&[u8]>) -> Market {
        if symbol.is_some_and(|s| s.contains(&b'_')) {
            Market::CoinM
        } else {
            Market::UsdM
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Market::Spot => "spot",
            Market::UsdM => "usdm",
            Market::CoinM => "coinm",
        }
    }
}

/// What a message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsgKind {
    /// Order book diff.
    Depth,
    /// Trade.
    Trade,
    /// Aggregated trade.
    AggTrade,
    /// Best bid/offer.
    BookTicker,
    /// REST depth snapshot.
    Snapshot,
    /// Futures mark price, index price and funding (`markPriceUpdate`).
    Mark,
    /// Kline / candlestick.
    Kline,
    /// A liquidation order (`forceOrder`).
    ForceOrder,
    /// A subscription reply or other control message (no event).
    Control,
}

impl MsgKind {
    /// Every kind, in report order.
    pub const ALL: [MsgKind; 9] = [
        MsgKind::Depth,
        MsgKind::Trade,
        MsgKind::AggTrade,
        MsgKind::BookTicker,
        MsgKind::Snapshot,
        MsgKind::Mark,
        MsgKind::Kline,
        MsgKind::ForceOrder,
        MsgKind::Control,
    ];

    /// Lower-case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            MsgKind::Depth => "depth",
            MsgKind::Trade => "trade",
            MsgKind::AggTrade => "agg_trade",
            MsgKind::BookTicker => "book_ticker",
            MsgKind::Snapshot => "snapshot",
            MsgKind::Mark => "mark_price",
            MsgKind::Kline => "kline",
            MsgKind::ForceOrder => "force_order",
            MsgKind::Control => "control",
        }
    }
}

/// Why a message could not be parsed. The text names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<JsonError> for ParseError {
    fn from(e: JsonError) -> Self {
        ParseError(format!(
            "malformed JSON: expected {} at byte {}",
            e.expected, e.at
        ))
    }
}

fn show(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.len() > 40 {
        format!(
            "{}...",
            &s[..s.char_indices().nth(40).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s.into_owned()
    }
}

fn decimal(field: &str, raw: &[u8]) -> Result<i64, ParseError> {
    fixed::parse_decimal(raw)
        .map_err(|e: DecimalError| ParseError(format!("{field} '{}': {e}", show(raw))))
}

/// A decimal that must not be negative (a quantity or a price).
fn non_negative(field: &str, raw: &[u8]) -> Result<i64, ParseError> {
    let v = decimal(field, raw)?;
    if v < 0 {
        return Err(negative(field, v));
    }
    Ok(v)
}

#[cold]
fn negative(field: &str, v: i64) -> ParseError {
    ParseError(format!("{field} {} is negative", fixed::format(v)))
}

/// The first negative quantity or price of a level list, as an error.
#[inline]
pub(crate) fn check_levels(levels: &[(i64, i64)], name: &str) -> Result<(), ParseError> {
    if levels.iter().all(|&(p, q)| (p | q) >= 0) {
        return Ok(());
    }
    for (i, &(p, q)) in levels.iter().enumerate() {
        if q < 0 {
            return Err(negative(&format!("{name}[{i}] qty"), q));
        }
        if p < 0 {
            return Err(negative(&format!("{name}[{i}] price"), p));
        }
    }
    Ok(())
}

/// A kline's fields (`"k": {...}`), as found.
#[derive(Debug, Default)]
struct KlineFields<'a> {
    open_time: Option<u64>,
    close_time: Option<u64>,
    symbol: Option<&'a [u8]>,
    interval: Option<&'a [u8]>,
    first_trade: Option<i64>,
    last_trade: Option<i64>,
    open: Option<&'a [u8]>,
    close: Option<&'a [u8]>,
    high: Option<&'a [u8]>,
    low: Option<&'a [u8]>,
    volume: Option<&'a [u8]>,
    trades: Option<u64>,
    closed: Option<bool>,
    taker_volume: Option<&'a [u8]>,
}

/// A liquidation order's fields (`"o": {...}` of a `forceOrder`), as found.
#[derive(Debug, Default)]
struct OrderFields<'a> {
    symbol: Option<&'a [u8]>,
    side: Option<&'a [u8]>,
    qty: Option<&'a [u8]>,
    price: Option<&'a [u8]>,
    avg_price: Option<&'a [u8]>,
    status: Option<&'a [u8]>,
    filled: Option<&'a [u8]>,
    trade_time: Option<u64>,
}

/// The values of the last message of the rarer kinds (mark price, kline, liquidation), kept
/// in the parser like the book levels so that [`Message`] stays small.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extra {
    /// Mark price message: the index price `i`.
    pub index_price: i64,
    /// Mark price message: the funding rate `r`, 1e-9 units (signed).
    pub funding_rate: i64,
    /// Mark price message: the next funding time `T`, ns since the epoch.
    pub next_funding_ts: i64,
    /// Kline: open time `t`, ns.
    pub open_ts: i64,
    /// Kline: close time `T`, ns.
    pub close_ts: i64,
    /// Kline: interval `i`, ms.
    pub interval_ms: u64,
    /// Kline: first and last trade id `f`, `L` (`u64::MAX` for Binance's -1: no trade).
    pub first_trade: u64,
    /// See `first_trade`.
    pub last_trade: u64,
    /// Kline prices (open, high, low, close).
    pub open: i64,
    /// See `open`.
    pub high: i64,
    /// See `open`.
    pub low: i64,
    /// See `open`.
    pub close: i64,
    /// Kline: base asset volume `v`.
    pub volume: i64,
    /// Kline: taker buy base asset volume `V`.
    pub taker_volume: i64,
    /// Kline: number of trades `n`.
    pub trades: u64,
    /// Kline closed (`x`); liquidation order wholly filled (`X` = FILLED).
    pub closed: bool,
    /// Liquidation: average price `ap`.
    pub avg_price: i64,
    /// Liquidation: accumulated filled quantity `z`.
    pub filled_qty: i64,
}

/// A kline interval (`1s`, `1m`, `3m`, ..., `1d`, `3d`, `1w`, `1M`) in ms; `1M` counts as 30
/// days (the kline's own open and close times say exactly which month).
fn interval_ms(raw: &[u8]) -> Result<u64, ParseError> {
    let bad = || {
        ParseError(format!(
            "kline interval i '{}' is not one of Binance's",
            show(raw)
        ))
    };
    let (num, unit) = raw.split_at(raw.len().checked_sub(1).ok_or_else(bad)?);
    let n: u64 = std::str::from_utf8(num)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad)?;
    let unit_ms = match unit {
        b"s" => 1_000,
        b"m" => 60_000,
        b"h" => 3_600_000,
        b"d" => 86_400_000,
        b"w" => 7 * 86_400_000,
        b"M" => 30 * 86_400_000,
        _ => return Err(bad()),
    };
    Ok(n * unit_ms)
}

fn ms_to_ns(field: &str, ms: u64) -> Result<i64, ParseError> {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| ms.checked_mul(MS))
        .ok_or_else(|| ParseError(format!("{field} {ms} ms is out of range")))
}

fn kline_fields<'a>(c: &mut Cursor<'a>, k: &mut KlineFields<'a>) -> Result<(), ParseError> {
    c.object()?;
    let mut first = true;
    while let Some(key) = c.key(first)? {
        first = false;
        match key {
            b"t" => k.open_time = Some(c.u64()?),
            b"T" => k.close_time = Some(c.u64()?),
            b"s" => k.symbol = Some(c.string()?),
            b"i" => k.interval = Some(c.string()?),
            b"f" => k.first_trade = Some(c.i64()?),
            b"L" => k.last_trade = Some(c.i64()?),
            b"o" => k.open = Some(c.string()?),
            b"c" => k.close = Some(c.string()?),
            b"h" => k.high = Some(c.string()?),
            b"l" => k.low = Some(c.string()?),
            b"v" => k.volume = Some(c.string()?),
            b"n" => k.trades = Some(c.u64()?),
            b"x" => k.closed = Some(c.bool()?),
            b"V" => k.taker_volume = Some(c.string()?),
            _ => c.skip()?,
        }
    }
    Ok(())
}

fn order_fields<'a>(c: &mut Cursor<'a>, o: &mut OrderFields<'a>) -> Result<(), ParseError> {
    c.object()?;
    let mut first = true;
    while let Some(key) = c.key(first)? {
        first = false;
        match key {
            b"s" => o.symbol = Some(c.string()?),
            b"S" => o.side = Some(c.string()?),
            b"q" => o.qty = Some(c.string()?),
            b"p" => o.price = Some(c.string()?),
            b"ap" => o.avg_price = Some(c.string()?),
            b"X" => o.status = Some(c.string()?),
            b"z" => o.filled = Some(c.string()?),
            b"T" => o.trade_time = Some(c.u64()?),
            _ => c.skip()?,
        }
    }
    Ok(())
}

/// The fields of one message, as found (absent fields are `None`).
#[derive(Debug, Default)]
struct Fields<'a> {
    stream: Option<&'a [u8]>,
    e: Option<&'a [u8]>,
    event_time: Option<u64>,
    tx_time: Option<u64>,
    symbol: Option<&'a [u8]>,
    first_id: Option<u64>,
    last_id: Option<u64>,
    prev_id: Option<i64>,
    bid_px: Option<&'a [u8]>,
    bid_qty: Option<&'a [u8]>,
    ask_px: Option<&'a [u8]>,
    ask_qty: Option<&'a [u8]>,
    agg_id: Option<u64>,
    trade_id: Option<u64>,
    price: Option<&'a [u8]>,
    qty: Option<&'a [u8]>,
    buyer_maker: Option<bool>,
    exec_type: Option<&'a [u8]>,
    snapshot_id: Option<u64>,
    has_levels: bool,
    control: bool,
    index: Option<&'a [u8]>,
    rate: Option<&'a [u8]>,
    first_trade: Option<i64>,
    last_trade: Option<i64>,
    // Boxed: only these rare messages pay for them (a depth message's fields stay small).
    kline: Option<Box<KlineFields<'a>>>,
    order: Option<Box<OrderFields<'a>>>,
}

/// One parsed message. Book levels are left in the parser's buffers ([`Parser::bids`],
/// [`Parser::asks`]) so that parsing allocates nothing once warm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// What it is.
    pub kind: MsgKind,
    /// Symbol as sent (`None` for snapshots and control messages).
    pub symbol: Option<&'a [u8]>,
    /// Exchange time, ns (transaction time when sent, else event time); 0 when absent.
    pub exch_ts: i64,
    /// Depth: first update id `U`; snapshot: `lastUpdateId`; bookTicker: `u`.
    pub first_id: u64,
    /// Depth: final update id `u`; snapshot: `lastUpdateId`; bookTicker: `u`.
    pub last_id: u64,
    /// Futures depth: previous final update id `pu`.
    pub prev_id: Option<i64>,
    /// Trade id (`t`, or `a` for aggTrade).
    pub trade_id: u64,
    /// Trade price, best bid price, mark price, or a liquidation order's price.
    pub price: i64,
    /// Trade quantity, best bid quantity, or a liquidation order's original quantity.
    pub qty: i64,
    /// Best ask price (bookTicker).
    pub ask_price: i64,
    /// Best ask quantity (bookTicker).
    pub ask_qty: i64,
    /// Trade aggressor: +1 buy, -1 sell; a liquidation order's side.
    pub side: i8,
    /// Event flags that follow from the message itself (no exchange time, non-market trade).
    pub flags: u16,
}

/// Binance message parser with reusable level buffers.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bid levels (price, qty) of the last depth or snapshot message.
    pub bids: Vec<(i64, i64)>,
    /// Ask levels (price, qty) of the last depth or snapshot message.
    pub asks: Vec<(i64, i64)>,
    /// The values of the last mark price, kline or liquidation message.
    pub extra: Extra,
}

/// The compact form every exchange sends, `[["61773.6","1001"],...]` with no whitespace,
/// scanned with a few byte compares per level. Returns the bytes used, or `None` at the first
/// surprise (whitespace, extra fields, a number needing the slow path...), in which case the
/// caller re-parses the list with the generic scanner.
#[inline]
fn compact_levels(s: &[u8], out: &mut Vec<(i64, i64)>) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if fixed::simd::available() {
        // SAFETY: the CPU features were just checked.
        return unsafe { quoted_levels_sse(s, out) };
    }
    compact_levels_portable(s, out)
}

/// Positions of the `"` bytes of `s` in order, found 64 bytes at a time: a level's four
/// quotes come from bit scans of one mask, so finding the next level does not wait for the
/// numbers of this one to be parsed (a byte-by-byte scan made every level depend on the
/// length of the one before).
#[cfg(target_arch = "x86_64")]
struct Quotes<'a> {
    s: &'a [u8],
    base: usize,
    mask: u64,
}

#[cfg(target_arch = "x86_64")]
impl<'a> Quotes<'a> {
    /// # Safety
    /// The CPU must support SSE2.
    #[inline(always)]
    unsafe fn new(s: &'a [u8]) -> Self {
        // SAFETY: forwarded from the caller.
        let mask = unsafe { Self::block(s, 0) };
        Quotes { s, base: 0, mask }
    }

    /// The quote mask of the 64 bytes at `base` (< `s.len()`), zero past the end.
    ///
    /// # Safety
    /// The CPU must support SSE2.
    #[inline(always)]
    unsafe fn block(s: &[u8], base: usize) -> u64 {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        #[inline(always)]
        unsafe fn mask64(p: *const u8) -> u64 {
            // SAFETY: the caller provides 64 readable bytes at `p` and SSE2.
            unsafe {
                let quote = _mm_set1_epi8(b'"' as i8);
                let m = |k: usize| {
                    let x = _mm_loadu_si128(p.add(16 * k).cast());
                    u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) as u16)
                };
                m(0) | m(1) << 16 | m(2) << 32 | m(3) << 48
            }
        }
        if let Some(block) = s.get(base..base + 64) {
            // SAFETY: `block` holds 64 bytes; SSE2 is forwarded from the caller.
            unsafe { mask64(block.as_ptr()) }
        } else {
            let mut buf = [0u8; 64];
            let tail = &s[base..];
            buf[..tail.len()].copy_from_slice(tail);
            // SAFETY: `buf` holds 64 bytes; SSE2 is forwarded from the caller.
            unsafe { mask64(buf.as_ptr()) }
        }
    }

    /// # Safety
    /// The CPU must support SSE2.
    #[inline(always)]
    unsafe fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += 64;
            if self.base >= self.s.len() {
                return None;
            }
            // SAFETY: forwarded from the caller.
            self.mask = unsafe { Self::block(self.s, self.base) };
        }
        let q = self.base + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(q)
    }
}

/// The number between two quotes, `s[from..to]`.
///
/// # Safety
/// The CPU must support SSSE3 and SSE4.1.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn span_number(s: &[u8], from: usize, to: usize) -> Option<i64> {
    if from + 16 <= s.len() {
        // SAFETY: 16 readable bytes at `from`; the CPU features come from the caller.
        unsafe { fixed::simd::parse_span_at(s.as_ptr().add(from), to - from) }
    } else {
        fixed::parse_decimal(s.get(from..to)?).ok()
    }
}

/// [`compact_levels`] with SIMD: the four quotes of each level come from [`Quotes`], every
/// byte outside them is checked (`[` before, `,` between, `]` and `,` or `]` after, digits
/// and one dot inside), and each number is parsed knowing its length.
///
/// # Safety
/// The CPU must support SSSE3 and SSE4.1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3,sse4.1")]
unsafe fn quoted_levels_sse(s: &[u8], out: &mut Vec<(i64, i64)>) -> Option<usize> {
    if *s.first()? != b'[' {
        return None;
    }
    if *s.get(1)? == b']' {
        return Some(2);
    }
    // SAFETY (every call below): the CPU features are guaranteed by the caller.
    let mut quotes = unsafe { Quotes::new(s) };
    // Where the next level's opening quote must be: `[["` at the start, then `"],["`.
    let mut open = 2;
    loop {
        if *s.get(open - 1)? != b'[' || unsafe { quotes.next() }? != open {
            return None;
        }
        let price_end = unsafe { quotes.next() }?;
        let qty_open = unsafe { quotes.next() }?;
        if qty_open != price_end + 2 || s[price_end + 1] != b',' {
            return None;
        }
        let qty_end = unsafe { quotes.next() }?;
        let (p, q) = (open + 1, qty_open + 1);
        let pair = if q + 16 <= s.len() {
            // SAFETY: 16 bytes are readable at `p` < `q` and at `q`.
            unsafe {
                let base = s.as_ptr();
                fixed::simd::parse_pair8_at(base.add(p), price_end - p, base.add(q), qty_end - q)
            }
        } else {
            None
        };
        let level = match pair {
            Some(level) => level,
            None => unsafe { (span_number(s, p, price_end)?, span_number(s, q, qty_end)?) },
        };
        out.push(level);
        match (s.get(qty_end + 1), s.get(qty_end + 2)) {
            (Some(b']'), Some(b',')) => open = qty_end + 4,
            (Some(b']'), Some(b']')) => return Some(qty_end + 3),
            _ => return None,
        }
    }
}

/// [`compact_levels`] without SIMD.
fn compact_levels_portable(s: &[u8], out: &mut Vec<(i64, i64)>) -> Option<usize> {
    #[inline(always)]
    fn pair(s: &[u8], i: usize) -> Option<u16> {
        Some(u16::from_le_bytes([*s.get(i)?, *s.get(i + 1)?]))
    }
    const OPEN: u16 = u16::from_le_bytes(*b"[\"");
    const CLOSE: u16 = u16::from_le_bytes(*b"\"]");
    const MID: u16 = u16::from_le_bytes(*b"\",");
    let mut i = 0;
    if *s.get(i)? != b'[' {
        return None;
    }
    i += 1;
    if *s.get(i)? == b']' {
        return Some(i + 1);
    }
    loop {
        if pair(s, i)? != OPEN {
            return None;
        }
        i += 2;
        let (price, n) = fixed::parse_decimal_prefix(s.get(i..)?).ok()?;
        i += n;
        if pair(s, i)? != MID || *s.get(i + 2)? != b'"' {
            return None;
        }
        i += 3;
        let (qty, n) = fixed::parse_decimal_prefix(s.get(i..)?).ok()?;
        i += n;
        if pair(s, i)? != CLOSE {
            return None;
        }
        i += 2;
        out.push((price, qty));
        match *s.get(i)? {
            b',' => i += 1,
            b']' => return Some(i + 1),
            _ => return None,
        }
    }
}

#[inline]
pub(crate) fn levels(
    c: &mut Cursor<'_>,
    out: &mut Vec<(i64, i64)>,
    name: &str,
) -> Result<(), ParseError> {
    out.clear();
    if let Some(n) = compact_levels(c.rest(), out) {
        c.advance(n);
        return Ok(());
    }
    out.clear();
    c.expect(b'[', "'[' (a list of levels)")?;
    let mut first = true;
    while c.more(first)? {
        first = false;
        c.expect(b'[', "'[' (a [price, qty] level)")?;
        let i = out.len();
        let price = c
            .quoted_decimal()
            .map_err(|e| level_error(c, name, i, "price", e))?;
        c.expect(b',', "','")?;
        let qty = c
            .quoted_decimal()
            .map_err(|e| level_error(c, name, i, "qty", e))?;
        // Exchanges may append fields to a level; skip them.
        while c.more(false)? {
            c.skip()?;
        }
        out.push((price, qty));
    }
    Ok(())
}

#[cold]
fn level_error(
    c: &Cursor<'_>,
    name: &str,
    i: usize,
    what: &str,
    (err, raw): (Option<DecimalError>, &[u8]),
) -> ParseError {
    if let Some(e) = err {
        ParseError(format!("{name}[{i}] {what} '{}': {e}", show(raw)))
    } else {
        let at = c.error("a quoted decimal").at;
        ParseError(format!(
            "{name}[{i}] {what}: expected a quoted decimal at byte {at}"
        ))
    }
}

impl Parser {
    /// A parser with empty buffers.
    pub fn new() -> Self {
        Parser {
            bids: Vec::with_capacity(1024),
            asks: Vec::with_capacity(1024),
            extra: Extra::default(),
        }
    }

    fn fields<'a>(
        &mut self,
        c: &mut Cursor<'a>,
        f: &mut Fields<'a>,
        nested: bool,
    ) -> Result<(), ParseError> {
        c.object()?;
        let mut first = true;
        while let Some(k) = c.key(first)? {
            first = false;
            match k {
                b"e" => f.e = Some(c.string()?),
                b"E" => f.event_time = Some(c.u64()?),
                b"T" => f.tx_time = Some(c.u64()?),
                b"s" => f.symbol = Some(c.string()?),
                b"U" => f.first_id = Some(c.u64()?),
                b"u" => f.last_id = Some(c.u64()?),
                b"pu" => f.prev_id = Some(c.i64()?),
                b"b" | b"bids" if c.peek() == Some(b'[') => {
                    levels(c, &mut self.bids, "bids")?;
                    f.has_levels = true;
                }
                b"a" | b"asks" if c.peek() == Some(b'[') => {
                    levels(c, &mut self.asks, "asks")?;
                    f.has_levels = true;
                }
                b"b" => f.bid_px = Some(c.string()?),
                b"B" => f.bid_qty = Some(c.string()?),
                b"a" if c.peek() == Some(b'"') => f.ask_px = Some(c.string()?),
                b"a" => f.agg_id = Some(c.u64()?),
                b"A" => f.ask_qty = Some(c.string()?),
                b"t" => f.trade_id = Some(c.u64()?),
                b"p" => f.price = Some(c.string()?),
                b"q" => f.qty = Some(c.string()?),
                b"m" => f.buyer_maker = Some(c.bool()?),
                b"X" => f.exec_type = Some(c.string()?),
                b"lastUpdateId" => f.snapshot_id = Some(c.u64()?),
                b"i" => f.index = Some(c.string()?),
                b"r" => f.rate = Some(c.string()?),
                b"f" => f.first_trade = Some(c.i64()?),
                b"l" => f.last_trade = Some(c.i64()?),
                b"k" if c.peek() == Some(b'{') => {
                    let mut k = Box::<KlineFields<'a>>::default();
                    kline_fields(c, &mut k)?;
                    f.kline = Some(k);
                }
                b"o" if c.peek() == Some(b'{') => {
                    let mut o = Box::<OrderFields<'a>>::default();
                    order_fields(c, &mut o)?;
                    f.order = Some(o);
                }
                b"stream" if !nested => f.stream = Some(c.string()?),
                b"data" if !nested && c.peek() == Some(b'{') => self.fields(c, f, true)?,
                b"result" | b"id" if !nested => {
                    f.control = true;
                    c.skip()?;
                }
                _ => c.skip()?,
            }
        }
        Ok(())
    }

    /// Parses one message (raw bytes as received).
    #[allow(clippy::too_many_lines)] // one arm per message kind: a table, clearer whole
    pub fn parse<'a>(&mut self, msg: &'a [u8]) -> Result<Message<'a>, ParseError> {
        // A message with only one of its level lists must not inherit the other one.
        self.bids.clear();
        self.asks.clear();
        let mut c = Cursor::new(msg);
        let mut f = Fields::default();
        if let Err(e) = self.fields(&mut c, &mut f, false) {
            // A stream or event this parser does not read may use its field names otherwise:
            // say that, not where its fields stopped fitting.
            if let Some(stream) = f.stream.filter(|s| kind_of_stream(s).is_none()) {
                return Err(unknown_stream(stream));
            }
            if let Some(e) = f.e.filter(|e| kind_of_event(e).is_none()) {
                return Err(unknown_event(e));
            }
            return Err(e);
        }
        if !c.at_end() {
            return Err(ParseError(
                "malformed JSON: data after the end of the message".into(),
            ));
        }
        let kind = classify(&f)?;
        let time = match kind {
            // `T` is the next funding time there; a kline's times are inside `k`.
            MsgKind::Mark | MsgKind::Kline => f.event_time,
            MsgKind::ForceOrder => f.order.as_ref().and_then(|o| o.trade_time).or(f.event_time),
            _ => f.tx_time.or(f.event_time),
        };
        let exch_ts = match time {
            Some(ms) => ms_to_ns("exchange time", ms)?,
            None => 0,
        };
        let symbol = match kind {
            MsgKind::ForceOrder => f.order.as_ref().and_then(|o| o.symbol).or(f.symbol),
            _ => f.symbol,
        };
        let mut m = Message {
            kind,
            symbol,
            exch_ts,
            first_id: 0,
            last_id: 0,
            prev_id: None,
            trade_id: 0,
            price: 0,
            qty: 0,
            ask_price: 0,
            ask_qty: 0,
            side: 0,
            flags: if time.is_none() { flags::NO_EXCH_TS } else { 0 },
        };
        let need = |v: Option<u64>, name: &str| {
            v.ok_or_else(|| ParseError(format!("{} message without '{name}'", kind.name())))
        };
        let need_s = |v: Option<&'a [u8]>, name: &str| {
            v.ok_or_else(|| ParseError(format!("{} message without '{name}'", kind.name())))
        };
        match kind {
            MsgKind::Depth => {
                m.first_id = need(f.first_id, "U")?;
                m.last_id = need(f.last_id, "u")?;
                m.prev_id = f.prev_id;
                if !f.has_levels {
                    return Err(ParseError(
                        "depth message without 'b'/'a' level lists".into(),
                    ));
                }
                if m.first_id > m.last_id {
                    return Err(ParseError(format!(
                        "depth message with U {} > u {}",
                        m.first_id, m.last_id
                    )));
                }
                check_levels(&self.bids, "bids")?;
                check_levels(&self.asks, "asks")?;
            }
            MsgKind::Snapshot => {
                let id = need(f.snapshot_id, "lastUpdateId")?;
                m.first_id = id;
                m.last_id = id;
                check_levels(&self.bids, "bids")?;
                check_levels(&self.asks, "asks")?;
            }
            MsgKind::Trade | MsgKind::AggTrade => {
                if kind == MsgKind::Trade {
                    m.trade_id = need(f.trade_id, "t")?;
                } else {
                    m.trade_id = need(f.agg_id, "a")?;
                    m.first_id = trade_id("f", f.first_trade)?;
                    m.last_id = trade_id("l", f.last_trade)?;
                }
                m.price = non_negative("p", need_s(f.price, "p")?)?;
                m.qty = non_negative("q", need_s(f.qty, "q")?)?;
                let maker = f
                    .buyer_maker
                    .ok_or_else(|| ParseError(format!("{} message without 'm'", kind.name())))?;
                m.side = if maker { ASK } else { BID };
                if matches!(f.exec_type, Some(x) if x != b"MARKET") {
                    m.flags |= flags::NON_MARKET_TRADE;
                }
            }
            MsgKind::BookTicker => {
                m.first_id = need(f.last_id, "u")?;
                m.last_id = m.first_id;
                m.price = non_negative("b", need_s(f.bid_px, "b")?)?;
                m.qty = non_negative("B", need_s(f.bid_qty, "B")?)?;
                m.ask_price = non_negative("a", need_s(f.ask_px, "a")?)?;
                m.ask_qty = non_negative("A", need_s(f.ask_qty, "A")?)?;
            }
            MsgKind::Mark => {
                m.price = decimal("p", need_s(f.price, "p")?)?;
                if m.price <= 0 {
                    return Err(ParseError(format!(
                        "mark price p {} must be > 0",
                        fixed::format(m.price)
                    )));
                }
                let x = &mut self.extra;
                x.index_price = non_negative("i", need_s(f.index, "i")?)?;
                x.funding_rate = decimal("r", need_s(f.rate, "r")?)?;
                x.next_funding_ts = ms_to_ns("next funding time T", need(f.tx_time, "T")?)?;
            }
            MsgKind::Kline => {
                let k = f
                    .kline
                    .as_ref()
                    .ok_or_else(|| ParseError("kline message without 'k'".into()))?;
                if m.symbol.is_none() {
                    m.symbol = k.symbol;
                }
                kline_values(k, &mut self.extra)?;
            }
            MsgKind::ForceOrder => {
                let o = f
                    .order
                    .as_ref()
                    .ok_or_else(|| ParseError("forceOrder message without 'o'".into()))?;
                force_order_values(o, &mut m, &mut self.extra)?;
            }
            MsgKind::Control => {}
        }
        Ok(m)
    }
}

/// The values of a kline (`k`).
fn kline_values(k: &KlineFields<'_>, x: &mut Extra) -> Result<(), ParseError> {
    fn missing(name: &str) -> ParseError {
        ParseError(format!("kline message without 'k.{name}'"))
    }
    let s = |v: Option<&[u8]>, name: &str, field: &str| -> Result<i64, ParseError> {
        non_negative(field, v.ok_or_else(|| missing(name))?)
    };
    x.open_ts = ms_to_ns(
        "kline open time t",
        k.open_time.ok_or_else(|| missing("t"))?,
    )?;
    x.close_ts = ms_to_ns(
        "kline close time T",
        k.close_time.ok_or_else(|| missing("T"))?,
    )?;
    x.interval_ms = interval_ms(k.interval.ok_or_else(|| missing("i"))?)?;
    x.first_trade = kline_trade_id(k.first_trade);
    x.last_trade = kline_trade_id(k.last_trade);
    x.open = s(k.open, "o", "k.o")?;
    x.high = s(k.high, "h", "k.h")?;
    x.low = s(k.low, "l", "k.l")?;
    x.close = s(k.close, "c", "k.c")?;
    x.volume = s(k.volume, "v", "k.v")?;
    x.taker_volume = s(k.taker_volume, "V", "k.V")?;
    x.trades = k.trades.ok_or_else(|| missing("n"))?;
    x.closed = k.closed.ok_or_else(|| missing("x"))?;
    if x.close_ts < x.open_ts {
        return Err(ParseError(format!(
            "kline close time T {} ms is before its open time t {} ms",
            x.close_ts / MS,
            x.open_ts / MS
        )));
    }
    Ok(())
}

/// The values of a liquidation order (`o` of a `forceOrder`).
fn force_order_values(
    o: &OrderFields<'_>,
    m: &mut Message<'_>,
    x: &mut Extra,
) -> Result<(), ParseError> {
    fn need<'b>(v: Option<&'b [u8]>, name: &str) -> Result<&'b [u8], ParseError> {
        v.ok_or_else(|| ParseError(format!("forceOrder message without 'o.{name}'")))
    }
    m.side = match need(o.side, "S")? {
        b"BUY" => BID,
        b"SELL" => ASK,
        other => {
            return Err(ParseError(format!(
                "forceOrder side o.S '{}' is not BUY or SELL",
                show(other)
            )))
        }
    };
    m.price = non_negative("o.p", need(o.price, "p")?)?;
    m.qty = non_negative("o.q", need(o.qty, "q")?)?;
    x.avg_price = non_negative("o.ap", need(o.avg_price, "ap")?)?;
    x.filled_qty = non_negative("o.z", need(o.filled, "z")?)?;
    x.closed = need(o.status, "X")? == b"FILLED";
    Ok(())
}

/// An aggregate trade's first or last trade id.
fn trade_id(name: &str, v: Option<i64>) -> Result<u64, ParseError> {
    let v = v.ok_or_else(|| ParseError(format!("agg_trade message without '{name}'")))?;
    u64::try_from(v).map_err(|_| ParseError(format!("agg_trade {name} {v} is negative")))
}

/// A kline's first or last trade id: Binance sends -1 when the kline has no trade.
fn kline_trade_id(v: Option<i64>) -> u64 {
    v.and_then(|v| u64::try_from(v).ok()).unwrap_or(u64::MAX)
}

fn kind_of_stream(stream: &[u8]) -> Option<MsgKind> {
    // `<symbol>@<name>[@<option>]`, or an all-market stream `!<name>@arr`.
    let tail = match stream.strip_prefix(b"!") {
        Some(all) => all,
        None => &stream[memchr::memchr(b'@', stream)? + 1..],
    };
    let name = tail.split(|&b| b == b'@').next().unwrap_or(tail);
    match name {
        b"depth" => Some(MsgKind::Depth),
        b"trade" => Some(MsgKind::Trade),
        b"aggTrade" => Some(MsgKind::AggTrade),
        b"bookTicker" => Some(MsgKind::BookTicker),
        b"markPrice" if stream.first() != Some(&b'!') => Some(MsgKind::Mark),
        b"forceOrder" => Some(MsgKind::ForceOrder),
        _ if name.starts_with(b"kline_") => Some(MsgKind::Kline),
        _ => None,
    }
}

fn kind_of_event(e: &[u8]) -> Option<MsgKind> {
    match e {
        b"depthUpdate" => Some(MsgKind::Depth),
        b"trade" => Some(MsgKind::Trade),
        b"aggTrade" => Some(MsgKind::AggTrade),
        b"bookTicker" => Some(MsgKind::BookTicker),
        b"markPriceUpdate" => Some(MsgKind::Mark),
        b"kline" => Some(MsgKind::Kline),
        b"forceOrder" => Some(MsgKind::ForceOrder),
        _ => None,
    }
}

#[cold]
fn unknown_stream(stream: &[u8]) -> ParseError {
    ParseError(format!("unknown stream '{}'", show(stream)))
}

#[cold]
fn unknown_event(e: &[u8]) -> ParseError {
    ParseError(format!("unknown event type '{}'", show(e)))
}

fn classify(f: &Fields<'_>) -> Result<MsgKind, ParseError> {
    if let Some(stream) = f.stream {
        let k = kind_of_stream(stream).ok_or_else(|| unknown_stream(stream))?;
        if let Some(e) = f.e {
            if kind_of_event(e) != Some(k) {
                return Err(ParseError(format!(
                    "stream '{}' carries event '{}'",
                    show(stream),
                    show(e)
                )));
            }
        }
        return Ok(k);
    }
    if let Some(e) = f.e {
        return kind_of_event(e).ok_or_else(|| unknown_event(e));
    }
    if f.snapshot_id.is_some() && f.has_levels {
        return Ok(MsgKind::Snapshot);
    }
    if f.last_id.is_some() && f.bid_px.is_some() && f.ask_px.is_some() {
        return Ok(MsgKind::BookTicker);
    }
    if f.control {
        return Ok(MsgKind::Control);
    }
    Err(ParseError(
        "unrecognised message: no stream, no event type, not a depth snapshot".into(),
    ))
}

/// The events of a mark price, kline or liquidation message (see [`crate::event::kind`]),
/// from `base` (times, instrument, flags); the last one is flagged `LAST_IN_MESSAGE`.
fn market_events(m: &Message<'_>, x: &Extra, base: Event) -> impl Iterator<Item = Event> {
    let ev = |kind: u8, price: i64, qty: i64| Event {
        price,
        qty,
        kind,
        ..base
    };
    let mut list = [Event::default(); 3];
    let n = match m.kind {
        MsgKind::Mark => {
            list[0] = ev(kind::MARK, m.price, x.index_price);
            list[1] = Event {
                trade_id: x.next_funding_ts.unsigned_abs(),
                ..ev(kind::FUNDING, m.price, x.funding_rate)
            };
            2
        }
        MsgKind::Kline => {
            let closed = if x.closed { flags::CLOSED } else { 0 };
            list[0] = Event {
                first_update_id: x.open_ts.unsigned_abs(),
                last_update_id: x.close_ts.unsigned_abs(),
                trade_id: x.trades,
                flags: base.flags | closed,
                ..ev(kind::KLINE, x.open, x.high)
            };
            list[1] = Event {
                first_update_id: x.first_trade,
                last_update_id: x.last_trade,
                trade_id: x.interval_ms,
                flags: base.flags | closed,
                ..ev(kind::KLINE_CLOSE, x.low, x.close)
            };
            list[2] = Event {
                flags: base.flags | closed,
                ..ev(kind::KLINE_VOLUME, x.volume, x.taker_volume)
            };
            3
        }
        _ => {
            let filled = if x.closed { flags::CLOSED } else { 0 };
            list[0] = Event {
                side: m.side,
                ..ev(kind::LIQUIDATION, m.price, m.qty)
            };
            list[1] = Event {
                side: m.side,
                flags: base.flags | filled,
                ..ev(kind::LIQUIDATION_FILL, x.avg_price, x.filled_qty)
            };
            2
        }
    };
    list[n - 1].flags |= flags::LAST_IN_MESSAGE;
    list.into_iter().take(n)
}

/// A detected gap in the depth chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Index in the output event stream where the out-of-sync region begins.
    pub event_index: u64,
    /// Source position (file, line) of the message that revealed the gap.
    pub source: usize,
    /// 1-based line of that message in its source (0 for live messages).
    pub line: u64,
    /// Local receive time of that message, ns.
    pub local_ts: i64,
    /// The update id that was expected (`pu`, `U`, or the snapshot's id).
    pub expected: u64,
    /// The update id that came instead.
    pub got: u64,
    /// Which check failed: `"pu"` (futures chain), `"U"` (spot chain), or `"first"` (the first
    /// event after a snapshot does not cover the snapshot id).
    pub check: &'static str,
}

/// Where a message came from, for gap reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    /// Index of the source (file) in the stream.
    pub source: usize,
    /// 1-based line, 0 when not line-oriented.
    pub line: u64,
    /// Local receive time, ns.
    pub local_ts: i64,
}

/// Counters kept by the sync state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Depth messages dropped as stale (older than the snapshot or already applied).
    pub stale_messages: u64,
    /// Level updates inside those stale messages.
    pub stale_events: u64,
    /// Events emitted with the `OUT_OF_SYNC` flag.
    pub unsynced_events: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Snapshots ignored because they were older than the in-sync book.
    pub snapshots_ignored: u64,
    /// Every gap detected (the list may be capped, this count is not).
    pub gap_count: u64,
    /// Events emitted in total.
    pub emitted: u64,
}

/// Limits on the replay buffer kept while out of sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncConfig {
    /// Depth messages kept at most for replay after the next snapshot.
    pub max_pending: usize,
    /// Depth messages older than this (local time, ns) than the newest are not kept.
    pub pending_window_ns: i64,
    /// At most this many gaps are kept in the list (all are counted).
    pub max_gaps_listed: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_pending: 10_000,
            pending_window_ns: 10_000_000_000,
            max_gaps_listed: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No usable snapshot: depth messages are emitted flagged and kept for replay.
    Waiting,
    /// A snapshot with this id was applied; the first depth event must cover it.
    AwaitFirst(u64),
    /// In sync; the last applied depth message ended at this `u`.
    Synced(u64),
}

#[derive(Debug)]
struct Pending {
    first: u64,
    last: u64,
    prev: Option<i64>,
    origin: Origin,
    events: Vec<Event>,
}

/// Binance's book-sync procedure as a state machine: feed it parsed messages in arrival
/// order; it appends normalized events to `out` as they arrive, in the order a live system
/// applies them.
///
/// - While out of sync (before the first snapshot, or after a gap), depth events are emitted
///   at once, flagged `OUT_OF_SYNC`, and a copy is kept (bounded by [`SyncConfig`]) to replay
///   after the next snapshot.
/// - A snapshot emits CLEAR + SNAPSHOT levels, then the kept messages are replayed unflagged:
///   stale ones are dropped and counted; the first applied one must cover the snapshot id. A
///   snapshot older than an in-sync book is ignored (and counted).
/// - Then every depth message must chain on the previous one (`pu == u` for futures,
///   `U == u + 1` for spot). A break is a [`Gap`]: recorded, and everything after it is
///   flagged `OUT_OF_SYNC` until the next snapshot.
///
/// Trades and book tickers pass straight through (flagged while the book is out of sync).
#[derive(Debug)]
pub struct BookSync {
    config: SyncConfig,
    state: State,
    market: Option<Market>,
    pending: VecDeque<Pending>,
    spare: Vec<Vec<Event>>,
    /// Gaps found so far (at most `max_gaps_listed`).
    pub gaps: Vec<Gap>,
    /// Counters.
    pub stats: SyncStats,
    instrument: u32,
}

impl BookSync {
    /// A state machine waiting for its first snapshot.
    pub fn new(config: SyncConfig) -> Self {
        BookSync {
            config,
            state: State::Waiting,
            market: None,
            pending: VecDeque::new(),
            spare: Vec::new(),
            gaps: Vec::new(),
            stats: SyncStats::default(),
            instrument: 0,
        }
    }

    /// Sets the instrument index written into every event.
    pub fn set_instrument(&mut self, instrument: u32) {
        self.instrument = instrument;
    }

    /// The market, once a depth message or symbol has revealed it.
    pub fn market(&self) -> Option<Market> {
        self.market
    }

    /// True when the book built from the emitted events is in sync.
    pub fn in_sync(&self) -> bool {
        matches!(self.state, State::Synced(_) | State::AwaitFirst(_))
    }

    /// Depth messages kept for replay after the next snapshot.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn unsynced_flag(&self) -> u16 {
        if self.in_sync() {
            0
        } else {
            flags::OUT_OF_SYNC
        }
    }

    #[inline]
    fn push(&mut self, out: &mut Vec<Event>, e: Event) {
        if e.flags & flags::OUT_OF_SYNC != 0 {
            self.stats.unsynced_events += 1;
        }
        self.stats.emitted += 1;
        out.push(e);
    }

    /// Feeds one parsed message; `parser` holds its levels.
    pub fn on_message(
        &mut self,
        m: &Message<'_>,
        parser: &Parser,
        origin: Origin,
        out: &mut Vec<Event>,
    ) -> Result<(), ParseError> {
        let base = Event {
            exch_ts: m.exch_ts,
            local_ts: origin.local_ts,
            instrument: self.instrument,
            flags: m.flags,
            ..Event::default()
        };
        match m.kind {
            MsgKind::Depth => self.on_depth(m, parser, origin, base, out),
            MsgKind::Snapshot => {
                self.on_snapshot(m, parser, base, out);
                Ok(())
            }
            MsgKind::Trade | MsgKind::AggTrade => {
                let mut e = base;
                e.kind = if m.kind == MsgKind::Trade {
                    kind::TRADE
                } else {
                    e.first_update_id = m.first_id;
                    e.last_update_id = m.last_id;
                    kind::AGG_TRADE
                };
                e.side = m.side;
                e.price = m.price;
                e.qty = m.qty;
                e.trade_id = m.trade_id;
                e.flags |= flags::LAST_IN_MESSAGE | self.unsynced_flag();
                self.push(out, e);
                Ok(())
            }
            MsgKind::Mark | MsgKind::Kline | MsgKind::ForceOrder => {
                let mut base = base;
                base.flags |= self.unsynced_flag();
                for e in market_events(m, &parser.extra, base) {
                    self.push(out, e);
                }
                Ok(())
            }
            MsgKind::BookTicker => {
                let mut e = base;
                e.kind = kind::BBO;
                e.first_update_id = m.first_id;
                e.last_update_id = m.last_id;
                e.flags |= self.unsynced_flag();
                let (mut bid, mut ask) = (e, e);
                bid.side = BID;
                bid.price = m.price;
                bid.qty = m.qty;
                ask.side = ASK;
                ask.price = m.ask_price;
                ask.qty = m.ask_qty;
                ask.flags |= flags::LAST_IN_MESSAGE;
                self.push(out, bid);
                self.push(out, ask);
                Ok(())
            }
            MsgKind::Control => Ok(()),
        }
    }

    /// One event per level in `parser` (bids, then asks) of the given kind, the last one
    /// flagged `LAST_IN_MESSAGE`; `base` carries the times, ids and flags. Returns the count.
    fn level_events(base: Event, kind: u8, parser: &Parser, out: &mut Vec<Event>) -> usize {
        let mut e = base;
        e.kind = kind;
        let start = out.len();
        out.reserve(parser.bids.len() + parser.asks.len());
        e.side = BID;
        for &(p, q) in &parser.bids {
            e.price = p;
            e.qty = q;
            out.push(e);
        }
        e.side = ASK;
        for &(p, q) in &parser.asks {
            e.price = p;
            e.qty = q;
            out.push(e);
        }
        if out.len() > start {
            let last = out.len() - 1;
            out[last].flags |= flags::LAST_IN_MESSAGE;
        }
        out.len() - start
    }

    /// The DEPTH events of the depth message whose levels are in `parser`.
    fn depth_events(base: Event, parser: &Parser, out: &mut Vec<Event>) -> usize {
        Self::level_events(base, kind::DEPTH, parser, out)
    }

    fn depth_base(mut base: Event, m: &Message<'_>) -> Event {
        base.first_update_id = m.first_id;
        base.last_update_id = m.last_id;
        base
    }

    /// Binance's chain rules for a depth message covering update ids `first..=last` (with
    /// `prev` = `pu` on futures), given the current state; `None` while waiting for a snapshot.
    fn verdict(&self, first: u64, last: u64, prev: Option<i64>) -> Option<Verdict> {
        let spot = self.market == Some(Market::Spot);
        Some(match self.state {
            State::Waiting => return None,
            State::AwaitFirst(id) => {
                let needed = if spot { id.wrapping_add(1) } else { id };
                if (spot && last <= id) || (!spot && last < id) {
                    Verdict::Stale
                } else if first <= needed {
                    Verdict::Apply
                } else {
                    Verdict::Gap {
                        expected: needed,
                        got: first,
                        check: "first",
                    }
                }
            }
            State::Synced(l) if spot => {
                if first == l.wrapping_add(1) {
                    Verdict::Apply
                } else if last <= l {
                    Verdict::Stale
                } else {
                    Verdict::Gap {
                        expected: l.wrapping_add(1),
                        got: first,
                        check: "U",
                    }
                }
            }
            State::Synced(l) => {
                let pu = prev.unwrap_or(-1);
                if pu == l as i64 {
                    Verdict::Apply
                } else {
                    Verdict::Gap {
                        expected: l,
                        got: pu as u64,
                        check: "pu",
                    }
                }
            }
        })
    }

    /// For a live feed that applies levels straight to its book: when `m` is a depth message
    /// that chains on the last one while in sync, accounts for it (as if its events had been
    /// emitted) and returns true; otherwise changes nothing and returns false, and the message
    /// must go through [`BookSync::on_message`].
    pub fn accept_in_sync_depth(&mut self, m: &Message<'_>, parser: &Parser) -> bool {
        let futures = matches!(self.market, Some(Market::UsdM | Market::CoinM));
        if m.kind != MsgKind::Depth
            || !matches!(self.state, State::Synced(_))
            || futures != m.prev_id.is_some()
            || self.verdict(m.first_id, m.last_id, m.prev_id) != Some(Verdict::Apply)
        {
            return false;
        }
        self.state = State::Synced(m.last_id);
        self.stats.emitted += (parser.bids.len() + parser.asks.len()) as u64;
        true
    }

    /// Gives up on the current book (the consumer could not apply what was emitted, e.g. a
    /// level off its grid): out of sync until the next snapshot.
    pub fn invalidate(&mut self) {
        self.state = State::Waiting;
    }

    fn on_depth(
        &mut self,
        m: &Message<'_>,
        parser: &Parser,
        origin: Origin,
        base: Event,
        out: &mut Vec<Event>,
    ) -> Result<(), ParseError> {
        let futures = m.prev_id.is_some();
        match self.market {
            None => {
                self.market = Some(if futures {
                    Market::of_futures_symbol(m.symbol)
                } else {
                    Market::Spot
                });
            }
            Some(Market::Spot) if futures => {
                return Err(ParseError(
                    "futures depth message (with 'pu') in a spot stream".into(),
                ));
            }
            Some(Market::UsdM | Market::CoinM) if !futures => {
                return Err(ParseError(
                    "depth message without 'pu' in a futures stream".into(),
                ));
            }
            Some(_) => {}
        }
        let base = Self::depth_base(base, m);
        match self.verdict(m.first_id, m.last_id, m.prev_id) {
            Some(Verdict::Apply) => {
                self.stats.emitted += Self::depth_events(base, parser, out) as u64;
                self.state = State::Synced(m.last_id);
                return Ok(());
            }
            Some(Verdict::Stale) => {
                self.stats.stale_messages += 1;
                self.stats.stale_events += (parser.bids.len() + parser.asks.len()) as u64;
                return Ok(());
            }
            Some(Verdict::Gap {
                expected,
                got,
                check,
            }) => self.gap(origin, expected, got, check),
            None => {}
        }
        // Out of sync: emit now, flagged, and keep a copy to replay after the next snapshot.
        let start = out.len();
        let n = Self::depth_events(
            Event {
                flags: base.flags | flags::OUT_OF_SYNC,
                ..base
            },
            parser,
            out,
        );
        self.stats.emitted += n as u64;
        self.stats.unsynced_events += n as u64;
        let mut events = self.spare.pop().unwrap_or_default();
        events.clear();
        events.extend(out[start..].iter().map(|e| Event {
            flags: e.flags & !flags::OUT_OF_SYNC,
            ..*e
        }));
        self.pending.push_back(Pending {
            first: m.first_id,
            last: m.last_id,
            prev: m.prev_id,
            origin,
            events,
        });
        self.trim_pending();
        Ok(())
    }

    fn recycle(&mut self, v: Vec<Event>) {
        if self.spare.len() < 64 {
            self.spare.push(v);
        }
    }

    fn gap(&mut self, origin: Origin, expected: u64, got: u64, check: &'static str) {
        self.stats.gap_count += 1;
        if self.gaps.len() < self.config.max_gaps_listed {
            self.gaps.push(Gap {
                event_index: self.stats.emitted,
                source: origin.source,
                line: origin.line,
                local_ts: origin.local_ts,
                expected,
                got,
                check,
            });
        }
        self.state = State::Waiting;
    }

    /// Bounds the replay buffer. Dropping a copy loses nothing (its events were emitted,
    /// flagged): a snapshot that would have needed it simply reports a gap.
    fn trim_pending(&mut self) {
        let newest = self.pending.back().map_or(0, |p| p.origin.local_ts);
        while let Some(front) = self.pending.front() {
            let too_many = self.pending.len() > self.config.max_pending;
            let too_old =
                newest.saturating_sub(front.origin.local_ts) > self.config.pending_window_ns;
            if !(too_many || too_old) {
                break;
            }
            if let Some(p) = self.pending.pop_front() {
                self.recycle(p.events);
            }
        }
    }

    fn on_snapshot(&mut self, m: &Message<'_>, parser: &Parser, base: Event, out: &mut Vec<Event>) {
        let id = m.last_id;
        if let State::Synced(last) = self.state {
            if id <= last {
                // Older than the book we hold (a periodic re-snapshot that arrived late).
                self.stats.snapshots_ignored += 1;
                return;
            }
        }
        self.stats.snapshots += 1;
        let mut clear = base;
        clear.first_update_id = id;
        clear.last_update_id = id;
        clear.kind = kind::CLEAR;
        if parser.bids.is_empty() && parser.asks.is_empty() {
            clear.flags |= flags::LAST_IN_MESSAGE;
        }
        out.push(clear);
        let n = 1 + Self::level_events(clear, kind::SNAPSHOT, parser, out);
        self.stats.emitted += n as u64;
        self.state = State::AwaitFirst(id);
        // Replay what arrived before the snapshot; what cannot apply yet stays buffered.
        let buffered = std::mem::take(&mut self.pending);
        for p in buffered {
            match self.verdict(p.first, p.last, p.prev) {
                Some(Verdict::Apply) => {
                    self.state = State::Synced(p.last);
                    self.stats.emitted += p.events.len() as u64;
                    out.extend_from_slice(&p.events);
                    self.recycle(p.events);
                }
                Some(Verdict::Stale) => {
                    self.stats.stale_messages += 1;
                    self.stats.stale_events += p.events.len() as u64;
                    self.recycle(p.events);
                }
                Some(Verdict::Gap {
                    expected,
                    got,
                    check,
                }) => {
                    self.gap(p.origin, expected, got, check);
                    self.pending.push_back(p);
                }
                None => self.pending.push_back(p),
            }
        }
    }

    /// End of stream: the replay buffer is released (its events were already emitted).
    pub fn finish(&mut self) {
        while let Some(p) = self.pending.pop_front() {
            self.recycle(p.events);
        }
    }
}

/// The outcome of the chain rules for one depth message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Chains on the book: apply.
    Apply,
    /// Already contained in the book (older than the snapshot or the last message): drop.
    Stale,
    /// Updates were lost.
    Gap {
        expected: u64,
        got: u64,
        check: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::SCALE;

    const FUT_DEPTH: &[u8] = br#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["61496.50","0.010"],["61510.90","0.000"]],"a":[["61600.1","2"]]}}"#;

    proptest::proptest! {
        /// Arbitrary bytes, and valid messages with bytes flipped, cut or inserted: the parser
        /// and the sync state machine return errors or events, never panic; and whatever
        /// parses also fits (or is refused by) a book without a panic.
        #[test]
        fn no_input_makes_the_feed_panic(
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            edits in proptest::collection::vec((0usize..400, proptest::num::u8::ANY, 0u8..3), 0..6),
        ) {
            let mut msg = FUT_DEPTH.to_vec();
            for (at, byte, op) in edits {
                let at = at % (msg.len() + 1);
                match op {
                    0 if at < msg.len() => msg[at] = byte,
                    1 => msg.insert(at, byte),
                    _ => msg.truncate(at),
                }
            }
            let mut book = crate::L2Book::new(100_000_000, 1_000_000).unwrap();
            let mut feed = BinanceFeed::default();
            for raw in [&noise[..], &msg[..], br#"{"lastUpdateId":10,"bids":[],"asks":[]}"#, &msg[..]] {
                let _ = feed.on_message(raw, 1, &mut book);
                let _ = feed.last_events();
            }
        }

        /// The compact level scanners (SIMD where available, and the portable one) agree
        /// with the generic one on well-formed lists.
        #[test]
        fn compact_and_generic_level_scans_agree(
            levels in proptest::collection::vec(("[0-9]{1,9}(\\.[0-9]{1,10})?", "[0-9]{1,9}(\\.[0-9]{1,10})?"), 0..40),
        ) {
            let body: Vec<String> = levels.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\"]")).collect();
            let json = format!("[{}]}}", body.join(","));
            let slow = generic_levels(json.as_bytes());
            for (name, scan) in SCANNERS {
                let mut fast = Vec::new();
                if let Some(n) = scan(json.as_bytes(), &mut fast) {
                    proptest::prop_assert_eq!(Some((fast, n)), slow.clone(), "{}", name);
                }
            }
        }

        /// On lists with bytes changed, inserted or cut, whatever a compact scanner accepts
        /// the generic one reads the same way: the fast paths never accept what is not a
        /// well-formed level list, nor read it differently.
        #[test]
        fn compact_scanners_accept_nothing_the_generic_one_refuses(
            levels in proptest::collection::vec(("[0-9]{1,6}\\.[0-9]{1,2}", "[0-9]{1,3}\\.[0-9]{1,3}"), 1..12),
            edits in proptest::collection::vec((0usize..400, proptest::sample::select(b"0123456789.,[]\" x-".to_vec()), 0u8..3), 1..4),
        ) {
            let body: Vec<String> = levels.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\"]")).collect();
            let mut json = format!("[{}],\"a\":[]}}", body.join(",")).into_bytes();
            for (at, byte, op) in edits {
                let at = at % (json.len() + 1);
                match op {
                    0 if at < json.len() => json[at] = byte,
                    1 => json.insert(at, byte),
                    _ => json.truncate(at),
                }
            }
            let slow = generic_levels(&json);
            for (name, scan) in SCANNERS {
                let mut fast = Vec::new();
                if let Some(n) = scan(&json, &mut fast) {
                    proptest::prop_assert_eq!(Some((fast, n)), slow.clone(), "{}", name);
                }
            }
        }
    }

    type Scanner = fn(&[u8], &mut Vec<(i64, i64)>) -> Option<usize>;
    const SCANNERS: [(&str, Scanner); 2] = [
        ("compact", compact_levels),
        ("portable", compact_levels_portable),
    ];

    /// A level list read with the generic scanner, strictly (two quoted decimals per level):
    /// the levels and the bytes used, or `None` if it is not one.
    fn generic_levels(json: &[u8]) -> Option<(Vec<(i64, i64)>, usize)> {
        let mut c = Cursor::new(json);
        let mut out = Vec::new();
        c.expect(b'[', "[").ok()?;
        let mut first = true;
        while c.more(first).ok()? {
            first = false;
            c.expect(b'[', "[").ok()?;
            let p = fixed::parse_decimal(c.string().ok()?).ok()?;
            c.expect(b',', ",").ok()?;
            let q = fixed::parse_decimal(c.string().ok()?).ok()?;
            c.expect(b']', "]").ok()?;
            out.push((p, q));
        }
        Some((out, json.len() - c.rest().len()))
    }

    #[test]
    fn parses_a_futures_depth_message() {
        let mut p = Parser::new();
        let m = p.parse(FUT_DEPTH).unwrap();
        assert_eq!(m.kind, MsgKind::Depth);
        assert_eq!((m.first_id, m.last_id, m.prev_id), (10, 12, Some(9)));
        assert_eq!(m.exch_ts, 1_723_161_256_298 * MS);
        assert_eq!(m.symbol, Some(&b"BTCUSDT"[..]));
        assert_eq!(
            p.bids,
            vec![(61_496_500_000_000, 10_000_000), (61_510_900_000_000, 0)]
        );
        assert_eq!(p.asks, vec![(61_600_100_000_000, 2 * SCALE)]);
    }

    #[test]
    fn parses_trades_tickers_snapshots_and_control() {
        let mut p = Parser::new();
        let t = p
            .parse(br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":77,"p":"100.5","q":"0.003","X":"MARKET","m":true}}"#)
            .unwrap();
        assert_eq!(
            (t.kind, t.trade_id, t.price, t.qty, t.side, t.flags),
            (MsgKind::Trade, 77, 100_500_000_000, 3_000_000, ASK, 0)
        );
        let adl = p
            .parse(br#"{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":78,"p":"1","q":"1","X":"ADL","m":false}"#)
            .unwrap();
        assert_eq!((adl.side, adl.flags), (BID, flags::NON_MARKET_TRADE));
        let spot_bbo = p
            .parse(br#"{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}"#)
            .unwrap();
        assert_eq!(spot_bbo.kind, MsgKind::BookTicker);
        assert_eq!(spot_bbo.flags, flags::NO_EXCH_TS);
        assert_eq!(spot_bbo.ask_qty, 40_660_000_000);
        let snap = p
            .parse(br#"{"lastUpdateId":5,"bids":[["1.0","2"]],"asks":[]}"#)
            .unwrap();
        assert_eq!((snap.kind, snap.last_id), (MsgKind::Snapshot, 5));
        assert_eq!(p.bids.len(), 1);
        assert_eq!(
            p.parse(br#"{"result":null,"id":1}"#).unwrap().kind,
            MsgKind::Control
        );
        let agg = p
            .parse(br#"{"e":"aggTrade","E":1,"s":"X","a":9,"p":"1","q":"1","f":1,"l":2,"T":3,"m":false}"#)
            .unwrap();
        assert_eq!((agg.kind, agg.trade_id), (MsgKind::AggTrade, 9));
    }

    /// Events of one message through a fresh sync state machine.
    fn events_of(msg: &[u8]) -> Vec<Event> {
        let (mut s, mut p, mut out) = fresh(SyncConfig::default());
        let m = p.parse(msg).unwrap();
        s.on_message(
            &m,
            &p,
            Origin {
                source: 0,
                line: 1,
                local_ts: 7,
            },
            &mut out,
        )
        .unwrap();
        out
    }

    fn fx(v: &str) -> i64 {
        fixed::parse_decimal(v.as_bytes()).unwrap()
    }

    #[test]
    fn mark_price_is_a_mark_and_a_funding_event() {
        // Binance's documented shape, as recorded (`@markPrice@1s`).
        let ev = events_of(br#"{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1680652800010,"s":"BTCUSDT","p":"28155.10000000","P":"28141.47600845","i":"28165.04857143","r":"0.00002760","T":1680652800000}}"#);
        assert_eq!(ev.len(), 2);
        let (m, f) = (ev[0], ev[1]);
        assert_eq!((m.kind, f.kind), (kind::MARK, kind::FUNDING));
        assert_eq!(m.exch_ts, 1_680_652_800_010 * MS); // E, not the funding time T
        assert_eq!((m.price, m.qty), (fx("28155.1"), fx("28165.04857143")));
        assert_eq!((f.price, f.qty), (fx("28155.1"), 27_600));
        assert_eq!(f.trade_id, 1_680_652_800_000 * MS as u64);
        assert!(!m.has(flags::LAST_IN_MESSAGE) && f.has(flags::LAST_IN_MESSAGE));
        // The plain stream and a negative rate.
        let ev = events_of(br#"{"stream":"ethusdt@markPrice","data":{"e":"markPriceUpdate","E":5,"s":"ETHUSDT","p":"1.5","P":"1.5","i":"1.4","r":"-0.00010000","T":9}}"#);
        assert_eq!(ev[1].qty, -100_000);
    }

    #[test]
    fn agg_trades_are_their_own_kind() {
        let ev = events_of(br#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"0.001","q":"100","f":100,"l":105,"T":123456785,"m":true}}"#);
        let e = ev[0];
        assert_eq!(
            (e.kind, e.side, e.trade_id),
            (kind::AGG_TRADE, ASK, 5_933_014)
        );
        assert_eq!((e.first_update_id, e.last_update_id), (100, 105));
        assert_eq!(
            (e.price, e.qty, e.exch_ts),
            (fx("0.001"), fx("100"), 123_456_785 * MS)
        );
    }

    #[test]
    fn a_kline_is_three_events() {
        let ev = events_of(br#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1680652860010,"s":"BTCUSDT","k":{"t":1680652800000,"T":1680652859999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":true,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}"#);
        let kinds: Vec<u8> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [kind::KLINE, kind::KLINE_CLOSE, kind::KLINE_VOLUME]);
        assert!(ev
            .iter()
            .all(|e| e.has(flags::CLOSED) && e.exch_ts == 1_680_652_860_010 * MS));
        assert_eq!((ev[0].price, ev[0].qty), (fx("0.001"), fx("0.0025")));
        assert_eq!(ev[0].first_update_id, 1_680_652_800_000 * MS as u64);
        assert_eq!(ev[0].last_update_id, 1_680_652_859_999 * MS as u64);
        assert_eq!(ev[0].trade_id, 100);
        assert_eq!((ev[1].price, ev[1].qty), (fx("0.0015"), fx("0.002")));
        assert_eq!(
            (ev[1].first_update_id, ev[1].last_update_id, ev[1].trade_id),
            (100, 200, 60_000)
        );
        assert_eq!((ev[2].price, ev[2].qty), (fx("1000"), fx("500")));
        assert!(ev[2].has(flags::LAST_IN_MESSAGE) && !ev[1].has(flags::LAST_IN_MESSAGE));
        // An open kline with no trade yet (Binance sends -1 ids).
        let ev = events_of(br#"{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":0,"T":3599999,"s":"BTCUSDT","i":"1h","f":-1,"L":-1,"o":"1","c":"1","h":"1","l":"1","v":"0","n":0,"x":false,"q":"0","V":"0","Q":"0","B":"0"}}"#);
        assert!(!ev[0].has(flags::CLOSED));
        assert_eq!(
            (ev[1].first_update_id, ev[1].trade_id),
            (u64::MAX, 3_600_000)
        );
        assert_eq!(interval_ms(b"1M").unwrap(), 30 * 86_400_000);
        assert!(interval_ms(b"7x").is_err() && interval_ms(b"m").is_err());
    }

    #[test]
    fn a_liquidation_is_two_events() {
        let msg: &[u8] = br#"{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910.5","X":"FILLED","l":"0.014","z":"0.013","T":1568014460890}}}"#;
        let mut p = Parser::new();
        assert_eq!(p.parse(msg).unwrap().symbol, Some(&b"BTCUSDT"[..]));
        let ev = events_of(msg);
        assert_eq!(
            (ev[0].kind, ev[1].kind),
            (kind::LIQUIDATION, kind::LIQUIDATION_FILL)
        );
        assert_eq!(
            (ev[0].price, ev[0].qty, ev[0].side),
            (fx("9910"), fx("0.014"), ASK)
        );
        assert_eq!(
            (ev[1].price, ev[1].qty, ev[1].side),
            (fx("9910.5"), fx("0.013"), ASK)
        );
        assert_eq!(ev[0].exch_ts, 1_568_014_460_890 * MS); // the order's trade time
        assert!(ev[1].has(flags::CLOSED | flags::LAST_IN_MESSAGE));
        // The all-market stream names its symbol inside the order.
        let all = br#"{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":2,"o":{"s":"ETHUSDT","S":"BUY","o":"LIMIT","f":"IOC","q":"1","p":"2","ap":"0","X":"NEW","l":"0","z":"0","T":2}}}"#;
        let m = p.parse(all).unwrap();
        assert_eq!(
            (m.kind, m.symbol, m.side),
            (MsgKind::ForceOrder, Some(&b"ETHUSDT"[..]), BID)
        );
    }

    #[test]
    fn the_individual_book_ticker_stream_reads_as_bbo() {
        let ev = events_of(br#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BTCUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}"#);
        assert_eq!(ev.len(), 2);
        assert_eq!(
            (ev[0].kind, ev[0].side, ev[0].price),
            (kind::BBO, BID, fx("25.3519"))
        );
        assert_eq!(
            (ev[1].side, ev[1].qty, ev[1].last_update_id),
            (ASK, fx("40.66"), 400_900_217)
        );
    }

    #[test]
    fn errors_name_the_field_and_value() {
        let mut p = Parser::new();
        let cases: [(&[u8], &str); 12] = [
            (br#"{"stream":"btcusdt@kline_1m","data":{}}"#, "kline message without 'k'"),
            (br#"{"e":"depthUpdate","U":1,"u":2,"pu":0,"b":[["1.0","0.5"],["2.0","-1.5"]],"a":[]}"#, "bids[1] qty -1.5 is negative"),
            (br#"{"e":"trade","E":1,"T":2,"s":"X","t":1,"p":"1","q":"-2","m":true}"#, "q -2 is negative"),
            (br#"{"e":"markPriceUpdate","E":1,"s":"X","p":"0","i":"1","r":"0","T":5}"#, "mark price p 0 must be > 0"),
            (br#"{"e":"forceOrder","E":1,"o":{"s":"X","S":"HOLD","q":"1","p":"1","ap":"1","X":"FILLED","z":"1","T":1}}"#, "o.S 'HOLD' is not BUY or SELL"),
            (br#"{"stream":"btcusdt@ticker","data":{"e":"24hrTicker","l":"1.5"}}"#, "unknown stream 'btcusdt@ticker'"),
            (br#"{"stream":"btcusdt@trade","data":{"e":"trade","t":1,"p":"1x0","q":"1","m":true}}"#, "p '1x0': not a decimal number"),
            (br#"{"e":"depthUpdate","U":1,"u":2,"b":[["abc","1"]],"a":[]}"#, "bids[0] price"),
            (br#"{"e":"depthUpdate","u":2,"b":[],"a":[]}"#, "without 'U'"),
            (br#"{"e":"depthUpdate","U":1,"u":2,"b":[["1","1"]"#, "malformed JSON"),
            (br#"{"e":"weird"}"#, "unknown event type 'weird'"),
            (br#"{"stream":"btcusdt@trade","data":{"e":"depthUpdate"}}"#, "carries event"),
        ];
        for (msg, want) in cases {
            let err = p.parse(msg).unwrap_err().0;
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }

    /// An empty REST snapshot with this `lastUpdateId`.
    fn snap(id: u64) -> String {
        format!(r#"{{"lastUpdateId":{id},"bids":[],"asks":[]}}"#)
    }

    fn fresh(config: SyncConfig) -> (BookSync, Parser, Vec<Event>) {
        (BookSync::new(config), Parser::new(), Vec::new())
    }

    fn feed(sync: &mut BookSync, p: &mut Parser, msg: &str, line: u64, out: &mut Vec<Event>) {
        let m = p.parse(msg.as_bytes()).unwrap();
        sync.on_message(
            &m,
            p,
            Origin {
                source: 0,
                line,
                local_ts: line as i64,
            },
            out,
        )
        .unwrap();
    }

    fn fut(u_first: u64, u_last: u64, pu: u64) -> String {
        format!(
            r#"{{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":{u_first},"u":{u_last},"pu":{pu},"b":[["100.0","1"]],"a":[]}}"#
        )
    }

    #[test]
    fn futures_sync_replays_after_the_snapshot_drops_stale_and_detects_gaps() {
        let (mut s, mut p, mut out) = fresh(SyncConfig::default());
        feed(&mut s, &mut p, &fut(1, 5, 0), 1, &mut out); // stale after snapshot 8
        feed(&mut s, &mut p, &fut(6, 9, 5), 2, &mut out); // covers 8: first applied
                                                          // Before the snapshot: emitted at once, flagged, and kept for replay.
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|e| e.has(flags::OUT_OF_SYNC)));
        assert_eq!(s.pending(), 2);
        feed(
            &mut s,
            &mut p,
            r#"{"lastUpdateId":8,"bids":[["99.0","1"]],"asks":[["101.0","1"]]}"#,
            3,
            &mut out,
        );
        let kinds: Vec<u8> = out[2..].iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [kind::CLEAR, kind::SNAPSHOT, kind::SNAPSHOT, kind::DEPTH]
        );
        assert_eq!(out[5].last_update_id, 9);
        assert!(!out[5].has(flags::OUT_OF_SYNC));
        assert_eq!((s.stats.stale_messages, s.pending()), (1, 0));
        feed(&mut s, &mut p, &fut(10, 11, 9), 4, &mut out);
        assert_eq!(s.stats.gap_count, 0);
        feed(&mut s, &mut p, &fut(15, 16, 14), 5, &mut out); // pu 14 != 11
        assert_eq!(s.stats.gap_count, 1);
        let g = &s.gaps[0];
        assert_eq!(
            (g.line, g.expected, g.got, g.check, g.event_index),
            (5, 11, 14, "pu", 7)
        );
        feed(&mut s, &mut p, &fut(17, 18, 16), 6, &mut out);
        s.finish();
        // Everything from the gap on went out immediately, flagged, in arrival order.
        assert_eq!(out.len(), 9);
        assert!(out[7..].iter().all(|e| e.has(flags::OUT_OF_SYNC)));
        assert_eq!(s.stats.unsynced_events, 4);
        assert_eq!((out[7].local_ts, out[8].local_ts), (5, 6));
    }

    #[test]
    fn an_older_snapshot_does_not_disturb_an_in_sync_book() {
        let (mut s, mut p, mut out) = fresh(SyncConfig::default());
        feed(&mut s, &mut p, &snap(8), 1, &mut out);
        feed(&mut s, &mut p, &fut(7, 9, 6), 2, &mut out);
        feed(&mut s, &mut p, &fut(10, 12, 9), 3, &mut out);
        let before = out.len();
        feed(&mut s, &mut p, &snap(11), 4, &mut out);
        assert_eq!((out.len(), s.stats.snapshots_ignored), (before, 1));
        feed(&mut s, &mut p, &fut(13, 14, 12), 5, &mut out);
        assert!(s.in_sync() && s.stats.gap_count == 0);
    }

    #[test]
    fn spot_sync_uses_u_plus_one() {
        let (mut s, mut p, mut out) = fresh(SyncConfig::default());
        let spot = |a: u64, b: u64| {
            format!(
                r#"{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{a},"u":{b},"b":[],"a":[["5.00","1"]]}}"#
            )
        };
        feed(&mut s, &mut p, &spot(1, 8), 1, &mut out); // u <= 8: stale
        feed(&mut s, &mut p, &spot(9, 12), 2, &mut out); // contains 9
        feed(&mut s, &mut p, &snap(8), 3, &mut out);
        feed(&mut s, &mut p, &spot(13, 14), 4, &mut out);
        feed(&mut s, &mut p, &spot(16, 17), 5, &mut out);
        assert!(out.last().unwrap().has(flags::OUT_OF_SYNC));
        assert_eq!(s.market(), Some(Market::Spot));
        assert_eq!(s.stats.stale_messages, 1);
        assert_eq!(s.gaps.len(), 1);
        assert_eq!(
            (s.gaps[0].expected, s.gaps[0].got, s.gaps[0].check),
            (15, 16, "U")
        );
        // A new snapshot resynchronises: the buffered message 16..17 covers 16.
        feed(&mut s, &mut p, &snap(15), 6, &mut out);
        assert!(s.in_sync());
        assert!(!out.last().unwrap().has(flags::OUT_OF_SYNC));
        assert_eq!(out.last().unwrap().last_update_id, 17);
    }

    #[test]
    fn first_event_must_cover_the_snapshot() {
        let (mut s, mut p, mut out) = fresh(SyncConfig::default());
        feed(&mut s, &mut p, &snap(8), 1, &mut out);
        feed(&mut s, &mut p, &fut(10, 12, 9), 2, &mut out);
        assert_eq!(s.gaps[0].check, "first");
        assert!(!s.in_sync());
    }

    #[test]
    fn the_replay_buffer_is_bounded_and_nothing_is_dropped() {
        let cfg = SyncConfig {
            max_pending: 3,
            ..SyncConfig::default()
        };
        let (mut s, mut p, mut out) = fresh(cfg);
        for i in 0..10 {
            feed(
                &mut s,
                &mut p,
                &fut(i * 2 + 1, i * 2 + 2, i * 2),
                i + 1,
                &mut out,
            );
        }
        assert_eq!(s.pending(), 3);
        assert_eq!(out.len(), 10);
        assert!(out.iter().all(|e| e.has(flags::OUT_OF_SYNC)));
        // A snapshot the kept messages cannot bridge: a gap, reported, not a silent skip.
        feed(&mut s, &mut p, &snap(4), 11, &mut out);
        assert_eq!((s.stats.gap_count, s.gaps[0].check), (1, "first"));
        s.finish();
        assert_eq!(s.pending(), 0);
    }
}

/// A live Binance book feed: raw message bytes in, parsed, synchronised and applied to an
/// [`L2Book`](crate::L2Book) in one call, with no allocation once warm. The capture reader and
/// this feed share the parser and the sync state machine.
///
/// In the steady state (in sync, the message chains on the last one) the levels go from the
/// parser's buffers straight into the book; the normalized events are only built when asked
/// for ([`BinanceFeed::last_events`]).
#[derive(Debug)]
pub struct BinanceFeed {
    parser: Parser,
    sync: BookSync,
    scratch: Vec<Event>,
    /// The last message went the direct way: its events are built on demand from this base.
    direct: Option<Event>,
    messages: u64,
}

impl Default for BinanceFeed {
    fn default() -> Self {
        Self::new(SyncConfig::default())
    }
}

impl BinanceFeed {
    /// A feed waiting for its first snapshot.
    pub fn new(config: SyncConfig) -> Self {
        BinanceFeed {
            parser: Parser::new(),
            sync: BookSync::new(config),
            scratch: Vec::with_capacity(4096),
            direct: None,
            messages: 0,
        }
    }

    fn location(&self) -> crate::error::Location {
        crate::error::Location {
            source: "binance message".into(),
            line: self.messages,
        }
    }

    /// Handles one message received at `local_ts` (ns): returns the number of events it
    /// produced (book events are applied to `book`; all are in [`BinanceFeed::last_events`]).
    pub fn on_message(
        &mut self,
        raw: &[u8],
        local_ts: i64,
        book: &mut crate::L2Book,
    ) -> crate::Result<usize> {
        self.messages += 1;
        self.scratch.clear();
        self.direct = None;
        let m = match self.parser.parse(raw) {
            Ok(m) => m,
            Err(e) => {
                return Err(crate::Error::Data {
                    location: self.location(),
                    message: e.0,
                })
            }
        };
        if self.sync.accept_in_sync_depth(&m, &self.parser) {
            let applied = book.apply_levels(&self.parser.bids, &self.parser.asks, m.last_id);
            self.direct = Some(Event {
                exch_ts: m.exch_ts,
                local_ts,
                first_update_id: m.first_id,
                last_update_id: m.last_id,
                flags: m.flags,
                ..Event::default()
            });
            return match applied {
                Ok(()) => Ok(self.parser.bids.len() + self.parser.asks.len()),
                Err((i, e)) => Err(self.book_error(i, &e, book)),
            };
        }
        let origin = Origin {
            source: 0,
            line: 0,
            local_ts,
        };
        if let Err(e) = self
            .sync
            .on_message(&m, &self.parser, origin, &mut self.scratch)
        {
            return Err(crate::Error::Data {
                location: self.location(),
                message: e.0,
            });
        }
        match book.apply(&self.scratch) {
            Ok(()) => Ok(self.scratch.len()),
            Err((i, e)) => Err(self.book_error(i, &e, book)),
        }
    }

    /// The book refused a level (off its grid: a wrong tick or lot size for this stream). The
    /// levels before it were applied, so the book no longer mirrors the exchange: both the
    /// sync state and the book are marked out of sync until the next snapshot.
    #[cold]
    fn book_error(&mut self, i: usize, e: &crate::Error, book: &mut crate::L2Book) -> crate::Error {
        self.sync.invalidate();
        book.mark_out_of_sync();
        crate::Error::Data {
            location: self.location(),
            message: format!("event {i} does not fit the book: {e}"),
        }
    }

    /// The events produced by the last message.
    pub fn last_events(&mut self) -> &[Event] {
        if let Some(base) = self.direct.take() {
            self.scratch.clear();
            BookSync::depth_events(base, &self.parser, &mut self.scratch);
        }
        &self.scratch
    }

    /// The sync state machine (state, counters, gaps).
    pub fn sync(&self) -> &BookSync {
        &self.sync
    }

    /// Messages handled so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }
}
