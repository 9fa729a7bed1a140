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

BTC = tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001", maker_fee=0, taker_fee=0)  # scripted fills carry no fee


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
        self.session = ""

    def use_sessions(self, session: str, known: set[str]) -> None:
        self.session = session

    def _order(self, o: OrderRecord, status: str, filled: float = 0.0) -> VenueOrder:
        return VenueOrder(o.client_id, f"tc{o.session}.{o.client_id}", str(1000 + o.client_id), o.symbol, status,
                          o.side, o.price, o.qty, filled, 0, o.session)

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
                      time.time_ns(), v.session)
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
            # the client id prefix the order path gets: <prefix><session>.
            return BinanceEncoder("s3cret"), b"POST /fapi/v1/order HTTP/1.1\r\nHost: x\r\n", ["BTCUSDT"], \
                f"tc{self.session}."

        def send_order(self, client_id: int, request: bytes, symbol: str) -> Any:
            self.requests.append(request)
            if self.arrives:
                o = OrderRecord(client_id, 0, symbol, 1, 63_999.9, 0.001, 0, False, "pending", session=self.session)
                self.orders[client_id] = self._order(o, "open")
            raise RuntimeError("transport closed under us")

    venue = NativeVenue()

    async def go() -> TradingBackend:
        tb, _ = backend(tmp_path, venue)
        cid = tb.submit(1, 0.001, 63_999.9, 0, False, 0)
        assert cid == 1 and len(venue.requests) == 1
        assert venue.requests[0].startswith(b"POST /fapi/v1/order HTTP/1.1\r\nHost: x\r\nContent-Length: ")
        assert f"newClientOrderId=tc{tb.session}.1&".encode() in venue.requests[0]
        assert len(f"tc{tb.session}.1") <= 36
        await settle(tb)
        venue.arrives = False
        assert tb.submit(1, 0.001, 63_999.9, 0, False, 0) == 2
        await settle(tb)
        return tb

    tb = run(go)
    assert len(venue.requests) == 2  # nothing sent twice
    statuses = {o.client_id: o.status for o in tb.journal.orders()}
    assert statuses == {1: "open", 2: "rejected"}  # found by the query / never placed


def test_a_late_unknown_answer_never_moves_a_filled_order_back(tmp_path: Path) -> None:
    """Statuses only move forward: the order's fill comes on the stream while its answer is
    late, then the answer says "-1007 execution status unknown". The order stays filled (in
    memory and in the journal), the late answer is journaled as ignored, nothing is queried
    or resent, and the graceful stop sends no cancel for it."""
    class LateVenue(Venue):
        def __init__(self) -> None:
            super().__init__()
            self.answer = asyncio.Event()
            self.cancels: list[int] = []
            self.queries: list[int] = []

        async def place(self, o: OrderRecord) -> VenueOrder:
            self.placed.append(o.client_id)
            self.orders[o.client_id] = self._order(o, "open")
            await self.answer.wait()  # carried out on arrival, answered late
            raise OutcomeUnknown("HTTP 503 -1007 execution status unknown")

        async def cancel(self, o: OrderRecord) -> VenueOrder:
            self.cancels.append(o.client_id)
            return await super().cancel(o)

        async def query(self, o: OrderRecord) -> VenueOrder | None:
            self.queries.append(o.client_id)
            return await super().query(o)

    venue = LateVenue()

    async def go() -> TradingBackend:
        tb, s = backend(tmp_path, venue)
        a = tb.submit(1, 0.002, 63_999.9, 0, False, 0)  # filled before its answer comes
        b = tb.submit(-1, 0.001, 64_000.2, 0, False, 0)  # still open at the stop: cancelled
        await asyncio.sleep(0.01)
        f = venue.fill(1, 0.002, 63_999.9, "t1")
        tb.on_venue_order(venue.orders[1])  # the stream: FILLED
        tb.on_venue_fill(f)
        assert tb.orders[1].status == "filled"
        venue.answer.set()  # now the late "unknown" answers
        await asyncio.sleep(0.1)
        assert tb.orders[1].status == "filled"
        j = tb.journal.order(1)
        assert j is not None and j.status == "filled"
        assert tb.open_orders() == [b]
        venue.queries.clear()
        await tb.stop(cancel=True)
        assert (a, b) == (1, 2)
        assert venue.cancels == [2]  # never the filled order
        assert [u.kind for u in s.updates if u.client_id == 1] == ["filled"]
        return tb

    tb = run(go)
    j = tb.journal
    assert {o.client_id: o.status for o in j.orders()} == {1: "filled", 2: "cancelled"}
    kinds = [e[2] for e in j.events() if e[1] == 1]
    assert "unknown" not in kinds and kinds[kinds.index("filled"):] == ["filled", "status_ignored"], kinds
    ignored = j.events("status_ignored")
    assert len(ignored) == 1 and '"reported": "unknown"' in ignored[0][3] and '"status": "filled"' in ignored[0][3]
    assert venue.placed == [1, 2]


