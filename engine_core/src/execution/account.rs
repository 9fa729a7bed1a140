//! The cash (spot) account and the cross-margin futures account. The rules, their sources and
//! the simplifications are listed in the module documentation ([`crate::execution`]).

use std::fmt;

use super::contract;
use crate::error::{Error, Result};
use crate::fixed::{format as fixed, SCALE};
use crate::risk::{ContractKind, OrderSide};

const S: f64 = SCALE as f64;

/// Rounding dust tolerated when a balance lands just below zero: `1e-12` of the amounts
/// involved (at least `1e-12`). Anything further below zero is an error, never clamped.
const DUST: f64 = 1e-12;

/// `x` when it is >= 0, 0 when it is below zero only by rounding dust relative to `scale`,
/// `None` when it would really be negative.
fn non_negative(x: f64, scale: f64) -> Option<f64> {
    if x >= 0.0 {
        Some(x)
    } else if x >= -DUST * scale.abs().max(1.0) {
        Some(0.0)
    } else {
        None
    }
}

fn check_amount(field: &'static str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(field, x, "must be finite and >= 0"))
    }
}

fn check_positive(field: &'static str, v: i64) -> Result<()> {
    if v > 0 {
        Ok(())
    } else {
        Err(Error::invalid(field, fixed(v), "must be > 0"))
    }
}

fn check_fee_rate(x: f64) -> Result<()> {
    if x.is_finite() && x.abs() <= 0.1 {
        Ok(())
    } else {
        Err(Error::invalid(
            "fee_rate",
            x,
            "must be a finite rate within ±0.1",
        ))
    }
}

/// An order that cannot be paid for: the asset it needs, how much, and how much is available.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The asset that is short.
    pub asset: String,
    /// What the order needs of it.
    pub needed: f64,
    /// What is available (may be negative for a margin account in deficit).
    pub available: f64,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "insufficient {}: needs {}, {} available",
            self.asset, self.needed, self.available
        )
    }
}

impl std::error::Error for Refusal {}

// ------------------------------------------------------------------------------------------
// Cash account (spot)
// ------------------------------------------------------------------------------------------

/// An asset of a [`CashAccount`], as returned by [`CashAccount::asset`]: an index, so that the
/// hot-path calls take no strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetId(pub u16);

/// The price of a spot order, which decides what it reserves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpotPrice {
    /// A limit order at this price (fixed point): a buy reserves `qty * price` of the quote.
    Limit(i64),
    /// A market order: a buy reserves `qty * reference * (1 + slippage)` of the quote.
    Market {
        /// Reference price (fixed point), e.g. the best ask.
        reference: i64,
        /// Slippage allowance as a fraction (0.01 = 1%), finite and >= 0.
        slippage: f64,
    },
}

/// A spot order to reserve for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpotOrder {
    /// Buy (spends the quote) or sell (spends the base).
    pub side: OrderSide,
    /// The asset bought or sold.
    pub base: AssetId,
    /// The asset it is priced in.
    pub quote: AssetId,
    /// Quantity of base, fixed point, > 0.
    pub qty: i64,
    /// Limit or market.
    pub price: SpotPrice,
}

#[derive(Debug, Clone, Copy)]
struct Reservation {
    order_id: u64,
    side: OrderSide,
    base: AssetId,
    quote: AssetId,
    /// Base quantity not yet filled (fixed point).
    remaining: i64,
    /// Reserved per unit of base: the limit (or the padded reference) price for a buy, 1 for
    /// a sell.
    per_unit: f64,
    /// Amount still locked for this order (quote for a buy, base for a sell).
    reserved: f64,
}

impl Reservation {
    fn asset(&self) -> AssetId {
        match self.side {
            OrderSide::Buy => self.quote,
            OrderSide::Sell => self.base,
        }
    }
}

/// Spot balances (`free` and `locked` per asset) and the reservations of open orders.
#[derive(Debug, Clone, Default)]
pub struct CashAccount {
    names: Vec<String>,
    free: Vec<f64>,
    locked: Vec<f64>,
    orders: Vec<Reservation>,
}

