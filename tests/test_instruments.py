"""Instrument specs from the venue's own metadata: Binance's exchangeInfo (spot, USD-M,
COIN-M) and leverage brackets read into one Instrument; the bundled snapshot used by default
for recorded data; fees from the venue's standard tier, named with their source; every order
checked against the instrument's filters, the filter named in the refusal; the order grid kept
apart from the data's quantity precision; an inverse contract's size never guessed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tradecore
from tradecore.backtest import run_backtest
from tradecore.errors import InvalidInput
from tradecore.instrument import (
    SNAPSHOT_DATE,
    instruments_from_exchange_info,
    known_instrument,
    load_instruments,
)
from tradecore.strategy import Strategy

from test_accounts import BRACKET, Orders, book

S = tradecore.SCALE


def test_the_bundled_snapshot_carries_binances_specs() -> None:
    usdm = known_instrument("binance-usdm", "BTCUSDT")
    assert usdm is not None
    assert (usdm.kind, usdm.tick_size, usdm.lot_size, usdm.min_qty, usdm.max_qty) == ("linear", "0.1", "0.001",
                                                                                      "0.001", "1000")
    assert (usdm.market_max_qty, usdm.min_notional, usdm.percent_up, usdm.percent_down) == ("120", "100", "1.05",
                                                                                           "0.95")
    assert (usdm.base, usdm.quote, usdm.settle, usdm.liquidation_fee) == ("BTC", "USDT", "USDT", "0.0125")
    assert usdm.brackets is not None and usdm.brackets[0] == (0.0, 50_000.0, 0.004, 0.0, 125.0)
    assert (usdm.maker_fee, usdm.taker_fee) == ("0.0002", "0.0005")
    assert "standard tier" in usdm.fee_source and SNAPSHOT_DATE in usdm.source
    assert not usdm.min_notional_reduce_only  # USD-M exempts reduce-only orders
    cm = known_instrument("binance-coinm", "BTCUSD_PERP")
    eth_cm = known_instrument("binance-coinm", "ETHUSD_PERP")
    assert cm is not None and eth_cm is not None
    assert (cm.kind, cm.contract_size, cm.lot_size, cm.settle) == ("inverse", "100", "1", "BTC")
    assert eth_cm.contract_size == "10"  # Binance's ETHUSD_PERP: 10 USD, not 1
    spot = known_instrument("binance-spot", "ETHUSDT")
    assert spot is not None
    assert (spot.kind, spot.lot_size, spot.min_notional, spot.maker_fee) == ("spot", "0.0001", "5", "0.001")
    assert spot.min_notional_reduce_only


EXCHANGE_INFO = {
    "timezone": "UTC", "serverTime": 1, "rateLimits": [], "exchangeFilters": [],
    "symbols": [{
        "symbol": "SOLUSDT", "pair": "SOLUSDT", "contractType": "PERPETUAL", "status": "TRADING",
        "baseAsset": "SOL", "quoteAsset": "USDT", "marginAsset": "USDT", "liquidationFee": "0.015000",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.4200", "maxPrice": "6857", "tickSize": "0.0100"},
            {"filterType": "LOT_SIZE", "minQty": "1", "maxQty": "1000000", "stepSize": "1"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "1", "maxQty": "5000", "stepSize": "1"},
            {"filterType": "MIN_NOTIONAL", "notional": "5"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"}],
    }, {"symbol": "OLDUSDT", "status": "SETTLING", "filters": []}],
}
BRACKETS = [{"symbol": "SOLUSDT", "brackets": [
    {"bracket": 1, "initialLeverage": 75, "notionalCap": 5000, "notionalFloor": 0, "maintMarginRatio": 0.005, "cum": 0},
    {"bracket": 2, "initialLeverage": 50, "notionalCap": 25000, "notionalFloor": 5000, "maintMarginRatio": 0.01,
     "cum": 25}]}]


def test_an_exchange_info_document_with_brackets_and_fees(tmp_path: Path) -> None:
    insts = instruments_from_exchange_info(EXCHANGE_INFO, BRACKETS, fees={"SOLUSDT": ("0.00018", "0.00045")})
    assert list(insts) == ["SOLUSDT"]  # a symbol not TRADING is left out
    sol = insts["SOLUSDT"]
    assert (sol.venue, sol.kind, sol.tick_size, sol.lot_size, sol.min_notional) == ("binance-usdm", "linear",
                                                                                    "0.01", "1", "5")
    assert sol.brackets == ((0.0, 5000.0, 0.005, 0.0, 75.0), (5000.0, 25000.0, 0.01, 25.0, 50.0))
    assert (sol.maker_fee, sol.taker_fee, sol.fee_source) == ("0.00018", "0.00045", "exchangeInfo")
    path = tmp_path / "exchangeInfo.json"
    path.write_text(json.dumps(EXCHANGE_INFO))
    br = tmp_path / "brackets.json"
    br.write_text(json.dumps(BRACKETS))
    loaded = load_instruments(path, br)[("binance-usdm", "SOLUSDT")]
    assert loaded.brackets == sol.brackets and loaded.source == "exchangeInfo exchangeInfo.json"
    assert loaded.fee_source == "Binance USDⓈ-M standard tier (VIP 0)"
    # A COIN-M symbol without its contract size is refused, never given 1.
    coinm = {"symbols": [{"symbol": "XUSD_PERP", "contractSize": None, "filters": EXCHANGE_INFO["symbols"][0]["filters"]}]}
    with pytest.raises(InvalidInput, match="XUSD_PERP has no contractSize"):
        instruments_from_exchange_info(coinm)


def test_a_toml_of_specs_is_read_strictly(tmp_path: Path) -> None:
    path = tmp_path / "specs.toml"
    path.write_text('[[instrument]]\nvenue = "binance-usdm"\nsymbol = "BTCUSDT"\ntick_size = "0.1"\nlot_size = "0.001"\n'
                    'min_notional = "50"\nmaker_fee = "0.0001"\ntaker_fee = "0.0003"\n')
    inst = load_instruments(path)[("binance-usdm", "BTCUSDT")]
    assert (inst.min_notional, inst.maker_fee, inst.source, inst.fee_source) == ("50", "0.0001", str(path), "given")
    path.write_text('[[instrument]]\nvenue = "binance-usdm"\nsymbol = "BTCUSDT"\ntick_size = "0.1"\nlot_size = "0.001"\n'
                    'min_notionl = "50"\n')
    with pytest.raises(InvalidInput, match=r"specs.toml: \[\[instrument\]\] #1: unknown key 'min_notionl'"):
        load_instruments(path)
    path.write_text('[[instrument]]\nvenue = "x"\nsymbol = "Y"\ntick_size = "0.1"\nlot_size = "0.001"\n')
    with pytest.raises(InvalidInput, match="no standard fee tier known for venue 'x'"):
        load_instruments(path)


def test_fees_are_never_silently_zero_and_inverse_sizes_never_guessed() -> None:
    inst = tradecore.Instrument("binance-coinm", "BTCUSD_PERP", "0.1", "1", kind="inverse", contract_size=100)
    assert (inst.maker_fee, inst.taker_fee) == ("0.0002", "0.0005") and "COIN-M standard tier" in inst.fee_source
    with pytest.raises(InvalidInput, match="an inverse contract's size is never assumed"):
        tradecore.Instrument("binance-coinm", "BTCUSD_PERP", "0.1", "1", kind="inverse")
    with pytest.raises(InvalidInput, match="no standard fee tier known for venue 'somewhere'"):
        tradecore.Instrument("somewhere", "BTCUSDT", "0.1", "0.001")
    with pytest.raises(InvalidInput, match="give both maker_fee and taker_fee"):
        tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001", maker_fee=0)
    zero = tradecore.Instrument("somewhere", "BTCUSDT", "0.1", "0.001", maker_fee=0, taker_fee=0)
    assert zero.fee_source == "given"


def _orders(inst: tradecore.Instrument, *orders: tuple[int, float, float | None],
            reduce_only: bool = False) -> Orders:
    events = np.array(book(0, 59_999.9, 60_000.0) + book(50, 59_999.9, 60_000.0), dtype=tradecore.EVENT_DTYPE)
    s = Orders(*orders)
    run_backtest(s, events, instrument=inst, latency="1ms", feed_latency="1ms", account="none")
    return s


def test_every_order_is_checked_against_the_filters_naming_the_filter() -> None:
    usdm = known_instrument("binance-usdm", "BTCUSDT")
    assert usdm is not None
    s = _orders(usdm,
                (1, 0.01, 59_000.0),      # 590 USDT: passes
                (1, 0.001, 59_000.0),     # 59 USDT < 100
                (1, 0.001, None),         # a market order's notional at the reference: 60 < 100
                (1, 1001.0, 59_000.0),    # above LOT_SIZE maxQty 1000
                (1, 121.0, None),         # above MARKET_LOT_SIZE maxQty 120
                (1, 0.01, 50_000.0),      # below 0.95 x the reference 59,999.95
                (-1, 0.01, 63_001.0),     # above 1.05 x the reference
                (1, 0.01, 500.0))         # below PRICE_FILTER minPrice 556.8
    assert s.refusals[0] is None
    filters = [r[1].split(":")[0] if r else None for r in s.refusals[1:]]
    assert [r[0] if r else None for r in s.refusals[1:]] == ["filter"] * 7
    assert filters == ["MIN_NOTIONAL", "MIN_NOTIONAL", "LOT_SIZE", "MARKET_LOT_SIZE", "PERCENT_PRICE",
                       "PERCENT_PRICE", "PRICE_FILTER"]
    assert s.refusals[1] is not None and "notional 59.00000000 < minNotional 100" in s.refusals[1][1]
    # The same order with a given instrument (no filters) passes: the filters are the spec's.
    plain = tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001")
    assert _orders(plain, (1, 0.001, 59_000.0)).refusals == [None]


def test_filters_as_the_core_checks_them() -> None:
    f = tradecore.OrderFilters(min_qty=0.001, max_qty=1000, min_notional=100, percent_up=1.05, percent_down=0.95,
                               min_price=556.8)
    assert f.check(60_000.0, 0.002, 60_000.0) is None
    assert f.check(60_000.0, 0.001, 60_000.0) == ("MIN_NOTIONAL", "notional 60.00000000 < minNotional 100 (qty "
                                                  "0.001 x price 60000)")
    assert f.check(60_000.0, 0.001, 60_000.0, reduce_only=True) is None
    assert f.check(100.0, 1.0, 0.0) == ("PRICE_FILTER", "price 100 < minPrice 556.8")
    with pytest.raises(InvalidInput, match="min_qty"):
        tradecore.OrderFilters(min_qty=-1)


class Once(Strategy):
    def __init__(self, qty: float) -> None:
        super().__init__()
        self.qty, self.sent, self.reject = qty, False, None

    def on_book(self, book: Any) -> None:
        best = book.best_bid()
        bid = None if best is None else best[0]
        if not self.sent and bid is not None:
            self.sent = True
            if self.ctx.buy(self.qty, round(bid - 1.0, 2)) is None:
                self.reject = self.ctx.last_reject


@pytest.mark.realdata
def test_recordings_use_the_venues_specs_and_keep_the_order_grid_apart_from_the_data(binance_dir: Path) -> None:
    cm = run_backtest(Once(1), binance_dir / "cm_btcusd_perp_20240808.gz", account="none")
    assert "contract 100" in str(cm.params["instruments"]) and "inferred" not in str(cm.params["instruments"])
    assert "COIN-M standard tier" in str(cm.params["instruments"])
    # Spot BTCUSDT: orders in steps of 0.00001, book quantities with more decimals.
    spot_file = binance_dir / "spot_btcusdt_20240808.gz"
    ok = Once(0.001)
    r = run_backtest(ok, spot_file, account="none")
    assert ok.sent and ok.reject is None
    assert "lot 0.00001, data precision 0.000001" in str(r.params["instruments"])
    with pytest.raises(InvalidInput, match="lot grid 0.00001"):
        run_backtest(Once(0.000101), spot_file, account="none")
    small = Once(0.00001)  # 0.6 USDT < NOTIONAL minNotional 5
    run_backtest(small, spot_file, account="none")
    assert small.reject is not None and small.reject[1].startswith("NOTIONAL: notional")


@pytest.mark.realdata
def test_instruments_file_and_zero_fees_on_the_command_line(binance_dir: Path, tmp_path: Path) -> None:
    specs = tmp_path / "specs.toml"
    specs.write_text('[[instrument]]\nvenue = "binance-usdm"\nsymbol = "BTCUSDT"\ntick_size = "0.1"\n'
                     'lot_size = "0.001"\nmaker_fee = "0.0001"\ntaker_fee = "0.0004"\n')
    data = str(binance_dir / "usdm_btcusdt_20240808.gz")
    base = [sys.executable, "-m", "tradecore", "backtest", "--strategy", "examples/market_maker.py:MarketMaker",
            "--data", data, "--account", "none", "--quiet"]
    root = Path(__file__).resolve().parents[1]

    def run(*extra: str) -> str:
        p = subprocess.run([*base, *extra], cwd=root, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        return p.stdout

    default = run()
    assert "maker 0.0200%, taker 0.0500% (Binance USDⓈ-M standard tier (VIP 0))" in default
    assert f"Binance exchangeInfo snapshot {SNAPSHOT_DATE}" in default
    given = run("--instruments", str(specs))
    assert "maker 0.0100%, taker 0.0400% (given)" in given and str(specs) in given
    zero = run("--zero-fees")
    assert "maker 0.0000%, taker 0.0000% (zero fees, as asked (--zero-fees))" in zero
