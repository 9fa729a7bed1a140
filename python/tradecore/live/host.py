"""Strategies on live market data: the same :class:`~tradecore.strategy.Strategy` class as in
the backtest, woken by the live feeds.

``on_book`` is called after each depth message is applied to the symbol's book (the book in
Rust, read through the same methods as in the backtest), ``on_trade`` for each trade,
``on_timer`` on the wall clock, and ``ctx.feed_health()`` gives the feed's health (messages,
gaps, resyncs, reconnects, age of the last message). Order gateways (paper and real) are not
connected yet: ``buy``/``sell``/``modify``/``cancel`` raise ``InvalidInput`` saying so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from tradecore.errors import InvalidInput
from tradecore.events import Kind
from tradecore.live.feed import BinanceMarketData, FeedHealth, SymbolBook
from tradecore.strategy import Context, Strategy

_NO_GATEWAY = "no order gateway is connected to the live runner yet (the paper and real gateways come next)"
_TRADE = int(Kind.TRADE)


@dataclass(frozen=True)
class LiveTrade:
    """A live trade, with the attributes of the backtest's ``Trade``."""

    ts: int
    exch_ts: int
    price: float
    qty: float
    side: int
    instrument: int
    trade_id: int


class LiveMarketBackend:
    """The :class:`~tradecore.strategy.Backend` of a strategy on live market data."""

    def __init__(self, md: BinanceMarketData) -> None:
        self.md = md
        self.symbols = list(md.books)
        self.timer_ns = 0
        self._timer_changed = asyncio.Event()

    @property
    def now(self) -> int:
        return time.time_ns()

    @property
    def last_reject(self) -> tuple[str, str] | None:
        return None

    @property
    def trading_state(self) -> str:
        return "no_gateway"

    def _book(self, instrument: int) -> SymbolBook:
        try:
            return self.md.books[self.symbols[instrument]]
        except IndexError:
            raise InvalidInput(f"invalid instrument: {instrument} (0..{len(self.symbols) - 1})") from None

    def book(self, instrument: int = 0) -> Any:
        return self._book(instrument).book

    def feed_health(self, instrument: int = 0) -> FeedHealth:
        return self._book(instrument).health

    def submit(self, side: int, qty: float, price: float, tif: int, reduce_only: bool, instrument: int,
               client_id: int | None = None) -> int | None:
        raise InvalidInput(f"invalid order: {_NO_GATEWAY}")

    def cancel(self, client_id: int) -> None:
        raise InvalidInput(f"invalid cancel: {_NO_GATEWAY}")

    def modify(self, client_id: int, price: float, qty: float) -> bool:
        raise InvalidInput(f"invalid modify: {_NO_GATEWAY}")

    def position(self, instrument: int = 0) -> tuple[float, float, float, float, float]:
        self._book(instrument)
        return (0.0, 0.0, 0.0, 0.0, 0.0)  # no gateway, no orders, no position

    def equity(self) -> float:
        return 0.0

    def open_orders(self) -> list[int]:
        return []

    def order(self, client_id: int) -> tuple[int, int, float, float, float, int] | None:
        return None

    def set_timer(self, timer_ns: int) -> None:
        self.timer_ns = timer_ns
        self._timer_changed.set()


class StrategyHost:
    """Runs a strategy on a :class:`BinanceMarketData` (set as its ``on_frame``)."""

    def __init__(self, strategy: Strategy, md: BinanceMarketData, log: logging.Logger | None = None) -> None:
        from tradecore.instrument import Instrument

        self.strategy = strategy
        self.md = md
        self.backend = LiveMarketBackend(md)
        insts = [Instrument(f"binance-{md.market}", s, repr(t), repr(lt)) for s, (t, lt) in md.sizes.items()]
        strategy.ctx = Context(self.backend, insts,
                               log or logging.getLogger(f"tradecore.strategy.{type(strategy).__name__}"))
        self._index = {s: i for i, s in enumerate(md.books)}
        self._on_book = strategy.on_book if strategy.wants("on_book") else None
        self._on_trade = strategy.on_trade if strategy.wants("on_trade") else None
        self.calls = 0
        self.error: Exception | None = None
        md.on_frame = self.on_frame

    def on_frame(self, b: SymbolBook, frame: bytes, ts: int) -> None:
        """Wakes the strategy for a frame just applied."""
        if not b.feed.in_sync:
            return  # never acts on a book that is out of sync
        at = frame.find(b"@", 11) + 1
        kind = frame[at:at + 5]
        if kind == b"depth" and self._on_book is not None:
            self.calls += 1
            self._on_book(b.book)
        elif kind == b"trade" and self._on_trade is not None:
            ev = b.feed.last_events()
            inst = self._index[b.symbol]
            for e in ev[ev["kind"] == _TRADE]:
                self.calls += 1
                self._on_trade(LiveTrade(ts, int(e["exch_ts"]), float(e["price"]) / 1e9, float(e["qty"]) / 1e9,
                                         int(e["side"]), inst, int(e["trade_id"])))

    async def run_timers(self) -> None:
        """Calls ``on_timer`` every ``ctx.set_timer`` interval of wall-clock time."""
        be = self.backend
        while True:
            if be.timer_ns <= 0:
                be._timer_changed.clear()
                await be._timer_changed.wait()
                continue
            now = time.time_ns()
            due = now - now % be.timer_ns + be.timer_ns
            await asyncio.sleep((due - now) / 1e9)
            try:
                self.strategy.on_timer(due)
            except Exception as e:  # stops the runner, which raises it
                self.error = e
                self.md.stop()
                return
