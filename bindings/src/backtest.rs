//! `tradecore._core.Backtest`: a thin wrapper over `engine_core::replay::Replay`.
//!
//! The loop runs in Rust; this layer calls the strategy's Python methods at the wake-ups it
//! subscribed to (looked up once and kept, so a wake-up costs one Python call), converts
//! floats to fixed point at the edge, and hands the results over as numpy columns.

// pyo3 hands extracted arguments over by value.
#![allow(clippy::needless_pass_by_value)]

use engine_core::event::{flags, kind};
use engine_core::execution::AccountSetup;
use engine_core::fixed::to_f64;
use engine_core::replay::{
    FeedLatency, InstrumentSetup, OrderRequest, Replay, ReplayConfig, Subscriptions, UpdateKind,
    Wake,
};
use engine_core::risk::{ContractKind, ContractSpec};
use engine_core::sim::{LatencyModel, OrderType, QueueModel, TimeInForce, Trigger, TriggerSource};
use engine_core::{Event, L2Book};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::{PyTraverseError, PyVisit};

use crate::account::{AccountSpec, AccountView};
use crate::book::{book_levels, book_qty_at, checked_imbalance, level_out, parse_side};
use crate::errors::{invalid, CoreErr};
use crate::event::events_from;
use crate::feed::BinanceFeed;
use crate::instrument::PyOrderFilters;
use crate::model::{core_signal, Model, Prediction};
use crate::risk::{state_name, Position, PyRiskEngine};
use crate::signals::PyFeatureSet;
use crate::types::{fixed, order_price, side_of_sign};

/// A trade as the strategy sees it.
#[pyclass(module = "tradecore._core", frozen, get_all)]
#[allow(clippy::struct_field_names)] // `trade_id`: the venue's name for it
pub struct Trade {
    /// Local time the strategy sees it (ns).
    ts: i64,
    /// Exchange time (ns).
    exch_ts: i64,
    price: f64,
    qty: f64,
    /// +1: the buyer was the aggressor; -1: the seller; 0: unknown.
    side: i8,
    instrument: u32,
    trade_id: u64,
}

#[pymethods]
impl Trade {
    fn __repr__(&self) -> String {
        format!(
            "Trade(ts={}, price={}, qty={}, side={}, instrument={})",
            self.ts, self.price, self.qty, self.side, self.instrument
        )
    }
}

/// A mark price update as the strategy sees it (Binance `markPriceUpdate`).
#[pyclass(module = "tradecore._core", frozen, get_all)]
pub struct MarkPrice {
    /// Local time the strategy sees it (ns).
    ts: i64,
    /// Exchange time (ns).
    exch_ts: i64,
    instrument: u32,
    /// The mark price.
    mark: f64,
    /// The index price.
    index: f64,
    /// The funding rate announced for the next funding time (0.0001 = 0.01%).
    funding_rate: f64,
    /// The next funding time (ns since the epoch).
    next_funding_ts: i64,
}

#[pymethods]
impl MarkPrice {
    fn __repr__(&self) -> String {
        format!(
            "MarkPrice(ts={}, mark={}, index={}, funding_rate={}, next_funding_ts={}, instrument={})",
            self.ts, self.mark, self.index, self.funding_rate, self.next_funding_ts, self.instrument
        )
    }
}

/// A kline (candlestick) update as the strategy sees it; `closed` once final.
#[pyclass(module = "tradecore._core", frozen, get_all)]
pub struct Kline {
    /// Local time the strategy sees it (ns).
    ts: i64,
    /// Exchange (event) time (ns).
    exch_ts: i64,
    instrument: u32,
    /// Open and close time of the kline (ns).
    open_ts: i64,
    close_ts: i64,
    /// The interval, ms.
    interval_ms: u64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    /// Base asset volume and its taker-buy part.
    volume: f64,
    taker_buy_volume: f64,
    trades: u64,
    /// First and last trade id (None: no trade).
    first_trade_id: Option<u64>,
    last_trade_id: Option<u64>,
    closed: bool,
}

#[pymethods]
impl Kline {
    fn __repr__(&self) -> String {
        format!(
            "Kline(open_ts={}, o={}, h={}, l={}, c={}, v={}, closed={}, instrument={})",
            self.open_ts,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.closed,
            self.instrument
        )
    }
}

/// A liquidation order of the venue (Binance `forceOrder`) as the strategy sees it.
#[pyclass(module = "tradecore._core", frozen, get_all)]
pub struct Liquidation {
    /// Local time the strategy sees it (ns).
    ts: i64,
    /// Exchange (trade) time (ns).
    exch_ts: i64,
    instrument: u32,
    /// The liquidation order's side: +1 BUY (a short was liquidated), -1 SELL (a long).
    side: i8,
    /// The order's price and original quantity.
    price: f64,
    qty: f64,
    /// Average fill price and accumulated filled quantity.
    avg_price: f64,
    filled_qty: f64,
    /// Wholly filled.
    filled: bool,
}

