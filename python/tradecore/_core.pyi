"""Type stubs of the compiled core (``tradecore._core``)."""

from collections.abc import Sequence
from os import PathLike
from typing import ClassVar, Final, Literal, Protocol, final

from typing_extensions import disjoint_base

import numpy as np
import numpy.typing as npt

_Path = str | PathLike[str]
_Side = Literal["bid", "ask", "buy", "sell", "BID", "ASK", "BUY", "SELL"] | int
_Events = npt.NDArray[np.void]

class _Defined(Protocol):
    """A feature set of ``tradecore.signals``: its ``definition`` is the canonical JSON."""

    @property
    def definition(self) -> str: ...
_SimReport = tuple[
    Literal["accepted", "rejected", "filled", "modified", "cancelled"], int, int, float, float, bool, float, str
]

__all__ = [
    "EVENT_DTYPE",
    "SCALE",
    "EVENT_KINDS",
    "EVENT_FLAGS",
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "Position",
    "AccountSpec",
    "Account",
    "OrderTracker",
    "OrderBook",
    "OrderFilters",
    "Backtest",
    "BookView",
    "Trade",
    "MarkPrice",
    "Kline",
    "Liquidation",
    "OrderUpdate",
    "CaptureReader",
    "CaptureReport",
    "Gap",
    "BinanceFeed",
    "read_capture",
    "synth_binance",
    "merge_events",
    "events_from_columns",
    "events_to_columns",
    "gather_columns",
    "sma",
    "ema",
    "wma",
    "rsi",
    "var",
    "stddev",
    "zscore",
    "realized_vol",
    "vwap",
    "macd",
    "bbands",
    "atr",
    "adx",
    "stoch",
    "bars",
    "SMA",
    "EMA",
    "WMA",
    "RSI",
    "VAR",
    "STDDEV",
    "ZSCORE",
    "REALIZED_VOL",
    "VWAP",
    "MACD",
    "BBANDS",
    "ATR",
    "ADX",
    "STOCH",
    "FeatureSet",
    "RiskEngine",
    "Portfolio",
    "Decision",
    "SimExchange",
    "BinanceEncoder",
    "IntentLog",
    "OrderEntry",
    "Model",
    "ModelSignal",
    "Prediction",
    "__version__",
]

EVENT_DTYPE: Final[np.dtype[np.void]]
SCALE: Final[int]
EVENT_KINDS: Final[dict[str, int]]
EVENT_FLAGS: Final[dict[str, int]]
__version__: Final[str]

