"""Binance market-data feeds over websockets, with the book kept in sync in Rust.

One :class:`BinanceMarketData` holds one combined-stream connection for a market (USD-M
futures, COIN-M futures or spot) and a book per symbol. Each frame's raw bytes go to the
Rust parser and book (``tradecore.BinanceFeed``): no per-message Python dict. The sync
procedure is Binance's: open the stream, buffer depth diffs, fetch the REST snapshot, drop
stale diffs, check the ``U/u/pu`` chain, and on a gap fetch a new snapshot (a resync).

The connection answers pings (aiohttp), reconnects with exponential backoff and jitter,
resubscribes and resyncs after a reconnect, rotates before Binance's 24 h cut, and honours
HTTP 429/418 ``Retry-After`` on the snapshot endpoint. Feed health (last message age, gaps,
resyncs, reconnects) is kept per symbol (:class:`FeedHealth`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from tradecore._core import BinanceFeed, OrderBook
from tradecore.errors import DataError, InvalidInput

log = logging.getLogger("tradecore.live.feed")

#: Public endpoints of each market (the exchange simulator replaces them by its own URLs).
MARKETS: dict[str, tuple[str, str, str]] = {
    # market: (websocket base, REST base, REST depth path)
    "usdm": ("wss://fstream.binance.com", "https://fapi.binance.com", "/fapi/v1/depth"),
    "coinm": ("wss://dstream.binance.com", "https://dapi.binance.com", "/dapi/v1/depth"),
    "spot": ("wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3/depth"),
}
#: Binance's limit of websocket connection attempts per 5 minutes (per IP); the client stays
#: under it whatever the backoff does.
CONNECTIONS_PER_5_MIN = 300
#: Depth stream of each market (USD-M/COIN-M: every update; spot: the fastest, 100 ms).
DEPTH_STREAM = {"usdm": "depth@0ms", "coinm": "depth@0ms", "spot": "depth@100ms"}


@dataclass
class FeedHealth:
    """Health of one symbol's feed."""

    symbol: str
    messages: int = 0
    gaps: int = 0
    snapshots: int = 0
    resyncs: int = 0
    """Snapshots applied after the first (after a gap or a reconnect)."""
    reconnects: int = 0
    malformed: int = 0
    last_message_ns: int = 0
    in_sync: bool = False

    def age_s(self, now_ns: int | None = None) -> float:
        """Seconds since the last message (inf before the first)."""
        if not self.last_message_ns:
            return float("inf")
        return ((now_ns or time.time_ns()) - self.last_message_ns) / 1e9


@dataclass
class Backoff:
    """Exponential backoff with full jitter: ``uniform(0, min(cap, base * 2**n))``."""

    base_s: float = 0.5
    cap_s: float = 30.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        d = self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** self.attempts))
        self.attempts += 1
        return d

    def reset(self) -> None:
        self.attempts = 0


class SymbolBook:
    """One symbol's book, its Rust feed and its health."""

    def __init__(self, symbol: str, tick_size: float, lot_size: float, max_pending: int = 10_000) -> None:
        self.symbol = symbol.upper()
        self.max_pending = max_pending
        self.book = OrderBook(tick_size=tick_size, lot_size=lot_size)
        self.feed = BinanceFeed(self.book, max_pending=max_pending)
        self.health = FeedHealth(self.symbol)
        self.snapshot_task: asyncio.Task[None] | None = None
        self._gaps_seen = 0

    def reset(self, tick_size: float, lot_size: float) -> None:
        """A fresh book and feed (after a reconnect: what was missed is unknown)."""
        self.book = OrderBook(tick_size=tick_size, lot_size=lot_size)
        self.feed = BinanceFeed(self.book, max_pending=self.max_pending)
        self._gaps_seen = 0
        self.health.in_sync = False


OnFrame = Callable[[SymbolBook, bytes, int], None]


