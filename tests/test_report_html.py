"""The HTML report rendered by a real browser (headless Chromium): its text is there, its
script runs without an error, the time charts zoom together, and refused orders are listed
by reason. Skipped when Chromium is not installed; failed instead in CI
(``TRADECORE_REQUIRE_DATA``, as for the recorded data: CI installs Chromium)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tradecore.backtest import run_backtest
from tradecore.backtest.engine import BacktestResult
from tradecore.risk import RiskLimits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "examples"))

from market_maker import MarketMaker  # noqa: E402


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable (Debian's ``chromium``)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("TRADECORE_REQUIRE_DATA"):
        pytest.fail("TRADECORE_REQUIRE_DATA is set but chromium is not installed (apt-get install chromium)")
    pytest.skip("chromium not installed (apt-get install chromium)")


def render(chromium: str, page: Path, fragment: str = "") -> tuple[str, str]:
    """The DOM after the page's scripts ran, and the browser's log."""
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=2000", "--dump-dom",
         page.resolve().as_uri() + fragment],
        capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout, out.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]


@pytest.fixture(scope="module")
def mm_run() -> BacktestResult:
    return run_backtest(MarketMaker(), "synthetic", synthetic_seconds=60, latency="5ms")


def test_report_renders_with_its_text_and_no_script_error(chromium: str, mm_run: BacktestResult,
                                                          tmp_path: Path) -> None:
    page = mm_run.write_report(tmp_path / "mm.html")
    dom, log = render(chromium, page)
    assert 'data-script="ready"' in dom and 'data-zoom="full"' in dom
    assert "script-error" not in dom.replace('p.className="script-error"', "").replace("p.script-error", "")
    assert not console_errors(log), console_errors(log)
    for text in ("Statistics", "Round trips", "Entry (UTC)", "Net (USDT)", "buy and hold BTCUSDT",
                 "Rolling Sharpe ratio per 1s period", "Distribution of the returns per 1s",
                 "return per 1s period (%)", "periods (count)", "equity (USDT)", "drawdown (%)",
                 "price (USDT)", "position (base units)", "time (UTC)", "Sharpe per period",
                 "n/a (sample too short to annualize)", "n/a: sample too short to annualize: "):
        assert text in dom, text
    assert mm_run.stats["n_round_trips"] and dom.count("<tr>") > int(mm_run.stats["n_round_trips"] or 0) // 2


def test_time_charts_zoom_together(chromium: str, mm_run: BacktestResult, tmp_path: Path) -> None:
    page = mm_run.write_report(tmp_path / "mm.html")
    full, _ = render(chromium, page)
    ts = mm_run.equity["ts"]
    a = (int(ts[0]) + (int(ts[-1]) - int(ts[0])) // 3) / 1e6
    b = a + 5_000.0  # five seconds
    zoomed, log = render(chromium, page, f"#zoom={a:.3f},{b:.3f}")
    assert f'data-zoom="{a:.3f},{b:.3f}"' in zoomed
    assert not console_errors(log) and 'class="script-error"' not in zoomed

    def ticks(dom: str) -> list[list[str]]:
        return [re.findall(r'class="tick"[^>]*>([^<]+)<', g) for g in re.findall(r'<g class="xt">(.*?)</g>', dom)]

    before, after = ticks(full), ticks(zoomed)
    n_time_charts = len(before)
    assert n_time_charts >= 5 and len(after) == n_time_charts
    # Every time chart shows the same five seconds: second-by-second labels, all alike.
    assert all(t == after[0] for t in after) and after != before
    assert len(after[0]) >= 4 and len(set(label[:5] for label in after[0])) == 1  # the same minute


def test_refused_orders_by_reason_and_why_nothing_filled(chromium: str, tmp_path: Path) -> None:
    res = run_backtest(MarketMaker(), "synthetic", synthetic_seconds=20, latency="5ms",
                       risk=RiskLimits(max_order_qty=0.0005))
    assert res.stats["n_fills"] == 0 and res.stats["n_refused"] == res.stats["n_orders"] > 0
    summary = res.summary()
    assert f"No fill: every order ({res.stats['n_orders']:,}) was refused before sending (max_order_qty" in summary
    dom, log = render(chromium, res.write_report(tmp_path / "refused.html"))
    assert not console_errors(log)
    assert "Orders refused before sending, by reason" in dom and "max order qty" in dom
    assert "No round trip" in dom


def test_the_error_hook_would_show_a_script_error(chromium: str, mm_run: BacktestResult, tmp_path: Path) -> None:
    # The check above can fail: a broken script is reported in the page itself.
    page = mm_run.write_report(tmp_path / "broken.html")
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", "<script>noSuchFunction();</script></body>"),
                    encoding="utf-8")
    dom, _ = render(chromium, page)
    assert 'class="script-error"' in dom and "noSuchFunction" in dom
