"""The configuration schema (tradecore.config): every config file tradecore reads is checked
strictly, and every refusal is one line naming the file, line, table, key and value."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tradecore.errors import ConfigError, InvalidInput
from tradecore.live.runner import LiveConfig
from tradecore.risk import RiskLimits

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "tradecore"]

BASE = """\
[live]
market = "usdm"
symbols = ["BTCUSDT"]
metrics_port = 9108

[symbols.BTCUSDT]
tick_size = 0.1
lot_size = 0.001

[trading]
mode = "paper"
cancel_on_stop = true

[risk]
max_order_qty = 0.001
"""


def write(tmp_path: Path, text: str, name: str = "live.toml", mode: int = 0o644) -> Path:
    p = tmp_path / name
    p.write_text(text)
    p.chmod(mode)
    return p


def refused(path: Path, loader: object = LiveConfig.from_toml) -> str:
    with pytest.raises(ConfigError) as info:
        loader(path)  # type: ignore[operator]
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert msg.startswith(str(path)), msg
    return msg


def test_a_config_error_is_invalid_input() -> None:
    assert issubclass(ConfigError, InvalidInput) and issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(("table", "meant"), [("risks", "risk"), ("Risk", "risk"), ("tradng", "trading"),
                                              ("symbol", "symbols")])
def test_a_misspelled_table_is_refused_with_the_nearest_name(tmp_path: Path, table: str, meant: str) -> None:
    text = BASE.replace("[risk]", f"[{table}]") if meant == "risk" else BASE.replace(f"[{meant}", f"[{table}", 1)
    msg = refused(write(tmp_path, text))
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith(f"[{table}"))) + 1
    assert re.search(rf":{line}: unknown table \[{table}(\.BTCUSDT)?\]; did you mean \[{meant}(\.BTCUSDT)?\]\?$",
                     msg), msg


def test_without_the_risk_table_a_misspelled_one_never_means_no_limits(tmp_path: Path) -> None:
    """The issue's case: [risks] used to be ignored, so 0.005 orders passed a 0.001 limit."""
    msg = refused(write(tmp_path, BASE.replace("[risk]", "[risks]")))
    assert "did you mean [risk]?" in msg


def test_unknown_keys_are_refused_with_the_nearest_name(tmp_path: Path) -> None:
    msg = refused(write(tmp_path, BASE.replace("lot_size = 0.001", "lot_size = 0.001\ntick_sz = 0.1")))
    assert msg == f"{tmp_path / 'live.toml'}:9: unknown key tick_sz in [symbols.BTCUSDT] (= 0.1); " \
                  "did you mean tick_size?"
    msg = refused(write(tmp_path, BASE.replace('mode = "paper"', 'mode = "paper"\ncancel_on_stopp = true')))
    assert "unknown key cancel_on_stopp in [trading]" in msg and "did you mean cancel_on_stop?" in msg
    msg = refused(write(tmp_path, BASE + "zzz = 1\n"))
    assert "unknown key zzz in [risk]" in msg and "(known: max_order_qty," in msg


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("max_order_qty = 0.001", "max_order_qty = true", ":15: [risk] max_order_qty = true: expected a number, got a "
                                                      "boolean"),
    ("max_order_qty = 0.001", 'max_order_qty = "0.001"', ':15: [risk] max_order_qty = "0.001": expected a number, '
                                                         "got a string"),
    ("cancel_on_stop = true", 'cancel_on_stop = "false"', ':12: [trading] cancel_on_stop = "false": expected a '
                                                          "boolean (true or false), got a string"),
    ("cancel_on_stop = true", 'native = "false"', ':12: [trading] native = "false": expected a boolean'),
    ("metrics_port = 9108", 'metrics_port = "abc"', ':4: [live] metrics_port = "abc": expected an integer, got a '
                                                    "string"),
    ("metrics_port = 9108", "metrics_port = 70000", ":4: [live] metrics_port = 70000: must be in 0..65535"),
    ("metrics_port = 9108", "metrics_port = 91.08", ":4: [live] metrics_port = 91.08: expected an integer, got a "
                                                    "number"),
    ("tick_size = 0.1", "tick_size = -0.1", ":7: [symbols.BTCUSDT] tick_size = -0.1: must be > 0"),
    ("tick_size = 0.1", 'tick_size = "0.1"', ':7: [symbols.BTCUSDT] tick_size = "0.1": expected a number'),
    ("max_order_qty = 0.001", "max_order_qty = 0", ":15: [risk] max_order_qty = 0: must be > 0"),
    ('market = "usdm"', 'market = "usdt"', ':2: [live] market = "usdt": must be one of usdm, coinm, spot'),
    ('mode = "paper"', 'mode = "live"', ':11: [trading] mode = "live": must be one of "paper", "real", "watch"'),
    ('mode = "paper"', 'latency = "fast"', ':11: [trading] latency = "fast": invalid latency'),
    ('mode = "paper"', 'queue = "fifo"', ':11: [trading] queue = "fifo": '),
    ('mode = "paper"', 'client_prefix = "much-too-long"', ':11: [trading] client_prefix = "much-too-long": must '
                                                          "match"),
    ('symbols = ["BTCUSDT"]', "symbols = []", ":3: [live] symbols = []: must not be empty"),
    ('symbols = ["BTCUSDT"]', "symbols = [1]", ":3: [live] symbols = [1]: expected a string, got an integer"),
    ("[symbols.BTCUSDT]\n", "[symbols.BTCUSDT]\nmaker_fee = 2\n", ":7: [symbols.BTCUSDT] maker_fee = 2: must be > -1 "
                                                                  "and < 1"),
])
def test_types_and_ranges_are_exact(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new))
    msg = refused(path)
    assert msg.startswith(str(path) + expected), msg


