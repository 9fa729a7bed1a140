//! Accounts: what an order may spend, what a fill moves, when a margin account is liquidated.
//! Every rule below follows Binance's documentation (named with each rule); where the model is
//! simpler than the exchange, the simplification is stated.
//!
//! Prices and quantities arrive in the core's fixed point (1e-9, [`crate::fixed`]); money is
//! `f64` of the asset concerned.
//!
//! # Cash account (spot): [`CashAccount`]
//!
//! - **Balances** are `free` and `locked` per asset, as in Binance spot's account endpoint
//!   (`GET /api/v3/account`: `balances[].free`, `balances[].locked`). Assets are registered
//!   by name once ([`CashAccount::asset`]) and then addressed by [`AssetId`].
//! - **Reservation.** An open order locks what it could spend: a limit buy `qty × price` of
//!   the quote, a sell `qty` of the base. Nothing is reserved for the fee, because Binance
//!   spot takes the commission from the asset received when it is not paid in BNB (the
//!   `fills[].commissionAsset` of a `POST /api/v3/order` response: the base for a buy, the
//!   quote for a sell).
//!   A market buy has no price: it reserves `qty × reference × (1 + slippage)`, the reference
//!   price and the allowance being the caller's (simplification: Binance itself checks a
//!   market buy against the book as it fills; the model needs an up-front bound).
//! - An order the free balance cannot cover is refused with a [`Refusal`] naming the asset,
//!   the amount needed and the amount available ("insufficient BTC: needs 0.5, 0 available").
//! - **Fills** ([`CashAccount::fill`]) move base and quote and take the fee from what is
//!   received: buy `fee = qty × rate` (base), sell `fee = qty × price × rate` (quote). The fill
//!   uses its share of the order's reservation (`qty × limit` for a buy): a buy filled below
//!   its limit returns the difference to free; the last fill releases what is left.
//!   [`CashAccount::release`] frees the rest on a cancel or expiry.
//! - **Balances never go negative.** A fill that would make one negative is an error and
//!   changes nothing (no clamp). Only floating-point dust below 1e-12 of the amounts moved is
//!   rounded to 0. Negative or non-finite deposits and starting balances are refused, naming
//!   the field and value; an unknown asset name is refused, naming it.
//! - Simplifications: no BNB fee payment or discount, no minimum notional / lot filters (the
//!   order path checks those), no quote-quantity market orders.
//!
//! # Margin account (USDⓈ-M linear, COIN-M inverse perpetuals): [`MarginAccount`]
//!
//! One account per settlement asset (a USDT wallet for USDⓈ-M, a BTC wallet for BTC-settled
//! COIN-M contracts), cross margin, one-way mode (one net position per instrument). Each
//! instrument has a contract kind ([`crate::risk::ContractKind`]), a contract size (base
//! units per contract for linear, quote units per contract, e.g. 100 USD, for inverse), a
//! leverage, maintenance brackets, a position and a mark price.
//!
//! - **Notional** of a position is in the settlement asset: linear `|qty| × size × mark`,
//!   inverse `|qty| × size / mark` (COIN-M "position notional value = quantity × contract
//!   multiplier / mark price", Binance FAQ "Leverage and Margin in Coin-Margined Futures
//!   Contracts").
//! - **Brackets** ([`Bracket`]) are Binance's leverage brackets: `GET /fapi/v1/leverageBracket`
//!   gives `notionalFloor`/`notionalCap` in USDT, `GET /dapi/v2/leverageBracket` gives
//!   `qtyFloor`/`qtyCap` in the base coin, i.e. the same inverse notional above; both give
//!   `maintMarginRatio`, `cum` and `initialLeverage`. The model stores the bounds as notional
//!   in the settlement asset for both kinds. The bracket holding a notional `n` is the first
//!   with `n < cap` (the last one beyond the last cap).
//! - **Leverage** must be finite, >= 1 and at most the `initialLeverage` of the bracket
//!   holding the current position notional (Binance FAQ "Leverage and Margin of USDⓈ-M
//!   Futures": the larger the position, the lower the maximum leverage). Simplification: it
//!   is checked when set, not again when the position grows.
//! - **Initial margin** of a position = notional at the mark / leverage ("Initial Margin Rate
//!   = 1 / Leverage", Binance FAQs "Leverage and Margin of USDⓈ-M Futures" and "Leverage and
//!   Margin in Coin-Margined Futures Contracts").
//! - **Order margin**: for each side, the part of that side's open quantity that would
//!   increase the position (beyond what first closes an opposite position) × the side's
//!   order prices / leverage; both sides are summed. Simplification: Binance also adds the
//!   "open loss" of orders priced through the mark and, in one-way mode, nets the sides
//!   differently; summing both sides is conservative.
//! - **Wallet balance** = deposits + realized PnL − fees − funding; **unrealized PnL** at the
//!   mark: linear `qty × size × (mark − entry)`, inverse `qty × size × (1/entry − 1/mark)`;
//!   **margin balance** = wallet + unrealized; **available** = margin balance − position
//!   initial margin − order margin, reported as is (negative in a deficit).
//! - **Pre-trade check** ([`MarginAccount::check_order`]): refused when the initial margin of
//!   the order's position-increasing part exceeds the available balance; a reducing order
//!   needs no margin. No allocation unless refused.
//! - **Maintenance margin** = notional × `maintMarginRatio` − `cum` of the bracket holding the
//!   notional (Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts",
//!   "Maintenance Margin = Notional Position Value × Maintenance Margin Rate − Maintenance
//!   Amount"); summed over all positions in cross margin.
//! - **Liquidation** is due when margin balance < total maintenance margin (Binance FAQ
//!   "Binance Futures Liquidation Protocols": liquidation is triggered when collateral
//!   (wallet + unrealized) falls below the maintenance margin). [`MarginAccount::on_mark`]
//!   reports it.
//! - **Liquidation price, USDⓈ-M, one-way mode** (Binance FAQ "How to Calculate Liquidation
//!   Price of USDⓈ-M Futures Contracts"):
//!   `LP = (WB − TMM1 + UPNL1 + cumB − Side1 × Position1 × EP1) / (Position1 × MMR_B − Side1 ×
//!   Position1)`, with `WB` the wallet balance, `TMM1` / `UPNL1` the maintenance margin and
//!   unrealized PnL of all other positions, `cumB` and `MMR_B` of this position's bracket,
//!   `Side1` +1 long / −1 short, `Position1` the absolute size in base units (contracts ×
//!   size), `EP1` the entry price.
//! - **Liquidation price, COIN-M, one-way mode** (Binance FAQ "How to Calculate Liquidation
//!   Price of COIN-M Futures Contracts", `support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46`, with
//!   the hedge-mode terms `L` and `S` zero):
//!   `LP = (B × MMR_B + Side_B × B) / ((WB − TMM1 + UPNL1 + cumB) / CM + Side_B × B / EP_B)`,
//!   with `B` the absolute position in contracts, `CM` the contract size (multiplier), the
//!   other terms as above in the base coin. It is the price solving
//!   `WB + UPNL1 + Side × B × CM × (1/EP − 1/P) = TMM1 + B × CM / P × MMR − cum`.
//! - Both formulas need the bracket of the notional *at the liquidation price*. The model
//!   starts with the bracket of the current notional (at the mark) and, as Binance's notes
//!   say ("if the position notional at the liquidation price and the assumed level differ,
//!   substitute the other level's rate and amount and recalculate"), moves to the bracket
//!   holding the result until they agree (at most one pass per bracket). Other positions are
//!   held at their current marks.
//! - **Forced liquidation** ([`MarginAccount::liquidate`]): all open orders are cancelled,
//!   the position is closed at the price the engine passes (book or mark), the PnL is
//!   realized and a liquidation clearance fee (a rate of the closed notional, an argument)
//!   is charged (Binance Liquidation Protocols: the fee is charged on the amount liquidated;
//!   the FAQ quoted 0.3% for BTCUSDT and 0.5% for the other perpetuals, and Binance now
//!   publishes the rate per symbol). A wallet left negative is reset to 0 by the insurance
//!   fund (Binance "Insurance Fund": it balances a bankrupt account back to 0); the amount is
//!   reported. The record ([`LiquidationFill`]) is marked as a liquidation. Simplification:
//!   Binance liquidates in steps ("smart liquidation", partial when that restores the
//!   margin) and at the bankruptcy price; the model closes the whole position at once at the
//!   given price.
//! - **Fills** ([`MarginAccount::fill`]) follow [`crate::risk::Portfolio`]'s rules: adding
//!   averages the entry (quantity-weighted mean for linear, harmonic mean for inverse),
//!   reducing realizes PnL on the reduced part into the wallet, a flip closes and reopens the
//!   rest at the fill price; the fee (an amount) is paid from the wallet.
//! - **Funding** ([`MarginAccount::fund`], Binance FAQ "Introduction to Binance Futures
//!   Funding Rates": "Funding Amount = Nominal Value of Positions × Funding Rate"; COIN-M
//!   nominal value = quantity × contract size / mark): linear `payment = qty × size × mark ×
//!   rate`, inverse `payment = qty × size / mark × rate` (in the base coin), with the signed
//!   position: a long pays when the rate is positive and a short receives. The wallet is
//!   debited by the payment; a running total per instrument is kept.
//! - Simplifications: no isolated margin, no hedge mode, no multi-assets mode, no auto
//!   deleveraging, no delivery contracts; the mark price is supplied by the caller.

mod account;
pub mod contract;
mod ledger;
mod orders;

pub use account::{
    AssetId, Bracket, CashAccount, LiquidationFill, MarginAccount, MarginPosition, Refusal,
    SpotOrder, SpotPrice,
};
pub use ledger::{Account, AccountReject, AccountSetup, MARKET_BUY_ALLOWANCE};
pub use orders::{OrderRow, OrderTracker};
