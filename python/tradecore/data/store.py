"""The tick store: normalized events in Parquet, partitioned by venue / symbol / date.

Layout (hive-style, so pyarrow datasets, DuckDB and Polars read it as it is)::

    <root>/venue=<venue>/symbol=<symbol>/date=<YYYY-MM-DD>/part-00000.parquet

One column per field of ``EVENT_DTYPE``, with the same types (times as UTC ``timestamp[ns]``,
prices and quantities as ``int64`` in units of 1e-9). Every file carries the instrument in
its schema metadata. An event goes to the UTC date of its exchange time (its local time when
it has none). Within a partition, files and rows keep the order they were written in.

Columns cross between Arrow and numpy without copies (``pa.array`` of a contiguous column,
``to_numpy(zero_copy_only=True)`` back); the only copy is the transposition between the
record layout of ``EVENT_DTYPE`` and Parquet's columns. Nothing is ever one Python object
per event.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tradecore._core import events_from_columns, events_to_columns, gather_columns, merge_events
from tradecore.errors import DataError, InvalidInput
from tradecore.events import EVENT_DTYPE, Flag
from tradecore.instrument import Instrument

FORMAT_VERSION = "tradecore.events/1"
META_INSTRUMENT = b"tradecore.instrument"
META_FORMAT = b"tradecore.format"
DAY_NS = 86_400 * 1_000_000_000

_ARROW_TYPES: dict[str, pa.DataType] = {
    "exch_ts": pa.timestamp("ns", tz="UTC"),
    "local_ts": pa.timestamp("ns", tz="UTC"),
}
FIELDS: tuple[str, ...] = tuple(EVENT_DTYPE.names or ())


def arrow_schema(instrument: Instrument | None = None) -> pa.Schema:
    """The Arrow schema of the store (with the instrument in its metadata when given)."""
    fields = []
    for name in FIELDS:
        np_type = EVENT_DTYPE.fields[name][0]  # type: ignore[index]
        meta = {b"unit": b"1e-9"} if name in ("price", "qty") else None
        fields.append(pa.field(name, _ARROW_TYPES.get(name, pa.from_numpy_dtype(np_type)), nullable=False, metadata=meta))
    meta = {META_FORMAT: FORMAT_VERSION.encode()}
    if instrument is not None:
        meta[META_INSTRUMENT] = instrument.to_json().encode()
    return pa.schema(fields, metadata=meta)


def to_batch(events: np.ndarray, schema: pa.Schema) -> pa.RecordBatch:
    """Events as an Arrow record batch: one pass in Rust to columns, then zero-copy."""
    columns = []
    for name, col, field in zip(FIELDS, events_to_columns(events), schema, strict=True):
        if name in _ARROW_TYPES:
            col = col.view("datetime64[ns]")
        columns.append(pa.array(col, type=field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _columns(batch: pa.RecordBatch | pa.Table) -> list[np.ndarray]:
    """The batch's columns as numpy arrays, borrowed without copies."""
    columns = []
    for name in FIELDS:
        col = batch.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        values = col.to_numpy(zero_copy_only=False)
        columns.append(values.view(np.int64) if name in _ARROW_TYPES else values)
    return columns


def from_batch(batch: pa.RecordBatch | pa.Table, instrument: int | None = None) -> np.ndarray:
    """An Arrow batch of the store's schema as an ``EVENT_DTYPE`` array (columns borrowed
    without copies, gathered into records in one pass in Rust); ``instrument`` replaces the
    stored instrument field."""
    return events_from_columns(_columns(batch), instrument)


def sort_key(events: np.ndarray) -> np.ndarray:
    """The time each event is ordered and partitioned by: exchange time, else local time."""
    no_exch = ((events["flags"] & Flag.NO_EXCH_TS) != 0) | (events["exch_ts"] == 0)
    return np.where(no_exch, events["local_ts"], events["exch_ts"])


