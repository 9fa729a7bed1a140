//! An instrument's order filters: the venue's rules an order must meet before it is sent,
//! checked in one place ([`OrderFilters::check`]) by the pre-trade check of the backtest, paper
//! trading and the live order path.
//!
//! The filters are Binance's (`exchangeInfo`): `PRICE_FILTER` (min and max price; the tick grid
//! is checked with the lot grid by [`crate::sim::check_order_grid`]), `LOT_SIZE` (min and max
//! quantity of a limit order), `MARKET_LOT_SIZE` (min, max and step of a market order),
//! `MIN_NOTIONAL` / `NOTIONAL` (min and max notional; on USD-M a reduce-only order is exempt
//! from the minimum, as Binance documents) and `PERCENT_PRICE` (a limit price within
//! `[reference x down, reference x up]`; Binance checks against the mark price, the core
//! against the instrument's reference price: the mark where the data carries one, else the
//! book's mid). A zero bound is no bound.

use crate::fixed::format;

const SCALE: f64 = 1e9;

/// An instrument's order filters (fixed point; 0: no bound).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OrderFilters {
    /// `PRICE_FILTER` minPrice.
    pub min_price: i64,
    /// `PRICE_FILTER` maxPrice.
    pub max_price: i64,
    /// `LOT_SIZE` minQty (limit orders).
    pub min_qty: i64,
    /// `LOT_SIZE` maxQty (limit orders).
    pub max_qty: i64,
    /// `MARKET_LOT_SIZE` minQty.
    pub market_min_qty: i64,
    /// `MARKET_LOT_SIZE` maxQty.
    pub market_max_qty: i64,
    /// `MARKET_LOT_SIZE` stepSize (0: the lot grid).
    pub market_lot: i64,
    /// `MIN_NOTIONAL` / `NOTIONAL` minNotional, in the quote currency (0: none).
    pub min_notional: f64,
    /// `NOTIONAL` maxNotional (0: none).
    pub max_notional: f64,
    /// The minimum notional applies to reduce-only orders too (spot: yes; USD-M: no).
    pub min_notional_reduce_only: bool,
    /// `PERCENT_PRICE` multiplierUp (0: none).
    pub percent_up: f64,
    /// `PERCENT_PRICE` multiplierDown (0: none).
    pub percent_down: f64,
}

/// Why an order fails a filter: the filter's venue name and a message naming the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterFailure {
    /// `LOT_SIZE`, `MARKET_LOT_SIZE`, `PRICE_FILTER`, `MIN_NOTIONAL`, `NOTIONAL` or
    /// `PERCENT_PRICE`.
    pub filter: &'static str,
    /// What failed, with the values.
    pub message: String,
}

fn fail(filter: &'static str, message: String) -> Result<(), FilterFailure> {
    Err(FilterFailure { filter, message })
}

impl OrderFilters {
    /// Checks an order: `price` its limit price (0: a market order), `qty` > 0 on the lot grid
    /// (checked before), `reference` the instrument's reference price (0: unknown, which skips
    /// the checks that need it), `contract_size` and `inverse` for its notional.
    pub fn check(
        &self,
        price: i64,
        qty: i64,
        reference: i64,
        contract_size: f64,
        inverse: bool,
        reduce_only: bool,
    ) -> Result<(), FilterFailure> {
        if price == 0 {
            self.check_market(qty)?;
        } else {
            self.check_limit(price, qty, reference)?;
        }
        let exempt = reduce_only && !self.min_notional_reduce_only;
        let min = if exempt { 0.0 } else { self.min_notional };
        if min <= 0.0 && self.max_notional <= 0.0 {
            return Ok(());
        }
        let px = if price == 0 { reference } else { price };
        if px <= 0 {
            return Ok(()); // a market order with no reference: its notional is not known here
        }
        let contracts = qty as f64 / SCALE * contract_size;
        // Inverse contracts' notional is in the quote currency already.
        let notional = if inverse {
            contracts
        } else {
            contracts * px as f64 / SCALE
        };
        let name = if self.max_notional > 0.0 {
            "NOTIONAL"
        } else {
            "MIN_NOTIONAL"
        };
        let values = || format!("(qty {} x price {})", format(qty), format(px));
        if min > 0.0 && notional < min * (1.0 - 1e-12) {
            return fail(
                name,
                format!("notional {notional:.8} < minNotional {min} {}", values()),
            );
        }
        if self.max_notional > 0.0 && notional > self.max_notional * (1.0 + 1e-12) {
            return fail(
                name,
                format!(
                    "notional {notional:.8} > maxNotional {} {}",
                    self.max_notional,
                    values()
                ),
            );
        }
        Ok(())
    }

    fn check_market(&self, qty: i64) -> Result<(), FilterFailure> {
        if self.market_min_qty > 0 && qty < self.market_min_qty {
            let m = format!(
                "qty {} < minQty {}",
                format(qty),
                format(self.market_min_qty)
            );
            return fail("MARKET_LOT_SIZE", m);
        }
        if self.market_max_qty > 0 && qty > self.market_max_qty {
            let m = format!(
                "qty {} > maxQty {} of a market order",
                format(qty),
                format(self.market_max_qty)
            );
            return fail("MARKET_LOT_SIZE", m);
        }
        if self.market_lot > 0 && qty % self.market_lot != 0 {
            let m = format!(
                "qty {} off the stepSize {}",
                format(qty),
                format(self.market_lot)
            );
            return fail("MARKET_LOT_SIZE", m);
        }
        Ok(())
    }

