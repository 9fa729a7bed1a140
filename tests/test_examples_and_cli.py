"""The command line, the synthetic market and the examples (run, so they never rot)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tradecore
from tradecore import Flag, Kind
from tradecore.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]


def test_synthetic_market_is_deterministic_and_seeded(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.gz", tmp_path / "b.gz", tmp_path / "c.gz"
    counts = tradecore.synth_binance(a, seconds=5, seed=3)
    tradecore.synth_binance(b, seconds=5, seed=3)
    tradecore.synth_binance(c, seconds=5, seed=4)
    assert gzip.decompress(a.read_bytes()) == gzip.decompress(b.read_bytes())
    assert gzip.decompress(a.read_bytes()) != gzip.decompress(c.read_bytes())
    assert counts["depth_messages"] > 500 and counts["trades"] > 50 and counts["book_tickers"] > 100


def test_synthetic_market_replays_with_zero_gaps_and_every_ticker_matches(synthetic_capture: Path) -> None:
    events, report = tradecore.read_binance(synthetic_capture)
    assert report.gap_count == 0 and report.snapshots == 1 and report.market == "usdm"
    book = tradecore.OrderBook(0.1, 0.001)
    is_bbo = (events["kind"] == Kind.BBO) & (events["side"] == 1)
    synced = (events["flags"] & Flag.OUT_OF_SYNC) == 0
    starts = np.flatnonzero(is_bbo & synced)
    assert len(starts) > 100
    prev = 0
    spreads = []
    for i in starts:
        book.apply(events[prev:i])
        prev = i
        assert book.best_bid() == (events[i]["price"] / 1e9, events[i]["qty"] / 1e9)
        assert book.best_ask() == (events[i + 1]["price"] / 1e9, events[i + 1]["qty"] / 1e9)
        spreads.append(book.spread())
    # It looks like a market: a tight typical spread, never crossed.
    assert np.median(spreads) < 1.0 and min(spreads) > 0


def test_cli_demo_runs_and_reports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli_main(["demo", "--seconds", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "gaps             0" in out and "top of book" in out and "M events/s" in out
    assert list(tmp_path.glob("synthetic_btcusdt_seed7.gz"))


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["demo", "--seconds", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tradecore: error: invalid seconds: -1") and "\n" not in err


def test_cli_entry_point_and_help() -> None:
    out = subprocess.run([sys.executable, "-m", "tradecore", "demo", "--help"], capture_output=True, text=True, check=True)
    assert "synthetic market" in out.stdout


@pytest.mark.parametrize("example", sorted(p.name for p in (REPO / "examples").glob("*.py")))
def test_examples_run(example: str) -> None:
    out = subprocess.run([sys.executable, str(REPO / "examples" / example)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # Data examples end with the book's state; strategy examples with a backtest's statistics.
    assert "in sync: True" in out.stdout or "Sharpe ratio" in out.stdout, out.stdout