#[pymethods]
impl Liquidation {
    fn __repr__(&self) -> String {
        format!(
            "Liquidation(ts={}, side={}, price={}, qty={}, avg_price={}, filled_qty={}, instrument={})",
            self.ts, self.side, self.price, self.qty, self.avg_price, self.filled_qty, self.instrument
        )
    }
}

fn update_kind(k: UpdateKind) -> &'static str {
    match k {
        UpdateKind::Accepted => "accepted",
        UpdateKind::Rejected => "rejected",
        UpdateKind::Filled => "filled",
        UpdateKind::Modified => "modified",
        UpdateKind::Cancelled => "cancelled",
        UpdateKind::Triggered => "triggered",
    }
}

/// An update of one of the strategy's orders.
#[pyclass(module = "tradecore._core", frozen, get_all)]
pub struct OrderUpdate {
    /// `accepted`, `rejected`, `filled`, `modified` or `cancelled`.
    kind: &'static str,
    client_id: u64,
    instrument: u32,
    /// +1 buy, -1 sell.
    side: i8,
    /// Local time the strategy learns of it (ns).
    ts: i64,
    /// Exchange time it happened (ns).
    exch_ts: i64,
    /// Fill price, or the order's price (0.0 for a market order).
    price: f64,
    /// Fill quantity, or the order's quantity.
    qty: f64,
    /// Open quantity after this update.
    remaining: f64,
    maker: bool,
    fee: f64,
    /// Why the exchange refused it ("" otherwise).
    reason: &'static str,
}

#[pymethods]
impl OrderUpdate {
    fn __repr__(&self) -> String {
        format!(
            "OrderUpdate({}, client_id={}, price={}, qty={}, remaining={}{})",
            self.kind,
            self.client_id,
            self.price,
            self.qty,
            self.remaining,
            if self.reason.is_empty() {
                String::new()
            } else {
                format!(", reason={:?}", self.reason)
            }
        )
    }
}

/// The strategy's (local, latency-delayed) view of one instrument's book in a backtest.
#[pyclass(module = "tradecore._core", frozen)]
pub struct BookView {
    bt: Py<Backtest>,
    instrument: u32,
}

impl BookView {
    fn with<T>(&self, py: Python<'_>, f: impl FnOnce(&L2Book) -> PyResult<T>) -> PyResult<T> {
        let bt = self.bt.bind(py).try_borrow()?;
        f(bt.inner.book(self.instrument).map_err(CoreErr)?)
    }
}

#[pymethods]
impl BookView {
    #[getter]
    fn instrument(&self) -> u32 {
        self.instrument
    }

    fn best_bid(&self, py: Python<'_>) -> PyResult<Option<(f64, f64)>> {
        self.with(py, |b| Ok(b.best_bid().map(level_out)))
    }

    fn best_ask(&self, py: Python<'_>) -> PyResult<Option<(f64, f64)>> {
        self.with(py, |b| Ok(b.best_ask().map(level_out)))
    }

    fn mid(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        self.with(py, |b| Ok(b.mid()))
    }

    fn spread(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        self.with(py, |b| Ok(b.spread().map(to_f64)))
    }

    fn microprice(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        self.with(py, |b| Ok(b.microprice()))
    }

    #[pyo3(signature = (levels = 5))]
    fn imbalance(&self, py: Python<'_>, levels: i64) -> PyResult<Option<f64>> {
        self.with(py, |b| checked_imbalance(b, levels))
    }

    fn levels<'py>(
        &self,
        py: Python<'py>,
        side: &Bound<'_, PyAny>,
        n: i64,
    ) -> PyResult<Bound<'py, numpy::PyArray2<f64>>> {
        let side = parse_side(side)?;
        self.with(py, |b| book_levels(py, b, side, n))
    }

    fn qty_at(&self, py: Python<'_>, side: &Bound<'_, PyAny>, price: f64) -> PyResult<f64> {
        let side = parse_side(side)?;
        self.with(py, |b| book_qty_at(b, side, price))
    }

    #[getter]
    fn in_sync(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |b| Ok(b.in_sync()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |b| {
            Ok(format!(
                "BookView(instrument={}, bid={:?}, ask={:?})",
                self.instrument,
                b.best_bid().map(level_out),
                b.best_ask().map(level_out)
            ))
        })
    }
}

/// The strategy's bound callbacks and book views, kept from one chunk to the next while the
/// strategy and its subscriptions stay the same (a live session hands over one message at a
/// time: looking them up for each would cost a few microseconds a message).
struct DriveCache {
    /// Identity of the strategy object (kept alive by its bound methods below).
    strategy: usize,
    subs: Subscriptions,
    /// An in-loop signal is set (the strategy's `on_prediction` is called).
    signals: bool,
    h: Handlers,
    books: Vec<Option<Py<BookView>>>,
}

/// The strategy's bound callbacks.
struct Handlers {
    book: Option<Py<PyAny>>,
    trade: Option<Py<PyAny>>,
    fill: Option<Py<PyAny>>,
    order: Option<Py<PyAny>>,
    timer: Option<Py<PyAny>>,
    prediction: Option<Py<PyAny>>,
    mark: Option<Py<PyAny>>,
    agg_trade: Option<Py<PyAny>>,
    kline: Option<Py<PyAny>>,
    liquidation: Option<Py<PyAny>>,
}