def test_missing_and_extra_symbol_tables(tmp_path: Path) -> None:
    msg = refused(write(tmp_path, BASE.replace('["BTCUSDT"]', '["BTCUSDT", "ETHUSDT"]')))
    assert ":3: [live] symbols = [\"BTCUSDT\", \"ETHUSDT\"]: no [symbols.ETHUSDT] table with its tick_size" in msg
    msg = refused(write(tmp_path, BASE + "[symbols.BTCUSTD]\ntick_size = 0.1\nlot_size = 0.001\n"))
    assert ":16: [symbols.BTCUSTD] is not a symbol of [live] symbols (" in msg
    msg = refused(write(tmp_path, BASE.replace("[live]\n", "[live]\nsymbol = 3\n")))
    assert "unknown key symbol in [live] (= 3); did you mean symbols?" in msg
    msg = refused(write(tmp_path, "[trading]\nmode = \"paper\"\n"))
    assert msg.endswith("missing table [live]")
    msg = refused(write(tmp_path, "[live]\nmarket = \"usdm\"\n"))
    assert msg.endswith(":1: [live] symbols is missing (required)")
    msg = refused(write(tmp_path, "risk = 3\n" + BASE.replace("[risk]\nmax_order_qty = 0.001\n", "")))
    assert msg.endswith(":1: risk = 3: expected a table [risk], got an integer")


def test_bad_toml_and_missing_files_are_one_line(tmp_path: Path) -> None:
    msg = refused(write(tmp_path, BASE.replace("lot_size = 0.001", "lot_size = = 0.001")))
    assert ":8: invalid TOML: " in msg
    with pytest.raises(ConfigError, match="none.toml: no such file"):
        LiveConfig.from_toml(tmp_path / "none.toml")


@pytest.mark.parametrize("table", ["ccxt", "gateway", "trading"])
def test_secrets_are_refused_in_a_file_others_can_read(tmp_path: Path, table: str) -> None:
    secret = "apiKey = \"k\"\nsecret = \"s\"\n"
    text = BASE.replace("[trading]\n", f"[trading]\n{secret}") if table == "trading" else \
        BASE + f"[{table}]\n{secret}"
    for mode in (0o644, 0o640, 0o604):
        path = write(tmp_path, text, mode=mode)
        msg = refused(path)
        assert f"[{table}] apiKey: a secret in a file its group or others can read (mode {mode:o}): " \
               f"run `chmod 600 {path}`" in msg
        assert '"k"' not in msg  # never shown
    if table == "trading":  # not a key of [trading], refused as such once the file is private
        assert "unknown key apiKey in [trading]" in refused(write(tmp_path, text, mode=0o600))
    else:
        cfg = LiveConfig.from_toml(write(tmp_path, text, mode=0o600))
        assert getattr(cfg, f"{table}_options") == {"apiKey": "k", "secret": "s"}


def test_a_nested_secret_and_a_risk_file_are_checked_too(tmp_path: Path) -> None:
    msg = refused(write(tmp_path, BASE + '[ccxt.options]\nprivate_key = "p"\n'))
    assert "[ccxt.options] private_key: a secret" in msg
    msg = refused(write(tmp_path, 'max_position = 1\npassword = "x"\n', "risk.toml"), RiskLimits.from_toml)
    assert "password: a secret" in msg
    msg = refused(write(tmp_path, BASE + '[[ccxt.accounts]]\nname = "a"\n[[ccxt.accounts]]\napi_secret = "s"\n'))
    assert "[ccxt.accounts] api_secret: a secret" in msg