@final
class OrderBook:
    """L2 price-level order book of one instrument.

    Prices and quantities are floats at the Python edge and exact fixed point inside; every
    price must lie on the tick grid and every quantity on the lot grid.

    Args:
        tick_size: Price increment (> 0).
        lot_size: Quantity increment (> 0).

    Raises:
        tradecore.errors.InvalidInput: a non-positive, NaN or infinite size.
    """

    def __new__(cls, tick_size: float, lot_size: float) -> OrderBook: ...
    def apply(self, events: _Events) -> None:
        """Applies depth, snapshot and clear events from an ``EVENT_DTYPE`` array.

        Zero copy for a contiguous, aligned array (others are copied first). The GIL is
        released for large batches whose memory Python cannot write (a read-only array).
        Other event kinds are ignored. Each level is validated as it is applied: on a bad event the call
        stops there, the events before it stay applied, and the error names its index.

        Raises:
            TypeError: not a 1-D array of ``EVENT_DTYPE``.
            tradecore.errors.InvalidInput: a level off the grid, a non-positive price, a
                negative quantity or a bad side; the message names ``events[i]``.
        """
    def set_level(self, side: _Side, price: float, qty: float) -> None:
        """Sets one level; a quantity of 0 removes it.

        Raises:
            tradecore.errors.InvalidInput: NaN/inf, price <= 0, qty < 0, off-grid values or a
                side other than bid/ask.
        """
    def clear(self) -> None:
        """Removes every level."""
    def best_bid(self) -> tuple[float, float] | None:
        """Best bid as ``(price, qty)``, or None when there are no bids."""
    def best_ask(self) -> tuple[float, float] | None:
        """Best ask as ``(price, qty)``, or None when there are no asks."""
    def mid(self) -> float | None:
        """(best bid + best ask) / 2."""
    def spread(self) -> float | None:
        """Best ask - best bid (negative when crossed)."""
    def microprice(self) -> float | None:
        """Size-weighted mid: (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty)."""
    def imbalance(self, levels: int = 5) -> float | None:
        """(bid volume - ask volume) / (bid volume + ask volume) over the top ``levels``."""
    def levels(self, side: _Side, n: int) -> npt.NDArray[np.float64]:
        """Up to ``n`` levels of a side from the best outwards, shape ``(k, 2)``: price, qty."""
    def qty_at(self, side: _Side, price: float) -> float:
        """Quantity resting at ``price`` on ``side`` (0.0 when there is no level)."""
    def cost_to_fill(self, side: _Side, qty: float) -> tuple[float, float] | None:
        """Average price and filled quantity of an order of ``side`` ('buy' walks the asks).

        Returns None when the opposite side is empty.
        """
    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask."""
    @property
    def last_update_id(self) -> int:
        """Exchange update id of the last applied book event that carried one."""
    @property
    def in_sync(self) -> bool:
        """False when the last applied book event was flagged OUT_OF_SYNC."""
    @property
    def bid_levels(self) -> int:
        """Number of bid levels."""
    @property
    def ask_levels(self) -> int:
        """Number of ask levels."""
    @property
    def tick_size(self) -> float:
        """Tick size."""
    @property
    def lot_size(self) -> float:
        """Lot size."""

@final
class Gap:
    """A break in the depth update-id chain, and where it was found."""

    @property
    def event_index(self) -> int:
        """Index in the output stream where the out-of-sync region begins."""
    @property
    def file(self) -> str:
        """File of the message that revealed the gap."""
    @property
    def line(self) -> int:
        """1-based line of that message."""
    @property
    def local_ts(self) -> int:
        """Its local receive time, ns."""
    @property
    def expected(self) -> int:
        """The update id that was expected."""
    @property
    def got(self) -> int:
        """The update id that came instead."""
    @property
    def check(self) -> str:
        """The failed rule: 'pu' (futures chain), 'U' (spot chain) or 'first' (snapshot)."""

@final
class CaptureReport:
    """What a read saw: format, records, events by kind, gaps, time span, skipped lines."""

    @property
    def format(self) -> str | None:
        """'binance', 'bybit', 'tardis:trades', 'tardis:incremental_book_L2', 'tardis:book_snapshot_N'."""
    @property
    def venue(self) -> str | None:
        """The venue as the data names it ('binance-usdm', 'deribit', 'bybit'...)."""
    @property
    def records(self) -> int:
        """Data records handled (messages, or CSV rows)."""
    @property
    def files(self) -> list[str]: ...
    @property
    def bytes_total(self) -> int:
        """Size of the input files as stored (compressed for gzip and zip)."""
    @property
    def bytes_read(self) -> int:
        """Input bytes consumed so far (for progress; a zip counts whole when opened)."""
    @property
    def ts_units(self) -> list[str | None]:
        """Local timestamp unit detected in each file: 'ns', 'us' or 'ms'."""
    @property
    def lines(self) -> int: ...
    @property
    def blank_lines(self) -> int: ...
    @property
    def messages(self) -> dict[str, int]:
        """Binance messages by kind: depth, trade, agg_trade, book_ticker, snapshot, control."""
    @property
    def events(self) -> dict[str, int]:
        """Events by kind: depth, snapshot, clear, trade, bbo."""
    @property
    def total_events(self) -> int: ...
    @property
    def gaps(self) -> list[Gap]:
        """Gaps found (capped at 10,000 entries; ``gap_count`` counts all)."""
    @property
    def gap_count(self) -> int: ...
    @property
    def snapshots(self) -> int: ...
    @property
    def stale_messages(self) -> int:
        """Depth messages dropped as older than the snapshot (Binance's rule)."""
    @property
    def stale_events(self) -> int: ...
    @property
    def unsynced_events(self) -> int:
        """Events emitted flagged OUT_OF_SYNC."""
    @property
    def skipped_lines(self) -> int:
        """Bad lines skipped in lenient mode."""
    @property
    def errors(self) -> list[str]:
        """The first 100 errors met in lenient mode, as 'file:line: message'."""
    @property
    def skipped(self) -> dict[str, int]:
        """Lines skipped in lenient mode, by reason (``unknown stream 'x@y'``, ``negative value``...)."""
    @property
    def other_symbol_lines(self) -> int: ...
    @property
    def first_local_ts(self) -> int | None: ...
    @property
    def last_local_ts(self) -> int | None: ...
    @property
    def first_exch_ts(self) -> int | None: ...
    @property
    def last_exch_ts(self) -> int | None: ...
    @property
    def span_seconds(self) -> float: ...
    @property
    def symbol(self) -> str | None: ...
    @property
    def market(self) -> str | None:
        """'spot', 'usdm' or 'coinm'."""

@final
class CaptureReader:
    """Iterator over ``EVENT_DTYPE`` chunks of recorded data (see ``iter_capture``)."""

    def __new__(
        cls,
        paths: _Path | Sequence[_Path],
        symbol: str | None = None,
        *,
        chunk_events: int = 1_000_000,
        format: str | None = None,
        lenient: bool = False,
    ) -> CaptureReader: ...
    def __iter__(self) -> CaptureReader: ...
    def __next__(self) -> _Events: ...
    @property
    def report(self) -> CaptureReport:
        """The report so far; complete once the iterator is exhausted."""

@final
class BinanceFeed:
    """Raw Binance websocket messages -> parsed -> book-synchronised -> applied to ``book``.

    Args:
        book: The book to maintain.
        max_pending: Depth messages buffered at most while waiting for a snapshot.
    """

    def __new__(cls, book: OrderBook, *, max_pending: int = 10_000) -> BinanceFeed: ...
    def on_message(self, message: bytes, local_ts: int | None = None) -> int:
        """Handles one raw message (bytes as received); returns the number of events.

        Args:
            message: The frame's bytes.
            local_ts: Receive time in ns since the epoch (default: now).

        Raises:
            tradecore.errors.DataError: a malformed message or one that does not fit the book.
        """
    def last_events(self) -> _Events:
        """The events produced by the last message (a copy)."""
    @property
    def book(self) -> OrderBook: ...
    @property
    def in_sync(self) -> bool:
        """True once a snapshot was applied and no gap was seen since."""
    @property
    def gap_count(self) -> int: ...
    @property
    def messages(self) -> int: ...
    @property
    def pending(self) -> int:
        """Depth messages buffered while waiting for a snapshot."""

def read_capture(
    paths: _Path | Sequence[_Path],
    symbol: str | None = None,
    *,
    format: str | None = None,
    lenient: bool = False,
) -> tuple[_Events, CaptureReport]:
    """Reads recorded market data (gzip, zip or text) into one array.

    The format is recognised from the first line: Binance raw captures (spot, USD-M, COIN-M),
    Tardis.dev CSV (incremental_book_L2, trades, book_snapshot_N), Bybit order book JSON.
    Files are read in order as one stream. Book-sync rules are applied where the venue
    publishes sequence ids (Binance: buffer before the snapshot, drop stale, check the chain;
    Bybit: ``u`` and ``seq``): a gap is counted, reported with its position, and the events
    after it are flagged OUT_OF_SYNC until a new snapshot. ``format`` refuses any other format.

    Raises:
        tradecore.errors.DataError: a malformed line, an unknown stream, a non-numeric price
            (naming file and line); with ``lenient=True`` such lines are counted and skipped.
        OSError: a file that cannot be read.
    """

def synth_binance(
    path: _Path,
    *,
    seconds: float = 60.0,
    seed: int = 7,
    symbol: str = "BTCUSDT",
    tick_size: float = 0.1,
    lot_size: float = 0.001,
    start_price: float = 60000.0,
    events_per_second: float = 400.0,
    volatility_ticks: float = 2.5,
    informed_share: float = 0.5,
    informed_horizon: int = 2000,
    informed_size: float = 1.0,
) -> dict[str, int]:
    """Writes a seeded synthetic USD-M market as a gzip raw capture; returns counts.

    The latent price steps ``volatility_ticks`` (standard deviation, ticks) per order-flow
    event; ``informed_share`` of the market orders trade in the direction of its move over
    the next ``informed_horizon`` events, ``informed_size`` times as large as the others
    (adverse selection for a market maker)."""

def merge_events(
    streams: Sequence[_Events], last: Sequence[bool], out: _Events, offset: int = 0
) -> tuple[int, list[int]]:
    """Merges the buffered heads of several event streams into ``out[offset:]`` in
    exchange-time order (local time for events without one), each stream's order kept, ties to
    the lower stream index; each written event's ``instrument`` is its stream's index.

    Stops when ``out`` is full or when a stream that is not at its end (``last[i]`` false) runs
    empty: refill it and call again. Returns (events written, events taken from each stream).
    """

def events_from_columns(columns: Sequence[np.ndarray], instrument: int | None = None) -> _Events:
    """An ``EVENT_DTYPE`` array from one contiguous array per field, in field order;
    ``instrument`` replaces the stored instrument column."""

def events_to_columns(events: _Events) -> list[np.ndarray]:
    """One contiguous array per field of ``events``, in field order."""

def gather_columns(
    columns: Sequence[np.ndarray], out: _Events, offset: int = 0, instrument: int | None = None
) -> int:
    """``events_from_columns`` written into ``out[offset:]``; returns the events written."""

_F64 = npt.NDArray[np.float64]

# Defaults written `...` are those of tradecore.signals (sma 30, ema 30, wma 30, rsi 14,
# var 5, stddev 5 and 1.0, zscore 20).

def sma(x: _F64, period: int = ...) -> _F64: ...
def ema(x: _F64, period: int = ...) -> _F64: ...
def wma(x: _F64, period: int = ...) -> _F64: ...
def rsi(x: _F64, period: int = ...) -> _F64: ...
def var(x: _F64, period: int = ...) -> _F64: ...
def stddev(x: _F64, period: int = ..., nbdev: float = ...) -> _F64: ...
def zscore(x: _F64, period: int = ...) -> _F64: ...
def realized_vol(x: _F64, period: int = ...) -> _F64: ...
def vwap(price: _F64, qty: _F64, ts: npt.NDArray[np.int64], window_ns: int | None = None) -> _F64: ...
def macd(x: _F64, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9) -> tuple[_F64, _F64, _F64]: ...
def bbands(x: _F64, period: int = 5, nbdev_up: float = 2.0, nbdev_down: float = 2.0) -> tuple[_F64, _F64, _F64]: ...
def atr(high: _F64, low: _F64, close: _F64, period: int = 14) -> _F64: ...
def adx(high: _F64, low: _F64, close: _F64, period: int = 14) -> _F64: ...
def stoch(
    high: _F64, low: _F64, close: _F64, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3
) -> tuple[_F64, _F64]: ...
def bars(
    events: _Events, interval_ns: int | None = None, volume: float | None = None
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64],
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64],
    npt.NDArray[np.uint64], _F64,
]:
    """OHLCV bars of the trades in ``events`` as columns (see ``tradecore.signals.time_bars``)."""

