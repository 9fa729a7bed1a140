"""A self-contained HTML report of a backtest: inline SVG charts, statistics and parameters.

The file needs no network: no external script, style sheet, font or image; the charts are
SVG drawn here from the records (numpy and the standard library only), and one small inline
script zooms the time charts together (drag across a chart; double-click to reset; or open
the file with ``#zoom=START_MS,END_MS``)::

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
    GAP_DTYPE,
    ORDER_DTYPE,
    POSITION_DTYPE,
    STATUS_REFUSED,
    InstrumentInfo,
    Stats,
    default_period_ns,
    drawdown_series,
    format_duration,
    format_percent,
    grid_series,
    period_label,
    round_trips,
    summary_rows,
)
from tradecore._core import OrderStatus, TimeInForce

__all__ = ["MAX_MARKERS", "MAX_ROUND_TRIPS", "write_report"]

MAX_MARKERS = 5000
"""Fill markers drawn per instrument at most; beyond, the fills shown are evenly sampled."""
MAX_ROUND_TRIPS = 200
"""Round trips listed at most (the first and the last half of them); the report says so."""

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
    y_unit: str = ""


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
           f'aria-label="{e(chart.title)}" data-t0="{chart.t0 / 1e6:.3f}" data-t1="{chart.t1 / 1e6:.3f}" '
           f'data-left="{_LEFT}" data-width="{_PLOT_W}" data-top="{_TOP}" data-bottom="{h - _BOTTOM}">',
           f'<text x="{_LEFT}" y="15" class="ct">{e(chart.title)}</text>',
           f'<text x="4" y="{h - 4}" class="au">time (UTC)</text>']
    if chart.y_unit:
        out.append(f'<text x="12" y="{_TOP + plot_h / 2:.1f}" class="au" text-anchor="middle" '
                   f'transform="rotate(-90 12 {_TOP + plot_h / 2:.1f})">{e(chart.y_unit)}</text>')
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
    out.append('<g class="xt">')
    for t, label in _time_ticks(t0, t1):
        xx = float(px(np.array([t], dtype=np.int64))[0])
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{_TOP}" y2="{_TOP + plot_h}" class="grid"/>'
                   f'<text x="{xx:.1f}" y="{h - _BOTTOM + 16}" text-anchor="middle" class="tick">'
                   f'{e(label)}</text>')
    out.append("</g>")
    if chart.zero_line and y0 < 0 < y1:
        yz = float(py(np.array([0.0]))[0])
        out.append(f'<line x1="{_LEFT}" x2="{_LEFT + _PLOT_W}" y1="{yz:.1f}" y2="{yz:.1f}" class="zero"/>')

    # Series, in a nested viewport that clips what a zoom moves out of the plot.
    out.append(f'<svg class="plot" x="{_LEFT}" y="{_TOP}" width="{_PLOT_W}" height="{plot_h}" '
               f'viewBox="{_LEFT} {_TOP} {_PLOT_W} {plot_h}">')
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
        out.append(f'<path class="mk" d="{d}" fill="{fill}" stroke="{color}" stroke-width="1.1">'
                   f'<title>{e(kind)} fills ({len(xs):,})</title></path>')
    out.append("</svg>")

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
table.grid th{background:#f4f4f4}table.grid td{white-space:nowrap}summary{cursor:pointer;font-size:13px}table.params td{text-align:left;font-family:monospace;
white-space:pre-wrap;word-break:break-all}
.cols{display:flex;flex-wrap:wrap;gap:32px}
svg.chart{display:block;margin:6px 0}
svg .ct{font-size:13px;font-weight:600;fill:#222}svg .cn{font-size:11px;fill:#666}
svg .tick{font-size:10.5px;fill:#555;font-variant-numeric:tabular-nums}svg .lg{font-size:11px;fill:#333}
svg .frame{fill:none;stroke:#bbb}svg .grid{stroke:#eee}svg .zero{stroke:#888;stroke-dasharray:3 3}
.mk{display:inline-flex;align-items:center;gap:3px;margin-right:14px;font-size:12px;color:#444}
pre{font-size:12px;background:#f8f8f8;padding:8px;overflow:auto}
svg .au{font-size:10.5px;fill:#666;font-style:italic}svg .band{fill:#2c7bb6;fill-opacity:0.15}
svg .bar{fill:#2c7bb6}svg.chart[data-t0]{cursor:crosshair;user-select:none}
p.script-error{color:#b00;font-weight:600}button{font-size:12px}
"""

