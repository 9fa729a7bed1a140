"""The recorder: every raw frame with its local receive time, in the raw capture format
(``<local_ns> <frame>`` a line, gzip), in rotating files.

Off the hot path: :meth:`Recorder.write` only appends the frame to a list (~0.1 µs); the
owner calls :meth:`Recorder.flush` about once a second (the live runner does, on a worker
thread), which compresses what came since and ends with a gzip sync point. So a crash loses
at most the last second, and a file cut short still reads up to its last sync point. A
recording replays through ``tradecore.read_binance`` and the backtest.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from os import PathLike
from pathlib import Path
from typing import IO

from tradecore.errors import InvalidInput


class Recorder:
    """Writes frames to ``<folder>/<prefix>_<UTC start time>.gz``, a new file every
    ``rotate_s`` seconds or ``rotate_bytes`` of input, whichever comes first.

    Args:
        folder: Where the files go (created if missing).
        prefix: File name prefix (e.g. ``usdm_btcusdt``).
        rotate_s: Seconds per file.
        rotate_bytes: Uncompressed bytes per file.
        level: gzip compression level (1 fastest .. 9 smallest).
    """

    def __init__(self, folder: str | PathLike[str], prefix: str, *, rotate_s: float = 3600.0,
                 rotate_bytes: int = 1 << 30, level: int = 6) -> None:
        if rotate_s <= 0 or rotate_bytes <= 0 or not 1 <= level <= 9:
            raise InvalidInput(f"invalid recorder settings: rotate_s={rotate_s}, rotate_bytes={rotate_bytes}, "
                               f"level={level} (positive; level 1..9)")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.rotate_s, self.rotate_bytes, self.level = rotate_s, rotate_bytes, level
        self.files: list[Path] = []
        self.frames = 0
        self._f: gzip.GzipFile | None = None
        self._raw: IO[bytes] | None = None
        self._opened = 0.0
        self._bytes = 0
        self._pending: list[tuple[int, bytes]] = []
        self._lock = threading.Lock()

    def _open(self) -> None:
        self._close_file()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.folder / f"{self.prefix}_{stamp}_{len(self.files):04d}.gz"
        self._raw = path.open("wb")
        self._f = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=self.level)
        self.files.append(path)
        self._opened = time.monotonic()
        self._bytes = 0

    def write(self, ts: int, frame: bytes) -> None:
        """Records one frame received at ``ts`` (ns): kept until the next :meth:`flush`."""
        self._pending.append((ts, frame))

    __call__ = write

    def flush(self) -> None:
        """Writes the frames since the last flush and makes them readable from the file (a
        gzip sync point). Safe to call from a worker thread while :meth:`write` goes on."""
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return
            for ts, frame in pending:
                if self._f is None or time.monotonic() - self._opened >= self.rotate_s \
                        or self._bytes >= self.rotate_bytes:
                    self._open()
                assert self._f is not None
                line = b"%d %s\n" % (ts, frame)
                self._f.write(line)
                self._bytes += len(line)
            self.frames += len(pending)
            assert self._f is not None and self._raw is not None
            self._f.flush(zlib.Z_SYNC_FLUSH)
            self._raw.flush()

    def _close_file(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def close(self) -> None:
        """Writes what is pending and ends the current file properly."""
        self.flush()
        with self._lock:
            self._close_file()
