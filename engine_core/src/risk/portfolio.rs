//! Positions and PnL per instrument, for linear and inverse contracts; equity and drawdown.
//!
//! Quantities and prices arrive in the core's fixed point (1e-9); money is kept in `f64` of
//! the settlement currency (the quote currency for linear contracts, the base currency for
//! inverse ones).
//!
//! - Linear (and spot): a position of `q` contracts of size `c` entered at `p0` is worth
//!   `q·c·(p - p0)` at `p`. The average entry is the quantity-weighted mean price.
//! - Inverse (COIN-M): `q` contracts of `c` quote units each are worth `q·c·(1/p0 - 1/p)` base
//!   units. The average entry is the harmonic mean (the one that keeps that formula exact).
//! - A fill that reduces a position realizes PnL on the reduced part at the average entry; a
//!   fill that flips it (long to short in one go) closes the whole position, realizes, and opens
//!   the rest at the fill price. Fees (a rate of the notional, negative for a rebate) are paid
//!   on every fill and counted apart from the trading PnL.

use crate::error::{Error, Result};
use crate::execution::contract;

const SCALE: f64 = 1e9;

/// How an instrument settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractKind {
    /// Spot or a linear contract: PnL in the quote currency.
    Linear,
    /// Inverse contract: PnL in the base currency.
    Inverse,
}

/// What the portfolio needs to know of an instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContractSpec {
    /// Settlement.
    pub kind: ContractKind,
    /// Contract size (base units per contract for linear, quote units for inverse).
    pub contract_size: f64,
    /// Maker fee rate (negative: a rebate).
    pub maker_fee: f64,
    /// Taker fee rate.
    pub taker_fee: f64,
}

impl ContractSpec {
    /// Checks the values (finite, contract size > 0, fee rates within ±10%).
    pub fn new(
        kind: ContractKind,
        contract_size: f64,
        maker_fee: f64,
        taker_fee: f64,
    ) -> Result<Self> {
        if !(contract_size.is_finite() && contract_size > 0.0) {
            return Err(Error::invalid(
                "contract_size",
                contract_size,
                "must be finite and > 0",
            ));
        }
        for (field, rate) in [("maker_fee", maker_fee), ("taker_fee", taker_fee)] {
            if !(rate.is_finite() && rate.abs() <= 0.1) {
                return Err(Error::invalid(
                    field,
                    rate,
                    "must be a finite rate within ±0.1",
                ));
            }
        }
        Ok(ContractSpec {
            kind,
            contract_size,
            maker_fee,
            taker_fee,
        })
    }
}

/// One instrument's position.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Position {
    /// Signed quantity in contracts (fixed point): > 0 long, < 0 short.
    pub qty: i64,
    /// Average entry price (0 when flat).
    pub avg_price: f64,
    /// PnL realized by reducing or closing, settlement currency, before fees.
    pub realized: f64,
    /// Fees paid (a rebate counts negative).
    pub fees: f64,
    /// Total traded quantity (fixed point).
    pub volume: i64,
    /// The last mark price (fixed point), 0 before the first.
    pub mark: i64,
    /// Net funding paid (received counts negative), settlement currency.
    pub funding: f64,
}

/// A fill to book.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fill {
    /// Instrument index (as registered).
    pub instrument: usize,
    /// +1 buy, -1 sell.
    pub side: i8,
    /// Price, fixed point, > 0.
    pub price: i64,
    /// Quantity, fixed point, > 0.
    pub qty: i64,
    /// True when the fill was passive (maker fee), false for aggressive (taker fee).
    pub maker: bool,
}

/// Positions, PnL, equity and drawdown of a set of instruments.
#[derive(Debug, Clone)]
pub struct Portfolio {
    specs: Vec<ContractSpec>,
    positions: Vec<Position>,
    /// Starting capital (settlement currency).
    initial: f64,
    peak: f64,
    max_drawdown: f64,
}

