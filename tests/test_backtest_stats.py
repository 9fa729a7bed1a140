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
    assert st["profit_factor"] is None and st.reasons["profit_factor"] == "no losing round trip"
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
    # 30 days of hourly samples: the default grid is 1 h (1 d would give 30 < 60 periods), long
    # enough to annualize.
    rng = np.random.default_rng(7)
    values = 1000.0 * np.cumprod(1 + rng.normal(0.0002, 0.001, 721))
    eq = equity_of(values.tolist(), step_s=3600)
    eq = np.concatenate([eq, eq[-1:]])  # the final row, 7 s after the last grid point: no return
    eq["ts"][-1] = eq["ts"][-2] + 7 * S
    eq["equity"][-1] = eq["equity"][-2] * 1.0005
    st = statistics(eq, fills_of(), no_orders(), initial=1000.0, instruments=[BTC], currency="USDT")

    e = eq["equity"][:-1]
    r = e[1:] / e[:-1] - 1
    assert st["return_period_s"] == 3600.0 and st["n_returns"] == 720
    ppy = 365 * 24
    assert st["volatility"] == pytest.approx(r.std(ddof=1) * math.sqrt(ppy), rel=1e-9)
    assert st["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(ppy), rel=1e-9)
    assert st["sharpe_period"] == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-9)
    assert st["sharpe_se"] == pytest.approx(st["sharpe_period_se"] * math.sqrt(ppy), rel=1e-12)
    downside = math.sqrt(float(np.mean(np.minimum(r, 0) ** 2)))
    assert st["sortino"] == pytest.approx(r.mean() / downside * math.sqrt(ppy), rel=1e-9)
    allv = eq["equity"]
    peak = np.maximum.accumulate(np.r_[1000.0, allv])[1:]
    mdd = float(np.max(1 - allv / peak))
    assert st["max_drawdown"] == pytest.approx(mdd)
    assert st["max_drawdown_money"] == pytest.approx(float(np.max(peak - allv)))
    covered_s = 720 * 3600 + 7
    ann = (allv[-1] / 1000.0) ** (365 * 86400 / covered_s) - 1
    assert st["annualized_return"] == pytest.approx(ann, rel=1e-9)
    assert st["calmar"] == pytest.approx(ann / mdd, rel=1e-9)
    assert st["total_return"] == pytest.approx(allv[-1] / 1000 - 1)
    assert not {"annualized_return", "volatility", "sharpe", "sortino", "calmar"} & set(st.reasons)

    # An explicit daily grid: 30 returns over 30 days, still annualized, with 365 periods a year.
    daily = statistics(eq, fills_of(), no_orders(), initial=1000.0, instruments=[BTC], period_ns=86_400 * S)
    d = e[::24]
    rd = d[1:] / d[:-1] - 1
    assert daily["n_returns"] == 30
    assert daily["sharpe"] == pytest.approx(rd.mean() / rd.std(ddof=1) * math.sqrt(365), rel=1e-9)
    with pytest.raises(ValueError, match="finer than the equity samples"):
        statistics(eq, fills_of(), no_orders(), initial=1000.0, instruments=[BTC], period_ns=60 * S)


