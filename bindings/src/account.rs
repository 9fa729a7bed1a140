//! `tradecore.AccountSpec` (how a run's account is set up) and `tradecore.Account` (the
//! account at a moment): thin wrappers over `engine_core::execution`.

use std::collections::BTreeMap;

use engine_core::execution::{Account, AccountSetup, Bracket};
use engine_core::risk::Portfolio;
use pyo3::prelude::*;

use crate::errors::CoreErr;

/// A bracket from Python: (notional floor, notional cap, maintenance margin ratio, maintenance
/// amount `cum`, max leverage).
type BracketTuple = (f64, f64, f64, f64, f64);

/// How a run's account is set up: `AccountSpec.cash(...)` for spot, `AccountSpec.margin(...)`
/// for perpetual futures (see the stub for the arguments).
#[pyclass(module = "tradecore._core", frozen)]
pub struct AccountSpec {
    pub(crate) setup: AccountSetup,
}

#[pymethods]
impl AccountSpec {
    /// A spot cash account: starting `balances` per asset and each instrument's
    /// (base, quote) assets, in instrument order.
    #[staticmethod]
    fn cash(balances: BTreeMap<String, f64>, assets: Vec<(String, String)>) -> Self {
        AccountSpec {
            setup: AccountSetup::Cash {
                balances: balances.into_iter().collect(),
                assets,
            },
        }
    }

    /// A cross-margin futures account in `asset` with `wallet`, each instrument's leverage and
    /// maintenance brackets (`(notional_floor, notional_cap, maint_margin_ratio, cum,
    /// max_leverage)` each), and the liquidation clearance fee rate.
    #[staticmethod]
    fn margin(
        asset: String,
        wallet: f64,
        leverage: Vec<f64>,
        brackets: Vec<Vec<BracketTuple>>,
        liquidation_fee: f64,
    ) -> Self {
        let brackets = brackets
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .map(
                        |(notional_floor, notional_cap, maint_margin_ratio, cum, max_leverage)| {
                            Bracket {
                                notional_floor,
                                notional_cap,
                                maint_margin_ratio,
                                cum,
                                max_leverage,
                            }
                        },
                    )
                    .collect()
            })
            .collect();
        AccountSpec {
            setup: AccountSetup::Margin {
                asset,
                wallet,
                leverage,
                brackets,
                liquidation_fee,
            },
        }
    }

    /// `cash`, `margin` or `none`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.setup {
            AccountSetup::Unchecked => "none",
            AccountSetup::Cash { .. } => "cash",
            AccountSetup::Margin { .. } => "margin",
        }
    }

    fn __repr__(&self) -> String {
        format!("AccountSpec({:?})", self.setup)
    }
}

/// An account at a moment.
#[pyclass(module = "tradecore._core", name = "Account", frozen, get_all)]
pub struct AccountView {
    /// `cash` (spot), `margin` (futures) or `none` (no account: capital and PnL only).
    kind: &'static str,
    /// Margin: the settlement asset; cash: the quote asset of the first instrument.
    asset: String,
    /// Per asset: (free, locked). Margin: {asset: (wallet balance, 0.0)}.
    balances: BTreeMap<String, (f64, f64)>,
    /// Margin: wallet + unrealized PnL; cash: the balances valued in the quote at the marks;
    /// none: capital + PnL.
    equity: f64,
    /// Margin: margin balance - initial margin of positions and orders (negative in a
    /// deficit); cash: the free quote; none: the equity.
    available: f64,
    /// Margin: initial margin of the positions and open orders (0 otherwise).
    margin_used: f64,
    /// Margin: maintenance margin of the positions (0 otherwise).
    maintenance_margin: f64,
    /// Per instrument (margin; 1.0 otherwise).
    leverage: Vec<f64>,
    /// Per instrument: the liquidation price of its position (None: flat, not a margin
    /// account, or none within prices > 0).
    liquidation_prices: Vec<Option<f64>>,
    /// Per instrument: net funding paid.
    funding: Vec<f64>,
}

impl AccountView {
    pub(crate) fn of(account: &Account, portfolio: &Portfolio) -> PyResult<AccountView> {
        let n = portfolio.len();
        let mut funding = Vec::with_capacity(n);
        for i in 0..n {
            funding.push(portfolio.position(i).map_err(CoreErr)?.funding);
        }
        Ok(match account {
            Account::Unchecked => AccountView {
                kind: "none",
                asset: String::new(),
                balances: BTreeMap::new(),
                equity: portfolio.equity(),
                available: portfolio.equity(),
                margin_used: 0.0,
                maintenance_margin: 0.0,
                leverage: vec![1.0; n],
                liquidation_prices: vec![None; n],
                funding,
            },
            Account::Cash { account, assets } => {
                let mut balances = BTreeMap::new();
                let mut equity = 0.0;
                let mut counted = Vec::new();
                for (i, &(base, quote)) in assets.iter().enumerate() {
                    let mark = portfolio.position(i).map_err(CoreErr)?.mark;
                    for (a, value) in [(base, mark as f64 / 1e9), (quote, 1.0)] {
                        let free = account.free(a).map_err(CoreErr)?;
                        let locked = account.locked(a).map_err(CoreErr)?;
                        if !counted.contains(&a) {
                            counted.push(a);
                            equity += (free + locked) * value;
                        }
                        balances.insert(
                            account.asset_name(a).map_err(CoreErr)?.to_owned(),
                            (free, locked),
                        );
                    }
                }
                let quote = assets.first().map(|&(_, q)| q);
                let (asset, available) = match quote {
                    Some(q) => (
                        account.asset_name(q).map_err(CoreErr)?.to_owned(),
                        account.free(q).map_err(CoreErr)?,
                    ),
                    None => (String::new(), 0.0),
                };
                AccountView {
                    kind: "cash",
                    asset,
                    balances,
                    equity,
                    available,
                    margin_used: 0.0,
                    maintenance_margin: 0.0,
                    leverage: vec![1.0; n],
                    liquidation_prices: vec![None; n],
                    funding,
                }
            }
            Account::Margin { account, .. } => {
                let mut leverage = Vec::with_capacity(n);
                let mut liquidation_prices = Vec::with_capacity(n);
                for i in 0..n {
                    leverage.push(account.leverage(i).map_err(CoreErr)?);
                    liquidation_prices.push(account.liquidation_price(i).map_err(CoreErr)?);
                }
                let mut balances = BTreeMap::new();
                balances.insert(account.asset().to_owned(), (account.wallet_balance(), 0.0));
                AccountView {
                    kind: "margin",
                    asset: account.asset().to_owned(),
                    balances,
                    equity: account.margin_balance(),
                    available: account.available(),
                    margin_used: account.position_initial_margin() + account.order_margin(),
                    maintenance_margin: account.maintenance_margin(),
                    leverage,
                    liquidation_prices,
                    funding,
                }
            }
        })
    }
}

#[pymethods]
impl AccountView {
    fn __repr__(&self) -> String {
        format!(
            "Account(kind={:?}, asset={:?}, equity={:.8}, available={:.8}, margin_used={:.8})",
            self.kind, self.asset, self.equity, self.available, self.margin_used
        )
    }
}
