"""The live runner: a uvloop event loop, Binance feeds for the configured symbols, the
recorder and the Prometheus metrics.

A configuration file (TOML)::

    [live]
    market = "usdm"                  # usdm, coinm or spot
    symbols = ["BTCUSDT"]
    ws_url = "ws://127.0.0.1:8765"   # default: Binance's; here the exchange simulator
    rest_url = "http://127.0.0.1:8765"
    metrics_port = 9108              # Prometheus endpoint on 127.0.0.1 (0: none)
    record = "recordings"            # folder for the raw frames (omit: no recording)
    rotate_s = 3600
    status_every_s = 10

    [symbols.BTCUSDT]
    tick_size = 0.1
    lot_size = 0.001
    maker_fee = -0.0001              # optional, for paper trading
    taker_fee = 0.0004

With ``--strategy``, the strategy trades: on paper by default (fills from the backtest's
exchange simulator fed the live data, :mod:`tradecore.live.paper`); every order passes the
pre-trade risk engine with the ``[risk]`` limits::

    [trading]
    mode = "paper"                   # paper, or watch (market data only)
    latency = "5ms"                  # paper: order entry/response latency
    queue = "conservative"           # paper: queue position model
    feed_latency = "0ms"
    initial_capital = 100000
    state_dir = "state"              # the runner lock `tradecore kill` reads (one runner per dir)

    [risk]
    max_order_qty = 0.01
    max_position = 0.05
    daily_loss_limit = 500

The kill switch: ``tradecore kill --config live.toml`` (or SIGUSR1 to the runner), and the
risk engine's own halt (daily loss, drawdown), cancel every open order and refuse new ones.
SIGINT/SIGTERM stop the runner gracefully (orders in flight answered, orders still open
brought to the exchange's state, then cancelled, recorder flushed).

One runner per state directory: a runner with a strategy holds an OS file lock on
``<state_dir>/runner.lock`` (pid, session id, start time; :mod:`tradecore.live.session`) for
its whole life; a second one on the same directory is refused at start, naming the holder.
Each run is a new trading session whose id is part of every client order id it sends.

Real trading (``mode = "real"``, :mod:`tradecore.live.trading`): orders through ccxt, or
tradecore's own signed requests on Binance USD-M (``native = true``), a journal in
``state_dir``, reconciliation with the exchange on start. The ``[gateway]`` table goes to the
ccxt constructor (``urls`` overrides, options); the keys come from TRADECORE_API_KEY and
TRADECORE_API_SECRET, or from ``[gateway] apiKey``/``secret`` in a file only its owner can
read (the runner refuses it otherwise)::

    [trading]
    mode = "real"
    native = true

Other exchanges go through ccxt.pro (``watch_order_book``/``watch_trades``), with unified
symbols; the ``[ccxt]`` table is handed to the ccxt constructor (keys, ``urls`` overrides)::

    [live]
    ccxt = "bybit"
    symbols = ["BTC/USDT:USDT"]

    [symbols."BTC/USDT:USDT"]
    tick_size = 0.1
    lot_size = 0.001
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import msgspec

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tradecore import _core
from tradecore.account import ACCOUNT_MODES, plan_account
from tradecore.backtest.engine import BacktestResult, Latency
from tradecore.config import Meta, Positive, Schema, load_toml, table_name
from tradecore.errors import ConfigError, InvalidInput
from tradecore.instrument import Instrument
from tradecore.live.ccxt_feed import CcxtBook, CcxtMarketData
from tradecore.live.feed import MARKETS, BinanceMarketData, FeedHealth, SymbolBook
from tradecore.live.gateway import CLIENT_PREFIX, CcxtGateway
from tradecore.live.host import StrategyHost, default_instruments
from tradecore.live.journal import Journal
from tradecore.live.journal_report import write_instruments_meta
from tradecore.live.paper import PaperTrader
from tradecore.live.recorder import Recorder
from tradecore.live.session import LOCK_FILE, RunnerLock, new_session_id
from tradecore.live.trading import TradingBackend
from tradecore.risk import RiskLimits
from tradecore.signals import duration_ns
from tradecore.strategy import Strategy

log = logging.getLogger("tradecore.live")


TradingMode = Literal["paper", "real", "watch"]
TRADING_MODES: tuple[str, ...] = get_args(TradingMode)
_CCXT_OF_MARKET = {"usdm": "binanceusdm", "coinm": "binancecoinm", "spot": "binance"}


class TradingConfig(Schema):
    """The ``[trading]`` table: how a strategy's orders are handled."""

    mode: TradingMode = "paper"
    """``paper``: fills from the exchange simulator fed the live data (the default);
    ``real``: orders to the exchange through ccxt (:mod:`tradecore.live.trading`);
    ``watch``: market data only, order calls raise."""
    latency: str = "5ms"
    """Paper: order entry/response latency (as the backtest's ``--latency``)."""
    queue: str = "conservative"
    """Paper: queue position model."""
    feed_latency: str = "0ms"
    """Paper: how long after its exchange time the strategy sees an event."""
    initial_capital: Positive = 100_000.0
    """Paper: the account's starting equity (a margin account's wallet, a cash account's quote
    balance unless ``balances`` are given); real: equity before PnL for the loss limits."""
    account: str = "auto"
    """Paper: ``auto`` (spot: cash, futures: cross margin), ``cash``, ``margin`` or ``none``
    (see :func:`tradecore.account.plan_account`)."""
    balances: dict[str, Annotated[float, Meta(ge=0)]] | None = None
    """Paper, cash account: starting balances per asset (a TOML table)."""
    leverage: Positive | None = None
    """Paper, margin account: leverage of every instrument (default Binance's 20x)."""
    liquidation_fee: Annotated[float, Meta(ge=0, lt=1)] | None = None
    """Paper, margin account: liquidation clearance fee rate (default the symbol's)."""
    exchange: str = ""
    """Real: the ccxt exchange id (default: Binance's of ``[live] market``)."""
    client_prefix: Annotated[str, Meta(pattern=CLIENT_PREFIX.pattern)] = "tc"
    """Real: prefix of the client order ids (one per runner sharing an account; 1-8 characters,
    followed by the session id and the client id)."""
    native: bool = False
    """Real, Binance USD-M: orders and cancels by tradecore's own encoder on a kept-alive
    connection (the low-latency path) instead of ccxt's ``create_order``."""
    order_timeout_s: Positive = 5.0
    poll_s: Positive = 2.0
    cancel_on_stop: bool = True
    """Real: cancel the open orders on a graceful stop (SIGINT/SIGTERM)."""
    durable_journal: bool = False
    """Real: fsync every journal write (survives power loss, not only a killed process)."""
    state_dir: str = "state"
    """Where the runner keeps its lock file (``runner.lock``: one runner per directory;
    ``tradecore kill`` reads it) and the journal (``journal.sqlite``); relative to the
    configuration file."""

    @property
    def lockfile(self) -> Path:
        """The runner lock (held while a runner runs; ``tradecore kill`` reads it)."""
        return Path(self.state_dir) / LOCK_FILE


