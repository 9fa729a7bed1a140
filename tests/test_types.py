"""The order vocabulary (Side, OrderType, TimeInForce, OrderStatus, Position) shared by the
backtest, paper and real trading: codes and names, the forward-only status rule, a limit price
that must be > 0 everywhere, and every field of a position read by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tradecore
from tradecore import OrderStatus, OrderType, Position, Side, TimeInForce
from tradecore.backtest import run_backtest
from tradecore.errors import InvalidInput
from tradecore.strategy import Strategy

S = tradecore.SCALE
MS = 1_000_000
INST = tradecore.Instrument("test", "X", tick_size="0.1", lot_size="0.001", maker_fee="-0.0001", taker_fee="0.0004")


def ev(kind: str, x_ms: float, side: int, price: float, qty: float) -> tuple[Any, ...]:
    k = int(getattr(tradecore.Kind, kind))
    return (int(x_ms * MS), int((x_ms + 1) * MS), round(price * S), round(qty * S), 0, 0, 0, 0,
            int(tradecore.Flag.LAST_IN_MESSAGE), k, side)


def test_enums_equal_their_codes_and_names_and_refuse_a_misspelt_name() -> None:
    assert Side.BUY == 1 and Side.SELL == -1 and Side.BUY == "buy" and str(Side.SELL) == "sell"
    assert [int(t) for t in (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY)] == [0, 1, 2, 3]
    assert TimeInForce.of("post_only") is TimeInForce.POST_ONLY or TimeInForce.of("post_only") == TimeInForce.POST_ONLY
    assert OrderType.LIMIT == 1 and str(OrderType.MARKET) == "market"
    assert OrderStatus.of(7) == OrderStatus.PARTIALLY_FILLED == "partially_filled"
    assert OrderStatus.FILLED != OrderStatus.OPEN and {OrderStatus.FILLED: 1}[OrderStatus.of("filled")] == 1
    with pytest.raises(InvalidInput, match='^invalid status: "fille"'):
        _ = OrderStatus.FILLED == "fille"
    with pytest.raises(InvalidInput, match='^invalid side: "long"'):
        Side.of("long")
    with pytest.raises(InvalidInput, match="^invalid tif: 9"):
        TimeInForce.of(9)


def test_statuses_only_move_forward_and_never_leave_a_terminal_one() -> None:
    assert OrderStatus.PENDING.can_become(OrderStatus.UNKNOWN)
    assert OrderStatus.UNKNOWN.can_become(OrderStatus.OPEN)
    assert OrderStatus.OPEN.can_become(OrderStatus.FILLED)
    assert not OrderStatus.OPEN.can_become(OrderStatus.UNKNOWN)
    terminal = [OrderStatus.of(c) for c in range(9) if OrderStatus.of(c).is_terminal]
    assert sorted(str(t) for t in terminal) == ["cancelled", "expired", "filled", "refused", "rejected"]
    for t in terminal:
        for c in range(9):
            assert not t.can_become(OrderStatus.of(c))


class _Once(Strategy):
    """At the first book: one order with the given arguments; keeps what happened."""

    def __init__(self, **order: Any) -> None:
        super().__init__()
        self.order = order
        self.error: Exception | None = None
        self.positions: list[Position] = []
        self.sent = False

    def on_book(self, book: Any) -> None:
        if not self.sent:
            self.sent = True
            try:
                self.ctx.buy(**self.order)
            except InvalidInput as e:
                self.error = e
        self.positions.append(self.ctx.position())


@pytest.mark.parametrize("price", [0.0, -0.0, 1e-400, -5.0])
def test_a_limit_price_of_zero_or_less_is_refused_in_the_backtest_never_filled_as_market(price: float) -> None:
    events = np.array([ev("DEPTH", 0, 1, 100.0, 5), ev("DEPTH", 0, -1, 100.1, 3), ev("DEPTH", 20, 1, 99.9, 1)],
                      dtype=tradecore.EVENT_DTYPE)
    s = _Once(qty=0.01, price=price)
    r = run_backtest(s, events, instrument=INST, latency="2ms", feed_latency="1ms", account="none")
    assert s.error is not None and "a limit price must be > 0" in str(s.error)
    assert len(r.fills) == 0 and len(r.orders) == 0


def test_every_field_of_the_backtest_position_by_hand() -> None:
    # Buy 2 at market: 1.5 @ 100.1 and 0.5 @ 100.2 (taker 0.0004); then marked at the mid.
    events = np.array([ev("DEPTH", 0, 1, 100.0, 5), ev("DEPTH", 0, -1, 100.1, 1.5), ev("DEPTH", 0, -1, 100.2, 4),
                       ev("DEPTH", 20, -1, 100.1, 0), ev("DEPTH", 30, 1, 100.1, 1)], dtype=tradecore.EVENT_DTYPE)
    s = _Once(qty=2.0)
    run_backtest(s, events, instrument=INST, latency="2ms", feed_latency="1ms", account="none")
    p = s.positions[-1]
    avg = (1.5 * 100.1 + 0.5 * 100.2) / 2
    fees = 0.0004 * (1.5 * 100.1 + 0.5 * 100.2)
    # the strategy's book at the last wake-up: bid 100.1, ask 100.2 -> marked at the mid 100.15
    # (as live trading marks), not at the last fill
    assert p.qty == pytest.approx(2.0)
    assert p.avg_price == pytest.approx(avg, rel=1e-12)
    assert p.realized == 0.0
    assert p.fees == pytest.approx(fees, rel=1e-12)
    assert p.unrealized == pytest.approx(2.0 * (100.15 - avg), rel=1e-9)
    assert p == Position(p.qty, p.avg_price, p.realized, p.unrealized, p.fees)


def test_open_orders_are_order_objects_with_typed_fields() -> None:
    events = np.array([ev("DEPTH", 0, 1, 100.0, 5), ev("DEPTH", 0, -1, 100.1, 3), ev("DEPTH", 20, 1, 99.9, 1)],
                      dtype=tradecore.EVENT_DTYPE)

    class Rest(Strategy):
        seen: list[Any] = []

        def on_book(self, book: Any) -> None:
            if not self.ctx.open_orders() and not self.seen:
                self.ctx.buy(0.5, 99.5)
            self.seen.append(self.ctx.open_orders())

    s = Rest()
    run_backtest(s, events, instrument=INST, latency="2ms", feed_latency="1ms", account="none")
    o = s.seen[-1][0]
    assert isinstance(o, tradecore.Order)
    assert (o.client_id, o.instrument, o.side, o.price, o.qty, o.filled) == (1, 0, Side.BUY, 99.5, 0.5, 0.0)
    assert o.status == OrderStatus.OPEN and o.remaining == 0.5 and str(o.side) == "buy"