def test_sharpe_standard_error_and_psr_by_hand() -> None:
    from tradecore.backtest.stats import sharpe_inference

    r = [0.01, -0.02, 0.03, 0.0, 0.015, -0.005, 0.02]
    n = len(r)
    mean = sum(r) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (n - 1))
    sr = mean / sd
    m2 = sum((x - mean) ** 2 for x in r) / n
    skew = sum((x - mean) ** 3 for x in r) / n / m2**1.5
    kurt = sum((x - mean) ** 4 for x in r) / n / m2**2
    # Mertens (2002) / Bailey & Lopez de Prado (2012): Var(SR) = (1 - g3 SR + (g4 - 1)/4 SR^2)/(n - 1).
    se = math.sqrt((1 - skew * sr + (kurt - 1) / 4 * sr * sr) / (n - 1))
    psr = 0.5 * (1 + math.erf(sr / se / math.sqrt(2)))
    got = sharpe_inference(r)
    assert got is not None
    assert got[0] == pytest.approx(sr, rel=1e-12)
    assert got[1] == pytest.approx(se, rel=1e-12)
    assert got[2] == pytest.approx(psr, rel=1e-12)
    # Normal returns: the standard error is Lo's sqrt((1 + SR^2 / 2) / (n - 1)), nearly.
    big = np.random.default_rng(2).normal(0.001, 0.01, 200_000)
    g = sharpe_inference(big)
    assert g is not None
    assert g[1] == pytest.approx(math.sqrt((1 + g[0] ** 2 / 2) / (len(big) - 1)), rel=0.01)
    assert sharpe_inference([0.01, 0.01, 0.01]) is None and sharpe_inference([0.01, 0.02]) is None


def test_a_short_run_gives_n_a_with_the_sample_length() -> None:
    # Six minutes of one-second samples: per-period figures, nothing annualized.
    rng = np.random.default_rng(4)
    values = 100_000.0 + np.cumsum(rng.normal(0.0, 5.0, 361))
    st = statistics(equity_of(values.tolist()), fills_of(), no_orders(), initial=100_000.0, instruments=[BTC],
                    currency="USDT")
    assert st["return_period_s"] == 1.0 and st["n_returns"] == 360 and st["covered_s"] == 360.0
    for key in ("annualized_return", "volatility", "sharpe", "sharpe_se", "sortino", "calmar"):
        assert st[key] is None
        assert "360 returns of 1s over 360 s (00:06:00)" in st.reasons[key] and ">= 7 days" in st.reasons[key]
    assert isinstance(st["sharpe_period"], float) and isinstance(st["psr"], float)
    text = summary_table(st)
    assert "Annualized return" in text and "n/a (sample too short to annualize)" in text
    assert "n/a: sample too short to annualize: 360 returns of 1s over 360 s (00:06:00); needs >= 30 " \
        "returns over >= 7 days" in text.splitlines()
    assert "Sharpe per period" in text and " ± " in text
    assert "Win rate" in text and "n/a (no round trip)" in text
    assert "No fill: the strategy sent no order" in text


def test_returns_on_a_calendar_grid_and_gaps_split_it() -> None:
    from tradecore.backtest.stats import GAP_DTYPE, default_period_ns, grid_returns

    # Samples every second from 00:00:00.5; a one-minute grid takes the last sample at or
    # before each whole minute.
    ts = T0 + S // 2 + np.arange(600, dtype=np.int64) * S
    vals = 1000.0 + np.arange(600, dtype=np.float64)
    r = grid_returns(ts, vals, 60 * S)
    grid_vals = np.array([1000.0 + 60 * k - 1 for k in range(1, 10)])  # at 00:01..00:09
    assert r.tolist() == pytest.approx((grid_vals[1:] / grid_vals[:-1] - 1).tolist())
    # A three-week hole between two stretches: no return spans it.
    hole = 21 * 86_400 * S
    ts2 = np.concatenate([ts, ts + hole])
    vals2 = np.concatenate([vals, vals * 2])
    gaps = np.array([(int(ts[-1]), hole - 599 * S)], dtype=GAP_DTYPE)
    r2 = grid_returns(ts2, vals2, 60 * S, gaps)
    assert len(r2) == 2 * len(r) and r2[: len(r)].tolist() == r.tolist()
    assert np.abs(r2).max() < 0.1  # the doubling across the gap is no per-period return
    eq = np.zeros(len(ts2), dtype=EQUITY_DTYPE)
    eq["ts"], eq["equity"] = ts2, vals2
    st = statistics(eq, fills_of(), no_orders(), initial=1000.0, instruments=[BTC], gaps=gaps)
    assert st["n_gaps"] == 1 and st["covered_s"] == pytest.approx(2 * 599.0)
    assert st["gap_time_s"] == pytest.approx(hole / S - 599)
    assert st["total_return"] == pytest.approx(vals2[-1] / 1000.0 - 1)
    assert "Data gap: from 2024-08-08 00:09:59.500 UTC, lasting 1,813,801 s (20d 23:50:01) (not sampled)" in st.notes
    # Default grid: the coarsest of 1s/1min/1h/1d with >= 60 periods, never finer than the samples.
    assert default_period_ns(359 * S) == S and default_period_ns(3_600 * S) == 60 * S
    assert default_period_ns(10 * 86_400 * S) == 3_600 * S and default_period_ns(90 * 86_400 * S) == 86_400 * S
    assert default_period_ns(300 * S, sample_ns=5 * S) == 5 * S


