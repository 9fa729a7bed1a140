"""A pipelined HTTP/1.1 client on one kept-alive connection, for the order path.

``send`` writes the request's bytes to the socket before it returns (no event-loop turn
between the strategy's decision and the wire) and gives a future of the response; responses
come back in request order (HTTP/1.1), so each completes the oldest waiting future. A request
whose future times out is not resent; its late response still consumes its slot. When the
connection drops, every request still waiting fails with ``ConnectionError`` (its outcome is
unknown: it may have been carried out). A ``send`` while disconnected raises
``ConnectionError`` at once (nothing was written) and starts a reconnection in the background.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from typing import cast
from urllib.parse import urlsplit

log = logging.getLogger("tradecore.live.http1")

Response = tuple[int, dict[str, str], bytes]


class _Protocol(asyncio.Protocol):
    def __init__(self, conn: Http1Connection) -> None:
        self.conn = conn
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, but is one

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            r = self._parse()
            if r is None:
                return
            self.conn._deliver(r)

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn._lost(exc)

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
        self._waiting: deque[asyncio.Future[Response]] = deque()
        self._connecting: asyncio.Task[None] | None = None
        self.connects = 0

    @property
    def connected(self) -> bool:
        return self._proto is not None and self._proto.transport is not None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        ctx = ssl.create_default_context() if self.tls else None
        _, proto = await loop.create_connection(lambda: _Protocol(self), self.host, self.port, ssl=ctx,
                                                server_hostname=self.host if self.tls else None)
        self._proto = proto
        self.connects += 1

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
        p = self._proto
        if p is None or p.transport is None or p.transport.is_closing():
            self._reconnect()
            raise ConnectionError("not connected (reconnecting)")
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting.append(fut)
        p.transport.write(request)
        return fut

    def _deliver(self, r: Response) -> None:
        if not self._waiting:
            log.warning("HTTP response without a request (status %d)", r[0])
            return
        fut = self._waiting.popleft()
        if not fut.done():
            fut.set_result(r)
        if r[1].get("connection", "").lower() == "close" and self._proto is not None and self._proto.transport:
            self._proto.transport.close()

    def _lost(self, exc: Exception | None) -> None:
        self._proto = None
        while self._waiting:
            fut = self._waiting.popleft()
            if not fut.done():
                fut.set_exception(ConnectionError(f"connection lost with the request in flight ({exc})"))

    def _reconnect(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            return

        async def go() -> None:
            try:
                await self.connect()
            except OSError as e:
                log.warning("order connection to %s:%d: %s", self.host, self.port, e)

        self._connecting = asyncio.get_running_loop().create_task(go())

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()
        self._proto = None
