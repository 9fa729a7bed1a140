"""Bars and feature sets: values checked against independent computations, replay equal to
live (piece by piece), clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tradecore
from tradecore import Flag, Kind
from tradecore import signals as S
from tradecore.errors import InvalidInput

FEATURES = {
    "mid": "mid",
    "spread": "spread",
    "micro": "microprice",
    "imb5": ("imbalance", {"levels": 5}),
    "ofi": ("ofi", {"window": "500ms"}),
    "flow": ("trade_imbalance", {"window": "2s"}),
    "signed": ("signed_volume", {"window": "2s"}),
    "vwap": ("vwap", {"window": "5s"}),
    "ret": ("mid_return", {"horizon": "1s"}),
    "rvol": ("realized_vol", {"window": "5s"}),
    "ema_mid": ("ema", {"period": 50}),
    "rsi_trade": ("rsi", {"period": 14, "source": "last_price"}),
    "macd_hist": ("macd", {"output": "hist"}),
    "bb_up": ("bbands", {"period": 20, "output": "upper", "source": "microprice"}),
    "atr": ("atr", {"period": 14}),
    "adx": ("adx", {"period": 5}),
    "stoch_k": ("stoch", {}),
}


@pytest.fixture(scope="module")
def events(synthetic_capture: Path) -> np.ndarray:
    ev, _ = tradecore.read_capture(synthetic_capture)
    return ev


def messages(events: np.ndarray) -> list[np.ndarray]:
    ends = np.flatnonzero(events["flags"] & Flag.LAST_IN_MESSAGE) + 1
    return np.split(events, ends)[:-1] if ends[-1] == len(events) else np.split(events, ends)


def test_live_message_by_message_equals_replay(events: np.ndarray) -> None:
    fs = S.FeatureSet(FEATURES, tick_size=0.1, lot_size=0.001, bars="1s")
    ts, X = fs.replay(events)
    assert X.shape == (int(np.count_nonzero(events["flags"] & Flag.LAST_IN_MESSAGE)), len(FEATURES))
    live = fs.live()
    parts = [live.update(m) for m in messages(events)]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), ts)
    assert np.array_equal(np.vstack([p[1] for p in parts]), X, equal_nan=True)
    # Chunks of any size (as a store replay gives them) too.
    ts2, X2 = fs.replay(np.array_split(events, 7))
    assert np.array_equal(ts2, ts) and np.array_equal(X2, X, equal_nan=True)
    # Every feature becomes defined.
    assert not np.isnan(X[-1]).any(), dict(zip(fs.names, X[-1], strict=True))


def test_book_features_equal_the_order_book(events: np.ndarray) -> None:
    fs = S.FeatureSet({"mid": "mid", "spread": "spread", "micro": "microprice", "imb3": ("imbalance", {"levels": 3})},
                      tick_size=0.1, lot_size=0.001, sample="event")
    _, X = fs.replay(events)
    book = tradecore.OrderBook(0.1, 0.001)
    for i in range(0, len(events), 997):
        book.apply(events[: i + 1]) if i == 0 else book.apply(events[prev + 1: i + 1])
        prev = i
        row = X[i]
        if book.best_bid() and book.best_ask():
            assert row[1] == pytest.approx(book.spread(), abs=1e-9)
            assert row[0] == pytest.approx(book.mid(), rel=1e-15)
            assert row[2] == pytest.approx(book.microprice(), rel=1e-12)
            assert row[3] == pytest.approx(book.imbalance(3), rel=1e-12)


def test_indicator_features_equal_the_batch_functions(events: np.ndarray) -> None:
    book_only = events[np.isin(events["kind"], (Kind.DEPTH, Kind.SNAPSHOT, Kind.CLEAR))]
    fs = S.FeatureSet({"mid": "mid", "ema": ("ema", {"period": 20}), "rsi": ("rsi", {"period": 14}),
                       "z": ("zscore", {"period": 30})}, tick_size=0.1, lot_size=0.001)
    _, X = fs.replay(book_only)
    mid = X[:, 0]
    ok = ~np.isnan(mid)
    for col, expected in ((1, S.ema(mid[ok], 20)), (2, S.rsi(mid[ok], 14)), (3, S.zscore(mid[ok], 30))):
        got = X[ok, col]
        defined = ~np.isnan(expected)
        assert np.array_equal(got[defined], expected[defined])


def test_trade_flow_features_equal_a_direct_computation(events: np.ndarray) -> None:
    fs = S.FeatureSet({"flow": ("trade_imbalance", {"window": "2s"}), "signed": ("signed_volume", {"window": "2s"}),
                       "vwap": ("vwap", {"window": "2s"})}, tick_size=0.1, lot_size=0.001, sample="trade")
    ts, X = fs.replay(events)
    trades = events[events["kind"] == Kind.TRADE]
    assert np.array_equal(ts, trades["exch_ts"])
    qty, price = tradecore.to_float(trades["qty"]), tradecore.to_float(trades["price"])
    buy = np.where(trades["side"] == 1, qty, 0.0)
    sell = np.where(trades["side"] == -1, qty, 0.0)
    for i in range(0, len(trades), 53):
        inside = (ts > ts[i] - 2_000_000_000) & (ts <= ts[i])
        inside[i + 1:] = False
        b, s_ = buy[inside].sum(), sell[inside].sum()
        assert X[i, 0] == pytest.approx((b - s_) / (b + s_), rel=1e-9, abs=1e-12)
        assert X[i, 1] == pytest.approx(b - s_, rel=1e-9, abs=1e-9)
        assert X[i, 2] == pytest.approx((price[inside] * qty[inside]).sum() / qty[inside].sum(), rel=1e-12)


def test_ofi_matches_its_definition(events: np.ndarray) -> None:
    """Cont, Kukanov and Stoikov's e_n at each book message, summed over the window."""
    book_only = events[np.isin(events["kind"], (Kind.DEPTH, Kind.SNAPSHOT, Kind.CLEAR))]
    fs = S.FeatureSet({"bp": "mid", "ofi": ("ofi", {"window": "1s"})}, tick_size=0.1, lot_size=0.001)
    ts, X = fs.replay(book_only)
    book = tradecore.OrderBook(0.1, 0.001)
    tops, start = [], 0
    for m in messages(book_only):
        book.apply(m)
        tops.append((book.best_bid(), book.best_ask()))
    e = [np.nan]
    for (b0, a0), (b1, a1) in zip(tops, tops[1:]):
        if not (b0 and a0 and b1 and a1):
            e.append(np.nan)
            continue
        v = (b1[1] if b1[0] >= b0[0] else 0) - (b0[1] if b1[0] <= b0[0] else 0) \
            - (a1[1] if a1[0] <= a0[0] else 0) + (a0[1] if a1[0] >= a0[0] else 0)
        e.append(v)
    e = np.asarray(e)
    # The window runs on the latest time seen: the buffered diffs applied after the snapshot
    # go back in time, and an event is not older than one already seen after it.
    clock = np.maximum.accumulate(ts)
    for i in range(50, len(ts), 37):
        inside = (clock > clock[i] - 1_000_000_000) & (np.arange(len(ts)) <= i) & ~np.isnan(e)
        assert X[i, 1] == pytest.approx(e[inside].sum(), abs=1e-6)


