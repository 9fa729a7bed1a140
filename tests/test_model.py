"""Tree-model inference in the core (``tradecore.Model``): the same numbers as LightGBM's own
``Booster.predict``, the training command, and the model run in the loop (backtest, paper and
live) on the feature set's rows without Python in between."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

import tradecore
from tradecore import Model, ModelSignal, Prediction, Strategy
from tradecore.backtest import run_backtest
from tradecore.cli import main as cli_main
from tradecore.errors import DataError, InvalidInput
from tradecore.signals import FeatureSet
from tradecore.train import future_returns, parse_features, train_model

from live_helpers import run_to_the_end

REPO = Path(__file__).resolve().parents[1]
TOL = 1e-12


def _data(rng: np.random.Generator, n: int, nan: float = 0.1) -> np.ndarray:
    X = rng.normal(size=(n, 8))
    X[rng.random(X.shape) < nan] = np.nan
    X[:, 3] = rng.integers(0, 12, n)  # a categorical column
    X[:, 4] = np.where(rng.random(n) < 0.3, 0.0, X[:, 4])  # zeros (missing with zero_as_missing)
    return X


def _label(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.nan_to_num(X[:, 0]) * 2 + np.sin(np.nan_to_num(X[:, 1]) * 3) + (X[:, 3] % 3 == 0) + \
        rng.normal(size=len(X)) * 0.1


CASES: dict[str, dict[str, Any]] = {
    "regression": {"objective": "regression"},
    "binary": {"objective": "binary"},
    "binary_sigmoid2": {"objective": "binary", "sigmoid": 2.0},
    "multiclass": {"objective": "multiclass", "num_class": 3},
    "multiclassova": {"objective": "multiclassova", "num_class": 3},
    "zero_as_missing": {"objective": "regression", "zero_as_missing": True},
    "no_missing": {"objective": "regression", "use_missing": False},
    "poisson": {"objective": "poisson"},
    "cross_entropy": {"objective": "cross_entropy"},
    "huber": {"objective": "huber"},
    "regression_sqrt": {"objective": "regression", "reg_sqrt": True},
    "random_forest": {"objective": "regression", "boosting": "rf", "bagging_fraction": 0.5, "bagging_freq": 1},
}


def _train(name: str, rng: np.random.Generator, X: np.ndarray, categorical: bool = True) -> lgb.Booster:
    params = dict(CASES[name])
    y = _label(X, rng)
    if params["objective"] in ("binary", "cross_entropy"):
        y = (y > 0.5).astype(float)
    elif params["objective"].startswith("multiclass"):
        y = np.digitize(y, [-1.0, 1.0]).astype(float)
    elif params["objective"] == "poisson":
        y = np.exp(y / 3)
    ds = lgb.Dataset(X, y, categorical_feature=[3] if categorical else "auto")
    return lgb.train({**params, "num_leaves": 31, "verbose": -1, "seed": 1, "num_threads": 1}, ds,
                     num_boost_round=40)


def _thresholds(b: lgb.Booster) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}

    def walk(n: dict[str, Any]) -> None:
        if "split_feature" in n:
            if n["decision_type"] == "<=":
                out.setdefault(n["split_feature"], []).append(float(n["threshold"]))
            walk(n["left_child"])
            walk(n["right_child"])

    for t in b.dump_model()["tree_info"]:
        walk(t["tree_structure"])
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_predictions_equal_lightgbm_with_nan_categories_and_values_on_thresholds(name: str) -> None:
    rng = np.random.default_rng(sum(map(ord, name)))
    b = _train(name, rng, _data(rng, 3000))
    m = Model.from_string(b.model_to_string())
    X = _data(rng, 1500)
    X[:, 3] = rng.integers(-2, 40, len(X))  # unseen, negative and large categories
    X[:20, 5] = 1e-40  # |x| <= 1e-35 counts as 0 in LightGBM
    X[20:40, 6] = -1e-36
    # every threshold of every split, exactly, on its feature
    for f, ts in _thresholds(b).items():
        for k, t in enumerate(ts[:60]):
            X[40 + k, f] = t
            X[100 + k, f] = np.nextafter(t, np.inf)
    for raw in (False, True):
        want = b.predict(X, raw_score=raw)
        got = m.predict(X, raw_score=raw)
        assert got.shape == want.shape
        assert np.max(np.abs(got - want)) <= TOL, (name, raw)
        for i in (0, 25, 45, 105, 777):
            one = m.predict_one(X[i], raw_score=raw)
            np.testing.assert_allclose(np.atleast_1d(one), np.atleast_1d(want[i]), rtol=0, atol=TOL)
    assert m.num_features == 8 and m.num_trees == b.num_trees()


def test_model_file_metadata_and_inputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    b = _train("binary", rng, _data(rng, 2000), categorical=False)
    path = tmp_path / "m.txt"
    b.save_model(path)
    m = Model.load(path)
    assert (m.num_features, m.outputs, m.objective) == (8, 1, "sigmoid")
    assert m.feature_names == [f"Column_{i}" for i in range(8)]
    row = [0.1, -0.2, float("nan"), 3.0, 0.0, 1.0, 2.0, -1.0]
    want = float(b.predict(np.array([row]))[0])
    for r in (row, tuple(row), np.array(row), np.array(row, dtype=np.float32).astype(np.float64)):
        assert abs(m.predict_one(r) - want) <= TOL
    assert m.predict(np.array([row] * 3, dtype=np.float32)).shape == (3,)
    with pytest.raises(InvalidInput, match="the model takes 8 features"):
        m.predict_one(row[:5])
    with pytest.raises(InvalidInput, match="matrix: 2 x 3"):
        m.predict(np.zeros((2, 3)))
    with pytest.raises(InvalidInput, match="invalid row"):
        m.predict_one("abc")
    mc = Model.from_string(_train("multiclass", rng, _data(rng, 2000)).model_to_string())
    p = mc.predict_one(row)
    assert isinstance(p, tuple) and len(p) == 3 and abs(sum(p) - 1) < 1e-12


def test_unsupported_or_broken_models_are_clear_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    X = _data(rng, 2000, nan=0.0)
    lin = lgb.train({"objective": "regression", "linear_tree": True, "verbose": -1}, lgb.Dataset(X, _label(X, rng)),
                    num_boost_round=3)
    with pytest.raises(DataError, match="linear trees"):
        Model.from_string(lin.model_to_string())
    text = _train("regression", rng, X, categorical=False).model_to_string()
    with pytest.raises(DataError, match="no 'end of trees'"):
        Model.from_string(text[: len(text) // 2])
    bad = text.replace("objective=regression", "objective=lambdamart_custom", 1)
    with pytest.raises(DataError, match=r"<model text>:\d+: unsupported objective"):
        Model.from_string(bad)
    with pytest.raises(OSError):
        Model.load(tmp_path / "missing.txt")


def test_feature_spec_parsing_and_labels() -> None:
    spec = parse_features("mid, imb5=imbalance(levels=5), ofi=ofi(window=1s), macd=macd(fast=12, slow=26)")
    assert spec == {"mid": "mid", "imb5": ("imbalance", {"levels": 5}), "ofi": ("ofi", {"window": "1s"}),
                    "macd": ("macd", {"fast": 12, "slow": 26})}
    for bad in ("1x=mid", "a=mid,a=spread", "ofi(window)", ""):
        with pytest.raises(InvalidInput):
            parse_features(bad)
    ts = np.array([0, 1, 2, 5, 9], dtype=np.int64) * 1_000_000_000
    mid = np.array([100.0, 101.0, 100.0, 102.0, 102.0])
    r = future_returns(ts, mid, 2_000_000_000)
    # the first row at or after t + 2 s: rows 2, 3, 3, 4, none
    np.testing.assert_allclose(r[:4], np.log([100 / 100, 102 / 101, 102 / 100, 102 / 102]) * 1e4)
    assert np.isnan(r[4])  # the data ends before its horizon


def test_train_command_on_the_synthetic_market(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.txt"
    code = cli_main(["train", "--features", "mid,spread,imb5=imbalance(levels=5),ofi=ofi(window=1s),"
                     "flow=trade_imbalance(window=5s)", "--label", "1s", "--sample", "200ms", "--seconds", "120",
                     "--trees", "30", "--out", str(out)])
    assert code == 0
    shown = capsys.readouterr().out
    assert "validation IC" in shown
    assert re.search(r"features +mid, spread, imb5, ofi, flow \(definition sha256 [0-9a-f]{16}, in the model\)", shown)
    assert float(re.search(r"max \|difference\| (\S+)", shown).group(1)) <= 1e-12  # vs LightGBM's predictions
    report = json.loads((tmp_path / "model.txt.report.json").read_text())
    assert report["features"] == ["mid", "spread", "imb5", "ofi", "flow"]
    assert report["train_rows"] + report["embargoed_rows"] + report["valid_rows"] == report["rows"]
    assert report["train_period_ns"][1] < report["valid_period_ns"][0]
    assert report["embargoed_rows"] > 0  # the rows whose label looks into the validation period
    m = Model.load(out)
    assert m.feature_names == report["features"] and m.num_trees == 30
    assert cli_main(["train", "--features", "mid,bogus_kind", "--label", "1s", "--out", str(out)]) == 2


class Recorder(Strategy):
    """Runs a model in the loop and keeps every prediction."""

    def __init__(self, features: FeatureSet, model: Model | None, **kw: Any) -> None:
        super().__init__(**kw)
        self.fs, self.m = features, model
        self.got: list[Prediction] = []
        self.books = 0

    def on_start(self) -> None:
        self.ctx.run_model(self.fs, self.m)

    def on_book(self, book: Any) -> None:
        self.books += 1

    def on_prediction(self, p: Prediction) -> None:
        self.got.append(p)


def _research_model(fs: FeatureSet, events: np.ndarray) -> tuple[np.ndarray, np.ndarray, Model]:
    ts, X = fs.replay(events)
    rng = np.random.default_rng(0)
    y = np.nan_to_num(X[:, 0] - np.nanmean(X[:, 0])) + rng.normal(size=len(X))
    b = lgb.train({"objective": "regression", "verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5},
                  lgb.Dataset(X, y, feature_name=fs.names), num_boost_round=20)
    return ts, X, Model.from_string(b.model_to_string(), features=fs)  # a plain file: its inputs declared


def test_the_backtest_runs_the_model_in_the_loop_on_the_research_rows(synthetic_capture: Path) -> None:
    events, _ = tradecore.read_binance(synthetic_capture)
    inst = tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001")
    fs = FeatureSet({"spread": "spread", "micro": "microprice", "imb5": ("imbalance", {"levels": 5}),
                     "ema": ("ema", {"period": 20})}, tick_size=0.1, lot_size=0.001, sample="message")
    ts, X, model = _research_model(fs, events)
    s = Recorder(fs, model)
    run_backtest(s, events, instrument=inst, feed_latency="1ms")
    assert len(s.got) == len(ts) and s.books > 0
    got_X = np.array([p.features for p in s.got])
    np.testing.assert_array_equal(got_X, X)  # the loop's rows are the research rows
    # times: the loop's exchange clock never goes back (an event recorded earlier than the one
    # before happens at the later time), research keeps the recorded ones
    got_ts = np.array([p.ts for p in s.got])
    assert (np.diff(got_ts) >= 0).all() and (got_ts >= ts).all() and (got_ts == ts).mean() > 0.999
    np.testing.assert_array_equal([p.value for p in s.got], model.predict(X))
    # a model of other inputs is refused when the signal is set
    three = ["spread", "micro", "imb5"]
    other = Model.from_string(lgb.train({"objective": "regression", "verbose": -1},
                                        lgb.Dataset(np.random.default_rng(1).normal(size=(200, 3)),
                                                    np.arange(200.0), feature_name=three),
                                        num_boost_round=2).model_to_string(), features=three)
    with pytest.raises(InvalidInput, match="feature 3 is 'ema', the model was trained with 3 features"):
        run_backtest(Recorder(fs, other), events, instrument=inst)

    class Late(Recorder):
        def on_start(self) -> None:
            pass

        def on_book(self, book: Any) -> None:
            self.ctx.run_model(self.fs, self.m)  # its features would start mid-stream: refused

    with pytest.raises(InvalidInput, match="set it before the first event"):
        run_backtest(Late(fs, model), events, instrument=inst)


def test_live_feeds_run_the_model_in_rust_with_the_same_rows(synthetic_capture: Path) -> None:
    """Watch mode on the recorded frames: the host hands each message's events to the signal
    (features and model in Rust) and the strategy receives the predictions, equal to the
    research rows of the same capture."""
    from tradecore.live.exchange_sim import read_frames
    from tradecore.live.feed import BinanceMarketData
    from tradecore.live.host import StrategyHost

    frames, snapshot = read_frames(synthetic_capture)
    assert snapshot is not None
    events, _ = tradecore.read_binance(synthetic_capture)
    fs = FeatureSet({"mid": "mid", "spread": "spread", "imb5": ("imbalance", {"levels": 5}),
                     "flow": ("trade_imbalance", {"window": "2s"})}, tick_size=0.1, lot_size=0.001,
                    sample="message")
    ts, X, model = _research_model(fs, events)

    async def go() -> Recorder:
        md = BinanceMarketData({"BTCUSDT": (0.1, 0.001)}, streams=())
        s = Recorder(fs, model)
        StrategyHost(s, md)
        s.on_start()
        b = md.books["BTCUSDT"]
        t0 = frames[0][0]
        b.feed.on_message(snapshot, t0)  # as the runner applies its REST snapshot
        b.health.in_sync = b.feed.in_sync
        assert md.on_frame is not None
        md.on_frame(b, snapshot, t0)
        for t, frame in frames:
            md.on_raw(frame, t)
        return s

    s = asyncio.run(go())
    assert len(s.got) > 100
    # The live session starts from the snapshot (the frames recorded before it are dropped or
    # buffered by the book sync, research reads them in recorded order): once past the first
    # seconds (the 2 s window), row for row the research rows
    n = len(s.got)
    assert n >= len(ts) - 200
    tail = n // 2
    np.testing.assert_array_equal([p.ts for p in s.got[-tail:]], ts[-tail:])
    np.testing.assert_array_equal(np.array([p.features for p in s.got[-tail:]]), X[-tail:])
    np.testing.assert_array_equal([p.value for p in s.got[-tail:]], model.predict(X[-tail:]))
    sig = ModelSignal(fs.live(), model)
    assert len(sig.on_events(events)) == len(ts) and sig.samples == len(ts)


@pytest.mark.realdata
def test_the_example_model_taker_trades_on_its_prediction_out_of_sample(binance_dir: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "examples"))
    try:
        from model_taker import FEATURES, ModelTaker
    finally:
        sys.path.pop(0)
    r = train_model(binance_dir / "usdm_btcusdt_20240718.gz", FEATURES, horizon="2s", target="sign",
                    out=tmp_path / "model.txt")
    assert r.metrics["valid_auc"] > 0.5 and r.metrics["tradecore_vs_lightgbm_max_abs_diff"] <= 1e-12
    s = ModelTaker(model=str(r.model_path))
    res = run_backtest(s, binance_dir / "usdm_btcusdt_20240719.gz", latency="5ms")  # a day it has not seen
    assert s.predictions > 1000
    assert s.trades >= 10 and len(res.fills) == s.trades
    assert res.stats["n_fills"] == s.trades
    # every entry followed a prediction past the threshold: buys and sells both happen
    assert set(np.unique(res.fills["side"])) == {-1, 1}


def test_paper_trading_runs_the_model_in_its_loop(synthetic_capture: Path) -> None:
    """Paper trading: the live feed's events go to the backtest's loop, whose signal computes
    the features and the model in Rust; past the start, the research rows and predictions."""
    from tradecore.live.exchange_sim import ExchangeSimulator
    from tradecore.live.feed import BinanceMarketData
    from tradecore.live.paper import PaperTrader

    events, _ = tradecore.read_binance(synthetic_capture)
    fs = FeatureSet({"mid": "mid", "spread": "spread", "imb5": ("imbalance", {"levels": 5})}, tick_size=0.1,
                    lot_size=0.001, sample="message")
    ts, X, model = _research_model(fs, events)
    s = Recorder(fs, model)

    async def go() -> None:
        sim = ExchangeSimulator.from_capture(synthetic_capture, tick_size=0.1, lot_size=0.001, speed=0)
        await sim.start()
        md = BinanceMarketData({"BTCUSDT": (0.1, 0.001)}, ws_url=sim.ws_url, rest_url=sim.rest_url)
        paper = PaperTrader(s, md, instruments=[tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001")],
                            latency="5ms")
        paper.start()
        await run_to_the_end(md, sim, 60)
        assert paper.error is None
        paper.finish()

    asyncio.run(asyncio.wait_for(go(), 120))
    n = len(s.got)
    assert n > len(ts) // 2
    tail = n // 2  # the session starts at the simulator's snapshot; past it, row for row
    np.testing.assert_array_equal(np.array([p.features for p in s.got[-tail:]]), X[-tail:])
    np.testing.assert_array_equal([p.value for p in s.got[-tail:]], model.predict(X[-tail:]))
