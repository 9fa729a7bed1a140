//! The shared vocabulary of orders: side, order type, time in force and status. Every module
//! (risk, simulator, replay, order path, the live backend through the bindings) uses these
//! types; nothing else spells a side as ±1, a time in force as a code or a status as a string
//! except at an edge (a result array, a journal row), and those go through the conversions
//! here.
//!
//! [`OrderStatus`] also holds the one rule of an order's lifecycle that every path shares:
//! statuses only move forward ([`OrderStatus::can_become`]); a terminal status is never left,
//! so a late or duplicate report is recorded and ignored, never applied backwards.

use crate::error::{Error, Result};

/// Buy or sell. (The book's sides are [`crate::book::Side`]: bid and ask.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderSide {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl OrderSide {
    /// +1 for a buy, -1 for a sell.
    pub fn sign(self) -> i64 {
        match self {
            OrderSide::Buy => 1,
            OrderSide::Sell => -1,
        }
    }

    /// From [`OrderSide::sign`]: +1 buy, -1 sell.
    pub fn from_sign(sign: i64) -> Result<Self> {
        match sign {
            1 => Ok(OrderSide::Buy),
            -1 => Ok(OrderSide::Sell),
            other => Err(Error::invalid(
                "side",
                other,
                "must be +1 (buy) or -1 (sell)",
            )),
        }
    }

    /// The other side.
    #[must_use]
    pub fn opposite(self) -> Self {
        match self {
            OrderSide::Buy => OrderSide::Sell,
            OrderSide::Sell => OrderSide::Buy,
        }
    }

    /// `buy` or `sell`.
    pub fn name(self) -> &'static str {
        match self {
            OrderSide::Buy => "buy",
            OrderSide::Sell => "sell",
        }
    }
}

/// How an order is priced, and whether it waits for a trigger.
///
/// A conditional order (stop, take-profit) rests at the exchange until the trigger price is
/// touched, then becomes a market or a limit order (Binance's `STOP_MARKET`, `STOP`,
/// `TAKE_PROFIT_MARKET`, `TAKE_PROFIT`). A stop buys when the price rises to the trigger and
/// sells when it falls to it; a take-profit buys when it falls to it and sells when it rises
/// to it ([`OrderType::triggers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// At the best prices available; has no limit price.
    Market,
    /// At the limit price or better; the price must be > 0 and on the tick grid.
    Limit,
    /// A market order once the stop price is touched.
    StopMarket,
    /// A limit order once the stop price is touched.
    StopLimit,
    /// A market order once the take-profit price is touched.
    TakeProfitMarket,
    /// A limit order once the take-profit price is touched.
    TakeProfitLimit,
}

impl OrderType {
    /// Every type, in code order.
    pub const ALL: [OrderType; 6] = [
        OrderType::Market,
        OrderType::Limit,
        OrderType::StopMarket,
        OrderType::StopLimit,
        OrderType::TakeProfitMarket,
        OrderType::TakeProfitLimit,
    ];

    /// The code used in result arrays (its index in [`OrderType::ALL`]).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// From [`OrderType::code`].
    pub fn from_code(code: u8) -> Result<Self> {
        Self::ALL
            .get(usize::from(code))
            .copied()
            .ok_or_else(|| Error::invalid("order_type", code, "not an order type code (0..=5)"))
    }

    /// `market`, `limit`, `stop_market`, `stop_limit`, `take_profit_market` or
    /// `take_profit_limit`.
    pub fn name(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
            OrderType::StopMarket => "stop_market",
            OrderType::StopLimit => "stop_limit",
            OrderType::TakeProfitMarket => "take_profit_market",
            OrderType::TakeProfitLimit => "take_profit_limit",
        }
    }

    /// True when the order carries a limit price (> 0).
    pub fn has_limit_price(self) -> bool {
        matches!(
            self,
            OrderType::Limit | OrderType::StopLimit | OrderType::TakeProfitLimit
        )
    }

    /// True for a stop or take-profit order (it needs a trigger price).
    pub fn is_conditional(self) -> bool {
        !matches!(self, OrderType::Market | OrderType::Limit)
    }

    /// Whether a conditional order of `side` with trigger price `trigger` fires at `price`
    /// (all fixed point): a stop buy at `price >= trigger`, a stop sell at `price <= trigger`;
    /// a take-profit the other way round. False for market and limit orders.
    pub fn triggers(self, side: OrderSide, trigger: i64, price: i64) -> bool {
        let rising = match self {
            OrderType::StopMarket | OrderType::StopLimit => side == OrderSide::Buy,
            OrderType::TakeProfitMarket | OrderType::TakeProfitLimit => side == OrderSide::Sell,
            OrderType::Market | OrderType::Limit => return false,
        };
        if rising {
            price >= trigger
        } else {
            price <= trigger
        }
    }
}

