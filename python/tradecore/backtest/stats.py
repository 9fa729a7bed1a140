"""Backtest records (numpy structured dtypes) and the statistics computed from them.

The backtest engine produces four structured arrays whose dtypes are defined here:

* :data:`FILL_DTYPE`: one row per fill.
* :data:`ORDER_DTYPE`: one row per order (including orders refused by the risk check).
* :data:`EQUITY_DTYPE`: the account sampled at a fixed interval of data time, plus a final row.
* :data:`POSITION_DTYPE`: one row per instrument per equity sample.

From them, :func:`round_trips` matches fills into FIFO round trips, :func:`statistics`
computes the performance statistics and :func:`summary_table` formats them for a terminal::

    stats = statistics(equity, fills, orders, initial=10_000.0,
                       instruments=[InstrumentInfo("BTCUSDT")])
    print(summary_table(stats))

Only numpy and the standard library are used. Money is in the account (settlement)
currency: the quote currency for linear instruments, the coin for inverse ones; amounts of
different instruments are added as they are, so a portfolio should settle in one currency.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tradecore._core import OrderStatus

__all__ = [
    "EQUITY_DTYPE",
    "FILL_DTYPE",
    "ORDER_DTYPE",
    "POSITION_DTYPE",
    "ROUND_TRIP_DTYPE",
    "STATUS_REFUSED",
    "InstrumentInfo",
    "drawdown_series",
    "format_duration",
    "format_stat",
    "round_trips",
    "statistics",
    "summary_rows",
    "summary_table",
]

FILL_DTYPE: np.dtype[np.void] = np.dtype([
    ("local_ts", "<i8"),
    ("exch_ts", "<i8"),
    ("client_id", "<u8"),
    ("instrument", "<u4"),
    ("side", "i1"),
    ("maker", "?"),
    ("price", "<f8"),
    ("qty", "<f8"),
    ("fee", "<f8"),
    ("liquidation", "?"),
])
"""One row per fill: ``side`` +1 buy / -1 sell, ``qty`` > 0 (contracts or base units),
``fee`` in the settlement currency (positive = paid; a liquidation's is the clearance fee),
``local_ts`` when the strategy learnt of the fill and ``exch_ts`` when the exchange made it (ns
since the epoch), ``liquidation`` for a forced liquidation's fill."""

ORDER_DTYPE: np.dtype[np.void] = np.dtype([
    ("client_id", "<u8"),
    ("instrument", "<u4"),
    ("side", "i1"),
    ("tif", "u1"),
    ("status", "u1"),
    ("reduce_only", "?"),
    ("sent_ts", "<i8"),
    ("done_ts", "<i8"),
    ("price", "<f8"),
    ("qty", "<f8"),
    ("filled", "<f8"),
    ("liquidation", "?"),
    ("order_type", "u1"),
    ("trigger_price", "<f8"),
])
"""One row per order: ``tif`` a :class:`tradecore.TimeInForce` code (0 GTC, 1 IOC, 2 FOK,
3 POST_ONLY); ``status`` a :class:`tradecore.OrderStatus` code (0 open, 1 filled, 2 cancelled,
3 rejected by the exchange simulator, 4 refused by the pre-trade check or the account and
never sent, 5 pending: sent, no answer when the data ended, 7 partially filled); ``price`` 0.0
for a market order; ``done_ts`` -1 while open; ``liquidation`` for an order the exchange made
to liquidate the account; ``order_type`` a :class:`tradecore.OrderType` code (0 market,
1 limit, 2 stop market, 3 stop limit, 4 take-profit market, 5 take-profit limit) and
``trigger_price`` a conditional order's (0.0 otherwise)."""

EQUITY_DTYPE: np.dtype[np.void] = np.dtype([
    ("ts", "<i8"),
    ("equity", "<f8"),
    ("realized", "<f8"),
    ("unrealized", "<f8"),
    ("fees", "<f8"),
    ("funding", "<f8"),
    ("gross", "<f8"),
    ("margin_used", "<f8"),
    ("available", "<f8"),
])
"""The account sampled at a fixed interval of data time plus a final row: ``equity`` is the
account's (margin: wallet + unrealized PnL; cash: the balances valued in the quote at the
mids; no account: ``initial + realized + unrealized - fees - funding``); ``funding`` the net
funding paid; ``gross`` the gross notional exposure; ``margin_used`` the initial margin of
positions and open orders and ``available`` what is left for new orders (no margin account: 0
and the equity). A liquidation that leaves the wallet below zero is brought back to 0 by the
insurance fund (Binance): the equity then stops at 0 while the PnL columns keep the whole
loss."""

POSITION_DTYPE: np.dtype[np.void] = np.dtype([
    ("ts", "<i8"),
    ("instrument", "<u4"),
    ("mid", "<f8"),
    ("position", "<f8"),
])
"""One row per instrument per equity sample (same ``ts`` values): mid price and signed
position."""

ROUND_TRIP_DTYPE: np.dtype[np.void] = np.dtype([
    ("instrument", "<u4"),
    ("side", "i1"),
    ("qty", "<f8"),
    ("entry_price", "<f8"),
    ("exit_price", "<f8"),
    ("entry_ts", "<i8"),
    ("exit_ts", "<i8"),
    ("pnl", "<f8"),
    ("fees", "<f8"),
])
"""One row per matched (part of a) lot: ``side`` of the lot (+1 long, -1 short), ``pnl``
gross of fees, ``fees`` allocated pro rata by quantity from the entry and exit fills, both in
the settlement currency; ``entry_ts``/``exit_ts`` are the fills' ``local_ts``."""

STATUS_REFUSED = int(OrderStatus.REFUSED)
"""``ORDER_DTYPE.status`` of an order refused by the pre-trade risk check (never sent)."""

_NS_PER_S = 1_000_000_000
_YEAR_NS = 365 * 86_400 * _NS_PER_S
_REL_EPS = 1e-12

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class InstrumentInfo:
    """What the statistics need to know about an instrument.

    Instruments are referred to by their index: the ``instrument`` field of the records is
    an index into the sequence of ``InstrumentInfo`` given to :func:`round_trips` and
    :func:`statistics`.

    Attributes:
        symbol: Display name.
        contract_size: Value of one contract: base units per contract for linear
            instruments, quote currency per contract for inverse ones.
        inverse: True for an inverse contract (margined and settled in the coin).
    """

    symbol: str
    contract_size: float = 1.0
    inverse: bool = False


def _check_fields(arr: Array, dtype: np.dtype[np.void], name: str) -> None:
    names = arr.dtype.names
    if names is None or not set(dtype.names or ()).issubset(names):
        raise TypeError(f"{name} must be a structured array with the fields of {name.upper()}_DTYPE "
                        f"({', '.join(dtype.names or ())}), got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")


def _check_fills(fills: Array, n_instruments: int) -> None:
    _check_fields(fills, FILL_DTYPE, "fill")
    if len(fills) == 0:
        return
    qty = fills["qty"]
    price = fills["price"]
    if not np.all(np.isfinite(qty) & (qty > 0)):
        raise ValueError("invalid fills: every qty must be finite and positive")
    if not np.all(np.isfinite(price) & (price > 0)):
        raise ValueError("invalid fills: every price must be finite and positive")
    if not np.all(np.isfinite(fills["fee"])):
        raise ValueError("invalid fills: every fee must be finite")
    if not np.all(np.abs(fills["side"].astype(np.int64)) == 1):
        raise ValueError("invalid fills: side must be +1 (buy) or -1 (sell)")
    top = int(fills["instrument"].max())
    if top >= n_instruments:
        raise ValueError(f"invalid fills: instrument {top} is not described "
                         f"({n_instruments} InstrumentInfo given)")


def round_trips(fills: Array, instruments: Sequence[InstrumentInfo]) -> Array:
    """Match fills into round trips, first in first out, per instrument.

    Fills are taken in ``local_ts`` order (a stable sort: ties keep their order in the
    array). A fill on the side of the open lots (or with no lot open) opens a new lot; an
    opposite fill closes the oldest lots first, partially if needed, and what remains of it
    after every lot is closed (a flip) opens a new lot on its side. Each closed (part of a)
    lot is one round trip:

    * linear: ``pnl = qty * contract_size * (exit - entry) * side``;
    * inverse: ``pnl = qty * contract_size * (1 / entry - 1 / exit) * side`` (in the coin).

    The fee of a fill is spread over its quantity; a round trip carries the fees of the
    quantity it matched from both its entry and its exit fill. Lots still open after the
    last fill are not round trips.

    Args:
        fills: Fills (:data:`FILL_DTYPE`).
        instruments: Instrument descriptions, indexed by the ``instrument`` field.

    Returns:
        A :data:`ROUND_TRIP_DTYPE` array in the order the round trips were closed.

    Raises:
        TypeError: ``fills`` lacks the fields of :data:`FILL_DTYPE`.
        ValueError: A fill has a non-positive quantity or price, a side other than +-1, or
            an instrument index with no description.
    """
    _check_fills(fills, len(instruments))
    if len(fills) == 0:
        return np.zeros(0, dtype=ROUND_TRIP_DTYPE)
    f = fills[np.argsort(fills["local_ts"], kind="stable")]
    cols = zip(f["instrument"].tolist(), f["side"].tolist(), f["price"].tolist(),
               f["qty"].tolist(), f["fee"].tolist(), f["local_ts"].tolist(), strict=True)
    # A lot: [side, remaining qty, price, ts, fee per unit].
    books: dict[int, deque[list[Any]]] = {}
    out: list[tuple[int, int, float, float, float, int, int, float, float]] = []
    for inst, side, price, qty, fee, ts in cols:
        info = instruments[inst]
        cs = float(info.contract_size)
        fee_pu = fee / qty
        lots = books.setdefault(inst, deque())
        remaining = qty
        while remaining > 0.0 and lots and lots[0][0] != side:
            lot = lots[0]
            lot_side, lot_qty, entry, entry_ts, entry_fee_pu = lot
            if abs(lot_qty - remaining) <= _REL_EPS * max(lot_qty, remaining):
                q = lot_qty  # equal up to rounding: close the lot, consume the fill
                remaining = 0.0
                lots.popleft()
            elif lot_qty < remaining:
                q = lot_qty
                remaining -= q
                lots.popleft()
            else:
                q = remaining
                remaining = 0.0
                lot[1] = lot_qty - q
            if info.inverse:
                pnl = q * cs * (1.0 / entry - 1.0 / price) * lot_side
            else:
                pnl = q * cs * (price - entry) * lot_side
            out.append((inst, lot_side, q, entry, price, entry_ts, ts, pnl, q * (entry_fee_pu + fee_pu)))
        if remaining > _REL_EPS * qty:
            lots.append([side, remaining, price, ts, fee_pu])
    return np.array(out, dtype=ROUND_TRIP_DTYPE)


def drawdown_series(values: npt.ArrayLike, *, initial: float | None = None) -> npt.NDArray[np.float64]:
    """Drawdown of an equity curve at each sample, as a positive fraction of the running peak.

    Args:
        values: Equity samples in time order.
        initial: Starting capital, counted as a peak before the first sample (so a curve
            that starts below it starts in drawdown); ``None`` to start from the first
            sample.

    Returns:
        ``1 - equity / running_peak`` per sample (0 at a new peak); 0 where the running peak
        is not positive.
    """
    eq = np.asarray(values, dtype=np.float64)
    if eq.size == 0:
        return np.zeros(0)
    peak = np.maximum.accumulate(eq)
    if initial is not None:
        peak = np.maximum(peak, float(initial))
    dd = np.zeros_like(eq)
    np.divide(eq, peak, out=dd, where=peak > 0)
    dd = np.where(peak > 0, 1.0 - dd, 0.0)
    return np.maximum(dd, 0.0)


def _finite(x: float) -> float:
    """``x`` as a float, 0.0 when it is not finite."""
    v = float(x)
    return v if math.isfinite(v) else 0.0


def statistics(
    equity: Array,
    fills: Array,
    orders: Array,
    *,
    initial: float,
    instruments: Sequence[InstrumentInfo],
    periods_per_year: float | None = None,
) -> dict[str, float | int]:
    """Performance statistics of a backtest.

    Returns are the simple returns between consecutive equity samples
    (``equity[i] / equity[i-1] - 1``; 0 after the equity reached zero or below).

    Keys of the result (money in the settlement currency, fractions not percentages):

    * ``final_equity``: last equity sample (``initial`` when there is none); ``pnl``:
      ``final_equity - initial``; ``total_return``: ``pnl / initial``.
    * ``periods_per_year``: as given, or ``365 days / median interval between samples``
      (crypto trades every day); 0 with fewer than 2 distinct sample times.
    * ``annualized_return``: mean per-sample return times ``periods_per_year``
      (arithmetic, so that short backtests stay finite); 0 without returns.
    * ``volatility``: annualized standard deviation of the returns (``ddof=1``).
    * ``sharpe``: ``mean / std(ddof=1) * sqrt(periods_per_year)`` (risk-free rate 0);
      ``sortino``: ``mean / downside_deviation * sqrt(periods_per_year)`` with
      ``downside_deviation = sqrt(mean(min(r, 0) ** 2))`` over all returns. Both are 0 with
      fewer than 2 returns or when the deviation is 0.
    * ``max_drawdown``: largest fall from a running peak as a positive fraction of that peak;
      ``initial`` counts as a peak before the first sample.
    * ``max_drawdown_duration_s``: longest time from a peak to the first sample back at or
      above it, in seconds; a drawdown not recovered by the last sample counts up to the
      last sample.
    * ``calmar``: ``annualized_return / max_drawdown``; 0 when there is no drawdown.
    * ``var_95`` / ``expected_shortfall_95``: historical one-sample value at risk at 95 %
      (minus the 5 % quantile of the returns, linear interpolation) and expected shortfall
      (minus the mean of the returns at or below that quantile), as positive loss
      fractions, floored at 0; 0 without returns.
    * Round trips (:func:`round_trips`), net of fees: ``n_round_trips``, ``win_rate``
      (share with a positive net pnl), ``profit_factor`` (gross wins / gross losses;
      ``inf`` with wins and no losses, 0 without wins), ``expectancy`` (mean net pnl per
      round trip), ``avg_holding_time_s`` (quantity-weighted mean of exit - entry time);
      all 0 without round trips.
    * Fills: ``n_fills``, ``fees`` (sum of the fill fees), ``turnover`` (traded notional /
      initial; linear notional ``qty * contract_size * price``, inverse notional in the coin
      ``qty * contract_size / price``), ``maker_share`` (maker quantity / filled quantity; 0
      without fills).
    * Orders: ``n_orders`` (all rows, refused ones included), ``fill_ratio`` (filled
      quantity / ordered quantity over the orders sent to the exchange, i.e. status != 4;
      0 when none was sent).

    Every value is a finite ``float`` or ``int`` except ``profit_factor``, which may be
    ``inf``; a value that cannot be computed (empty inputs, a single equity row) is 0, and no
    numpy warning is emitted.

    Args:
        equity: Equity samples (:data:`EQUITY_DTYPE`) in time order.
        fills: Fills (:data:`FILL_DTYPE`).
        orders: Orders (:data:`ORDER_DTYPE`).
        initial: Starting capital (positive), in the settlement currency.
        instruments: Instrument descriptions, indexed by the records' ``instrument`` field.
        periods_per_year: Equity samples per year; derived from the timestamps when ``None``.

    Returns:
        The statistics by name (see above).

    Raises:
        TypeError: An array lacks the fields of its dtype.
        ValueError: ``initial`` or ``periods_per_year`` is not positive and finite, or the
            fills are invalid (see :func:`round_trips`).
    """
    if not (math.isfinite(initial) and initial > 0):
        raise ValueError(f"invalid initial capital: {initial!r} (must be positive)")
    if periods_per_year is not None and not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError(f"invalid periods_per_year: {periods_per_year!r} (must be positive)")
    _check_fields(equity, EQUITY_DTYPE, "equity")
    _check_fields(orders, ORDER_DTYPE, "order")
    rt = round_trips(fills, instruments)  # validates the fills
    s: dict[str, float | int] = {}

    with np.errstate(all="ignore"):
        eq = equity["equity"].astype(np.float64)
        ts = equity["ts"].astype(np.int64)
        final = float(eq[-1]) if len(eq) else float(initial)
        s["final_equity"] = _finite(final)
        s["pnl"] = _finite(final - initial)
        s["total_return"] = _finite((final - initial) / initial)

        # Per-sample returns and the annualization factor.
        if periods_per_year is not None:
            ppy = float(periods_per_year)
        else:
            dts = np.diff(ts)
            dts = dts[dts > 0]
            ppy = _finite(_YEAR_NS / float(np.median(dts))) if len(dts) else 0.0
        s["periods_per_year"] = ppy
        prev, cur = eq[:-1], eq[1:]
        r = np.zeros(len(cur))
        np.divide(cur - prev, prev, out=r, where=prev > 0)
        r = np.where(np.isfinite(r), r, 0.0)
        n = len(r)
        mean = float(r.mean()) if n else 0.0
        s["annualized_return"] = _finite(mean * ppy)
        std = float(r.std(ddof=1)) if n >= 2 else 0.0
        s["volatility"] = _finite(std * math.sqrt(ppy))
        s["sharpe"] = _finite(mean / std * math.sqrt(ppy)) if n >= 2 and std > 0 else 0.0
        downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if n else 0.0
        s["sortino"] = _finite(mean / downside * math.sqrt(ppy)) if n >= 2 and downside > 0 else 0.0

        # Drawdown and its duration.
        dd = drawdown_series(eq, initial=initial)
        max_dd = _finite(float(dd.max())) if len(dd) else 0.0
        s["max_drawdown"] = max_dd
        s["max_drawdown_duration_s"] = _drawdown_duration_s(ts, dd)
        s["calmar"] = _finite(s["annualized_return"] / max_dd) if max_dd > 0 else 0.0

        # Historical VaR and expected shortfall.
        if n:
            q = float(np.quantile(r, 0.05))
            s["var_95"] = _finite(max(0.0, -q))
            s["expected_shortfall_95"] = _finite(max(0.0, -float(r[r <= q].mean())))
        else:
            s["var_95"] = 0.0
            s["expected_shortfall_95"] = 0.0

        # Round trips, net of fees.
        net = rt["pnl"] - rt["fees"]
        nrt = len(rt)
        s["n_round_trips"] = nrt
        wins = float(net[net > 0].sum())
        losses = float(-net[net < 0].sum())
        s["win_rate"] = float(np.count_nonzero(net > 0)) / nrt if nrt else 0.0
        if losses > 0:
            s["profit_factor"] = _finite(wins / losses)
        else:
            s["profit_factor"] = math.inf if wins > 0 else 0.0
        s["expectancy"] = _finite(float(net.mean())) if nrt else 0.0
        held = (rt["exit_ts"] - rt["entry_ts"]).astype(np.float64) / _NS_PER_S
        qty_rt = float(rt["qty"].sum())
        s["avg_holding_time_s"] = _finite(float((held * rt["qty"]).sum()) / qty_rt) if qty_rt > 0 else 0.0

        # Fills.
        s["n_fills"] = len(fills)
        s["fees"] = _finite(float(fills["fee"].sum()))
        if len(fills):
            cs = np.array([float(i.contract_size) for i in instruments], dtype=np.float64)
            inv = np.array([bool(i.inverse) for i in instruments], dtype=bool)
            idx = fills["instrument"].astype(np.intp)
            base = fills["qty"] * cs[idx]
            notional = np.where(inv[idx], base / fills["price"], base * fills["price"])
            s["turnover"] = _finite(float(np.abs(notional).sum()) / initial)
            total_qty = float(fills["qty"].sum())
            maker_qty = float(fills["qty"][fills["maker"]].sum())
            s["maker_share"] = _finite(maker_qty / total_qty) if total_qty > 0 else 0.0
        else:
            s["turnover"] = 0.0
            s["maker_share"] = 0.0

        # Orders.
        s["n_orders"] = len(orders)
        sent = orders[orders["status"] != STATUS_REFUSED]
        ordered = float(sent["qty"].sum())
        s["fill_ratio"] = _finite(float(sent["filled"].sum()) / ordered) if ordered > 0 else 0.0
    return s


def _drawdown_duration_s(ts: npt.NDArray[np.int64], dd: npt.NDArray[np.float64]) -> float:
    """Longest time from a peak (a sample with no drawdown, or the first sample) to the
    first sample back at the peak, or to the last sample when not recovered (seconds)."""
    n = len(dd)
    if n < 2:
        return 0.0
    at_peak = dd <= 0.0
    # Index of the last sample at a peak up to each sample (the first sample when none).
    last_peak = np.maximum.accumulate(np.where(at_peak, np.arange(n), 0))
    # Sample i ends (or continues) a drawdown when it or its predecessor is below a peak.
    under = ~at_peak[1:] | ~at_peak[:-1]
    spans = np.where(under, ts[1:] - ts[last_peak[:-1]], 0)
    return _finite(float(spans.max()) / _NS_PER_S)


_PERCENT = {"total_return", "annualized_return", "volatility", "max_drawdown", "win_rate",
            "maker_share", "fill_ratio", "var_95", "expected_shortfall_95"}
_DURATION = {"max_drawdown_duration_s", "avg_holding_time_s"}
_RATIO = {"sharpe", "sortino", "calmar", "profit_factor"}
_LABELS: dict[str, str] = {
    "final_equity": "Final equity",
    "pnl": "PnL",
    "total_return": "Total return",
    "annualized_return": "Annualized return",
    "volatility": "Annualized volatility",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "calmar": "Calmar ratio",
    "max_drawdown": "Max drawdown",
    "max_drawdown_duration_s": "Max drawdown duration",
    "var_95": "VaR 95% (per sample)",
    "expected_shortfall_95": "Expected shortfall 95%",
    "n_round_trips": "Round trips",
    "win_rate": "Win rate",
    "profit_factor": "Profit factor",
    "expectancy": "Expectancy (per round trip)",
    "avg_holding_time_s": "Avg holding time",
    "n_fills": "Fills",
    "fees": "Fees",
    "turnover": "Turnover",
    "maker_share": "Maker share",
    "n_orders": "Orders",
    "fill_ratio": "Fill ratio",
    "periods_per_year": "Periods per year",
}


def format_duration(seconds: float) -> str:
    """A duration for display: ``12.345 s`` below a minute, else ``3,723 s (01:02:03)``
    (with days as ``2d 01:02:03``).

    Args:
        seconds: The duration in seconds.

    Returns:
        The formatted duration.
    """
    if not math.isfinite(seconds):
        return str(seconds)
    if abs(seconds) < 60:
        return f"{seconds:.3f} s"
    whole = int(round(abs(seconds)))
    d, rest = divmod(whole, 86_400)
    h, rest = divmod(rest, 3_600)
    m, sec = divmod(rest, 60)
    text = f"{d}d {h:02d}:{m:02d}:{sec:02d}" if d else f"{h:02d}:{m:02d}:{sec:02d}"
    return f"{seconds:,.0f} s ({'-' if seconds < 0 else ''}{text})"


def _number(v: float) -> str:
    if not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    if v == 0:
        return "0"
    if abs(v) >= 1_000:
        return f"{v:,.2f}"
    if abs(v) >= 1:
        return f"{v:.4f}".rstrip("0").rstrip(".")
    return f"{v:.6g}"


def format_stat(key: str, value: object) -> tuple[str, str]:
    """A statistic as a display label and a formatted value.

    Fractions (returns, drawdowns, shares, ratios of quantities) are shown as percentages,
    durations in seconds (with ``hh:mm:ss`` beyond a minute), risk ratios with three
    decimals, turnover as a multiple, counts as integers and money with two decimals (or
    six significant digits below 1000).

    Args:
        key: Name of the statistic (a key of :func:`statistics`; unknown keys are shown as
            they are).
        value: Its value.

    Returns:
        ``(label, text)``.
    """
    label = _LABELS.get(key, key)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return label, str(value)
    if isinstance(value, (int, np.integer)):
        return label, f"{int(value):,}"
    v = float(value)
    if key in _PERCENT:
        text = f"{v * 100:.2f}%" if math.isfinite(v) else _number(v)
    elif key in _DURATION:
        text = format_duration(v)
    elif key in _RATIO:
        text = f"{v:.3f}" if math.isfinite(v) else _number(v)
    elif key == "turnover":
        text = f"{v:,.2f}x"
    elif key == "periods_per_year":
        text = f"{v:,.0f}"
    else:
        text = _number(v)
    return label, text


def summary_rows(stats: Mapping[str, object]) -> list[tuple[str, str]]:
    """The statistics as ``(label, formatted value)`` rows, in display order.

    Known statistics come first in a fixed order, then any other key in its given order.
    Values are formatted by :func:`format_stat`.

    Args:
        stats: Statistics by name, e.g. the result of :func:`statistics`.

    Returns:
        One row per statistic.
    """
    keys = [k for k in _LABELS if k in stats] + [k for k in stats if k not in _LABELS]
    return [format_stat(k, stats[k]) for k in keys]


def summary_table(stats: Mapping[str, object]) -> str:
    """The statistics as an aligned two-column plain-text table for a terminal.

    Labels are left-aligned, values right-aligned, in the order of :func:`summary_rows`.

    Args:
        stats: Statistics by name, e.g. the result of :func:`statistics`.

    Returns:
        The table, one statistic per line (no trailing newline); empty for no statistics.
    """
    rows = summary_rows(stats)
    if not rows:
        return ""
    lw = max(len(label) for label, _ in rows)
    vw = max(len(text) for _, text in rows)
    return "\n".join(f"{label:<{lw}}  {text:>{vw}}" for label, text in rows)