_ERROR_HOOK = ('<script>window.addEventListener("error",function(e){var p=document.createElement("p");'
               'p.className="script-error";p.textContent="script error: "+e.message;'
               '(document.body||document.documentElement).appendChild(p);});</script>')
_ZOOM_JS = r"""(function () {
  "use strict";
  var charts = Array.prototype.slice.call(document.querySelectorAll("svg.chart[data-t0]"));
  var steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
               900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000];
  var NS = charts.length ? charts[0].namespaceURI : null;  // SVG's, without writing an address
  function pad(n, w) { n = String(n); while (n.length < w) { n = "0" + n; } return n; }
  function label(ms, sub, day) {
    var d = new Date(ms), s = pad(d.getUTCHours(), 2) + ":" + pad(d.getUTCMinutes(), 2) + ":" +
      pad(d.getUTCSeconds(), 2);
    if (day) { s = pad(d.getUTCMonth() + 1, 2) + "-" + pad(d.getUTCDate(), 2) + " " + s; }
    if (sub) { s += "." + pad(d.getUTCMilliseconds(), 3); }
    return s;
  }
  function nums(text) { return text.trim().split(/[\s,]+/).map(Number); }
  function place(c, a, b) {
    var L = +c.dataset.left, W = +c.dataset.width, t0 = +c.dataset.t0, t1 = +c.dataset.t1;
    var top = +c.dataset.top, bottom = +c.dataset.bottom;
    function fx(x) { return L + ((x - L) * (t1 - t0) / W + t0 - a) / (b - a) * W; }
    c.querySelectorAll("svg.plot polyline, svg.plot polygon").forEach(function (el) {
      if (!el.dataset.p) { el.dataset.p = el.getAttribute("points"); }
      var v = nums(el.dataset.p), out = [];
      for (var i = 0; i + 1 < v.length; i += 2) { out.push(fx(v[i]).toFixed(1) + "," + v[i + 1]); }
      el.setAttribute("points", out.join(" "));
    });
    c.querySelectorAll("svg.plot path.mk").forEach(function (el) {
      if (!el.dataset.d) { el.dataset.d = el.getAttribute("d"); }
      el.setAttribute("d", el.dataset.d.replace(/M([-\d.]+) ([-\d.]+)/g, function (m, x, y) {
        return "M" + fx(+x).toFixed(1) + " " + y;
      }));
    });
    var g = c.querySelector("g.xt");
    while (g.firstChild) { g.removeChild(g.firstChild); }
    var span = (b - a) / 1000, step = steps[steps.length - 1];
    for (var k = 0; k < steps.length; k++) { if (span / steps[k] <= 7) { step = steps[k]; break; } }
    var ms = step * 1000;
    for (var t = Math.ceil(a / ms) * ms, n = 0; t <= b && n < 28; t += ms, n++) {
      var x = L + (t - a) / (b - a) * W;
      var ln = document.createElementNS(NS, "line");
      ln.setAttribute("x1", x.toFixed(1)); ln.setAttribute("x2", x.toFixed(1));
      ln.setAttribute("y1", top); ln.setAttribute("y2", bottom); ln.setAttribute("class", "grid");
      var tx = document.createElementNS(NS, "text");
      tx.setAttribute("x", x.toFixed(1)); tx.setAttribute("y", bottom + 16);
      tx.setAttribute("text-anchor", "middle"); tx.setAttribute("class", "tick");
      tx.textContent = label(t, ms < 1000, b - a >= 86400000);
      g.appendChild(ln); g.appendChild(tx);
    }
  }
  function zoom(a, b) {
    if (!(b > a)) { return; }
    charts.forEach(function (c) { place(c, a, b); });
    document.body.dataset.zoom = a.toFixed(3) + "," + b.toFixed(3);
  }
  function reset() {
    if (charts.length) { zoom(+charts[0].dataset.t0, +charts[0].dataset.t1); }
    document.body.dataset.zoom = "full";
  }
  charts.forEach(function (c) {
    var start = null, band = null;
    function timeAt(ev) {
      var r = c.getBoundingClientRect(), L = +c.dataset.left, W = +c.dataset.width;
      var x = (ev.clientX - r.left) * (c.viewBox.baseVal.width / r.width);
      var f = Math.min(Math.max((x - L) / W, 0), 1);
      var cur = (document.body.dataset.zoom || "full").split(",");
      var a = cur.length === 2 ? +cur[0] : +c.dataset.t0, b = cur.length === 2 ? +cur[1] : +c.dataset.t1;
      return { t: a + f * (b - a), x: L + f * W };
    }
    c.addEventListener("mousedown", function (ev) {
      start = timeAt(ev);
      band = document.createElementNS(NS, "rect");
      band.setAttribute("class", "band"); band.setAttribute("y", c.dataset.top);
      band.setAttribute("height", c.dataset.bottom - c.dataset.top);
      band.setAttribute("x", start.x); band.setAttribute("width", 0);
      c.appendChild(band);
      ev.preventDefault();
    });
    c.addEventListener("mousemove", function (ev) {
      if (!start) { return; }
      var p = timeAt(ev);
      band.setAttribute("x", Math.min(p.x, start.x)); band.setAttribute("width", Math.abs(p.x - start.x));
    });
    window.addEventListener("mouseup", function (ev) {
      if (!start) { return; }
      var p = timeAt(ev), a = Math.min(start.t, p.t), b = Math.max(start.t, p.t);
      c.removeChild(band); band = null; start = null;
      if (b - a > 0) { zoom(a, b); }
    });
    c.addEventListener("dblclick", reset);
  });
  var btn = document.getElementById("zoom-reset");
  if (btn) { btn.addEventListener("click", reset); }
  var m = /zoom=([-\d.]+),([-\d.]+)/.exec(window.location.hash);
  if (m) { zoom(+m[1], +m[2]); } else { document.body.dataset.zoom = "full"; }
  document.body.dataset.script = "ready";
})();
"""



