//! The backtest event loop: recorded events in, strategy wake-ups out.
//!
//! Two clocks run over the same events. The exchange sees event `i` at its exchange time
//! `X_i` (made non-decreasing) and feeds it to that instrument's [`ExchangeSim`]; the strategy
//! sees it later, at its local time `L_i >= X_i` ([`FeedLatency`]: the recorded receive time
//! with the recorder's clock offset removed, or a constant feed latency), through its own
//! local copy of the book. Orders go the other way: sent at the strategy's local time, they
//! pass the [`RiskEngine`] at once, reach the exchange after the entry latency, and the
//! exchange's answers come back after the response latency. The loop always handles the
//! earliest thing next (ties: order arrivals, then exchange events, then answers, then local
//! events, then timers), so the strategy never acts on what it could not have seen and an
//! order never fills on data the exchange saw before the order arrived.
//!
//! [`Replay::step`] runs until something the strategy subscribed to happens (a book message,
//! a trade, a best bid/offer, a timer, one of its order updates) and returns it as a
//! [`Wake`]; every other event stays inside this loop. Data comes in chunks
//! ([`Replay::push`]); the loop holds only the events between the local and exchange clocks,
//! so memory is bounded by the chunk size, not by the length of the data.
//!
//! Results are kept as rows: orders, fills, and an equity and position sample at a fixed
//! interval of local time. A hole in the data (no event for more than [`gap_ns`] of the
//! sample interval) is not sampled: it is recorded as one [`DataGap`], so the rows grow with
//! the data, not with the calendar span it covers.
//!
//! Mark prices and funding from the data ([`kind::MARK`], [`kind::FUNDING`]) act at the
//! exchange, at their exchange time: a mark goes through [`Replay::set_mark`] (stop orders
//! that watch the mark, the positions' valuation, and liquidation of a margin account below
//! its maintenance margin), and from then on that instrument is valued at its recorded mark,
//! not at the mid of the book. Funding follows Binance's schedule as the mark price stream
//! announces it: each `markPriceUpdate` carries the rate `r` for the next funding time `T`;
//! the funding of time `T` is booked through [`Replay::fund`] at the first mark message whose
//! exchange time is at or after `T`, at the rate last announced for `T` (that message's own,
//! when it still names `T`) and that message's mark price. A funding time already past when
//! first announced (the data starts after it) is not booked. Only a margin account pays
//! funding.

use std::collections::VecDeque;

use crate::book::L2Book;
use crate::error::{Error, Result};
use crate::event::{flags, kind, Event};
use crate::execution::{Account, AccountReject, AccountSetup, OrderTracker, MARKET_BUY_ALLOWANCE};
use crate::fixed::{to_f64, SCALE};
use crate::instrument::OrderFilters;
use crate::model::signal::ModelSignal;
use crate::risk::{
    ContractKind, ContractSpec, Fill, Order, OrderSide, Portfolio, Reject, RejectCode, RiskEngine,
    RiskLimits,
};
use crate::sim::{ExchangeSim, LatencyModel, QueueModel, SimReport, TimeInForce, Trigger};
use crate::types::{OrderStatus, OrderType};

/// Events over which the recorder's clock offset is estimated (see [`FeedLatency::Recorded`]).
pub const OFFSET_WINDOW: usize = 100_000;

/// One instrument of a replay.
#[derive(Debug, Clone, Copy)]
pub struct InstrumentSetup {
    /// Tick size (fixed point).
    pub tick: i64,
    /// Lot size of orders (fixed point).
    pub lot: i64,
    /// Quantity precision of the market data (fixed point; 0: the lot size). The venue's order
    /// grid is often coarser than the quantities its feed carries (Binance spot ETHUSDT: orders
    /// in steps of 0.0001, book quantities with 5 decimals); the book and the simulated
    /// exchange take this one, orders the lot size, which must be a multiple of it.
    pub book_lot: i64,
    /// Contract and fees.
    pub spec: ContractSpec,
    /// The venue's order filters (checked by the pre-trade check).
    pub filters: OrderFilters,
}

/// When the strategy sees a market event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedLatency {
    /// At its recorded local receive time minus the recorder's clock offset (ns, local minus
    /// exchange clock). `None` estimates the offset from the first [`OFFSET_WINDOW`] events as
    /// the smallest `local_ts - exch_ts` seen, so the fastest message there counts as instant.
    Recorded { offset: Option<i64> },
    /// At its exchange time plus this many ns.
    Constant(i64),
}

/// What wakes the strategy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // independent switches, one per kind of wake-up
pub struct Subscriptions {
    /// Each book message (the last level event of a depth message or snapshot).
    pub book: bool,
    /// Each trade.
    pub trade: bool,
    /// Each best bid/offer message.
    pub bbo: bool,
    /// Its own order updates (accepted, rejected, filled, modified, cancelled).
    pub orders: bool,
    /// A timer every this many ns of local time (0: none).
    pub timer_ns: i64,
    /// Other market messages, by the kind of their first event: bit `1 << kind` for
    /// [`kind::MARK`] (mark price and funding), [`kind::AGG_TRADE`], [`kind::KLINE`],
    /// [`kind::LIQUIDATION`]. Each such message wakes the strategy once
    /// ([`Wake::Market`]).
    pub market: u32,
}

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Order entry and response latency.
    pub latency: LatencyModel,
    /// Queue position model of resting orders.
    pub queue: QueueModel,
    /// Market data latency.
    pub feed: FeedLatency,
    /// Starting capital.
    pub initial: f64,
    /// Equity and position sample interval (ns of local time, > 0).
    pub sample_ns: i64,
    /// Pre-trade limits.
    pub limits: RiskLimits,
    /// What wakes the strategy.
    pub subscriptions: Subscriptions,
    /// The account orders are paid from (spot cash or margin).
    pub account: AccountSetup,
}

/// The kind of an order update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    /// Reached the exchange and accepted.
    Accepted,
    /// Refused by the exchange (the reason says why).
    Rejected,
    /// Filled (partly or wholly).
    Filled,
    /// Price or quantity changed.
    Modified,
    /// Cancelled; `remaining` was not filled.
    Cancelled,
    /// A stop or take-profit order's trigger price was touched: it now acts as a market or
    /// limit order.
    Triggered,
}

/// An order update as the strategy learns of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderUpdate {
    /// What happened.
    pub kind: UpdateKind,
    /// The order's client id.
    pub client_id: u64,
    /// Instrument index.
    pub instrument: u32,
    /// The order's side.
    pub side: OrderSide,
    /// Local time the strategy learns of it (ns).
    pub local_ts: i64,
    /// Exchange time it happened (ns).
    pub exch_ts: i64,
    /// Fill price, or the order's price (fixed point; 0 for a market order).
    pub price: i64,
    /// Fill quantity, or the order's quantity (fixed point).
    pub qty: i64,
    /// Quantity still open after this update (fixed point).
    pub remaining: i64,
    /// A passive fill.
    pub maker: bool,
    /// Fee of a fill (settlement currency).
    pub fee: f64,
    /// Why the exchange refused it (empty otherwise).
    pub reason: &'static str,
}

