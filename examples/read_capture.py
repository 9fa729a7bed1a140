"""Read a raw Binance capture, rebuild the book, and print what was seen.

    python examples/read_capture.py CAPTURE.gz [MORE.gz ...] [--tick 0.1] [--lot 0.001]

Without a file, it writes 30 s of the synthetic market to a temporary folder and reads that.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import tradecore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--tick", type=float, default=0.1)
    parser.add_argument("--lot", type=float, default=0.001)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = args.paths or [Path(tmp) / "synthetic.gz"]
        if not args.paths:
            tradecore.synth_binance(paths[0], seconds=30)
        book = tradecore.OrderBook(args.tick, args.lot)
        reader = tradecore.iter_binance(paths, chunk_events=100_000)
        trades = 0
        for chunk in reader:
            book.apply(chunk)
            trades += int(np.count_nonzero(chunk["kind"] == tradecore.Kind.TRADE))
        report = reader.report
    print(report)
    print("events by kind:", report.events)
    print("gaps:", report.gaps or "none")
    print("trades:", trades)
    print("top of book:", book.best_bid(), book.best_ask(), "in sync:", book.in_sync)
    print("top 5 bids:\n", book.levels("bid", 5))


if __name__ == "__main__":
    main()
