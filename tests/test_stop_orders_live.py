"""Stop and take-profit orders in real trading and on the exchange simulator: the matching
engine (``SimExchange``) alone, Binance's Algo Service on the simulator through an unmodified
ccxt ``binanceusdm`` (where ccxt sends conditional orders since Binance moved them there), and
``TradingBackend.submit_conditional`` (risk check, journal, gateway) with a scripted gateway and
end to end on the simulator. Every test is bounded in time."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import ccxt
import ccxt.async_support as ccxta
import numpy as np
import pytest
import uvloop

import tradecore
from tradecore._core import OrderBook, SimExchange
from tradecore.errors import InvalidInput
from tradecore.live.exchange_sim import ExchangeSimulator
from tradecore.live.feed import BinanceMarketData
from tradecore.live.gateway import CcxtGateway
from tradecore.live.journal import Journal
from tradecore.live.trading import TradingBackend
from tradecore.strategy import Context, Strategy

from test_trading import Venue, backend, settle

SYM = "BTC/USDT:USDT"
BTC = tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001")


def run(coro: Awaitable[Any], timeout: float = 60) -> Any:
    return uvloop.run(asyncio.wait_for(coro, timeout))


async def until(cond: Callable[[], bool], timeout: float = 20) -> None:
    t = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < t, "timed out"
        await asyncio.sleep(0.02)


def test_the_engine_parks_a_stop_until_its_trigger_then_trades() -> None:
    """A stop-market sell on the mark: refused when it would trigger at once, parked (accepted)
    otherwise, triggered and filled at the bid when the mark falls to it; a stop type without a
    trigger price is refused naming the field."""
    book = OrderBook(0.1, 0.001)
    book.set_level("bid", 100.0, 5)
    book.set_level("ask", 100.1, 3)
    ex = SimExchange(0.1, 0.001)
    assert ex.sync_book(book)
    ex.submit(1, 1, 1.0, None, 1, False, 1)  # long 1 (market buy)
    assert ex.position == 1.0
    assert ex.on_mark(100.0, 2) == []
    (r,) = ex.submit(2, -1, 1.0, None, 1, True, 3, order_type=2, trigger_price=100.0, trigger_by="mark")
    assert r[0] == "rejected" and r[7] == "order would immediately trigger"
    (r,) = ex.submit(3, -1, 1.0, None, 1, True, 4, order_type=2, trigger_price=99.5, trigger_by="mark")
    assert r[0] == "accepted" and not ex.is_idle
    assert ex.on_mark(99.6, 5) == []
    out = ex.on_mark(99.5, 6)
    assert [x[0] for x in out] == ["triggered", "filled"] and out[1][3] == 100.0 and out[1][6] == 0.0
    assert ex.position == 0.0
    with pytest.raises(InvalidInput, match="invalid trigger_price"):
        ex.submit(4, -1, 1.0, None, 1, False, 7, order_type=2)
    with pytest.raises(InvalidInput, match="invalid trigger_by"):
        ex.submit(5, -1, 1.0, None, 1, False, 7, order_type=2, trigger_price=90.0, trigger_by="index")


# --- Binance's Algo Service on the simulator, through ccxt -----------------------------------


async def signed(sim: ExchangeSimulator, method: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
    """A signed request as Binance wants it (not through ccxt, to send what ccxt would not)."""
    q = urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    sig = hmac.new(sim.api_secret.encode(), q.encode(), hashlib.sha256).hexdigest()
    async with aiohttp.ClientSession() as s, s.request(
            method, f"{sim.rest_url}{path}?{q}&signature={sig}", headers={"X-MBX-APIKEY": sim.api_key}) as r:
        return r.status, await r.json()


def later_low(capture: Path, sim: ExchangeSimulator) -> tuple[float, float]:
    """The last trade price now and a trigger below it that a later trade of the replay reaches."""
    events, _ = tradecore.read_binance(capture)
    trades = events[events["kind"] == int(tradecore.Kind.TRADE)]
    last = sim.account.venues["BTCUSDT"].last_trade
    later = trades[trades["local_ts"] > sim.clock_ns]["price"] / 1e9
    below = later[later < last - 0.05]
    assert last > 0 and len(below), "the replay must trade below the last price"
    return last, float(np.round(below[0], 1))


@pytest.fixture(scope="module")
def calm_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic market without informed takers and with the latent price of before (0.15
    tick a step). On the default one a market sell walks several levels at a time, its trades
    print before the book's diff, and the simulator fills a stop triggered by the walk's last
    trade against the levels the diff has not removed yet (above the trigger)."""
    path = tmp_path_factory.mktemp("calm") / "calm.gz"
    tradecore.synth_binance(path, seconds=20, seed=11, informed_share=0.0, volatility_ticks=0.15)
    return path


