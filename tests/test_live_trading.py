"""Live trading against the local exchange simulator on 127.0.0.1: paper trading fills like the
backtest, the kill switch. Every test is bounded in time."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvloop

import tradecore
from tradecore.backtest import BacktestResult, load_strategy, run_backtest
from tradecore.live.exchange_sim import ExchangeSimulator
from tradecore.live.feed import BinanceMarketData
from tradecore.live.paper import PaperTrader
from tradecore.live.session import lock_is_held, read_lock
from tradecore.strategy import Strategy

from live_helpers import run_to_the_end, sim_process

REPO = Path(__file__).resolve().parents[1]
SIZES = {"BTCUSDT": (0.1, 0.001)}
BTC = tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001", maker_fee="-0.0001", taker_fee="0.0004")


CLI = [sys.executable, "-m", "tradecore"]


@contextlib.contextmanager
def capture_sim(capture: Path, speed: float) -> Iterator[str]:
    """``tradecore exchange-sim`` on the capture in its own process; yields its host:port."""
    with sim_process("--data", str(capture), "--speed", str(speed), "--tick-size", "0.1",
                     "--lot-size", "0.001") as (host, _):
        yield host


def run(coro: Any) -> Any:
    return uvloop.run(asyncio.wait_for(coro, 120))


def late_maker(start_ns: int, **params: Any) -> Strategy:
    """The example market maker, quoting only from ``start_ns`` (exchange time) on: by then the
    live book is in sync, so from there both runs see the same books."""
    base = type(load_strategy(str(REPO / "examples/market_maker.py:MarketMaker")))

    class LateMaker(base):  # type: ignore[valid-type, misc]
        def on_book(self, book: Any) -> None:
            if self.ctx.now >= start_ns:
                super().on_book(book)

    return LateMaker(**params)


async def paper_session(capture: Path, strategy: Strategy, *, speed: float, halt_after: int = 0,
                        **kw: Any) -> tuple[BacktestResult, PaperTrader, list[int]]:
    sim = ExchangeSimulator.from_capture(capture, tick_size=0.1, lot_size=0.001, speed=speed)
    await sim.start()
    md = BinanceMarketData(SIZES, ws_url=sim.ws_url, rest_url=sim.rest_url)
    paper = PaperTrader(strategy, md, instruments=[BTC], **kw)
    halted: list[int] = []
    if halt_after:
        frame = md.on_frame

        def on_frame(b: Any, raw: bytes, ts: int) -> None:
            assert frame is not None
            frame(b, raw, ts)
            if paper.messages == halt_after:
                halted.extend(paper.halt("test kill switch"))

        md.on_frame = on_frame
    paper.start()
    await run_to_the_end(md, sim, 100)
    assert paper.error is None
    return paper.finish(), paper, halted


@pytest.mark.realdata
def test_paper_trading_fills_as_the_backtest_of_the_same_capture(binance_dir: Path) -> None:
    capture = binance_dir / "usdm_btcusdt_20240718.gz"
    events, _ = tradecore.read_binance(capture)
    start = int(events["exch_ts"][0]) + 40 * 1_000_000_000
    params = {"size": 0.002, "max_position": 0.01}
    bt = run_backtest(late_maker(start, **params), capture, instrument=BTC, latency="5ms", feed_latency="1ms")
    paper, trader, _ = run(paper_session(capture, late_maker(start, **params), speed=10, latency="5ms",
                                         feed_latency="1ms"))
    assert trader.md.books["BTCUSDT"].health.gaps == 0
    assert len(bt.fills) >= 8, "the strategy must trade for the comparison to mean something"
    # The same orders and fills, at the same times, prices and quantities: the paper exchange is
    # the backtest's simulator, fed the same messages (the live feed's start before `start` differs).
    cols = ["exch_ts", "local_ts", "client_id", "side", "maker", "price", "qty", "fee"]
    for c in cols:
        np.testing.assert_array_equal(paper.fills[c], bt.fills[c], err_msg=c)
    for c in ("client_id", "side", "price", "qty", "filled", "status", "sent_ts", "done_ts"):
        np.testing.assert_array_equal(paper.orders[c], bt.orders[c], err_msg=c)
    assert paper.stats["n_fills"] == bt.stats["n_fills"]
    assert abs(paper.stats["pnl"] - bt.stats["pnl"]) < 1e-6


@pytest.mark.realdata
def test_the_paper_kill_switch_cancels_everything_and_refuses_new_orders(binance_dir: Path) -> None:
    capture = binance_dir / "usdm_btcusdt_20240718.gz"
    events, _ = tradecore.read_binance(capture)
    start = int(events["exch_ts"][0])
    res, trader, halted = run(paper_session(capture, late_maker(start), speed=0, halt_after=3000,
                                            latency="5ms"))
    assert halted, "orders were open when the switch was thrown"
    assert trader.bt.trading_state == "halted"
    orders = res.orders
    by_id = {int(o["client_id"]): o for o in orders}
    # every order open at the switch ended cancelled or filled, none is still open
    assert all(by_id[i]["status"] in (1, 2) for i in halted)
    assert not (orders["status"] == 0).any()
    # after the switch, the strategy's orders are refused by the risk engine, never sent
    later = orders[orders["client_id"] > max(halted)]
    assert len(later) > 0 and (later["status"] == 4).all()


@pytest.mark.realdata
def test_the_live_runner_paper_trades_and_tradecore_kill_halts_it(binance_dir: Path, tmp_path: Path) -> None:
    """``tradecore live --strategy`` paper-trades by default; ``tradecore kill`` throws the kill
    switch; SIGTERM ends the session gracefully with its report."""
    capture = binance_dir / "usdm_btcusdt_20240718.gz"
    cli = CLI
    with capture_sim(capture, 4) as url:
        cfg = tmp_path / "live.toml"
        cfg.write_text(f'[live]\nsymbols = ["BTCUSDT"]\nws_url = "ws://{url}"\nrest_url = "http://{url}"\n'
                       '[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\nmaker_fee = -0.0001\n'
                       'taker_fee = 0.0004\n[trading]\nlatency = "5ms"\nstate_dir = "st"\n'
                       '[risk]\nmax_position = 0.01\nmax_order_qty = 0.005\n')
        report = tmp_path / "paper.html"
        runner = subprocess.Popen([*cli, "live", "--config", str(cfg), "--strategy",
                                   str(REPO / "examples/market_maker.py:MarketMaker"), "--duration", "90",
                                   "--report", str(report)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        try:
            lockfile = tmp_path / "st" / "runner.lock"
            deadline = time.monotonic() + 30
            while read_lock(lockfile) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            info = read_lock(lockfile)
            assert info is not None and info.pid == runner.pid and lock_is_held(lockfile)
            time.sleep(8)  # trading on paper
            k = subprocess.run([*cli, "kill", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
            assert k.returncode == 0, k.stderr
            time.sleep(2)
            runner.send_signal(signal.SIGTERM)
            out, _ = runner.communicate(timeout=60)
        finally:
            if runner.poll() is None:
                runner.kill()
        assert runner.returncode == 0, out
        assert "paper trading halted (SIGUSR1)" in out
        m = re.search(r"paper trading: ([\d,]+) orders, ([\d,]+) fills, final state (\w+)", out)
        assert m, out
        assert int(m.group(1).replace(",", "")) > 0 and m.group(3) == "halted"
        assert report.stat().st_size > 0
        assert not lock_is_held(lockfile)  # given back (the file stays, stale)
        # with no runner, `tradecore kill` says so
        k = subprocess.run([*cli, "kill", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
        assert k.returncode == 2 and f"no runner of {cfg} is running (stale lock file of pid {runner.pid})" in k.stderr


def _toml(d: dict[str, Any], prefix: str = "") -> str:
    """A nested dict as TOML tables (strings, numbers and booleans)."""
    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return f'"{v}"' if isinstance(v, str) else repr(v)

    out = [f"[{prefix}]"] if prefix else []
    out += [f'"{k}" = {val(v)}' for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            out.append(_toml(v, f'{prefix}."{k}"' if prefix else f'"{k}"'))
    return "\n".join(out) + "\n"


def real_config(path: Path, rest: str, ws: str, gateway: dict[str, Any], *, native: bool, extra: str = "") -> Path:
    path.write_text(f'[live]\nsymbols = ["BTCUSDT"]\nws_url = "{ws}"\nrest_url = "{rest}"\n'
                    '[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\nmaker_fee = 0.0002\ntaker_fee = 0.0005\n'
                    f'[trading]\nmode = "real"\nnative = {"true" if native else "false"}\nstate_dir = "st"\n'
                    f'poll_s = 0.5\n{extra}'
                    '[risk]\nmax_position = 0.01\nmax_order_qty = 0.005\nprice_band_bps = 50\n'
                    + _toml(gateway, "gateway"))
    path.chmod(0o600)  # it holds the (test) keys
    return path


async def venue_state(rest: str, gateway: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float]:
    """The simulator's account as ccxt sees it: every order, every fill, the position."""
    import ccxt.async_support as ccxt_async

    ex = ccxt_async.binanceusdm(gateway)
    try:
        await ex.load_markets()
        orders = await ex.fetch_orders("BTC/USDT:USDT", limit=1000)
        trades = await ex.fetch_my_trades("BTC/USDT:USDT", limit=1000)
        pos = await ex.fetch_positions(["BTC/USDT:USDT"])
        qty = sum((-1 if p["side"] == "short" else 1) * float(p["contracts"] or 0) for p in pos)
    finally:
        await ex.close()
    return orders, trades, qty


