#!/usr/bin/env python3
"""Tree-model inference: tradecore's ``Model`` (LightGBM's model text evaluated in Rust)
against LightGBM's own ``Booster.predict`` and lleaves (the model compiled to native code by
LLVM), on the same model and rows, in the same run.

The model: LightGBM regression, 100 trees of 31 leaves over 20 features, trained on a seeded
synthetic matrix. Measured, interleaved over ``--rounds`` rounds (medians reported):

- one row from Python: a float64 array of 20 values in, a float out (tradecore
  ``predict_one``; LightGBM and lleaves take a 1 x 20 matrix), rows without and with a NaN;
- a batch of 100,000 rows, one thread each (rows per second).

Every result is checked against LightGBM's (largest absolute difference printed). lleaves is
measured when it installs and compiles here (it needs llvmlite < 0.45).

    .venv/bin/python benches/model_inference.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from tradecore import Model

REPO = Path(__file__).resolve().parents[1]


def per_call_us(fn: Any, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=REPO / "build" / "model_inference.json")
    args = ap.parse_args()

    rng = np.random.default_rng(42)
    X = rng.normal(size=(20_000, 20))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3] + rng.normal(size=len(X)) * 0.1
    booster = lgb.train({"objective": "regression", "num_leaves": 31, "verbose": -1, "num_threads": 1, "seed": 1},
                        lgb.Dataset(X, y), num_boost_round=100)
    tmp = tempfile.TemporaryDirectory()
    path = Path(tmp.name) / "model.txt"
    booster.save_model(path)
    ours = Model.load(path)
    assert ours.num_trees == 100
    leaves = None
    try:
        import lleaves  # type: ignore[import-not-found]

        leaves = lleaves.Model(model_file=str(path))
        t = time.perf_counter()
        leaves.compile()
        print(f"lleaves compiled the model in {time.perf_counter() - t:.1f} s")
    except Exception as e:  # not installed, or llvmlite too new for it
        print(f"lleaves not measured: {type(e).__name__}: {e}")
        leaves = None

    row = rng.normal(size=20)
    row_nan = row.copy()
    row_nan[[2, 7]] = np.nan
    batch = rng.normal(size=(100_000, 20))
    want = booster.predict(batch, num_threads=1)
    diffs = {"tradecore": float(np.max(np.abs(ours.predict(batch) - want)))}
    if leaves is not None:
        diffs["lleaves"] = float(np.max(np.abs(leaves.predict(batch, n_jobs=1) - want)))
    for r in (row, row_nan):
        diffs["tradecore one row"] = max(diffs.get("tradecore one row", 0.0),
                                         abs(ours.predict_one(r) - booster.predict(r[None, :])[0]))

    rows: dict[str, list[float]] = {}

    def rec(k: str, v: float) -> None:
        rows.setdefault(k, []).append(v)

    one, one_nan = row[None, :], row_nan[None, :]
    for r in range(args.rounds):
        rec("one row: tradecore predict_one (us)", per_call_us(lambda: ours.predict_one(row), 20_000))
        rec("one row with NaN: tradecore predict_one (us)", per_call_us(lambda: ours.predict_one(row_nan), 20_000))
        rec("one row: lightgbm Booster.predict (us)", per_call_us(lambda: booster.predict(one, num_threads=1), 500))
        rec("one row with NaN: lightgbm Booster.predict (us)",
            per_call_us(lambda: booster.predict(one_nan, num_threads=1), 500))
        if leaves is not None:
            rec("one row: lleaves predict (us)", per_call_us(lambda: leaves.predict(one, n_jobs=1), 5_000))
            rec("one row with NaN: lleaves predict (us)", per_call_us(lambda: leaves.predict(one_nan, n_jobs=1),
                                                                      5_000))
        t = time.perf_counter()
        ours.predict(batch)
        rec("batch: tradecore (rows/s)", len(batch) / (time.perf_counter() - t))
        t = time.perf_counter()
        booster.predict(batch, num_threads=1)
        rec("batch: lightgbm, 1 thread (rows/s)", len(batch) / (time.perf_counter() - t))
        if leaves is not None:
            t = time.perf_counter()
            leaves.predict(batch, n_jobs=1)
            rec("batch: lleaves, 1 thread (rows/s)", len(batch) / (time.perf_counter() - t))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k.split(':')[0]} {v[-1]:.3g}" for k, v in
                                                          list(rows.items())[:3]), flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n100 trees x 31 leaves, 20 features; medians of {args.rounds} rounds")
    for k, v in med.items():
        print(f"  {k:52s} {v:>14,.2f}")
    print("ratios (same run):")
    for what in ("one row", "one row with NaN"):
        base = med[f"{what}: tradecore predict_one (us)"]
        print(f"  {what}: lightgbm / tradecore = {med[f'{what}: lightgbm Booster.predict (us)'] / base:.1f}x"
              + (f", lleaves / tradecore = {med[f'{what}: lleaves predict (us)'] / base:.1f}x"
                 if leaves is not None else ""))
    ours_bps = med["batch: tradecore (rows/s)"]
    print(f"  batch: tradecore / lightgbm = {ours_bps / med['batch: lightgbm, 1 thread (rows/s)']:.1f}x"
          + (f", tradecore / lleaves = {ours_bps / med['batch: lleaves, 1 thread (rows/s)']:.2f}x"
             if leaves is not None else ""))
    print("largest |difference| from lightgbm: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rounds": rows, "median": med, "max_abs_diff": diffs}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
