//! Pre-trade checks: every order goes through [`RiskEngine::check`], which returns an
//! [`ApprovedOrder`] — a type only this module can build, so the simulator and the gateways,
//! which take nothing else, cannot be handed an unchecked order — or a [`Reject`] with a
//! reason code and a message naming the limit and the values.
//!
//! The engine keeps what the checks need: the open orders (worst-case positions, self-trade
//! prevention, the open-order count), positions (from fills), the reference prices and data
//! freshness of each instrument, token buckets for the order rate, and the trading state
//! (ACTIVE / REDUCING / HALTED), which the daily loss limit and the drawdown limit switch to
//! HALTED by themselves (the kill switch), with the cancel-all that must follow.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::instrument::OrderFilters;

const SCALE: f64 = 1e9;
const NS_PER_SEC: i64 = 1_000_000_000;

pub use crate::types::OrderSide;

/// An order before the checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    /// Client order id (unique).
    pub client_id: u64,
    /// Instrument index.
    pub instrument: usize,
    /// Side.
    pub side: OrderSide,
    /// Limit price (fixed point); 0 for a market order.
    pub price: i64,
    /// Quantity (fixed point), > 0.
    pub qty: i64,
    /// Only allowed to reduce the position.
    pub reduce_only: bool,
    /// A modification of a resting order (counted in the modify rate bucket).
    pub modify: bool,
}

/// An order that passed every check. Only [`RiskEngine::check`] makes one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApprovedOrder {
    order: Order,
}

impl ApprovedOrder {
    /// The order.
    pub fn order(&self) -> &Order {
        &self.order
    }
}

/// Why an order was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// A field is not a valid value.
    InvalidOrder,
    /// Unknown instrument.
    UnknownInstrument,
    /// The trading state is HALTED.
    Halted,
    /// REDUCING, and the order would not reduce the position.
    ReducingOnly,
    /// A reduce-only order that would not reduce the position.
    ReduceOnlyIncreases,
    /// Above the max order quantity.
    MaxOrderQty,
    /// Above the max order notional.
    MaxOrderNotional,
    /// Outside the price band around the reference.
    PriceBand,
    /// No reference price to check the band.
    NoReferencePrice,
    /// The position could exceed its limit (open orders counted).
    MaxPosition,
    /// The gross exposure could exceed its limit.
    MaxGrossExposure,
    /// Too many orders (submits) in the last second or minute.
    SubmitRate,
    /// Too many modifications in the last second or minute.
    ModifyRate,
    /// Too many open orders.
    MaxOpenOrders,
    /// It would trade against the strategy's own resting order.
    SelfTrade,
    /// The market data is too old or out of sync.
    StaleData,
    /// The client id is already in use.
    DuplicateClientId,
    /// The cash account cannot pay for it (the message names the asset, needed, available).
    InsufficientBalance,
    /// Not enough available margin (the message names the asset, needed, available).
    InsufficientMargin,
    /// The venue's order filters refuse it (the message starts with the filter's name).
    Filter,
}

impl RejectCode {
    /// Snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            RejectCode::InvalidOrder => "invalid_order",
            RejectCode::UnknownInstrument => "unknown_instrument",
            RejectCode::Halted => "halted",
            RejectCode::ReducingOnly => "reducing_only",
            RejectCode::ReduceOnlyIncreases => "reduce_only_increases",
            RejectCode::MaxOrderQty => "max_order_qty",
            RejectCode::MaxOrderNotional => "max_order_notional",
            RejectCode::PriceBand => "price_band",
            RejectCode::NoReferencePrice => "no_reference_price",
            RejectCode::MaxPosition => "max_position",
            RejectCode::MaxGrossExposure => "max_gross_exposure",
            RejectCode::SubmitRate => "submit_rate",
            RejectCode::ModifyRate => "modify_rate",
            RejectCode::MaxOpenOrders => "max_open_orders",
            RejectCode::SelfTrade => "self_trade",
            RejectCode::StaleData => "stale_data",
            RejectCode::DuplicateClientId => "duplicate_client_id",
            RejectCode::InsufficientBalance => "insufficient_balance",
            RejectCode::InsufficientMargin => "insufficient_margin",
            RejectCode::Filter => "filter",
        }
    }
}

/// A refusal: its code and a message naming the limit and the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Why.
    pub code: RejectCode,
    /// Details.
    pub message: String,
}

/// The trading state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradingState {
    /// Every check applies; orders may open or increase positions.
    Active,
    /// Only orders that reduce a position.
    Reducing,
    /// No new order (cancels only).
    Halted,
}