@dataclass
class LiveConfig:
    """What the live runner connects to and does (see the module documentation)."""

    symbols: dict[str, tuple[float, float]]
    market: str = "usdm"
    ws_url: str | None = None
    rest_url: str | None = None
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    record: Path | None = None
    rotate_s: float = 3600.0
    status_every_s: float = 10.0
    snapshot_limit: int = 1000
    ccxt: str | None = None
    """A ccxt.pro exchange id: the generic feed instead of the native Binance one."""
    ccxt_options: dict[str, Any] = field(default_factory=dict)
    gateway_options: dict[str, Any] = field(default_factory=dict)
    """The ``[gateway]`` table, handed to the ccxt constructor of the real gateway (``apiKey``,
    ``secret``, ``urls``...). Keys also come from TRADECORE_API_KEY / TRADECORE_API_SECRET."""
    trading: TradingConfig = field(default_factory=lambda: TradingConfig())
    risk: RiskLimits = field(default_factory=RiskLimits)
    fees: dict[str, tuple[float, float]] = field(default_factory=dict)
    """{symbol: (maker_fee, taker_fee)} (rates; negative: a rebate)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_toml(cls, path: str | PathLike[str]) -> LiveConfig:
        """Reads a configuration file, checked by the configuration schema
        (:mod:`tradecore.config`): unknown tables and keys, wrong types and ranges, a secret in
        a file others can read are refused, one line naming the file, table, key and value."""
        f, src = load_toml(path, LiveFile)
        live = f.live
        src.check(("live",), "market", live.market, _market)
        src.check(("trading",), "account", f.trading.account, _account)
        trading = f.trading
        src.check(("trading",), "latency", trading.latency, Latency.parse)
        src.check(("trading",), "feed_latency", trading.feed_latency, lambda v: duration_ns(v, "feed_latency"))
        src.check(("trading",), "queue", trading.queue, _queue)
        sizes: dict[str, tuple[float, float]] = {}
        fees: dict[str, tuple[float, float]] = {}
        used: set[str] = set()
        for s in live.symbols:
            key = s if s in f.symbols else s.upper()
            t = f.symbols.get(key)
            if t is None:
                raise src.error(("live",), "symbols", f"no [{table_name(('symbols', s))}] table with its tick_size "
                                "and lot_size", value=live.symbols)
            used.add(key)
            name = s if live.ccxt else s.upper()
            sizes[name] = (t.tick_size, t.lot_size)
            if (t.maker_fee is None) != (t.taker_fee is None):
                raise src.error(("symbols", key), "maker_fee" if t.maker_fee is None else "taker_fee",
                                "give maker_fee and taker_fee together (neither: the venue's standard tier)",
                                show_value=False)
            if t.maker_fee is not None and t.taker_fee is not None:
                fees[name] = (t.maker_fee, t.taker_fee)
        for key in f.symbols:
            if key not in used:
                close = difflib.get_close_matches(key, [s for s in live.symbols if s not in used], n=1)
                hint = f"; did you mean [{table_name(('symbols', close[0]))}]?" if close else \
                    f" ([live] symbols: {', '.join(live.symbols)})"
                raise ConfigError(f"{src.where(('symbols', key))}: [{table_name(('symbols', key))}] is not a "
                                  f"symbol of [live] symbols{hint}")
        trading.state_dir = str(src.path.parent / trading.state_dir)  # relative to the configuration file
        return cls(symbols=sizes, market=live.market, ws_url=live.ws_url, rest_url=live.rest_url,
                   metrics_port=live.metrics_port, metrics_host=live.metrics_host,
                   record=Path(live.record) if live.record else None, rotate_s=live.rotate_s,
                   status_every_s=live.status_every_s, snapshot_limit=live.snapshot_limit, ccxt=live.ccxt,
                   ccxt_options=dict(f.ccxt), gateway_options=dict(f.gateway), trading=trading, risk=f.risk,
                   fees=fees)


class LiveTable(Schema):
    """The ``[live]`` table: what the runner connects to."""

    symbols: Annotated[list[Annotated[str, Meta(min_length=1)]], Meta(min_length=1)]
    market: str = "usdm"
    ws_url: Annotated[str, Meta(pattern=r"^wss?://")] | None = None
    rest_url: Annotated[str, Meta(pattern=r"^https?://")] | None = None
    metrics_port: Annotated[int, Meta(ge=0, le=65535)] = 0
    """The Prometheus endpoint's port (0: none)."""
    metrics_host: Annotated[str, Meta(min_length=1)] = "127.0.0.1"
    record: Annotated[str, Meta(min_length=1)] | None = None
    rotate_s: Positive = 3600.0
    status_every_s: Positive = 10.0
    snapshot_limit: Annotated[int, Meta(ge=1, le=5000)] = 1000
    ccxt: Annotated[str, Meta(min_length=1)] | None = None