def _histogram(returns: npt.NDArray[np.float64], period: str, bins: int = 40) -> str:
    """The distribution of the per-period returns as an inline SVG bar chart (percent)."""
    w, h = _WIDTH, 220
    plot_h = h - _TOP - _BOTTOM
    title = f"Distribution of the returns per {period} ({len(returns):,} periods)"
    out = [f'<svg class="hist" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
           f'aria-label="{html.escape(title)}">',
           f'<text x="{_LEFT}" y="15" class="ct">{html.escape(title)}</text>',
           f'<rect x="{_LEFT}" y="{_TOP}" width="{_PLOT_W}" height="{plot_h}" class="frame"/>',
           f'<text x="{w - _RIGHT}" y="{h - 2}" class="au" text-anchor="end">return per {html.escape(period)} '
           f'period (%)</text>',
           f'<text x="12" y="{_TOP + plot_h / 2:.1f}" class="au" text-anchor="middle" '
           f'transform="rotate(-90 12 {_TOP + plot_h / 2:.1f})">periods (count)</text>']
    r = returns[np.isfinite(returns)] * 100.0
    if len(r) == 0:
        out.append(f'<text x="{_LEFT + _PLOT_W / 2}" y="{_TOP + plot_h / 2}" text-anchor="middle" '
                   f'class="cn">no data</text></svg>')
        return "".join(out)
    lo, hi = float(r.min()), float(r.max())
    if hi - lo <= 0:
        lo, hi = lo - max(abs(lo) * 0.01, 1e-9), hi + max(abs(hi) * 0.01, 1e-9)
    counts, edges = np.histogram(r, bins=bins, range=(lo, hi))
    top = max(int(counts.max()), 1)
    xs = _LEFT + (edges - lo) / (hi - lo) * _PLOT_W
    for k, c in enumerate(counts.tolist()):
        if c == 0:
            continue
        bh = c / top * plot_h
        out.append(f'<rect class="bar" x="{xs[k] + 0.5:.1f}" y="{_TOP + plot_h - bh:.1f}" '
                   f'width="{max(xs[k + 1] - xs[k] - 1.0, 0.5):.1f}" height="{bh:.1f}">'
                   f'<title>{edges[k]:.4g}% to {edges[k + 1]:.4g}%: {c:,}</title></rect>')
    ticks, step = _value_ticks(lo, hi)
    for v in ticks:
        x = _LEFT + (v - lo) / (hi - lo) * _PLOT_W
        out.append(f'<text x="{x:.1f}" y="{h - _BOTTOM + 16}" text-anchor="middle" class="tick">'
                   f'{html.escape(_value_label(v, step, True))}</text>')
    cticks, cstep = _value_ticks(0.0, float(top))
    for v in cticks:
        y = _TOP + plot_h - v / top * plot_h
        out.append(f'<text x="{_LEFT - 5}" y="{y + 3.5:.1f}" text-anchor="end" class="tick">'
                   f'{html.escape(_value_label(v, cstep, False))}</text>')
    if lo < 0 < hi:
        x0 = _LEFT + (0 - lo) / (hi - lo) * _PLOT_W
        out.append(f'<line x1="{x0:.1f}" x2="{x0:.1f}" y1="{_TOP}" y2="{_TOP + plot_h}" class="zero"/>')
    out.append("</svg>")
    return "".join(out)


