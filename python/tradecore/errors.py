"""Exceptions raised by tradecore.

Every error of the compiled core reaches Python as one of these, never as a crash::

    TradecoreError
    ├── InvalidInput (also a ValueError): a bad argument — NaN, a negative or zero price,
    │                                     a price off the tick grid, an unknown side...
    └── DataError    (also a ValueError): data that cannot be understood — a malformed
                                          line, an unknown stream, a non-numeric price;
                                          the message names the file and line.

I/O failures (a missing file) are the built-in ``OSError`` family, with the path.
"""

from __future__ import annotations

__all__ = ["DataError", "InvalidInput", "TradecoreError"]


class TradecoreError(Exception):
    """Base class of every tradecore error."""


class InvalidInput(TradecoreError, ValueError):
    """An argument the engine cannot accept; the message names the field and the value."""


class DataError(TradecoreError, ValueError):
    """Recorded or received data that cannot be understood; the message says where."""