class SymbolTable(Schema):
    """A ``[symbols.X]`` table: the instrument's sizes and fees."""

    tick_size: Positive
    lot_size: Positive
    maker_fee: Annotated[float, Meta(gt=-1, lt=1)] | None = None
    """Maker fee rate (None: the venue's spec or its standard tier, named in the log)."""
    taker_fee: Annotated[float, Meta(gt=-1, lt=1)] | None = None


class LiveFile(Schema):
    """The live runner's configuration file (see the module documentation)."""

    live: LiveTable
    symbols: dict[str, SymbolTable] = {}
    trading: TradingConfig = msgspec.field(default_factory=TradingConfig)
    risk: RiskLimits = msgspec.field(default_factory=RiskLimits)
    ccxt: dict[str, Any] = {}
    """Handed to the ccxt constructor of the generic feed (free keys; secrets checked)."""
    gateway: dict[str, Any] = {}
    """Handed to the ccxt constructor of the real gateway (free keys; secrets checked)."""


def _market(market: str) -> None:
    if market not in MARKETS:
        raise InvalidInput(f"must be one of {', '.join(MARKETS)}")


def _account(mode: str) -> None:
    if mode not in ACCOUNT_MODES:
        raise InvalidInput(f"must be one of {', '.join(ACCOUNT_MODES)}")