impl Portfolio {
    /// A portfolio with `initial` capital (finite, >= 0) and no instrument yet.
    pub fn new(initial: f64) -> Result<Self> {
        if !(initial.is_finite() && initial >= 0.0) {
            return Err(Error::invalid(
                "initial_capital",
                initial,
                "must be finite and >= 0",
            ));
        }
        Ok(Portfolio {
            specs: Vec::new(),
            positions: Vec::new(),
            initial,
            peak: initial,
            max_drawdown: 0.0,
        })
    }

    /// Registers an instrument; returns its index.
    pub fn add_instrument(&mut self, spec: ContractSpec) -> usize {
        self.specs.push(spec);
        self.positions.push(Position::default());
        self.positions.len() - 1
    }

    /// The position of `instrument`.
    pub fn position(&self, instrument: usize) -> Result<&Position> {
        self.positions
            .get(instrument)
            .ok_or_else(|| Error::invalid("instrument", instrument, "is not registered"))
    }

    /// The contract of `instrument`.
    pub fn spec(&self, instrument: usize) -> Result<&ContractSpec> {
        self.specs
            .get(instrument)
            .ok_or_else(|| Error::invalid("instrument", instrument, "is not registered"))
    }

    /// Instruments registered.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// True without instruments.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Books a fill: position, average entry, realized PnL and fees (at the instrument's
    /// maker or taker rate).
    pub fn on_fill(&mut self, f: &Fill) -> Result<()> {
        self.book(f, None)
    }

    /// Books a fill that paid `fee` (settlement currency) instead of the maker/taker rate: a
    /// liquidation's clearance fee.
    pub fn on_fill_with_fee(&mut self, f: &Fill, fee: f64) -> Result<()> {
        if !fee.is_finite() {
            return Err(Error::invalid("fee", fee, "must be finite"));
        }
        self.book(f, Some(fee))
    }

    /// Books a funding payment of `instrument` (> 0 paid, < 0 received).
    pub fn fund(&mut self, instrument: usize, payment: f64) -> Result<()> {
        if !payment.is_finite() {
            return Err(Error::invalid("funding", payment, "must be finite"));
        }
        self.spec(instrument)?;
        self.positions[instrument].funding += payment;
        self.update_drawdown();
        Ok(())
    }

    fn book(&mut self, f: &Fill, fee: Option<f64>) -> Result<()> {
        if f.side != 1 && f.side != -1 {
            return Err(Error::invalid(
                "side",
                f.side,
                "must be +1 (buy) or -1 (sell)",
            ));
        }
        if f.price <= 0 {
            return Err(Error::invalid(
                "price",
                crate::fixed::format(f.price),
                "must be > 0",
            ));
        }
        if f.qty <= 0 {
            return Err(Error::invalid(
                "qty",
                crate::fixed::format(f.qty),
                "must be > 0",
            ));
        }
        let spec = *self.spec(f.instrument)?;
        let pos = &mut self.positions[f.instrument];
        let price = f.price as f64 / SCALE;
        let signed = i64::from(f.side) * f.qty;
        let new_qty = pos.qty.checked_add(signed).ok_or_else(|| {
            Error::invalid("qty", crate::fixed::format(f.qty), "overflows the position")
        })?;
        let rate = if f.maker {
            spec.maker_fee
        } else {
            spec.taker_fee
        };
        pos.fees += fee.unwrap_or_else(|| rate * notional(&spec, f.qty, price));
        pos.volume = pos.volume.saturating_add(f.qty);
        pos.mark = f.price;
        if pos.qty == 0 || pos.qty.signum() == signed.signum() {
            // Opening or adding: a new average entry.
            pos.avg_price = average(
                &spec,
                pos.qty.unsigned_abs(),
                pos.avg_price,
                f.qty.unsigned_abs(),
                price,
            );
        } else {
            // Reducing, closing or flipping: realize on the closed part.
            let closed = f.qty.min(pos.qty.abs());
            pos.realized += pnl(&spec, pos.qty.signum() * closed, pos.avg_price, price);
            if new_qty == 0 {
                pos.avg_price = 0.0;
            } else if new_qty.signum() != pos.qty.signum() {
                pos.avg_price = price; // flipped: the rest opens at the fill price
            }
        }
        pos.qty = new_qty;
        Ok(())
    }