/// Why [`Replay::step`] returned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wake {
    /// A book message of this instrument was applied to the local book.
    Book(u32),
    /// A trade (its `exch_ts` is the exchange time the loop gave it: the recorded one, never
    /// earlier than the previous event's).
    Trade(Event),
    /// A best bid/offer message.
    Bbo(Event),
    /// A timer, at this local time.
    Timer(i64),
    /// An update of one of the strategy's orders.
    Order(OrderUpdate),
    /// A sample point of this instrument's signal: its features and the model's prediction
    /// are in [`Replay::signal`].
    Prediction(u32),
    /// A market message of this instrument (mark price, aggregate trade, kline, liquidation)
    /// as the strategy sees it: its events are in [`Replay::market_message`].
    Market(u32),
    /// The loop needs the next chunk ([`Replay::push`]) or [`Replay::finish`].
    NeedData,
    /// The data is over and every order answer delivered.
    End,
}

pub use crate::execution::OrderRow;

/// One fill of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillRow {
    pub local_ts: i64,
    pub exch_ts: i64,
    pub client_id: u64,
    pub instrument: u32,
    pub side: i8,
    pub maker: bool,
    pub price: i64,
    pub qty: i64,
    pub fee: f64,
    /// A forced liquidation's fill (its fee is the clearance fee).
    pub liquidation: bool,
}

/// One equity sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EquityRow {
    pub ts: i64,
    pub equity: f64,
    pub realized: f64,
    pub unrealized: f64,
    pub fees: f64,
    /// Net funding paid (received counts negative).
    pub funding: f64,
    /// Gross notional exposure at the marks.
    pub gross: f64,
    /// Margin account: initial margin of the positions and open orders (0 otherwise).
    pub margin_used: f64,
    /// Margin account: margin balance minus the margin used (the equity otherwise).
    pub available: f64,
}

/// One instrument's state at an equity sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionRow {
    pub ts: i64,
    pub instrument: u32,
    /// Mid price of the local book (NaN when one side is empty).
    pub mid: f64,
    /// Signed position (fixed point).
    pub position: i64,
}

/// A hole in the data: no market event for longer than [`gap_ns`] of the sample interval.
/// No equity or position sample is taken inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataGap {
    /// The strategy's local time when the hole began (its last event, or a timer after it), ns.
    pub start: i64,
    /// Until the next event (its local time, or its exchange time when the exchange side has
    /// not seen it yet), ns.
    pub length: i64,
}

/// No market event for longer than this is a hole in the data ([`DataGap`]): 5 minutes, or 10
/// sample intervals when that is longer.
#[must_use]
pub fn gap_ns(sample_ns: i64) -> i64 {
    sample_ns.saturating_mul(10).max(300_000_000_000)
}

/// An order request from the strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderRequest {
    pub instrument: u32,
    pub side: OrderSide,
    /// Market, limit, or a conditional type (then `trigger` is set).
    pub order_type: OrderType,
    /// Fixed point: the limit price (> 0) of a type that has one, else 0.
    pub price: i64,
    pub qty: i64,
    pub tif: TimeInForce,
    pub reduce_only: bool,
    /// `None`: the next free id.
    pub client_id: Option<u64>,
    /// The trigger of a stop or take-profit order (its `order_type` must match).
    pub trigger: Option<Trigger>,
}

#[derive(Debug)]
struct Venue {
    sim: ExchangeSim,
    /// The strategy's view of the book.
    book: L2Book,
    tick: i64,
    lot: i64,
    /// The exchange's book is fed. When nothing of ours has been at this exchange for
    /// [`DORMANT_AFTER`] events, it is not (the loop's no-order path then costs one book
    /// update per event, not two); the next order first rebuilds it from the strategy's
    /// book and the events between the two clocks, which both books have seen alike.
    live: bool,
    idle_events: u32,
    /// The data has a mark price stream for this instrument: positions are valued at it.
    has_mark: bool,
    /// The next funding time (ns) and its announced rate (1e-9 units), once announced.
    funding_due: Option<(i64, i64)>,
    /// The last funding time booked (ns).
    funded_until: i64,
    /// The events of the last market message the strategy saw (see [`Wake::Market`]).
    message: [Event; 3],
    message_len: usize,
}

/// Exchange events with nothing of ours at an exchange before its book stops being fed.
pub const DORMANT_AFTER: u32 = 10_000;

/// The backtest event loop over one or several instruments.
#[derive(Debug)]
pub struct Replay {
    venues: Vec<Venue>,
    risk: RiskEngine,
    portfolio: Portfolio,
    account: Account,
    /// Order updates the loop made itself (liquidations), delivered before anything else.
    notices: VecDeque<OrderUpdate>,
    feed: FeedLatency,
    offset: Option<i64>,
    subs: Subscriptions,
    sample_ns: i64,

    /// Events not yet seen locally. Once the exchange side has seen one, its `exch_ts` is
    /// the exchange time the loop gave it (never earlier than the one before).
    buf: Vec<Event>,
    /// Next event for the local side and for the exchange side (indexes into `buf`).
    li: usize,
    xi: usize,
    ended: bool,
    x_clock: i64,
    l_clock: i64,
    started: bool,

    /// Earliest order action in flight to any exchange (`i64::MAX`: none).
    next_arrival: i64,
    /// Exchange answers on their way back: (local delivery time, instrument, report).
    answers: VecDeque<(i64, u32, SimReport)>,
    last_answer: i64,
    next_timer: i64,
    next_sample: i64,
    reports: Vec<SimReport>,

    next_id: u64,
    /// Every order and its lifecycle.
    orders: OrderTracker,
    fills: Vec<FillRow>,
    equity: Vec<EquityRow>,
    positions: Vec<PositionRow>,
    gaps: Vec<DataGap>,
    events: u64,
    /// Feed every exchange's book all the time (tests compare both ways).
    keep_exchange_books: bool,
    /// Features and a model per instrument, fed the strategy's events ([`Wake::Prediction`]).
    signals: Vec<Option<ModelSignal>>,
    /// A wake-up due right after the one just returned (a book message that was also a
    /// sample point of the instrument's signal).
    pending: Option<Wake>,
}

