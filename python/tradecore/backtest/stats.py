"""Backtest records (numpy structured dtypes) and the statistics computed from them.

The backtest engine produces four structured arrays whose dtypes are defined here:

* :data:`FILL_DTYPE`: one row per fill.
* :data:`ORDER_DTYPE`: one row per order (including orders refused by the risk check).
* :data:`EQUITY_DTYPE`: the account sampled at a fixed interval of data time, plus a final row
  (none inside a hole in the data: :data:`GAP_DTYPE`).
* :data:`POSITION_DTYPE`: one row per instrument per equity sample.

Returns are taken on a fixed calendar grid (:func:`grid_returns`), annualized figures only
from a long enough sample, and a figure that cannot be computed is ``None`` with a reason
(:class:`Stats`), never 0, NaN or infinity.

From them, :func:`round_trips` matches fills into FIFO round trips, :func:`statistics`
computes the performance statistics and :func:`summary_table` formats them for a terminal::

    stats = statistics(equity, fills, orders, initial=10_000.0,
                       instruments=[InstrumentInfo("BTCUSDT")], currency="USDT")
    print(summary_table(stats))
    json.dumps(stats.to_json(), allow_nan=False)

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
    "ANNUALIZE_MIN_DAYS",
    "ANNUALIZE_MIN_PERIODS",
    "EQUITY_DTYPE",
    "FILL_DTYPE",
    "GAP_DTYPE",
    "GRID_MIN_PERIODS",
    "ORDER_DTYPE",
    "POSITION_DTYPE",
    "RETURN_GRIDS",
    "ROUND_TRIP_DTYPE",
    "STATUS_REFUSED",
    "VAR_MIN_PERIODS",
    "InstrumentInfo",
    "Stats",
    "default_period_ns",
    "drawdown_series",
    "format_duration",
    "format_percent",
    "format_stat",
    "grid_returns",
    "grid_series",
    "no_fill_reason",
    "period_label",
    "round_trips",
    "sharpe_inference",
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


GAP_DTYPE: np.dtype[np.void] = np.dtype([("start", "<i8"), ("length", "<i8")])
"""One row per hole in the data: no market event for longer than 5 minutes or 10 equity
sample intervals (the replay's rule, ``engine_core::replay::gap_ns``). ``start`` is the local
time the hole began (ns since the epoch) and ``length`` its length (ns); no equity sample lies
inside it, so the records grow with the data, not with the calendar span it covers."""

RETURN_GRIDS: tuple[tuple[str, int], ...] = (
    ("1s", _NS_PER_S), ("1min", 60 * _NS_PER_S), ("1h", 3_600 * _NS_PER_S), ("1d", 86_400 * _NS_PER_S))
"""The calendar grids the default return period is chosen from."""
GRID_MIN_PERIODS = 60
"""The default return period is the coarsest grid of :data:`RETURN_GRIDS` that still gives at
least this many periods over the data (1 s when none does), and never finer than the equity
samples."""
ANNUALIZE_MIN_PERIODS = 30
"""Annualized figures need at least this many returns ..."""
ANNUALIZE_MIN_DAYS = 7.0
"""... over at least this many days of data (gaps not counted)."""
VAR_MIN_PERIODS = 20
"""Value at risk and expected shortfall at 95 % need at least this many returns."""


class Stats(dict[str, float | int | None]):
    """Statistics by name: an ``int``, a finite ``float``, or ``None`` for a figure that is not
    available ("n/a"), whose reason is in :attr:`reasons`.

    Attributes:
        reasons: Why each ``None`` value is not available.
        currency: The settlement currency of the money figures ("" when unknown).
        period: The return grid's period as text (``"1s"``, ``"1min"``...).
        notes: Lines shown below the summary table (gaps in the data, why nothing filled).
        gaps: The holes in the data (:data:`GAP_DTYPE`).
        refusals: Orders refused before sending, by reason code.
    """

    def __init__(self, currency: str = "", period: str = "") -> None:
        super().__init__()
        self.reasons: dict[str, str] = {}
        self.currency = currency
        self.period = period
        self.notes: list[str] = []
        self.gaps: Array = np.zeros(0, dtype=GAP_DTYPE)
        self.refusals: dict[str, int] = {}

    def na(self, key: str, reason: str) -> None:
        """Sets ``key`` to n/a (``None``) for ``reason``."""
        self[key] = None
        self.reasons[key] = reason

    def footnotes(self) -> list[str]:
        """The notes, then each reason the summary shows shortened, in full (``n/a: ...``)."""
        shortened = dict.fromkeys(r for k, r in self.reasons.items() if self.get(k, 0) is None and ": " in r)
        return self.notes + [f"n/a: {r}" for r in shortened]

    def to_json(self) -> dict[str, object]:
        """A strict-JSON-ready dict (no NaN or infinity anywhere): ``stats`` (``null`` for
        n/a), ``n/a`` (the reason of every ``null``), ``currency``, ``return_period``,
        ``gaps`` (start as UTC text and ns, length in seconds), ``refusals`` and ``notes``."""
        values: dict[str, float | int | None] = {}
        reasons = dict(self.reasons)
        for k, v in self.items():
            if isinstance(v, float) and not math.isfinite(v):
                values[k] = None
                reasons.setdefault(k, "not a finite number")
            else:
                values[k] = v
        return {
            "stats": values,
            "n/a": {k: reasons[k] for k in values if values[k] is None},
            "currency": self.currency or None,
            "return_period": self.period or None,
            "gaps": [{"start": _utc_text(int(g["start"])), "start_ns": int(g["start"]),
                      "length_s": int(g["length"]) / _NS_PER_S} for g in self.gaps],
            "refusals": dict(self.refusals),
            "notes": list(self.notes),
        }


def _utc_text(ts_ns: int) -> str:
    from datetime import UTC, datetime

    secs, ns = divmod(int(ts_ns), _NS_PER_S)
    return datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%d %H:%M:%S") + f".{ns // 1_000_000:03d} UTC"


def period_label(period_ns: int) -> str:
    """A return period as text: ``1s``, ``1min``, ``1h``, ``1d``, or e.g. ``5s``, ``250ms``."""
    for name, ns in RETURN_GRIDS:
        if period_ns == ns:
            return name
    for unit, ns in (("d", 86_400 * _NS_PER_S), ("h", 3_600 * _NS_PER_S), ("min", 60 * _NS_PER_S),
                     ("s", _NS_PER_S), ("ms", 1_000_000), ("us", 1_000)):
        if period_ns % ns == 0:
            return f"{period_ns // ns}{unit}"
    return f"{period_ns}ns"


def default_period_ns(covered_ns: int, sample_ns: int = 0) -> int:
    """The default return period for ``covered_ns`` of data sampled every ``sample_ns``: the
    coarsest of :data:`RETURN_GRIDS` giving at least :data:`GRID_MIN_PERIODS` periods (1 s
    when none does), or the sample interval when that is coarser.

    Args:
        covered_ns: Length of the data, gaps not counted (ns).
        sample_ns: Typical interval between equity samples (ns; 0 when unknown).

    Returns:
        The period in ns.
    """
    choice = RETURN_GRIDS[0][1]
    for _, p in RETURN_GRIDS:
        if covered_ns >= GRID_MIN_PERIODS * p:
            choice = p
    return max(choice, int(sample_ns))


def _segments(ts: npt.NDArray[np.int64], gaps: Array) -> list[tuple[int, int]]:
    """``(lo, hi)`` index ranges of the samples between the gaps (``ts`` sorted)."""
    if len(gaps) == 0:
        return [(0, len(ts))] if len(ts) else []
    ends = np.sort(gaps["start"].astype(np.int64) + gaps["length"].astype(np.int64))
    seg = np.searchsorted(ends, ts, side="right")
    bounds = np.searchsorted(seg, np.arange(len(ends) + 2), side="left")
    return [(int(bounds[k]), int(bounds[k + 1])) for k in range(len(ends) + 1) if bounds[k + 1] > bounds[k]]


def grid_returns(ts: npt.ArrayLike, values: npt.ArrayLike, period_ns: int,
                 gaps: Array | None = None) -> npt.NDArray[np.float64]:
    """Simple returns of an equity curve on a fixed calendar grid.

    The grid points are the multiples of ``period_ns`` since the epoch; the value at a grid
    point is the last sample at or before it. Returns are taken between consecutive grid
    points inside each stretch of data between two gaps: a return never spans a gap (the
    equity's change across a gap is in the total return, not in the per-period returns), and
    the partial periods at the ends of a stretch are left out. A return after the equity
    reached zero or below is 0.

    Args:
        ts: Sample times (ns), sorted.
        values: Equity at each sample.
        period_ns: The grid's period (ns, > 0).
        gaps: Holes in the data (:data:`GAP_DTYPE`), or None.

    Returns:
        The returns, in time order.
    """
    return grid_series(ts, values, period_ns, gaps)[1]


def grid_series(ts: npt.ArrayLike, values: npt.ArrayLike, period_ns: int,
                gaps: Array | None = None) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The returns of :func:`grid_returns` with the grid time at the end of each period.

    Returns:
        ``(times, returns)``.
    """
    if period_ns <= 0:
        raise ValueError(f"invalid period_ns: {period_ns} (must be > 0)")
    t = np.asarray(ts, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    times: list[npt.NDArray[np.int64]] = []
    out: list[npt.NDArray[np.float64]] = []
    for lo, hi in _segments(t, gaps if gaps is not None else np.zeros(0, dtype=GAP_DTYPE)):
        st, sv = t[lo:hi], v[lo:hi]
        first = -(-int(st[0]) // period_ns) * period_ns
        if first > int(st[-1]) - period_ns:
            continue
        grid = np.arange(first, int(st[-1]) + 1, period_ns, dtype=np.int64)
        gv = sv[np.searchsorted(st, grid, side="right") - 1]
        prev, cur = gv[:-1], gv[1:]
        r = np.zeros(len(cur))
        with np.errstate(all="ignore"):
            np.divide(cur - prev, prev, out=r, where=prev > 0)
        out.append(np.where(np.isfinite(r), r, 0.0))
        times.append(grid[1:])
    if not out:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(times), np.concatenate(out)


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def sharpe_inference(returns: npt.ArrayLike) -> tuple[float, float, float] | None:
    """The per-period Sharpe ratio of ``returns``, its standard error and the probabilistic
    Sharpe ratio against 0.

    ``SR = mean / std`` (``ddof=1``, risk-free rate 0). Its standard error allows for skewed
    and fat-tailed returns (Lo 2002; Mertens 2002; Bailey & López de Prado 2012):
    ``SE = sqrt((1 - skew * SR + (kurtosis - 1) / 4 * SR**2) / (n - 1))`` with the sample
    skewness and (non-excess) kurtosis (population moments). The probabilistic Sharpe ratio
    ``PSR = Phi(SR / SE)`` is the probability that the true Sharpe ratio is above 0.

    Args:
        returns: Per-period returns.

    Returns:
        ``(SR, SE, PSR)``, or None with fewer than 3 returns, returns that do not vary, or a
        variance term that is not positive.
    """
    r = np.asarray(returns, dtype=np.float64)
    n = len(r)
    if n < 3:
        return None
    mu = float(r.mean())
    sd = float(r.std(ddof=1))
    if not (sd > 0 and math.isfinite(sd)):
        return None
    sr = mu / sd
    c = r - mu
    m2 = float(np.mean(c * c))
    if m2 <= 0:
        return None
    skew = float(np.mean(c**3)) / m2**1.5
    kurt = float(np.mean(c**4)) / m2**2
    var = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not (var > 0 and math.isfinite(var)):
        return None
    se = math.sqrt(var / (n - 1))
    return sr, se, _norm_cdf(sr / se)


def statistics(
    equity: Array,
    fills: Array,
    orders: Array,
    *,
    initial: float,
    instruments: Sequence[InstrumentInfo],
    period_ns: int | None = None,
    gaps: Array | None = None,
    currency: str = "",
    refusals: Mapping[str, int] | None = None,
    positions: Array | None = None,
) -> Stats:
    """Performance statistics of a backtest.

    Returns are simple returns on a fixed calendar grid (:func:`grid_returns`): ``period_ns``,
    or by default the coarsest of 1 s, 1 min, 1 h, 1 d that gives at least
    :data:`GRID_MIN_PERIODS` periods over the data, never finer than the equity samples
    (:func:`default_period_ns`). Holes in the data (``gaps``) split the grid: no return spans
    one. A figure that cannot be computed is ``None`` with its reason in ``Stats.reasons``;
    nothing is ever NaN or infinite.

    Keys (money in the settlement currency ``currency``, fractions not percentages):

    * ``final_equity``, ``pnl`` (``final_equity - initial``), ``total_return``
      (``pnl / initial``).
    * ``max_drawdown`` (largest fall from a running peak, a fraction of that peak; ``initial``
      counts as a peak before the first sample), ``max_drawdown_money`` (largest fall in
      money), ``max_drawdown_duration_s`` (longest time from a peak back to it, or to the last
      sample when not recovered).
    * ``return_period_s``, ``n_returns``, ``covered_s`` (time the equity samples span, gaps not
      counted), ``n_gaps``, ``gap_time_s``.
    * ``sharpe_period`` (mean / std of the returns, per period), ``sharpe_period_se`` and
      ``psr`` (see :func:`sharpe_inference`): n/a with fewer than 3 returns or flat returns.
    * Annualized, only with at least :data:`ANNUALIZE_MIN_PERIODS` returns over at least
      :data:`ANNUALIZE_MIN_DAYS` days of data (else n/a with the sample's length), with
      ``ppy = 365 days / period``: ``annualized_return`` (compounded:
      ``(1 + total_return) ** (365 days / covered) - 1``), ``volatility`` (``std * sqrt(ppy)``),
      ``sharpe`` and ``sharpe_se`` (the per-period ones times ``sqrt(ppy)``), ``sortino``
      (``mean / sqrt(mean(min(r, 0)**2)) * sqrt(ppy)``; n/a without a losing period) and
      ``calmar`` (``annualized_return / max_drawdown``; n/a without a drawdown).
    * ``var_95`` / ``expected_shortfall_95``: historical one-period value at risk at 95 %
      (minus the 5 % quantile of the returns, linear interpolation) and expected shortfall
      (minus the mean of the returns at or below it), floored at 0; n/a with fewer than
      :data:`VAR_MIN_PERIODS` returns.
    * Round trips (:func:`round_trips`), net of fees: ``n_round_trips``, ``win_rate`` (share
      with a positive net pnl), ``profit_factor`` (gross wins / gross losses; n/a without a
      losing round trip), ``expectancy`` (mean net pnl), ``avg_holding_time_s``
      (quantity-weighted); n/a without round trips.
    * Fills: ``n_fills``, ``fees``, ``turnover`` (traded notional / initial; linear notional
      ``qty * contract_size * price``, inverse ``qty * contract_size / price``),
      ``maker_share`` (maker quantity / filled quantity; n/a without fills).
    * Orders: ``n_orders`` (refused ones included), ``n_refused`` (refused before sending),
      ``fill_ratio`` (filled / ordered quantity over the orders sent; n/a when none was sent).

    ``Stats.notes`` says where the data has gaps and, when nothing filled, why (no order, every
    order refused by reason, no two-sided book, or orders sent that never filled).

    Args:
        equity: Equity samples (:data:`EQUITY_DTYPE`).
        fills: Fills (:data:`FILL_DTYPE`).
        orders: Orders (:data:`ORDER_DTYPE`).
        initial: Starting capital (positive), in the settlement currency.
        instruments: Instrument descriptions, indexed by the records' ``instrument`` field.
        period_ns: The return grid's period (ns); default chosen from the data (see above).
        gaps: Holes in the data (:data:`GAP_DTYPE`).
        currency: The settlement currency's name, shown next to money.
        refusals: Orders refused before sending by reason code (for the notes).
        positions: Position samples (:data:`POSITION_DTYPE`): tells a run on a book that never
            had two sides.

    Returns:
        The statistics (:class:`Stats`).

    Raises:
        TypeError: An array lacks the fields of its dtype.
        ValueError: ``initial`` or ``period_ns`` is not positive, ``period_ns`` is finer than
            the equity samples, or the fills are invalid (see :func:`round_trips`).
    """
    if not (math.isfinite(initial) and initial > 0):
        raise ValueError(f"invalid initial capital: {initial!r} (must be positive)")
    if period_ns is not None and not (isinstance(period_ns, (int, np.integer)) and period_ns > 0):
        raise ValueError(f"invalid period_ns: {period_ns!r} (must be a positive number of ns)")
    _check_fields(equity, EQUITY_DTYPE, "equity")
    _check_fields(orders, ORDER_DTYPE, "order")
    gap_arr = np.zeros(0, dtype=GAP_DTYPE) if gaps is None else gaps
    _check_fields(gap_arr, GAP_DTYPE, "gap")
    rt = round_trips(fills, instruments)  # validates the fills
    if len(equity) > 1 and np.any(np.diff(equity["ts"]) < 0):
        equity = equity[np.argsort(equity["ts"], kind="stable")]
    eq = equity["equity"].astype(np.float64)
    ts = equity["ts"].astype(np.int64)
    segs = _segments(ts, gap_arr)
    covered = sum(int(ts[hi - 1] - ts[lo]) for lo, hi in segs)
    dts = np.diff(ts)
    dts = dts[dts > 0]
    sample_ns = int(np.median(dts)) if len(dts) else 0
    if period_ns is None:
        period = default_period_ns(covered, sample_ns)
    else:
        period = int(period_ns)
        if period < sample_ns:
            raise ValueError(f"invalid return period: {period_label(period)} is finer than the equity samples "
                             f"(every {period_label(sample_ns)}); give a coarser period or sample more often")
    s = Stats(currency, period_label(period))
    s.gaps = np.sort(gap_arr, order="start") if len(gap_arr) else gap_arr
    s.refusals = {k: int(v) for k, v in (refusals or {}).items() if v}

    with np.errstate(all="ignore"):
        final = float(eq[-1]) if len(eq) else float(initial)
        s["final_equity"] = _finite(final)
        s["pnl"] = _finite(final - initial)
        s["total_return"] = _finite((final - initial) / initial)

        # Drawdown and its duration.
        dd = drawdown_series(eq, initial=initial)
        max_dd = _finite(float(dd.max())) if len(dd) else 0.0
        s["max_drawdown"] = max_dd
        if len(eq):
            peak = np.maximum(np.maximum.accumulate(eq), float(initial))
            s["max_drawdown_money"] = _finite(max(0.0, float((peak - eq).max())))
        else:
            s["max_drawdown_money"] = 0.0
        s["max_drawdown_duration_s"] = _drawdown_duration_s(ts, dd)

        # Returns on the grid.
        r = grid_returns(ts, eq, period, s.gaps)
        n = len(r)
        s["return_period_s"] = period / _NS_PER_S
        s["n_returns"] = n
        s["covered_s"] = covered / _NS_PER_S
        s["n_gaps"] = len(s.gaps)
        s["gap_time_s"] = float(s.gaps["length"].sum()) / _NS_PER_S if len(s.gaps) else 0.0
        sample = f"{n:,} returns of {s.period} over {format_duration(covered / _NS_PER_S)}"
        inference = sharpe_inference(r)
        if inference is None:
            why = f"needs >= 3 returns that vary ({sample})"
            for k in ("sharpe_period", "sharpe_period_se", "psr"):
                s.na(k, why)
        else:
            s["sharpe_period"], s["sharpe_period_se"], s["psr"] = inference
        long_enough = n >= ANNUALIZE_MIN_PERIODS and covered >= ANNUALIZE_MIN_DAYS * 86_400 * _NS_PER_S
        annual = ("annualized_return", "volatility", "sharpe", "sharpe_se", "sortino", "calmar")
        if not long_enough:
            why = (f"sample too short to annualize: {sample}; needs >= {ANNUALIZE_MIN_PERIODS} returns "
                   f"over >= {ANNUALIZE_MIN_DAYS:g} days")
            for k in annual:
                s.na(k, why)
        else:
            ppy = _YEAR_NS / period
            growth = final / initial
            if growth > 0:
                s["annualized_return"] = _finite(growth ** (_YEAR_NS / covered) - 1.0)
            else:
                s.na("annualized_return", "the equity reached zero")
            std = float(r.std(ddof=1))
            s["volatility"] = _finite(std * math.sqrt(ppy))
            if inference is None:
                for k in ("sharpe", "sharpe_se"):
                    s.na(k, "the returns do not vary")
            else:
                s["sharpe"] = _finite(inference[0] * math.sqrt(ppy))
                s["sharpe_se"] = _finite(inference[1] * math.sqrt(ppy))
            downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
            if downside > 0:
                s["sortino"] = _finite(float(r.mean()) / downside * math.sqrt(ppy))
            else:
                s.na("sortino", "no losing period (no downside deviation)")
            ann = s.get("annualized_return")
            if ann is None:
                s.na("calmar", "no annualized return")
            elif max_dd > 0:
                s["calmar"] = _finite(float(ann) / max_dd)
            else:
                s.na("calmar", "no drawdown")

        # Historical VaR and expected shortfall.
        if n >= VAR_MIN_PERIODS:
            q = float(np.quantile(r, 0.05))
            s["var_95"] = _finite(max(0.0, -q))
            s["expected_shortfall_95"] = _finite(max(0.0, -float(r[r <= q].mean())))
        else:
            why = f"needs >= {VAR_MIN_PERIODS} returns ({sample})"
            s.na("var_95", why)
            s.na("expected_shortfall_95", why)

        # Round trips, net of fees.
        net = rt["pnl"] - rt["fees"]
        nrt = len(rt)
        s["n_round_trips"] = nrt
        if nrt:
            wins = float(net[net > 0].sum())
            losses = float(-net[net < 0].sum())
            s["win_rate"] = float(np.count_nonzero(net > 0)) / nrt
            if losses > 0:
                s["profit_factor"] = _finite(wins / losses)
            else:
                s.na("profit_factor", "no losing round trip")
            s["expectancy"] = _finite(float(net.mean()))
            held = (rt["exit_ts"] - rt["entry_ts"]).astype(np.float64) / _NS_PER_S
            qty_rt = float(rt["qty"].sum())
            s["avg_holding_time_s"] = _finite(float((held * rt["qty"]).sum()) / qty_rt) if qty_rt > 0 else 0.0
        else:
            for k in ("win_rate", "profit_factor", "expectancy", "avg_holding_time_s"):
                s.na(k, "no round trip")

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
            s["maker_share"] = _finite(maker_qty / total_qty)
        else:
            s["turnover"] = 0.0
            s.na("maker_share", "no fill")

        # Orders.
        s["n_orders"] = len(orders)
        refused = orders["status"] == STATUS_REFUSED
        s["n_refused"] = int(np.count_nonzero(refused))
        sent = orders[~refused]
        ordered = float(sent["qty"].sum())
        if ordered > 0:
            s["fill_ratio"] = _finite(float(sent["filled"].sum()) / ordered)
        else:
            s.na("fill_ratio", "no order sent")

    for g in s.gaps[:5]:
        s.notes.append(f"Data gap: from {_utc_text(int(g['start']))}, lasting "
                       f"{format_duration(int(g['length']) / _NS_PER_S)} (not sampled)")
    if len(s.gaps) > 5:
        s.notes.append(f"... and {len(s.gaps) - 5} more data gaps")
    if len(fills) == 0:
        s.notes.append("No fill: " + no_fill_reason(orders, s.refusals, positions))
    return s


def no_fill_reason(orders: Array, refusals: Mapping[str, int] | None = None,
                   positions: Array | None = None) -> str:
    """Why a run made no fill, from what its records know.

    In order: the book never had a bid and an ask (no book data, e.g. trades-only data); the
    strategy sent no order; every order was refused before sending (counts by reason code);
    the orders sent never filled (counts by status).

    Args:
        orders: Orders (:data:`ORDER_DTYPE`).
        refusals: Orders refused before sending, by reason code.
        positions: Position samples (:data:`POSITION_DTYPE`), whose ``mid`` is NaN while the
            strategy's book lacks a side.

    Returns:
        One sentence.
    """
    parts: list[str] = []
    if positions is not None and len(positions) and not np.isfinite(positions["mid"]).any():
        parts.append("the book never had both a bid and an ask (no book data: trades-only data, or a book "
                     "never in sync)")
    if len(orders) == 0:
        parts.append("the strategy sent no order")
        return "; ".join(parts)
    refused = orders["status"] == STATUS_REFUSED
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted((refusals or {}).items(), key=lambda kv: -kv[1]) if v)
    if refused.all():
        parts.append(f"every order ({len(orders):,}) was refused before sending"
                     + (f" ({reasons})" if reasons else ""))
    else:
        sent = orders[~refused]
        codes, counts = np.unique(sent["status"], return_counts=True)
        by_status = ", ".join(f"{str(OrderStatus.of(int(c))).replace('_', ' ')} {int(k):,}"
                              for c, k in zip(codes.tolist(), counts.tolist(), strict=True))
        parts.append(f"{len(sent):,} orders reached the exchange and none filled ({by_status})")
        if refused.any():
            parts.append(f"{int(refused.sum()):,} refused before sending" + (f" ({reasons})" if reasons else ""))
    return "; ".join(parts)


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
            "maker_share", "fill_ratio", "var_95", "expected_shortfall_95", "psr"}
_MONEY = {"final_equity", "pnl", "fees", "expectancy", "max_drawdown_money"}
_DURATION = {"max_drawdown_duration_s", "avg_holding_time_s", "covered_s", "gap_time_s", "return_period_s"}
_RATIO = {"sharpe", "sortino", "calmar", "profit_factor", "sharpe_period", "sharpe_se", "sharpe_period_se"}
_LABELS: dict[str, str] = {
    "final_equity": "Final equity",
    "pnl": "PnL",
    "total_return": "Total return",
    "max_drawdown": "Max drawdown",
    "max_drawdown_money": "Max drawdown (money)",
    "max_drawdown_duration_s": "Max drawdown duration",
    "return_period_s": "Return period (grid)",
    "n_returns": "Returns",
    "covered_s": "Data covered",
    "n_gaps": "Data gaps",
    "gap_time_s": "Time in gaps",
    "sharpe_period": "Sharpe per period",
    "sharpe_period_se": "Sharpe per period s.e.",
    "psr": "P(Sharpe > 0) (PSR)",
    "annualized_return": "Annualized return",
    "volatility": "Annualized volatility",
    "sharpe": "Sharpe ratio (annualized)",
    "sharpe_se": "Sharpe ratio s.e.",
    "sortino": "Sortino ratio",
    "calmar": "Calmar ratio",
    "var_95": "VaR 95% (per period)",
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
    "n_refused": "Refused before sending",
    "fill_ratio": "Fill ratio",
}
# Shown inside another row: "1.23 ± 0.45", "2.10% (210.00 USDT)".
_MERGED = {"sharpe_period_se": "sharpe_period", "sharpe_se": "sharpe", "max_drawdown_money": "max_drawdown"}


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
        return "n/a"
    if v == 0:
        return "0"
    if abs(v) >= 1_000:
        return f"{v:,.2f}"
    if abs(v) >= 1:
        return f"{v:.4f}".rstrip("0").rstrip(".")
    return f"{v:.6g}"


def format_percent(v: float) -> str:
    """A fraction as a percentage: two decimals, or three significant digits below 0.1 %
    (so a non-zero value never reads ``0.00%``)."""
    if not math.isfinite(v):
        return "n/a"
    p = v * 100.0
    if p != 0 and abs(p) < 0.1:
        return f"{p:.3g}%"
    return f"{p:.2f}%"


def format_stat(key: str, value: object, currency: str = "") -> tuple[str, str]:
    """A statistic as a display label and a formatted value.

    Fractions (returns, drawdowns, shares, ratios of quantities) are shown as percentages
    (with enough digits that a non-zero value never reads ``0.00%``), durations in seconds
    (with ``hh:mm:ss`` beyond a minute), risk ratios with three decimals, turnover as a
    multiple, counts as integers and money with two decimals (six significant digits below
    1000) followed by ``currency``; ``None`` is ``n/a``.

    Args:
        key: Name of the statistic (a key of :func:`statistics`; unknown keys are shown as
            they are).
        value: Its value.
        currency: Shown after money.

    Returns:
        ``(label, text)``.
    """
    label = _LABELS.get(key, key)
    if value is None:
        return label, "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return label, str(value)
    if isinstance(value, (int, np.integer)):
        return label, f"{int(value):,}"
    v = float(value)
    if key in _PERCENT:
        text = format_percent(v)
    elif key == "return_period_s":
        text = period_label(int(round(v * _NS_PER_S)))
    elif key in _DURATION:
        text = format_duration(v)
    elif key in _RATIO:
        text = f"{v:.3f}" if math.isfinite(v) else "n/a"
    elif key == "turnover":
        text = f"{v:,.2f}x"
    elif key in _MONEY:
        text = _number(v) + (f" {currency}" if currency else "")
    else:
        text = _number(v)
    return label, text


def summary_rows(stats: Mapping[str, object]) -> list[tuple[str, str]]:
    """The statistics as ``(label, formatted value)`` rows, in display order.

    Known statistics come first in a fixed order, then any other key in its given order.
    Values are formatted by :func:`format_stat`; a standard error is shown after its Sharpe
    ratio (``1.234 ± 0.456``) and the drawdown in money after the drawdown in percent; an n/a
    value is followed by its reason (up to its first ``": "``, the rest is in
    :func:`summary_table`'s notes) when ``stats`` is a :class:`Stats`.

    Args:
        stats: Statistics by name, e.g. the result of :func:`statistics`.

    Returns:
        One row per statistic.
    """
    currency = stats.currency if isinstance(stats, Stats) else ""
    reasons = stats.reasons if isinstance(stats, Stats) else {}
    keys = [k for k in _LABELS if k in stats] + [k for k in stats if k not in _LABELS]
    rows = []
    for k in keys:
        if k in _MERGED and _MERGED[k] in stats:
            continue
        label, text = format_stat(k, stats[k], currency)
        if stats[k] is None and k in reasons:
            text = f"n/a ({reasons[k].split(': ')[0]})"
        merged = [m for m, into in _MERGED.items() if into == k and m in stats and stats[m] is not None]
        if stats[k] is not None and merged:
            _, extra = format_stat(merged[0], stats[merged[0]], currency)
            text = f"{text} ± {extra}" if merged[0].endswith("_se") else f"{text} ({extra})"
        rows.append((label, text))
    return rows


def summary_table(stats: Mapping[str, object]) -> str:
    """The statistics as an aligned two-column plain-text table for a terminal, followed by
    the notes of a :class:`Stats` (gaps in the data, why nothing filled) and the full reason
    of each n/a shown shortened in the table.

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
    lines = [f"{label:<{lw}}  {text:>{vw}}" for label, text in rows]
    if isinstance(stats, Stats):
        lines += stats.footnotes()
    return "\n".join(lines)
