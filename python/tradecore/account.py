"""The account a backtest or a paper session trades from: a spot cash account (balances per
asset; a buy needs the quote, a sell the base) or a cross-margin futures account (wallet,
leverage, maintenance brackets, liquidation, funding). The rules are in the compiled core
(``engine_core::execution``); this module chooses and describes the set-up.

::

    run_backtest(s, data, account="auto")             # spot -> cash, futures -> margin
    run_backtest(s, data, balances={"USDT": 5_000, "BTC": 0.1})   # spot starting balances
    run_backtest(s, data, leverage=10)                 # margin, 10x on every instrument

Nothing is guessed silently: the set-up chosen, with the source of every default (Binance's
default leverage, the brackets and liquidation fee of a symbol), is in the run's parameters
and summary. A futures instrument without known brackets is refused unless they are given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tradecore._core import AccountSpec
from tradecore.errors import InvalidInput
from tradecore.instrument import Bracket, Instrument, known_instrument

__all__ = ["ACCOUNT_MODES", "DEFAULT_LEVERAGE", "AccountPlan", "Bracket", "assets_of", "plan_account"]

ACCOUNT_MODES = ("auto", "cash", "margin", "none")

DEFAULT_LEVERAGE = 20.0
"""Binance's initial leverage of a USDⓈ-M or COIN-M symbol for an account that never set one."""

_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "EUR", "TRY", "BTC", "ETH", "BNB")


def assets_of(inst: Instrument) -> tuple[str, str]:
    """The (base, quote) assets of an instrument: its spec's, else told from a Binance-style
    symbol (``BTCUSDT`` -> BTC, USDT; ``BTCUSD_PERP`` -> BTC, USD)."""
    if inst.base and inst.quote:
        return inst.base, inst.quote
    sym = inst.symbol.upper().split("_")[0]
    for q in _QUOTES:
        if sym.endswith(q) and len(sym) > len(q):
            return sym[: -len(q)], q
    raise InvalidInput(f"invalid symbol {inst.venue}/{inst.symbol}: its base and quote assets cannot be told "
                       f"(quote one of {', '.join(_QUOTES)})")


def settlement_currency(instruments: Sequence[Instrument]) -> str:
    """The currency money figures are in: the quote of linear and spot instruments, the base
    (coin) of inverse ones; "" when it cannot be told or the instruments settle in several."""
    found = set()
    for inst in instruments:
        try:
            base, quote = assets_of(inst)
        except InvalidInput:
            return ""
        found.add(base if inst.kind == "inverse" else quote)
    return found.pop() if len(found) == 1 else ""


@dataclass(frozen=True)
class AccountPlan:
    """A run's account: the compiled core's set-up and a one-line description of it (with
    the source of each default) for the run's parameters and summary."""

    spec: AccountSpec | None
    description: str
    initial: float | None = None
    """The starting equity in the settlement (or quote) asset when it is known before the
    first price (margin: the wallet; cash holding only the quote: its balance); None when base
    balances are valued at the first mid (the first equity sample then)."""


def plan_account(instruments: Sequence[Instrument], *, mode: str = "auto", initial_capital: float = 100_000.0,
                 balances: Mapping[str, float] | None = None, leverage: float | Mapping[str, float] | None = None,
                 brackets: Mapping[str, Sequence[Bracket]] | None = None,
                 liquidation_fee: float | None = None) -> AccountPlan:
    """The account of a run over ``instruments``.

    Args:
        instruments: The run's instruments, in index order.
        mode: ``auto`` (spot instruments: ``cash``; futures: ``margin``), ``cash``,
            ``margin`` or ``none`` (no account: orders limited by the risk limits only).
        initial_capital: Cash: the quote balance when ``balances`` is not given; margin: the
            wallet, in the settlement asset.
        balances: Cash: starting balances per asset.
        leverage: Margin: one leverage for every instrument, or per symbol (default
            :data:`DEFAULT_LEVERAGE`, Binance's).
        brackets: Margin: maintenance brackets per symbol (default :data:`MARGIN_TABLES`).
        liquidation_fee: Margin: the liquidation clearance fee rate (default the symbol's).

    Raises:
        InvalidInput: an unknown mode, a negative or non-numeric balance, a leverage <= 0 or
            above the bracket's maximum (when the run starts), a futures instrument without
            brackets, instruments of different settlement assets.
    """
    if mode not in ACCOUNT_MODES:
        raise InvalidInput(f"invalid account: {mode!r} (one of {', '.join(ACCOUNT_MODES)})")
    spot = [i.kind == "spot" for i in instruments]
    if mode == "auto":
        if all(spot):
            mode = "cash"
        elif not any(spot):
            mode = "margin"
        else:
            raise InvalidInput("invalid account: 'auto' with spot and futures instruments together (one account "
                               "per run: trade them in separate runs)")
    if mode == "none":
        if balances or leverage is not None or brackets or liquidation_fee is not None:
            raise InvalidInput("invalid account: 'none' takes no balances, leverage, brackets or liquidation fee")
        return AccountPlan(None, f"none (capital {initial_capital:g}; orders limited by the risk limits only)",
                           initial_capital)
    if mode == "cash":
        return _cash(instruments, initial_capital, balances, leverage, brackets, liquidation_fee)
    return _margin(instruments, initial_capital, balances, leverage, brackets, liquidation_fee)