impl CashAccount {
    /// An empty account.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of asset `name`, registering it (with zero balances) the first time.
    pub fn asset(&mut self, name: &str) -> Result<AssetId> {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return Ok(AssetId(i as u16));
        }
        if name.is_empty() || name.len() > 20 || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                "asset",
                name,
                "must be 1 to 20 ASCII letters or digits",
            ));
        }
        let id = u16::try_from(self.names.len())
            .map_err(|_| Error::invalid("asset", name, "too many assets (65536)"))?;
        self.names.push(name.to_owned());
        self.free.push(0.0);
        self.locked.push(0.0);
        Ok(AssetId(id))
    }

    /// The id of an already registered asset; an unknown one is refused, naming it.
    pub fn asset_id(&self, name: &str) -> Result<AssetId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| AssetId(i as u16))
            .ok_or_else(|| Error::invalid("asset", name, "unknown asset"))
    }

    /// The name of `asset`.
    pub fn asset_name(&self, asset: AssetId) -> Result<&str> {
        self.index(asset).map(|i| self.names[i].as_str())
    }

    fn index(&self, asset: AssetId) -> Result<usize> {
        let i = usize::from(asset.0);
        if i < self.names.len() {
            Ok(i)
        } else {
            Err(Error::invalid(
                "asset",
                asset.0,
                "not an asset of this account",
            ))
        }
    }

    /// Sets the free balance of `asset` (a starting balance): finite and >= 0.
    pub fn set_balance(&mut self, asset: AssetId, free: f64) -> Result<()> {
        check_amount("balance", free)?;
        let i = self.index(asset)?;
        self.free[i] = free;
        Ok(())
    }

    /// Adds `amount` (finite, >= 0) to the free balance of `asset`.
    pub fn deposit(&mut self, asset: AssetId, amount: f64) -> Result<()> {
        check_amount("deposit", amount)?;
        let i = self.index(asset)?;
        self.free[i] += amount;
        Ok(())
    }

    /// Free (spendable) balance of `asset`.
    pub fn free(&self, asset: AssetId) -> Result<f64> {
        self.index(asset).map(|i| self.free[i])
    }

    /// Balance of `asset` locked by open orders.
    pub fn locked(&self, asset: AssetId) -> Result<f64> {
        self.index(asset).map(|i| self.locked[i])
    }

    /// Amount still reserved by `order_id` (`None` when it has no reservation).
    pub fn reserved(&self, order_id: u64) -> Option<f64> {
        self.orders
            .iter()
            .find(|r| r.order_id == order_id)
            .map(|r| r.reserved)
    }

    /// Reserves what `order` could spend, moving it from free to locked. The outer error is a
    /// malformed call (bad quantity or price, unknown asset, reused order id); the inner one a
    /// refusal: the account cannot pay for the order.
    pub fn reserve(&mut self, order_id: u64, order: SpotOrder) -> Result<Result<(), Refusal>> {
        check_positive("qty", order.qty)?;
        let base = self.index(order.base)?;
        let quote = self.index(order.quote)?;
        if base == quote {
            return Err(Error::invalid(
                "quote",
                &self.names[quote],
                "must differ from the base asset",
            ));
        }
        if self.orders.iter().any(|r| r.order_id == order_id) {
            return Err(Error::invalid(
                "order_id",
                order_id,
                "already has a reservation",
            ));
        }
        let unit_price = match order.price {
            SpotPrice::Limit(p) => {
                check_positive("price", p)?;
                p as f64 / S
            }
            SpotPrice::Market {
                reference,
                slippage,
            } => {
                check_positive("reference_price", reference)?;
                check_amount("slippage", slippage)?;
                reference as f64 / S * (1.0 + slippage)
            }
        };
        let q = order.qty as f64 / S;
        let (asset, per_unit) = match order.side {
            OrderSide::Buy => (quote, unit_price),
            OrderSide::Sell => (base, 1.0),
        };
        let needed = q * per_unit;
        if needed > self.free[asset] {
            return Ok(Err(Refusal {
                asset: self.names[asset].clone(),
                needed,
                available: self.free[asset],
            }));
        }
        self.free[asset] -= needed;
        self.locked[asset] += needed;
        self.orders.push(Reservation {
            order_id,
            side: order.side,
            base: order.base,
            quote: order.quote,
            remaining: order.qty,
            per_unit,
            reserved: needed,
        });
        Ok(Ok(()))
    }

    /// Ends `order_id` (cancelled, expired, rejected): what it still reserves goes back to
    /// free. Returns the amount released.
    pub fn release(&mut self, order_id: u64) -> Result<f64> {
        let k = self
            .orders
            .iter()
            .position(|r| r.order_id == order_id)
            .ok_or_else(|| Error::invalid("order_id", order_id, "has no reservation"))?;
        let r = self.orders.swap_remove(k);
        let a = usize::from(r.asset().0);
        self.free[a] += r.reserved;
        self.locked[a] = non_negative(self.locked[a] - r.reserved, r.reserved).unwrap_or(0.0);
        Ok(r.reserved)
    }

    /// Books a fill of `qty` base at `price` (both fixed point, > 0) and returns the fee. The
    /// fee is a rate of what is received, taken from it (buy: `qty * rate` of base; sell:
    /// `qty * price * rate` of quote). When `order_id` has a reservation, its side and assets
    /// must match, the fill uses its share of the reservation (`qty * limit` for a buy, so a
    /// buy filled below its limit frees the difference) and the last fill releases the rest;
    /// an order without one is paid from the free balance. A fill that would make a balance
    /// negative is refused and changes nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn fill(
        &mut self,
        order_id: u64,
        side: OrderSide,
        base: AssetId,
        quote: AssetId,
        price: i64,
        qty: i64,
        fee_rate: f64,
    ) -> Result<f64> {
        check_positive("price", price)?;
        check_positive("qty", qty)?;
        check_fee_rate(fee_rate)?;
        let (b, qu) = (self.index(base)?, self.index(quote)?);
        if b == qu {
            return Err(Error::invalid(
                "quote",
                &self.names[qu],
                "must differ from the base asset",
            ));
        }
        let k = self.orders.iter().position(|r| r.order_id == order_id);
        let (q, p) = (qty as f64 / S, price as f64 / S);
        // The reservation's share for this fill, and what is left of it afterwards.
        let (release, done) = match k {
            Some(k) => {
                let r = &self.orders[k];
                if r.side != side || r.base != base || r.quote != quote {
                    return Err(Error::invalid(
                        "order_id",
                        order_id,
                        "the fill's side or assets differ from the order's",
                    ));
                }
                if qty > r.remaining {
                    return Err(Error::invalid(
                        "qty",
                        fixed(qty),
                        format!("exceeds the order's open {}", fixed(r.remaining)),
                    ));
                }
                let done = qty == r.remaining;
                (
                    if done {
                        r.reserved
                    } else {
                        (q * r.per_unit).min(r.reserved)
                    },
                    done,
                )
            }
            None => (0.0, false),
        };
        let (spent_asset, got_asset, spent, got, fee) = match side {
            OrderSide::Buy => (qu, b, q * p, q, q * fee_rate),
            OrderSide::Sell => (b, qu, q, q * p, q * p * fee_rate),
        };
        let scale = spent.max(release);
        let short = |asset: usize| {
            Error::invalid(
                "fill",
                format!("{} {}", fixed(qty), self.names[asset]),
                format!("would make the {} balance negative", self.names[asset]),
            )
        };
        let locked = if k.is_some() {
            non_negative(self.locked[spent_asset] - release, scale)
                .ok_or_else(|| short(spent_asset))?
        } else {
            self.locked[spent_asset]
        };
        let free = non_negative(self.free[spent_asset] + release - spent, scale)
            .ok_or_else(|| short(spent_asset))?;
        let received =
            non_negative(self.free[got_asset] + got - fee, got).ok_or_else(|| short(got_asset))?;
        self.locked[spent_asset] = locked;
        self.free[spent_asset] = free;
        self.free[got_asset] = received;
        if let Some(k) = k {
            if done {
                self.orders.swap_remove(k);
            } else {
                let r = &mut self.orders[k];
                r.remaining -= qty;
                r.reserved -= release;
            }
        }
        Ok(fee)
    }
}