def _journal_rows(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        orders = con.execute("SELECT client_id, status, venue_order_id FROM orders ORDER BY client_id").fetchall()
        fills = con.execute("SELECT trade_id, client_id, side, qty FROM fills").fetchall()
    finally:
        con.close()
    return orders, fills


@pytest.mark.realdata
@pytest.mark.parametrize("native", [False, True], ids=["ccxt", "native"])
def test_a_runner_killed_mid_trading_restarts_without_losing_a_fill_or_sending_an_order_twice(
        binance_dir: Path, tmp_path: Path, native: bool) -> None:
    """Real trading against the simulator (ccxt's create_order, or tradecore's own encoder):
    kill -9 the runner while it trades, let the market move (resting orders fill while it is
    down), restart it: reconciliation books the missed fills, nothing is resent, and the
    journal's fills and position equal the exchange's."""
    capture = binance_dir / "usdm_btcusdt_20240719.gz"
    cli = CLI
    with capture_sim(capture, 6) as host:
        rest, ws = f"http://{host}", f"ws://{host}"
        gateway = {"apiKey": "test-key", "secret": "test-secret", "enableRateLimit": False,
                   "options": {"fetchCurrencies": False},
                   "urls": {"api": {**{f"fapiPublic{v}": f"{rest}/fapi/{v.lower() or 'v1'}" for v in ("", "V2", "V3")},
                                    **{f"fapiPrivate{v}": f"{rest}/fapi/{v.lower() or 'v1'}" for v in ("", "V2", "V3")},
                                    "ws": {"linear": f"{ws}/ws"}}}}
        cfg = real_config(tmp_path / "live.toml", rest, ws, gateway, native=native)
        cmd = [*cli, "live", "--config", str(cfg), "--strategy", str(REPO / "examples/market_maker.py:MarketMaker"),
               "--param", "size=0.002", "--param", "max_position=0.006", "--duration", "120"]
        db = tmp_path / "st" / "journal.sqlite"

        def start() -> subprocess.Popen[str]:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        first = start()
        deadline = time.monotonic() + 60
        fills_before = 0
        while time.monotonic() < deadline:  # trade until some fills are in the journal
            time.sleep(0.5)
            if db.exists():
                try:
                    fills_before = len(_journal_rows(db)[1])
                except Exception:  # the runner may hold a write lock for a moment
                    continue
                if fills_before >= 3:
                    break
        first.kill()  # kill -9: no cleanup, orders left resting at the exchange
        out1, _ = first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL, out1
        assert fills_before >= 3, out1
        time.sleep(4)  # the market moves on without us
        second = start()
        time.sleep(8)
        second.send_signal(signal.SIGTERM)  # graceful: open orders cancelled, journal closed
        out2, _ = second.communicate(timeout=60)
        assert second.returncode == 0, out2
        assert "Traceback" not in out2, out2
        orders, trades, venue_qty = run(venue_state(rest, gateway))
    j_orders, j_fills = _journal_rows(db)
    import sqlite3

    con = sqlite3.connect(db)
    try:  # the restart reconciled with the exchange first (each difference is in the journal)
        assert con.execute("SELECT COUNT(*) FROM events WHERE kind = 'reconcile'").fetchone()[0] == 2, out2
    finally:
        con.close()
    # no fill lost, none booked twice: the journal has exactly the exchange's trades
    assert sorted(f[0] for f in j_fills) == sorted(str(t["id"]) for t in trades)
    # the position equals the exchange's
    assert sum(f[2] * f[3] for f in j_fills) == pytest.approx(venue_qty, abs=1e-9)
    # no order sent twice: each client order id reached the exchange at most once, and every
    # order the exchange has is one of the journal's
    coids = [o["clientOrderId"] for o in orders]
    assert len(coids) == len(set(coids))
    assert {int(c.rsplit(".", 1)[1]) for c in coids} <= {o[0] for o in j_orders}
    sessions = {c[2:].rsplit(".", 1)[0] for c in coids}
    assert len(sessions) == 2 and all(len(c) <= 36 for c in coids)  # the killed run's and the restart's
    # after the graceful stop nothing is open, at the exchange or in the journal
    assert not [o for o in orders if o["status"] == "open"]
    assert not [o for o in j_orders if o[1] in ("pending", "unknown", "open")]


def test_a_config_holding_secrets_must_be_private(tmp_path: Path) -> None:
    from tradecore.errors import InvalidInput
    from tradecore.live.runner import LiveConfig

    cfg = tmp_path / "live.toml"
    cfg.write_text('[live]\nsymbols = ["BTCUSDT"]\n[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\n'
                   '[trading]\nmode = "real"\n[gateway]\napiKey = "k"\nsecret = "s"\n')
    cfg.chmod(0o644)
    with pytest.raises(InvalidInput, match="chmod 600"):
        LiveConfig.from_toml(cfg)
    cfg.chmod(0o600)
    assert LiveConfig.from_toml(cfg).trading.mode == "real"
    cfg.write_text('[live]\nsymbols = ["BTCUSDT"]\n[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\n'
                   '[trading]\nmode = "live"\n')
    with pytest.raises(InvalidInput, match='mode = "live": must be one of'):
        LiveConfig.from_toml(cfg)


def _sim_gateway(rest: str, ws: str) -> dict[str, Any]:
    return {"apiKey": "test-key", "secret": "test-secret", "enableRateLimit": False,
            "options": {"fetchCurrencies": False},
            "urls": {"api": {**{f"fapiPublic{v}": f"{rest}/fapi/{v.lower() or 'v1'}" for v in ("", "V2", "V3")},
                             **{f"fapiPrivate{v}": f"{rest}/fapi/{v.lower() or 'v1'}" for v in ("", "V2", "V3")},
                             "ws": {"linear": f"{ws}/ws"}}}}


def _journal_until(db: Path, fills: int, proc: subprocess.Popen[str], timeout: float) -> int:
    """Waits until the runner's journal has ``fills`` fills; returns how many it has."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if db.exists():
            try:
                n = len(_journal_rows(db)[1])
            except Exception:  # the runner may hold a write lock for a moment
                continue
            if n >= fills:
                break
    return n


@pytest.mark.realdata
@pytest.mark.parametrize("native", [False, True], ids=["ccxt", "native"])
def test_a_fresh_state_dir_never_adopts_another_sessions_orders_or_fills(binance_dir: Path, tmp_path: Path,
                                                                       native: bool) -> None:
    """A session trades and is killed (-9: its orders stay resting and fill later); a second
    runner with a new, empty state dir trades on the same account. Its client order ids are its
    own session's, so it never hits the first's (no -4116), and it books none of the first's
    orders or fills (before the fix it restarted at ``tc1``, got -4116, and adopted them)."""
    capture = binance_dir / "usdm_btcusdt_20240719.gz"
    with capture_sim(capture, 6) as host:
        rest, ws = f"http://{host}", f"ws://{host}"
        gateway = _sim_gateway(rest, ws)
        dbs, outs = [], []
        for name, fills in (("a", 3), ("b", 2)):
            (tmp_path / name).mkdir()
            cfg = real_config(tmp_path / name / "live.toml", rest, ws, gateway, native=native)
            db = tmp_path / name / "st" / "journal.sqlite"
            p = subprocess.Popen([*CLI, "live", "--config", str(cfg), "--strategy",
                                  str(REPO / "examples/market_maker.py:MarketMaker"), "--param", "size=0.002",
                                  "--param", "max_position=0.006", "--duration", "120"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            n = _journal_until(db, fills, p, 60)
            if name == "a":
                p.kill()  # no cleanup: its orders rest at the exchange
            else:
                time.sleep(3)
                p.send_signal(signal.SIGTERM)
            out, _ = p.communicate(timeout=60)
            assert n >= fills, out
            dbs.append(db)
            outs.append(out)
        orders, trades, _ = run(venue_state(rest, gateway))
    assert "Traceback" not in outs[1] and "-4116" not in outs[1], outs[1]
    (a_orders, a_fills), (b_orders, b_fills) = _journal_rows(dbs[0]), _journal_rows(dbs[1])
    a_venue = {o[2] for o in a_orders if o[2]}
    b_venue = {o[2] for o in b_orders if o[2]}
    assert a_venue and b_venue and not a_venue & b_venue, "the second session holds an order of the first"
    assert not {f[0] for f in a_fills} & {f[0] for f in b_fills}, "the second session booked a fill of the first"
    # every fill the second booked is a trade of one of its own orders at the exchange
    by_order = {str(t["id"]): str(t["order"]) for t in trades}
    assert all(by_order[f[0]] in b_venue for f in b_fills)
    # the exchange's client order ids are unique and each run's are its own session's
    coids = {str(o["id"]): o["clientOrderId"] for o in orders}
    assert len(set(coids.values())) == len(coids)
    a_sessions = {coids[v][2:].split(".")[0] for v in a_venue}
    b_sessions = {coids[v][2:].split(".")[0] for v in b_venue}
    assert len(a_sessions) == len(b_sessions) == 1 and a_sessions != b_sessions
    assert not [o for o in b_orders if o[1] == "rejected"], b_orders


@pytest.mark.realdata
def test_late_and_unknown_order_answers_never_move_a_status_back(binance_dir: Path, tmp_path: Path) -> None:
    """The simulator answers every order 400 ms late and every 3rd new order with -1007
    (executed): fills reach the runner on the user stream before the answers. After a graceful
    stop every order the journal has is in the exchange's final state (filled orders filled,
    never cancelled), nothing is left open."""
    import sqlite3

    capture = binance_dir / "usdm_btcusdt_20240719.gz"
    with sim_process("--data", str(capture), "--speed", "6", "--tick-size", "0.1", "--lot-size", "0.001",
                     "--order-delay-ms", "400", "--order-unknown-every", "3") as (host, _):
        rest, ws = f"http://{host}", f"ws://{host}"
        gateway = _sim_gateway(rest, ws)
        cfg = real_config(tmp_path / "live.toml", rest, ws, gateway, native=False)
        db = tmp_path / "st" / "journal.sqlite"
        p = subprocess.Popen([*CLI, "live", "--config", str(cfg), "--strategy",
                              str(REPO / "examples/market_maker.py:MarketMaker"), "--param", "size=0.002",
                              "--param", "max_position=0.006", "--duration", "120"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        n = _journal_until(db, 3, p, 60)
        time.sleep(2)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0 and n >= 3, out
        orders, _, _ = run(venue_state(rest, gateway))
    assert "Traceback" not in out, out
    status = {"closed": "filled", "canceled": "cancelled", "expired": "cancelled", "rejected": "rejected",
              "open": "open"}
    venue = {str(o["id"]): status[o["status"]] for o in orders}
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT client_id, status, venue_order_id FROM orders").fetchall()
        unknowns = con.execute("SELECT COUNT(*) FROM events WHERE kind = 'unknown'").fetchone()[0]
        events = con.execute("SELECT client_id, kind FROM events WHERE client_id IS NOT NULL ORDER BY seq").fetchall()
    finally:
        con.close()
    assert unknowns > 0 or "status_ignored" in {k for _, k in events}, "the faults were exercised"
    assert not [r for r in rows if r[1] in ("pending", "unknown", "open")], rows
    for cid, st, vid in rows:
        if vid:
            assert venue[vid] == st, (cid, st, venue[vid])
    # no order went back from a final status
    final: dict[int, str] = {}
    for cid, kind in events:
        if cid in final and kind in ("pending", "unknown", "open"):
            raise AssertionError(f"order {cid}: {kind} after {final[cid]}")
        if kind in ("filled", "cancelled", "rejected"):
            final[cid] = kind
    assert "cancel of" not in out or "-2011" not in out, out


def test_the_paper_account_comes_from_the_trading_table(tmp_path: Path) -> None:
    from tradecore.errors import InvalidInput
    from tradecore.live.runner import LiveConfig, LiveRunner
    from tradecore.strategy import Strategy

    base = ('[live]\nsymbols = ["BTCUSDT"]\n[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\n'
            '[trading]\nmode = "paper"\nstate_dir = "st"\n')
    cfg = tmp_path / "live.toml"
    cfg.write_text(base + "leverage = 5\ninitial_capital = 2000\n")
    runner = LiveRunner(LiveConfig.from_toml(cfg), strategy=Strategy())
    assert runner.paper is not None
    a = runner.paper.bt.account()
    assert a.kind == "margin" and a.leverage == [5.0] and a.balances["USDT"] == (2000.0, 0.0)
    runner.lock_release()
    cfg.write_text(base + "leverage = 0\n")
    with pytest.raises(InvalidInput, match=r"live.toml:9: \[trading\] leverage = 0: must be > 0$"):
        LiveRunner(LiveConfig.from_toml(cfg), strategy=Strategy())
    cfg.write_text(base + 'account = "isolated"\n')
    with pytest.raises(InvalidInput, match=r'\[trading\] account = "isolated": must be one of auto, cash'):
        LiveRunner(LiveConfig.from_toml(cfg), strategy=Strategy())
