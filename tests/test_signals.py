"""Indicators: equal to TA-Lib (values and warm-up), streaming equal to batch, the NaN rule,
and clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import tradecore
from tradecore import signals as S
from tradecore.errors import InvalidInput

talib = pytest.importorskip("talib")


def close_to_talib(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Same NaN positions (warm-up); elsewhere |a - b| <= 1e-9 x max(|b|, the series' typical
    magnitude) — relative, with the magnitude standing in where a series crosses zero."""
    ours, theirs = np.atleast_2d(ours), np.atleast_2d(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert np.array_equal(np.isnan(a), np.isnan(b))
        m = ~np.isnan(b)
        scale = np.median(np.abs(b[m])) if m.any() else 1.0
        bound = 1e-9 * np.maximum(np.abs(b[m]), scale)
        worst = np.max(np.abs(a[m] - b[m]) - bound) if m.any() else -1
        assert worst <= 0, worst


def walks() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for seed, level, step in ((1, 100.0, 1.0), (2, 1.0, 0.01), (3, 60_000.0, 25.0)):
        rng = np.random.default_rng(seed)
        close = level + np.cumsum(rng.standard_normal(20_000)) * step
        high = close + np.abs(rng.standard_normal(len(close))) * step
        low = close - np.abs(rng.standard_normal(len(close))) * step
        out.append((high, low, close))
    return out


SERIES: list[tuple[str, Callable[[np.ndarray], object], Callable[[np.ndarray], object]]] = [
    ("sma", lambda x: S.sma(x, 30), lambda x: talib.SMA(x, 30)),
    ("ema", lambda x: S.ema(x, 30), lambda x: talib.EMA(x, 30)),
    ("ema2", lambda x: S.ema(x, 2), lambda x: talib.EMA(x, 2)),
    ("wma", lambda x: S.wma(x, 30), lambda x: talib.WMA(x, 30)),
    ("rsi", lambda x: S.rsi(x, 14), lambda x: talib.RSI(x, 14)),
    ("var", lambda x: S.var(x, 5), lambda x: talib.VAR(x, 5)),
    ("stddev", lambda x: S.stddev(x, 20, 2.0), lambda x: talib.STDDEV(x, 20, 2.0)),
    ("macd", lambda x: S.macd(x, 12, 26, 9), lambda x: talib.MACD(x, 12, 26, 9)),
    ("macd_swapped", lambda x: S.macd(x, 26, 12, 5), lambda x: talib.MACD(x, 26, 12, 5)),
    ("bbands", lambda x: S.bbands(x, 20, 2.0, 2.0), lambda x: talib.BBANDS(x, 20, 2.0, 2.0)),
    ("bbands_asym", lambda x: S.bbands(x, 5, 1.5, 2.5), lambda x: talib.BBANDS(x, 5, 1.5, 2.5)),
]
BARS: list[tuple[str, Callable[..., object], Callable[..., object]]] = [
    ("atr", lambda h, l, c: S.atr(h, l, c, 14), lambda h, l, c: talib.ATR(h, l, c, 14)),
    ("adx", lambda h, l, c: S.adx(h, l, c, 14), lambda h, l, c: talib.ADX(h, l, c, 14)),
    ("stoch", lambda h, l, c: S.stoch(h, l, c, 5, 3, 3), lambda h, l, c: talib.STOCH(h, l, c, 5, 3, 0, 3, 0)),
    ("stoch_long", lambda h, l, c: S.stoch(h, l, c, 14, 3, 5), lambda h, l, c: talib.STOCH(h, l, c, 14, 3, 0, 5, 0)),
]


@pytest.mark.parametrize("name,ours,theirs", SERIES, ids=[s[0] for s in SERIES])
def test_series_indicators_equal_talib_on_random_walks(name: str, ours: Callable[[np.ndarray], object],
                                                      theirs: Callable[[np.ndarray], object]) -> None:
    for _, _, close in walks():
        close_to_talib(np.asarray(ours(close)), np.asarray(theirs(close)))


@pytest.mark.parametrize("name,ours,theirs", BARS, ids=[s[0] for s in BARS])
def test_bar_indicators_equal_talib_on_random_walks(name: str, ours: Callable[..., object],
                                                   theirs: Callable[..., object]) -> None:
    for high, low, close in walks():
        close_to_talib(np.asarray(ours(high, low, close)), np.asarray(theirs(high, low, close)))


@pytest.fixture(scope="module")
def real_trades(binance_dir: Path) -> np.ndarray:
    events, _ = tradecore.read_binance(binance_dir / "usdm_btcusdt_20240808.gz")
    return events[events["kind"] == tradecore.Kind.TRADE]


def test_indicators_equal_talib_on_real_trades(real_trades: np.ndarray) -> None:
    price = tradecore.to_float(real_trades["price"])
    assert len(price) > 20_000
    for name, ours, theirs in SERIES:
        close_to_talib(np.asarray(ours(price)), np.asarray(theirs(price)))
    # One-second bars of the same trades for the bar indicators.
    bars = tradecore.signals.time_bars(real_trades, 1_000_000_000)
    h, l, c = (tradecore.to_float(bars[f]) for f in ("high", "low", "close"))
    assert len(c) > 300
    for name, ours, theirs in BARS:
        close_to_talib(np.asarray(ours(h, l, c)), np.asarray(theirs(h, l, c)))


STREAMING = [
    (lambda: S.SMA(30), lambda x: S.sma(x, 30)),
    (lambda: S.EMA(30), lambda x: S.ema(x, 30)),
    (lambda: S.WMA(30), lambda x: S.wma(x, 30)),
    (lambda: S.RSI(14), lambda x: S.rsi(x, 14)),
    (lambda: S.VAR(5), lambda x: S.var(x, 5)),
    (lambda: S.STDDEV(20, 2.0), lambda x: S.stddev(x, 20, 2.0)),
    (lambda: S.ZSCORE(20), lambda x: S.zscore(x, 20)),
    (lambda: S.REALIZED_VOL(15), lambda x: S.realized_vol(x, 15)),
    (lambda: S.MACD(12, 26, 9), lambda x: np.stack(S.macd(x, 12, 26, 9), axis=1)),
    (lambda: S.BBANDS(20, 2.0, 1.0), lambda x: np.stack(S.bbands(x, 20, 2.0, 1.0), axis=1)),
]


@pytest.mark.parametrize("make,batch", STREAMING)
def test_streaming_equals_batch_exactly(make: Callable[[], object], batch: Callable[[np.ndarray], object]) -> None:
    _, _, close = walks()[0]
    x = close[:3_000]
    ind = make()
    streamed = np.array([ind.update(float(v)) for v in x])  # type: ignore[attr-defined]
    expected = np.asarray(batch(x))
    assert np.array_equal(streamed, expected, equal_nan=True)


def test_streaming_bar_indicators_equal_batch_exactly() -> None:
    h, l, c = (a[:3_000] for a in walks()[1])
    for make, batch in ((lambda: S.ATR(14), lambda: S.atr(h, l, c, 14)), (lambda: S.ADX(14), lambda: S.adx(h, l, c, 14)),
                        (lambda: S.STOCH(5, 3, 3), lambda: np.stack(S.stoch(h, l, c), axis=1))):
        ind = make()
        streamed = np.array([ind.update(float(a), float(b), float(d)) for a, b, d in zip(h, l, c, strict=True)])
        assert np.array_equal(streamed, np.asarray(batch()), equal_nan=True)


def test_non_finite_inputs_are_skipped() -> None:
    """A NaN or inf input gives NaN at its position and leaves the state as it was: the other
    outputs equal those of the series without it."""
    _, _, close = walks()[0]
    x = close[:500].copy()
    holes = np.array([3, 40, 41, 250, 499])
    x[holes] = [np.nan, np.inf, np.nan, -np.inf, np.nan]
    keep = np.setdiff1d(np.arange(len(x)), holes)
    for f in (lambda v: S.ema(v, 10), lambda v: S.rsi(v, 14), lambda v: S.wma(v, 7), lambda v: S.macd(v)[2],
              lambda v: S.bbands(v, 10)[0], lambda v: S.zscore(v, 10)):
        with_holes = np.asarray(f(x))
        assert np.isnan(with_holes[holes]).all()
        assert np.array_equal(with_holes[keep], np.asarray(f(x[keep])), equal_nan=True)


def test_bad_input_gets_clear_errors() -> None:
    x = np.arange(50, dtype=float)
    with pytest.raises(InvalidInput, match="invalid period: 0"):
        S.ema(x, 0)
    with pytest.raises(InvalidInput, match="invalid period: -3"):
        S.EMA(-3)
    with pytest.raises(InvalidInput, match="invalid period: 1"):
        S.rsi(x, 1)
    with pytest.raises(InvalidInput, match=r"shape \(5, 10\)"):
        S.sma(x.reshape(5, 10), 3)
    with pytest.raises(InvalidInput, match="dtype <U1"):
        S.sma(np.array(["a", "b"]), 3)
    with pytest.raises(InvalidInput, match="nbdev_up: NaN"):
        S.bbands(x, 5, float("nan"))
    with pytest.raises(InvalidInput, match="length of high"):
        S.atr(x, x[:-1], x, 14)
    # Integer input is accepted and computed in float64.
    assert np.array_equal(S.sma(np.arange(10), 2), S.sma(np.arange(10, dtype=float), 2), equal_nan=True)


def test_vwap_and_realized_volatility_equal_direct_computations() -> None:
    rng = np.random.default_rng(5)
    n = 2_000
    price = 100 + np.cumsum(rng.standard_normal(n)) * 0.1
    qty = rng.uniform(0.1, 2.0, n)
    ts = np.cumsum(rng.integers(1, 200_000_000, n)) + 1_723_161_000_000_000_000
    got = S.vwap(price, qty, ts, window="2s")
    for i in range(0, n, 97):
        inside = (ts > ts[i] - 2_000_000_000) & (np.arange(n) <= i)
        assert got[i] == pytest.approx((price[inside] * qty[inside]).sum() / qty[inside].sum(), rel=1e-12)
    session = S.vwap(price, qty, ts)
    day = ts // 86_400_000_000_000
    for i in range(0, n, 131):
        inside = (day == day[i]) & (np.arange(n) <= i)
        assert session[i] == pytest.approx((price[inside] * qty[inside]).sum() / qty[inside].sum(), rel=1e-12)
    rv = S.realized_vol(price, 30)
    r2 = np.diff(np.log(price)) ** 2
    assert np.isnan(rv[:30]).all()
    for i in range(30, n, 89):
        assert rv[i] == pytest.approx(np.sqrt(r2[i - 30:i].sum()), rel=1e-12)
    streaming = S.VWAP(2_000_000_000)
    assert np.array_equal([streaming.update(p, q, int(t)) for p, q, t in zip(price, qty, ts, strict=True)], got)
    with pytest.raises(InvalidInput, match="window: 'later'"):
        S.vwap(price, qty, ts, window="later")
    with pytest.raises(InvalidInput, match="invalid ts"):
        S.vwap(price, qty, ts.astype(float))
