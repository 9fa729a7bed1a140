"""A local exchange that speaks Binance's protocol on 127.0.0.1: market data and USD-M orders.

Market data: it replays the frames of a raw capture (or of the synthetic market) over
Binance-compatible combined-stream websockets (``/stream?streams=btcusdt@depth@0ms/...``) and
raw streams (``/ws`` + ``SUBSCRIBE``, as ccxt.pro connects), and answers the REST depth
snapshot (``/fapi/v1/depth``, ``/api/v3/depth``, ``/dapi/v1/depth``) and ``exchangeInfo`` from
its own book, kept by the same frames it sends. Live code reaches it through its base URLs, so
the code that talks to it is the code that talks to Binance.

Orders (Binance USD-M, ``/fapi``): new, modify, cancel, cancel all, query, open and all orders,
stop and take-profit orders at the Algo Service (``/fapi/v1/algoOrder``: new, query, cancel;
``openAlgoOrders``; ``ALGO_UPDATE`` events; a conditional type on ``/fapi/v1/order`` is refused
-4120, as Binance does since December 2025), user trades, account, balance, position risk,
leverage brackets, server time, and the user-data
stream (``listenKey`` and a websocket at ``/private/ws?listenKey=...`` or ``/ws/<listenKey>``
sending ``ORDER_TRADE_UPDATE`` and ``ACCOUNT_UPDATE``). Requests are authenticated as Binance
does (``X-MBX-APIKEY``, HMAC-SHA256 ``signature`` of the query string followed by the body,
``timestamp`` within ``recvWindow`` of the wall clock). Orders are matched by the compiled
exchange simulator of the backtests (``tradecore._core.SimExchange``: queue position, takers
walking the book level by level, reduce-only against the exchange's position) against the
replayed book, at the replay clock and with no added latency (the network is the latency).
Binance's rules that matter to a client are kept: a ``newClientOrderId`` used before in the
session is refused (-4116), a post-only order that would trade and a FOK order that cannot
fill are refused (-5022, -5021) and not recorded, the unfilled rest of an IOC or market order
expires, unknown orders answer -2013 / -2011. The account (USDT margin) books positions,
realized PnL and fees (maker and taker rates) from the fills. It is the exchange's state: a
client that disconnects, or is killed, finds its orders, fills and position when it returns.
Times of orders, trades and stream events are the replay clock (ms); ``/fapi/v1/time`` is the
wall clock, against which request timestamps are checked.

One clock for all clients, as on a real exchange: frames go out at their recorded pace
(``speed`` times faster; 0: as fast as possible) from the moment the first client subscribes
(or :meth:`ExchangeSimulator.start_replay`). Faults can be injected (:class:`Faults`): dropped
frames (the client sees a sequence gap), disconnects, delays, malformed frames, HTTP 429 / 418
on the snapshot with ``Retry-After``, and on orders: 429 (-1003) with ``Retry-After``, answers
503 -1007 "execution status unknown" for orders that were executed, and late answers.

::

    sim = ExchangeSimulator.from_capture("usdm_btcusdt_20240808.gz", speed=10)
    await sim.start()            # sim.ws_url, sim.rest_url
    ex = ccxt.pro.binanceusdm(sim.ccxt_config())   # keys, URLs (REST and websockets)
    ...
    await sim.stop()
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import itertools
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tradecore._core import (
    EVENT_KINDS,
    SCALE,
    BinanceFeed,
    CaptureReport,
    OrderBook,
    Portfolio,
    Position,
    SimExchange,
)
from tradecore.errors import InvalidInput

REST_PATHS = ("/fapi/v1/depth", "/api/v3/depth", "/dapi/v1/depth")
_TRADE = EVENT_KINDS["TRADE"]


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
    """Retry-After of the 429 / 418 answers (snapshot and orders), seconds."""
    order_429: int = 0
    """Answer the first N order requests (new, modify, cancel, cancel all) with HTTP 429, code
    -1003 and Retry-After; they are not carried out."""
    order_unknown_every: int = 0
    """Every Nth new order is executed but answered HTTP 503 -1007 "execution status unknown"
    (0: never)."""
    order_delay_ms: float = 0.0
    """Answer each order request this late (it is carried out on arrival): provokes client
    timeouts."""


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
    private_requests: int = 0
    """Requests to the private (account) endpoints, authenticated or not."""
    auth_refused: int = 0
    """Refused for a wrong API key, signature or timestamp."""
    order_requests: int = 0
    """New, modify, cancel and cancel-all requests."""
    orders_429: int = 0
    """Order requests answered 429 (``Faults.order_429``)."""
    orders_unknown: int = 0
    """New orders executed but answered 503 -1007 (``Faults.order_unknown_every``)."""
    orders_delayed: int = 0
    """Order requests answered late (``Faults.order_delay_ms``)."""
    orders_placed: int = 0
    """New orders recorded by the exchange."""
    orders_refused: int = 0
    """New orders refused with an error (invalid, duplicate client id, post-only, FOK, ...)."""
    fills: int = 0
    user_streams: int = 0
    """User-data websocket connections."""


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


# --- Binance USD-M orders ------------------------------------------------------------------

_CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
_TIF = {"GTC": 0, "IOC": 1, "FOK": 2, "GTX": 3}
_OPEN = ("NEW", "PARTIALLY_FILLED")
#: Binance's stop and take-profit types: their ``OrderType`` codes in the matching engine.
_CONDITIONAL = {"STOP_MARKET": 2, "STOP": 3, "TAKE_PROFIT_MARKET": 4, "TAKE_PROFIT": 5}
_WORKING = {"CONTRACT_PRICE": "last", "MARK_PRICE": "mark"}
LEVERAGE = 20
"""The simulated account's leverage (initial margin = notional / leverage)."""
MAINT_MARGIN_RATE = 0.004
MIN_NOTIONAL = 5.0
"""Binance's minimum order notional (USDT) of a non-reduce-only order."""