/// The price a conditional order watches (Binance's `workingType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerSource {
    /// The last trade price (`CONTRACT_PRICE`).
    LastPrice,
    /// The mark price (`MARK_PRICE`).
    MarkPrice,
}

impl TriggerSource {
    /// `last` or `mark`.
    pub fn name(self) -> &'static str {
        match self {
            TriggerSource::LastPrice => "last",
            TriggerSource::MarkPrice => "mark",
        }
    }
}

/// How long an order lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Rests until filled or cancelled.
    Gtc,
    /// Fills what it can at once, the rest is cancelled.
    Ioc,
    /// Fills entirely at once or not at all.
    Fok,
    /// Rests only: rejected if it would trade on arrival (Binance's GTX).
    PostOnly,
}

impl TimeInForce {
    /// Every time in force, in code order.
    pub const ALL: [TimeInForce; 4] = [
        TimeInForce::Gtc,
        TimeInForce::Ioc,
        TimeInForce::Fok,
        TimeInForce::PostOnly,
    ];

    /// The code used in result arrays: 0 GTC, 1 IOC, 2 FOK, 3 post-only.
    pub fn code(self) -> u8 {
        match self {
            TimeInForce::Gtc => 0,
            TimeInForce::Ioc => 1,
            TimeInForce::Fok => 2,
            TimeInForce::PostOnly => 3,
        }
    }

    /// From [`TimeInForce::code`].
    pub fn from_code(code: u8) -> Result<Self> {
        Self::ALL.get(usize::from(code)).copied().ok_or_else(|| {
            Error::invalid(
                "tif",
                code,
                "expected 0 (GTC), 1 (IOC), 2 (FOK) or 3 (post-only)",
            )
        })
    }

    /// `gtc`, `ioc`, `fok` or `post_only`.
    pub fn name(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "gtc",
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
            TimeInForce::PostOnly => "post_only",
        }
    }
}

/// Where an order is in its lifecycle.
///
/// ```text
/// Refused                                   (the pre-trade check; never sent)
/// Pending ──> Unknown ──> Open ──> PartiallyFilled ──> Filled
///    │           │          │            │         └─> Cancelled / Expired
///    └───────────┴──────────┴────────────┴───────────> Rejected / Cancelled / Expired / Filled
/// ```
///
/// Statuses only move right: [`OrderStatus::can_become`] is the rule every path applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Working at the exchange (accepted, nothing filled yet) — or, in a backtest result,
    /// still in flight when the data ended.
    Open,
    /// Wholly filled (terminal).
    Filled,
    /// Cancelled, possibly after partial fills (terminal).
    Cancelled,
    /// Refused by the exchange (terminal).
    Rejected,
    /// Refused by the pre-trade risk check; never sent (terminal).
    Refused,
    /// Sent, no answer yet.
    Pending,
    /// Sent, and the answer was lost (a timeout, a -1007): only a query or a report from the
    /// exchange can tell. Never resent.
    Unknown,
    /// Working, part of it filled.
    PartiallyFilled,
    /// Ended by the exchange without a request (an expired IOC/GTD rest) (terminal).
    Expired,
}

impl OrderStatus {
    /// Every status, in code order.
    pub const ALL: [OrderStatus; 9] = [
        OrderStatus::Open,
        OrderStatus::Filled,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
        OrderStatus::Refused,
        OrderStatus::Pending,
        OrderStatus::Unknown,
        OrderStatus::PartiallyFilled,
        OrderStatus::Expired,
    ];

    /// The code used in result arrays and the journal (its index in [`OrderStatus::ALL`]).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// From [`OrderStatus::code`].
    pub fn from_code(code: u8) -> Result<Self> {
        Self::ALL
            .get(usize::from(code))
            .copied()
            .ok_or_else(|| Error::invalid("status", code, "not an order status code (0..=8)"))
    }

