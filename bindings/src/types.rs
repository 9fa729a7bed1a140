//! The core's order vocabulary as Python enums (`Side`, `OrderType`, `TimeInForce`,
//! `OrderStatus`) and the conversions of an order's fields every binding shares. Each enum
//! compares equal to its code (`Side.BUY == 1`, `OrderStatus.FILLED == 1`), the code the
//! result arrays hold, and to its lower-case name (`OrderStatus.FILLED == "filled"`), which
//! `str()` gives; a comparison with a string that names no member raises `InvalidInput`
//! (a misspelt status is an error, never a silent `False`).

// Python methods take `&self` (a pyclass is borrowed from its Python object), small or not.
#![allow(clippy::trivially_copy_pass_by_ref)]

use engine_core::fixed::from_f64;
use engine_core::types as core;
use pyo3::basic::CompareOp;
use pyo3::prelude::*;

use crate::errors::{invalid, CoreErr};

/// Buy or sell; equal to +1 / -1.
#[pyclass(module = "tradecore._core", frozen, from_py_object)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)] // Python enum names
pub enum Side {
    BUY = 1,
    SELL = -1,
}

/// Market, limit, stop (market/limit) or take-profit (market/limit); equal to its code (0..5).
#[pyclass(module = "tradecore._core", frozen, from_py_object)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)] // Python enum names
pub enum OrderType {
    MARKET = 0,
    LIMIT = 1,
    STOP_MARKET = 2,
    STOP_LIMIT = 3,
    TAKE_PROFIT_MARKET = 4,
    TAKE_PROFIT_LIMIT = 5,
}

/// GTC, IOC, FOK or post-only; equal to its code (0..3).
#[pyclass(module = "tradecore._core", frozen, from_py_object)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)] // Python enum names
pub enum TimeInForce {
    GTC = 0,
    IOC = 1,
    FOK = 2,
    POST_ONLY = 3,
}

/// An order's status; equal to its code (0..8). Statuses only move forward
/// (`can_become`); a terminal one is never left.
#[pyclass(module = "tradecore._core", frozen, from_py_object)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)] // Python enum names
pub enum OrderStatus {
    OPEN = 0,
    FILLED = 1,
    CANCELLED = 2,
    REJECTED = 3,
    REFUSED = 4,
    PENDING = 5,
    UNKNOWN = 6,
    PARTIALLY_FILLED = 7,
    EXPIRED = 8,
}

/// `==`/`!=` with the same enum, its code or its name; hash of the code.
macro_rules! py_enum_methods {
    ($ty:ident, $field:literal, $names:expr, { $($extra:item)* }) => {
        #[pymethods]
        impl $ty {
            $($extra)*

            fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
                let py = other.py();
                let eq = if let Ok(o) = other.cast::<$ty>() {
                    Some(*o.get() == *self)
                } else if let Ok(name) = other.extract::<String>() {
                    let names: &[&str] = &$names;
                    if !names.contains(&name.as_str()) {
                        return Err(invalid(
                            $field,
                            format!("{name:?}"),
                            &format!("names no {} (one of {})", stringify!($ty), names.join(", ")),
                        ));
                    }
                    Some(self.__str__() == name)
                } else if let Ok(code) = other.extract::<i64>() {
                    Some(*self as i64 == code)
                } else {
                    None
                };
                Ok(match (eq, op) {
                    (Some(e), CompareOp::Eq) => e.into_pyobject(py)?.to_owned().into_any().unbind(),
                    (Some(e), CompareOp::Ne) => (!e).into_pyobject(py)?.to_owned().into_any().unbind(),
                    _ => py.NotImplemented(),
                })
            }

            fn __hash__(&self) -> isize {
                *self as isize
            }

            fn __int__(&self) -> isize {
                *self as isize
            }

            fn __index__(&self) -> isize {
                *self as isize
            }
        }
    };
}

impl From<core::OrderSide> for Side {
    fn from(s: core::OrderSide) -> Self {
        match s {
            core::OrderSide::Buy => Side::BUY,
            core::OrderSide::Sell => Side::SELL,
        }
    }
}

impl From<Side> for core::OrderSide {
    fn from(s: Side) -> Self {
        match s {
            Side::BUY => core::OrderSide::Buy,
            Side::SELL => core::OrderSide::Sell,
        }
    }
}

