"""The real order gateway: orders through ccxt's async API.

:class:`CcxtGateway` places, cancels, modifies and queries orders of one ccxt exchange and
turns the exchange's answers into :class:`VenueOrder` and :class:`VenueFill`. What it
guarantees to the caller (:mod:`tradecore.live.trading`):

- Every order carries a unique client order id, ``<prefix><session>.<client id>``: the runner's
  prefix, the trading session's id (:mod:`tradecore.live.session`, recorded in the journal) and
  the journal's client id (never reused; the numbering continues after a restart). An id of a
  session this journal does not have is another runner's (or another state directory's): its
  orders and fills are foreign, never adopted. The exchange refuses an id used before, so an
  order can never be placed twice; that refusal (Binance -4116) means the id was someone
  else's (we never send an id twice), so the order is rejected, naming the id.
- An answer that does not say whether the order was placed (a timeout, a dropped connection,
  Binance's -1007 "execution status unknown") raises :class:`OutcomeUnknown`: the caller then
  asks the exchange for the order by its client id, never sends it again blindly.
- A refusal that says the order was not placed (invalid, insufficient margin, post-only that
  would trade, ...) raises :class:`OrderRejected`.
- HTTP 429/418 raise :class:`RateLimited` with the exchange's ``Retry-After``; until then no
  request is sent (the order is refused locally, not queued).
- With ``native=True`` (Binance USD-M), orders and cancels skip ccxt's request building: a new
  order's whole request is built and signed in Rust by the order path
  (``tradecore._core.OrderEntry``, set up from :meth:`CcxtGateway.native_order_path`) and
  written by :meth:`CcxtGateway.send_order`, a cancel's by ``tradecore._core.BinanceEncoder``;
  both leave before the call returns, on a kept-alive pipelined connection
  (:class:`~tradecore.live.http1.Http1Connection`), with the same outcomes; queries, streams and
  reconciliation still go through ccxt. This is the low-latency path (``benches/tick_to_order.py``).
- Order and fill updates come from the exchange's user-data stream (ccxt.pro ``watch_orders``
  and ``watch_my_trades``) where it has one; a poll of open orders and recent trades runs
  besides (fills are keyed by trade id downstream, so one seen twice is booked once) and alone
  where there is no stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tradecore._core import BinanceEncoder
from tradecore.errors import InvalidInput
from tradecore.live.http1 import Http1Connection, Response
from tradecore.live.journal import OrderRecord

log = logging.getLogger("tradecore.live.gateway")

_TIF = {0: "GTC", 1: "IOC", 2: "FOK", 3: "GTX"}  # 3: post-only, Binance's GTX
#: Binance's type of a stop or take-profit order (the journal's ``order_type``).
_CONDITIONAL_TYPE = {"stop_market": "STOP_MARKET", "stop_limit": "STOP", "take_profit_market": "TAKE_PROFIT_MARKET",
                     "take_profit_limit": "TAKE_PROFIT"}
_STATUS = {"open": "open", "closed": "filled", "canceled": "cancelled", "cancelled": "cancelled",
           "expired": "cancelled", "rejected": "rejected"}


class GatewayError(Exception):
    """Base of the gateway's outcomes."""


class OrderRejected(GatewayError):
    """The exchange said the order was not placed (or the cancel/modify not done)."""


class OutcomeUnknown(GatewayError):
    """The exchange's answer does not say whether the request was carried out."""


