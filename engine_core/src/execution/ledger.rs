//! The account of a trading run: which of [`CashAccount`] (spot) and [`MarginAccount`]
//! (futures) pays for a run's orders, and the calls the order lifecycle makes on it (an order
//! opened, changed, filled or ended; a mark). The backtest replay and paper trading drive it
//! through these calls only.

use super::account::{AssetId, Bracket, CashAccount, MarginAccount, Refusal, SpotOrder, SpotPrice};
use crate::error::{Error, Result};
use crate::risk::{ContractKind, ContractSpec};
use crate::types::{OrderSide, OrderType};

/// A market buy on a cash account reserves `qty × reference × (1 + this)` of the quote: room
/// for the walk through the book (see [`SpotPrice::Market`]).
pub const MARKET_BUY_ALLOWANCE: f64 = 0.05;

/// How a run's account is set up.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountSetup {
    /// No account: orders are limited by the risk limits only and the capital is a number
    /// (the model of tradecore before accounts; kept for the engine's own benchmarks and
    /// tests of other rules).
    Unchecked,
    /// Spot: starting balances per asset, and each instrument's (base, quote) assets.
    Cash {
        balances: Vec<(String, f64)>,
        assets: Vec<(String, String)>,
    },
    /// Derivatives in one settlement asset, cross margin, one-way mode.
    Margin {
        /// The settlement asset (USDT for USD-M, BTC for BTC-settled COIN-M).
        asset: String,
        /// Starting wallet balance.
        wallet: f64,
        /// Leverage of each instrument.
        leverage: Vec<f64>,
        /// Maintenance brackets of each instrument.
        brackets: Vec<Vec<Bracket>>,
        /// Liquidation clearance fee, a rate of the liquidated notional.
        liquidation_fee: f64,
    },
}

/// An order that the account cannot pay for, or cannot value.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountReject {
    /// Not enough of an asset (cash account).
    Balance(Refusal),
    /// Not enough available margin (margin account).
    Margin(Refusal),
    /// A market order with no reference price to value it at.
    NoPrice,
}

/// The account of a run (see the module documentation).
#[derive(Debug, Clone)]
pub enum Account {
    /// See [`AccountSetup::Unchecked`].
    Unchecked,
    /// A spot account and each instrument's (base, quote).
    Cash {
        account: CashAccount,
        assets: Vec<(AssetId, AssetId)>,
    },
    /// A margin account and its liquidation fee rate.
    Margin {
        account: MarginAccount,
        liquidation_fee: f64,
    },
}

impl Account {
    /// The account of `setup` over instruments of `specs` (in their index order): a cash
    /// account needs linear instruments of contract size 1 (spot), a margin account one
    /// leverage and one bracket list per instrument.
    pub fn new(setup: &AccountSetup, specs: &[ContractSpec]) -> Result<Self> {
        match setup {
            AccountSetup::Unchecked => Ok(Account::Unchecked),
            AccountSetup::Cash { balances, assets } => {
                if assets.len() != specs.len() {
                    return Err(Error::invalid(
                        "assets",
                        assets.len(),
                        format!("one (base, quote) pair per instrument ({})", specs.len()),
                    ));
                }
                let mut account = CashAccount::new();
                let mut ids = Vec::with_capacity(assets.len());
                for ((base, quote), spec) in assets.iter().zip(specs) {
                    if spec.kind != ContractKind::Linear || (spec.contract_size - 1.0).abs() > 0.0 {
                        return Err(Error::invalid(
                            "kind",
                            "inverse or contract size != 1",
                            "a cash (spot) account trades spot instruments only",
                        ));
                    }
                    if base == quote {
                        return Err(Error::invalid(
                            "assets",
                            format!("{base}/{quote}"),
                            "base and quote must differ",
                        ));
                    }
                    ids.push((account.asset(base)?, account.asset(quote)?));
                }
                for (asset, amount) in balances {
                    let id = account.asset_id(asset).map_err(|_| {
                        Error::invalid(
                            "balances",
                            asset,
                            "is not an asset of the instruments traded",
                        )
                    })?;
                    account.set_balance(id, *amount)?;
                }
                Ok(Account::Cash {
                    account,
                    assets: ids,
                })
            }
            AccountSetup::Margin {
                asset,
                wallet,
                leverage,
                brackets,
                liquidation_fee,
            } => {
                if leverage.len() != specs.len() || brackets.len() != specs.len() {
                    return Err(Error::invalid(
                        "leverage",
                        leverage.len(),
                        format!(
                            "one leverage and one bracket list per instrument ({})",
                            specs.len()
                        ),
                    ));
                }
                if !(liquidation_fee.is_finite() && (0.0..=0.1).contains(liquidation_fee)) {
                    return Err(Error::invalid(
                        "liquidation_fee",
                        liquidation_fee,
                        "must be a rate within [0, 0.1]",
                    ));
                }
                let mut account = MarginAccount::new(asset, *wallet)?;
                for ((spec, lev), br) in specs.iter().zip(leverage).zip(brackets) {
                    account.add_instrument(spec.kind, spec.contract_size, *lev, br)?;
                }
                Ok(Account::Margin {
                    account,
                    liquidation_fee: *liquidation_fee,
                })
            }
        }
    }

