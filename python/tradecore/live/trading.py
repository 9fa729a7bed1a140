"""Real trading: the strategy's :class:`~tradecore.strategy.Backend` over an order gateway, the
pre-trade risk engine, the journal and the portfolio.

Every order passes :class:`~tradecore.risk.RiskEngine` (in Rust) before anything else; a
refused one is journaled as ``refused`` and never sent. An accepted one is written to the
journal (``pending``) before it is handed to the gateway; every answer, state change and fill
is written before the strategy hears of it (``on_order``, ``on_fill``) and before the position
moves. The gateway's guarantees (idempotent client ids, unknown outcomes resolved by a query,
rate limits) are in :mod:`tradecore.live.gateway`.

On start, :meth:`TradingBackend.reconcile` compares the journal with the exchange: orders the
journal has open (or was sending when it stopped), the exchange's open orders, fills made while
the runner was down, and the position; each difference is reported (logged, returned and
journaled) and the journal is brought to the exchange's state. An order that was written but
is unknown to the exchange was never placed: it is closed, not sent again.

Statuses only move forward (``tradecore.OrderStatus.can_become``: pending -> unknown -> open ->
a final status, which is never left). Every status change goes through
:meth:`TradingBackend._set_status`; a report that would move an order back (a late answer, a
duplicate, a stale poll) is ignored, logged and journaled as a ``status_ignored`` event. At a
graceful stop (:meth:`TradingBackend.stop`) the orders the journal still has open are asked for
and brought to the exchange's final state before any cancel: a filled order is booked filled,
never cancelled.

Client order ids are ``<prefix><session>.<client id>`` (:mod:`tradecore.live.gateway`); each
backend is one session (:mod:`tradecore.live.session`), recorded in the journal. An order or
fill of a session the journal does not have is foreign: never adopted, never booked.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tradecore._core import Account, OrderEntry, OrderStatus, OrderTracker, Position
from tradecore.errors import InvalidInput
from tradecore.instrument import Instrument
from tradecore.live.gateway import (
    MAX_CLIENT_ID,
    CcxtGateway,
    GatewayError,
    NotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    VenueFill,
    VenueOrder,
)
from tradecore.live.host import LiveMarketBackend
from tradecore.live.journal import CONDITIONAL_NAMES, FillRecord, Journal, OrderRecord
from tradecore.live.session import new_session_id
from tradecore.risk import Portfolio, RiskEngine, RiskLimits
from tradecore.strategy import Strategy

if TYPE_CHECKING:
    from tradecore.live.host import MarketData

log = logging.getLogger("tradecore.live.trading")

_SIDE = {1: "buy", -1: "sell"}

#: The stop and take-profit ``OrderType`` codes and their names (the journal's ``order_type``).
_CONDITIONAL = CONDITIONAL_NAMES

#: Orders kept in memory; past it, the oldest finished ones are read from the journal.
MAX_ORDERS_IN_MEMORY = 50_000



@dataclass(frozen=True)
class LiveOrderUpdate:
    """An update of one of the strategy's orders, with the attributes of the backtest's
    ``OrderUpdate``."""

    kind: str
    """``accepted``, ``rejected``, ``filled``, ``modified`` or ``cancelled``."""
    client_id: int
    instrument: int
    side: int
    ts: int
    exch_ts: int
    price: float
    qty: float
    remaining: float
    maker: bool = False
    fee: float = 0.0
    reason: str = ""


class TradingBackend(LiveMarketBackend):
    """The strategy's backend in real trading (see the module documentation).

    Args:
        md: The live feed (books and health).
        gateway: The order gateway.
        journal: The journal.
        instruments: One per feed symbol, in its order.
        limits: Pre-trade limits.
        initial_capital: Equity before PnL (for the daily loss and drawdown limits).
        unknown_retries: Queries of an order whose outcome is unknown before it is given up
            as never placed.
        retry_delay_s: First delay between those queries (doubling, at most 5 s).
        session: This trading session's id (:func:`tradecore.live.session.new_session_id`; a
            new one by default), recorded in the journal.
    """

    def __init__(self, md: MarketData, gateway: CcxtGateway, journal: Journal, instruments: Sequence[Instrument], *,
                 limits: RiskLimits | None = None, initial_capital: float = 0.0, unknown_retries: int = 8,
                 retry_delay_s: float = 0.2, session: str | None = None) -> None:
        super().__init__(md)
        if [i.symbol for i in instruments] != self.symbols:
            raise InvalidInput(f"invalid instruments: {[i.symbol for i in instruments]} (one per feed symbol, in "
                               f"its order: {self.symbols})")
        self.gateway = gateway
        self.journal = journal
        self.session = session or new_session_id()
        journal.add_session(self.session, os.getpid())
        use = getattr(gateway, "use_sessions", None)
        if use is not None:
            use(self.session, journal.sessions())
        self.instruments = list(instruments)
        self.risk = RiskEngine(limits or RiskLimits())
        self.portfolio = Portfolio(initial_capital)
        for i in self.instruments:
            self.risk.add_instrument(contract_size=float(i.contract_size), inverse=i.kind == "inverse")
            self.portfolio.add_instrument(kind=i.kind, contract_size=float(i.contract_size),
                                          maker_fee=float(i.maker_fee), taker_fee=float(i.taker_fee))
        self._ticks = [float(i.tick_size) for i in self.instruments]
        self._lots = [float(i.lot_size) for i in self.instruments]
        self._books = [md.books[s] for s in self.symbols]
        self._n = len(self._books)
        self._entry = OrderEntry(self.risk, journal.intents, [(s, float(i.tick_size), float(i.lot_size))
                                                             for s, i in zip(self.symbols, self.instruments)])
        self._wire_pending = True
        self._index = {s: k for k, s in enumerate(self.symbols)}
        self.orders: dict[int, OrderRecord] = {}
        self._open: list[int] = []
        self._by_venue: dict[str, int] = {}
        self._next_id = journal.next_client_id()
        self._last_reject: tuple[str, str] | None = None
        self.unknown_retries = unknown_retries
        self.retry_delay_s = retry_delay_s
        self.strategy: Strategy | None = None
        self.error: Exception | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.foreign_fills = 0
        self.tracker = OrderTracker()
        """The core's order lifecycle (the replay's): every status change and fill of an order
        is decided there; ``orders`` keep what the journal and the gateway need, in step."""
        self._ignored: set[tuple[int, str]] = set()
        """(client id, reported status) of reports ignored already (journaled once)."""
        self.differences: list[str] = []
        self._last_fill_ms = int(journal.meta("last_fill_ms") or 0)
        self._flush_pending = False

    # -- the Backend protocol ---------------------------------------------------------------

    @property
    def last_reject(self) -> tuple[str, str] | None:
        return self._last_reject

    @property
    def trading_state(self) -> str:
        return str(self.risk.state)

    def submit(self, side: int, qty: float, price: float | None, tif: int, reduce_only: bool, instrument: int,
               client_id: int | None = None, trigger: tuple[str, float, str, bool] | None = None) -> int | None:
        # The tick-to-order path: one call into Rust (grid, risk check, the intent into the
        # intent log, on the native path the request's bytes), the bytes to the socket, then
        # the bookkeeping. ``trigger``: a stop or take-profit order's (type name, trigger
        # price, trigger_by, close_position); it is checked as the market or limit order it
        # becomes, and goes through ccxt (the native request carries LIMIT and MARKET only).
        if not 0 <= instrument < self._n:
            raise InvalidInput(f"invalid instrument: {instrument} (0..{self._n - 1})")
        if client_id is None:
            cid = self._next_id
        else:
            cid = client_id
            if cid in self.orders or cid < self._next_id and self.journal.order(cid):
                raise InvalidInput(f"invalid client_id: {cid} (already used; ids are never reused)")
            if not 0 < cid <= MAX_CLIENT_ID:
                raise InvalidInput(f"invalid client_id: {cid} (1..{MAX_CLIENT_ID}: the client order id must fit "
                                   "the exchange's 36 characters)")
        if self._wire_pending:
            self._set_up_wire()
        b = self._books[instrument]
        h = b.health
        now = time.time_ns()
        if trigger is None:
            r = self._entry.place(cid, instrument, side, qty, price, tif, reduce_only, b.book, h.last_message_ns,
                                  h.in_sync, now)
        else:
            r = self._entry.place(cid, instrument, side, qty, price, tif, reduce_only, b.book, h.last_message_ns,
                                  h.in_sync, now, request=False)
        sym = self.symbols[instrument]
        answer: Awaitable[VenueOrder] | None = None
        if r.__class__ is bytes:
            try:
                answer = self.gateway.send_order(cid, r, sym)  # native: on the wire now
            except Exception as e:  # the intent is logged: an unknown outcome, found by a query
                answer = _failed(OutcomeUnknown(f"order {cid}: {type(e).__name__}: {e}"))
        self._next_id = max(self._next_id, cid + 1)
        refused = r if isinstance(r, tuple) else None
        rec = OrderRecord(cid, instrument, sym, side, 0.0 if price is None else price, qty, tif, reduce_only,
                          "pending" if refused is None else "refused",
                          reason="" if refused is None else f"{refused[0]}: {refused[1]}", created_ns=now, updated_ns=now,
                          session=self.session)
        if trigger is not None:
            rec.order_type, rec.trigger_price, rec.trigger_by, rec.close_position = trigger
        self.journal.logged(rec)
        self._flush_soon()
        self.orders[cid] = rec
        self._track(rec)  # after the bytes are out: pending (or refused) in the core's lifecycle
        if refused is not None:
            self._last_reject = refused
            return None
        if answer is None:
            answer = self.gateway.start_place(rec) if trigger is None else self.gateway.place(rec)
        self._open.append(cid)
        self._spawn(self._place(rec, answer))
        return cid

    def _set_up_wire(self) -> None:
        """The native path's request, built in Rust, once the gateway is connected."""
        native = getattr(self.gateway, "native_order_path", None)
        wire = native() if native is not None else None
        if wire is not None:
            self._entry.set_native(*wire)
        self._wire_pending = wire is None and bool(getattr(self.gateway, "native", False))  # not connected yet

    def _flush_soon(self) -> None:
        """The intents' SQLite rows, after this turn's requests are on the wire."""
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self.journal.flush()
        if len(self.orders) > MAX_ORDERS_IN_MEMORY:  # the oldest finished ones stay in the journal only
            for cid in [c for c, o in self.orders.items() if not o.is_open][:len(self.orders) // 2]:
                del self.orders[cid]

    def cancel(self, client_id: int) -> None:
        rec = self._open_order(client_id)
        self._spawn(self._cancel(rec, self.gateway.start_cancel(rec)))
        self.journal.event("cancel_requested", "", client_id)

    def modify(self, client_id: int, price: float, qty: float) -> bool:
        rec = self._open_order(client_id)
        i = rec.instrument
        _on_grid("price", price, self._ticks[i])
        _on_grid("qty", qty, self._lots[i])
        b = self._book(i)
        self.risk.on_market(i, b.book.mid(), b.health.last_message_ns or time.time_ns(), b.health.in_sync)
        d = self.risk.check(client_id, i, _SIDE[rec.side], qty, price,
                            reduce_only=rec.reduce_only, modify=True)
        if not d:
            self._last_reject = (str(d.code), d.message)
            return False
        self.journal.event("modify_requested", {"price": price, "qty": qty}, client_id)
        before = (rec.price, rec.qty)
        rec.price, rec.qty = price, rec.filled + qty  # ``qty`` is the new open quantity
        self._sync_order(rec)
        self._spawn(self._modify(rec, price, rec.qty, before))
        return True

    def position(self, instrument: int = 0) -> Position:
        self._mark(instrument)
        return self.portfolio.position(instrument)

    def submit_conditional(self, side: int, qty: float, price: float | None, order_type: int, trigger_price: float,
                           trigger_by: str, tif: int, reduce_only: bool, close_position: bool, instrument: int,
                           client_id: int | None = None) -> int | None:
        """A stop or take-profit order: checked (grid, the risk engine, as the market or limit
        order it becomes once triggered), journaled with its type and trigger before it is
        sent, then placed through ccxt's ``create_order`` (Binance: the Algo Service's
        conditional order, ``STOP``/``STOP_MARKET``/``TAKE_PROFIT``/``TAKE_PROFIT_MARKET``
        with its trigger price, ``workingType``, ``closePosition``, ``reduceOnly``,
        ``timeInForce``), on the native gateway too. Its fills and statuses come as any
        order's. ``close_position``: reduce-only, ``qty`` is what the risk check counts."""
        name = _CONDITIONAL.get(order_type)
        if name is None:
            raise InvalidInput(f"invalid order_type: {order_type} (a stop or take-profit type, 2..5)")
        if name.endswith("_limit") != (price is not None):
            raise InvalidInput(f"invalid price: {price} (a {name} order "
                               f"{'needs a limit price' if price is None else 'has no limit price'})")
        if trigger_by not in ("last", "mark"):
            raise InvalidInput(f"invalid trigger_by: {trigger_by!r} (must be 'last' or 'mark')")
        if not (math.isfinite(trigger_price) and trigger_price > 0):
            raise InvalidInput(f"invalid trigger_price: {trigger_price} (must be > 0)")
        if 0 <= instrument < self._n:
            _on_grid("trigger_price", trigger_price, self._ticks[instrument])
        return self.submit(side, qty, price, tif, reduce_only or close_position, instrument, client_id,
                           (name, trigger_price, trigger_by, close_position))

    def account(self) -> Account:
        # The exchange keeps a real account: reading its balances and margin into ctx is not
        # built yet; the backtest and paper trading have theirs.
        raise InvalidInput("invalid account: ctx.account() is not available in real trading yet (the exchange's "
                           "balances and margin are not read into it); positions and equity are")

    def equity(self) -> float:
        for i in range(len(self.symbols)):
            self._mark(i)
        return float(self.portfolio.equity)

    def open_orders(self) -> list[int]:
        return list(self._open)

    def order(self, client_id: int) -> tuple[int, int, float, float, float, int] | None:
        o = self.orders.get(client_id) or self.journal.order(client_id)
        if o is None:
            return None
        return (o.instrument, o.side, o.price, o.qty, o.filled, int(OrderStatus.of(o.status)))

    # -- kill switch and risk ---------------------------------------------------------------

    def halt(self, reason: str) -> list[int]:
        """The kill switch: no new order passes the risk engine, every open order is cancelled."""
        self.risk.halt(reason)
        return self._cancel_all(reason)

    def check_equity(self) -> None:
        """The risk engine's own halt (daily loss, drawdown): called about once a second."""
        if self.risk.on_equity(self.equity()) is not None:
            self._cancel_all(f"risk: {self.risk.halt_reason}")

    def _cancel_all(self, reason: str) -> list[int]:
        """After a halt: a cancel of every open order (those still being placed included)."""
        self.journal.event("halt", reason)
        ids = [c for c in self._open if self.orders[c].is_open]
        for cid in ids:
            rec = self.orders[cid]
            self._spawn(self._cancel(rec, self.gateway.start_cancel(rec)))
        log.warning("trading halted (%s): cancelling %d open order(s)", reason, len(ids))
        return ids

    # -- gateway results --------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _place(self, rec: OrderRecord, answer: Awaitable[VenueOrder]) -> None:
        try:
            v = await answer
        except (RateLimited, OrderRejected) as e:
            self._close(rec, "rejected", str(e), "rejected")
        except OutcomeUnknown as e:
            await self._unknown(rec, str(e))
        else:
            self.on_venue_order(v, rec)

    async def _unknown(self, rec: OrderRecord, why: str) -> None:
        """Resolves an unknown outcome by asking for the order (never by sending it again)."""
        if not self._set_status(rec, "unknown", reason=why, source="answer"):
            return  # a late answer: the stream already said what became of the order
        log.warning("order %d: outcome unknown (%s); querying it", rec.client_id, why)
        delay = self.retry_delay_s
        for _ in range(self.unknown_retries):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            try:
                v = await self.gateway.query(rec)
            except (OutcomeUnknown, RateLimited, OrderRejected) as e:
                log.warning("order %d: query failed (%s)", rec.client_id, e)
                continue
            if v is not None:
                self.on_venue_order(v, rec)
                return
        if rec.status == "unknown":
            self._close(rec, "rejected", f"not at the exchange after an unknown outcome ({why}); not resent",
                        "rejected", source="query")

    async def _cancel(self, rec: OrderRecord, answer: Awaitable[VenueOrder]) -> None:
        try:
            v = await answer
        except (OrderRejected, NotFound, OutcomeUnknown, RateLimited) as e:
            log.warning("cancel of %d: %s; querying the order", rec.client_id, e)
            try:
                q = await self.gateway.query(rec)
            except (OutcomeUnknown, RateLimited, OrderRejected, NotFound):
                return
            if q is not None:
                self.on_venue_order(q, rec)
            return
        self.on_venue_order(v, rec)

    async def _modify(self, rec: OrderRecord, price: float, qty: float, before: tuple[float, float]) -> None:
        """``rec`` already shows the new price and quantity (the strategy sees what it asked
        for); a refusal puts the old ones back."""
        try:
            v = await self.gateway.modify(rec, price, qty)
        except (OrderRejected, NotFound, OutcomeUnknown, RateLimited) as e:
            if "-5027" in str(e):  # "No need to modify the order": it already has these values
                return
            log.warning("modify of %d: %s", rec.client_id, e)
            rec.price, rec.qty = before
            self._sync_order(rec)
            if rec.is_open and rec.remaining > 0:
                self.risk.restore_open(rec.client_id, rec.instrument, _SIDE[rec.side],
                                       rec.remaining, rec.price or None, reduce_only=rec.reduce_only)
            self._notify("rejected", rec, reason=f"modify refused: {e}")
            return
        if not self._set_status(rec, "open", venue_order_id=v.venue_order_id or None, price=rec.price, qty=rec.qty,
                                source="modify", quiet=True):
            self.journal.update(rec.client_id, rec.status, venue_order_id=v.venue_order_id or None, price=rec.price,
                                qty=rec.qty)
        self._notify("modified", rec, price=rec.price, qty=rec.remaining)
        self.on_venue_order(v, rec)

    def on_venue_order(self, v: VenueOrder, rec: OrderRecord | None = None) -> None:
        """An order update from the exchange (an answer, the user stream or the poll)."""
        if rec is None:
            cid = v.client_id if v.client_id is not None else self._by_venue.get(v.venue_order_id)
            rec = self.orders.get(cid) if cid is not None else None
            if rec is None:
                return  # not ours, or from before this session and already final
        if v.client_id is not None and (v.client_id != rec.client_id or v.session != rec.session):
            log.warning("order %d: report of another order (%r) ignored", rec.client_id, v.client_order_id)
            return
        if v.venue_order_id:
            self._by_venue[v.venue_order_id] = rec.client_id
        if v.triggered and rec.order_type and not rec.triggered:
            # its order in the exchange's matching engine: fills and cancels name that id now
            rec.triggered, rec.venue_order_id = True, v.venue_order_id
            self.journal.event("triggered", {"venue_order_id": v.venue_order_id}, rec.client_id)
            if rec.is_open:
                self.journal.update(rec.client_id, rec.status, venue_order_id=v.venue_order_id)
        if not rec.is_open:
            if v.status != rec.status:  # a late or stale report of a final order
                self._set_status(rec, v.status, source="report")
            return
        if v.status == "open":
            if rec.status != "open":
                rec.venue_order_id = v.venue_order_id or rec.venue_order_id
                if self._set_status(rec, "open", venue_order_id=rec.venue_order_id, source="report"):
                    self._notify("accepted", rec)
        elif v.status == "filled":
            if v.venue_order_id and rec.venue_order_id != v.venue_order_id:
                rec.venue_order_id = v.venue_order_id
                self.journal.update(rec.client_id, rec.status, venue_order_id=v.venue_order_id)
            if rec.status in ("pending", "unknown"):  # it reached the exchange: open until its fills are in
                self._set_status(rec, "open", source="report", quiet=True)
            if rec.filled + 1e-12 < v.filled:
                self._spawn(self._catch_up_fills())  # the fills come as trades
            elif rec.is_open and rec.filled > 0 and self._set_status(rec, "filled", source="report"):
                # every fill the exchange counts is booked (a close-position order fills what the
                # position was, not its quantity)
                if rec.client_id in self._open:
                    self._open.remove(rec.client_id)
                self.risk.order_closed(rec.client_id)
        else:  # cancelled or rejected; fills before it are booked from the trades
            if rec.filled + 1e-12 < v.filled:
                self._spawn(self._catch_up_fills())
            self._close(rec, v.status, "", v.status, source="report")

    def on_venue_fill(self, f: VenueFill) -> None:
        """A fill from the exchange's stream or poll (booked once per trade id)."""
        self.book_fill(f, "stream")

    def book_fill(self, f: VenueFill, source: str) -> bool:
        """A fill from the exchange; booked once per trade id. True if new."""
        cid = f.client_id if f.client_id is not None else self._by_venue.get(f.venue_order_id)
        if cid is None:
            jo = self.journal.order_by_venue_id(f.venue_order_id)
            cid = jo.client_id if jo is not None else None
        rec = None if cid is None else self.orders.get(cid) or self.journal.order(cid)
        if rec is None or f.client_id is not None and f.session != rec.session:
            self.foreign_fills += 1
            return False
        cid = rec.client_id
        if not (math.isfinite(f.qty) and f.qty > 0 and math.isfinite(f.price) and f.price > 0):
            log.error("fill %s of order %d refused: qty %r, price %r", f.trade_id, cid, f.qty, f.price)
            self.journal.event("malformed_fill", {"trade_id": f.trade_id, "qty": f.qty, "price": f.price}, cid)
            return False
        self.orders[cid] = rec
        i = self._index[f.symbol]
        now = time.time_ns()
        if not self.journal.fill(FillRecord(f.trade_id, cid, i, f.side, f.price, f.qty, f.fee, f.maker, f.exch_ts,
                                            now, source)):
            return False
        self._last_fill_ms = max(self._last_fill_ms, f.exch_ts // 1_000_000)
        self._track(rec)
        rec.filled += f.qty
        ended, remaining = self.tracker.fill_qty(cid, f.qty, now)  # the core decides the order's end
        try:
            self.risk.on_fill(cid, f.qty)
        except InvalidInput:  # not open in the risk engine (an order from before a restart)
            self.risk.restore_position(i, self.risk.position(i) + f.side * f.qty)
        self.portfolio.fill(i, _SIDE[f.side], f.price, f.qty, maker=f.maker)
        done = remaining == 0.0
        if ended:
            rec.status = "filled"
            self.journal.update(cid, "filled")
            if cid in self._open:
                self._open.remove(cid)
        elif rec.status in ("pending", "unknown") and self.tracker.status(cid) == OrderStatus.PARTIALLY_FILLED:
            # filled in part before the placement's answer: it is at the exchange
            rec.status = "open"
            self.journal.update(cid, "open")
        self._notify("filled", rec, price=f.price, qty=f.qty, remaining=0.0 if done else remaining, maker=f.maker,
                     fee=f.fee, exch_ts=f.exch_ts)
        return True

    async def _catch_up_fills(self) -> None:
        try:
            for f in await self.gateway.trades(self.fills_since_ms()):
                self.book_fill(f, "poll")
        except (OutcomeUnknown, RateLimited, OrderRejected, NotFound) as e:
            log.warning("fills catch-up: %s", e)

    def fills_since_ms(self) -> int | None:
        """Where a poll of our trades starts, on the exchange's clock: a minute before the last
        fill booked; None (the exchange's recent trades) before the first."""
        return self._last_fill_ms - 60_000 if self._last_fill_ms else None

    def _sync_order(self, rec: OrderRecord) -> None:
        """The tracker's price and quantity of an order as the record has them (a
        modification sent, or undone)."""
        self._track(rec)
        if rec.price > 0:
            self.tracker.modified(rec.client_id, rec.price, max(rec.qty - rec.filled, 0.0))

    def _track(self, rec: OrderRecord) -> None:
        """The order in the core's tracker, as the record has it (one from the journal, a
        restart or before a reconciliation is taken up where it stands)."""
        if rec.client_id not in self.tracker:
            self.tracker.restore(rec.client_id, rec.instrument, rec.side, rec.qty, rec.price or None,
                                 OrderStatus.of(rec.status), rec.filled, rec.updated_ns)

    def _set_status(self, rec: OrderRecord, status: str, *, reason: str | None = None,
                    venue_order_id: str | None = None, price: float | None = None, qty: float | None = None,
                    source: str = "", quiet: bool = False) -> bool:
        """The one place an order's status changes: applied (in memory and in the journal) only
        if ``OrderStatus`` allows it (statuses move forward, a final one is never left); else
        the report is ignored, logged and journaled (``status_ignored``) unless ``quiet``.
        True if applied."""
        if rec.status == status:
            return False
        self._track(rec)
        if not self.tracker.set_status(rec.client_id, OrderStatus.of(status), time.time_ns()) and not (
                status == "open" and self.tracker.status(rec.client_id) == OrderStatus.PARTIALLY_FILLED):
            if (rec.client_id, status) in self._ignored:  # the poll repeats it: journaled once
                return False
            self._ignored.add((rec.client_id, status))
            if not quiet:
                log.info("order %d: %s report (%s) ignored: already %s", rec.client_id, status, source or "?",
                         rec.status)
                self.journal.event("status_ignored", {"status": rec.status, "reported": status, "source": source,
                                                      "reason": reason or ""}, rec.client_id)
            return False
        rec.status = status
        if reason is not None:
            rec.reason = reason
        if venue_order_id:
            rec.venue_order_id = venue_order_id
        self.journal.update(rec.client_id, status, reason=reason, venue_order_id=venue_order_id, price=price,
                            qty=qty)
        return True

    def _close(self, rec: OrderRecord, status: str, reason: str, kind: str, source: str = "") -> None:
        if not self._set_status(rec, status, reason=reason, source=source):
            return
        self.risk.order_closed(rec.client_id)
        if rec.client_id in self._open:
            self._open.remove(rec.client_id)
        self._notify(kind, rec, reason=reason)

    def _notify(self, kind: str, rec: OrderRecord, *, price: float | None = None, qty: float | None = None,
                remaining: float | None = None, maker: bool = False, fee: float = 0.0, reason: str = "",
                exch_ts: int = 0) -> None:
        s = self.strategy
        if s is None:
            return
        u = LiveOrderUpdate(kind, rec.client_id, rec.instrument, rec.side, time.time_ns(), exch_ts,
                            rec.price if price is None else price, rec.qty if qty is None else qty,
                            rec.remaining if remaining is None else remaining, maker, fee, reason)
        fn = s.on_fill if kind == "filled" else s.on_order
        try:
            fn(u)  # type: ignore[arg-type]
        except Exception as e:  # stops the runner, which raises it
            self.error = e
            self.md.stop()

    def _open_order(self, client_id: int) -> OrderRecord:
        rec = self.orders.get(client_id)
        if rec is None or not rec.is_open:
            raise InvalidInput(f"invalid client_id: {client_id} (not an open order)")
        return rec

    def _mark(self, instrument: int) -> None:
        mid = self._book(instrument).book.mid()
        if mid is not None and mid > 0:
            self.portfolio.mark(instrument, mid)

    # -- start and stop ---------------------------------------------------------------------

    async def reconcile(self) -> list[str]:
        """Brings the journal to the exchange's state; returns the differences found."""
        diffs: list[str] = []
        gw = self.gateway
        # fills made while down: from a minute before the last fill booked (the exchange's clock)
        for jf in self.journal.fills():
            self._last_fill_ms = max(self._last_fill_ms, jf.exch_ts // 1_000_000)
        since = self.fills_since_ms()
        open_at_stop = self.journal.orders(open_only=True)
        venue_open = await gw.open_orders()
        ours = {o.client_id: o for o in venue_open if o.client_id is not None}
        for other in venue_open:
            if other.client_id is None:
                diffs.append(f"open order {other.venue_order_id} ({other.client_order_id!r}) at the exchange was not "
                             "placed by this runner: left alone")
        for rec in open_at_stop:
            self.orders[rec.client_id] = rec
            v: VenueOrder | None = ours.pop(rec.client_id, None)
            if v is None:
                v = await gw.query(rec)
            if v is None:
                diffs.append(f"order {rec.client_id} was {rec.status} in the journal and is unknown to the exchange: "
                             "never placed, closed (not resent)")
                self._set_status(rec, "rejected", reason="never reached the exchange (found on restart)",
                                 source="reconcile")
                continue
            if v.status != "open" or rec.status != "open":
                diffs.append(f"order {rec.client_id}: {rec.status} in the journal, {v.status} at the exchange "
                             f"(filled {v.filled:g} of {v.qty:g})")
            self._by_venue[v.venue_order_id] = rec.client_id
            if v.status == "open":
                if not self._set_status(rec, "open", venue_order_id=v.venue_order_id, source="reconcile"):
                    self.journal.update(rec.client_id, rec.status, venue_order_id=v.venue_order_id)
                rec.venue_order_id = v.venue_order_id
                self._open.append(rec.client_id)
            else:
                self._set_status(rec, v.status, venue_order_id=v.venue_order_id, source="reconcile")
        for vo in ours.values():  # ours, open at the exchange, but final in the journal
            known_rec = self.journal.order(vo.client_id) if vo.client_id is not None else None
            if known_rec is None or known_rec.session != vo.session:
                diffs.append(f"open order {vo.client_order_id!r} at the exchange is not in the journal: left alone")
                continue
            # a final status is never left: the order the journal gave up on is cancelled
            diffs.append(f"order {known_rec.client_id}: {known_rec.status} in the journal, open at the exchange: "
                         "cancelled (a final status is never reopened)")
            self.journal.event("status_ignored", {"status": known_rec.status, "reported": "open",
                                                  "source": "reconcile"}, known_rec.client_id)
            known_rec.venue_order_id = vo.venue_order_id
            self._by_venue[vo.venue_order_id] = known_rec.client_id
            self.journal.update(known_rec.client_id, known_rec.status, venue_order_id=vo.venue_order_id)
            try:
                await gw.start_cancel(known_rec)
            except GatewayError as e:
                diffs.append(f"order {known_rec.client_id}: its cancel failed ({e})")
        for rec in self.journal.orders():
            if rec.venue_order_id:
                self._by_venue[rec.venue_order_id] = rec.client_id
        # fills made while the runner was down
        known = {f.trade_id for f in self.journal.fills()}
        for f in await gw.trades(since):
            cid = f.client_id if f.client_id is not None else self._by_venue.get(f.venue_order_id)
            if f.trade_id in known or cid is None:
                continue
            frec = self.orders.get(cid) or self.journal.order(cid)
            if frec is None or f.client_id is not None and f.session != frec.session:
                continue  # another session's (another runner's): not ours
            i = self._index[f.symbol]
            if self.journal.fill(FillRecord(f.trade_id, cid, i, f.side, f.price, f.qty, f.fee, f.maker, f.exch_ts,
                                            time.time_ns(), "reconcile")):
                self._track(frec)
                frec.filled += f.qty
                ended, _ = self.tracker.fill_qty(cid, f.qty, time.time_ns())
                if ended:
                    frec.status = "filled"
                    self.journal.update(cid, "filled")
                    if cid in self._open:
                        self._open.remove(cid)
                diffs.append(f"fill {f.trade_id} of order {cid} ({f.qty:g} @ {f.price:g}) made while down: booked")
        # the state the risk engine and the portfolio start from
        for jf in self.journal.fills():
            self.portfolio.fill(jf.instrument, _SIDE[jf.side], jf.price, jf.qty, maker=jf.maker)
            self._last_fill_ms = max(self._last_fill_ms, jf.exch_ts // 1_000_000)
        venue_pos = await gw.positions()
        for s, i in self._index.items():
            mine = self.journal.position(i)
            theirs = venue_pos.get(s, 0.0)
            if abs(mine - theirs) > self._lots[i] / 2:
                diffs.append(f"position of {s}: {mine:g} from the journal's fills, {theirs:g} at the exchange: the "
                             "exchange's is used")
            self.risk.restore_position(i, theirs)
        for cid in self._open:
            rec = self.orders[cid]
            if rec.remaining > 0:
                self.risk.restore_open(cid, rec.instrument, _SIDE[rec.side], rec.remaining,
                                       rec.price or None, reduce_only=rec.reduce_only)
        self._next_id = max(self._next_id, self.journal.next_client_id())
        for d in diffs:
            log.warning("reconciliation: %s", d)
        self.journal.event("reconcile", diffs)
        self.differences = diffs
        return diffs

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Waits for the requests in flight (at shutdown)."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout_s)
        self.journal.set_meta("last_fill_ms", str(self._last_fill_ms))

    async def sync_open_orders(self) -> list[int]:
        """Asks the exchange for every order the journal still has open and brings each to the
        exchange's state (a filled one: its fills booked, filled). Returns those still open."""
        fills_missing = False
        for jrec in self.journal.orders(open_only=True):
            rec = self.orders.setdefault(jrec.client_id, jrec)
            if not rec.is_open:
                continue
            try:
                v = await self.gateway.query(rec)
            except GatewayError as e:
                log.warning("order %d: query at stop failed (%s)", rec.client_id, e)
                continue
            if v is None:
                continue  # not (yet) at the exchange: reconciliation on the next start decides
            self.on_venue_order(v, rec)
            if v.status == "filled" and rec.is_open:
                fills_missing = True
        if fills_missing:
            await self._catch_up_fills()
            for jrec in self.journal.orders(open_only=True):  # filled at the exchange, fills not visible yet
                rec = self.orders.setdefault(jrec.client_id, jrec)
                try:
                    v = await self.gateway.query(rec)
                except GatewayError:
                    continue
                if v is not None and v.status == "filled" and rec.is_open and \
                        self._set_status(rec, "filled", source="query"):
                    self.risk.order_closed(rec.client_id)
                    if rec.client_id in self._open:
                        self._open.remove(rec.client_id)
        return [c for c in self._open if self.orders[c].is_open]

    async def stop(self, *, cancel: bool = True, timeout_s: float = 10.0) -> None:
        """A graceful stop: the answers in flight awaited, the orders the journal has open
        brought to the exchange's state, then (``cancel``) the ones still open cancelled; a
        filled order is never cancelled."""
        await self.drain(timeout_s)
        still_open = await self.sync_open_orders()
        if cancel and still_open:
            self.halt("stop")
            await self.drain(timeout_s)
            await self.sync_open_orders()


async def _failed(e: Exception) -> VenueOrder:
    raise e


def _on_grid(field: str, v: float, step: float) -> None:
    if not (math.isfinite(v) and v > 0):
        raise InvalidInput(f"invalid {field}: {v!r} (must be > 0)")
    k = v / step
    if abs(k - round(k)) > 1e-6:
        raise InvalidInput(f"invalid {field}: {v!r} (not a multiple of {step:g})")
