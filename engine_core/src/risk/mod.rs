//! Risk and portfolio: pre-trade checks and the trading state ([`engine`]), positions and PnL
//! per instrument for linear and inverse contracts, equity and drawdown ([`portfolio`]).

pub mod engine;
pub mod portfolio;

pub use engine::{
    ApprovedOrder, Order, OrderSide, Reject, RejectCode, RiskEngine, RiskLimits, TradingState,
};
pub use portfolio::{ContractKind, ContractSpec, Fill, Portfolio, Position};
