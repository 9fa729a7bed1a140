"""The recorder: every raw frame with its local receive time, in the raw capture format
(``<local_ns> <frame>`` a line, gzip), in rotating files.

The compressed stream is flushed (a gzip sync point) at least once a second, so a crash loses
at most the last second; a file cut short by a crash still reads up to its last sync point
(``tradecore.read_binance(..., lenient=True)`` or any gzip reader that stops at the end of
the data). A recording replays through ``tradecore.read_binance`` and the backtest.
"""

from __future__ import annotations

import gzip
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
        flush_s: Longest time between two flushes (a crash loses at most this much).
    """

    def __init__(self, folder: str | PathLike[str], prefix: str, *, rotate_s: float = 3600.0,
                 rotate_bytes: int = 1 << 30, flush_s: float = 1.0) -> None:
        if rotate_s <= 0 or rotate_bytes <= 0 or flush_s <= 0:
            raise InvalidInput(f"invalid recorder settings: rotate_s={rotate_s}, rotate_bytes={rotate_bytes}, "
                               f"flush_s={flush_s} (must be > 0)")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.rotate_s, self.rotate_bytes, self.flush_s = rotate_s, rotate_bytes, flush_s
        self.files: list[Path] = []
        self.frames = 0
        self._f: gzip.GzipFile | None = None
        self._raw: IO[bytes] | None = None
        self._opened = 0.0
        self._bytes = 0
        self._flushed = 0.0

    def _open(self) -> None:
        self.close()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.folder / f"{self.prefix}_{stamp}_{len(self.files):04d}.gz"
        self._raw = path.open("wb")
        self._f = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)
        self.files.append(path)
        self._opened = self._flushed = time.monotonic()
        self._bytes = 0

    def write(self, ts: int, frame: bytes) -> None:
        """Records one frame received at ``ts`` (ns)."""
        now = time.monotonic()
        if self._f is None or now - self._opened >= self.rotate_s or self._bytes >= self.rotate_bytes:
            self._open()
        assert self._f is not None
        line = b"%d %s\n" % (ts, frame)
        self._f.write(line)
        self._bytes += len(line)
        self.frames += 1
        if now - self._flushed >= self.flush_s:
            self.flush()

    __call__ = write

    def flush(self) -> None:
        """Makes everything written so far readable from the file (a gzip sync point)."""
        if self._f is not None and self._raw is not None:
            self._f.flush(zlib.Z_SYNC_FLUSH)
            self._raw.flush()
            self._flushed = time.monotonic()

    def close(self) -> None:
        """Ends the current file properly."""
        if self._f is not None:
            self._f.close()
            self._f = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None