fn handler(strategy: &Bound<'_, PyAny>, name: &str, on: bool) -> PyResult<Option<Py<PyAny>>> {
    if on {
        Ok(Some(strategy.getattr(name)?.unbind()))
    } else {
        Ok(None)
    }
}

fn tif_of(code: u8) -> PyResult<TimeInForce> {
    TimeInForce::from_code(code).map_err(|e| CoreErr(e).into())
}

/// The backtest event loop (see `tradecore.backtest`).
#[pyclass(module = "tradecore._core", unsendable)]
pub struct Backtest {
    inner: Replay,
    last_reject: Option<(&'static str, String)>,
    cache: Option<DriveCache>,
    /// Live paper trading: the events of the message being handed over, and the latest
    /// exchange time seen (when an event without one happens).
    scratch: Vec<Event>,
    feed_clock: i64,
    /// An in-loop signal is set.
    signals: bool,
}

#[pymethods]
impl Backtest {
    /// `instruments`: (`tick_size`, `lot_size`, `book_lot`, `contract_size`, `inverse`,
    /// `maker_fee`, `taker_fee`) each (`book_lot`: the data's quantity precision, 0: the lot).
    #[new]
    #[pyo3(signature = (instruments, risk, *, entry_latency_ns = 0, response_latency_ns = 0, entry_samples = None, response_samples = None, seed = 0, queue = "conservative", feed_latency_ns = None, clock_offset_ns = None, initial_capital = 100_000.0, sample_ns = 1_000_000_000, subscribe_book = false, subscribe_trade = false, subscribe_orders = false, timer_ns = 0, account = None, filters = None, subscribe_mark = false, subscribe_agg_trade = false, subscribe_kline = false, subscribe_liquidation = false))]
    #[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)] // a Python signature
    fn new(
        instruments: Vec<(f64, f64, f64, f64, bool, f64, f64)>,
        risk: PyRef<'_, PyRiskEngine>,
        entry_latency_ns: i64,
        response_latency_ns: i64,
        entry_samples: Option<PyReadonlyArray1<'_, i64>>,
        response_samples: Option<PyReadonlyArray1<'_, i64>>,
        seed: u64,
        queue: &str,
        feed_latency_ns: Option<i64>,
        clock_offset_ns: Option<i64>,
        initial_capital: f64,
        sample_ns: i64,
        subscribe_book: bool,
        subscribe_trade: bool,
        subscribe_orders: bool,
        timer_ns: i64,
        account: Option<PyRef<'_, AccountSpec>>,
        filters: Option<Vec<PyRef<'_, PyOrderFilters>>>,
        subscribe_mark: bool,
        subscribe_agg_trade: bool,
        subscribe_kline: bool,
        subscribe_liquidation: bool,
    ) -> PyResult<Self> {
        if let Some(f) = &filters {
            if f.len() != instruments.len() {
                return Err(invalid(
                    "filters",
                    f.len(),
                    "one OrderFilters an instrument, in instrument order",
                ));
            }
        }
        let market = [
            (subscribe_mark, kind::MARK),
            (subscribe_agg_trade, kind::AGG_TRADE),
            (subscribe_kline, kind::KLINE),
            (subscribe_liquidation, kind::LIQUIDATION),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0u32, |m, (_, k)| m | 1 << k);
        let mut setups = Vec::with_capacity(instruments.len());
        for (i, (tick, lot, book_lot, contract_size, inverse, maker, taker)) in
            instruments.into_iter().enumerate()
        {
            let kind = if inverse {
                ContractKind::Inverse
            } else {
                ContractKind::Linear
            };
            setups.push(InstrumentSetup {
                tick: fixed("tick_size", tick)?,
                lot: fixed("lot_size", lot)?,
                book_lot: fixed("book_lot", book_lot)?,
                spec: ContractSpec::new(kind, contract_size, maker, taker).map_err(CoreErr)?,
                filters: filters.as_ref().map(|f| f[i].inner).unwrap_or_default(),
            });
        }
        let latency = match (entry_samples, response_samples) {
            (None, None) => LatencyModel::constant(entry_latency_ns, response_latency_ns),
            (Some(e), Some(r)) => {
                LatencyModel::sampled(e.as_slice()?.to_vec(), r.as_slice()?.to_vec(), seed)
            }
            _ => {
                return Err(invalid(
                    "response_samples",
                    "one list",
                    "give both entry and response latency samples, or neither",
                ))
            }
        }
        .map_err(CoreErr)?;
        let feed = match feed_latency_ns {
            Some(d) => FeedLatency::Constant(d),
            None => FeedLatency::Recorded {
                offset: clock_offset_ns,
            },
        };
        let config = ReplayConfig {
            latency,
            queue: QueueModel::parse(queue).map_err(CoreErr)?,
            feed,
            initial: initial_capital,
            sample_ns,
            limits: risk.inner.limits().clone(),
            subscriptions: Subscriptions {
                book: subscribe_book,
                trade: subscribe_trade,
                bbo: false,
                orders: subscribe_orders,
                timer_ns,
                market,
            },
            account: account.map_or(AccountSetup::Unchecked, |a| a.setup.clone()),
        };
        Ok(Backtest {
            inner: Replay::new(&setups, config).map_err(CoreErr)?,
            last_reject: None,
            cache: None,
            scratch: Vec::new(),
            feed_clock: 0,
            signals: false,
        })
    }

