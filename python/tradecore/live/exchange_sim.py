"""A local exchange that speaks Binance's market-data protocol on 127.0.0.1.

It replays the frames of a raw capture (or of the synthetic market) over Binance-compatible
combined-stream websockets (``/stream?streams=btcusdt@depth@0ms/btcusdt@trade/...``) and
answers the REST depth snapshot (``/fapi/v1/depth``, ``/api/v3/depth``, ``/dapi/v1/depth``)
from its own book, kept by the same frames it sends. Live code reaches it through its base
URLs, so the code that talks to it is the code that talks to Binance.

One clock for all clients, as on a real exchange: frames go out at their recorded pace
(``speed`` times faster; 0: as fast as possible) from the moment the first client subscribes.
Faults can be injected (:class:`Faults`): dropped frames (the client sees a sequence gap),
disconnects, delays, malformed frames, and HTTP 429 / 418 answers with ``Retry-After``.

::

    sim = ExchangeSimulator.from_capture("usdm_btcusdt_20240808.gz", speed=10)
    await sim.start()            # sim.ws_url, sim.rest_url
    ...
    await sim.stop()
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from tradecore._core import BinanceFeed, OrderBook
from tradecore.errors import InvalidInput

REST_PATHS = ("/fapi/v1/depth", "/api/v3/depth", "/dapi/v1/depth")


@dataclass
class Faults:
    """Faults to inject. Counts are per connection for websockets and global for REST."""

    drop_every: int = 0
    """Drop every Nth depth frame (0: never): the client sees a sequence gap."""
    disconnect_after: int = 0
    """Close each websocket after this many frames (0: never)."""
    disconnects: int = 1
    """How many connections are closed that way (the later ones are left alone)."""
    delay_ms: float = 0.0
    """Extra delay before each frame."""
    malformed_every: int = 0
    """Send a malformed frame instead of every Nth frame (0: never)."""
    rest_429: int = 0
    """Answer the first N snapshot requests with HTTP 429 and Retry-After."""
    rest_418: int = 0
    """Then answer the next N with HTTP 418 (an IP ban) and Retry-After."""
    retry_after_s: float = 1.0


@dataclass
class SimStats:
    """What the simulator did."""

    frames_sent: int = 0
    frames_dropped: int = 0
    malformed_sent: int = 0
    disconnects: int = 0
    rest_requests: int = 0
    rest_refused: int = 0
    connections: int = 0
    done: bool = False
    sent_log: list[bytes] = field(default_factory=list)
    """Every frame sent to the first connection (kept when ``keep_sent``)."""


def read_frames(path: str | PathLike[str]) -> tuple[list[tuple[int, bytes]], bytes | None]:
    """A raw capture's stream frames (receive time ns, raw bytes) and its first REST snapshot."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    frames: list[tuple[int, bytes]] = []
    snapshot: bytes | None = None
    with opener(p, "rb") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            ts, sep, msg = line.partition(b" ")
            if not sep or not ts.isdigit():
                raise InvalidInput(f"invalid capture {p}:{n}: expected '<local_ns> <json>'")
            if msg.startswith(b'{"lastUpdateId"'):
                if snapshot is None:
                    snapshot = msg
                continue
            frames.append((int(ts), msg))
    if not frames:
        raise InvalidInput(f"invalid capture {p}: no stream frames")
    return frames, snapshot


def _stream_of(frame: bytes) -> bytes:
    """The stream of a frame as ``symbol@kind`` (``btcusdt@depth``: the update speed suffix is
    not kept, any depth subscription gets the capture's depth frames), without parsing JSON."""
    if frame.startswith(b'{"stream":"'):
        end = frame.find(b'"', 11)
        if end > 0:
            return _key(frame[11:end])
    return b""


def _key(stream: bytes) -> bytes:
    return b"@".join(stream.lower().split(b"@")[:2])


def _payload(frame: bytes) -> bytes:
    """The ``data`` of a combined-stream frame: what a raw-stream (``/ws``) client receives."""
    at = frame.find(b'"data":')
    return frame[at + 7 : -1] if at > 0 else frame


_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "BTC", "ETH")


