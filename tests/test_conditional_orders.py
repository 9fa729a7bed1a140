"""Stop and take-profit orders in the backtest (and paper trading, the same loop): they wait
at the exchange for their trigger on the last trade price or the mark, then act as market or
limit orders; close_position closes what is held; bad requests name the field and value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tradecore
from tradecore import OrderStatus, OrderType
from tradecore.backtest import run_backtest
from tradecore.errors import InvalidInput
from tradecore.strategy import Strategy

S = tradecore.SCALE
MS = 1_000_000
INST = tradecore.Instrument("test", "X", tick_size="0.1", lot_size="0.001", maker_fee="0", taker_fee="0.0004")


def depth(x_ms: float, side: int, price: float, qty: float, last: bool = True) -> tuple[Any, ...]:
    flags = int(tradecore.Flag.LAST_IN_MESSAGE) if last else 0
    return (int(x_ms * MS), int((x_ms + 1) * MS), round(price * S), round(qty * S), 0, 0, 0, 0, flags,
            int(tradecore.Kind.DEPTH), side)


def trade(x_ms: float, aggressor: int, price: float, qty: float) -> tuple[Any, ...]:
    return (int(x_ms * MS), int((x_ms + 1) * MS), round(price * S), round(qty * S), 0, 0, 0, 0,
            int(tradecore.Flag.LAST_IN_MESSAGE), int(tradecore.Kind.TRADE), aggressor)


def falling() -> np.ndarray:
    """Bid 100.0 / ask 100.1; trades at 99.8 then 99.5 with the book following them down."""
    rows = [depth(0, 1, 100.0, 5, False), depth(0, -1, 100.1, 5),
            trade(10, -1, 99.8, 1), depth(11, 1, 100.0, 0, False), depth(11, 1, 99.7, 5),
            trade(20, -1, 99.5, 1), depth(21, 1, 99.7, 0, False), depth(21, 1, 99.4, 5),
            depth(30, -1, 100.1, 0, False), depth(30, -1, 99.6, 5)]
    return np.array(rows, dtype=tradecore.EVENT_DTYPE)


class Scripted(Strategy):
    def __init__(self, *orders: dict[str, Any]) -> None:
        super().__init__()
        self.orders = orders
        self.ids: list[int | None] = []
        self.errors: list[str] = []
        self.updates: list[tuple[str, int]] = []

    def on_book(self, book: Any) -> None:
        if self.ids or self.errors:
            return
        for o in self.orders:
            o = dict(o)
            send = self.ctx.buy if o.pop("side") > 0 else self.ctx.sell
            try:
                self.ids.append(send(**o))
            except InvalidInput as e:
                self.errors.append(str(e))

    def on_order(self, u: Any) -> None:
        self.updates.append((u.kind, u.client_id))

    def on_fill(self, u: Any) -> None:
        self.updates.append((u.kind, u.client_id))


def run(s: Strategy, events: np.ndarray) -> Any:
    return run_backtest(s, events, instrument=INST, latency="1ms", feed_latency="1ms", account="none")


def test_a_stop_loss_sells_at_the_book_once_the_last_price_falls_to_it() -> None:
    # long 1 (market buy at 100.1), stop sell 1 at 99.5: the 99.8 trade leaves it, the 99.5
    # trade fires it; it sells at the exchange's best bid then (99.7)
    s = Scripted({"side": 1, "qty": 1.0}, {"side": -1, "qty": 1.0, "trigger_price": 99.5})
    r = run(s, falling())
    stop = s.ids[1]
    assert ("triggered", stop) in s.updates
    assert s.updates.index(("triggered", stop)) < s.updates.index(("filled", stop))
    fills = r.fills[r.fills["client_id"] == stop]
    assert list(zip(fills["side"], fills["price"], fills["qty"], strict=True)) == [(-1, 99.7, 1.0)]
    row = r.orders[r.orders["client_id"] == stop][0]
    assert row["order_type"] == OrderType.STOP_MARKET and row["trigger_price"] == 99.5
    assert row["status"] == OrderStatus.FILLED
    assert r.positions["position"][-1] == 0.0


def test_a_take_profit_limit_rests_once_triggered_and_close_position_sells_what_is_held() -> None:
    # A take-profit buy limit at 99.6 fires when the price falls to 99.6 (the 99.5 trade) and
    # rests at 99.6 (the ask is 100.1 then; a later depth update is not a trade: no fill).
    # A stop sell with close_position closes the 1 bought, whatever its own quantity.
    class Closer(Scripted):
        def on_fill(self, u: Any) -> None:
            super().on_fill(u)
            if u.client_id == self.ids[0] and len(self.ids) == 2:  # long now: protect it
                self.ids.append(self.ctx.sell(0.001, trigger_price=99.8, close_position=True))

    s = Closer({"side": 1, "qty": 1.0},
               {"side": 1, "qty": 0.5, "price": 99.6, "trigger_price": 99.6, "order_type": "take_profit_limit"})
    r = run(s, falling())
    tp, close = s.ids[1], s.ids[2]
    assert ("triggered", tp) in s.updates and ("triggered", close) in s.updates
    closing = r.fills[r.fills["client_id"] == close]
    assert closing["qty"].sum() == 1.0 and (closing["side"] == -1).all()
    tp_row = r.orders[r.orders["client_id"] == tp][0]
    assert tp_row["order_type"] == OrderType.TAKE_PROFIT_LIMIT
    assert tp_row["status"] == OrderStatus.OPEN and tp_row["filled"] == 0.0


@pytest.mark.parametrize("order", [
    {"side": -1, "qty": 1.0, "price": 99.0, "order_type": "stop_market", "trigger_price": 99.0},
    {"side": -1, "qty": 1.0, "order_type": "stop_limit", "trigger_price": 99.0},
    {"side": -1, "qty": 1.0, "trigger_price": 99.05},
    {"side": -1, "qty": 1.0, "trigger_price": 99.0, "trigger_by": "index"},
    {"side": -1, "qty": 1.0, "trigger_price": 99.0, "order_type": "limit"},
    {"side": -1, "qty": 1.0, "order_type": "stop_market"},
    {"side": -1, "qty": 1.0, "trigger_price": 0.0},
    {"side": -1, "qty": 1.0, "trigger": 99.0},
])
def test_each_bad_conditional_request_is_refused_naming_the_field(order: dict[str, Any]) -> None:
    s = Scripted(order)
    r = run(s, falling())
    expected = {
        "price": "invalid price: 99.0 (a stop_market order has no limit price)",
        "stop_limit": "invalid price: None (a stop_limit order needs a limit price)",
        "grid": "invalid trigger_price: 99.05 (must be > 0 on the tick grid 0.1)",
        "by": "invalid trigger_by: 'index' ('last' or 'mark')",
        "limit": "invalid order_type: 'limit' (a trigger_price goes with stop_market",
        "none": "invalid trigger_price: None (a stop_market order needs one)",
        "zero": "invalid trigger_price: 0 (must be > 0 on the tick grid 0.1)",
        "unknown": "invalid argument: 'trigger' (an order takes tif,",
    }
    assert len(s.errors) == 1 and len(r.orders) == 0
    assert any(s.errors[0].startswith(m) for m in expected.values()), s.errors[0]


def test_a_stop_that_would_trigger_at_once_is_rejected_by_the_exchange() -> None:
    # after the first trade (99.8), a buy stop at 99.0 is already through: Binance's -2021
    class Late(Scripted):
        def on_trade(self, t: Any) -> None:
            if not self.ids:
                self.ids.append(self.ctx.buy(1.0, trigger_price=99.0))

        def on_book(self, book: Any) -> None:
            pass

    s = Late()
    r = run(s, falling())
    assert ("rejected", s.ids[0]) in s.updates
    assert r.orders["status"][0] == OrderStatus.REJECTED
