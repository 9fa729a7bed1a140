"""The backtest driver: data in, the compiled replay loop, the strategy, results out."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from tradecore import _core
from tradecore.account import AccountPlan, Bracket, plan_account, settlement_currency
from tradecore.backtest.report import write_report
from tradecore.backtest.stats import (
    EQUITY_DTYPE,
    FILL_DTYPE,
    GAP_DTYPE,
    ORDER_DTYPE,
    POSITION_DTYPE,
    InstrumentInfo,
    Stats,
    statistics,
    summary_table,
)
from tradecore.errors import InvalidInput, StrategyError, strategy_files
from tradecore.events import EVENT_DTYPE
from tradecore.instrument import Instrument, InstrumentsArg, known_instrument, resolve_instrument, specs_of
from tradecore.risk import RiskEngine, RiskLimits
from tradecore.signals import duration_ns
from tradecore.strategy import Context, Strategy

PathArg = str | PathLike[str]
DataArg = PathArg | Sequence[PathArg] | np.ndarray | Iterable[np.ndarray]
Progress = Callable[[int, int | None], None]

#: The synthetic market's instrument (``data="synthetic"``): a USD-M BTCUSDT perpetual.
SYNTHETIC = Instrument("binance-usdm", "BTCUSDT", tick_size="0.1", lot_size="0.001", kind="linear",
                       maker_fee="-0.0001", taker_fee="0.0004", source="the synthetic market",
                       fee_source="the synthetic market's schedule: maker rebate 0.01%, taker 0.04%")

#: Events handed to the compiled loop at a time: small enough to stay in the CPU's cache
#: between the copy and the replay (larger chunks from readers are sliced, without copies).
PIECE = 8192


@dataclass(frozen=True)
class Latency:
    """Order latencies: constant (``entry_ns``, ``response_ns``), or drawn from recorded
    samples (``entry_samples``, ``response_samples``, ns) with ``seed``."""

    entry_ns: int = 0
    response_ns: int = 0
    entry_samples: np.ndarray | None = None
    response_samples: np.ndarray | None = None
    seed: int = 0

    @classmethod
    def parse(cls, spec: object, seed: int = 0) -> Latency:
        """``"5ms"`` (both ways), ``"2ms,3ms"`` (entry, response), an int of ns, a pair,
        a :class:`Latency`, or the path of a ``.npy`` (n x 2) or ``.csv`` file of recorded
        ``entry_ns,response_ns`` latencies (a header line is allowed)."""
        if isinstance(spec, Latency):
            return spec
        if isinstance(spec, (tuple, list)) and len(spec) == 2:
            e, r = (duration_ns(x, "latency") for x in spec)
            return cls._checked(e, r)
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            return cls._checked(int(spec), int(spec))
        if isinstance(spec, (str, PathLike)):
            text = os.fspath(spec)
            p = Path(text)
            if p.suffix in (".npy", ".csv") or p.is_file():
                return cls._from_file(p, seed)
            parts = [s.strip() for s in text.split(",")]
            if len(parts) == 1:
                d = duration_ns(parts[0], "latency")
                return cls._checked(d, d)
            if len(parts) == 2:
                return cls._checked(duration_ns(parts[0], "latency"), duration_ns(parts[1], "latency"))
        raise InvalidInput(f"invalid latency: {spec!r} (e.g. '5ms', '2ms,3ms', ns, or a .npy/.csv file)")

    @classmethod
    def _checked(cls, entry: int, response: int) -> Latency:
        if entry < 0 or response < 0:
            raise InvalidInput(f"invalid latency: {entry}, {response} ns (must be >= 0)")
        return cls(entry, response)

    @classmethod
    def _from_file(cls, path: Path, seed: int) -> Latency:
        if not path.is_file():
            raise InvalidInput(f"invalid latency: {path} (no such file)")
        try:
            if path.suffix == ".npy":
                a = np.load(path)
            else:
                a = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=_header_lines(path))
        except ValueError as e:
            raise InvalidInput(f"invalid latency file {path}: {e}") from None
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[1] != 2 or len(a) == 0:
            raise InvalidInput(f"invalid latency file {path}: shape {a.shape} (need n x 2: entry_ns, response_ns)")
        a = a.astype(np.int64)
        if (a < 0).any():
            raise InvalidInput(f"invalid latency file {path}: negative latencies")
        return cls(entry_samples=np.ascontiguousarray(a[:, 0]), response_samples=np.ascontiguousarray(a[:, 1]),
                   seed=seed)

    def describe(self) -> str:
        if self.entry_samples is not None and self.response_samples is not None:
            e, r = np.median(self.entry_samples) / 1e6, np.median(self.response_samples) / 1e6
            return f"recorded ({len(self.entry_samples)} samples, median {e:g} ms / {r:g} ms, seed {self.seed})"
        return f"{self.entry_ns / 1e6:g} ms entry, {self.response_ns / 1e6:g} ms response"


def _header_lines(path: Path) -> int:
    with path.open() as f:
        first = f.readline()
    return 0 if first[:1].isdigit() else 1


@dataclass
class DataSource:
    """What a backtest replays: chunks of events and the instruments they index."""

    instruments: list[Instrument]
    chunks: Iterator[np.ndarray]
    description: str
    total_bytes: int | None = None
    progress_bytes: Callable[[], int] | None = None
    report: Callable[[], _core.CaptureReport] | None = None
    """The reader's report (recorded files): lines skipped in lenient mode, by reason."""
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _with(inst: Instrument, fields: dict[str, Any] | None) -> Instrument:
    return inst.with_fields(**fields) if fields else inst


