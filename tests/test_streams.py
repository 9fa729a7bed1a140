"""Every stream of a real recording: Binance markPrice, aggTrade, kline, forceOrder and the
individual bookTicker stream read strictly into normalized events, stored, and seen by
strategies; mark price and funding feed the margin account; --lenient on every command that
reads data, with skipped lines counted by reason; negative quantities, timestamps running
backwards and empty files are errors naming file and line.

The captures are written here in Binance's documented JSON for each stream, in the raw
capture format of the recorded files (``<local receive time ns> <combined-stream JSON>``).
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tradecore
from tradecore import Kind
from tradecore.backtest import run_backtest
from tradecore.cli import main
from tradecore.errors import DataError
from tradecore.strategy import Strategy

REPO = Path(__file__).resolve().parents[1]
MS = 1_000_000
SCALE = tradecore.SCALE


def fx(v: str | int) -> int:
    """A decimal string in the events' fixed point (exact)."""
    return int(Decimal(v) * SCALE)


def write(path: Path, lines: list[bytes]) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(b"\n".join(lines) + (b"\n" if lines else b""))
    return path


def frame(local_ns: int, stream: str, data: dict[str, Any]) -> bytes:
    return f"{local_ns} ".encode() + json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode()


# One message of each stream, as Binance documents it (USD-M futures).
T0 = 1_723_161_600_000  # ms, 2024-08-09 00:00:00 UTC
MARK = {"e": "markPriceUpdate", "E": T0 + 1_010, "s": "BTCUSDT", "p": "60010.10000000", "P": "60008.47600845",
        "i": "60013.04857143", "r": "-0.00002760", "T": T0 + 8 * 3_600_000}
AGG = {"e": "aggTrade", "E": T0 + 1_020, "s": "BTCUSDT", "a": 5_933_014, "p": "60010.2", "q": "0.123", "f": 100,
       "l": 105, "T": T0 + 1_019, "m": True}
KLINE = {"e": "kline", "E": T0 + 1_030, "s": "BTCUSDT",
         "k": {"t": T0 - 60_000, "T": T0 - 1, "s": "BTCUSDT", "i": "1m", "f": 100, "L": 200, "o": "60001.0",
               "c": "60002.5", "h": "60020.0", "l": "59990.1", "v": "1000.125", "n": 101, "x": True,
               "q": "60012345.1234", "V": "500.5", "Q": "30034567.1", "B": "123456"}}
FORCE = {"e": "forceOrder", "E": T0 + 1_040,
         "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.014", "p": "59910", "ap": "59950.5",
               "X": "FILLED", "l": "0.014", "z": "0.014", "T": T0 + 1_039}}
BOOK_TICKER = {"e": "bookTicker", "u": 400_900_217, "E": T0 + 1_050, "T": T0 + 1_049, "s": "BTCUSDT",
               "b": "60010.10", "B": "31.21", "a": "60010.20", "A": "40.66"}


def every_stream(tmp_path: Path) -> Path:
    local = (T0 + 1_000) * MS + 18_000_000
    lines = [
        frame(local, "btcusdt@markPrice@1s", MARK),
        frame(local + 1, "btcusdt@aggTrade", AGG),
        frame(local + 2, "btcusdt@kline_1m", KLINE),
        frame(local + 3, "btcusdt@forceOrder", FORCE),
        frame(local + 4, "btcusdt@bookTicker", BOOK_TICKER),
        frame(local + 5, "btcusdt@markPrice", {**MARK, "E": T0 + 2_010, "r": "0.00010000"}),
    ]
    return write(tmp_path / "streams.gz", lines)


