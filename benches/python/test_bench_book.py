"""Order book level updates from one Python batch call, on real data.

Per-item figure = round time / ``extra_info["items"]`` (level updates); see benches/report.py.
"""

from __future__ import annotations

import numpy as np
from pytest_benchmark.fixture import BenchmarkFixture

import tradecore


def test_book_apply_batch(benchmark: BenchmarkFixture, book_events: np.ndarray) -> None:
    updates = int(np.count_nonzero(book_events["kind"] != tradecore.Kind.CLEAR))
    benchmark.extra_info.update(items=updates, unit="level update")

    def setup() -> tuple[tuple[tradecore.OrderBook, np.ndarray], dict[str, object]]:
        return (tradecore.OrderBook(0.1, 0.001), book_events), {}

    benchmark.pedantic(lambda book, ev: book.apply(ev), setup=setup, rounds=21, iterations=1, warmup_rounds=2)


def test_book_best_bid_ask(benchmark: BenchmarkFixture, book_events: np.ndarray) -> None:
    book = tradecore.OrderBook(0.1, 0.001)
    book.apply(book_events)
    benchmark.extra_info.update(items=1, unit="call")
    benchmark(lambda: (book.best_bid(), book.best_ask()))
