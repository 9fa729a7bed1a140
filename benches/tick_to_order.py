#!/usr/bin/env python3
"""Tick to order, inside the process: a market-data frame received -> parsed and applied to the
book (Rust) -> the strategy computes a few features -> an order passes the pre-trade risk check
(Rust) -> the order's bytes are handed to the transport.

The frames of a recorded capture are handed to the live feed (``BinanceMarketData.on_raw``,
the call its websocket reader makes) one at a time on a uvloop loop; the strategy
(``FeatureQuoter``: microprice, 5-level imbalance, spread and a mid EWMA) sends a post-only
order every ``--every`` book updates. Timed from before ``on_raw`` to:

- ``paper``: the order handed to the paper exchange (the backtest's simulator, fed the live
  events: ``tradecore.live.paper``);
- ``real (ccxt)``: the real gateway (``tradecore.live.trading`` + ``CcxtGateway``): grid, risk
  check and the journal's intent (one call into Rust, ``tradecore._core.OrderEntry``), then
  ccxt's ``create_order`` signs and encodes the request and hands it to its HTTP layer
  (``Exchange.fetch``, replaced here by a stub that records the time and answers NEW, so no
  network is involved);
- ``real (native)``: the same call into Rust also builds the whole signed HTTP request (query
  string + HMAC-SHA256), and its bytes are written to the order connection
  (the connection's asyncio transport, ``transport.write``, replaced here by a stub that
  records the time and answers through the connection's HTTP parser) before ``ctx.buy``
  returns.

    .venv/bin/python benches/tick_to_order.py [--data DIR] [--rounds N] [--every N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import uvloop

from tradecore.instrument import Instrument
from tradecore.live.exchange_sim import ExchangeSimulator, read_frames
from tradecore.live.feed import BinanceMarketData
from tradecore.live.gateway import CcxtGateway
from tradecore.live.host import StrategyHost
from tradecore.live.http1 import Http1Connection, _Protocol
from tradecore.live.journal import Journal
from tradecore.live.paper import PaperTrader
from tradecore.live.trading import TradingBackend
from tradecore.risk import RiskLimits
from tradecore.strategy import Strategy

REPO = Path(__file__).resolve().parents[1]
FILE = "binance/usdm_btcusdt_20240808.gz"
SIZES = {"BTCUSDT": (0.1, 0.001)}
BTC = Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001")
LIMITS = RiskLimits(max_order_qty=0.01, max_position=0.05, price_band_bps=100, max_submits_per_sec=10_000,
                    max_open_orders=50)
T0 = [0]  # perf_counter_ns before the frame was handed to the feed
OUT: list[int] = []  # ns from T0 to the order's bytes at the transport


class FeatureQuoter(Strategy):
    every = 20
    size = 0.001

    def on_start(self) -> None:
        self.n = 0
        self.ema: float | None = None
        self.last: int | None = None
        self.tick = float(self.ctx.instruments[0].tick_size)

    def on_book(self, book: Any) -> None:
        self.n += 1
        bb, ba = book.best_bid(), book.best_ask()
        if bb is None or ba is None:
            return
        mid = (bb[0] + ba[0]) / 2
        spread = max(ba[0] - bb[0], self.tick)
        micro = book.microprice() or mid
        imb = book.imbalance(5) or 0.0
        self.ema = mid if self.ema is None else self.ema + 0.05 * (mid - self.ema)
        signal = (micro - mid) / spread + 0.5 * imb + (mid - self.ema) / spread
        if self.n % self.every:
            return
        ctx = self.ctx
        # prices need no rounding: the engine takes them to fixed point (1e-9) and checks the grid
        if signal >= 0:
            cid = ctx.buy(self.size, bb[0] - 10 * self.tick, post_only=True)
        else:
            cid = ctx.sell(self.size, ba[0] + 10 * self.tick, post_only=True)
        self.sent()
        if self.last is not None and (o := ctx.order(self.last)) is not None and o.status.is_open:
            ctx.cancel(self.last)  # after the new order: its request goes out first
        self.last = cid


    def sent(self) -> None:
        """Right after ``buy``/``sell`` returned (the real gateway timed the bytes inside it)."""


class PaperQuoter(FeatureQuoter):
    def sent(self) -> None:
        OUT.append(time.perf_counter_ns() - T0[0])  # submit returned: the order is at the paper exchange


class StubSocket:
    """The order connection's asyncio transport with its socket replaced: takes the request's
    bytes (records the time) and answers NEW or CANCELED on the loop's next turn, through the
    connection's HTTP parser, as a socket would."""

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.n = 0

    def write(self, request: bytes) -> None:
        post = request.startswith(b"POST")
        if post:
            OUT.append(time.perf_counter_ns() - T0[0])
        self.n += 1
        body = (b'{"orderId":%d,"symbol":"BTCUSDT","status":"%s","clientOrderId":"x","price":"0","origQty":"0.001",'
                b'"executedQty":"0","side":"BUY","updateTime":0}' % (self.n, b"NEW" if post else b"CANCELED"))
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        asyncio.get_running_loop().call_soon(self.proto.data_received, answer)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        self.proto.connection_lost(None)


class StubConnection(Http1Connection):
    """The order connection over :class:`StubSocket`."""

    async def connect(self) -> None:
        proto = _Protocol(self)
        proto.connection_made(StubSocket(proto))  # type: ignore[arg-type]


