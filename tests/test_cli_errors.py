"""Errors that point at the user's code: the ``tradecore`` command prints an error in a strategy
file (syntax, import, an exception in a callback) as one line naming the user's file:line and
the exception, exit status 2, the whole traceback only with ``--traceback``; a backtest stopped
by the strategy still writes the report of what ran; a closed pipe ends quietly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tradecore
from tradecore.backtest import load_strategy, run_backtest
from tradecore.errors import StrategyError

CLI = [sys.executable, "-m", "tradecore"]

GOOD_HEAD = """\
from tradecore.strategy import Strategy


class S(Strategy):
    books = 0

    def on_book(self, book):
        self.books += 1
"""


def strategy_file(tmp_path: Path, body: str, name: str = "user_strategy.py") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def tradecore_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180, cwd=cwd)


def backtest(tmp_path: Path, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return tradecore_cli("backtest", "--strategy", f"{path.name}:S", "--seconds", "20", "--quiet", *extra,
                         cwd=tmp_path)


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("tradecore: error: ")
    return r.stderr.strip()


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    p = strategy_file(tmp_path, GOOD_HEAD + "        if self.books >\n            pass\n")
    msg = one_line(backtest(tmp_path, p))
    assert msg.startswith(f"tradecore: error: user_strategy.py:{line_of(p, 'if self.books >')}: SyntaxError: "), msg


def test_a_syntax_error_in_a_module_the_strategy_imports_names_that_module(tmp_path: Path) -> None:
    strategy_file(tmp_path, "def helper(:\n    return 1\n", "user_helper.py")
    p = strategy_file(tmp_path, "import user_helper\n" + GOOD_HEAD)
    msg = one_line(backtest(tmp_path, p))
    assert f"{tmp_path / 'user_helper.py'}:1: SyntaxError: " in msg or "user_helper.py:1: SyntaxError: " in msg, msg


def test_an_import_error_names_the_import(tmp_path: Path) -> None:
    p = strategy_file(tmp_path, "import numpy\nimport no_such_module_here\n" + GOOD_HEAD)
    msg = one_line(backtest(tmp_path, p))
    assert msg == ("tradecore: error: user_strategy.py:2: ModuleNotFoundError: No module named "
                   "'no_such_module_here' while loading the strategy")


def test_an_exception_in_the_constructor_names_its_line(tmp_path: Path) -> None:
    p = strategy_file(tmp_path, GOOD_HEAD + "\n    def __init__(self):\n        super().__init__()\n"
                                            "        self.table = {}['missing']\n")
    msg = one_line(backtest(tmp_path, p))
    assert msg == (f"tradecore: error: user_strategy.py:{line_of(p, 'missing')}: KeyError: 'missing' in __init__")


CRASH = GOOD_HEAD + """\
        mid = book.mid()
        if mid is not None and self.books % 50 == 1:
            self.ctx.buy(0.001, price=round(mid - 5.0, 1))
            self.sent = getattr(self, "sent", 0) + 1
        if self.books == 2000:
            self.crash()

    def crash(self):
        return 1 / 0
