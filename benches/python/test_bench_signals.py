"""Signals: batch indicators on 1e6 points against TA-Lib in the same run, one streaming update
from Python, and a feature set of ten features over every event of the recorded capture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import tradecore
from tradecore import signals as S

talib = pytest.importorskip("talib")

N = 1_000_000
X = 100 + np.cumsum(np.random.default_rng(7).standard_normal(N))

BATCH: dict[str, tuple[Callable[[np.ndarray], object], Callable[[np.ndarray], object]]] = {
    "ema": (lambda x: S.ema(x, 30), lambda x: talib.EMA(x, 30)),
    "rsi": (lambda x: S.rsi(x, 14), lambda x: talib.RSI(x, 14)),
    "macd": (lambda x: S.macd(x, 12, 26, 9), lambda x: talib.MACD(x, 12, 26, 9)),
    "bbands": (lambda x: S.bbands(x, 20, 2.0, 2.0), lambda x: talib.BBANDS(x, 20, 2.0, 2.0)),
}


@pytest.mark.parametrize("lib", ["tradecore", "talib"])
@pytest.mark.parametrize("name", list(BATCH))
def test_batch_indicator(benchmark: BenchmarkFixture, name: str, lib: str) -> None:
    fn = BATCH[name][0 if lib == "tradecore" else 1]
    benchmark.extra_info.update(items=N, unit="point")
    benchmark.pedantic(fn, args=(X,), rounds=15, iterations=1, warmup_rounds=2)


def test_streaming_ema_update_from_python(benchmark: BenchmarkFixture) -> None:
    ema = S.EMA(30)
    values = X[:100_000].tolist()
    benchmark.extra_info.update(items=len(values), unit="call")

    def run() -> None:
        update = ema.update
        for v in values:
            update(v)

    benchmark.pedantic(run, rounds=9, iterations=1, warmup_rounds=1)


TEN = {
    "mid": "mid", "spread": "spread", "micro": "microprice", "imb5": ("imbalance", {"levels": 5}),
    "ofi": ("ofi", {"window": "1s"}), "flow": ("trade_imbalance", {"window": "5s"}),
    "ret": ("mid_return", {"horizon": "1s"}), "ema": ("ema", {"period": 50}),
    "rsi": ("rsi", {"period": 14, "source": "last_price"}), "vwap": ("vwap", {"window": "5s"}),
}


def test_feature_set_ten_features(benchmark: BenchmarkFixture, capture: Path) -> None:
    """Ten features updated on every event of the capture, a row per exchange message."""
    events, _ = tradecore.read_capture(capture)
    fs = S.FeatureSet(TEN, tick_size=0.1, lot_size=0.001)
    benchmark.extra_info.update(items=len(events), unit="event")
    benchmark.pedantic(lambda: fs.replay(events), rounds=9, iterations=1, warmup_rounds=1)