def test_every_stream_is_read_strictly_field_by_field(tmp_path: Path) -> None:
    events, report = tradecore.read_capture(every_stream(tmp_path))
    local = (T0 + 1_000) * MS + 18_000_000
    assert report.skipped_lines == 0 and report.symbol == "BTCUSDT"
    assert [Kind(k) for k in events["kind"]] == [
        Kind.MARK, Kind.FUNDING, Kind.AGG_TRADE, Kind.KLINE, Kind.KLINE_CLOSE, Kind.KLINE_VOLUME,
        Kind.LIQUIDATION, Kind.LIQUIDATION_FILL, Kind.BBO, Kind.BBO, Kind.MARK, Kind.FUNDING]
    assert report.messages["mark_price"] == 2 and report.messages["kline"] == 1
    assert report.messages["force_order"] == 1 and report.messages["agg_trade"] == 1
    last = (events["flags"] & tradecore.Flag.LAST_IN_MESSAGE) != 0
    assert last.tolist() == [False, True, True, False, False, True, False, True, False, True, False, True]
    assert (events["flags"] & tradecore.Flag.OUT_OF_SYNC != 0).all()  # no book: never in sync

    mark, funding = events[0], events[1]
    assert (mark["exch_ts"], mark["local_ts"]) == (MARK["E"] * MS, local)  # E; T is the funding time
    assert (mark["price"], mark["qty"]) == (fx(MARK["p"]), fx(MARK["i"]))
    assert (funding["price"], funding["qty"]) == (fx(MARK["p"]), -27_600)  # rate in 1e-9 units
    assert funding["trade_id"] == MARK["T"] * MS
    assert events[11]["qty"] == 100_000

    agg = events[2]
    assert (agg["price"], agg["qty"], agg["side"]) == (fx(AGG["p"]), fx(AGG["q"]), -1)  # m: the seller aggressed
    assert (agg["trade_id"], agg["first_update_id"], agg["last_update_id"]) == (AGG["a"], AGG["f"], AGG["l"])
    assert agg["exch_ts"] == AGG["T"] * MS

    k = KLINE["k"]
    kl, kc, kv = events[3], events[4], events[5]
    assert all(e["exch_ts"] == KLINE["E"] * MS for e in (kl, kc, kv))
    assert (kl["price"], kl["qty"]) == (fx(k["o"]), fx(k["h"]))
    assert (kl["first_update_id"], kl["last_update_id"], kl["trade_id"]) == (k["t"] * MS, k["T"] * MS, k["n"])
    assert (kc["price"], kc["qty"]) == (fx(k["l"]), fx(k["c"]))
    assert (kc["first_update_id"], kc["last_update_id"], kc["trade_id"]) == (k["f"], k["L"], 60_000)
    assert (kv["price"], kv["qty"]) == (fx(k["v"]), fx(k["V"]))
    assert all(e["flags"] & tradecore.Flag.CLOSED for e in (kl, kc, kv))

    o = FORCE["o"]
    lq, lf = events[6], events[7]
    assert (lq["price"], lq["qty"], lq["side"], lq["exch_ts"]) == (fx(o["p"]), fx(o["q"]), -1, o["T"] * MS)
    assert (lf["price"], lf["qty"], lf["side"]) == (fx(o["ap"]), fx(o["z"]), -1)
    assert lf["flags"] & tradecore.Flag.CLOSED

    bid, ask = events[8], events[9]
    assert (bid["side"], bid["price"], bid["qty"]) == (1, fx("60010.10"), fx("31.21"))
    assert (ask["side"], ask["price"], ask["qty"]) == (-1, fx("60010.20"), fx("40.66"))
    assert bid["last_update_id"] == BOOK_TICKER["u"] and bid["exch_ts"] == BOOK_TICKER["T"] * MS


