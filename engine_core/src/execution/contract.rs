//! The arithmetic of a contract, one implementation for every position keeper (the
//! backtest's [`crate::risk::Portfolio`] and the accounts of this module).
//!
//! - Linear (and spot): `q` contracts of size `c` entered at `p0` are worth `q·c·(p - p0)` at
//!   `p`; the notional is `|q|·c·p` in the quote currency; the average entry is the
//!   quantity-weighted mean price.
//! - Inverse (COIN-M): `q` contracts of `c` quote units are worth `q·c·(1/p0 - 1/p)` base
//!   units; the notional is `|q|·c/p` in the base currency; the average entry is the harmonic
//!   mean (the one that keeps that formula exact).

use crate::fixed::SCALE;
use crate::risk::ContractKind;

const S: f64 = SCALE as f64;

/// Notional of `qty` contracts (fixed point, sign ignored) at `price`, in the settlement
/// currency.
#[inline]
pub fn notional(kind: ContractKind, contract_size: f64, qty: i64, price: f64) -> f64 {
    let q = qty.unsigned_abs() as f64 / S * contract_size;
    match kind {
        ContractKind::Linear => q * price,
        ContractKind::Inverse => q / price,
    }
}

/// PnL of a position of `qty` contracts (fixed point, signed: > 0 long) entered at `entry`,
/// valued at `exit`, in the settlement currency.
#[inline]
pub fn pnl(kind: ContractKind, contract_size: f64, qty: i64, entry: f64, exit: f64) -> f64 {
    let q = qty as f64 / S * contract_size;
    match kind {
        ContractKind::Linear => q * (exit - entry),
        ContractKind::Inverse => q * (1.0 / entry - 1.0 / exit),
    }
}

/// The average entry after adding `q2` contracts at `p2` to `q1` at `p1` (quantities in any
/// common unit; `q1 == 0` gives `p2`).
#[inline]
pub fn average_entry(kind: ContractKind, q1: u64, p1: f64, q2: u64, p2: f64) -> f64 {
    if q1 == 0 {
        return p2;
    }
    let (a, b) = (q1 as f64, q2 as f64);
    match kind {
        ContractKind::Linear => (a * p1 + b * p2) / (a + b),
        ContractKind::Inverse => (a + b) / (a / p1 + b / p2),
    }
}
