"""The backtest: simulator outcomes on hand-built markets, no look-ahead, determinism, the
example strategies on real and synthetic data, results, risk, the command line, memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tradecore
from tradecore.backtest import Latency, load_strategy, run_backtest
from tradecore.errors import InvalidInput
from tradecore.strategy import Strategy

REPO = Path(__file__).resolve().parents[1]
MM = f"{REPO / 'examples' / 'market_maker.py'}:MarketMaker"
TAKER = f"{REPO / 'examples' / 'momentum_taker.py'}:MomentumTaker"
INST = tradecore.Instrument("test", "X", tick_size="0.1", lot_size="0.001", maker_fee="-0.0001", taker_fee="0.0004")
S = tradecore.SCALE
MS = 1_000_000


def ev(kind: str, x_ms: float, side: int, price: float, qty: float, *, l_ms: float | None = None,
       last: bool = True) -> tuple[Any, ...]:
    """One event: exchange time x_ms, local time l_ms (default x_ms + 1)."""
    k = int(getattr(tradecore.Kind, kind))
    flags = int(tradecore.Flag.LAST_IN_MESSAGE) if last else 0
    x = int(x_ms * MS)
    loc = int((x_ms + 1 if l_ms is None else l_ms) * MS)
    return (x, loc, round(price * S), round(qty * S), 0, 0, 0, 0, flags, k, side)


def market(*rows: tuple[Any, ...]) -> np.ndarray:
    return np.array(list(rows), dtype=tradecore.EVENT_DTYPE)


def opening() -> list[tuple[Any, ...]]:
    """Bid 100.0 x 5, ask 100.1 x 3 at t = 0 (seen at 1 ms)."""
    return [ev("DEPTH", 0, 1, 100.0, 5, last=False), ev("DEPTH", 0, -1, 100.1, 3)]


class Scripted(Strategy):
    """Sends scripted orders at the first book wake-up; records every update it gets."""

    def __init__(self, orders: list[dict[str, Any]]) -> None:
        super().__init__()
        self.orders = orders
        self.sent: list[int | None] = []
        self.updates: list[Any] = []

    def on_book(self, book: Any) -> None:
        if not self.sent:
            for o in self.orders:
                o = dict(o)
                send = self.ctx.buy if o.pop("side") > 0 else self.ctx.sell
                self.sent.append(send(**o))

    def on_fill(self, fill: Any) -> None:
        self.updates.append(fill)

    def on_order(self, update: Any) -> None:
        self.updates.append(update)


def run(events: np.ndarray, strategy: Strategy, **kw: Any) -> Any:
    kw.setdefault("latency", "2ms")
    kw.setdefault("feed_latency", "1ms")
    kw.setdefault("account", "none")  # these tests are of the simulator's rules; accounts: test_accounts.py
    return run_backtest(strategy, events, instrument=INST, **kw)


def test_the_queue_ahead_is_consumed_exactly_then_partial_fills() -> None:
    # Our bid of 2 joins 5 ahead at 100.0 (sent at 1 ms, at the exchange at 3 ms).
    events = market(*opening(),
                    ev("TRADE", 5, -1, 100.0, 4),    # 1 still ahead
                    ev("TRADE", 6, -1, 100.0, 1.5),  # 1 ahead consumed, 0.5 of ours
                    ev("TRADE", 7, -1, 100.0, 1.5),  # the other 1.5
                    ev("DEPTH", 9, 1, 99.9, 1))
    s = Scripted([{"side": 1, "qty": 2, "price": 100.0}])
    r = run(events, s)
    assert list(r.fills["qty"]) == [0.5, 1.5]
    assert list(r.fills["exch_ts"]) == [6 * MS, 7 * MS]
    assert r.fills["maker"].all()
    # Learnt a response latency later; fees at the maker rate (a rebate).
    assert list(r.fills["local_ts"]) == [8 * MS, 9 * MS]
    assert r.fills["fee"] == pytest.approx([-0.0001 * 0.5 * 100, -0.0001 * 1.5 * 100])
    assert [u.kind for u in s.updates] == ["accepted", "filled", "filled"]
    assert s.updates[1].remaining == 1.5 and s.updates[2].remaining == 0
    assert r.orders["status"][0] == 1 and r.orders["filled"][0] == 2


def test_takers_walk_the_book_and_latency_puts_them_behind_a_price_move() -> None:
    base = [*opening(), ev("DEPTH", 0.5, -1, 100.2, 4)]
    # A buy of 5 up to 100.2 with no move: 3 @ 100.1 then 2 @ 100.2 (slippage), taker fees.
    r = run(market(*base, ev("DEPTH", 9, 1, 99.9, 1)), Scripted([{"side": 1, "qty": 5, "price": 100.2,
                                                                  "tif": "ioc"}]))
    assert list(zip(r.fills["price"], r.fills["qty"], strict=True)) == [(100.1, 3), (100.2, 2)]
    assert not r.fills["maker"].any()
    # The ask at 100.1 is taken away at 2 ms, before the order reaches the exchange (3 ms): the
    # IOC at 100.1 finds nothing and is cancelled.
    moved = market(*base, ev("DEPTH", 2, -1, 100.1, 0), ev("DEPTH", 9, 1, 99.9, 1))
    s = Scripted([{"side": 1, "qty": 1, "price": 100.1, "tif": "ioc"}])
    r = run(moved, s)
    assert len(r.fills) == 0
    assert [u.kind for u in s.updates] == ["accepted", "cancelled"]
    assert r.orders["status"][0] == 2
    # With no order latency the same order takes the ask.
    r = run(moved, Scripted([{"side": 1, "qty": 1, "price": 100.1, "tif": "ioc"}]), latency=0)
    assert list(r.fills["price"]) == [100.1]


def test_post_only_that_would_cross_and_fok_without_liquidity_are_rejected() -> None:
    events = market(*opening(), ev("DEPTH", 9, 1, 99.9, 1))
    s = Scripted([{"side": 1, "qty": 1, "price": 100.1, "post_only": True},
                  {"side": 1, "qty": 9, "price": 100.1, "tif": "fok"},
                  {"side": -1, "qty": 1, "price": 100.1, "post_only": True}])
    r = run(events, s)
    reasons = [(u.client_id, u.kind, u.reason) for u in s.updates]
    assert reasons[0] == (1, "rejected", "post-only order would cross")
    assert reasons[1] == (2, "rejected", "fill-or-kill without enough liquidity")
    assert reasons[2] == (3, "accepted", "")
    assert list(r.orders["status"]) == [3, 3, 0]


def test_no_look_ahead_trades_before_the_order_arrives_do_not_count() -> None:
    # A sell of 9 at our price at 2.5 ms (exchange time) happens before our order arrives at
    # 3 ms: it neither fills us nor consumes the queue ahead; the strategy sees it at 4 ms.
    events = market(*opening(), ev("TRADE", 2.5, -1, 100.0, 9, l_ms=4), ev("DEPTH", 2.6, 1, 100.0, 5, l_ms=4),
                    ev("TRADE", 6, -1, 100.0, 5.5), ev("DEPTH", 9, 1, 99.9, 1))
    r = run(events, Scripted([{"side": 1, "qty": 1, "price": 100.0}]), feed_latency="recorded", clock_offset=0)
    assert list(r.fills["qty"]) == [0.5]
    assert r.fills["exch_ts"][0] == 6 * MS


def test_risk_refusals_are_recorded_and_never_sent() -> None:
    events = market(*opening(), ev("DEPTH", 9, 1, 99.9, 1))
    s = Scripted([{"side": 1, "qty": 2, "price": 100.0}])
    r = run(events, s, risk=tradecore.RiskLimits(max_order_qty=1))
    assert s.sent == [None]
    assert s.ctx.last_reject is not None and s.ctx.last_reject[0] == "max_order_qty"
    assert list(r.orders["status"]) == [4] and len(r.fills) == 0
    with pytest.raises(InvalidInput, match="price"):
        run(events, Scripted([{"side": 1, "qty": 1, "price": 100.05}]))
    with pytest.raises(InvalidInput, match="qty"):
        run(events, Scripted([{"side": 1, "qty": 0.0005, "price": 100.0}]))


@pytest.fixture(scope="module")
def real(binance_dir: Path) -> tuple[np.ndarray, tradecore.Instrument]:
    events, _ = tradecore.read_binance(binance_dir / "usdm_btcusdt_20240808.gz")
    inst = tradecore.Instrument("binance-usdm", "BTCUSDT", tick_size="0.1", lot_size="0.001",
                                maker_fee="-0.0001", taker_fee="0.0004")
    return events, inst


@pytest.mark.realdata
@pytest.mark.parametrize("spec", [MM, TAKER])
def test_examples_on_real_data_are_deterministic_and_never_look_ahead(
        real: tuple[np.ndarray, tradecore.Instrument], spec: str) -> None:
    events, inst = real
    a = run_backtest(load_strategy(spec), events, instrument=inst, latency="5ms")
    b = run_backtest(load_strategy(spec), events, instrument=inst, latency="5ms", chunk_events=7_777)
    assert len(a.fills) > 20, len(a.fills)
    for name in ("orders", "fills", "equity", "positions"):
        assert np.array_equal(a.table(name), b.table(name)), name
    assert a.stats == b.stats
    # An order acts at the exchange 5 ms after it was sent, never on earlier data.
    sent = dict(zip(a.orders["client_id"].tolist(), a.orders["sent_ts"].tolist(), strict=True))
    lag = a.fills["exch_ts"] - np.array([sent[c] for c in a.fills["client_id"].tolist()])
    assert (lag >= 5 * MS).all(), lag.min()
    assert (a.fills["local_ts"] >= a.fills["exch_ts"] + 5 * MS).all()
    # The maker only makes; the taker only takes.
    assert a.stats["maker_share"] == (1.0 if spec == MM else 0.0)
    # The feed latency comes from the recording, its 1.27 s clock offset removed.
    assert a.clock_offset_ns is not None and -1.28e9 < a.clock_offset_ns < -1.26e9
    pos = a.positions["position"]
    assert np.abs(pos).max() <= 0.005 + 1e-9


@pytest.mark.realdata
def test_queue_models_and_sampled_latency_change_the_outcome(real: tuple[np.ndarray, tradecore.Instrument],
                                                             tmp_path: Path) -> None:
    events, inst = real
    cons = run_backtest(load_strategy(MM), events, instrument=inst, latency="5ms")
    prob = run_backtest(load_strategy(MM), events, instrument=inst, latency="5ms", queue="power:2")
    # Cancellations ahead move the order forward in the probabilistic model: more fills.
    assert len(prob.fills) > len(cons.fills)
    lat = tmp_path / "latency.csv"
    lat.write_text("entry_ns,response_ns\n" + "".join(f"{e},{e + 1_000_000}\n" for e in (3e6, 8e6, 20e6)))
    a = run_backtest(load_strategy(MM), events, instrument=inst, latency=str(lat), seed=1)
    b = run_backtest(load_strategy(MM), events, instrument=inst, latency=str(lat), seed=1)
    assert np.array_equal(a.fills, b.fills)
    assert "recorded (3 samples" in str(a.params["latency"])
    sent = dict(zip(a.orders["client_id"].tolist(), a.orders["sent_ts"].tolist(), strict=True))
    lag = a.fills["exch_ts"] - np.array([sent[c] for c in a.fills["client_id"].tolist()])
    assert (lag >= 3 * MS).all()


def test_examples_on_the_synthetic_market(tmp_path: Path) -> None:
    for spec in (MM, TAKER):
        r = run_backtest(load_strategy(spec), "synthetic", synthetic_seconds=60, latency="5ms")
        assert len(r.fills) > 10, spec
        assert r.equity["ts"].size > 50
        assert abs(r.stats["pnl"] - (r.equity["equity"][-1] - 100_000)) < 1e-6
        path = r.write_report(tmp_path / "r.html")
        assert "<svg" in path.read_text()
        table = r.to_arrow("fills")
        assert table.num_rows == len(r.fills) and "maker" in table.column_names


def test_the_kill_switch_halts_and_cancels() -> None:
    class Loser(Strategy):
        def on_book(self, book: Any) -> None:
            if self.ctx.trading_state == "active" and not self.ctx.open_orders():
                bb, ba = book.best_bid(), book.best_ask()
                if bb and ba:
                    # Cross the spread both ways: pays spread and fees until halted.
                    self.ctx.buy(0.01, ba[0], tif="ioc")
                    self.ctx.sell(0.01, bb[0], tif="ioc")

    r = run_backtest(Loser(), "synthetic", synthetic_seconds=60, latency="1ms",
                     risk=tradecore.RiskLimits(max_drawdown=5.0))
    assert r.params["final_trading_state"] == "halted"
    assert r.stats["pnl"] < -5.0
    halted_at = r.fills["local_ts"].max()
    assert r.equity["ts"][-1] > halted_at  # the replay went on without trading


def test_bad_arguments_are_named() -> None:
    s = Strategy()
    with pytest.raises(InvalidInput, match="latency"):
        run_backtest(s, "synthetic", latency="fast")
    with pytest.raises(InvalidInput, match="queue"):
        run_backtest(s, "synthetic", queue="fifo")
    with pytest.raises(InvalidInput, match="data"):
        run_backtest(s, "no/such/file.gz")
    with pytest.raises(InvalidInput, match="parameter"):
        load_strategy(MM, {"sizee": "1"})
    with pytest.raises(InvalidInput, match="parameter size"):
        load_strategy(MM, {"size": "abc"})
    with pytest.raises(InvalidInput, match="strategy"):
        load_strategy("examples/market_maker.py")
    assert Latency.parse("2ms,3ms") == Latency(2 * MS, 3 * MS)
    assert load_strategy(MM, {"size": "0.002"}).size == 0.002  # type: ignore[attr-defined]


def test_backtest_command(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "tradecore", "backtest", "--strategy", MM, "--seconds", "30",
                          "--report", str(tmp_path / "r.html"), "--json", str(tmp_path / "s.json"), "--quiet",
                          "--param", "size=0.002", "--queue", "log"],
                         capture_output=True, text=True, check=True)
    assert "Sharpe ratio" in out.stdout and "queue model    log" in out.stdout
    stats = json.loads((tmp_path / "s.json").read_text())["stats"]
    assert stats["n_fills"] > 0
    assert (tmp_path / "r.html").stat().st_size > 10_000
    bad = subprocess.run([sys.executable, "-m", "tradecore", "backtest", "--strategy", MM, "--latency", "x"],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "invalid latency" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "tradecore", "backtest"], capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0


def test_memory_is_bounded_by_the_chunk_size(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys
        import tradecore
        from tradecore.backtest import run_backtest
        from tradecore.strategy import Strategy

        def peak():
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024

        class Quiet(Strategy):
            def on_trade(self, trade):
                pass

        run_backtest(Quiet(), sys.argv[2], chunk_events=20_000)  # warm up on a short input
        base = peak()
        r = run_backtest(Quiet(), sys.argv[1], chunk_events=20_000)
        print(r.events, peak() - base)
    """)
    sizes = {}
    warm = tmp_path / "warm.gz"
    tradecore.synth_binance(warm, seconds=20, seed=3)
    for seconds in (60, 600):
        path = tmp_path / f"m{seconds}.gz"
        tradecore.synth_binance(path, seconds=seconds, seed=3)
        out = subprocess.run([sys.executable, "-c", script, str(path), str(warm)], capture_output=True, text=True,
                             check=True)
        n, mb = out.stdout.split()
        sizes[seconds] = (int(n), float(mb))
    (n1, small), (n10, large) = sizes[60], sizes[600]
    assert n10 > 9 * n1
    # 10x the events (tens of MB as records) and the peak barely moves.
    mb = n10 * 64 / 2**20
    assert mb > 40
    assert large - small < 0.1 * mb, sizes


def test_the_strategy_is_woken_only_for_what_it_overrides(synthetic_capture: Path) -> None:
    events, _ = tradecore.read_binance(synthetic_capture)
    kinds, last = events["kind"], (events["flags"] & int(tradecore.Flag.LAST_IN_MESSAGE)) != 0
    book_kinds = [int(tradecore.Kind.DEPTH), int(tradecore.Kind.SNAPSHOT), int(tradecore.Kind.CLEAR)]
    n_trades = int((kinds == int(tradecore.Kind.TRADE)).sum())
    n_book_messages = int((np.isin(kinds, book_kinds) & last).sum())

    class Trades(Strategy):
        n = 0

        def on_trade(self, trade: Any) -> None:
            self.n += 1

    class Books(Strategy):
        n = 0

        def on_book(self, book: Any) -> None:
            self.n += 1

    t, b = Trades(), Books()
    run_backtest(t, events, instrument=INST, account="none")
    run_backtest(b, events, instrument=INST, account="none")
    assert t.n == n_trades > 100
    assert b.n == n_book_messages > 100