def test_an_unknown_stream_says_how_to_skip_it_and_lenient_counts_by_reason(tmp_path: Path) -> None:
    good = every_stream(tmp_path)
    lines = gzip.open(good).read().splitlines()
    local = (T0 + 3_000) * MS
    ticker = {"e": "24hrTicker", "E": T0 + 3_000, "s": "BTCUSDT", "l": "59000.0", "i": 1}
    extra = [frame(local, "btcusdt@ticker", ticker), frame(local + 1, "btcusdt@ticker", ticker),
             frame(local + 2, "btcusdt@depth20@100ms", {"lastUpdateId": 1, "bids": [], "asks": []}),
             f"{local + 3} ".encode() + b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,']
    path = write(tmp_path / "unknown.gz", lines + extra)
    with pytest.raises(DataError) as exc:
        tradecore.read_capture(path)
    text = str(exc.value)
    assert f"{path}:7:" in text and "unknown stream 'btcusdt@ticker'" in text
    assert "pass --lenient (lenient=True) to skip streams tradecore does not read" in text
    events, report = tradecore.read_capture(path, lenient=True)
    assert report.skipped_lines == 4
    assert report.skipped == {"unknown stream 'btcusdt@ticker'": 2, "unknown stream 'btcusdt@depth20@100ms'": 1,
                              "malformed JSON": 1}
    assert np.array_equal(events, tradecore.read_capture(good)[0])


def _synthetic_lines(path: Path) -> list[bytes]:
    return gzip.open(path).read().splitlines()


def test_a_negative_quantity_is_an_error_naming_file_and_line(synthetic_capture: Path, tmp_path: Path) -> None:
    lines = _synthetic_lines(synthetic_capture)
    i = next(i for i, line in enumerate(lines) if i > 100 and b'"b":[["' in line and b"depthUpdate" in line)
    ts, _, msg = lines[i].partition(b" ")
    data = json.loads(msg)
    data["data"]["b"][0][1] = "-0.5"
    lines[i] = ts + b" " + json.dumps(data, separators=(",", ":")).encode()
    path = write(tmp_path / "negative.gz", lines)
    with pytest.raises(DataError, match=rf"{path}:{i + 1}: bids\[0\] qty -0.5 is negative"):
        tradecore.read_capture(path)
    # A trade too, and in lenient mode both are counted and skipped.
    j = next(j for j, line in enumerate(lines) if j > i and b"@trade" in line[:60])
    lines[j] = lines[j].replace(b'"q":"', b'"q":"-')
    events, report = tradecore.read_capture(write(tmp_path / "negative2.gz", lines), lenient=True)
    assert report.skipped == {"negative value": 2}
    assert f"negative2.gz:{j + 1}: q -" in report.errors[1]
    assert (events["qty"] >= 0).all()


def test_a_timestamp_running_backwards_beyond_one_second_is_an_error(synthetic_capture: Path,
                                                                     tmp_path: Path) -> None:
    lines = _synthetic_lines(synthetic_capture)
    # Local time an hour back (a recorder's clock step or spliced files).
    i = 5_000
    ts, _, msg = lines[i].partition(b" ")
    lines_local = list(lines)
    lines_local[i] = str(int(ts) - 3_600 * 10**9).encode() + b" " + msg
    path = write(tmp_path / "local.gz", lines_local)
    with pytest.raises(DataError, match=rf"{path}:{i + 1}: local receive time .* runs backwards 3600\.000 s"):
        tradecore.read_capture(path)
    # Exchange time of a trade an hour back while the local time is in order.
    j = next(j for j, line in enumerate(lines) if j > 5_000 and b"@trade" in line[:60])
    data = json.loads(lines[j].partition(b" ")[2])
    data["data"]["T"] -= 3_600_000
    data["data"]["E"] -= 3_600_000
    lines_exch = list(lines)
    lines_exch[j] = lines[j].partition(b" ")[0] + b" " + json.dumps(data, separators=(",", ":")).encode()
    path = write(tmp_path / "exch.gz", lines_exch)
    with pytest.raises(DataError, match=rf"{path}:{j + 1}: exchange time of this trade message .* runs backwards"):
        tradecore.read_capture(path)
    events, report = tradecore.read_capture(path, lenient=True)
    assert report.skipped == {"time runs backwards": 1}
    # Within the tolerance (half a second back) the line is read.
    data["data"]["T"] += 3_600_000 - 500
    data["data"]["E"] += 3_600_000 - 500
    lines_exch[j] = lines[j].partition(b" ")[0] + b" " + json.dumps(data, separators=(",", ":")).encode()
    _, report = tradecore.read_capture(write(tmp_path / "exch_ok.gz", lines_exch))
    assert report.skipped_lines == 0


def test_an_empty_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = write(tmp_path / "empty.gz", [])
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n")
    for path in (empty, blank):
        with pytest.raises(DataError, match=rf"{path}(:2)?: empty file: no data line"):
            tradecore.read_capture(path)
        assert main(["inspect", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tradecore: error:") and "empty file" in err and "(None" not in err
    assert main(["inspect", str(empty), "--lenient"]) == 2
    assert "no data (the file is empty" in capsys.readouterr().err


def _with_marks(synthetic: Path, tmp_path: Path, marks: list[tuple[int, str, str, int]], name: str,
                extra: list[bytes] | None = None) -> Path:
    """The synthetic capture with mark price messages (E ms, mark, rate, next funding ms) merged in
    by local time (18 ms after E, like the synthetic market's own messages)."""
    lines = _synthetic_lines(synthetic)
    for e, mark, rate, t in marks:
        data = {"e": "markPriceUpdate", "E": e, "s": "BTCUSDT", "p": mark, "P": mark,
                "i": str(Decimal(mark) + Decimal("3.2")), "r": rate, "T": t}
        lines.append(frame(e * MS + 18_000_000, "btcusdt@markPrice@1s", data))
    lines += extra or []
    lines.sort(key=lambda line: int(line.partition(b" ")[0]))
    return write(tmp_path / name, lines)


FUNDING_T = T0 + 10_000  # a funding time 10 s into the synthetic market


def _marks() -> list[tuple[int, str, str, int]]:
    out = []
    for k in range(1, 20):
        e = T0 + k * 1_000 + 10
        mark = f"{60_000 + k * 0.5:.8f}"
        if k < 6:
            out.append((e, mark, "0.00010000", FUNDING_T))
        elif k < 10:
            out.append((e, mark, "0.00012000", FUNDING_T))
        elif k == 10:
            # 10 ms after the funding time, still naming it (as Binance's stream does): its rate and
            # its mark are the ones booked.
            out.append((e, mark, "0.00015000", FUNDING_T))
        else:
            out.append((e, mark, "0.00005000", FUNDING_T + 8 * 3_600_000))
    return out


class MarkWatcher(Strategy):
    """Buys 0.01 on the first book in sync, holds it, and keeps every mark price it sees."""

    def on_start(self) -> None:
        self.marks: list[tradecore.MarkPrice] = []
        self.bought = False

    def on_book(self, book: Any) -> None:
        if not self.bought and book.in_sync:
            self.bought = self.ctx.buy(0.01) is not None

    def on_mark(self, mark: tradecore.MarkPrice) -> None:
        self.marks.append(mark)


def test_a_strategy_sees_mark_and_funding_and_funding_is_booked(synthetic_capture: Path, tmp_path: Path) -> None:
    marks = _marks()
    path = _with_marks(synthetic_capture, tmp_path, marks, "marks.gz")
    strategy = MarkWatcher()
    result = run_backtest(strategy, path, latency="1ms")
    assert result.params["account"].startswith("cross margin") or "margin" in str(result.params["account"])
    assert len(strategy.marks) == len(marks)
    for got, (e, mark, rate, t) in zip(strategy.marks, marks, strict=True):
        # The exchange time the loop gave it: the recorded one, never earlier than the event before.
        assert e * MS <= got.exch_ts < (e + 50) * MS
        assert (got.mark, got.next_funding_ts) == (float(mark), t * MS)
        assert got.index == pytest.approx(float(mark) + 3.2, abs=1e-9)
        assert got.funding_rate == pytest.approx(float(rate), abs=1e-15)
        assert got.ts >= got.exch_ts and got.instrument == 0
    assert result.positions["position"][-1] == 0.01
    # Hand computation: Binance's funding = position x mark price x rate, once, at the funding time,
    # with the rate last announced for it (0.00015) and the mark of the first message at or after it.
    paid = 0.01 * (60_000 + 10 * 0.5) * 0.00015
    assert result.equity["funding"][-1] == pytest.approx(paid, rel=1e-12)
    before = result.equity["ts"] < FUNDING_T * MS
    assert (result.equity["funding"][before] == 0).all()
    # Valued at the recorded mark, not at the book's mid.
    assert result.equity["unrealized"][-1] == pytest.approx(
        0.01 * (60_000 + 19 * 0.5 - float(result.fills["price"][0])), abs=1e-6)


def test_an_existing_strategy_runs_unchanged_on_data_with_marks(synthetic_capture: Path, tmp_path: Path) -> None:
    from tradecore.backtest import load_strategy

    path = _with_marks(synthetic_capture, tmp_path, _marks(), "marks.gz")
    mm = load_strategy(f"{REPO / 'examples' / 'market_maker.py'}:MarketMaker", {})
    result = run_backtest(mm, path, latency="1ms")
    assert result.events > 0 and len(result.orders) > 0


def test_the_mark_liquidates_a_margin_account(synthetic_capture: Path, tmp_path: Path) -> None:
    # 50 USDT backing 0.01 BTC (600 USDT at 20x): a mark 17% lower leaves less than the maintenance margin.
    marks = [(T0 + 5_010, "60000.00000000", "0.00010000", FUNDING_T),
             (T0 + 12_010, "49800.00000000", "0.00010000", FUNDING_T + 8 * 3_600_000)]
    path = _with_marks(synthetic_capture, tmp_path, marks, "crash.gz")
    strategy = MarkWatcher()
    result = run_backtest(strategy, path, latency="1ms", initial_capital=50.0)
    liq = result.fills[result.fills["liquidation"]]
    assert len(liq) == 1 and liq["local_ts"][0] >= (T0 + 12_010) * MS
    assert result.positions["position"][-1] == 0


class EveryCallback(Strategy):
    def on_start(self) -> None:
        self.seen: dict[str, list[Any]] = {"mark": [], "agg": [], "kline": [], "liq": []}

    def on_mark(self, mark: tradecore.MarkPrice) -> None:
        self.seen["mark"].append(mark)

    def on_agg_trade(self, trade: Any) -> None:
        self.seen["agg"].append(trade)

    def on_kline(self, kline: tradecore.Kline) -> None:
        self.seen["kline"].append(kline)

    def on_liquidation(self, liquidation: tradecore.Liquidation) -> None:
        self.seen["liq"].append(liquidation)


def test_klines_liquidations_and_agg_trades_reach_the_strategy(synthetic_capture: Path, tmp_path: Path) -> None:
    local = (T0 + 2_000) * MS
    extra = [frame(local, "btcusdt@aggTrade", {**AGG, "E": T0 + 2_000, "T": T0 + 1_999}),
             frame(local + 1, "btcusdt@kline_1m", {**KLINE, "E": T0 + 2_000}),
             frame(local + 2, "btcusdt@forceOrder", {**FORCE, "E": T0 + 2_000,
                                                     "o": {**FORCE["o"], "T": T0 + 2_000}})]
    path = _with_marks(synthetic_capture, tmp_path, [], "more.gz", extra)
    s = EveryCallback()
    run_backtest(s, path, latency="1ms")
    (agg,), (kline,), (liq,) = s.seen["agg"], s.seen["kline"], s.seen["liq"]
    assert (agg.price, agg.qty, agg.side, agg.trade_id) == (60010.2, 0.123, -1, AGG["a"])
    k = KLINE["k"]
    assert (kline.open, kline.high, kline.low, kline.close) == (60001.0, 60020.0, 59990.1, 60002.5)
    assert (kline.volume, kline.taker_buy_volume, kline.trades) == (1000.125, 500.5, 101)
    assert (kline.open_ts, kline.close_ts, kline.interval_ms) == (k["t"] * MS, k["T"] * MS, 60_000)
    assert (kline.first_trade_id, kline.last_trade_id, kline.closed) == (100, 200, True)
    assert (liq.side, liq.price, liq.qty, liq.avg_price, liq.filled_qty, liq.filled) == (
        -1, 59910.0, 0.014, 59950.5, 0.014, True)
    assert s.seen["mark"] == []


def test_the_tick_store_keeps_the_new_kinds(synthetic_capture: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    local = (T0 + 2_000) * MS
    extra = [frame(local + 1, "btcusdt@kline_1m", {**KLINE, "E": T0 + 2_000}),
             frame(local + 2, "btcusdt@forceOrder",
                   {**FORCE, "E": T0 + 2_000, "o": {**FORCE["o"], "T": T0 + 2_000}})]
    path = _with_marks(synthetic_capture, tmp_path, _marks(), "store_in.gz", extra)
    store_dir = tmp_path / "store"
    assert main(["convert", str(path), "--out", str(store_dir), "--quiet"]) == 0
    capsys.readouterr()
    store = tradecore.TickStore(store_dir)
    stored = np.concatenate(list(store.replay()))
    events, _ = tradecore.read_capture(path)
    assert np.array_equal(stored, events)
    assert {Kind.MARK, Kind.FUNDING, Kind.KLINE, Kind.LIQUIDATION_FILL} <= {Kind(k) for k in stored["kind"]}


def _unknown_stream_capture(synthetic: Path, tmp_path: Path) -> Path:
    lines = _synthetic_lines(synthetic)
    ts = int(lines[100].partition(b" ")[0])
    ticker = {"e": "24hrTicker", "E": ts // MS, "s": "BTCUSDT", "c": "60000.0"}
    lines.insert(101, frame(ts, "btcusdt@ticker", ticker))
    lines.insert(102, frame(ts, "btcusdt@ticker", ticker))
    return write(tmp_path / "ticker.gz", lines)


def test_backtest_refuses_an_unknown_stream_and_lenient_counts_it(synthetic_capture: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = _unknown_stream_capture(synthetic_capture, tmp_path)
    strategy = f"{REPO / 'examples' / 'market_maker.py'}:MarketMaker"
    assert main(["backtest", "--strategy", strategy, "--data", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:102: unknown stream 'btcusdt@ticker'" in err and "pass --lenient" in err
    assert main(["backtest", "--strategy", strategy, "--data", str(path), "--quiet", "--lenient"]) == 0
    out = capsys.readouterr().out
    assert "skipped lines" in out and "2 (unknown stream 'btcusdt@ticker': 2)" in out
    assert main(["inspect", str(path), "--lenient"]) == 0
    assert "2 (unknown stream 'btcusdt@ticker': 2) skipped" in capsys.readouterr().out


def test_exchange_sim_reads_leniently_when_asked(synthetic_capture: Path, tmp_path: Path) -> None:
    pytest.importorskip("aiohttp")
    from tradecore.live.exchange_sim import ExchangeSimulator

    path = _unknown_stream_capture(synthetic_capture, tmp_path)
    with pytest.raises(DataError, match="pass --lenient"):
        ExchangeSimulator.from_capture(path)
    sim = ExchangeSimulator.from_capture(path, lenient=True)
    assert len(sim.frames) > 0
    assert sim.capture_report is not None and sim.capture_report.skipped == {"unknown stream 'btcusdt@ticker'": 2}


def test_train_reads_leniently_when_asked(synthetic_capture: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("lightgbm")
    path = _unknown_stream_capture(synthetic_capture, tmp_path)
    out = tmp_path / "model.txt"
    args = ["train", "--data", str(path), "--features", "mid,spread", "--label", "1s", "--sample", "20ms",
            "--out", str(out)]
    assert main(args) == 2
    assert "pass --lenient" in capsys.readouterr().err
    assert main([*args, "--lenient"]) == 0
    assert "2 (unknown stream 'btcusdt@ticker': 2)" in capsys.readouterr().out


def test_the_real_recordings_pass_the_new_checks(binance_dir: Path) -> None:
    for name in ("usdm_btcusdt_20240808.gz", "spot_btcusdt_20240808.gz", "cm_btcusd_perp_20240808.gz"):
        _, report = tradecore.read_capture(binance_dir / name)
        assert report.skipped_lines == 0
    _, report = tradecore.read_capture([binance_dir / "usdm_btcusdt_20240718.gz",
                                        binance_dir / "usdm_btcusdt_20240719.gz"])
    assert report.gap_count == 0


def test_other_formats_refuse_negative_quantities_too(tmp_path: Path) -> None:
    tardis = tmp_path / "trades.csv"
    tardis.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
                      "binance-futures,BTCUSDT,1582329600000000,1582329600100000,1,buy,9600.5,0.1\n"
                      "binance-futures,BTCUSDT,1582329600200000,1582329600300000,2,sell,9600.4,-0.1\n")
    with pytest.raises(DataError, match=rf"{tardis}:3: amount -0.1 is negative"):
        tradecore.read_capture(tardis)
    bybit = tmp_path / "bybit.jsonl"
    bybit.write_text('{"topic":"orderbook.500.XRPUSDT","type":"snapshot","ts":1733011200000,"data":{"s":"XRPUSDT",'
                     '"b":[["1.0","5"],["0.9","-5"]],"a":[],"u":1,"seq":1},"cts":1733011200000}\n')
    with pytest.raises(DataError, match=rf"{bybit}:1: b\[1\] qty -5 is negative"):
        tradecore.read_capture(bybit)