    /// Opens order `id` (its reservation or margin): `price` is the limit price (fixed point)
    /// of an order that has one, else 0; an order without one is valued at `reference` (a
    /// market order: the book's price, 0 when there is none; a stop- or take-profit-market
    /// order: its trigger price).
    #[allow(clippy::too_many_arguments)] // the order's fields
    pub fn open(
        &mut self,
        id: u64,
        instrument: usize,
        side: OrderSide,
        order_type: OrderType,
        price: i64,
        qty: i64,
        reference: i64,
    ) -> Result<std::result::Result<(), AccountReject>> {
        let at = if order_type.has_limit_price() {
            price
        } else {
            reference
        };
        match self {
            Account::Unchecked => Ok(Ok(())),
            Account::Cash { account, assets } => {
                let (base, quote) = *assets
                    .get(instrument)
                    .ok_or_else(|| Error::invalid("instrument", instrument, "unknown"))?;
                // A sell reserves the base whatever its price; a market buy a padded amount.
                let price = match side {
                    OrderSide::Sell => SpotPrice::Limit(at.max(1)),
                    OrderSide::Buy if at <= 0 => return Ok(Err(AccountReject::NoPrice)),
                    OrderSide::Buy if order_type == OrderType::Market => SpotPrice::Market {
                        reference: at,
                        slippage: MARKET_BUY_ALLOWANCE,
                    },
                    OrderSide::Buy => SpotPrice::Limit(at),
                };
                let order = SpotOrder {
                    side,
                    base,
                    quote,
                    qty,
                    price,
                };
                Ok(account.reserve(id, order)?.map_err(AccountReject::Balance))
            }
            Account::Margin { account, .. } => {
                if at <= 0 {
                    return Ok(Err(AccountReject::NoPrice));
                }
                Ok(account
                    .place_order(id, instrument, side, qty, at)?
                    .map_err(AccountReject::Margin))
            }
        }
    }

    /// Holds order `id` as the exchange has it, without the check: the order is at the
    /// exchange already (a resynchronisation after a refused modification, a cut). A cash
    /// account that cannot reserve it holds nothing (its fills are paid from the free
    /// balance); a margin account counts its margin even in deficit.
    pub fn hold(
        &mut self,
        id: u64,
        instrument: usize,
        side: OrderSide,
        price: i64,
        qty: i64,
    ) -> Result<()> {
        self.close(id);
        match self {
            Account::Unchecked => Ok(()),
            Account::Cash { .. } => self
                .open(id, instrument, side, OrderType::Limit, price, qty, 0)
                .map(|_| ()),
            Account::Margin { account, .. } => account.hold_order(id, instrument, side, qty, price),
        }
    }

    /// Ends order `id` (cancelled, rejected, expired, filled): what it still holds is freed.
    /// An order the account does not hold (already ended) is a no-op.
    pub fn close(&mut self, id: u64) {
        match self {
            Account::Unchecked => {}
            Account::Cash { account, .. } => {
                let _ = account.release(id);
            }
            Account::Margin { account, .. } => {
                let _ = account.cancel_order(id);
            }
        }
    }

    /// Books a fill of order `id`: `fee` is the fee in the settlement currency (margin),
    /// `fee_rate` its rate (cash: Binance spot takes it from the asset received). A fill of an
    /// order the account no longer holds (one that a liquidation cancelled while in flight)
    /// is booked on the position all the same: a fill is a fact.
    #[allow(clippy::too_many_arguments)] // the fill's fields
    pub fn fill(
        &mut self,
        id: u64,
        instrument: usize,
        side: OrderSide,
        price: i64,
        qty: i64,
        fee: f64,
        fee_rate: f64,
    ) -> Result<()> {
        match self {
            Account::Unchecked => Ok(()),
            Account::Cash { account, assets } => {
                let (base, quote) = *assets
                    .get(instrument)
                    .ok_or_else(|| Error::invalid("instrument", instrument, "unknown"))?;
                match account.fill(id, side, base, quote, price, qty, fee_rate) {
                    Ok(_) => Ok(()),
                    // More than the account holds for the order (a fill that raced a smaller
                    // modification): a fill is a fact; the order's rest is freed and the fill
                    // paid from the free balance.
                    Err(Error::InvalidInput { field: "qty", .. }) => {
                        let _ = account.release(id);
                        account
                            .fill(u64::MAX, side, base, quote, price, qty, fee_rate)
                            .map(|_| ())
                    }
                    Err(e) => Err(e),
                }
            }
            Account::Margin { account, .. } => {
                match account.fill_order(id, qty, price, fee) {
                    Ok(_) => Ok(()),
                    // Not held (a liquidation cancelled it while in flight), or more than held
                    // (a fill that raced a smaller modification): a fill is a fact.
                    Err(Error::InvalidInput {
                        field: "order_id" | "qty",
                        ..
                    }) => {
                        let _ = account.cancel_order(id);
                        account.fill(instrument, side, qty, price, fee).map(|_| ())
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Marks `instrument` at `price` (fixed point, > 0); true when a margin account is now
    /// liquidatable (margin balance below the maintenance margin).
    pub fn mark(&mut self, instrument: usize, price: i64) -> Result<bool> {
        match self {
            Account::Margin { account, .. } => account.on_mark(instrument, price),
            _ => Ok(false),
        }
    }

    /// The cash account, if this is one.
    pub fn cash(&self) -> Option<&CashAccount> {
        match self {
            Account::Cash { account, .. } => Some(account),
            _ => None,
        }
    }

    /// The margin account, if this is one.
    pub fn margin(&self) -> Option<&MarginAccount> {
        match self {
            Account::Margin { account, .. } => Some(account),
            _ => None,
        }
    }

    /// The margin account and its liquidation fee rate, if this is one.
    pub fn margin_mut(&mut self) -> Option<(&mut MarginAccount, f64)> {
        match self {
            Account::Margin {
                account,
                liquidation_fee,
            } => Some((account, *liquidation_fee)),
            _ => None,
        }
    }
}