    /// The lower-case name (`open`, `partially_filled`, ...).
    pub fn name(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Refused => "refused",
            OrderStatus::Pending => "pending",
            OrderStatus::Unknown => "unknown",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Expired => "expired",
        }
    }

    /// From [`OrderStatus::name`].
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                Error::invalid(
                    "status",
                    name,
                    "not an order status (open, partially_filled, filled, cancelled, rejected, \
                     refused, pending, unknown, expired)",
                )
            })
    }

    /// Filled, cancelled, rejected, refused or expired: the order is over.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Cancelled
                | OrderStatus::Rejected
                | OrderStatus::Refused
                | OrderStatus::Expired
        )
    }

    /// Not terminal: it may still trade.
    pub fn is_open(self) -> bool {
        !self.is_terminal()
    }

    /// The step of the lifecycle: statuses move to a higher rank only (terminal ones are all
    /// last).
    fn rank(self) -> u8 {
        match self {
            OrderStatus::Pending => 0,
            OrderStatus::Unknown => 1,
            OrderStatus::Open => 2,
            OrderStatus::PartiallyFilled => 3,
            OrderStatus::Filled
            | OrderStatus::Cancelled
            | OrderStatus::Rejected
            | OrderStatus::Refused
            | OrderStatus::Expired => 4,
        }
    }

    /// Whether an order in this status may move to `next`: only forward, never out of a
    /// terminal status (a late report of an earlier state is ignored). `Refused` is only ever
    /// a first status (the check happens before sending).
    pub fn can_become(self, next: OrderStatus) -> bool {
        !self.is_terminal() && next != OrderStatus::Refused && next.rank() > self.rank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_and_take_profits_trigger_on_their_side_of_the_price() {
        use OrderSide::{Buy, Sell};
        // a stop buy at 105 fires when the price rises to it; a stop sell at 95 when it falls
        assert!(OrderType::StopMarket.triggers(Buy, 105, 105));
        assert!(!OrderType::StopMarket.triggers(Buy, 105, 104));
        assert!(OrderType::StopLimit.triggers(Sell, 95, 94));
        assert!(!OrderType::StopLimit.triggers(Sell, 95, 96));
        // a take-profit sell at 110 fires when the price rises to it; a buy at 90 when it falls
        assert!(OrderType::TakeProfitMarket.triggers(Sell, 110, 111));
        assert!(!OrderType::TakeProfitMarket.triggers(Sell, 110, 109));
        assert!(OrderType::TakeProfitLimit.triggers(Buy, 90, 90));
        assert!(!OrderType::TakeProfitLimit.triggers(Buy, 90, 91));
        assert!(!OrderType::Limit.triggers(Buy, 1, 2));
    }

    #[test]
    fn codes_and_names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_code(s.code()).unwrap(), s);
            assert_eq!(OrderStatus::from_name(s.name()).unwrap(), s);
        }
        for t in TimeInForce::ALL {
            assert_eq!(TimeInForce::from_code(t.code()).unwrap(), t);
        }
        assert!(OrderStatus::from_code(9).is_err());
        let e = OrderStatus::from_name("done").unwrap_err().to_string();
        assert!(e.contains("invalid status: done"), "{e}");
        assert!(TimeInForce::from_code(4).is_err());
        for t in OrderType::ALL {
            assert_eq!(OrderType::from_code(t.code()).unwrap(), t);
        }
        assert_eq!(OrderSide::from_sign(-1).unwrap(), OrderSide::Sell);
        assert!(OrderSide::from_sign(0).is_err());
    }

    #[test]
    fn statuses_only_move_forward() {
        use OrderStatus::*;
        assert!(Pending.can_become(Unknown));
        assert!(Pending.can_become(Open));
        assert!(Unknown.can_become(Open));
        assert!(Open.can_become(PartiallyFilled));
        assert!(PartiallyFilled.can_become(Filled));
        assert!(Pending.can_become(Filled));
        assert!(Unknown.can_become(Rejected));
        // backwards, sideways and out of a terminal status: never
        assert!(!Open.can_become(Unknown));
        assert!(!Open.can_become(Pending));
        assert!(!Open.can_become(Open));
        assert!(!PartiallyFilled.can_become(Open));
        for t in OrderStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for n in OrderStatus::ALL {
                assert!(!t.can_become(n), "{t:?} -> {n:?}");
            }
        }
        for s in OrderStatus::ALL {
            assert!(!s.can_become(Refused));
        }
    }
}
