"""The live market-data path against the local exchange simulator on 127.0.0.1: the book
equals the one rebuilt from the capture, injected faults are survived, the recorder writes
what was sent. Every test is bounded in time."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvloop

import tradecore
from tradecore.live.exchange_sim import ExchangeSimulator, Faults
from tradecore.live.feed import BinanceMarketData, SymbolBook
from tradecore.live.recorder import Recorder

from live_helpers import run_to_the_end

pytestmark = pytest.mark.realdata
SIZES = {"BTCUSDT": (0.1, 0.001)}


def same_levels(a: tradecore.OrderBook, b: tradecore.OrderBook, n: int) -> bool:
    return all(np.array_equal(a.levels(s, n), b.levels(s, n)) for s in ("bid", "ask"))


def reference(capture: Path) -> tradecore.OrderBook:
    events, _ = tradecore.read_binance(capture)
    book = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
    book.apply(events)
    return book


async def session(capture: Path, faults: Faults | None = None, *, limit: int = 5000, **kw: Any) -> tuple[
        BinanceMarketData, ExchangeSimulator]:
    sim = ExchangeSimulator.from_capture(capture, tick_size=0.1, lot_size=0.001, speed=0, faults=faults,
                                         keep_sent=True)
    await sim.start()
    md = BinanceMarketData(SIZES, ws_url=sim.ws_url, rest_url=sim.rest_url, snapshot_limit=limit, **kw)
    await run_to_the_end(md, sim, 60)
    return md, sim


def run(coro: Any) -> Any:
    return uvloop.run(asyncio.wait_for(coro, 120))


@pytest.fixture(scope="module")
def short(binance_dir: Path) -> Path:
    return binance_dir / "usdm_btcusdt_20240718.gz"


@pytest.fixture(scope="module")
def short_ref(short: Path) -> tradecore.OrderBook:
    return reference(short)


def test_the_live_book_equals_the_capture_rebuilt_at_checkpoints_and_at_the_end(binance_dir: Path) -> None:
    capture = binance_dir / "usdm_btcusdt_20240808.gz"
    events, _ = tradecore.read_binance(capture)
    checkpoints: list[tuple[int, np.ndarray, np.ndarray]] = []

    due = [5_000]

    def on_frame(b: SymbolBook, frame: bytes, ts: int) -> None:
        if b.health.messages >= due[0] and b.feed.in_sync and b"@depth" in frame[:40]:
            due[0] += 5_000
            bk = b.book
            checkpoints.append((bk.last_update_id, bk.levels("bid", 50), bk.levels("ask", 50)))

    md, sim = run(session(capture, on_frame=on_frame))
    live = md.books["BTCUSDT"]
    assert live.health.messages == sim.stats.frames_sent == 93_953
    assert live.health.gaps == 0 and live.feed.in_sync
    ref = reference(capture)
    assert same_levels(live.book, ref, 100_000)  # every level
    # At each checkpoint, the book equals the capture's replayed up to that update id.
    assert len(checkpoints) >= 15
    depth = np.isin(events["kind"], (tradecore.Kind.DEPTH, tradecore.Kind.SNAPSHOT, tradecore.Kind.CLEAR))
    for uid, bids, asks in checkpoints:
        upto = int(np.nonzero(depth & (events["last_update_id"] == uid))[0].max())
        book = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
        book.apply(events[: upto + 1])
        assert np.array_equal(book.levels("bid", 50), bids) and np.array_equal(book.levels("ask", 50), asks), uid


def test_a_sequence_gap_is_detected_and_resynced(short: Path, short_ref: tradecore.OrderBook) -> None:
    md, sim = run(session(short, Faults(drop_every=300)))
    h = md.books["BTCUSDT"].health
    assert sim.stats.frames_dropped > 3
    assert h.gaps >= 1 and h.resyncs == h.gaps and h.in_sync
    assert same_levels(md.books["BTCUSDT"].book, short_ref, 200)


def test_a_disconnect_is_followed_by_a_reconnect_and_a_resync(short: Path, short_ref: tradecore.OrderBook) -> None:
    md, sim = run(session(short, Faults(disconnect_after=4_000)))
    h = md.books["BTCUSDT"].health
    assert sim.stats.disconnects == 1 and sim.stats.connections == 2
    assert h.reconnects == 1 and h.resyncs == 1 and h.in_sync
    assert same_levels(md.books["BTCUSDT"].book, short_ref, 200)


def test_429_and_418_are_backed_off_with_retry_after(short: Path, short_ref: tradecore.OrderBook) -> None:
    md, sim = run(session(short, Faults(rest_429=2, rest_418=1, retry_after_s=0.3)))
    assert md.rest_refusals == 3 and sim.stats.rest_requests == 4
    assert md.books["BTCUSDT"].health.in_sync
    assert same_levels(md.books["BTCUSDT"].book, short_ref, 200)


def test_malformed_frames_are_counted_and_the_book_recovers(short: Path, short_ref: tradecore.OrderBook) -> None:
    md, sim = run(session(short, Faults(malformed_every=2_500)))
    h = md.books["BTCUSDT"].health
    assert sim.stats.malformed_sent >= 4 and h.malformed == sim.stats.malformed_sent
    assert h.in_sync
    assert same_levels(md.books["BTCUSDT"].book, short_ref, 200)


def test_the_recorder_writes_what_the_simulator_sent(short: Path, tmp_path: Path) -> None:
    rec = Recorder(tmp_path, "usdm_btcusdt", rotate_bytes=2_000_000)
    md, sim = run(session(short, recorder=rec))
    rec.close()
    assert len(rec.files) >= 2  # rotated
    lines = b"".join(gzip.open(f).read() for f in rec.files).splitlines()
    frames = [ln.split(b" ", 1)[1] for ln in lines]
    assert [f for f in frames if not f.startswith(b'{"lastUpdateId"')] == sim.stats.sent_log
    assert sum(f.startswith(b'{"lastUpdateId"') for f in frames) == md.books["BTCUSDT"].health.snapshots == 1
    stamps = [int(ln.split(b" ", 1)[0]) for ln in lines]
    assert stamps == sorted(stamps)
    # The recording replays through the reader: with the REST snapshot it saw, the same book.
    events, report = tradecore.read_binance(rec.files)
    assert report.messages["depth"] > 1000 and report.gap_count == 0
    book = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
    book.apply(events)
    assert same_levels(book, md.books["BTCUSDT"].book, 100_000)


def test_the_runner_serves_metrics_and_records(short: Path, tmp_path: Path) -> None:
    import socket
    import urllib.request

    from tradecore.live.runner import LiveConfig, LiveRunner

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "live.toml"

    async def go() -> tuple[LiveRunner, str]:
        sim = ExchangeSimulator.from_capture(short, tick_size=0.1, lot_size=0.001, speed=0)
        await sim.start()
        cfg.write_text(f'[live]\nmarket = "usdm"\nsymbols = ["BTCUSDT"]\nws_url = "{sim.ws_url}"\n'
                       f'rest_url = "{sim.rest_url}"\nmetrics_port = {port}\nrecord = "{tmp_path / "rec"}"\n'
                       '[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\n')
        runner = LiveRunner(LiveConfig.from_toml(cfg))
        task = asyncio.ensure_future(runner.run(duration_s=30))
        await sim.wait_done(30)
        while runner.md.books["BTCUSDT"].health.messages < sim.stats.frames_sent:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.2)  # one metrics update
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(
            None, lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
        runner.stop()
        await task
        await sim.stop()
        return runner, text

    runner, text = run(go())
    assert 'tradecore_feed_messages_total{symbol="BTCUSDT"} 11413.0' in text
    assert 'tradecore_book_in_sync{symbol="BTCUSDT"} 1.0' in text
    assert "tradecore_frame_to_book_seconds_bucket" in text
    assert runner.recorder is not None and runner.recorder.frames == 11_414  # frames + the snapshot
    events, report = tradecore.read_binance(runner.recorder.files)
    assert report.gap_count == 0 and report.messages["snapshot"] == 1


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    from tradecore.errors import InvalidInput
    from tradecore.live.runner import LiveConfig

    bad = tmp_path / "bad.toml"
    bad.write_text('[live]\nsymbols = ["BTCUSDT"]\n')
    with pytest.raises(InvalidInput, match="tick_size"):
        LiveConfig.from_toml(bad)
    bad.write_text('[live]\nsymbols = ["X"]\nspeed = 3\n[symbols.X]\ntick_size = 1\nlot_size = 1\n')
    with pytest.raises(InvalidInput, match="unknown key"):
        LiveConfig.from_toml(bad)
    with pytest.raises(InvalidInput, match="no such file"):
        LiveConfig.from_toml(tmp_path / "none.toml")


def test_a_killed_recorder_loses_only_what_was_not_flushed(short: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys, time
        from tradecore.live.exchange_sim import read_frames
        from tradecore.live.recorder import Recorder
        frames, snap = read_frames(sys.argv[1])
        rec = Recorder(sys.argv[2], "crash")
        rec.write(frames[0][0], snap)
        for i, (ts, f) in enumerate(frames):
            rec.write(ts, f)
            if i % 500 == 499:
                rec.flush()          # the runner does this every second
                print(i + 1, flush=True)
        time.sleep(60)               # killed before it ends the file
    """)
    p = subprocess.Popen([sys.executable, "-c", script, str(short), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    flushed = 0
    for line in p.stdout:
        flushed = int(line)
        if flushed >= 5_000:
            break
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    p.stdout.close()
    (path,) = tmp_path.glob("crash_*.gz")
    # The file has no gzip trailer; everything up to the last flush reads back.
    with pytest.raises(tradecore.errors.DataError, match="incomplete"):
        tradecore.read_binance(path)
    events, report = tradecore.read_binance(path, lenient=True)
    assert report.lines >= flushed + 1 and report.skipped_lines == 1  # + the snapshot; the cut tail
    assert report.snapshots == 1 and report.gap_count == 0


def test_ccxt_pro_watches_the_same_book_through_the_simulator(short: Path, short_ref: tradecore.OrderBook) -> None:
    """The simulator also speaks the raw-stream protocol (``/ws`` + SUBSCRIBE) and answers
    ``exchangeInfo``: an unmodified ccxt.pro client, given its URLs, keeps the same book."""
    import ccxt.pro as ccxtpro

    async def go() -> dict[str, Any]:
        sim = ExchangeSimulator.from_capture(short, tick_size=0.1, lot_size=0.001, speed=0)
        await sim.start()
        ex = ccxtpro.binanceusdm({"enableRateLimit": False})
        ex.urls["api"]["fapiPublic"] = f"{sim.rest_url}/fapi/v1"
        ex.urls["api"]["ws"]["linear"] = f"{sim.ws_url}/ws"
        book: dict[str, Any] = {}

        async def watch() -> None:
            nonlocal book
            while True:
                book = await ex.watch_order_book("BTC/USDT:USDT", 1000)

        task = asyncio.ensure_future(watch())
        try:
            await sim.wait_done(60)
            for _ in range(300):  # until ccxt has applied the last update the simulator sent
                if book and book.get("nonce") == sim.book.last_update_id:
                    break
                await asyncio.sleep(0.1)
        finally:
            task.cancel()
            await ex.close()
            await sim.stop()
        return book

    book = run(go())
    assert np.array(book["bids"][:100]).tolist() == short_ref.levels("bid", 100).tolist()
    assert np.array(book["asks"][:100]).tolist() == short_ref.levels("ask", 100).tolist()


def test_the_ccxt_feed_mirrors_the_book_behind_the_same_interface(short: Path,
                                                                  short_ref: tradecore.OrderBook) -> None:
    from tradecore.live.ccxt_feed import CcxtMarketData

    async def go() -> CcxtMarketData:
        sim = ExchangeSimulator.from_capture(short, tick_size=0.1, lot_size=0.001, speed=0)
        await sim.start()
        md = CcxtMarketData("binanceusdm", {"BTC/USDT:USDT": (0.1, 0.001)}, depth=200,
                            config={"enableRateLimit": False})
        md.exchange.urls["api"]["fapiPublic"] = f"{sim.rest_url}/fapi/v1"
        md.exchange.urls["api"]["ws"]["linear"] = f"{sim.ws_url}/ws"
        task = asyncio.ensure_future(md.run())
        try:
            await sim.wait_done(60)
            b = md.books["BTC/USDT:USDT"]
            for _ in range(300):
                if b.book.best_bid() == short_ref.best_bid() and b.book.best_ask() == short_ref.best_ask():
                    break
                await asyncio.sleep(0.1)
        finally:
            md.stop()
            await asyncio.wait_for(task, 10)
            await sim.stop()
        return md

    md = run(go())
    b = md.books["BTC/USDT:USDT"]
    assert b.health.in_sync and b.health.messages > 10
    assert same_levels(b.book, short_ref, 200)


def test_a_strategy_runs_on_the_live_feeds_with_their_health(short: Path, tmp_path: Path) -> None:
    from tradecore.errors import InvalidInput
    from tradecore.live.runner import LiveConfig, LiveRunner
    from tradecore.strategy import Strategy

    class Watcher(Strategy):
        books = 0
        trades = 0
        timers = 0
        spreads: list[float] = []

        def on_start(self) -> None:
            self.spreads = []
            self.ctx.set_timer("200ms")

        def on_book(self, book: Any) -> None:
            self.books += 1
            assert book.in_sync
            s = book.spread()
            if s is not None:
                self.spreads.append(s)

        def on_trade(self, trade: Any) -> None:
            self.trades += 1
            assert trade.price > 0 and trade.side in (-1, 1)

        def on_timer(self, ts: int) -> None:
            self.timers += 1
            self.health = self.ctx.feed_health()
            with pytest.raises(InvalidInput, match="watch"):
                self.ctx.buy(0.001, 1.0)

    strategy = Watcher()
    events, _ = tradecore.read_binance(short)
    n_trades = int((events["kind"] == int(tradecore.Kind.TRADE)).sum())

    async def go() -> LiveRunner:
        sim = ExchangeSimulator.from_capture(short, tick_size=0.1, lot_size=0.001, speed=40)
        await sim.start()
        cfg = tmp_path / "live.toml"
        cfg.write_text(f'[live]\nsymbols = ["BTCUSDT"]\nws_url = "{sim.ws_url}"\nrest_url = "{sim.rest_url}"\n'
                       '[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\n[trading]\nmode = "watch"\n')
        runner = LiveRunner(LiveConfig.from_toml(cfg), strategy=strategy)
        task = asyncio.ensure_future(runner.run(duration_s=60))
        await sim.wait_done(60)
        while runner.md.books["BTCUSDT"].health.messages < sim.stats.frames_sent:
            await asyncio.sleep(0.1)
        runner.stop()
        await task
        await sim.stop()
        return runner

    runner = run(go())
    assert strategy.books > 500 and strategy.timers >= 5
    assert 0 < strategy.trades <= n_trades  # none before the book is in sync
    assert min(strategy.spreads) > 0
    assert strategy.health.messages > 0 and strategy.health.gaps == 0
    assert runner.host is not None and runner.host.calls == strategy.books + strategy.trades


def test_a_strategy_runs_on_the_ccxt_feed_through_the_runner(short: Path, tmp_path: Path) -> None:
    """``[live] ccxt = ...``: the same Strategy woken by ccxt.pro's books and trades."""
    from tradecore.live.runner import LiveConfig, LiveRunner
    from tradecore.strategy import Strategy

    class Watcher(Strategy):
        books = 0
        trades: list[Any] = []

        def on_start(self) -> None:
            self.trades = []

        def on_book(self, book: Any) -> None:
            self.books += 1
            self.best = (book.best_bid(), book.best_ask())

        def on_trade(self, trade: Any) -> None:
            self.trades.append(trade)

    strategy = Watcher()
    events, _ = tradecore.read_binance(short)
    trades = events[events["kind"] == int(tradecore.Kind.TRADE)]

    async def go() -> LiveRunner:
        sim = ExchangeSimulator.from_capture(short, tick_size=0.1, lot_size=0.001, speed=0)
        await sim.start()
        cfg = tmp_path / "live.toml"
        cfg.write_text(f'[live]\nccxt = "binanceusdm"\nsymbols = ["BTC/USDT:USDT"]\n'
                       '[symbols."BTC/USDT:USDT"]\ntick_size = 0.1\nlot_size = 0.001\n'
                       '[trading]\nmode = "watch"\n'
                       f'[ccxt]\nenableRateLimit = false\n'
                       f'[ccxt.urls.api]\nfapiPublic = "{sim.rest_url}/fapi/v1"\n'
                       f'[ccxt.urls.api.ws]\nlinear = "{sim.ws_url}/ws"\n')
        runner = LiveRunner(LiveConfig.from_toml(cfg), strategy=strategy)
        task = asyncio.ensure_future(runner.run(duration_s=60))
        await sim.wait_done(60)
        for _ in range(300):
            if strategy.trades and strategy.trades[-1].trade_id == int(trades["trade_id"][-1]):
                break
            await asyncio.sleep(0.1)
        runner.stop()
        await task
        await sim.stop()
        return runner

    run(go())
    assert strategy.books > 10
    got = strategy.trades
    assert got, "no trade reached the strategy"
    # every trade after the book came in sync, in order, with the capture's price, size and side
    first = int(np.searchsorted(trades["trade_id"], got[0].trade_id))
    ref = trades[first:first + len(got)]
    assert [t.trade_id for t in got] == ref["trade_id"].tolist()
    assert np.allclose([t.price for t in got], ref["price"] / 1e9)
    assert np.allclose([t.qty for t in got], ref["qty"] / 1e9)
    assert [t.side for t in got] == ref["side"].tolist()
