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

import numpy as np

from tradecore import errors
from tradecore._core import (
    BinanceFeed,
    BookView,
    CaptureReader,
    CaptureReport,
    Gap,
    Kline,
    Liquidation,
    MarkPrice,
    Model,
    ModelSignal,
    OrderBook,
    OrderFilters,
    OrderStatus,
    OrderTracker,
    OrderType,
    OrderUpdate,
    Position,
    Prediction,
    Side,
    TimeInForce,
    Trade,
    __version__,
    merge_events,
    read_capture,
    synth_binance,
)
from tradecore.data import Replay, TickStore
from tradecore.events import EVENT_DTYPE, SCALE, Flag, Kind, to_float
from tradecore.instrument import Instrument
from tradecore.risk import Decision, Portfolio, RiskEngine, RiskLimits
from tradecore.strategy import Context, Order, Strategy

__all__ = [
    "EVENT_DTYPE",
    "SCALE",
    "BinanceFeed",
    "BookView",
    "Context",
    "CaptureReader",
    "CaptureReport",
    "Decision",
    "Flag",
    "Gap",
    "Instrument",
    "Kind",
    "Kline",
    "Liquidation",
    "MarkPrice",
    "Model",
    "ModelSignal",
    "Order",
    "OrderBook",
    "OrderFilters",
    "OrderStatus",
    "OrderTracker",
    "OrderType",
    "OrderUpdate",
    "Portfolio",
    "Position",
    "Prediction",
    "Replay",
    "RiskEngine",
    "RiskLimits",
    "Side",
    "Strategy",
    "TickStore",
    "TimeInForce",
    "Trade",
    "__version__",
    "errors",
    "iter_binance",
    "iter_capture",
    "merge_events",
    "read_binance",
    "read_capture",
    "synth_binance",
    "to_float",
]

PathArg = str | PathLike[str]


def iter_capture(
    paths: PathArg | Sequence[PathArg],
    symbol: str | None = None,
    *,
    chunk_events: int = 1_000_000,
    format: str | None = None,
    lenient: bool = False,
) -> CaptureReader:
    """Streams recorded market data as chunks of ``EVENT_DTYPE`` arrays.

    The format is recognised from the first line: Binance raw captures
    (``<local time> <json>``), Tardis.dev CSV (``incremental_book_L2``, ``trades``,
    ``book_snapshot_N``) or Bybit order book JSON lines; gzip and zip files are read as they
    are. Memory stays bounded by ``chunk_events`` (plus one message and the book-sync buffer),
    whatever the length of the input. Every chunk holds exactly ``chunk_events`` events except
    the last. The report (``reader.report``) is complete once the iterator is exhausted.

    Args:
        paths: One file, or consecutive files read as one stream.
        symbol: Keep only this symbol (others are counted and skipped).
        chunk_events: Events per chunk (>= 1).
        format: Refuse other formats than this one (``"binance"``, ``"tardis"``, ``"bybit"``,
            or a full name such as ``"tardis:trades"``).
        lenient: Count and skip malformed lines instead of raising ``DataError``.

    Returns:
        An iterator of numpy arrays with a ``report`` attribute.
    """
    return CaptureReader(paths, symbol, chunk_events=chunk_events, format=format, lenient=lenient)


def iter_binance(
    paths: PathArg | Sequence[PathArg],
    symbol: str | None = None,
    *,
    chunk_events: int = 1_000_000,
    lenient: bool = False,
) -> CaptureReader:
    """:func:`iter_capture` for Binance raw captures only."""
    return CaptureReader(paths, symbol, chunk_events=chunk_events, format="binance", lenient=lenient)


def read_binance(
    paths: PathArg | Sequence[PathArg],
    symbol: str | None = None,
    *,
    lenient: bool = False,
) -> tuple[np.ndarray, CaptureReport]:
    """:func:`read_capture` for Binance raw captures only."""
    return read_capture(paths, symbol, format="binance", lenient=lenient)
