#!/usr/bin/env python3
"""Peer benchmark: replaying real Binance data through hftbacktest (no-op strategy), for
comparison with tradecore's own replay in the same run.

Data: ``binance/usdm_btcusdt_20240808.gz`` (USD-M futures BTCUSDT, depth@0ms + trade +
bookTicker + one REST snapshot, ~345 s). It is converted once, untimed and in memory, with
hftbacktest's own converter ``hftbacktest.data.utils.binancefutures.convert`` (the file came
from hftbacktest's collector, so the format matches). The converter keeps depth, MARKET trades
and the snapshot (as DEPTH_CLEAR + DEPTH_SNAPSHOT rows) and drops bookTicker (only kept with
``opt='t'``). It then calls ``correct_local_timestamp``: the recorder's clock is ~1.27 s behind
the exchange, so local_ts < exch_ts; every local_ts is shifted by the same constant so that the
smallest feed latency (local_ts - exch_ts) becomes ``base_latency`` (0 here). Finally
``correct_event_order`` splits rows whose exchange order and local order disagree into an
EXCH_EVENT-only and a LOCAL_EVENT-only copy, so the array holds more rows than source events.

hftbacktest side, per timed run: ``BacktestAsset`` on the numpy array (zero-copy: hftbacktest
keeps a raw pointer, so the array must stay alive and C-contiguous), linear asset, constant
order latency, risk-averse queue model, no-partial-fill exchange, tick 0.1, lot 0.001, then
``HashMapMarketDepthBacktest([asset])`` and an ``@njit`` loop driven to the end of the data:

* ``elapse_100ms``:  ``while hbt.elapse(100_000_000) == 0: pass`` (the canonical no-op loop)
* ``elapse_1ms``:    the same with ``elapse(1_000_000)``
* ``wait_next_feed``: ``hbt.wait_next_feed(False, timeout)`` until it returns 1: one step per
  feed message (every local timestamp), i.e. the finest event-driven stepping
* ``goto_end`` (reference): ``hbt._goto_end()``, a private method that runs the whole
  replay inside Rust with no strategy calls at all.

Each loop is JIT-compiled and run once untimed first, then the variants are timed
round-robin, ``--repeat`` rounds (GC disabled; the machine's speed drifts, so every variant
sees the same drift). "seconds" is building the backtester from the in-memory array plus the loop
(closing it is not timed); "events" is the number of rows of the converted array, each
processed by the exchange side, the local side or both.

tradecore side: :func:`tradecore_noop` (to be filled in when tradecore has a backtest API);
while it returns None only hftbacktest is reported. Results go to build/bench/backtest_peers.json.

Run it in its own venv (hftbacktest is not a tradecore dependency), from the repo root:

    python3 -m venv .venv-hbt && .venv-hbt/bin/pip install -r benches/peers/requirements-hftbacktest.txt
    .venv-hbt/bin/python benches/peers/backtest_peers.py [--data DIR] [--repeat N] [--depth hashmap|roivec]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_FILE = "usdm_btcusdt_20240808.gz"
TICK, LOT = 0.1, 0.001  # USD-M BTCUSDT
ORDER_LATENCY_NS = 10_000_000  # constant order entry / response latency (no order is sent)
WAIT_TIMEOUT_NS = 3_600_000_000_000  # wait_next_feed timeout: longer than any gap in the data

# (name, description, elapse interval or wait timeout in ns, or None)
VARIANTS: list[tuple[str, str, int | None]] = [
    ("elapse_100ms", "while hbt.elapse(100_000_000) == 0: pass", 100_000_000),
    ("elapse_1ms", "while hbt.elapse(1_000_000) == 0: pass", 1_000_000),
    ("wait_next_feed", "while hbt.wait_next_feed(False, 1 h) != 1: pass (one step per feed message)",
     WAIT_TIMEOUT_NS),
    ("goto_end", "hbt._goto_end() (private; whole replay in Rust, no strategy calls)", None),
]
PRIMARY = "elapse_100ms"  # the variant the tradecore ratio is taken against


def find_data_file(data_arg: str | None) -> Path:
    """--data DIR (data root holding binance/, or binance/ itself), else TRADECORE_TEST_DATA,
    else ../shared/data relative to the repository root."""
    root = Path(data_arg or os.environ.get("TRADECORE_TEST_DATA") or REPO_ROOT / ".." / "shared" / "data")
    for candidate in (root / "binance" / DATA_FILE, root / DATA_FILE):
        if candidate.is_file():
            return candidate
    sys.exit(f"backtest_peers: {DATA_FILE} not found under {root} (use --data DIR or TRADECORE_TEST_DATA)")


# ---------------------------------------------------------------------------------------------
# Conversion (once, untimed, in memory)
# ---------------------------------------------------------------------------------------------


def convert_hftbacktest(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Converts the raw capture with hftbacktest's Binance-futures converter; returns the
    event array and facts about it (counts, the clock shift applied, feed latency)."""
    from hftbacktest import (
        DEPTH_CLEAR_EVENT, DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT, EXCH_EVENT, LOCAL_EVENT, TRADE_EVENT,
    )
    from hftbacktest.data.utils import binancefutures

    with gzip.open(path, "rb") as f:
        raw = f.read()
    first_local_ns = int(raw[: raw.index(b" ")])  # the capture is in receive order
    # Upper bound on converted rows: one per '[' (each [px, qty] level) plus 3 per line. The
    # converter's default preallocates 100M rows (6.4 GB of address space).
    buffer_size = raw.count(b"[") + 3 * raw.count(b"\n") + 16
    del raw

    t0 = time.perf_counter()
    data = binancefutures.convert(str(path), base_latency=0, buffer_size=buffer_size)
    convert_s = time.perf_counter() - t0
    data = np.ascontiguousarray(data)  # hftbacktest reads the buffer through a raw pointer

    ev = data["ev"]
    kind = ev & 0xFF
    exch = (ev & EXCH_EVENT) != 0
    local = (ev & LOCAL_EVENT) != 0
    latency = data["local_ts"] - data["exch_ts"]
    source = exch  # every source event appears exactly once with the EXCH_EVENT flag
    facts = {
        "converter": "hftbacktest.data.utils.binancefutures.convert(path, base_latency=0)",
        "convert_seconds": convert_s,
        "rows": int(len(data)),
        "source_events": int(source.sum()),
        "rows_exch_and_local": int((exch & local).sum()),
        "rows_exch_only": int((exch & ~local).sum()),
        "rows_local_only": int((local & ~exch).sum()),
        "source_by_kind": {
            "depth": int((source & (kind == DEPTH_EVENT)).sum()),
            "trade": int((source & (kind == TRADE_EVENT)).sum()),
            "snapshot": int((source & (kind == DEPTH_SNAPSHOT_EVENT)).sum()),
            "clear": int((source & (kind == DEPTH_CLEAR_EVENT)).sum()),
        },
        "local_ts_shift_ns": int(data["local_ts"].min() - first_local_ns),
        "feed_latency_ns_after_shift": {
            "min": int(latency.min()), "median": float(np.median(latency)), "max": int(latency.max()),
        },
        "span_seconds_local": float((data["local_ts"].max() - data["local_ts"].min()) / 1e9),
    }
    return data, facts