def _rolling_sharpe(ts: npt.NDArray[np.int64], r: npt.NDArray[np.float64],
                    window: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The Sharpe ratio per period over the last ``window`` returns, at each return's time
    (NaN where the returns of the window do not vary)."""
    if len(r) < window or window < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    c1 = np.concatenate(([0.0], np.cumsum(r)))
    c2 = np.concatenate(([0.0], np.cumsum(r * r)))
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    mean = s1 / window
    var = np.maximum(s2 - window * mean * mean, 0.0) / (window - 1)
    sd = np.sqrt(var)
    with np.errstate(all="ignore"):
        sr = np.where(sd > 1e-15 * np.maximum(np.abs(mean), 1e-300), mean / sd, np.nan)
    return ts[window - 1:], sr


def _benchmark(pos: Array, instruments: Sequence[InstrumentInfo],
               initial: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], str] | None:
    """Buy and hold of the first instrument with a price: ``initial`` put into it at the first
    mid (linear or spot: ``initial * mid / mid0``; inverse, a 1x long valued in the coin:
    ``initial * (2 - mid0 / mid)``)."""
    for i in sorted(set(pos["instrument"].tolist())):
        p = pos[pos["instrument"] == i]
        mid = p["mid"].astype(np.float64)
        good = np.isfinite(mid) & (mid > 0)
        if not good.any():
            continue
        ts, m = p["ts"][good].astype(np.int64), mid[good]
        inverse = 0 <= i < len(instruments) and instruments[i].inverse
        value = initial * (2.0 - m[0] / m) if inverse else initial * m / m[0]
        name = instruments[i].symbol if 0 <= i < len(instruments) else f"#{i}"
        return ts, value, f"buy and hold {name}"
    return None


def _round_trip_table(rt: Array, name: Any, currency: str) -> str:
    n = len(rt)
    if n == 0:
        return '<p class="note">No round trip (no position was opened and closed).</p>\n'
    if n > MAX_ROUND_TRIPS:
        half = MAX_ROUND_TRIPS // 2
        pick = np.r_[np.arange(half), np.arange(n - half, n)]
        note = (f'<p class="note">Showing the first {half:,} and the last {half:,} of {n:,} round trips.</p>\n')
    else:
        pick = np.arange(n)
        note = ""
    cur = f" ({currency})" if currency else ""
    rows = []
    for k in pick.tolist():
        r = rt[k]
        net = float(r["pnl"]) - float(r["fees"])
        rows.append([f"{k + 1:,}", str(name(int(r["instrument"]))), "long" if r["side"] > 0 else "short",
                     _num(float(r["qty"])), _utc(int(r["entry_ts"])), _utc(int(r["exit_ts"])),
                     format_duration((int(r["exit_ts"]) - int(r["entry_ts"])) / _NS),
                     _num(float(r["entry_price"])), _num(float(r["exit_price"])), _num(float(r["pnl"])),
                     _num(float(r["fees"])), _num(net)])
    return note + _grid(["#", "Instrument", "Side", "Qty", "Entry (UTC)", "Exit (UTC)", "Held", "Entry price",
                         "Exit price", f"PnL{cur}", f"Fees{cur}", f"Net{cur}"], rows)


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
    initial: float | None = None,
) -> Path:
    """Write a backtest report as one self-contained HTML file.

    The page has the statistics (with their notes: gaps in the data, why nothing filled), the
    run parameters, order and fill counts, the orders refused before sending by reason, the
    round trips, and inline SVG charts: equity with a buy-and-hold benchmark, drawdown, the
    rolling Sharpe ratio and the distribution of the returns on the statistics' grid for the
    account, then for each instrument (with positions or fills) its mid price with the fills
    (green up triangles for buys, red down triangles for sells; filled for taker fills, hollow
    for maker fills) and its position. Every axis names its unit; times are UTC. Fill markers
    are placed at the exchange time of the fill (``exch_ts``, or ``local_ts`` when it is not
    positive) and their price. The time charts zoom together (drag across one; double-click
    or the reset button to undo; ``#zoom=START_MS,END_MS`` in the address). Nothing is loaded
    from the network when the file is opened.

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
        initial: Starting capital (the drawdown's first peak and the benchmark's stake);
            default the first equity sample.

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
        f"<title>{e(title)}</title>\n{_ERROR_HOOK}\n<style>{_CSS}</style>\n</head>\n<body>\n",
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
    st_obj = stats if isinstance(stats, Stats) else None
    currency = st_obj.currency if st_obj is not None else ""
    for line in st_obj.footnotes() if st_obj is not None else []:
        parts.append(f'<p class="note">{e(line)}</p>\n')
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
        refusals = st_obj.refusals if st_obj is not None else {}
        n_refused = int(np.count_nonzero(orders["status"] == STATUS_REFUSED))
        if refusals or n_refused:
            parts.append("<h3>Orders refused before sending, by reason</h3>\n")
            ref_rows = [[k.replace("_", " "), f"{v:,}"] for k, v in sorted(refusals.items(), key=lambda kv: -kv[1])]
            parts.append(_grid(["Reason", "Orders"], ref_rows or [["(reasons not recorded)", f"{n_refused:,}"]]))

    # Account charts.
    parts.append("<h2>Account</h2>\n<p class=\"note\">Times are UTC. Drag across a time chart to zoom "
                 "them all; double-click to reset. <button id=\"zoom-reset\" type=\"button\">Reset zoom"
                 "</button></p>\n")
    ets = eq["ts"].astype(np.int64)
    evals = eq["equity"].astype(np.float64)
    if initial is None and len(evals):
        initial = float(evals[0])
    money = f" ({currency})" if currency else ""
    lines = [_Line(ets, evals, "#2c7bb6", 1.4, label="equity")]
    bench = _benchmark(pos, instruments, initial) if initial is not None and initial > 0 else None
    if bench is not None:
        lines.append(_Line(bench[0], bench[1], "#999999", 1.0, label=bench[2]))
    parts.append(_render(_Chart("Equity", t0, t1, lines=lines, y_unit=f"equity{money}")))
    with np.errstate(all="ignore"):
        dd = -100.0 * drawdown_series(evals, initial=initial)
    parts.append(_render(_Chart("Drawdown", t0, t1, lines=[_Line(ets, dd, "#d7191c", 1.0, area=True)],
                                height=170, percent=True, y_unit="drawdown (%)")))
    gaps = st_obj.gaps if st_obj is not None else np.zeros(0, dtype=GAP_DTYPE)
    period_s = stats.get("return_period_s")
    if isinstance(period_s, (int, float)) and period_s > 0:
        period = int(round(float(period_s) * _NS))
    else:
        dts = np.diff(ets)
        dts = dts[dts > 0]
        period = default_period_ns(int(ets[-1] - ets[0]) if len(ets) else 0, int(np.median(dts)) if len(dts) else 0)
    rts, rets = grid_series(ets, evals, period, gaps) if len(ets) else (np.zeros(0, np.int64), np.zeros(0))
    plabel = period_label(period)
    window = max(10, min(len(rets) // 10, 500))
    sts, srs = _rolling_sharpe(rts, rets, window)
    parts.append(_render(_Chart(f"Rolling Sharpe ratio per {plabel} period (window of {window:,} periods, "
                                "not annualized)", t0, t1, lines=[_Line(sts, srs, "#5e3c99", 1.0)], height=170,
                                zero_line=True, y_unit="Sharpe per period",
                                note="" if len(srs) else f"needs >= {window:,} returns")))
    parts.append(_histogram(rets, plabel))
    if len(rets):
        parts.append(f'<p class="note">Returns on a fixed {e(plabel)} grid (gaps in the data excluded): mean '
                     f"{e(format_percent(float(rets.mean())))}, median {e(format_percent(float(np.median(rets))))}, "
                     f"worst {e(format_percent(float(rets.min())))}, best {e(format_percent(float(rets.max())))}."
                     "</p>\n")

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
        inverse = 0 <= i < len(instruments) and instruments[i].inverse
        parts.append(_render(_Chart(
            f"{name(i)}: mid price and fills", t0, t1,
            lines=[_Line(p["ts"][good].astype(np.int64), mid[good], "#555555", 1.0)],
            markers=markers, note=note,
            y_unit="price (quote currency)" if inverse or not currency else f"price ({currency})")))
        parts.append(_render(_Chart(
            f"{name(i)}: position", t0, t1,
            lines=[_Line(p["ts"].astype(np.int64), p["position"].astype(np.float64), "#7b3294",
                         1.2, step=True)],
            height=170, zero_line=True, y_unit="position (contracts)" if inverse else "position (base units)")))

    # Round trips, last: the table can be long.
    rt = round_trips(fills, instruments)
    parts.append(f"<h2>Round trips</h2>\n<details><summary>{len(rt):,} round trips (FIFO, net of fees): show the "
                 "table</summary>\n")
    parts.append(_round_trip_table(rt, name, currency) + "</details>\n")
    parts.append(f"<script>{_ZOOM_JS}</script>\n</body>\n</html>\n")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(parts), encoding="utf-8")
    return out

