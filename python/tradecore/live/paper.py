"""Paper trading on live data: the strategy's orders fill in the backtest's exchange simulator,
fed the live book and trades.

The strategy runs inside the same compiled loop as in a backtest (``tradecore._core.Backtest``:
the pre-trade risk engine, the exchange simulator with its latency and queue models, the
portfolio); the only difference is where the events come from: each message the live feed
applies (a websocket frame or a REST snapshot) hands its normalized events
(``feed.last_events()``) to the loop, which wakes the strategy and fills its orders exactly
as it would replaying a recording of the same messages.

Clock: the paper exchange runs on the feed's exchange timestamps (a REST snapshot, which has
none, at the latest one seen), and the strategy sees each event ``feed_latency`` after it (as a
backtest with a constant feed latency); orders reach the
simulated exchange ``latency`` after they are sent. So a paper session and a backtest of a
recording of the same messages give the same fills (a test checks this), whatever the pace
the messages came at. The cost: a timer or an order answer is delivered when the next event
shows that its time has passed (on a live Binance stream, within milliseconds).

::

    md = BinanceMarketData({"BTCUSDT": (0.1, 0.001)})
    paper = PaperTrader(MarketMaker(), md, latency="5ms")
    paper.start()
    await md.run()
    result = paper.finish()          # a BacktestResult: tables, statistics, report
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from tradecore import _core
from tradecore.account import AccountPlan, plan_account
from tradecore.backtest.engine import BacktestResult, Latency, new_loop, results_of
from tradecore.errors import InvalidInput
from tradecore.instrument import Instrument
from tradecore.live.feed import BinanceMarketData, SymbolBook
from tradecore.live.host import default_instruments
from tradecore.risk import RiskLimits
from tradecore.signals import duration_ns
from tradecore.strategy import Strategy

log = logging.getLogger("tradecore.live.paper")


class PaperTrader:
    """A strategy paper-trading on a :class:`BinanceMarketData` (set as its ``on_frame``).

    Args:
        strategy: The strategy (the backtest's class, unchanged).
        md: The live feed.
        instruments: One per symbol of ``md``, in its order (default: from the feed's tick
            and lot sizes, no fees).
        latency: Order entry/response latency (as the backtest's ``latency``).
        queue: Queue position model (as the backtest's ``queue``).
        feed_latency: How long after its exchange time the strategy sees an event.
        initial_capital: Starting equity.
        risk: Pre-trade limits (every order passes them).
        sample_interval: Equity and position sampling interval.
        seed: Seed of sampled latencies.
        log: The strategy's logger.
        account: The account (default :func:`tradecore.account.plan_account` ``auto`` with
            ``initial_capital``: spot a cash account, futures a margin account).
    """

    def __init__(self, strategy: Strategy, md: BinanceMarketData, *, instruments: Sequence[Instrument] | None = None,
                 latency: object = "5ms", queue: str = "conservative", feed_latency: str | int = "0ms",
                 initial_capital: float = 100_000.0, risk: RiskLimits | None = None,
                 sample_interval: str | int = "1s", seed: int = 0, log: logging.Logger | None = None,
                 account: AccountPlan | None = None) -> None:
        if not isinstance(strategy, Strategy):
            raise InvalidInput(f"invalid strategy: {strategy!r} (a tradecore.strategy.Strategy instance)")
        insts = list(instruments) if instruments is not None else default_instruments(md)
        if [i.symbol for i in insts] != list(md.books):
            raise InvalidInput(f"invalid instruments: {[i.symbol for i in insts]} (one per feed symbol, in its "
                               f"order: {list(md.books)})")
        self.feed_ns = duration_ns(feed_latency, "feed_latency")
        if self.feed_ns < 0:
            raise InvalidInput(f"invalid feed_latency: {feed_latency!r} (must be >= 0)")
        sample_ns = duration_ns(sample_interval, "sample_interval")
        if sample_ns <= 0:
            raise InvalidInput(f"invalid sample_interval: {sample_interval!r} (must be > 0)")
        self.strategy = strategy
        self.md = md
        self.instruments = insts
        self.latency = Latency.parse(latency, seed)
        self.queue = queue
        self.initial_capital = initial_capital
        self.limits = risk or RiskLimits()
        self.account = account or plan_account(insts, initial_capital=initial_capital)
        self.bt: _core.Backtest = new_loop(strategy, insts, self.latency, queue, self.feed_ns, None,
                                           initial_capital, self.limits, sample_ns, log, self.account)
        self._index = {s: i for i, s in enumerate(md.books)}
        self._run = self.bt.run_feed
        self.error: Exception | None = None
        self.messages = 0
        self._t0 = 0.0
        self._started = self._finished = False
        md.on_frame = self.on_frame

    def start(self) -> None:
        """Calls the strategy's ``on_start`` (before the first event)."""
        if not self._started:
            self._started = True
            self._t0 = time.perf_counter()
            self.strategy.on_start()

    def on_frame(self, b: SymbolBook, frame: bytes, ts: int) -> None:
        """Hands the events of a message just applied to the loop (which wakes the strategy)."""
        if self.error is not None or self._finished:
            return
        self.messages += 1
        try:  # the feed's events go to the loop without a copy through numpy
            self._run(self.strategy, b.feed, self._index[b.symbol])
        except Exception as e:  # the strategy's or a data error: stops the session, which raises it
            self.error = e
            log.error("paper trading stopped: %s", e)
            self.md.stop()

    def halt(self, reason: str) -> list[int]:
        """The kill switch: the risk engine halts (no new order passes) and every open order is
        cancelled; returns their client ids."""
        ids: list[int] = self.bt.halt(reason)
        log.warning("paper trading halted (%s): %d open order(s) cancelled", reason, len(ids))
        return ids

    def finish(self) -> BacktestResult:
        """Ends the session: answers to orders in flight are delivered, ``on_stop`` is called,
        and the session's tables and statistics are returned (``write_report`` works on them)."""
        if not self._finished:
            self._finished = True
            self.start()
            self.bt.finish(self.strategy)
            self.strategy.on_stop()
        desc = f"live {self.md.market} {', '.join(self.md.books)} ({self.messages} messages)"
        return results_of(self.bt, self.strategy, self.instruments, desc, self.latency, self.queue, self.feed_ns,
                          self.initial_capital, self.limits, time.perf_counter() - self._t0, self.account)
