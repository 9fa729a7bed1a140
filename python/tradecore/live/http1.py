"""A pipelined HTTP/1.1 client on one kept-alive connection, for the order path.

``send`` writes the request's bytes to the socket before it returns (no event-loop turn
between the strategy's decision and the wire) and gives a future of the response; responses
come back in request order (HTTP/1.1), so each completes the oldest waiting future. A request
whose future times out is not resent; its late response still consumes its slot. When the
connection drops, every request still waiting fails with ``ConnectionError`` (its outcome is
unknown: it may have been carried out). A ``send`` while disconnected raises
``ConnectionError`` at once (nothing was written) and starts a reconnection in the background.

The order path writes with :attr:`Http1Connection.writer` (the live transport's ``write``,
None as soon as the connection is closing: the server's EOF or ``Connection: close``) and then
calls :meth:`Http1Connection.expect` for the response's future, so nothing runs between the
order's bytes and the wire. Each connection keeps its own waiting requests: a replaced one
answers or fails only its own. :meth:`Http1Connection.close` is final until ``connect``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

log = logging.getLogger("tradecore.live.http1")

Response = tuple[int, dict[str, str], bytes]


class _Protocol(asyncio.Protocol):
    """One TCP (or TLS) connection: its bytes in, and the futures of the requests written on
    it, oldest first."""

    def __init__(self, conn: Http1Connection | _Detached) -> None:
        self.conn = conn
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Response]] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, but is one
        self.conn._made(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            r = self._parse()
            if r is None:
                return
            self.conn._deliver(self, r)

    def eof_received(self) -> bool:
        self.conn._closing(self)  # the server closed its side (an idle keep-alive timeout)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn._lost(self, exc)

    def _parse(self) -> Response | None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buf[:end]).decode("latin-1").split("\r\n")
        try:
            status = int(head[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise ConnectionError(f"bad HTTP status line: {head[0][:80]!r}") from None
        headers: dict[str, str] = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        start = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            i = start
            while True:
                eol = buf.find(b"\r\n", i)
                if eol < 0:
                    return None
                size = int(bytes(buf[i:eol]).split(b";")[0], 16)
                if len(buf) < eol + 2 + size + 2:
                    return None
                body += buf[eol + 2:eol + 2 + size]
                i = eol + 2 + size + 2
                if size == 0:
                    del buf[:i]
                    return status, headers, bytes(body)
        n = int(headers.get("content-length", "0"))
        if len(buf) < start + n:
            return None
        body_b = bytes(buf[start:start + n])
        del buf[:start + n]
        return status, headers, body_b


class Http1Connection:
    """One kept-alive, pipelined HTTP/1.1 connection to ``base_url``'s host.

    Args:
        base_url: ``http(s)://host[:port]/prefix``; request paths are appended to the prefix.
        headers: Sent with every request (API key, content type).
    """

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"invalid base_url: {base_url!r} (http(s)://host[:port]/path)")
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.tls = u.scheme == "https"
        self.prefix = u.path.rstrip("/")
        host = self.host if u.port is None else f"{self.host}:{u.port}"
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head = f"Host: {host}\r\n{extra}Connection: keep-alive\r\n".encode("latin-1")
        self._proto: _Protocol | None = None
        self.writer: Callable[[bytes], object] | None = None
        """The open connection's ``transport.write``, None when it is down or closing: the
        order path writes a request's bytes with it, then calls :meth:`expect`."""
        self._connecting: asyncio.Task[None] | None = None
        self._closed = False
        self.connects = 0

    @property
    def connected(self) -> bool:
        return self.writer is not None

    async def connect(self) -> None:
        """Opens the connection (nothing to do when it is open); reopens one closed by
        :meth:`close`."""
        if self.writer is not None:
            return
        self._closed = False
        loop = asyncio.get_running_loop()
        ctx = ssl.create_default_context() if self.tls else None
        await loop.create_connection(lambda: _Protocol(self), self.host, self.port, ssl=ctx,
                                     server_hostname=self.host if self.tls else None)

    def request_head(self, method: str, path: str) -> bytes:
        """The request line and headers of a request with a body (``Content-Length`` and the
        body follow): what the order path in Rust completes."""
        return b"%s %s%s HTTP/1.1\r\n%s" % (method.encode(), self.prefix.encode(), path.encode(), self._head)

    def send(self, method: str, path: str, body: bytes) -> asyncio.Future[Response]:
        """Writes the request now (a POST: ``body`` is its body; otherwise its query);
        returns the future of its response. Raises ``ConnectionError`` (nothing written)
        when not connected."""
        if method == "POST":
            req = self.request_head(method, path) + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        else:
            req = b"%s %s%s?%s HTTP/1.1\r\n%sContent-Length: 0\r\n\r\n" % (method.encode(), self.prefix.encode(),
                                                                          path.encode(), body, self._head)
        return self.write(req)

    def write(self, request: bytes) -> asyncio.Future[Response]:
        """Writes a whole request now; returns the future of its response. Raises
        ``ConnectionError`` (nothing written) when not connected."""
        w = self.writer
        if w is None or self._proto is None or self._proto.transport is None or self._proto.transport.is_closing():
            if self._closed:
                raise ConnectionError("connection closed")
            self._reconnect()
            raise ConnectionError("not connected (reconnecting)")
        w(request)
        return self.expect()

    def expect(self) -> asyncio.Future[Response]:
        """The future of the response to the request just written with :attr:`writer` (the
        connection's next response after those already expected)."""
        p = self._proto
        if p is None:  # lost in between: cannot happen within one turn of the loop
            raise ConnectionError("connection lost with the request written")
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        p.waiting.append(fut)
        return fut

    def _made(self, p: _Protocol) -> None:
        assert p.transport is not None
        if self._closed:  # closed while it was being opened
            p.conn = _Detached()
            p.transport.close()
            return
        old = self._proto
        if old is not None and old is not p:  # a reconnection: the old one is closing
            old.conn = _Detached()  # its own requests still get its answers, or fail with it
            if old.transport is not None and not old.transport.is_closing():
                old.transport.close()
        self._proto = p
        self.writer = p.transport.write
        self.connects += 1

    def _deliver(self, p: _Protocol, r: Response) -> None:
        if not p.waiting:
            log.warning("HTTP response without a request (status %d)", r[0])
            return
        fut = p.waiting.popleft()
        if not fut.done():
            fut.set_result(r)
        if r[1].get("connection", "").lower() == "close" and p.transport is not None:
            self._closing(p)
            p.transport.close()

    def _closing(self, p: _Protocol) -> None:
        if self._proto is p:
            self.writer = None  # nothing more is written on it

    def _lost(self, p: _Protocol, exc: Exception | None) -> None:
        if self._proto is p:
            self._proto = None
            self.writer = None
        _fail(p, exc)

    def _reconnect(self) -> None:
        if self._closed or self._connecting is not None and not self._connecting.done():
            return

        async def go() -> None:
            try:
                await self.connect()
            except OSError as e:
                log.warning("order connection to %s:%d: %s", self.host, self.port, e)

        self._connecting = asyncio.get_running_loop().create_task(go())

    async def close(self) -> None:
        """Closes the connection for good (no reconnection until :meth:`connect`); the
        requests still waiting fail."""
        self._closed = True
        task, self._connecting = self._connecting, None
        if task is not None:  # a reconnection under way: stopped (one that got through is closed by _made)
            task.cancel()
            await asyncio.wait({task})
        p = self._proto
        self._proto = None
        self.writer = None
        if p is not None and p.transport is not None:
            p.transport.close()


def _fail(p: _Protocol, exc: Exception | None) -> None:
    """Fails the requests still waiting on a lost connection (their outcome is unknown)."""
    while p.waiting:
        fut = p.waiting.popleft()
        if not fut.done():
            fut.set_exception(ConnectionError(f"connection lost with the request in flight ({exc})"))


class _Detached:
    """The owner of a connection replaced by a newer one: its responses still complete its
    own requests, its loss fails only them."""

    def _made(self, p: _Protocol) -> None:
        pass

    def _closing(self, p: _Protocol) -> None:
        pass

    def _deliver(self, p: _Protocol, r: Response) -> None:
        fut = p.waiting.popleft() if p.waiting else None
        if fut is not None and not fut.done():
            fut.set_result(r)

    def _lost(self, p: _Protocol, exc: Exception | None) -> None:
        _fail(p, exc)
