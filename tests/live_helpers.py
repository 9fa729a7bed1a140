"""Helpers of the tests that run live sessions against the local exchange simulator."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import IO

from tradecore.live.exchange_sim import ExchangeSimulator
from tradecore.live.feed import BinanceMarketData


@contextlib.contextmanager
def sim_process(*args: str) -> Iterator[tuple[str, IO[str]]]:
    """``tradecore exchange-sim ARGS --port 0`` in its own process; yields its host:port and its
    output (the line after the address onwards). The process is killed on the way out."""
    sim = subprocess.Popen([sys.executable, "-m", "tradecore", "exchange-sim", *args, "--port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert sim.stdout is not None
        m = re.search(r"ws://127\.0\.0\.1:(\d+)", sim.stdout.readline())
        assert m, "the simulator printed its address"
        yield f"127.0.0.1:{m.group(1)}", sim.stdout
    finally:
        sim.terminate()
        sim.communicate(timeout=30)  # also closes its pipe


async def run_to_the_end(md: BinanceMarketData, sim: ExchangeSimulator, timeout: float,
                         symbol: str = "BTCUSDT") -> None:
    """Runs the client on the (started) simulator until the simulator has sent everything and
    the client has handled it (its message count stops moving and no snapshot is pending), then
    stops both."""
    task = asyncio.ensure_future(md.run())
    try:
        await sim.wait_done(timeout)
        book = md.books[symbol]
        last = -1
        while book.health.messages != last or book.snapshot_task is not None:
            last = book.health.messages
            await asyncio.sleep(0.2)
    finally:
        md.stop()
        await asyncio.wait_for(task, 10)
        await sim.stop()
