"""The ``tradecore`` command line.

Commands:
    demo    Generate the bundled synthetic market as a raw capture, replay it through the
            capture reader and the order book, and print what was seen.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import tradecore
from tradecore.errors import TradecoreError


def _fmt_count(n: float) -> str:
    return f"{n:,.0f}"


def demo(seconds: float, seed: int, out: Path | None, chunk_events: int) -> int:
    """Runs the demo; returns the process exit status."""
    with tempfile.TemporaryDirectory(prefix="tradecore-demo-") as tmp:
        folder = out if out is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        capture = folder / f"synthetic_btcusdt_seed{seed}.gz"
        t0 = time.perf_counter()
        written = tradecore.synth_binance(capture, seconds=seconds, seed=seed)
        t_synth = time.perf_counter() - t0
        size_mb = capture.stat().st_size / 1e6
        print(f"generated {capture.name}: {seconds:g} s of synthetic BTCUSDT (USD-M), "
              f"{_fmt_count(written['lines'])} lines, {size_mb:.1f} MB gz, in {t_synth:.2f} s")

        book = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
        reader = tradecore.iter_binance(capture, chunk_events=chunk_events)
        t_read = t_apply = 0.0
        n_events = n_book = 0
        t0 = time.perf_counter()
        for chunk in reader:
            t1 = time.perf_counter()
            t_read += t1 - t0
            book.apply(chunk)
            t0 = time.perf_counter()
            t_apply += t0 - t1
            n_events += len(chunk)
            n_book += int(np.count_nonzero(np.isin(chunk["kind"], (tradecore.Kind.DEPTH, tradecore.Kind.SNAPSHOT))))
        report = reader.report

    print()
    print("replay through the capture reader and the order book")
    rows = [
        ("messages", ", ".join(f"{k} {_fmt_count(v)}" for k, v in report.messages.items() if v)),
        ("events", ", ".join(f"{k} {_fmt_count(v)}" for k, v in report.events.items() if v)),
        ("level updates", _fmt_count(n_book)),
        ("time span", f"{report.span_seconds:.1f} s (local receive time)"),
        ("gaps", f"{report.gap_count}" + (f" (first at event {report.gaps[0].event_index})" if report.gaps else "")),
        ("stale dropped", f"{report.stale_messages} depth messages before the snapshot"),
        ("book", f"{book.bid_levels} bid / {book.ask_levels} ask levels, in sync: {book.in_sync}"),
    ]
    bb, ba = book.best_bid(), book.best_ask()
    if bb and ba:
        rows.append(("top of book", f"bid {bb[1]:.3f} @ {bb[0]:.1f} | ask {ba[1]:.3f} @ {ba[0]:.1f} | "
                                    f"spread {book.spread():.1f} | microprice {book.microprice():.2f}"))
    rows.append(("read throughput", f"{n_events / t_read / 1e6:.2f} M events/s, {written['lines'] / t_read / 1e6:.2f} M lines/s "
                                    "(gz -> normalized events)"))
    rows.append(("book apply", f"{t_apply / max(n_events, 1) * 1e9:.1f} ns per event "
                               f"({n_book / max(n_events, 1):.0%} of them level updates, the rest skipped)"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    if report.gap_count:
        print("error: the synthetic capture should replay without gaps", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tradecore`` command."""
    parser = argparse.ArgumentParser(prog="tradecore", description="tradecore: a low-latency trading engine.")
    parser.add_argument("--version", action="version", version=f"tradecore {tradecore.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("demo", help="replay the bundled synthetic market through the reader and the book",
                       description="Generate a seeded synthetic market as a raw Binance capture, replay it "
                                   "through the capture reader and the order book, and print what was seen.")
    p.add_argument("--seconds", type=float, default=120.0, help="simulated duration (default 120)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--out", type=Path, default=None, help="keep the capture in this folder (default: a temporary one)")
    p.add_argument("--chunk-events", type=int, default=1_000_000, help="events per chunk (default 1,000,000)")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return demo(args.seconds, args.seed, args.out, args.chunk_events)
    except (TradecoreError, OSError) as e:
        print(f"tradecore: error: {e}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
