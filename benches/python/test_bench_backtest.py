"""The backtest replay from Python, on the real capture held in memory: the simulator and the
risk engine on, 5 ms order latency, the recorded feed latency.

- a no-op strategy (never woken): the compiled loop's cost per event, driver included;
- a Python strategy woken on every trade and every book message;
- the example market maker (quotes on every book message: orders, queue, fills).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_benchmark.fixture import BenchmarkFixture

import tradecore
from tradecore.backtest import load_strategy, run_backtest

REPO = Path(__file__).resolve().parents[2]
INST = tradecore.Instrument("binance-usdm", "BTCUSDT", tick_size="0.1", lot_size="0.001", maker_fee="-0.0001",
                            taker_fee="0.0004")


class Noop(tradecore.Strategy):
    pass


class Woken(tradecore.Strategy):
    calls = 0

    def on_book(self, book: Any) -> None:
        self.calls += 1

    def on_trade(self, trade: Any) -> None:
        self.calls += 1


def _bench(benchmark: BenchmarkFixture, capture: Path, make: Any) -> None:
    events, _ = tradecore.read_binance(capture)
    benchmark.extra_info.update(items=len(events), unit="event")
    benchmark.pedantic(lambda: run_backtest(make(), events, instrument=INST, latency="5ms"), rounds=7,
                       iterations=1, warmup_rounds=1)


def test_backtest_noop(benchmark: BenchmarkFixture, capture: Path) -> None:
    _bench(benchmark, capture, Noop)


def test_backtest_python_woken_every_trade_and_book_message(benchmark: BenchmarkFixture, capture: Path) -> None:
    _bench(benchmark, capture, Woken)


def test_backtest_example_market_maker(benchmark: BenchmarkFixture, capture: Path) -> None:
    _bench(benchmark, capture, lambda: load_strategy(f"{REPO / 'examples' / 'market_maker.py'}:MarketMaker"))
