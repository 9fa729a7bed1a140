"""Property tests of tradecore.OrderBook against a plain-dict reference model.

Random streams of level updates on a narrow band of ticks (so levels are removed, re-inserted
and overwritten all the time), driven through ``set_level`` and through ``apply`` with
``EVENT_DTYPE`` batches, compared with the model after every step; plus the bad inputs that
must raise ``tradecore.errors.InvalidInput`` (a ``ValueError``) or ``TypeError``.

The model works in integers (ticks of 0.1, lots of 0.001), so expected floats are exact:
``t / 10`` is the float the book returns for a price of ``t`` ticks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tradecore
from tradecore import EVENT_DTYPE, Flag, Kind
from tradecore.errors import InvalidInput

TICK, LOT = 0.1, 0.001
TICK_UNITS, LOT_UNITS = 100_000_000, 1_000_000  # in 1e-9 units
SCALE = 1_000_000_000

PROPS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

BID_NAMES = ["bid", "buy", "BID", "Buy", "b", 1]
ASK_NAMES = ["ask", "sell", "ASK", "Sell", "a", "s", -1]


# --------------------------------------------------------------------------------------------
# Reference model.
# --------------------------------------------------------------------------------------------


@dataclass
class Model:
    """price in ticks -> quantity in lots, per side; plus update id and sync flag."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    last_update_id: int = 0
    in_sync: bool = True

    def side(self, is_bid: bool) -> dict[int, int]:
        return self.bids if is_bid else self.asks

    def set(self, is_bid: bool, ticks: int, lots: int) -> None:
        levels = self.side(is_bid)
        if lots == 0:
            levels.pop(ticks, None)
        else:
            levels[ticks] = lots

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def apply(self, batch: np.ndarray) -> None:
        for e in batch:
            kind = int(e["kind"])
            if kind in (Kind.DEPTH, Kind.SNAPSHOT):
                self.set(int(e["side"]) == 1, int(e["price"]) // TICK_UNITS, int(e["qty"]) // LOT_UNITS)
            elif kind == Kind.CLEAR:
                self.clear()
            else:
                continue
            if int(e["last_update_id"]) != 0:
                self.last_update_id = int(e["last_update_id"])
            self.in_sync = not int(e["flags"]) & Flag.OUT_OF_SYNC

    def levels(self, is_bid: bool) -> list[tuple[int, int]]:
        """(ticks, lots) from the best outwards."""
        return sorted(self.side(is_bid).items(), reverse=is_bid)


def as_floats(levels: list[tuple[int, int]]) -> list[list[float]]:
    return [[t / 10, q / 1000] for t, q in levels]


def expected_cost(m: Model, buy: bool, qty_units: int) -> tuple[float, float] | None:
    """Walk the opposite side in exact integers: (average price, filled quantity)."""
    left, notional = qty_units, 0
    for t, q in m.levels(not buy):
        take = min(left, q * LOT_UNITS)
        notional += take * t * TICK_UNITS
        left -= take
        if left == 0:
            break
    filled = qty_units - left
    if filled == 0:
        return None
    return notional / filled / SCALE, filled / SCALE


def expected_imbalance(m: Model, n: int) -> float | None:
    b = sum(q for _, q in m.levels(True)[:n])
    a = sum(q for _, q in m.levels(False)[:n])
    return None if a + b == 0 else (b - a) / (b + a)


def check(book: tradecore.OrderBook, m: Model, probe_ticks: range, where: str) -> None:
    """Every observable of the book against the model."""
    bids, asks = m.levels(True), m.levels(False)
    assert book.best_bid() == (None if not bids else (bids[0][0] / 10, bids[0][1] / 1000)), where
    assert book.best_ask() == (None if not asks else (asks[0][0] / 10, asks[0][1] / 1000)), where
    assert (book.bid_levels, book.ask_levels) == (len(bids), len(asks)), where
    for name, want in (("bid", bids), ("ask", asks)):
        for n in (0, 2, 10_000):
            got = book.levels(name, n)
            assert isinstance(got, np.ndarray) and got.dtype == np.float64, where
            assert got.shape == (min(n, len(want)), 2), where
            assert got.tolist() == as_floats(want[:n]), (where, name, n)
    for t in [*probe_ticks, *m.bids, *m.asks]:
        assert book.qty_at("bid", t / 10) == m.bids.get(t, 0) / 1000, (where, t)
        assert book.qty_at("ask", t / 10) == m.asks.get(t, 0) / 1000, (where, t)
    assert book.is_crossed() == bool(bids and asks and bids[0][0] >= asks[0][0]), where

    for side, buy in (("buy", True), ("sell", False)):
        total = sum(m.side(not buy).values())  # lots
        for qty_units in {1, LOT_UNITS // 2, LOT_UNITS, 3 * LOT_UNITS, (total // 2) * LOT_UNITS,
                          total * LOT_UNITS, (total + 1) * LOT_UNITS, 10**6 * SCALE}:
            if qty_units <= 0:
                continue
            got = book.cost_to_fill(side, qty_units / SCALE)
            want = expected_cost(m, buy, qty_units)
            if want is None:
                assert got is None, (where, side, qty_units)
            else:
                assert got is not None, (where, side, qty_units)
                assert got[1] == want[1], (where, side, qty_units)
                assert got[0] == pytest.approx(want[0], rel=1e-12), (where, side, qty_units)

    for n in (1, 2, 3, 5, 10, 1000):
        want_imb = expected_imbalance(m, n)
        got_imb = book.imbalance(n)
        if want_imb is None:
            assert got_imb is None, (where, n)
        else:
            assert got_imb == pytest.approx(want_imb, abs=1e-12), (where, n)
    assert book.imbalance() == (None if expected_imbalance(m, 5) is None
                                else pytest.approx(expected_imbalance(m, 5), abs=1e-12)), where


# --------------------------------------------------------------------------------------------
# Strategies.
# --------------------------------------------------------------------------------------------

bands = st.tuples(st.one_of(st.integers(1, 50), st.integers(1_000, 1_000_000)), st.integers(20, 40))
lots = st.one_of(st.just(0), st.just(0), st.integers(1, 5), st.integers(1, 5), st.integers(1_000_000, 10**9))
offsets = st.integers(0, 39)


def sized_lists(elements: st.SearchStrategy, max_size: int) -> st.SearchStrategy:
    """Lists whose length is drawn uniformly (plain st.lists favours short ones)."""
    return st.integers(0, max_size).flatmap(lambda n: st.lists(elements, min_size=n, max_size=n))


# A step of a set_level stream: ("set", is_bid, side name, tick offset, lots) or ("clear",).
set_ops = st.one_of(
    *[st.tuples(st.just("set"), st.just(True), st.sampled_from(BID_NAMES), offsets, lots)] * 12,
    *[st.tuples(st.just("set"), st.just(False), st.sampled_from(ASK_NAMES), offsets, lots)] * 12,
    st.tuples(st.just("clear")),
)


@given(band=bands, ops=sized_lists(set_ops, 120))
@PROPS
def test_set_level_stream_matches_a_dict_after_every_step(band: tuple[int, int], ops: list[tuple]) -> None:
    lo, width = band
    book, m = tradecore.OrderBook(TICK, LOT), Model()
    probes = range(lo - 1, lo + width + 1)
    check(book, m, probes, "empty")
    for i, op in enumerate(ops):
        if op[0] == "clear":
            book.clear()
            m.clear()
        else:
            _, is_bid, name, off, q = op
            t = lo + off % width
            book.set_level(name, t / 10, q / 1000)
            m.set(is_bid, t, q)
        check(book, m, probes, f"after op {i}: {op}")
    assert book.last_update_id == 0 and book.in_sync  # set_level does not touch them


sides = st.sampled_from([1, -1])
# One step of an event stream; laid out as rows by `event_rows`.
event_ops = st.one_of(
    *[st.tuples(st.just("depth"), sides, offsets, lots, st.integers(0, 19).map(lambda x: x == 0))] * 30,
    st.tuples(st.just("clear"), st.booleans()),
    st.tuples(st.just("snapshot"), st.lists(st.tuples(sides, offsets, st.integers(1, 5)), max_size=25)),
    st.tuples(st.just("noise"), st.sampled_from([int(Kind.TRADE), int(Kind.BBO), 0, 200]), st.integers(-128, 127),
              st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("move"), st.sampled_from([-40_000, -24_576, -8_193, 8_192, 24_577, 40_000])),
)
Row = tuple[int, int, int, int, int, int]


def event_rows(ops: list[tuple], lo: int, width: int) -> list[Row]:
    """(kind, side, price units, qty units, last_update_id, flags) rows on the band: depth
    updates, clear + snapshot runs, non-book noise (garbage values, must be ignored) and rare
    moves of the band by thousands of ticks (the book's dense window has to re-centre).
    Update ids increase, and every fourth event carries none (0)."""
    rows: list[Row] = []
    shift, uid = 0, 0
    oos = int(Flag.OUT_OF_SYNC)

    def px(off: int) -> int:
        return round(((max(1, lo + shift) + off % width) / 10) * 1e9)  # price as int64 = round(p * 1e9)

    for i, op in enumerate(ops):
        uid += 1 + i % 3
        u = 0 if i % 4 == 3 else uid
        if op[0] == "depth":
            _, side, off, q, out = op
            rows.append((Kind.DEPTH, side, px(off), q * LOT_UNITS, u, oos if out else 0))
        elif op[0] == "clear":
            rows.append((Kind.CLEAR, 0, 0, 0, u, oos if op[1] else 0))
        elif op[0] == "snapshot":
            rows.append((Kind.CLEAR, 0, 0, 0, u, 0))
            rows.extend((Kind.SNAPSHOT, side, px(off), q * LOT_UNITS, u, 0) for side, off, q in op[1])
        elif op[0] == "noise":
            _, kind, side, price, qty = op
            rows.append((kind, side, price, qty, 2**64 - 1, oos))
        else:
            shift = max(-lo, shift + op[1])
    return rows


def to_array(rows: list[Row]) -> np.ndarray:
    a = np.zeros(len(rows), dtype=EVENT_DTYPE)
    if rows:
        kind, side, price, qty, uid, flags = zip(*rows, strict=True)
        a["kind"], a["side"], a["price"], a["qty"] = kind, side, price, qty
        a["last_update_id"], a["flags"] = uid, flags
    return a


# Batch cuts: (length, whether to pass a copy rather than a view), cycled over the stream;
# the cycle always ends with a non-empty cut so that it makes progress.
cuts = st.lists(st.tuples(st.sampled_from([0, 1, 1, 2, 3, 5, 8, 20, 60]), st.booleans()), max_size=60).map(
    lambda c: [*c, (7, False)]
)


@given(band=bands, ops=sized_lists(event_ops, 150), splits=cuts)
@PROPS
def test_apply_batches_match_a_dict_after_every_batch(
    band: tuple[int, int], ops: list[tuple], splits: list[tuple[int, bool]]
) -> None:
    lo, width = band
    events = to_array(event_rows(ops, lo, width))
    book, m = tradecore.OrderBook(TICK, LOT), Model()
    probes = range(lo - 1, lo + width + 1)
    at, k = 0, 0
    while at < len(events):
        size, copy = splits[k % len(splits)]
        k += 1
        end = min(len(events), at + size)
        batch = events[at:end].copy() if copy else events[at:end]
        book.apply(batch)
        m.apply(batch)
        check(book, m, probes, f"after apply(events[{at}:{end}])")
        assert book.last_update_id == m.last_update_id
        assert book.in_sync == m.in_sync
        at = end
    # A strided (non-contiguous) view is accepted too and gives the same result.
    again = tradecore.OrderBook(TICK, LOT)
    again.apply(np.repeat(events, 2)[::2])
    assert again.levels("bid", 10_000).tolist() == book.levels("bid", 10_000).tolist()
    assert again.levels("ask", 10_000).tolist() == book.levels("ask", 10_000).tolist()


# Ways to spoil one event of a batch: (field, value, substring the message must contain).
SPOILERS = [
    ("price", 0, "price: 0"),
    ("price", -TICK_UNITS, "price: -0.1"),
    ("price", -(2**63), "price"),
    ("price", 1_000 * TICK_UNITS + 50_000_000, "price: 100.05"),
    ("price", 1_000 * TICK_UNITS + 1, "price: 100.000000001"),
    ("qty", -LOT_UNITS, "qty: -0.001"),
    ("qty", 500_000, "qty: 0.0005"),
    ("side", 0, "side: 0"),
    ("side", 2, "side: 2"),
    ("side", -2, "side: -2"),
]


@given(
    band=bands,
    prefix_ops=sized_lists(event_ops, 40),
    batch_ops=sized_lists(event_ops, 20),
    data=st.data(),
    spoiler=st.sampled_from(SPOILERS),
)
@PROPS
def test_a_bad_event_stops_apply_exactly_there(
    band: tuple[int, int], prefix_ops: list[tuple], batch_ops: list[tuple], data: st.DataObject,
    spoiler: tuple[str, int, str],
) -> None:
    """The batch is applied up to the bad event (the documented one-pass contract), the error
    names events[i] and the value, and resuming after it matches the model."""
    lo, width = band
    book, m = tradecore.OrderBook(TICK, LOT), Model()
    prefix = to_array(event_rows(prefix_ops, lo, width))
    book.apply(prefix)
    m.apply(prefix)
    batch = to_array(event_rows(batch_ops, lo, width))
    i = data.draw(st.integers(0, len(batch)), label="bad index")
    bad = to_array([(Kind.DEPTH, 1, 1_000 * TICK_UNITS, LOT_UNITS, 0, 0)])
    name, value, needle = spoiler
    bad[name] = value
    batch = np.concatenate([batch[:i], bad, batch[i:]])

    with pytest.raises(InvalidInput) as exc:
        book.apply(batch)
    assert isinstance(exc.value, ValueError)
    msg = str(exc.value)
    assert msg.startswith(f"events[{i}]: "), msg
    assert needle in msg, msg
    m.apply(batch[:i])
    check(book, m, range(lo - 1, lo + width + 1), f"after a batch stopped at events[{i}]")
    assert (book.last_update_id, book.in_sync) == (m.last_update_id, m.in_sync)

    # A bad first event changes nothing; resuming after it matches the model.
    snapshot = (book.levels("bid", 10_000).tolist(), book.levels("ask", 10_000).tolist(), book.last_update_id)
    with pytest.raises(InvalidInput, match=r"^events\[0\]: "):
        book.apply(batch[i:])
    assert (book.levels("bid", 10_000).tolist(), book.levels("ask", 10_000).tolist(), book.last_update_id) == snapshot
    book.apply(batch[i + 1:])
    m.apply(batch[i + 1:])
    check(book, m, range(lo - 1, lo + width + 1), "after resuming")


# --------------------------------------------------------------------------------------------
# Bad arguments.
# --------------------------------------------------------------------------------------------


@pytest.fixture
def book() -> tradecore.OrderBook:
    b = tradecore.OrderBook(TICK, LOT)
    b.set_level("bid", 100.0, 1.0)
    b.set_level("ask", 100.2, 2.0)
    return b


def book_state(b: tradecore.OrderBook) -> tuple:
    return b.levels("bid", 100).tolist(), b.levels("ask", 100).tolist()


@pytest.mark.parametrize(
    ("side", "price", "qty", "needles"),
    [
        ("bid", math.nan, 1.0, ["price", "NaN"]),
        ("bid", math.inf, 1.0, ["price", "inf"]),
        ("ask", -math.inf, 1.0, ["price", "-inf"]),
        ("bid", -1.0, 1.0, ["price", "-1"]),
        ("ask", -100.0, 1.0, ["price", "-100"]),
        ("bid", 0.0, 1.0, ["price", "0"]),
        ("bid", -0.0, 1.0, ["price", "0"]),
        ("bid", 100.05, 1.0, ["price", "100.05"]),
        ("ask", 100.0000001, 1.0, ["price", "100.0000001"]),
        ("bid", 100.0, -1.0, ["qty", "-1"]),
        ("ask", 100.0, -0.001, ["qty", "-0.001"]),
        ("bid", 100.0, math.nan, ["qty", "NaN"]),
        ("bid", 100.0, math.inf, ["qty", "inf"]),
        ("bid", 100.0, 0.0005, ["qty", "0.0005"]),
        ("ask", 100.0, 1.0001, ["qty", "1.0001"]),
        ("bid", 1e12, 1.0, ["price"]),
        ("foo", 100.0, 1.0, ["side", "'foo'"]),
        ("", 100.0, 1.0, ["side"]),
        (0, 100.0, 1.0, ["side", "0"]),
        (2, 100.0, 1.0, ["side", "2"]),
        (-2, 100.0, 1.0, ["side", "-2"]),
        (None, 100.0, 1.0, ["side", "None"]),
    ],
)
def test_bad_set_level_raises_invalid_input_and_changes_nothing(
    book: tradecore.OrderBook, side: object, price: float, qty: float, needles: list[str]
) -> None:
    before = book_state(book)
    with pytest.raises(InvalidInput) as exc:
        book.set_level(side, price, qty)  # type: ignore[arg-type]
    assert isinstance(exc.value, ValueError)
    assert isinstance(exc.value, tradecore.errors.TradecoreError)
    for needle in needles:
        assert needle in str(exc.value), str(exc.value)
    assert book_state(book) == before


@pytest.mark.parametrize(
    ("tick", "lot", "needle"),
    [
        (0, 0.001, "tick_size"),
        (0.0, 0.001, "tick_size"),
        (-0.1, 0.001, "tick_size"),
        (math.nan, 1, "tick_size"),
        (math.inf, 1, "tick_size"),
        (0.1, 0, "lot_size"),
        (0.1, -0.001, "lot_size"),
        (0.1, math.nan, "lot_size"),
        (1e-10, 1, "tick_size"),  # rounds to 0 at 1e-9 resolution
    ],
)
def test_bad_grids_raise_invalid_input(tick: float, lot: float, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle) as exc:
        tradecore.OrderBook(tick, lot)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda b: b.cost_to_fill("buy", 0.0), "qty"),
        (lambda b: b.cost_to_fill("sell", -1.0), "qty"),
        (lambda b: b.cost_to_fill("buy", math.nan), "qty"),
        (lambda b: b.cost_to_fill("foo", 1.0), "side"),
        (lambda b: b.imbalance(0), "levels"),
        (lambda b: b.levels("bid", -1), "n"),
        (lambda b: b.levels(2, 1), "side"),
        (lambda b: b.qty_at("bid", math.nan), "price"),
    ],
)
def test_bad_query_arguments_raise_invalid_input(book: tradecore.OrderBook, call, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=needle):
        call(book)


@pytest.mark.parametrize(
    "arg",
    [
        np.zeros(3),
        np.zeros(3, dtype=np.int64),
        np.zeros((2, 2), dtype=EVENT_DTYPE),
        np.zeros((), dtype=EVENT_DTYPE),
        [1, 2],
        None,
    ],
    ids=["float64", "int64", "2-D", "0-D", "list", "None"],
)
def test_apply_refuses_wrong_arrays_with_type_error(book: tradecore.OrderBook, arg: object) -> None:
    before = book_state(book)
    with pytest.raises(TypeError):
        book.apply(arg)  # type: ignore[arg-type]
    assert book_state(book) == before


def test_apply_accepts_an_empty_batch(book: tradecore.OrderBook) -> None:
    before = book_state(book)
    book.apply(np.zeros(0, dtype=EVENT_DTYPE))
    assert book_state(book) == before
