"""Models trained on recorded ticks (``tradecore train``): the rows of a
:class:`~tradecore.signals.FeatureSet` over the data, a label from the mid's future, a
time-ordered train/validation split, LightGBM.

The label of the row at time ``t`` is the log return of the mid from ``t`` to the first sample
point at or after ``t + horizon`` (in basis points; ``target="sign"``: 1 when that return is
positive, else 0, a binary model). Rows whose horizon runs past the data have no label and are
dropped. The split is by time: the first ``1 - valid_fraction`` of the rows train, the rest
validate, and the training rows whose label window reaches into the validation period are
dropped (an embargo of one horizon), so no future value leaks into training. The model text is
LightGBM's, with the feature set's columns as its inputs in order, and the feature set's
definition (names, kinds, parameters, bars, sampling) and its SHA-256 in two header lines
(``tradecore_features=``, ``tradecore_features_sha256=``) that LightGBM ignores:
``tradecore.Model.load`` and ``ctx.run_model`` take it as it is, and refuse a feature set of
another definition.

    tradecore train --data capture.gz --features "mid,spread,imb5=imbalance(levels=5),ofi=ofi(window=1s)" \\
        --label 1s --sample 100ms --out model.txt
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tradecore._core import Model
from tradecore.errors import InvalidInput
from tradecore.signals import FeatureDecl, FeatureSet, duration_ns

_ITEM = re.compile(r"^\s*(?:([A-Za-z_][A-Za-z0-9_]*)\s*=\s*)?([a-z_]+)\s*(?:\((.*)\))?\s*$")


def parse_features(spec: str | Mapping[str, FeatureDecl]) -> dict[str, FeatureDecl]:
    """A feature set from its text: ``name=kind(param=value, ...)`` items separated by commas
    (``kind`` alone is named after itself), or a ``.json`` file of ``{name: kind}`` /
    ``{name: [kind, {params}]}``."""
    if isinstance(spec, Mapping):
        return dict(spec)
    if spec.endswith(".json") and Path(spec).is_file():
        raw = json.loads(Path(spec).read_text())
        if not isinstance(raw, dict):
            raise InvalidInput(f"invalid features file {spec}: a JSON object of name to kind or [kind, params]")
        return {k: (v if isinstance(v, str) else (v[0], v[1] if len(v) > 1 else {})) for k, v in raw.items()}
    items, depth, start = [], 0, 0
    for i, ch in enumerate(spec + ","):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            items.append(spec[start:i])
            start = i + 1
    out: dict[str, FeatureDecl] = {}
    for item in items:
        if not item.strip():
            continue
        m = _ITEM.match(item)
        if m is None:
            raise InvalidInput(f"invalid feature: {item.strip()!r} (name=kind(param=value, ...), or kind)")
        name, kind, params = m.group(1) or m.group(2), m.group(2), m.group(3)
        if name in out:
            raise InvalidInput(f"invalid feature: {name!r} appears twice")
        kw: dict[str, Any] = {}
        for p in (params or "").split(","):
            if not p.strip():
                continue
            k, eq, v = p.partition("=")
            if not eq:
                raise InvalidInput(f"invalid parameter of {name!r}: {p.strip()!r} (param=value)")
            kw[k.strip()] = _value(v.strip())
        out[name] = (kind, kw) if kw else kind
    if not out:
        raise InvalidInput(f"invalid features: {spec!r} (no feature)")
    return out


def _value(v: str) -> Any:
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def future_returns(ts: npt.NDArray[np.int64], mid: npt.NDArray[np.float64], horizon_ns: int) -> npt.NDArray[np.float64]:
    """Log return of the mid (basis points) from each row to the first row at or after
    ``ts + horizon_ns``; NaN where there is none (the data ends) or a mid is missing."""
    j = np.searchsorted(ts, ts + horizon_ns, side="left")
    out = np.full(len(ts), np.nan)
    ok = j < len(ts)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = np.log(mid[j[ok]] / mid[ok]) * 1e4
    return out


@dataclass
class TrainResult:
    """What ``train_model`` made: the model file, its report and the model itself."""

    model_path: Path
    report_path: Path
    metrics: dict[str, Any]
    model: Model = field(repr=False)


def _auc(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> float:
    pos = y > 0.5
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    # ties share their average rank
    _, inv, counts = np.unique(p, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _corr(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def _rank(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    r = np.empty(len(a))
    r[np.argsort(a, kind="mergesort")] = np.arange(len(a))
    return r


def train_model(data: Any = "synthetic", features: str | Mapping[str, FeatureDecl] = "mid,spread", *,
                horizon: str | int = "1s", target: str = "return", sample: str | int = "100ms",
                bars: str | int | None = None, out: str | Path = "model.txt", valid_fraction: float = 0.2,
                trees: int = 100, leaves: int = 31, learning_rate: float = 0.05, min_data_in_leaf: int = 50,
                seed: int = 0, synthetic_seconds: float = 300.0,
                instrument_fields: dict[str, Any] | None = None, lenient: bool = False) -> TrainResult:
    """Trains a LightGBM model on the feature set's rows over ``data`` (see the module
    documentation); writes ``out`` (LightGBM's model text) and ``out`` + ``.report.json``.
    ``lenient``: recorded files' bad lines are counted by reason (``metrics["skipped_lines"]``)
    and skipped."""
    import lightgbm as lgb

    from tradecore.backtest.engine import open_data, skipped_summary

    if target not in ("return", "sign"):
        raise InvalidInput(f"invalid target: {target!r} (return or sign)")
    if not 0.0 < valid_fraction < 1.0:
        raise InvalidInput(f"invalid valid_fraction: {valid_fraction!r} (between 0 and 1)")
    for name, v in (("trees", trees), ("leaves", leaves), ("min_data_in_leaf", min_data_in_leaf)):
        if not isinstance(v, int) or v < (2 if name == "leaves" else 1):
            raise InvalidInput(f"invalid {name}: {v!r} (a positive integer{', at least 2' if name == 'leaves' else ''})")
    h = duration_ns(horizon, "horizon")
    if h <= 0:
        raise InvalidInput(f"invalid horizon: {horizon!r} (must be > 0)")
    decls = parse_features(features)
    if "__mid" in decls:
        raise InvalidInput("invalid feature name: '__mid' is reserved")
    t0 = time.perf_counter()
    src = open_data(data, synthetic_seconds=synthetic_seconds, instrument_fields=instrument_fields,
                    lenient=lenient)
    try:
        if len(src.instruments) != 1:
            raise InvalidInput(f"invalid data: {len(src.instruments)} instruments (train on one at a time)")
        inst = src.instruments[0]
        fs = FeatureSet(decls, tick_size=float(inst.tick_size), lot_size=float(inst.lot_size), bars=bars,
                        sample=sample)
        with_mid = FeatureSet({**decls, "__mid": "mid"}, tick_size=float(inst.tick_size),
                              lot_size=float(inst.lot_size), bars=bars, sample=sample)
        ts, rows = with_mid.replay(src.chunks)
        description = src.description
        skipped = skipped_summary(src.report()) if src.report is not None else "0"
    finally:
        src.close()
    names = fs.names
    X, mid = rows[:, :-1], rows[:, -1]
    y = future_returns(ts, mid, h)
    keep = ~np.isnan(y)
    ts, X, y = ts[keep], X[keep], y[keep]
    n = len(y)
    if n < 100:
        raise InvalidInput(f"invalid data: {n} labelled rows (at least 100 needed; a longer capture, a shorter "
                           f"--sample or --label)")
    cut = int(n * (1.0 - valid_fraction))
    valid_start = ts[cut]
    train = ts[:cut] + h < valid_start  # the embargo: no training label looks into the validation period
    Xt, yt, Xv, yv = X[:cut][train], y[:cut][train], X[cut:], y[cut:]
    if len(yt) < 50 or len(yv) < 50:
        raise InvalidInput(f"invalid split: {len(yt)} training and {len(yv)} validation rows (need 50 each)")
    if target == "sign":
        yt_fit, yv_fit = (yt > 0).astype(float), (yv > 0).astype(float)
        objective = "binary"
    else:
        yt_fit, yv_fit = yt, yv
        objective = "regression"
    params = {"objective": objective, "num_leaves": leaves, "learning_rate": learning_rate,
              "min_data_in_leaf": min_data_in_leaf, "seed": seed, "deterministic": True, "num_threads": 1,
              "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(Xt, yt_fit, feature_name=names, free_raw_data=False),
                        num_boost_round=trees)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(Model.embed_features(booster.model_to_string(), fs))
    model = Model.load(out)
    pv = model.predict(Xv)
    lgb_pv = booster.predict(Xv)
    metrics: dict[str, Any] = {
        "data": description, "skipped_lines": skipped, "instrument": f"{inst.venue}/{inst.symbol}", "features": names,
        "features_definition": json.loads(fs.definition), "features_sha256": fs.definition_sha256,
        "sample": str(sample), "horizon": str(horizon), "target": target, "objective": objective,
        "rows": int(n), "train_rows": int(len(yt)), "embargoed_rows": int(cut - len(yt)), "valid_rows": int(len(yv)),
        "train_period_ns": [int(ts[0]), int(ts[cut - 1])], "valid_period_ns": [int(valid_start), int(ts[-1])],
        "trees": model.num_trees, "leaves": leaves, "learning_rate": learning_rate,
        "train_label_mean_bps": float(np.mean(yt)), "train_label_std_bps": float(np.std(yt)),
        "tradecore_vs_lightgbm_max_abs_diff": float(np.max(np.abs(pv - lgb_pv))),
        "feature_importance_gain": dict(zip(names, (float(g) for g in booster.feature_importance("gain")))),
    }
    if target == "sign":
        eps = 1e-15
        pc = np.clip(pv, eps, 1 - eps)
        base = float(np.mean(yt_fit))
        metrics.update({
            "valid_auc": _auc(yv_fit, pv),
            "valid_logloss": float(-np.mean(yv_fit * np.log(pc) + (1 - yv_fit) * np.log(1 - pc))),
            "valid_logloss_base_rate": float(-np.mean(yv_fit * np.log(max(base, eps))
                                                      + (1 - yv_fit) * np.log(max(1 - base, eps)))),
            "valid_accuracy": float(np.mean((pv > 0.5) == (yv_fit > 0.5))),
            "valid_up_rate": float(np.mean(yv_fit)),
        })
    else:
        nz = yv != 0
        metrics.update({
            "valid_rmse_bps": float(np.sqrt(np.mean((pv - yv) ** 2))),
            "valid_rmse_train_mean_bps": float(np.sqrt(np.mean((np.mean(yt) - yv) ** 2))),
            "valid_mae_bps": float(np.mean(np.abs(pv - yv))),
            "valid_ic": _corr(pv, yv),
            "valid_rank_ic": _corr(_rank(pv), _rank(yv)),
            "valid_hit_rate": float(np.mean(np.sign(pv[nz]) == np.sign(yv[nz]))) if nz.any() else math.nan,
        })
    metrics["seconds"] = time.perf_counter() - t0
    report = out.with_name(out.name + ".report.json")
    report.write_text(json.dumps(metrics, indent=2, allow_nan=True))
    return TrainResult(out, report, metrics, model)
