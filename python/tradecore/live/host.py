"""Strategies on live market data: the same :class:`~tradecore.strategy.Strategy` class as in
the backtest, woken by the live feeds (the native Binance feed or the generic ccxt.pro feed).

``on_book`` is called after each depth message is applied to the symbol's book (the book in
Rust, read through the same methods as in the backtest), ``on_trade`` for each trade,
``on_timer`` on the wall clock, and ``ctx.feed_health()`` gives the feed's health (messages,
gaps, resyncs, reconnects, age of the last message). ``ctx.run_model`` runs a feature set
and a model on each message's events in Rust and calls ``on_prediction``. Orders go to the
backend: watch mode (:class:`LiveMarketBackend`) refuses them with ``InvalidInput``; paper
trading (:mod:`tradecore.live.paper`) and real trading (:mod:`tradecore.live.trading`) place
them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradecore._core import Account, ModelSignal, Position
from tradecore.errors import DataError, InvalidInput
from tradecore.events import Kind
from tradecore.instrument import STANDARD_FEES, Instrument, kind_of_venue, known_instrument
from tradecore.live.feed import BinanceMarketData, FeedHealth, SymbolBook
from tradecore.strategy import Context, Strategy

if TYPE_CHECKING:
    from tradecore import _core
    from tradecore._core import Model
    from tradecore.live.ccxt_feed import CcxtBook, CcxtMarketData

    MarketData = BinanceMarketData | CcxtMarketData

_log = logging.getLogger("tradecore.live.host")
_NO_GATEWAY = "[trading] mode is 'watch' (market data only): use mode 'paper' or 'real' to trade"
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

    def __init__(self, md: MarketData) -> None:
        self.md = md
        self.symbols = list(md.books)
        self.timer_ns = 0
        self._timer_changed = asyncio.Event()
        self.signals: dict[str, ModelSignal] = {}
        """In-loop signals by feed symbol (``ctx.run_model``)."""

    @property
    def now(self) -> int:
        return time.time_ns()

    @property
    def last_reject(self) -> tuple[str, str] | None:
        return None

    @property
    def trading_state(self) -> str:
        return "watch"

    def _book(self, instrument: int) -> SymbolBook | CcxtBook:
        try:
            return self.md.books[self.symbols[instrument]]
        except IndexError:
            raise InvalidInput(f"invalid instrument: {instrument} (0..{len(self.symbols) - 1})") from None

    def book(self, instrument: int = 0) -> Any:
        return self._book(instrument).book

    def feed_health(self, instrument: int = 0) -> FeedHealth:
        return self._book(instrument).health

    def submit(self, side: int, qty: float, price: float | None, tif: int, reduce_only: bool, instrument: int,
               client_id: int | None = None) -> int | None:
        raise InvalidInput(f"invalid order: {_NO_GATEWAY}")

    def submit_conditional(self, side: int, qty: float, price: float | None, order_type: int, trigger_price: float,
                           trigger_by: str, tif: int, reduce_only: bool, close_position: bool, instrument: int,
                           client_id: int | None = None) -> int | None:
        raise InvalidInput(f"invalid order: {_NO_GATEWAY}")

    def cancel(self, client_id: int) -> None:
        raise InvalidInput(f"invalid cancel: {_NO_GATEWAY}")

    def modify(self, client_id: int, price: float, qty: float) -> bool:
        raise InvalidInput(f"invalid modify: {_NO_GATEWAY}")

    def position(self, instrument: int = 0) -> Position:
        self._book(instrument)
        return Position(0.0, 0.0, 0.0, 0.0, 0.0)  # no gateway, no orders, no position

    def account(self) -> Account:
        raise InvalidInput(f"invalid account: {_NO_GATEWAY}")

    def equity(self) -> float:
        return 0.0

    def open_orders(self) -> list[int]:
        return []

    def order(self, client_id: int) -> tuple[int, int, float, float, float, int] | None:
        return None

    def set_timer(self, timer_ns: int) -> None:
        self.timer_ns = timer_ns
        self._timer_changed.set()

    def set_signal(self, instrument: int, features: _core.FeatureSet, model: Model | None = None, *,
                   raw_score: bool = False) -> None:
        b = self._book(instrument)
        if not isinstance(b, SymbolBook):
            raise InvalidInput("invalid feed for ctx.run_model: the ccxt feed gives books, not the event stream the "
                               "features are computed on (use the native Binance feed)")
        if b.health.messages > 0:
            raise InvalidInput(f"invalid signal: set after {b.health.messages} messages (set it before the first, "
                               "in on_start: its features start from the feed's start)")
        self.signals[b.symbol] = ModelSignal(features, model, instrument=instrument, raw_score=raw_score)


#: The fee venue of a ccxt exchange id (its market's standard tier in ``STANDARD_FEES``).
CCXT_VENUES = {"binance": "binance-spot", "binanceusdm": "binance-usdm", "binancecoinm": "binance-coinm",
               "bybit": "bybit"}


def default_instruments(md: MarketData, fees: Mapping[str, tuple[float, float]] | None = None) -> list[Instrument]:
    """The instruments of a feed's symbols: the venue's spec where known (the bundled snapshot
    of its exchangeInfo, or what the runner loaded from the venue), its tick and lot sizes
    checked against the feed's; fees from ``fees`` (by feed symbol), else the venue's standard
    tier (a venue without one needs them given)."""
    from tradecore.live.ccxt_feed import CcxtMarketData

    if isinstance(md, CcxtMarketData):  # a unified symbol "BTC/USDT:USDT" is instrument "BTCUSDT:USDT"
        venue, names = f"ccxt-{md.exchange.id}", {s: s.replace("/", "") for s in md.sizes}
        spec_venue = CCXT_VENUES.get(str(md.exchange.id))
    else:
        venue, names = f"binance-{md.market}", {s: s for s in md.sizes}
        spec_venue = venue
    out = []
    for s, (t, lt) in md.sizes.items():
        name = names[s]
        given = (fees or {}).get(s)
        fee_fields: dict[str, Any] = {}
        if given is not None:
            fee_fields = {"maker_fee": repr(given[0]), "taker_fee": repr(given[1]), "fee_source": "the config"}
        known = known_instrument(spec_venue, name) if spec_venue and venue == spec_venue else None
        if known is not None:
            if Decimal(known.tick_size) != Decimal(repr(t)) or Decimal(known.lot_size) != Decimal(repr(lt)):
                raise InvalidInput(f"invalid sizes of {name}: tick {t!r}, lot {lt!r} configured, the venue's are "
                                   f"tick {known.tick_size}, lot {known.lot_size} ({known.source})")
            out.append(known.with_fields(**fee_fields) if fee_fields else known)
            continue
        kind = kind_of_venue(spec_venue or venue, name)
        if given is None and spec_venue is not None and (spec_venue, kind) in STANDARD_FEES:
            maker, taker, source = STANDARD_FEES[(spec_venue, kind)]
            fee_fields = {"maker_fee": maker, "taker_fee": taker, "fee_source": source}
        try:
            out.append(Instrument(venue, name, repr(t), repr(lt), kind=kind, **fee_fields))
        except InvalidInput as e:
            raise InvalidInput(f"{e} (set maker_fee and taker_fee in [symbols.{s}])") from None
    return out


class StrategyHost:
    """Runs a strategy on a :class:`BinanceMarketData` (set as its ``on_frame``) or a
    :class:`~tradecore.live.ccxt_feed.CcxtMarketData` (set as its ``on_update`` and ``on_trade``)."""

    def __init__(self, strategy: Strategy, md: MarketData, log: logging.Logger | None = None,
                 backend: LiveMarketBackend | None = None, instruments: Sequence[Instrument] | None = None) -> None:
        from tradecore.live.ccxt_feed import CcxtMarketData

        self.strategy = strategy
        self.md = md
        self.backend = backend or LiveMarketBackend(md)
        insts = list(instruments) if instruments is not None else default_instruments(md)
        strategy.ctx = Context(self.backend, insts,
                               log or logging.getLogger(f"tradecore.strategy.{type(strategy).__name__}"))
        self._index = {s: i for i, s in enumerate(md.books)}
        self._on_book = strategy.on_book if strategy.wants("on_book") else None
        self._on_trade = strategy.on_trade if strategy.wants("on_trade") else None
        self.calls = 0
        self.error: Exception | None = None
        if isinstance(md, CcxtMarketData):
            md.on_update = self.on_ccxt_book
            md.on_trade = self.on_ccxt_trade
        else:
            md.on_frame = self.on_frame

    def on_frame(self, b: SymbolBook, frame: bytes, ts: int) -> None:
        """Wakes the strategy for a frame just applied."""
        signal = self.backend.signals.get(b.symbol) if self.backend.signals else None
        predictions = None
        if signal is not None:
            try:
                predictions = signal.on_feed(b.feed)  # features + model, in Rust
            except DataError as err:  # a message the feed's book refused too (counted there)
                _log.warning("%s: message skipped by the model's features: %s", b.symbol, err)
        if not b.health.in_sync:
            return  # never acts on a book that is out of sync (set from the feed just before)
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
        if predictions:  # after the book or trade callback of the same message, as in the backtest
            for p in predictions:
                self.calls += 1
                self.strategy.on_prediction(p)

    def on_ccxt_book(self, b: CcxtBook) -> None:
        """Wakes the strategy for a ccxt order-book update just mirrored."""
        if self._on_book is not None and b.health.in_sync:
            self.calls += 1
            self._on_book(b.book)

    def on_ccxt_trade(self, b: CcxtBook, t: dict[str, Any]) -> None:
        """Wakes the strategy for a ccxt trade (a unified trade dict)."""
        if self._on_trade is None or not b.health.in_sync:
            return
        self.calls += 1
        side = 1 if t.get("side") == "buy" else -1  # the aggressor's side, as in the Rust events
        tid = t.get("id")
        self._on_trade(LiveTrade(time.time_ns(), int(t.get("timestamp") or 0) * 1_000_000, float(t["price"]),
                                 float(t["amount"]), side, self._index[b.symbol],
                                 int(tid) if tid is not None and str(tid).isdigit() else 0))

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