def test_at_a_graceful_stop_an_order_filled_at_the_exchange_is_booked_filled_not_cancelled(tmp_path: Path) -> None:
    """The journal still has the order open (its fill not seen yet) when the runner stops: it
    is asked for first, its fills are booked, and no cancel is sent for it."""
    class Quiet(Venue):
        def __init__(self) -> None:
            super().__init__()
            self.cancels: list[int] = []

        async def cancel(self, o: OrderRecord) -> VenueOrder:
            self.cancels.append(o.client_id)
            return await super().cancel(o)

    venue = Quiet()

    async def go() -> TradingBackend:
        tb, _ = backend(tmp_path, venue)
        tb.submit(1, 0.002, 63_999.9, 0, False, 0)
        tb.submit(-1, 0.001, 64_000.2, 0, False, 0)
        await settle(tb)
        venue.fill(1, 0.002, 63_999.9, "t1")  # neither the stream nor the poll told us yet
        await tb.stop(cancel=True)
        assert venue.cancels == [2]
        return tb

    tb = run(go)
    assert {o.client_id: o.status for o in tb.journal.orders()} == {1: "filled", 2: "cancelled"}
    assert [f.trade_id for f in tb.journal.fills()] == ["t1"]


def test_every_status_change_goes_forward_only(tmp_path: Path) -> None:
    """A cancelled order reported open again (a stale poll) stays cancelled; the report is an
    event; a final order in the journal found open at the exchange on restart is cancelled
    there, not reopened."""
    venue = Venue()

    async def go() -> TradingBackend:
        tb, s = backend(tmp_path, venue)
        tb.submit(1, 0.001, 63_999.9, 0, False, 0)
        await settle(tb)
        stale = venue.orders[1]
        tb.cancel(1)
        await settle(tb)
        tb.on_venue_order(stale)  # the poll's snapshot from before the cancel
        tb.on_venue_order(stale)  # and the next poll's: journaled once, not at every poll
        assert tb.orders[1].status == "cancelled" and tb.open_orders() == []
        assert [u.kind for u in s.updates] == ["accepted", "cancelled"]
        return tb

    tb = run(go)
    assert tb.journal.order(1).status == "cancelled"  # type: ignore[union-attr]
    assert len(tb.journal.events("status_ignored")) == 1
    # the journal gave order 1 up (cancelled) but the exchange still has it open
    venue.orders[1] = VenueOrder(**{**venue.orders[1].__dict__, "status": "open"})
    tb.journal.close()

    async def again() -> tuple[TradingBackend, list[str]]:
        tb2, _ = backend(tmp_path, venue)
        return tb2, await tb2.reconcile()

    tb2, diffs = run(again)
    assert any("order 1: cancelled in the journal, open at the exchange: cancelled" in d for d in diffs), diffs
    assert tb2.journal.order(1).status == "cancelled" and tb2.open_orders() == []  # type: ignore[union-attr]
    assert venue.orders[1].status == "cancelled"