def _market(frames: list[tuple[int, bytes]], snapshot: bytes) -> BinanceMarketData:
    md = BinanceMarketData(SIZES, streams=())
    b = md.books["BTCUSDT"]
    b.feed.on_message(snapshot, frames[0][0])
    return md


def _depth(frames: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    return [f for f in frames if b"@depth" in f[1][:40]]


async def run_paper(frames: list[tuple[int, bytes]], snapshot: bytes, every: int,
                    journaled: bool = False) -> np.ndarray:
    """``journaled``: with the state directory's journal (orders, answers, fills, marks)."""
    OUT.clear()
    md = _market(frames, snapshot)
    with tempfile.TemporaryDirectory() as d:
        journal = Journal(Path(d) / "journal.sqlite") if journaled else None
        paper = PaperTrader(PaperQuoter(every=every), md, instruments=[BTC], latency="5ms", risk=LIMITS,
                            journal=journal)
        paper.start()
        on_raw, clock = md.on_raw, time.perf_counter_ns
        for ts, frame in _depth(frames):
            T0[0] = clock()
            on_raw(frame, ts)
        paper.finish()
        if journal is not None:
            journal.close()
    return np.array(OUT)


async def run_real(frames: list[tuple[int, bytes]], snapshot: bytes, every: int, native: bool,
                   sim: ExchangeSimulator) -> np.ndarray:
    OUT.clear()
    md = _market(frames, snapshot)
    gw = CcxtGateway("binanceusdm", ["BTCUSDT"], config={
        "apiKey": "bench-key", "secret": "bench-secret", "enableRateLimit": False,
        "urls": {"api": {"fapiPublic": f"{sim.rest_url}/fapi/v1"}}}, native=native)
    if native:
        gw.transport = StubConnection(f"{sim.rest_url}/fapi/v1", {"X-MBX-APIKEY": "bench-key"})
    await gw.connect()
    oid = [0]

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        if method == "POST" and "order" in url:
            OUT.append(time.perf_counter_ns() - T0[0])
        oid[0] += 1
        return {"orderId": oid[0], "symbol": "BTCUSDT", "status": "NEW" if method == "POST" else "CANCELED",
                "clientOrderId": "x", "price": "0", "origQty": "0.001", "executedQty": "0", "cumQuote": "0",
                "timeInForce": "GTX", "type": "LIMIT", "side": "BUY", "updateTime": 0}

    gw.exchange.fetch = fetch
    with tempfile.TemporaryDirectory() as d:
        journal = Journal(Path(d) / "journal.sqlite")
        tb = TradingBackend(md, gw, journal, [BTC], limits=LIMITS)
        strategy = FeatureQuoter(every=every)
        host = StrategyHost(strategy, md, backend=tb, instruments=[BTC])
        tb.strategy = strategy
        strategy.on_start()
        on_raw, clock = md.on_raw, time.perf_counter_ns
        for k, (ts, frame) in enumerate(_depth(frames), 1):
            T0[0] = clock()
            on_raw(frame, ts)
            if k % every == 0:
                while tb.tasks:  # the order's request is built on the loop's next turn
                    await asyncio.sleep(0)
        assert host.error is None and tb.error is None
        journal.close()
    await gw.close()
    return np.array(OUT)


def stats(ns: np.ndarray) -> dict[str, float]:
    return {"n": int(len(ns)), "p50_us": float(np.percentile(ns, 50) / 1e3),
            "p99_us": float(np.percentile(ns, 99) / 1e3), "mean_us": float(ns.mean() / 1e3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("TRADECORE_TEST_DATA", REPO.parent / "shared"
                                                                      / "data")))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--every", type=int, default=20, help="an order every N book updates (default 20)")
    ap.add_argument("--json", type=Path, default=REPO / "build" / "tick_to_order.json")
    args = ap.parse_args()
    capture = args.data / FILE
    frames, snapshot = read_frames(capture)
    assert snapshot is not None

    async def go() -> dict[str, list[dict[str, float]]]:
        sim = ExchangeSimulator(frames[:1], snapshot, tick_size=0.1, lot_size=0.001)  # exchangeInfo for ccxt
        await sim.start()
        rows: dict[str, list[dict[str, float]]] = {"paper": [], "paper (journal)": [], "real (ccxt)": [],
                                                   "real (native)": []}
        try:
            for r in range(args.rounds):  # interleaved, so each sees the machine's drift
                rows["paper"].append(stats(await run_paper(frames, snapshot, args.every)))
                rows["paper (journal)"].append(stats(await run_paper(frames, snapshot, args.every, True)))
                rows["real (ccxt)"].append(stats(await run_real(frames, snapshot, args.every, False, sim)))
                rows["real (native)"].append(stats(await run_real(frames, snapshot, args.every, True, sim)))
                print(f"round {r + 1}: " + "; ".join(f"{k} {v[-1]}" for k, v in rows.items()), flush=True)
        finally:
            await sim.stop()
        return rows

    rows = uvloop.run(go())
    summary = {k: {m: statistics.median(x[m] for x in v) for m in ("n", "p50_us", "p99_us", "mean_us")}
               for k, v in rows.items()}
    print(f"\nframe received -> order bytes at the transport, medians over {args.rounds} rounds "
          f"(an order every {args.every} depth frames):")
    for k, s in summary.items():
        print(f"  {k:14s} p50 {s['p50_us']:7.2f} us  p99 {s['p99_us']:8.2f} us  mean {s['mean_us']:7.2f} us  "
              f"({s['n']:.0f} orders)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rounds": rows, "median": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