def day_of(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC).strftime("%Y-%m-%d")


def _day_start(day: str) -> int:
    d = dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    return int(d.timestamp()) * 1_000_000_000


TimeArg = int | str | dt.datetime | dt.date | None


def to_ns(t: TimeArg, field: str) -> int | None:
    """A time bound as ns since the epoch: an int (ns), an ISO date or time string, a datetime
    (naive = UTC) or a date."""
    if t is None:
        return None
    if isinstance(t, bool):
        raise InvalidInput(f"invalid {field}: {t!r} (a time)")
    if isinstance(t, int):
        return t
    if isinstance(t, str):
        try:
            t = dt.datetime.fromisoformat(t)
        except ValueError:
            raise InvalidInput(f"invalid {field}: {t!r} (an ISO date or time, e.g. 2024-08-08 or 2024-08-08T23:55:00)") from None
    if isinstance(t, dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        return int(t.timestamp() * 1_000_000) * 1_000
    if isinstance(t, dt.date):
        return _day_start(t.isoformat())
    raise InvalidInput(f"invalid {field}: {t!r} (a time)")


@dataclass(frozen=True)
class Partition:
    """One venue / symbol / date folder of the store."""

    venue: str
    symbol: str
    date: str
    path: Path

    @property
    def files(self) -> list[Path]:
        return sorted(self.path.glob("part-*.parquet"))


_PART = re.compile(r"^part-(\d{5,})\.parquet$")
WriteMode = Literal["error", "overwrite", "append"]


class StoreWriter:
    """Writes a stream of event chunks of one instrument into the store, partition by partition.

    One Parquet file per date touched, written row group by row group: memory stays bounded by
    the row group size, whatever the length of the stream. Use as a context manager; files are
    complete once it is closed. When the block raises, the files it wrote are removed (with
    ``mode="overwrite"`` the replaced data is gone all the same).

    ``mode``: ``"error"`` refuses to write into a partition that already has data,
    ``"overwrite"`` replaces it, ``"append"`` adds a file after the existing ones.
    """

    def __init__(self, store: TickStore, instrument: Instrument, *, mode: WriteMode = "error",
                 row_group_events: int = 131_072, compression: str = "lz4") -> None:
        if mode not in ("error", "overwrite", "append"):
            raise InvalidInput(f"invalid mode: {mode!r} (error, overwrite or append)")
        if row_group_events < 1:
            raise InvalidInput(f"invalid row_group_events: {row_group_events} (must be >= 1)")
        self.store = store
        self.instrument = instrument
        self.mode = mode
        self.row_group_events = row_group_events
        self.compression = compression
        self.schema = arrow_schema(instrument)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._pending: dict[str, list[np.ndarray]] = {}
        self.paths: list[Path] = []
        self.events_written = 0

    def _open(self, day: str) -> pq.ParquetWriter:
        folder = self.store.partition_path(self.instrument.venue, self.instrument.symbol, day)
        existing = sorted(folder.glob("part-*.parquet")) if folder.exists() else []
        if existing and self.mode == "error":
            raise DataError(
                f"{folder} already holds data; pass mode='overwrite' (CLI: --overwrite) to replace it "
                "or mode='append' to add to it"
            )
        if existing and self.mode == "overwrite":
            shutil.rmtree(folder)
            existing = []
        folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for p in existing if (m := _PART.match(p.name))]
        path = folder / f"part-{(max(numbers) + 1) if numbers else 0:05d}.parquet"
        self.paths.append(path)
        return pq.ParquetWriter(path, self.schema, compression=self.compression,
                                use_dictionary=["kind", "side", "flags", "instrument"],
                                write_statistics=["exch_ts", "local_ts"])

    def write(self, events: np.ndarray) -> None:
        """Appends a chunk of events (in stream order)."""
        if events.dtype != EVENT_DTYPE:
            raise InvalidInput(f"invalid events: dtype {events.dtype} (must be tradecore.EVENT_DTYPE)")
        if len(events) == 0:
            return
        days = sort_key(events) // DAY_NS
        first, last = int(days.min()), int(days.max())
        groups = [(first, events)] if first == last else [
            (d, events[days == d]) for d in range(first, last + 1) if (days == d).any()
        ]
        for d, part in groups:
            day = day_of(d * DAY_NS)
            if day not in self._writers:
                self._writers[day] = self._open(day)
                self._pending[day] = []
            self._pending[day].append(part)
            if sum(len(p) for p in self._pending[day]) >= self.row_group_events:
                self._flush(day, final=False)
        self.events_written += len(events)

    def _flush(self, day: str, *, final: bool) -> None:
        pending = self._pending[day]
        if not pending:
            return
        data = np.concatenate(pending) if len(pending) > 1 else pending[0]
        n = len(data) if final else len(data) - len(data) % self.row_group_events
        for start in range(0, n, self.row_group_events):
            self._writers[day].write_batch(to_batch(data[start:start + self.row_group_events], self.schema),
                                           row_group_size=self.row_group_events)
        self._pending[day] = [data[n:]] if n < len(data) else []

    def close(self) -> None:
        """Writes what is pending and completes the files."""
        for day, writer in self._writers.items():
            self._flush(day, final=True)
            writer.close()
        self._writers.clear()

    def abort(self) -> None:
        """Removes the files this writer created (the store keeps no half-written stream)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        for path in self.paths:
            path.unlink(missing_ok=True)
            if path.parent.exists() and not any(path.parent.iterdir()):
                path.parent.rmdir()
        self.paths.clear()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
        else:
            self.abort()


class TickStore:
    """A folder of normalized events in Parquet (see the module documentation)."""

    def __init__(self, root: str | PathLike[str]) -> None:
        self.root = Path(root)

    def partition_path(self, venue: str, symbol: str, day: str) -> Path:
        return self.root / f"venue={venue}" / f"symbol={symbol}" / f"date={day}"

    def writer(self, instrument: Instrument, *, mode: WriteMode = "error",
               row_group_events: int = 131_072, compression: str = "lz4") -> StoreWriter:
        """A streaming writer for one instrument (see :class:`StoreWriter`)."""
        return StoreWriter(self, instrument, mode=mode, row_group_events=row_group_events,
                           compression=compression)

    def write(self, events: np.ndarray, instrument: Instrument, *, mode: WriteMode = "error") -> list[Path]:
        """Writes one array of events of ``instrument``; returns the files written."""
        with self.writer(instrument, mode=mode) as w:
            w.write(events)
        return w.paths

    def partitions(self, venue: str | None = None, symbol: str | None = None,
                   start: TimeArg = None, end: TimeArg = None) -> list[Partition]:
        """The partitions holding data, filtered by venue, symbol and the dates that
        ``[start, end)`` touches; sorted by venue, symbol, date."""
        lo, hi = to_ns(start, "start"), to_ns(end, "end")
        out = []
        for vdir in sorted(self.root.glob("venue=*")):
            v = vdir.name.removeprefix("venue=")
            if venue is not None and v != venue:
                continue
            for sdir in sorted(vdir.glob("symbol=*")):
                s = sdir.name.removeprefix("symbol=")
                if symbol is not None and s != symbol:
                    continue
                for ddir in sorted(sdir.glob("date=*")):
                    day = ddir.name.removeprefix("date=")
                    begin = _day_start(day)
                    if (lo is not None and begin + DAY_NS <= lo) or (hi is not None and begin >= hi):
                        continue
                    p = Partition(v, s, day, ddir)
                    if p.files:
                        out.append(p)
        return out

    def instrument(self, venue: str, symbol: str) -> Instrument:
        """The instrument stored with ``venue``/``symbol`` (from its most recent file)."""
        parts = self.partitions(venue, symbol)
        if not parts:
            raise InvalidInput(f"invalid symbol: {venue}/{symbol} (not in the store at {self.root})")
        return read_instrument(parts[-1].files[-1])

    def symbols(self) -> list[tuple[str, str]]:
        """Every (venue, symbol) in the store."""
        return sorted({(p.venue, p.symbol) for p in self.partitions()})

    def read(self, venue: str, symbol: str, start: TimeArg = None, end: TimeArg = None) -> np.ndarray:
        """All events of one symbol in ``[start, end)`` as one array."""
        files = [f for p in self.partitions(venue, symbol, start, end) for f in p.files]
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        if rows == 0:
            self.instrument(venue, symbol)  # a clear error for an unknown symbol
            return np.empty(0, dtype=EVENT_DTYPE)
        # One chunk sized for everything: the events are gathered straight into it.
        chunk = next(self.replay([(venue, symbol)], start=start, end=end, chunk_events=rows), None)
        return chunk if chunk is not None else np.empty(0, dtype=EVENT_DTYPE)

    def replay(self, symbols: Sequence[tuple[str, str]] | None = None, *, start: TimeArg = None,
               end: TimeArg = None, chunk_events: int = 1_000_000) -> Replay:
        """Chunks of events of one or several symbols, merged in exchange-time order (see
        :class:`Replay`). ``symbols``: (venue, symbol) pairs; default every symbol."""
        chosen = list(symbols) if symbols is not None else self.symbols()
        if not chosen:
            raise InvalidInput(f"invalid symbols: nothing to replay in {self.root}")
        return Replay(self, chosen, start=start, end=end, chunk_events=chunk_events)


def read_instrument(path: Path) -> Instrument:
    meta = pq.read_schema(path).metadata or {}
    if meta.get(META_FORMAT) != FORMAT_VERSION.encode():
        raise DataError(f"{path}: not a tradecore event file (format {meta.get(META_FORMAT)!r})")
    if META_INSTRUMENT not in meta:
        raise DataError(f"{path}: no instrument in the file's metadata")
    return Instrument.from_json(meta[META_INSTRUMENT])


class _Stream:
    """One symbol's rows, file after file, as Arrow batches within [lo, hi)."""

    def __init__(self, partitions: list[Partition], lo: int | None, hi: int | None) -> None:
        self.files = [f for p in partitions for f in p.files]
        self.lo, self.hi = lo, hi
        self._files: dict[Path, pq.ParquetFile] = {}
        self._batches = self._iter()
        self.done = False

    def _iter(self) -> Iterator[pa.RecordBatch]:
        # Row group by row group (pyarrow's batch iterator reads ahead and holds several row
        # groups at once: measured 60 MB of peak growth for 1.2 M events, against 8 MB). The
        # next row group is decoded on a worker thread while this one is consumed: Parquet
        # decoding releases the GIL, so the two overlap on two cores.
        groups = [(path, g) for path in self.files for g in range(self._open(path).num_row_groups)]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradecore-store") as pool:
            ahead: Future[pa.Table] | None = None
            for k, (path, g) in enumerate(groups):
                table = ahead.result() if ahead is not None else self._open(path).read_row_group(g)
                ahead = pool.submit(self._read, *groups[k + 1]) if k + 1 < len(groups) else None
                for rb in table.to_batches():
                    if (rb := self._window(rb)).num_rows:
                        yield rb

    def _open(self, path: Path) -> pq.ParquetFile:
        if path not in self._files:
            f = pq.ParquetFile(path)
            if (f.schema_arrow.metadata or {}).get(META_FORMAT) != FORMAT_VERSION.encode():
                raise DataError(f"{path}: not a tradecore event file")
            self._files = {path: f}  # one file open at a time
        return self._files[path]

    def _read(self, path: Path, group: int) -> pa.Table:
        return self._open(path).read_row_group(group)

    def _window(self, rb: pa.RecordBatch) -> pa.RecordBatch:
        """The rows of ``rb`` whose time is in [lo, hi)."""
        if self.lo is None and self.hi is None:
            return rb
        exch = rb.column("exch_ts").to_numpy().view(np.int64)
        local = rb.column("local_ts").to_numpy().view(np.int64)
        no_exch = ((rb.column("flags").to_numpy() & Flag.NO_EXCH_TS) != 0) | (exch == 0)
        key = np.where(no_exch, local, exch)
        keep = np.ones(len(key), bool)
        if self.lo is not None:
            keep &= key >= self.lo
        if self.hi is not None:
            keep &= key < self.hi
        return rb if keep.all() else rb.filter(pa.array(keep))

    def next(self) -> pa.RecordBatch | None:
        if self.done:
            return None
        try:
            return next(self._batches)
        except StopIteration:
            self.done = True
            return None