impl Replay {
    /// A replay over `instruments` (event `instrument` field = index in this list).
    pub fn new(instruments: &[InstrumentSetup], config: ReplayConfig) -> Result<Self> {
        if instruments.is_empty() {
            return Err(Error::invalid("instruments", "[]", "needs at least one"));
        }
        if config.sample_ns <= 0 {
            return Err(Error::invalid("sample_ns", config.sample_ns, "must be > 0"));
        }
        if config.subscriptions.timer_ns < 0 {
            return Err(Error::invalid(
                "timer_ns",
                config.subscriptions.timer_ns,
                "must be >= 0",
            ));
        }
        if let FeedLatency::Constant(d) = config.feed {
            if d < 0 {
                return Err(Error::invalid("feed_latency_ns", d, "must be >= 0"));
            }
        }
        let mut risk = RiskEngine::new(config.limits)?;
        let mut portfolio = Portfolio::new(config.initial)?;
        let mut venues = Vec::with_capacity(instruments.len());
        for s in instruments {
            let book_lot = if s.book_lot == 0 { s.lot } else { s.book_lot };
            if book_lot <= 0 || s.lot <= 0 || s.lot % book_lot != 0 {
                return Err(Error::invalid(
                    "book_lot",
                    crate::fixed::format(book_lot),
                    format!(
                        "the lot size {} must be a positive multiple of the data's quantity precision",
                        crate::fixed::format(s.lot)
                    ),
                ));
            }
            let i =
                risk.add_instrument(s.spec.contract_size, s.spec.kind == ContractKind::Inverse)?;
            risk.set_filters(i, s.filters)?;
            portfolio.add_instrument(s.spec);
            venues.push(Venue {
                sim: ExchangeSim::new(s.tick, book_lot, config.latency.clone(), config.queue)?,
                book: L2Book::new(s.tick, book_lot)?,
                tick: s.tick,
                lot: s.lot,
                live: true,
                idle_events: 0,
                has_mark: false,
                funding_due: None,
                funded_until: i64::MIN,
                message: [Event::default(); 3],
                message_len: 0,
            });
        }
        let offset = match config.feed {
            FeedLatency::Recorded { offset } => offset,
            FeedLatency::Constant(_) => None,
        };
        let specs: Vec<ContractSpec> = instruments.iter().map(|s| s.spec).collect();
        let account = Account::new(&config.account, &specs)?;
        Ok(Replay {
            venues,
            risk,
            portfolio,
            account,
            notices: VecDeque::new(),
            feed: config.feed,
            offset,
            subs: config.subscriptions,
            sample_ns: config.sample_ns,
            buf: Vec::new(),
            li: 0,
            xi: 0,
            ended: false,
            x_clock: i64::MIN,
            l_clock: i64::MIN,
            started: false,
            next_arrival: i64::MAX,
            answers: VecDeque::new(),
            last_answer: i64::MIN,
            next_timer: i64::MAX,
            next_sample: i64::MAX,
            reports: Vec::new(),
            next_id: 1,
            orders: OrderTracker::new(),
            fills: Vec::new(),
            equity: Vec::new(),
            positions: Vec::new(),
            gaps: Vec::new(),
            events: 0,
            keep_exchange_books: false,
            signals: (0..instruments.len()).map(|_| None).collect(),
            pending: None,
        })
    }

    /// Runs `signal` on `instrument`'s events as the strategy sees them (after the feed
    /// latency): at each of its sample points the strategy is woken with
    /// [`Wake::Prediction`] (after the book or trade wake-up of the same event).
    pub fn set_signal(&mut self, instrument: u32, signal: ModelSignal) -> Result<()> {
        if self.events > 0 {
            return Err(Error::invalid(
                "signal",
                format!("set after {} events", self.events),
                "set it before the first event (in on_start): its features start from the data's start",
            ));
        }
        let n = self.signals.len();
        let slot = self
            .signals
            .get_mut(instrument as usize)
            .ok_or_else(|| bad_instrument(instrument, n))?;
        *slot = Some(signal);
        Ok(())
    }

    /// The signal of an instrument (its last sample point, after a [`Wake::Prediction`]).
    pub fn signal(&self, instrument: u32) -> Option<&ModelSignal> {
        self.signals
            .get(instrument as usize)
            .and_then(Option::as_ref)
    }

    /// The events of the last market message of `instrument` the strategy saw (after a
    /// [`Wake::Market`]): a mark price and its funding, an aggregate trade, a kline's three
    /// events, or a liquidation's two (see [`kind`]).
    pub fn market_message(&self, instrument: u32) -> Result<&[Event]> {
        let v = self.venue(instrument)?;
        Ok(&v.message[..v.message_len])
    }

    /// Appends the next chunk of events (in recorded order). Events the local side has seen
    /// are dropped from the buffer first. (An event's instrument is checked when the exchange
    /// side reaches it, in the same pass that reads it.)
    pub fn push(&mut self, events: &[Event]) -> Result<()> {
        if self.ended {
            return Err(Error::invalid(
                "events",
                events.len(),
                "pushed after finish()",
            ));
        }
        if self.li > 0 {
            self.buf.drain(..self.li);
            self.xi -= self.li;
            self.li = 0;
        }
        self.buf.extend_from_slice(events);
        Ok(())
    }

    /// No more data: the loop runs to the end.
    pub fn finish(&mut self) {
        self.ended = true;
    }

    /// The recorder's clock offset, estimated once from the first [`OFFSET_WINDOW`] events
    /// (whatever the chunking, so a run does not depend on it): the smallest
    /// `local_ts - exch_ts`. Returns false while more data is needed for it.
    fn estimate_offset(&mut self) -> bool {
        if self.offset.is_some() || !matches!(self.feed, FeedLatency::Recorded { .. }) {
            return true;
        }
        if self.buf.len() < OFFSET_WINDOW && !self.ended {
            return false;
        }
        self.offset = Some(
            self.buf[..self.buf.len().min(OFFSET_WINDOW)]
                .iter()
                .filter(|e| e.flags & flags::NO_EXCH_TS == 0)
                .map(|e| e.local_ts - e.exch_ts)
                .min()
                .unwrap_or(0),
        );
        true
    }

    /// Changes what wakes the strategy; a new timer interval starts from the current local
    /// time's next multiple of it.
    pub fn set_subscriptions(&mut self, subs: Subscriptions) -> Result<()> {
        if subs.timer_ns < 0 {
            return Err(Error::invalid("timer_ns", subs.timer_ns, "must be >= 0"));
        }
        if subs.timer_ns != self.subs.timer_ns {
            self.next_timer = if subs.timer_ns == 0 || !self.started {
                i64::MAX
            } else {
                let l = self.l_clock;
                l - l.rem_euclid(subs.timer_ns) + subs.timer_ns
            };
        }
        self.subs = subs;
        Ok(())
    }

    /// What wakes the strategy.
    pub fn subscriptions(&self) -> Subscriptions {
        self.subs
    }

    /// Local time of the strategy (ns).
    pub fn now(&self) -> i64 {
        self.l_clock
    }

    /// The clock offset in use (local minus exchange, ns), once known.
    pub fn clock_offset(&self) -> Option<i64> {
        self.offset
    }

    /// Market events handled so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The strategy's view of an instrument's book.
    pub fn book(&self, instrument: u32) -> Result<&L2Book> {
        self.venue(instrument).map(|v| &v.book)
    }

    /// The simulated exchange of an instrument.
    pub fn exchange(&self, instrument: u32) -> Result<&ExchangeSim> {
        self.venue(instrument).map(|v| &v.sim)
    }

    fn venue(&self, instrument: u32) -> Result<&Venue> {
        self.venues
            .get(instrument as usize)
            .ok_or_else(|| Error::invalid("instrument", instrument, "is not in the replay"))
    }

    /// Number of instruments.
    pub fn instruments(&self) -> usize {
        self.venues.len()
    }

    /// Positions and PnL, as the strategy knows them.
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// Unrealized PnL of an instrument as the strategy would see it now: at its local book's
    /// mid (as live trading marks), or the last mark when the book has no mid.
    pub fn unrealized_now(&self, instrument: u32) -> Result<f64> {
        let v = self.venue(instrument)?;
        match v.book.mid() {
            Some(mid) if mid > 0.0 => self.portfolio.unrealized_at(instrument as usize, mid),
            _ => self.portfolio.unrealized(instrument as usize),
        }
    }

