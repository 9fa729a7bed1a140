"""tradecore.OrderBook: the API seen from Python."""

from __future__ import annotations

import numpy as np
import pytest

import tradecore
from tradecore import EVENT_DTYPE, Flag, Kind
from tradecore.errors import InvalidInput


def events(*rows: tuple[int, int, float, float]) -> np.ndarray:
    """Rows of (kind, side, price, qty) as an EVENT_DTYPE array."""
    a = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (kind, side, price, qty) in enumerate(rows):
        a[i]["kind"], a[i]["side"] = kind, side
        a[i]["price"], a[i]["qty"] = round(price * 1e9), round(qty * 1e9)
    return a


@pytest.fixture
def book() -> tradecore.OrderBook:
    b = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
    b.apply(events(
        (Kind.DEPTH, 1, 100.0, 1.0), (Kind.DEPTH, 1, 99.9, 2.0), (Kind.DEPTH, 1, 99.5, 4.0),
        (Kind.DEPTH, -1, 100.2, 3.0), (Kind.DEPTH, -1, 100.3, 1.0),
    ))
    return b


def test_top_of_book_and_derived_values(book: tradecore.OrderBook) -> None:
    assert book.best_bid() == (100.0, 1.0) and book.best_ask() == (100.2, 3.0)
    assert book.mid() == pytest.approx(100.1)
    assert book.spread() == pytest.approx(0.2)
    assert book.microprice() == pytest.approx((100.0 * 3 + 100.2 * 1) / 4)
    assert book.imbalance(1) == pytest.approx((1 - 3) / 4)
    assert book.imbalance() == pytest.approx((7 - 4) / 11)
    assert (book.bid_levels, book.ask_levels) == (3, 2)
    assert not book.is_crossed()
    assert book.qty_at("bid", 99.9) == 2.0 and book.qty_at("ask", 99.9) == 0.0
    assert (book.tick_size, book.lot_size) == (0.1, 0.001)
    assert "bid=1 x 100" in repr(book)


def test_levels_are_an_n_by_2_array_from_the_best(book: tradecore.OrderBook) -> None:
    bids = book.levels("bid", 2)
    assert bids.shape == (2, 2) and bids.dtype == np.float64
    assert bids.tolist() == [[100.0, 1.0], [99.9, 2.0]]
    assert book.levels("ask", 10).tolist() == [[100.2, 3.0], [100.3, 1.0]]
    assert book.levels("bid", 0).shape == (0, 2)


def test_cost_to_fill_walks_the_opposite_side(book: tradecore.OrderBook) -> None:
    avg, filled = book.cost_to_fill("buy", 3.5)  # type: ignore[misc]
    assert filled == 3.5 and avg == pytest.approx((100.2 * 3 + 100.3 * 0.5) / 3.5)
    avg, filled = book.cost_to_fill("sell", 100.0)  # type: ignore[misc]
    assert filled == 7.0 and avg == pytest.approx((100.0 + 99.9 * 2 + 99.5 * 4) / 7)
    assert tradecore.OrderBook(0.1, 0.001).cost_to_fill("buy", 1.0) is None


def test_sides_accept_names_and_signs(book: tradecore.OrderBook) -> None:
    for bid in ("bid", "BID", "buy", 1):
        assert book.levels(bid, 1).tolist() == [[100.0, 1.0]]
    for ask in ("ask", "sell", -1):
        assert book.levels(ask, 1).tolist() == [[100.2, 3.0]]


def test_set_level_clear_and_removal(book: tradecore.OrderBook) -> None:
    book.set_level("bid", 100.1, 0.5)
    assert book.best_bid() == (100.1, 0.5)
    book.set_level("bid", 100.1, 0)
    assert book.best_bid() == (100.0, 1.0)
    book.set_level("ask", 100.0, 1)
    assert book.is_crossed()
    book.clear()
    assert book.best_bid() is None and book.best_ask() is None and book.mid() is None
    assert book.imbalance() is None and book.bid_levels == 0