impl From<core::TimeInForce> for TimeInForce {
    fn from(t: core::TimeInForce) -> Self {
        match t {
            core::TimeInForce::Gtc => TimeInForce::GTC,
            core::TimeInForce::Ioc => TimeInForce::IOC,
            core::TimeInForce::Fok => TimeInForce::FOK,
            core::TimeInForce::PostOnly => TimeInForce::POST_ONLY,
        }
    }
}

impl From<TimeInForce> for core::TimeInForce {
    fn from(t: TimeInForce) -> Self {
        match t {
            TimeInForce::GTC => core::TimeInForce::Gtc,
            TimeInForce::IOC => core::TimeInForce::Ioc,
            TimeInForce::FOK => core::TimeInForce::Fok,
            TimeInForce::POST_ONLY => core::TimeInForce::PostOnly,
        }
    }
}

impl From<core::OrderType> for OrderType {
    fn from(t: core::OrderType) -> Self {
        match t {
            core::OrderType::Market => OrderType::MARKET,
            core::OrderType::Limit => OrderType::LIMIT,
            core::OrderType::StopMarket => OrderType::STOP_MARKET,
            core::OrderType::StopLimit => OrderType::STOP_LIMIT,
            core::OrderType::TakeProfitMarket => OrderType::TAKE_PROFIT_MARKET,
            core::OrderType::TakeProfitLimit => OrderType::TAKE_PROFIT_LIMIT,
        }
    }
}

impl From<core::OrderStatus> for OrderStatus {
    fn from(s: core::OrderStatus) -> Self {
        match s {
            core::OrderStatus::Open => OrderStatus::OPEN,
            core::OrderStatus::Filled => OrderStatus::FILLED,
            core::OrderStatus::Cancelled => OrderStatus::CANCELLED,
            core::OrderStatus::Rejected => OrderStatus::REJECTED,
            core::OrderStatus::Refused => OrderStatus::REFUSED,
            core::OrderStatus::Pending => OrderStatus::PENDING,
            core::OrderStatus::Unknown => OrderStatus::UNKNOWN,
            core::OrderStatus::PartiallyFilled => OrderStatus::PARTIALLY_FILLED,
            core::OrderStatus::Expired => OrderStatus::EXPIRED,
        }
    }
}

impl OrderStatus {
    fn core(self) -> core::OrderStatus {
        // The discriminants are the core's codes.
        core::OrderStatus::ALL[self as usize]
    }
}

py_enum_methods!(Side, "side", ["buy", "sell"], {
    fn __str__(&self) -> &'static str {
        core::OrderSide::from(*self).name()
    }

    /// The side of a name (`buy`, `sell`) or a sign (+1, -1).
    #[staticmethod]
    fn of(value: &Bound<'_, PyAny>) -> PyResult<Side> {
        if let Ok(s) = value.extract::<Side>() {
            return Ok(s);
        }
        if let Ok(name) = value.extract::<String>() {
            return match name.as_str() {
                "buy" => Ok(Side::BUY),
                "sell" => Ok(Side::SELL),
                _ => Err(invalid(
                    "side",
                    format!("{name:?}"),
                    "must be 'buy' or 'sell'",
                )),
            };
        }
        match value.extract::<i64>() {
            Ok(sign) => Ok(core::OrderSide::from_sign(sign).map_err(CoreErr)?.into()),
            Err(_) => Err(invalid(
                "side",
                value.repr()?,
                "must be a Side, 'buy'/'sell' or +1/-1",
            )),
        }
    }
});

py_enum_methods!(
    OrderType,
    "order_type",
    [
        "market",
        "limit",
        "stop_market",
        "stop_limit",
        "take_profit_market",
        "take_profit_limit"
    ],
    {
        fn __str__(&self) -> &'static str {
            core::OrderType::ALL[*self as usize].name()
        }

        /// A stop or take-profit type (it needs a trigger price).
        #[getter]
        fn is_conditional(&self) -> bool {
            core::OrderType::ALL[*self as usize].is_conditional()
        }

        /// The type carries a limit price.
        #[getter]
        fn has_limit_price(&self) -> bool {
            core::OrderType::ALL[*self as usize].has_limit_price()
        }

        /// The order type of a name (`market`, `stop_limit`, ...) or a code.
        #[staticmethod]
        fn of(value: &Bound<'_, PyAny>) -> PyResult<OrderType> {
            if let Ok(t) = value.extract::<OrderType>() {
                return Ok(t);
            }
            let found = if let Ok(name) = value.extract::<String>() {
                core::OrderType::ALL
                    .iter()
                    .copied()
                    .find(|t| t.name() == name)
            } else {
                value
                    .extract::<u8>()
                    .ok()
                    .and_then(|c| core::OrderType::from_code(c).ok())
            };
            found.map(Into::into).ok_or_else(|| {
            invalid(
                "order_type",
                value.repr().map_or_else(|_| "?".into(), |r| r.to_string()),
                "must be one of market, limit, stop_market, stop_limit, take_profit_market, take_profit_limit",
            )
        })
        }
    }
);