class RateLimited(GatewayError):
    """HTTP 429/418: nothing is sent before ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(GatewayError):
    """The exchange does not know the order."""


class DuplicateClientId(OrderRejected):
    """The exchange already has an order with this client order id (Binance -4116): not ours
    to adopt; the order is rejected."""


#: Between the session id and the client id in a client order id (in neither's alphabet).
SESSION_SEP = "."
#: Binance's limit on a client order id (``^[\.A-Z\:/a-z0-9_-]{1,36}$``): prefix (at most 8)
#: + session (9) + separator (1) + client id (at most 18 digits).
MAX_CLIENT_ORDER_ID = 36
MAX_PREFIX = 8
#: A client order id prefix: 1 to MAX_PREFIX letters, digits, ``_`` or ``-``.
CLIENT_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,%d}$" % MAX_PREFIX)
MAX_CLIENT_ID = 10**18 - 1


@dataclass(frozen=True)
class VenueOrder:
    """An order as the exchange has it."""

    client_id: int | None
    """Ours, parsed from the client order id; None for an order another client (or a session
    not in our journal) placed."""
    client_order_id: str
    venue_order_id: str
    symbol: str
    """The feed's symbol (``BTCUSDT``)."""
    status: str
    """``open``, ``filled``, ``cancelled`` or ``rejected``."""
    side: int
    price: float
    qty: float
    filled: float
    ts: int
    """Exchange time of its last change, ns."""
    session: str = ""
    """The session of ``client_id`` (parsed from the client order id)."""
    triggered: bool = False
    """A stop or take-profit order whose trigger was touched: ``venue_order_id`` is then its
    order in the matching engine (Binance's ``actualOrderId``), no longer the algo id."""


@dataclass(frozen=True)
class VenueFill:
    """A fill as the exchange has it."""

    trade_id: str
    venue_order_id: str
    client_id: int | None
    symbol: str
    side: int
    price: float
    qty: float
    fee: float
    maker: bool
    exch_ts: int
    session: str = ""
    """The session of ``client_id`` (parsed from the client order id)."""


_SAFE = re.compile(r"[A-Za-z0-9_.\-]*")


_BINANCE_STATUS = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "filled", "CANCELED": "cancelled",
                   "EXPIRED": "cancelled", "EXPIRED_IN_MATCH": "cancelled", "REJECTED": "rejected"}