    /// Marks `instrument` at `price` (fixed point, > 0) and updates the drawdown.
    pub fn mark(&mut self, instrument: usize, price: i64) -> Result<()> {
        if price <= 0 {
            return Err(Error::invalid(
                "price",
                crate::fixed::format(price),
                "must be > 0",
            ));
        }
        self.spec(instrument)?;
        self.positions[instrument].mark = price;
        self.update_drawdown();
        Ok(())
    }

    /// Unrealized PnL of `instrument` at its mark.
    pub fn unrealized(&self, instrument: usize) -> Result<f64> {
        let pos = self.position(instrument)?;
        if pos.qty == 0 || pos.mark == 0 {
            return Ok(0.0);
        }
        Ok(pnl(
            self.spec(instrument)?,
            pos.qty,
            pos.avg_price,
            pos.mark as f64 / SCALE,
        ))
    }

    /// Unrealized PnL of `instrument` if it were marked at `price` (> 0; the portfolio is not
    /// changed).
    pub fn unrealized_at(&self, instrument: usize, price: f64) -> Result<f64> {
        let pos = self.position(instrument)?;
        if !(price.is_finite() && price > 0.0) {
            return Err(Error::invalid("price", price, "must be finite and > 0"));
        }
        if pos.qty == 0 {
            return Ok(0.0);
        }
        Ok(pnl(self.spec(instrument)?, pos.qty, pos.avg_price, price))
    }

    /// Capital + realized - fees - funding + unrealized, summed over instruments (one
    /// settlement currency is assumed: mixing linear and inverse instruments sums different
    /// currencies).
    pub fn equity(&self) -> f64 {
        let mut e = self.initial;
        for (i, p) in self.positions.iter().enumerate() {
            e += p.realized - p.fees - p.funding + self.unrealized(i).unwrap_or(0.0);
        }
        e
    }

    /// Highest equity seen at a mark or fill.
    pub fn peak_equity(&self) -> f64 {
        self.peak
    }

    /// Current drawdown from the peak (>= 0).
    pub fn drawdown(&self) -> f64 {
        (self.peak - self.equity()).max(0.0)
    }

    /// Largest drawdown seen.
    pub fn max_drawdown(&self) -> f64 {
        self.max_drawdown
    }

    fn update_drawdown(&mut self) {
        let e = self.equity();
        self.peak = self.peak.max(e);
        self.max_drawdown = self.max_drawdown.max(self.peak - e);
    }

    /// Books a fill and updates the drawdown.
    pub fn fill(&mut self, f: &Fill) -> Result<()> {
        self.on_fill(f)?;
        self.update_drawdown();
        Ok(())
    }
}

fn notional(spec: &ContractSpec, qty: i64, price: f64) -> f64 {
    contract::notional(spec.kind, spec.contract_size, qty, price)
}

fn pnl(spec: &ContractSpec, qty: i64, entry: f64, exit: f64) -> f64 {
    contract::pnl(spec.kind, spec.contract_size, qty, entry, exit)
}