def test_json_is_strict_with_a_reason_for_every_null() -> None:
    import json

    f = fills_of((0, +1, 100.0, 1.0, 0.0), (1, -1, 101.0, 1.0, 0.0))  # one winning round trip
    st = statistics(equity_of([100.0, 101.0]), f, no_orders(), initial=100.0, instruments=[BTC], currency="USDT")
    assert st["profit_factor"] is None and st.reasons["profit_factor"] == "no losing round trip"
    assert st["win_rate"] == 1.0
    doc = st.to_json()
    text = json.dumps(doc, allow_nan=False)
    back = json.loads(text)
    nulls = {k for k, v in back["stats"].items() if v is None}
    assert nulls and nulls == set(back["n/a"])
    assert all(isinstance(v, str) and v for v in back["n/a"].values())
    assert back["currency"] == "USDT" and back["return_period"] == "1s"
    assert "Infinity" not in text and "NaN" not in text
    assert "inf" not in summary_table(st).lower().replace("info", "")


def test_small_pnl_is_not_hidden_by_rounding() -> None:
    st = statistics(equity_of([100_000.0, 100_000.42]), fills_of(), no_orders(), initial=100_000.0,
                    instruments=[BTC], currency="USDT")
    rows = dict(summary_table(st).splitlines()[k].rsplit("  ", 1) for k in range(3))
    text = summary_table(st)
    assert "0.00042%" in text and "0.00%" not in text.split("Total return")[1].splitlines()[0]
    assert "0.42 USDT" in text and "100,000.42 USDT" in text
    assert rows


def test_a_run_with_no_fill_says_why() -> None:
    from tradecore.backtest.stats import no_fill_reason

    orders = np.zeros(3, dtype=ORDER_DTYPE)
    orders["status"] = 4
    orders["qty"] = 1.0
    st = statistics(equity_of([100.0, 100.0]), fills_of(), orders, initial=100.0, instruments=[BTC],
                    refusals={"max_order_qty": 2, "insufficient_margin": 1})
    assert st["n_refused"] == 3 and st["fill_ratio"] is None and st["maker_share"] is None
    assert "No fill: every order (3) was refused before sending (max_order_qty 2, insufficient_margin 1)" \
        in summary_table(st)
    pos = np.zeros(2, dtype=POSITION_DTYPE)
    pos["mid"] = np.nan
    sent = orders.copy()
    sent["status"] = [0, 2, 2]
    why = no_fill_reason(sent, {}, pos)
    assert why.startswith("the book never had both a bid and an ask (no book data")
    assert "3 orders reached the exchange and none filled (open 1, cancelled 2)" in why


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
    up = 100.0 * 1.01 ** np.arange(25)
    st = statistics(equity_of(up.tolist()), fills_of(), no_orders(), initial=100.0, instruments=[BTC])
    assert st["var_95"] == 0.0 and st["expected_shortfall_95"] == 0.0 and st["max_drawdown"] == 0.0
    # Too few returns for a 95 % tail: n/a, not 0.
    st = statistics(equity_of([100.0, 101.0, 102.0, 103.0]), fills_of(), no_orders(), initial=100.0,
                    instruments=[BTC])
    assert st["var_95"] is None and st.reasons["var_95"].startswith("needs >= 20 returns")


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
def test_empty_inputs_give_n_a_without_warnings(rows: int) -> None:
    eq = equity_of([500.0] * rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            st = statistics(eq, fills_of(), no_orders(), initial=500.0, instruments=[])
            text = summary_table(st)
            rt = round_trips(fills_of(), [])
    assert len(rt) == 0 and rt.dtype == ROUND_TRIP_DTYPE
    for key, value in st.items():
        if value is None:
            assert st.reasons[key], key
        else:
            assert type(value) in (int, float), key
            assert math.isfinite(value), key
    expected_nonzero = {"final_equity", "return_period_s"}
    assert {k for k, v in st.items() if v is not None and v != 0} <= expected_nonzero
    assert st["final_equity"] == 500.0
    assert "Sharpe ratio" in text and "Max drawdown" in text


def test_zero_variance_and_flat_equity() -> None:
    st = statistics(equity_of([100.0] * 10), fills_of(), no_orders(), initial=100.0, instruments=[BTC])
    assert st["sharpe_period"] is None and "vary" in st.reasons["sharpe_period"]
    assert st["max_drawdown_duration_s"] == 0.0
    # Equity wiped out: returns stay finite, no warning.
    st = statistics(equity_of([100.0, 50.0, 0.0, 0.0, -5.0]), fills_of(), no_orders(), initial=100.0,
                    instruments=[BTC])
    assert all(v is None or math.isfinite(v) for v in st.values())
    assert st["max_drawdown"] == pytest.approx(1.05)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="initial"):
        statistics(equity_of([1.0]), fills_of(), no_orders(), initial=0.0, instruments=[])
    with pytest.raises(ValueError, match="period_ns"):
        statistics(equity_of([1.0]), fills_of(), no_orders(), initial=1.0, instruments=[], period_ns=-1)