def test_time_and_volume_bars(events: np.ndarray) -> None:
    trades = events[events["kind"] == Kind.TRADE]
    bars = S.time_bars(events, "1s")
    second = trades["exch_ts"] // 1_000_000_000
    starts = np.unique(second)
    assert np.array_equal(bars["start"], starts * 1_000_000_000)
    for k in (0, len(starts) // 2, len(starts) - 1):
        t = trades[second == starts[k]]
        assert (bars["open"][k], bars["close"][k]) == (t["price"][0], t["price"][-1])
        assert (bars["high"][k], bars["low"][k]) == (t["price"].max(), t["price"].min())
        assert bars["volume"][k] == t["qty"].sum() and bars["trades"][k] == len(t)
    vb = S.volume_bars(events, 1.0)
    assert vb["volume"][:-1].min() >= 1_000_000_000 and vb["volume"].sum() == trades["qty"].sum()


def test_bad_declarations_get_clear_errors() -> None:
    kw = {"tick_size": 0.1, "lot_size": 0.001}
    with pytest.raises(InvalidInput, match="unknown feature kind .*feature x"):
        S.FeatureSet({"x": "moon_phase"}, **kw)
    with pytest.raises(InvalidInput, match="invalid period: 0"):
        S.FeatureSet({"e": ("ema", {"period": 0})}, **kw)
    with pytest.raises(InvalidInput, match="needs the parameter 'window_ns'"):
        S.FeatureSet({"o": "ofi"}, **kw)
    with pytest.raises(InvalidInput, match="uses bars"):
        S.FeatureSet({"a": ("atr", {"period": 14})}, **kw)
    with pytest.raises(InvalidInput, match="source: moon"):
        S.FeatureSet({"e": ("ema", {"period": 3, "source": "moon"})}, **kw)
    with pytest.raises(InvalidInput, match="window: 'soon'"):
        S.FeatureSet({"o": ("ofi", {"window": "soon"})}, **kw)
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        S.FeatureSet({"m": "mid"}, **kw).replay(np.zeros(3))