"""


def test_an_exception_in_a_callback_is_one_line_and_the_report_of_what_ran_is_written(tmp_path: Path) -> None:
    p = strategy_file(tmp_path, CRASH)
    r = backtest(tmp_path, p, "--report", "partial.html", "--json", "partial.json")
    msg = one_line(r)
    # the deepest line of the user's file, the callback the engine called
    assert msg == f"tradecore: error: user_strategy.py:{line_of(p, '1 / 0')}: ZeroDivisionError: division by " \
                  "zero in on_book"
    assert "stopped" in r.stdout and "report: partial.html" in r.stdout
    html = (tmp_path / "partial.html").read_text()
    assert "ZeroDivisionError" in html
    stats = json.loads((tmp_path / "partial.json").read_text())
    assert stats["params"]["stopped_by"] == msg.removeprefix("tradecore: error: ")
    assert stats["stats"]["n_orders"] > 10  # sent before the 2000th book


def test_traceback_flag_prints_the_whole_traceback(tmp_path: Path) -> None:
    p = strategy_file(tmp_path, CRASH)
    r = backtest(tmp_path, p, "--traceback")
    assert r.returncode == 2
    assert "Traceback (most recent call last)" in r.stderr and "1 / 0" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("tradecore: error: user_strategy.py:")


def test_the_partial_result_in_the_api(tmp_path: Path) -> None:
    """The library raises the strategy's own exception; ``partial_on_error`` returns what ran."""
    p = strategy_file(tmp_path, CRASH)
    spec = f"{p}:S"
    with pytest.raises(ZeroDivisionError):
        run_backtest(load_strategy(spec), "synthetic", synthetic_seconds=20)
    s = load_strategy(spec)
    res = run_backtest(s, "synthetic", synthetic_seconds=20, partial_on_error=True)
    assert isinstance(res.error, StrategyError) and res.error.result is res
    assert (res.error.file, res.error.line, res.error.callback) == (str(p), line_of(p, "1 / 0"), "on_book")
    assert isinstance(res.error.__cause__, ZeroDivisionError)
    assert s.books == 2000 and len(res.orders) == s.sent > 10  # type: ignore[attr-defined]
    full = run_backtest(load_strategy(f"{strategy_file(tmp_path, GOOD_HEAD, 'fine.py')}:S"), "synthetic",
                        synthetic_seconds=20, partial_on_error=True)
    assert full.error is None and full.events > res.events


def test_an_engine_refusal_inside_a_callback_names_the_users_line(tmp_path: Path) -> None:
    p = strategy_file(tmp_path, GOOD_HEAD + "        if book.mid():\n            self.ctx.buy(0.0005, price=book.mid())\n")
    msg = one_line(backtest(tmp_path, p))
    assert msg.startswith(f"tradecore: error: user_strategy.py:{line_of(p, 'buy(0.0005')}: InvalidInput: ")
    assert msg.endswith(" in on_book") and ": invalid " in msg


def test_bad_input_still_exits_2_and_a_missing_strategy_is_named(tmp_path: Path) -> None:
    msg = one_line(tradecore_cli("backtest", "--strategy", "nothere.py:S", cwd=tmp_path))
    assert "nothere.py" in msg and "no such file" in msg
    msg = one_line(tradecore_cli("inspect", str(tmp_path / "missing.gz")))
    assert "missing.gz" in msg


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    capture = tmp_path / "s.gz"
    tradecore.synth_binance(capture, seconds=5, seed=1)
    p = subprocess.Popen([*CLI, "inspect", str(capture)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None
    p.stdout.close()  # the reader left before the first line (`... | head -0`)
    _, err = p.communicate(timeout=180)
    assert p.returncode == 141, err
    assert err == b""


def test_an_exception_in_a_paper_session_is_one_line_and_its_report_is_written(tmp_path: Path) -> None:
    """``tradecore live --strategy`` (paper): the same one line, exit 2, the session's report."""
    from live_helpers import sim_process

    capture = tmp_path / "s.gz"
    tradecore.synth_binance(capture, seconds=60, seed=2)
    p = strategy_file(tmp_path, CRASH.replace("self.books == 2000", "self.books == 300"))
    with sim_process("--data", str(capture), "--speed", "0", "--tick-size", "0.1", "--lot-size", "0.001") as (url, _):
        cfg = tmp_path / "live.toml"
        cfg.write_text(f'[live]\nsymbols = ["BTCUSDT"]\nws_url = "ws://{url}"\nrest_url = "http://{url}"\n'
                       '[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\n[trading]\nstate_dir = "st"\n')
        r = tradecore_cli("live", "--config", str(cfg), "--strategy", f"{p.name}:S", "--duration", "60",
                          "--report", "paper.html", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (f"tradecore: error: user_strategy.py:{line_of(p, '1 / 0')}: "
                                                 "ZeroDivisionError: division by zero in on_book")
    assert "paper trading:" in r.stdout and (tmp_path / "paper.html").is_file()
