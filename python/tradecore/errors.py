"""Exceptions raised by tradecore.

Every error of the compiled core reaches Python as one of these, never as a crash::

    TradecoreError
    ├── InvalidInput (also a ValueError): a bad argument — NaN, a negative or zero price,
    │   │                                 a price off the tick grid, an unknown side...
    │   └── FeatureMismatch: a feature set that is not the one a model was trained on
    │                        (the message names the first difference)
    └── DataError    (also a ValueError): data that cannot be understood — a malformed
                                          line, an unknown stream, a non-numeric price;
                                          the message names the file and line.

I/O failures (a missing file) are the built-in ``OSError`` family, with the path.
"""

from __future__ import annotations

__all__ = ["DataError", "FeatureMismatch", "InvalidInput", "TradecoreError"]


class TradecoreError(Exception):
    """Base class of every tradecore error."""


class InvalidInput(TradecoreError, ValueError):
    """An argument the engine cannot accept; the message names the field and the value."""


class FeatureMismatch(InvalidInput):
    """A feature set that differs from the one a model was trained on: its columns' order,
    a name, a kind, a parameter, the bars or the sampling; the message names the first
    difference."""


class DataError(TradecoreError, ValueError):
    """Recorded or received data that cannot be understood; the message says where."""
