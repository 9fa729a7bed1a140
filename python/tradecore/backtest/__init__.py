"""Backtests: replay recorded (or synthetic) market data through the exchange simulator with
a strategy, then results, statistics and an offline HTML report.

::

    from tradecore.backtest import run_backtest
    result = run_backtest(MyStrategy(size=0.01), "usdm_btcusdt_20240808.gz",
                          latency="5ms", queue="power:2")
    print(result.summary())
    result.write_report("report.html")
    fills = result.to_pandas("fills")

The loop runs in the compiled core (``engine_core::replay``); the strategy is called only
for what it overrides (see :mod:`tradecore.strategy`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from tradecore.backtest.engine import (
    SYNTHETIC,
    BacktestResult,
    DataSource,
    Latency,
    open_data,
    run_backtest,
)
from tradecore.backtest.stats import InstrumentInfo, round_trips, statistics, summary_table
from tradecore.errors import InvalidInput, StrategyError, TradecoreError, strategy_files
from tradecore.strategy import Strategy

__all__ = [
    "SYNTHETIC",
    "BacktestResult",
    "DataSource",
    "InstrumentInfo",
    "Latency",
    "load_strategy",
    "open_data",
    "round_trips",
    "run_backtest",
    "statistics",
    "summary_table",
]


def load_strategy(spec: str, params: dict[str, Any] | None = None) -> Strategy:
    """``path/to/file.py:ClassName`` (or ``package.module:ClassName``) -> an instance built
    with ``params``."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise InvalidInput(f"invalid strategy: {spec!r} (expected file.py:ClassName)")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise InvalidInput(f"invalid strategy: {where!r} (no such file)")
        mod_name = f"tradecore_user_{path.stem}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise InvalidInput(f"invalid strategy: cannot load {where!r}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as e:  # a syntax error, an import error, an exception of the file's own code
            del sys.modules[mod_name]
            err = StrategyError.locate(e, [path])
            if err is None:
                raise
            raise err from e
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as e:
            raise InvalidInput(f"invalid strategy: cannot import {where!r} ({e})") from None
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise InvalidInput(f"invalid strategy: {name!r} in {where!r} is not a tradecore.strategy.Strategy subclass")
    try:
        return cls(**(params or {}))
    except TradecoreError:  # a parameter refused by Strategy: named by it
        raise
    except Exception as e:
        err = StrategyError.locate(e, strategy_files(cls), cls)
        if err is None:
            raise
        raise err from e
