"""Technical indicators and market features, computed in the compiled core.

Batch functions take 1-D numeric arrays and return float64 arrays of the same length, with
NaN during the warm-up (as many leading NaNs as TA-Lib's lookback)::

    tradecore.signals.ema(close, 20)
    macd, signal, hist = tradecore.signals.macd(close, 12, 26, 9)

Streaming objects give the same values one update at a time::

    ema = tradecore.signals.EMA(20)
    for price in prices:
        ema.update(price)      # -> the value after this price (NaN while warming up)
    ema.value, ema.ready

The values equal TA-Lib's (same algorithms, seeds and warm-up). A non-finite input (NaN,
±inf) is skipped: the output at its position is NaN and the indicator's state is unchanged,
so the series continues as if the value were absent (TA-Lib instead turns every later value
of a running sum into NaN).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tradecore import _core
from tradecore._core import ADX, ATR, BBANDS, EMA, MACD, REALIZED_VOL, RSI, SMA, STDDEV, STOCH, VAR, VWAP, WMA, ZSCORE
from tradecore.errors import InvalidInput

__all__ = [
    "ADX", "ATR", "BAR_DTYPE", "BBANDS", "EMA", "MACD", "REALIZED_VOL", "RSI", "SMA", "STDDEV", "STOCH", "VAR",
    "VWAP", "WMA", "ZSCORE",
    "FeatureSet", "adx", "atr", "bbands", "duration_ns", "ema", "macd", "realized_vol", "rsi", "sma", "stddev",
    "stoch", "time_bars", "var", "volume_bars", "vwap", "wma", "zscore",
]

Array = npt.NDArray[np.float64]


def _series(x: Any, field: str) -> Array:
    """A 1-D float64 contiguous view or copy of ``x``; a clear error for anything else."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise InvalidInput(f"invalid {field}: an array of shape {a.shape} (must be 1-D)")
    if a.dtype.kind not in "iuf":
        raise InvalidInput(f"invalid {field}: an array of dtype {a.dtype} (must be numeric)")
    return np.ascontiguousarray(a, dtype=np.float64)


def sma(x: Any, period: int = 30) -> Array:
    """Simple moving average."""
    return _core.sma(_series(x, "x"), period)


def ema(x: Any, period: int = 30) -> Array:
    """Exponential moving average, seeded with the SMA of the first ``period`` values."""
    return _core.ema(_series(x, "x"), period)


def wma(x: Any, period: int = 30) -> Array:
    """Weighted moving average (weights 1..period, the newest heaviest)."""
    return _core.wma(_series(x, "x"), period)


def rsi(x: Any, period: int = 14) -> Array:
    """Relative strength index (Wilder's smoothing)."""
    return _core.rsi(_series(x, "x"), period)


def var(x: Any, period: int = 5) -> Array:
    """Rolling population variance."""
    return _core.var(_series(x, "x"), period)


def stddev(x: Any, period: int = 5, nbdev: float = 1.0) -> Array:
    """Rolling population standard deviation times ``nbdev``."""
    return _core.stddev(_series(x, "x"), period, nbdev)


def zscore(x: Any, period: int = 20) -> Array:
    """``(x - rolling mean) / rolling standard deviation`` (population); 0 on a flat window."""
    return _core.zscore(_series(x, "x"), period)


def realized_vol(x: Any, period: int = 20) -> Array:
    """Square root of the sum of the last ``period`` squared log returns of ``x`` (positive
    values; not annualised)."""
    return _core.realized_vol(_series(x, "x"), period)


def vwap(price: Any, qty: Any, ts: Any, window: int | str | None = None) -> Array:
    """Volume-weighted average price of trades: over a rolling ``window`` of time (``"5min"``,
    or ns), or since the UTC day began when ``window`` is None. ``ts`` in ns."""
    t = np.asarray(ts)
    if t.ndim != 1 or t.dtype.kind not in "iu":
        raise InvalidInput(f"invalid ts: an array of dtype {t.dtype} and shape {t.shape} (1-D integer ns)")
    w = duration_ns(window, "window") if window is not None else None
    return _core.vwap(_series(price, "price"), _series(qty, "qty"), np.ascontiguousarray(t, dtype=np.int64), w)