/// Limits (quantities and prices in fixed point, money in the settlement currency). `None`
/// disables a check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RiskLimits {
    pub max_order_qty: Option<i64>,
    pub max_order_notional: Option<f64>,
    pub max_position: Option<i64>,
    pub max_gross_exposure: Option<f64>,
    /// Band around the reference price, basis points.
    pub price_band_bps: Option<f64>,
    pub max_submits_per_sec: Option<u32>,
    pub max_submits_per_min: Option<u32>,
    pub max_modifies_per_sec: Option<u32>,
    pub max_modifies_per_min: Option<u32>,
    pub max_open_orders: Option<u32>,
    /// Market data older than this many ns is stale.
    pub max_data_age_ns: Option<i64>,
    /// Loss since the day's start (equity) that halts trading.
    pub daily_loss_limit: Option<f64>,
    /// Drawdown from the peak equity that halts trading.
    pub max_drawdown: Option<f64>,
    /// Refuse orders that would cross the strategy's own resting orders.
    pub self_trade_prevention: bool,
}

/// A token bucket: `capacity` tokens, refilled at `capacity` per `period`.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    period: i64,
    tokens: f64,
    at: i64,
}

impl Bucket {
    fn new(capacity: u32, period: i64) -> Self {
        Bucket {
            capacity: f64::from(capacity),
            period,
            tokens: f64::from(capacity),
            at: i64::MIN,
        }
    }

    fn refill(&mut self, now: i64) {
        if self.at != i64::MIN && now > self.at {
            let add = (now - self.at) as f64 / self.period as f64 * self.capacity;
            self.tokens = (self.tokens + add).min(self.capacity);
        }
        self.at = self.at.max(now);
    }