// ------------------------------------------------------------------------------------------
// Margin account (USD-M linear / COIN-M inverse perpetuals, cross margin, one-way mode)
// ------------------------------------------------------------------------------------------

/// One maintenance-margin bracket, as Binance's leverage-bracket endpoints give it. The bounds
/// are position notional in the settlement asset: USDT for USD-M (`notionalFloor` /
/// `notionalCap` of `GET /fapi/v1/leverageBracket`), the base coin for COIN-M (`qtyFloor` /
/// `qtyCap` of `GET /dapi/v2/leverageBracket`, i.e. contracts × contract size / mark).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bracket {
    /// Lower bound of the notional (inclusive).
    pub notional_floor: f64,
    /// Upper bound of the notional.
    pub notional_cap: f64,
    /// Maintenance margin rate (`maintMarginRatio`).
    pub maint_margin_ratio: f64,
    /// Maintenance amount (`cum`), subtracted from `notional * rate`.
    pub cum: f64,
    /// Highest leverage allowed in this bracket (`initialLeverage`).
    pub max_leverage: f64,
}

/// One instrument's state in a [`MarginAccount`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MarginPosition {
    /// Signed position in contracts (fixed point): > 0 long, < 0 short.
    pub qty: i64,
    /// Average entry price (0 when flat).
    pub entry: f64,
    /// Last mark price (fixed point), 0 before the first mark or fill.
    pub mark: i64,
    /// PnL realized so far (settlement asset, before fees).
    pub realized: f64,
    /// Trading and liquidation fees paid so far.
    pub fees: f64,
    /// Funding paid so far (a receipt counts negative).
    pub funding_paid: f64,
}