# ---------------------------------------------------------------------------------------------
# hftbacktest
# ---------------------------------------------------------------------------------------------


def _loops() -> dict[str, Callable[..., Any]]:
    from numba import njit

    @njit
    def elapse_loop(hbt: Any, interval: int) -> tuple[int, int]:
        calls = 0
        while True:
            code = hbt.elapse(interval)  # 0: elapsed, 1: end of data, other: error
            calls += 1
            if code != 0:
                return calls, code

    @njit
    def wait_next_feed_loop(hbt: Any, timeout: int) -> tuple[int, int]:
        calls = 0
        while True:
            code = hbt.wait_next_feed(False, timeout)  # 0: timeout, 1: end, 2: feed, other: error
            calls += 1
            if code != 0 and code != 2:
                return calls, code

    @njit
    def goto_end_loop(hbt: Any, _unused: int) -> tuple[int, int]:
        return 1, hbt._goto_end()

    return {
        "elapse_100ms": elapse_loop,
        "elapse_1ms": elapse_loop,
        "wait_next_feed": wait_next_feed_loop,
        "goto_end": goto_end_loop,
    }


def _make_backtest(events_np: np.ndarray, depth: str, roi: tuple[float, float] | None) -> Any:
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest, ROIVectorMarketDepthBacktest

    asset = (
        BacktestAsset()
        .data(events_np)  # zero-copy: keeps a raw pointer to the array
        .linear_asset(1.0)
        .constant_order_latency(ORDER_LATENCY_NS, ORDER_LATENCY_NS)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(-0.00005, 0.0007)
        .tick_size(TICK)
        .lot_size(LOT)
    )
    if depth == "roivec":
        assert roi is not None
        asset = asset.roi_lb(roi[0]).roi_ub(roi[1])
        return ROIVectorMarketDepthBacktest([asset])
    return HashMapMarketDepthBacktest([asset])