    /// Replays `events` (a chunk, in recorded order), calling `strategy`'s methods at its
    /// wake-ups; returns when the chunk is used up.
    fn run(
        slf: &Bound<'_, Self>,
        strategy: &Bound<'_, PyAny>,
        events: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        {
            let view = events_from(events, "events")?;
            let mut me = slf.try_borrow_mut()?;
            me.inner.push(view.as_slice()?).map_err(CoreErr)?;
        }
        Self::drive(slf, strategy)
    }

    /// The kept callbacks and book views refer back to this object (a bound method holds the
    /// strategy, whose context holds the backtest): the garbage collector must see them.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(c) = &self.cache {
            for f in [
                &c.h.book,
                &c.h.trade,
                &c.h.fill,
                &c.h.order,
                &c.h.timer,
                &c.h.prediction,
            ]
            .into_iter()
            .flatten()
            {
                visit.call(f)?;
            }
            for b in c.books.iter().flatten() {
                visit.call(b)?;
            }
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.cache = None;
    }

    /// Live paper trading: replays the events of the message `feed` has just handled, as
    /// instrument `instrument`, straight from the feed (no copy through numpy); an event
    /// without an exchange time (a REST snapshot) happens at the latest one seen. Returns the
    /// number of events.
    fn run_feed(
        slf: &Bound<'_, Self>,
        strategy: &Bound<'_, PyAny>,
        feed: &Bound<'_, BinanceFeed>,
        instrument: u32,
    ) -> PyResult<usize> {
        let n = {
            let mut f = feed.try_borrow_mut()?;
            let mut guard = slf.try_borrow_mut()?;
            let me = &mut *guard;
            let events = f.inner.last_events();
            me.scratch.clear();
            me.scratch.extend_from_slice(events);
            let mut clock = me.feed_clock;
            for e in &mut me.scratch {
                e.instrument = instrument;
                if e.flags & flags::NO_EXCH_TS == 0 {
                    clock = clock.max(e.exch_ts);
                } else {
                    e.local_ts = clock;
                }
            }
            me.feed_clock = clock;
            me.inner.push(&me.scratch).map_err(CoreErr)?;
            me.scratch.len()
        };
        if n > 0 {
            Self::drive(slf, strategy)?;
        }
        Ok(n)
    }

    /// No more data: runs to the end (answers to orders in flight are still delivered).
    fn finish(slf: &Bound<'_, Self>, strategy: &Bound<'_, PyAny>) -> PyResult<()> {
        slf.try_borrow_mut()?.inner.finish();
        let r = Self::drive(slf, strategy);
        // the kept callbacks refer back to this object: let it go as soon as it is dropped
        slf.try_borrow_mut()?.cache = None;
        r
    }

    /// Runs `features` and `model` on `instrument`'s events as the strategy sees them, in
    /// the loop: at each sample point the strategy's `on_prediction` gets a `Prediction`.
    #[pyo3(signature = (instrument, features, model = None, *, raw_score = false))]
    fn set_signal(
        &mut self,
        instrument: u32,
        features: PyRef<'_, PyFeatureSet>,
        model: Option<PyRef<'_, Model>>,
        raw_score: bool,
    ) -> PyResult<()> {
        let s = core_signal(&features, model.as_deref(), raw_score)?;
        self.inner.set_signal(instrument, s).map_err(CoreErr)?;
        self.signals = true;
        Ok(())
    }

    /// Calls the strategy's `on_timer` every `timer_ns` of local time (0: never).
    fn set_timer(&mut self, timer_ns: i64) -> PyResult<()> {
        let subs = Subscriptions {
            timer_ns,
            ..self.inner.subscriptions()
        };
        self.inner
            .set_subscriptions(subs)
            .map_err(|e| CoreErr(e).into())
    }