class _Streaming:
    def update(self, x: float) -> float:
        """Feeds one value; returns the value after it (NaN while warming up)."""
    @property
    def value(self) -> float: ...
    @property
    def ready(self) -> bool: ...
    def reset(self) -> None: ...

@final
class SMA(_Streaming):
    def __new__(cls, period: int = ...) -> SMA: ...

@final
class EMA(_Streaming):
    def __new__(cls, period: int = ...) -> EMA: ...

@final
class WMA(_Streaming):
    def __new__(cls, period: int = ...) -> WMA: ...

@final
class RSI(_Streaming):
    def __new__(cls, period: int = ...) -> RSI: ...

@final
class VAR(_Streaming):
    def __new__(cls, period: int = ...) -> VAR: ...

@final
class STDDEV(_Streaming):
    def __new__(cls, period: int = ..., nbdev: float = ...) -> STDDEV: ...

@final
class ZSCORE(_Streaming):
    def __new__(cls, period: int = ...) -> ZSCORE: ...

@final
class REALIZED_VOL(_Streaming):
    def __new__(cls, period: int = ...) -> REALIZED_VOL: ...

@final
class VWAP:
    """Streaming VWAP over a rolling window of ns, or per UTC day (``window_ns=None``)."""

    def __new__(cls, window_ns: int | None = None) -> VWAP: ...
    def update(self, price: float, qty: float, ts: int) -> float: ...
    @property
    def value(self) -> float: ...

@final
class MACD:
    def __new__(cls, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9) -> MACD: ...
    def update(self, x: float) -> tuple[float, float, float]:
        """(macd, signal, histogram) after ``x``."""
    @property
    def value(self) -> tuple[float, float, float]: ...

@final
class BBANDS:
    def __new__(cls, period: int = 5, nbdev_up: float = 2.0, nbdev_down: float = 2.0) -> BBANDS: ...
    def update(self, x: float) -> tuple[float, float, float]:
        """(upper, middle, lower) after ``x``."""
    @property
    def value(self) -> tuple[float, float, float]: ...

@final
class ATR:
    def __new__(cls, period: int = 14) -> ATR: ...
    def update(self, high: float, low: float, close: float) -> float: ...
    @property
    def value(self) -> float: ...

@final
class ADX:
    def __new__(cls, period: int = 14) -> ADX: ...
    def update(self, high: float, low: float, close: float) -> float: ...
    @property
    def value(self) -> float: ...

@final
class STOCH:
    def __new__(cls, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3) -> STOCH: ...
    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        """(slow %K, slow %D) after the bar."""
    @property
    def value(self) -> tuple[float, float]: ...