class CcxtGateway:
    """Orders of one ccxt exchange (async API; ccxt.pro for the user-data stream).

    Args:
        exchange_id: A ccxt exchange id (``binanceusdm``, ``bybit``, ...).
        symbols: {feed symbol: ccxt unified symbol or None (found by market id)}.
        config: Handed to the ccxt constructor (``apiKey``, ``secret``, ``urls`` overrides,
            ``options``...).
        client_prefix: Prefix of the client order ids (one per runner sharing an account; at
            most 8 characters, so that ``<prefix><session>.<client id>`` fits Binance's 36).
        timeout_s: Request timeout; past it the outcome is unknown.
        poll_s: Interval of the open-orders and trades poll.
        native: Binance USD-M: orders and cancels by tradecore's own encoder and transport.
    """

    def __init__(self, exchange_id: str, symbols: Sequence[str], *, config: dict[str, Any] | None = None,
                 client_prefix: str = "tc", timeout_s: float = 5.0, poll_s: float = 2.0,
                 native: bool = False) -> None:
        import ccxt.pro as ccxtpro

        if not CLIENT_PREFIX.fullmatch(client_prefix):
            raise InvalidInput(f"invalid client_prefix: {client_prefix!r} (1-{MAX_PREFIX} letters, digits, '_' or '-': "
                               f"the client order id <prefix><session>.<client id> must fit Binance's "
                               f"{MAX_CLIENT_ORDER_ID} characters)")
        cls = getattr(ccxtpro, exchange_id, None)
        if cls is None:
            raise InvalidInput(f"invalid exchange: {exchange_id!r} (not a ccxt.pro exchange id)")
        cfg = {"enableRateLimit": True, "timeout": int(timeout_s * 1000), **(config or {})}
        # an order gateway needs the markets only: no currency or margin-pair downloads
        cfg["options"] = {"fetchCurrencies": False, "fetchMargins": False, **dict(cfg.get("options") or {})}
        self.exchange = cls(cfg)
        self.id = exchange_id
        self.symbols = list(symbols)
        self.prefix = client_prefix
        self.poll_s = poll_s
        self.retry_after_until = 0.0
        self.requests = 0
        self.unknown_outcomes = 0
        self.rate_limited = 0
        self._unified: dict[str, str] = {}
        self._feed_symbol: dict[str, str] = {}
        self._id_re = re.compile(re.escape(client_prefix) + r"(?:([0-9a-z]+)" + re.escape(SESSION_SEP) + r")?(\d+)")
        self.session = ""
        """The session whose orders this gateway sends (:meth:`use_sessions`)."""
        self.sessions: set[str] = set()
        """The sessions whose client order ids are ours (the journal's)."""
        self._market_id: dict[str, str] = {}
        self.native = native
        self.encoder: BinanceEncoder | None = None
        self.transport: Http1Connection | None = None
        if native:
            if exchange_id != "binanceusdm":
                raise InvalidInput(f"invalid gateway: native orders are for binanceusdm, not {exchange_id!r}")
            key, secret = str(cfg.get("apiKey") or ""), str(cfg.get("secret") or "")
            if not key or not secret:
                raise InvalidInput("invalid gateway keys: the native Binance path needs apiKey and secret")
            self.encoder = BinanceEncoder(secret)
            self.transport = Http1Connection(self.exchange.urls["api"]["fapiPrivate"],
                                             {"X-MBX-APIKEY": key,
                                              "Content-Type": "application/x-www-form-urlencoded"})
        self.timeout_s = timeout_s

    # -- set-up -----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Loads the markets and maps the feed's symbols to ccxt's."""
        await self.exchange.load_markets()
        for s in self.symbols:
            m = self.exchange.markets_by_id.get(s) if "/" not in s else [self.exchange.market(s)]
            if not m:
                raise InvalidInput(f"invalid symbol: {s!r} (not a market of {self.id})")
            market = m[0] if isinstance(m, list) else m
            self._unified[s] = market["symbol"]
            self._feed_symbol[market["symbol"]] = s
            if not _SAFE.fullmatch(str(market["id"])):
                raise InvalidInput(f"invalid market id: {market['id']!r} (not URL-safe)")
            self._market_id[s] = market["id"]
        if self.transport is not None and not self.transport.connected:
            await self.transport.connect()

    async def close(self) -> None:
        await self.exchange.close()
        if self.transport is not None:
            await self.transport.close()

    def use_sessions(self, session: str, known: set[str]) -> None:
        """Orders from now on are ``session``'s; ``known`` (the journal's sessions, ``session``
        included) are the sessions whose orders are ours."""
        self.session = session
        self.sessions = set(known) | {session}

    def client_order_id(self, client_id: int, session: str | None = None) -> str:
        """``<prefix><session>.<client id>`` (``session``: the current one by default; ``""``,
        an order from before sessions: ``<prefix><client id>``)."""
        s = self.session if session is None else session
        return f"{self.prefix}{s}{SESSION_SEP}{client_id}" if s else f"{self.prefix}{client_id}"

    def parse_client_order_id(self, client_order_id: str | None) -> tuple[str, int] | None:
        """(session, client id) of a client order id of this prefix's form, whoever's."""
        m = self._id_re.fullmatch(client_order_id or "")
        return (m.group(1) or "", int(m.group(2))) if m else None

    def parse_client_id(self, client_order_id: str | None) -> int | None:
        """Our client id in a client order id; None if it is not ours (another prefix, or a
        session this journal does not have)."""
        p = self.parse_client_order_id(client_order_id)
        return p[1] if p is not None and p[0] in self.sessions else None

    def _session_of(self, client_order_id: str | None) -> str:
        p = self.parse_client_order_id(client_order_id)
        return p[0] if p is not None else ""

    # -- requests ---------------------------------------------------------------------------

    async def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        import ccxt

        wait = self.retry_after_until - time.monotonic()
        if wait > 0:
            raise RateLimited(f"{what} not sent: rate limited for {wait:.1f} s more (Retry-After)", wait)
        self.requests += 1
        try:
            return await fn(*args, **kw)
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as e:
            headers = self.exchange.last_response_headers or {}
            retry = _retry_after(headers)
            self.retry_after_until = time.monotonic() + retry
            self.rate_limited += 1
            log.warning("%s: rate limited, nothing sent for %.1f s: %s", what, retry, e)
            raise RateLimited(f"{what}: rate limited ({_short(e)})", retry) from None
        except ccxt.OrderNotFound as e:
            raise NotFound(f"{what}: {_short(e)}") from None
        except ccxt.InvalidOrder as e:
            if "-4116" in str(e) or isinstance(e, ccxt.DuplicateOrderId):
                # we never send an id twice: the exchange has another runner's order of this id
                raise DuplicateClientId(f"{what}: duplicate client order id ({_short(e)})") from None
            raise OrderRejected(f"{what}: {_short(e)}") from None
        except (ccxt.InsufficientFunds, ccxt.BadRequest, ccxt.AuthenticationError, ccxt.PermissionDenied,
                ccxt.BadSymbol, ccxt.OperationRejected) as e:
            raise OrderRejected(f"{what}: {_short(e)}") from None
        except (ccxt.NetworkError, ccxt.BadResponse, ccxt.ExchangeError, asyncio.TimeoutError, OSError) as e:
            self.unknown_outcomes += 1
            raise OutcomeUnknown(f"{what}: {type(e).__name__}: {_short(e)}") from None

    def native_order_path(self) -> tuple[BinanceEncoder, bytes, list[str], str] | None:
        """What the order path in Rust (``tradecore._core.OrderEntry.set_native``) needs to
        build the whole request of a new order: the encoder, the request's head, the
        exchange's symbol of each feed symbol and the client id prefix. None before
        :meth:`connect` or off the native path."""
        if self.encoder is None or self.transport is None or len(self._market_id) < len(self.symbols):
            return None
        if not self.session:
            return None  # no session yet (use_sessions)
        return (self.encoder, self.transport.request_head("POST", "/order"),
                [self._market_id[s] for s in self.symbols], self.prefix + self.session + SESSION_SEP)

    def send_order(self, client_id: int, request: bytes, symbol: str) -> Awaitable[VenueOrder]:
        """The native path: writes a new order's whole request (built by the order path in
        Rust) now; the awaitable gives the answer."""
        t = self.transport
        w = t.writer if t is not None and not self.retry_after_until else None
        if w is None:  # down or rate limited: the general path says why
            return self._native_send(client_id, "POST", b"", symbol, request)
        w(request)  # the tick-to-order path ends here; the rest is bookkeeping
        self.requests += 1
        return self._native_answer(client_id, t.expect(), "POST", symbol)  # type: ignore[union-attr]

    def _native_send(self, what: str | int, method: str, body: bytes, symbol: str,
                     request: bytes | None = None) -> Awaitable[VenueOrder]:
        """The native path: writes the signed request now; the awaitable gives the answer
        classified as the ccxt path would (``what``: a client id is a new order)."""
        assert self.transport is not None
        if self.retry_after_until:
            wait = self.retry_after_until - time.monotonic()
            if wait > 0:
                return _raise(RateLimited(f"{_what(what)} not sent: rate limited for {wait:.1f} s more "
                                          "(Retry-After)", wait))
            self.retry_after_until = 0.0  # over (0: not limited, checked without a clock read)
        try:
            fut = self.transport.write(request) if request is not None else self.transport.send(method, "/order",
                                                                                                 body)
        except ConnectionError as e:
            return _raise(OrderRejected(f"{_what(what)} not sent: {e}"))
        self.requests += 1
        return self._native_answer(what, fut, method, symbol)

    async def _native_answer(self, what_: str | int, fut: asyncio.Future[Response], method: str,
                             symbol: str) -> VenueOrder:
        what = _what(what_)
        try:
            status, headers, data = await asyncio.wait_for(fut, self.timeout_s)
        except (asyncio.TimeoutError, ConnectionError, OSError) as e:
            self.unknown_outcomes += 1
            raise OutcomeUnknown(f"{what}: {type(e).__name__}: {_short(e)}") from None
        try:
            doc = json.loads(data) if data else {}
        except ValueError:
            doc = {}
        if status in (429, 418):
            retry = _retry_after(headers)
            self.retry_after_until = time.monotonic() + retry
            self.rate_limited += 1
            raise RateLimited(f"{what}: rate limited (HTTP {status})", retry)
        code = doc.get("code") if isinstance(doc, dict) else None
        if status == 200 and isinstance(doc, dict) and "orderId" in doc:
            return self._binance_order(doc, symbol)
        msg = f"{what}: HTTP {status} {code} {doc.get('msg', '') if isinstance(doc, dict) else ''}".strip()
        if code == -4116 and isinstance(what_, int):
            raise DuplicateClientId(f"{msg}: duplicate client order id {self.client_order_id(what_)!r} (another "
                                    "runner's or session's order has it; not ours, not adopted)")
        if status >= 500 or code in (-1007, -1006):
            self.unknown_outcomes += 1
            raise OutcomeUnknown(msg)
        if code == -2013 or code == -2011 and method == "DELETE":
            raise NotFound(msg)
        raise OrderRejected(msg)

    def _binance_order(self, d: dict[str, Any], symbol: str) -> VenueOrder:
        coid = str(d.get("clientOrderId") or "")
        return VenueOrder(self.parse_client_id(coid), coid, str(d["orderId"]), symbol,
                          _BINANCE_STATUS.get(str(d.get("status")), "open"), 1 if d.get("side") == "BUY" else -1,
                          float(d.get("price") or 0.0), float(d.get("origQty") or 0.0),
                          float(d.get("executedQty") or 0.0), int(d.get("updateTime") or 0) * 1_000_000,
                          self._session_of(coid))

    def start_place(self, o: OrderRecord) -> Awaitable[VenueOrder]:
        """Places an order through ccxt; the awaitable gives the answer. Its client order id
        makes it idempotent. (On the native path new orders go out by :meth:`send_order`,
        built by the order path in Rust once connected; before that nothing is sent.)"""
        if self.encoder is not None:
            return _raise(OrderRejected(f"order {o.client_id} not sent: the native gateway is not connected"))
        return self.place(o)

    async def place(self, o: OrderRecord) -> VenueOrder:
        """Places an order through ccxt's ``create_order``. A stop or take-profit order
        (``o.order_type``) goes with Binance's type (``STOP_MARKET``, ``STOP``,
        ``TAKE_PROFIT_MARKET``, ``TAKE_PROFIT``) and ``stopPrice``, ``workingType``
        (``CONTRACT_PRICE``: the last trade, ``MARK_PRICE``), ``closePosition`` (no quantity,
        no ``reduceOnly``: Binance refuses them with it) or ``reduceOnly``, and ``timeInForce``
        for the limit kinds; ccxt sends it to Binance's Algo Service (``/fapi/v1/algoOrder``,
        where conditional orders go since December 2025). On the native path too: the native
        request carries LIMIT and MARKET orders only."""
        coid = self.client_order_id(o.client_id, o.session or None)
        params: dict[str, Any] = {"newClientOrderId": coid}
        if o.order_type:
            kind = _CONDITIONAL_TYPE[o.order_type]
            params["stopPrice"] = o.trigger_price
            params["workingType"] = "MARK_PRICE" if o.trigger_by == "mark" else "CONTRACT_PRICE"
            if o.close_position:
                params["closePosition"] = True
            elif o.reduce_only:
                params["reduceOnly"] = True
            if o.order_type.endswith("_limit"):
                params["timeInForce"] = _TIF[o.tif]
        else:
            kind = "market" if o.price == 0.0 else "limit"
            if o.reduce_only:
                params["reduceOnly"] = True
            if kind == "limit":
                params["timeInForce"] = _TIF[o.tif]
        side = "buy" if o.side > 0 else "sell"
        try:
            raw = await self._call(f"order {o.client_id}", self.exchange.create_order, self._unified[o.symbol], kind,
                                   side, o.qty, o.price or None, params)
        except DuplicateClientId as e:
            raise DuplicateClientId(f"{e}: duplicate client order id {coid!r} (another runner's or session's order "
                                    "has it; not ours, not adopted)") from None
        return self._order(raw, o.symbol)

    def start_cancel(self, o: OrderRecord) -> Awaitable[VenueOrder]:
        """Cancels an order (on the native path, the request is on the wire when this returns)."""
        if self.encoder is not None and not o.order_type:  # a conditional order's cancel goes through ccxt
            body = self.encoder.cancel(self._market_id[o.symbol], o.venue_order_id or None,
                                       self.client_order_id(o.client_id, o.session))
            return self._native_send(f"cancel {o.client_id}", "DELETE", body, o.symbol)
        return self.cancel(o)

    async def cancel(self, o: OrderRecord) -> VenueOrder:
        """Cancels an order through ccxt's ``cancel_order``."""
        params: dict[str, Any] = {} if o.venue_order_id else {
            "origClientOrderId": self.client_order_id(o.client_id, o.session)}
        if o.order_type and not o.triggered:
            params["trigger"] = True  # Binance's Algo Service (a triggered one is a plain order now)
            try:
                raw = await self._call(f"cancel {o.client_id}", self.exchange.cancel_order, o.venue_order_id or None,
                                       self._unified[o.symbol], params)
            except NotFound:
                # It triggered (a restart does not know it): it is a plain order now, under its own id.
                o.triggered = True
                return await self.cancel(o)
        else:
            raw = await self._call(f"cancel {o.client_id}", self.exchange.cancel_order, o.venue_order_id or None,
                                   self._unified[o.symbol], params)
        if o.order_type and not o.triggered and raw.get("status") is None:  # the algo cancel's answer: {code: 200, msg: success}
            raw = {**raw, "status": "canceled", "clientOrderId": raw.get("clientOrderId")
                   or self.client_order_id(o.client_id, o.session)}
        return self._order(raw, o.symbol)

    async def modify(self, o: OrderRecord, price: float, qty: float) -> VenueOrder:
        """A new price and total quantity (filled included, as Binance counts it) for a resting
        limit order (it loses its queue place)."""
        side = "buy" if o.side > 0 else "sell"
        raw = await self._call(f"modify {o.client_id}", self.exchange.edit_order, o.venue_order_id or None,
                               self._unified[o.symbol], "limit", side, qty, price,
                               {} if o.venue_order_id else {"origClientOrderId": self.client_order_id(o.client_id, o.session)})
        return self._order(raw, o.symbol)

    async def query(self, o: OrderRecord) -> VenueOrder | None:
        """The order by its client order id; None if the exchange does not know it."""
        try:
            params: dict[str, Any] = {"origClientOrderId": self.client_order_id(o.client_id, o.session)}
            vid = None
            if o.order_type:  # Binance's Algo Service; once triggered, the order in the matching engine
                params["trigger"] = True
                if o.triggered and o.venue_order_id:
                    params, vid = {}, o.venue_order_id
            raw = await self._call(f"query {o.client_id}", self.exchange.fetch_order, vid, self._unified[o.symbol],
                                   params)
        except NotFound:
            return None
        return self._order(raw, o.symbol)

    async def open_orders(self) -> list[VenueOrder]:
        out: list[VenueOrder] = []
        for s, u in self._unified.items():
            out += [self._order(r, s) for r in await self._call("open orders", self.exchange.fetch_open_orders, u)]
        return out

    async def trades(self, since_ms: int | None, limit: int = 500) -> list[VenueFill]:
        """Our fills since ``since_ms`` (exchange time; None: the exchange's recent ones), every
        page."""
        out: list[VenueFill] = []
        for s, u in self._unified.items():
            since = since_ms
            seen: set[str] = set()
            while True:
                page = await self._call("my trades", self.exchange.fetch_my_trades, u, since, limit)
                new = [t for t in page if str(t["id"]) not in seen]
                out += [self._fill(t, s) for t in new]
                seen.update(str(t["id"]) for t in page)
                if len(page) < limit or not new:
                    break
                since = max(int(t["timestamp"]) for t in page)
        return out

    async def positions(self) -> dict[str, float]:
        """Signed positions of the symbols."""
        out = dict.fromkeys(self._unified, 0.0)
        raw = await self._call("positions", self.exchange.fetch_positions, list(self._unified.values()))
        for p in raw:
            s = self._feed_symbol.get(p.get("symbol", ""))
            if s is None:
                continue
            qty = float(p.get("contracts") or 0.0) * float(p.get("contractSize") or 1.0)
            out[s] += -qty if p.get("side") == "short" else qty
        return out

    # -- streams ----------------------------------------------------------------------------

    async def stream(self, on_order: Callable[[VenueOrder], None], on_fill: Callable[[VenueFill], None],
                     since_ms: Callable[[], int | None]) -> None:
        """Delivers order and fill updates until cancelled: the user-data stream where the
        exchange has one, and a poll of open orders and trades (``poll_s``)."""
        tasks = [asyncio.ensure_future(self._poll(on_order, on_fill, since_ms))]
        has = self.exchange.has
        if has.get("watchOrders") and has.get("watchMyTrades"):
            for u in self._unified.values():
                tasks.append(asyncio.ensure_future(self._watch_orders(u, on_order)))
                tasks.append(asyncio.ensure_future(self._watch_trades(u, on_fill)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    async def _watch_orders(self, unified: str, on_order: Callable[[VenueOrder], None]) -> None:
        s = self._feed_symbol[unified]
        while True:
            try:
                for raw in await self.exchange.watch_orders(unified):
                    on_order(self._order(raw, s))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the poll covers the gap; the stream is retried
                log.warning("user stream (orders) of %s: %s; retrying", unified, _short(e))
                await asyncio.sleep(1.0)

    async def _watch_trades(self, unified: str, on_fill: Callable[[VenueFill], None]) -> None:
        s = self._feed_symbol[unified]
        while True:
            try:
                for raw in await self.exchange.watch_my_trades(unified):
                    on_fill(self._fill(raw, s))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("user stream (trades) of %s: %s; retrying", unified, _short(e))
                await asyncio.sleep(1.0)

    async def _poll(self, on_order: Callable[[VenueOrder], None], on_fill: Callable[[VenueFill], None],
                    since_ms: Callable[[], int | None]) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                for f in await self.trades(since_ms()):
                    on_fill(f)
                for o in await self.open_orders():
                    on_order(o)
            except asyncio.CancelledError:
                raise
            except GatewayError as e:
                log.warning("poll: %s", e)

    # -- parsing ----------------------------------------------------------------------------

    def _order(self, raw: dict[str, Any], symbol: str) -> VenueOrder:
        coid = str(raw.get("clientOrderId") or "")
        status = _STATUS.get(str(raw.get("status")), "open")
        vid = raw.get("id")
        filled = float(raw.get("filled") or 0.0)
        info = raw.get("info")
        triggered = False
        if isinstance(info, dict) and ("aid" in info or "algoId" in info):  # Binance's Algo Service
            algo = info.get("X") if "aid" in info else info.get("algoStatus")
            actual = str(info.get("ai") or info.get("actualOrderId") or "")
            if actual:  # triggered: the order in the matching engine is the one that trades
                triggered, vid = True, actual
                filled = float(info.get("aq") or info.get("executedQty") or filled)
            if algo == "TRIGGERED":  # ccxt says closed: the order it placed is working
                status = "open"
        return VenueOrder(self.parse_client_id(coid), coid, "" if vid is None else str(vid), symbol, status,
                          1 if raw.get("side") == "buy" else -1, float(raw.get("price") or 0.0),
                          float(raw.get("amount") or 0.0), filled,
                          int(raw.get("lastUpdateTimestamp") or raw.get("timestamp") or 0) * 1_000_000,
                          self._session_of(coid), triggered)

    def _fill(self, raw: dict[str, Any], symbol: str) -> VenueFill:
        fee = raw.get("fee") or {}
        info = raw.get("info") or {}
        coid = raw.get("clientOrderId") or info.get("c") or info.get("clientOrderId")
        return VenueFill(str(raw["id"]), str(raw.get("order")), self.parse_client_id(coid), symbol,
                         1 if raw.get("side") == "buy" else -1, float(raw["price"]), float(raw["amount"]),
                         float(fee.get("cost") or 0.0), raw.get("takerOrMaker") == "maker",
                         int(raw.get("timestamp") or 0) * 1_000_000, self._session_of(coid))


def _what(what: str | int) -> str:
    """A request's name in messages (a client id: a new order)."""
    return f"order {what}" if isinstance(what, int) else what


async def _raise(e: Exception) -> VenueOrder:
    raise e


def _retry_after(headers: dict[str, Any]) -> float:
    for k, v in headers.items():
        if k.lower() == "retry-after":
            try:
                return max(float(v), 0.0)
            except (TypeError, ValueError):
                break
    return 1.0


def _short(e: BaseException) -> str:
    text = str(e)
    return text if len(text) <= 300 else text[:300] + "..."