def test_a_stop_market_sell_through_ccxt_fires_when_the_replay_trades_through_it(calm_capture: Path) -> None:
    """ccxt's create_order(STOP_MARKET, stopPrice) reaches the simulator's Algo Service: parked
    (algo status NEW, not among the open orders), then when a trade of the replay reaches its
    trigger it trades as a market order (ORDER_TRADE_UPDATE with its type and stop price) and
    the algo order is FINISHED; refused -2021 when it would trigger at once, -1102 without a
    trigger price, -4120 on the plain order endpoint, -1106 closePosition with reduceOnly."""

    async def go() -> dict[str, Any]:
        sim = ExchangeSimulator.from_capture(calm_capture, tick_size=0.1, lot_size=0.001, speed=0,
                                             pause_without_clients=False)
        await sim.start()
        sim.pause(at_frame=300)
        sim.start_replay()
        await sim.wait_held(10)
        events: list[dict[str, Any]] = []
        sim.account.on_update(lambda text: events.append(__import__("json").loads(text)))
        ex = ccxta.binanceusdm(sim.ccxt_config())
        try:
            await ex.load_markets()
            await ex.create_order(SYM, "market", "buy", 0.01)
            last, trig = later_low(calm_capture, sim)
            errors = {}
            try:
                await ex.create_order(SYM, "STOP_MARKET", "sell", 0.01, None,
                                      {"stopPrice": last + 0.1, "reduceOnly": True})
            except ccxt.ExchangeError as e:
                errors["now"] = str(e)
            errors["plain"] = await signed(sim, "POST", "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.01", "stopPrice": str(trig)})
            errors["no_trigger"] = await signed(sim, "POST", "/fapi/v1/algoOrder", {
                "algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                "quantity": "0.01"})
            errors["close_reduce"] = await signed(sim, "POST", "/fapi/v1/algoOrder", {
                "algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                "triggerPrice": str(trig), "closePosition": "true", "reduceOnly": "true"})
            placed = await ex.create_order(SYM, "STOP_MARKET", "sell", 0.01, None,
                                           {"stopPrice": trig, "reduceOnly": True, "newClientOrderId": "stop-1"})
            parked = await ex.fetch_order(None, SYM, {"clientAlgoId": "stop-1", "trigger": True})
            open_plain = await ex.fetch_open_orders(SYM)
            sim.resume()
            await until(lambda: sim.account.orders[int(placed["id"])].status == "FILLED")
            done = await ex.fetch_order(None, SYM, {"clientAlgoId": "stop-1", "trigger": True})
            actual = done["info"]["actualOrderId"]
            trades = [t for t in await ex.fetch_my_trades(SYM) if t["order"] == actual]
            by_id = await ex.fetch_order(actual, SYM)
            return {"placed": placed, "parked": parked, "open_plain": open_plain, "done": done, "trades": trades,
                    "by_id": by_id,
                    "errors": errors, "trig": trig, "events": events, "position": sim.exchange("BTCUSDT").position}
        finally:
            await ex.close()
            await sim.stop()

    r = run(go())
    e = r["errors"]
    assert "-2021" in e["now"] and "Order would immediately trigger" in e["now"]
    assert e["plain"] == (400, {"code": -4120, "msg": "Order type not supported for this endpoint. Please use the "
                                                     "Algo Order API endpoints instead."})
    assert e["no_trigger"][1]["code"] == -1102 and "'triggerPrice'" in e["no_trigger"][1]["msg"]
    assert e["close_reduce"][1]["code"] == -1106 and "reduceOnly" in e["close_reduce"][1]["msg"]
    p = r["placed"]
    assert p["status"] == "open" and p["clientOrderId"] == "stop-1" and p["info"]["orderType"] == "STOP_MARKET"
    assert float(p["info"]["triggerPrice"]) == r["trig"] and p["info"]["workingType"] == "CONTRACT_PRICE"
    assert r["parked"]["info"]["algoStatus"] == "NEW" and r["open_plain"] == []
    done = r["done"]["info"]
    assert done["algoStatus"] == "FINISHED" and done["actualOrderId"] not in ("", p["id"])
    o = r["by_id"]  # the order it became in the matching engine
    assert o["status"] == "closed" and o["clientOrderId"] == "stop-1" and o["info"]["origType"] == "STOP_MARKET"
    assert o["info"]["type"] == "MARKET" and float(o["info"]["stopPrice"]) == r["trig"] and o["filled"] == 0.01
    assert sum(t["amount"] for t in r["trades"]) == pytest.approx(0.01) and r["position"] == 0.0
    assert all(t["takerOrMaker"] == "taker" and t["price"] <= r["trig"] + 1e-9 for t in r["trades"])
    algo = [ev["o"]["X"] for ev in r["events"] if ev["e"] == "ALGO_UPDATE"]
    assert algo == ["NEW", "TRIGGERED", "FINISHED"]
    mine = [ev["o"] for ev in r["events"] if ev["e"] == "ORDER_TRADE_UPDATE" and ev["o"]["c"] == "stop-1"]
    assert {str(m["i"]) for m in mine} == {done["actualOrderId"]}
    assert mine[0]["x"] == "NEW" and mine[0]["o"] == "MARKET" and mine[0]["ot"] == "STOP_MARKET"
    assert float(mine[0]["sp"]) == r["trig"] and mine[-1]["X"] == "FILLED"


# --- real trading ------------------------------------------------------------------------------


class Rec(Strategy):
    pass


def test_ctx_sell_with_a_trigger_in_real_trading_is_journaled_and_reaches_the_gateway(tmp_path: Path) -> None:
    """``ctx.sell(qty, trigger_price=...)`` in real trading: risk-checked, journaled (type and
    trigger) before the gateway gets it, and the gateway's record carries them; a take-profit
    limit keeps its price and tif; the risk check refuses as for any order."""
    venue = Venue()
    seen: list[Any] = []
    place = venue.place

    async def spy(o: Any) -> Any:
        seen.append((o.order_type, o.trigger_price, o.trigger_by, o.close_position, o.reduce_only, o.price, o.tif))
        return await place(o)

    venue.place = spy  # type: ignore[method-assign]

    async def go() -> TradingBackend:
        tb, _ = backend(tmp_path, venue)
        ctx = Context(tb, [BTC], logging.getLogger("t"))
        cid = ctx.sell(0.002, trigger_price=63_000.0)
        tp = ctx.sell(0.002, 65_000.0, order_type="take_profit_limit", trigger_price=64_900.0, trigger_by="mark")
        # the risk engine's refusal, as for any order: reduce-only with no position
        assert ctx.sell(0.002, trigger_price=63_000.0, reduce_only=True) is None
        assert tb.last_reject is not None and tb.last_reject[0] == "reduce_only_increases"
        await settle(tb)
        assert venue.seen_pending == [True, True]  # journaled before the gateway saw them
        assert (cid, tp) == (1, 2)
        with pytest.raises(InvalidInput, match="invalid trigger_price"):
            ctx.sell(0.002, trigger_price=63_000.05)
        return tb

    tb = run(go())
    assert seen == [("stop_market", 63_000.0, "last", False, False, 0.0, 1),
                    ("take_profit_limit", 64_900.0, "mark", False, False, 65_000.0, 0)]
    rec = tb.journal.order(1)
    assert rec is not None and rec.status == "open" and rec.order_type == "stop_market"
    assert rec.trigger_price == 63_000.0 and rec.trigger_by == "last"
    rec = tb.journal.order(2)
    assert rec is not None and rec.order_type == "take_profit_limit" and rec.price == 65_000.0
    rec = tb.journal.order(3)
    assert rec is not None and rec.status == "refused" and rec.order_type == "stop_market" and rec.reduce_only


def test_an_old_journal_gets_the_trigger_columns_and_stays_readable(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE orders (client_id INTEGER PRIMARY KEY, instrument INTEGER NOT NULL,
        symbol TEXT NOT NULL, side INTEGER NOT NULL, price REAL NOT NULL, qty REAL NOT NULL, tif INTEGER NOT NULL,
        reduce_only INTEGER NOT NULL, status TEXT NOT NULL, filled REAL NOT NULL DEFAULT 0, venue_order_id TEXT,
        reason TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
        session TEXT NOT NULL DEFAULT '');
        INSERT INTO orders VALUES (7, 0, 'BTCUSDT', 1, 100.0, 1.0, 0, 0, 'filled', 1.0, 'v7', '', 1, 2, 's1');""")
    db.commit()
    db.close()
    j = Journal(path)
    rec = j.order(7)
    assert rec is not None and rec.status == "filled" and rec.order_type == "" and rec.trigger_price == 0.0
    j.close()


def test_real_trading_stop_on_the_simulator_fills_and_the_journal_shows_it(synthetic_capture: Path,
                                                                          tmp_path: Path) -> None:
    """End to end: TradingBackend over CcxtGateway (ccxt and the native gateway) on the
    simulator. A market buy; a take-profit closing the position on the mark, placed with its
    Binance params and cancelled; then a stop-market sell (reduce-only) below the last trade: the
    gateway places it at the Algo Service; when the replay trades through its trigger it fills,
    and the journal has it filled with its type and trigger, the id of the order it became in
    the matching engine, and its fill."""

    async def go(native: bool) -> tuple[Any, list[Any]]:
        sim = ExchangeSimulator.from_capture(synthetic_capture, tick_size=0.1, lot_size=0.001, speed=0,
                                             pause_without_clients=False)
        await sim.start()
        md = BinanceMarketData({"BTCUSDT": (0.1, 0.001)}, ws_url=sim.ws_url, rest_url=sim.rest_url)
        sim.pause(at_frame=1500)
        feed = asyncio.ensure_future(md.run())  # the replay starts when it subscribes
        await sim.wait_held(10)
        gw = CcxtGateway("binanceusdm", ["BTCUSDT"], config=sim.ccxt_config(), native=native, poll_s=0.2)
        journal = Journal(tmp_path / f"journal{int(native)}.sqlite")
        stream = None
        try:
            await gw.connect()
            await until(lambda: md.books["BTCUSDT"].health.in_sync)
            tb = TradingBackend(md, gw, journal, [BTC])
            tb.strategy = Rec()
            stream = asyncio.ensure_future(gw.stream(tb.on_venue_order, tb.on_venue_fill, tb.fills_since_ms))
            assert tb.submit(1, 0.01, None, 1, False, 0) == 1
            await until(lambda: journal.position(0) == pytest.approx(0.01))
            last, trig = later_low(synthetic_capture, sim)
            # a take-profit closing the position on the mark, far away: parked, then cancelled
            tp = tb.submit_conditional(-1, 0.01, None, 4, round(last + 1000, 1), "mark", 1, False, True, 0)
            assert tp == 2
            await until(lambda: getattr(journal.order(2), "status", "") == "open")
            algo = sim.account.orders[int(journal.order(2).venue_order_id or 0)]  # type: ignore[union-attr]
            assert (algo.type, algo.working_type, algo.close_position, algo.reduce_only) == (
                "TAKE_PROFIT_MARKET", "MARK_PRICE", True, True)
            tb.cancel(2)
            await until(lambda: getattr(journal.order(2), "status", "") == "cancelled")
            assert algo.status == "CANCELED"
            cid = tb.submit_conditional(-1, 0.01, None, 2, trig, "last", 1, True, False, 0)
            assert cid == 3
            await until(lambda: getattr(journal.order(3), "status", "") == "open")
            sim.resume()
            await until(lambda: getattr(journal.order(3), "status", "") == "filled", 30)
            await settle(tb)
            actual = next(o.actual_id for o in sim.account.orders.values() if o.triggered)
            return journal.order(3), [f for f in journal.fills() if f.client_id == 3], journal.events("triggered"), actual
        finally:
            if stream is not None:
                stream.cancel()
            md.stop()
            await asyncio.wait_for(feed, 10)
            await gw.close()
            await sim.stop()

    for native in (False, True):
        rec, fills, triggered, actual = run(go(native), 90)
        assert rec.venue_order_id == str(actual) and [(e[1], e[3]) for e in triggered] == [
            (3, f'{{"venue_order_id": "{actual}"}}')]
        assert rec.status == "filled" and rec.order_type == "stop_market" and rec.trigger_by == "last"
        assert rec.trigger_price > 0 and rec.reduce_only and rec.filled == pytest.approx(0.01)
        assert sum(f.qty for f in fills) == pytest.approx(0.01) and all(f.side == -1 for f in fills)


class StopOnce(Strategy):
    """Places one stop-market buy far above the market on its first book."""

    def on_book(self, book: Any) -> None:
        if getattr(self, "sent", False):
            return
        ask = book.best_ask()
        if ask is not None:
            self.sent = True
            self.ctx.buy(0.002, trigger_price=round(ask[0] + 1000.0, 1), trigger_by="mark")


def test_paper_trading_journals_a_stop_order_with_its_type_and_trigger(synthetic_capture: Path,
                                                                       tmp_path: Path) -> None:
    from test_live_trading import paper_session

    journal = Journal(tmp_path / "paper.sqlite")
    res, _, _ = uvloop.run(asyncio.wait_for(paper_session(synthetic_capture, StopOnce(), speed=0, journal=journal),
                                            120))
    journal.close()
    (rec,) = Journal(tmp_path / "paper.sqlite").orders()
    assert (rec.order_type, rec.trigger_by, rec.close_position) == ("stop_market", "mark", False)
    assert rec.trigger_price == pytest.approx(float(res.orders["trigger_price"][0]))