class BinanceError(Exception):
    """An error answer in Binance's format: HTTP status, code and message."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}

    def response(self) -> web.Response:
        body = json.dumps({"code": self.code, "msg": self.msg})
        return web.Response(status=self.status, text=body, content_type="application/json", headers=self.headers)


def _mandatory(name: str) -> BinanceError:
    return BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _illegal(name: str) -> BinanceError:
    return BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")


UNKNOWN_ORDER = (400, -2013, "Order does not exist.")
UNKNOWN_CANCEL = (400, -2011, "Unknown order sent.")
DUPLICATE_ID = (400, -4116, "ClientOrderId is duplicated.")
BAD_CLIENT_ID = (400, -4015, "Client order id is not valid.")
POST_ONLY = (400, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. "
                         "The order will not be recorded in the order history")
FOK = (400, -5021, "Due to the order could not be filled immediately, the FOK order has been rejected. "
                   "The order will not be recorded in the order history")
REDUCE_ONLY = (400, -2022, "ReduceOnly Order is rejected.")
BAD_TICK = (400, -4014, "Price not increased by tick size.")
BAD_STEP = (400, -4023, "Quantity not increased by step size.")
BAD_QTY = (400, -4003, "Quantity less than or equal to zero.")
BAD_SYMBOL = (400, -1121, "Invalid symbol.")
BAD_SIDE = (400, -1117, "Invalid side.")
BAD_TYPE = (400, -1116, "Invalid orderType.")
BAD_TIF = (400, -1115, "Invalid timeInForce.")
NO_NEED = (400, -5027, "No need to modify the order.")
BAD_KEY = (401, -2015, "Invalid API-key, IP, or permissions for action.")
BAD_SIGNATURE = (400, -1022, "Signature for this request is not valid.")
BAD_TIMESTAMP = (400, -1021, "Timestamp for this request is outside of the recvWindow.")
BAD_LISTEN_KEY = (400, -1125, "This listenKey does not exist.")
TOO_MANY = (429, -1003, "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. "
                        "Please use the websocket for live updates to avoid polling the API.")
WOULD_TRIGGER = (400, -2021, "Order would immediately trigger.")
USE_ALGO = (400, -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
BAD_STOP = (400, -4006, "Stop price less than zero.")
STATUS_UNKNOWN = (503, -1007, "Timeout waiting for response from backend server. Send status unknown; "
                              "execution status unknown.")


def _actual_type(o: SimOrder) -> str:
    """The type of an order in the matching engine (a triggered stop market order: MARKET)."""
    if o.type in _CONDITIONAL:
        return "MARKET" if o.type.endswith("_MARKET") else "LIMIT"
    return o.type


def _fail(e: tuple[int, int, str]) -> BinanceError:
    return BinanceError(*e)


def _decimals(x: float) -> int:
    exp = Decimal(repr(x)).normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 8


def _num(text: str | None, name: str) -> float:
    """A decimal parameter (quantity, price)."""
    if text is None or text == "":
        raise _mandatory(name)
    try:
        x = float(text)
    except ValueError:
        raise _mandatory(name) from None
    if not math.isfinite(x):
        raise _mandatory(name)
    return x


def _int(p: dict[str, str], name: str) -> int | None:
    v = p.get(name)
    if v is None or v == "":
        return None
    if not v.isdigit():
        raise _illegal(name)
    return int(v)


def _bool(p: dict[str, str], name: str) -> bool:
    v = p.get(name, "false").lower()
    if v not in ("true", "false"):
        raise _mandatory(name)
    return v == "true"


@dataclass
class SimOrder:
    """An order as the exchange holds it."""

    order_id: int
    client_order_id: str
    symbol: str
    side: int
    """+1 buy, -1 sell."""
    type: str
    """LIMIT, MARKET, or a conditional type (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET)."""
    tif: str
    """GTC, IOC, FOK or GTX (post-only); GTC for a market order, as Binance shows it."""
    price: float
    orig_qty: float
    reduce_only: bool
    time_ms: int
    update_ms: int
    status: str = "NEW"
    executed: float = 0.0
    cum_quote: float = 0.0
    cancel_requested: bool = False
    stop_price: float = 0.0
    """A conditional order's trigger price (0: none)."""
    working_type: str = "CONTRACT_PRICE"
    close_position: bool = False
    triggered: bool = False
    """A conditional order whose trigger was touched: it is in the matching engine now."""
    actual_id: int = 0
    """A triggered conditional order's id in the matching engine (Binance's ``actualOrderId``;
    its ``order_id`` is the algo id)."""

    @property
    def id(self) -> int:
        """The order id in the matching engine's formats (orders, trades, ORDER_TRADE_UPDATE)."""
        return self.actual_id or self.order_id

    @property
    def conditional(self) -> bool:
        return self.type in _CONDITIONAL

    @property
    def algo_status(self) -> str:
        """Binance's algo order status: NEW (waiting for its trigger), TRIGGERED (in the
        matching engine), FINISHED (that order is done), CANCELED, EXPIRED."""
        if not self.triggered:
            return "NEW" if self.status in _OPEN else self.status
        return "TRIGGERED" if self.status in _OPEN else "FINISHED"


@dataclass
class _Venue:
    """One symbol: its matching engine and its instrument in the account."""

    symbol: str
    sim: SimExchange
    index: int
    price_dp: int
    qty_dp: int
    client_ids: dict[str, int] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    last_trade: float = 0.0
    """The last trade price of the replay (a CONTRACT_PRICE trigger watches it)."""
    mark_watch: set[int] = field(default_factory=set)
    """Conditional orders waiting for a MARK_PRICE trigger."""

    def price(self, x: float) -> str:
        return f"{x:.{self.price_dp}f}"

    def qty(self, x: float) -> str:
        return f"{x:.{self.qty_dp}f}"