    /// Equity as the strategy would see it now, at the local books' mids
    /// ([`Replay::unrealized_now`]): a margin account's wallet + unrealized PnL, a cash
    /// account's balances valued in the quote, or capital + realized - fees - funding +
    /// unrealized without an account.
    pub fn equity_now(&self) -> Result<f64> {
        match &self.account {
            Account::Margin { account, .. } => {
                let mut e = account.wallet_balance();
                for i in 0..self.venues.len() {
                    e += self.unrealized_now(i as u32)?;
                }
                Ok(e)
            }
            Account::Cash { .. } => Ok(self.cash_equity(|i| {
                let v = &self.venues[i];
                v.book
                    .mid()
                    .unwrap_or_else(|| to_f64(self.portfolio.position(i).map_or(0, |p| p.mark)))
            })),
            Account::Unchecked => {
                let mut e = self.portfolio.equity();
                for i in 0..self.venues.len() {
                    e += self.unrealized_now(i as u32)? - self.portfolio.unrealized(i)?;
                }
                Ok(e)
            }
        }
    }

    /// A cash account's balances valued in the quote asset, each base at `price(instrument)`
    /// (one quote asset per run: the set-up refuses more).
    fn cash_equity(&self, price: impl Fn(usize) -> f64) -> f64 {
        let Account::Cash { account, assets } = &self.account else {
            return 0.0;
        };
        let held = |a| account.free(a).unwrap_or(0.0) + account.locked(a).unwrap_or(0.0);
        let mut e = 0.0;
        let mut counted = Vec::with_capacity(assets.len() + 1);
        for (i, &(base, quote)) in assets.iter().enumerate() {
            if !counted.contains(&base) {
                counted.push(base);
                e += held(base) * price(i);
            }
            if !counted.contains(&quote) {
                counted.push(quote);
                e += held(quote);
            }
        }
        e
    }

    /// The pre-trade risk engine.
    pub fn risk(&self) -> &RiskEngine {
        &self.risk
    }

    /// Every order so far.
    pub fn orders(&self) -> &[OrderRow] {
        self.orders.rows()
    }

    /// The order of `client_id`.
    pub fn order(&self, client_id: u64) -> Option<&OrderRow> {
        self.orders.get(client_id)
    }

    /// Client ids of the open orders, oldest first.
    pub fn open_orders(&self) -> &[u64] {
        self.orders.open()
    }

    /// Every fill so far.
    pub fn fills(&self) -> &[FillRow] {
        &self.fills
    }

    /// Equity samples so far.
    pub fn equity(&self) -> &[EquityRow] {
        &self.equity
    }

    /// Position samples so far (one per instrument per equity sample).
    pub fn positions(&self) -> &[PositionRow] {
        &self.positions
    }

    /// Holes in the data found so far (not sampled).
    pub fn gaps(&self) -> &[DataGap] {
        &self.gaps
    }

    /// Exchange time of the event at `i` (the exchange clock never goes back; an event
    /// without an exchange time happens at the current exchange time).
    #[inline]
    fn x_time(&self, e: &Event) -> i64 {
        if e.flags & flags::NO_EXCH_TS != 0 {
            self.x_clock.max(e.local_ts - self.offset.unwrap_or(0))
        } else {
            self.x_clock.max(e.exch_ts)
        }
    }

    /// Local time of an event the exchange has already seen (its `exch_ts` is then the
    /// exchange time the loop gave it).
    #[inline]
    fn l_time(&self, e: &Event) -> i64 {
        let x = e.exch_ts;
        let seen = match self.feed {
            FeedLatency::Recorded { .. } => (e.local_ts - self.offset.unwrap_or(0)).max(x),
            FeedLatency::Constant(d) => x.saturating_add(d),
        };
        seen.max(self.l_clock)
    }

    /// Runs until the strategy must be woken, more data is needed, or the end.
    pub fn step(&mut self) -> Result<Wake> {
        if let Some(w) = self.pending.take() {
            return Ok(w);
        }
        if let Some(u) = self.notices.pop_front() {
            return Ok(Wake::Order(u));
        }
        if !self.estimate_offset() {
            return Ok(Wake::NeedData);
        }
        loop {
            let x_next = if self.xi < self.buf.len() {
                let e = &self.buf[self.xi];
                self.x_time(e)
            } else if !self.ended {
                return Ok(Wake::NeedData);
            } else {
                i64::MAX
            };
            let l_next = if self.li < self.xi {
                self.l_time(&self.buf[self.li])
            } else {
                i64::MAX
            };
            let answer = self.answers.front().map_or(i64::MAX, |a| a.0);
            let arrival = self.next_arrival;
            let work_left =
                x_next < i64::MAX || l_next < i64::MAX || answer < i64::MAX || arrival < i64::MAX;
            if !work_left {
                // Nothing left: a last sample at the end, once.
                if self.started && self.next_sample != i64::MIN {
                    self.sample(self.l_clock)?;
                    self.next_sample = i64::MIN;
                    self.next_timer = i64::MAX;
                }
                return Ok(Wake::End);
            }
            let clock = self.next_timer.min(self.next_sample);
            // At equal times: order arrivals, exchange events, answers, local events, clocks.
            if arrival <= x_next.min(answer).min(l_next).min(clock) {
                self.arrive(arrival);
            } else if x_next <= answer.min(l_next).min(clock) {
                // A run of exchange events, while nothing else comes first.
                let mut limit = answer.min(l_next).min(clock);
                let mut x = x_next;
                loop {
                    let caught_up = self.li == self.xi;
                    self.exchange_event(x)?;
                    if caught_up {
                        limit = limit.min(self.l_time(&self.buf[self.li]));
                    }
                    if let Some(a) = self.answers.front() {
                        limit = limit.min(a.0);
                    }
                    if self.xi >= self.buf.len() {
                        break;
                    }
                    x = self.x_time(&self.buf[self.xi]);
                    if x > limit || self.next_arrival <= x {
                        break;
                    }
                }
            } else if answer <= l_next.min(clock) {
                if let Some(w) = self.deliver()? {
                    return Ok(w);
                }
            } else if l_next <= clock {
                // A run of local events, while nothing else comes first (the strategy's
                // orders can only change that after a wake-up, which returns).
                let before = x_next.min(answer).min(arrival);
                let mut l = l_next;
                loop {
                    if let Some(w) = self.local_event(l)? {
                        return Ok(w);
                    }
                    if self.li >= self.xi {
                        break;
                    }
                    l = self.l_time(&self.buf[self.li]);
                    if l >= before || l > self.next_timer.min(self.next_sample) {
                        break;
                    }
                }
            } else if self.next_sample <= self.next_timer {
                let t = self.next_sample;
                self.sample(t)?;
                self.next_sample = t.saturating_add(self.sample_ns);
                // The next event, locally if the exchange side has seen it already.
                let resume = if self.li < self.xi { l_next } else { x_next };
                if resume < i64::MAX && resume - t > gap_ns(self.sample_ns) {
                    // A hole in the data: one gap, the next sample after the next event.
                    let start = self.l_clock.min(t);
                    self.gaps.push(DataGap {
                        start,
                        length: resume - start,
                    });
                    self.next_sample = resume - resume.rem_euclid(self.sample_ns) + self.sample_ns;
                }
                if let Some(u) = self.notices.pop_front() {
                    return Ok(Wake::Order(u));
                }
            } else {
                let t = self.next_timer;
                self.next_timer = t.saturating_add(self.subs.timer_ns);
                self.l_clock = self.l_clock.max(t);
                return Ok(Wake::Timer(t));
            }
        }
    }

