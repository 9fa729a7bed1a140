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
"""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt

from tradecore import _core

__all__ = ["EVENT_DTYPE", "SCALE", "Flag", "Kind", "to_float"]

EVENT_DTYPE: np.dtype[np.void] = _core.EVENT_DTYPE
SCALE: int = _core.SCALE

Kind = enum.IntEnum("Kind", _core.EVENT_KINDS, module=__name__)
Kind.__doc__ = "Event kinds: DEPTH (level set), SNAPSHOT (snapshot level), CLEAR, TRADE, BBO."

Flag = enum.IntFlag("Flag", _core.EVENT_FLAGS, module=__name__)
Flag.__doc__ = (
    "Event flags: LAST_IN_MESSAGE (batch boundary), OUT_OF_SYNC (book not in sync when "
    "received), NO_EXCH_TS (venue sent no time), NON_MARKET_TRADE (insurance fund / ADL)."
)


def to_float(values: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Converts a fixed-point column (``events["price"]``, ``events["qty"]``) to floats."""
    return np.asarray(values, dtype=np.int64) / SCALE
