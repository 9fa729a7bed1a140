"""Real trading's order logic (tradecore.live.trading) against a scripted in-memory gateway:
journal before send, unknown outcomes resolved by a query and never resent, fills booked once,
the kill switch, reconciliation after a restart. (The same code against the exchange simulator
over HTTP, through ccxt, is in tests/test_live_trading.py.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import tradecore
from tradecore.errors import InvalidInput
from tradecore.live.feed import FeedHealth
from tradecore.live.gateway import OutcomeUnknown, VenueFill, VenueOrder
from tradecore.live.journal import Journal, OrderRecord
from tradecore.live.trading import TradingBackend
from tradecore._core import OrderEntry, OrderStatus
from tradecore.risk import RiskEngine, RiskLimits
from tradecore.strategy import Strategy

BTC = tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001")


class Venue:
    """An exchange in memory: orders by client id; scripted faults."""

    def __init__(self) -> None:
        self.orders: dict[int, VenueOrder] = {}
        self.fills: list[VenueFill] = []
        self.placed: list[int] = []
        self.fail_next: str = ""
        """``lost``: the request never arrives (unknown outcome); ``unknown``: it is carried out
        but the answer is lost."""
        self.journal: Journal | None = None
        self.seen_pending: list[bool] = []

    def _order(self, o: OrderRecord, status: str, filled: float = 0.0) -> VenueOrder:
        return VenueOrder(o.client_id, f"tc{o.client_id}", str(1000 + o.client_id), o.symbol, status, o.side,
                          o.price, o.qty, filled, 0)

    def start_place(self, o: OrderRecord) -> Any:
        return self.place(o)

    def start_cancel(self, o: OrderRecord) -> Any:
        return self.cancel(o)

    async def place(self, o: OrderRecord) -> VenueOrder:
        if self.journal is not None:  # the intent is in the journal before the request leaves
            j = self.journal.order(o.client_id)
            self.seen_pending.append(j is not None and j.status == "pending")
        fail, self.fail_next = self.fail_next, ""
        if fail == "lost":
            raise OutcomeUnknown("timeout")
        if o.client_id in self.orders:
            raise OutcomeUnknown("duplicate client order id")
        self.placed.append(o.client_id)
        self.orders[o.client_id] = self._order(o, "open")
        if fail == "unknown":
            raise OutcomeUnknown("-1007 execution status unknown")
        return self.orders[o.client_id]

    async def cancel(self, o: OrderRecord) -> VenueOrder:
        v = self.orders[o.client_id]
        self.orders[o.client_id] = VenueOrder(**{**v.__dict__, "status": "cancelled"})
        return self.orders[o.client_id]

    async def modify(self, o: OrderRecord, price: float, qty: float) -> VenueOrder:
        v = self.orders[o.client_id]
        self.orders[o.client_id] = VenueOrder(**{**v.__dict__, "price": price, "qty": qty})
        return self.orders[o.client_id]

    async def query(self, o: OrderRecord) -> VenueOrder | None:
        return self.orders.get(o.client_id)

    async def open_orders(self) -> list[VenueOrder]:
        return [v for v in self.orders.values() if v.status == "open"]

    async def trades(self, since_ms: int | None, limit: int = 500) -> list[VenueFill]:
        return [f for f in self.fills if since_ms is None or f.exch_ts // 1_000_000 >= since_ms]

    async def positions(self) -> dict[str, float]:
        return {"BTCUSDT": sum(f.side * f.qty for f in self.fills)}

    def fill(self, client_id: int, qty: float, price: float, trade_id: str) -> VenueFill:
        v = self.orders[client_id]
        filled = v.filled + qty
        self.orders[client_id] = VenueOrder(**{**v.__dict__, "filled": filled,
                                               "status": "filled" if filled >= v.qty - 1e-12 else "open"})
        f = VenueFill(trade_id, v.venue_order_id, client_id, "BTCUSDT", v.side, price, qty, 0.01, True,
                      time.time_ns())
        self.fills.append(f)
        return f


class Recorder(Strategy):
    def on_start(self) -> None:
        self.updates: list[Any] = []

    def on_fill(self, fill: Any) -> None:
        self.updates.append(fill)

    def on_order(self, update: Any) -> None:
        self.updates.append(update)


def market() -> Any:
    book = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
    book.set_level("bid", 64_000.0, 1.0)
    book.set_level("ask", 64_000.1, 1.0)
    health = FeedHealth("BTCUSDT", messages=1, in_sync=True)
    health.last_message_ns = 0
    return SimpleNamespace(books={"BTCUSDT": SimpleNamespace(book=book, health=health)}, stop=lambda: None)


def backend(tmp_path: Path, venue: Venue, **kw: Any) -> tuple[TradingBackend, Recorder]:
    journal = Journal(tmp_path / "journal.sqlite")
    venue.journal = journal
    tb = TradingBackend(market(), venue, journal, [BTC], retry_delay_s=0.01, unknown_retries=3,  # type: ignore[arg-type]
                        **kw)
    s = Recorder()
    s.on_start()
    tb.strategy = s
    return tb, s


async def settle(tb: TradingBackend) -> None:
    while tb.tasks:
        await asyncio.wait(list(tb.tasks))


def run(fn: Callable[[], Any]) -> Any:
    async def go() -> Any:
        return await fn()
    return asyncio.run(asyncio.wait_for(go(), 30))


def test_an_order_is_journaled_before_it_is_sent_and_a_fill_is_booked_once(tmp_path: Path) -> None:
    venue = Venue()

    async def go() -> TradingBackend:
        tb, s = backend(tmp_path, venue)
        cid = tb.submit(1, 0.002, 63_999.9, 3, False, 0)
        assert cid == 1 and tb.order(1) == (0, 1, 63_999.9, 0.002, 0.0, OrderStatus.PENDING)
        await settle(tb)
        assert venue.seen_pending == [True]
        f = venue.fill(1, 0.001, 63_999.9, "t1")
        tb.on_venue_fill(f)
        tb.on_venue_fill(f)  # the same trade again (stream, then poll): booked once
        assert tb.book_fill(f, "poll") is False
        tb.on_venue_fill(venue.fill(1, 0.001, 63_999.9, "t2"))
        assert [u.kind for u in s.updates] == ["accepted", "filled", "filled"]
        assert s.updates[-1].remaining == 0.0
        assert tb.order(1) == (0, 1, 63_999.9, 0.002, 0.002, OrderStatus.FILLED)
        assert tb.open_orders() == []
        assert tb.position(0).qty == pytest.approx(0.002)
        return tb

    tb = run(go)
    j = tb.journal
    assert [f.trade_id for f in j.fills()] == ["t1", "t2"]
    rec = j.order(1)
    assert rec is not None and rec.status == "filled" and rec.filled == pytest.approx(0.002)
    assert [e[2] for e in j.events()][:2] == ["open", "filled"]


def test_an_unknown_outcome_is_resolved_by_a_query_never_by_sending_again(tmp_path: Path) -> None:
    venue = Venue()

    async def go() -> TradingBackend:
        tb, s = backend(tmp_path, venue)
        venue.fail_next = "unknown"  # carried out, answer lost
        assert tb.submit(1, 0.001, 63_999.9, 0, False, 0) == 1
        await settle(tb)
        assert tb.orders[1].status == "open" and venue.placed == [1]
        venue.fail_next = "lost"  # never arrived
        assert tb.submit(-1, 0.001, 64_000.2, 0, False, 0) == 2
        await settle(tb)
        assert tb.orders[2].status == "rejected" and "not resent" in tb.orders[2].reason
        assert venue.placed == [1]  # order 2 was never sent a second time
        assert [u.kind for u in s.updates] == ["accepted", "rejected"]
        return tb

    tb = run(go)
    assert [e[2] for e in tb.journal.events()] == ["unknown", "open", "unknown", "rejected"]


def test_the_risk_check_refuses_before_anything_is_sent_and_the_kill_switch_halts(tmp_path: Path) -> None:
    venue = Venue()

    async def go() -> TradingBackend:
        tb, s = backend(tmp_path, venue, limits=RiskLimits(max_order_qty=0.005))
        assert tb.submit(1, 0.01, 63_999.9, 0, False, 0) is None
        assert tb.last_reject is not None and tb.last_reject[0] == "max_order_qty"
        for args, msg in [((1, 0.001, 63_999.95, 0, False, 0), "invalid price: 63999.95 .*tick grid 0.1"),
                          ((1, 0.0015, 63_999.9, 0, False, 0), "invalid qty: 0.0015 .*lot grid 0.001"),
                          ((1, float("nan"), 63_999.9, 0, False, 0), "invalid qty: NaN"),
                          ((2, 0.001, 63_999.9, 0, False, 0), "invalid side: 2"),
                          ((1, 0.001, 63_999.9, 7, False, 0), "invalid tif: 7"),
                          ((1, 0.001, None, 3, False, 0), "invalid tif: post-only"),
                          ((1, 0.001, 0.0, 0, False, 0), r"invalid price: 0 \(a limit price must be > 0\)"),
                          ((1, 0.001, -0.0, 1, False, 0), r"invalid price: 0 \(a limit price must be > 0\)"),
                          ((1, 0.001, 1e-400, 1, False, 0), r"invalid price: 0 \(a limit price must be > 0\)"),
                          ((1, 0.001, 63_999.9, 0, False, 1), "invalid instrument: 1"),
                          ((1, 0.001, 63_999.9, 0, False, -1), "invalid instrument: -1")]:
            with pytest.raises(InvalidInput, match=msg):  # malformed: an error, nothing journaled or sent
                tb.submit(*args)
        a = tb.submit(1, 0.001, 63_999.9, 0, False, 0)
        b = tb.submit(-1, 0.001, 64_000.2, 0, False, 0)
        await settle(tb)
        assert tb.halt("test") == [a, b]
        await settle(tb)
        assert tb.open_orders() == [] and tb.trading_state == "halted"
        assert tb.submit(1, 0.001, 63_999.9, 0, False, 0) is None
        assert tb.last_reject is not None and tb.last_reject[0] == "halted"
        return tb

    tb = run(go)
    assert venue.placed == [2, 3]  # the refused orders (1, 4) never left
    statuses = {o.client_id: o.status for o in tb.journal.orders()}
    assert statuses == {1: "refused", 2: "cancelled", 3: "cancelled", 4: "refused"}


def test_reconciliation_after_a_restart_reports_and_repairs_each_difference(tmp_path: Path) -> None:
    venue = Venue()

    async def first() -> None:
        tb, _ = backend(tmp_path, venue)
        tb.submit(1, 0.002, 63_999.9, 0, False, 0)  # 1: will fill while we are down
        tb.submit(-1, 0.001, 64_000.2, 0, False, 0)  # 2: still open at the restart
        await settle(tb)
        venue.fail_next = "lost"
        # 3: written to the journal, then the process dies before the request leaves
        rec = OrderRecord(3, 0, "BTCUSDT", 1, 63_999.0, 0.001, 0, False, "pending")
        tb.journal.intent(rec)
        tb.journal.close()

    run(first)
    venue.fail_next = ""
    venue.fill(1, 0.002, 63_999.9, "t9")  # while down

    async def second() -> tuple[TradingBackend, list[str]]:
        tb, _ = backend(tmp_path, venue)
        diffs = await tb.reconcile()
        return tb, diffs

    tb, diffs = run(second)
    text = "\n".join(diffs)
    assert "order 1: open in the journal, filled at the exchange" in text
    assert "fill t9 of order 1" in text
    assert "order 3 was pending in the journal and is unknown to the exchange: never placed" in text
    assert len(diffs) == 3, diffs
    assert tb.open_orders() == [2]
    assert tb.journal.position(0) == pytest.approx(0.002)
    assert tb.risk.position(0) == pytest.approx(0.002)
    assert tb.position(0).qty == pytest.approx(0.002)
    assert tb.journal.next_client_id() == 4
    assert venue.placed == [1, 2]  # nothing resent
    assert tb.journal.events("reconcile")


def test_an_intent_in_the_log_but_not_in_sqlite_is_restored_on_open(tmp_path: Path) -> None:
    """The intent is appended to the intent log before the order is sent and inserted into
    SQLite just after: a process that dies in between loses nothing. Intents come from the
    journal (refused orders, the ccxt path) and from the order path in Rust (``OrderEntry``)."""
    j = Journal(tmp_path / "j.sqlite")
    j.intent(OrderRecord(1, 0, "BTCUSDT", 1, 63_999.9, 0.001, 3, False, "pending"))
    j.flush()
    assert j.intents.used == 0  # the log holds only what SQLite does not have yet
    j.intent(OrderRecord(2, 0, "BTCUSDT", -1, 64_000.2, 0.001, 3, False, "pending"))
    risk = RiskEngine(RiskLimits(max_order_qty=0.01))
    risk.add_instrument()
    risk.restore_position(0, -0.01)  # short: a reduce-only buy passes
    entry = OrderEntry(risk, j.intents, [("BTCUSDT", 0.1, 0.001)])
    now = time.time_ns()
    assert entry.place(3, 0, 1, 0.002, 63_990.5, 0, True, 64_000.0, now, True, now) is True
    assert entry.place(4, 0, 1, 0.5, 63_990.5, 0, False, 64_000.0, now, True, now)[0] == "max_order_qty"
    with open(j.intent_log, "r+b") as f:  # a line cut by the process's death: never sent
        f.seek(j.intents.used)
        f.write(b'[5, 0, "BTCUS')
    # the process dies here: orders 2-4 are in the mapped log only (no flush, no close)
    j2 = Journal(tmp_path / "j.sqlite")
    assert j2.restored == 3
    assert [(o.client_id, o.status) for o in j2.orders(open_only=True)] == [(1, "pending"), (2, "pending"),
                                                                           (3, "pending")]
    o3 = j2.order(3)
    assert o3 is not None
    assert (o3.symbol, o3.side, o3.price, o3.qty, o3.tif, o3.reduce_only, o3.created_ns) == (
        "BTCUSDT", 1, 63_990.5, 0.002, 0, True, now)
    o4 = j2.order(4)
    assert o4 is not None and o4.status == "refused" and o4.qty == 0.5
    assert j2.next_client_id() == 5
    j2.close()
    assert not j2.intent_log.exists()


def test_the_order_path_reads_its_reference_price_from_the_book(tmp_path: Path) -> None:
    """The risk check's reference is the book's mid, read in Rust from the ``OrderBook`` itself;
    a reference of another type is refused naming the argument."""
    j = Journal(tmp_path / "j.sqlite")
    risk = RiskEngine(RiskLimits(price_band_bps=100))
    risk.add_instrument()
    entry = OrderEntry(risk, j.intents, [("BTCUSDT", 0.1, 0.001)])
    book = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
    book.set_level("bid", 63_999.9, 1.0)
    book.set_level("ask", 64_000.1, 1.0)
    now = time.time_ns()
    assert entry.place(1, 0, 1, 0.001, 63_500.0, 0, False, book, now, True, now) is True  # 0.78% from 64,000
    assert entry.place(2, 0, 1, 0.001, 63_300.0, 0, False, book, now, True, now)[0] == "price_band"  # 1.09%
    book.set_level("bid", 62_999.9, 1.0)
    book.set_level("bid", 63_999.9, 0.0)  # the mid moves to 63,500: the same price is now in the band
    assert entry.place(3, 0, 1, 0.001, 63_300.0, 0, False, book, now, True, now) is True
    with pytest.raises(InvalidInput, match="invalid reference: .*str.*OrderBook, a price or None"):
        entry.place(4, 0, 1, 0.001, 63_300.0, 0, False, "64000", now, True, now)
    j.close()


def test_a_native_order_whose_bytes_fail_to_go_out_is_resolved_by_a_query(tmp_path: Path) -> None:
    """The native path: the order's request is built in Rust (intent logged first); if writing
    it raises anything unexpected, the order is an unknown outcome found by a query, never
    sent again, and journaled either way."""
    from tradecore._core import BinanceEncoder

    class NativeVenue(Venue):
        native = True

        def __init__(self) -> None:
            super().__init__()
            self.requests: list[bytes] = []
            self.arrives = True  # the write raised after the bytes left (the venue has it)

        def native_order_path(self) -> Any:
            return BinanceEncoder("s3cret"), b"POST /fapi/v1/order HTTP/1.1\r\nHost: x\r\n", ["BTCUSDT"], "tc"

        def send_order(self, client_id: int, request: bytes, symbol: str) -> Any:
            self.requests.append(request)
            if self.arrives:
                o = OrderRecord(client_id, 0, symbol, 1, 63_999.9, 0.001, 0, False, "pending")
                self.orders[client_id] = self._order(o, "open")
            raise RuntimeError("transport closed under us")

    venue = NativeVenue()

    async def go() -> TradingBackend:
        tb, _ = backend(tmp_path, venue)
        cid = tb.submit(1, 0.001, 63_999.9, 0, False, 0)
        assert cid == 1 and len(venue.requests) == 1
        assert venue.requests[0].startswith(b"POST /fapi/v1/order HTTP/1.1\r\nHost: x\r\nContent-Length: ")
        assert b"newClientOrderId=tc1&" in venue.requests[0]
        await settle(tb)
        venue.arrives = False
        assert tb.submit(1, 0.001, 63_999.9, 0, False, 0) == 2
        await settle(tb)
        return tb

    tb = run(go)
    assert len(venue.requests) == 2  # nothing sent twice
    statuses = {o.client_id: o.status for o in tb.journal.orders()}
    assert statuses == {1: "open", 2: "rejected"}  # found by the query / never placed
