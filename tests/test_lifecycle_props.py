"""One order lifecycle: the same random streams of execution reports (acknowledgements, partial
and whole fills, fills delivered twice, cancels, rejections, late reports after the end) give
the same order, position and PnL states whether they drive the core's lifecycle
(``OrderTracker`` + ``Portfolio``: what the backtest and paper replay run) or the real-trading
backend (``TradingBackend``, fed as its gateway feeds it)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tradecore
from tradecore import OrderStatus, OrderTracker, Portfolio
from tradecore.live.gateway import VenueFill, VenueOrder

from test_trading import Venue, backend

QTY = 0.010
PRICE = 63_999.9


@st.composite
def streams(draw: Any) -> tuple[list[float], list[tuple[str, int]]]:
    """Fill sizes of one order (summing to at most its quantity) and a stream of reports:
    ("fill", k) delivers fill k (again if repeated), "cancel", "reject", "ack" (late)."""
    sizes: list[float] = []
    left = 10
    for _ in range(draw(st.integers(0, 4))):
        if left == 0:
            break
        n = draw(st.integers(1, left))
        sizes.append(n / 1000)
        left -= n
    events = st.one_of(
        st.tuples(st.just("fill"), st.integers(0, max(len(sizes) - 1, 0))) if sizes else st.nothing(),
        st.tuples(st.sampled_from(["cancel", "reject", "ack"]), st.just(0)),
    )
    return sizes, draw(st.lists(events, max_size=10))


def _normalized(status: str, filled: float) -> OrderStatus:
    """The backend keeps an order with fills ``open`` (as the journal writes it)."""
    s = OrderStatus.of(status)
    return OrderStatus.PARTIALLY_FILLED if s == OrderStatus.OPEN and filled > 0 else s


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(side=st.sampled_from([1, -1]), stream=streams())
def test_the_same_reports_give_the_same_states_in_the_core_lifecycle_and_the_real_backend(
        side: int, stream: tuple[list[float], list[tuple[str, int]]]) -> None:
    sizes, events = stream
    # the core's lifecycle, as the replay drives it: each new fill booked once to the portfolio
    tracker = OrderTracker()
    pf = Portfolio(0.0)
    pf.add_instrument("linear", 1.0)
    cid = 1
    tracker.add(cid, 0, side, QTY, PRICE)
    tracker.accepted(cid)  # the place answer

    with tempfile.TemporaryDirectory() as tmp:
        venue = Venue()
        tb, _ = backend(Path(tmp), venue)

        async def go() -> None:
            assert tb.submit(side, QTY, PRICE, 0, False, 0) == cid
            while tb.tasks:
                await asyncio.wait(list(tb.tasks))
            delivered: set[int] = set()
            for kind, k in events:
                v = venue.orders[cid]
                if kind == "fill":
                    trade_id, qty = 100 + k, sizes[k]
                    delivered.add(k)
                    tb.book_fill(VenueFill(str(trade_id), v.venue_order_id, cid, "BTCUSDT", side, PRICE, qty, 0.0,
                                           True, 1, v.session), "stream")
                    if tracker.fill(cid, trade_id, qty) is not None:
                        pf.fill(0, "buy" if side > 0 else "sell", PRICE, qty, maker=True)
                    continue
                status = {"cancel": "cancelled", "reject": "rejected", "ack": "open"}[kind]
                filled = sum(sizes[j] for j in delivered)
                tb.on_venue_order(VenueOrder(**{**v.__dict__, "status": status, "filled": filled}))
                if kind == "ack":
                    tracker.accepted(cid)
                else:
                    tracker.close(cid, OrderStatus.of(status))
            while tb.tasks:
                await asyncio.wait(list(tb.tasks))

        asyncio.run(go())
        rec = tb.orders[cid]
        assert _normalized(rec.status, rec.filled) == tracker.status(cid), (rec.status, events)
        assert abs(rec.filled - tracker.filled(cid)) < 1e-12
        assert (cid in tb.open_orders()) == (cid in tracker.open_orders())
        live, core = tb.position(0), pf.position(0)
        assert abs(live.qty - core.qty) < 1e-12
        assert abs(live.realized - core.realized) < 1e-9 and abs(live.fees - core.fees) < 1e-9
        # and what the journal kept agrees
        j = tb.journal.order(cid)
        assert j is not None and _normalized(j.status, j.filled) == tracker.status(cid)
        tb.journal.close()


def test_the_tracker_refuses_what_is_not_a_report() -> None:
    t = OrderTracker()
    t.add(1, 0, 1, 1.0, None)
    try:
        t.close(1, OrderStatus.OPEN)
    except tradecore.errors.InvalidInput as e:
        assert "invalid status: open (must be terminal" in str(e)
    else:
        raise AssertionError("a non-terminal close was accepted")
    try:
        t.accepted(2)
    except tradecore.errors.InvalidInput as e:
        assert "invalid client_id: 2" in str(e)
    else:
        raise AssertionError("an unknown order was accepted")
