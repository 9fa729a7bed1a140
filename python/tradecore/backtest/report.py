"""A self-contained HTML report of a backtest: inline SVG charts, statistics and parameters.

The file needs no network: no script, no external style sheet, font or image; the charts
are SVG drawn here from the records (numpy and the standard library only)::

    write_report("run.html", equity=equity, positions=positions, fills=fills, orders=orders,
                 stats=stats, instruments=[InstrumentInfo("BTCUSDT")], title="MM on BTCUSDT")

Long series are reduced to the minimum and maximum of each pixel column (the drawn line
keeps every spike), so a report of a million equity samples stays small; above
:data:`MAX_MARKERS` fills per instrument the fill markers are evenly sampled and the report
says so.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tradecore.backtest.stats import (
    EQUITY_DTYPE,
    FILL_DTYPE,
    ORDER_DTYPE,
    POSITION_DTYPE,
    STATUS_REFUSED,
    InstrumentInfo,
    drawdown_series,
    format_duration,
    summary_rows,
)
from tradecore._core import OrderStatus, TimeInForce

__all__ = ["MAX_MARKERS", "write_report"]

MAX_MARKERS = 5000
"""Fill markers drawn per instrument at most; beyond, the fills shown are evenly sampled."""

Array = npt.NDArray[Any]

_NS = 1_000_000_000
_WIDTH = 960
_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 14, 24, 28
_PLOT_W = _WIDTH - _LEFT - _RIGHT
_COLS = _PLOT_W  # one min/max pair per pixel column
_BUY, _SELL = "#1a9641", "#d7191c"
_TIF = {int(t): str(t).upper() for t in (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY)}


def _status_name(code: int) -> str:
    name = str(OrderStatus.of(code)).replace("_", " ")
    return "refused (risk)" if code == STATUS_REFUSED else name
_TIME_STEPS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30,
                 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                 172800, 604800, 1209600, 2592000, 7776000, 31536000)


@dataclass
class _Line:
    ts: npt.NDArray[np.int64]
    ys: npt.NDArray[np.float64]
    color: str
    width: float = 1.2
    step: bool = False
    area: bool = False
    label: str = ""


@dataclass
class _Markers:
    ts: npt.NDArray[np.int64]
    ys: npt.NDArray[np.float64]
    up: bool
    maker: bool


@dataclass
class _Chart:
    title: str
    t0: int
    t1: int
    lines: list[_Line] = field(default_factory=list)
    markers: list[_Markers] = field(default_factory=list)
    height: int = 220
    percent: bool = False
    zero_line: bool = False
    note: str = ""


def _decimate(ts: npt.NDArray[np.int64], ys: npt.NDArray[np.float64], t0: int, t1: int,
              cols: int = _COLS) -> npt.NDArray[np.intp]:
    """Indices keeping the first, last, minimum and maximum sample of every pixel column
    (in time order); every index when the series is short. ``ts`` must be sorted."""
    n = len(ts)
    if n <= 2 * cols:
        return np.arange(n)
    span = max(t1 - t0, 1)
    col = ((ts - t0).astype(np.float64) * ((cols - 1) / span)).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    counts = np.diff(np.r_[starts, n])
    pos = np.arange(n)
    lo = np.repeat(np.minimum.reduceat(ys, starts), counts)
    hi = np.repeat(np.maximum.reduceat(ys, starts), counts)
    imin = np.minimum.reduceat(np.where(ys == lo, pos, n), starts)
    imax = np.minimum.reduceat(np.where(ys == hi, pos, n), starts)
    keep = np.concatenate((starts, starts + counts - 1, imin, imax))
    return np.unique(keep)


def _nice_step(raw: float) -> float:
    if not math.isfinite(raw) or raw <= 0:
        return 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * mag * (1 + 1e-9):
            return m * mag
    return 10.0 * mag


def _value_ticks(y0: float, y1: float, n: int = 5) -> tuple[list[float], float]:
    step = _nice_step((y1 - y0) / n)
    first = math.ceil(y0 / step - 1e-9) * step
    ticks = []
    k = 0
    while first + k * step <= y1 + step * 1e-9 and k < 50:
        ticks.append(first + k * step)
        k += 1
    return ticks, step


def _value_label(v: float, step: float, percent: bool) -> str:
    decimals = 0
    if step > 0:
        exponent = math.floor(math.log10(step) + 1e-12)
        decimals = -exponent + (1 if abs(step / 10.0**exponent - 2.5) < 1e-9 else 0)
    decimals = min(max(decimals, 0), 10)
    if abs(v) < step * 1e-6:
        v = 0.0
    text = f"{v:,.{decimals}f}"
    return text + "%" if percent else text


def _time_ticks(t0: int, t1: int, n: int = 7) -> list[tuple[int, str]]:
    span_s = (t1 - t0) / _NS
    step_s = next((s for s in _TIME_STEPS_S if span_s / s <= n), _TIME_STEPS_S[-1])
    step = max(int(round(step_s * _NS)), 1)
    first = -(-t0 // step) * step
    multi_day = t1 - t0 >= 86_400 * _NS
    out: list[tuple[int, str]] = []
    t = first
    while t <= t1 and len(out) < 4 * n:
        out.append((t, _time_label(t, sub_second=step < _NS, with_date=multi_day)))
        t += step
    return out


def _time_label(t: int, *, sub_second: bool = False, with_date: bool = False) -> str:
    secs, ns = divmod(int(t), _NS)
    d = datetime.fromtimestamp(secs, tz=UTC)
    text = d.strftime("%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
    if sub_second:
        text += f".{ns // 1_000_000:03d}"
    return text


def _utc(t: int) -> str:
    secs, ns = divmod(int(t), _NS)
    return datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%d %H:%M:%S") + f".{ns // 1_000_000:03d}"


def _points(xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs.tolist(), ys.tolist(), strict=True))


def _render(chart: _Chart) -> str:
    """One chart as an inline SVG element."""
    w, h = _WIDTH, chart.height
    plot_h = h - _TOP - _BOTTOM
    e = html.escape
    out = [f'<svg class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
           f'aria-label="{e(chart.title)}">',
           f'<text x="{_LEFT}" y="15" class="ct">{e(chart.title)}</text>']
    if chart.note:
        out.append(f'<text x="{w - _RIGHT}" y="15" class="cn" text-anchor="end">{e(chart.note)}</text>')
    finite = [ln.ys[np.isfinite(ln.ys)] for ln in chart.lines]
    finite += [m.ys[np.isfinite(m.ys)] for m in chart.markers]
    values = np.concatenate(finite) if finite else np.zeros(0)
    out.append(f'<rect x="{_LEFT}" y="{_TOP}" width="{_PLOT_W}" height="{plot_h}" class="frame"/>')
    if len(values) == 0:
        out.append(f'<text x="{_LEFT + _PLOT_W / 2}" y="{_TOP + plot_h / 2}" text-anchor="middle" '
                   f'class="cn">no data</text></svg>')
        return "".join(out)
    y0, y1 = float(values.min()), float(values.max())
    if chart.zero_line or any(ln.area for ln in chart.lines):
        y0, y1 = min(y0, 0.0), max(y1, 0.0)
    if y1 - y0 <= 1e-12 * max(abs(y0), abs(y1), 1e-300):
        pad = abs(y0) * 0.01 if y0 != 0 else 1.0
    else:
        pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad
    t0, t1 = chart.t0, chart.t1
    xscale = _PLOT_W / max(t1 - t0, 1)
    yscale = plot_h / (y1 - y0)

    def px(ts: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return np.asarray(_LEFT + (ts - t0).astype(np.float64) * xscale, dtype=np.float64)

    def py(vs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(_TOP + (y1 - vs) * yscale, dtype=np.float64)

    # Grid and axes.
    ticks, step = _value_ticks(y0, y1)
    for v in ticks:
        yy = float(py(np.array([v]))[0])
        out.append(f'<line x1="{_LEFT}" x2="{_LEFT + _PLOT_W}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
                   f'<text x="{_LEFT - 5}" y="{yy + 3.5:.1f}" text-anchor="end" class="tick">'
                   f'{e(_value_label(v, step, chart.percent))}</text>')
    for t, label in _time_ticks(t0, t1):
        xx = float(px(np.array([t], dtype=np.int64))[0])
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{_TOP}" y2="{_TOP + plot_h}" class="grid"/>'
                   f'<text x="{xx:.1f}" y="{h - _BOTTOM + 16}" text-anchor="middle" class="tick">'
                   f'{e(label)}</text>')
    if chart.zero_line and y0 < 0 < y1:
        yz = float(py(np.array([0.0]))[0])
        out.append(f'<line x1="{_LEFT}" x2="{_LEFT + _PLOT_W}" y1="{yz:.1f}" y2="{yz:.1f}" class="zero"/>')

    # Series.
    for ln in chart.lines:
        ok = np.isfinite(ln.ys)
        ts, ys = ln.ts[ok], ln.ys[ok]
        if len(ts) == 0:
            continue
        keep = _decimate(ts, ys, t0, t1)
        step_drawn = ln.step and len(keep) == len(ts)
        ts, ys = ts[keep], ys[keep]
        xs, yv = px(ts), py(ys)
        if step_drawn and len(xs) > 1:
            xs = np.repeat(xs, 2)[1:]
            yv = np.repeat(yv, 2)[:-1]
        pts = _points(xs, yv)
        if ln.area:
            base = float(py(np.array([0.0]))[0])
            pts_area = f"{xs[0]:.1f},{base:.1f} {pts} {xs[-1]:.1f},{base:.1f}"
            out.append(f'<polygon points="{pts_area}" fill="{ln.color}" fill-opacity="0.25" stroke="none"/>')
        out.append(f'<polyline points="{pts}" fill="none" stroke="{ln.color}" '
                   f'stroke-width="{ln.width}" stroke-linejoin="round"/>')

    # Fill markers: one path per (side, maker) category, up triangles for buys.
    for m in chart.markers:
        ok = np.isfinite(m.ys)
        if not ok.any():
            continue
        xs, yv = px(m.ts[ok]), py(m.ys[ok])
        pairs = zip(xs.tolist(), yv.tolist(), strict=True)
        if m.up:
            d = "".join(f"M{x:.1f} {y - 4.5:.1f}l4.5 8h-9z" for x, y in pairs)
        else:
            d = "".join(f"M{x:.1f} {y + 4.5:.1f}l4.5-8h-9z" for x, y in pairs)
        color = _BUY if m.up else _SELL
        fill = "#ffffff" if m.maker else color
        kind = ("buy" if m.up else "sell") + (" maker" if m.maker else " taker")
        out.append(f'<path d="{d}" fill="{fill}" stroke="{color}" stroke-width="1.1">'
                   f'<title>{e(kind)} fills ({len(xs):,})</title></path>')

    # Legend.
    x = _LEFT + 8
    legend = [(ln.label, ln.color) for ln in chart.lines if ln.label]
    for label, color in legend:
        out.append(f'<line x1="{x}" x2="{x + 16}" y1="{_TOP + 12}" y2="{_TOP + 12}" stroke="{color}" '
                   f'stroke-width="2"/><text x="{x + 20}" y="{_TOP + 16}" class="lg">{e(label)}</text>')
        x += 28 + 7 * len(label)
    out.append("</svg>")
    return "".join(out)


def _legend_markers() -> str:
    up, down = "M8 3.5l4.5 8h-9z", "M8 12.5l4.5-8h-9z"
    items = [(up, _BUY, _BUY, "buy, taker"), (up, "#ffffff", _BUY, "buy, maker"),
             (down, _SELL, _SELL, "sell, taker"), (down, "#ffffff", _SELL, "sell, maker")]
    parts = []
    for d, fill, stroke, label in items:
        parts.append(f'<span class="mk"><svg width="16" height="16" viewBox="0 0 16 16">'
                     f'<path d="{d}" fill="{fill}" stroke="{stroke}" stroke-width="1.1"/></svg>'
                     f'{html.escape(label)}</span>')
    return "".join(parts)


def _sorted_by(arr: Array, key: str) -> Array:
    ts = arr[key]
    if len(ts) > 1 and np.any(ts[1:] < ts[:-1]):
        return arr[np.argsort(ts, kind="stable")]
    return arr


def _fill_times(fills: Array) -> npt.NDArray[np.int64]:
    """When each fill happened on the exchange (``exch_ts``; ``local_ts`` when unknown)."""
    exch = fills["exch_ts"].astype(np.int64)
    return np.where(exch > 0, exch, fills["local_ts"].astype(np.int64))


def _table(rows: Sequence[tuple[str, str]], cls: str = "kv") -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{body}</table>'


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _param_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)) or value is None:
        return repr(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _num(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    return f"{v:,.2f}" if abs(v) >= 1000 else f"{v:.6g}"


def _check(arr: Array, dtype: np.dtype[np.void], name: str) -> None:
    names = arr.dtype.names
    if names is None or not set(dtype.names or ()).issubset(names) or arr.ndim != 1:
        raise TypeError(f"{name} must be a one-dimensional structured array with the fields "
                        f"({', '.join(dtype.names or ())}), got dtype {arr.dtype} shape {arr.shape}")


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:24px auto;max-width:1000px;color:#222;background:#fff;padding:0 12px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}p.meta,p.note{color:#555;font-size:13px;margin:4px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
table.kv th{text-align:left;font-weight:normal;color:#444;padding:2px 18px 2px 0}
table.kv td{text-align:right;font-variant-numeric:tabular-nums;padding:2px 0}
table.grid th,table.grid td{border:1px solid #ddd;padding:3px 8px;text-align:right}
table.grid th{background:#f4f4f4}table.params td{text-align:left;font-family:monospace;
white-space:pre-wrap;word-break:break-all}
.cols{display:flex;flex-wrap:wrap;gap:32px}
svg.chart{display:block;margin:6px 0}
svg .ct{font-size:13px;font-weight:600;fill:#222}svg .cn{font-size:11px;fill:#666}
svg .tick{font-size:10.5px;fill:#555;font-variant-numeric:tabular-nums}svg .lg{font-size:11px;fill:#333}
svg .frame{fill:none;stroke:#bbb}svg .grid{stroke:#eee}svg .zero{stroke:#888;stroke-dasharray:3 3}
.mk{display:inline-flex;align-items:center;gap:3px;margin-right:14px;font-size:12px;color:#444}
pre{font-size:12px;background:#f8f8f8;padding:8px;overflow:auto}
"""


