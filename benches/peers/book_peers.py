#!/usr/bin/env python3
"""Peer benchmark: tradecore.OrderBook against nautilus_trader's L2 OrderBook.

Replays the book events (DEPTH, SNAPSHOT, CLEAR) of a real Binance USD-M BTCUSDT capture
into a fresh book of each library and reports the median wall time per level update.

* tradecore: one ``OrderBook.apply(book_events)`` call on the numpy event array.
* nautilus_trader: the equivalent ``OrderBookDelta`` objects are built beforehand (outside
  the timing), then applied to a fresh ``BookType.L2_MBP`` book through each public path:
  the Cython ``nautilus_trader.model.book.OrderBook`` and the PyO3
  ``nautilus_trader.core.nautilus_pyo3.OrderBook``, each with ``apply_delta`` in a Python
  loop, ``apply_deltas`` with one ``OrderBookDeltas`` per exchange message (how a live feed
  delivers them), and ``apply_deltas`` with the whole stream as one batch.

Every path must end with the same book as tradecore (best bid/ask price and size, level
counts and every level of both sides); a mismatch is printed and the exit status is 1.

Runs in its own environment (benches/peers/requirements.txt + the tradecore wheel);
nautilus_trader is not a dependency of tradecore. Results go to build/bench/book_peers.json.

Usage: python benches/peers/book_peers.py [--data DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
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

import tradecore

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_FILE = "usdm_btcusdt_20240808.gz"
TICK, LOT = 0.1, 0.001  # USD-M BTCUSDT
PRICE_PREC, SIZE_PREC = 1, 3
INSTRUMENT = "BTCUSDT-PERP.BINANCE"
BOOK_KINDS = (int(tradecore.Kind.DEPTH), int(tradecore.Kind.SNAPSHOT), int(tradecore.Kind.CLEAR))
KIND_SNAPSHOT = int(tradecore.Kind.SNAPSHOT)
KIND_CLEAR = int(tradecore.Kind.CLEAR)
FLAG_LAST = int(tradecore.Flag.LAST_IN_MESSAGE)
TC_SCALE = int(tradecore.SCALE)  # 1e9

# Final-book state: ((bid ticks, bid lots) or None, (ask ...) or None, bid levels, ask levels)
Ladder = list[tuple[int, int]]


def find_data_file(data_arg: str | None) -> Path:
    """--data DIR (data root holding binance/, or binance/ itself), else TRADECORE_TEST_DATA,
    else ../shared/data relative to the repository root."""
    root = Path(data_arg or os.environ.get("TRADECORE_TEST_DATA") or REPO_ROOT / ".." / "shared" / "data")
    for candidate in (root / "binance" / DATA_FILE, root / DATA_FILE):
        if candidate.is_file():
            return candidate
    sys.exit(f"book_peers: {DATA_FILE} not found under {root} (use --data DIR or TRADECORE_TEST_DATA)")


def load_book_events(path: Path) -> np.ndarray:
    events, report = tradecore.read_binance(str(path))
    if report.gap_count:
        print(f"warning: capture has {report.gap_count} gaps", file=sys.stderr)
    book = events[np.isin(events["kind"], BOOK_KINDS)]
    return np.ascontiguousarray(book)


# ---------------------------------------------------------------------------------------------
# Building the nautilus deltas (outside any timing)
# ---------------------------------------------------------------------------------------------


def delta_specs(ev: np.ndarray) -> list[tuple[int, int, int, int, int, int, int, int]]:
    """Translates tradecore book events into library-neutral delta specs.

    (action, side, price_1e9, qty_1e9, flags, sequence, ts_event, ts_init); action is
    1 ADD / 2 UPDATE / 3 DELETE / 4 CLEAR (nautilus BookAction values), side +1 bid / -1 ask.
    ADD is used for a level not in the book yet, UPDATE for an existing one, DELETE for qty 0.
    """
    from nautilus_trader.model.enums import RecordFlag

    f_last, f_snap = int(RecordFlag.F_LAST), int(RecordFlag.F_SNAPSHOT)
    live: dict[int, set[int]] = {1: set(), -1: set()}
    specs = []
    cols = zip(
        ev["kind"].tolist(), ev["side"].tolist(), ev["price"].tolist(), ev["qty"].tolist(),
        ev["flags"].tolist(), ev["last_update_id"].tolist(), ev["exch_ts"].tolist(),
        ev["local_ts"].tolist(),
    )
    for kind, side, px, qty, flags, seq, ts_event, ts_init in cols:
        nflags = (f_last if flags & FLAG_LAST else 0) | (f_snap if kind in (KIND_SNAPSHOT, KIND_CLEAR) else 0)
        if kind == KIND_CLEAR:
            live[1].clear()
            live[-1].clear()
            specs.append((4, 0, 0, 0, nflags, seq, ts_event, ts_init))
            continue
        levels = live[side]
        if qty == 0:
            action = 3
            levels.discard(px)
        elif px in levels:
            action = 2
        else:
            action = 1
            levels.add(px)
        specs.append((action, side, px, qty, nflags, seq, ts_event, ts_init))
    return specs


def message_groups(items: list[Any], specs: list[tuple[int, ...]]) -> list[list[Any]]:
    """Splits items into one group per exchange message (ends where F_LAST is set)."""
    from nautilus_trader.model.enums import RecordFlag

    f_last = int(RecordFlag.F_LAST)
    groups: list[list[Any]] = []
    cur: list[Any] = []
    for item, spec in zip(items, specs):
        cur.append(item)
        if spec[4] & f_last:
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)
    return groups


def build_cython(specs: list[tuple[int, ...]]) -> tuple[Callable[[], Any], list[Any], Any]:
    """Cython API (nautilus_trader.model.*): book factory, delta list, classes module."""
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.data import BookOrder, OrderBookDelta
    from nautilus_trader.model.enums import BookAction, BookType, OrderSide
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import FIXED_PRECISION, Price, Quantity

    iid = InstrumentId.from_str(INSTRUMENT)
    mult = 10 ** (FIXED_PRECISION - 9)
    actions = {a.value: a for a in BookAction}
    sides = {1: OrderSide.BUY, -1: OrderSide.SELL}
    prices: dict[int, Any] = {}
    sizes: dict[int, Any] = {}
    deltas = []
    for action, side, px, qty, flags, seq, ts_event, ts_init in specs:
        if action == 4:
            deltas.append(OrderBookDelta.clear(iid, seq, ts_event, ts_init))
            continue
        price = prices.get(px)
        if price is None:
            price = prices[px] = Price.from_raw(px * mult, PRICE_PREC)
        size = sizes.get(qty)
        if size is None:
            size = sizes[qty] = Quantity.from_raw(qty * mult, SIZE_PREC)
        order = BookOrder(sides[side], price, size, px)  # L2: the book keys levels by price
        deltas.append(OrderBookDelta(iid, actions[action], order, flags, seq, ts_event, ts_init))

    def new_book() -> Any:
        return OrderBook(iid, BookType.L2_MBP)

    return new_book, deltas, iid


def build_pyo3(specs: list[tuple[int, ...]]) -> tuple[Callable[[], Any], list[Any], Any]:
    """PyO3 API (nautilus_trader.core.nautilus_pyo3): book factory, delta list, instrument id."""
    from nautilus_trader.core import nautilus_pyo3 as n
    from nautilus_trader.model.objects import FIXED_PRECISION

    iid = n.InstrumentId.from_str(INSTRUMENT)
    mult = 10 ** (FIXED_PRECISION - 9)
    actions = {1: n.BookAction.ADD, 2: n.BookAction.UPDATE, 3: n.BookAction.DELETE, 4: n.BookAction.CLEAR}
    sides = {1: n.OrderSide.BUY, -1: n.OrderSide.SELL}
    null_order = n.BookOrder(n.OrderSide.NO_ORDER_SIDE, n.Price.from_raw(0, 0), n.Quantity.from_raw(0, 0), 0)
    prices: dict[int, Any] = {}
    sizes: dict[int, Any] = {}
    deltas = []
    for action, side, px, qty, flags, seq, ts_event, ts_init in specs:
        if action == 4:
            order = null_order
        else:
            price = prices.get(px)
            if price is None:
                price = prices[px] = n.Price.from_raw(px * mult, PRICE_PREC)
            size = sizes.get(qty)
            if size is None:
                size = sizes[qty] = n.Quantity.from_raw(qty * mult, SIZE_PREC)
            order = n.BookOrder(sides[side], price, size, px)
        deltas.append(n.OrderBookDelta(iid, actions[action], order, flags, seq, ts_event, ts_init))

    def new_book() -> Any:
        return n.OrderBook(iid, n.BookType.L2_MBP)

    return new_book, deltas, iid


# ---------------------------------------------------------------------------------------------
# Timing and final-state checks
# ---------------------------------------------------------------------------------------------


def time_path(new_book: Callable[[], Any], run: Callable[[Any], None], repeat: int) -> tuple[list[int], Any]:
    """Runs ``run(fresh book)`` ``repeat`` times; wall ns per run (GC off while timing)."""
    times = []
    book = None
    for _ in range(repeat):
        book = new_book()
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter_ns()
            run(book)
            t1 = time.perf_counter_ns()
        finally:
            gc.enable()
        times.append(t1 - t0)
    return times, book


def loop_apply(deltas: list[Any]) -> Callable[[Any], None]:
    def run(book: Any) -> None:
        apply = book.apply_delta
        for d in deltas:
            apply(d)

    return run


def batches_apply(batches: list[Any]) -> Callable[[Any], None]:
    def run(book: Any) -> None:
        apply = book.apply_deltas
        for b in batches:
            apply(b)

    return run


def to_ticks(price: float, qty: float) -> tuple[int, int]:
    return round(price / TICK), round(qty / LOT)


def tradecore_state(book: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"bid_levels": book.bid_levels, "ask_levels": book.ask_levels}
    for side, n in (("bid", book.bid_levels), ("ask", book.ask_levels)):
        arr = book.levels(side, n)
        out[side] = [to_ticks(p, q) for p, q in arr.tolist()]
    return out


def nautilus_state(book: Any) -> dict[str, Any]:
    bids, asks = book.bids(), book.asks()
    return {
        "bid_levels": len(bids),
        "ask_levels": len(asks),
        "bid": [to_ticks(float(lv.price), lv.size()) for lv in bids],
        "ask": [to_ticks(float(lv.price), lv.size()) for lv in asks],
        # the books' own top-of-book accessors, checked separately from the ladders
        "top": (
            to_ticks(float(book.best_bid_price()), float(book.best_bid_size())) if bids else None,
            to_ticks(float(book.best_ask_price()), float(book.best_ask_size())) if asks else None,
        ),
    }


def compare(name: str, ref: dict[str, Any], got: dict[str, Any]) -> list[str]:
    problems = []
    ref_top = (ref["bid"][0] if ref["bid"] else None, ref["ask"][0] if ref["ask"] else None)
    if got["top"] != ref_top:
        problems.append(f"{name}: best bid/ask (ticks, lots) {got['top']} != tradecore {ref_top}")
    for side in ("bid", "ask"):
        if got[f"{side}_levels"] != ref[f"{side}_levels"]:
            problems.append(f"{name}: {side} levels {got[f'{side}_levels']} != tradecore {ref[f'{side}_levels']}")
        for i, (a, b) in enumerate(zip(ref[side], got[side])):
            if a != b:
                problems.append(f"{name}: {side}[{i}] (ticks, lots) {b} != tradecore {a}")
                break
    return problems


def fmt_level(level: tuple[int, int] | None) -> str:
    if level is None:
        return "none"
    return f"{level[0] * TICK:.{PRICE_PREC}f} x {level[1] * LOT:.{SIZE_PREC}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="data root holding binance/ (default: $TRADECORE_TEST_DATA or ../shared/data)")
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per path (default 7)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    import nautilus_trader
    from nautilus_trader.core import nautilus_pyo3
    from nautilus_trader.model.data import OrderBookDeltas

    path = find_data_file(args.data)
    ev = load_book_events(path)
    n_updates = len(ev)
    print(f"data: {path.name}: {n_updates} book events (level updates), repeat={args.repeat}")

    t0 = time.perf_counter()
    specs = delta_specs(ev)
    cy_new, cy_deltas, cy_iid = build_cython(specs)
    cy_batches = [OrderBookDeltas(cy_iid, g) for g in message_groups(cy_deltas, specs)]
    cy_whole = [OrderBookDeltas(cy_iid, cy_deltas)]
    py_new, py_deltas, py_iid = build_pyo3(specs)
    py_batches = [nautilus_pyo3.OrderBookDeltas(py_iid, g) for g in message_groups(py_deltas, specs)]
    py_whole = [nautilus_pyo3.OrderBookDeltas(py_iid, py_deltas)]
    build_s = time.perf_counter() - t0
    print(f"nautilus deltas built beforehand in {build_s:.1f} s ({len(cy_batches)} messages; not timed)")

    def tc_new() -> Any:
        return tradecore.OrderBook(TICK, LOT)

    def tc_run(book: Any) -> None:
        book.apply(ev)

    paths: list[tuple[str, Callable[[], Any], Callable[[Any], None]]] = [
        ("tradecore OrderBook.apply(events), one call", tc_new, tc_run),
        ("nautilus Cython apply_delta, Python loop", cy_new, loop_apply(cy_deltas)),
        ("nautilus Cython apply_deltas, 1 batch/message", cy_new, batches_apply(cy_batches)),
        ("nautilus Cython apply_deltas, 1 batch total", cy_new, batches_apply(cy_whole)),
        ("nautilus PyO3 apply_delta, Python loop", py_new, loop_apply(py_deltas)),
        ("nautilus PyO3 apply_deltas, 1 batch/message", py_new, batches_apply(py_batches)),
        ("nautilus PyO3 apply_deltas, 1 batch total", py_new, batches_apply(py_whole)),
    ]

    results: list[dict[str, Any]] = []
    problems: list[str] = []
    ref_state: dict[str, Any] | None = None
    for name, new_book, run in paths:
        times, book = time_path(new_book, run, args.repeat)
        if ref_state is None:
            ref_state = tradecore_state(book)
        else:
            problems += compare(name, ref_state, nautilus_state(book))
        results.append(
            {
                "path": name,
                "ns_per_update_median": statistics.median(times) / n_updates,
                "ns_per_update_min": min(times) / n_updates,
                "updates": n_updates,
            }
        )
    assert ref_state is not None
    base = results[0]["ns_per_update_median"]
    for r in results:
        r["ratio_vs_tradecore"] = r["ns_per_update_median"] / base
    fastest = min(results[1:], key=lambda r: r["ns_per_update_median"])

    w = max(len(r["path"]) for r in results)
    print()
    print(f"{'path':<{w}}  {'ns/update (median)':>18}  {'(min)':>8}  {'updates':>8}  {'nautilus/tradecore':>18}")
    for r in results:
        ratio = "-" if r is results[0] else f"{r['ratio_vs_tradecore']:.1f}x"
        print(
            f"{r['path']:<{w}}  {r['ns_per_update_median']:>18.1f}  {r['ns_per_update_min']:>8.1f}"
            f"  {r['updates']:>8}  {ratio:>18}"
        )
    print(f"\nfastest nautilus path: {fastest['path']}: {fastest['ratio_vs_tradecore']:.1f}x tradecore's time")
    bid = ref_state["bid"][0] if ref_state["bid"] else None
    ask = ref_state["ask"][0] if ref_state["ask"] else None
    print(
        f"final book (tradecore): bid {fmt_level(bid)}, ask {fmt_level(ask)}, "
        f"{ref_state['bid_levels']} bid / {ref_state['ask_levels']} ask levels"
    )

    out = {
        "benchmark": "book_peers",
        "data_file": f"binance/{DATA_FILE}",
        "updates": n_updates,
        "repeat": args.repeat,
        "results": results,
        "fastest_nautilus_path": fastest["path"],
        "ratio_fastest_nautilus_over_tradecore": fastest["ratio_vs_tradecore"],
        "books_match": not problems,
        "mismatches": problems,
        "final_book": {
            "best_bid": fmt_level(bid),
            "best_ask": fmt_level(ask),
            "bid_levels": ref_state["bid_levels"],
            "ask_levels": ref_state["ask_levels"],
        },
        "versions": {
            "tradecore": tradecore.__version__,
            "nautilus_trader": nautilus_trader.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "timing": "wall time of applying all book events to a fresh book, per update; "
        "nautilus delta objects built beforehand; GC disabled while timing",
    }
    out_path = REPO_ROOT / "build" / "bench" / "book_peers.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {out_path.relative_to(REPO_ROOT)}")

    if problems:
        print("\n" + "!" * 78, file=sys.stderr)
        print("BOOK MISMATCH: nautilus_trader and tradecore disagree on the final book", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        print("!" * 78, file=sys.stderr)
        return 1
    print("books match: every nautilus path ends with tradecore's book (top, level counts, all levels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