def test_apply_ignores_non_book_events_and_tracks_update_ids(book: tradecore.OrderBook) -> None:
    batch = events((Kind.TRADE, 1, 5.0, 1.0), (Kind.BBO, 1, 1.0, 1.0), (Kind.DEPTH, 1, 100.0, 0.0))
    batch["last_update_id"] = [0, 0, 77]
    book.apply(batch)
    assert book.best_bid() == (99.9, 2.0) and book.last_update_id == 77
    clear = events((Kind.CLEAR, 0, 0.0, 0.0), (Kind.SNAPSHOT, -1, 50.0, 1.0))
    book.apply(clear)
    assert book.best_bid() is None and book.best_ask() == (50.0, 1.0)


def test_out_of_sync_events_mark_the_book(book: tradecore.OrderBook) -> None:
    batch = events((Kind.DEPTH, 1, 100.0, 2.0))
    batch["flags"] = Flag.OUT_OF_SYNC
    book.apply(batch)
    assert not book.in_sync
    book.apply(events((Kind.CLEAR, 0, 0.0, 0.0)))
    assert book.in_sync


def test_a_bad_event_stops_the_batch_and_names_its_index(book: tradecore.OrderBook) -> None:
    batch = events((Kind.DEPTH, 1, 100.1, 1.0), (Kind.DEPTH, 1, 100.05, 1.0), (Kind.DEPTH, 1, 100.2, 1.0))
    with pytest.raises(InvalidInput, match=r"events\[1\]: invalid price: 100.05"):
        book.apply(batch)
    # The events before the bad one are applied; the caller can resume after it.
    assert book.best_bid() == (100.1, 1.0)
    book.apply(batch[2:])
    assert book.best_bid() == (100.2, 1.0)


def test_wrong_arrays_are_type_errors(book: tradecore.OrderBook) -> None:
    with pytest.raises(TypeError, match="EVENT_DTYPE, got an array of dtype float64"):
        book.apply(np.zeros(3))
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        book.apply(np.zeros((2, 2), dtype=EVENT_DTYPE))
    with pytest.raises(TypeError, match="got list"):
        book.apply([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("bid", float("nan"), 1.0), "price: NaN"),
        (("bid", float("inf"), 1.0), "price: inf"),
        (("bid", -1.0, 1.0), "price: -1"),
        (("bid", 0.0, 1.0), "price: 0"),
        (("bid", 100.05, 1.0), "price: 100.05"),
        (("bid", 100.0, -1.0), "qty: -1"),
        (("bid", 100.0, 0.0005), "qty: 0.0005"),
        (("bid", 100.0, float("nan")), "qty: NaN"),
        (("bid", 100.0, 3e-10), "qty: 0.0000000003"),
        (("middle", 100.0, 1.0), "side: 'middle'"),
        ((0, 100.0, 1.0), "side: 0"),
        ((2, 100.0, 1.0), "side: 2"),
    ],
)
def test_bad_levels_raise_invalid_input_naming_the_value(args: tuple, needle: str, book: tradecore.OrderBook) -> None:
    with pytest.raises(InvalidInput, match=needle) as exc:
        book.set_level(*args)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize(("tick", "lot"), [(0.0, 0.001), (-0.1, 0.001), (float("nan"), 1.0), (0.1, 0.0)])
def test_bad_grids_are_refused(tick: float, lot: float) -> None:
    with pytest.raises(InvalidInput):
        tradecore.OrderBook(tick, lot)


def test_bad_query_arguments(book: tradecore.OrderBook) -> None:
    with pytest.raises(InvalidInput, match="levels: 0"):
        book.imbalance(0)
    with pytest.raises(InvalidInput, match="n: -1"):
        book.levels("bid", -1)
    with pytest.raises(InvalidInput, match="qty: 0"):
        book.cost_to_fill("buy", 0)