def _run_once(
    events_np: np.ndarray, depth: str, roi: tuple[float, float] | None, name: str,
    loop: Callable[..., Any], param: int,
) -> tuple[int, int, int, dict[str, Any]]:
    """One full replay on a fresh backtester: (build ns, loop ns, loop calls, final book)."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        hbt = _make_backtest(events_np, depth, roi)
        t1 = time.perf_counter_ns()
        calls, code = loop(hbt, param)
        t2 = time.perf_counter_ns()
    finally:
        gc.enable()
    d = hbt.depth(0)
    # Quantities through *_qty_at_tick: in 2.4.4 ROIVectorMarketDepth.best_bid_qty /
    # best_ask_qty return the best prices (binding bug); HashMapMarketDepth's are right.
    final = {
        "best_bid": round(d.best_bid, 1), "best_bid_qty": round(d.bid_qty_at_tick(d.best_bid_tick), 3),
        "best_ask": round(d.best_ask, 1), "best_ask_qty": round(d.ask_qty_at_tick(d.best_ask_tick), 3),
        "current_timestamp": int(hbt.current_timestamp),
    }
    hbt.close()
    if code != 1:
        raise RuntimeError(f"hftbacktest {name}: loop ended with code {code}, not 1 (end of data)")
    return t1 - t0, t2 - t1, int(calls), final


def hftbacktest_noop(events_np: np.ndarray, repeat: int, depth: str = "hashmap") -> dict[str, Any]:
    """Times a full no-op replay of ``events_np`` (hftbacktest event_dtype) for each variant.

    Every variant's loop is JIT-compiled and run once untimed; then the variants are timed
    round-robin, ``repeat`` rounds, each run on a freshly built backtester (so a drift in the
    machine's speed hits every variant alike). Returns {"events", "depth", "variants": {...}}.
    """
    import hftbacktest

    if events_np.dtype != hftbacktest.event_dtype or not events_np.flags["C_CONTIGUOUS"]:
        raise ValueError("events_np must be a C-contiguous array of hftbacktest.event_dtype")
    n = len(events_np)
    roi = None
    if depth == "roivec":  # range of interest covering every price in the data
        px = events_np["px"][np.isfinite(events_np["px"]) & (events_np["px"] > 0)]
        roi = (float(np.floor(px.min() / TICK) * TICK), float(np.ceil(px.max() / TICK) * TICK))
    loops = _loops()
    # _goto_end exists on HashMapMarketDepthBacktest only (2.4.4)
    variants = [v for v in VARIANTS if not (v[0] == "goto_end" and depth != "hashmap")]

    warm_s: dict[str, float] = {}
    for name, _desc, arg in variants:  # JIT warm-up: one full replay each, untimed
        t0 = time.perf_counter()
        _run_once(events_np, depth, roi, name, loops[name], 0 if arg is None else arg)
        warm_s[name] = time.perf_counter() - t0

    runs: dict[str, list[tuple[int, int, int, dict[str, Any]]]] = {name: [] for name, _, _ in variants}
    for _ in range(repeat):
        for name, _desc, arg in variants:
            runs[name].append(_run_once(events_np, depth, roi, name, loops[name], 0 if arg is None else arg))

    out: dict[str, Any] = {"events": n, "depth": depth, "variants": {}}
    for name, desc, arg in variants:
        build_ns = [r[0] for r in runs[name]]
        loop_ns = [r[1] for r in runs[name]]
        total = [b + lp for b, lp in zip(build_ns, loop_ns)]
        med = statistics.median(total) / 1e9
        out["variants"][name] = {
            "loop": desc,
            "roi": roi,
            "interval_ns": arg if name.startswith("elapse") else None,
            "calls": runs[name][-1][2],
            "seconds_median": med,
            "seconds_min": min(total) / 1e9,
            "seconds_all": [t / 1e9 for t in total],
            "build_seconds_median": statistics.median(build_ns) / 1e9,
            "loop_seconds_median": statistics.median(loop_ns) / 1e9,
            "events": n,
            "events_per_s": n / med,
            "warmup_seconds_incl_jit": warm_s[name],
            "final_bbo": runs[name][-1][3],
        }
    return out


# ---------------------------------------------------------------------------------------------
# tradecore  (TO BE FILLED IN by the tradecore side)
# ---------------------------------------------------------------------------------------------


def tradecore_noop(data_dir: Path, repeat: int) -> dict[str, Any] | None:
    """Times tradecore's replay of the same capture (read once with ``tradecore.read_binance``,
    untimed): ``run_backtest`` with a no-op strategy, the exchange simulator and the risk engine
    on, 10 ms constant order latency, the recorded feed latency (clock offset removed), from
    the in-memory array. Returns None when tradecore is not installed.

    Also timed: the same without the bookTicker events (the events hftbacktest keeps), and a
    Python strategy woken on every trade and every book message."""
    try:
        import tradecore
        from tradecore.backtest import run_backtest
    except ImportError:
        return None

    events, _ = tradecore.read_binance(data_dir / "binance" / DATA_FILE)
    inst = tradecore.Instrument("binance-usdm", "BTCUSDT", tick_size=str(TICK), lot_size=str(LOT),
                                maker_fee="-0.00005", taker_fee="0.0007")
    no_bbo = events[events["kind"] != int(tradecore.Kind.BBO)]

    class Noop(tradecore.Strategy):
        def on_stop(self) -> None:
            b = self.ctx.book()
            (bid, bq), (ask, aq) = b.best_bid() or (0.0, 0.0), b.best_ask() or (0.0, 0.0)
            self.bbo = {"best_bid": bid, "best_bid_qty": bq, "best_ask": ask, "best_ask_qty": aq}

    class Woken(tradecore.Strategy):
        calls = 0

        def on_book(self, book: Any) -> None:
            self.calls += 1

        def on_trade(self, trade: Any) -> None:
            self.calls += 1

    def once(strategy: tradecore.Strategy, data: np.ndarray) -> float:
        gc.disable()
        try:
            r = run_backtest(strategy, data, instrument=inst, latency=(ORDER_LATENCY_NS, ORDER_LATENCY_NS))
        finally:
            gc.enable()
        return r.seconds

    variants: dict[str, tuple[Callable[[], tradecore.Strategy], np.ndarray]] = {
        "noop": (Noop, events),
        "noop_without_bookticker": (Noop, no_bbo),
        "python_woken_every_trade_and_book_message": (Woken, events),
    }
    for make, data in variants.values():  # warm-up
        once(make(), data)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeat):
        for name, (make, data) in variants.items():
            times[name].append(once(make(), data))
    noop = Noop()
    once(noop, events)
    woken = Woken()
    once(woken, events)
    out: dict[str, Any] = {}
    for name, (_, data) in variants.items():
        med = statistics.median(times[name])
        out[name] = {"seconds_median": med, "seconds_all": times[name], "events": len(data),
                     "events_per_s": len(data) / med}
    out["python_woken_every_trade_and_book_message"]["calls"] = woken.calls
    res = dict(out["noop"])
    res["final_bbo"] = noop.bbo
    res["variants"] = out
    res["loop"] = "run_backtest, no-op strategy (never woken), simulator and risk engine on"
    return res


# ---------------------------------------------------------------------------------------------


def _merge_runs(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None or b is None:
        return a or b
    merged = dict(b)
    merged["variants"] = {}
    for name, va in a["variants"].items():
        vb = b["variants"][name]
        t = va["seconds_all"] + vb["seconds_all"]
        med = statistics.median(t)
        merged["variants"][name] = {**vb, "seconds_all": t, "seconds_median": med, "events_per_s": vb["events"] / med}
    merged.update({k: merged["variants"]["noop"][k] for k in ("seconds_all", "seconds_median", "events_per_s")})
    return merged


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="data root holding binance/ (default: $TRADECORE_TEST_DATA or ../shared/data)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per variant (default 5)")
    ap.add_argument("--depth", choices=("hashmap", "roivec"), default="hashmap",
                    help="hftbacktest market depth: HashMapMarketDepthBacktest (default) or ROIVectorMarketDepthBacktest")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    import hftbacktest
    import numba

    path = find_data_file(args.data)
    print(f"data: {path}  repeat={args.repeat}  depth={args.depth}")
    print("converting with hftbacktest.data.utils.binancefutures.convert (untimed, in memory):", flush=True)
    events_np, facts = convert_hftbacktest(path)
    k = facts["source_by_kind"]
    lat = facts["feed_latency_ns_after_shift"]
    print(
        f"  {facts['rows']} rows ({facts['source_events']} source events: {k['depth']} depth, {k['trade']} trade, "
        f"{k['snapshot']} snapshot, {k['clear']} clear; {facts['rows_exch_only']} split into exch-only + local-only "
        f"copies) over {facts['span_seconds_local']:.1f} s, converted in {facts['convert_seconds']:.1f} s"
    )
    print(
        f"  local_ts shifted by {facts['local_ts_shift_ns'] / 1e9:+.9f} s (recorder clock behind the exchange); "
        f"feed latency after: min {lat['min'] / 1e6:.3f} ms, median {lat['median'] / 1e6:.3f} ms, "
        f"max {lat['max'] / 1e6:.3f} ms"
    )

    print("hftbacktest: JIT warm-up (one untimed replay per variant), then timed runs ...", flush=True)
    data_dir = path.parent.parent if path.parent.name == "binance" else path.parent
    # tradecore is timed before and after hftbacktest (half the repeats each), so both see
    # the machine's drift.
    first = tradecore_noop(data_dir, max(1, args.repeat // 2))
    hbt_res = hftbacktest_noop(events_np, args.repeat, args.depth)
    second = tradecore_noop(data_dir, max(1, args.repeat - args.repeat // 2))
    tc_res = _merge_runs(first, second)

    rows = [(f"hftbacktest {name}", r) for name, r in hbt_res["variants"].items()]
    if tc_res is not None:
        rows[:0] = [(f"tradecore {name}", r) for name, r in tc_res["variants"].items()]
    w = max(len(n) for n, _ in rows)
    print()
    print(f"{'replay (no-op strategy)':<{w}}  {'s (median)':>10}  {'(min)':>7}  {'events':>8}  {'events/s':>11}  {'calls':>7}")
    for name, r in rows:
        calls = r.get("calls", "-")
        print(
            f"{name:<{w}}  {r['seconds_median']:>10.4f}  {min(r['seconds_all']):>7.4f}  {r['events']:>8}"
            f"  {r['events_per_s']:>11,.0f}  {calls:>7}"
        )
    for name, desc, _ in VARIANTS:
        if name in hbt_res["variants"]:
            print(f"  {name}: {desc}")
    bbo = hbt_res["variants"][PRIMARY]["final_bbo"]
    print(
        f"final book (hftbacktest): bid {bbo['best_bid']} x {bbo['best_bid_qty']}, "
        f"ask {bbo['best_ask']} x {bbo['best_ask_qty']}"
    )

    ratio = None
    bbo_match = None
    if tc_res is None:
        print("tradecore: no backtest API yet (tradecore_noop returned None); no ratio")
    else:
        primary = hbt_res["variants"][PRIMARY]
        ratio = primary["seconds_median"] / tc_res["seconds_median"]
        print(
            f"ratio: hftbacktest {PRIMARY} / tradecore wall time = {ratio:.2f}x "
            f"({primary['seconds_median']:.4f} s vs {tc_res['seconds_median']:.4f} s on the same file; "
            f"events are counted differently by each library)"
        )
        if "final_bbo" in tc_res:
            tb = tc_res["final_bbo"]
            bbo_match = all(abs(float(tb[key]) - float(bbo[key])) < 1e-9 for key in
                            ("best_bid", "best_bid_qty", "best_ask", "best_ask_qty"))
            print(f"final best bid/ask {'match' if bbo_match else 'DIFFER'}: tradecore {tb}")

    out = {
        "benchmark": "backtest_peers",
        "data_file": f"binance/{DATA_FILE}",
        "repeat": args.repeat,
        "conversion": facts,
        "hftbacktest": hbt_res,
        "tradecore": tc_res,
        "ratio_hftbacktest_primary_over_tradecore": ratio,
        "primary_variant": PRIMARY,
        "final_bbo_match": bbo_match,
        "asset": {
            "tick_size": TICK, "lot_size": LOT, "linear_asset": 1.0,
            "constant_order_latency_ns": [ORDER_LATENCY_NS, ORDER_LATENCY_NS],
            "queue_model": "risk_adverse_queue_model", "exchange": "no_partial_fill_exchange",
            "fee": "trading_value_fee_model(-0.00005, 0.0007)",
        },
        "versions": {
            "hftbacktest": hftbacktest.__version__,
            "numba": numba.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "timing": "wall time of building the backtester from the in-memory array plus the no-op loop to the "
        "end of the data; conversion and JIT warm-up not timed; GC disabled while timing",
    }
    out_path = REPO_ROOT / "build" / "bench" / "backtest_peers.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {out_path.relative_to(REPO_ROOT)}")
    return 0 if bbo_match is not False else 1


if __name__ == "__main__":
    sys.exit(main())