def test_client_order_ids_carry_the_session_and_other_sessions_are_foreign(tmp_path: Path) -> None:
    """``<prefix><session>.<client id>``, within Binance's 36 characters; an id of a session
    the journal does not have is not ours; a prefix too long is refused saying why; each
    backend is a new session recorded in the journal."""
    import re

    from tradecore.live.gateway import CcxtGateway
    from tradecore.live.session import new_session_id

    s1, s2 = new_session_id(), new_session_id()
    assert re.fullmatch(r"[0-9a-z]{9}", s1) and s1 != s2
    gw = CcxtGateway("binanceusdm", ["BTCUSDT"], client_prefix="tc")
    gw.use_sessions(s1, {s1, ""})
    coid = gw.client_order_id(17)
    assert coid == f"tc{s1}.17"
    assert gw.parse_client_id(coid) == 17
    assert gw.parse_client_id(f"tc{s2}.17") is None  # another session's: foreign
    assert gw.parse_client_order_id(f"tc{s2}.17") == (s2, 17)
    assert gw.parse_client_id("tc17") == 17  # an order of a journal from before sessions
    gw.use_sessions(s1, {s1})
    assert gw.parse_client_id("tc17") is None
    longest = CcxtGateway("binanceusdm", ["BTCUSDT"], client_prefix="abcdefgh").client_order_id(10**18 - 1, s1)
    assert re.fullmatch(r"[\.A-Z\:/a-z0-9_-]{1,36}", longest)
    with pytest.raises(InvalidInput, match="1-8 letters.*36 characters"):
        CcxtGateway("binanceusdm", ["BTCUSDT"], client_prefix="abcdefghi")
    venue = Venue()

    async def go() -> TradingBackend:
        tb, _ = backend(tmp_path, venue)
        with pytest.raises(InvalidInput, match="invalid client_id: 1000000000000000000"):
            tb.submit(1, 0.001, 63_999.9, 0, False, 0, client_id=10**18)
        tb.submit(1, 0.001, 63_999.9, 0, False, 0)
        await settle(tb)
        return tb

    tb = run(go)
    assert tb.journal.sessions() == {tb.session} and tb.journal.order(1).session == tb.session  # type: ignore[union-attr]
    # a fill of a session the journal does not have is foreign, even with the same client id
    f = VenueFill("x1", "999", 1, "BTCUSDT", 1, 63_999.9, 0.001, 0.0, True, time.time_ns(), "zzzzzzzzz")
    assert tb.book_fill(f, "stream") is False and tb.foreign_fills == 1
    tb.journal.close()


