"""The tick store: recorded capture -> Parquet store (convert, end to end) and reading it back
(a whole read, and the chunked replay a backtest uses). Figures per event."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import tradecore
from tradecore import Instrument, TickStore

INSTRUMENT = Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001")


@pytest.fixture(scope="module")
def store(capture: Path, tmp_path_factory: pytest.TempPathFactory) -> TickStore:
    st = TickStore(tmp_path_factory.mktemp("store"))
    with st.writer(INSTRUMENT) as w:
        for chunk in tradecore.iter_capture(capture, chunk_events=1_000_000):
            w.write(chunk)
    return st


def test_convert_capture_to_store(benchmark: BenchmarkFixture, capture: Path, tmp_path: Path) -> None:
    """What `tradecore convert` does: read the gz capture, write the partitioned store."""
    n = sum(len(c) for c in tradecore.iter_capture(capture, chunk_events=1_000_000))
    benchmark.extra_info.update(items=n, unit="event")

    def run() -> None:
        shutil.rmtree(tmp_path / "s", ignore_errors=True)
        st = TickStore(tmp_path / "s")
        with st.writer(INSTRUMENT) as w:
            for chunk in tradecore.iter_capture(capture, chunk_events=1_000_000):
                w.write(chunk)

    benchmark.pedantic(run, rounds=7, iterations=1, warmup_rounds=1)


def test_store_read(benchmark: BenchmarkFixture, store: TickStore) -> None:
    n = len(store.read("binance-usdm", "BTCUSDT"))
    benchmark.extra_info.update(items=n, unit="event")
    benchmark.pedantic(lambda: store.read("binance-usdm", "BTCUSDT"), rounds=15, iterations=1, warmup_rounds=2)


def test_store_replay_chunks(benchmark: BenchmarkFixture, store: TickStore) -> None:
    n = len(store.read("binance-usdm", "BTCUSDT"))
    benchmark.extra_info.update(items=n, unit="event")

    def run() -> int:
        return sum(len(c) for c in store.replay(chunk_events=100_000))

    benchmark.pedantic(run, rounds=15, iterations=1, warmup_rounds=2)
