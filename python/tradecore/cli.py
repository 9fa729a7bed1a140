"""The ``tradecore`` command line.

Commands:
    demo     Generate the bundled synthetic market as a raw capture, replay it through the
             capture reader and the order book, and print what was seen.
    convert  Recorded files (Binance raw captures, Tardis CSV, Bybit JSON) -> the Parquet store.
    inspect  A summary of a recording or of the store: span, events, gaps, rates, spread, depth.
    synth    Write the seeded synthetic market as a raw Binance capture.

Errors are one line on stderr (``tradecore: error: ...``; ``--traceback`` prints the whole
traceback too). Exit status 2 for a user's error: bad arguments, a refused configuration, data
that cannot be read, an error in the user's strategy (named by its file:line, a backtest's
report of what ran before it still written); 130 when interrupted; 141 when stdout's reader
left (``tradecore inspect ... | head``, quietly). Any other exception is a bug of tradecore's
and keeps Python's traceback (exit status 1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa

import tradecore
from tradecore.data import TickStore
from tradecore.data.store import WriteMode
from tradecore.backtest.engine import skipped_summary
from tradecore.errors import DataError, InvalidInput, StrategyError, TradecoreError, strategy_files
from tradecore.instrument import Instrument, resolve_instrument


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit status 2 (``--help`` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fmt_count(n: float) -> str:
    return f"{n:,.0f}"


def demo(seconds: float, seed: int, out: Path | None, chunk_events: int) -> int:
    """Runs the demo; returns the process exit status."""
    with tempfile.TemporaryDirectory(prefix="tradecore-demo-") as tmp:
        folder = out if out is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        capture = folder / f"synthetic_btcusdt_seed{seed}.gz"
        t0 = time.perf_counter()
        written = tradecore.synth_binance(capture, seconds=seconds, seed=seed)
        t_synth = time.perf_counter() - t0
        size_mb = capture.stat().st_size / 1e6
        print(f"generated {capture.name}: {seconds:g} s of synthetic BTCUSDT (USD-M), "
              f"{_fmt_count(written['lines'])} lines, {size_mb:.1f} MB gz, in {t_synth:.2f} s")

        book = tradecore.OrderBook(tick_size=0.1, lot_size=0.001)
        reader = tradecore.iter_binance(capture, chunk_events=chunk_events)
        t_read = t_apply = 0.0
        n_events = n_book = 0
        t0 = time.perf_counter()
        for chunk in reader:
            t1 = time.perf_counter()
            t_read += t1 - t0
            book.apply(chunk)
            t0 = time.perf_counter()
            t_apply += t0 - t1
            n_events += len(chunk)
            n_book += int(np.count_nonzero(np.isin(chunk["kind"], (tradecore.Kind.DEPTH, tradecore.Kind.SNAPSHOT))))
        report = reader.report

    print()
    print("replay through the capture reader and the order book")
    rows = [
        ("messages", ", ".join(f"{k} {_fmt_count(v)}" for k, v in report.messages.items() if v)),
        ("events", ", ".join(f"{k} {_fmt_count(v)}" for k, v in report.events.items() if v)),
        ("level updates", _fmt_count(n_book)),
        ("time span", f"{report.span_seconds:.1f} s (local receive time)"),
        ("gaps", f"{report.gap_count}" + (f" (first at event {report.gaps[0].event_index})" if report.gaps else "")),
        ("stale dropped", f"{report.stale_messages} depth messages before the snapshot"),
        ("book", f"{book.bid_levels} bid / {book.ask_levels} ask levels, in sync: {book.in_sync}"),
    ]
    bb, ba = book.best_bid(), book.best_ask()
    if bb and ba:
        rows.append(("top of book", f"bid {bb[1]:.3f} @ {bb[0]:.1f} | ask {ba[1]:.3f} @ {ba[0]:.1f} | "
                                    f"spread {book.spread():.1f} | microprice {book.microprice():.2f}"))
    rows.append(("read throughput", f"{n_events / t_read / 1e6:.2f} M events/s, {written['lines'] / t_read / 1e6:.2f} M lines/s "
                                    "(gz -> normalized events)"))
    rows.append(("book apply", f"{t_apply / max(n_events, 1) * 1e9:.1f} ns per event "
                               f"({n_book / max(n_events, 1):.0%} of them level updates, the rest skipped)"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    if report.gap_count:
        print("error: the synthetic capture should replay without gaps", file=sys.stderr)
        return 1
    return 0


class Progress:
    """A one-line progress bar on stderr (redrawn at most 10 times a second; silent when
    ``enabled`` is false)."""

    def __init__(self, enabled: bool, width: int = 30) -> None:
        self.enabled, self.width = enabled, width
        self.t0 = self.last = time.perf_counter()

    def update(self, done: int, total: int, events: int, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not final and now - self.last < 0.1):
            return
        self.last = now
        frac = min(done / total, 1.0) if total else 1.0
        bar = "#" * int(frac * self.width)
        rate = events / max(now - self.t0, 1e-9)
        sys.stderr.write(f"\r[{bar:<{self.width}}] {frac:4.0%}  {_fmt_count(events)} events  "
                         f"{rate / 1e6:.2f} M/s ")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _instrument_for(args: argparse.Namespace, chunk: np.ndarray, report: tradecore.CaptureReport) -> Instrument:
    venue = args.venue or report.venue
    symbol = report.symbol
    if not venue or not symbol:
        raise InvalidInput(f"invalid input: cannot tell the {'venue' if not venue else 'symbol'} of "
                           f"{report.files[0]}; pass --venue / --symbol")
    fields = {k: v for k, v in (("kind", args.kind), ("contract_size", args.contract_size),
                                ("tick_size", args.tick_size), ("lot_size", args.lot_size)) if v is not None}
    return resolve_instrument(venue, symbol, chunk, fields=fields)


def _check_grid(inst: Instrument, chunk: np.ndarray, offset: int) -> None:
    """Refuses events off the instrument's grid (an inferred tick the data later contradicts)."""
    tick = int(Decimal(inst.tick_size) * tradecore.SCALE)
    priced = np.isin(chunk["kind"], (1, 2, 4, 5)) & (chunk["price"] > 0)
    bad = np.flatnonzero(priced & (chunk["price"] % tick != 0))
    if len(bad):
        i = int(bad[0])
        price = Decimal(int(chunk["price"][i])) / tradecore.SCALE
        how = "inferred from the first events" if inst.inferred else "given"
        raise DataError(f"event {offset + i}: price {price} is not a multiple of the tick size {inst.tick_size} "
                        f"({how}); pass --tick-size")


