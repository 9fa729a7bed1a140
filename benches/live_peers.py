#!/usr/bin/env python3
"""Live feed peer benchmark: frame -> book updated, tradecore against ccxt.pro, on the same
frames in the same run, both connected over loopback to tradecore's exchange simulator
(Binance USD-M protocol) replaying the recorded capture as fast as possible.

Each client subscribes the depth stream of BTCUSDT only. tradecore: ``BinanceMarketData``
(raw frame -> Rust parse, chain check, book); timed from the frame's bytes to the book
updated. ccxt.pro ``binanceusdm.watch_order_book``: timed around ccxt's
``Client.handle_message`` (its JSON decode, delta handling and book update for one frame).
Both books are compared with the capture rebuilt by ``tradecore.read_binance`` (top 100
levels a side; ccxt's book keeps at most the snapshot's 1000 levels).

    .venv/bin/python benches/live_peers.py [--data DIR] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

import tradecore
from tradecore.live.exchange_sim import ExchangeSimulator
from tradecore.live.feed import BinanceMarketData

REPO = Path(__file__).resolve().parents[1]
FILE = "binance/usdm_btcusdt_20240808.gz"


async def settle(sim: ExchangeSimulator, count: Any) -> None:
    await sim.wait_done(300)
    last = -1
    while count() != last:
        last = count()
        await asyncio.sleep(0.3)


async def run_tradecore(capture: Path) -> tuple[np.ndarray, tradecore.OrderBook]:
    sim = ExchangeSimulator.from_capture(capture, tick_size=0.1, lot_size=0.001, speed=0)
    await sim.start()
    md = BinanceMarketData({"BTCUSDT": (0.1, 0.001)}, ws_url=sim.ws_url, rest_url=sim.rest_url, streams=())
    md.latency_sink = {"BTCUSDT": []}
    task = asyncio.ensure_future(md.run())
    await settle(sim, lambda: md.books["BTCUSDT"].health.messages)
    md.stop()
    await task
    await sim.stop()
    return np.array(md.latency_sink["BTCUSDT"]), md.books["BTCUSDT"].book


async def run_ccxt(capture: Path) -> tuple[np.ndarray, dict[str, Any]]:
    import ccxt.pro as ccxtpro
    from ccxt.async_support.base.ws.client import Client

    sim = ExchangeSimulator.from_capture(capture, tick_size=0.1, lot_size=0.001, speed=0)
    await sim.start()
    lat: list[int] = []
    original = Client.handle_message

    def timed(self: Any, message: Any) -> Any:
        t0 = time.perf_counter_ns()
        r = original(self, message)
        lat.append(time.perf_counter_ns() - t0)
        return r

    Client.handle_message = timed  # type: ignore[method-assign]
    ex = ccxtpro.binanceusdm({"enableRateLimit": False})
    ex.urls["api"]["fapiPublic"] = f"{sim.rest_url}/fapi/v1"
    ex.urls["api"]["ws"]["linear"] = f"{sim.ws_url}/ws"
    book: dict[str, Any] = {}

    async def watch() -> None:
        nonlocal book
        while True:
            book = await ex.watch_order_book("BTC/USDT:USDT", 1000)

    task = asyncio.ensure_future(watch())
    try:
        await settle(sim, lambda: len(lat))
    finally:
        task.cancel()
        Client.handle_message = original  # type: ignore[method-assign]
        await ex.close()
        await sim.stop()
    # The frames of the subscription (the SUBSCRIBE answer is one message too).
    return np.array(lat[1:]), book


def pct(a: np.ndarray) -> dict[str, float]:
    return {"n": int(len(a)), "p50_us": float(np.percentile(a, 50) / 1e3), "p99_us": float(np.percentile(a, 99) / 1e3),
            "mean_us": float(a.mean() / 1e3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("TRADECORE_TEST_DATA", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    capture = Path(args.data) / FILE
    events, _ = tradecore.read_binance(capture)
    ref = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
    ref.apply(events)
    rows: dict[str, list[dict[str, float]]] = {"tradecore": [], "ccxt.pro": []}
    ok = True
    for r in range(args.rounds):  # alternate, so both see the machine's drift
        lat, book = asyncio.run(run_tradecore(capture))
        rows["tradecore"].append(pct(lat))
        same = all(np.array_equal(book.levels(s, 100), ref.levels(s, 100)) for s in ("bid", "ask"))
        lat2, cbook = asyncio.run(run_ccxt(capture))
        rows["ccxt.pro"].append(pct(lat2))
        csame = (np.array(cbook["bids"][:100]).tolist() == ref.levels("bid", 100).tolist()
                 and np.array(cbook["asks"][:100]).tolist() == ref.levels("ask", 100).tolist())
        ok &= same and csame
        print(f"round {r + 1}: tradecore {rows['tradecore'][-1]} book equal: {same}; "
              f"ccxt.pro {rows['ccxt.pro'][-1]} book equal: {csame}", flush=True)
    summary = {k: {m: statistics.median(x[m] for x in v) for m in ("n", "p50_us", "p99_us", "mean_us")}
               for k, v in rows.items()}
    t, c = summary["tradecore"], summary["ccxt.pro"]
    print(f"\ndepth frame -> book updated, medians over {args.rounds} rounds ({t['n']:.0f} frames each):")
    print(f"  tradecore  p50 {t['p50_us']:.2f} us  p99 {t['p99_us']:.2f} us  mean {t['mean_us']:.2f} us")
    print(f"  ccxt.pro   p50 {c['p50_us']:.2f} us  p99 {c['p99_us']:.2f} us  mean {c['mean_us']:.2f} us")
    print(f"  ratio (ccxt.pro / tradecore): p50 {c['p50_us'] / t['p50_us']:.1f}x, p99 {c['p99_us'] / t['p99_us']:.1f}x")
    out = REPO / "build" / "bench" / "live_peers.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rounds": rows, "median": summary, "books_equal": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