class SimAccount:
    """The exchange's side of one account: orders, fills, positions and the USDT balance, in
    Binance's formats (the REST answers and the user-data stream events).

    Args:
        sim: The simulator whose replay clock and books it trades against.
        balance: Initial wallet balance (USDT).
        maker_fee: Maker fee rate (negative: a rebate).
        taker_fee: Taker fee rate.
        expire_unfillable: Record a post-only order that would trade and a FOK order that cannot
            fill as EXPIRED orders (Binance's behaviour before 2023) instead of refusing them
            with -5022 / -5021 (Binance's behaviour now).
    """

    def __init__(self, sim: ExchangeSimulator, *, balance: float, maker_fee: float, taker_fee: float,
                 expire_unfillable: bool = False) -> None:
        self._sim = sim
        self.initial_balance = balance
        self.wallet = balance
        self.expire_unfillable = expire_unfillable
        self.portfolio = Portfolio(balance)
        self.orders: dict[int, SimOrder] = {}
        self.venues: dict[str, _Venue] = {}
        tick, lot = sim.book.tick_size, sim.book.lot_size
        for sym in sim.symbols:
            i = self.portfolio.add_instrument("linear", 1.0, maker_fee, taker_fee)
            self.venues[sym] = _Venue(sym, SimExchange(tick, lot), i, _decimals(tick), _decimals(lot))
        self._order_ids = itertools.count(1_000_001)
        self._actual: dict[int, int] = {}
        """A triggered conditional order's actual order id -> its algo id."""
        self._trade_ids = itertools.count(50_001)
        self.update_ms = max(sim.clock_ns // 1_000_000, 1)
        self._listeners: list[Callable[[str], None]] = []
        self._by_key = {sym.lower().encode(): v for sym, v in self.venues.items()}

    # -- state ----------------------------------------------------------------------------

    def venue(self, symbol: str | None) -> _Venue:
        if not symbol:
            raise _mandatory("symbol")
        v = self.venues.get(symbol.upper())
        if v is None:
            raise _fail(BAD_SYMBOL)
        return v

    def find(self, v: _Venue, p: dict[str, str]) -> SimOrder | None:
        """The order named by ``orderId`` (first) or ``origClientOrderId``."""
        oid = _int(p, "orderId")
        if oid is None:
            coid = p.get("origClientOrderId")
            if not coid:
                raise BinanceError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
            oid = v.client_ids.get(coid)
        o = self.orders.get(self._actual.get(oid, oid)) if oid is not None else None
        return o if o is not None and o.symbol == v.symbol else None

    def position(self, symbol: str) -> Position:
        """The position of a symbol, unrealized PnL at the mid."""
        v = self.venue(symbol)
        self._mark(v)
        return self.portfolio.position(v.index)

    def _mark(self, v: _Venue) -> None:
        mid = self._sim.book.mid()
        if mid is not None and mid > 0:
            self.portfolio.mark(v.index, mid)

    def _now(self) -> tuple[int, int]:
        ns = self._sim.clock_ns
        return ns, ns // 1_000_000

    def on_update(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Calls ``listener`` with every user-data stream event (JSON text); returns the
        function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _push(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            text = json.dumps(e, separators=(",", ":"))
            for f in list(self._listeners):
                f(text)

    # -- the market ------------------------------------------------------------------------

    def on_frame(self, key: bytes, ts: int, trade: bool = False) -> None:
        """After the feed applied a frame of stream symbol ``key`` (lower case) at ``ts``
        (``trade``: a trade stream's frame)."""
        v = self._by_key.get(key)
        if v is None:
            return
        if trade:
            events = self._sim.feed_events()
            trades = events[events["kind"] == _TRADE]
            if len(trades):
                v.last_trade = int(trades["price"][-1]) / SCALE
        if not v.sim.is_idle:
            self.apply(v, v.sim.on_events(self._sim.feed_events(), ts))
            if v.mark_watch:
                self._on_mark(v, ts)

    def _on_mark(self, v: _Venue, ts: int) -> None:
        """The simulated mark price (the mid, as the account's marks) to the matching engine."""
        mid = self._sim.book.mid()
        if mid is not None and mid > 0:
            self.apply(v, v.sim.on_mark(mid, ts))

    def _sync(self, v: _Venue) -> None:
        if v.sim.is_idle:
            v.sim.sync_book(self._sim.book)

    # -- requests --------------------------------------------------------------------------

    def new_order(self, p: dict[str, str]) -> dict[str, Any]:
        v = self.venue(p.get("symbol"))
        side = {"BUY": 1, "SELL": -1}.get(p.get("side", ""))
        if side is None:
            raise _fail(BAD_SIDE) if p.get("side") else _mandatory("side")
        kind = p.get("type", "")
        if kind in _CONDITIONAL:  # Binance's Algo Service takes them (since December 2025)
            raise _fail(USE_ALGO)
        if kind not in ("LIMIT", "MARKET"):
            raise _fail(BAD_TYPE) if kind else _mandatory("type")
        if p.get("positionSide", "BOTH") != "BOTH":
            raise BinanceError(400, -4061, "Order's position side does not match user's setting.")
        qty = _num(p.get("quantity"), "quantity")
        reduce_only = _bool(p, "reduceOnly")
        if kind == "LIMIT":
            price = _num(p.get("price"), "price")
            if not price > 0:  # never a market order in disguise (0, -0, 1e-400)
                raise BinanceError(400, -4001, "Price less than 0.")
            tif = p.get("timeInForce")
            if not tif:
                raise _mandatory("timeInForce")
            if tif not in _TIF:
                raise _fail(BAD_TIF)
        else:
            if p.get("price"):
                raise BinanceError(400, -1106, "Parameter 'price' sent when not required.")
            price, tif = None, "GTC"
        coid = p.get("newClientOrderId") or "sim" + secrets.token_hex(8)
        if not _CLIENT_ID.fullmatch(coid):
            raise _fail(BAD_CLIENT_ID)
        if coid in v.client_ids:
            raise _fail(DUPLICATE_ID)
        if qty <= 0:
            raise _fail(BAD_QTY)
        self._sync(v)
        best = v.sim.best_ask() if side > 0 else v.sim.best_bid()
        ref = price if price is not None else (best[0] if best else 0.0)
        if not reduce_only and 0 < ref * qty < MIN_NOTIONAL:
            raise BinanceError(400, -4164, f"Order's notional must be no smaller than {MIN_NOTIONAL:g} "
                                           "(unless you choose reduce only).")
        ns, ms = self._now()
        oid = next(self._order_ids)
        tif_code = 1 if kind == "MARKET" else _TIF[tif]
        try:
            reports = v.sim.submit(oid, side, qty, price, tif_code, reduce_only, ns)
        except InvalidInput as e:
            raise self._invalid(e, qty) from None
        o = SimOrder(oid, coid, v.symbol, side, kind, tif, price or 0.0, qty, reduce_only, ms, ms)
        refused = next((r for r in reports if r[0] == "rejected" and r[1] == oid), None)
        if refused is not None:
            reports.remove(refused)
            self.apply(v, reports)
            reason = refused[7]
            if "reduce-only" in reason:
                raise _fail(REDUCE_ONLY)
            if not self.expire_unfillable and "post-only" in reason:
                raise _fail(POST_ONLY)
            if not self.expire_unfillable and "fill-or-kill" in reason:
                raise _fail(FOK)
            # Recorded as expired: a market order without liquidity (or the older behaviour).
            self._record(v, o)
            o.status = "EXPIRED"
            self._push([self._order_event(o, "NEW", ms), self._order_event(o, "EXPIRED", ms)])
            return self.order_json(o)
        self._record(v, o)
        self.apply(v, reports)
        return self.order_json(o)

    def new_algo_order(self, p: dict[str, str]) -> dict[str, Any]:
        """Binance's new algo order (``POST /fapi/v1/algoOrder``, ``algoType=CONDITIONAL``): a
        stop or take-profit order (``STOP``, ``STOP_MARKET``, ``TAKE_PROFIT``,
        ``TAKE_PROFIT_MARKET``) waiting for its ``triggerPrice`` (``workingType``: the last trade
        ``CONTRACT_PRICE``, default, or the mark ``MARK_PRICE``, here the mid), then a market
        or limit order in the matching engine. ``closePosition=true`` (market kinds): no
        quantity, reduce-only, the whole position when triggered. One that would trigger at
        once is refused (-2021). Once triggered, the order in the matching engine has an id of
        its own (``actualOrderId``) and the client algo id as its client order id."""
        v = self.venue(p.get("symbol"))
        algo_type = p.get("algoType")
        if not algo_type:
            raise _mandatory("algoType")
        if algo_type != "CONDITIONAL":
            raise BinanceError(400, -1116, "Invalid algoType.")
        side = {"BUY": 1, "SELL": -1}.get(p.get("side", ""))
        if side is None:
            raise _fail(BAD_SIDE) if p.get("side") else _mandatory("side")
        kind = p.get("type", "")
        if kind not in _CONDITIONAL:
            raise _fail(BAD_TYPE) if kind else _mandatory("type")
        if p.get("positionSide", "BOTH") != "BOTH":
            raise BinanceError(400, -4061, "Order's position side does not match user's setting.")
        stop = _num(p.get("triggerPrice"), "triggerPrice")
        if not stop > 0:
            raise _fail(BAD_STOP)
        working = p.get("workingType") or "CONTRACT_PRICE"
        if working not in _WORKING:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'workingType'; legal range is "
                                           "'MARK_PRICE, CONTRACT_PRICE'.")
        close = _bool(p, "closePosition")
        market = kind.endswith("_MARKET")
        if close:
            if not market:
                raise BinanceError(400, -1106, "Parameter 'closePosition' sent when not required.")
            for name in ("quantity", "reduceOnly"):
                if p.get(name):
                    raise BinanceError(400, -1106, f"Parameter '{name}' sent when not required.")
        reduce_only = _bool(p, "reduceOnly") or close
        if market:
            if p.get("price"):
                raise BinanceError(400, -1106, "Parameter 'price' sent when not required.")
            price, tif = None, "GTC"
        else:
            price = _num(p.get("price"), "price")
            if not price > 0:
                raise BinanceError(400, -4001, "Price less than 0.")
            tif = p.get("timeInForce") or "GTC"
            if tif not in _TIF:
                raise _fail(BAD_TIF)
        coid = p.get("clientAlgoId") or "sim" + secrets.token_hex(8)
        if not _CLIENT_ID.fullmatch(coid):
            raise _fail(BAD_CLIENT_ID)
        if coid in v.client_ids:
            raise _fail(DUPLICATE_ID)
        self._sync(v)
        if close:
            qty = abs(v.sim.position)
            if qty <= 0:
                raise _fail(REDUCE_ONLY)
        else:
            qty = _num(p.get("quantity"), "quantity")
            if qty <= 0:
                raise _fail(BAD_QTY)
        ref = price if price is not None else stop
        if not reduce_only and 0 < ref * qty < MIN_NOTIONAL:
            raise BinanceError(400, -4164, f"Order's notional must be no smaller than {MIN_NOTIONAL:g} "
                                           "(unless you choose reduce only).")
        code = _CONDITIONAL[kind]
        watched = v.last_trade if working == "CONTRACT_PRICE" else (self._sim.book.mid() or 0.0)
        rising = (kind.startswith("STOP")) == (side > 0)
        if watched > 0 and (watched >= stop if rising else watched <= stop):
            raise _fail(WOULD_TRIGGER)
        ns, ms = self._now()
        if working == "MARK_PRICE":
            self._on_mark(v, ns)
        oid = next(self._order_ids)
        try:
            reports = v.sim.submit(oid, side, qty, price, 1 if market else _TIF[tif], reduce_only and not close, ns,
                                   order_type=code, trigger_price=stop, trigger_by=_WORKING[working],
                                   close_position=close)
        except InvalidInput as e:
            raise self._invalid(e, qty) from None
        o = SimOrder(oid, coid, v.symbol, side, kind, tif, price or 0.0, 0.0 if close else qty, reduce_only, ms, ms,
                     stop_price=stop, working_type=working, close_position=close)
        refused = next((r for r in reports if r[0] == "rejected" and r[1] == oid), None)
        if refused is not None:
            reports.remove(refused)
            self.apply(v, reports)
            raise _fail(WOULD_TRIGGER if "trigger" in refused[7] else REDUCE_ONLY)
        self._record(v, o)
        if working == "MARK_PRICE":
            v.mark_watch.add(oid)
        self.apply(v, reports)
        return self.algo_json(o)

    def _find_algo(self, p: dict[str, str]) -> SimOrder:
        aid = _int(p, "algoId")
        if aid is None:
            caid = p.get("clientAlgoId")
            if not caid:
                raise BinanceError(400, -1102, "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!")
            vs = [self.venue(p.get("symbol"))] if p.get("symbol") else list(self.venues.values())
            aid = next((v.client_ids[caid] for v in vs if caid in v.client_ids), None)
        o = self.orders.get(aid) if aid is not None else None
        if o is None or not o.conditional:
            raise _fail(UNKNOWN_ORDER)
        return o

    def cancel_algo(self, p: dict[str, str]) -> dict[str, Any]:
        """``DELETE /fapi/v1/algoOrder`` (``algoId`` or ``clientAlgoId``): a conditional order
        still waiting for its trigger."""
        o = self._find_algo(p)
        if o.triggered or o.status not in _OPEN:
            raise _fail(UNKNOWN_CANCEL)
        o.cancel_requested = True
        self.apply(self.venues[o.symbol], self.venues[o.symbol].sim.cancel(o.order_id, self._now()[0]))
        return {"algoId": o.order_id, "clientAlgoId": o.client_order_id, "code": "200", "msg": "success"}

    def query_algo(self, p: dict[str, str]) -> dict[str, Any]:
        return self.algo_json(self._find_algo(p))

    def open_algo_orders(self, p: dict[str, str]) -> list[dict[str, Any]]:
        sym = self.venue(p["symbol"]).symbol if p.get("symbol") else None
        return [self.algo_json(o) for o in self.orders.values()
                if o.conditional and o.algo_status == "NEW" and (sym is None or o.symbol == sym)]

    def _record(self, v: _Venue, o: SimOrder) -> None:
        self.orders[o.order_id] = o
        v.client_ids[o.client_order_id] = o.order_id
        self._sim.stats.orders_placed += 1

    @staticmethod
    def _invalid(e: InvalidInput, qty: float) -> BinanceError:
        """The Binance error of a refusal of the matching engine's validity checks."""
        field_ = str(e).removeprefix("invalid ").split(":", 1)[0]
        if field_ == "price":
            return _fail(BAD_TICK)
        if field_ == "qty":
            return _fail(BAD_QTY if qty <= 0 else BAD_STEP)
        if field_ == "reduce_only":
            return _fail(REDUCE_ONLY)
        if field_ == "tif":
            return _fail(BAD_TIF)
        if field_ == "client_id":
            return _fail(DUPLICATE_ID)
        return BinanceError(400, -1013, str(e))

    def cancel(self, p: dict[str, str]) -> dict[str, Any]:
        v = self.venue(p.get("symbol"))
        o = self.find(v, p)
        if o is None or o.status not in _OPEN or (o.conditional and not o.triggered):
            raise _fail(UNKNOWN_CANCEL)
        o.cancel_requested = True
        self.apply(v, v.sim.cancel(o.order_id, self._now()[0]))
        if o.status in _OPEN:  # the engine did not know it: cannot happen
            o.cancel_requested = False
            raise _fail(UNKNOWN_CANCEL)
        return self.order_json(o)

    def cancel_all(self, p: dict[str, str]) -> dict[str, Any]:
        v = self.venue(p.get("symbol"))
        ns = self._now()[0]
        for o in [o for o in self.orders.values() if o.symbol == v.symbol and o.status in _OPEN]:
            o.cancel_requested = True
            self.apply(v, v.sim.cancel(o.order_id, ns))
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def modify(self, p: dict[str, str]) -> dict[str, Any]:
        """Binance's modify order (``PUT /fapi/v1/order``): a new price and total quantity for
        a resting limit order. A new price or a larger quantity loses the queue place; a new
        quantity at or below the executed one cancels the order; a post-only order that would
        trade at its new price is cancelled; another limit order that would trade at its new
        price trades (it is replaced by a new one at that price, same ids)."""
        v = self.venue(p.get("symbol"))
        o = self.find(v, p)
        if o is None:
            raise _fail(UNKNOWN_ORDER)
        side = {"BUY": 1, "SELL": -1}.get(p.get("side", ""))
        if side is None:
            raise _mandatory("side")
        if side != o.side:
            raise _fail(BAD_SIDE)
        qty, price = _num(p.get("quantity"), "quantity"), _num(p.get("price"), "price")
        if o.status not in _OPEN or o.type != "LIMIT":
            raise BinanceError(400, -2013, "Order does not exist.")
        if price == o.price and math.isclose(qty, o.orig_qty, abs_tol=1e-12):
            raise _fail(NO_NEED)
        ns, ms = self._now()
        rest = round(qty - o.executed, v.qty_dp)
        opposite = v.sim.best_bid() if side < 0 else v.sim.best_ask()
        crosses = opposite is not None and (price <= opposite[0] if side < 0 else price >= opposite[0])
        if rest <= 0 or (crosses and o.tif == "GTX"):
            o.cancel_requested = True  # Binance cancels it
            self.apply(v, v.sim.cancel(o.order_id, ns))
            return self.order_json(o)
        if not crosses:
            try:
                reports = v.sim.modify(o.order_id, side, rest, price, o.reduce_only, ns)
            except InvalidInput as e:
                raise self._invalid(e, qty) from None
            self.apply(v, reports)
            return self.order_json(o)
        # Trades at its new price: out of the book, then in again as a taker (same ids).
        reports = [r for r in v.sim.cancel(o.order_id, ns) if not (r[0] == "cancelled" and r[1] == o.order_id)]
        try:
            more = v.sim.submit(o.order_id, side, rest, price, 0, o.reduce_only, ns)
        except InvalidInput:  # refused as a new order (reduce-only): it stays cancelled
            o.status = "CANCELED"
            self.apply(v, reports)
            self._push([self._order_event(o, "CANCELED", ms)])
            return self.order_json(o)
        o.price, o.orig_qty = price, round(o.executed + rest, v.qty_dp)
        self._push([self._order_event(o, "AMENDMENT", ms)])
        self.apply(v, reports + [r for r in more if not (r[0] == "accepted" and r[1] == o.order_id)])
        return self.order_json(o)

    def query(self, p: dict[str, str], *, open_only: bool = False) -> dict[str, Any]:
        v = self.venue(p.get("symbol"))
        o = self.find(v, p)
        if o is None or (open_only and o.status not in _OPEN):
            raise _fail(UNKNOWN_ORDER)
        return self.order_json(o)

    def open_orders(self, p: dict[str, str]) -> list[dict[str, Any]]:
        sym = self.venue(p["symbol"]).symbol if p.get("symbol") else None
        return [self.order_json(o) for o in self.orders.values()
                if o.status in _OPEN and (sym is None or o.symbol == sym) and (o.triggered or not o.conditional)]

    def all_orders(self, p: dict[str, str]) -> list[dict[str, Any]]:
        v = self.venue(p.get("symbol"))
        first, start, end = _int(p, "orderId") or 0, _int(p, "startTime"), _int(p, "endTime")
        limit = min(_int(p, "limit") or 500, 1000)
        out = [o for o in self.orders.values() if o.symbol == v.symbol and o.order_id >= first
               and (start is None or o.time_ms >= start) and (end is None or o.time_ms <= end)]
        return [self.order_json(o) for o in (out[:limit] if first or start else out[-limit:])]

    def user_trades(self, p: dict[str, str]) -> list[dict[str, Any]]:
        v = self.venue(p.get("symbol"))
        oid, start, end, from_id = (_int(p, n) for n in ("orderId", "startTime", "endTime", "fromId"))
        limit = min(_int(p, "limit") or 500, 1000)
        out = [t for t in v.trades if (oid is None or t["orderId"] == oid)
               and (from_id is None or t["id"] >= from_id) and (start is None or t["time"] >= start)
               and (end is None or t["time"] <= end)]
        return out[:limit] if from_id is not None or start is not None else out[-limit:]

    # -- the engine's reports --------------------------------------------------------------

    def apply(self, v: _Venue, reports: Sequence[tuple[str, int, int, float, float, bool, float, str]]) -> None:
        """Books the matching engine's reports: order states, fills, the user-data events."""
        events: list[dict[str, Any]] = []
        filled_ms = 0
        for kind, oid, ts, price, qty, maker, remaining, _reason in reports:
            o = self.orders.get(oid)
            if o is None:
                continue
            ms = ts // 1_000_000
            o.update_ms = ms
            if kind == "accepted":
                events.append(self._algo_event(o, ms) if o.conditional else self._order_event(o, "NEW", ms))
            elif kind == "triggered":  # a new order in the matching engine; its trades follow
                o.triggered = True
                o.actual_id = next(self._order_ids)
                self._actual[o.actual_id] = o.order_id
                v.mark_watch.discard(oid)
                events += [self._algo_event(o, ms), self._order_event(o, "NEW", ms)]
            elif kind == "filled":
                if o.close_position:
                    o.orig_qty = round(o.executed + qty + remaining, v.qty_dp)
                events.append(self._fill(v, o, price, qty, maker, remaining, ms))
                if o.conditional and o.status == "FILLED":
                    events.append(self._algo_event(o, ms))
                filled_ms = ms
            elif kind == "modified":
                o.price, o.orig_qty = price, round(o.executed + qty, v.qty_dp)
                events.append(self._order_event(o, "AMENDMENT", ms))
            elif kind == "cancelled":
                o.status = "CANCELED" if o.cancel_requested else "EXPIRED"
                v.mark_watch.discard(oid)
                if not o.conditional or o.triggered:
                    events.append(self._order_event(o, o.status, ms))
                if o.conditional:
                    events.append(self._algo_event(o, ms))
            # "rejected": a cancel or modification of an order that is not resting; the order
            # keeps its state (a new order's refusal is handled by new_order).
        if filled_ms:
            events.append(self._account_event(v, filled_ms))
        self._push(events)

    def _fill(self, v: _Venue, o: SimOrder, price: float, qty: float, maker: bool, remaining: float,
              ms: int) -> dict[str, Any]:
        before = self.portfolio.position(v.index)
        self.portfolio.fill(v.index, "buy" if o.side > 0 else "sell", price, qty, maker=maker)
        after = self.portfolio.position(v.index)
        realized, fee = after.realized - before.realized, after.fees - before.fees
        self.wallet += realized - fee
        self.update_ms = max(ms, 1)
        o.executed = round(o.executed + qty, v.qty_dp)
        o.cum_quote += price * qty
        o.status = "FILLED" if remaining <= 0 else "PARTIALLY_FILLED"
        self._sim.stats.fills += 1
        trade = {
            "buyer": o.side > 0, "commission": f"{fee:.8f}", "commissionAsset": "USDT", "id": next(self._trade_ids),
            "maker": maker, "orderId": o.id, "price": v.price(price), "qty": v.qty(qty),
            "quoteQty": f"{price * qty:.8f}", "realizedPnl": f"{realized:.8f}", "marginAsset": "USDT",
            "side": "BUY" if o.side > 0 else "SELL", "positionSide": "BOTH", "symbol": v.symbol, "time": ms,
        }
        v.trades.append(trade)
        return self._order_event(o, "TRADE", ms, trade)

    # -- Binance's formats -----------------------------------------------------------------

    def order_json(self, o: SimOrder) -> dict[str, Any]:
        v = self.venues[o.symbol]
        avg = o.cum_quote / o.executed if o.executed else 0.0
        return {
            "orderId": o.id, "symbol": o.symbol, "status": o.status, "clientOrderId": o.client_order_id,
            "price": v.price(o.price), "avgPrice": f"{avg:.{v.price_dp + 4}f}", "origQty": v.qty(o.orig_qty),
            "executedQty": v.qty(o.executed), "cumQty": v.qty(o.executed), "cumQuote": f"{o.cum_quote:.8f}",
            "timeInForce": o.tif, "type": _actual_type(o), "reduceOnly": o.reduce_only,
            "closePosition": o.close_position, "side": "BUY" if o.side > 0 else "SELL", "positionSide": "BOTH",
            "stopPrice": v.price(o.stop_price) if o.stop_price else "0", "workingType": o.working_type,
            "priceProtect": False, "origType": o.type, "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "time": o.time_ms,
            "updateTime": o.update_ms,
        }

    def _order_event(self, o: SimOrder, execution: str, ms: int, trade: dict[str, Any] | None = None) -> dict[str, Any]:
        v = self.venues[o.symbol]
        avg = o.cum_quote / o.executed if o.executed else 0.0
        open_notional = (o.orig_qty - o.executed) * o.price if o.status in _OPEN else 0.0
        body = {
            "s": o.symbol, "c": o.client_order_id, "S": "BUY" if o.side > 0 else "SELL", "o": _actual_type(o),
            "f": o.tif, "q": v.qty(o.orig_qty), "p": v.price(o.price), "ap": f"{avg:.{v.price_dp + 4}f}",
            "sp": v.price(o.stop_price) if o.stop_price else "0", "x": execution, "X": o.status, "i": o.id, "l": "0", "z": v.qty(o.executed),
            "L": "0", "n": "0", "N": "USDT", "T": ms, "t": 0, "b": f"{open_notional if o.side > 0 else 0:.8f}",
            "a": f"{open_notional if o.side < 0 else 0:.8f}", "m": False, "R": o.reduce_only,
            "wt": o.working_type, "ot": o.type, "ps": "BOTH", "cp": o.close_position, "rp": "0", "pP": False, "si": 0,
            "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0,
        }
        if trade is not None:
            body.update({"l": trade["qty"], "L": trade["price"], "n": trade["commission"], "t": trade["id"],
                         "m": trade["maker"], "rp": trade["realizedPnl"]})
        return {"e": "ORDER_TRADE_UPDATE", "E": ms, "T": ms, "o": body}

    def algo_json(self, o: SimOrder) -> dict[str, Any]:
        """A conditional order as Binance's Algo Service shows it."""
        v = self.venues[o.symbol]
        avg = o.cum_quote / o.executed if o.executed else 0.0
        return {
            "algoId": o.order_id, "clientAlgoId": o.client_order_id, "algoType": "CONDITIONAL", "orderType": o.type,
            "symbol": o.symbol, "side": "BUY" if o.side > 0 else "SELL", "positionSide": "BOTH",
            "timeInForce": o.tif, "quantity": v.qty(o.orig_qty), "algoStatus": o.algo_status,
            "actualOrderId": str(o.actual_id or ""), "actualPrice": f"{avg:.{v.price_dp + 4}f}",
            "executedQty": v.qty(o.executed), "triggerPrice": v.price(o.stop_price),
            "price": v.price(o.price), "icebergQuantity": None, "selfTradePreventionMode": "EXPIRE_MAKER",
            "workingType": o.working_type, "priceMatch": "NONE", "closePosition": o.close_position,
            "priceProtect": False, "reduceOnly": o.reduce_only, "createTime": o.time_ms, "updateTime": o.update_ms,
            "triggerTime": o.update_ms if o.triggered else 0, "goodTillDate": 0,
        }

    def _algo_event(self, o: SimOrder, ms: int) -> dict[str, Any]:
        """The user-data stream's ``ALGO_UPDATE`` of a conditional order."""
        v = self.venues[o.symbol]
        avg = o.cum_quote / o.executed if o.executed else 0.0
        return {"e": "ALGO_UPDATE", "T": ms, "E": ms, "o": {
            "caid": o.client_order_id, "aid": o.order_id, "at": "CONDITIONAL", "o": o.type, "s": o.symbol,
            "S": "BUY" if o.side > 0 else "SELL", "ps": "BOTH", "f": o.tif, "q": v.qty(o.orig_qty),
            "X": o.algo_status, "ai": str(o.actual_id or ""),
            "ap": f"{avg:.{v.price_dp + 4}f}", "aq": v.qty(o.executed), "act": _actual_type(o) if o.triggered else "0",
            "tp": v.price(o.stop_price), "p": v.price(o.price), "V": "EXPIRE_MAKER", "wt": o.working_type,
            "pm": "NONE", "cp": o.close_position, "pP": False, "R": o.reduce_only,
            "tt": o.update_ms if o.triggered else 0, "gtd": 0, "rm": "",
        }}

    def _account_event(self, v: _Venue, ms: int) -> dict[str, Any]:
        p = self.position(v.symbol)
        qty, entry, realized, unrealized = p.qty, p.avg_price, p.realized, p.unrealized
        return {"e": "ACCOUNT_UPDATE", "E": ms, "T": ms, "a": {
            "m": "ORDER",
            "B": [{"a": "USDT", "wb": f"{self.wallet:.8f}", "cw": f"{self.wallet:.8f}", "bc": "0"}],
            "P": [{"s": v.symbol, "pa": v.qty(qty), "ep": f"{entry:.8f}", "bep": f"{entry:.8f}",
                   "cr": f"{realized:.8f}", "up": f"{unrealized:.8f}", "mt": "cross", "iw": "0", "ps": "BOTH",
                   "ma": "USDT"}],
        }}

    def _positions(self) -> list[dict[str, Any]]:
        out = []
        for v in self.venues.values():
            p = self.position(v.symbol)
            qty, entry, unrealized = p.qty, p.avg_price, p.unrealized
            mark = self._sim.book.mid() or entry
            notional = qty * mark
            out.append({
                "symbol": v.symbol, "positionSide": "BOTH", "positionAmt": v.qty(qty), "entryPrice": f"{entry:.8f}",
                "breakEvenPrice": f"{entry:.8f}", "markPrice": f"{mark:.8f}", "unRealizedProfit": f"{unrealized:.8f}",
                "liquidationPrice": "0", "isolatedMargin": "0", "notional": f"{notional:.8f}", "marginAsset": "USDT",
                "isolatedWallet": "0", "initialMargin": f"{abs(notional) / LEVERAGE:.8f}",
                "maintMargin": f"{abs(notional) * MAINT_MARGIN_RATE:.8f}",
                "positionInitialMargin": f"{abs(notional) / LEVERAGE:.8f}", "openOrderInitialMargin": "0", "adl": 0,
                "bidNotional": "0", "askNotional": "0", "leverage": str(LEVERAGE), "marginType": "cross",
                "isAutoAddMargin": "false", "maxNotionalValue": "1000000000", "updateTime": self.update_ms,
            })
        return out

    def position_risk(self, p: dict[str, str], *, v3: bool) -> list[dict[str, Any]]:
        sym = self.venue(p["symbol"]).symbol if p.get("symbol") else None
        out = [x for x in self._positions() if sym is None or x["symbol"] == sym]
        if v3:  # only the symbols with a position or open orders
            busy = {o.symbol for o in self.orders.values() if o.status in _OPEN}
            out = [x for x in out if float(x["positionAmt"]) != 0 or x["symbol"] in busy]
        return out

    def _totals(self) -> dict[str, float]:
        positions = self._positions()
        unrealized = sum(float(x["unRealizedProfit"]) for x in positions)
        initial = sum(float(x["initialMargin"]) for x in positions)
        margin = self.wallet + unrealized
        return {"wallet": self.wallet, "unrealized": unrealized, "margin": margin, "initial": initial,
                "maint": sum(float(x["maintMargin"]) for x in positions), "available": margin - initial}

    def account(self) -> dict[str, Any]:
        t = self._totals()
        asset = {
            "asset": "USDT", "walletBalance": f"{t['wallet']:.8f}", "unrealizedProfit": f"{t['unrealized']:.8f}",
            "marginBalance": f"{t['margin']:.8f}", "maintMargin": f"{t['maint']:.8f}",
            "initialMargin": f"{t['initial']:.8f}", "positionInitialMargin": f"{t['initial']:.8f}",
            "openOrderInitialMargin": "0", "crossWalletBalance": f"{t['wallet']:.8f}",
            "crossUnPnl": f"{t['unrealized']:.8f}", "availableBalance": f"{t['available']:.8f}",
            "maxWithdrawAmount": f"{min(t['available'], t['wallet']):.8f}", "marginAvailable": True,
            "updateTime": self.update_ms,
        }
        return {
            "feeTier": 0, "feeBurn": False, "canTrade": True, "canDeposit": True, "canWithdraw": True,
            "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1,
            "totalInitialMargin": asset["initialMargin"], "totalMaintMargin": asset["maintMargin"],
            "totalWalletBalance": asset["walletBalance"], "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"], "totalPositionInitialMargin": asset["initialMargin"],
            "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": asset["walletBalance"],
            "totalCrossUnPnl": asset["unrealizedProfit"], "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"], "assets": [asset],
            "positions": [{"symbol": x["symbol"], "positionSide": "BOTH", "positionAmt": x["positionAmt"],
                           "unrealizedProfit": x["unRealizedProfit"], "isolatedMargin": "0",
                           "notional": x["notional"], "isolatedWallet": "0", "initialMargin": x["initialMargin"],
                           "maintMargin": x["maintMargin"], "entryPrice": x["entryPrice"],
                           "leverage": x["leverage"], "isolated": False, "updateTime": x["updateTime"]}
                          for x in self._positions()],
        }

    def balance(self) -> list[dict[str, Any]]:
        t = self._totals()
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": f"{t['wallet']:.8f}",
                 "crossWalletBalance": f"{t['wallet']:.8f}", "crossUnPnl": f"{t['unrealized']:.8f}",
                 "availableBalance": f"{t['available']:.8f}",
                 "maxWithdrawAmount": f"{min(t['available'], t['wallet']):.8f}", "marginAvailable": True,
                 "updateTime": self.update_ms}]

    def leverage_brackets(self, p: dict[str, str]) -> list[dict[str, Any]]:
        syms = [self.venue(p["symbol"]).symbol] if p.get("symbol") else list(self.venues)
        bracket = {"bracket": 1, "initialLeverage": 125, "notionalCap": 1_000_000_000, "notionalFloor": 0,
                   "maintMarginRatio": MAINT_MARGIN_RATE, "cum": 0.0}
        return [{"symbol": s, "notionalCoef": 1.0, "brackets": [bracket]} for s in syms]