@final
class FeatureSet:
    """The compiled state of ``tradecore.signals.FeatureSet`` (use that class)."""

    def __new__(
        cls,
        features: Sequence[tuple[str, str, dict[str, int | float | str]]],
        tick_size: float,
        lot_size: float,
        *,
        bar_interval_ns: int | None = None,
        bar_volume: float | None = None,
        sample: str = "message",
        sample_every_ns: int | None = None,
        instrument: int | None = None,
    ) -> FeatureSet: ...
    def update(self, events: _Events) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Consumes ``events``; returns (timestamps, rows) of the sample points among them."""
    @property
    def names(self) -> list[str]: ...
    @property
    def definition(self) -> str:
        """The definition (names, kinds, every parameter with its default, bars, sampling) as
        canonical JSON: what a model trained on these rows records."""
    @property
    def definition_sha256(self) -> str:
        """The SHA-256 (hex) of ``definition``."""
    @property
    def values(self) -> _F64: ...
    @property
    def events(self) -> int: ...

@final
class SimExchange:
    """One instrument's matching engine for a live exchange simulator: the compiled exchange
    simulator of the backtests (queue position, takers walking the book, reduce-only against
    the exchange's position), fed market events and orders at given times.

    Orders pass the exchange's validity checks first (tick and lot grids, quantity > 0, a
    market order is never post-only, a client id already open, a reduce-only order that would
    not reduce the position): a refusal raises ``tradecore.errors.InvalidInput`` whose message
    starts ``invalid <field>: <value>`` (field ``price``, ``qty``, ``tif``, ``side``,
    ``client_id`` or ``reduce_only``), and the order never reaches the matching engine.

    Every method that can act returns the reports of what happened, oldest first, as tuples
    ``(kind, client_id, ts, price, qty, maker, remaining, reason)``:

    - ``accepted``: ``qty`` is the accepted quantity (a reduce-only order may be cut to the
      position), ``price`` 0.0;
    - ``rejected``: ``reason`` says why (``post-only order would cross``, ``fill-or-kill
      without enough liquidity``, ``market order without liquidity``, ``reduce-only order
      would not reduce the position``, or for a cancel or modification ``unknown order (filled
      or cancelled)`` and the modification's rule);
    - ``filled``: fill ``price`` and ``qty``, ``maker`` for a resting order, ``remaining`` open;
    - ``modified``: a resting order now has this ``price`` and open ``qty``;
    - ``cancelled``: by request, the unfilled rest of an IOC, FOK or market order, or a
      reduce-only order whose position closed; ``remaining`` is what was open;
    - ``triggered``: a parked stop or take-profit order's trigger was touched (its fills follow).

    ``ts`` is the exchange time of the report (ns): times are kept non-decreasing (an earlier
    time acts at the latest time seen).

    Args:
        tick_size: Price increment (> 0).
        lot_size: Quantity increment (> 0).
        entry_latency_ns: Time from ``submit``/``cancel`` to the exchange (0: at once).
        response_latency_ns: Returned by ``response_latency()`` (the simulator does not delay
            its reports; a caller may).
        queue: Queue position model: ``conservative`` or hftbacktest's ``power:<n>``, ...
    """

    def __new__(
        cls,
        tick_size: float,
        lot_size: float,
        *,
        entry_latency_ns: int = 0,
        response_latency_ns: int = 0,
        queue: str = "conservative",
    ) -> SimExchange: ...
    def on_events(self, events: _Events, now_ns: int | None = None) -> list[_SimReport]:
        """Feeds market events (``EVENT_DTYPE``, zero copy), each at its exchange time, or all
        at ``now_ns``; orders in flight that arrived by then act first. Returns the reports."""
    def submit(
        self,
        client_id: int,
        side: int,
        qty: float,
        price: float | None,
        tif: int,
        reduce_only: bool,
        now_ns: int,
        *,
        order_type: int | None = None,
        trigger_price: float | None = None,
        trigger_by: str = "last",
        close_position: bool = False,
    ) -> list[_SimReport]:
        """Sends a new order at ``now_ns``: ``side`` +1 buy / -1 sell, ``price`` None for a market
        order (a limit price must be > 0 on the tick grid), ``tif`` 0 GTC, 1 IOC, 2 FOK, 3 post-only. Returns the reports of everything that
        arrived by ``now_ns`` (with no entry latency the order acts at once on the book).

        ``order_type`` (an ``OrderType`` code; None: limit with a price, market without): a stop
        or take-profit type needs ``trigger_price`` (> 0 on the tick grid) and watches the last
        trade (``trigger_by="last"``) or the mark (``"mark"``, see :meth:`on_mark`); it is
        ``accepted`` and parked, then ``triggered`` (and trades as a market or limit order)
        when its trigger is touched; one that would trigger at once is ``rejected`` ("order
        would immediately trigger"). ``close_position``: reduce-only, the whole position when
        triggered.

        Raises:
            tradecore.errors.InvalidInput: a validity check refused it (see the class doc).
        """
    def modify(
        self, client_id: int, side: int, qty: float, price: float, reduce_only: bool, now_ns: int
    ) -> list[_SimReport]:
        """Sends a new price and open quantity for a resting order (``side`` and ``reduce_only``
        are the order's own). A new price or a larger quantity loses the queue place; a
        modification that would cross is rejected and the order kept as it was."""
    def cancel(self, client_id: int, now_ns: int) -> list[_SimReport]:
        """Sends a cancel at ``now_ns``; an unknown (or done) order gives a ``rejected`` report."""
    def on_mark(self, price: float, now_ns: int) -> list[_SimReport]:
        """A mark price (> 0) at ``now_ns``: stop and take-profit orders watching the mark act.
        Returns the reports."""
    def arrive(self, now_ns: int) -> list[_SimReport]:
        """Acts on what arrived by ``now_ns`` (with an entry latency)."""
    def sync_book(self, book: OrderBook) -> bool:
        """Copies ``book`` (one that saw the same events) into an idle simulator; False, doing
        nothing, when orders are at the exchange (its own book is then kept by ``on_events``).

        Raises:
            tradecore.errors.InvalidInput: ``book`` has another tick or lot size.
        """
    def response_latency(self) -> int:
        """A response latency (ns)."""
    def best_bid(self) -> tuple[float, float] | None:
        """The exchange's best bid: the book fed, less the liquidity our takers took until the
        feed sets those levels again."""
    def best_ask(self) -> tuple[float, float] | None: ...
    def levels(self, side: _Side, n: int) -> npt.NDArray[np.float64]:
        """Up to ``n`` levels of a side of the exchange's book, shape ``(k, 2)``: price, qty."""
    @property
    def is_idle(self) -> bool:
        """True when no order of ours is resting or in flight and no level is still marked by
        one of our fills: market events need not be fed (``sync_book`` before the next order)."""
    @property
    def position(self) -> float:
        """The position the exchange holds (signed)."""
    @property
    def resting(self) -> int:
        """Resting orders."""
    @property
    def next_arrival(self) -> int | None:
        """When the next action in flight reaches the exchange (ns)."""
    @property
    def tick_size(self) -> float: ...
    @property
    def lot_size(self) -> float: ...

@final
class Decision:
    """The outcome of a risk check: truthy when accepted."""

    @property
    def accepted(self) -> bool: ...
    @property
    def code(self) -> str | None:
        """Reject reason: invalid_order, unknown_instrument, halted, reducing_only,
        reduce_only_increases, max_order_qty, max_order_notional, price_band,
        no_reference_price, max_position, max_gross_exposure, submit_rate, modify_rate,
        max_open_orders, self_trade, stale_data, duplicate_client_id."""
    @property
    def message(self) -> str: ...
    def __bool__(self) -> bool: ...

@disjoint_base
class RiskEngine:
    """Pre-trade risk checks (use ``tradecore.RiskEngine``)."""

    def __new__(
        cls,
        *,
        max_order_qty: float | None = None,
        max_order_notional: float | None = None,
        max_position: float | None = None,
        max_gross_exposure: float | None = None,
        price_band_bps: float | None = None,
        max_submits_per_sec: int | None = None,
        max_submits_per_min: int | None = None,
        max_modifies_per_sec: int | None = None,
        max_modifies_per_min: int | None = None,
        max_open_orders: int | None = None,
        max_data_age_ms: float | None = None,
        daily_loss_limit: float | None = None,
        max_drawdown: float | None = None,
        self_trade_prevention: bool = False,
    ) -> RiskEngine: ...
    def add_instrument(self, contract_size: float = 1.0, inverse: bool = False) -> int: ...
    def set_filters(self, instrument: int, filters: OrderFilters) -> None: ...
    def on_market(
        self, instrument: int, reference: float | None = None, local_ts: int | None = None, in_sync: bool = True
    ) -> None: ...
    def check(
        self,
        client_id: int,
        instrument: int,
        side: str,
        qty: float,
        price: float | None = None,
        *,
        reduce_only: bool = False,
        modify: bool = False,
        now: int | None = None,
    ) -> Decision: ...
    def halt(self, reason: str) -> list[int]: ...
    def restore_open(self, client_id: int, instrument: int, side: str, qty: float, price: float | None = None, *,
                     reduce_only: bool = False) -> None: ...
    def restore_position(self, instrument: int, qty: float) -> None: ...
    def order_closed(self, client_id: int) -> None: ...
    def on_fill(self, client_id: int, qty: float) -> None: ...
    def on_equity(self, equity: float, now: int | None = None) -> list[int] | None: ...
    @property
    def state(self) -> str: ...
    @state.setter
    def state(self, value: str) -> None: ...
    @property
    def halt_reason(self) -> str | None: ...
    @property
    def accepted(self) -> int: ...
    @property
    def rejected(self) -> dict[str, int]: ...
    @property
    def open_orders(self) -> int: ...
    def position(self, instrument: int) -> float: ...

@final
class Position:
    """A position and its PnL in the settlement currency (backtest, paper and real alike)."""

    def __new__(cls, qty: float, avg_price: float, realized: float, unrealized: float, fees: float) -> Position: ...
    @property
    def qty(self) -> float:
        """Signed quantity: > 0 long."""
    @property
    def avg_price(self) -> float:
        """Average entry price (0.0 when flat)."""
    @property
    def realized(self) -> float:
        """PnL realized by reducing or closing, before fees."""
    @property
    def unrealized(self) -> float:
        """PnL of the open quantity at the last mark."""
    @property
    def fees(self) -> float:
        """Fees paid (a rebate counts negative)."""

@final
class OrderTracker:
    """The core's order lifecycle (the one the backtest and paper replay use): orders moved by
    reports, statuses only forward, fills booked once per trade id."""

    def __new__(cls) -> OrderTracker: ...
    def add(self, client_id: int, instrument: int, side: int, qty: float, price: float | None, ts: int = 0) -> None:
        """A new order, pending (``price`` None: a market order)."""
    def restore(self, client_id: int, instrument: int, side: int, qty: float, price: float | None,
                status: OrderStatus, filled: float = 0.0, ts: int = 0) -> None:
        """An order as a journal or a restart has it (any status, ``filled`` so far)."""
    def __contains__(self, key: int, /) -> bool: ...
    def set_status(self, client_id: int, status: OrderStatus, ts: int = 0) -> bool:
        """Moves the order to ``status`` if it may (only forward); True if it changed."""
    def fill_qty(self, client_id: int, qty: float, ts: int = 0) -> tuple[bool, float]:
        """A fill (its trade id checked by the caller): (ended filled, quantity left)."""
    def modified(self, client_id: int, price: float, open_qty: float) -> None:
        """The order now has this limit price and open quantity."""
    def accepted(self, client_id: int) -> None:
        """The exchange accepted it (a late report changes nothing)."""
    def fill(self, client_id: int, trade_id: int, qty: float, ts: int = 0) -> bool | None:
        """A fill, booked once per ``trade_id``: None for a duplicate, else whether the order
        ended filled."""
    def close(self, client_id: int, status: OrderStatus, ts: int = 0) -> bool:
        """Ends the order with a terminal ``status`` if it may; True if it changed."""
    def status(self, client_id: int) -> OrderStatus: ...
    def filled(self, client_id: int) -> float: ...
    def open_orders(self) -> list[int]: ...

@final
class AccountSpec:
    """How a run's account is set up (see ``tradecore.account.plan_account``)."""

    @staticmethod
    def cash(balances: dict[str, float], assets: list[tuple[str, str]]) -> AccountSpec:
        """A spot cash account: starting balances per asset and each instrument's (base, quote)."""
    @staticmethod
    def margin(asset: str, wallet: float, leverage: list[float],
               brackets: list[list[tuple[float, float, float, float, float]]],
               liquidation_fee: float) -> AccountSpec:
        """A cross-margin futures account: settlement asset, wallet, each instrument's leverage
        and brackets ``(notional_floor, notional_cap, maint_margin_ratio, cum, max_leverage)``,
        and the liquidation clearance fee rate."""
    @property
    def kind(self) -> str:
        """``cash``, ``margin`` or ``none``."""

@final
class Account:
    """An account at a moment (``ctx.account()``, ``BacktestResult.account``)."""

    @property
    def kind(self) -> str:
        """``cash`` (spot), ``margin`` (futures) or ``none`` (capital and PnL only)."""
    @property
    def asset(self) -> str:
        """Margin: the settlement asset; cash: the first instrument's quote asset."""
    @property
    def balances(self) -> dict[str, tuple[float, float]]:
        """Per asset: (free, locked); margin: {asset: (wallet balance, 0.0)}."""
    @property
    def equity(self) -> float:
        """Margin: wallet + unrealized PnL; cash: balances valued in the quote at the marks."""
    @property
    def available(self) -> float:
        """Margin: margin balance - initial margin of positions and orders; cash: free quote."""
    @property
    def margin_used(self) -> float:
        """Initial margin of the positions and open orders (0 without a margin account)."""
    @property
    def maintenance_margin(self) -> float:
        """Maintenance margin of the positions (0 without a margin account)."""
    @property
    def leverage(self) -> list[float]:
        """Per instrument."""
    @property
    def liquidation_prices(self) -> list[float | None]:
        """Per instrument: its position's liquidation price (None when flat or not margin)."""
    @property
    def funding(self) -> list[float]:
        """Per instrument: net funding paid."""

@final
class Side:
    """Buy or sell; equal to +1 / -1; ``str()`` gives ``buy`` / ``sell``."""

    BUY: ClassVar[Side]
    SELL: ClassVar[Side]
    def __int__(self) -> int: ...
    @staticmethod
    def of(value: Side | str | int) -> Side:
        """The side of a name (``buy``, ``sell``) or a sign (+1, -1)."""

@final
class OrderType:
    """Market, limit, stop (market/limit) or take-profit (market/limit); equal to its code
    (0..5); ``str()`` gives its name."""

    MARKET: ClassVar[OrderType]
    LIMIT: ClassVar[OrderType]
    STOP_MARKET: ClassVar[OrderType]
    STOP_LIMIT: ClassVar[OrderType]
    TAKE_PROFIT_MARKET: ClassVar[OrderType]
    TAKE_PROFIT_LIMIT: ClassVar[OrderType]
    def __int__(self) -> int: ...
    @property
    def is_conditional(self) -> bool:
        """A stop or take-profit type (it needs a trigger price)."""
    @property
    def has_limit_price(self) -> bool:
        """The type carries a limit price."""
    @staticmethod
    def of(value: OrderType | str | int) -> OrderType:
        """The order type of a name (``market``, ``stop_limit``, ...) or a code."""

@final
class TimeInForce:
    """GTC, IOC, FOK or post-only; equal to its code (0..3); ``str()`` gives ``gtc`` ..."""

    GTC: ClassVar[TimeInForce]
    IOC: ClassVar[TimeInForce]
    FOK: ClassVar[TimeInForce]
    POST_ONLY: ClassVar[TimeInForce]
    def __int__(self) -> int: ...
    @staticmethod
    def of(value: TimeInForce | str | int) -> TimeInForce:
        """The time in force of a name (``gtc``, ``ioc``, ``fok``, ``post_only``) or a code."""

@final
class OrderStatus:
    """An order's status; equal to its code (0..8); ``str()`` gives its name. Statuses only
    move forward (:meth:`can_become`): a terminal one is never left."""

    OPEN: ClassVar[OrderStatus]
    FILLED: ClassVar[OrderStatus]
    CANCELLED: ClassVar[OrderStatus]
    REJECTED: ClassVar[OrderStatus]
    REFUSED: ClassVar[OrderStatus]
    PENDING: ClassVar[OrderStatus]
    UNKNOWN: ClassVar[OrderStatus]
    PARTIALLY_FILLED: ClassVar[OrderStatus]
    EXPIRED: ClassVar[OrderStatus]
    def __int__(self) -> int: ...
    @property
    def is_terminal(self) -> bool:
        """Filled, cancelled, rejected, refused or expired: the order is over."""
    @property
    def is_open(self) -> bool:
        """Not terminal."""
    def can_become(self, next: OrderStatus) -> bool:
        """Whether an order in this status may move to ``next``."""
    @staticmethod
    def of(value: OrderStatus | str | int) -> OrderStatus:
        """The status of a name (``open``, ``partially_filled``, ...) or a code."""

@final
class Portfolio:
    """Positions, PnL, equity and drawdown for linear and inverse contracts."""

    def __new__(cls, initial_capital: float = 0.0) -> Portfolio: ...
    def add_instrument(
        self, kind: str = "linear", contract_size: float = 1.0, maker_fee: float = 0.0, taker_fee: float = 0.0
    ) -> int: ...
    def fill(self, instrument: int, side: str, price: float, qty: float, *, maker: bool = False) -> None: ...
    def mark(self, instrument: int, price: float) -> None: ...
    def position(self, instrument: int) -> Position:
        """The position of an instrument at its last mark."""
    @property
    def equity(self) -> float: ...
    @property
    def drawdown(self) -> float: ...
    @property
    def max_drawdown(self) -> float: ...
    @property
    def peak_equity(self) -> float: ...

@final
class Trade:
    """A trade as a strategy sees it."""

    @property
    def ts(self) -> int:
        """Local time the strategy sees it (ns)."""
    @property
    def exch_ts(self) -> int: ...
    @property
    def price(self) -> float: ...
    @property
    def qty(self) -> float: ...
    @property
    def side(self) -> int:
        """+1: the buyer was the aggressor; -1: the seller; 0: unknown."""
    @property
    def instrument(self) -> int: ...
    @property
    def trade_id(self) -> int: ...

@final
class MarkPrice:
    """A mark price update as a strategy sees it (Binance ``markPriceUpdate``)."""

    @property
    def ts(self) -> int:
        """Local time the strategy sees it (ns)."""
    @property
    def exch_ts(self) -> int: ...
    @property
    def instrument(self) -> int: ...
    @property
    def mark(self) -> float:
        """The mark price."""
    @property
    def index(self) -> float:
        """The index price."""
    @property
    def funding_rate(self) -> float:
        """The funding rate announced for the next funding time (0.0001 = 0.01%)."""
    @property
    def next_funding_ts(self) -> int:
        """The next funding time (ns since the epoch)."""

@final
class Kline:
    """A kline (candlestick) update as a strategy sees it; ``closed`` once final."""

    @property
    def ts(self) -> int:
        """Local time the strategy sees it (ns)."""
    @property
    def exch_ts(self) -> int: ...
    @property
    def instrument(self) -> int: ...
    @property
    def open_ts(self) -> int: ...
    @property
    def close_ts(self) -> int: ...
    @property
    def interval_ms(self) -> int: ...
    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def volume(self) -> float: ...
    @property
    def taker_buy_volume(self) -> float: ...
    @property
    def trades(self) -> int: ...
    @property
    def first_trade_id(self) -> int | None: ...
    @property
    def last_trade_id(self) -> int | None: ...
    @property
    def closed(self) -> bool: ...

@final
class Liquidation:
    """A liquidation order of the venue (Binance ``forceOrder``) as a strategy sees it."""

    @property
    def ts(self) -> int:
        """Local time the strategy sees it (ns)."""
    @property
    def exch_ts(self) -> int: ...
    @property
    def instrument(self) -> int: ...
    @property
    def side(self) -> int:
        """The order's side: +1 BUY (a short was liquidated), -1 SELL (a long)."""
    @property
    def price(self) -> float: ...
    @property
    def qty(self) -> float: ...
    @property
    def avg_price(self) -> float: ...
    @property
    def filled_qty(self) -> float: ...
    @property
    def filled(self) -> bool: ...

@final
class OrderUpdate:
    """An update of one of the strategy's orders."""

    @property
    def kind(self) -> str:
        """``accepted``, ``rejected``, ``filled``, ``modified`` or ``cancelled``."""
    @property
    def client_id(self) -> int: ...
    @property
    def instrument(self) -> int: ...
    @property
    def side(self) -> int:
        """+1 buy, -1 sell."""
    @property
    def ts(self) -> int:
        """Local time the strategy learns of it (ns)."""
    @property
    def exch_ts(self) -> int:
        """Exchange time it happened (ns)."""
    @property
    def price(self) -> float:
        """Fill price, or the order's price (0.0 for a market order)."""
    @property
    def qty(self) -> float:
        """Fill quantity, or the order's quantity."""
    @property
    def remaining(self) -> float:
        """Open quantity after this update."""
    @property
    def maker(self) -> bool: ...
    @property
    def fee(self) -> float: ...
    @property
    def reason(self) -> str:
        """Why the exchange refused it ("" otherwise)."""

@final
class BookView:
    """The strategy's (latency-delayed) view of one instrument's book in a backtest."""

    @property
    def instrument(self) -> int: ...
    @property
    def in_sync(self) -> bool: ...
    def best_bid(self) -> tuple[float, float] | None: ...
    def best_ask(self) -> tuple[float, float] | None: ...
    def mid(self) -> float | None: ...
    def spread(self) -> float | None: ...
    def microprice(self) -> float | None: ...
    def imbalance(self, levels: int = 5) -> float | None: ...
    def levels(self, side: str | int, n: int) -> npt.NDArray[np.float64]: ...
    def qty_at(self, side: str | int, price: float) -> float: ...

@final
class OrderFilters:
    """An instrument's order filters as the venue publishes them (Binance's ``PRICE_FILTER``,
    ``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``MIN_NOTIONAL`` / ``NOTIONAL``, ``PERCENT_PRICE``);
    0 is no bound. ``tradecore.Instrument.filters()`` builds one."""

    def __new__(
        cls,
        *,
        min_price: float = 0.0,
        max_price: float = 0.0,
        min_qty: float = 0.0,
        max_qty: float = 0.0,
        market_min_qty: float = 0.0,
        market_max_qty: float = 0.0,
        market_lot: float = 0.0,
        min_notional: float = 0.0,
        max_notional: float = 0.0,
        min_notional_reduce_only: bool = False,
        percent_up: float = 0.0,
        percent_down: float = 0.0,
    ) -> OrderFilters: ...
    def check(
        self,
        price: float | None,
        qty: float,
        reference: float = 0.0,
        contract_size: float = 1.0,
        inverse: bool = False,
        reduce_only: bool = False,
    ) -> tuple[str, str] | None:
        """None when the order passes, else (filter name, message)."""

@final
class Backtest:
    """The compiled backtest loop (see ``tradecore.backtest``)."""

    def __new__(
        cls,
        instruments: Sequence[tuple[float, float, float, float, bool, float, float]],
        risk: RiskEngine,
        *,
        entry_latency_ns: int = 0,
        response_latency_ns: int = 0,
        entry_samples: npt.NDArray[np.int64] | None = None,
        response_samples: npt.NDArray[np.int64] | None = None,
        seed: int = 0,
        queue: str = "conservative",
        feed_latency_ns: int | None = None,
        clock_offset_ns: int | None = None,
        initial_capital: float = 100_000.0,
        sample_ns: int = 1_000_000_000,
        subscribe_book: bool = False,
        subscribe_trade: bool = False,
        subscribe_orders: bool = False,
        timer_ns: int = 0,
        account: AccountSpec | None = None,
        filters: Sequence[OrderFilters] | None = None,
        subscribe_mark: bool = False,
        subscribe_agg_trade: bool = False,
        subscribe_kline: bool = False,
        subscribe_liquidation: bool = False,
    ) -> Backtest: ...
    def account(self) -> Account:
        """The account now (balances, equity, available, margin used, liquidation prices)."""
    def submit_conditional(
        self, side: int, qty: float, price: float | None, order_type: int, trigger_price: float, trigger_by: str,
        tif: int, reduce_only: bool, close_position: bool, instrument: int, client_id: int | None = None,
    ) -> int | None:
        """A stop or take-profit order (``order_type`` an :class:`OrderType` code); None if
        refused before sending (``last_reject``)."""
    def set_mark(self, instrument: int, price: float) -> None:
        """A mark price: stop and take-profit orders watching the mark act on it, the position is
        valued at it, and a margin account below its maintenance margin is liquidated."""
    def set_next_client_id(self, next: int) -> None:
        """Client ids below ``next`` are taken (a restarted session's earlier orders)."""
    def restore_fill(self, instrument: int, side: int, price: float, qty: float, fee: float) -> None:
        """Books a fill made before this run (a restarted paper session's journal): position,
        PnL, ``fee``, the account and the exchange's position; no order, no fill row, no wake."""
    def fund(self, instrument: int, rate: float, mark_price: float) -> float:
        """Funding of a perpetual at a funding time on the position held now (a long pays a
        positive rate); returns the payment (> 0 paid). Only a margin account pays funding."""
    def run(self, strategy: object, events: _Events) -> None: ...
    def finish(self, strategy: object) -> None: ...
    def set_signal(self, instrument: int, features: FeatureSet, model: Model | None = None, *,
                   raw_score: bool = False) -> None: ...
    def set_timer(self, timer_ns: int) -> None: ...
    def submit(
        self, side: int, qty: float, price: float | None, tif: int, reduce_only: bool, instrument: int,
        client_id: int | None = None,
    ) -> int | None: ...
    def run_feed(self, strategy: object, feed: BinanceFeed, instrument: int) -> int: ...
    def halt(self, reason: str) -> list[int]: ...
    def cancel(self, client_id: int) -> None: ...
    def modify(self, client_id: int, price: float, qty: float) -> bool: ...
    @property
    def refusals(self) -> dict[str, int]:
        """Orders refused before sending so far (risk check and account), by reason code."""
    @property
    def last_reject(self) -> tuple[str, str] | None: ...
    @property
    def now(self) -> int: ...
    @property
    def events(self) -> int: ...
    @property
    def clock_offset_ns(self) -> int | None: ...
    @property
    def trading_state(self) -> str: ...
    def book(self, instrument: int = 0) -> BookView: ...
    def position(self, instrument: int = 0) -> Position: ...
    def equity(self) -> float: ...
    def open_orders(self) -> list[int]: ...
    def order(self, client_id: int) -> tuple[int, int, float, float, float, int] | None: ...
    def results(self) -> dict[str, dict[str, np.ndarray]]:
        """The records as numpy columns: orders, fills, equity, positions and gaps (holes in the
        data: no event for more than 5 min or 10 sample intervals, not sampled)."""

@final
class BinanceEncoder:
    """A Binance API secret (HMAC-SHA256 signing, in Rust): new orders through ``OrderEntry``,
    cancels' signed queries."""

    def __new__(cls, secret: str, *, recv_window_ms: int = 5000) -> BinanceEncoder: ...
    def cancel(self, symbol: str, order_id: str | None, client_order_id: str, ts_ms: int | None = None) -> bytes: ...

@final
class IntentLog:
    """The journal's intent log: a fixed-size file mapped into memory, JSON lines appended."""

    def __new__(cls, path: _Path, size: int) -> IntentLog: ...
    def append(self, line: bytes) -> None: ...
    @property
    def used(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    def reset(self) -> None: ...
    def sync(self) -> None: ...

@final
class OrderEntry:
    """The live order path in one call: grid, risk check, intent, request bytes."""

    def __new__(cls, risk: RiskEngine, log: IntentLog, instruments: list[tuple[str, float, float]]) -> OrderEntry: ...
    def set_native(self, encoder: BinanceEncoder, head: bytes, venue_symbols: list[str], client_prefix: str) -> None: ...
    @property
    def native(self) -> bool: ...
    def place(self, client_id: int, instrument: int, side: int, qty: float, price: float | None, tif: int,
              reduce_only: bool,
              reference: OrderBook | float | None, data_ts: int, in_sync: bool,
              now_ns: int, *, request: bool = True) -> bytes | bool | tuple[str, str]: ...

@final
class Model:
    """A tree ensemble (LightGBM's model text), evaluated in Rust with LightGBM's rules."""

    @staticmethod
    def load(path: _Path, *, features: FeatureSet | _Defined | Sequence[str] | None = None) -> Model:
        """Reads LightGBM's model text from a file. ``features`` declares its inputs (a feature set,
        or the column names in order) when the file does not carry their definition (a model not
        written by ``tradecore train``); they are checked against the file's ``feature_names``
        (and its definition, when it has one): ``FeatureMismatch`` names the first difference."""
    @staticmethod
    def from_string(text: str, *, features: FeatureSet | _Defined | Sequence[str] | None = None) -> Model:
        """Reads LightGBM's model text (``Booster.model_to_string()``); ``features`` as in ``load``."""
    @staticmethod
    def embed_features(text: str, features: FeatureSet | _Defined) -> str:
        """LightGBM's model ``text`` with the definition of ``features`` (whose column names
        are the model's) and its SHA-256 in the header, where LightGBM ignores them."""
    @property
    def features_definition(self) -> str | None:
        """The definition of the feature set the model was trained on (canonical JSON), or
        None for a LightGBM file without one and no declared feature set."""
    @property
    def features_sha256(self) -> str | None:
        """The SHA-256 of ``features_definition``."""
    @property
    def num_features(self) -> int: ...
    @property
    def outputs(self) -> int: ...
    @property
    def num_trees(self) -> int: ...
    @property
    def feature_names(self) -> list[str]: ...
    @property
    def objective(self) -> str: ...
    def predict_one(self, row: npt.NDArray[np.float64] | Sequence[float], raw_score: bool = False, *,
                    features: FeatureSet | _Defined | None = None) -> float | tuple[float, ...]:
        """One row: a float, or a tuple of one value per class. ``features``: the feature set the
        row comes from, checked against the model once per feature set (``FeatureMismatch``)."""
    def predict(self, matrix: npt.ArrayLike, raw_score: bool = False, *,
                features: FeatureSet | _Defined | None = None) -> npt.NDArray[np.float64]:
        """A matrix (rows x features): one value per row, or rows x classes. ``features`` as in
        ``predict_one``."""

@final
class Prediction:
    """A sample point of a signal: its features and the model's prediction."""

    @property
    def ts(self) -> int: ...
    @property
    def instrument(self) -> int: ...
    @property
    def value(self) -> float: ...
    @property
    def values(self) -> list[float]: ...
    @property
    def features(self) -> list[float]: ...

@final
class ModelSignal:
    """Features and a model over one instrument's live events."""

    def __new__(cls, features: FeatureSet, model: Model | None = None, *, instrument: int = 0,
                raw_score: bool = False) -> ModelSignal: ...
    def on_feed(self, feed: BinanceFeed) -> list[Prediction]: ...
    def on_events(self, events: _Events) -> list[Prediction]: ...
    @property
    def samples(self) -> int: ...
    @property
    def names(self) -> list[str]: ...