    fn arrive(&mut self, t: i64) {
        self.x_clock = self.x_clock.max(t);
        let mut reports = std::mem::take(&mut self.reports);
        for i in 0..self.venues.len() {
            let sim = &mut self.venues[i].sim;
            if sim.next_arrival().is_some_and(|a| a <= t) {
                sim.arrive_until(t, &mut reports);
                #[allow(clippy::cast_possible_truncation)]
                self.queue_answers(i as u32, &mut reports);
            }
        }
        self.reports = reports;
        self.refresh_arrival();
    }

    fn refresh_arrival(&mut self) {
        self.next_arrival = self
            .venues
            .iter()
            .filter_map(|v| v.sim.next_arrival())
            .min()
            .unwrap_or(i64::MAX);
    }

    fn queue_answers(&mut self, instrument: u32, reports: &mut Vec<SimReport>) {
        let sim = &mut self.venues[instrument as usize].sim;
        for r in reports.drain(..) {
            // Answers keep their order on the way back (a later one never overtakes).
            let at = r
                .ts()
                .saturating_add(sim.response_latency())
                .max(self.last_answer);
            self.last_answer = at;
            self.answers.push_back((at, instrument, r));
        }
    }

    #[inline]
    fn exchange_event(&mut self, x: i64) -> Result<()> {
        let i = self.xi;
        let instrument = self.buf[i].instrument;
        if instrument as usize >= self.venues.len() {
            // Refused before either side takes it: stepping again refuses it again.
            return Err(bad_instrument(instrument, self.venues.len()));
        }
        self.x_clock = x;
        self.xi += 1;
        if self.buf[i].kind.wrapping_sub(kind::MARK) < 2 {
            self.buf[i].exch_ts = x;
            return self.mark_event(i, x);
        }
        // The event is read in place, then given its exchange time (a store followed by a
        // wider load of the same bytes would stall store forwarding on every event).
        let Replay {
            buf,
            venues,
            reports,
            next_arrival,
            ..
        } = self;
        let e = &buf[i];
        let venue = &mut venues[instrument as usize];
        if !venue.live {
            buf[i].exch_ts = x;
            return Ok(());
        }
        if *next_arrival > x && venue.sim.resting() == 0 && venue.sim.parked() == 0 {
            // Nothing of ours resting at this exchange: only the book moves.
            let r = venue.sim.on_event_at(e, x, reports);
            buf[i].exch_ts = x;
            if venue.sim.is_idle() {
                venue.idle_events += 1;
                if venue.idle_events >= DORMANT_AFTER && !self.keep_exchange_books {
                    venue.live = false;
                }
            }
            return r;
        }
        venue.idle_events = 0;
        let mut out = std::mem::take(reports);
        let r = venue.sim.on_event_at(e, x, &mut out);
        buf[i].exch_ts = x;
        self.queue_answers(instrument, &mut out);
        self.reports = out;
        if self.next_arrival <= x {
            self.refresh_arrival();
        }
        r
    }

    /// Makes an exchange's book current again before an order goes to it.
    fn wake_exchange(&mut self, instrument: u32) -> Result<()> {
        let Replay {
            buf,
            venues,
            li,
            xi,
            ..
        } = self;
        let v = &mut venues[instrument as usize];
        v.idle_events = 0;
        if v.live {
            return Ok(());
        }
        let since = buf[*li..*xi].iter().filter(|e| e.instrument == instrument);
        v.sim.sync_book(&v.book, since)?;
        v.live = true;
        Ok(())
    }

    #[inline]
    fn local_event(&mut self, l: i64) -> Result<Option<Wake>> {
        let i = self.li;
        self.li += 1;
        self.l_clock = l;
        self.events += 1;
        if !self.started {
            self.started = true;
            self.next_sample = l - l.rem_euclid(self.sample_ns) + self.sample_ns;
            if self.subs.timer_ns > 0 {
                self.next_timer = l - l.rem_euclid(self.subs.timer_ns) + self.subs.timer_ns;
            }
        }
        let e = &self.buf[i];
        let venue = &mut self.venues[e.instrument as usize];
        let wake = match e.kind {
            kind::DEPTH | kind::SNAPSHOT | kind::CLEAR => {
                venue.book.apply_event(e)?;
                (self.subs.book && e.flags & flags::LAST_IN_MESSAGE != 0)
                    .then_some(Wake::Book(e.instrument))
            }
            kind::TRADE if self.subs.trade => Some(Wake::Trade(*e)),
            kind::BBO if self.subs.bbo => Some(Wake::Bbo(*e)),
            k if k >= kind::MARK => market_wake(venue, e, self.subs.market),
            _ => None,
        };
        if let Some(sig) = self.signals[e.instrument as usize].as_mut() {
            if sig.on_event(e)? {
                let p = Wake::Prediction(e.instrument);
                if wake.is_none() {
                    return Ok(Some(p));
                }
                self.pending = Some(p);
            }
        }
        Ok(wake)
    }

    fn close(&mut self, client_id: u64, status: OrderStatus, at: i64) {
        self.orders.close(client_id, status, at);
        self.risk.order_closed(client_id);
        self.account.close(client_id);
    }

    /// Delivers the next exchange answer to the strategy's side.
    fn deliver(&mut self) -> Result<Option<Wake>> {
        let Some((at, instrument, report)) = self.answers.pop_front() else {
            return Ok(None);
        };
        self.l_clock = self.l_clock.max(at);
        let id = report.client_id();
        let Some(row_i) = self.orders.index_of(id) else {
            return Ok(None);
        };
        let row = *self.orders.row(row_i);
        let mut update = OrderUpdate {
            kind: UpdateKind::Accepted,
            client_id: id,
            instrument,
            side: row.side,
            local_ts: at,
            exch_ts: report.ts(),
            price: row.price,
            qty: row.qty,
            remaining: row.qty - row.filled,
            maker: false,
            fee: 0.0,
            reason: "",
        };
        match report {
            SimReport::Accepted { qty, .. } => {
                self.orders.accepted(row_i);
                update.qty = qty;
                update.remaining = qty - row.filled;
            }
            SimReport::Rejected { reason, .. } => {
                update.kind = UpdateKind::Rejected;
                update.reason = reason;
                // A refused new order closes it; a refused cancel or modify leaves it be (and
                // the account holds the order as it still stands).
                if !row.accepted && row.status.is_open() {
                    self.close(id, OrderStatus::Rejected, at);
                    update.remaining = 0;
                } else if row.status.is_open() {
                    self.account_resync(row_i)?;
                }
            }
            SimReport::Filled {
                ts,
                price,
                qty,
                maker,
                remaining,
                ..
            } => {
                let fee = self.book_fill(row_i, at, ts, price, qty, maker, remaining)?;
                update.kind = UpdateKind::Filled;
                update.price = price;
                update.qty = qty;
                update.remaining = remaining;
                update.maker = maker;
                update.fee = fee;
            }
            SimReport::Modified { price, qty, .. } => {
                self.orders.modified(row_i, price, qty);
                update.kind = UpdateKind::Modified;
                update.price = price;
                update.qty = qty;
                update.remaining = qty;
                // The exchange's values (a modification, or a reduce-only order cut).
                self.account_resync(row_i)?;
            }
            SimReport::Triggered { .. } => {
                update.kind = UpdateKind::Triggered;
            }
            SimReport::Cancelled { remaining, .. } => {
                update.kind = UpdateKind::Cancelled;
                update.remaining = remaining;
                self.close(id, OrderStatus::Cancelled, at);
            }
        }
        Ok(self.subs.orders.then_some(Wake::Order(update)))
    }