    fn available(&mut self, now: i64) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

/// What the engine knows of an instrument.
#[derive(Debug, Clone, Default)]
struct Market {
    contract_size: f64,
    inverse: bool,
    position: i64,
    /// Quantity of open buy / sell orders.
    open_buy: i64,
    open_sell: i64,
    /// Reference price (mid or last), fixed point; 0 unknown.
    reference: i64,
    /// Local time of the last market data, ns.
    data_at: i64,
    in_sync: bool,
}

/// The pre-trade risk engine (see the module documentation).
#[derive(Debug, Clone)]
pub struct RiskEngine {
    limits: RiskLimits,
    state: TradingState,
    markets: Vec<Market>,
    /// The venue's order filters of each instrument (none by default).
    filters: Vec<OrderFilters>,
    open: HashMap<u64, Order>,
    buckets: [Option<Bucket>; 4],
    day_start_equity: Option<f64>,
    day: i64,
    peak_equity: f64,
    halt_reason: Option<String>,
    /// Checks passed and failed, by code.
    pub accepted: u64,
    rejected: HashMap<RejectCode, u64>,
}

impl RiskEngine {
    /// An engine with these limits (checked: positive, finite).
    pub fn new(limits: RiskLimits) -> Result<Self> {
        let positive_i = [
            ("max_order_qty", limits.max_order_qty),
            ("max_position", limits.max_position),
            ("max_data_age_ns", limits.max_data_age_ns),
        ];
        for (field, v) in positive_i {
            if let Some(v) = v {
                if v <= 0 {
                    return Err(Error::invalid(field, v, "must be > 0"));
                }
            }
        }
        let positive_f = [
            ("max_order_notional", limits.max_order_notional),
            ("max_gross_exposure", limits.max_gross_exposure),
            ("price_band_bps", limits.price_band_bps),
            ("daily_loss_limit", limits.daily_loss_limit),
            ("max_drawdown", limits.max_drawdown),
        ];
        for (field, v) in positive_f {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(Error::invalid(field, v, "must be finite and > 0"));
                }
            }
        }
        let bucket = |n: Option<u32>, period: i64, field: &'static str| -> Result<Option<Bucket>> {
            match n {
                Some(0) => Err(Error::invalid(field, 0, "must be > 0")),
                Some(n) => Ok(Some(Bucket::new(n, period))),
                None => Ok(None),
            }
        };
        let buckets = [
            bucket(
                limits.max_submits_per_sec,
                NS_PER_SEC,
                "max_submits_per_sec",
            )?,
            bucket(
                limits.max_submits_per_min,
                60 * NS_PER_SEC,
                "max_submits_per_min",
            )?,
            bucket(
                limits.max_modifies_per_sec,
                NS_PER_SEC,
                "max_modifies_per_sec",
            )?,
            bucket(
                limits.max_modifies_per_min,
                60 * NS_PER_SEC,
                "max_modifies_per_min",
            )?,
        ];
        Ok(RiskEngine {
            limits,
            state: TradingState::Active,
            markets: Vec::new(),
            filters: Vec::new(),
            open: HashMap::new(),
            buckets,
            day_start_equity: None,
            day: i64::MIN,
            peak_equity: f64::NEG_INFINITY,
            halt_reason: None,
            accepted: 0,
            rejected: HashMap::new(),
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Registers an instrument (contract size > 0; inverse: notional in quote units);
    /// returns its index.
    pub fn add_instrument(&mut self, contract_size: f64, inverse: bool) -> Result<usize> {
        if !(contract_size.is_finite() && contract_size > 0.0) {
            return Err(Error::invalid(
                "contract_size",
                contract_size,
                "must be finite and > 0",
            ));
        }
        self.markets.push(Market {
            contract_size,
            inverse,
            in_sync: true,
            ..Market::default()
        });
        self.filters.push(OrderFilters::default());
        Ok(self.markets.len() - 1)
    }

    /// Sets the venue's order filters of `instrument` (checked before the limits).
    pub fn set_filters(&mut self, instrument: usize, filters: OrderFilters) -> Result<()> {
        let slot = self
            .filters
            .get_mut(instrument)
            .ok_or_else(|| Error::invalid("instrument", instrument, "is not registered"))?;
        *slot = filters;
        Ok(())
    }

    /// The trading state.
    pub fn state(&self) -> TradingState {
        self.state
    }

    /// Why trading halted by itself, if it did.
    pub fn halt_reason(&self) -> Option<&str> {
        self.halt_reason.as_deref()
    }

    /// Sets the trading state by hand.
    pub fn set_state(&mut self, state: TradingState) {
        self.state = state;
        if state != TradingState::Halted {
            self.halt_reason = None;
        }
    }

    /// Rejections so far, by code.
    pub fn rejected(&self) -> &HashMap<RejectCode, u64> {
        &self.rejected
    }

    /// Open orders.
    pub fn open_orders(&self) -> usize {
        self.open.len()
    }

    /// The engine's position of `instrument`.
    pub fn position(&self, instrument: usize) -> Option<i64> {
        self.markets.get(instrument).map(|m| m.position)
    }

    /// New market data for `instrument`: reference price (fixed point; 0 keeps the previous),
    /// local time and whether the book is in sync.
    pub fn on_market(
        &mut self,
        instrument: usize,
        reference: i64,
        local_ts: i64,
        in_sync: bool,
    ) -> Result<()> {
        let m = self
            .markets
            .get_mut(instrument)
            .ok_or_else(|| Error::invalid("instrument", instrument, "is not registered"))?;
        if reference < 0 {
            return Err(Error::invalid(
                "reference",
                crate::fixed::format(reference),
                "must be >= 0",
            ));
        }
        if reference > 0 {
            m.reference = reference;
        }
        m.data_at = local_ts;
        m.in_sync = in_sync;
        Ok(())
    }

    /// A refusal of `code`, counted with the engine's own (a check made outside the engine,
    /// e.g. the account's, is counted here too).
    pub fn reject(&mut self, code: RejectCode, message: String) -> Reject {
        *self.rejected.entry(code).or_insert(0) += 1;
        Reject { code, message }
    }

    /// Checks `order` at local time `now` (ns).
    #[allow(clippy::too_many_lines)] // the checks, in order: one place to read them
    pub fn check(&mut self, order: &Order, now: i64) -> std::result::Result<ApprovedOrder, Reject> {
        let fmt = crate::fixed::format;
        if order.qty <= 0 || order.price < 0 {
            let msg = format!(
                "qty {} and price {} must be > 0 (price 0 for a market order)",
                fmt(order.qty),
                fmt(order.price)
            );
            return Err(self.reject(RejectCode::InvalidOrder, msg));
        }
        if !order.modify && self.open.contains_key(&order.client_id) {
            let msg = format!("client id {} is already open", order.client_id);
            return Err(self.reject(RejectCode::DuplicateClientId, msg));
        }
        let Some(m) = self.markets.get(order.instrument).cloned() else {
            let msg = format!("instrument {} is not registered", order.instrument);
            return Err(self.reject(RejectCode::UnknownInstrument, msg));
        };
        let sign = order.side.sign();
        // Reducing in the worst case: with every open order on this side filled too, the
        // position does not cross zero.
        let same_side_open = if sign > 0 { m.open_buy } else { m.open_sell };
        let reduces = m.position != 0
            && m.position.signum() == -sign
            && order.qty.saturating_add(same_side_open) <= m.position.abs();
        match self.state {
            TradingState::Halted => {
                let why = self
                    .halt_reason
                    .clone()
                    .unwrap_or_else(|| "set by hand".into());
                return Err(self.reject(
                    RejectCode::Halted,
                    format!("trading is HALTED ({why}): cancels only"),
                ));
            }
            TradingState::Reducing if !reduces => {
                let msg = format!(
                    "trading is REDUCING: {} {} does not reduce the position {}",
                    if sign > 0 { "buy" } else { "sell" },
                    fmt(order.qty),
                    fmt(m.position)
                );
                return Err(self.reject(RejectCode::ReducingOnly, msg));
            }
            _ => {}
        }
        if order.reduce_only && !reduces {
            let msg = format!(
                "reduce-only {} {} against the position {}",
                if sign > 0 { "buy" } else { "sell" },
                fmt(order.qty),
                fmt(m.position)
            );
            return Err(self.reject(RejectCode::ReduceOnlyIncreases, msg));
        }
        if let Some(limit) = self.limits.max_data_age_ns {
            let age = now - m.data_at;
            if !m.in_sync || age > limit {
                let msg = if m.in_sync {
                    format!(
                        "market data is {} ms old, limit {} ms",
                        age / 1_000_000,
                        limit / 1_000_000
                    )
                } else {
                    "the book is out of sync".to_string()
                };
                return Err(self.reject(RejectCode::StaleData, msg));
            }
        }
        if let Err(f) = self.filters[order.instrument].check(
            order.price,
            order.qty,
            m.reference,
            m.contract_size,
            m.inverse,
            order.reduce_only,
        ) {
            return Err(self.reject(RejectCode::Filter, format!("{}: {}", f.filter, f.message)));
        }
        if let Some(limit) = self.limits.max_order_qty {
            if order.qty > limit {
                let msg = format!("qty {} > max_order_qty {}", fmt(order.qty), fmt(limit));
                return Err(self.reject(RejectCode::MaxOrderQty, msg));
            }
        }
        let price = if order.price > 0 {
            order.price
        } else {
            m.reference
        };
        let notional = |qty: i64, price: i64| -> f64 {
            let q = qty.unsigned_abs() as f64 / SCALE * m.contract_size;
            if price == 0 {
                return 0.0;
            }
            if m.inverse {
                q
            } else {
                q * price as f64 / SCALE
            }
        };
        if let Some(limit) = self.limits.max_order_notional {
            if price == 0 {
                return Err(self.reject(
                    RejectCode::NoReferencePrice,
                    "a market order needs a reference price for its notional".into(),
                ));
            }
            let n = notional(order.qty, price);
            if n > limit {
                return Err(self.reject(
                    RejectCode::MaxOrderNotional,
                    format!("notional {n:.2} > max_order_notional {limit:.2}"),
                ));
            }
        }
        if let Some(bps) = self.limits.price_band_bps {
            if order.price > 0 {
                if m.reference == 0 {
                    return Err(self.reject(
                        RejectCode::NoReferencePrice,
                        "no reference price to check the price band".into(),
                    ));
                }
                let r = m.reference as f64;
                let off = (order.price as f64 - r) / r * 1e4;
                if off.abs() > bps {
                    let msg = format!(
                        "price {} is {off:+.1} bps from the reference {}, band ±{bps} bps",
                        fmt(order.price),
                        fmt(m.reference)
                    );
                    return Err(self.reject(RejectCode::PriceBand, msg));
                }
            }
        }
        // Worst case: every open order on this side fills, then this one.
        let worst = |mk: &Market, extra: i64| -> i64 {
            if sign > 0 {
                mk.position + mk.open_buy + extra
            } else {
                mk.position - mk.open_sell - extra
            }
        };
        // A limit is breached when the worst case after the order is beyond it and further
        // from zero than before (an order that moves back toward the limit always passes).
        {
            if let Some(limit) = self.limits.max_position {
                let w = worst(&m, order.qty);
                if w.abs() > limit && w.abs() > worst(&m, 0).abs() {
                    let msg = format!("position could reach {} (position {}, open {} {}, order {}) > max_position {}", fmt(w), fmt(m.position), if sign > 0 { "buys" } else { "sells" }, fmt(if sign > 0 { m.open_buy } else { m.open_sell }), fmt(order.qty), fmt(limit));
                    return Err(self.reject(RejectCode::MaxPosition, msg));
                }
            }
            if let Some(limit) = self.limits.max_gross_exposure {
                let exposure = |extra: i64| -> f64 {
                    let mut gross = 0.0;
                    for (i, mk) in self.markets.iter().enumerate() {
                        let w = if i == order.instrument {
                            // The worse of both sides' worst cases, this order included.
                            let other = if sign > 0 {
                                mk.position - mk.open_sell
                            } else {
                                mk.position + mk.open_buy
                            };
                            worst(mk, extra).abs().max(other.abs())
                        } else {
                            (mk.position + mk.open_buy)
                                .abs()
                                .max((mk.position - mk.open_sell).abs())
                        };
                        let p = if i == order.instrument && price > 0 {
                            price
                        } else {
                            mk.reference
                        };
                        gross += if mk.inverse {
                            w.unsigned_abs() as f64 / SCALE * mk.contract_size
                        } else {
                            w.unsigned_abs() as f64 / SCALE * mk.contract_size * p as f64 / SCALE
                        };
                    }
                    gross
                };
                let gross = exposure(order.qty);
                if gross > limit && gross > exposure(0) {
                    return Err(self.reject(
                        RejectCode::MaxGrossExposure,
                        format!(
                            "gross exposure could reach {gross:.2} > max_gross_exposure {limit:.2}"
                        ),
                    ));
                }
            }
        }
        if let Some(limit) = self.limits.max_open_orders {
            if !order.modify && self.open.len() >= limit as usize {
                return Err(self.reject(
                    RejectCode::MaxOpenOrders,
                    format!("{} open orders, max_open_orders {limit}", self.open.len()),
                ));
            }
        }
        if self.limits.self_trade_prevention && order.price > 0 {
            let crosses = self.open.values().any(|o| {
                o.instrument == order.instrument
                    && o.side != order.side
                    && o.price > 0
                    && o.client_id != order.client_id
                    && if sign > 0 {
                        order.price >= o.price
                    } else {
                        order.price <= o.price
                    }
            });
            if crosses {
                let msg = format!(
                    "{} at {} would cross an own resting order",
                    if sign > 0 { "buy" } else { "sell" },
                    fmt(order.price)
                );
                return Err(self.reject(RejectCode::SelfTrade, msg));
            }
        }
        let (sec, min, code, what) = if order.modify {
            (2, 3, RejectCode::ModifyRate, "modifies")
        } else {
            (0, 1, RejectCode::SubmitRate, "submits")
        };
        for k in [sec, min] {
            if let Some(b) = self.buckets[k].as_mut() {
                if !b.available(now) {
                    let per = if k == sec { "second" } else { "minute" };
                    let cap = b.capacity;
                    return Err(self.reject(code, format!("more than {cap} {what} per {per}")));
                }
            }
        }
        for k in [sec, min] {
            if let Some(b) = self.buckets[k].as_mut() {
                b.take();
            }
        }
        self.accepted += 1;
        Ok(ApprovedOrder { order: *order })
    }

    /// An approved order is resting (or in flight): it counts in the worst-case positions.
    pub fn order_opened(&mut self, approved: &ApprovedOrder) {
        let o = approved.order;
        if let Some(prev) = self.open.insert(o.client_id, o) {
            self.release(&prev, prev.qty);
        }
        if let Some(m) = self.markets.get_mut(o.instrument) {
            match o.side {
                OrderSide::Buy => m.open_buy += o.qty,
                OrderSide::Sell => m.open_sell += o.qty,
            }
        }
    }

    fn release(&mut self, o: &Order, qty: i64) {
        if let Some(m) = self.markets.get_mut(o.instrument) {
            match o.side {
                OrderSide::Buy => m.open_buy = (m.open_buy - qty).max(0),
                OrderSide::Sell => m.open_sell = (m.open_sell - qty).max(0),
            }
        }
    }

    /// After a restart: an order the venue holds open (from the journal, reconciled with the
    /// venue), counted as open without the pre-trade checks (it was checked when sent).
    pub fn restore_open(&mut self, order: &Order) -> Result<()> {
        if order.instrument >= self.markets.len() {
            return Err(Error::invalid(
                "instrument",
                order.instrument,
                "is not registered",
            ));
        }
        if order.qty <= 0 {
            return Err(Error::invalid(
                "qty",
                crate::fixed::format(order.qty),
                "must be > 0",
            ));
        }
        self.order_opened(&ApprovedOrder { order: *order });
        Ok(())
    }

    /// After a restart: the position the venue holds (fixed point, signed).
    pub fn restore_position(&mut self, instrument: usize, qty: i64) -> Result<()> {
        let m = self
            .markets
            .get_mut(instrument)
            .ok_or_else(|| Error::invalid("instrument", instrument, "is not registered"))?;
        m.position = qty;
        Ok(())
    }

    /// A resting order was cancelled or rejected by the venue.
    pub fn order_closed(&mut self, client_id: u64) {
        if let Some(o) = self.open.remove(&client_id) {
            self.release(&o, o.qty);
        }
    }

    /// A fill of an open order (`qty` fixed point): the position moves, the open quantity
    /// shrinks, and the order closes when filled.
    pub fn on_fill(&mut self, client_id: u64, qty: i64) -> Result<()> {
        if qty <= 0 {
            return Err(Error::invalid(
                "qty",
                crate::fixed::format(qty),
                "must be > 0",
            ));
        }
        let Some(mut o) = self.open.get(&client_id).copied() else {
            return Err(Error::invalid(
                "client_id",
                client_id,
                "is not an open order",
            ));
        };
        // The position moves by the whole fill; the open quantity by what was still open
        // (a fill can exceed it when a smaller modification was overtaken by the fill).
        let filled = qty.min(o.qty);
        self.release(&o, filled);
        if let Some(m) = self.markets.get_mut(o.instrument) {
            m.position += o.side.sign() * qty;
        }
        o.qty -= filled;
        if o.qty == 0 {
            self.open.remove(&client_id);
        } else {
            self.open.insert(client_id, o);
        }
        Ok(())
    }

    /// The account's equity at local time `now`: checks the daily loss limit and the max
    /// drawdown. When one is breached the state switches to HALTED, and the client ids of
    /// every open order (to cancel) are returned.
    pub fn on_equity(&mut self, equity: f64, now: i64) -> Result<Option<Vec<u64>>> {
        if !equity.is_finite() {
            return Err(Error::invalid("equity", equity, "must be finite"));
        }
        let day = now.div_euclid(86_400 * NS_PER_SEC);
        if day != self.day {
            self.day = day;
            self.day_start_equity = Some(equity);
        }
        self.peak_equity = self.peak_equity.max(equity);
        let mut why = None;
        if let (Some(limit), Some(start)) = (self.limits.daily_loss_limit, self.day_start_equity) {
            if start - equity >= limit {
                why = Some(format!(
                    "daily loss {:.2} >= daily_loss_limit {limit:.2}",
                    start - equity
                ));
            }
        }
        if let Some(limit) = self.limits.max_drawdown {
            let dd = self.peak_equity - equity;
            if why.is_none() && dd >= limit {
                why = Some(format!("drawdown {dd:.2} >= max_drawdown {limit:.2}"));
            }
        }
        match why {
            Some(reason) if self.state != TradingState::Halted => Ok(Some(self.halt(reason))),
            _ => Ok(None),
        }
    }

    /// The kill switch: the state becomes HALTED (every new order is refused until the state
    /// is set by hand), and the client ids of the open orders (to cancel) are returned,
    /// lowest first.
    pub fn halt(&mut self, reason: impl Into<String>) -> Vec<u64> {
        self.state = TradingState::Halted;
        self.halt_reason = Some(reason.into());
        let mut ids: Vec<u64> = self.open.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: i64 = 1_000_000_000;

    fn order(id: u64, side: OrderSide, price: f64, qty: f64) -> Order {
        Order {
            client_id: id,
            instrument: 0,
            side,
            price: (price * 1e9).round() as i64,
            qty: (qty * 1e9).round() as i64,
            reduce_only: false,
            modify: false,
        }
    }

    fn engine(limits: RiskLimits) -> RiskEngine {
        let mut e = RiskEngine::new(limits).unwrap();
        e.add_instrument(1.0, false).unwrap();
        e.on_market(0, 100 * Q, 0, true).unwrap();
        e
    }

    #[test]
    fn a_table_of_bad_orders_and_their_reasons() {
        let limits = RiskLimits {
            max_order_qty: Some(5 * Q),
            max_order_notional: Some(400.0),
            max_position: Some(6 * Q),
            price_band_bps: Some(100.0),
            max_open_orders: Some(3),
            max_data_age_ns: Some(NS_PER_SEC),
            self_trade_prevention: true,
            ..RiskLimits::default()
        };
        let cases: Vec<(Order, RejectCode)> = vec![
            (
                order(1, OrderSide::Buy, 100.0, 0.0),
                RejectCode::InvalidOrder,
            ),
            (
                Order {
                    instrument: 7,
                    ..order(2, OrderSide::Buy, 100.0, 1.0)
                },
                RejectCode::UnknownInstrument,
            ),
            (
                order(3, OrderSide::Buy, 100.0, 6.0),
                RejectCode::MaxOrderQty,
            ),
            (
                order(4, OrderSide::Buy, 100.0, 4.5),
                RejectCode::MaxOrderNotional,
            ),
            (order(5, OrderSide::Buy, 102.0, 1.0), RejectCode::PriceBand),
            (
                Order {
                    reduce_only: true,
                    ..order(6, OrderSide::Sell, 100.0, 1.0)
                },
                RejectCode::ReduceOnlyIncreases,
            ),
        ];
        for (o, code) in cases {
            let mut e = engine(limits.clone());
            let r = e.check(&o, 0).unwrap_err();
            assert_eq!(r.code, code, "{o:?}: {}", r.message);
        }
        // Stale data, then out of sync.
        let mut e = engine(limits.clone());
        assert_eq!(
            e.check(&order(1, OrderSide::Buy, 100.0, 1.0), 2 * NS_PER_SEC)
                .unwrap_err()
                .code,
            RejectCode::StaleData
        );
        e.on_market(0, 0, 0, false).unwrap();
        let r = e
            .check(&order(1, OrderSide::Buy, 100.0, 1.0), 0)
            .unwrap_err();
        assert_eq!(
            (r.code, r.message.as_str()),
            (RejectCode::StaleData, "the book is out of sync")
        );
        // Worst-case position counts open orders; self-trade; open-order count; duplicate id.
        let mut e = engine(limits);
        let a = e.check(&order(1, OrderSide::Buy, 99.5, 4.0), 0).unwrap();
        e.order_opened(&a);
        let r = e
            .check(&order(2, OrderSide::Buy, 99.5, 3.0), 0)
            .unwrap_err();
        assert_eq!(r.code, RejectCode::MaxPosition, "{}", r.message);
        assert!(
            r.message.contains("position could reach 7") && r.message.contains("max_position 6"),
            "{}",
            r.message
        );
        let s = e.check(&order(3, OrderSide::Sell, 100.5, 1.0), 0).unwrap();
        e.order_opened(&s);
        assert_eq!(
            e.check(&order(4, OrderSide::Buy, 100.5, 1.0), 0)
                .unwrap_err()
                .code,
            RejectCode::SelfTrade
        );
        assert_eq!(
            e.check(&order(1, OrderSide::Buy, 99.0, 1.0), 0)
                .unwrap_err()
                .code,
            RejectCode::DuplicateClientId
        );
        let b = e.check(&order(5, OrderSide::Buy, 99.0, 1.0), 0).unwrap();
        e.order_opened(&b);
        assert_eq!(
            e.check(&order(6, OrderSide::Sell, 101.0, 1.0), 0)
                .unwrap_err()
                .code,
            RejectCode::MaxOpenOrders
        );
    }

    #[test]
    fn rate_limits_refill_over_time() {
        let mut e = engine(RiskLimits {
            max_submits_per_sec: Some(2),
            max_modifies_per_sec: Some(1),
            ..RiskLimits::default()
        });
        assert!(e.check(&order(1, OrderSide::Buy, 100.0, 1.0), 0).is_ok());
        assert!(e.check(&order(2, OrderSide::Buy, 100.0, 1.0), 0).is_ok());
        assert_eq!(
            e.check(&order(3, OrderSide::Buy, 100.0, 1.0), 0)
                .unwrap_err()
                .code,
            RejectCode::SubmitRate
        );
        // Modifies have their own bucket.
        assert!(e
            .check(
                &Order {
                    modify: true,
                    ..order(1, OrderSide::Buy, 100.0, 1.0)
                },
                0
            )
            .is_ok());
        assert_eq!(
            e.check(
                &Order {
                    modify: true,
                    ..order(1, OrderSide::Buy, 100.0, 1.0)
                },
                0
            )
            .unwrap_err()
            .code,
            RejectCode::ModifyRate
        );
        assert!(e
            .check(&order(3, OrderSide::Buy, 100.0, 1.0), NS_PER_SEC / 2)
            .is_ok());
    }

    #[test]
    fn states_and_the_kill_switch() {
        let mut e = engine(RiskLimits {
            daily_loss_limit: Some(100.0),
            max_drawdown: Some(250.0),
            ..RiskLimits::default()
        });
        let a = e.check(&order(1, OrderSide::Buy, 100.0, 2.0), 0).unwrap();
        e.order_opened(&a);
        e.on_fill(1, 2 * Q).unwrap();
        assert_eq!(e.position(0), Some(2 * Q));
        e.set_state(TradingState::Reducing);
        assert_eq!(
            e.check(&order(2, OrderSide::Buy, 100.0, 1.0), 0)
                .unwrap_err()
                .code,
            RejectCode::ReducingOnly
        );
        assert!(e.check(&order(3, OrderSide::Sell, 100.0, 1.0), 0).is_ok());
        e.set_state(TradingState::Active);
        let rest = e.check(&order(4, OrderSide::Buy, 99.0, 1.0), 0).unwrap();
        e.order_opened(&rest);
        assert_eq!(e.on_equity(10_000.0, 1).unwrap(), None);
        assert_eq!(e.on_equity(9_950.0, 2).unwrap(), None);
        let cancel = e.on_equity(9_899.0, 3).unwrap();
        assert_eq!(cancel, Some(vec![4]));
        assert_eq!(e.state(), TradingState::Halted);
        assert!(e
            .halt_reason()
            .unwrap()
            .contains("daily loss 101.00 >= daily_loss_limit 100.00"));
        let r = e
            .check(&order(5, OrderSide::Sell, 100.0, 1.0), 4)
            .unwrap_err();
        assert_eq!(r.code, RejectCode::Halted);
    }

    #[test]
    fn a_restart_restores_position_and_open_orders_without_checks() {
        let mut e = engine(RiskLimits {
            max_position: Some(3 * Q),
            ..RiskLimits::default()
        });
        e.restore_position(0, 2 * Q).unwrap();
        e.restore_open(&order(5, OrderSide::Buy, 100.0, 1.0))
            .unwrap();
        assert_eq!(e.position(0), Some(2 * Q));
        assert_eq!(e.open_orders(), 1);
        // the worst case (2 held + 1 open + 1 new) breaches max_position 3
        let r = e
            .check(&order(6, OrderSide::Buy, 100.0, 1.0), 0)
            .unwrap_err();
        assert_eq!(r.code, RejectCode::MaxPosition);
        e.on_fill(5, Q).unwrap();
        assert_eq!(e.position(0), Some(3 * Q));
        assert!(e.restore_position(9, Q).is_err());
        assert!(e
            .restore_open(&order(7, OrderSide::Buy, 100.0, 0.0))
            .is_err());
    }

    #[test]
    fn the_manual_kill_switch_halts_and_lists_the_open_orders() {
        let mut e = engine(RiskLimits::default());
        for id in [7, 3] {
            let a = e.check(&order(id, OrderSide::Buy, 100.0, 1.0), 0).unwrap();
            e.order_opened(&a);
        }
        assert_eq!(e.halt("operator"), vec![3, 7]);
        assert_eq!(e.state(), TradingState::Halted);
        assert_eq!(e.halt_reason(), Some("operator"));
        let r = e
            .check(&order(9, OrderSide::Sell, 100.0, 1.0), 1)
            .unwrap_err();
        assert_eq!(r.code, RejectCode::Halted);
        assert!(r.message.contains("operator"), "{}", r.message);
    }

    proptest::proptest! {
        /// Whatever orders are submitted, filled (in part or whole) and cancelled, positions
        /// and the gross exposure never exceed their limits: the checks count open orders in
        /// the worst case.
        #[test]
        fn approved_orders_never_breach_position_or_exposure(
            ops in proptest::collection::vec((0u8..4, proptest::bool::ANY, 1i64..40, 0usize..2, 0u8..8), 1..200),
        ) {
            let limits = RiskLimits {
                max_position: Some(10 * Q),
                max_gross_exposure: Some(1_500.0),
                ..RiskLimits::default()
            };
            let mut e = RiskEngine::new(limits).unwrap();
            e.add_instrument(1.0, false).unwrap();
            e.add_instrument(1.0, false).unwrap();
            e.on_market(0, 100 * Q, 0, true).unwrap();
            e.on_market(1, 50 * Q, 0, true).unwrap();
            let mut next_id = 1u64;
            for (op, buy, tenths, instrument, pick) in ops {
                let qty = tenths * Q / 10 * 5;
                match op {
                    0 | 1 => {
                        let o = Order {
                            client_id: next_id,
                            instrument,
                            side: if buy { OrderSide::Buy } else { OrderSide::Sell },
                            price: if instrument == 0 { 100 * Q } else { 50 * Q },
                            qty,
                            reduce_only: false,
                            modify: false,
                        };
                        next_id += 1;
                        if let Ok(a) = e.check(&o, 0) {
                            e.order_opened(&a);
                        }
                    }
                    2 => {
                        let mut ids: Vec<u64> = e.open.keys().copied().collect();
                        ids.sort_unstable();
                        if let Some(&id) = ids.get(usize::from(pick) % ids.len().max(1)) {
                            // A venue fills at most the open quantity.
                            let open = e.open[&id].qty;
                            e.on_fill(id, qty.min(open)).unwrap();
                        }
                    }
                    _ => {
                        let mut ids: Vec<u64> = e.open.keys().copied().collect();
                        ids.sort_unstable();
                        if let Some(&id) = ids.get(usize::from(pick) % ids.len().max(1)) {
                            e.order_closed(id);
                        }
                    }
                }
                let p0 = e.position(0).unwrap();
                let p1 = e.position(1).unwrap();
                proptest::prop_assert!(p0.abs() <= 10 * Q && p1.abs() <= 10 * Q);
                let gross = p0.unsigned_abs() as f64 / 1e9 * 100.0 + p1.unsigned_abs() as f64 / 1e9 * 50.0;
                proptest::prop_assert!(gross <= 1_500.0 + 1e-9, "gross {}", gross);
            }
        }
    }

    #[test]
    fn limits_are_validated() {
        assert!(RiskEngine::new(RiskLimits {
            max_order_qty: Some(0),
            ..RiskLimits::default()
        })
        .is_err());
        assert!(RiskEngine::new(RiskLimits {
            price_band_bps: Some(f64::NAN),
            ..RiskLimits::default()
        })
        .is_err());
        assert!(RiskEngine::new(RiskLimits {
            max_submits_per_sec: Some(0),
            ..RiskLimits::default()
        })
        .is_err());
        let mut e = engine(RiskLimits::default());
        assert!(e.on_equity(f64::INFINITY, 0).is_err());
        assert!(e.add_instrument(-1.0, false).is_err());
    }
}
