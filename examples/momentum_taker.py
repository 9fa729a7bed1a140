"""A taker on trade-flow momentum: it follows the aggressor imbalance of recent trades.

    tradecore backtest --strategy examples/momentum_taker.py:MomentumTaker --data synthetic

The signal is the exponentially decayed signed volume of trades (buyer-initiated positive),
with a half-life of half_life_ms, divided by the decayed total volume: a number in [-1, 1].
Above +threshold it buys (an IOC order up to slippage_ticks through the best ask), below
-threshold it sells, up to max_position. A position is closed (reduce-only IOC) after
hold_ms, or at once when the signal turns against it.
"""

from __future__ import annotations

import math

from tradecore import Strategy
from tradecore.strategy import TradeLike


class MomentumTaker(Strategy):
    size = 0.001
    half_life_ms = 500.0
    threshold = 0.6
    min_volume = 0.05           # decayed volume below this: no signal
    max_position = 0.003
    hold_ms = 2_000.0
    slippage_ticks = 2
    cooldown_ms = 200.0

    def on_start(self) -> None:
        self.tick = float(self.ctx.instruments[0].tick_size)
        self.flow = 0.0
        self.volume = 0.0
        self.last_ts = 0
        self.entered_ts = 0
        self.next_ok = 0
        self.ctx.set_timer("250ms")

    def on_trade(self, trade: TradeLike) -> None:
        decay = math.exp(-math.log(2) * (trade.ts - self.last_ts) / (self.half_life_ms * 1e6)) if self.last_ts else 0.0
        self.last_ts = trade.ts
        self.flow = self.flow * decay + trade.side * trade.qty
        self.volume = self.volume * decay + trade.qty
        if self.volume < self.min_volume or trade.ts < self.next_ok or self.ctx.open_orders():
            return
        signal = self.flow / self.volume
        pos = self.ctx.position().qty
        if signal > self.threshold and pos < self.max_position - 1e-12:
            self._take(1, trade.ts)
        elif signal < -self.threshold and pos > -self.max_position + 1e-12:
            self._take(-1, trade.ts)
        elif (signal < 0 < pos) or (signal > 0 > pos):
            self._close(trade.ts)

    def on_timer(self, ts: int) -> None:
        pos = self.ctx.position().qty
        if pos != 0 and ts - self.entered_ts >= self.hold_ms * 1e6 and not self.ctx.open_orders():
            self._close(ts)

    def _take(self, side: int, ts: int) -> None:
        book = self.ctx.book()
        best = book.best_ask() if side > 0 else book.best_bid()
        if best is None:
            return
        price = round(best[0] + side * self.slippage_ticks * self.tick, 9)
        send = self.ctx.buy if side > 0 else self.ctx.sell
        if send(self.size, price, tif="ioc") is not None:
            self.entered_ts = ts
            self.next_ok = ts + int(self.cooldown_ms * 1e6)

    def _close(self, ts: int) -> None:
        pos = self.ctx.position().qty
        if pos == 0:
            return
        send = self.ctx.sell if pos > 0 else self.ctx.buy
        send(round(abs(pos), 9), tif="ioc", reduce_only=True)
        self.next_ok = ts + int(self.cooldown_ms * 1e6)


if __name__ == "__main__":
    from tradecore.backtest import run_backtest

    result = run_backtest(MomentumTaker(), "synthetic", synthetic_seconds=60, latency="5ms")
    print(result.summary())