def test_summary_table_is_aligned_and_formatted() -> None:
    st = statistics(equity_of([100.0, 110.0, 99.0, 120.0], step_s=3600), fills_of(), no_orders(),
                    initial=100.0, instruments=[BTC], currency="USDT")
    text = summary_table(st)
    lines = text.splitlines()
    table = lines[: len(lines) - len(st.footnotes())]
    assert len(table) == len(st) - 3  # the standard errors and the drawdown in money share a row
    assert len({len(line) for line in table}) == 1  # right-aligned values: equal widths
    row = {line.split("  ")[0].strip(): line.split("  ")[-1].strip() for line in table}
    assert row["Total return"] == "20.00%"
    assert row["PnL"] == "20 USDT"
    assert row["Max drawdown"] == "10.00% (11 USDT)"
    assert "7,200 s (02:00:00)" in text  # from the peak at 1 h to the recovery at 3 h
    assert summary_table({"profit_factor": math.inf}).endswith("n/a")
    assert summary_table({"profit_factor": None}).endswith("n/a")


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
    # Two inline scripts of the report's own (error hook, zoom), none with a source; the title
    # cannot add one.
    assert text.lower().count("<script") == 2 and not re.search(r"<script[^>]*src", text, re.I)
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
    # equity, buy and hold, drawdown, rolling Sharpe, price, position
    assert len(re.findall(r'<polyline points="', text)) == 6


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


# ---------------------------------------------------------------- backtests