/// A liquidation: the position closed by the exchange. Show it as a liquidation, not a trade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiquidationFill {
    /// Instrument index.
    pub instrument: usize,
    /// The closing side (sell for a long).
    pub side: OrderSide,
    /// Contracts closed (fixed point, > 0).
    pub qty: i64,
    /// Price of the close (fixed point).
    pub price: i64,
    /// Liquidation clearance fee charged (settlement asset).
    pub fee: f64,
    /// PnL realized by the close (settlement asset, before the fee).
    pub realized: f64,
    /// What the insurance fund paid to bring a negative wallet back to 0.
    pub insurance_cover: f64,
    /// Always true: this record is a forced liquidation.
    pub is_liquidation: bool,
}

#[derive(Debug, Clone)]
struct Instrument {
    kind: ContractKind,
    contract_size: f64,
    leverage: f64,
    brackets: Vec<Bracket>,
    pos: MarginPosition,
    /// Open orders per side: quantity (contracts, fixed point) and notional at the order
    /// prices (settlement asset). Index 0 buys, 1 sells.
    open_qty: [i64; 2],
    open_notional: [f64; 2],
    /// What this instrument adds to the available balance (unrealized PnL - position initial
    /// margin - order margin), kept up to date by every change of its position, mark,
    /// leverage or open orders ([`Instrument::refresh`]), so the pre-trade check reads it.
    contrib: f64,
}

#[derive(Debug, Clone, Copy)]
struct OpenOrder {
    order_id: u64,
    instrument: usize,
    side: OrderSide,
    qty: i64,
    price: i64,
}

fn side_index(side: OrderSide) -> usize {
    match side {
        OrderSide::Buy => 0,
        OrderSide::Sell => 1,
    }
}

impl Instrument {
    /// Notional of `qty` contracts (unsigned) at `price`, in the settlement asset.
    #[inline]
    fn notional(&self, qty: i64, price: f64) -> f64 {
        contract::notional(self.kind, self.contract_size, qty, price)
    }

    /// PnL of `qty` (signed) entered at `entry`, at `exit`.
    #[inline]
    fn pnl(&self, qty: i64, entry: f64, exit: f64) -> f64 {
        contract::pnl(self.kind, self.contract_size, qty, entry, exit)
    }

    #[inline]
    fn mark(&self) -> f64 {
        self.pos.mark as f64 / S
    }

    #[inline]
    fn unrealized(&self) -> f64 {
        if self.pos.qty == 0 {
            0.0
        } else {
            self.pnl(self.pos.qty, self.pos.entry, self.mark())
        }
    }

    #[inline]
    fn position_notional(&self) -> f64 {
        if self.pos.qty == 0 {
            0.0
        } else {
            self.notional(self.pos.qty, self.mark())
        }
    }

    /// Notional of the open orders of `side` that would increase the position: the side's
    /// quantity beyond what first closes an opposite position, priced pro rata at the side's
    /// orders.
    #[inline]
    fn increasing_notional(&self, side: usize, open_qty: i64, open_notional: f64) -> f64 {
        let opposite = if side == 0 {
            (-self.pos.qty).max(0)
        } else {
            self.pos.qty.max(0)
        };
        let inc = open_qty - opposite;
        if inc <= 0 || open_qty <= 0 {
            0.0
        } else {
            open_notional * (inc as f64 / open_qty as f64)
        }
    }

    /// Recomputes [`Instrument::contrib`] after a change.
    #[inline]
    fn refresh(&mut self) {
        self.contrib =
            self.unrealized() - self.position_notional() / self.leverage - self.order_margin();
    }

    #[inline]
    fn order_margin(&self) -> f64 {
        (self.increasing_notional(0, self.open_qty[0], self.open_notional[0])
            + self.increasing_notional(1, self.open_qty[1], self.open_notional[1]))
            / self.leverage
    }

    /// The bracket holding `notional` (the last one beyond the last cap).
    fn bracket(&self, notional: f64) -> &Bracket {
        self.brackets
            .iter()
            .find(|b| notional < b.notional_cap)
            .unwrap_or(&self.brackets[self.brackets.len() - 1])
    }

    fn maintenance(&self) -> f64 {
        if self.pos.qty == 0 {
            return 0.0;
        }
        let n = self.position_notional();
        let b = self.bracket(n);
        (n * b.maint_margin_ratio - b.cum).max(0.0)
    }
}

/// A cross-margin futures account in one settlement asset (one-way mode): a wallet, and
/// instruments that settle in it, each with its leverage, brackets, position, mark and open
/// orders.
#[derive(Debug, Clone)]
pub struct MarginAccount {
    asset: String,
    wallet: f64,
    instruments: Vec<Instrument>,
    orders: Vec<OpenOrder>,
}

impl MarginAccount {
    /// An account settling in `asset` ("USDT", "BTC"...) with `wallet` (finite, >= 0).
    pub fn new(asset: &str, wallet: f64) -> Result<Self> {
        if asset.is_empty() {
            return Err(Error::invalid("asset", asset, "must not be empty"));
        }
        check_amount("wallet_balance", wallet)?;
        Ok(MarginAccount {
            asset: asset.to_owned(),
            wallet,
            instruments: Vec::new(),
            orders: Vec::new(),
        })
    }