    /// Sends an order at the current local time. `side` +1 buy / -1 sell; `price` 0.0 for a
    /// market order; `tif` 0 GTC, 1 IOC, 2 FOK, 3 post-only. Returns the client id, or None
    /// when the pre-trade risk check refused it (see `last_reject`).
    #[pyo3(signature = (side, qty, price, tif, reduce_only, instrument, client_id = None))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn submit(
        &mut self,
        side: i64,
        qty: f64,
        price: Option<f64>,
        tif: u8,
        reduce_only: bool,
        instrument: u32,
        client_id: Option<u64>,
    ) -> PyResult<Option<u64>> {
        let (order_type, price) = order_price(price)?;
        let req = OrderRequest {
            instrument,
            side: side_of_sign(side)?,
            order_type,
            price,
            qty: fixed("qty", qty)?,
            tif: tif_of(tif)?,
            reduce_only,
            client_id,
            trigger: None,
        };
        self.send(req)
    }

    /// Sends a stop or take-profit order: `order_type` a conditional `OrderType` code, the
    /// limit `price` (None for the market kinds), the `trigger_price` and what it watches
    /// (`trigger_by`: "last" or "mark"); `close_position` closes the whole position when
    /// triggered. Returns the client id, or None if refused before sending (`last_reject`).
    #[pyo3(signature = (side, qty, price, order_type, trigger_price, trigger_by, tif, reduce_only, close_position, instrument, client_id = None))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn submit_conditional(
        &mut self,
        side: i64,
        qty: f64,
        price: Option<f64>,
        order_type: u8,
        trigger_price: f64,
        trigger_by: &str,
        tif: u8,
        reduce_only: bool,
        close_position: bool,
        instrument: u32,
        client_id: Option<u64>,
    ) -> PyResult<Option<u64>> {
        let order_type = OrderType::from_code(order_type).map_err(CoreErr)?;
        let source = match trigger_by {
            "last" => TriggerSource::LastPrice,
            "mark" => TriggerSource::MarkPrice,
            other => {
                return Err(invalid(
                    "trigger_by",
                    format!("{other:?}"),
                    "must be 'last' or 'mark'",
                ))
            }
        };
        let price = match price {
            Some(p) => fixed("price", p)?,
            None => 0,
        };
        let req = OrderRequest {
            instrument,
            side: side_of_sign(side)?,
            order_type,
            price,
            qty: fixed("qty", qty)?,
            tif: tif_of(tif)?,
            reduce_only,
            client_id,
            trigger: Some(Trigger {
                order_type,
                price: fixed("trigger_price", trigger_price)?,
                source,
                close_position,
            }),
        };
        self.send(req)
    }

    /// A mark price of `instrument`: stop and take-profit orders watching the mark act on it,
    /// the position is valued at it, and a margin account below maintenance is liquidated.
    fn set_mark(&mut self, instrument: u32, price: f64) -> PyResult<()> {
        let mark = fixed("price", price)?;
        self.inner
            .set_mark(instrument, mark)
            .map_err(|e| CoreErr(e).into())
    }

    /// The kill switch: the risk engine halts (every new order is refused) and every open
    /// order is cancelled; returns their client ids.
    fn halt(&mut self, reason: &str) -> PyResult<Vec<u64>> {
        self.inner.halt(reason).map_err(|e| CoreErr(e).into())
    }

    /// Sends a cancel of an open order.
    fn cancel(&mut self, client_id: u64) -> PyResult<()> {
        self.inner.cancel(client_id).map_err(|e| CoreErr(e).into())
    }

    /// Sends a modification (new price and open quantity); False when the risk check
    /// refused it (see `last_reject`).
    fn modify(&mut self, client_id: u64, price: f64, qty: f64) -> PyResult<bool> {
        let r = self
            .inner
            .modify(client_id, fixed("price", price)?, fixed("qty", qty)?)
            .map_err(CoreErr)?;
        match r {
            Ok(()) => Ok(true),
            Err(r) => {
                self.last_reject = Some((r.code.name(), r.message));
                Ok(false)
            }
        }
    }

    /// Orders refused before sending so far (pre-trade risk check and account), by reason
    /// code.
    #[getter]
    fn refusals(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.inner
            .risk()
            .rejected()
            .iter()
            .map(|(code, n)| (code.name(), *n))
            .collect()
    }

    /// (code, message) of the last order the risk check refused.
    #[getter]
    fn last_reject(&self) -> Option<(&'static str, String)> {
        self.last_reject.clone()
    }

    /// The strategy's local time (ns).
    #[getter]
    fn now(&self) -> i64 {
        self.inner.now()
    }

    /// Market events the strategy's side has seen.
    #[getter]
    fn events(&self) -> u64 {
        self.inner.events()
    }

    /// The recorder's clock offset in use (local minus exchange, ns), once known.
    #[getter]
    fn clock_offset_ns(&self) -> Option<i64> {
        self.inner.clock_offset()
    }

    /// The local book of an instrument.
    #[pyo3(signature = (instrument = 0))]
    fn book(slf: &Bound<'_, Self>, instrument: u32) -> PyResult<BookView> {
        slf.borrow().inner.book(instrument).map_err(CoreErr)?;
        Ok(BookView {
            bt: slf.clone().unbind(),
            instrument,
        })
    }

    /// The position of an instrument, unrealized PnL at the strategy's book mid (as live).
    #[pyo3(signature = (instrument = 0))]
    fn position(&self, instrument: u32) -> PyResult<Position> {
        let u = self.inner.unrealized_now(instrument).map_err(CoreErr)?;
        Position::of(self.inner.portfolio(), instrument as usize, u)
    }

    /// Equity now: capital + realized - fees + unrealized at the strategy's book mids (as live).
    fn equity(&self) -> PyResult<f64> {
        self.inner.equity_now().map_err(|e| CoreErr(e).into())
    }

    /// Client ids of the open orders, oldest first.
    fn open_orders(&self) -> Vec<u64> {
        self.inner.open_orders().to_vec()
    }

    /// (instrument, side, price, qty, filled, status) of an order, or None if unknown.
    fn order(&self, client_id: u64) -> Option<(u32, i8, f64, f64, f64, u8)> {
        self.inner.order(client_id).map(|o| {
            (
                o.instrument,
                i8::try_from(o.side.sign()).unwrap_or(1),
                to_f64(o.price),
                to_f64(o.qty),
                to_f64(o.filled),
                o.status.code(),
            )
        })
    }

    /// The account now (balances, equity, available, margin used, liquidation prices).
    fn account(&self) -> PyResult<AccountView> {
        AccountView::of(self.inner.account(), self.inner.portfolio())
    }

    /// Client ids below `next` are taken (a restarted session's earlier orders): the ids the
    /// loop gives from now on (orders without one, liquidations) start at `next` or above.
    fn set_next_client_id(&mut self, next: u64) {
        self.inner.reserve_client_ids(next);
    }

    /// Books a fill made before this run (a restarted paper session's journal): position,
    /// PnL, `fee`, the account and the exchange's position; no order, no fill row, no wake.
    fn restore_fill(
        &mut self,
        instrument: u32,
        side: i64,
        price: f64,
        qty: f64,
        fee: f64,
    ) -> PyResult<()> {
        let side = side_of_sign(side)?;
        let (price, qty) = (fixed("price", price)?, fixed("qty", qty)?);
        self.inner
            .restore_fill(instrument, side, price, qty, fee)
            .map_err(|e| CoreErr(e).into())
    }

    /// Funding of a perpetual at a funding time: `rate` at `mark_price` on the position held
    /// now (a long pays a positive rate). Returns the payment (> 0 paid).
    fn fund(&mut self, instrument: u32, rate: f64, mark_price: f64) -> PyResult<f64> {
        let mark = fixed("mark_price", mark_price)?;
        self.inner
            .fund(instrument, rate, mark)
            .map_err(|e| CoreErr(e).into())
    }

    /// The trading state of the risk engine: "active", "reducing" or "halted".
    #[getter]
    fn trading_state(&self) -> &'static str {
        state_name(self.inner.risk().state())
    }

    /// The results so far, as numpy columns: {"orders": {...}, "fills": {...},
    /// "equity": {...}, "positions": {...}, "gaps": {...}} (holes in the data, not sampled).
    fn results<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        let r = &self.inner;
        let orders = r.orders();
        let cols = PyDict::new(py);
        col(&cols, "client_id", orders.iter().map(|o| o.client_id))?;
        col(&cols, "instrument", orders.iter().map(|o| o.instrument))?;
        col(
            &cols,
            "side",
            orders
                .iter()
                .map(|o| i8::try_from(o.side.sign()).unwrap_or(1)),
        )?;
        col(&cols, "tif", orders.iter().map(|o| o.tif.code()))?;
        col(&cols, "status", orders.iter().map(|o| o.status.code()))?;
        col(&cols, "reduce_only", orders.iter().map(|o| o.reduce_only))?;
        col(&cols, "sent_ts", orders.iter().map(|o| o.sent_ts))?;
        col(&cols, "done_ts", orders.iter().map(|o| o.done_ts))?;
        col(&cols, "price", orders.iter().map(|o| to_f64(o.price)))?;
        col(&cols, "qty", orders.iter().map(|o| to_f64(o.qty)))?;
        col(&cols, "filled", orders.iter().map(|o| to_f64(o.filled)))?;
        col(&cols, "liquidation", orders.iter().map(|o| o.liquidation))?;
        col(
            &cols,
            "order_type",
            orders.iter().map(|o| o.order_type.code()),
        )?;
        col(
            &cols,
            "trigger_price",
            orders.iter().map(|o| to_f64(o.trigger_price)),
        )?;
        out.set_item("orders", cols)?;
        let fills = r.fills();
        let cols = PyDict::new(py);
        col(&cols, "local_ts", fills.iter().map(|f| f.local_ts))?;
        col(&cols, "exch_ts", fills.iter().map(|f| f.exch_ts))?;
        col(&cols, "client_id", fills.iter().map(|f| f.client_id))?;
        col(&cols, "instrument", fills.iter().map(|f| f.instrument))?;
        col(&cols, "side", fills.iter().map(|f| f.side))?;
        col(&cols, "maker", fills.iter().map(|f| f.maker))?;
        col(&cols, "price", fills.iter().map(|f| to_f64(f.price)))?;
        col(&cols, "qty", fills.iter().map(|f| to_f64(f.qty)))?;
        col(&cols, "fee", fills.iter().map(|f| f.fee))?;
        col(&cols, "liquidation", fills.iter().map(|f| f.liquidation))?;
        out.set_item("fills", cols)?;
        let eq = r.equity();
        let cols = PyDict::new(py);
        col(&cols, "ts", eq.iter().map(|e| e.ts))?;
        col(&cols, "equity", eq.iter().map(|e| e.equity))?;
        col(&cols, "realized", eq.iter().map(|e| e.realized))?;
        col(&cols, "unrealized", eq.iter().map(|e| e.unrealized))?;
        col(&cols, "fees", eq.iter().map(|e| e.fees))?;
        col(&cols, "funding", eq.iter().map(|e| e.funding))?;
        col(&cols, "gross", eq.iter().map(|e| e.gross))?;
        col(&cols, "margin_used", eq.iter().map(|e| e.margin_used))?;
        col(&cols, "available", eq.iter().map(|e| e.available))?;
        out.set_item("equity", cols)?;
        let pos = r.positions();
        let cols = PyDict::new(py);
        col(&cols, "ts", pos.iter().map(|p| p.ts))?;
        col(&cols, "instrument", pos.iter().map(|p| p.instrument))?;
        col(&cols, "mid", pos.iter().map(|p| p.mid))?;
        col(&cols, "position", pos.iter().map(|p| to_f64(p.position)))?;
        out.set_item("positions", cols)?;
        let gaps = r.gaps();
        let cols = PyDict::new(py);
        col(&cols, "start", gaps.iter().map(|g| g.start))?;
        col(&cols, "length", gaps.iter().map(|g| g.length))?;
        out.set_item("gaps", cols)?;
        Ok(out)
    }
}

