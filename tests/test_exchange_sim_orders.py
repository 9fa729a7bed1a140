"""Orders on the local exchange simulator: the compiled matching engine (``SimExchange``) alone,
then an unmodified ccxt ``binanceusdm`` (async REST and ccxt.pro's user-data stream) trading
against ``ExchangeSimulator`` through overridden URLs, on the recorded capture and on the
synthetic market. Every test is bounded in time."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support as ccxta
import ccxt.pro as ccxtpro
import numpy as np
import pytest
import uvloop

import tradecore
from tradecore._core import OrderBook, SimExchange
from tradecore.errors import InvalidInput
from tradecore.live.exchange_sim import ExchangeSimulator, Faults

from live_helpers import sim_process

SYM = "BTC/USDT:USDT"
LOT = 0.001


def run(coro: Awaitable[Any], timeout: float = 60) -> Any:
    return uvloop.run(asyncio.wait_for(coro, timeout))


# --- the matching engine alone ---------------------------------------------------------------


def engine() -> SimExchange:
    """Bid 100.0 x 5 / asks 100.1 x 3, 100.2 x 4."""
    book = OrderBook(0.1, 0.001)
    book.set_level("bid", 100.0, 5)
    book.set_level("ask", 100.1, 3)
    book.set_level("ask", 100.2, 4)
    ex = SimExchange(0.1, 0.001)
    assert ex.is_idle and ex.sync_book(book)
    return ex


def test_the_engine_walks_the_book_and_answers_with_reports() -> None:
    ex = engine()
    out = ex.submit(1, 1, 5.0, None, 1, False, 10)
    assert out == [("accepted", 1, 10, 0.0, 5.0, False, 5.0, ""), ("filled", 1, 10, 100.1, 3.0, False, 2.0, ""),
                   ("filled", 1, 10, 100.2, 2.0, False, 0.0, "")]
    assert ex.position == 5.0 and not ex.is_idle  # the taken levels wait for the feed
    assert ex.best_ask() == (100.2, 2.0)
    # post-only that would trade, FOK without the liquidity: refused by the exchange
    assert ex.submit(2, 1, 1.0, 100.2, 3, False, 11)[0][::7] == ("rejected", "post-only order would cross")
    assert ex.submit(3, 1, 9.0, 100.2, 2, False, 12)[0][::7] == ("rejected", "fill-or-kill without enough liquidity")
    # a resting order fills when a trade goes through its price; the reports carry the time given
    assert ex.submit(4, -1, 1.0, 100.5, 0, False, 13) == [("accepted", 4, 13, 0.0, 1.0, False, 1.0, "")]
    trade = np.zeros(1, dtype=tradecore.EVENT_DTYPE)
    for name, value in (("exch_ts", 5), ("price", 100_600_000_000), ("qty", 2_000_000_000), ("trade_id", 7),
                        ("kind", tradecore.Kind.TRADE), ("side", 1)):  # a buy at 100.6 goes through 100.5
        trade[name] = value
    assert ex.on_events(trade, 20) == [("filled", 4, 20, 100.5, 1.0, True, 0.0, "")]
    assert ex.cancel(4, 21) == [("rejected", 4, 21, 0.0, 0.0, False, 0.0, "unknown order (filled or cancelled)")]
    assert ex.position == 4.0 and ex.resting == 0


def test_the_engine_refuses_invalid_orders_naming_the_field() -> None:
    ex = engine()
    for args, msg in [((1, 1, 1.0, 100.05, 0, False, 1), "invalid price: 100.05"),
                      ((1, 1, 0.0005, 100.0, 0, False, 1), "invalid qty: 0.0005"),
                      ((1, 1, -1.0, 100.0, 0, False, 1), "invalid qty: -1"),
                      ((1, 2, 1.0, 100.0, 0, False, 1), "invalid side: 2"),
                      ((1, 1, 1.0, 100.0, 7, False, 1), "invalid tif: 7"),
                      ((1, 1, 1.0, None, 3, False, 1), "invalid tif: post-only"),
                      ((1, 1, 1.0, 0.0, 0, False, 1), r"invalid price: 0 \(a limit price must be > 0\)"),
                      ((1, 1, 1.0, -0.0, 1, False, 1), r"invalid price: 0 \(a limit price must be > 0\)"),
                      ((1, 1, 1.0, 1e-400, 1, False, 1), r"invalid price: 0 \(a limit price must be > 0\)"),
                      ((1, 1, 1.0, 1e-12, 1, False, 1), r"invalid price: 0.000000000001 \(smaller than the 1e-9"),
                      ((1, 1, 1.0, -100.0, 0, False, 1), r"invalid price: -100 \(a limit price must be > 0\)"),
                      ((1, -1, 1.0, 100.5, 0, True, 1), "invalid reduce_only: true"),
                      ((1, 1, math.nan, 100.0, 0, False, 1), "invalid qty: NaN")]:
        with pytest.raises(InvalidInput, match=f"^{msg}"):
            ex.submit(*args)
    ex.submit(1, 1, 1.0, 99.0, 0, False, 2)
    with pytest.raises(InvalidInput, match="^invalid client_id: 1"):
        ex.submit(1, 1, 1.0, 99.0, 0, False, 3)
    # a smaller quantity keeps the place, a crossing price is refused and the order kept
    assert ex.modify(1, 1, 0.5, 99.0, False, 4)[0][0] == "modified"
    assert ex.modify(1, 1, 0.5, 100.1, False, 5)[0][0] == "rejected" and ex.resting == 1
    assert not ex.sync_book(OrderBook(0.1, 0.001))  # orders at the exchange: its own book is kept
    with pytest.raises(InvalidInput, match="queue"):
        SimExchange(0.1, 0.001, queue="fifo")


# --- ccxt against the simulator -------------------------------------------------------------


@pytest.fixture(scope="module", params=[pytest.param("recorded", marks=pytest.mark.realdata), "synthetic"])
def capture(request: pytest.FixtureRequest) -> Path:
    if request.param == "recorded":
        d: Path = request.getfixturevalue("binance_dir")
        return d / "usdm_btcusdt_20240718.gz"
    synth: Path = request.getfixturevalue("synthetic_capture")
    return synth


@pytest.fixture(scope="module")
def recorded(binance_dir: Path) -> Path:
    return binance_dir / "usdm_btcusdt_20240718.gz"


@pytest.fixture(scope="module")
def trades_of(capture: Path) -> np.ndarray:
    events, _ = tradecore.read_binance(capture)
    trades: np.ndarray = events[events["kind"] == int(tradecore.Kind.TRADE)]
    return trades


@asynccontextmanager
async def session(capture: Path, *, hold_at: int | None = 300, **kw: Any) -> AsyncIterator[
        tuple[ExchangeSimulator, Any]]:
    """A simulator replaying ``capture`` as fast as possible, held at frame ``hold_at``, and a
    ccxt async client on it."""
    sim = ExchangeSimulator.from_capture(capture, tick_size=0.1, lot_size=LOT, speed=0,
                                         pause_without_clients=False, **kw)
    await sim.start()
    if hold_at is not None:
        sim.pause(at_frame=hold_at)
    sim.start_replay()
    if hold_at is not None:
        await sim.wait_held(10)
    ex = ccxta.binanceusdm(sim.ccxt_config())
    try:
        await ex.load_markets()
        yield sim, ex
    finally:
        await ex.close()
        await sim.stop()


async def until(cond: Callable[[], bool], timeout: float = 20) -> None:
    t = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < t, "timed out"
        await asyncio.sleep(0.02)


async def hold(sim: ExchangeSimulator) -> None:
    """Holds the replay (unless it is over), so that the book and the marks stay put."""
    sim.pause()
    await until(lambda: sim.held or sim.stats.done)


def walk(levels: np.ndarray, qty: float) -> list[tuple[float, float]]:
    """The fills of a taker of ``qty`` on ``levels`` (price, qty), best first."""
    out = []
    for price, size in levels:
        take = min(size, round(qty, 3))
        out.append((float(price), float(take)))
        qty -= take
        if round(qty, 3) <= 0:
            return out
    raise AssertionError("not enough liquidity")


def test_a_post_only_order_rests_then_fills_when_the_replay_trades_through_it(capture: Path,
                                                                             trades_of: np.ndarray) -> None:
    """GTX at the best bid (or ask) rests; watch_orders sees NEW, then FILLED when a trade of
    the replay goes through its price (at the latest); the fill is a maker fill at its price,
    seen by fetch_order (by client id), fetch_my_trades and watch_my_trades."""

    async def go() -> dict[str, Any]:
        async with session(capture) as (sim, ex):
            pro = ccxtpro.binanceusdm(sim.ccxt_config())
            updates: list[dict[str, Any]] = []
            my_trades: list[dict[str, Any]] = []

            async def watch_orders() -> None:
                while True:
                    updates.extend(dict(o) for o in await pro.watch_orders(SYM))  # ccxt updates its own

            async def watch_trades() -> None:
                while True:
                    my_trades.extend(dict(t) for t in await pro.watch_my_trades(SYM))

            tasks = [asyncio.ensure_future(watch_orders()), asyncio.ensure_future(watch_trades())]
            try:
                await until(lambda: sim.stats.user_streams == 1)
                bid, ask = sim.book.best_bid(), sim.book.best_ask()
                assert bid is not None and ask is not None
                later = trades_of[trades_of["local_ts"] > sim.clock_ns]
                prices = later["price"] / 1e9
                through_bid = np.nonzero(prices < bid[0])[0]
                side, price, first_through = (("buy", bid[0], int(later["local_ts"][through_bid[0]]))
                                              if len(through_bid) else
                                              ("sell", ask[0], int(later["local_ts"][np.nonzero(prices > ask[0])[0][0]])))
                placed = await ex.create_order(SYM, "limit", side, 0.01, price,
                                               {"timeInForce": "GTX", "newClientOrderId": "rest-1"})
                assert placed["status"] == "open" and placed["postOnly"] and placed["clientOrderId"] == "rest-1"
                await until(lambda: [u["status"] for u in updates] == ["open"])
                assert sim.exchange("BTCUSDT").resting == 1
                sim.resume()
                await until(lambda: any(u["status"] == "closed" for u in updates) and len(my_trades) > 0)
                await hold(sim)
                got = await ex.fetch_order(None, SYM, {"origClientOrderId": "rest-1"})
                mine = await ex.fetch_my_trades(SYM)
                positions = await ex.fetch_positions([SYM])
                balance = await ex.fetch_balance()
                return {"updates": updates, "ws_trades": my_trades, "order": got, "trades": mine, "side": side,
                        "price": price, "first_through": first_through, "positions": positions,
                        "balance": balance, "sim_position": sim.exchange("BTCUSDT").position}
            finally:
                for t in tasks:
                    t.cancel()
                await pro.close()

    r = run(go())
    assert [u["status"] for u in r["updates"]][0] == "open" and r["updates"][-1]["status"] == "closed"
    o = r["order"]
    assert o["status"] == "closed" and o["filled"] == 0.01 and o["average"] == r["price"]
    assert o["clientOrderId"] == "rest-1" and o["id"] == r["updates"][0]["id"]
    assert len(r["trades"]) >= 1 and all(t["takerOrMaker"] == "maker" and t["price"] == r["price"]
                                         for t in r["trades"])
    assert sum(t["amount"] for t in r["trades"]) == pytest.approx(0.01)
    assert r["trades"][-1]["timestamp"] <= r["first_through"] // 1_000_000  # filled by then at the latest
    assert [t["id"] for t in r["ws_trades"]] == [t["id"] for t in r["trades"]]
    fee = sum(t["fee"]["cost"] for t in r["trades"])
    assert fee == pytest.approx(0.01 * r["price"] * 0.0002)  # the maker rate
    sign = 1 if r["side"] == "buy" else -1
    (p,) = r["positions"]
    assert p["contracts"] == 0.01 and p["side"] == ("long" if sign > 0 else "short") and p["entryPrice"] == r["price"]
    assert r["sim_position"] == sign * 0.01
    usdt = r["balance"]["USDT"]
    assert usdt["total"] == pytest.approx(10_000 - fee + p["unrealizedPnl"], abs=1e-6)


def test_a_market_order_walks_the_book_at_its_prices(capture: Path) -> None:
    """A market buy takes the best asks level by level (compared with the book at that moment)
    and the taken liquidity stays out of the exchange's book; a market sell closes the position
    on the bids; position, realized PnL, fees and balance follow the fills."""

    async def go() -> dict[str, Any]:
        async with session(capture, hold_at=2000) as (sim, ex):
            engine = sim.exchange("BTCUSDT")
            asks, bids = sim.book.levels("ask", 50), sim.book.levels("bid", 50)
            qty = round(asks[0, 1] + asks[1, 1] + LOT, 3)
            buy = await ex.create_order(SYM, "market", "buy", qty)
            left = engine.levels("ask", 1)
            long = await ex.fetch_positions([SYM])
            sell = await ex.create_order(SYM, "market", "sell", qty)
            return {"asks": asks, "bids": bids, "qty": qty, "buy": buy, "sell": sell, "left": left, "long": long,
                    "trades": await ex.fetch_my_trades(SYM), "flat": await ex.fetch_positions([SYM]),
                    "balance": await ex.fetch_balance(), "position": engine.position}

    r = run(go())
    asks, bids, qty = r["asks"], r["bids"], r["qty"]
    buys = [t for t in r["trades"] if t["order"] == r["buy"]["id"]]
    sells = [t for t in r["trades"] if t["order"] == r["sell"]["id"]]
    assert [(t["price"], t["amount"]) for t in buys] == walk(asks, qty)
    assert [(t["price"], t["amount"]) for t in sells] == walk(bids, qty)
    assert len(buys) == 3 and r["left"].tolist() == [[asks[2, 0], round(asks[2, 1] - LOT, 3)]]
    assert all(t["takerOrMaker"] == "taker" for t in r["trades"])
    vwap = sum(t["price"] * t["amount"] for t in buys) / qty
    assert r["buy"]["status"] == "closed" and r["buy"]["filled"] == qty and r["buy"]["average"] == pytest.approx(vwap)
    (p,) = r["long"]
    assert p["contracts"] == qty and p["side"] == "long" and p["entryPrice"] == pytest.approx(vwap)
    assert r["flat"] == [] and r["position"] == 0
    fees = sum(t["fee"]["cost"] for t in r["trades"])
    realized = sum(float(t["info"]["realizedPnl"]) for t in r["trades"])
    paid = sum(t["price"] * t["amount"] * (1 if t["side"] == "buy" else -1) for t in r["trades"])
    assert realized == pytest.approx(-paid, abs=1e-6)  # flat again: the PnL is what was received less paid
    assert fees == pytest.approx(sum(t["price"] * t["amount"] for t in r["trades"]) * 0.0005)  # taker rate
    assert r["balance"]["USDT"]["total"] == pytest.approx(10_000 + realized - fees, abs=1e-6)
    assert r["balance"]["USDT"]["used"] == 0


@pytest.mark.realdata
def test_orders_open_query_cancel_and_the_binance_refusals(recorded: Path) -> None:
    async def go() -> dict[str, Any]:
        async with session(recorded) as (sim, ex):
            bid = sim.book.best_bid()
            ask = sim.book.best_ask()
            assert bid and ask
            out: dict[str, Any] = {}
            a = await ex.create_order(SYM, "limit", "buy", 0.002, bid[0] - 50, {"newClientOrderId": "a"})
            b = await ex.create_order(SYM, "limit", "sell", 0.003, ask[0] + 50, {"newClientOrderId": "b"})
            c = await ex.create_order(SYM, "limit", "sell", 0.004, ask[0] + 60, {"newClientOrderId": "c"})
            out["open"] = sorted(o["clientOrderId"] for o in await ex.fetch_open_orders(SYM))
            out["by_id"] = await ex.fetch_order(b["id"], SYM)
            out["cancel_a"] = await ex.cancel_order(a["id"], SYM)
            out["cancel_c"] = await ex.cancel_order(None, SYM, {"origClientOrderId": "c"})
            errors: dict[str, BaseException] = {}

            async def error(name: str, call: Awaitable[Any]) -> None:
                try:
                    await call
                except Exception as e:  # noqa: BLE001 - the class is what is checked
                    errors[name] = e

            await error("cancel_again", ex.cancel_order(a["id"], SYM))
            await error("query_unknown", ex.fetch_order(None, SYM, {"origClientOrderId": "never-sent"}))
            await error("duplicate", ex.create_order(SYM, "limit", "buy", 0.002, bid[0] - 50,
                                                     {"newClientOrderId": "a"}))
            await error("post_only", ex.create_order(SYM, "limit", "buy", 0.002, ask[0], {
                "timeInForce": "GTX", "newClientOrderId": "po"}))
            await error("fok", ex.create_order(SYM, "limit", "buy", 1000, ask[0], {
                "timeInForce": "FOK", "newClientOrderId": "fok"}))
            await error("reduce_only", ex.create_order(SYM, "market", "sell", 0.001, None, {"reduceOnly": True}))
            ex.markets[SYM]["precision"]["price"] = 0.01  # so that ccxt sends an off-tick price
            await error("tick", ex.create_order(SYM, "limit", "buy", 0.002, bid[0] - 0.05, {
                "newClientOrderId": "tick"}))
            ex.markets[SYM]["precision"]["price"] = 0.1
            await error("min_notional", ex.create_order(SYM, "limit", "buy", 0.001, 100.0))
            await error("post_only_query", ex.fetch_order(None, SYM, {"origClientOrderId": "po"}))
            ioc = await ex.create_order(SYM, "limit", "buy", round(ask[1] + 0.5, 3), ask[0], {"timeInForce": "IOC"})
            out["ioc"] = ioc
            out["ask"] = ask
            out["modified"] = await ex.edit_order(b["id"], SYM, "limit", "sell", 0.002, ask[0] + 70)
            out["bid"] = sim.exchange("BTCUSDT").best_bid()
            out["crossed"] = await ex.edit_order(b["id"], SYM, "limit", "sell", 0.002, bid[0])
            await ex.create_order(SYM, "limit", "sell", 0.002, ask[0] + 80, {"newClientOrderId": "d"})
            out["open_after"] = sorted(o["clientOrderId"] for o in await ex.fetch_open_orders(SYM))
            out["cancel_all"] = await ex.cancel_all_orders(SYM)
            out["open_end"] = await ex.fetch_open_orders(SYM)
            out["errors"] = errors
            out["orders"] = len(sim.account.orders)
            return out

    r = run(go())
    assert r["open"] == ["a", "b", "c"]
    assert r["by_id"]["clientOrderId"] == "b" and r["by_id"]["status"] == "open" and r["by_id"]["amount"] == 0.003
    assert r["cancel_a"]["status"] == "canceled" and r["cancel_c"]["status"] == "canceled"
    e = r["errors"]
    assert isinstance(e["cancel_again"], ccxt.OrderNotFound) and "-2011" in str(e["cancel_again"])
    assert isinstance(e["query_unknown"], ccxt.OrderNotFound) and "-2013" in str(e["query_unknown"])
    # ccxt maps -4116, -2022 and -4164 to InvalidOrder only for URLs of fapi.binance.com (its
    # USD-M table); at any other address they are plain ExchangeErrors carrying the code
    for name, code in (("duplicate", -4116), ("reduce_only", -2022), ("min_notional", -4164)):
        assert type(e[name]) is ccxt.ExchangeError and f'"code": {code},' in str(e[name]), name
    assert isinstance(e["post_only"], ccxt.InvalidOrder) and "-5022" in str(e["post_only"])
    assert isinstance(e["fok"], ccxt.InvalidOrder) and "-5021" in str(e["fok"])
    assert isinstance(e["tick"], ccxt.BadRequest) and "-4014" in str(e["tick"])
    assert isinstance(e["post_only_query"], ccxt.OrderNotFound)  # refused orders are not recorded
    ioc, ask = r["ioc"], r["ask"]
    assert ioc["status"] == "expired" and ioc["filled"] == ask[1] and ioc["average"] == ask[0]
    assert r["modified"]["price"] == ask[0] + 70 and r["modified"]["amount"] == 0.002
    assert r["modified"]["status"] == "open" and r["modified"]["id"] == r["by_id"]["id"]
    # modified to a price that trades: it trades, as a taker, at the bid
    assert r["bid"][1] >= 0.002 and r["crossed"]["status"] == "closed" and r["crossed"]["average"] == r["bid"][0]
    assert r["open_after"] == ["d"]
    assert r["open_end"] == []
    assert r["orders"] == 5  # a, b, c, the IOC and d: refused orders are not recorded


@pytest.mark.realdata
def test_authentication_is_checked_as_binance_does(recorded: Path) -> None:
    async def go() -> dict[str, Any]:
        async with session(recorded) as (sim, ex):
            out: dict[str, Any] = {}
            for name, cfg in [("secret", {"secret": "wrong"}), ("key", {"apiKey": "wrong"})]:
                bad = ccxta.binanceusdm({**sim.ccxt_config(), **cfg})
                try:
                    await bad.fetch_balance()
                except Exception as e:  # noqa: BLE001
                    out[name] = e
                finally:
                    await bad.close()
            late = ccxta.binanceusdm(sim.ccxt_config())
            late.nonce = lambda: time.time_ns() // 1_000_000 - 30_000  # type: ignore[method-assign]
            try:
                await late.fetch_balance()
            except Exception as e:  # noqa: BLE001
                out["timestamp"] = e
            finally:
                await late.close()
            out["ok"] = (await ex.fetch_balance())["USDT"]["total"]
            out["refused"] = sim.stats.auth_refused
            # the signature is over the query string followed by the body (Binance's totalParams)
            import aiohttp

            q, body = "symbol=BTCUSDT&side=BUY", f"type=MARKET&quantity=0.001&timestamp={time.time_ns() // 10**6}"
            sig = hmac.new(b"test-secret", (q + body).encode(), hashlib.sha256).hexdigest()
            async with aiohttp.ClientSession() as s, s.post(
                    f"{sim.rest_url}/fapi/v1/order?{q}", data=f"{body}&signature={sig}",
                    headers={"X-MBX-APIKEY": "test-key",
                             "Content-Type": "application/x-www-form-urlencoded"}) as resp:
                out["mixed"] = (resp.status, await resp.json())
            # a LIMIT order with a price of 0 (or -0, or one that parses to 0) is refused, never
            # filled as a market order
            out["zero"] = []
            for px in ("0", "-0", "1e-400", "-5"):
                body = (f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price={px}"
                        f"&timestamp={time.time_ns() // 10**6}")
                sig = hmac.new(b"test-secret", body.encode(), hashlib.sha256).hexdigest()
                async with aiohttp.ClientSession() as s, s.post(
                        f"{sim.rest_url}/fapi/v1/order", data=f"{body}&signature={sig}",
                        headers={"X-MBX-APIKEY": "test-key",
                                 "Content-Type": "application/x-www-form-urlencoded"}) as resp:
                    out["zero"].append((resp.status, (await resp.json())["code"]))
            return out

    r = run(go())
    assert isinstance(r["secret"], ccxt.AuthenticationError) and "-1022" in str(r["secret"])
    assert isinstance(r["key"], ccxt.AuthenticationError) and "-2015" in str(r["key"])
    assert isinstance(r["timestamp"], ccxt.InvalidNonce) and "-1021" in str(r["timestamp"])
    assert r["ok"] == 10_000 and r["refused"] == 3
    status, order = r["mixed"]
    assert status == 200 and order["status"] == "FILLED" and order["executedQty"] == "0.001"
    assert r["zero"] == [(400, -4001)] * 4


@pytest.mark.realdata
def test_faults_429_unknown_status_and_late_answers(recorded: Path) -> None:
    """429 (-1003) with Retry-After: nothing done; -1007 on HTTP 503: the order was executed,
    and a query by client id finds it; a late answer: the client times out, the order exists."""

    async def go() -> dict[str, Any]:
        faults = Faults(order_429=2, retry_after_s=0.4, order_unknown_every=2)
        async with session(recorded, faults=faults) as (sim, ex):
            bid = sim.book.best_bid()
            assert bid
            out: dict[str, Any] = {"errors": []}

            async def place(coid: str) -> None:
                try:
                    await ex.create_order(SYM, "limit", "buy", 0.002, bid[0] - 20, {"newClientOrderId": coid})
                except Exception as e:  # noqa: BLE001
                    out["errors"].append((coid, e, dict(ex.last_response_headers or {})))

            for coid in ("r1", "r2", "k1", "k2", "k3"):
                await place(coid)
            out["k2"] = await ex.fetch_order(None, SYM, {"origClientOrderId": "k2"})
            out["r1_known"] = "r1" in sim.account.venue("BTCUSDT").client_ids
            sim.faults.order_unknown_every = 0
            sim.faults.order_delay_ms = 800
            ex.timeout = 250
            await place("slow")
            ex.timeout = 10_000
            await asyncio.sleep(0.8)
            out["slow"] = await ex.fetch_order(None, SYM, {"origClientOrderId": "slow"})
            out["stats"] = sim.stats
            return out

    r = run(go())
    (c1, e1, h1), (c2, e2, _h2), (c3, e3, _h3), (c4, e4, _h4) = r["errors"]
    assert (c1, c2) == ("r1", "r2") and isinstance(e1, ccxt.DDoSProtection) and isinstance(e2, ccxt.DDoSProtection)
    assert "429" in str(e1) and "-1003" in str(e1) and h1.get("Retry-After") == "0.4"
    assert not r["r1_known"]
    assert c3 == "k2" and isinstance(e3, ccxt.RequestTimeout) and "-1007" in str(e3)
    assert r["k2"]["status"] == "open" and r["k2"]["clientOrderId"] == "k2"
    assert c4 == "slow" and isinstance(e4, ccxt.RequestTimeout)
    assert r["slow"]["status"] == "open"
    st = r["stats"]
    assert st.orders_429 == 2 and st.orders_unknown == 1 and st.orders_delayed == 1 and st.orders_placed == 4


@pytest.mark.realdata
def test_expire_unfillable_records_post_only_and_fok_as_expired(recorded: Path) -> None:
    async def go() -> list[dict[str, Any]]:
        async with session(recorded, expire_unfillable=True) as (sim, ex):
            ask = sim.book.best_ask()
            assert ask
            po = await ex.create_order(SYM, "limit", "buy", 0.002, ask[0], {"timeInForce": "GTX"})
            fok = await ex.create_order(SYM, "limit", "buy", 1000, ask[0], {"timeInForce": "FOK"})
            return [po, fok, await ex.fetch_order(po["id"], SYM)]

    po, fok, again = run(go())
    assert po["status"] == fok["status"] == again["status"] == "expired" and po["filled"] == 0


@pytest.mark.realdata
def test_the_exchange_keeps_the_state_of_a_killed_client(recorded: Path, tmp_path: Path) -> None:
    """A client killed with SIGKILL after placing orders: a new client finds its open order, its
    fill and its position at the exchange."""
    script = textwrap.dedent("""
        import asyncio, json, sys
        import ccxt.async_support as ccxta

        async def main():
            ex = ccxta.binanceusdm(json.loads(sys.argv[1]))
            await ex.load_markets()
            await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.003, None, {"newClientOrderId": "k-m"})
            await ex.create_order("BTC/USDT:USDT", "limit", "sell", 0.002, float(sys.argv[2]),
                                  {"newClientOrderId": "k-l"})
            print("placed", flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
    """)

    async def go() -> dict[str, Any]:
        import json

        async with session(recorded) as (sim, ex):
            ask = sim.book.best_ask()
            assert ask
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", script, json.dumps(sim.ccxt_config()), str(ask[0] + 100),
                stdout=subprocess.PIPE)
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line.strip() == b"placed"
            proc.kill()
            await proc.wait()
            return {"open": await ex.fetch_open_orders(SYM), "trades": await ex.fetch_my_trades(SYM),
                    "positions": await ex.fetch_positions([SYM]), "market": await ex.fetch_order(
                        None, SYM, {"origClientOrderId": "k-m"})}

    r = run(go())
    assert [o["clientOrderId"] for o in r["open"]] == ["k-l"]
    assert r["market"]["status"] == "closed" and sum(t["amount"] for t in r["trades"]) == pytest.approx(0.003)
    assert r["positions"][0]["contracts"] == 0.003


def test_the_exchange_sim_command_takes_keys_balance_and_order_faults() -> None:
    with sim_process("--data", "synthetic", "--seconds", "5", "--speed", "0", "--api-key", "k1", "--api-secret",
                     "s1", "--balance", "500", "--order-429", "1", "--retry-after", "0.2") as (host, out):
        assert "API key 'k1', balance 500.00 USDT" in out.readline()

        async def go() -> tuple[float, BaseException | None, dict[str, Any]]:
            rest, ws = f"http://{host}", f"ws://{host}"
            urls = {k: f"{rest}/fapi/{v}" for k, v in (("fapiPublic", "v1"), ("fapiPrivate", "v1"),
                                                      ("fapiPrivateV2", "v2"), ("fapiPrivateV3", "v3"))}
            ex = ccxta.binanceusdm({"apiKey": "k1", "secret": "s1", "urls": {"api": {**urls, "ws": {"linear": ws}}},
                                    "options": {"fetchCurrencies": False}})
            try:
                total = (await ex.fetch_balance())["USDT"]["total"]
                bid = (await ex.fetch_order_book(SYM, 5))["bids"][0][0]
                refused = None
                try:
                    await ex.create_order(SYM, "limit", "buy", 0.001, bid - 100)
                except ccxt.DDoSProtection as e:
                    refused = e
                return total, refused, await ex.create_order(SYM, "limit", "buy", 0.001, bid - 100)
            finally:
                await ex.close()

        total, refused, order = run(go(), 30)
        assert total == 500 and isinstance(refused, ccxt.DDoSProtection) and order["status"] == "open"