    /// The settlement asset.
    pub fn asset(&self) -> &str {
        &self.asset
    }

    /// Registers an instrument settling in this account's asset; returns its index. Brackets
    /// must be contiguous from 0 (each floor the previous cap), with rates in `[0, 1)`,
    /// `cum >= 0` and `max_leverage >= 1`; `leverage` is checked as in
    /// [`MarginAccount::set_leverage`].
    pub fn add_instrument(
        &mut self,
        kind: ContractKind,
        contract_size: f64,
        leverage: f64,
        brackets: &[Bracket],
    ) -> Result<usize> {
        if !(contract_size.is_finite() && contract_size > 0.0) {
            return Err(Error::invalid(
                "contract_size",
                contract_size,
                "must be finite and > 0",
            ));
        }
        if brackets.is_empty() {
            return Err(Error::invalid(
                "brackets",
                0,
                "at least one bracket is needed",
            ));
        }
        let mut floor = 0.0;
        for (k, b) in brackets.iter().enumerate() {
            let ok = b.notional_floor.is_finite()
                && (b.notional_floor - floor).abs() <= 1e-9 * floor.max(1.0)
                && b.notional_cap > b.notional_floor
                && (0.0..1.0).contains(&b.maint_margin_ratio)
                && b.cum.is_finite()
                && b.cum >= 0.0
                && b.max_leverage.is_finite()
                && b.max_leverage >= 1.0;
            if !ok {
                return Err(Error::invalid(
                    "brackets",
                    k,
                    "brackets must be contiguous from 0, cap > floor, rate in [0, 1), \
                     cum >= 0, max_leverage >= 1",
                ));
            }
            floor = b.notional_cap;
        }
        let inst = Instrument {
            kind,
            contract_size,
            leverage: 1.0,
            brackets: brackets.to_vec(),
            pos: MarginPosition::default(),
            open_qty: [0; 2],
            open_notional: [0.0; 2],
            contrib: 0.0,
        };
        self.instruments.push(inst);
        let i = self.instruments.len() - 1;
        if let Err(e) = self.set_leverage(i, leverage) {
            self.instruments.pop();
            return Err(e);
        }
        Ok(i)
    }

    fn inst(&self, i: usize) -> Result<&Instrument> {
        self.instruments
            .get(i)
            .ok_or_else(|| Error::invalid("instrument", i, "unknown instrument"))
    }

    fn inst_mut(&mut self, i: usize) -> Result<&mut Instrument> {
        self.instruments
            .get_mut(i)
            .ok_or_else(|| Error::invalid("instrument", i, "unknown instrument"))
    }

    /// Sets the leverage of instrument `i`: finite, >= 1 and at most the `max_leverage` of the
    /// bracket holding the position's current notional (at the mark).
    pub fn set_leverage(&mut self, i: usize, leverage: f64) -> Result<()> {
        let inst = self.inst(i)?;
        if !(leverage.is_finite() && leverage >= 1.0) {
            return Err(Error::invalid(
                "leverage",
                leverage,
                "must be finite and >= 1",
            ));
        }
        let max = inst.bracket(inst.position_notional()).max_leverage;
        if leverage > max {
            return Err(Error::invalid(
                "leverage",
                leverage,
                format!("above the bracket's maximum {max}"),
            ));
        }
        let inst = self.inst_mut(i)?;
        inst.leverage = leverage;
        inst.refresh();
        Ok(())
    }

    /// Leverage of instrument `i`.
    pub fn leverage(&self, i: usize) -> Result<f64> {
        self.inst(i).map(|x| x.leverage)
    }

    /// The bracket of instrument `i` that holds `notional` (settlement asset).
    pub fn bracket(&self, i: usize, notional: f64) -> Result<Bracket> {
        self.inst(i).map(|x| *x.bracket(notional))
    }

    /// Position, entry, mark and statistics of instrument `i`.
    pub fn position(&self, i: usize) -> Result<MarginPosition> {
        self.inst(i).map(|x| x.pos)
    }

    /// Adds `amount` (finite, >= 0) to the wallet.
    pub fn deposit(&mut self, amount: f64) -> Result<()> {
        check_amount("deposit", amount)?;
        self.wallet += amount;
        Ok(())
    }

    /// Wallet balance: deposits + realized PnL - fees - funding paid.
    pub fn wallet_balance(&self) -> f64 {
        self.wallet
    }

    /// Unrealized PnL of instrument `i` at its mark.
    pub fn unrealized(&self, i: usize) -> Result<f64> {
        self.inst(i).map(Instrument::unrealized)
    }

