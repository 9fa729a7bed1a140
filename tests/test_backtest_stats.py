"""Backtest statistics and report: hand-computed round trips (FIFO, partial closes, flips,
inverse contracts), drawdown, Sharpe/Sortino, VaR/ES, order and fill ratios, empty inputs,
and a self-contained, escaped, small HTML report."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tradecore.backtest.report import MAX_MARKERS, write_report
from tradecore.backtest.stats import (
    EQUITY_DTYPE,
    FILL_DTYPE,
    ORDER_DTYPE,
    POSITION_DTYPE,
    ROUND_TRIP_DTYPE,
    InstrumentInfo,
    drawdown_series,
    round_trips,
    statistics,
    summary_table,
)

S = 1_000_000_000  # ns per second
T0 = 1_723_075_200 * S  # 2024-08-08 00:00:00 UTC
BTC = InstrumentInfo("BTCUSDT")


def fills_of(*rows: tuple[Any, ...]) -> np.ndarray:
    """Fills from (t seconds, side, price, qty, fee[, maker, instrument])."""
    out = np.zeros(len(rows), dtype=FILL_DTYPE)
    for k, row in enumerate(rows):
        t, side, price, qty, fee = row[:5]
        maker = bool(row[5]) if len(row) > 5 else False
        inst = int(row[6]) if len(row) > 6 else 0
        out[k] = (T0 + int(t * S), T0 + int(t * S) - 1000, k + 1, inst, side, maker, price, qty, fee, False)
    return out


def equity_of(values: list[float], step_s: int = 1) -> np.ndarray:
    eq = np.zeros(len(values), dtype=EQUITY_DTYPE)
    eq["ts"] = T0 + np.arange(len(values), dtype=np.int64) * step_s * S
    eq["equity"] = values
    return eq


def no_orders() -> np.ndarray:
    return np.zeros(0, dtype=ORDER_DTYPE)


# ---------------------------------------------------------------- round trips


def test_simple_round_trip_pnl_fees_and_holding_time() -> None:
    f = fills_of((0, +1, 100.0, 1.0, 0.05), (30, -1, 110.0, 1.0, 0.02))
    rt = round_trips(f, [BTC])
    assert rt.dtype == ROUND_TRIP_DTYPE and len(rt) == 1
    r = rt[0]
    assert r["side"] == 1 and r["qty"] == 1.0
    assert (r["entry_price"], r["exit_price"]) == (100.0, 110.0)
    assert r["pnl"] == pytest.approx(10.0)
    assert r["fees"] == pytest.approx(0.07)
    assert (r["exit_ts"] - r["entry_ts"]) == 30 * S

    st = statistics(equity_of([1000.0, 1009.93]), f, no_orders(), initial=1000.0, instruments=[BTC])
    assert st["n_round_trips"] == 1
    assert st["expectancy"] == pytest.approx(9.93)
    assert st["avg_holding_time_s"] == pytest.approx(30.0)
    assert st["win_rate"] == 1.0
    assert st["profit_factor"] == math.inf
    assert st["fees"] == pytest.approx(0.07)
    assert st["turnover"] == pytest.approx((100.0 + 110.0) / 1000.0)


def test_short_round_trip_and_contract_size() -> None:
    eth = InstrumentInfo("ETHUSD", contract_size=0.01)
    f = fills_of((0, -1, 2000.0, 10.0, 0.0), (5, +1, 1900.0, 10.0, 0.0))
    rt = round_trips(f, [eth])
    assert rt["side"].tolist() == [-1]
    assert rt["pnl"][0] == pytest.approx(10 * 0.01 * (1900 - 2000) * -1)  # +10


def test_partial_closes_fifo_and_flip() -> None:
    # buy 2 @100 (fee 0.2), buy 1 @102 (fee 0.1), sell 1.5 @105 (fee 0.3), sell 2.5 @101 (fee 0.5),
    # buy 1 @99 (fee 0.1): the last sell closes 0.5 of lot 1 and lot 2, then opens a 1-short lot.
    f = fills_of((0, +1, 100.0, 2.0, 0.2), (1, +1, 102.0, 1.0, 0.1), (2, -1, 105.0, 1.5, 0.3),
                 (3, -1, 101.0, 2.5, 0.5), (4, +1, 99.0, 1.0, 0.1))
    rt = round_trips(f, [BTC])
    assert rt["side"].tolist() == [1, 1, 1, -1]
    assert rt["qty"].tolist() == pytest.approx([1.5, 0.5, 1.0, 1.0])
    assert rt["entry_price"].tolist() == [100.0, 100.0, 102.0, 101.0]
    assert rt["exit_price"].tolist() == [105.0, 101.0, 101.0, 99.0]
    assert rt["pnl"].tolist() == pytest.approx([7.5, 0.5, -1.0, 2.0])
    # fee per unit: 0.1 (fill 1), 0.1 (fill 2), 0.2 (fill 3), 0.2 (fill 4), 0.1 (fill 5)
    assert rt["fees"].tolist() == pytest.approx([1.5 * (0.1 + 0.2), 0.5 * (0.1 + 0.2),
                                                 1.0 * (0.1 + 0.2), 1.0 * (0.2 + 0.1)])
    assert ((rt["entry_ts"] - T0) // S).tolist() == [0, 0, 1, 3]
    assert ((rt["exit_ts"] - T0) // S).tolist() == [2, 3, 3, 4]
    # The fees of every fill are fully allocated (nothing left open at the end).
    assert rt["fees"].sum() == pytest.approx(f["fee"].sum())


def test_open_lots_are_not_round_trips_and_instruments_are_separate() -> None:
    f = fills_of((0, +1, 100.0, 1.0, 0.0, False, 0), (1, -1, 50.0, 1.0, 0.0, False, 1),
                 (2, -1, 101.0, 0.4, 0.0, False, 0))
    rt = round_trips(f, [BTC, InstrumentInfo("ETHUSDT")])
    assert len(rt) == 1 and rt["instrument"][0] == 0 and rt["qty"][0] == pytest.approx(0.4)
    assert rt["pnl"][0] == pytest.approx(0.4)


def test_fills_are_matched_in_time_order() -> None:
    f = fills_of((0, +1, 100.0, 1.0, 0.0), (10, -1, 90.0, 1.0, 0.0))[::-1].copy()
    rt = round_trips(f, [BTC])
    assert rt["side"].tolist() == [1] and rt["pnl"][0] == pytest.approx(-10.0)


def test_inverse_pnl_in_coin() -> None:
    inv = InstrumentInfo("BTCUSD_PERP", contract_size=100.0, inverse=True)
    f = fills_of((0, +1, 50_000.0, 10.0, 0.0), (1, -1, 60_000.0, 10.0, 0.0),
                 (2, -1, 60_000.0, 5.0, 0.0), (3, +1, 50_000.0, 5.0, 0.0))
    rt = round_trips(f, [inv])
    long_pnl = 10 * 100.0 * (1 / 50_000 - 1 / 60_000)
    short_pnl = 5 * 100.0 * (1 / 60_000 - 1 / 50_000) * -1
    assert rt["pnl"].tolist() == pytest.approx([long_pnl, short_pnl])
    assert long_pnl == pytest.approx(1000 / 300_000) and short_pnl > 0
    st = statistics(equity_of([1.0, 1.0]), f, no_orders(), initial=1.0, instruments=[inv])
    # Inverse notional in coin: qty * contract_size / price.
    assert st["turnover"] == pytest.approx(1000 / 50_000 + 1000 / 60_000 + 500 / 60_000 + 500 / 50_000)


def test_invalid_fills_raise() -> None:
    with pytest.raises(ValueError, match="qty"):
        round_trips(fills_of((0, +1, 100.0, 0.0, 0.0)), [BTC])
    with pytest.raises(ValueError, match="instrument 3"):
        round_trips(fills_of((0, +1, 100.0, 1.0, 0.0, False, 3)), [BTC])
    with pytest.raises(TypeError):
        round_trips(np.zeros(3), [BTC])


# ---------------------------------------------------------------- equity statistics


def test_drawdown_and_its_duration() -> None:
    # peak 110 at t=1, trough 99 at t=2, recovered (111) at t=4; then 100 until the end (t=7).
    values = [100.0, 110.0, 99.0, 105.0, 111.0, 108.0, 100.0, 105.0]
    st = statistics(equity_of(values, step_s=10), fills_of(), no_orders(), initial=100.0,
                    instruments=[BTC])
    assert st["max_drawdown"] == pytest.approx(1 - 99 / 110)
    # First drawdown: t=10 s to t=40 s (30 s); the unrecovered one: t=40 s to the end t=70 s.
    assert st["max_drawdown_duration_s"] == pytest.approx(30.0)
    values[-1] = 101.0
    values += [102.0, 103.0]  # still under 111 at t=90 s: 50 s unrecovered
    st = statistics(equity_of(values, step_s=10), fills_of(), no_orders(), initial=100.0,
                    instruments=[BTC])
    assert st["max_drawdown_duration_s"] == pytest.approx(50.0)
    assert drawdown_series(values, initial=100.0).tolist() == pytest.approx(
        [0, 0, 0.1, 1 - 105 / 110, 0, 1 - 108 / 111, 1 - 100 / 111, 1 - 101 / 111,
         1 - 102 / 111, 1 - 103 / 111])


def test_starting_below_initial_is_a_drawdown() -> None:
    st = statistics(equity_of([90.0, 95.0]), fills_of(), no_orders(), initial=100.0, instruments=[BTC])
    assert st["max_drawdown"] == pytest.approx(0.1)
    assert st["total_return"] == pytest.approx(-0.05)
    assert st["pnl"] == pytest.approx(-5.0) and st["final_equity"] == 95.0


def test_sharpe_sortino_calmar_from_first_principles() -> None:
    rng = np.random.default_rng(7)
    values = 1000.0 * np.cumprod(1 + rng.normal(0.0002, 0.001, 500))
    eq = equity_of(values.tolist(), step_s=60)
    eq = np.concatenate([eq, eq[-1:]])  # the final row, closer than the sampling interval
    eq["ts"][-1] = eq["ts"][-2] + 7 * S
    eq["equity"][-1] = eq["equity"][-2] * 1.0005
    st = statistics(eq, fills_of(), no_orders(), initial=1000.0, instruments=[BTC])

    e = eq["equity"]
    r = e[1:] / e[:-1] - 1
    ppy = 365 * 24 * 60  # one-minute median interval
    assert st["periods_per_year"] == pytest.approx(ppy)
    assert st["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(ppy), rel=1e-9)
    downside = math.sqrt(float(np.mean(np.minimum(r, 0) ** 2)))
    assert st["sortino"] == pytest.approx(r.mean() / downside * math.sqrt(ppy), rel=1e-9)
    peak = np.maximum.accumulate(np.r_[1000.0, e])[1:]
    mdd = float(np.max(1 - e / peak))
    assert st["max_drawdown"] == pytest.approx(mdd)
    assert st["calmar"] == pytest.approx(r.mean() * ppy / mdd)
    assert st["total_return"] == pytest.approx(e[-1] / 1000 - 1)

    explicit = statistics(eq, fills_of(), no_orders(), initial=1000.0, instruments=[BTC],
                          periods_per_year=252)
    assert explicit["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))


def test_var_and_expected_shortfall_historical() -> None:
    # Returns -10%, -9%, ..., +9% (20 of them, shuffled): the 5 % quantile by linear
    # interpolation is -10% + 0.95 * 1% = -9.05%; the returns at or below it: -10%.
    rets = np.arange(-10, 10) / 100.0
    rng = np.random.default_rng(1)
    rng.shuffle(rets)
    values = 100.0 * np.cumprod(np.r_[1.0, 1 + rets])
    st = statistics(equity_of(values.tolist()), fills_of(), no_orders(), initial=100.0, instruments=[BTC])
    assert st["var_95"] == pytest.approx(0.0905)
    assert st["expected_shortfall_95"] == pytest.approx(0.10)
    # 40 returns -20%..+19%: quantile -20% + 1.95 * 1% = -18.05%; ES = mean(-20%, -19%).
    rets = np.arange(-20, 20) / 100.0
    values = 100.0 * np.cumprod(np.r_[1.0, 1 + rets])
    st = statistics(equity_of(values.tolist()), fills_of(), no_orders(), initial=100.0, instruments=[BTC])
    assert st["var_95"] == pytest.approx(0.1805)
    assert st["expected_shortfall_95"] == pytest.approx(0.195)
    # Only gains: no loss at risk.
    st = statistics(equity_of([100.0, 101.0, 102.0, 103.0]), fills_of(), no_orders(), initial=100.0,
                    instruments=[BTC])
    assert st["var_95"] == 0.0 and st["expected_shortfall_95"] == 0.0 and st["max_drawdown"] == 0.0
    assert st["calmar"] == 0.0


# ---------------------------------------------------------------- fills and orders


def test_fill_ratio_maker_share_win_rate_profit_factor() -> None:
    orders = np.zeros(5, dtype=ORDER_DTYPE)
    orders["client_id"] = [1, 2, 3, 4, 5]
    orders["qty"] = [2.0, 1.0, 4.0, 1.0, 100.0]
    orders["filled"] = [2.0, 0.5, 1.0, 0.0, 0.0]
    orders["status"] = [1, 2, 2, 3, 4]  # the refused (4) order never reached the exchange
    orders["done_ts"] = -1
    f = fills_of((0, +1, 100.0, 2.0, 0.0, True), (1, -1, 103.0, 0.5, 0.0, False),
                 (2, -1, 98.0, 1.0, 0.0, True), (3, -1, 100.0, 0.5, 0.0, False))
    st = statistics(equity_of([1000.0, 1000.5]), f, orders, initial=1000.0, instruments=[BTC])
    assert st["fill_ratio"] == pytest.approx(3.5 / 8.0)
    assert st["maker_share"] == pytest.approx(3.0 / 4.0)
    assert st["n_orders"] == 5 and st["n_fills"] == 4
    # Round trips: +1.5 (0.5 @103), -2.0 (1 @98), 0.0 (0.5 @100).
    assert st["n_round_trips"] == 3
    assert st["win_rate"] == pytest.approx(1 / 3)
    assert st["profit_factor"] == pytest.approx(1.5 / 2.0)
    assert st["expectancy"] == pytest.approx(-0.5 / 3)
    assert st["avg_holding_time_s"] == pytest.approx((0.5 * 1 + 1.0 * 2 + 0.5 * 3) / 2.0)


def test_profit_factor_nets_fees() -> None:
    # Gross +1 but fees 2: a net loss, so no win and a profit factor of 0.
    f = fills_of((0, +1, 100.0, 1.0, 1.0), (1, -1, 101.0, 1.0, 1.0))
    st = statistics(equity_of([100.0, 99.0]), f, no_orders(), initial=100.0, instruments=[BTC])
    assert st["win_rate"] == 0.0 and st["profit_factor"] == 0.0
    assert st["expectancy"] == pytest.approx(-1.0)


# ---------------------------------------------------------------- empty inputs


@pytest.mark.parametrize("rows", [0, 1])
def test_empty_inputs_give_zeros_without_warnings(rows: int) -> None:
    eq = equity_of([500.0] * rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            st = statistics(eq, fills_of(), no_orders(), initial=500.0, instruments=[])
            text = summary_table(st)
            rt = round_trips(fills_of(), [])
    assert len(rt) == 0 and rt.dtype == ROUND_TRIP_DTYPE
    for key, value in st.items():
        assert type(value) in (int, float), key
        assert math.isfinite(value), key
    expected_nonzero = {"final_equity", "periods_per_year"}
    assert {k for k, v in st.items() if v != 0} <= expected_nonzero
    assert st["final_equity"] == 500.0
    assert "Sharpe ratio" in text and "Max drawdown" in text


def test_zero_variance_and_flat_equity() -> None:
    st = statistics(equity_of([100.0] * 10), fills_of(), no_orders(), initial=100.0, instruments=[BTC])
    assert st["sharpe"] == 0.0 and st["sortino"] == 0.0 and st["max_drawdown_duration_s"] == 0.0
    # Equity wiped out: returns stay finite, no warning.
    st = statistics(equity_of([100.0, 50.0, 0.0, 0.0, -5.0]), fills_of(), no_orders(), initial=100.0,
                    instruments=[BTC])
    assert all(math.isfinite(v) for v in st.values())
    assert st["max_drawdown"] == pytest.approx(1.05)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="initial"):
        statistics(equity_of([1.0]), fills_of(), no_orders(), initial=0.0, instruments=[])
    with pytest.raises(ValueError, match="periods_per_year"):
        statistics(equity_of([1.0]), fills_of(), no_orders(), initial=1.0, instruments=[],
                   periods_per_year=-1)


def test_summary_table_is_aligned_and_formatted() -> None:
    st = statistics(equity_of([100.0, 110.0, 99.0, 120.0], step_s=3600), fills_of(), no_orders(),
                    initial=100.0, instruments=[BTC])
    text = summary_table(st)
    lines = text.splitlines()
    assert len(lines) == len(st)
    assert len({len(line) for line in lines}) == 1  # right-aligned values: equal widths
    row = {line.split("  ")[0].strip(): line.split()[-1] for line in lines}
    assert row["Total return"] == "20.00%"
    assert row["Max drawdown"] == "10.00%"
    assert "7,200 s (02:00:00)" in text  # from the peak at 1 h to the recovery at 3 h
    assert summary_table({"profit_factor": math.inf}).endswith("inf")


# ---------------------------------------------------------------- report


def synthetic_run(n: int, n_fills: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    ts = T0 + np.arange(n, dtype=np.int64) * S
    eq = np.zeros(n, dtype=EQUITY_DTYPE)
    eq["ts"] = ts
    eq["equity"] = 10_000 + np.cumsum(rng.normal(0, 1, n))
    pos = np.zeros(n, dtype=POSITION_DTYPE)
    pos["ts"] = ts
    pos["mid"] = 60_000 + np.cumsum(rng.normal(0, 5, n))
    pos["position"] = np.round(np.cumsum(rng.normal(0, 0.01, n)), 3)
    fl = np.zeros(n_fills, dtype=FILL_DTYPE)
    k = np.sort(rng.integers(0, n, n_fills))
    fl["local_ts"] = ts[k] + 1000
    fl["exch_ts"] = ts[k]
    fl["side"] = rng.choice([-1, 1], n_fills)
    fl["maker"] = rng.random(n_fills) < 0.5
    fl["price"] = pos["mid"][k]
    fl["qty"] = 0.01
    orders = np.zeros(n_fills, dtype=ORDER_DTYPE)
    orders["qty"] = 0.01
    orders["filled"] = 0.01
    orders["status"] = 1
    return {"equity": eq, "positions": pos, "fills": fl, "orders": orders}


def test_report_is_self_contained_escaped_html(tmp_path: Path) -> None:
    run = synthetic_run(600, 40)
    st = statistics(run["equity"], run["fills"], run["orders"], initial=10_000.0, instruments=[BTC])
    out = write_report(tmp_path / "sub" / "r.html", **run, stats=st, instruments=[BTC],
                       title='<script>alert("x")</script> & run', params={"spread": 2.5, "<b>": [1, 2]})
    assert out == tmp_path / "sub" / "r.html"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("<svg") >= 4 and text.count("<svg") == text.count("</svg>")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; run" in text
    assert "&lt;b&gt;" in text and "spread" in text
    assert not re.findall(r"https?://", text.replace('xmlns="http://www.w3.org/2000/svg"', ""))
    assert not re.search(r"<link|@import|url\(|src=", text)
    assert "BTCUSDT" in text and "Sharpe ratio" in text
    assert re.search(r">\d\d:\d\d:\d\d<", text)  # UTC time axis labels
    assert "evenly sampled" not in text


def test_report_of_a_million_samples_is_small(tmp_path: Path) -> None:
    n_fills = MAX_MARKERS + 3000
    run = synthetic_run(1_000_000, n_fills)
    st = {"total_return": 0.01, "sharpe": 1.5, "n_fills": n_fills}
    out = write_report(tmp_path / "big.html", **run, stats=st, instruments=[BTC], title="big")
    size = out.stat().st_size
    assert size < 2_000_000, size
    text = out.read_text(encoding="utf-8")
    for points in re.findall(r'<polyline points="([^"]*)"', text):
        assert points.count(",") <= 4000
    assert f"showing {MAX_MARKERS:,} of {n_fills:,} fills" in text
    assert len(re.findall(r'<polyline points="', text)) == 4  # equity, drawdown, price, position


def test_decimation_keeps_extremes_in_time_order() -> None:
    from tradecore.backtest.report import _decimate

    rng = np.random.default_rng(5)
    n = 200_000
    ts = T0 + np.arange(n, dtype=np.int64) * S
    ys = np.cumsum(rng.normal(0, 1, n))
    ys[12_345] = 1e6  # a spike must survive
    keep = _decimate(ts, ys, int(ts[0]), int(ts[-1]), cols=500)
    assert len(keep) <= 4 * 500 and np.all(np.diff(keep) > 0)
    assert 12_345 in keep and int(np.argmin(ys)) in keep and keep[0] == 0 and keep[-1] == n - 1
    short = _decimate(ts[:100], ys[:100], int(ts[0]), int(ts[99]), cols=500)
    assert short.tolist() == list(range(100))


def test_report_with_empty_inputs(tmp_path: Path) -> None:
    st = statistics(equity_of([]), fills_of(), no_orders(), initial=1.0, instruments=[])
    out = write_report(tmp_path / "empty.html", equity=equity_of([]),
                       positions=np.zeros(0, dtype=POSITION_DTYPE), fills=fills_of(),
                       orders=no_orders(), stats=st, instruments=[], title="empty")
    text = out.read_text(encoding="utf-8")
    assert "no data" in text and "<svg" in text
