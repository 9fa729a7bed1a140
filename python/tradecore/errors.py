"""Exceptions raised by tradecore.

Every error of the compiled core reaches Python as one of these, never as a crash::

    TradecoreError
    ├── InvalidInput (also a ValueError): a bad argument — NaN, a negative or zero price,
    │   │                                 a price off the tick grid, an unknown side...
    │   ├── ConfigError: a configuration file refused (unknown table or key, wrong type or
    │   │                range, a secret others can read); one line naming the file, line,
    │   │                table, key and value
    │   └── FeatureMismatch: a feature set that is not the one a model was trained on
    │                        (the message names the first difference)
    ├── DataError    (also a ValueError): data that cannot be understood — a malformed
    │                                     line, an unknown stream, a non-numeric price;
    │                                     the message names the file and line.
    └── StrategyError: an exception raised by the user's strategy code (loading it, or in
                       one of its callbacks); one line naming the user's file:line and the
                       exception, which is its ``__cause__``

I/O failures (a missing file) are the built-in ``OSError`` family, with the path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from os import PathLike

__all__ = ["ConfigError", "DataError", "FeatureMismatch", "InvalidInput", "StrategyError", "TradecoreError"]


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


class ConfigError(InvalidInput):
    """A configuration file refused: ``file:line: [table] key = value: what is wrong``."""


class StrategyError(TradecoreError):
    """An exception raised by the user's strategy code, located in it: the message is
    ``file:line: ExceptionType: message in callback`` (the deepest frame of the user's own
    files, the callback the engine called); the original exception is ``__cause__``.

    Attributes:
        file: The user's file.
        line: The line in it (0 when unknown).
        callback: The strategy method the engine called (``on_book``...), or ``None`` while
            the file was being loaded.
        result: What ran before the error, when the run could produce it (a backtest's
            partial ``BacktestResult``), else ``None``.
    """

    def __init__(self, message: str, file: str, line: int, callback: str | None) -> None:
        super().__init__(message)
        self.file, self.line, self.callback = file, line, callback
        self.result: object | None = None

    @classmethod
    def locate(cls, exc: BaseException, files: Iterable[str | PathLike[str]],
               strategy: object | None = None) -> StrategyError | None:
        """``exc`` located in the user's ``files`` (a syntax error in them, a frame of its
        traceback in them, or a call of a ``strategy``'s callback that does not fit its
        signature), or ``None`` when the user's code is not involved."""
        import traceback

        real = {os.path.realpath(f) for f in files}
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.realpath(f.filename) in real]
        if isinstance(exc, SyntaxError) and exc.filename and (frames or os.path.realpath(exc.filename) in real):
            # the file with the bad syntax: the user's, or a module it imports
            err = cls._made(exc, exc.msg, exc.filename, exc.lineno or 0, None)
            err.args = (str(err).removesuffix(" while loading the strategy"),)
            return err
        text = str(exc).splitlines()[0] if str(exc) else ""
        if not frames:
            return cls._bad_call(exc, text, strategy) if strategy is not None else None
        where, entry = frames[-1], frames[0]
        callback = None if entry.name == "<module>" else entry.name
        return cls._made(exc, text, where.filename, where.lineno or 0, callback)

    @classmethod
    def _made(cls, exc: BaseException, text: str, file: str, line: int, callback: str | None) -> StrategyError:
        shown = os.path.relpath(file) if not os.path.relpath(file).startswith("..") else file
        msg = f"{shown}:{line}: {type(exc).__name__}" + (f": {text}" if text else "")
        msg += f" in {callback}" if callback else " while loading the strategy"
        err = cls(msg, file, line, callback)
        err.__cause__ = exc
        return err

    @classmethod
    def _bad_call(cls, exc: BaseException, text: str, strategy: object) -> StrategyError | None:
        """A callback the engine could not call (``S.on_book() missing 1 required positional
        argument``): located at the method's definition."""
        import inspect

        m = re.match(r"(\w+)\.(\w+)\(\)", text)
        kind = strategy if isinstance(strategy, type) else type(strategy)
        if not isinstance(exc, TypeError) or m is None or m.group(1) != kind.__name__:
            return None
        fn = getattr(kind, m.group(2), None)
        try:
            file, line = inspect.getsourcefile(fn) or "", inspect.getsourcelines(fn)[1]  # type: ignore[arg-type]
        except (TypeError, OSError):
            return None
        return cls._made(exc, text, file, line, m.group(2))


def strategy_files(strategy: object) -> list[str]:
    """The source files of a strategy's own classes (its class, or an instance's, and its
    bases outside tradecore): where :meth:`StrategyError.locate` looks."""
    import inspect

    own = os.path.dirname(os.path.realpath(__file__))
    out: list[str] = []
    for c in (strategy if isinstance(strategy, type) else type(strategy)).__mro__:
        try:
            f = inspect.getsourcefile(c)
        except TypeError:  # a builtin
            continue
        if f and not os.path.realpath(f).startswith(own + os.sep) and f not in out:
            out.append(f)
    return out