def open_data(data: DataArg, *, instrument: Instrument | None = None, symbols: Sequence[tuple[str, str]] | None = None,
              start: Any = None, end: Any = None, chunk_events: int = 131_072, synthetic_seconds: float = 300.0,
              seed: int = 7, instrument_fields: dict[str, Any] | None = None,
              instruments: InstrumentsArg = None, lenient: bool = False) -> DataSource:
    """Resolves ``data``: ``"synthetic"`` (the seeded synthetic market), a tick store folder,
    raw capture file(s) (Binance, Tardis, Bybit), an ``EVENT_DTYPE`` array, or an iterable of
    such arrays (then ``instrument`` is required). The instrument of recorded data comes from
    ``instruments`` (an exchangeInfo JSON or TOML file, or a mapping by (venue, symbol)), else
    the bundled snapshot of the venue's specs, else is inferred from the data (announced).
    ``instrument_fields`` (``tick_size``, ``maker_fee``...) override those of the instrument.
    ``lenient``: recorded files' bad lines (a stream tradecore does not read, a negative
    quantity...) are counted by reason in the reader's report and skipped instead of raising
    ``DataError``."""
    from tradecore import iter_capture
    from tradecore.data import TickStore

    if isinstance(data, np.ndarray):
        if data.dtype != EVENT_DTYPE:
            raise InvalidInput(f"invalid data: an array of dtype {data.dtype} (need tradecore.EVENT_DTYPE)")
        if instrument is None:
            raise InvalidInput("invalid instrument: None (an events array needs its Instrument)")
        arr = data
        return DataSource([_with(instrument, instrument_fields)], iter([arr]), f"{len(arr):,} events in memory")
    if isinstance(data, str) and data == "synthetic":
        tmp = tempfile.TemporaryDirectory(prefix="tradecore-synthetic-")
        path = Path(tmp.name) / f"synthetic_btcusdt_seed{seed}.gz"
        _core.synth_binance(path, seconds=synthetic_seconds, seed=seed)
        synth = iter_capture(path, chunk_events=chunk_events)
        return DataSource([_with(instrument or SYNTHETIC, instrument_fields)], iter(synth),
                          f"synthetic BTCUSDT market, {synthetic_seconds:g} s, seed {seed}",
                          total_bytes=path.stat().st_size, progress_bytes=lambda: int(synth.report.bytes_read),
                          _tmp=tmp)
    if isinstance(data, (str, PathLike)) and Path(data).is_dir():
        store = TickStore(data)
        replay = store.replay(symbols, start=start, end=end, chunk_events=chunk_events)
        names = ", ".join(f"{i.venue}/{i.symbol}" for i in replay.instruments)
        insts = [_with(i if not i.inferred else known_instrument(i.venue, i.symbol, specs_of(instruments)) or i,
                       instrument_fields) for i in replay.instruments]
        return DataSource(insts, iter(replay), f"tick store {data} ({names})")
    if isinstance(data, (str, PathLike)) or (isinstance(data, Sequence) and data
                                             and all(isinstance(p, (str, PathLike)) for p in data)):
        paths: list[PathArg] = [data] if isinstance(data, (str, PathLike)) else list(data)
        for p in paths:
            if not Path(p).exists():
                raise InvalidInput(f"invalid data: {os.fspath(p)!r} (no such file or folder; "
                                   "give a capture file, a tick store folder or 'synthetic')")
        reader = iter_capture(paths, chunk_events=chunk_events, lenient=lenient)
        it = iter(reader)
        first = next(it, None)
        if first is None:
            raise InvalidInput(f"invalid data: {os.fspath(paths[0])!r} holds no events")
        rep = reader.report
        if instrument is not None:
            inst = _with(instrument, instrument_fields)
        else:
            inst = resolve_instrument(rep.venue or "unknown", rep.symbol or "unknown", first, specs=instruments,
                                      fields=instrument_fields)

        def chain() -> Iterator[np.ndarray]:
            yield first
            yield from it

        total = sum(Path(p).stat().st_size for p in paths)
        return DataSource([inst], chain(), ", ".join(os.fspath(p) for p in paths), total_bytes=total,
                          progress_bytes=lambda: int(reader.report.bytes_read), report=lambda: reader.report)
    if isinstance(data, Iterable):
        if instrument is None:
            raise InvalidInput("invalid instrument: None (chunks of events need their Instrument)")
        chunks: Iterable[np.ndarray] = data  # type: ignore[assignment]
        return DataSource([_with(instrument, instrument_fields)], iter(chunks), "event chunks")
    raise InvalidInput(f"invalid data: {data!r}")


