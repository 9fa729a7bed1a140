//! `tradecore.RiskEngine` and `tradecore.Portfolio`: thin wrappers over `engine_core::risk`.
//! Prices and quantities arrive as floats and are converted to fixed point here (NaN, inf,
//! and values off the 1e-9 grid are refused naming the field).

// pyo3 hands extracted arguments over by value.
#![allow(clippy::needless_pass_by_value)]

use engine_core::fixed::{from_f64, to_f64};
use engine_core::risk::{
    ContractKind, ContractSpec, Fill, Order, OrderSide, Portfolio, RiskEngine, RiskLimits,
    TradingState,
};
use pyo3::prelude::*;

use crate::errors::{invalid, CoreErr};
use crate::instrument::PyOrderFilters;

fn side_of(side: &str) -> PyResult<OrderSide> {
    match side {
        "buy" | "bid" => Ok(OrderSide::Buy),
        "sell" | "ask" => Ok(OrderSide::Sell),
        other => Err(invalid("side", other, "must be 'buy' or 'sell'")),
    }
}

fn positive(field: &'static str, v: f64) -> PyResult<i64> {
    let x = from_f64(field, v).map_err(CoreErr)?;
    if x <= 0 {
        return Err(invalid(field, v, "must be > 0"));
    }
    Ok(x)
}

/// An order from Python's arguments (price None: a market order), each field checked.
fn order_of(
    client_id: u64,
    instrument: usize,
    side: &str,
    qty: f64,
    price: Option<f64>,
    reduce_only: bool,
    modify: bool,
) -> PyResult<Order> {
    Ok(Order {
        client_id,
        instrument,
        side: side_of(side)?,
        price: price
            .map(|p| positive("price", p))
            .transpose()?
            .unwrap_or(0),
        qty: positive("qty", qty)?,
        reduce_only,
        modify,
    })
}

