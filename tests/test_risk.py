"""Risk engine and portfolio from Python: reason codes, clear errors, hand-computed PnL, the
kill switch, limits from TOML."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import tradecore
from tradecore import Portfolio, RiskEngine, RiskLimits
from tradecore.errors import InvalidInput

LIMITS = RiskLimits(max_order_qty=5, max_order_notional=400, max_position=6, price_band_bps=100,
                    max_open_orders=3, max_data_age_ms=1_000, self_trade_prevention=True)


def engine(limits: RiskLimits = LIMITS) -> tuple[RiskEngine, int]:
    e = RiskEngine(limits)
    i = e.add_instrument(contract_size=1.0)
    e.on_market(i, reference=100.0, local_ts=0)
    return e, i


@pytest.mark.parametrize("kwargs,code", [
    ({"instrument": 7, "qty": 1, "price": 100.0}, "unknown_instrument"),
    ({"qty": 6, "price": 100.0}, "max_order_qty"),
    ({"qty": 4.5, "price": 100.0}, "max_order_notional"),
    ({"qty": 1, "price": 102.0}, "price_band"),
    ({"qty": 1, "price": 100.0, "side": "sell", "reduce_only": True}, "reduce_only_increases"),
    ({"qty": 1, "price": 100.0, "now": 2_000_000_000}, "stale_data"),
])
def test_bad_orders_get_their_reason_code(kwargs: dict[str, object], code: str) -> None:
    e, i = engine()
    args: dict[str, object] = {"client_id": 1, "instrument": i, "side": "buy", "now": 0, **kwargs}
    d = e.check(**args)  # type: ignore[arg-type]
    assert not d and d.code == code, d
    assert e.rejected == {code: 1} and e.accepted == 0


def test_worst_case_position_self_trade_and_open_orders() -> None:
    e, i = engine()
    assert e.check(1, i, "buy", 4, 99.5, now=0)
    d = e.check(2, i, "buy", 3, 99.5, now=0)
    assert d.code == "max_position" and "position could reach 7" in d.message and "max_position 6" in d.message
    assert e.check(3, i, "sell", 1, 100.5, now=0)
    assert e.check(4, i, "buy", 1, 100.5, now=0).code == "self_trade"
    assert e.check(1, i, "buy", 1, 99.0, now=0).code == "duplicate_client_id"
    assert e.check(5, i, "buy", 1, 99.0, now=0)
    assert e.check(6, i, "sell", 1, 101.0, now=0).code == "max_open_orders"
    e.order_closed(5)
    e.on_fill(1, 4)
    assert e.position(i) == 4.0 and e.open_orders == 1


def test_the_kill_switch_halts_and_lists_what_to_cancel() -> None:
    e, i = engine(RiskLimits(daily_loss_limit=100, max_drawdown=250))
    assert e.check(1, i, "buy", 1, 99.0, now=0)
    assert e.on_equity(10_000, now=1) is None
    assert e.on_equity(9_899, now=2) == [1]
    assert e.state == "halted" and "daily loss 101.00" in (e.halt_reason or "")
    assert e.check(2, i, "sell", 1, 100.0, now=3).code == "halted"
    e.state = "reducing"
    assert e.check(3, i, "buy", 1, 100.0, now=3).code == "reducing_only"


def test_bad_inputs_raise_clear_errors() -> None:
    e, i = engine()
    for qty, field in ((math.nan, "qty"), (math.inf, "qty"), (-1.0, "qty"), (0.0, "qty")):
        with pytest.raises(InvalidInput, match=f"invalid {field}"):
            e.check(1, i, "buy", qty, 100.0)
    with pytest.raises(InvalidInput, match="invalid price"):
        e.check(1, i, "buy", 1, -5.0)
    with pytest.raises(InvalidInput, match="invalid side: 'up'|invalid side: up"):
        e.check(1, i, "up", 1, 100.0)
    with pytest.raises(InvalidInput, match="invalid max_position"):
        RiskEngine(max_position=0)
    with pytest.raises(InvalidInput, match="invalid price_band_bps"):
        RiskEngine(price_band_bps=math.nan)
    p = Portfolio(1_000)
    with pytest.raises(InvalidInput, match="invalid contract_size"):
        p.add_instrument("linear", contract_size=0)
    with pytest.raises(InvalidInput, match="invalid kind"):
        p.add_instrument("perpetual")


def test_portfolio_by_hand() -> None:
    p = Portfolio(10_000)
    i = p.add_instrument("linear", 1.0, maker_fee=0.0002, taker_fee=0.0005)
    p.fill(i, "buy", 100.0, 1.0)
    p.fill(i, "buy", 110.0, 1.0, maker=True)
    p.fill(i, "sell", 120.0, 0.5)               # realize 0.5 x 15
    p.fill(i, "sell", 90.0, 3.0)                # close 1.5 (-22.5), short 1.5 @ 90
    pos = p.position(i)
    qty, avg, realized, fees = pos.qty, pos.avg_price, pos.realized, pos.fees
    assert (qty, avg) == (-1.5, 90.0) and realized == pytest.approx(-15.0)
    assert fees == pytest.approx(0.05 + 0.022 + 0.03 + 0.135)
    p.mark(i, 80.0)
    assert p.position(i).unrealized == pytest.approx(15.0)
    assert p.position(i).fees == pytest.approx(fees)  # fees and unrealized in their own fields
    assert p.equity == pytest.approx(10_000 - 15 + 15 - fees)
    inv = Portfolio(1.0)
    j = inv.add_instrument("inverse", contract_size=100)
    inv.fill(j, "buy", 50_000, 10)
    inv.fill(j, "buy", 40_000, 10)
    inv.fill(j, "sell", 60_000, 20)
    expected = 1000 * (1 / 50_000 - 1 / 60_000) + 1000 * (1 / 40_000 - 1 / 60_000)
    assert inv.position(j).realized == pytest.approx(expected, rel=1e-12)


def test_limits_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "risk.toml"
    path.write_text("[risk]\nmax_position = 2.5\nprice_band_bps = 30\nmax_submits_per_sec = 10\n")
    limits = RiskLimits.from_toml(path)
    assert (limits.max_position, limits.price_band_bps, limits.max_submits_per_sec) == (2.5, 30, 10)
    e = tradecore.RiskEngine(limits)
    i = e.add_instrument()
    e.on_market(i, 100.0, local_ts=0)
    assert e.check(1, i, "buy", 3, 100.0, now=0).code == "max_position"
    path.write_text("max_posision = 1\n")
    with pytest.raises(InvalidInput, match="unknown key.*max_posision"):
        RiskLimits.from_toml(path)
