"""Trading sessions and the runner lock of a state directory.

A session is one run of a runner (paper or real). Its id (:func:`new_session_id`: the start
second in base 36 and 3 random characters, 9 characters of ``[0-9a-z]``) is part of every client
order id the session sends (``<prefix><session>.<client id>``, see
:mod:`tradecore.live.gateway`) and is recorded in the journal, so an order of another session,
another state directory or another runner can never be taken for ours.

One runner per state directory: :class:`RunnerLock` holds an OS file lock
(``fcntl.flock``) on ``<state_dir>/runner.lock`` for the life of the process; the file says who
holds it (pid, session id, start time). A second runner on the same directory is refused at
start, naming the holder; ``tradecore kill`` signals a runner only while its lock is held. The
OS releases the lock when the process ends, however it ends (``kill -9`` included), so a lock
file left behind is stale, never an obstacle. The file itself is never deleted (deleting it
would let a second runner lock a new file while the first still holds the old one).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from tradecore.errors import InvalidInput

#: The lock file's name in the state directory.
LOCK_FILE = "runner.lock"
SESSION_LEN = 9
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_session_id(now_s: float | None = None) -> str:
    """A new session id: the start second in base 36 (6 characters, wrapping every 69 years)
    and 3 random base-36 characters; 9 characters of ``[0-9a-z]``, URL-safe."""
    n = int(time.time() if now_s is None else now_s)
    digits = []
    for _ in range(6):
        n, r = divmod(n, 36)
        digits.append(_B36[r])
    return "".join(reversed(digits)) + "".join(secrets.choice(_B36) for _ in range(3))


@dataclass(frozen=True)
class LockInfo:
    """What a lock file says: who holds (or held) it."""

    pid: int
    session: str
    started_ns: int


def read_lock(path: Path) -> LockInfo | None:
    """The lock file's holder (None: no file, or not a lock file's content)."""
    try:
        parts = path.read_text().split()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    try:
        return LockInfo(int(parts[0]), parts[1], int(parts[2]))
    except (IndexError, ValueError):
        return None


def lock_holders(path: Path) -> set[int] | None:
    """The pids holding an ``flock`` on ``path`` now, from the kernel's ``/proc/locks`` (None
    where it cannot be read: not Linux)."""
    try:
        st = os.stat(path)
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    out: set[int] = set()
    for line in text.splitlines():
        f = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF"; waiters are marked "->"
        if len(f) >= 6 and f[1] == "FLOCK" and f[5] == key:
            try:
                out.add(int(f[4]))
            except ValueError:
                continue
    return out


def lock_is_held(path: Path) -> bool:
    """True if a process holds the lock of ``path`` now (a non-blocking try to take it, given
    back at once)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise InvalidInput(f"invalid lock file {path}: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also gives back a lock taken
    return False


class RunnerLock:
    """The lock of one state directory, held until :meth:`release` or the process ends.

    Args:
        state_dir: The runner's ``[trading] state_dir`` (created if absent).
        session: The runner's session id (written into the lock file).

    Raises:
        InvalidInput: Another runner holds the lock (its pid and session are named).
    """

    def __init__(self, state_dir: str | os.PathLike[str], session: str) -> None:
        self.path = Path(state_dir) / LOCK_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.session = session
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # nothing of the holder's is touched
            h = read_lock(self.path)
            who = f"pid {h.pid}, session {h.session}" if h is not None else "a process that has not written it yet"
            raise InvalidInput(f"invalid start: another runner is using {self.path.parent} ({who}; lock file "
                               f"{self.path}): one runner per state_dir") from None
        self.started_ns = time.time_ns()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {session} {self.started_ns}\n".encode(), 0)
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Gives the lock back (the file stays: see the module documentation)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
