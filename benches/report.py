#!/usr/bin/env python3
"""Prints the benchmark table from the last runs and writes it to build/bench/summary.md.

Sources: criterion (target/criterion/**/new/{benchmark,estimates}.json), pytest-benchmark
(build/bench/python.json) and, when present, the peer run (build/bench/book_peers.json).
Figures are medians per item (level update, message, event, call), so the rows compare
directly; ratios are computed within the same run.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "build" / "bench"


def fmt_time(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def criterion_rows() -> list[tuple[str, str, float, str]]:
    rows = []
    for bench in sorted((REPO / "target" / "criterion").glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        items = (meta.get("throughput") or {}).get("Elements", 1)
        per = est["median"]["point_estimate"] / items
        unit = "item" if items > 1 else "call"
        rows.append(("rust", meta["full_id"], per, unit))
    return rows


def python_rows() -> list[tuple[str, str, float, str]]:
    path = OUT / "python.json"
    if not path.is_file():
        return []
    rows = []
    for b in json.loads(path.read_text())["benchmarks"]:
        items = b["extra_info"].get("items", 1)
        rows.append(("python", b["name"], b["stats"]["median"] * 1e9 / items, b["extra_info"].get("unit", "call")))
    return rows


def main() -> None:
    rows = criterion_rows() + python_rows()
    lines = [f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}", "",
             "| side | benchmark | median per item | item |", "|---|---|---|---|"]
    lines += [f"| {side} | {name} | {fmt_time(ns)} | {unit} |" for side, name, ns, unit in rows]
    by_name = {name: ns for _, name, ns, _ in rows}
    ratios = []
    feed = by_name.get("test_feed_depth_message")
    for peer in ("msgspec", "orjson", "json"):
        other = by_name.get(f"test_decode_only_peer[{peer}]")
        if feed and other:
            ratios.append(f"depth message parse+sync+apply vs {peer} decode only: {other / feed:.1f}x faster")
    ours, base = by_name.get("book_apply/L2Book/usdm_btcusdt"), by_name.get("book_apply/BTreeMap/usdm_btcusdt")
    if ours and base:
        ratios.append(f"L2Book vs BTreeMap book (Rust, real data): {base / ours:.1f}x faster")
    for ind in ("ema", "rsi", "macd", "bbands"):
        ours, talib = by_name.get(f"test_batch_indicator[{ind}-tradecore]"), by_name.get(f"test_batch_indicator[{ind}-talib]")
        if ours and talib:
            ratios.append(f"batch {ind.upper()} on 1e6 points: {ours / talib:.2f}x TA-Lib's time")
    peers = OUT / "book_peers.json"
    if peers.is_file():
        ratios.append(f"nautilus_trader peer run: see {peers.relative_to(REPO)}")
    if ratios:
        lines += ["", *[f"- {r}" for r in ratios]]
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "summary.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