def _queue(queue: str) -> None:
    _core.SimExchange(1.0, 1.0, queue=queue)  # the simulator parses its queue models


class Metrics:
    """Prometheus metrics of the feeds (served on 127.0.0.1 unless configured otherwise)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("tradecore_feed_messages", "Frames received", ["symbol"], registry=r)
        self.gaps = Counter("tradecore_feed_gaps", "Sequence gaps detected", ["symbol"], registry=r)
        self.resyncs = Counter("tradecore_feed_resyncs", "Book resyncs (snapshots after the first)", ["symbol"],
                               registry=r)
        self.reconnects = Counter("tradecore_feed_reconnects", "Reconnections", ["symbol"], registry=r)
        self.malformed = Counter("tradecore_feed_malformed", "Malformed frames skipped", ["symbol"], registry=r)
        self.book_age = Gauge("tradecore_book_age_seconds", "Seconds since the last frame", ["symbol"], registry=r)
        self.in_sync = Gauge("tradecore_book_in_sync", "1 when the book is in sync", ["symbol"], registry=r)
        self.rate = Gauge("tradecore_feed_messages_per_second", "Frames per second (last interval)", ["symbol"],
                          registry=r)
        self.latency = Histogram("tradecore_frame_to_book_seconds", "Frame received -> book updated", ["symbol"],
                                 buckets=(1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2), registry=r)
        self._last: dict[str, FeedHealth] = {}
        self._t = time.monotonic()

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)

    def update(self, books: Mapping[str, SymbolBook | CcxtBook], latencies: dict[str, list[int]]) -> None:
        """Brings the metrics up to date (called about once a second, off the hot path)."""
        now, now_ns = time.monotonic(), time.time_ns()
        dt = max(now - self._t, 1e-9)
        self._t = now
        for s, b in books.items():
            h, prev = b.health, self._last.get(s, FeedHealth(s))
            self.messages.labels(s).inc(h.messages - prev.messages)
            self.gaps.labels(s).inc(h.gaps - prev.gaps)
            self.resyncs.labels(s).inc(max(0, h.resyncs - prev.resyncs))
            self.reconnects.labels(s).inc(h.reconnects - prev.reconnects)
            self.malformed.labels(s).inc(h.malformed - prev.malformed)
            self.rate.labels(s).set((h.messages - prev.messages) / dt)
            age = h.age_s(now_ns)
            self.book_age.labels(s).set(age if age != float("inf") else -1)
            self.in_sync.labels(s).set(1 if h.in_sync else 0)
            hist = self.latency.labels(s)
            for ns in latencies.get(s, ()):
                hist.observe(ns / 1e9)
            self._last[s] = FeedHealth(**vars(h))


class LiveRunner:
    """Runs the feeds of a :class:`LiveConfig` until stopped (or for ``duration_s``)."""

    def __init__(self, config: LiveConfig, *, record: Path | None = None, strategy: Strategy | None = None) -> None:
        self.config = config
        self.session = new_session_id()
        """This run's trading session (in every client order id, in the journal, in the lock)."""
        self.lock: RunnerLock | None = None
        if strategy is not None:  # before anything of the state directory is opened
            self.lock = RunnerLock(config.trading.state_dir, self.session)
        try:
            self._set_up(config, record, strategy)
        except BaseException:
            self.lock_release()
            raise

    def lock_release(self) -> None:
        """Gives the state directory's lock back (at the end of :meth:`run`)."""
        if self.lock is not None:
            self.lock.release()

    def _set_up(self, config: LiveConfig, record: Path | None, strategy: Strategy | None) -> None:
        folder = record or config.record
        if folder and config.ccxt:
            raise InvalidInput("invalid record: the ccxt feed gives no raw frames to record (native Binance feed only)")
        self.recorder = (Recorder(folder, f"{config.market}_{'_'.join(s.lower() for s in config.symbols)}",
                                  rotate_s=config.rotate_s) if folder else None)
        self.metrics = Metrics()
        self.latencies: dict[str, list[int]] = {s: [] for s in config.symbols}
        self.md: BinanceMarketData | CcxtMarketData
        if config.ccxt:
            self.md = CcxtMarketData(config.ccxt, config.symbols, config=config.ccxt_options)
        else:
            self.md = BinanceMarketData(config.symbols, market=config.market, ws_url=config.ws_url,
                                        rest_url=config.rest_url, snapshot_limit=config.snapshot_limit,
                                        recorder=self.recorder, on_frame=None)
            self.md.latency_sink = self.latencies
        self.host: StrategyHost | None = None
        self.paper: PaperTrader | None = None
        self.trading: TradingBackend | None = None
        self.gateway: CcxtGateway | None = None
        self.journal: Journal | None = None
        self.result: BacktestResult | None = None
        """A paper session's orders, fills, equity and statistics, once it ended."""
        if strategy is not None:
            if config.trading.mode == "paper":
                if not isinstance(self.md, BinanceMarketData):
                    raise InvalidInput("invalid [trading] mode 'paper' with the ccxt feed: paper trading replays the "
                                       "native Binance feed's events (use mode = \"watch\" with ccxt)")
                t = config.trading
                insts = self._instruments()
                plan = plan_account(insts, mode=t.account, initial_capital=t.initial_capital, balances=t.balances,
                                    leverage=t.leverage, liquidation_fee=t.liquidation_fee)
                # the same journal as real trading; a killed session's successor continues from it
                self.journal = Journal(Path(t.state_dir) / "journal.sqlite", durable=t.durable_journal)
                self.paper = PaperTrader(strategy, self.md, instruments=insts, latency=t.latency, queue=t.queue,
                                         feed_latency=t.feed_latency, initial_capital=t.initial_capital,
                                         risk=config.risk, journal=self.journal, session=self.session, account=plan)
            elif config.trading.mode == "real":
                t = config.trading
                gw_cfg = dict(config.gateway_options)
                for key, env in (("apiKey", "TRADECORE_API_KEY"), ("secret", "TRADECORE_API_SECRET")):
                    if key not in gw_cfg and os.environ.get(env):
                        gw_cfg[key] = os.environ[env]
                state = Path(t.state_dir)
                self.gateway = CcxtGateway(t.exchange or _CCXT_OF_MARKET.get(config.market, "binanceusdm"),
                                           list(config.symbols), config=gw_cfg, client_prefix=t.client_prefix,
                                           timeout_s=t.order_timeout_s, poll_s=t.poll_s, native=t.native)
                self.journal = Journal(state / "journal.sqlite", durable=t.durable_journal)
                insts = self._instruments()
                self.journal.set_meta("mode", "real")
                write_instruments_meta(self.journal, insts, t.initial_capital)
                self.trading = TradingBackend(self.md, self.gateway, self.journal, insts, limits=config.risk,
                                              initial_capital=t.initial_capital, session=self.session)
                self.host = StrategyHost(strategy, self.md, backend=self.trading, instruments=insts)
            else:
                self.host = StrategyHost(strategy, self.md)

    def _instruments(self) -> list[Instrument]:
        """The feed's instruments, with the configured fees (else the venue's standard tier)."""
        return default_instruments(self.md, self.config.fees)

    def kill_switch(self, reason: str = "kill switch") -> list[int]:
        """Cancels every open order and refuses new ones (SIGUSR1, ``tradecore kill``)."""
        if self.paper is not None:
            return self.paper.halt(reason)
        if self.trading is not None:
            return self.trading.halt(reason)
        log.warning("kill switch (%s): no order gateway, nothing to cancel", reason)
        return []

    async def run(self, duration_s: float | None = None) -> None:
        """Runs until SIGINT/SIGTERM, :meth:`stop`, or ``duration_s``; the state directory's
        lock is given back at the end, however it ends."""
        try:
            await self._run(duration_s)
        finally:
            self.lock_release()

    async def _run(self, duration_s: float | None) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.md.stop)
            except (NotImplementedError, RuntimeError):
                pass
        if self.config.metrics_port:
            self.metrics.serve(self.config.metrics_port, self.config.metrics_host)
            log.info("metrics on http://%s:%d/metrics", self.config.metrics_host, self.config.metrics_port)
        if hasattr(signal, "SIGUSR1"):
            try:
                loop.add_signal_handler(signal.SIGUSR1, self.kill_switch, "SIGUSR1")
            except (NotImplementedError, RuntimeError):
                pass
        if self.lock is not None:
            log.info("session %s (lock %s)", self.session, self.lock.path)
        timers = user_stream = None
        tr = self.trading
        if tr is not None:
            assert self.gateway is not None and self.host is not None
            await self.gateway.connect()
            await tr.reconcile()  # before the strategy starts: it starts from the exchange's state
            tr.strategy = self.host.strategy
            user_stream = asyncio.ensure_future(self.gateway.stream(tr.on_venue_order, tr.on_venue_fill,
                                                                    tr.fills_since_ms))
        if self.host is not None:
            self.host.strategy.on_start()
            timers = asyncio.ensure_future(self.host.run_timers())
        if self.paper is not None:
            self.paper.start()
        feed = asyncio.ensure_future(self.md.run())
        ticker = asyncio.ensure_future(self._tick())
        try:
            if duration_s:
                done, _ = await asyncio.wait({feed}, timeout=duration_s)
                if not done:
                    self.md.stop()
            await feed
            if self.host is not None and self.host.error is not None:
                raise self.host.error
            if self.paper is not None and self.paper.error is not None:
                raise self.paper.error
            if tr is not None and tr.error is not None:
                raise tr.error
        finally:
            ticker.cancel()
            if timers is not None:
                timers.cancel()
            if self.host is not None:
                self.host.strategy.on_stop()
            if tr is not None:
                await self._stop_trading(tr, user_stream)
            if self.paper is not None:
                try:
                    self.result = self.paper.finish()
                finally:
                    if self.journal is not None:
                        self.journal.close()
            self._flush_metrics()
            if self.recorder is not None:
                self.recorder.close()

    async def _stop_trading(self, tr: TradingBackend, user_stream: asyncio.Future[None] | None) -> None:
        """A graceful stop: requests in flight answered, the orders the journal has open brought
        to the exchange's state, those still open cancelled (``cancel_on_stop``; never a filled
        one), the journal flushed and closed."""
        await tr.stop(cancel=self.config.trading.cancel_on_stop, timeout_s=10.0)
        if user_stream is not None:
            user_stream.cancel()
        if self.gateway is not None:
            await self.gateway.close()
        if self.journal is not None:
            self.journal.close()

    def stop(self) -> None:
        self.md.stop()

    def _flush_metrics(self) -> None:
        lat = {s: v[:] for s, v in self.latencies.items()}
        for v in self.latencies.values():
            v.clear()
        self.metrics.update(self.md.books, lat)

    async def _tick(self) -> None:
        last_status = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            if self.recorder is not None:  # a crash loses at most the last second
                await asyncio.get_running_loop().run_in_executor(None, self.recorder.flush)
            self._flush_metrics()
            if self.trading is not None:
                self.trading.check_equity()
            if time.monotonic() - last_status >= self.config.status_every_s:
                last_status = time.monotonic()
                for b in self.md.books.values():
                    h = b.health
                    bb, ba = b.book.best_bid(), b.book.best_ask()
                    log.info("%s: %d msgs, in sync %s, gaps %d, resyncs %d, reconnects %d, age %.3f s, "
                             "bid %s ask %s", h.symbol, h.messages, h.in_sync, h.gaps, h.resyncs, h.reconnects,
                             h.age_s(), bb, ba)