def convert(args: argparse.Namespace) -> int:
    """Recorded files -> the tick store."""
    store = TickStore(args.out)
    mode: WriteMode = "overwrite" if args.overwrite else "append" if args.append else "error"
    reader = tradecore.iter_capture(args.files, args.symbol, chunk_events=args.chunk_events,
                                    format=args.format, lenient=args.lenient)
    progress = Progress(not args.quiet)
    writer = None
    n = 0
    t0 = time.perf_counter()
    try:
        for chunk in reader:
            if writer is None:
                inst = _instrument_for(args, chunk, reader.report)
                writer = store.writer(inst, mode=mode)
            _check_grid(writer.instrument, chunk, n)
            writer.write(chunk)
            n += len(chunk)
            r = reader.report
            progress.update(r.bytes_read, r.bytes_total, n)
    except BaseException:
        if writer is not None:
            writer.abort()  # no half-converted partitions left behind
        if progress.enabled:
            sys.stderr.write("\n")
        raise
    if writer is not None:
        writer.close()
    r = reader.report
    progress.update(r.bytes_total, r.bytes_total, n, final=True)
    elapsed = time.perf_counter() - t0
    if writer is None:
        print(f"tradecore: error: no events in {', '.join(r.files)}", file=sys.stderr)
        return 1
    inst = writer.instrument
    rows = [
        ("input", f"{len(r.files)} file(s), {r.format}, {r.bytes_total / 1e6:.1f} MB"),
        ("instrument", f"{inst.venue}/{inst.symbol}: {inst.describe()}"),
        ("events", ", ".join(f"{k} {_fmt_count(v)}" for k, v in r.events.items() if v) + f" (total {_fmt_count(n)})"),
        ("time span", _span(r.first_exch_ts, r.last_exch_ts) + " (exchange time)"),
        ("gaps", f"{r.gap_count}" + (f", first at event {r.gaps[0].event_index} ({r.gaps[0].file}:{r.gaps[0].line})" if r.gaps else "")),
        ("skipped lines", skipped_summary(r) + (f"; first: {r.errors[0]}" if r.errors else "")),
        ("written", f"{len(writer.paths)} file(s) under {store.root}"),
        ("throughput", f"{n / elapsed / 1e6:.2f} M events/s end to end ({elapsed:.2f} s)"),
    ]
    _table(rows)
    return 0


def _span(a: int | None, b: int | None) -> str:
    if a is None or b is None:
        return "-"
    fmt = "%Y-%m-%d %H:%M:%S"
    start = dt.datetime.fromtimestamp(a / 1e9, dt.UTC).strftime(fmt)
    end = dt.datetime.fromtimestamp(b / 1e9, dt.UTC).strftime(fmt)
    return f"{start} -> {end} UTC ({(b - a) / 1e9:,.1f} s)"


