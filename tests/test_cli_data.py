"""`tradecore convert`, `inspect` and `synth`: what they print, what they write, how they fail."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tradecore
from tradecore.cli import main as cli


def test_synth_writes_a_seeded_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.gz", tmp_path / "b.gz"
    assert cli(["synth", "--minutes", "0.1", "--seed", "9", "--out", str(a)]) == 0
    assert cli(["synth", "--minutes", "0.1", "--seed", "9", "--out", str(b)]) == 0
    assert "0.1 min of synthetic BTCUSDT" in capsys.readouterr().out
    assert gzip.decompress(a.read_bytes()) == gzip.decompress(b.read_bytes())
    _, report = tradecore.read_capture(a)
    assert report.gap_count == 0 and report.span_seconds > 5


def test_convert_then_inspect(tmp_path: Path, synthetic_capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    assert cli(["convert", str(synthetic_capture), "--out", str(store), "--quiet"]) == 0
    out = capsys.readouterr().out
    # The venue's spec (the bundled snapshot of Binance's exchangeInfo), not an inference.
    assert "binance-usdm/BTCUSDT: linear, tick 0.1, lot 0.001, min notional 100, max qty 1000 (Binance " \
        "exchangeInfo snapshot" in out
    assert "gaps           0" in out and "M events/s end to end" in out
    events, _ = tradecore.read_capture(synthetic_capture)
    assert np.array_equal(tradecore.TickStore(store).read("binance-usdm", "BTCUSDT"), events)
    # Converting again refuses to mix data, unless asked.
    assert cli(["convert", str(synthetic_capture), "--out", str(store), "--quiet"]) == 2
    assert "already holds data" in capsys.readouterr().err
    assert cli(["convert", str(synthetic_capture), "--out", str(store), "--quiet", "--overwrite"]) == 0
    capsys.readouterr()

    assert cli(["inspect", str(store)]) == 0
    out = capsys.readouterr().out
    for field in ("binance-usdm/BTCUSDT", "time span", "events", "message rate", "spread (ticks)", "book depth"):
        assert field in out, field
    assert "0 (falls out of sync after a book rebuild)" in out
    assert cli(["inspect", str(synthetic_capture)]) == 0
    out = capsys.readouterr().out
    assert "binance, binance-usdm/BTCUSDT" in out and "gaps            0" in out and "spread (ticks)" in out


def test_convert_other_venues(tmp_path: Path, tardis_dir: Path, bybit_zip: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    trades = tardis_dir / "tardis-binance-futures_trades_BTCUSDT_2020-02-22.csv"
    assert cli(["convert", str(trades), "--out", str(store), "--quiet"]) == 0
    assert cli(["convert", str(bybit_zip), "--out", str(store), "--quiet", "--tick-size", "0.0001",
                "--lot-size", "1"]) == 0
    capsys.readouterr()
    st = tradecore.TickStore(store)
    assert st.symbols() == [("binance-futures", "BTCUSDT"), ("bybit", "XRPUSDT")]
    assert st.instrument("bybit", "XRPUSDT").inferred is False
    assert len(st.read("binance-futures", "BTCUSDT")) == 9999

    # A Bybit capture with a lost delta: the gap is reported by convert and seen by inspect.
    with zipfile.ZipFile(bybit_zip) as z:
        lines = z.read(z.namelist()[0]).splitlines()
    cut = tmp_path / "cut.data"
    cut.write_bytes(b"\n".join(lines[:20] + lines[21:]) + b"\n")
    assert cli(["convert", str(cut), "--out", str(tmp_path / "cut"), "--quiet"]) == 0
    assert "gaps           1, first at event" in capsys.readouterr().out
    assert cli(["inspect", str(tmp_path / "cut")]) == 0
    assert "1 (falls out of sync after a book rebuild)" in capsys.readouterr().out


def test_unreadable_input_is_one_line_and_a_non_zero_status(tmp_path: Path, synthetic_capture: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    lines = gzip.decompress(synthetic_capture.read_bytes()).splitlines()
    lines[40] = lines[40].replace(b'"u":', b'"u":"x",', 1) if b'"u":' in lines[40] else b"123 {garbage"
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    # Small chunks: some are written before the bad line is met.
    assert cli(["convert", str(bad), "--out", str(tmp_path / "s"), "--quiet", "--chunk-events", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tradecore: error: {bad}:41: ") and err.count("\n") == 1
    assert (tmp_path / "s").is_dir()  # the writer had started
    assert not list((tmp_path / "s").rglob("*.parquet"))  # nothing half-written is left
    assert cli(["convert", str(tmp_path / "missing.gz"), "--out", str(tmp_path / "s")]) == 2
    assert "missing.gz" in capsys.readouterr().err
    assert cli(["inspect", str(tmp_path / "empty-dir-that-is-not-a-store")]) == 2


def test_help_explains_each_command() -> None:
    for cmd in ("convert", "inspect", "synth"):
        out = subprocess.run([sys.executable, "-m", "tradecore", cmd, "--help"], capture_output=True, text=True,
                             check=True).stdout
        assert f"usage: tradecore {cmd}" in out and len(out.splitlines()) > 5
    bad = subprocess.run([sys.executable, "-m", "tradecore", "convert"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