fn average(spec: &ContractSpec, q1: u64, p1: f64, q2: u64, p2: f64) -> f64 {
    contract::average_entry(spec.kind, q1, p1, q2, p2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: i64 = 1_000_000_000;

    fn linear() -> Portfolio {
        let mut p = Portfolio::new(10_000.0).unwrap();
        p.add_instrument(ContractSpec::new(ContractKind::Linear, 1.0, 0.0002, 0.0005).unwrap());
        p
    }

    fn fill(side: i8, price: f64, qty: f64, maker: bool) -> Fill {
        Fill {
            instrument: 0,
            side,
            price: (price * 1e9).round() as i64,
            qty: (qty * 1e9).round() as i64,
            maker,
        }
    }

    #[test]
    fn linear_add_reduce_flip_by_hand() {
        let mut p = linear();
        p.fill(&fill(1, 100.0, 1.0, false)).unwrap(); // long 1 @ 100, taker fee 0.05
        p.fill(&fill(1, 110.0, 1.0, true)).unwrap(); // long 2 @ 105, maker fee 0.022
        let pos = *p.position(0).unwrap();
        assert_eq!(pos.qty, 2 * Q);
        assert!((pos.avg_price - 105.0).abs() < 1e-12);
        p.fill(&fill(-1, 120.0, 0.5, false)).unwrap(); // realize 0.5 * 15 = 7.5
        assert!((p.position(0).unwrap().realized - 7.5).abs() < 1e-12);
        // Flip: sell 3 @ 90 closes 1.5 (realize 1.5 * -15 = -22.5), opens short 1.5 @ 90.
        p.fill(&fill(-1, 90.0, 3.0, false)).unwrap();
        let pos = *p.position(0).unwrap();
        assert_eq!(pos.qty, -1_500_000_000);
        assert!((pos.avg_price - 90.0).abs() < 1e-12);
        assert!((pos.realized - (7.5 - 22.5)).abs() < 1e-12);
        let fees = 100.0 * 0.0005 + 110.0 * 0.0002 + 60.0 * 0.0005 + 270.0 * 0.0005;
        assert!((pos.fees - fees).abs() < 1e-12);
        p.mark(0, 80 * Q).unwrap(); // short 1.5 from 90: +15
        assert!((p.unrealized(0).unwrap() - 15.0).abs() < 1e-12);
        assert!((p.equity() - (10_000.0 - 15.0 + 15.0 - fees)).abs() < 1e-9);
    }

    #[test]
    fn inverse_pnl_uses_the_harmonic_entry() {
        let mut p = Portfolio::new(1.0).unwrap();
        p.add_instrument(ContractSpec::new(ContractKind::Inverse, 100.0, 0.0, 0.0).unwrap());
        // Long 10 contracts of 100 USD at 50,000 and 10 at 40,000.
        p.fill(&fill(1, 50_000.0, 10.0, false)).unwrap();
        p.fill(&fill(1, 40_000.0, 10.0, false)).unwrap();
        let pos = *p.position(0).unwrap();
        let harmonic = 20.0 / (10.0 / 50_000.0 + 10.0 / 40_000.0);
        assert!((pos.avg_price - harmonic).abs() < 1e-9);
        // Close all at 60,000: 1000 USD/50k + 1000 USD/40k bought, sold 2000 USD at 60k.
        p.fill(&fill(-1, 60_000.0, 20.0, false)).unwrap();
        let expected =
            1000.0 * (1.0 / 50_000.0 - 1.0 / 60_000.0) + 1000.0 * (1.0 / 40_000.0 - 1.0 / 60_000.0);
        assert!((p.position(0).unwrap().realized - expected).abs() < 1e-15);
        assert_eq!(p.position(0).unwrap().qty, 0);
    }

    #[test]
    fn drawdown_tracks_the_peak() {
        let mut p = linear();
        p.fill(&fill(1, 100.0, 10.0, true)).unwrap();
        p.mark(0, 110 * Q).unwrap();
        let peak = p.equity();
        p.mark(0, 95 * Q).unwrap();
        assert!((p.drawdown() - 150.0).abs() < 1e-9);
        assert!((p.peak_equity() - peak).abs() < 1e-9);
        p.mark(0, 105 * Q).unwrap();
        assert!((p.max_drawdown() - 150.0).abs() < 1e-9 && (p.drawdown() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn bad_inputs_are_refused() {
        let mut p = linear();
        assert!(p.fill(&fill(0, 100.0, 1.0, false)).is_err());
        assert!(p.fill(&fill(1, 0.0, 1.0, false)).is_err());
        assert!(p.fill(&fill(1, 100.0, -1.0, false)).is_err());
        assert!(p.mark(3, Q).is_err());
        assert!(Portfolio::new(f64::NAN).is_err());
        assert!(ContractSpec::new(ContractKind::Linear, 0.0, 0.0, 0.0).is_err());
        assert!(ContractSpec::new(ContractKind::Linear, 1.0, f64::INFINITY, 0.0).is_err());
    }
}