    /// Books a fill of order row `row_i` (portfolio, risk, the row, the fills table); returns
    /// its fee.
    #[allow(clippy::too_many_arguments)] // the fill's fields
    fn book_fill(
        &mut self,
        row_i: usize,
        at: i64,
        ts: i64,
        price: i64,
        qty: i64,
        maker: bool,
        remaining: i64,
    ) -> Result<f64> {
        let row = *self.orders.row(row_i);
        let (id, instrument) = (row.client_id, row.instrument);
        let side = i8::try_from(row.side.sign()).unwrap_or(1);
        let before = self.portfolio.position(instrument as usize)?.fees;
        self.portfolio.on_fill(&Fill {
            instrument: instrument as usize,
            side,
            price,
            qty,
            maker,
        })?;
        let fee = self.portfolio.position(instrument as usize)?.fees - before;
        let spec = *self.portfolio.spec(instrument as usize)?;
        let rate = if maker {
            spec.maker_fee
        } else {
            spec.taker_fee
        };
        self.account
            .fill(id, instrument as usize, row.side, price, qty, fee, rate)?;
        self.risk.on_fill(id, qty)?;
        let ended = self.orders.fill(row_i, qty, remaining, at);
        self.fills.push(FillRow {
            local_ts: at,
            exch_ts: ts,
            client_id: id,
            instrument,
            side,
            maker,
            price,
            qty,
            fee,
            liquidation: false,
        });
        if ended {
            self.risk.order_closed(id);
            self.account.close(id);
        }
        Ok(fee)
    }

    /// Equity: a margin account's margin balance (wallet + unrealized at the marks), a cash
    /// account's balances valued in the quote at the marks, or capital + PnL without an
    /// account.
    fn account_equity(&self) -> f64 {
        match &self.account {
            Account::Margin { account, .. } => account.margin_balance(),
            Account::Cash { .. } => {
                self.cash_equity(|i| to_f64(self.portfolio.position(i).map_or(0, |p| p.mark)))
            }
            Account::Unchecked => self.portfolio.equity(),
        }
    }