class ExchangeSimulator:
    """Binance-compatible market-data and USD-M order server on 127.0.0.1 (see the module
    documentation).

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
        api_key: The account's API key (``X-MBX-APIKEY``).
        api_secret: Its secret (HMAC-SHA256 signatures).
        balance: Initial USDT wallet balance of the account.
        maker_fee: Maker fee rate (negative: a rebate).
        taker_fee: Taker fee rate.
        expire_unfillable: Record a post-only order that would trade and a FOK order that
            cannot fill as EXPIRED (Binance before 2023) instead of refusing them with -5022 /
            -5021 (Binance now).
    """

    def __init__(self, frames: list[tuple[int, bytes]], snapshot: bytes | None, *, tick_size: float,
                 lot_size: float, speed: float = 1.0, host: str = "127.0.0.1", port: int = 0,
                 faults: Faults | None = None, keep_sent: bool = False, start_after_s: float = 0.0,
                 pause_without_clients: bool = True, api_key: str = "test-key", api_secret: str = "test-secret",
                 balance: float = 10_000.0, maker_fee: float = 0.0002, taker_fee: float = 0.0005,
                 expire_unfillable: bool = False) -> None:
        if speed < 0:
            raise InvalidInput(f"invalid speed: {speed} (must be >= 0)")
        if not (math.isfinite(balance) and balance >= 0):
            raise InvalidInput(f"invalid balance: {balance} (must be >= 0)")
        if not api_key or not api_secret:
            raise InvalidInput("invalid api_key / api_secret: must not be empty")
        self.frames = frames
        self.speed = speed
        self.host, self.port = host, port
        self.faults = faults or Faults()
        self.keep_sent = keep_sent
        self.start_after_s = start_after_s
        self.pause_without_clients = pause_without_clients
        self.api_key, self.api_secret = api_key, api_secret
        self.stats = SimStats()
        self.capture_report: CaptureReport | None = None
        """What tradecore's reader saw of the start of the capture (``from_capture``): skipped lines."""
        self.clock_ns = frames[0][0] if frames else 0
        """The exchange's time: the recorded time of the frame being replayed."""
        self.frames_replayed = 0
        """Frames replayed so far (applied to the exchange's book, sent or dropped)."""
        self.book = OrderBook(tick_size=tick_size, lot_size=lot_size)
        self._feed = BinanceFeed(self.book)
        if snapshot is not None:
            self._feed.on_message(snapshot, frames[0][0])
        # Per connection: subscribed streams (symbol@kind), connection number, raw-stream client.
        self._clients: dict[web.WebSocketResponse, tuple[set[bytes], int, bool]] = {}
        self.symbols = sorted({_stream_of(f).split(b"@")[0].decode().upper() for _, f in frames[:2000]} - {""})
        self.account = SimAccount(self, balance=balance, maker_fee=maker_fee, taker_fee=taker_fee,
                                  expire_unfillable=expire_unfillable)
        """The account's orders, fills, positions and balance (the exchange's state)."""
        self._listen_key: str | None = None
        self._user_ws: set[web.WebSocketResponse] = set()
        self._started = asyncio.Event()
        self._hold_at: int | None = None
        self._held = asyncio.Event()
        self._go = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()

    @classmethod
    def from_capture(cls, path: str | PathLike[str], *, lenient: bool = False,
                     **kw: Any) -> ExchangeSimulator:
        """A simulator replaying a raw Binance capture (tick and lot sizes inferred from it
        unless given). The frames are served as recorded, every stream included. The start of
        the capture (its first 200,000 events) goes through tradecore's reader to infer the
        sizes: a bad line there is an error naming it (``lenient``: counted and skipped)."""
        frames, snapshot = read_frames(path)
        from tradecore import iter_capture

        reader = iter_capture(path, chunk_events=200_000, lenient=lenient)
        first = next(iter(reader), None)
        if first is None:
            raise InvalidInput(f"invalid capture {path}: no events")
        if "tick_size" not in kw or "lot_size" not in kw:
            from tradecore.instrument import Instrument

            inst = Instrument.infer(first, "binance", "sim")
            kw.setdefault("tick_size", float(inst.tick_size))
            kw.setdefault("lot_size", float(inst.lot_size))
        sim = cls(frames, snapshot, **kw)
        sim.capture_report = reader.report
        return sim

    @property
    def ws_url(self) -> str:
        """Base websocket URL (``<ws_url>/stream?streams=...``)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """Base REST URL (``<rest_url>/fapi/v1/depth?symbol=...``)."""
        return f"http://{self.host}:{self.port}"

    def ccxt_urls(self) -> dict[str, Any]:
        """The ``urls["api"]`` entries that send ccxt's ``binanceusdm`` (async and pro) here:
        public and private REST (v1, v2, v3) and the websockets (market data at ``/ws``; ccxt.pro
        derives the user-data stream, ``/private/ws?listenKey=...``, from the same entry)."""
        rest = self.rest_url
        urls: dict[str, Any] = {name + suffix: f"{rest}/fapi/{version}"
                                for name in ("fapiPublic", "fapiPrivate")
                                for suffix, version in (("", "v1"), ("V2", "v2"), ("V3", "v3"))}
        urls["ws"] = {"linear": f"{self.ws_url}/ws"}
        return urls

    def ccxt_config(self) -> dict[str, Any]:
        """A ccxt constructor configuration for ``binanceusdm`` (``ccxt.async_support`` or
        ``ccxt.pro``) trading on this simulator: the keys, :meth:`ccxt_urls` (merged into ccxt's
        own), no client-side rate limiter, and no currency list (a signed spot-wallet call that
        ``load_markets`` makes when keys are set; the simulator has no spot wallet)."""
        return {"apiKey": self.api_key, "secret": self.api_secret, "enableRateLimit": False,
                "urls": {"api": self.ccxt_urls()}, "options": {"fetchCurrencies": False}}

    def exchange(self, symbol: str) -> SimExchange:
        """The matching engine of ``symbol`` (its book, position and resting orders)."""
        return self.account.venue(symbol).sim

    def feed_events(self) -> Any:
        """The events of the frame being replayed (``EVENT_DTYPE``)."""
        return self._feed.last_events()

    # -- replay control ----------------------------------------------------------------------

    def start_replay(self) -> None:
        """Starts the replay now, without waiting for a market-data subscriber."""
        self._started.set()

    def pause(self, at_frame: int | None = None) -> None:
        """Holds the replay before the next frame, or before frame ``at_frame`` (0-based; the
        replay runs until then). Orders still trade against the book as it is then."""
        self._hold_at = self.frames_replayed if at_frame is None else at_frame

    def resume(self) -> None:
        """Lets a held replay go on."""
        self._hold_at = None
        self._go.set()

    @property
    def held(self) -> bool:
        """True while the replay is holding (after :meth:`pause`)."""
        return self._held.is_set()

    async def wait_held(self, timeout: float | None = None) -> None:
        """Waits until the replay is holding (after :meth:`pause`)."""
        await asyncio.wait_for(self._held.wait(), timeout)

    # -- serving ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Binds and starts serving; ``port`` is then the bound port."""
        app = web.Application()
        app.router.add_get("/stream", self._ws)
        for path in ("/ws", "/ws/{n}", "/public/ws", "/public/ws/{n}", "/market/ws", "/market/ws/{n}"):
            app.router.add_get(path, self._raw_ws)  # raw streams, subscribed by SUBSCRIBE messages
        for path in ("/private/ws", "/private/ws/{n}"):
            app.router.add_get(path, self._private_ws)  # the user-data stream (?listenKey=...)
        for path in ("/fapi/v1/exchangeInfo", "/api/v3/exchangeInfo", "/dapi/v1/exchangeInfo"):
            app.router.add_get(path, self._exchange_info)
        for path in REST_PATHS:
            app.router.add_get(path, self._depth)
        app.router.add_get("/fapi/v1/time", self._time)
        app.router.add_get("/fapi/v1/ping", self._ping)
        a = self.account
        routes: list[tuple[str, str, Callable[[dict[str, str]], Any], str]] = [
            ("POST", "/fapi/v1/order", a.new_order, "new"),
            ("PUT", "/fapi/v1/order", a.modify, "order"),
            ("DELETE", "/fapi/v1/order", a.cancel, "order"),
            ("DELETE", "/fapi/v1/allOpenOrders", a.cancel_all, "order"),
            ("GET", "/fapi/v1/order", a.query, ""),
            ("POST", "/fapi/v1/algoOrder", a.new_algo_order, "new"),
            ("DELETE", "/fapi/v1/algoOrder", a.cancel_algo, "order"),
            ("GET", "/fapi/v1/algoOrder", a.query_algo, ""),
            ("GET", "/fapi/v1/openAlgoOrders", a.open_algo_orders, ""),
            ("GET", "/fapi/v1/openOrder", lambda p: a.query(p, open_only=True), ""),
            ("GET", "/fapi/v1/openOrders", a.open_orders, ""),
            ("GET", "/fapi/v1/allOrders", a.all_orders, ""),
            ("GET", "/fapi/v1/userTrades", a.user_trades, ""),
            ("GET", "/fapi/v2/account", lambda p: a.account(), ""),
            ("GET", "/fapi/v3/account", lambda p: a.account(), ""),
            ("GET", "/fapi/v2/balance", lambda p: a.balance(), ""),
            ("GET", "/fapi/v3/balance", lambda p: a.balance(), ""),
            ("GET", "/fapi/v2/positionRisk", lambda p: a.position_risk(p, v3=False), ""),
            ("GET", "/fapi/v3/positionRisk", lambda p: a.position_risk(p, v3=True), ""),
            ("GET", "/fapi/v1/leverageBracket", a.leverage_brackets, ""),
            ("GET", "/fapi/v1/positionSide/dual", lambda p: {"dualSidePosition": False}, ""),
        ]
        for method, path, fn, kind in routes:
            app.router.add_route(method, path, self._signed(fn, kind))
        for method in ("POST", "PUT", "DELETE"):
            app.router.add_route(method, "/fapi/v1/listenKey", self._listen_key_endpoint)
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
        for ws in list(self._clients) + list(self._user_ws):
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
        frames are the payloads alone (ccxt.pro connects this way). ``/ws/<listenKey>`` is the
        user-data stream."""
        n = request.match_info.get("n")
        if n is not None and n == self._listen_key:
            return await self._user_stream(request)
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
                    {"filterType": "MIN_NOTIONAL", "notional": f"{MIN_NOTIONAL:g}"},
                ],
                "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
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

    async def _time(self, request: web.Request) -> web.Response:
        """Server time: the wall clock (request timestamps are checked against it)."""
        return web.json_response({"serverTime": time.time_ns() // 1_000_000})

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    # -- private endpoints --------------------------------------------------------------------

    def _check_key(self, request: web.Request) -> None:
        key = request.headers.get("X-MBX-APIKEY", "")
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            self.stats.auth_refused += 1
            raise _fail(BAD_KEY)

    def _verify(self, request: web.Request, body: str) -> dict[str, str]:
        """Binance's SIGNED check: HMAC-SHA256 of the total parameters (the query string
        followed by the body, the ``signature`` parameter left out), and ``timestamp`` within
        ``recvWindow`` (default 5000 ms, at most 60000) of the wall clock; returns the params."""
        query = request.rel_url.raw_query_string
        signature = None
        parts = []
        for part in (query, body):
            kept = []
            for item in part.split("&") if part else []:
                if item.startswith("signature="):
                    signature = item[len("signature="):]
                else:
                    kept.append(item)
            parts.append("&".join(kept))
        total = parts[0] + parts[1]
        expected = hmac.new(self.api_secret.encode(), total.encode(), hashlib.sha256).hexdigest()
        if signature is None:
            self.stats.auth_refused += 1
            raise _mandatory("signature")
        if not hmac.compare_digest(signature.lower().encode(), expected.encode()):
            self.stats.auth_refused += 1
            raise _fail(BAD_SIGNATURE)
        p = dict(parse_qsl(parts[0], keep_blank_values=True))
        p.update(parse_qsl(parts[1], keep_blank_values=True))
        ts = _int(p, "timestamp")
        if ts is None:
            raise _mandatory("timestamp")
        window = _int(p, "recvWindow") or 5000
        if window > 60_000:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        now = time.time_ns() // 1_000_000
        if ts >= now + 1000 or now - ts > window:
            self.stats.auth_refused += 1
            raise _fail(BAD_TIMESTAMP)
        return p

    def _signed(self, fn: Callable[[dict[str, str]], Any], kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        """A SIGNED endpoint: rate-limit faults (order requests), the key and signature, the
        call, the late-answer and unknown-status faults."""

        async def handler(request: web.Request) -> web.Response:
            self.stats.private_requests += 1
            f = self.faults
            if kind:
                self.stats.order_requests += 1
                if self.stats.order_requests <= f.order_429:
                    self.stats.orders_429 += 1
                    return BinanceError(*TOO_MANY, headers={"Retry-After": f"{f.retry_after_s:g}"}).response()
            try:
                self._check_key(request)
                p = self._verify(request, await request.text())
                result = fn(p)
            except BinanceError as e:
                if kind == "new":
                    self.stats.orders_refused += 1
                return e.response()
            if kind and f.order_delay_ms:
                self.stats.orders_delayed += 1
                await asyncio.sleep(f.order_delay_ms / 1000)
            if kind == "new" and f.order_unknown_every and self.stats.orders_placed % f.order_unknown_every == 0:
                self.stats.orders_unknown += 1
                return _fail(STATUS_UNKNOWN).response()
            return web.json_response(result)

        return handler

    async def _listen_key_endpoint(self, request: web.Request) -> web.Response:
        """``POST`` (a key: the same one while it is valid), ``PUT`` (keep-alive), ``DELETE``
        on ``/fapi/v1/listenKey``: API key only, no signature. Keys do not expire here."""
        self.stats.private_requests += 1
        try:
            self._check_key(request)
        except BinanceError as e:
            return e.response()
        if request.method == "POST":
            if self._listen_key is None:
                self._listen_key = secrets.token_hex(32)
            return web.json_response({"listenKey": self._listen_key})
        if self._listen_key is None:
            return _fail(BAD_LISTEN_KEY).response()
        if request.method == "PUT":
            return web.json_response({"listenKey": self._listen_key})
        self._listen_key = None
        for ws in list(self._user_ws):
            await ws.close()
        return web.json_response({})

    async def _private_ws(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("listenKey") or request.match_info.get("n")
        if key is None or key != self._listen_key:
            return _fail(BAD_LISTEN_KEY).response()
        return await self._user_stream(request)

    async def _user_stream(self, request: web.Request) -> web.WebSocketResponse:
        """The user-data stream: every ``ORDER_TRADE_UPDATE`` and ``ACCOUNT_UPDATE`` of the
        account from the moment of connection, in order."""
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        self.stats.user_streams += 1
        self._user_ws.add(ws)
        queue: asyncio.Queue[str] = asyncio.Queue()
        remove = self.account.on_update(queue.put_nowait)

        async def send() -> None:
            while True:
                text = await queue.get()
                await ws.send_str(text)

        sender = asyncio.ensure_future(send())
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            remove()
            sender.cancel()
            self._user_ws.discard(ws)
        return ws

    # -- the replay -----------------------------------------------------------------------------

    async def _hold(self, i: int) -> float:
        """Holds frame ``i`` while the replay is paused there; returns the time held (s)."""
        held = time.perf_counter()
        self._held.set()
        while self._hold_at is not None and i >= self._hold_at:
            self._go.clear()
            await self._go.wait()
        self._held.clear()
        return time.perf_counter() - held

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
        account = self.account
        for i, (ts, frame) in enumerate(self.frames, 1):
            if self._hold_at is not None and i - 1 >= self._hold_at:
                t0 += await self._hold(i - 1)
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
            # The exchange's own book sees every frame, whatever is lost on the wire; so do the
            # matching engines of the symbols with orders at the exchange.
            self.clock_ns = ts
            self._feed.on_message(frame, ts)
            self.frames_replayed = i
            account.on_frame(stream.partition(b"@")[0], ts, b"rade" in stream)
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
