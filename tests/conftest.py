"""Shared fixtures: the recorded data (optional) and the synthetic market (always)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tradecore

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    return Path(os.environ.get("TRADECORE_TEST_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def binance_dir() -> Path:
    """Folder of the recorded Binance captures; the test is skipped when it is absent."""
    d = _data_dir() / "binance"
    if not (d / "usdm_btcusdt_20240808.gz").is_file():
        if os.environ.get("TRADECORE_REQUIRE_DATA"):
            pytest.fail(f"TRADECORE_REQUIRE_DATA is set but the recorded data is not in {d}")
        pytest.skip(f"recorded data not found in {d} (set TRADECORE_TEST_DATA)")
    return d


@pytest.fixture(scope="session")
def synthetic_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty seconds of the seeded synthetic USD-M market."""
    path = tmp_path_factory.mktemp("synth") / "synthetic.gz"
    tradecore.synth_binance(path, seconds=20, seed=11)
    return path
