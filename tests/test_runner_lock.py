"""One runner per state directory (an OS file lock on ``state_dir/runner.lock``) and
``tradecore kill`` signalling only a verified running runner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tradecore.errors import InvalidInput
from tradecore.live.runner import LiveConfig, LiveRunner
from tradecore.live.session import RunnerLock, lock_holders, lock_is_held, read_lock
from tradecore.strategy import Strategy

CLI = [sys.executable, "-m", "tradecore"]


def config(tmp_path: Path, mode: str) -> Path:
    cfg = tmp_path / "live.toml"
    cfg.write_text('[live]\nsymbols = ["BTCUSDT"]\nws_url = "ws://127.0.0.1:9"\nrest_url = "http://127.0.0.1:9"\n'
                   '[symbols.BTCUSDT]\ntick_size = 0.1\nlot_size = 0.001\n'
                   f'[trading]\nmode = "{mode}"\nstate_dir = "st"\n'
                   '[gateway]\napiKey = "k"\nsecret = "s"\n')
    cfg.chmod(0o600)
    return cfg


@pytest.mark.parametrize("mode", ["paper", "real"])
def test_a_second_runner_on_the_same_state_dir_is_refused_and_touches_nothing(tmp_path: Path, mode: str) -> None:
    cfg = LiveConfig.from_toml(config(tmp_path, mode))
    first = LiveRunner(cfg, strategy=Strategy())
    st = tmp_path / "st"
    lock = st / "runner.lock"
    info = read_lock(lock)
    assert info is not None and info.pid == os.getpid() and info.session == first.session and lock_is_held(lock)
    before = {p.name: p.read_bytes() for p in st.iterdir()}
    if mode == "real":  # the first's journal, with an intent only in its intent log
        assert first.journal is not None
        (st / "journal.sqlite.intents").write_bytes(b'[1, 0, "BTCUSDT", 1, 63999.9, 0.001, 0, false, "pending", 1, 1]\n')
        before = {p.name: p.read_bytes() for p in st.iterdir()}
    with pytest.raises(InvalidInput, match=rf"another runner is using .*\(pid {os.getpid()}, session "
                                           rf"{first.session};"):
        LiveRunner(cfg, strategy=Strategy())
    # the refused runner's exit deleted or changed nothing of the first's
    assert {p.name: p.read_bytes() for p in st.iterdir()} == before
    assert lock_is_held(lock) and read_lock(lock) == info
    first.lock_release()
    assert not lock_is_held(lock)
    second = LiveRunner(cfg, strategy=Strategy())  # free again: a new session
    assert second.session != first.session and read_lock(lock).session == second.session  # type: ignore[union-attr]
    second.lock_release()


def test_tradecore_kill_never_signals_a_process_that_is_not_a_running_runner(tmp_path: Path) -> None:
    """A stale lock file (and a stale pid file of an older version) naming a live unrelated
    process: ``tradecore kill`` refuses, and that process gets no signal (SIGUSR1 would have
    ended it)."""
    cfg = config(tmp_path, "paper")
    st = tmp_path / "st"
    st.mkdir()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (st / "runner.lock").write_text(f"{sleeper.pid} abcdefghi {time.time_ns()}\n")
        (st / "runner.pid").write_text(f"{sleeper.pid}\n")  # what an older runner killed with -9 left
        k = subprocess.run([*CLI, "kill", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
        assert k.returncode == 2, k.stdout + k.stderr
        assert f"no runner of {cfg} is running (stale lock file of pid {sleeper.pid})" in k.stderr
        # the lock held (by this test process), but the pid it names is not a tradecore runner
        held = RunnerLock(st, "abcdefghi")
        try:
            (st / "runner.lock").write_text(f"{sleeper.pid} abcdefghi {time.time_ns()}\n")
            k = subprocess.run([*CLI, "kill", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
            assert k.returncode == 2 and f"pid {sleeper.pid} of" in k.stderr and "not a tradecore runner" in k.stderr
        finally:
            held.release()
        time.sleep(0.2)
        assert sleeper.poll() is None, "the unrelated process got a signal"
    finally:
        sleeper.kill()
        sleeper.wait()
    # the lock held (by this test process), naming a Python process that has "tradecore" on its
    # command line but does not hold the lock: /proc/locks says who does; nothing signalled
    impostor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "tradecore"])
    held = RunnerLock(st, "abcdefghi")
    try:
        assert lock_holders(st / "runner.lock") == {os.getpid()}
        (st / "runner.lock").write_text(f"{impostor.pid} abcdefghi {time.time_ns()}\n")
        k = subprocess.run([*CLI, "kill", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
        assert k.returncode == 2 and f"pid {impostor.pid} named by" in k.stderr, k.stderr
        assert "does not hold its lock" in k.stderr
        time.sleep(0.2)
        assert impostor.poll() is None, "the process that does not hold the lock got a signal"
    finally:
        held.release()
        impostor.kill()
        impostor.wait()
    assert lock_holders(st / "runner.lock") == set()
    # no lock file at all
    (st / "runner.lock").unlink()
    k = subprocess.run([*CLI, "kill", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert k.returncode == 2 and "no runner" in k.stderr
