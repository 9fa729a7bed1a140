"""Tardis.dev CSV and Bybit order book recordings: the same normalized events as Binance,
checked against independent readings of the files with the standard library."""

from __future__ import annotations

import csv
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import tradecore
from tradecore import Flag, Kind
from tradecore.errors import DataError

SCALE = Decimal(tradecore.SCALE)


def fx(s: str) -> int:
    """A decimal string in the core's fixed point, exactly."""
    return int(Decimal(s) * SCALE)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_tardis_trades_match_the_csv(tardis_dir: Path) -> None:
    path = tardis_dir / "tardis-binance-futures_trades_BTCUSDT_2020-02-22.csv"
    events, report = tradecore.read_capture(path)
    rows = _rows(path)
    assert report.format == "tardis:trades" and report.venue == "binance-futures"
    assert report.symbol == "BTCUSDT" and report.records == len(rows) == len(events) == 9999
    assert (events["kind"] == Kind.TRADE).all()
    assert (events["flags"] & Flag.LAST_IN_MESSAGE).all()
    assert events["trade_id"].tolist() == [int(r["id"]) for r in rows]
    assert events["price"].tolist() == [fx(r["price"]) for r in rows]
    assert events["qty"].tolist() == [fx(r["amount"]) for r in rows]
    assert events["exch_ts"].tolist() == [int(r["timestamp"]) * 1000 for r in rows]
    assert events["local_ts"].tolist() == [int(r["local_timestamp"]) * 1000 for r in rows]
    side = {"buy": 1, "sell": -1}
    assert events["side"].tolist() == [side[r["side"]] for r in rows]


def test_tardis_book_snapshots_rebuild_the_top_of_the_book(tardis_dir: Path) -> None:
    path = tardis_dir / "tardis-binance-futures_book_snapshot_25_BTCUSDT.csv"
    events, report = tradecore.read_capture(path)
    rows = _rows(path)
    assert report.format == "tardis:book_snapshot_25" and report.snapshots == len(rows) == 10
    # Each row: a CLEAR, then its levels; replaying row by row, the book equals the row.
    starts = np.flatnonzero(events["kind"] == Kind.CLEAR).tolist() + [len(events)]
    book = tradecore.OrderBook(0.01, 0.001)
    for row, (a, b) in zip(rows, zip(starts, starts[1:]), strict=True):
        book.apply(events[a:b])
        assert events[b - 1]["flags"] & Flag.LAST_IN_MESSAGE
        assert book.best_bid() == (float(row["bids[0].price"]), float(row["bids[0].amount"]))
        assert book.best_ask() == (float(row["asks[0].price"]), float(row["asks[0].amount"]))
        assert book.bid_levels == book.ask_levels == 25


def test_tardis_incremental_book(tardis_dir: Path) -> None:
    path = tardis_dir / "tardis-deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    events, report = tradecore.read_capture(path)
    rows = _rows(path)
    assert report.format == "tardis:incremental_book_L2" and report.venue == "deribit"
    # One snapshot message: a CLEAR, then every row as a snapshot level, the last one flagged.
    assert events["kind"].tolist() == [Kind.CLEAR] + [Kind.SNAPSHOT] * len(rows)
    assert events["price"][1:].tolist() == [fx(r["price"]) for r in rows]
    assert (events["flags"] & Flag.LAST_IN_MESSAGE).nonzero()[0].tolist() == [len(rows)]
    book = tradecore.OrderBook(0.5, 10)
    book.apply(events)
    asks = sorted((Decimal(r["price"]), Decimal(r["amount"])) for r in rows if r["side"] == "ask")
    assert book.best_ask() == (float(asks[0][0]), float(asks[0][1]))


def _bybit_lines(path: Path) -> list[bytes]:
    with zipfile.ZipFile(path) as z:
        return z.read(z.namelist()[0]).splitlines()


def _reference_book(lines: list[bytes]) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for line in lines:
        m = json.loads(line)
        if m["type"] == "snapshot":
            bids.clear()
            asks.clear()
        for side, levels in ((bids, m["data"]["b"]), (asks, m["data"]["a"])):
            for p, q in levels:
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = Decimal(q)
    return bids, asks


def test_bybit_orderbook_replays_without_gaps(bybit_zip: Path) -> None:
    events, report = tradecore.read_capture(bybit_zip)
    lines = _bybit_lines(bybit_zip)
    assert report.format == "bybit" and report.symbol == "XRPUSDT"
    assert report.records == len(lines) == 50 and report.snapshots == 1
    assert report.gap_count == 0 and not (events["flags"] & Flag.OUT_OF_SYNC).any()
    book = tradecore.OrderBook(0.0001, 1)
    book.apply(events)
    bids, asks = _reference_book(lines)
    assert book.bid_levels == len(bids) and book.ask_levels == len(asks)
    best_bid = max(bids)
    assert book.best_bid() == (float(best_bid), float(bids[best_bid]))
    levels = book.levels("ask", 10)
    assert [(Decimal(str(p)), Decimal(str(q))) for p, q in levels] == sorted(asks.items())[:10]
    assert (events["flags"] & Flag.LAST_IN_MESSAGE).sum() == 50


