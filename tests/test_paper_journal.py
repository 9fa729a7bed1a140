"""Paper trading journaled like real trading: the journal equals the session's tables, a
session killed with -9 continues from its journal, a report is rebuilt from a journal."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tradecore
from tradecore.backtest import BacktestResult
from tradecore.live.journal import Journal
from tradecore.live.journal_report import rebuild

from test_live_trading import BTC, CLI, REPO, capture_sim, late_maker, paper_session, run

STATUS = {0: "open", 1: "filled", 2: "cancelled", 3: "rejected", 4: "refused", 5: "pending", 7: "open"}


def _session(tmp_path: Path, binance_dir: Path) -> tuple[BacktestResult, Path]:
    capture = binance_dir / "usdm_btcusdt_20240718.gz"
    events, _ = tradecore.read_binance(capture)
    start = int(events["exch_ts"][0]) + 20 * 1_000_000_000
    db = tmp_path / "st" / "journal.sqlite"
    journal = Journal(db)
    res, trader, _ = run(paper_session(capture, late_maker(start, size=0.002, max_position=0.01), speed=0,
                                       latency="5ms", feed_latency="1ms", journal=journal, risk=tradecore.RiskLimits(
                                           max_position=0.004)))
    journal.close()
    assert trader.session in res.params["session"]  # type: ignore[operator]
    return res, db


def _rows(db: Path, q: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(q).fetchall()
    finally:
        con.close()


@pytest.mark.realdata
def test_a_paper_session_journals_every_order_and_fill_as_its_tables(binance_dir: Path, tmp_path: Path) -> None:
    res, db = _session(tmp_path, binance_dir)
    assert len(res.fills) >= 3 and (res.orders["status"] == 4).any(), "fills and refused orders to compare"
    sessions = _rows(db, "SELECT id, pid FROM sessions")
    assert len(sessions) == 1 and sessions[0][0] == res.params["session"]
    fills = _rows(db, "SELECT trade_id, client_id, instrument, side, price, qty, fee, maker, exch_ts, local_ts, source "
                      "FROM fills ORDER BY local_ts, CAST(substr(trade_id, 17) AS INTEGER)")
    assert [f[0] for f in fills] == [f"paper-{res.params['session']}-{n}" for n in range(1, len(fills) + 1)]
    f = res.fills
    assert [r[1:10] for r in fills] == [
        (int(f["client_id"][k]), int(f["instrument"][k]), int(f["side"][k]), float(f["price"][k]),
         float(f["qty"][k]), float(f["fee"][k]), int(f["maker"][k]), int(f["exch_ts"][k]), int(f["local_ts"][k]))
        for k in range(len(f))]
    orders = _rows(db, "SELECT client_id, instrument, side, price, qty, filled, status, reason, created_ns, session "
                       "FROM orders ORDER BY client_id")
    o = res.orders
    assert [r[:7] for r in orders] == [
        (int(o["client_id"][k]), int(o["instrument"][k]), int(o["side"][k]), float(o["price"][k]),
         float(o["qty"][k]), pytest.approx(float(o["filled"][k])), STATUS[int(o["status"][k])]) for k in range(len(o))]
    assert [r[8] for r in orders] == o["sent_ts"].tolist()  # journal times are the paper clock
    assert all(r[7] for r in orders if r[6] == "refused")  # the risk check's reason
    assert {r[9] for r in orders} == {res.params["session"]}
    # each status change is an event row; the marks are journaled for the equity curve
    kinds = {r[0] for r in _rows(db, "SELECT DISTINCT kind FROM events")}
    assert {"open", "mark"} <= kinds


@pytest.mark.realdata
def test_tradecore_report_rebuilds_a_journals_tables(binance_dir: Path, tmp_path: Path) -> None:
    res, db = _session(tmp_path, binance_dir)
    out = tmp_path / "journal.html"
    p = subprocess.run([*CLI, "report", "--journal", str(db), "--out", str(out)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 10_000
    m = re.search(r"([\d,]+) orders, ([\d,]+) fills", p.stdout)
    assert m and int(m.group(1).replace(",", "")) == len(res.orders) and int(m.group(2).replace(",", "")) == len(
        res.fills), p.stdout
    rb = rebuild(db)
    for c in ("local_ts", "exch_ts", "client_id", "side", "maker", "price", "qty", "fee"):
        np.testing.assert_array_equal(rb.fills[c], res.fills[c], err_msg=c)
    for c in ("client_id", "side", "price", "qty", "filled", "sent_ts"):
        np.testing.assert_array_equal(rb.orders[c], res.orders[c], err_msg=c)
    # the PnL replayed from the fills and the recorded marks ends where the session's did
    assert rb.stats["n_fills"] == res.stats["n_fills"]
    last_mark_pnl = rb.equity["equity"][-1] - rb.params["initial_capital"]  # type: ignore[operator]
    assert last_mark_pnl == pytest.approx(res.equity["equity"][-1] - 100_000.0, abs=0.05)


@pytest.mark.realdata
def test_a_paper_runner_killed_with_sigkill_continues_from_its_journal(binance_dir: Path, tmp_path: Path) -> None:
    capture = binance_dir / "usdm_btcusdt_20240719.gz"
    db = tmp_path / "st" / "journal.sqlite"
    with capture_sim(capture, 6) as url:
        cfg = tmp_path / "live.toml"
        cfg.write_text(f'[live]\nsymbols = ["BTCUSDT"]\nws_url = "ws://{url}"\nrest_url = "http://{url}"\n'
                       '[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\nmaker_fee = -0.0001\n'
                       'taker_fee = 0.0004\n[trading]\nlatency = "5ms"\nstate_dir = "st"\n'
                       '[risk]\nmax_position = 0.006\nmax_order_qty = 0.005\n')
        cmd = [*CLI, "live", "--config", str(cfg), "--strategy", str(REPO / "examples/market_maker.py:MarketMaker"),
               "--param", "size=0.002", "--param", "max_position=0.006", "--duration", "120"]
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline, n = time.monotonic() + 60, 0
            while time.monotonic() < deadline and n < 3:
                time.sleep(0.3)
                if db.exists():
                    try:
                        n = _rows(db, "SELECT COUNT(*) FROM fills")[0][0]
                    except sqlite3.OperationalError:
                        continue
            first.kill()  # kill -9: no cleanup
            out1, _ = first.communicate(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode == -signal.SIGKILL and n >= 3, out1
        before_fills = _rows(db, "SELECT trade_id, side, qty FROM fills")
        before_orders = _rows(db, "SELECT client_id, status FROM orders")
        was_open = {c for c, s in before_orders if s in ("pending", "open")}
        second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(10)
            second.send_signal(signal.SIGTERM)
            out2, _ = second.communicate(timeout=60)
        finally:
            if second.poll() is None:
                second.kill()
    assert second.returncode == 0 and "Traceback" not in out2, out2
    fills = _rows(db, "SELECT trade_id, side, qty, client_id FROM fills")
    orders = _rows(db, "SELECT client_id, status, reason, session FROM orders ORDER BY client_id")
    sessions = [r[0] for r in _rows(db, "SELECT id FROM sessions ORDER BY started_ns")]
    assert len(sessions) == 2
    # no fill lost: every fill of the killed session is still there, the restart's are added
    assert {f[0] for f in before_fills} <= {f[0] for f in fills}
    assert len({f[0] for f in fills}) == len(fills)
    # the position continues: the restarted loop's = the sum of every journaled fill
    m = re.search(r"position BTCUSDT: (\S+)", out2)
    assert m, out2
    assert float(m.group(1)) == pytest.approx(sum(f[1] * f[2] for f in fills), abs=1e-9)
    assert f"{len(before_fills)} fill(s) restored" in out2, out2
    # the results include both sessions' fills
    m = re.search(r"paper trading: ([\d,]+) orders, ([\d,]+) fills", out2)
    assert m and int(m.group(2).replace(",", "")) == len(fills), out2
    # ids never reused: the restart's orders come after every id of the killed session
    first_ids = [c for c, _, _, s in orders if s == sessions[0]]
    second_ids = [c for c, _, _, s in orders if s == sessions[1]]
    assert second_ids and min(second_ids) > max(first_ids)
    assert {f[3] for f in fills} <= {o[0] for o in orders}
    # the orders the killed session had open are closed as cancelled, with the reason
    by_id = {o[0]: o for o in orders}
    for c in was_open:
        assert by_id[c][1] == "cancelled" and "died with the process" in by_id[c][2]
