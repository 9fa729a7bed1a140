"""The order path's pipelined HTTP/1.1 connection (``tradecore.live.http1``) against a small
HTTP server on loopback: responses complete requests in order, a lost connection fails the
requests in flight (never resends them) and stops writes at once, and a replaced connection's
late loss touches only its own requests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from tradecore.live.http1 import Http1Connection, Response, _Detached, _Protocol


class Server:
    """Answers each request with its path and a running number; ``close_after`` requests then
    drops the connection, ``hold`` keeps the answers until it is set."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.close_after: int | None = None
        self.connection_close_at: int | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.writers.append(w)
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                if n:
                    await r.readexactly(n)
                self.requests.append(head.split(b" ")[1])
                k = len(self.requests)
                if self.close_after is not None and k > self.close_after:
                    w.close()
                    return
                await self.hold.wait()
                body = b"%s #%d" % (head.split(b" ")[1], k)
                extra = b"Connection: close\r\n" if k == self.connection_close_at else b""
                w.write(b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (extra, len(body), body))
                if extra:
                    w.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass


async def reconnected(conn: Http1Connection) -> None:
    for _ in range(500):
        if conn.connected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not reconnected in 5 s")


def run(test: Callable[[Server, Http1Connection], Awaitable[None]]) -> None:
    async def go() -> None:
        srv = Server()
        server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = Http1Connection(f"http://127.0.0.1:{port}/api", {"X-Key": "k"})
        await conn.connect()
        try:
            await asyncio.wait_for(test(srv, conn), 10)
        finally:
            await conn.close()
            for w in srv.writers:
                w.close()
            server.close()
            await server.wait_closed()

    uvloop.run(go())


def test_pipelined_requests_are_answered_in_order() -> None:
    async def t(srv: Server, conn: Http1Connection) -> None:
        assert conn.connected and conn.writer is not None
        srv.hold.clear()
        futs = [conn.send("GET", f"/q{i}", b"a=1") for i in range(5)]
        # the order path: the bytes through ``writer``, then ``expect``
        conn.writer(conn.request_head("POST", "/order") + b"Content-Length: 3\r\n\r\nx=1")
        futs.append(conn.expect())
        srv.hold.set()
        answers = await asyncio.gather(*futs)
        assert [a[0] for a in answers] == [200] * 6
        assert [a[2] for a in answers] == [b"/api/q%d?a=1 #%d" % (i, i + 1) for i in range(5)] + [b"/api/order #6"]

    run(t)


def test_a_lost_connection_fails_the_requests_in_flight_and_writes_stop() -> None:
    async def t(srv: Server, conn: Http1Connection) -> None:
        srv.close_after = 1
        first = await conn.send("GET", "/a", b"x=1")
        assert first[2] == b"/api/a?x=1 #1"
        lost = conn.send("GET", "/b", b"x=1")  # the server drops the connection on it
        with pytest.raises(ConnectionError, match="in flight"):
            await lost
        assert not conn.connected and conn.writer is None
        with pytest.raises(ConnectionError, match="not connected"):  # nothing written, a reconnect started
            conn.send("GET", "/c", b"x=1")
        srv.close_after = None
        await reconnected(conn)
        assert conn.connects == 2
        assert (await conn.send("GET", "/d", b"x=1"))[2] == b"/api/d?x=1 #3"
        assert srv.requests == [b"/api/a?x=1", b"/api/b?x=1", b"/api/d?x=1"]  # /c never sent, /b never resent

    run(t)


def test_connection_close_stops_writes_at_once() -> None:
    async def t(srv: Server, conn: Http1Connection) -> None:
        srv.connection_close_at = 1
        assert (await conn.send("GET", "/a", b"x=1"))[2] == b"/api/a?x=1 #1"
        assert conn.writer is None  # nothing more is written on a closing connection
        with pytest.raises(ConnectionError):
            conn.send("GET", "/b", b"x=1")
        await reconnected(conn)  # the send started a reconnection
        assert (await conn.send("GET", "/c", b"x=1"))[2] == b"/api/c?x=1 #2"

    run(t)


def test_a_replaced_connection_fails_only_its_own_requests() -> None:
    async def t(srv: Server, conn: Http1Connection) -> None:
        srv.hold.clear()
        old = conn._proto
        assert old is not None
        in_flight_old = conn.send("GET", "/old", b"x=1")
        await conn.connect()  # open: nothing to do
        assert conn._proto is old and conn.connects == 1
        conn._closing(old)  # as on the server's EOF: nothing more is written on it
        assert not conn.connected
        await conn.connect()  # the replacement, with the old one's request still in flight
        assert conn._proto is not old and conn.connects == 2
        in_flight_new = conn.send("GET", "/new", b"x=1")
        with pytest.raises(ConnectionError, match="in flight"):  # the old one is closed: unknown outcome
            await in_flight_old
        srv.hold.set()
        assert (await in_flight_new)[2].startswith(b"/api/new?x=1")
        assert conn.connected

    run(t)


def test_a_replaced_connections_late_answers_complete_its_own_requests() -> None:
    async def t() -> None:
        conn = Http1Connection("http://127.0.0.1:1/api", {})
        p = _Protocol(_Detached())
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        p.waiting.append(fut)
        p.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        assert fut.result() == (200, {"content-length": "2"}, b"ok")
        assert conn._proto is None and not conn.connected  # the connection never saw it

    uvloop.run(t())


def test_close_is_final_until_connect() -> None:
    async def t(srv: Server, conn: Http1Connection) -> None:
        srv.close_after = 0
        lost = conn.send("GET", "/a", b"x=1")  # the server drops the connection: a reconnection starts
        with pytest.raises(ConnectionError):
            await lost
        with pytest.raises(ConnectionError, match="reconnecting"):
            conn.send("GET", "/b", b"x=1")
        await conn.close()  # stops the reconnection under way
        with pytest.raises(ConnectionError, match="closed"):
            conn.send("GET", "/c", b"x=1")
        await asyncio.sleep(0.05)
        assert not conn.connected and conn.connects == 1
        srv.close_after = None
        await conn.connect()  # reopened on purpose
        assert (await conn.send("GET", "/d", b"x=1"))[2].startswith(b"/api/d?x=1")

    run(t)


def test_the_servers_eof_stops_writes_at_once() -> None:
    async def t(srv: Server, conn: Http1Connection) -> None:
        assert conn._proto is not None
        conn._proto.eof_received()  # the server closed its side (an idle keep-alive timeout)
        assert conn.writer is None  # the order path's write is refused, not silently dropped
        with pytest.raises(ConnectionError):
            conn.send("GET", "/a", b"x=1")

    run(t)