py_enum_methods!(TimeInForce, "tif", ["gtc", "ioc", "fok", "post_only"], {
    fn __str__(&self) -> &'static str {
        core::TimeInForce::from(*self).name()
    }

    /// The time in force of a name (`gtc`, `ioc`, `fok`, `post_only`) or a code.
    #[staticmethod]
    fn of(value: &Bound<'_, PyAny>) -> PyResult<TimeInForce> {
        if let Ok(t) = value.extract::<TimeInForce>() {
            return Ok(t);
        }
        if let Ok(name) = value.extract::<String>() {
            return core::TimeInForce::ALL
                .iter()
                .find(|t| t.name() == name)
                .map(|&t| t.into())
                .ok_or_else(|| {
                    invalid(
                        "tif",
                        format!("{name:?}"),
                        "must be one of gtc, ioc, fok, post_only",
                    )
                });
        }
        let code = value.extract::<u8>().map_err(|_| {
            invalid(
                "tif",
                value.repr().map_or_else(|_| "?".into(), |r| r.to_string()),
                "must be a TimeInForce, a name or a code 0..3",
            )
        })?;
        Ok(core::TimeInForce::from_code(code).map_err(CoreErr)?.into())
    }
});

py_enum_methods!(
    OrderStatus,
    "status",
    [
        "open",
        "filled",
        "cancelled",
        "rejected",
        "refused",
        "pending",
        "unknown",
        "partially_filled",
        "expired"
    ],
    {
        fn __str__(&self) -> &'static str {
            self.core().name()
        }

        /// Filled, cancelled, rejected, refused or expired: the order is over.
        #[getter]
        fn is_terminal(&self) -> bool {
            self.core().is_terminal()
        }

        /// Not terminal.
        #[getter]
        fn is_open(&self) -> bool {
            self.core().is_open()
        }

        /// Whether an order in this status may move to `next` (only forward; never out of a
        /// terminal status).
        fn can_become(&self, next: OrderStatus) -> bool {
            self.core().can_become(next.core())
        }

        /// The status of a name (`open`, `partially_filled`, ...) or a code.
        #[staticmethod]
        fn of(value: &Bound<'_, PyAny>) -> PyResult<OrderStatus> {
            if let Ok(s) = value.extract::<OrderStatus>() {
                return Ok(s);
            }
            if let Ok(name) = value.extract::<String>() {
                return Ok(core::OrderStatus::from_name(&name).map_err(CoreErr)?.into());
            }
            let code = value.extract::<u8>().map_err(|_| {
                invalid(
                    "status",
                    value.repr().map_or_else(|_| "?".into(), |r| r.to_string()),
                    "must be an OrderStatus, a name or a code 0..8",
                )
            })?;
            Ok(core::OrderStatus::from_code(code).map_err(CoreErr)?.into())
        }
    }
);

/// A float from Python into the core's fixed point, naming `field` when refused.
pub(crate) fn fixed(field: &'static str, v: f64) -> PyResult<i64> {
    from_f64(field, v).map_err(|e| CoreErr(e).into())
}

/// An order's price from Python: None is a market order, a number a limit price (the grid
/// check refuses one that is not > 0 on the tick grid, however small or signed).
pub(crate) fn order_price(price: Option<f64>) -> PyResult<(core::OrderType, i64)> {
    match price {
        None => Ok((core::OrderType::Market, 0)),
        Some(p) => Ok((core::OrderType::Limit, fixed("price", p)?)),
    }
}

/// A side from Python's sign (+1 buy, -1 sell; a `Side` is equal to its sign).
pub(crate) fn side_of_sign(side: i64) -> PyResult<core::OrderSide> {
    core::OrderSide::from_sign(side).map_err(|e| CoreErr(e).into())
}