def _table(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


class _Stats:
    """Running statistics of a stream of events, with the book rebuilt for spread and depth
    (sampled every ``every`` events)."""

    KINDS = {int(k): k.name.lower() for k in tradecore.Kind}

    def __init__(self, inst: Instrument, every: int = 5_000) -> None:
        self.book = tradecore.OrderBook(float(inst.tick_size), float(inst.lot_size))
        self.tick = float(inst.tick_size)
        self.every = every
        self.events = 0
        self.by_kind: dict[str, int] = {}
        self.messages = 0
        self.unsynced = 0
        self.clears = 0
        self.gaps = 0
        self._unsynced_prev = True
        self._seen_clear = False
        self.first: int | None = None
        self.last: int | None = None
        self.spreads: list[float] = []
        self.levels: list[int] = []

    def add(self, chunk: np.ndarray) -> None:
        kinds, counts = np.unique(chunk["kind"], return_counts=True)
        for k, c in zip(kinds.tolist(), counts.tolist(), strict=True):
            name = self.KINDS.get(k, str(k))
            self.by_kind[name] = self.by_kind.get(name, 0) + c
        self.messages += int(np.count_nonzero(chunk["flags"] & tradecore.Flag.LAST_IN_MESSAGE))
        self.unsynced += int(np.count_nonzero(chunk["flags"] & tradecore.Flag.OUT_OF_SYNC))
        self.clears += int(np.count_nonzero(chunk["kind"] == tradecore.Kind.CLEAR))
        # A gap shows in the events as a fall out of sync after the book was synced: count the
        # rising edges of OUT_OF_SYNC after the first book rebuild.
        unsynced = (chunk["flags"] & tradecore.Flag.OUT_OF_SYNC) != 0
        clear_at = np.flatnonzero(chunk["kind"] == tradecore.Kind.CLEAR)
        prev = np.concatenate(([self._unsynced_prev], unsynced[:-1]))
        rising = np.flatnonzero(unsynced & ~prev)
        if not self._seen_clear:
            rising = rising[rising > clear_at[0]] if len(clear_at) else rising[:0]
        self.gaps += len(rising)
        self._seen_clear = self._seen_clear or len(clear_at) > 0
        if len(chunk):
            self._unsynced_prev = bool(unsynced[-1])
        ts = chunk["exch_ts"][chunk["exch_ts"] > 0]
        if len(ts):
            lo, hi = int(ts.min()), int(ts.max())
            self.first = lo if self.first is None else min(self.first, lo)
            self.last = hi if self.last is None else max(self.last, hi)
        for start in range(0, len(chunk), self.every):
            self.book.apply(chunk[start:start + self.every])
            spread = self.book.spread()
            if spread is not None and self.book.in_sync and not self.book.is_crossed():
                self.spreads.append(spread / self.tick)
                self.levels.append(self.book.bid_levels + self.book.ask_levels)
        self.events += len(chunk)

    def rows(self) -> list[tuple[str, str]]:
        span = ((self.last or 0) - (self.first or 0)) / 1e9
        rows = [
            ("time span", _span(self.first, self.last)),
            ("events", ", ".join(f"{k} {_fmt_count(v)}" for k, v in sorted(self.by_kind.items())) + f" (total {_fmt_count(self.events)})"),
            ("message rate", f"{self.messages / span:,.1f} messages/s, {self.events / span:,.0f} events/s" if span > 0 else "-"),
            ("gaps", f"{self.gaps} (falls out of sync after a book rebuild)"),
            ("out of sync", f"{_fmt_count(self.unsynced)} events flagged OUT_OF_SYNC, {self.clears} book rebuilds (CLEAR)"),
        ]
        if self.spreads:
            s = np.asarray(self.spreads)
            d = np.asarray(self.levels)
            rows.append(("spread (ticks)", f"median {np.median(s):g}, p90 {np.percentile(s, 90):g}, max {s.max():g} "
                                           f"({len(s)} samples, every {self.every:,} events)"))
            rows.append(("book depth", f"median {np.median(d):g} levels (both sides), min {d.min()}, max {d.max()}"))
        return rows


def inspect(args: argparse.Namespace) -> int:
    """Summary of a recording or of the store."""
    path = Path(args.path)
    if path.is_dir():
        store = TickStore(path)
        symbols = store.symbols()
        if not symbols:
            raise InvalidInput(f"invalid path: {path} (neither a recording nor a tick store with data)")
        for venue, symbol in symbols:
            parts = store.partitions(venue, symbol)
            inst = store.instrument(venue, symbol)
            per_symbol = _Stats(inst)
            for chunk in store.replay([(venue, symbol)], chunk_events=args.chunk_events):
                per_symbol.add(chunk)
            size = sum(f.stat().st_size for p in parts for f in p.files)
            print(f"{venue}/{symbol}  ({len(parts)} date partition(s), {parts[0].date} .. {parts[-1].date}, {size / 1e6:.1f} MB)")
            _table([("instrument", f"tick {inst.tick_size}, lot {inst.lot_size}, {inst.kind}, contract {inst.contract_size}"
                                   + (" (inferred)" if inst.inferred else ""))] + per_symbol.rows())
        return 0
    reader = tradecore.iter_capture(path, args.symbol, chunk_events=args.chunk_events, lenient=args.lenient)
    stats: _Stats | None = None
    for chunk in reader:
        if stats is None:
            r = reader.report
            inst = resolve_instrument(r.venue or "unknown", r.symbol or "unknown", chunk)
            stats = _Stats(inst)
        stats.add(chunk)
    r = reader.report
    if r.format is None or stats is None:
        why = "the file is empty" if r.format is None else "no line of it could be read"
        raise DataError(f"{path}: no data ({why}; {r.lines} line(s), {skipped_summary(r)} skipped)")
    print(f"{path}  ({r.format}, {r.venue or '?'}/{r.symbol or '?'}, {r.bytes_total / 1e6:.1f} MB)")
    rows = [("lines", f"{_fmt_count(r.lines)} ({r.records:,} records, {skipped_summary(r)} skipped)"
                      + (f"; first: {r.errors[0]}" if r.errors else "")),
            ("gaps", f"{r.gap_count}" + "".join(f"; at event {g.event_index} ({Path(g.file).name}:{g.line}, {g.check} expected {g.expected} got {g.got})" for g in r.gaps[:3]))]
    if stats is not None:
        rows.insert(0, ("instrument", inst.describe()))
        rows += stats.rows()
    _table(rows)
    return 0


def synth(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    written = tradecore.synth_binance(args.out, seconds=args.minutes * 60, seed=args.seed, symbol=args.symbol,
                                      events_per_second=args.events_per_second)
    print(f"wrote {args.out}: {args.minutes:g} min of synthetic {args.symbol} (USD-M, seed {args.seed}), "
          f"{_fmt_count(written['lines'])} lines, {Path(args.out).stat().st_size / 1e6:.1f} MB, "
          f"in {time.perf_counter() - t0:.2f} s")
    return 0


def train(args: argparse.Namespace) -> int:
    """Runs ``tradecore train``; returns the exit status."""
    from tradecore.train import train_model

    data: object = "synthetic" if args.data == ["synthetic"] else [Path(d) for d in args.data]
    if isinstance(data, list) and len(data) == 1 and data[0].is_dir():
        data = data[0]
    fields = {k: v for k, v in (("tick_size", args.tick_size), ("lot_size", args.lot_size)) if v is not None}
    r = train_model(data, args.features, horizon=args.label, target=args.target, sample=args.sample, bars=args.bars,
                    out=args.out, valid_fraction=args.valid, trees=args.trees, leaves=args.leaves,
                    learning_rate=args.learning_rate, seed=args.seed, synthetic_seconds=args.seconds,
                    instrument_fields=fields or None, lenient=args.lenient)
    m = r.metrics
    print(f"trained on {m['instrument']} ({m['data']}): {len(m['features'])} features, label: {m['target']} over "
          f"{m['horizon']}, {m['objective']}")
    rows = [("rows", f"{m['rows']:,} ({m['train_rows']:,} train, {m['embargoed_rows']:,} embargoed, "
                     f"{m['valid_rows']:,} validation, by time)"),
            ("model", f"{m['trees']} trees of up to {m['leaves']} leaves -> {r.model_path}"),
            ("features", f"{', '.join(m['features'])} (definition sha256 {m['features_sha256'][:16]}, in the model)"),
            ("skipped lines", str(m["skipped_lines"]))]
    if m["target"] == "sign":
        rows += [("validation AUC", f"{m['valid_auc']:.4f}"),
                 ("validation log loss", f"{m['valid_logloss']:.5f} (base rate {m['valid_logloss_base_rate']:.5f})"),
                 ("validation accuracy", f"{m['valid_accuracy']:.4f} (up rate {m['valid_up_rate']:.4f})")]
    else:
        rows += [("validation RMSE", f"{m['valid_rmse_bps']:.4f} bps (train mean: {m['valid_rmse_train_mean_bps']:.4f})"),
                 ("validation IC", f"{m['valid_ic']:.4f} (rank IC {m['valid_rank_ic']:.4f})"),
                 ("validation hit rate", f"{m['valid_hit_rate']:.4f} (sign, nonzero returns)")]
    rows.append(("tradecore vs LightGBM", f"max |difference| {m['tradecore_vs_lightgbm_max_abs_diff']:.1e} "
                                          "on the validation rows"))
    rows.append(("report", str(r.report_path)))
    _table(rows)
    return 0


def _params(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"invalid --param: {item!r} (expected key=value)")
        out[key.strip()] = value.strip()
    return out


def _venue_symbol(text: str) -> tuple[str, str]:
    venue, sep, symbol = text.partition("/")
    if not sep or not venue or not symbol:
        raise InvalidInput(f"invalid --symbol: {text!r} (expected venue/SYMBOL, e.g. binance-usdm/BTCUSDT)")
    return venue, symbol


def backtest(args: argparse.Namespace) -> int:
    """Runs ``tradecore backtest``; returns the exit status."""
    import json

    from tradecore.backtest import load_strategy, run_backtest

    strategy = load_strategy(args.strategy, _params(args.param))
    risk = tradecore.RiskLimits.from_toml(args.risk) if args.risk else None
    fields = {k: v for k, v in (("tick_size", args.tick_size), ("lot_size", args.lot_size), ("kind", args.kind),
                                ("contract_size", args.contract_size), ("maker_fee", args.maker_fee),
                                ("taker_fee", args.taker_fee)) if v is not None}
    if args.zero_fees:
        if "maker_fee" in fields or "taker_fee" in fields:
            raise InvalidInput("invalid --zero-fees: not with --maker-fee / --taker-fee")
        fields.update(maker_fee="0", taker_fee="0", fee_source="zero fees, as asked (--zero-fees)")
    data: str | list[Path] = "synthetic" if args.data == ["synthetic"] else [Path(d) for d in args.data]
    if isinstance(data, list) and len(data) == 1 and data[0].is_dir():
        data_arg: object = data[0]
    else:
        data_arg = data
    bar = Progress(not args.quiet and sys.stderr.isatty())
    last = [0, 0]

    def progress(done: int, total: int | None) -> None:
        last[0], last[1] = done, total or 0
        bar.update(done, total or 0, 0 if total else done)

    result = run_backtest(
        strategy, data_arg,  # type: ignore[arg-type]
        symbols=[_venue_symbol(s) for s in args.symbol] if args.symbol else None,
        start=args.start, end=args.end, latency=args.latency, queue=args.queue, feed_latency=args.feed_latency,
        clock_offset=args.clock_offset_ns, initial_capital=args.capital, risk=risk,
        sample_interval=args.sample_interval, return_period=args.return_period, seed=args.seed,
        synthetic_seconds=args.seconds,
        instrument_fields=fields or None, progress=progress, account=args.account,
        balances=_balances(args.balance) if args.balance else None, leverage=args.leverage,
        liquidation_fee=args.liquidation_fee, instruments=args.instruments, partial_on_error=True,
        lenient=args.lenient)
    bar.update(last[1] or last[0], last[1] or last[0], 0 if last[1] else last[0], final=True)
    p = result.params
    offset = result.clock_offset_ns
    print(f"backtest of {p['strategy']} on {p['data']}")
    _table([("instruments", str(p["instruments"])), ("latency", str(p["latency"])), ("queue model", args.queue),
            ("feed latency", f"{p['feed_latency']}" + (f" (clock offset {offset / 1e6:,.3f} ms removed)"
                                                        if offset is not None else "")),
            ("account", str(p["account"])),
            ("risk limits", str(p["risk"])),
            ("replay", f"{_fmt_count(result.events)} events in {result.seconds:.2f} s, reading and the "
                       f"strategy's Python included ({result.events_per_s / 1e6:.2f} M events/s)"),
            ("trading state", str(p["final_trading_state"]))]
           + ([("stopped", "by the strategy's error (below): what ran before it")] if result.error else [])
           + ([("skipped lines", str(p["skipped_lines"]))] if "skipped_lines" in p else []))
    print()
    print(result.summary())
    if args.report:
        path = result.write_report(args.report)
        print(f"\nreport: {path}")
    if args.json:
        doc = {**result.stats.to_json(), "params": {k: str(v) for k, v in p.items()}}
        Path(args.json).write_text(json.dumps(doc, indent=2, allow_nan=False))
        print(f"statistics: {args.json}")
    if result.error is not None:
        raise result.error
    return 0


def _balances(items: list[str]) -> dict[str, float]:
    """``ASSET=AMOUNT`` items as a dict (an amount that is not a number is refused, naming it)."""
    out: dict[str, float] = {}
    for item in items:
        asset, sep, amount = item.partition("=")
        if not sep or not asset:
            raise InvalidInput(f"invalid --balance: {item!r} (ASSET=AMOUNT)")
        try:
            out[asset] = float(amount)
        except ValueError:
            raise InvalidInput(f"invalid --balance {asset}: {amount!r} (not a number)") from None
    return out


def _asyncio_run(coro: Any) -> None:
    try:
        import uvloop

        uvloop.run(coro)
    except ImportError:  # platforms without uvloop
        import asyncio

        asyncio.run(coro)


def exchange_sim(args: argparse.Namespace) -> int:
    """Runs ``tradecore exchange-sim``; returns the exit status."""
    import asyncio
    import logging

    from tradecore.live.exchange_sim import ExchangeSimulator, Faults

    if args.data == "synthetic":
        tmp = tempfile.TemporaryDirectory(prefix="tradecore-sim-")
        path = Path(tmp.name) / "synthetic.gz"
        tradecore.synth_binance(path, seconds=args.seconds, seed=args.seed)
    else:
        path = Path(args.data)
        if not path.is_file():
            raise InvalidInput(f"invalid --data: {args.data!r} (no such file; a raw capture or 'synthetic')")
    faults = Faults(drop_every=args.drop_every, disconnect_after=args.disconnect_after, disconnects=args.disconnects,
                    delay_ms=args.delay_ms, malformed_every=args.malformed_every, rest_429=args.rest_429,
                    rest_418=args.rest_418, retry_after_s=args.retry_after, order_429=args.order_429,
                    order_unknown_every=args.order_unknown_every, order_delay_ms=args.order_delay_ms)
    kw: dict[str, Any] = {}
    if args.tick_size and args.lot_size:
        kw = {"tick_size": float(args.tick_size), "lot_size": float(args.lot_size)}
    sim = ExchangeSimulator.from_capture(path, speed=args.speed, host=args.host, port=args.port, faults=faults,
                                         pause_without_clients=False, api_key=args.api_key,
                                         api_secret=args.api_secret, balance=args.balance,
                                         lenient=args.lenient, **kw)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def serve() -> None:
        await sim.start()
        print(f"exchange simulator on {sim.ws_url} (websocket: {sim.ws_url}/stream?streams=...; REST: "
              f"{sim.rest_url}/fapi/v1/depth?symbol=...), {len(sim.frames):,} frames at speed {args.speed:g}",
              flush=True)
        print(f"USD-M orders on {sim.rest_url}/fapi (user data: {sim.ws_url}/private/ws?listenKey=...), "
              f"API key {sim.api_key!r}, balance {args.balance:,.2f} USDT", flush=True)
        if sim.capture_report is not None and sim.capture_report.skipped_lines:
            print(f"skipped lines (the start of the capture, read for its sizes): "
                  f"{skipped_summary(sim.capture_report)}", flush=True)
        try:
            if args.exit_at_end:
                await sim.wait_done()
                await asyncio.sleep(1.0)
            else:
                await asyncio.Event().wait()
        finally:
            await sim.stop()
            st = sim.stats
            print(f"sent {st.frames_sent:,} frames (dropped {st.frames_dropped}, malformed {st.malformed_sent}), "
                  f"{st.connections} connection(s), {st.disconnects} disconnect(s), {st.rest_requests} snapshot "
                  f"request(s), {st.rest_refused} refused; {st.order_requests} order request(s), "
                  f"{st.orders_placed} order(s) placed, {st.fills} fill(s)", flush=True)

    _asyncio_run(serve())
    return 0


def live(args: argparse.Namespace, *, record_only: bool = False) -> int:
    """Runs ``tradecore live`` / ``tradecore record``; returns the exit status."""
    import logging

    from tradecore.live.runner import LiveConfig, LiveRunner

    config = LiveConfig.from_toml(args.config)
    out = getattr(args, "out", None)
    if record_only and out is None and config.record is None:
        raise InvalidInput("invalid arguments: record needs --out or a [live] record folder in the config")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    strategy = None
    if getattr(args, "strategy", None):
        from tradecore.backtest import load_strategy

        strategy = load_strategy(args.strategy, _params(args.param))
    runner = LiveRunner(config, record=out, strategy=strategy)
    error: StrategyError | None = None
    try:
        _asyncio_run(runner.run(args.duration or None))
    except Exception as e:  # the strategy's own error: the session's tables and report still written
        error = StrategyError.locate(e, strategy_files(strategy), strategy) if strategy is not None else None
        if error is None:
            raise
    if runner.result is not None:
        res = runner.result
        print(f"paper trading: {len(res.orders):,} orders, {len(res.fills):,} fills, "
              f"final state {res.params['final_trading_state']}")
        if runner.paper is not None:
            p = runner.paper
            print(f"paper session {p.session}" + (f" ({res.params['sessions']})" if "sessions" in res.params else ""))
            for i, inst in enumerate(p.instruments):
                pos = p.bt.position(i)
                print(f"position {inst.symbol}: {pos.qty!r} (realized {pos.realized:.6f}, fees {pos.fees:.6f})")
        print(res.summary())
        if getattr(args, "report", None):
            print(f"report: {res.write_report(args.report, title=f'tradecore paper: {type(strategy).__name__}')}")
    for b in runner.md.books.values():
        h = b.health
        print(f"{h.symbol}: {h.messages:,} frames, in sync {h.in_sync}, gaps {h.gaps}, resyncs {h.resyncs}, "
              f"reconnects {h.reconnects}, malformed {h.malformed}; bid {b.book.best_bid()} ask {b.book.best_ask()}")
    if runner.recorder is not None:
        print(f"recorded {runner.recorder.frames:,} frames in {len(runner.recorder.files)} file(s) under "
              f"{runner.recorder.folder}")
    if error is not None:
        raise error
    return 0


def report(args: argparse.Namespace) -> int:
    """The tables and HTML report of a trading journal (paper or real), rebuilt from it."""
    from tradecore.live.journal_report import rebuild

    res = rebuild(args.journal, initial_capital=args.initial_capital)
    print(f"journal {args.journal}: {len(res.orders):,} orders, {len(res.fills):,} fills, sessions "
          f"{res.params['sessions']} ({res.params['mode']}); equity {res.params['equity']}")
    if res.stats:
        print(res.summary())
    print(f"report: {res.write_report(args.out, title=args.title)}")
    return 0


def kill(args: argparse.Namespace) -> int:
    """Runs ``tradecore kill``: SIGUSR1 to the runner holding the configuration's state
    directory lock, only once it is verified to be one: the lock is held (a lock file nobody
    holds is stale: nothing is signalled) and the pid is a Python (tradecore) process."""
    import os
    import signal

    from tradecore.live.runner import LiveConfig
    from tradecore.live.session import lock_holders, lock_is_held, read_lock

    config = LiveConfig.from_toml(args.config)
    lockfile = config.trading.lockfile
    if not lockfile.exists():
        raise InvalidInput(f"invalid kill: no runner of {args.config} is running (no lock file {lockfile})")
    info = read_lock(lockfile)
    if not lock_is_held(lockfile):
        stale = f"stale lock file of pid {info.pid}" if info is not None else f"stale lock file {lockfile}"
        raise InvalidInput(f"invalid kill: no runner of {args.config} is running ({stale}); nothing signalled")
    if info is None:
        raise InvalidInput(f"invalid kill: the lock file {lockfile} is held but does not name its runner yet "
                           "(starting?); nothing signalled, try again")
    try:
        cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        raise InvalidInput(f"invalid kill: pid {info.pid} of {lockfile} is not running; nothing signalled") from None
    if not _is_tradecore_runner(cmdline):
        shown = " ".join(a.decode(errors="replace") for a in cmdline if a)[:120]
        raise InvalidInput(f"invalid kill: pid {info.pid} of {lockfile} is not a tradecore runner ({shown!r}); "
                           "nothing signalled")
    holders = lock_holders(lockfile)
    if holders is not None and info.pid not in holders:
        raise InvalidInput(f"invalid kill: pid {info.pid} named by {lockfile} does not hold its lock (held by "
                           f"{', '.join(map(str, sorted(holders))) or 'nobody now'}); nothing signalled")
    try:
        os.kill(info.pid, signal.SIGUSR1)
    except ProcessLookupError:
        raise InvalidInput(f"invalid kill: the runner of {lockfile} (pid {info.pid}) is not running") from None
    print(f"kill switch sent to the runner (pid {info.pid}, session {info.session})")
    return 0


def _is_tradecore_runner(cmdline: list[bytes]) -> bool:
    """A Python interpreter running tradecore (``python -m tradecore``, the ``tradecore``
    script), judged from ``/proc/<pid>/cmdline``."""
    args = [a for a in cmdline if a]
    if not args:
        return False
    names = [Path(a.decode(errors="replace")).name for a in args[:3]]
    python = names[0].startswith("python") or names[0] == "tradecore"
    return python and any(b"tradecore" in a for a in args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tradecore`` command."""
    parser = _Parser(prog="tradecore", description="tradecore: a low-latency trading engine.")
    parser.add_argument("--version", action="version", version=f"tradecore {tradecore.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("demo", help="replay the bundled synthetic market through the reader and the book",
                       description="Generate a seeded synthetic market as a raw Binance capture, replay it "
                                   "through the capture reader and the order book, and print what was seen.")
    p.add_argument("--seconds", type=float, default=120.0, help="simulated duration (default 120)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--out", type=Path, default=None, help="keep the capture in this folder (default: a temporary one)")
    p.add_argument("--chunk-events", type=int, default=1_000_000, help="events per chunk (default 1,000,000)")

    p = sub.add_parser("convert", help="recorded files -> the Parquet tick store",
                       description="Read recorded market data (Binance raw captures, Tardis.dev CSV, Bybit order "
                                   "book JSON; gzip, zip or text; the format is recognised) and write it to the "
                                   "tick store, partitioned by venue/symbol/date with the instrument's metadata. "
                                   "Files are read in order as one stream. Tick and lot sizes are inferred from "
                                   "the data unless given.")
    p.add_argument("files", nargs="+", type=Path, help="recorded files, in order")
    p.add_argument("--out", type=Path, required=True, help="the store's folder")
    p.add_argument("--symbol", help="keep only this symbol")
    p.add_argument("--format", help="refuse other formats (binance, tardis, bybit)")
    p.add_argument("--venue", help="venue name (default: as the data names it, e.g. binance-usdm)")
    p.add_argument("--tick-size", help="price increment (default: inferred)")
    p.add_argument("--lot-size", help="quantity increment (default: inferred)")
    p.add_argument("--kind", choices=("spot", "linear", "inverse"), help="contract kind (default: from the venue)")
    p.add_argument("--contract-size", help="contract size (default 1)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--overwrite", action="store_true", help="replace partitions that already hold data")
    group.add_argument("--append", action="store_true", help="add to partitions that already hold data")
    p.add_argument("--lenient", action="store_true", help="count and skip malformed lines instead of stopping")
    p.add_argument("--chunk-events", type=int, default=1_000_000, help="events per chunk (default 1,000,000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("inspect", help="summary of a recording or of the tick store",
                       description="Print a summary table of a recorded file or of a tick store folder: time "
                                   "span, events by kind, gaps, message rate, spread and depth statistics (the "
                                   "book is rebuilt and sampled).")
    p.add_argument("path", type=Path, help="a recorded file, or a tick store folder")
    p.add_argument("--symbol", help="keep only this symbol (recorded files)")
    p.add_argument("--lenient", action="store_true", help="count and skip malformed lines")
    p.add_argument("--chunk-events", type=int, default=1_000_000, help="events per chunk (default 1,000,000)")

    p = sub.add_parser("synth", help="write the seeded synthetic market as a raw capture",
                       description="Write a deterministic, seeded synthetic USD-M market (snapshot, depth diffs, "
                                   "trades, bookTicker, with local receive times) as a gzip raw Binance capture.")
    p.add_argument("--minutes", type=float, default=5.0, help="simulated duration (default 5)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--out", type=Path, required=True, help="output file (.gz)")
    p.add_argument("--symbol", default="BTCUSDT", help="symbol (default BTCUSDT)")
    p.add_argument("--events-per-second", type=float, default=400.0, help="order-flow intensity (default 400)")

    p = sub.add_parser("backtest", help="replay data through the exchange simulator with a strategy",
                       description="Replay recorded or synthetic market data through the exchange simulator "
                                   "(queue positions, latency, fees) with a strategy, every order passing the "
                                   "pre-trade risk checks; print the statistics and write the HTML report.")
    p.add_argument("--strategy", required=True, help="file.py:ClassName (a tradecore.strategy.Strategy)")
    p.add_argument("--data", nargs="+", default=["synthetic"],
                   help="raw capture file(s), a tick store folder, or 'synthetic' (default)")
    p.add_argument("--lenient", action="store_true",
                   help="count bad lines of recorded files by reason and skip them (a stream tradecore "
                        "does not read, a negative quantity...) instead of stopping")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter (repeatable)")
    p.add_argument("--latency", default="5ms",
                   help="order latency: '5ms', 'entry,response' ('2ms,3ms'), or a .npy/.csv file of recorded "
                        "entry_ns,response_ns pairs to sample from (default 5ms)")
    p.add_argument("--queue", default="conservative",
                   help="queue position model: conservative, log, log2, power:N, power2:N, power3:N "
                        "(default conservative)")
    p.add_argument("--feed-latency", default="recorded",
                   help="'recorded' (the data's receive times, clock offset removed) or a constant such as 2ms")
    p.add_argument("--clock-offset-ns", type=int, default=None,
                   help="the recorder's clock offset, local minus exchange (default: estimated)")
    p.add_argument("--capital", type=float, default=100_000.0,
                   help="initial capital: a margin account's wallet, a cash account's quote balance (default "
                        "100,000)")
    p.add_argument("--account", choices=("auto", "cash", "margin", "none"), default="auto",
                   help="the account orders are paid from: auto (spot: cash, futures: cross margin), cash, margin, "
                        "or none (no balance or margin checks) (default auto)")
    p.add_argument("--balance", action="append", metavar="ASSET=AMOUNT",
                   help="cash account: a starting balance (repeatable; default the quote asset at --capital)")
    p.add_argument("--leverage", type=float, help="margin account: leverage of every instrument (default 20, "
                                                  "Binance's)")
    p.add_argument("--liquidation-fee", type=float, help="margin account: liquidation clearance fee rate "
                                                         "(default the symbol's)")
    p.add_argument("--risk", type=Path, help="risk limits TOML file ([risk] table)")
    p.add_argument("--sample-interval", default="1s",
                   help="equity sampling interval of local time (default 1s; a hole in the data, no event for "
                        "over 5 min or 10 intervals, is reported as one gap, not sampled)")
    p.add_argument("--return-period", default=None,
                   help="the statistics' return grid, e.g. 1s, 1min, 1h, 1d (default: the coarsest of those "
                        "giving >= 60 returns over the data)")
    p.add_argument("--seed", type=int, default=0, help="seed of sampled latencies (default 0)")
    p.add_argument("--seconds", type=float, default=300.0, help="length of the synthetic market (default 300)")
    p.add_argument("--symbol", action="append", help="venue/SYMBOL to replay from a tick store (repeatable)")
    p.add_argument("--start", help="start time in a tick store (ISO time or date)")
    p.add_argument("--end", help="end time in a tick store")
    p.add_argument("--tick-size", help="instrument tick size (default: inferred or from the store)")
    p.add_argument("--lot-size", help="instrument lot size")
    p.add_argument("--kind", choices=("spot", "linear", "inverse"), help="contract kind")
    p.add_argument("--contract-size", help="contract size")
    p.add_argument("--maker-fee", help="maker fee rate (e.g. -0.0001 for a rebate)")
    p.add_argument("--taker-fee", help="taker fee rate (e.g. 0.0004)")
    p.add_argument("--zero-fees", action="store_true", help="trade without fees (default: the venue's standard "
                                                             "tier, or the fees of --instruments)")
    p.add_argument("--instruments", type=Path, help="the venue's instrument specs: an exchangeInfo JSON or a TOML "
                                                    "of [[instrument]] tables (default: the bundled snapshot, else "
                                                    "inferred from the data)")
    p.add_argument("--report", type=Path, help="write the HTML report here")
    p.add_argument("--json", type=Path, help="write the statistics as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("train", help="train a LightGBM model on a feature set over recorded data",
                       description="Compute a feature set over recorded (or synthetic) data, label each row with "
                                   "the mid's future return over a horizon (or its sign), split by time with an "
                                   "embargo (no leakage), train LightGBM, and write the model text and a metrics "
                                   "report (OUT.report.json). tradecore.Model.load and ctx.run_model take it.")
    p.add_argument("--data", nargs="+", default=["synthetic"],
                   help="raw capture file(s), a tick store folder, or 'synthetic' (default)")
    p.add_argument("--lenient", action="store_true",
                   help="count bad lines of recorded files by reason and skip them (a stream tradecore "
                        "does not read, a negative quantity...) instead of stopping")
    p.add_argument("--features", required=True,
                   help="the feature set: 'name=kind(param=value, ...)' items separated by commas, e.g. "
                        "'mid,spread,imb5=imbalance(levels=5),ofi=ofi(window=1s)', or a .json file")
    p.add_argument("--label", required=True, metavar="HORIZON",
                   help="label horizon: the mid's log return to the first row at or after t + HORIZON ('1s')")
    p.add_argument("--target", choices=("return", "sign"), default="return",
                   help="regress the return (bps), or classify its sign (binary: up or not); default return")
    p.add_argument("--sample", default="100ms", help="row sampling: a duration, message, trade or bar (default 100ms)")
    p.add_argument("--bars", help="bar interval of bar-based features ('1s')")
    p.add_argument("--valid", type=float, default=0.2, help="validation fraction, the latest rows (default 0.2)")
    p.add_argument("--trees", type=int, default=100, help="boosting rounds (default 100)")
    p.add_argument("--leaves", type=int, default=31, help="leaves per tree (default 31)")
    p.add_argument("--learning-rate", type=float, default=0.05, help="learning rate (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--seconds", type=float, default=300.0, help="length of the synthetic market (default 300)")
    p.add_argument("--tick-size", help="instrument tick size (default: inferred)")
    p.add_argument("--lot-size", help="instrument lot size")
    p.add_argument("--out", type=Path, required=True, help="the model text file to write")

    p = sub.add_parser("exchange-sim", help="a Binance-protocol exchange (market data, USD-M orders) on 127.0.0.1",
                       description="Serve Binance-compatible combined-stream websockets and the REST depth "
                                   "snapshot on 127.0.0.1, replaying a raw capture (or the synthetic market) at "
                                   "real or accelerated speed, and Binance USD-M order endpoints (/fapi, signed "
                                   "requests, the user-data stream) matched against the replayed book, with "
                                   "optional fault injection.")
    p.add_argument("--data", default="synthetic", help="a raw Binance capture, or 'synthetic' (default)")
    p.add_argument("--lenient", action="store_true",
                   help="count bad lines of recorded files by reason and skip them (a stream tradecore "
                        "does not read, a negative quantity...) instead of stopping")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed factor (1 real time, 0 as fast as possible)")
    p.add_argument("--seconds", type=float, default=300.0, help="length of the synthetic market (default 300)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic market (default 7)")
    p.add_argument("--tick-size", help="tick size of the simulator's book (default: inferred)")
    p.add_argument("--lot-size", help="lot size of the simulator's book (default: inferred)")
    p.add_argument("--drop-every", type=int, default=0, help="drop every Nth depth frame (a sequence gap)")
    p.add_argument("--disconnect-after", type=int, default=0, help="close each connection after N frames")
    p.add_argument("--disconnects", type=int, default=1, help="how many connections to close that way (default 1)")
    p.add_argument("--delay-ms", type=float, default=0.0, help="extra delay before each frame")
    p.add_argument("--malformed-every", type=int, default=0, help="send a truncated frame instead of every Nth")
    p.add_argument("--rest-429", type=int, default=0, help="answer the first N snapshot requests with HTTP 429")
    p.add_argument("--rest-418", type=int, default=0, help="then the next N with HTTP 418")
    p.add_argument("--retry-after", type=float, default=1.0,
                   help="Retry-After of the 429/418 answers (snapshot and orders), s (default 1)")
    p.add_argument("--api-key", default="test-key", help="the account's API key (default test-key)")
    p.add_argument("--api-secret", default="test-secret", help="its secret, for HMAC signatures (default test-secret)")
    p.add_argument("--balance", type=float, default=10_000.0, help="initial USDT balance (default 10000)")
    p.add_argument("--order-429", type=int, default=0,
                   help="answer the first N order requests with HTTP 429 (-1003) and Retry-After")
    p.add_argument("--order-unknown-every", type=int, default=0,
                   help="execute every Nth new order but answer HTTP 503 -1007 (execution status unknown)")
    p.add_argument("--order-delay-ms", type=float, default=0.0,
                   help="answer each order request this late (it is executed on arrival)")
    p.add_argument("--exit-at-end", action="store_true", help="stop when the data is sent (default: keep serving)")

    for name, what in (("live", "run the live feeds (books in sync, metrics, optional recording)"),
                       ("record", "record every raw frame of the live feeds in the raw capture format")):
        p = sub.add_parser(name, help=what, description=what[0].upper() + what[1:] + " from a TOML "
                           "configuration ([live] market, symbols, ws_url, rest_url, metrics_port, record; "
                           "[symbols.X] tick_size, lot_size). Stops on Ctrl-C or after --duration.")
        p.add_argument("--config", type=Path, required=True, help="the TOML configuration")
        p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (default: run on)")
        if name == "record":
            p.add_argument("--out", type=Path, help="folder of the recording (default: [live] record)")
        else:
            p.add_argument("--strategy", help="file.py:ClassName: trades on the live feeds (on paper by "
                                              "default: [trading] mode)")
            p.add_argument("--report", type=Path, help="paper trading: write the HTML report of the session here")
            p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                           help="strategy parameter (repeatable)")

    p = sub.add_parser("report", help="the HTML report of a trading journal (paper or real), rebuilt from it",
                       description="Rebuilds the orders and fills tables of a journal (state_dir/journal.sqlite), "
                       "the equity from its fills and recorded marks, prints the summary and writes the report.")
    p.add_argument("--journal", type=Path, required=True, help="the journal (state_dir/journal.sqlite)")
    p.add_argument("--out", type=Path, required=True, help="the HTML report to write")
    p.add_argument("--initial-capital", type=float, default=None,
                   help="starting equity (default: the journal's, else 100000)")
    p.add_argument("--title", default=None, help="the report's title")

    p = sub.add_parser("kill", help="the kill switch: the running live runner cancels every open order and "
                       "refuses new ones", description="Sends SIGUSR1 to the live runner of this configuration "
                       "(the holder of runner.lock in [trading] state_dir, signalled only if the lock is held "
                       "and it is a tradecore process): it cancels every open order and halts.")
    p.add_argument("--config", type=Path, required=True, help="the runner's TOML configuration")

    for command in sub.choices.values():
        command.add_argument("--traceback", action="store_true",
                             help="on an error, print the whole traceback (default: one line)")
    args = parser.parse_args(argv)
    try:
        status = _dispatch(parser, args)
        sys.stdout.flush()  # a closed pipe is found here, not at the interpreter's exit
        return status
    except BrokenPipeError:  # `tradecore inspect ... | head`: the reader left, end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell tool killed by the closed pipe
    except (TradecoreError, OSError, pa.ArrowException) as e:
        if args.traceback:
            traceback.print_exception(e)
        print(f"tradecore: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tradecore: interrupted", file=sys.stderr)
        return 130


def _dispatch(parser: _Parser, args: argparse.Namespace) -> int:
    """Runs the command ``args`` names; returns the exit status."""
    if args.command == "demo":
        return demo(args.seconds, args.seed, args.out, args.chunk_events)
    if args.command == "convert":
        return convert(args)
    if args.command == "inspect":
        return inspect(args)
    if args.command == "synth":
        return synth(args)
    if args.command == "backtest":
        return backtest(args)
    if args.command == "train":
        return train(args)
    if args.command == "exchange-sim":
        return exchange_sim(args)
    if args.command == "live":
        return live(args)
    if args.command == "record":
        return live(args, record_only=True)
    if args.command == "kill":
        return kill(args)
    if args.command == "report":
        return report(args)
    parser.error(f"unknown command {args.command}")  # never returns


if __name__ == "__main__":
    sys.exit(main())