class BinanceMarketData:
    """Books of several symbols of one Binance market, kept in sync from one connection.

    Args:
        symbols: {symbol: (tick_size, lot_size)}.
        market: ``usdm``, ``coinm`` or ``spot``.
        ws_url: Websocket base URL (default Binance's; the exchange simulator's for tests).
        rest_url: REST base URL.
        streams: Streams per symbol besides depth (``trade``, ``bookTicker``).
        snapshot_limit: Levels of the REST snapshot.
        rotate_after_s: Planned reconnection before Binance's 24 h cut.
        on_frame: Called after each message was applied, a websocket frame or a REST
            snapshot: (symbol book, raw message, receive ns); ``book.feed.last_events()``
            are its events.
        recorder: Called with (receive ns, raw frame) for every frame, before it is parsed, and
            for every REST snapshot applied.
    """

    def __init__(self, symbols: dict[str, tuple[float, float]], *, market: str = "usdm", ws_url: str | None = None,
                 rest_url: str | None = None, streams: Sequence[str] = ("trade", "bookTicker"),
                 snapshot_limit: int = 1000, rotate_after_s: float = 23 * 3600,
                 on_frame: OnFrame | None = None, recorder: Callable[[int, bytes], None] | None = None,
                 backoff: Backoff | None = None) -> None:
        if market not in MARKETS:
            raise InvalidInput(f"invalid market: {market!r} (one of {', '.join(MARKETS)})")
        if not symbols:
            raise InvalidInput("invalid symbols: none given")
        ws, rest, depth_path = MARKETS[market]
        self.market = market
        self.ws_url = (ws_url or ws).rstrip("/")
        self.rest_url = (rest_url or rest).rstrip("/")
        self.depth_path = depth_path
        self.sizes = {s.upper(): v for s, v in symbols.items()}
        self.books = {s: SymbolBook(s, *v) for s, v in self.sizes.items()}
        names = []
        for s in self.books:
            low = s.lower()
            names.append(f"{low}@{DEPTH_STREAM[market]}")
            names += [f"{low}@{x}" for x in streams]
        self.stream_names = names
        # Frames are routed by their stream name's symbol part, read from the raw bytes.
        self._route = {s.lower().encode(): b for s, b in self.books.items()}
        self.snapshot_limit = snapshot_limit
        self.rotate_after_s = rotate_after_s
        self.on_frame = on_frame
        self.recorder = recorder
        self.backoff = backoff or Backoff()
        #: When set: {symbol: [ns]} gets each frame's time from receipt to book updated.
        self.latency_sink: dict[str, list[int]] | None = None
        self.connected = asyncio.Event()
        self.retry_after_until = 0.0
        self.rest_refusals = 0
        self._stop = asyncio.Event()
        self._attempts: deque[float] = deque()
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """The combined-stream URL."""
        return f"{self.ws_url}/stream?streams={'/'.join(self.stream_names)}"

    def stop(self) -> None:
        """Asks :meth:`run` to return."""
        self._stop.set()

    async def run(self) -> None:
        """Connects and keeps the books in sync until :meth:`stop`."""
        async with aiohttp.ClientSession() as session:
            self._session = session
            first = True
            while not self._stop.is_set():
                if not first:
                    delay = self.backoff.next_delay()
                    log.warning("reconnecting in %.2f s", delay)
                    if await self._sleep_or_stop(delay):
                        break
                    for b in self.books.values():
                        b.health.reconnects += 1
                first = False
                # Binance allows 300 connection attempts per 5 minutes per IP.
                now = time.monotonic()
                while self._attempts and now - self._attempts[0] > 300:
                    self._attempts.popleft()
                if len(self._attempts) >= CONNECTIONS_PER_5_MIN:
                    if await self._sleep_or_stop(300 - (now - self._attempts[0])):
                        break
                self._attempts.append(time.monotonic())
                try:
                    await self._session_once(session)
                except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as e:
                    log.warning("connection lost: %s", e)
                self.connected.clear()
            for b in self.books.values():
                if b.snapshot_task is not None:
                    b.snapshot_task.cancel()

    async def _sleep_or_stop(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
            return True
        except asyncio.TimeoutError:
            return False

    async def _session_once(self, session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(self.url, heartbeat=30.0, max_msg_size=0, autoping=True) as ws:
            opened = time.monotonic()
            for b in self.books.values():
                if b.health.messages:
                    b.reset(*self.sizes[b.symbol])  # what was missed while away is unknown
                b.snapshot_task = None
            self.connected.set()
            log.info("connected to %s", self.url)
            stop_wait = asyncio.ensure_future(self._stop.wait())
            try:
                while True:
                    recv = asyncio.ensure_future(ws.receive())
                    done, _ = await asyncio.wait({recv, stop_wait}, return_when=asyncio.FIRST_COMPLETED,
                                                 timeout=max(0.0, self.rotate_after_s - (time.monotonic() - opened)))
                    if stop_wait in done or not done:
                        recv.cancel()
                        if not done:
                            log.info("rotating the connection before the 24 h cut")
                        return
                    msg = recv.result()
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        self.on_raw(msg.data.encode() if isinstance(msg.data, str) else msg.data, time.time_ns())
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        self.on_raw(msg.data, time.time_ns())
                    elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        log.warning("websocket closed (%s)", msg.type.name)
                        return
                    self.backoff.reset()
            finally:
                stop_wait.cancel()

    def on_raw(self, frame: bytes, ts: int) -> None:
        """Handles one raw frame received at ``ts`` (ns): record, route, parse, apply."""
        sink = self.latency_sink
        t0 = time.perf_counter_ns() if sink is not None else 0
        if self.recorder is not None:
            self.recorder(ts, frame)  # an append; compression happens off the hot path
        # '{"stream":"btcusdt@...' -> b'btcusdt'
        at = frame.find(b"@", 11)
        b = self._route.get(frame[11:at]) if at > 0 else None
        if b is None:
            log.warning("frame of an unknown stream: %r", frame[:80])
            return
        h = b.health
        h.messages += 1
        h.last_message_ns = ts
        try:
            b.feed.on_message(frame, ts)
        except DataError as e:
            h.malformed += 1
            log.warning("%s: bad frame skipped: %s", b.symbol, e)
        if sink is not None:
            sink[b.symbol].append(time.perf_counter_ns() - t0)
        feed = b.feed
        if feed.gap_count != b._gaps_seen:
            b._gaps_seen = feed.gap_count
            h.gaps += 1
            log.warning("%s: sequence gap, resyncing", b.symbol)
        in_sync = h.in_sync = feed.in_sync
        if not in_sync and b.snapshot_task is None:
            b.snapshot_task = asyncio.get_running_loop().create_task(self._snapshot(b))
        if self.on_frame is not None:
            self.on_frame(b, frame, ts)

    async def _snapshot(self, b: SymbolBook) -> None:
        """Fetches and applies a REST snapshot (the diffs meanwhile are buffered in Rust)."""
        assert self._session is not None
        url = f"{self.rest_url}{self.depth_path}"
        params = {"symbol": b.symbol, "limit": str(self.snapshot_limit)}
        try:
            while not self._stop.is_set():
                wait = self.retry_after_until - time.monotonic()
                if wait > 0 and await self._sleep_or_stop(wait):
                    return
                async with self._session.get(url, params=params) as resp:
                    body = await resp.read()
                    if resp.status in (429, 418):
                        self.rest_refusals += 1
                        retry = float(resp.headers.get("Retry-After", "1"))
                        self.retry_after_until = time.monotonic() + retry
                        log.warning("%s: snapshot refused (HTTP %d), retrying after %.1f s", b.symbol,
                                    resp.status, retry)
                        continue
                    if resp.status != 200:
                        log.warning("%s: snapshot HTTP %d", b.symbol, resp.status)
                        if await self._sleep_or_stop(self.backoff.next_delay()):
                            return
                        continue
                ts = time.time_ns()
                if self.recorder is not None:
                    self.recorder(ts, body)  # as the capture format has it: replayable alone
                b.feed.on_message(body, ts)
                b.health.in_sync = b.feed.in_sync
                b.health.snapshots += 1
                b.health.resyncs = b.health.snapshots - 1
                log.info("%s: snapshot applied (in sync: %s)", b.symbol, b.feed.in_sync)
                if self.on_frame is not None:
                    self.on_frame(b, body, ts)
                return
        finally:
            b.snapshot_task = None
