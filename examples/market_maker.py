"""A market maker: quotes both sides around the microprice, skewed by its inventory and by the
book's imbalance, with post-only orders (never pays the taker fee).

    tradecore backtest --strategy examples/market_maker.py:MarketMaker --data synthetic
    tradecore backtest --strategy examples/market_maker.py:MarketMaker \\
        --data usdm_btcusdt_20240808.gz --param size=0.002 --queue power:2 --report mm.html

Fair value = microprice + imbalance_ticks * imbalance(levels) * tick
             - skew_ticks * (position / max_position) * tick.
The bid sits half_spread_ticks below fair value and the ask as far above, never through the
touch; a side whose fill would take the position past max_position is not quoted. A quote
moves (modify: keeps the order, loses the queue place) when its target moves by requote_ticks.
"""

from __future__ import annotations

import math

from tradecore import OrderUpdate, Strategy
from tradecore.strategy import BookLike


class MarketMaker(Strategy):
    size = 0.001                # per quote
    half_spread_ticks = 1.0     # from fair value to each quote
    skew_ticks = 3.0            # shift at full inventory
    imbalance_ticks = 1.0       # shift at full book imbalance
    imbalance_levels = 5
    max_position = 0.005
    requote_ticks = 1

    def on_start(self) -> None:
        inst = self.ctx.instruments[0]
        self.tick = float(inst.tick_size)
        self.bid_id: int | None = None
        self.ask_id: int | None = None
        self.requotes = 0

    def on_book(self, book: BookLike) -> None:
        bb, ba = book.best_bid(), book.best_ask()
        micro = book.microprice()
        if bb is None or ba is None or micro is None:
            return
        tick = self.tick
        pos = self.ctx.position().qty
        imb = book.imbalance(self.imbalance_levels) or 0.0
        fair = micro + (self.imbalance_ticks * imb - self.skew_ticks * pos / self.max_position) * tick
        bid = min(math.floor((fair - self.half_spread_ticks * tick) / tick) * tick, bb[0])
        ask = max(math.ceil((fair + self.half_spread_ticks * tick) / tick) * tick, ba[0])
        bid, ask = round(bid, 9), round(ask, 9)
        self.bid_id = self._quote(self.bid_id, 1, bid, pos + self.size <= self.max_position + 1e-12)
        self.ask_id = self._quote(self.ask_id, -1, ask, pos - self.size >= -self.max_position - 1e-12)

    def _quote(self, order_id: int | None, side: int, price: float, allowed: bool) -> int | None:
        ctx = self.ctx
        if order_id is not None:
            o = ctx.order(order_id)
            if o is None or not o.status.is_open:
                order_id = None
            elif not allowed:
                ctx.cancel(order_id)
                return order_id      # until the cancel is confirmed
            elif abs(o.price - price) >= self.requote_ticks * self.tick - 1e-9:
                self.requotes += 1
                ctx.modify(order_id, price, o.qty - o.filled)
                return order_id
            else:
                return order_id
        if not allowed:
            return None
        send = ctx.buy if side > 0 else ctx.sell
        return send(self.size, price, post_only=True)

    def on_order(self, update: OrderUpdate) -> None:
        # A cancel ends the order; a rejection ends it unless it refused a modification.
        o = self.ctx.order(update.client_id)
        if update.kind == "cancelled" or (update.kind == "rejected" and (o is None or not o.status.is_open)):
            self._forget(update.client_id)

    def on_fill(self, fill: OrderUpdate) -> None:
        if fill.remaining == 0:
            self._forget(fill.client_id)

    def _forget(self, client_id: int) -> None:
        if client_id == self.bid_id:
            self.bid_id = None
        elif client_id == self.ask_id:
            self.ask_id = None


if __name__ == "__main__":
    from tradecore.backtest import run_backtest

    result = run_backtest(MarketMaker(), "synthetic", synthetic_seconds=60, latency="5ms")
    print(result.summary())