class Replay:
    """An iterator of ``EVENT_DTYPE`` chunks from the store: one or many symbols, their dates
    in order, several symbols merged by exchange time (each symbol's own order kept; the
    ``instrument`` field of each event is the index of its symbol in :attr:`instruments`).

    Every chunk holds ``chunk_events`` events except the last. Memory is bounded by the chunk
    size and one Parquet row group per symbol, whatever the length of the data. Events are
    gathered from Parquet's columns straight into the chunk (one symbol) or merged into it
    (several): one copy per event.
    """

    def __init__(self, store: TickStore, symbols: list[tuple[str, str]], *, start: TimeArg,
                 end: TimeArg, chunk_events: int) -> None:
        if chunk_events < 1:
            raise InvalidInput(f"invalid chunk_events: {chunk_events} (must be >= 1)")
        lo, hi = to_ns(start, "start"), to_ns(end, "end")
        self.chunk_events = chunk_events
        self.instruments: list[Instrument] = []
        self._streams: list[_Stream] = []
        for venue, symbol in symbols:
            self.instruments.append(store.instrument(venue, symbol))
            parts = store.partitions(venue, symbol, lo, hi)
            self._streams.append(_Stream(parts, lo, hi))
        # Per stream: an Arrow batch not yet used (one stream) or decoded events (several).
        self._batch: pa.RecordBatch | None = None
        self._bufs: list[np.ndarray] = [np.empty(0, dtype=EVENT_DTYPE) for _ in self._streams]

    def __iter__(self) -> Replay:
        return self

    def _fill_one(self, chunk: np.ndarray) -> int:
        stream, n = self._streams[0], 0
        while n < len(chunk):
            if self._batch is None:
                self._batch = stream.next()
                if self._batch is None:
                    break
            room = len(chunk) - n
            rb = self._batch
            if rb.num_rows > room:
                rb, self._batch = rb.slice(0, room), rb.slice(room)
            else:
                self._batch = None
            n += gather_columns(_columns(rb), chunk, n, 0)
        return n

    def _fill_many(self, chunk: np.ndarray) -> int:
        n = 0
        while n < len(chunk):
            for i, s in enumerate(self._streams):
                if len(self._bufs[i]) == 0 and not s.done:
                    rb = s.next()
                    if rb is not None:
                        self._bufs[i] = from_batch(rb)
            last = [s.done for s in self._streams]
            if all(last) and all(len(b) == 0 for b in self._bufs):
                break
            written, taken = merge_events(self._bufs, last, chunk, n)
            self._bufs = [b[t:] for b, t in zip(self._bufs, taken, strict=True)]
            n += written
        return n

    def __next__(self) -> np.ndarray:
        chunk = np.empty(self.chunk_events, dtype=EVENT_DTYPE)
        n = self._fill_one(chunk) if len(self._streams) == 1 else self._fill_many(chunk)
        if n == 0:
            raise StopIteration
        return chunk if n == len(chunk) else chunk[:n]