/// The Python name of a trading state.
pub(crate) fn state_name(state: TradingState) -> &'static str {
    match state {
        TradingState::Active => "active",
        TradingState::Reducing => "reducing",
        TradingState::Halted => "halted",
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The outcome of a check.
#[pyclass(module = "tradecore._core", frozen, get_all)]
pub struct Decision {
    accepted: bool,
    /// Reject reason code (`None` when accepted).
    code: Option<&'static str>,
    message: String,
}

#[pymethods]
impl Decision {
    fn __bool__(&self) -> bool {
        self.accepted
    }

    fn __repr__(&self) -> String {
        match self.code {
            None => "Decision(accepted)".into(),
            Some(c) => format!("Decision(rejected: {c}: {})", self.message),
        }
    }
}

/// Pre-trade risk checks (see `tradecore.RiskEngine`).
#[pyclass(module = "tradecore._core", name = "RiskEngine", subclass)]
pub struct PyRiskEngine {
    pub(crate) inner: RiskEngine,
}

#[pymethods]
impl PyRiskEngine {
    #[new]
    #[pyo3(signature = (*, max_order_qty = None, max_order_notional = None, max_position = None, max_gross_exposure = None, price_band_bps = None, max_submits_per_sec = None, max_submits_per_min = None, max_modifies_per_sec = None, max_modifies_per_min = None, max_open_orders = None, max_data_age_ms = None, daily_loss_limit = None, max_drawdown = None, self_trade_prevention = false))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn new(
        max_order_qty: Option<f64>,
        max_order_notional: Option<f64>,
        max_position: Option<f64>,
        max_gross_exposure: Option<f64>,
        price_band_bps: Option<f64>,
        max_submits_per_sec: Option<u32>,
        max_submits_per_min: Option<u32>,
        max_modifies_per_sec: Option<u32>,
        max_modifies_per_min: Option<u32>,
        max_open_orders: Option<u32>,
        max_data_age_ms: Option<f64>,
        daily_loss_limit: Option<f64>,
        max_drawdown: Option<f64>,
        self_trade_prevention: bool,
    ) -> PyResult<Self> {
        let age = match max_data_age_ms {
            None => None,
            Some(ms) if ms.is_finite() && ms > 0.0 => Some((ms * 1e6) as i64),
            Some(ms) => return Err(invalid("max_data_age_ms", ms, "must be finite and > 0")),
        };
        let limits = RiskLimits {
            max_order_qty: max_order_qty
                .map(|v| positive("max_order_qty", v))
                .transpose()?,
            max_order_notional,
            max_position: max_position
                .map(|v| positive("max_position", v))
                .transpose()?,
            max_gross_exposure,
            price_band_bps,
            max_submits_per_sec,
            max_submits_per_min,
            max_modifies_per_sec,
            max_modifies_per_min,
            max_open_orders,
            max_data_age_ns: age,
            daily_loss_limit,
            max_drawdown,
            self_trade_prevention,
        };
        Ok(PyRiskEngine {
            inner: RiskEngine::new(limits).map_err(CoreErr)?,
        })
    }

    /// Registers an instrument; returns its index.
    #[pyo3(signature = (contract_size = 1.0, inverse = false))]
    fn add_instrument(&mut self, contract_size: f64, inverse: bool) -> PyResult<usize> {
        self.inner
            .add_instrument(contract_size, inverse)
            .map_err(|e| CoreErr(e).into())
    }

    /// Sets the venue's order filters of `instrument`.
    fn set_filters(
        &mut self,
        instrument: usize,
        filters: PyRef<'_, PyOrderFilters>,
    ) -> PyResult<()> {
        self.inner
            .set_filters(instrument, filters.inner)
            .map_err(|e| CoreErr(e).into())
    }

    /// New market data: reference price (mid or last; None keeps the previous), local time in
    /// ns (default now) and whether the book is in sync.
    #[pyo3(signature = (instrument, reference = None, local_ts = None, in_sync = true))]
    fn on_market(
        &mut self,
        instrument: usize,
        reference: Option<f64>,
        local_ts: Option<i64>,
        in_sync: bool,
    ) -> PyResult<()> {
        let r = reference
            .map(|v| positive("reference", v))
            .transpose()?
            .unwrap_or(0);
        self.inner
            .on_market(instrument, r, local_ts.unwrap_or_else(now_ns), in_sync)
            .map_err(|e| CoreErr(e).into())
    }

    /// Checks an order; an accepted order counts as open from now on (call `order_closed` if
    /// it is not sent, is rejected by the venue or cancelled).
    #[pyo3(signature = (client_id, instrument, side, qty, price = None, *, reduce_only = false, modify = false, now = None))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn check(
        &mut self,
        client_id: u64,
        instrument: usize,
        side: &str,
        qty: f64,
        price: Option<f64>,
        reduce_only: bool,
        modify: bool,
        now: Option<i64>,
    ) -> PyResult<Decision> {
        let order = order_of(client_id, instrument, side, qty, price, reduce_only, modify)?;
        Ok(match self.inner.check(&order, now.unwrap_or_else(now_ns)) {
            Ok(approved) => {
                self.inner.order_opened(&approved);
                Decision {
                    accepted: true,
                    code: None,
                    message: String::new(),
                }
            }
            Err(r) => Decision {
                accepted: false,
                code: Some(r.code.name()),
                message: r.message,
            },
        })
    }

    /// After a restart: an order the venue holds open, counted as open without the checks.
    #[pyo3(signature = (client_id, instrument, side, qty, price = None, *, reduce_only = false))]
    fn restore_open(
        &mut self,
        client_id: u64,
        instrument: usize,
        side: &str,
        qty: f64,
        price: Option<f64>,
        reduce_only: bool,
    ) -> PyResult<()> {
        let order = order_of(client_id, instrument, side, qty, price, reduce_only, false)?;
        self.inner
            .restore_open(&order)
            .map_err(|e| CoreErr(e).into())
    }

    /// After a restart: the position the venue holds (signed).
    fn restore_position(&mut self, instrument: usize, qty: f64) -> PyResult<()> {
        let q = from_f64("qty", qty).map_err(CoreErr)?;
        self.inner
            .restore_position(instrument, q)
            .map_err(|e| CoreErr(e).into())
    }

    /// The kill switch: the state becomes 'halted' with this reason (every new order is
    /// refused until the state is set by hand); returns the open orders' ids, to cancel.
    fn halt(&mut self, reason: &str) -> Vec<u64> {
        self.inner.halt(reason)
    }

    /// An open order was cancelled, or never sent.
    fn order_closed(&mut self, client_id: u64) {
        self.inner.order_closed(client_id);
    }

    /// A fill of an open order.
    fn on_fill(&mut self, client_id: u64, qty: f64) -> PyResult<()> {
        self.inner
            .on_fill(client_id, positive("qty", qty)?)
            .map_err(|e| CoreErr(e).into())
    }

    /// The account equity: may switch to HALTED; returns the client ids to cancel when it does.
    #[pyo3(signature = (equity, now = None))]
    fn on_equity(&mut self, equity: f64, now: Option<i64>) -> PyResult<Option<Vec<u64>>> {
        self.inner
            .on_equity(equity, now.unwrap_or_else(now_ns))
            .map_err(|e| CoreErr(e).into())
    }

    /// 'active', 'reducing' or 'halted'.
    #[getter]
    fn state(&self) -> &'static str {
        state_name(self.inner.state())
    }

    #[setter]
    fn set_state(&mut self, state: &str) -> PyResult<()> {
        self.inner.set_state(match state {
            "active" => TradingState::Active,
            "reducing" => TradingState::Reducing,
            "halted" => TradingState::Halted,
            other => {
                return Err(invalid(
                    "state",
                    other,
                    "must be active, reducing or halted",
                ))
            }
        });
        Ok(())
    }

    #[getter]
    fn halt_reason(&self) -> Option<String> {
        self.inner.halt_reason().map(str::to_string)
    }

    #[getter]
    fn accepted(&self) -> u64 {
        self.inner.accepted
    }

    /// Rejections by reason code.
    #[getter]
    fn rejected(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.inner
            .rejected()
            .iter()
            .map(|(k, v)| (k.name(), *v))
            .collect()
    }

    #[getter]
    fn open_orders(&self) -> usize {
        self.inner.open_orders()
    }

    /// The engine's position of `instrument` (from fills).
    fn position(&self, instrument: usize) -> PyResult<f64> {
        self.inner
            .position(instrument)
            .map(|q| q as f64 / 1e9)
            .ok_or_else(|| invalid("instrument", instrument, "is not registered"))
    }
}