    /// Unrealized PnL of all positions at their marks.
    pub fn unrealized_pnl(&self) -> f64 {
        self.instruments.iter().map(Instrument::unrealized).sum()
    }

    /// Wallet balance + unrealized PnL (the account's equity).
    pub fn margin_balance(&self) -> f64 {
        self.wallet + self.unrealized_pnl()
    }

    /// Initial margin of the positions: notional at the mark / leverage.
    pub fn position_initial_margin(&self) -> f64 {
        self.instruments
            .iter()
            .map(|x| x.position_notional() / x.leverage)
            .sum()
    }

    /// Initial margin of the open orders: the notional of the part that would increase the
    /// position, / leverage, both sides summed.
    pub fn order_margin(&self) -> f64 {
        self.instruments.iter().map(Instrument::order_margin).sum()
    }

    /// Margin balance - position initial margin - order margin. Negative when the account is
    /// in deficit (reported as is, never as a positive amount).
    #[inline]
    pub fn available(&self) -> f64 {
        let mut a = self.wallet;
        for x in &self.instruments {
            a += x.contrib;
        }
        a
    }

    /// Maintenance margin of instrument `i`: notional * rate - cum of its bracket.
    pub fn maintenance(&self, i: usize) -> Result<f64> {
        self.inst(i).map(Instrument::maintenance)
    }

    /// Maintenance margin of all positions (cross margin).
    pub fn maintenance_margin(&self) -> f64 {
        self.instruments.iter().map(Instrument::maintenance).sum()
    }

    /// True when the margin balance is below the total maintenance margin.
    pub fn is_liquidatable(&self) -> bool {
        self.margin_balance() < self.maintenance_margin()
    }

    /// The pre-trade check: refused when the initial margin of the part of the order that
    /// would increase the position (with the side's other open orders counted first) exceeds
    /// the available balance. A position-reducing order needs none. The outer error is a
    /// malformed call; the inner one the refusal (no allocation unless refused).
    #[inline]
    pub fn check_order(
        &self,
        i: usize,
        side: OrderSide,
        qty: i64,
        price: i64,
    ) -> Result<Result<(), Refusal>> {
        let Some(inst) = self.instruments.get(i) else {
            return Err(Error::invalid("instrument", i, "unknown instrument"));
        };
        if qty <= 0 || price <= 0 {
            return Err(if qty <= 0 {
                Error::invalid("qty", fixed(qty), "must be > 0")
            } else {
                Error::invalid("price", fixed(price), "must be > 0")
            });
        }
        let s = side_index(side);
        let (oq, on) = (inst.open_qty[s], inst.open_notional[s]);
        let add = inst.notional(qty, price as f64 / S);
        let needed = (inst.increasing_notional(s, oq + qty, on + add)
            - inst.increasing_notional(s, oq, on))
            / inst.leverage;
        if needed <= 0.0 {
            return Ok(Ok(()));
        }
        let available = self.available();
        if needed > available {
            return Ok(Err(self.refusal(needed, available)));
        }
        Ok(Ok(()))
    }

    #[cold]
    fn refusal(&self, needed: f64, available: f64) -> Refusal {
        Refusal {
            asset: self.asset.clone(),
            needed,
            available,
        }
    }

    /// [`MarginAccount::check_order`], then records the order as open (its margin counts in
    /// [`MarginAccount::order_margin`] until it is filled or cancelled).
    pub fn place_order(
        &mut self,
        order_id: u64,
        i: usize,
        side: OrderSide,
        qty: i64,
        price: i64,
    ) -> Result<Result<(), Refusal>> {
        if self.orders.iter().any(|o| o.order_id == order_id) {
            return Err(Error::invalid("order_id", order_id, "is already open"));
        }
        if let Err(r) = self.check_order(i, side, qty, price)? {
            return Ok(Err(r));
        }
        self.record_order(order_id, i, side, qty, price);
        Ok(Ok(()))
    }

    /// Records open order `order_id` and counts its margin.
    fn record_order(&mut self, order_id: u64, i: usize, side: OrderSide, qty: i64, price: i64) {
        self.orders.push(OpenOrder {
            order_id,
            instrument: i,
            side,
            qty,
            price,
        });
        self.add_open(i, side, qty, price);
    }

    /// Records open order `order_id` without the check (it is at the exchange already): its
    /// margin counts even when the account cannot afford it.
    pub fn hold_order(
        &mut self,
        order_id: u64,
        i: usize,
        side: OrderSide,
        qty: i64,
        price: i64,
    ) -> Result<()> {
        self.inst(i)?;
        check_positive("qty", qty)?;
        check_positive("price", price)?;
        if let Some(k) = self.orders.iter().position(|o| o.order_id == order_id) {
            let o = self.orders.swap_remove(k);
            self.remove_open(o.instrument, o.side, o.qty, o.price);
        }
        self.record_order(order_id, i, side, qty, price);
        Ok(())
    }

