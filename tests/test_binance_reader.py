"""The raw Binance capture reader: sync rules, gaps, chunking, bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import tradecore
from tradecore import Flag, Kind
from tradecore.errors import DataError

PAIRS = [
    ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz", "spot"),
    ("usdm_btcusdt_20240718.gz", "usdm_btcusdt_20240719.gz", "usdm"),
    ("cm_btcusd_perp_20240808.gz", "cm_btcusd_perp_20240809.gz", "coinm"),
]


def _lines(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as f:
        return f.read().splitlines()


def _write(path: Path, lines: list[bytes]) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    return path


# --- real data ---------------------------------------------------------------------------


def test_usdm_file_has_the_documented_content(binance_dir: Path) -> None:
    events, report = tradecore.read_binance(binance_dir / "usdm_btcusdt_20240808.gz")
    assert report.messages["depth"] == 6551 and report.messages["snapshot"] == 1
    assert report.gap_count == 0 and report.gaps == []
    assert report.symbol == "BTCUSDT" and report.market == "usdm"
    assert report.ts_units == ["ns"]
    assert report.total_events == len(events) == sum(report.events.values())
    assert report.events["snapshot"] == 2000 and report.events["clear"] == 1
    assert report.events["trade"] == report.messages["trade"]
    assert report.events["bbo"] == 2 * report.messages["book_ticker"]
    assert 340 < report.span_seconds < 350
    # Nothing after the first snapshot is out of sync.
    first_clear = int(np.argmax(events["kind"] == Kind.CLEAR))
    assert not np.any(events["flags"][first_clear:] & Flag.OUT_OF_SYNC)


def test_book_matches_every_book_ticker_at_the_same_update_id(binance_dir: Path) -> None:
    events, _ = tradecore.read_binance(binance_dir / "usdm_btcusdt_20240808.gz")
    book = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
    bbo_at = np.flatnonzero((events["kind"] == Kind.BBO) & (events["side"] == 1))
    is_depth_end = (events["kind"] == Kind.DEPTH) & ((events["flags"] & Flag.LAST_IN_MESSAGE) != 0)
    # The `u` of the last depth message applied before each position.
    depth_u = np.where(is_depth_end, events["last_update_id"], 0)
    last_u = np.maximum.accumulate(depth_u)
    checked, start = 0, 0
    for i in bbo_at:
        if events["last_update_id"][i] != last_u[i]:
            continue
        book.apply(events[start:i])
        start = i
        bid, ask = events[i], events[i + 1]
        assert book.best_bid() == (bid["price"] / 1e9, bid["qty"] / 1e9)
        assert book.best_ask() == (ask["price"] / 1e9, ask["qty"] / 1e9)
        checked += 1
    assert checked == 126


@pytest.mark.parametrize(("first", "second", "market"), PAIRS)
def test_pairs_replay_as_one_stream_without_gaps(binance_dir: Path, first: str, second: str, market: str) -> None:
    events, report = tradecore.read_binance([binance_dir / first, binance_dir / second])
    assert report.gap_count == 0, report.gaps
    assert report.snapshots == 1 and report.market == market
    assert report.files == [str(binance_dir / first), str(binance_dir / second)]
    # Spot quantities carry up to 8 decimals in the depth stream (finer than today's 1e-5 lot).
    book = tradecore.OrderBook(tick_size=0.1 if market != "spot" else 0.01, lot_size=1 if market == "coinm" else 1e-8)
    book.apply(events)
    assert book.in_sync and not book.is_crossed()


def test_spot_book_tickers_carry_no_exchange_time(binance_dir: Path) -> None:
    events, report = tradecore.read_binance(binance_dir / "spot_btcusdt_20240808.gz")
    bbo = events[events["kind"] == Kind.BBO]
    assert len(bbo) and np.all(bbo["exch_ts"] == 0) and np.all(bbo["flags"] & Flag.NO_EXCH_TS)
    trades = events[events["kind"] == Kind.TRADE]
    assert np.all(trades["exch_ts"] > 0)


def test_a_removed_depth_line_is_reported_as_a_gap(binance_dir: Path, tmp_path: Path) -> None:
    lines = _lines(binance_dir / "usdm_btcusdt_20240808.gz")
    depth = [i for i, line in enumerate(lines) if b"@depth" in line[:80]]
    drop = {depth[3000], depth[3001], depth[5000]}
    path = _write(tmp_path / "holes.gz", [line for i, line in enumerate(lines) if i not in drop])
    events, report = tradecore.read_binance(path)
    # One gap: without a new snapshot in the file, the book stays out of sync after it, so
    # the later hole is inside the out-of-sync region (there is no chain left to check).
    assert report.gap_count == 1
    g = report.gaps[0]
    assert g.check == "pu" and g.file == str(path)
    assert g.line == depth[3002] + 1 - 2  # 1-based, two lines earlier were removed
    # In sync from the snapshot to the gap; from the gap on, every event is flagged out of
    # sync (no new snapshot in the file), emitted as it arrives: local time never goes back.
    oos = (events["flags"] & Flag.OUT_OF_SYNC) != 0
    first_clear = int(np.argmax(events["kind"] == Kind.CLEAR))
    assert not np.any(oos[first_clear : g.event_index])
    assert np.all(oos[g.event_index :])
    assert np.all(np.diff(events["local_ts"][g.event_index :]) >= 0)
    book = tradecore.OrderBook(0.1, 0.001)
    book.apply(events[: g.event_index])
    assert book.in_sync
    book.apply(events[g.event_index : g.event_index + 1])
    assert not book.in_sync  # the first event after the gap already marks the book


def test_decimal_strings_land_exactly_on_the_grid(binance_dir: Path) -> None:
    lines = _lines(binance_dir / "usdm_btcusdt_20240808.gz")
    trades = [json.loads(line.split(b" ", 1)[1])["data"] for line in lines if b"@trade" in line[:80]][:2000]
    events, _ = tradecore.read_binance(binance_dir / "usdm_btcusdt_20240808.gz")
    ev = events[events["kind"] == Kind.TRADE][:2000]
    assert [int(Decimal(t["p"]) * 10**9) for t in trades] == ev["price"].tolist()
    assert [int(Decimal(t["q"]) * 10**9) for t in trades] == ev["qty"].tolist()
    assert [t["t"] for t in trades] == ev["trade_id"].tolist()
    assert [-1 if t["m"] else 1 for t in trades] == ev["side"].tolist()


def test_chunks_equal_the_whole_read(binance_dir: Path) -> None:
    paths = [binance_dir / "usdm_btcusdt_20240718.gz", binance_dir / "usdm_btcusdt_20240719.gz"]
    whole, report = tradecore.read_binance(paths)
    reader = tradecore.iter_binance(paths, chunk_events=50_000)
    chunks = list(reader)
    assert all(len(c) == 50_000 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= 50_000
    assert np.array_equal(np.concatenate(chunks), whole)
    assert reader.report.total_events == report.total_events


def _peak_rss_mb(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def test_chunked_reading_keeps_memory_bounded(binance_dir: Path) -> None:
    paths = [str(binance_dir / "cm_btcusd_perp_20240808.gz"), str(binance_dir / "cm_btcusd_perp_20240809.gz")]
    # VmHWM (peak RSS of this process image) is reset by exec, unlike ru_maxrss.
    hwm = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
    prelude = f"import tradecore, numpy\nbase = {hwm}\n"
    measure = f"\nprint(({hwm} - base) / 1024)"
    chunked = _peak_rss_mb(prelude + f"for c in tradecore.iter_binance({paths!r}, chunk_events=10_000): pass" + measure)
    whole = _peak_rss_mb(prelude + f"ev, _ = tradecore.read_binance({paths!r})" + measure)
    # 763k events x 64 bytes = 49 MB held by a whole read; chunks of 10k are 0.64 MB.
    assert whole > 40
    assert chunked < min(20, whole / 3), f"chunked read grew RSS by {chunked:.1f} MB (whole read: {whole:.1f} MB)"


# --- timestamps, filters, bad input (no recorded data needed) --------------------------


def test_microsecond_local_times_are_detected(synthetic_capture: Path, tmp_path: Path) -> None:
    lines = _lines(synthetic_capture)
    us = [str(int(l.split(b" ", 1)[0]) // 1000).encode() + b" " + l.split(b" ", 1)[1] for l in lines]
    ev_ns, rep_ns = tradecore.read_binance(synthetic_capture)
    ev_us, rep_us = tradecore.read_binance(_write(tmp_path / "us.gz", us))
    assert rep_ns.ts_units == ["ns"] and rep_us.ts_units == ["us"]
    assert np.array_equal(ev_us["local_ts"], ev_ns["local_ts"] // 1000 * 1000)
    assert np.array_equal(ev_us["price"], ev_ns["price"])


def test_plain_text_captures_are_read_too(synthetic_capture: Path, tmp_path: Path) -> None:
    plain = tmp_path / "capture.txt"
    plain.write_bytes(gzip.decompress(synthetic_capture.read_bytes()))
    a, _ = tradecore.read_binance(plain)
    b, _ = tradecore.read_binance(synthetic_capture)
    assert np.array_equal(a, b)


def test_symbol_filter_skips_and_counts_other_symbols(synthetic_capture: Path) -> None:
    # REST snapshots name no symbol: next to another symbol's depth stream they cannot be
    # attributed, and the reader says so instead of applying a foreign book.
    with pytest.raises(DataError, match="cannot tell which symbol this REST snapshot belongs to"):
        tradecore.read_binance(synthetic_capture, symbol="ETHUSDT")
    same, _ = tradecore.read_binance(synthetic_capture, symbol="btcusdt")
    full, _ = tradecore.read_binance(synthetic_capture)
    assert np.array_equal(same, full)


BAD_LINES = [
    (b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":1,"p":"6x","q":"1","m":true}}', "p '6x'"),
    (b'{"stream":"btcusdt@ticker","data":{"e":"24hrTicker"}}', "unknown stream 'btcusdt@ticker'"),
    (b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,', "malformed JSON"),
    (b"", "line is not '<local_time> <json>'"),
]


@pytest.mark.parametrize(("payload", "message"), BAD_LINES)
def test_bad_lines_raise_data_error_naming_file_and_line(
    synthetic_capture: Path, tmp_path: Path, payload: bytes, message: str
) -> None:
    lines = _lines(synthetic_capture)
    bad = b"1723161600123456789 " + payload if payload else b"garbage-without-space"
    path = _write(tmp_path / "bad.gz", lines[:10] + [bad] + lines[10:])
    with pytest.raises(DataError) as exc:
        tradecore.read_binance(path)
    assert f"{path}:11:" in str(exc.value) and message in str(exc.value)
    assert isinstance(exc.value, ValueError)
    events, report = tradecore.read_binance(path, lenient=True)
    assert report.skipped_lines == 1 and len(report.errors) == 1 and message in report.errors[0]
    good, _ = tradecore.read_binance(synthetic_capture)
    assert np.array_equal(events, good)


def test_bad_local_time_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.gz", [b'12345 {"result":null,"id":1}'])
    with pytest.raises(DataError, match="local time '12345'"):
        tradecore.read_binance(path)


def test_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        tradecore.read_binance(tmp_path / "nope.gz")
    with pytest.raises(tradecore.errors.InvalidInput, match="chunk_events"):
        tradecore.iter_binance(tmp_path, chunk_events=0)
    with pytest.raises(tradecore.errors.InvalidInput, match="paths"):
        tradecore.read_binance([])


def test_truncated_gzip_is_an_error_not_a_crash(synthetic_capture: Path, tmp_path: Path) -> None:
    data = synthetic_capture.read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="unreadable data"):
        tradecore.read_binance(cut)
    events, report = tradecore.read_binance(cut, lenient=True)
    assert report.skipped_lines == 1 and len(events) > 0


def _eth(line: bytes) -> bytes:
    return line.replace(b"BTCUSDT", b"ETHUSDT").replace(b"btcusdt", b"ethusdt")


def test_mixed_symbols_need_a_filter(synthetic_capture: Path, tmp_path: Path) -> None:
    lines = _lines(synthetic_capture)
    trade = next(line for line in lines if b"@trade" in line[:60])
    path = _write(tmp_path / "mixed.gz", lines + [_eth(trade)])
    with pytest.raises(DataError, match="mixes symbols BTCUSDT and ETHUSDT"):
        tradecore.read_binance(path)
    _, report = tradecore.read_binance(path, symbol="BTCUSDT")
    assert report.other_symbol_lines == 1 and report.gap_count == 0
    # Another symbol's depth stream makes every snapshot ambiguous: refused, not guessed.
    depth = next(line for line in reversed(lines) if b"@depth" in line[:60])
    with pytest.raises(DataError, match="cannot be attributed to one symbol"):
        tradecore.read_binance(_write(tmp_path / "mixed2.gz", lines + [_eth(depth)]), symbol="BTCUSDT")


def test_a_failed_reader_stays_failed(synthetic_capture: Path, tmp_path: Path) -> None:
    lines = _lines(synthetic_capture)
    path = _write(tmp_path / "bad.gz", lines[:5000] + [b"1723161600123456789 {oops"] + lines[5000:])
    reader = tradecore.iter_binance(path, chunk_events=1000)
    with pytest.raises(DataError, match=":5001:"):
        for _ in reader:
            pass
    with pytest.raises(DataError, match="stopped by an earlier error"):
        next(reader)
