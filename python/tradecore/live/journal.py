"""The trading journal: every order intent, state change and fill, in SQLite (WAL mode),
written before it is acted on.

An order intent is written before the order is sent, a state change before it reaches the
strategy (``update``), a fill before it moves the position (``fill``), so a runner killed at
any point restarts from what it had done or was about to do. The intent is on the
tick-to-order path, where a SQLite commit (20-30 us here) would be most of the budget: it is
appended to the journal's intent log (``<journal>.intents``, a file mapped into memory: a JSON
line copied into the page cache, no system call, which survives the process being killed;
``tradecore._core.IntentLog``, written by the order path in Rust, ``_core.OrderEntry``)
before the order is sent, and its row is inserted into SQLite right after (``flush``, in the
same event-loop turn, which then empties the log); opening the journal restores any intent of
the log that is not in SQLite (the process died in between) before anything else reads it;
what the exchange did meanwhile
is then found by reconciliation (:mod:`tradecore.live.trading`). A fill is keyed by the venue's
trade id: the same fill seen twice (user stream and polling, or again after a restart) is
booked once.

Each run of a runner is a session (``sessions``: id, start, pid; :mod:`tradecore.live.session`);
every order row names the session that sent it, whose id is part of its client order id. A
journal from before sessions is migrated: its orders are session ``""`` (ids ``<prefix><id>``).

``synchronous=NORMAL`` in WAL mode survives the process being killed (the write is in the OS
before the call returns); ``durable=True`` (``synchronous=FULL``) also survives power loss, at
the cost of an fsync per write.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import orjson

from tradecore._core import IntentLog

log = logging.getLogger("tradecore.live.journal")
_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE

#: Size of the intent log's mapping (about 100,000 intents; it is emptied at each flush).
INTENT_LOG_BYTES = 1 << 24

#: Order states. ``pending``: written, being sent; ``unknown``: sent, outcome unknown (a
#: timeout), being resolved by a query; ``open``: working at the venue. The others are final.
OPEN_STATES = ("pending", "unknown", "open")
FINAL_STATES = ("filled", "cancelled", "rejected", "refused")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    client_id INTEGER PRIMARY KEY,
    instrument INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    side INTEGER NOT NULL,
    price REAL NOT NULL,
    qty REAL NOT NULL,
    tif INTEGER NOT NULL,
    reduce_only INTEGER NOT NULL,
    status TEXT NOT NULL,
    filled REAL NOT NULL DEFAULT 0,
    venue_order_id TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    session TEXT NOT NULL DEFAULT '',
    order_type TEXT NOT NULL DEFAULT '',
    trigger_price REAL NOT NULL DEFAULT 0,
    trigger_by TEXT NOT NULL DEFAULT '',
    close_position INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS orders_status ON orders (status);
CREATE TABLE IF NOT EXISTS fills (
    trade_id TEXT PRIMARY KEY,
    client_id INTEGER NOT NULL,
    instrument INTEGER NOT NULL,
    side INTEGER NOT NULL,
    price REAL NOT NULL,
    qty REAL NOT NULL,
    fee REAL NOT NULL,
    maker INTEGER NOT NULL,
    exch_ts INTEGER NOT NULL,
    local_ts INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    client_id INTEGER,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    started_ns INTEGER NOT NULL,
    pid INTEGER NOT NULL
);
"""


@dataclass
class OrderRecord:
    """An order as the journal has it."""

    client_id: int
    instrument: int
    symbol: str
    side: int
    """+1 buy, -1 sell."""
    price: float
    """0.0: a market order."""
    qty: float
    tif: int
    reduce_only: bool
    status: str
    filled: float = 0.0
    venue_order_id: str | None = None
    reason: str = ""
    created_ns: int = 0
    updated_ns: int = 0
    session: str = ""
    """The trading session that sent it (part of its client order id; ``""``: an order of a
    journal from before sessions, sent as ``<prefix><client id>``)."""
    order_type: str = ""
    """A stop or take-profit order's type (``OrderType`` name: ``stop_market``, ``stop_limit``,
    ``take_profit_market``, ``take_profit_limit``); ``""``: limit with a price, market without."""
    trigger_price: float = 0.0
    """A stop or take-profit order's trigger price (0.0: none)."""
    trigger_by: str = ""
    """What the trigger watches: ``last`` (the last trade) or ``mark``; ``""``: no trigger."""
    close_position: bool = False
    """Closes the whole position when triggered (Binance's ``closePosition``)."""
    triggered: bool = False
    """A stop or take-profit order whose trigger was touched (seen in this session; its
    ``venue_order_id`` is then the order's id in the exchange's matching engine)."""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def remaining(self) -> float:
        return max(self.qty - self.filled, 0.0)