    fn add_open(&mut self, i: usize, side: OrderSide, qty: i64, price: i64) {
        let inst = &mut self.instruments[i];
        let s = side_index(side);
        let n = inst.notional(qty, price as f64 / S);
        inst.open_qty[s] += qty;
        inst.open_notional[s] += n;
        inst.refresh();
    }

    fn remove_open(&mut self, i: usize, side: OrderSide, qty: i64, price: i64) {
        let inst = &mut self.instruments[i];
        let s = side_index(side);
        let n = inst.notional(qty, price as f64 / S);
        inst.open_qty[s] -= qty;
        inst.open_notional[s] = if inst.open_qty[s] == 0 {
            0.0
        } else {
            (inst.open_notional[s] - n).max(0.0)
        };
        inst.refresh();
    }

    /// Cancels open order `order_id`: its margin is released.
    pub fn cancel_order(&mut self, order_id: u64) -> Result<()> {
        let k = self
            .orders
            .iter()
            .position(|o| o.order_id == order_id)
            .ok_or_else(|| Error::invalid("order_id", order_id, "is not open"))?;
        let o = self.orders.swap_remove(k);
        self.remove_open(o.instrument, o.side, o.qty, o.price);
        Ok(())
    }

    /// A fill of open order `order_id`: reduces the order (removing it when done), then books
    /// it as [`MarginAccount::fill`] does. Returns the realized PnL.
    pub fn fill_order(&mut self, order_id: u64, qty: i64, price: i64, fee: f64) -> Result<f64> {
        let k = self
            .orders
            .iter()
            .position(|o| o.order_id == order_id)
            .ok_or_else(|| Error::invalid("order_id", order_id, "is not open"))?;
        let o = self.orders[k];
        if qty <= 0 || qty > o.qty {
            return Err(Error::invalid(
                "qty",
                fixed(qty),
                format!("must be > 0 and <= the order's open {}", fixed(o.qty)),
            ));
        }
        let realized = self.fill(o.instrument, o.side, qty, price, fee)?;
        self.remove_open(o.instrument, o.side, qty, o.price);
        if qty == o.qty {
            self.orders.swap_remove(k);
        } else {
            self.orders[k].qty -= qty;
        }
        Ok(realized)
    }

    /// Books a fill of `qty` contracts at `price` (fixed point, > 0) with `fee` (settlement
    /// asset, finite; negative for a rebate) paid from the wallet. Adding averages the entry
    /// (quantity-weighted for linear, harmonic for inverse); reducing realizes PnL on the
    /// reduced part into the wallet; a flip closes the whole position and opens the rest at
    /// the fill price. Returns the realized PnL.
    pub fn fill(
        &mut self,
        i: usize,
        side: OrderSide,
        qty: i64,
        price: i64,
        fee: f64,
    ) -> Result<f64> {
        check_positive("qty", qty)?;
        check_positive("price", price)?;
        if !fee.is_finite() {
            return Err(Error::invalid("fee", fee, "must be finite"));
        }
        let inst = self.inst_mut(i)?;
        let signed = side.sign() * qty;
        let old = inst.pos.qty;
        let new_qty = old
            .checked_add(signed)
            .ok_or_else(|| Error::invalid("qty", fixed(qty), "overflows the position"))?;
        let p = price as f64 / S;
        let mut realized = 0.0;
        if old == 0 || old.signum() == signed.signum() {
            inst.pos.entry = contract::average_entry(
                inst.kind,
                old.unsigned_abs(),
                inst.pos.entry,
                qty.unsigned_abs(),
                p,
            );
        } else {
            let closed = qty.min(old.abs());
            realized = inst.pnl(old.signum() * closed, inst.pos.entry, p);
            if new_qty == 0 {
                inst.pos.entry = 0.0;
            } else if new_qty.signum() != old.signum() {
                inst.pos.entry = p;
            }
        }
        inst.pos.qty = new_qty;
        inst.pos.realized += realized;
        inst.pos.fees += fee;
        if inst.pos.mark == 0 {
            inst.pos.mark = price;
        }
        inst.refresh();
        self.wallet += realized - fee;
        Ok(realized)
    }

    /// Sets the mark price of instrument `i` (fixed point, > 0); returns whether the account
    /// is now liquidatable (margin balance < total maintenance margin).
    pub fn on_mark(&mut self, i: usize, mark: i64) -> Result<bool> {
        check_positive("mark", mark)?;
        let inst = self.inst_mut(i)?;
        inst.pos.mark = mark;
        inst.refresh();
        Ok(self.is_liquidatable())
    }

