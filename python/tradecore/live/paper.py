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

Journal (``journal=``, the runner's ``state_dir/journal.sqlite``, the same SQLite journal as
real trading, :mod:`tradecore.live.journal`): the session is recorded (``sessions``); every
order the strategy sends is written as it is sent (the intent log, then SQLite at the end of
the message: status ``pending``, or ``refused`` with the risk check's reason); every answer of
the paper exchange (accepted, rejected, modified, cancelled) and every fill (trade id
``paper-<session>-<n>``, fee, maker flag, exchange and local time) is written before the
strategy hears of it, at the moment the loop books it (the compiled loop moves the position
when it delivers the fill to the strategy's side); the marks (mids) every ``sample_interval``
of the paper clock (``mark`` events), for the equity curve a report rebuilds from the journal
(:mod:`tradecore.live.journal_report`). Journal times are the paper exchange's clock (the
tables' ``sent_ts``/``local_ts``), not the wall clock.

Restart: a session started on a journal that already holds paper sessions (one killed with
``kill -9``, or stopped) continues from it: the journaled fills are restored into the loop
(``Backtest.restore_fill``: position, PnL, fees, account, the exchange's position), the orders
the journal has open are closed ``cancelled`` (the simulated exchange that held them died with
the process), client ids continue after the journal's largest, then the strategy starts.
:meth:`PaperTrader.finish` returns the tables of every session of the journal (the earlier
ones' orders and fills first, ``params["sessions"]``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from tradecore import _core
from tradecore._core import OrderStatus
from tradecore.account import AccountPlan, plan_account
from tradecore.backtest.engine import BacktestResult, Latency, new_loop, results_of
from tradecore.backtest.stats import statistics
from tradecore.errors import InvalidInput
from tradecore.instrument import Instrument
from tradecore.live.feed import BinanceMarketData, SymbolBook
from tradecore.live.host import default_instruments
from tradecore.live.journal import CONDITIONAL_NAMES, FillRecord, Journal, OrderRecord
from tradecore.live.journal_report import infos_of, journal_tables, write_instruments_meta
from tradecore.live.session import new_session_id
from tradecore.risk import RiskLimits
from tradecore.signals import duration_ns
from tradecore.strategy import Context, Strategy

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
        journal: The journal the session writes and continues from (see the module
            documentation; None: no journal).
        session: This session's id (default a new one; recorded in the journal).
    """

    def __init__(self, strategy: Strategy, md: BinanceMarketData, *, instruments: Sequence[Instrument] | None = None,
                 latency: object = "5ms", queue: str = "conservative", feed_latency: str | int = "0ms",
                 initial_capital: float = 100_000.0, risk: RiskLimits | None = None,
                 sample_interval: str | int = "1s", seed: int = 0, log: logging.Logger | None = None,
                 account: AccountPlan | None = None, journal: Journal | None = None,
                 session: str | None = None) -> None:
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
        self.journal = journal
        self.session = session or new_session_id()
        self.sample_ns = sample_ns
        self._loop_obj: object = strategy
        """What the compiled loop calls: the strategy, or with a journal :class:`_Journaled`."""
        self._jb: _JournalingBackend | None = None
        if journal is None:
            self.bt: _core.Backtest = new_loop(strategy, insts, self.latency, queue, self.feed_ns, None,
                                               initial_capital, self.limits, sample_ns, log, self.account)
        else:
            view = _OrdersView(strategy)  # subscribed to order updates, whatever the strategy overrides
            self.bt = new_loop(view, insts, self.latency, queue, self.feed_ns, None, initial_capital, self.limits,
                               sample_ns, log, self.account)
            self._jb = _JournalingBackend(self.bt, journal, self.session, insts)
            strategy.ctx = Context(self._jb, insts,
                                   log or logging.getLogger(f"tradecore.strategy.{type(strategy).__name__}"))
            self._loop_obj = _Journaled(strategy, self._jb)
            self.restored = self._restore(journal)
        self._index = {s: i for i, s in enumerate(md.books)}
        self._run = self.bt.run_feed
        self.error: Exception | None = None
        self.messages = 0
        self._next_mark = 0
        self._t0 = 0.0
        self._started = self._finished = False
        md.on_frame = self.on_frame

    def _restore(self, j: Journal) -> dict[str, int]:
        """Continues the journal's earlier paper sessions (see the module documentation)."""
        real = j.db.execute("SELECT COUNT(*) FROM fills WHERE source NOT LIKE 'paper%'").fetchone()[0]
        if real or j.meta("mode") not in (None, "paper"):
            raise InvalidInput(f"invalid journal: {j.path} holds real trading (a paper session needs its own "
                               "state_dir)")
        syms = [i.symbol for i in self.instruments]
        before = j.meta("instruments")
        if before is not None and [d["symbol"] for d in json.loads(before)] != syms:
            raise InvalidInput(f"invalid journal: {j.path} was written for {[d['symbol'] for d in json.loads(before)]}"
                               f", not {syms} (instrument indexes would differ)")
        j.set_meta("mode", "paper")
        write_instruments_meta(j, self.instruments, self.initial_capital)
        earlier = j.sessions()
        j.add_session(self.session, os.getpid(), time.time_ns())
        fills = j.fills()
        for f in fills:  # position, PnL, fees, account and the paper exchange's position continue
            self.bt.restore_fill(f.instrument, f.side, f.price, f.qty, f.fee)
        closed = 0
        for o in j.orders(open_only=True):
            if OrderStatus.of(o.status).can_become(OrderStatus.CANCELLED):
                j.update(o.client_id, "cancelled", reason=f"paper session {o.session or '?'} ended with the order "
                         "open: the simulated exchange holding it died with the process (not restored)",
                         ts=o.updated_ns)
                closed += 1
        assert self._jb is not None
        self._jb.next_id = j.next_client_id()
        self.bt.set_next_client_id(self._jb.next_id)  # the loop's own ids (liquidations) too
        if earlier:
            j.event("paper_restart", {"session": self.session, "fills_restored": len(fills),
                                      "orders_closed": closed, "next_client_id": self._jb.next_id})
            log.warning("paper session %s continues %d earlier session(s): %d fill(s) restored, %d open order(s) "
                        "closed as cancelled, client ids from %d", self.session, len(earlier), len(fills), closed,
                        self._jb.next_id)
        return {"fills": len(fills), "orders_closed": closed, "sessions": len(earlier)}

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
            self._run(self._loop_obj, b.feed, self._index[b.symbol])
            if self.journal is not None:
                self._journal_frame()
        except Exception as e:  # the strategy's or a data error: stops the session, which raises it
            self.error = e
            log.error("paper trading stopped: %s", e)
            self.md.stop()

    def _journal_frame(self) -> None:
        """After each message: the orders sent into SQLite (their intents are in the log), and
        the marks every ``sample_interval`` of the paper clock."""
        j = self.journal
        assert j is not None
        j.flush()
        now = self.bt.now
        if now >= self._next_mark:
            self._next_mark = now - now % self.sample_ns + self.sample_ns
            j.event("mark", {"mids": [self.bt.book(i).mid() for i in range(len(self.instruments))]}, ts=now)

    def halt(self, reason: str) -> list[int]:
        """The kill switch: the risk engine halts (no new order passes) and every open order is
        cancelled; returns their client ids."""
        if self.journal is not None:
            self.journal.event("halt", reason, ts=self.bt.now)
        ids: list[int] = self.bt.halt(reason)
        log.warning("paper trading halted (%s): %d open order(s) cancelled", reason, len(ids))
        return ids

    def finish(self) -> BacktestResult:
        """Ends the session: answers to orders in flight are delivered, ``on_stop`` is called,
        and the session's tables and statistics are returned (``write_report`` works on them)."""
        if not self._finished:
            self._finished = True
            self.start()
            self.bt.finish(self._loop_obj)
            self.strategy.on_stop()
            if self.journal is not None:
                self._journal_frame()
        desc = f"live {self.md.market} {', '.join(self.md.books)} ({self.messages} messages)"
        res = results_of(self.bt, self.strategy, self.instruments, desc, self.latency, self.queue, self.feed_ns,
                         self.initial_capital, self.limits, time.perf_counter() - self._t0, self.account)
        if self.journal is None:
            return res
        res.params["session"] = self.session
        orders, fills = journal_tables(self.journal, exclude_session=self.session)
        if len(orders) or len(fills):  # the earlier sessions' first, then this one's
            res.orders = np.concatenate([orders, res.orders])
            res.fills = np.concatenate([fills, res.fills])
            res.stats = statistics(res.equity, res.fills, res.orders, initial=self.initial_capital,
                                   instruments=infos_of(self.instruments), currency=res.stats.currency,
                                   refusals=res.stats.refusals, positions=res.positions)
            res.params["sessions"] = f"{len(self.journal.sessions())} (earlier: {len(orders)} orders, " \
                                     f"{len(fills)} fills restored from {self.journal.path})"
        return res


def _status_name(code: int) -> str:
    """The journal's name of a loop status (partially filled: ``open``, as real trading)."""
    st = OrderStatus.of(code)
    if st == OrderStatus.PARTIALLY_FILLED:
        return "open"
    if st == OrderStatus.EXPIRED:
        return "cancelled"
    return str(st)


class _OrdersView(Strategy):
    """Hands :func:`new_loop` a strategy that wants order updates (the journal needs them)."""

    def __init__(self, strategy: Strategy) -> None:
        self._s = strategy

    def wants(self, callback: str) -> bool:
        return callback in ("on_fill", "on_order") or self._s.wants(callback)


class _JournalingBackend:
    """The strategy's backend with a journal: the loop's own methods, but each order it sends is
    journaled (an intent in the log at once, its SQLite row at the end of the message) and
    client ids continue after the journal's."""

    def __init__(self, bt: _core.Backtest, journal: Journal, session: str, insts: Sequence[Instrument]) -> None:
        self.bt = bt
        self.journal = journal
        self.session = session
        self.symbols = [i.symbol for i in insts]
        self.next_id = 1
        self.fills = 0
        self.status: dict[int, str] = {}
        """Journal status of this session's orders still open."""
        self._liquidations = False
        # everything but submit goes straight to the loop
        self.cancel = bt.cancel
        self.modify = bt.modify
        self.book = bt.book
        self.position = bt.position
        self.equity = bt.equity
        self.account = bt.account
        self.open_orders = bt.open_orders
        self.order = bt.order
        self.set_timer = bt.set_timer
        self.set_signal = bt.set_signal
        self._intent = journal.intent_row

    @property
    def now(self) -> int:
        return self.bt.now

    @property
    def last_reject(self) -> tuple[str, str] | None:
        return self.bt.last_reject

    @property
    def trading_state(self) -> str:
        return self.bt.trading_state

    def submit(self, side: int, qty: float, price: float | None, tif: int, reduce_only: bool, instrument: int,
               client_id: int | None = None) -> int | None:
        bt = self.bt
        if client_id is None:
            cid = self.next_id
            if self._liquidations:  # the loop numbered its liquidation orders itself
                while bt.order(cid) is not None:
                    cid += 1
        else:
            cid = client_id
            if cid < self.next_id and (cid in self.status or self.journal.order(cid) is not None):
                raise InvalidInput(f"invalid client_id: {cid} (already used; ids are never reused)")
        r = bt.submit(side, qty, price, tif, reduce_only, instrument, cid)
        if cid >= self.next_id:
            self.next_id = cid + 1
        now = bt.now
        if r is None:
            why = bt.last_reject
            status, reason = "refused", "" if why is None else f"{why[0]}: {why[1]}"
        else:
            status, reason = "pending", ""
            self.status[cid] = "pending"
        # Journal._row's layout, without a record object (the tick-to-order path)
        self._intent((cid, instrument, self.symbols[instrument], side, 0.0 if price is None else price, qty, tif,
                      reduce_only, status, now, now, reason, self.session))
        return r

    def submit_conditional(self, side: int, qty: float, price: float | None, order_type: int, trigger_price: float,
                           trigger_by: str, tif: int, reduce_only: bool, close_position: bool, instrument: int,
                           client_id: int | None = None) -> int | None:
        """A stop or take-profit order, journaled as :meth:`submit` journals (the journal's
        row keeps its limit price, 0.0 for the market kinds; the trigger is in an event)."""
        bt = self.bt
        cid = self.next_id if client_id is None else client_id
        if client_id is not None and cid < self.next_id and (cid in self.status or self.journal.order(cid)):
            raise InvalidInput(f"invalid client_id: {cid} (already used; ids are never reused)")
        while client_id is None and bt.order(cid) is not None:
            cid += 1
        r = bt.submit_conditional(side, qty, price, order_type, trigger_price, trigger_by, tif, reduce_only,
                                  close_position, instrument, cid)
        self.next_id = max(self.next_id, cid + 1)
        now = bt.now
        if r is None:
            why = bt.last_reject
            status, reason = "refused", "" if why is None else f"{why[0]}: {why[1]}"
        else:
            status, reason = "pending", ""
            self.status[cid] = "pending"
        self._intent((cid, instrument, self.symbols[instrument], side, 0.0 if price is None else price, qty, tif,
                      reduce_only or close_position, status, now, now, reason, self.session,
                      CONDITIONAL_NAMES.get(order_type, ""), trigger_price, trigger_by, close_position))
        self.journal.event("conditional", {"order_type": order_type, "trigger_price": trigger_price,
                                           "trigger_by": trigger_by, "close_position": close_position}, cid, ts=now)
        return r

    def on_update(self, u: Any) -> None:
        """An answer of the paper exchange, journaled before the strategy hears of it."""
        j, cid = self.journal, u.client_id
        if u.kind == "filled":
            if u.reason == "liquidation" and cid not in self.status:
                self._liquidation_order(u)
            self.fills += 1
            j.fill(FillRecord(f"paper-{self.session}-{self.fills}", cid, u.instrument, u.side, u.price, u.qty, u.fee,
                              u.maker, u.exch_ts, u.ts, "paper"))
        o = self.bt.order(cid)  # the loop's status after this answer (a refused modify leaves it open)
        if o is None:
            return
        new = _status_name(o[5])
        old = self.status.get(cid)
        if old is None:
            return
        if u.kind == "modified":
            j.update(cid, new, price=o[2], qty=o[3], ts=u.ts)
        elif new != old or u.kind == "rejected":
            j.update(cid, new, reason=u.reason or None, ts=u.ts)
        if OrderStatus.of(o[5]).is_terminal:
            del self.status[cid]
        else:
            self.status[cid] = new

    def _liquidation_order(self, u: Any) -> None:
        """A liquidation the loop made (its own order): its row, filled."""
        self._liquidations = True
        rec = OrderRecord(u.client_id, u.instrument, self.symbols[u.instrument], u.side, u.price, u.qty, 1, True,
                          "filled", reason="liquidation", session=self.session)
        if self.journal.order(u.client_id) is not None:
            log.error("liquidation order %d: the id is an earlier session's (the loop numbers its liquidations "
                      "from 1); its fill is journaled, its order row is the earlier one", u.client_id)
            return
        self.journal.intent(rec, ts=u.ts)
        self.journal.flush()


class _Journaled:
    """What the compiled loop calls with a journal: the strategy's own callbacks (bound
    methods, no extra call on the market data path), its order updates journaled first."""

    def __init__(self, strategy: Strategy, jb: _JournalingBackend) -> None:
        for name in ("on_book", "on_trade", "on_timer", "on_prediction"):
            setattr(self, name, getattr(strategy, name))
        fill = getattr(strategy, "on_fill") if strategy.wants("on_fill") else None
        order = getattr(strategy, "on_order") if strategy.wants("on_order") else None
        on_update = jb.on_update

        def on_fill(u: Any) -> None:
            on_update(u)
            if fill is not None:
                fill(u)

        def on_order(u: Any) -> None:
            on_update(u)
            if order is not None:
                order(u)

        self.on_fill = on_fill
        self.on_order = on_order