def macd(x: Any, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9) -> tuple[Array, Array, Array]:
    """MACD line, signal line and histogram."""
    return _core.macd(_series(x, "x"), fast_period, slow_period, signal_period)


def bbands(x: Any, period: int = 5, nbdev_up: float = 2.0, nbdev_down: float = 2.0) -> tuple[Array, Array, Array]:
    """Bollinger bands over an SMA: (upper, middle, lower)."""
    return _core.bbands(_series(x, "x"), period, nbdev_up, nbdev_down)


def atr(high: Any, low: Any, close: Any, period: int = 14) -> Array:
    """Average true range (Wilder's smoothing)."""
    return _core.atr(_series(high, "high"), _series(low, "low"), _series(close, "close"), period)


def adx(high: Any, low: Any, close: Any, period: int = 14) -> Array:
    """Average directional index."""
    return _core.adx(_series(high, "high"), _series(low, "low"), _series(close, "close"), period)


def stoch(high: Any, low: Any, close: Any, fastk_period: int = 5, slowk_period: int = 3,
          slowd_period: int = 3) -> tuple[Array, Array]:
    """Slow stochastic oscillator: (%K, %D), both smoothed with SMAs."""
    return _core.stoch(_series(high, "high"), _series(low, "low"), _series(close, "close"),
                       fastk_period, slowk_period, slowd_period)


# ---- bars ----

BAR_DTYPE = np.dtype([
    ("start", "<i8"), ("end", "<i8"), ("open", "<i8"), ("high", "<i8"), ("low", "<i8"), ("close", "<i8"),
    ("volume", "<i8"), ("buy_volume", "<i8"), ("trades", "<u8"), ("vwap", "<f8"),
])
"""One OHLCV bar: ``start`` (interval start, or first trade for volume bars) and ``end`` (last
trade) in ns; prices and volumes in fixed point like events (``tradecore.to_float``);
``buy_volume`` bought by aggressors; ``vwap`` as a float."""

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "min": 60_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}


def duration_ns(value: int | str, field: str = "duration") -> int:
    """``"250ms"``, ``"1s"``, ``"5min"``, ``"1h"`` (or an int of ns) as ns."""
    if isinstance(value, bool):
        raise InvalidInput(f"invalid {field}: {value!r} (a duration such as '1s' or ns)")
    if isinstance(value, (int, np.integer)):
        return int(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|min|m|h|d)\s*", str(value))
    if not m:
        raise InvalidInput(f"invalid {field}: {value!r} (a duration such as '250ms', '1s', '5min', or ns)")
    return int(round(float(m.group(1)) * _UNITS[m.group(2)]))


def _bars(columns: tuple[np.ndarray, ...]) -> np.ndarray:
    out = np.empty(len(columns[0]), dtype=BAR_DTYPE)
    for name, col in zip(BAR_DTYPE.names or (), columns, strict=True):
        out[name] = col
    return out


def time_bars(events: np.ndarray, interval: int | str) -> np.ndarray:
    """OHLCV bars of the trades in ``events`` over fixed intervals of exchange time (aligned on
    multiples of the interval; an interval without trades has no bar; the last bar may be
    partial)."""
    return _bars(_core.bars(events, interval_ns=duration_ns(interval, "interval")))


def volume_bars(events: np.ndarray, volume: float) -> np.ndarray:
    """OHLCV bars that close on the trade bringing their volume to ``volume`` or beyond."""
    return _bars(_core.bars(events, volume=volume))


# ---- feature sets ----

FeatureDecl = str | tuple[str, Mapping[str, Any]] | tuple[str]


def _params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in ("window", "horizon"):
            out[f"{key}_ns"] = duration_ns(value, f"{name}.{key}")
        else:
            out[key] = value
    return out