def _amount(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"invalid {field}: {value!r} (a number)")
    x = float(value)
    if not (math.isfinite(x) and x >= 0):
        raise InvalidInput(f"invalid {field}: {value!r} (must be finite and >= 0)")
    return x


def _cash(instruments: Sequence[Instrument], initial_capital: float, balances: Mapping[str, float] | None,
          leverage: object, brackets: object, liquidation_fee: object) -> AccountPlan:
    if any(i.kind != "spot" for i in instruments):
        bad = next(i for i in instruments if i.kind != "spot")
        raise InvalidInput(f"invalid account: 'cash' for {bad.venue}/{bad.symbol}, a {bad.kind} contract (a cash "
                           "account trades spot; use 'margin')")
    if leverage is not None or brackets or liquidation_fee is not None:
        raise InvalidInput("invalid account: a cash (spot) account takes no leverage, brackets or liquidation fee")
    assets = [assets_of(i) for i in instruments]
    quotes = sorted({q for _, q in assets})
    if len(quotes) > 1:
        raise InvalidInput(f"invalid account: spot instruments quoted in {', '.join(quotes)} (one quote asset per "
                           "cash account: its equity is valued in it; run them separately)")
    known = {a for pair in assets for a in pair}
    if balances is None:
        balances = {assets[0][1]: initial_capital}
    start: dict[str, float] = {}
    for asset, amount in balances.items():
        if asset not in known:
            raise InvalidInput(f"invalid balances: {asset!r} is not an asset of the instruments traded "
                               f"({', '.join(sorted(known))})")
        start[asset] = _amount(f"balances[{asset!r}]", amount)
    desc = "cash (spot): " + ", ".join(f"{a} {v:g}" for a, v in start.items())
    only_quote = all(a == quotes[0] or v == 0 for a, v in start.items())
    return AccountPlan(AccountSpec.cash(start, assets), desc, start.get(quotes[0], 0.0) if only_quote else None)


def _margin(instruments: Sequence[Instrument], initial_capital: float, balances: Mapping[str, float] | None,
            leverage: float | Mapping[str, float] | None, brackets: Mapping[str, Sequence[Bracket]] | None,
            liquidation_fee: float | None) -> AccountPlan:
    if balances:
        raise InvalidInput("invalid account: a margin account takes initial_capital (its wallet), not balances")
    settle = set()
    for i in instruments:
        if i.kind == "spot":
            raise InvalidInput(f"invalid account: 'margin' for {i.venue}/{i.symbol}, a spot instrument")
        base, quote = assets_of(i)
        settle.add(i.settle or (base if i.kind == "inverse" else quote))
    if len(settle) != 1:
        raise InvalidInput(f"invalid account: instruments settling in {', '.join(sorted(settle))} (one margin "
                           "account per settlement asset: run them separately)")
    asset = settle.pop()
    wallet = _amount("initial_capital", initial_capital)
    levs: list[float] = []
    tables: list[list[Bracket]] = []
    fees: list[float] = []
    sources: list[str] = []
    for i in instruments:
        lev = leverage.get(i.symbol) if isinstance(leverage, Mapping) else leverage
        lev_src = "" if lev is not None else " (Binance's default)"
        lev = DEFAULT_LEVERAGE if lev is None else lev
        if isinstance(lev, bool) or not isinstance(lev, (int, float)) or not (math.isfinite(lev) and lev > 0):
            raise InvalidInput(f"invalid leverage of {i.symbol}: {lev!r} (a number > 0)")
        levs.append(float(lev))
        table = (brackets or {}).get(i.symbol)
        venue_spec = i if i.brackets is not None else known_instrument(i.venue, i.symbol) or i
        if table is None:
            if venue_spec.brackets is None:
                raise InvalidInput(f"invalid account: no maintenance-margin brackets for {i.venue}/{i.symbol} "
                                   "(give them: brackets={symbol: [(floor, cap, maint_margin_ratio, cum, "
                                   "max_leverage), ...]}, an instruments file with the venue's leverageBracket, "
                                   "or run with account='none')")
            table = venue_spec.brackets
            sources.append(f"{i.symbol} brackets and liquidation fee from {venue_spec.source}")
        tables.append([tuple(float(x) for x in b) for b in table])  # type: ignore[misc]
        if liquidation_fee is None:
            liq = i.liquidation_fee or venue_spec.liquidation_fee
            if liq is None:
                raise InvalidInput(f"invalid account: no liquidation fee for {i.venue}/{i.symbol} (give "
                                   "liquidation_fee=, or an instruments file with the venue's exchangeInfo)")
            fees.append(float(liq))
        else:
            fees.append(_amount("liquidation_fee", liquidation_fee))
        sources.append(f"{i.symbol} {lev:g}x{lev_src}")
    if len(set(fees)) > 1:
        raise InvalidInput(f"invalid account: liquidation fees {fees} differ by instrument (one per account)")
    spec = AccountSpec.margin(asset, wallet, levs, tables, fees[0])
    desc = (f"margin (cross, one-way) {asset} wallet {wallet:g}, liquidation fee {fees[0]:.4%}; "
            + "; ".join(dict.fromkeys(sources)))
    return AccountPlan(spec, desc, wallet)