/// Positions and PnL (see `tradecore.Portfolio`).
/// A position and its PnL (settlement currency), from the backtest, paper or real trading.
#[pyclass(module = "tradecore._core", frozen, get_all, eq)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Signed quantity: > 0 long.
    pub qty: f64,
    /// Average entry price (0.0 when flat).
    pub avg_price: f64,
    /// PnL realized by reducing or closing, before fees.
    pub realized: f64,
    /// PnL of the open quantity at the last mark.
    pub unrealized: f64,
    /// Fees paid (a rebate counts negative).
    pub fees: f64,
}

impl Position {
    /// The position of `instrument` in `portfolio`, with its `unrealized` PnL.
    pub(crate) fn of(
        portfolio: &Portfolio,
        instrument: usize,
        unrealized: f64,
    ) -> PyResult<Position> {
        let p = portfolio.position(instrument).map_err(CoreErr)?;
        Ok(Position {
            qty: to_f64(p.qty),
            avg_price: p.avg_price,
            realized: p.realized,
            unrealized,
            fees: p.fees,
        })
    }
}

#[pymethods]
impl Position {
    #[new]
    #[pyo3(signature = (qty, avg_price, realized, unrealized, fees))]
    fn new(qty: f64, avg_price: f64, realized: f64, unrealized: f64, fees: f64) -> Self {
        Position {
            qty,
            avg_price,
            realized,
            unrealized,
            fees,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Position(qty={}, avg_price={}, realized={}, unrealized={}, fees={})",
            self.qty, self.avg_price, self.realized, self.unrealized, self.fees
        )
    }
}

#[pyclass(module = "tradecore._core", name = "Portfolio")]
pub struct PyPortfolio {
    inner: Portfolio,
}

#[pymethods]
impl PyPortfolio {
    #[new]
    #[pyo3(signature = (initial_capital = 0.0))]
    fn new(initial_capital: f64) -> PyResult<Self> {
        Ok(PyPortfolio {
            inner: Portfolio::new(initial_capital).map_err(CoreErr)?,
        })
    }

    /// Registers an instrument: kind 'linear' (or 'spot') or 'inverse'; returns its index.
    #[pyo3(signature = (kind = "linear", contract_size = 1.0, maker_fee = 0.0, taker_fee = 0.0))]
    fn add_instrument(
        &mut self,
        kind: &str,
        contract_size: f64,
        maker_fee: f64,
        taker_fee: f64,
    ) -> PyResult<usize> {
        let kind = match kind {
            "linear" | "spot" => ContractKind::Linear,
            "inverse" => ContractKind::Inverse,
            other => return Err(invalid("kind", other, "must be spot, linear or inverse")),
        };
        let spec = ContractSpec::new(kind, contract_size, maker_fee, taker_fee).map_err(CoreErr)?;
        Ok(self.inner.add_instrument(spec))
    }

    /// Books a fill.
    #[pyo3(signature = (instrument, side, price, qty, *, maker = false))]
    fn fill(
        &mut self,
        instrument: usize,
        side: &str,
        price: f64,
        qty: f64,
        maker: bool,
    ) -> PyResult<()> {
        let f = Fill {
            instrument,
            side: if side_of(side)? == OrderSide::Buy {
                1
            } else {
                -1
            },
            price: positive("price", price)?,
            qty: positive("qty", qty)?,
            maker,
        };
        self.inner.fill(&f).map_err(|e| CoreErr(e).into())
    }

    /// Marks an instrument at a price.
    fn mark(&mut self, instrument: usize, price: f64) -> PyResult<()> {
        self.inner
            .mark(instrument, positive("price", price)?)
            .map_err(|e| CoreErr(e).into())
    }

    /// The position of an instrument at its last mark.
    fn position(&self, instrument: usize) -> PyResult<Position> {
        let u = self.inner.unrealized(instrument).map_err(CoreErr)?;
        Position::of(&self.inner, instrument, u)
    }

    #[getter]
    fn equity(&self) -> f64 {
        self.inner.equity()
    }

    #[getter]
    fn drawdown(&self) -> f64 {
        self.inner.drawdown()
    }

    #[getter]
    fn max_drawdown(&self) -> f64 {
        self.inner.max_drawdown()
    }

    #[getter]
    fn peak_equity(&self) -> f64 {
        self.inner.peak_equity()
    }

    fn __repr__(&self) -> String {
        format!(
            "Portfolio(instruments={}, equity={:.2}, drawdown={:.2})",
            self.inner.len(),
            self.inner.equity(),
            self.inner.drawdown()
        )
    }
}