    fn check_limit(&self, price: i64, qty: i64, reference: i64) -> Result<(), FilterFailure> {
        if self.min_qty > 0 && qty < self.min_qty {
            return fail(
                "LOT_SIZE",
                format!("qty {} < minQty {}", format(qty), format(self.min_qty)),
            );
        }
        if self.max_qty > 0 && qty > self.max_qty {
            return fail(
                "LOT_SIZE",
                format!("qty {} > maxQty {}", format(qty), format(self.max_qty)),
            );
        }
        if self.min_price > 0 && price < self.min_price {
            let m = format!(
                "price {} < minPrice {}",
                format(price),
                format(self.min_price)
            );
            return fail("PRICE_FILTER", m);
        }
        if self.max_price > 0 && price > self.max_price {
            let m = format!(
                "price {} > maxPrice {}",
                format(price),
                format(self.max_price)
            );
            return fail("PRICE_FILTER", m);
        }
        if reference <= 0 {
            return Ok(());
        }
        let (r, p) = (reference as f64, price as f64);
        if self.percent_up > 0.0 && p > r * self.percent_up * (1.0 + 1e-12) {
            let m = format!(
                "price {} > {} x multiplierUp {}",
                format(price),
                format(reference),
                self.percent_up
            );
            return fail("PERCENT_PRICE", m);
        }
        if self.percent_down > 0.0 && p < r * self.percent_down * (1.0 - 1e-12) {
            let m = format!(
                "price {} < {} x multiplierDown {}",
                format(price),
                format(reference),
                self.percent_down
            );
            return fail("PERCENT_PRICE", m);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E9: i64 = 1_000_000_000;

    /// BTCUSDT on USD-M (Binance's exchangeInfo).
    fn usdm() -> OrderFilters {
        OrderFilters {
            min_price: 556_800_000_000,
            max_price: 4_529_764 * E9,
            min_qty: E9 / 1000,
            max_qty: 1000 * E9,
            market_min_qty: E9 / 1000,
            market_max_qty: 120 * E9,
            market_lot: E9 / 1000,
            min_notional: 100.0,
            max_notional: 0.0,
            min_notional_reduce_only: false,
            percent_up: 1.05,
            percent_down: 0.95,
        }
    }

    #[test]
    fn each_filter_names_itself() {
        let f = usdm();
        let r = 60_000 * E9;
        let ok = f.check(60_000 * E9, E9 / 100, r, 1.0, false, false);
        assert_eq!(ok, Ok(()));
        let cases = [
            (60_000 * E9, 2000 * E9, "LOT_SIZE"),
            (0, 121 * E9, "MARKET_LOT_SIZE"),
            (100 * E9, E9, "PRICE_FILTER"),
            (63_001 * E9, E9 / 100, "PERCENT_PRICE"),
            (56_999 * E9, E9 / 100, "PERCENT_PRICE"),
            // 0.001 x 60000 = 60 < 100.
            (60_000 * E9, E9 / 1000, "MIN_NOTIONAL"),
            (0, E9 / 1000, "MIN_NOTIONAL"),
        ];
        for (price, qty, filter) in cases {
            let e = f.check(price, qty, r, 1.0, false, false).unwrap_err();
            assert_eq!(e.filter, filter, "{price} {qty}: {}", e.message);
        }
        // At the bounds exactly: accepted (100 notional, 1.05 x reference).
        assert_eq!(
            f.check(50_000 * E9, E9 / 500, 50_000 * E9, 1.0, false, false),
            Ok(())
        );
        assert_eq!(f.check(63_000 * E9, E9 / 100, r, 1.0, false, false), Ok(()));
    }

    #[test]
    fn reduce_only_is_exempt_from_min_notional_on_futures_not_spot() {
        let mut f = usdm();
        let r = 60_000 * E9;
        assert_eq!(f.check(60_000 * E9, E9 / 1000, r, 1.0, false, true), Ok(()));
        f.min_notional_reduce_only = true;
        assert!(f
            .check(60_000 * E9, E9 / 1000, r, 1.0, false, true)
            .is_err());
    }

    #[test]
    fn inverse_notional_is_contracts_times_size_and_unknown_reference_skips() {
        let f = OrderFilters {
            min_notional: 150.0,
            ..OrderFilters::default()
        };
        // One contract of 100 USD: 100 < 150.
        let e = f
            .check(60_000 * E9, E9, 60_000 * E9, 100.0, true, false)
            .unwrap_err();
        assert_eq!(e.filter, "MIN_NOTIONAL");
        assert_eq!(
            f.check(60_000 * E9, 2 * E9, 60_000 * E9, 100.0, true, false),
            Ok(())
        );
        // A market order with no reference price: the notional cannot be known here.
        assert_eq!(f.check(0, E9 / 1000, 0, 1.0, false, false), Ok(()));
    }
}