    /// A forced liquidation at local time `t` (a margin account below its maintenance
    /// margin): every open order is cancelled and every position closed at the strategy's
    /// book (best bid for a long, best ask for a short; the mark without one) with the
    /// liquidation clearance fee. Each appears as a filled order and a fill marked as a
    /// liquidation, and (subscribed to orders) as a fill update with reason "liquidation".
    fn liquidate(&mut self, t: i64) -> Result<()> {
        for id in self.orders.open().to_vec() {
            self.cancel(id)?;
        }
        for i in 0..self.venues.len() {
            let pos = *self.portfolio.position(i)?;
            if pos.qty == 0 {
                continue;
            }
            let book = &self.venues[i].book;
            let level = if pos.qty > 0 {
                book.best_bid()
            } else {
                book.best_ask()
            };
            let price = level.map_or(pos.mark, |l| l.price);
            let Some((margin, rate)) = self.account.margin_mut() else {
                return Ok(());
            };
            let lf = margin.liquidate(i, price, rate)?;
            let side = lf.side;
            let sign = i8::try_from(side.sign()).unwrap_or(1);
            self.portfolio.on_fill_with_fee(
                &Fill {
                    instrument: i,
                    side: sign,
                    price,
                    qty: lf.qty,
                    maker: false,
                },
                lf.fee,
            )?;
            self.risk.restore_position(i, 0)?;
            self.venues[i].sim.set_position(0);
            while self.orders.contains(self.next_id) {
                self.next_id += 1;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.orders.insert(OrderRow {
                client_id: id,
                instrument: i as u32,
                side,
                tif: TimeInForce::Ioc,
                status: OrderStatus::Filled,
                reduce_only: true,
                sent_ts: t,
                done_ts: t,
                price,
                qty: lf.qty,
                filled: lf.qty,
                accepted: true,
                liquidation: true,
                order_type: OrderType::Market,
                trigger_price: 0,
            })?;
            self.fills.push(FillRow {
                local_ts: t,
                exch_ts: t,
                client_id: id,
                instrument: i as u32,
                side: sign,
                maker: false,
                price,
                qty: lf.qty,
                fee: lf.fee,
                liquidation: true,
            });
            if self.subs.orders {
                self.notices.push_back(OrderUpdate {
                    kind: UpdateKind::Filled,
                    client_id: id,
                    instrument: i as u32,
                    side,
                    local_ts: t,
                    exch_ts: t,
                    price,
                    qty: lf.qty,
                    remaining: 0,
                    maker: false,
                    fee: lf.fee,
                    reason: "liquidation",
                });
            }
        }
        Ok(())
    }

    /// Funding of a perpetual at a funding time: `rate` at `mark` (fixed point) on the
    /// position held now, booked to the account and the PnL (a long pays a positive rate, a
    /// short receives it). Returns the payment (> 0 paid). Only a margin account pays
    /// funding.
    pub fn fund(&mut self, instrument: u32, rate: f64, mark: i64) -> Result<f64> {
        let n = self.venues.len();
        if instrument as usize >= n {
            return Err(bad_instrument(instrument, n));
        }
        let Some((margin, _)) = self.account.margin_mut() else {
            return Err(Error::invalid(
                "funding",
                rate,
                "only a margin (perpetual futures) account pays funding",
            ));
        };
        let payment = margin.fund(instrument as usize, rate, mark)?;
        self.portfolio.fund(instrument as usize, payment)?;
        Ok(payment)
    }

    /// A mark price or funding event of the data reached the exchange at `x` (see the module
    /// docs).
    #[cold]
    fn mark_event(&mut self, i: usize, x: i64) -> Result<()> {
        let e = self.buf[i];
        let n = self.venues.len();
        let v = self
            .venues
            .get_mut(e.instrument as usize)
            .ok_or_else(|| bad_instrument(e.instrument, n))?;
        if e.kind == kind::MARK {
            v.has_mark = true;
            return self.set_mark(e.instrument, e.price);
        }
        #[allow(clippy::cast_possible_wrap)] // a time in ns since the epoch fits an i64
        let (rate, next) = (e.qty, e.trade_id as i64);
        if let Some((t, r)) = v.funding_due.as_mut() {
            if *t == next {
                *r = rate;
            }
        }
        if let Some((t, r)) = v.funding_due {
            if x >= t {
                v.funding_due = None;
                v.funded_until = t;
                if self.account.margin().is_some() {
                    #[allow(clippy::cast_precision_loss)] // a rate of 1e-9 units
                    self.fund(e.instrument, r as f64 / SCALE as f64, e.price)?;
                }
            }
        }
        let v = &mut self.venues[e.instrument as usize];
        if v.funding_due.is_none() && next > v.funded_until && next > x {
            v.funding_due = Some((next, rate));
        }
        Ok(())
    }

    /// A mark price of `instrument` (fixed point, > 0) at the exchange's current time: stop
    /// and take-profit orders that watch the mark act on it (their answers reach the strategy
    /// after the response latency), the position is valued at it, and a margin account below
    /// its maintenance margin is liquidated. The mark stream of the data calls this; so may a
    /// test.
    pub fn set_mark(&mut self, instrument: u32, mark: i64) -> Result<()> {
        let n = self.venues.len();
        if instrument as usize >= n {
            return Err(bad_instrument(instrument, n));
        }
        if mark <= 0 {
            return Err(Error::invalid(
                "mark",
                crate::fixed::format(mark),
                "must be > 0",
            ));
        }
        self.wake_exchange(instrument)?;
        let x = self.x_clock.max(self.l_clock);
        let mut out = std::mem::take(&mut self.reports);
        self.venues[instrument as usize]
            .sim
            .on_mark(mark, x, &mut out);
        self.queue_answers(instrument, &mut out);
        self.reports = out;
        self.refresh_arrival();
        self.portfolio.mark(instrument as usize, mark)?;
        if self.account.mark(instrument as usize, mark)? {
            self.liquidate(x)?;
        }
        Ok(())
    }

    /// Client ids below `next` are taken (a restarted session's earlier orders): ids the loop
    /// gives from now on (the strategy's without one, liquidations) start at `next` or above.
    pub fn reserve_client_ids(&mut self, next: u64) {
        self.next_id = self.next_id.max(next);
    }

    /// Books a fill made before this run (a restarted paper session's journal): the
    /// position, PnL and `fee`, the account, and the positions the risk engine and the
    /// exchange hold, as if its order had filled; no order row, no fill row, no wake-up.
    pub fn restore_fill(
        &mut self,
        instrument: u32,
        side: OrderSide,
        price: i64,
        qty: i64,
        fee: f64,
    ) -> Result<()> {
        let n = self.venues.len();
        if instrument as usize >= n {
            return Err(bad_instrument(instrument, n));
        }
        let i = instrument as usize;
        let spec = *self.portfolio.spec(i)?;
        let fill = Fill {
            instrument: i,
            side: i8::try_from(side.sign()).unwrap_or(1),
            price,
            qty,
            maker: false,
        };
        self.portfolio.on_fill_with_fee(&fill, fee)?;
        let notional =
            crate::execution::contract::notional(spec.kind, spec.contract_size, qty, to_f64(price));
        let rate = if notional > 0.0 { fee / notional } else { 0.0 };
        self.account
            .fill(u64::MAX, i, side, price, qty, fee, rate)?;
        let pos = self.portfolio.position(i)?.qty;
        self.risk.restore_position(i, pos)?;
        self.venues[i].sim.set_position(pos);
        Ok(())
    }

    /// The run's account (spot cash, margin, or none).
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Records an equity sample at local time `t` and checks the loss limits.
    fn sample(&mut self, t: i64) -> Result<()> {
        let mut gross = 0.0;
        #[allow(clippy::cast_possible_truncation)]
        for (i, v) in self.venues.iter().enumerate() {
            let mid = v.book.mid();
            let pos = self.portfolio.position(i)?.qty;
            if let Some(m) = mid {
                let px = (m * SCALE as f64).round() as i64;
                // With a recorded mark price, the position is valued at it (set_mark).
                if px > 0 && !v.has_mark {
                    self.portfolio.mark(i, px)?;
                }
                let spec = self.portfolio.spec(i)?;
                let q = to_f64(pos).abs() * spec.contract_size;
                gross += match spec.kind {
                    ContractKind::Linear => q * m,
                    ContractKind::Inverse => q / m,
                };
            }
            self.positions.push(PositionRow {
                ts: t,
                instrument: i as u32,
                mid: mid.unwrap_or(f64::NAN),
                position: pos,
            });
        }
        let mut liquidate = false;
        for i in 0..self.venues.len() {
            let mark = self.portfolio.position(i)?.mark;
            if mark > 0 {
                liquidate |= self.account.mark(i, mark)?;
            }
        }
        if liquidate {
            self.liquidate(t)?;
        }
        let (mut realized, mut unrealized, mut fees, mut funding) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..self.portfolio.len() {
            let p = self.portfolio.position(i)?;
            realized += p.realized;
            fees += p.fees;
            funding += p.funding;
            unrealized += self.portfolio.unrealized(i)?;
        }
        let equity = self.account_equity();
        let (margin_used, available) = match self.account.margin() {
            Some(m) => (
                m.position_initial_margin() + m.order_margin(),
                m.available(),
            ),
            None => (0.0, equity),
        };
        self.equity.push(EquityRow {
            ts: t,
            equity,
            realized,
            unrealized,
            fees,
            funding,
            gross,
            margin_used,
            available,
        });
        if let Some(ids) = self.risk.on_equity(equity, t)? {
            // The kill switch: cancel everything open.
            for id in ids {
                self.cancel(id)?;
            }
        }
        Ok(())
    }

    /// Sends an order at the strategy's local time. `Ok(Err(reject))` when the pre-trade
    /// risk check refuses it (it is recorded, never sent); `Err` on a malformed request.
    pub fn submit(&mut self, req: OrderRequest) -> Result<std::result::Result<u64, Reject>> {
        let v = self.venue(req.instrument)?;
        let (tick, lot) = (v.tick, v.lot);
        crate::sim::check_order_grid(req.order_type, req.price, req.qty, req.tif, tick, lot)?;
        crate::sim::check_trigger(req.order_type, req.trigger.as_ref(), tick)?;
        let client_id = match req.client_id {
            Some(id) if self.orders.contains(id) => {
                return Err(Error::invalid(
                    "client_id",
                    id,
                    "is already used in this run",
                ))
            }
            Some(id) => id,
            None => {
                while self.orders.contains(self.next_id) {
                    self.next_id += 1;
                }
                self.next_id
            }
        };
        self.next_id = self.next_id.max(client_id.saturating_add(1));
        // Closing the position is reducing it.
        let reduce_only = req.reduce_only || req.trigger.is_some_and(|t| t.close_position);
        let order = Order {
            client_id,
            instrument: req.instrument as usize,
            side: req.side,
            price: req.price,
            qty: req.qty,
            reduce_only,
            modify: false,
        };
        self.refresh_market(req.instrument)?;
        let now = self.l_clock;
        let mut row = OrderRow {
            client_id,
            instrument: req.instrument,
            side: req.side,
            tif: req.tif,
            status: OrderStatus::Pending,
            reduce_only,
            sent_ts: now,
            done_ts: -1,
            price: req.price,
            qty: req.qty,
            filled: 0,
            accepted: false,
            liquidation: false,
            order_type: req.order_type,
            trigger_price: req.trigger.map_or(0, |t| t.price),
        };
        let reference = match req.trigger {
            Some(t) => t.price,
            None => self.venues[req.instrument as usize].book.reference_price(),
        };
        let (value_type, value_price, protect) = self.valuation(&req, reference);
        let checked = match self.risk.check(&order, now) {
            Ok(a) => match self.account.open(
                client_id,
                req.instrument as usize,
                req.side,
                value_type,
                value_price,
                req.qty,
                reference,
            )? {
                Ok(()) => Ok(a),
                Err(r) => Err(self.account_reject(&r)),
            },
            Err(r) => Err(r),
        };
        let approved = match checked {
            Ok(a) => a,
            Err(reject) => {
                row.status = OrderStatus::Refused;
                row.done_ts = now;
                self.orders.insert(row)?;
                return Ok(Err(reject));
            }
        };
        self.risk.order_opened(&approved);
        self.wake_exchange(req.instrument)?;
        let at = self.venues[req.instrument as usize].sim.submit_with(
            &approved,
            req.tif,
            req.trigger,
            protect,
            now,
        );
        self.next_arrival = self.next_arrival.min(at);
        self.orders.insert(row)?;
        Ok(Ok(client_id))
    }

    /// The risk engine's market view of an instrument: the local book's mid and sync state.
    fn refresh_market(&mut self, instrument: u32) -> Result<()> {
        let book = &self.venues[instrument as usize].book;
        let reference = book.reference_price();
        let in_sync = book.in_sync();
        self.risk
            .on_market(instrument as usize, reference, self.l_clock, in_sync)
    }

    fn open_row(&self, client_id: u64) -> Result<usize> {
        match self.orders.index_of(client_id) {
            Some(i) if self.orders.row(i).status.is_open() => Ok(i),
            _ => Err(Error::invalid(
                "client_id",
                client_id,
                "is not an open order of this run",
            )),
        }
    }

    /// The kill switch at the strategy's local time: the risk engine halts (no new order
    /// passes) and a cancel of every open order is sent; returns their client ids.
    pub fn halt(&mut self, reason: &str) -> Result<Vec<u64>> {
        self.risk.halt(reason);
        let ids = self.orders.open().to_vec();
        for &id in &ids {
            self.cancel(id)?;
        }
        Ok(ids)
    }

    /// Sends a cancel of an open order at the strategy's local time.
    pub fn cancel(&mut self, client_id: u64) -> Result<()> {
        let i = self.open_row(client_id)?;
        let inst = self.orders.row(i).instrument;
        self.wake_exchange(inst)?;
        let at = self.venues[inst as usize]
            .sim
            .cancel(client_id, self.l_clock);
        self.next_arrival = self.next_arrival.min(at);
        Ok(())
    }

    /// Sends a modification (new price and open quantity, fixed point) of an open order,
    /// checked by the risk engine as a modify.
    pub fn modify(
        &mut self,
        client_id: u64,
        price: i64,
        qty: i64,
    ) -> Result<std::result::Result<(), Reject>> {
        let i = self.open_row(client_id)?;
        let row = *self.orders.row(i);
        if row.order_type != OrderType::Limit {
            return Err(Error::invalid(
                "client_id",
                client_id,
                format!(
                    "only a resting limit order can be modified (this is a {} order)",
                    row.order_type.name()
                ),
            ));
        }
        let v = &self.venues[row.instrument as usize];
        crate::sim::check_order_grid(
            OrderType::Limit,
            price,
            qty,
            TimeInForce::Gtc,
            v.tick,
            v.lot,
        )?;
        let order = Order {
            client_id,
            instrument: row.instrument as usize,
            side: row.side,
            price,
            qty,
            reduce_only: row.reduce_only,
            modify: true,
        };
        self.refresh_market(row.instrument)?;
        let approved = match self.risk.check(&order, self.l_clock) {
            Ok(a) => a,
            Err(r) => return Ok(Err(r)),
        };
        // The account holds the order as modified (back as it was if it cannot pay for it).
        self.account.close(client_id);
        let opened = self.account.open(
            client_id,
            row.instrument as usize,
            row.side,
            OrderType::Limit,
            price,
            qty,
            0,
        )?;
        if let Err(r) = opened {
            self.account_resync(i)?;
            let reject = self.account_reject(&r);
            self.risk.restore_open(&Order {
                qty: row.qty - row.filled,
                price: row.price,
                ..order
            })?;
            return Ok(Err(reject));
        }
        self.risk.order_opened(&approved);
        self.wake_exchange(row.instrument)?;
        let at = self.venues[row.instrument as usize]
            .sim
            .modify(&approved, self.l_clock);
        self.next_arrival = self.next_arrival.min(at);
        Ok(Ok(()))
    }
}

impl Replay {
    /// How the account values an order and how far a market order may walk: a spot market
    /// buy (or stop-market buy) walks the book no further than [`MARKET_BUY_ALLOWANCE`] above
    /// its reference and reserves exactly that, so it can never cost more than the account
    /// holds for it. Returns (the type and price the account values it at, the protection).
    fn valuation(&self, req: &OrderRequest, reference: i64) -> (OrderType, i64, i64) {
        match (&self.account, req.side) {
            (Account::Cash { .. }, OrderSide::Buy)
                if !req.order_type.has_limit_price() && reference > 0 =>
            {
                let tick = self.venues[req.instrument as usize].tick;
                let cap = ((reference as f64 * (1.0 + MARKET_BUY_ALLOWANCE)) / tick as f64).ceil()
                    as i64
                    * tick;
                (OrderType::Limit, cap, cap)
            }
            _ => (req.order_type, req.price, 0),
        }
    }

