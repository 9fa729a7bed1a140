"""Benchmark data: the recorded USD-M BTCUSDT capture, or the synthetic market without it."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

import tradecore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = Path(os.environ.get("TRADECORE_TEST_DATA", REPO.parent / "shared" / "data"))
    real = data / "binance" / "usdm_btcusdt_20240808.gz"
    if real.is_file():
        return real
    path = tmp_path_factory.mktemp("bench") / "synthetic.gz"
    tradecore.synth_binance(path, seconds=300)
    return path


@pytest.fixture(scope="session")
def book_events(capture: Path) -> np.ndarray:
    events, _ = tradecore.read_binance(capture)
    return np.ascontiguousarray(events[np.isin(events["kind"], (tradecore.Kind.DEPTH, tradecore.Kind.SNAPSHOT, tradecore.Kind.CLEAR))])


@pytest.fixture(scope="session")
def depth_messages(capture: Path) -> list[tuple[int, bytes]]:
    """The REST snapshot and every depth message, as raw frames with their receive times."""
    out = []
    with gzip.open(capture, "rb") as f:
        for line in f:
            ts, msg = line.rstrip(b"\n").split(b" ", 1)
            if msg.startswith(b'{"lastUpdateId"') or b"@depth" in msg[:40]:
                out.append((int(ts), msg))
    return out
