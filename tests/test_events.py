"""The normalized event record as seen from numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tradecore
from tradecore import EVENT_DTYPE, Flag, Kind


def test_dtype_is_the_64_byte_record_with_the_documented_fields() -> None:
    assert EVENT_DTYPE.itemsize == 64
    expected = [
        ("exch_ts", "<i8", 0), ("local_ts", "<i8", 8), ("price", "<i8", 16), ("qty", "<i8", 24),
        ("first_update_id", "<u8", 32), ("last_update_id", "<u8", 40), ("trade_id", "<u8", 48),
        ("instrument", "<u4", 56), ("flags", "<u2", 60), ("kind", "|u1", 62), ("side", "|i1", 63),
    ]
    assert [(n, EVENT_DTYPE.fields[n][0].str, EVENT_DTYPE.fields[n][1]) for n in EVENT_DTYPE.names] == expected


def test_kinds_and_flags_are_stable_codes() -> None:
    assert {k.name: k.value for k in Kind} == {
        "DEPTH": 1, "SNAPSHOT": 2, "CLEAR": 3, "TRADE": 4, "BBO": 5, "MARK": 6, "FUNDING": 7, "AGG_TRADE": 8,
        "KLINE": 9, "KLINE_CLOSE": 10, "KLINE_VOLUME": 11, "LIQUIDATION": 12, "LIQUIDATION_FILL": 13}
    assert Flag.LAST_IN_MESSAGE == 1 and Flag.OUT_OF_SYNC == 2 and Flag.CLOSED == 16
    assert tradecore.SCALE == 10**9


def test_to_float_converts_fixed_point_columns() -> None:
    a = np.array([61_773_600_000_000, 1_000_000], dtype=np.int64)
    assert tradecore.to_float(a).tolist() == [61773.6, 0.001]


def test_arrays_cross_without_copy(synthetic_capture: Path) -> None:
    events, _ = tradecore.read_binance(synthetic_capture)
    # The array's memory is the Rust vector's, handed over without a copy.
    assert not events.flags.owndata and events.base is not None
    assert events.dtype == EVENT_DTYPE and events.flags.c_contiguous
    book = tradecore.OrderBook(0.1, 0.001)
    book.apply(events)
    # A strided view is accepted too (copied internally), with the same result.
    again = tradecore.OrderBook(0.1, 0.001)
    doubled = np.repeat(events, 2)[::2]
    assert not doubled.flags.c_contiguous
    again.apply(doubled)
    assert again.best_bid() == book.best_bid() and again.bid_levels == book.bid_levels


def test_misaligned_buffers_are_copied_not_misread(synthetic_capture: Path) -> None:
    events, _ = tradecore.read_binance(synthetic_capture)
    raw = b"\0\0\0" + events.tobytes()
    odd = np.frombuffer(raw, dtype=EVENT_DTYPE, offset=3)  # 3 bytes off: not 8-byte aligned
    a, b = tradecore.OrderBook(0.1, 0.001), tradecore.OrderBook(0.1, 0.001)
    a.apply(odd)
    b.apply(events)
    assert a.best_bid() == b.best_bid() and a.bid_levels == b.bid_levels


def test_read_only_arrays_are_accepted(synthetic_capture: Path) -> None:
    events, _ = tradecore.read_binance(synthetic_capture)
    events.flags.writeable = False  # lets a large apply release the GIL
    book = tradecore.OrderBook(0.1, 0.001)
    book.apply(events)
    assert book.in_sync


def test_events_survive_a_round_trip_through_bytes(synthetic_capture: Path) -> None:
    events, _ = tradecore.read_binance(synthetic_capture)
    back = np.frombuffer(events.tobytes(), dtype=EVENT_DTYPE)
    assert np.array_equal(back, events)