def test_bybit_reports_a_broken_update_chain(bybit_zip: Path, tmp_path: Path) -> None:
    lines = _bybit_lines(bybit_zip)
    cut = lines[:20] + lines[21:]  # one delta lost
    path = tmp_path / "cut.data"
    path.write_bytes(b"\n".join(cut) + b"\n")
    events, report = tradecore.read_capture(path)
    assert report.gap_count == 1
    gap = report.gaps[0]
    assert (gap.check, gap.line, gap.file) == ("u", 21, str(path))
    lost = json.loads(lines[20])["data"]["u"]
    assert (gap.expected, gap.got) == (lost, lost + 1)
    flagged = (events["flags"] & Flag.OUT_OF_SYNC) != 0
    assert not flagged[: gap.event_index].any() and flagged[gap.event_index :].all()
    assert report.unsynced_events == int(flagged.sum())


def test_a_snapshot_repairs_a_bybit_gap(bybit_zip: Path, tmp_path: Path) -> None:
    lines = _bybit_lines(bybit_zip)
    # A delta lost after line 10; at line 30 Bybit re-sends a snapshot of the current book.
    bids, asks = _reference_book(lines[:30])
    last = json.loads(lines[29])
    resent = json.loads(lines[0])
    resent["data"].update(
        u=last["data"]["u"], seq=last["data"]["seq"],
        b=[[str(p), str(q)] for p, q in sorted(bids.items(), reverse=True)],
        a=[[str(p), str(q)] for p, q in sorted(asks.items())],
    )
    path = tmp_path / "repaired.data"
    path.write_bytes(b"\n".join(lines[:10] + lines[11:30] + [json.dumps(resent).encode()] + lines[30:]) + b"\n")
    events, report = tradecore.read_capture(path)
    assert report.gap_count == 1 and report.snapshots == 2
    second_clear = np.flatnonzero(events["kind"] == Kind.CLEAR)[1]
    flagged = (events["flags"] & Flag.OUT_OF_SYNC) != 0
    assert flagged[report.gaps[0].event_index : second_clear].all()
    assert not flagged[second_clear:].any()
    # After the repair the book is the exchange's again.
    book = tradecore.OrderBook(0.0001, 1)
    book.apply(events)
    assert book.in_sync
    bids, asks = _reference_book(lines)
    assert book.bid_levels == len(bids) and book.ask_levels == len(asks)


def test_formats_are_recognised_and_can_be_required(tardis_dir: Path, tmp_path: Path) -> None:
    trades = tardis_dir / "tardis-binance-futures_trades_BTCUSDT_2020-02-22.csv"
    with pytest.raises(DataError, match=r"tardis:trades recording, not binance"):
        tradecore.read_binance(trades)
    assert len(tradecore.read_capture(trades, format="tardis")[0]) == 9999
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("hello world\n")
    with pytest.raises(DataError, match=r"unknown.txt:1: unknown recording format"):
        tradecore.read_capture(unknown)


def test_bad_tardis_rows_name_the_file_and_line(tardis_dir: Path, tmp_path: Path) -> None:
    src = (tardis_dir / "tardis-binance-futures_trades_BTCUSDT_2020-02-22.csv").read_text().splitlines()
    src[5] = src[5].replace(",buy,", ",bought,").replace(",sell,", ",sold,")
    src[7] = src[7].rsplit(",", 1)[0] + ",abc"
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(src) + "\n")
    with pytest.raises(DataError, match=r"bad.csv:6: side 'so?ld|bought'|bad.csv:6: side"):
        tradecore.read_capture(path)
    events, report = tradecore.read_capture(path, lenient=True)
    assert report.skipped_lines == 2 and len(events) == 9997
    assert "bad.csv:8: amount 'abc'" in report.errors[1]


def test_chunked_reading_of_other_venues_equals_a_whole_read(tardis_dir: Path, bybit_zip: Path) -> None:
    for path in (tardis_dir / "tardis-binance-futures_trades_BTCUSDT_2020-02-22.csv", bybit_zip):
        whole, _ = tradecore.read_capture(path)
        chunks = list(tradecore.iter_capture(path, chunk_events=777))
        assert all(len(c) == 777 for c in chunks[:-1])
        assert np.array_equal(np.concatenate(chunks), whole)