def write_report(
    path: str | PathLike[str],
    *,
    equity: Array,
    positions: Array,
    fills: Array,
    orders: Array,
    stats: Mapping[str, object],
    instruments: Sequence[InstrumentInfo],
    title: str,
    params: Mapping[str, object] | None = None,
) -> Path:
    """Write a backtest report as one self-contained HTML file.

    The page has the statistics, the run parameters, order and fill counts, and inline SVG
    charts: equity and drawdown for the account, then for each instrument (with positions
    or fills) its mid price with the fills (green up triangles for buys, red down triangles
    for sells; filled for taker fills, hollow for maker fills) and its position. Times are
    UTC (``HH:MM:SS`` axis labels). Fill markers are placed at the exchange time of the
    fill (``exch_ts``, or ``local_ts`` when it is not positive) and their price. Nothing is
    loaded from the network when the file is opened.

    Args:
        path: Output file (parent folders are created); overwritten if it exists.
        equity: Equity samples (:data:`~tradecore.backtest.stats.EQUITY_DTYPE`).
        positions: Positions per instrument and sample
            (:data:`~tradecore.backtest.stats.POSITION_DTYPE`); rows with a mid that is not
            a positive number are left out of the price chart.
        fills: Fills (:data:`~tradecore.backtest.stats.FILL_DTYPE`).
        orders: Orders (:data:`~tradecore.backtest.stats.ORDER_DTYPE`).
        stats: Statistics, e.g. from :func:`~tradecore.backtest.stats.statistics`.
        instruments: Instrument descriptions, indexed by the records' ``instrument`` field
            (an instrument without one is named ``#<index>``).
        title: Title of the page (escaped).
        params: Run parameters shown in a table (values shown as text or JSON).

    Returns:
        The path written.

    Raises:
        TypeError: An array lacks the fields of its dtype.
    """
    _check(equity, EQUITY_DTYPE, "equity")
    _check(positions, POSITION_DTYPE, "positions")
    _check(fills, FILL_DTYPE, "fills")
    _check(orders, ORDER_DTYPE, "orders")
    e = html.escape
    eq = _sorted_by(equity, "ts")
    pos = _sorted_by(positions, "ts")
    fill_ts = _fill_times(fills)

    # The common time range of every chart.
    bounds = [a for a in (eq["ts"], pos["ts"], fill_ts) if len(a)]
    if bounds:
        t0 = min(int(a.min()) for a in bounds)
        t1 = max(int(a.max()) for a in bounds)
    else:
        t0, t1 = 0, _NS
    if t1 <= t0:
        t0, t1 = t0 - _NS // 2, t0 + _NS // 2

    def name(i: int) -> str:
        return instruments[i].symbol if 0 <= i < len(instruments) else f"#{i}"

    parts: list[str] = [
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        f"<h1>{e(title)}</h1>\n",
    ]
    if bounds:
        duration = format_duration((t1 - t0) / _NS)
        parts.append(f'<p class="meta">{e(_utc(t0))} to {e(_utc(t1))} UTC, lasting {e(duration)}; '
                     f"{len(equity):,} equity samples, {len(fills):,} fills, {len(orders):,} orders."
                     "</p>\n")
    else:
        parts.append('<p class="meta">No data.</p>\n')

    # Statistics and parameters.
    parts.append("<h2>Statistics</h2>\n<div class=\"cols\">")
    rows = summary_rows(stats)
    half = (len(rows) + 1) // 2
    parts.append(_table(rows[:half]) + _table(rows[half:]) + "</div>\n")
    if params:
        parts.append("<h2>Parameters</h2>\n")
        parts.append(_table([(str(k), _param_text(v)) for k, v in params.items()], "kv params") + "\n")

    # Orders and fills by instrument.
    ids = sorted(set(pos["instrument"].tolist()) | set(fills["instrument"].tolist())
                 | set(orders["instrument"].tolist()))
    if ids:
        parts.append("<h2>Activity</h2>\n")
        act_rows = []
        for i in ids:
            f = fills[fills["instrument"] == i]
            o = orders[orders["instrument"] == i]
            qty = float(f["qty"].sum())
            maker = float(f["qty"][f["maker"]].sum())
            p = pos["position"][pos["instrument"] == i]
            act_rows.append([
                name(i), f"{len(o):,}", f"{len(f):,}", f"{int(np.count_nonzero(f['side'] > 0)):,}",
                f"{int(np.count_nonzero(f['side'] < 0)):,}", _num(qty),
                f"{maker / qty * 100:.1f}%" if qty > 0 else "-", _num(float(f["fee"].sum())),
                _num(float(p[-1])) if len(p) else "-",
            ])
        parts.append(_grid(["Instrument", "Orders", "Fills", "Buys", "Sells", "Filled qty",
                            "Maker share", "Fees", "Final position"], act_rows))
        if len(orders):
            st = orders["status"].astype(np.int64)
            tif = orders["tif"].astype(np.int64)
            status_rows = []
            for code in sorted(set(st.tolist())):
                sel = st == code
                by_tif = ", ".join(f"{_TIF.get(c, str(c))} {int(np.count_nonzero(sel & (tif == c))):,}"
                                   for c in sorted(set(tif[sel].tolist())))
                status_rows.append([_status_name(int(code)), f"{int(sel.sum()):,}", by_tif])
            parts.append("<h3>Orders by status</h3>\n")
            parts.append(_grid(["Status", "Orders", "By time in force"], status_rows))

    # Account charts.
    parts.append("<h2>Account</h2>\n<p class=\"note\">Times are UTC.</p>\n")
    ets = eq["ts"].astype(np.int64)
    evals = eq["equity"].astype(np.float64)
    initial = float(evals[0]) if len(evals) else None
    parts.append(_render(_Chart("Equity", t0, t1, lines=[_Line(ets, evals, "#2c7bb6", 1.4)])))
    with np.errstate(all="ignore"):
        dd = -100.0 * drawdown_series(evals, initial=initial)
    parts.append(_render(_Chart("Drawdown", t0, t1, lines=[_Line(ets, dd, "#d7191c", 1.0, area=True)],
                                height=170, percent=True)))

    # Per instrument: price with fills, position.
    for i in sorted(set(pos["instrument"].tolist()) | set(fills["instrument"].tolist())):
        p = pos[pos["instrument"] == i]
        f = fills[fills["instrument"] == i]
        fts = fill_ts[fills["instrument"] == i]
        parts.append(f"<h2>{e(name(i))}</h2>\n")
        note = ""
        if len(f) > MAX_MARKERS:
            pick = np.unique(np.linspace(0, len(f) - 1, MAX_MARKERS).round().astype(np.intp))
            note = f"showing {len(pick):,} of {len(f):,} fills (evenly sampled)"
            f, fts = f[pick], fts[pick]
            parts.append(f'<p class="note">Fill markers: {e(note)}.</p>\n')
        mid = p["mid"].astype(np.float64)
        good = np.isfinite(mid) & (mid > 0)
        markers = []
        for up in (True, False):
            for maker in (False, True):
                sel = ((f["side"] > 0) == up) & (f["maker"] == maker)
                if sel.any():
                    markers.append(_Markers(fts[sel], f["price"][sel].astype(np.float64), up, maker))
        parts.append(_legend_markers())
        parts.append(_render(_Chart(
            f"{name(i)}: mid price and fills", t0, t1,
            lines=[_Line(p["ts"][good].astype(np.int64), mid[good], "#555555", 1.0)],
            markers=markers, note=note)))
        parts.append(_render(_Chart(
            f"{name(i)}: position", t0, t1,
            lines=[_Line(p["ts"].astype(np.int64), p["position"].astype(np.float64), "#7b3294",
                         1.2, step=True)],
            height=170, zero_line=True)))

    parts.append("</body>\n</html>\n")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(parts), encoding="utf-8")
    return out

