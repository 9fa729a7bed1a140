"""Raw capture (gz) -> normalized events, end to end from Python."""

from __future__ import annotations

from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

import tradecore


def test_read_binance(benchmark: BenchmarkFixture, capture: Path) -> None:
    events, _ = tradecore.read_binance(capture)
    benchmark.extra_info.update(items=len(events), unit="event")
    benchmark.pedantic(lambda: tradecore.read_binance(capture), rounds=9, iterations=1, warmup_rounds=1)


def test_iter_binance_chunks(benchmark: BenchmarkFixture, capture: Path) -> None:
    events, _ = tradecore.read_binance(capture)
    benchmark.extra_info.update(items=len(events), unit="event")

    def run() -> int:
        return sum(len(c) for c in tradecore.iter_binance(capture, chunk_events=100_000))

    benchmark.pedantic(run, rounds=9, iterations=1, warmup_rounds=1)