fn col<T: numpy::Element>(
    d: &Bound<'_, PyDict>,
    name: &str,
    values: impl Iterator<Item = T>,
) -> PyResult<()> {
    let v: Vec<T> = values.collect();
    d.set_item(name, PyArray1::from_vec(d.py(), v))
}

impl Backtest {
    /// Sends an order request: its client id, or None when the pre-trade checks refused it
    /// (kept for `last_reject`).
    fn send(&mut self, req: OrderRequest) -> PyResult<Option<u64>> {
        match self.inner.submit(req).map_err(CoreErr)? {
            Ok(id) => Ok(Some(id)),
            Err(r) => {
                self.last_reject = Some((r.code.name(), r.message));
                Ok(None)
            }
        }
    }

    /// Steps the loop, calling the strategy at each wake-up, until more data is needed or
    /// the end. No borrow of the backtest is held while Python runs, so the strategy can
    /// send orders from its callbacks.
    fn drive(slf: &Bound<'_, Self>, strategy: &Bound<'_, PyAny>) -> PyResult<()> {
        let (subs, signals) = {
            let me = slf.try_borrow()?;
            (me.inner.subscriptions(), me.signals)
        };
        let key = strategy.as_ptr() as usize;
        let mut cache = slf.try_borrow_mut()?.cache.take();
        let mut c = match cache.take() {
            Some(c) if c.strategy == key && c.subs == subs && c.signals == signals => c,
            _ => DriveCache {
                strategy: key,
                subs,
                signals,
                h: Handlers {
                    book: handler(strategy, "on_book", subs.book)?,
                    trade: handler(strategy, "on_trade", subs.trade)?,
                    fill: handler(strategy, "on_fill", subs.orders)?,
                    order: handler(strategy, "on_order", subs.orders)?,
                    timer: handler(strategy, "on_timer", subs.timer_ns > 0)?,
                    prediction: handler(strategy, "on_prediction", signals)?,
                    mark: handler(strategy, "on_mark", subs.market & 1 << kind::MARK != 0)?,
                    agg_trade: handler(
                        strategy,
                        "on_agg_trade",
                        subs.market & 1 << kind::AGG_TRADE != 0,
                    )?,
                    kline: handler(strategy, "on_kline", subs.market & 1 << kind::KLINE != 0)?,
                    liquidation: handler(
                        strategy,
                        "on_liquidation",
                        subs.market & 1 << kind::LIQUIDATION != 0,
                    )?,
                },
                books: (0..slf.try_borrow()?.inner.instruments())
                    .map(|_| None)
                    .collect(),
            },
        };
        let changed = Self::drive_with(slf, &mut c);
        cache = Some(c);
        slf.try_borrow_mut()?.cache = cache;
        // A strategy may change its subscriptions (a timer) from a callback.
        if changed? {
            return Self::drive(slf, strategy);
        }
        Ok(())
    }

