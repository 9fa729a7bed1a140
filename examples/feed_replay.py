"""Drive the live-feed path with recorded frames: raw bytes -> BinanceFeed -> OrderBook.

    python examples/feed_replay.py [CAPTURE.gz]

This is exactly what the live runner does with each websocket frame: hand the raw bytes to
the compiled parser, which keeps the book in sync by Binance's rules. Without a file, it uses
30 s of the synthetic market.
"""

from __future__ import annotations

import gzip
import sys
import tempfile
import time
from pathlib import Path

import tradecore


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp) / "synthetic.gz"
        if len(sys.argv) == 1:
            tradecore.synth_binance(path, seconds=30)
        with gzip.open(path, "rb") as f:
            frames = [line.rstrip(b"\n").split(b" ", 1) for line in f]
    feed = tradecore.BinanceFeed(tradecore.OrderBook(tick_size=0.1, lot_size=0.001))
    t0 = time.perf_counter()
    for ts, frame in frames:
        feed.on_message(frame, int(ts))
    elapsed = time.perf_counter() - t0
    book = feed.book
    print(f"{len(frames):,} frames in {elapsed:.3f} s ({elapsed / len(frames) * 1e6:.2f} us/frame)")
    print(f"in sync: {feed.in_sync}, gaps: {feed.gap_count}, book: {book}")


if __name__ == "__main__":
    main()
