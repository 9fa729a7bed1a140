"""A session's tables and report rebuilt from its journal (paper or real trading).

The journal (:mod:`tradecore.live.journal`) has every order and fill; from them come the
backtest's ``orders`` and ``fills`` tables (``tradecore.backtest.stats`` dtypes). The equity
and positions are replayed from the fills at each recorded mark (paper sessions journal the
mids every sample interval: ``mark`` events) or, without marks (a real journal), at each fill
at its own price. Instruments (kind, contract size) and the initial capital come from the
journal's ``meta`` (written by the runner) or default to linear contracts of size 1::

    res = rebuild(Path("state/journal.sqlite"))
    print(res.summary())
    res.write_report("report.html")

``tradecore report --journal state/journal.sqlite --out report.html`` does the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from tradecore._core import OrderStatus, OrderType
from tradecore.backtest.report import write_report
from tradecore.backtest.stats import (
    EQUITY_DTYPE,
    FILL_DTYPE,
    ORDER_DTYPE,
    POSITION_DTYPE,
    InstrumentInfo,
    Stats,
    statistics,
    summary_table,
)
from tradecore.account import settlement_currency
from tradecore.errors import InvalidInput
from tradecore.instrument import Instrument
from tradecore.live.journal import FINAL_STATES, Journal

_STATUS = {"pending": OrderStatus.PENDING, "unknown": OrderStatus.UNKNOWN}


def infos_of(instruments: Sequence[Instrument]) -> list[InstrumentInfo]:
    """What the statistics and the report need of each instrument."""
    return [InstrumentInfo(i.symbol, float(i.contract_size), i.kind == "inverse") for i in instruments]


def write_instruments_meta(journal: Journal, instruments: Sequence[Instrument], initial_capital: float) -> None:
    """Records the instruments (in index order) and the initial capital in the journal's meta,
    for a report rebuilt from it."""
    journal.set_meta("instruments", json.dumps([asdict(i) for i in instruments]))
    journal.set_meta("initial_capital", repr(float(initial_capital)))


def journal_tables(journal: Journal, *, exclude_session: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The journal's ``orders`` and ``fills`` tables (``ORDER_DTYPE``, ``FILL_DTYPE``), in
    client id and fill order; ``exclude_session``: without that session's orders and fills."""
    orders = [o for o in journal.orders() if exclude_session is None or o.session != exclude_session]
    keep = {o.client_id for o in orders}
    liq = {o.client_id for o in orders if o.reason == "liquidation"}
    fills = [f for f in journal.fills() if exclude_session is None or f.client_id in keep]
    ot = np.zeros(len(orders), dtype=ORDER_DTYPE)
    for k, o in enumerate(orders):
        st = _STATUS.get(o.status) or OrderStatus.of(o.status)
        if st == OrderStatus.OPEN and o.filled > 0:
            st = OrderStatus.PARTIALLY_FILLED
        ot[k] = (o.client_id, o.instrument, o.side, o.tif, int(st), o.reduce_only, o.created_ns,
                 o.updated_ns if o.status in FINAL_STATES else -1, o.price, o.qty, o.filled, o.reason == "liquidation",
                 # the journal's rows keep no order type: a price of 0.0 is a market order
                 int(OrderType.MARKET if o.price == 0.0 else OrderType.LIMIT), 0.0)
    ft = np.zeros(len(fills), dtype=FILL_DTYPE)
    for k, f in enumerate(sorted(fills, key=lambda f: (f.local_ts, _fill_seq(f.trade_id)))):
        ft[k] = (f.local_ts, f.exch_ts, f.client_id, f.instrument, f.side, f.maker, f.price, f.qty, f.fee,
                 f.client_id in liq)
    return ot, ft


def _fill_seq(trade_id: str) -> tuple[str, int]:
    """Paper trade ids ``paper-<session>-<n>`` in their order (n numerically)."""
    head, _, n = trade_id.rpartition("-")
    return (head, int(n)) if n.isdigit() else (trade_id, 0)


def journal_instruments(journal: Journal) -> list[Instrument]:
    """The instruments of the journal's meta, or linear ones of size 1 named by its orders."""
    meta = journal.meta("instruments")
    if meta is not None:
        return [Instrument.from_json(json.dumps(d)) for d in json.loads(meta)]
    names: dict[int, str] = {}
    for r in journal.db.execute("SELECT DISTINCT instrument, symbol FROM orders ORDER BY instrument"):
        names.setdefault(int(r[0]), str(r[1]))
    n = max(names, default=-1) + 1
    return [Instrument("unknown", names.get(i, f"instrument{i}"), "0.00000001", "0.00000001", maker_fee=0, taker_fee=0,
                       fee_source="the journal's fills (each carries its fee)") for i in range(n)]