def test_a_full_valid_config_round_trips(tmp_path: Path) -> None:
    text = """\
[live]
market = "coinm"
symbols = ["BTCUSD_PERP"]
ws_url = "ws://127.0.0.1:8765"
rest_url = "http://127.0.0.1:8765"
metrics_port = 0
metrics_host = "127.0.0.1"
record = "recordings"
rotate_s = 600
status_every_s = 5
snapshot_limit = 500

[symbols.BTCUSD_PERP]
tick_size = 0.1
lot_size = 1
maker_fee = -0.0001
taker_fee = 0.0005

[trading]
mode = "real"
latency = "2ms,3ms"
queue = "power:2"
feed_latency = "1ms"
initial_capital = 5000
account = "margin"
balances = {BTC = 0.5}
leverage = 10
liquidation_fee = 0.015
exchange = "binancecoinm"
client_prefix = "mm1"
native = false
order_timeout_s = 3
poll_s = 1.5
cancel_on_stop = false
durable_journal = true
state_dir = "st"

[risk]
max_order_qty = 5
max_order_notional = 1000.5
max_position = 20
max_gross_exposure = 30
price_band_bps = 40
max_submits_per_sec = 10
max_submits_per_min = 300
max_modifies_per_sec = 5
max_modifies_per_min = 100
max_open_orders = 4
max_data_age_ms = 1500
daily_loss_limit = 250
max_drawdown = 400
self_trade_prevention = true

[gateway]
apiKey = "k"
secret = "s"
options = {defaultType = "delivery"}
"""
    path = write(tmp_path, text, mode=0o600)
    cfg = LiveConfig.from_toml(path)
    assert cfg.market == "coinm" and cfg.symbols == {"BTCUSD_PERP": (0.1, 1.0)}
    assert cfg.fees == {"BTCUSD_PERP": (-0.0001, 0.0005)}
    assert (cfg.ws_url, cfg.rest_url, cfg.metrics_port, cfg.record) == (
        "ws://127.0.0.1:8765", "http://127.0.0.1:8765", 0, Path("recordings"))
    assert (cfg.rotate_s, cfg.status_every_s, cfg.snapshot_limit) == (600, 5, 500)
    t = cfg.trading
    assert (t.mode, t.latency, t.queue, t.feed_latency, t.initial_capital, t.account) == (
        "real", "2ms,3ms", "power:2", "1ms", 5000, "margin")
    assert (t.balances, t.leverage, t.liquidation_fee, t.exchange, t.client_prefix) == (
        {"BTC": 0.5}, 10, 0.015, "binancecoinm", "mm1")
    assert (t.native, t.order_timeout_s, t.poll_s, t.cancel_on_stop, t.durable_journal) == (
        False, 3, 1.5, False, True)
    assert t.state_dir == str(tmp_path / "st")
    assert cfg.risk == RiskLimits(max_order_qty=5, max_order_notional=1000.5, max_position=20,
                                  max_gross_exposure=30, price_band_bps=40, max_submits_per_sec=10,
                                  max_submits_per_min=300, max_modifies_per_sec=5, max_modifies_per_min=100,
                                  max_open_orders=4, max_data_age_ms=1500, daily_loss_limit=250, max_drawdown=400,
                                  self_trade_prevention=True)
    assert cfg.gateway_options == {"apiKey": "k", "secret": "s", "options": {"defaultType": "delivery"}}
    # the same limits as a risk file, at the top level or in [risk]
    risk = text[text.index("[risk]"):text.index("[gateway]")]
    assert RiskLimits.from_toml(write(tmp_path, risk, "risk.toml")) == cfg.risk
    assert RiskLimits.from_toml(write(tmp_path, risk.replace("[risk]\n", ""), "risk.toml")) == cfg.risk


def test_a_risk_file_is_strict(tmp_path: Path) -> None:
    p = write(tmp_path, "[risks]\nmax_position = 1\n", "risk.toml")
    assert refused(p, RiskLimits.from_toml).endswith(":1: unknown table [risks]; did you mean [risk]?")
    p = write(tmp_path, "max_position = true\n", "risk.toml")
    assert refused(p, RiskLimits.from_toml).endswith(":1: max_position = true: expected a number, got a boolean")
    p = write(tmp_path, "max_submits_per_sec = 2.5\n", "risk.toml")
    assert "expected an integer, got a number" in refused(p, RiskLimits.from_toml)
    p = write(tmp_path, "max_position = 1\n[risk]\nmax_order_qty = 1\n", "risk.toml")
    assert "max_position = 1: limits go either in [risk] or at the top level" in refused(p, RiskLimits.from_toml)


def test_the_readme_configs_are_valid(tmp_path: Path) -> None:
    """The README's live and trading configuration blocks, together, are a valid file."""
    blocks = re.findall(r"```toml\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    text = "\n".join(b for b in blocks if "[live]" in b or "[trading]" in b)
    assert "[live]" in text and "[trading]" in text and "[risk]" in text
    cfg = LiveConfig.from_toml(write(tmp_path, text, mode=0o600))
    assert cfg.symbols and cfg.risk.max_order_qty == 0.01
    assert "chmod 600" in refused(write(tmp_path, text, mode=0o644))


@pytest.mark.parametrize("command", ["live", "kill", "backtest"])
def test_the_cli_prints_a_config_error_as_one_line_and_exits_2(tmp_path: Path, command: str) -> None:
    if command == "backtest":
        path = write(tmp_path, "[risks]\nmax_order_qty = 0.001\n", "risk.toml")
        args = ["backtest", "--strategy", str(REPO / "examples/market_maker.py:MarketMaker"), "--seconds", "1",
                "--risk", str(path)]
    else:
        path = write(tmp_path, BASE.replace("[risk]", "[risks]"))
        args = [command, "--config", str(path)]
    r = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"tradecore: error: {path}:")
    assert "unknown table [risks]; did you mean [risk]?" in r.stderr
