"""Accounts in the backtest (and paper trading, which runs the same loop): a spot cash account
refuses what it cannot pay for, a margin account refuses what its margin cannot carry and
liquidates a losing position at Binance's documented liquidation price, bad set-ups are
refused naming the field and value. Hand-computed numbers throughout."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tradecore
from tradecore.account import plan_account
from tradecore.backtest import run_backtest
from tradecore.errors import InvalidInput
from tradecore.strategy import Strategy

S = tradecore.SCALE
MS = 1_000_000
SPOT = tradecore.Instrument("binance-spot", "BTCUSDT", tick_size="0.01", lot_size="0.00001", kind="spot",
                            maker_fee="0.001", taker_fee="0.001")
PERP = tradecore.Instrument("binance-usdm", "BTCUSDT", tick_size="0.1", lot_size="0.001", kind="linear",
                            maker_fee="0.0002", taker_fee="0.0005")
BRACKET = [(0.0, float("inf"), 0.004, 0.0, 125.0)]


def ev(x_ms: float, side: int, price: float, qty: float, *, last: bool = True) -> tuple[Any, ...]:
    flags = int(tradecore.Flag.LAST_IN_MESSAGE) if last else 0
    return (int(x_ms * MS), int((x_ms + 1) * MS), round(price * S), round(qty * S), 0, 0, 0, 0, flags,
            int(tradecore.Kind.DEPTH), side)


def book(x_ms: float, bid: float, ask: float, *, clear: tuple[float, float] | None = None) -> list[tuple[Any, ...]]:
    rows = []
    if clear is not None:
        rows += [ev(x_ms, 1, clear[0], 0, last=False), ev(x_ms, -1, clear[1], 0, last=False)]
    return [*rows, ev(x_ms, 1, bid, 1000, last=False), ev(x_ms, -1, ask, 1000)]


class Orders(Strategy):
    """At the first book: the given orders (side, qty, price); keeps refusals and updates."""

    def __init__(self, *orders: tuple[int, float, float | None]) -> None:
        super().__init__()
        self.orders = orders
        self.refusals: list[tuple[str, str] | None] = []
        self.updates: list[Any] = []
        self.accounts: list[Any] = []
        self.done = False

    def on_book(self, book: Any) -> None:
        if not self.done:
            self.done = True
            for side, qty, price in self.orders:
                send = self.ctx.buy if side > 0 else self.ctx.sell
                if send(qty, price) is None:
                    self.refusals.append(self.ctx.last_reject)
                else:
                    self.refusals.append(None)
        self.accounts.append(self.ctx.account())

    def on_fill(self, fill: Any) -> None:
        self.updates.append(fill)


def test_a_spot_sell_without_the_asset_and_a_buy_beyond_the_quote_are_refused() -> None:
    events = np.array(book(0, 59_999.99, 60_000.0) + book(100, 59_999.98, 60_000.01), dtype=tradecore.EVENT_DTYPE)
    s = Orders((-1, 1000.0, None), (1, 2.0, 60_000.0), (1, 1.0, 60_000.0))
    r = run_backtest(s, events, instrument=SPOT, latency="1ms", feed_latency="1ms", initial_capital=100_000)
    # no BTC at all; 2 x 60,000 = 120,000 USDT with 100,000; 1 x 60,000 is paid for
    assert s.refusals[0] == ("insufficient_balance", "insufficient BTC: needs 1000, 0 available")
    assert s.refusals[1] == ("insufficient_balance", "insufficient USDT: needs 120000, 100000 available")
    assert s.refusals[2] is None
    assert r.account.kind == "cash"
    # bought 1 BTC at 60,000 (taker 0.1% of the BTC received): 0.999 BTC, 40,000 USDT
    free_btc, locked_btc = r.account.balances["BTC"]
    assert free_btc == pytest.approx(0.999) and locked_btc == 0.0
    assert r.account.balances["USDT"] == (pytest.approx(40_000.0), 0.0)
    assert list(r.orders["status"][:2]) == [tradecore.OrderStatus.REFUSED] * 2
    assert r.positions["position"].min() >= 0  # never short on spot
    assert "cash (spot): USDT 100000" in str(r.params["account"])


def test_an_order_beyond_the_available_margin_is_refused() -> None:
    # 500 BTC valued at the mid 59,999.95 (a market order has no price) = 29,999,975 USDT of
    # notional on a 100k wallet at 20x: needs 1,499,998.75 of initial margin
    events = np.array(book(0, 59_999.9, 60_000.0) + book(100, 59_999.8, 60_000.1), dtype=tradecore.EVENT_DTYPE)
    s = Orders((1, 500.0, None), (1, 1.0, None))
    r = run_backtest(s, events, instrument=PERP, latency="1ms", feed_latency="1ms", initial_capital=100_000,
                     brackets={"BTCUSDT": BRACKET}, liquidation_fee=0.0125)
    code, msg = s.refusals[0]  # type: ignore[misc]
    assert code == "insufficient_margin"
    assert msg.startswith("insufficient USDT: needs 1499998.75, 100000 available"), msg
    assert s.refusals[1] is None
    # long 1 at 60,000: initial margin 3,000 at 20x; fee 0.0005 x 60,000 = 30
    a = r.account
    assert a.kind == "margin" and a.asset == "USDT" and a.leverage == [20.0]
    assert a.balances["USDT"][0] == pytest.approx(100_000 - 30)
    assert r.fills["qty"].sum() == 1.0


def test_a_leveraged_long_is_liquidated_at_binances_one_way_liquidation_price() -> None:
    # Long 10 at 60,000 (taker 0.0005: fee 300) on a 10,000 wallet at 75x: notional 600,000,
    # initial margin 8,000. WB = 9,700; MMR 0.004, cum 0:
    #   LP = (WB + cum - Q*EP) / (Q*MMR - Q) = (9,700 - 600,000) / (0.04 - 10) = 59,267.06...
    wb = 10_000 - 10 * 60_000 * 0.0005
    lp = (wb - 10 * 60_000) / (10 * 0.004 - 10)
    events = (book(0, 59_999.9, 60_000.0)
              + book(2_000, 59_300.0, 59_300.1, clear=(59_999.9, 60_000.0))      # above LP: no liquidation
              + book(4_000, 59_200.0, 59_200.1, clear=(59_300.0, 59_300.1))      # below LP: liquidated
              + book(6_000, 59_100.0, 59_100.1, clear=(59_200.0, 59_200.1)))
    s = Orders((1, 10.0, None))
    r = run_backtest(s, np.array(events, dtype=tradecore.EVENT_DTYPE), instrument=PERP, latency="1ms",
                     feed_latency="1ms", initial_capital=10_000, leverage=75, brackets={"BTCUSDT": BRACKET},
                     liquidation_fee=0.0125)
    before = [a for a in s.accounts if a.liquidation_prices[0] is not None]
    assert before and before[0].liquidation_prices[0] == pytest.approx(lp, rel=1e-12)
    liq = r.fills[r.fills["liquidation"]]
    assert len(liq) == 1
    assert (liq["side"][0], liq["qty"][0], liq["price"][0]) == (-1, 10.0, 59_200.0)   # at the best bid
    assert liq["fee"][0] == pytest.approx(0.0125 * 10 * 59_200.0)                       # clearance fee 7,400
    assert r.orders["liquidation"].sum() == 1
    assert [u.reason for u in s.updates] == ["", "liquidation"]
    # wallet 9,700 - 8,000 realized - 7,400 fee < 0: the insurance fund brings it back to 0
    assert r.account.balances["USDT"][0] == pytest.approx(0.0, abs=1e-9)
    assert r.account.equity == pytest.approx(0.0, abs=1e-9)
    assert r.positions["position"][-1] == 0.0


def test_account_set_ups_refuse_bad_input_naming_field_and_value() -> None:
    events = np.array(book(0, 59_999.9, 60_000.0), dtype=tradecore.EVENT_DTYPE)

    def go(**kw: Any) -> None:
        run_backtest(Orders(), events, instrument=PERP, latency="1ms", feed_latency="1ms", **kw)

    known = {"brackets": {"BTCUSDT": BRACKET}, "liquidation_fee": 0.0125}
    for lev, msg in [(0, "invalid leverage of BTCUSDT: 0"), (-2, "invalid leverage of BTCUSDT: -2"),
                     (float("nan"), "invalid leverage of BTCUSDT: nan"), ("10", "invalid leverage of BTCUSDT: '10'"),
                     (200, "invalid leverage: 200")]:
        with pytest.raises(InvalidInput, match=f"^{msg}"):
            go(leverage=lev, **known)
    with pytest.raises(InvalidInput, match="no maintenance-margin brackets for test/ETHUSDT"):
        plan_account([tradecore.Instrument("test", "ETHUSDT", "0.01", "0.001", maker_fee=0, taker_fee=0)])
    with pytest.raises(InvalidInput, match="^invalid initial_capital: -5"):
        go(initial_capital=-5, **known)
    spot = np.array(book(0, 59_999.99, 60_000.0), dtype=tradecore.EVENT_DTYPE)
    for bal, msg in [({"USDT": -1.0}, r"invalid balances\['USDT'\]: -1.0"),
                     ({"USDT": "lots"}, r"invalid balances\['USDT'\]: 'lots'"),
                     ({"DOGE": 5.0}, "invalid balances: 'DOGE' is not an asset")]:
        with pytest.raises(InvalidInput, match=f"^{msg}"):
            run_backtest(Orders(), spot, instrument=SPOT, balances=bal)
    with pytest.raises(InvalidInput, match="^invalid account: 'cash' for binance-usdm/BTCUSDT"):
        go(account="cash")
    with pytest.raises(InvalidInput, match="^invalid account: 'isolated'"):
        go(account="isolated")


def test_a_spot_market_buy_never_costs_more_than_it_reserved() -> None:
    # 1,000 USDT; asks 1 @ 100 and 100 @ 120: a market buy of 9 reserves 9 x 105 (5% above the
    # mid... the reference) and walks no level above its protection: it buys the 1 at 100,
    # the rest is cancelled, and the run goes on.
    rows = [ev(0, 1, 99.99, 5, last=False), ev(0, -1, 100.0, 1, last=False), ev(0, -1, 120.0, 100),
            ev(100, 1, 99.98, 5)]
    s = Orders((1, 9.0, None))
    r = run_backtest(s, np.array(rows, dtype=tradecore.EVENT_DTYPE), instrument=SPOT, latency="1ms",
                     feed_latency="1ms", balances={"USDT": 1_000})
    assert s.refusals == [None]
    assert list(r.fills["price"]) == [100.0] and list(r.fills["qty"]) == [1.0]
    assert r.orders["status"][0] == tradecore.OrderStatus.CANCELLED
    assert r.account.balances["USDT"] == (pytest.approx(900.0), 0.0)


def test_a_cash_accounts_statistics_start_from_its_own_balances() -> None:
    events = np.array(book(0, 59_999.99, 60_000.0) + book(2_000, 59_999.98, 60_000.01), dtype=tradecore.EVENT_DTYPE)
    s = Orders()
    r = run_backtest(s, events, instrument=SPOT, latency="1ms", feed_latency="1ms", balances={"USDT": 5_000})
    assert r.stats["total_return"] == 0.0 and r.params["initial_capital"] == 5_000
    assert s.accounts[0].equity == 5_000
    with pytest.raises(InvalidInput, match="^invalid account: spot instruments quoted in BTC, USDT"):
        plan_account([SPOT, tradecore.Instrument("binance-spot", "ETHBTC", "0.00001", "0.0001", kind="spot")])