    /// The mark price at which the account becomes liquidatable through instrument `i`, the
    /// other positions held at their marks (Binance's one-way-mode formulas, see the module
    /// documentation). `None` when flat or when no positive price liquidates it. The bracket
    /// starts as the one holding the current notional and is moved to the one holding the
    /// notional at the result until they agree (at most one pass per bracket).
    pub fn liquidation_price(&self, i: usize) -> Result<Option<f64>> {
        let inst = self.inst(i)?;
        let pos = inst.pos;
        if pos.qty == 0 {
            return Ok(None);
        }
        let mut tmm = 0.0;
        let mut upnl = 0.0;
        for (k, x) in self.instruments.iter().enumerate() {
            if k != i {
                tmm += x.maintenance();
                upnl += x.unrealized();
            }
        }
        let base = self.wallet - tmm + upnl;
        let side = pos.qty.signum() as f64;
        let size = pos.qty.unsigned_abs() as f64 / S;
        let solve = |b: &Bracket| -> f64 {
            match inst.kind {
                ContractKind::Linear => {
                    // Position1 in base units: contracts * contract size.
                    let p1 = size * inst.contract_size;
                    (base + b.cum - side * p1 * pos.entry) / (p1 * b.maint_margin_ratio - side * p1)
                }
                ContractKind::Inverse => {
                    // B in contracts, CM the contract size (quote units per contract).
                    (size * b.maint_margin_ratio + side * size)
                        / ((base + b.cum) / inst.contract_size + side * size / pos.entry)
                }
            }
        };
        let mut bracket = *inst.bracket(inst.position_notional());
        let mut lp = solve(&bracket);
        for _ in 0..inst.brackets.len() {
            if !(lp.is_finite() && lp > 0.0) {
                break;
            }
            let at = *inst.bracket(inst.notional(pos.qty, lp));
            if at == bracket {
                break;
            }
            bracket = at;
            lp = solve(&bracket);
        }
        Ok((lp.is_finite() && lp > 0.0).then_some(lp))
    }

    /// Forced liquidation of instrument `i`: every open order of the account is cancelled,
    /// the position is closed at `price` (fixed point; the engine passes the book or mark
    /// price), the PnL is realized into the wallet and the clearance fee `fee_rate` × the
    /// closed notional is charged. A wallet left negative is brought back to 0 by the
    /// insurance fund (reported in the record).
    pub fn liquidate(&mut self, i: usize, price: i64, fee_rate: f64) -> Result<LiquidationFill> {
        check_positive("price", price)?;
        if !(fee_rate.is_finite() && (0.0..=0.1).contains(&fee_rate)) {
            return Err(Error::invalid(
                "fee_rate",
                fee_rate,
                "must be within [0, 0.1]",
            ));
        }
        let inst = self.inst(i)?;
        let qty = inst.pos.qty;
        if qty == 0 {
            return Err(Error::invalid(
                "instrument",
                i,
                "has no position to liquidate",
            ));
        }
        let fee = fee_rate * inst.notional(qty, price as f64 / S);
        let side = if qty > 0 {
            OrderSide::Sell
        } else {
            OrderSide::Buy
        };
        for o in std::mem::take(&mut self.orders) {
            self.remove_open(o.instrument, o.side, o.qty, o.price);
        }
        let realized = self.fill(i, side, qty.abs(), price, fee)?;
        let insurance_cover = (-self.wallet).max(0.0);
        self.wallet += insurance_cover;
        Ok(LiquidationFill {
            instrument: i,
            side,
            qty: qty.abs(),
            price,
            fee,
            realized,
            insurance_cover,
            is_liquidation: true,
        })
    }

    /// Funding at a funding time: `rate` (finite) at `mark` (fixed point, > 0). Returns the
    /// payment (> 0 paid by the account, < 0 received), booked to the wallet and added to the
    /// instrument's running total. Linear: position (base units) × mark × rate; inverse:
    /// contracts × contract size / mark × rate (in the base coin).
    pub fn fund(&mut self, i: usize, rate: f64, mark: i64) -> Result<f64> {
        if !rate.is_finite() {
            return Err(Error::invalid("funding_rate", rate, "must be finite"));
        }
        check_positive("mark", mark)?;
        let inst = self.inst_mut(i)?;
        let m = mark as f64 / S;
        let q = inst.pos.qty as f64 / S * inst.contract_size;
        let payment = match inst.kind {
            ContractKind::Linear => q * m * rate,
            ContractKind::Inverse => q / m * rate,
        };
        inst.pos.funding_paid += payment;
        self.wallet -= payment;
        Ok(payment)
    }

    /// Net funding paid on instrument `i` so far (received counts negative).
    pub fn funding_paid(&self, i: usize) -> Result<f64> {
        self.inst(i).map(|x| x.pos.funding_paid)
    }
}

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;
