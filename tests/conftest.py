"""Shared fixtures: the recorded data (optional) and the synthetic market (always)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tradecore

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    return Path(os.environ.get("TRADECORE_TEST_DATA", REPO.parent / "shared" / "data"))


def _recorded(sub: str, probe: str) -> Path:
    """A folder of the recorded data; the test is skipped when it is absent (failed in CI)."""
    d = _data_dir() / sub
    if not (d / probe).is_file():
        if os.environ.get("TRADECORE_REQUIRE_DATA"):
            pytest.fail(f"TRADECORE_REQUIRE_DATA is set but the recorded data is not in {d}")
        pytest.skip(f"recorded data not found in {d} (set TRADECORE_TEST_DATA)")
    return d


@pytest.fixture(scope="session")
def binance_dir() -> Path:
    """Folder of the recorded Binance captures."""
    return _recorded("binance", "usdm_btcusdt_20240808.gz")


@pytest.fixture(scope="session")
def tardis_dir() -> Path:
    """Folder of the Tardis.dev CSV samples."""
    return _recorded("tardis", "tardis-binance-futures_trades_BTCUSDT_2020-02-22.csv")


@pytest.fixture(scope="session")
def bybit_zip() -> Path:
    """The Bybit orderbook.500 capture (a zip of JSON lines)."""
    return _recorded("bybit", "bybit-xrpusdt-ob500.data.zip") / "bybit-xrpusdt-ob500.data.zip"


@pytest.fixture(scope="session")
def synthetic_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty seconds of the seeded synthetic USD-M market."""
    path = tmp_path_factory.mktemp("synth") / "synthetic.gz"
    tradecore.synth_binance(path, seconds=20, seed=11)
    return path