class FeatureSet:
    """Named features of one instrument, computed in the core over events.

    Declared as a mapping of name to kind (or ``(kind, params)``)::

        fs = FeatureSet({
            "mid": "mid", "spread": "spread", "micro": "microprice",
            "imb5": ("imbalance", {"levels": 5}),
            "ofi_1s": ("ofi", {"window": "1s"}),
            "flow_5s": ("trade_imbalance", {"window": "5s"}),
            "ret_1s": ("mid_return", {"horizon": "1s"}),
            "ema_mid": ("ema", {"period": 50}),                      # over the mid, by default
            "rsi_bar": ("rsi", {"period": 14, "source": "bar_close"}),
            "atr": ("atr", {"period": 14}),                          # over the bars
        }, tick_size=0.1, lot_size=0.001, bars="1s")
        ts, X = fs.replay(events)          # research: one row per sample point
        live = fs.live()                   # live: the same values, incrementally
        ts, rows = live.update(message_events)

    Kinds: mid, spread, microprice, imbalance (levels), last_price, ofi (window: order-flow
    imbalance of Cont, Kukanov and Stoikov at the best levels, summed), trade_imbalance
    (window: (buy - sell) / (buy + sell) aggressor volume), signed_volume (window), vwap
    (window, or the UTC day without one), mid_return (horizon: log return of the mid),
    realized_vol (window: root of the summed squared mid log returns), and the indicators sma,
    ema, wma, rsi, zscore, stddev (period), macd (output macd/signal/hist), bbands (output
    upper/middle/lower) over a ``source`` (mid, microprice, last_price or bar_close), and atr,
    adx, stoch, stoch_d over the bars.

    ``sample``: when a row is emitted — ``"message"`` (each exchange message, default),
    ``"event"``, ``"trade"``, ``"bar"``, or a duration (``"100ms"``: the first event at or after
    each multiple). Book features move when a book message ends; undefined values are NaN.
    """

    def __init__(self, features: Mapping[str, FeatureDecl], *, tick_size: float, lot_size: float,
                 bars: int | str | None = None, bar_volume: float | None = None,
                 sample: str | int = "message", instrument: int | None = None) -> None:
        if not isinstance(features, Mapping) or not features:
            raise InvalidInput("invalid features: a non-empty mapping of name to kind or (kind, params)")
        self.specs: list[tuple[str, str, dict[str, Any]]] = []
        for name, decl in features.items():
            if isinstance(decl, str):
                kind, params = decl, {}
            elif isinstance(decl, tuple) and len(decl) in (1, 2) and isinstance(decl[0], str):
                kind, params = decl[0], dict(decl[1]) if len(decl) == 2 else {}
            else:
                raise InvalidInput(f"invalid feature {name!r}: {decl!r} (a kind, or (kind, params))")
            self.specs.append((name, kind, _params(name, params)))
        if sample in ("event", "message", "trade", "bar"):
            self._sample, self._every = str(sample), None
        else:
            self._sample, self._every = "every", duration_ns(sample, "sample")
        self._kw: dict[str, Any] = dict(
            tick_size=tick_size, lot_size=lot_size,
            bar_interval_ns=duration_ns(bars, "bars") if bars is not None else None,
            bar_volume=bar_volume, sample=self._sample, sample_every_ns=self._every, instrument=instrument)
        self.live()  # validates everything now

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.specs]

    @property
    def definition(self) -> str:
        """What the rows are (names, kinds, every parameter with its default, bars, sampling) as
        canonical JSON, made by the core: a model trained on them records it (``tradecore
        train``) and refuses a feature set of another definition."""
        return self.live().definition

    @property
    def definition_sha256(self) -> str:
        """The SHA-256 (hex) of :attr:`definition`."""
        return self.live().definition_sha256

    def live(self) -> _core.FeatureSet:
        """A fresh state for incremental use: ``update(events) -> (ts, rows)``."""
        return _core.FeatureSet(self.specs, **self._kw)

    def replay(self, events: np.ndarray | Iterable[np.ndarray]) -> tuple[npt.NDArray[np.int64], Array]:
        """Rows of every sample point of ``events`` (an array, or chunks such as a
        ``TickStore.replay``), from a fresh state: (timestamps in ns, matrix rows x features)."""
        state = self.live()
        if isinstance(events, np.ndarray):
            return state.update(events)
        parts = [state.update(chunk) for chunk in events]
        if not parts:
            return np.empty(0, np.int64), np.empty((0, len(self.specs)))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