class ExchangeSimulator:
    """Binance-compatible market-data server on 127.0.0.1 (see the module documentation).

    Args:
        frames: (receive time ns, raw combined-stream frame) in order.
        snapshot: The REST snapshot the book starts from (the capture's first one).
        tick_size: The instrument's tick size (the simulator's book).
        lot_size: The instrument's lot size.
        speed: Replay speed factor (1: real time; 0: as fast as possible).
        host: Address to bind (loopback unless configured otherwise).
        port: Port (0: any free one).
        faults: Faults to inject.
        keep_sent: Keep a copy of every frame sent to the first connection (tests).
        start_after_s: Wait this long after the first subscription before streaming.
        pause_without_clients: Hold the stream while no client is connected (so a test's
            client that reconnects finds the stream where it left it; a real exchange goes on).
    """

    def __init__(self, frames: list[tuple[int, bytes]], snapshot: bytes | None, *, tick_size: float,
                 lot_size: float, speed: float = 1.0, host: str = "127.0.0.1", port: int = 0,
                 faults: Faults | None = None, keep_sent: bool = False, start_after_s: float = 0.0,
                 pause_without_clients: bool = True) -> None:
        if speed < 0:
            raise InvalidInput(f"invalid speed: {speed} (must be >= 0)")
        self.frames = frames
        self.speed = speed
        self.host, self.port = host, port
        self.faults = faults or Faults()
        self.keep_sent = keep_sent
        self.start_after_s = start_after_s
        self.pause_without_clients = pause_without_clients
        self.stats = SimStats()
        self.clock_ns = frames[0][0] if frames else 0
        """The exchange's time: the recorded time of the frame being replayed."""
        self.book = OrderBook(tick_size=tick_size, lot_size=lot_size)
        self._feed = BinanceFeed(self.book)
        if snapshot is not None:
            self._feed.on_message(snapshot, frames[0][0])
        # Per connection: subscribed streams (symbol@kind), connection number, raw-stream client.
        self._clients: dict[web.WebSocketResponse, tuple[set[bytes], int, bool]] = {}
        self.symbols = sorted({_stream_of(f).split(b"@")[0].decode().upper() for _, f in frames[:2000]} - {""})
        self._started = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()

    @classmethod
    def from_capture(cls, path: str | PathLike[str], **kw: Any) -> ExchangeSimulator:
        """A simulator replaying a raw Binance capture (tick and lot sizes inferred from it
        unless given)."""
        frames, snapshot = read_frames(path)
        if "tick_size" not in kw or "lot_size" not in kw:
            from tradecore import iter_capture
            from tradecore.instrument import Instrument

            first = next(iter(iter_capture(path, chunk_events=200_000)))
            inst = Instrument.infer(first, "binance", "sim")
            kw.setdefault("tick_size", float(inst.tick_size))
            kw.setdefault("lot_size", float(inst.lot_size))
        return cls(frames, snapshot, **kw)

    @property
    def ws_url(self) -> str:
        """Base websocket URL (``<ws_url>/stream?streams=...``)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """Base REST URL (``<rest_url>/fapi/v1/depth?symbol=...``)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Binds and starts serving; ``port`` is then the bound port."""
        app = web.Application()
        app.router.add_get("/stream", self._ws)
        for path in ("/ws", "/ws/{n}", "/public/ws", "/public/ws/{n}", "/market/ws", "/market/ws/{n}"):
            app.router.add_get(path, self._raw_ws)  # raw streams, subscribed by SUBSCRIBE messages
        for path in ("/fapi/v1/exchangeInfo", "/api/v3/exchangeInfo", "/dapi/v1/exchangeInfo"):
            app.router.add_get(path, self._exchange_info)
        for path in REST_PATHS:
            app.router.add_get(path, self._depth)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._task = asyncio.get_running_loop().create_task(self._broadcast())

    async def stop(self) -> None:
        """Closes every connection and stops serving."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for ws in list(self._clients):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_done(self, timeout: float | None = None) -> None:
        """Waits until every frame has been sent."""
        await asyncio.wait_for(self._finished.wait(), timeout)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        """Combined streams: ``/stream?streams=a/b/c``; frames as ``{"stream":..,"data":..}``."""
        streams = {_key(s.encode()) for s in request.query.get("streams", "").split("/") if s}
        return await self._serve(request, streams, raw=False)

    async def _raw_ws(self, request: web.Request) -> web.WebSocketResponse:
        """Raw streams (``/ws``) subscribed by ``{"method":"SUBSCRIBE","params":[...],"id":n}``;
        frames are the payloads alone (ccxt.pro connects this way)."""
        return await self._serve(request, set(), raw=True)

    async def _serve(self, request: web.Request, streams: set[bytes], *, raw: bool) -> web.WebSocketResponse:
        if not streams and not raw:
            raise web.HTTPBadRequest(text='{"code":-1100,"msg":"no streams"}')
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        self.stats.connections += 1
        self._clients[ws] = (streams, self.stats.connections, raw)
        if streams:
            self._started.set()
        try:
            async for msg in ws:  # pings are answered by aiohttp
                if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
                if msg.type == WSMsgType.TEXT:
                    await self._control(ws, streams, msg.data)
        finally:
            self._clients.pop(ws, None)
        return ws

    async def _control(self, ws: web.WebSocketResponse, streams: set[bytes], text: str) -> None:
        try:
            req = json.loads(text)
            method, params, rid = req["method"], req.get("params", []), req.get("id")
        except (ValueError, KeyError, TypeError):
            await ws.send_str('{"error":{"code":2,"msg":"Invalid request"}}')
            return
        if method == "SUBSCRIBE":
            streams.update(_key(str(p).encode()) for p in params)
            self._started.set()
        elif method == "UNSUBSCRIBE":
            streams.difference_update(_key(str(p).encode()) for p in params)
        await ws.send_str(json.dumps({"result": None, "id": rid}))

    async def _exchange_info(self, request: web.Request) -> web.Response:
        """A minimal ``exchangeInfo`` of the replayed symbols (what ccxt needs to load markets)."""
        tick, lot = repr(self.book.tick_size), repr(self.book.lot_size)
        symbols = []
        for sym in self.symbols:
            quote = next((q for q in _QUOTES if sym.endswith(q) and len(sym) > len(q)), "USDT")
            base = sym[: -len(quote)]
            symbols.append({
                "symbol": sym, "pair": sym, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
                "onboardDate": 1569398400000, "status": "TRADING", "baseAsset": base, "quoteAsset": quote,
                "marginAsset": quote, "pricePrecision": 8, "quantityPrecision": 8, "baseAssetPrecision": 8,
                "quotePrecision": 8, "underlyingType": "COIN", "settlePlan": 0, "triggerProtect": "0.05",
                "filters": [
                    {"filterType": "PRICE_FILTER", "tickSize": tick, "minPrice": tick, "maxPrice": "10000000"},
                    {"filterType": "LOT_SIZE", "stepSize": lot, "minQty": lot, "maxQty": "100000"},
                    {"filterType": "MARKET_LOT_SIZE", "stepSize": lot, "minQty": lot, "maxQty": "100000"},
                    {"filterType": "MIN_NOTIONAL", "notional": "5"},
                ],
                "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                "permissions": ["SPOT"], "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
            })
        body = {"timezone": "UTC", "serverTime": time.time_ns() // 1_000_000, "rateLimits": [],
                "exchangeFilters": [], "assets": [], "symbols": symbols}
        return web.json_response(body)

    async def _depth(self, request: web.Request) -> web.Response:
        self.stats.rest_requests += 1
        f = self.faults
        n = self.stats.rest_requests
        if n <= f.rest_429 + f.rest_418:
            self.stats.rest_refused += 1
            status = 429 if n <= f.rest_429 else 418
            return web.Response(status=status, headers={"Retry-After": f"{f.retry_after_s:g}"},
                                text='{"code":-1003,"msg":"Too many requests."}', content_type="application/json")
        try:
            limit = int(request.query.get("limit", "1000"))
        except ValueError:
            return web.Response(status=400, text='{"code":-1100,"msg":"bad limit"}', content_type="application/json")
        return web.Response(body=self.snapshot(limit), content_type="application/json")

    def snapshot(self, limit: int = 1000) -> bytes:
        """The REST depth snapshot of the simulator's book now (``E``/``T``: its replay clock)."""
        now_ms = self.clock_ns // 1_000_000
        doc = {
            "lastUpdateId": self.book.last_update_id,
            "E": now_ms,
            "T": now_ms,
            "bids": [[repr(float(p)), repr(float(q))] for p, q in self.book.levels("bid", limit)],
            "asks": [[repr(float(p)), repr(float(q))] for p, q in self.book.levels("ask", limit)],
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    async def _broadcast(self) -> None:
        await self._started.wait()
        if self.start_after_s:
            await asyncio.sleep(self.start_after_s)
        f = self.faults
        t0 = time.perf_counter()
        first = self.frames[0][0]
        sent_per_client: dict[int, int] = {}
        depth_seen = 0
        disconnected = 0
        for i, (ts, frame) in enumerate(self.frames, 1):
            if self.speed > 0:
                due = (ts - first) / 1e9 / self.speed
                wait = due - (time.perf_counter() - t0)
                if wait > 0.0005:
                    await asyncio.sleep(wait)
            if f.delay_ms:
                await asyncio.sleep(f.delay_ms / 1000)
            while self.pause_without_clients and not self._clients:
                paused = time.perf_counter()
                await asyncio.sleep(0.005)
                t0 += time.perf_counter() - paused
            stream = _stream_of(frame)
            is_depth = b"@depth" in stream
            # The exchange's own book sees every frame, whatever is lost on the wire.
            self.clock_ns = ts
            self._feed.on_message(frame, ts)
            if is_depth:
                depth_seen += 1
                if f.drop_every and depth_seen % f.drop_every == 0:
                    self.stats.frames_dropped += 1
                    continue
            out = frame
            if f.malformed_every and i % f.malformed_every == 0:
                out = frame[: len(frame) // 2]
                self.stats.malformed_sent += 1
            raw_out = b""
            for ws, (streams, conn_id, raw) in list(self._clients.items()):
                if stream not in streams or ws.closed:
                    continue
                if raw and not raw_out:
                    raw_out = _payload(out)
                try:
                    await ws.send_frame(raw_out if raw else out, WSMsgType.TEXT)  # Binance sends text frames
                except (ConnectionResetError, RuntimeError):
                    continue
                k = sent_per_client.get(conn_id, 0) + 1
                sent_per_client[conn_id] = k
                if self.keep_sent and conn_id == 1:
                    self.stats.sent_log.append(out)
                if f.disconnect_after and k == f.disconnect_after and disconnected < f.disconnects:
                    disconnected += 1
                    self.stats.disconnects += 1
                    await ws.close()
            self.stats.frames_sent += 1
            if i % 256 == 0:
                await asyncio.sleep(0)  # let clients and REST requests in at full speed
        self.stats.done = True
        self._finished.set()