    /// Steps until more data is needed or the end (false), or until the strategy changed
    /// its subscriptions or set a model signal (true).
    fn drive_with(slf: &Bound<'_, Self>, c: &mut DriveCache) -> PyResult<bool> {
        let py = slf.py();
        let h = &c.h;
        loop {
            let wake = slf.try_borrow_mut()?.inner.step().map_err(CoreErr)?;
            match wake {
                Wake::NeedData | Wake::End => return Ok(false),
                Wake::Book(i) => {
                    if let Some(f) = &h.book {
                        let slot = &mut c.books[i as usize];
                        if slot.is_none() {
                            *slot = Some(Py::new(
                                py,
                                BookView {
                                    bt: slf.clone().unbind(),
                                    instrument: i,
                                },
                            )?);
                        }
                        if let Some(b) = slot {
                            f.call1(py, (b.clone_ref(py),))?;
                        }
                    }
                }
                Wake::Trade(e) => {
                    if let Some(f) = &h.trade {
                        let ts = slf.try_borrow()?.inner.now();
                        f.call1(py, (trade(&e, ts),))?;
                    }
                }
                Wake::Order(u) => {
                    let f = if u.kind == UpdateKind::Filled {
                        &h.fill
                    } else {
                        &h.order
                    };
                    if let Some(f) = f {
                        f.call1(py, (update(&u),))?;
                    }
                }
                Wake::Timer(t) => {
                    if let Some(f) = &h.timer {
                        f.call1(py, (t,))?;
                    }
                }
                Wake::Prediction(i) => {
                    if let Some(f) = &h.prediction {
                        let p = {
                            let me = slf.try_borrow()?;
                            me.inner.signal(i).map(|s| Prediction::of(s, i))
                        };
                        if let Some(p) = p {
                            f.call1(py, (p,))?;
                        }
                    }
                }
                Wake::Market(i) => {
                    let (ts, msg) = {
                        let me = slf.try_borrow()?;
                        let m = me.inner.market_message(i).map_err(CoreErr)?;
                        (me.inner.now(), m.to_vec())
                    };
                    call_market(py, h, ts, &msg)?;
                }
                Wake::Bbo(_) => {}
            }
            let me = slf.try_borrow()?;
            if me.inner.subscriptions() != c.subs || me.signals != c.signals {
                return Ok(true); // a timer or a model signal set from a callback
            }
        }
    }
}

