"""A Binance USD-M depth message from raw bytes to an updated book, seen from Python, with
the cost of merely decoding the same messages with msgspec, orjson and json in the same run.

Each round replays the snapshot and every depth message of the capture in order (6,552
messages, 1.6 KB and 68 levels on average on the real file); per-message figure = round time /
``extra_info["items"]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import msgspec
import orjson
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import tradecore


def test_feed_depth_message(benchmark: BenchmarkFixture, depth_messages: list[tuple[int, bytes]]) -> None:
    benchmark.extra_info.update(items=len(depth_messages), unit="message",
                                mean_bytes=sum(len(m) for _, m in depth_messages) / len(depth_messages))

    def setup() -> tuple[tuple[tradecore.BinanceFeed], dict[str, object]]:
        return (tradecore.BinanceFeed(tradecore.OrderBook(0.1, 0.001)),), {}

    def run(feed: tradecore.BinanceFeed) -> None:
        on_message = feed.on_message
        for ts, msg in depth_messages:
            on_message(msg, ts)
        assert feed.in_sync

    benchmark.pedantic(run, setup=setup, rounds=15, iterations=1, warmup_rounds=1)


DECODERS: dict[str, Callable[[bytes], object]] = {
    "msgspec": msgspec.json.Decoder().decode,
    "orjson": orjson.loads,
    "json": json.loads,
}


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_decode_only_peer(benchmark: BenchmarkFixture, depth_messages: list[tuple[int, bytes]], decoder: str) -> None:
    decode = DECODERS[decoder]
    benchmark.extra_info.update(items=len(depth_messages), unit="message")

    def run() -> None:
        for _, msg in depth_messages:
            decode(msg)

    benchmark.pedantic(run, rounds=15, iterations=1, warmup_rounds=1)