def equity_curve(fills: np.ndarray, marks: Sequence[tuple[int, list[float | None]]],
                 instruments: Sequence[Instrument], initial: float) -> tuple[np.ndarray, np.ndarray]:
    """``equity`` and ``positions`` tables replayed from the fills: at each mark (ts, mids),
    or without marks at each fill (marked at its price); ``equity`` = initial + realized +
    unrealized - fees (no account margin: ``available`` is the equity)."""
    n = len(instruments)
    cs = [float(i.contract_size) for i in instruments]
    inverse = [i.kind == "inverse" for i in instruments]
    pos, cash, fees, last = [0.0] * n, [0.0] * n, [0.0] * n, [float("nan")] * n
    if not marks:
        marks = [(int(f["local_ts"]), [float(f["price"]) if k == int(f["instrument"]) else None for k in range(n)])
                 for f in fills]
    eq_rows: list[tuple[Any, ...]] = []
    pos_rows: list[tuple[Any, ...]] = []
    k = 0

    def value(i: int) -> float:  # the position's value at its last mark, in the settlement currency
        if pos[i] == 0.0 or last[i] != last[i]:
            return 0.0
        return -pos[i] * cs[i] / last[i] if inverse[i] else pos[i] * cs[i] * last[i]

    for ts, mids in marks:
        while k < len(fills) and int(fills[k]["local_ts"]) <= ts:
            f = fills[k]
            i, q, p = int(f["instrument"]), float(f["side"]) * float(f["qty"]), float(f["price"])
            pos[i] += q
            cash[i] += q * cs[i] / p if inverse[i] else -q * cs[i] * p
            fees[i] += float(f["fee"])
            last[i] = p
            k += 1
        for i, m in enumerate(mids[:n]):
            if m is not None and m > 0:
                last[i] = float(m)
        pnl = sum(cash[i] + value(i) for i in range(n))
        gross = sum(abs(pos[i]) * cs[i] * (1.0 / last[i] if inverse[i] else last[i])
                    for i in range(n) if pos[i] and last[i] == last[i])
        fee = sum(fees)
        eq = initial + pnl - fee
        eq_rows.append((ts, eq, 0.0, 0.0, fee, 0.0, gross, 0.0, eq))
        pos_rows.extend((ts, i, last[i], pos[i]) for i in range(n))
    equity = np.array(eq_rows, dtype=EQUITY_DTYPE)
    positions = np.array(pos_rows, dtype=POSITION_DTYPE)
    # realized / unrealized split: unrealized = the position's value against its average entry
    # is not kept here; the total PnL (equity - initial + fees) is in ``realized``.
    equity["realized"] = equity["equity"] - initial + equity["fees"]
    return equity, positions


@dataclass
class JournalResult:
    """Tables and statistics rebuilt from a journal."""

    orders: np.ndarray
    fills: np.ndarray
    equity: np.ndarray
    positions: np.ndarray
    stats: Stats
    instruments: list[Instrument]
    params: dict[str, object]

    def summary(self) -> str:
        return summary_table(self.stats)

    def write_report(self, path: str | PathLike[str], title: str | None = None) -> Path:
        return write_report(path, equity=self.equity, positions=self.positions, fills=self.fills,
                            orders=self.orders, stats=self.stats, instruments=infos_of(self.instruments),
                            title=title or f"tradecore journal: {self.params['journal']}", params=self.params)


def rebuild(path: str | PathLike[str], *, initial_capital: float | None = None) -> JournalResult:
    """Reads a journal (read only: nothing is written to it) and rebuilds its tables."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"invalid journal: {p} (no such file)")
    j = _ReadOnlyJournal(p)
    try:
        insts = journal_instruments(j)
        meta_cap = j.meta("initial_capital")
        initial = initial_capital if initial_capital is not None else float(meta_cap) if meta_cap else 100_000.0
        orders, fills = journal_tables(j)
        marks = [(ts, list(json.loads(d)["mids"])) for ts, _, _, d in j.events("mark")]
        equity, positions = equity_curve(fills, marks, insts, initial)
        sessions = sorted(j.sessions())
        stats = statistics(equity, fills, orders, initial=initial, instruments=infos_of(insts),
                           currency=settlement_currency(insts), positions=positions) if len(equity) else Stats()
        params: dict[str, object] = {
            "journal": str(p),
            "mode": j.meta("mode") or "unknown",
            "sessions": ", ".join(sessions) or "none",
            "instruments": ", ".join(f"{i.symbol} ({i.kind}, contract {i.contract_size})" for i in insts),
            "initial_capital": initial,
            "equity": f"{len(marks)} recorded marks" if marks else "marked at the fills' prices (no recorded marks)",
        }
        return JournalResult(orders, fills, equity, positions, stats, insts, params)
    finally:
        j.db.close()


class _ReadOnlyJournal(Journal):
    """A journal opened only to read (no intent log restored, no schema written)."""

    def __init__(self, path: Path) -> None:  # noqa: D107 - the base's set-up is skipped on purpose
        import sqlite3

        self.path = path
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        self._unflushed = []