    /// The account's refusal as a pre-trade refusal (counted with the risk engine's).
    #[cold]
    fn account_reject(&mut self, r: &AccountReject) -> Reject {
        let (code, message) = match r {
            AccountReject::Balance(x) => (RejectCode::InsufficientBalance, x.to_string()),
            AccountReject::Margin(x) => (
                RejectCode::InsufficientMargin,
                format!("{x} (initial margin at the instrument's leverage)"),
            ),
            AccountReject::NoPrice => (
                RejectCode::NoReferencePrice,
                "a market order needs a book price to be paid for".to_owned(),
            ),
        };
        self.risk.reject(code, message)
    }

    /// The account holds order row `i` as it stands (price, open quantity), whatever it
    /// held before; not checked (the order is already at the exchange).
    fn account_resync(&mut self, i: usize) -> Result<()> {
        let row = *self.orders.row(i);
        let open = row.qty - row.filled;
        if open > 0 && row.price > 0 {
            self.account.hold(
                row.client_id,
                row.instrument as usize,
                row.side,
                row.price,
                open,
            )
        } else {
            Ok(())
        }
    }
}

/// Records a market event the strategy sees in its venue's current message; the wake-up when
/// it ends a message the strategy subscribed to (`mask`: bits by the kind of its first event).
#[cold]
fn market_wake(venue: &mut Venue, e: &Event, mask: u32) -> Option<Wake> {
    if matches!(
        e.kind,
        kind::MARK | kind::AGG_TRADE | kind::KLINE | kind::LIQUIDATION
    ) {
        venue.message_len = 0;
    }
    if venue.message_len < venue.message.len() {
        venue.message[venue.message_len] = *e;
        venue.message_len += 1;
    }
    let first = venue.message[0].kind;
    (e.flags & flags::LAST_IN_MESSAGE != 0 && mask & (1u32 << first.min(31)) != 0)
        .then_some(Wake::Market(e.instrument))
}

#[cold]
fn bad_instrument(instrument: u32, n: usize) -> Error {
    Error::invalid(
        "instrument",
        instrument,
        format!("is not one of the {n} instruments of the replay"),
    )
}

#[cfg(test)]
mod tests;
