"""Other exchanges through ccxt.pro, behind the same interface as the native Binance feed.

:class:`CcxtMarketData` watches the order book (``watch_order_book``) and the trades
(``watch_trades``) of each symbol with ccxt.pro and mirrors them into a tradecore
``OrderBook`` per symbol, with the same :class:`~tradecore.live.feed.FeedHealth`; code that
reads ``md.books[symbol].book`` and ``.health`` works with either feed. ccxt does the
exchange's own sync procedure. This is the generic path: each update rebuilds the mirrored
levels (``depth`` a side) in Python, so it is much slower than the native feed (see the
README's performance table for ccxt.pro's own cost per frame).

::

    md = CcxtMarketData("bybit", {"BTC/USDT:USDT": (0.1, 0.001)})
    await md.run()       # until md.stop()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from tradecore._core import OrderBook
from tradecore.errors import InvalidInput
from tradecore.live.feed import Backoff, FeedHealth

log = logging.getLogger("tradecore.live.ccxt")


class CcxtBook:
    """One symbol's mirrored book and health (the attributes of the native ``SymbolBook``)."""

    def __init__(self, symbol: str, tick_size: float, lot_size: float) -> None:
        self.symbol = symbol
        self.book = OrderBook(tick_size=tick_size, lot_size=lot_size)
        self.health = FeedHealth(symbol)
        self.trades = 0


OnUpdate = Callable[[CcxtBook], None]


class CcxtMarketData:
    """Books of several symbols of one ccxt.pro exchange (see the module documentation).

    Args:
        exchange: A ccxt.pro exchange id (``bybit``, ``okx``, ``binanceusdm``...) or instance.
        symbols: {unified symbol: (tick_size, lot_size)}.
        depth: Levels a side mirrored into the tradecore book.
        trades: Also watch trades (counted in the health; ``on_trade`` gets them).
        config: ccxt options for a new instance (keys, ``urls`` overrides...).
        on_update: Called after each book update.
        on_trade: Called with (book, ccxt trade dict) for each trade.
    """

    def __init__(self, exchange: str | Any, symbols: dict[str, tuple[float, float]], *, depth: int = 100,
                 trades: bool = True, config: dict[str, Any] | None = None, on_update: OnUpdate | None = None,
                 on_trade: Callable[[CcxtBook, dict[str, Any]], None] | None = None,
                 backoff: Backoff | None = None) -> None:
        import ccxt.pro as ccxtpro

        if isinstance(exchange, str):
            cls = getattr(ccxtpro, exchange, None)
            if cls is None:
                raise InvalidInput(f"invalid exchange: {exchange!r} (not a ccxt.pro exchange id)")
            self.exchange = cls(dict(config or {}))
        else:
            self.exchange = exchange
        if not symbols:
            raise InvalidInput("invalid symbols: none given")
        if depth < 1:
            raise InvalidInput(f"invalid depth: {depth} (must be >= 1)")
        self.sizes = dict(symbols)
        self.books = {s: CcxtBook(s, *v) for s, v in symbols.items()}
        self.depth = depth
        self.watch_trades = trades
        self.on_update = on_update
        self.on_trade = on_trade
        self.backoff = backoff or Backoff()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Asks :meth:`run` to return."""
        self._stop.set()

    async def run(self) -> None:
        """Watches every symbol until :meth:`stop`; errors are retried with backoff."""
        tasks = [asyncio.ensure_future(self._books(b)) for b in self.books.values()]
        if self.watch_trades:
            tasks += [asyncio.ensure_future(self._trades(b)) for b in self.books.values()]
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.exchange.close()

    async def _retry(self, b: CcxtBook, what: str, e: Exception) -> None:
        b.health.reconnects += 1
        b.health.in_sync = False
        delay = self.backoff.next_delay()
        log.warning("%s %s: %s; retrying in %.2f s", b.symbol, what, e, delay)
        await asyncio.sleep(delay)

    async def _books(self, b: CcxtBook) -> None:
        while True:
            try:
                ob = await self.exchange.watch_order_book(b.symbol, None)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # ccxt raises its own NetworkError family and others
                await self._retry(b, "order book", e)
                continue
            self.backoff.reset()
            now = time.time_ns()
            book = b.book
            book.clear()
            for price, qty, *_ in ob["bids"][: self.depth]:
                book.set_level("bid", price, qty)
            for price, qty, *_ in ob["asks"][: self.depth]:
                book.set_level("ask", price, qty)
            h = b.health
            h.messages += 1
            h.last_message_ns = now
            h.in_sync = True
            if self.on_update is not None:
                self.on_update(b)

    async def _trades(self, b: CcxtBook) -> None:
        while True:
            try:
                trades = await self.exchange.watch_trades(b.symbol)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                await self._retry(b, "trades", e)
                continue
            b.trades += len(trades)
            b.health.last_message_ns = time.time_ns()
            if self.on_trade is not None:
                for t in trades:
                    self.on_trade(b, t)