/// Calls the strategy's handler for one market message (its events, see `event::kind`).
fn call_market(py: Python<'_>, h: &Handlers, ts: i64, msg: &[Event]) -> PyResult<()> {
    let Some(first) = msg.first() else {
        return Ok(());
    };
    let get = |k: u8| msg.iter().find(|e| e.kind == k);
    match first.kind {
        kind::MARK => {
            if let (Some(f), Some(fund)) = (&h.mark, get(kind::FUNDING)) {
                #[allow(clippy::cast_possible_wrap, clippy::cast_precision_loss)]
                let m = MarkPrice {
                    ts,
                    exch_ts: first.exch_ts,
                    instrument: first.instrument,
                    mark: to_f64(first.price),
                    index: to_f64(first.qty),
                    funding_rate: fund.qty as f64 / engine_core::fixed::SCALE as f64,
                    next_funding_ts: fund.trade_id as i64,
                };
                f.call1(py, (m,))?;
            }
        }
        kind::AGG_TRADE => {
            if let Some(f) = &h.agg_trade {
                f.call1(py, (trade(first, ts),))?;
            }
        }
        kind::KLINE => {
            if let (Some(f), Some(lc), Some(vol)) =
                (&h.kline, get(kind::KLINE_CLOSE), get(kind::KLINE_VOLUME))
            {
                let id = |v: u64| (v != u64::MAX).then_some(v);
                #[allow(clippy::cast_possible_wrap)]
                let k = Kline {
                    ts,
                    exch_ts: first.exch_ts,
                    instrument: first.instrument,
                    open_ts: first.first_update_id as i64,
                    close_ts: first.last_update_id as i64,
                    interval_ms: lc.trade_id,
                    open: to_f64(first.price),
                    high: to_f64(first.qty),
                    low: to_f64(lc.price),
                    close: to_f64(lc.qty),
                    volume: to_f64(vol.price),
                    taker_buy_volume: to_f64(vol.qty),
                    trades: first.trade_id,
                    first_trade_id: id(lc.first_update_id),
                    last_trade_id: id(lc.last_update_id),
                    closed: first.has(flags::CLOSED),
                };
                f.call1(py, (k,))?;
            }
        }
        kind::LIQUIDATION => {
            if let (Some(f), Some(fill)) = (&h.liquidation, get(kind::LIQUIDATION_FILL)) {
                let l = Liquidation {
                    ts,
                    exch_ts: first.exch_ts,
                    instrument: first.instrument,
                    side: first.side,
                    price: to_f64(first.price),
                    qty: to_f64(first.qty),
                    avg_price: to_f64(fill.price),
                    filled_qty: to_f64(fill.qty),
                    filled: fill.has(flags::CLOSED),
                };
                f.call1(py, (l,))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn trade(e: &Event, ts: i64) -> Trade {
    Trade {
        ts,
        exch_ts: e.exch_ts,
        price: to_f64(e.price),
        qty: to_f64(e.qty),
        side: e.side,
        instrument: e.instrument,
        trade_id: e.trade_id,
    }
}

fn update(u: &engine_core::replay::OrderUpdate) -> OrderUpdate {
    OrderUpdate {
        kind: update_kind(u.kind),
        client_id: u.client_id,
        instrument: u.instrument,
        side: i8::try_from(u.side.sign()).unwrap_or(1),
        ts: u.local_ts,
        exch_ts: u.exch_ts,
        price: to_f64(u.price),
        qty: to_f64(u.qty),
        remaining: to_f64(u.remaining),
        maker: u.maker,
        fee: u.fee,
        reason: u.reason,
    }
}
