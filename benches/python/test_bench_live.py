"""The live hot path inside the process: a raw frame as received from the websocket ->
recorded (an append) -> routed -> parsed, chain-checked and applied to the book in Rust, over
every frame of the capture (depth, trade, bookTicker). The per-frame latency percentiles are
in ``extra_info`` (p50/p99 over all frames and over depth frames)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import numpy as np
from pytest_benchmark.fixture import BenchmarkFixture

from tradecore.live.exchange_sim import read_frames
from tradecore.live.feed import BinanceMarketData
from tradecore.live.recorder import Recorder


def test_live_frame_to_book(benchmark: BenchmarkFixture, capture: Path) -> None:
    frames, snapshot = read_frames(capture)
    assert snapshot is not None
    depth = np.array([b"@depth" in f[:40] for _, f in frames])
    stats: dict[str, float] = {}

    def session() -> None:
        async def go() -> None:
            with tempfile.TemporaryDirectory() as d:
                md = BinanceMarketData({"BTCUSDT": (0.1, 0.001)}, recorder=Recorder(d, "bench"))
                md.latency_sink = {"BTCUSDT": []}
                b = md.books["BTCUSDT"]
                b.snapshot_task = asyncio.get_running_loop().create_future()  # no REST in this bench
                b.feed.on_message(snapshot, frames[0][0])
                on_raw = md.on_raw
                for ts, f in frames:
                    on_raw(f, ts)
                lat = np.array(md.latency_sink["BTCUSDT"]) / 1e3
                stats.update(p50_us=float(np.percentile(lat, 50)), p99_us=float(np.percentile(lat, 99)),
                             depth_p50_us=float(np.percentile(lat[depth], 50)),
                             depth_p99_us=float(np.percentile(lat[depth], 99)))

        asyncio.run(go())

    benchmark.extra_info.update(items=len(frames), unit="frame")
    benchmark.pedantic(session, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(stats)