def test_a_journal_from_before_sessions_keeps_its_orders(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "j.sqlite"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE orders (client_id INTEGER PRIMARY KEY, instrument INTEGER NOT NULL, symbol TEXT "
                      "NOT NULL, side INTEGER NOT NULL, price REAL NOT NULL, qty REAL NOT NULL, tif INTEGER NOT NULL, "
                      "reduce_only INTEGER NOT NULL, status TEXT NOT NULL, filled REAL NOT NULL DEFAULT 0, "
                      "venue_order_id TEXT, reason TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL, "
                      "updated_ns INTEGER NOT NULL);"
                      "INSERT INTO orders VALUES (1, 0, 'BTCUSDT', 1, 63999.9, 0.001, 0, 0, 'open', 0, '5', '', 1, 1);")
    con.close()
    j = Journal(db)
    assert j.sessions() == {""}
    o = j.order(1)
    assert o is not None and o.session == "" and o.status == "open"
    j.add_session("abcdefghi", 1)
    assert j.sessions() == {"", "abcdefghi"} and j.last_session() == "abcdefghi"
    j.close()
    # a run from before sessions that died before its first flush left only its intent log:
    # its orders are restored as session "" and that session is the journal's (they stay ours)
    db2 = tmp_path / "k.sqlite"
    con = sqlite3.connect(db2)
    con.executescript("CREATE TABLE orders (client_id INTEGER PRIMARY KEY, instrument INTEGER NOT NULL, symbol TEXT "
                      "NOT NULL, side INTEGER NOT NULL, price REAL NOT NULL, qty REAL NOT NULL, tif INTEGER NOT NULL, "
                      "reduce_only INTEGER NOT NULL, status TEXT NOT NULL, filled REAL NOT NULL DEFAULT 0, "
                      "venue_order_id TEXT, reason TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL, "
                      "updated_ns INTEGER NOT NULL);")
    con.close()
    (tmp_path / "k.sqlite.intents").write_bytes(b'[7,0,"BTCUSDT",1,63999.9,0.001,0,false,"pending",5,5]\n')
    k = Journal(db2)
    assert k.sessions() == {""}
    o = k.order(7)
    assert o is not None and o.session == "" and o.status == "pending"
    k.close()


def test_every_field_of_the_real_trading_position_by_hand(tmp_path: Path) -> None:
    """The fees/unrealized swap of ``ctx.position()`` in real trading, as a regression: every
    field read through the strategy's context against a hand computation."""
    venue = Venue()
    journal = Journal(tmp_path / "journal.sqlite")
    venue.journal = journal
    inst = tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001", maker_fee="0.0002", taker_fee="0.0005")
    tb = TradingBackend(market(), venue, journal, [inst], retry_delay_s=0.01, unknown_retries=3)  # type: ignore[arg-type]
    ctx = tradecore.Context(tb, [inst], __import__("logging").getLogger("t"))

    async def go() -> None:
        a = ctx.buy(0.002, 63_999.9)
        await settle(tb)
        assert a is not None
        v = venue.orders[a]
        # a maker fill of 0.002 at 63,999.9 (fee 0.0002 x 127.9998), then sell 0.001 at 64,010.0
        tb.book_fill(VenueFill("1", v.venue_order_id, a, "BTCUSDT", 1, 63_999.9, 0.002, 0.0, True, 1, v.session),
                     "stream")
        b = ctx.sell(0.001, 64_010.0)
        await settle(tb)
        assert b is not None
        w = venue.orders[b]
        tb.book_fill(VenueFill("2", w.venue_order_id, b, "BTCUSDT", -1, 64_010.0, 0.001, 0.0, False, 2, w.session),
                     "stream")

    run(go)
    p = ctx.position()
    fees = 0.0002 * 0.002 * 63_999.9 + 0.0005 * 0.001 * 64_010.0
    mid = (64_000.0 + 64_000.1) / 2  # the live book marks the position
    assert isinstance(p, tradecore.Position)
    assert p.qty == pytest.approx(0.001)
    assert p.avg_price == pytest.approx(63_999.9)
    assert p.realized == pytest.approx(0.001 * (64_010.0 - 63_999.9))
    assert p.fees == pytest.approx(fees)
    assert p.unrealized == pytest.approx(0.001 * (mid - 63_999.9))
    assert p.fees != pytest.approx(p.unrealized)
    journal.close()


def test_the_core_lifecycle_follows_modifications_early_fills_and_fills_made_while_down(tmp_path: Path) -> None:
    """Real trading decides an order's end in the core's tracker: a modified quantity, a fill
    before the placement's answer and the fills a restart finds are all in step with it."""

    def replace(v: VenueOrder, **kw: Any) -> VenueOrder:
        return VenueOrder(**{**v.__dict__, **kw})

    # modified down to 0.002, which then fills: the order ends filled
    venue = Venue()

    async def down() -> TradingBackend:
        tb, _ = backend(tmp_path / "a", venue)
        tb.submit(1, 0.004, 63_999.9, 0, False, 0)
        await settle(tb)
        tb.modify(1, 63_999.9, 0.002)
        await settle(tb)
        venue.orders[1] = replace(venue.orders[1], qty=0.002)
        tb.on_venue_fill(venue.fill(1, 0.002, 63_999.9, "t1"))
        tb.on_venue_order(venue.orders[1])
        return tb

    tb = run(down)
    assert tb.orders[1].status == "filled" and tb.open_orders() == []
    # modified up to 0.004: the first 0.002 filled leaves it open
    venue = Venue()

    async def up() -> TradingBackend:
        tb, _ = backend(tmp_path / "b", venue)
        tb.submit(1, 0.002, 63_999.9, 0, False, 0)
        await settle(tb)
        tb.modify(1, 63_999.9, 0.004)
        await settle(tb)
        venue.orders[1] = replace(venue.orders[1], qty=0.004)
        tb.on_venue_fill(venue.fill(1, 0.002, 63_999.9, "t1"))
        return tb

    tb = run(up)
    assert tb.orders[1].status == "open" and tb.open_orders() == [1]
    # a part filled before the placement's answer: open, in memory and in the journal
    venue = Venue()

    async def early() -> TradingBackend:
        tb, _ = backend(tmp_path / "c", venue)
        tb.submit(1, 0.004, 63_999.9, 0, False, 0)
        venue.orders[1] = venue._order(tb.orders[1], "open")
        tb.on_venue_fill(venue.fill(1, 0.001, 63_999.9, "t1"))
        await settle(tb)
        return tb

    tb = run(early)
    assert tb.orders[1].status == "open" and tb.journal.order(1).status == "open"  # type: ignore[union-attr]
    # a restart: pending in the journal, 0.002 of 0.003 filled while down, the last 0.001 live
    venue = Venue()

    async def died() -> None:
        tb, _ = backend(tmp_path / "d", venue)
        tb.submit(1, 0.003, 63_999.9, 0, False, 0)
        tb.journal.flush()  # the process dies before the answer

    run(died)
    venue.orders[1] = venue._order(Journal(tmp_path / "d" / "journal.sqlite").order(1), "open")  # type: ignore[arg-type]
    venue.fill(1, 0.002, 63_999.9, "t1")

    async def restarted() -> tuple[TradingBackend, Recorder]:
        tb, s = backend(tmp_path / "d", venue)
        await tb.reconcile()
        tb.on_venue_fill(venue.fill(1, 0.001, 63_999.9, "t2"))
        tb.on_venue_order(venue.orders[1])
        return tb, s

    tb, s = run(restarted)
    assert tb.orders[1].status == "filled" and tb.orders[1].filled == pytest.approx(0.003)
    assert tb.open_orders() == [] and s.updates[-1].remaining == 0.0
