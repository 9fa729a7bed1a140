"""tradecore: a low-latency trading engine with a compiled Rust core.

Quick start::

    import tradecore

    events, report = tradecore.read_binance("usdm_btcusdt_20240808.gz")
    book = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
    book.apply(events)
    print(book.best_bid(), book.best_ask(), report.gap_count)
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

from tradecore import errors
from tradecore._core import (
    BinanceFeed,
    BinanceReader,
    CaptureReport,
    Gap,
    OrderBook,
    __version__,
    read_binance,
    synth_binance,
)
from tradecore.events import EVENT_DTYPE, SCALE, Flag, Kind, to_float

__all__ = [
    "EVENT_DTYPE",
    "SCALE",
    "BinanceFeed",
    "BinanceReader",
    "CaptureReport",
    "Flag",
    "Gap",
    "Kind",
    "OrderBook",
    "__version__",
    "errors",
    "iter_binance",
    "read_binance",
    "synth_binance",
    "to_float",
]

PathArg = str | PathLike[str]


def iter_binance(
    paths: PathArg | Sequence[PathArg],
    symbol: str | None = None,
    *,
    chunk_events: int = 1_000_000,
    lenient: bool = False,
) -> BinanceReader:
    """Streams raw Binance captures as chunks of ``EVENT_DTYPE`` arrays.

    Memory stays bounded by ``chunk_events`` (plus one message and the book-sync buffer),
    whatever the length of the input. Every chunk holds exactly ``chunk_events`` events except
    the last. The report (``reader.report``) is complete once the iterator is exhausted.

    Args:
        paths: One capture file or consecutive files read as one stream.
        symbol: Keep only this symbol (others are counted and skipped).
        chunk_events: Events per chunk (>= 1).
        lenient: Count and skip malformed lines instead of raising ``DataError``.

    Returns:
        An iterator of numpy arrays with a ``report`` attribute.
    """
    return BinanceReader(paths, symbol, chunk_events=chunk_events, lenient=lenient)