def test_a_hole_in_the_data_is_one_gap_not_millions_of_samples(synthetic_capture: Path) -> None:
    # Twenty seconds of the synthetic market cut in two, the second half three weeks later.
    import tradecore
    from tradecore.backtest import SYNTHETIC, load_strategy, run_backtest

    events, _ = tradecore.read_binance(synthetic_capture)
    half = len(events) // 2
    first, second = events[:half].copy(), events[half:].copy()
    hole = 21 * 86_400 * S
    for col in ("exch_ts", "local_ts"):
        second[col] += hole
    mm = "examples/market_maker.py:MarketMaker"
    together = run_backtest(load_strategy(mm), [events[:half].copy(), events[half:].copy()], instrument=SYNTHETIC,
                            latency="5ms")
    apart = run_backtest(load_strategy(mm), [first, second], instrument=SYNTHETIC, latency="5ms")
    assert len(together.gaps) == 0 and together.stats["n_gaps"] == 0
    # The samples follow the data: about one a second either way, none for the three weeks.
    assert abs(len(apart.equity) - len(together.equity)) <= 3, (len(apart.equity), len(together.equity))
    assert len(apart.positions) == len(apart.equity) < 40
    assert len(apart.gaps) == 1 and apart.stats["n_gaps"] == 1
    g = apart.gaps[0]
    last_before = int(first["local_ts"].max())
    assert last_before - 5 * 10**6 <= g["start"] <= last_before + S
    assert abs(int(g["start"] + g["length"]) - int(second["exch_ts"].min())) < S
    assert not ((apart.equity["ts"] > g["start"] + S) & (apart.equity["ts"] < g["start"] + g["length"])).any()
    assert apart.stats["gap_time_s"] == pytest.approx(21 * 86_400, rel=1e-4)
    assert apart.stats["covered_s"] < 30
    assert any(n.startswith("Data gap: from 2024-08-09 00:00:") and "(21d 00:00:" in n for n in apart.stats.notes)
    assert "Data gap: from" in apart.summary()


def test_market_maker_without_its_skew_loses_to_informed_flow(tmp_path: Path) -> None:
    import tradecore
    from tradecore.backtest import SYNTHETIC, load_strategy, run_backtest

    # Gross of fees (a rebate would hide the price PnL): a symmetric quoter on the same market,
    # with and without its informed takers (same seed: the same latent price).
    no_fees = {"maker_fee": "0", "taker_fee": "0"}
    pnl = {}
    for share in (0.0, 0.5):
        path = tmp_path / f"synth_{share}.gz"
        written = tradecore.synth_binance(path, seconds=120, seed=7, informed_share=share)
        assert (written["informed_trades"] > 0) == (share > 0)
        quoter = load_strategy("examples/market_maker.py:MarketMaker", {"skew_ticks": "0", "imbalance_ticks": "0"})
        r = run_backtest(quoter, path, instrument=SYNTHETIC, latency="5ms", instrument_fields=no_fees)
        assert r.stats["n_round_trips"] > 300
        pnl[share] = float(r.stats["pnl"] or 0.0)
        if share:
            assert r.stats["win_rate"] is not None and r.stats["win_rate"] < 0.5
            assert r.stats["psr"] is not None and r.stats["psr"] < 0.05  # a loss, not noise
    assert pnl[0.5] < -1.0 and pnl[0.5] < pnl[0.0] - 1.0, pnl


def test_the_demo_prints_believable_numbers(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "tradecore", "backtest", "--strategy",
                          "examples/market_maker.py:MarketMaker", "--data", "synthetic", "--seconds", "120",
                          "--latency", "5ms", "--json", str(tmp_path / "s.json"), "--quiet"],
                         capture_output=True, text=True, check=True)
    doc = json.loads((tmp_path / "s.json").read_text())
    st = doc["stats"]
    assert st["sharpe"] is None and "too short to annualize" in doc["n/a"]["sharpe"]
    assert st["calmar"] is None and st["annualized_return"] is None
    assert 0.3 < st["win_rate"] < 0.95
    assert abs(st["sharpe_period"]) < 3 and st["sharpe_period_se"] > 0
    assert "Sharpe ratio (annualized)" in out.stdout and "n/a (sample too short to annualize)" in out.stdout
    assert " USDT" in out.stdout


def test_a_bad_return_period_is_named() -> None:
    from tradecore.backtest import run_backtest
    from tradecore.errors import InvalidInput
    from tradecore.strategy import Strategy

    with pytest.raises(InvalidInput, match="return_period"):
        run_backtest(Strategy(), "synthetic", synthetic_seconds=5, return_period="soon")
    with pytest.raises(InvalidInput, match="invalid return_period: '100ms' .must be >= the sample interval"):
        run_backtest(Strategy(), "synthetic", synthetic_seconds=5, return_period="100ms")
