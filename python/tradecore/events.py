"""The normalized event record, as seen from numpy.

``EVENT_DTYPE`` mirrors the core's ``#[repr(C)]`` ``Event`` struct byte for byte (64 bytes),
so arrays pass between numpy and Rust without copying. Prices and quantities are fixed-point
integers in units of ``1 / SCALE`` (1e-9); :func:`to_float` converts a column.

===================  =====  =========================================================
field                type   meaning
===================  =====  =========================================================
``exch_ts``          int64  exchange timestamp, ns since the epoch (0 when not sent)
``local_ts``         int64  local receive timestamp, ns since the epoch
``price``            int64  price × 1e9
``qty``              int64  quantity × 1e9 (0 removes a book level)
``first_update_id``  uint64 exchange sequence: first update id of the message
``last_update_id``   uint64 exchange sequence: last update id of the message
``trade_id``         uint64 trade id (trades), else 0
``instrument``       uint32 instrument index in a multi-instrument stream
``flags``            uint16 :class:`Flag` bits
``kind``             uint8  :class:`Kind`
``side``             int8   +1 bid / buy aggressor, -1 ask / sell aggressor, 0 none
===================  =====  =========================================================

The record stays 64 bytes for every kind: a message with more values than one record holds
(a mark price with its funding, a kline, a liquidation) is several consecutive events of
distinct kinds with the same times, the last flagged ``LAST_IN_MESSAGE``; :class:`Kind`
documents each kind's use of the fields.
"""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt

from tradecore import _core

__all__ = ["EVENT_DTYPE", "SCALE", "Flag", "Kind", "to_float"]

EVENT_DTYPE: np.dtype[np.void] = _core.EVENT_DTYPE
SCALE: int = _core.SCALE



class Kind(enum.IntEnum):
    """Event kinds (the ``kind`` field). Stable codes: they are stored in files."""

    DEPTH = 1
    """A price level of the L2 book is set to ``qty`` (0 removes it)."""
    SNAPSHOT = 2
    """A level of a full book snapshot (always preceded by CLEAR)."""
    CLEAR = 3
    """The book is emptied (before a snapshot)."""
    TRADE = 4
    """A public trade; ``side`` is the aggressor's side."""
    BBO = 5
    """Best bid or offer, one event per side."""
    MARK = 6
    """Mark price (Binance ``markPriceUpdate``): ``price`` the mark price, ``qty`` the index price.
    Always followed by a FUNDING event of the same message."""
    FUNDING = 7
    """Funding announced with the mark price: ``price`` the mark price, ``qty`` the funding rate for
    the next funding time in 1e-9 units (signed), ``trade_id`` the next funding time (ns)."""
    AGG_TRADE = 8
    """Aggregate trade: ``price``, ``qty``, ``side`` (aggressor), ``trade_id`` the aggregate id,
    ``first_update_id``/``last_update_id`` the first/last trade id. The simulator matches on TRADE only."""
    KLINE = 9
    """Kline, first of three events: ``price`` open, ``qty`` high, ``first_update_id``/``last_update_id``
    open/close time (ns), ``trade_id`` number of trades; flag CLOSED when final."""
    KLINE_CLOSE = 10
    """Kline, second event: ``price`` low, ``qty`` close, ``first_update_id``/``last_update_id`` first/last
    trade id (2**64-1: none), ``trade_id`` the interval in ms."""
    KLINE_VOLUME = 11
    """Kline, third event: ``price`` base volume, ``qty`` taker-buy base volume (quote volumes are
    not kept)."""
    LIQUIDATION = 12
    """Liquidation order (``forceOrder``), first of two events: ``price`` order price, ``qty`` original
    quantity, ``side`` the order's side (+1 BUY: a short liquidated)."""
    LIQUIDATION_FILL = 13
    """Liquidation order, second event: ``price`` average fill price, ``qty`` filled quantity; flag CLOSED
    when wholly filled."""


class Flag(enum.IntFlag):
    """Event flag bits (the ``flags`` field)."""

    LAST_IN_MESSAGE = 1
    """Last event of an exchange message: the book is consistent after applying it."""
    OUT_OF_SYNC = 2
    """Received while the book was not in sync (before a snapshot, or after a gap)."""
    NO_EXCH_TS = 4
    """The venue sent no exchange time (``exch_ts`` is 0)."""
    NON_MARKET_TRADE = 8
    """A trade that is not a normal market trade (insurance fund, ADL)."""
    CLOSED = 16
    """A final (closed) kline, or a wholly filled liquidation order."""


# The compiled core is the source of truth; fail loudly if the two ever drift apart.
if {k.name: k.value for k in Kind} != _core.EVENT_KINDS or {f.name: f.value for f in Flag} != _core.EVENT_FLAGS:
    raise ImportError("tradecore.events is out of date with the compiled core (EVENT_KINDS / EVENT_FLAGS)")


def to_float(values: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Converts a fixed-point column (``events["price"]``, ``events["qty"]``) to floats."""
    return np.asarray(values, dtype=np.int64) / SCALE
