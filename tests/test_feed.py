"""tradecore.BinanceFeed: raw websocket messages straight into a synchronised book."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

import tradecore
from tradecore.errors import DataError


def _messages(path: Path) -> list[tuple[int, bytes]]:
    out = []
    with gzip.open(path, "rb") as f:
        for line in f:
            ts, msg = line.rstrip(b"\n").split(b" ", 1)
            out.append((int(ts), msg))
    return out


def _replay(msgs: list[tuple[int, bytes]], tick: float = 0.1, lot: float = 0.001) -> tradecore.BinanceFeed:
    feed = tradecore.BinanceFeed(tradecore.OrderBook(tick, lot))
    for ts, msg in msgs:
        feed.on_message(msg, ts)
    return feed


def _same_book(a: tradecore.OrderBook, b: tradecore.OrderBook) -> None:
    assert (a.bid_levels, a.ask_levels) == (b.bid_levels, b.ask_levels)
    assert np.array_equal(a.levels("bid", 10**6), b.levels("bid", 10**6))
    assert np.array_equal(a.levels("ask", 10**6), b.levels("ask", 10**6))


def test_live_feed_builds_the_same_book_as_the_reader(synthetic_capture: Path) -> None:
    feed = _replay(_messages(synthetic_capture))
    events, _ = tradecore.read_binance(synthetic_capture)
    book = tradecore.OrderBook(0.1, 0.001)
    book.apply(events)
    assert feed.in_sync and feed.gap_count == 0 and feed.pending == 0
    _same_book(feed.book, book)
    assert feed.book.last_update_id == book.last_update_id


def test_live_feed_on_real_usdm_data(binance_dir: Path) -> None:
    msgs = _messages(binance_dir / "usdm_btcusdt_20240808.gz")
    feed = _replay(msgs)
    events, _ = tradecore.read_binance(binance_dir / "usdm_btcusdt_20240808.gz")
    book = tradecore.OrderBook(0.1, 0.001)
    book.apply(events)
    assert feed.in_sync and feed.gap_count == 0 and feed.messages == len(msgs)
    _same_book(feed.book, book)


def test_live_feed_waits_for_a_snapshot_then_detects_a_gap(synthetic_capture: Path) -> None:
    msgs = _messages(synthetic_capture)
    snap = next(i for i, (_, m) in enumerate(msgs) if m.startswith(b'{"lastUpdateId"'))
    feed = tradecore.BinanceFeed(tradecore.OrderBook(0.1, 0.001))
    for ts, m in msgs[:snap]:
        feed.on_message(m, ts)
    # Before the snapshot the levels reach the book flagged: it knows it is not in sync.
    assert not feed.in_sync and feed.pending > 0 and not feed.book.in_sync
    for ts, m in msgs[snap:snap + 200]:
        feed.on_message(m, ts)
    assert feed.in_sync and feed.pending == 0 and feed.book.bid_levels > 0
    depth = [i for i in range(snap + 200, len(msgs)) if b"@depth" in msgs[i][1][:40]]
    for ts, m in msgs[snap + 200:depth[0]]:
        feed.on_message(m, ts)
    feed.on_message(msgs[depth[1]][1], msgs[depth[1]][0])  # skip depth[0]
    assert feed.gap_count == 1 and not feed.in_sync


def test_last_events_returns_the_normalized_events(synthetic_capture: Path) -> None:
    msgs = _messages(synthetic_capture)
    feed = tradecore.BinanceFeed(tradecore.OrderBook(0.1, 0.001))
    trade = next((ts, m) for ts, m in msgs if b"@trade" in m[:40])
    assert feed.on_message(trade[1], trade[0]) == 1
    ev = feed.last_events()
    assert ev.dtype == tradecore.EVENT_DTYPE and ev[0]["kind"] == tradecore.Kind.TRADE
    assert ev[0]["local_ts"] == trade[0]


@pytest.mark.parametrize(
    ("msg", "needle"),
    [
        (b"{", "malformed JSON"),
        (b'{"stream":"x@ticker","data":{}}', "unknown stream"),
        (b'{"stream":"x@kline_1m","data":{}}', "kline message without 'k'"),
        (b'{"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"pu":0,"b":[["1.x","1"]],"a":[]}', "bids[0] price '1.x'"),
        (b"not json at all", "malformed JSON"),
        (b"", "malformed JSON"),
    ],
)
def test_malformed_messages_raise_data_error(msg: bytes, needle: str) -> None:
    feed = tradecore.BinanceFeed(tradecore.OrderBook(0.1, 0.001))
    with pytest.raises(DataError, match=re.escape(needle)):
        feed.on_message(msg)


def test_a_level_off_the_book_grid_is_a_data_error() -> None:
    feed = tradecore.BinanceFeed(tradecore.OrderBook(1.0, 0.001))
    # The snapshot's price is off the 1.0 grid (a wrong tick size for this stream): the
    # message is refused, naming the value, instead of corrupting the book.
    with pytest.raises(DataError, match=r"event 1 does not fit the book: invalid price: 100.5"):
        feed.on_message(b'{"lastUpdateId":5,"bids":[["100.5","1"]],"asks":[]}')
    # The book took part of the message: it no longer mirrors the exchange, and says so.
    assert feed.book.bid_levels == 0 and not feed.book.in_sync and not feed.in_sync