@dataclass
class BacktestResult:
    """Everything a backtest produced: numpy structured arrays (``orders``, ``fills``,
    ``equity``, ``positions``; see ``tradecore.backtest.stats`` for their dtypes), the
    statistics, and how the run was set up. ``to_pandas`` / ``to_arrow`` / ``to_polars``
    convert a table."""

    orders: np.ndarray
    fills: np.ndarray
    equity: np.ndarray
    positions: np.ndarray
    stats: Stats
    instruments: list[Instrument]
    params: dict[str, object]
    events: int
    seconds: float
    clock_offset_ns: int | None
    account: _core.Account
    """The account at the end (balances, equity, available, margin used, liquidation prices)."""
    error: StrategyError | None = None
    """Set when the strategy raised and the run was asked to keep what ran before
    (``run_backtest(..., partial_on_error=True)``): these tables stop at the error."""
    gaps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=GAP_DTYPE))
    """Holes in the data (``GAP_DTYPE``: no event for over 5 min or 10 sample intervals; not
    sampled)."""

    @property
    def events_per_s(self) -> float:
        """Market events replayed per second of wall time."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """The statistics as an aligned text table."""
        return summary_table(self.stats)

    def table(self, name: str) -> np.ndarray:
        """One of ``orders``, ``fills``, ``equity``, ``positions``, ``gaps``."""
        if name not in ("orders", "fills", "equity", "positions", "gaps"):
            raise InvalidInput(f"invalid table: {name!r} (orders, fills, equity, positions or gaps)")
        arr: np.ndarray = getattr(self, name)
        return arr

    def to_arrow(self, name: str) -> Any:
        """A table as a ``pyarrow.Table`` (columns shared where the layout allows)."""
        import pyarrow as pa

        arr = self.table(name)
        return pa.table({n: np.ascontiguousarray(arr[n]) for n in arr.dtype.names or ()})

    def to_pandas(self, name: str) -> Any:
        """A table as a ``pandas.DataFrame`` (needs pandas)."""
        return self.to_arrow(name).to_pandas()

    def to_polars(self, name: str) -> Any:
        """A table as a ``polars.DataFrame`` (needs polars)."""
        import polars as pl  # type: ignore[import-not-found]

        return pl.from_arrow(self.to_arrow(name))

    def write_report(self, path: PathArg, title: str | None = None) -> Path:
        """Writes the offline HTML report (no internet needed to open it)."""
        return write_report(path, equity=self.equity, positions=self.positions, fills=self.fills,
                            orders=self.orders, stats=self.stats, instruments=_infos(self.instruments),
                            title=title or f"tradecore backtest: {self.params.get('strategy', '')}",
                            params=self.params, initial=_float_or_none(self.params.get("initial_capital")))


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _infos(instruments: Sequence[Instrument]) -> list[InstrumentInfo]:
    return [InstrumentInfo(i.symbol, float(i.contract_size), i.kind == "inverse") for i in instruments]


def _table(cols: dict[str, np.ndarray], dtype: np.dtype[Any]) -> np.ndarray:
    n = len(next(iter(cols.values()))) if cols else 0
    out = np.empty(n, dtype=dtype)
    for name in dtype.names or ():
        out[name] = cols[name]
    return out


def run_backtest(strategy: Strategy, data: DataArg = "synthetic", *, instrument: Instrument | None = None,
                 symbols: Sequence[tuple[str, str]] | None = None, start: Any = None, end: Any = None,
                 latency: object = "5ms", queue: str = "conservative", feed_latency: object = "recorded",
                 clock_offset: int | None = None, initial_capital: float = 100_000.0,
                 risk: RiskLimits | None = None, sample_interval: str | int = "1s",
                 return_period: str | int | None = None,
                 chunk_events: int = 131_072, seed: int = 0, synthetic_seconds: float = 300.0,
                 instrument_fields: dict[str, Any] | None = None, progress: Progress | None = None,
                 log: logging.Logger | None = None, account: str = "auto",
                 balances: Mapping[str, float] | None = None, leverage: float | Mapping[str, float] | None = None,
                 brackets: Mapping[str, Sequence[Bracket]] | None = None,
                 liquidation_fee: float | None = None, instruments: InstrumentsArg = None,
                 partial_on_error: bool = False, lenient: bool = False) -> BacktestResult:
    """Replays ``data`` through the exchange simulator with ``strategy``.

    Args:
        strategy: A :class:`~tradecore.strategy.Strategy` instance.
        data: ``"synthetic"``, a tick store folder, capture file(s), an ``EVENT_DTYPE`` array,
            or an iterable of arrays (see :func:`open_data`).
        instrument: The instrument of a capture or an array (default: inferred from a
            capture; the store keeps its own).
        symbols: (venue, symbol) pairs to replay from a store (default all).
        start: Start of the store window (ISO time, date or ns).
        end: End of the store window.
        latency: Order entry/response latency (see :meth:`Latency.parse`).
        queue: Queue position model: ``conservative``, ``log``, ``log2``, ``power:N``,
            ``power2:N``, ``power3:N``.
        feed_latency: ``"recorded"`` (local receive times, recorder clock offset removed) or
            a constant (``"2ms"``, ns) after the exchange time.
        clock_offset: The recorder's clock offset (local minus exchange, ns); default
            estimated from the data.
        initial_capital: Starting equity: a margin account's wallet (settlement asset), a cash
            account's quote balance when ``balances`` is not given.
        risk: Pre-trade limits (default none but the basic validity checks).
        sample_interval: Equity/position sampling interval of local time (a hole in the data,
            no event for over 5 min or 10 intervals, is one gap, not sampled).
        return_period: The statistics' return grid (``"1min"``, ns); default chosen from the
            data's length (see :func:`tradecore.backtest.stats.default_period_ns`).
        chunk_events: Events read at a time (bounds memory).
        seed: Seed of sampled latencies.
        synthetic_seconds: Length of the synthetic market.
        instrument_fields: Overrides of instrument fields (``maker_fee``, ``tick_size``...).
        instruments: The venue's specs: an exchangeInfo JSON or TOML file, or a mapping by
            (venue, symbol); default: the bundled snapshot, else inferred from the data.
        progress: Called with (bytes or events done, total or None) after each chunk.
        log: The strategy's logger (default ``tradecore.strategy.<Class>``).
        account: ``auto`` (spot: a cash account; futures: a cross-margin account), ``cash``,
            ``margin`` or ``none`` (see :func:`tradecore.account.plan_account`).
        balances: Cash: starting balances per asset (default the quote: ``initial_capital``).
        leverage: Margin: leverage, one or per symbol (default Binance's 20x).
        brackets: Margin: maintenance brackets per symbol (default the symbol's known table).
        liquidation_fee: Margin: liquidation clearance fee rate (default the symbol's).
        partial_on_error: An exception raised by the strategy's code stops the replay and the
            result of what ran before it is returned, its ``error`` the exception located in
            the strategy's file (a :class:`~tradecore.errors.StrategyError`); by default the
            exception is raised as it is.
        lenient: Recorded files: count bad lines by reason (``params["skipped_lines"]``) and skip them.

    Returns:
        A :class:`BacktestResult`.
    """
    if not isinstance(strategy, Strategy):
        raise InvalidInput(f"invalid strategy: {strategy!r} (a tradecore.strategy.Strategy instance)")
    lat = Latency.parse(latency, seed)
    feed_ns: int | None
    if isinstance(feed_latency, str) and feed_latency == "recorded":
        feed_ns = None
    elif isinstance(feed_latency, (str, int)):
        feed_ns = duration_ns(feed_latency, "feed_latency")
        if feed_ns < 0:
            raise InvalidInput(f"invalid feed_latency: {feed_latency!r} (must be >= 0)")
    else:
        raise InvalidInput(f"invalid feed_latency: {feed_latency!r} ('recorded', '2ms' or ns)")
    sample_ns = duration_ns(sample_interval, "sample_interval")
    if sample_ns <= 0:
        raise InvalidInput(f"invalid sample_interval: {sample_interval!r} (must be > 0)")
    period_ns = None if return_period is None else duration_ns(return_period, "return_period")
    if period_ns is not None and period_ns < sample_ns:
        raise InvalidInput(f"invalid return_period: {return_period!r} (must be >= the sample interval "
                           f"{sample_interval!r})")
    if chunk_events < 1:
        raise InvalidInput(f"invalid chunk_events: {chunk_events} (must be >= 1)")
    src = open_data(data, instrument=instrument, symbols=symbols, start=start, end=end, chunk_events=chunk_events,
                    synthetic_seconds=synthetic_seconds, instrument_fields=instrument_fields,
                    instruments=instruments, lenient=lenient)
    try:
        plan = plan_account(src.instruments, mode=account, initial_capital=initial_capital, balances=balances,
                            leverage=leverage, brackets=brackets, liquidation_fee=liquidation_fee)
        return _run(strategy, src, lat, queue, feed_ns, clock_offset, initial_capital, risk or RiskLimits(),
                    sample_ns, progress, log, plan, partial_on_error, period_ns)
    finally:
        src.close()


def new_loop(strategy: Strategy, insts: Sequence[Instrument], lat: Latency, queue: str, feed_ns: int | None,
             clock_offset: int | None, initial_capital: float, limits: RiskLimits, sample_ns: int,
             log: logging.Logger | None, account: AccountPlan) -> _core.Backtest:
    """The compiled loop for ``strategy`` over ``insts``, set as its context's backend (the
    backtest's, and the paper trader's, which feeds it live events)."""
    spec = [(float(i.tick_size), float(i.lot_size), float(i.data_lot or i.lot_size), float(i.contract_size),
             i.kind == "inverse", float(i.maker_fee), float(i.taker_fee)) for i in insts]
    bt = _core.Backtest(
        spec, RiskEngine(limits), entry_latency_ns=lat.entry_ns, response_latency_ns=lat.response_ns,
        entry_samples=lat.entry_samples, response_samples=lat.response_samples, seed=lat.seed, queue=queue,
        feed_latency_ns=feed_ns, clock_offset_ns=clock_offset,
        initial_capital=initial_capital if account.initial is None else account.initial,
        sample_ns=sample_ns, subscribe_book=strategy.wants("on_book"), subscribe_trade=strategy.wants("on_trade"),
        subscribe_orders=strategy.wants("on_fill") or strategy.wants("on_order"), account=account.spec,
        filters=[i.filters() for i in insts],
        subscribe_mark=strategy.wants("on_mark"), subscribe_agg_trade=strategy.wants("on_agg_trade"),
        subscribe_kline=strategy.wants("on_kline"), subscribe_liquidation=strategy.wants("on_liquidation"))
    strategy.ctx = Context(bt, insts, log or logging.getLogger(f"tradecore.strategy.{type(strategy).__name__}"))
    return bt


def results_of(bt: _core.Backtest, strategy: Strategy, insts: Sequence[Instrument], description: str,
               lat: Latency, queue: str, feed_ns: int | None, initial_capital: float, limits: RiskLimits,
               seconds: float, account: AccountPlan, period_ns: int | None = None) -> BacktestResult:
    """The tables, statistics and set-up of a finished loop."""
    res = bt.results()
    gaps = _table(res["gaps"], GAP_DTYPE)
    orders = _table(res["orders"], ORDER_DTYPE)
    fills = _table(res["fills"], FILL_DTYPE)
    equity = _table(res["equity"], EQUITY_DTYPE)
    positions = _table(res["positions"], POSITION_DTYPE)
    # The starting equity is the account's (a cash account holding base assets: its first valuation).
    if account.initial is not None:
        initial_capital = account.initial
    elif len(equity):
        initial_capital = float(equity["equity"][0])
    stats = statistics(equity, fills, orders, initial=initial_capital, instruments=_infos(insts),
                       period_ns=period_ns, gaps=gaps, currency=settlement_currency(insts), refusals=bt.refusals,
                       positions=positions)
    params: dict[str, object] = {
        "strategy": type(strategy).__name__,
        **{f"param.{k}": getattr(strategy, k) for k in strategy.parameters()},
        "data": description,
        "instruments": "; ".join(f"{i.venue}/{i.symbol}: {i.describe()}" for i in insts),
        "latency": lat.describe(),
        "queue": queue,
        "feed_latency": "recorded" if feed_ns is None else f"{feed_ns / 1e6:g} ms",
        "clock_offset_ns": bt.clock_offset_ns,
        "initial_capital": initial_capital,
        "account": account.description,
        "risk": {k: v for k, v in limits.as_kwargs().items() if v not in (None, False)} or "basic checks only",
        "events": bt.events,
        "final_trading_state": bt.trading_state,
    }
    return BacktestResult(orders, fills, equity, positions, stats, list(insts), params, bt.events, seconds,
                          bt.clock_offset_ns, bt.account(), gaps=gaps)


def _run(strategy: Strategy, src: DataSource, lat: Latency, queue: str, feed_ns: int | None,
         clock_offset: int | None, initial_capital: float, limits: RiskLimits, sample_ns: int,
         progress: Progress | None, log: logging.Logger | None, account: AccountPlan,
         partial_on_error: bool = False, period_ns: int | None = None) -> BacktestResult:
    insts = src.instruments
    bt = new_loop(strategy, insts, lat, queue, feed_ns, clock_offset, initial_capital, limits, sample_ns, log,
                  account)
    t0 = time.perf_counter()
    n_in = 0
    run, finish = bt.run, bt.finish
    try:
        strategy.on_start()
        for chunk in src.chunks:
            for i in range(0, len(chunk), PIECE):
                run(strategy, chunk[i:i + PIECE])
            n_in += len(chunk)
            if progress is not None:
                if src.progress_bytes is not None:
                    progress(src.progress_bytes(), src.total_bytes)
                else:
                    progress(n_in, None)
        finish(strategy)
        strategy.on_stop()
    except Exception as e:
        # the strategy's own error (a frame of its files in the traceback) stops the replay
        err = StrategyError.locate(e, strategy_files(strategy), strategy) if partial_on_error else None
        if err is None:
            raise
        res = results_of(bt, strategy, insts, src.description, lat, queue, feed_ns, initial_capital, limits,
                         time.perf_counter() - t0, account, period_ns)
        res.params["stopped_by"] = str(err)
        res.error, err.result = err, res
        if src.report is not None:
            res.params["skipped_lines"] = skipped_summary(src.report())
        return res
    result = results_of(bt, strategy, insts, src.description, lat, queue, feed_ns, initial_capital, limits,
                        time.perf_counter() - t0, account, period_ns)
    if src.report is not None:
        result.params["skipped_lines"] = skipped_summary(src.report())
    return result


def skipped_summary(report: _core.CaptureReport) -> str:
    """The lines a lenient read skipped, counted by reason: ``"0"``, or
    ``"3 (unknown stream 'x@y': 2, negative value: 1)"``."""
    if not report.skipped_lines:
        return "0"
    reasons = ", ".join(f"{reason}: {n:,}" for reason, n in report.skipped.items())
    return f"{report.skipped_lines:,} ({reasons})"