@dataclass(frozen=True)
class FillRecord:
    """A fill as the journal has it (``trade_id``: the venue's)."""

    trade_id: str
    client_id: int
    instrument: int
    side: int
    price: float
    qty: float
    fee: float
    maker: bool
    exch_ts: int
    local_ts: int
    source: str
    """Where it was learnt: ``stream``, ``poll``, ``reconcile``."""


class Journal:
    """The journal of one trading account (one file per runner).

    Args:
        path: The SQLite file (created with its folder if absent).
        durable: fsync every write (survives power loss), not only process death.
    """

    def __init__(self, path: str | PathLike[str], *, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self.db.executescript(_SCHEMA)
        self.intent_log = self.path.with_name(self.path.name + ".intents")
        self._migrate()
        self._insert_order = ("INSERT OR IGNORE INTO orders (client_id, instrument, symbol, side, price, qty, tif, "
                              "reduce_only, status, created_ns, updated_ns, reason, session, order_type, "
                              "trigger_price, trigger_by, close_position) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        self._unflushed: list[tuple[Any, ...]] = []
        self.restored = self._restore_intents()
        self.intents = IntentLog(self.intent_log, INTENT_LOG_BYTES)
        """The intent log (``tradecore._core.OrderEntry`` appends to it too)."""

    def _migrate(self) -> None:
        """A journal from before sessions: its orders (client order ids ``<prefix><client
        id>``) belong to the session ``""``, recorded so that they stay ours. A journal from
        before stop and take-profit orders gets their columns (its orders: none)."""
        cols = [r[1] for r in self.db.execute("PRAGMA table_info(orders)")]
        if "order_type" not in cols:
            with self.db:
                self.db.execute("BEGIN")
                for col in ("order_type TEXT NOT NULL DEFAULT ''", "trigger_price REAL NOT NULL DEFAULT 0",
                            "trigger_by TEXT NOT NULL DEFAULT ''", "close_position INTEGER NOT NULL DEFAULT 0"):
                    self.db.execute(f"ALTER TABLE orders ADD COLUMN {col}")
        if "session" not in cols:
            with self.db:
                self.db.execute("BEGIN")
                self.db.execute("ALTER TABLE orders ADD COLUMN session TEXT NOT NULL DEFAULT ''")
                # orders in SQLite, or intents of a run that died before its first flush
                if self.db.execute("SELECT COUNT(*) FROM orders").fetchone()[0] or self._has_intents():
                    self.db.execute("INSERT OR IGNORE INTO sessions (id, started_ns, pid) VALUES ('', 0, 0)")

    def _has_intents(self) -> bool:
        """The intent log holds lines (an earlier run's, not yet in SQLite)."""
        try:
            with open(self.intent_log, "rb") as f:
                head = f.read(1)
        except FileNotFoundError:
            return False
        return head not in (b"", b"\0")

    def _restore_intents(self) -> int:
        """Inserts the intents of the log that SQLite does not have (the lines before the
        first zero byte; a line cut by the process's death is skipped: never sent). They are
        the last session's (the one that died; the next one is added after this)."""
        if not self.intent_log.exists():
            return 0
        session = self.last_session() or ""
        data = self.intent_log.read_bytes()
        end = data.find(b"\0")
        rows = []
        for n, line in enumerate((data if end < 0 else data[:end]).split(b"\n"), 1):
            if not line:
                continue
            try:
                rows.append((*orjson.loads(line), "", session, *_NO_TRIGGER))
            except orjson.JSONDecodeError:
                log.warning("%s:%d: unreadable intent skipped (cut short)", self.intent_log, n)
        with self.db:
            self.db.execute("BEGIN")
            before = self.db.total_changes
            self.db.executemany(self._insert_order, rows)
            restored = self.db.total_changes - before
        if restored:
            log.warning("journal: %d order intent(s) restored from the intent log", restored)
        self.intent_log.unlink()
        return restored

    def close(self) -> None:
        self.flush()
        self.db.close()
        self.intent_log.unlink(missing_ok=True)  # everything is in SQLite

    # -- writes -----------------------------------------------------------------------------

    def intent(self, o: OrderRecord, *, ts: int | None = None) -> None:
        """An order about to be sent (or refused by the risk check: status ``refused``):
        appended to the intent log now, into SQLite at the next :meth:`flush`. ``ts``: its time
        (default now; paper trading gives its simulated exchange's clock)."""
        o.created_ns = o.updated_ns = time.time_ns() if ts is None else ts
        self.intent_row(self._row(o))

    def intent_row(self, row: tuple[Any, ...]) -> None:
        """:meth:`intent` of an order's row as :meth:`_row` makes it (the paper order path's
        shortcut: no record object)."""
        line = _dumps(row[:11], option=_NEWLINE)  # the order path's format: no reason, no session
        if self.intents.used + len(line) >= self.intents.capacity:
            self.flush()  # everything before is now in SQLite: the log starts over
        self.intents.append(line)
        self._unflushed.append(row if len(row) > 13 else row + _NO_TRIGGER)

    def logged(self, o: OrderRecord) -> None:
        """An order whose intent the order path already wrote to the intent log (at
        ``o.created_ns``): into SQLite at the next :meth:`flush`."""
        self._unflushed.append(self._row(o))

    @staticmethod
    def _row(o: OrderRecord) -> tuple[Any, ...]:
        return (o.client_id, o.instrument, o.symbol, o.side, o.price, o.qty, o.tif, o.reduce_only, o.status,
                o.created_ns, o.updated_ns, o.reason, o.session, o.order_type, o.trigger_price, o.trigger_by,
                o.close_position)

    def flush(self) -> None:
        """Inserts the intents written since the last flush into SQLite and empties the
        intent log (every other call flushes first, so reads see them)."""
        if not self._unflushed:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(self._insert_order, self._unflushed)
        # only once they are in SQLite (a failed insert keeps both, for the next flush)
        self._unflushed = []
        self.intents.reset()

    def update(self, client_id: int, status: str, *, filled: float | None = None, venue_order_id: str | None = None,
               reason: str | None = None, price: float | None = None, qty: float | None = None,
               ts: int | None = None) -> None:
        """A state change of an order (a modification: its new price and quantity), and an
        event row saying so, in one transaction (at ``ts``, default now)."""
        self.flush()
        now = time.time_ns() if ts is None else ts
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "UPDATE orders SET status = ?, filled = COALESCE(?, filled), venue_order_id = COALESCE(?, "
                "venue_order_id), reason = COALESCE(?, reason), price = COALESCE(?, price), qty = COALESCE(?, qty), "
                "updated_ns = ? WHERE client_id = ?",
                (status, filled, venue_order_id, reason, price, qty, now, client_id))
            self.db.execute("INSERT INTO events (ts, client_id, kind, detail) VALUES (?, ?, ?, ?)",
                            (now, client_id, status, reason or ""))

    def fill(self, f: FillRecord) -> bool:
        """Books a fill and the order's filled quantity; False if this trade id is already
        booked (nothing is written then)."""
        self.flush()
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.execute(
                "INSERT OR IGNORE INTO fills (trade_id, client_id, instrument, side, price, qty, fee, maker, exch_ts, "
                "local_ts, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (f.trade_id, f.client_id, f.instrument, f.side, f.price, f.qty, f.fee, int(f.maker), f.exch_ts,
                 f.local_ts, f.source))
            if cur.rowcount == 0:
                return False
            self.db.execute("UPDATE orders SET filled = filled + ?, updated_ns = ? WHERE client_id = ?",
                            (f.qty, f.local_ts, f.client_id))
        return True

    def event(self, kind: str, detail: Any, client_id: int | None = None, *, ts: int | None = None) -> None:
        """A free-form event (kill switch, reconciliation difference, ...), at ``ts`` (default now)."""
        self.flush()
        self.db.execute("INSERT INTO events (ts, client_id, kind, detail) VALUES (?, ?, ?, ?)",
                        (time.time_ns() if ts is None else ts, client_id, kind, detail if isinstance(detail, str) else json.dumps(detail)))

    def add_session(self, session: str, pid: int, started_ns: int | None = None) -> None:
        """Records a trading session (its client order ids are ours from now on)."""
        self.db.execute("INSERT OR IGNORE INTO sessions (id, started_ns, pid) VALUES (?, ?, ?)",
                        (session, time.time_ns() if started_ns is None else started_ns, pid))

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- reads ------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def sessions(self) -> set[str]:
        """The ids of every session recorded in this journal."""
        return {str(r[0]) for r in self.db.execute("SELECT id FROM sessions")}

    def last_session(self) -> str | None:
        """The most recently started session."""
        row = self.db.execute("SELECT id FROM sessions ORDER BY started_ns DESC, rowid DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def next_client_id(self) -> int:
        """One more than the largest client id ever used: ids are never reused."""
        self.flush()
        row = self.db.execute("SELECT MAX(client_id) FROM orders").fetchone()
        return int(row[0] or 0) + 1

    def order(self, client_id: int) -> OrderRecord | None:
        self.flush()
        row = self.db.execute(f"SELECT {_COLS} FROM orders WHERE client_id = ?", (client_id,)).fetchone()
        return None if row is None else _order(row)

    def order_by_venue_id(self, venue_order_id: str) -> OrderRecord | None:
        """An order by the exchange's order id."""
        self.flush()
        row = self.db.execute(f"SELECT {_COLS} FROM orders WHERE venue_order_id = ?", (venue_order_id,)).fetchone()
        return None if row is None else _order(row)

    def orders(self, *, open_only: bool = False) -> list[OrderRecord]:
        self.flush()
        q = f"SELECT {_COLS} FROM orders"
        if open_only:
            q += f" WHERE status IN ({', '.join(repr(s) for s in OPEN_STATES)})"
        return [_order(r) for r in self.db.execute(q + " ORDER BY client_id")]

    def fills(self) -> list[FillRecord]:
        return [FillRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10])
                for r in self.db.execute("SELECT trade_id, client_id, instrument, side, price, qty, fee, maker, "
                                         "exch_ts, local_ts, source FROM fills ORDER BY exch_ts, trade_id")]

    def position(self, instrument: int) -> float:
        row = self.db.execute("SELECT COALESCE(SUM(side * qty), 0) FROM fills WHERE instrument = ?",
                              (instrument,)).fetchone()
        return float(row[0])

    def events(self, kind: str | None = None) -> list[tuple[int, int | None, str, str]]:
        q = "SELECT ts, client_id, kind, detail FROM events"
        rows = self.db.execute(q + " WHERE kind = ? ORDER BY seq", (kind,)) if kind else self.db.execute(
            q + " ORDER BY seq")
        return [(r[0], r[1], r[2], r[3]) for r in rows]


_COLS = ("client_id, instrument, symbol, side, price, qty, tif, reduce_only, status, filled, venue_order_id, reason, "
         "created_ns, updated_ns, session, order_type, trigger_price, trigger_by, close_position")
#: The stop and take-profit ``OrderType`` codes and their names (the ``order_type`` column).
CONDITIONAL_NAMES = {2: "stop_market", 3: "stop_limit", 4: "take_profit_market", 5: "take_profit_limit"}
#: The trigger columns of an order that has none (a row of the order path or paper trading).
_NO_TRIGGER: tuple[Any, ...] = ("", 0.0, "", False)


def _order(r: tuple[Any, ...]) -> OrderRecord:
    return OrderRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10], r[11], r[12], r[13], r[14],
                       r[15], r[16], r[17], bool(r[18]))
