"""A model runs only on the feature set it was trained on: ``tradecore train`` writes the feature
set's definition (names, kinds, parameters, bars, sampling) and its SHA-256 into the model
file, where LightGBM ignores them; ``ctx.run_model``, ``ModelSignal`` and ``Model.predict``
refuse any other feature set with ``FeatureMismatch`` naming the first difference; a plain
LightGBM file must have its inputs declared (``features=``), checked against its
``feature_names``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

import tradecore
from tradecore import Model, ModelSignal, Prediction, Strategy
from tradecore.backtest import run_backtest
from tradecore.errors import DataError, FeatureMismatch, InvalidInput
from tradecore.signals import FeatureSet
from tradecore.train import TrainResult, parse_features, train_model

FEATURES = "spread,imb5=imbalance(levels=5),ofi=ofi(window=1s),micro=microprice"
SAMPLE = "200ms"
INST = tradecore.Instrument("binance-usdm", "BTCUSDT", "0.1", "0.001")


def _fs(spec: str = FEATURES, sample: str = SAMPLE, **kw: Any) -> FeatureSet:
    return FeatureSet(parse_features(spec), tick_size=0.1, lot_size=0.001, sample=sample, **kw)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("features") / "synthetic.gz"
    tradecore.synth_binance(path, seconds=90, seed=3)
    return path


@pytest.fixture(scope="module")
def trained(capture: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    out = tmp_path_factory.mktemp("model") / "model.txt"
    return train_model(capture, FEATURES, horizon="1s", target="sign", sample=SAMPLE, out=out, trees=20,
                       min_data_in_leaf=10)


@pytest.fixture(scope="module")
def events(capture: Path) -> np.ndarray:
    ev, _ = tradecore.read_binance(capture)
    return ev


class Recorder(Strategy):
    def __init__(self, features: FeatureSet, model: Model, **kw: Any) -> None:
        super().__init__(**kw)
        self.fs, self.m = features, model
        self.got: list[Prediction] = []

    def on_start(self) -> None:
        self.ctx.run_model(self.fs, self.m)

    def on_prediction(self, p: Prediction) -> None:
        self.got.append(p)


def test_the_trained_file_carries_the_definition_and_lightgbm_still_loads_it(trained: TrainResult,
                                                                             events: np.ndarray) -> None:
    text = trained.model_path.read_text()
    lines = dict(line.split("=", 1) for line in text.splitlines() if line.startswith("tradecore_features"))
    definition, sha = lines["tradecore_features"], lines["tradecore_features_sha256"]
    assert hashlib.sha256(definition.encode()).hexdigest() == sha  # the hash of the canonical text
    d = json.loads(definition)
    assert d["sample"] == {"every_ns": 200_000_000} and d["bars"] is None
    assert [(f["name"], f["kind"], f["params"]) for f in d["features"]] == [
        ("spread", "spread", {}), ("imb5", "imbalance", {"levels": 5}), ("ofi", "ofi", {"window_ns": 1_000_000_000}),
        ("micro", "microprice", {})]
    fs = _fs()
    assert definition == fs.definition and sha == fs.definition_sha256  # one implementation: the core's
    report = json.loads(trained.report_path.read_text())
    assert report["features_sha256"] == sha and report["features_definition"] == d
    m = Model.load(trained.model_path)
    assert m.features_definition == definition and m.features_sha256 == sha
    # LightGBM itself reads the file and predicts what tradecore predicts
    booster = lgb.Booster(model_file=str(trained.model_path))
    assert booster.feature_name() == fs.names
    _, X = fs.replay(events)
    np.testing.assert_allclose(m.predict(X), booster.predict(X), rtol=0, atol=1e-12)


def test_the_same_feature_set_runs_and_predicts_as_before(trained: TrainResult, events: np.ndarray) -> None:
    m = Model.load(trained.model_path)
    fs = _fs()
    ts, X = fs.replay(events)
    plain = m.predict(X)
    np.testing.assert_array_equal(m.predict(X, features=fs), plain)
    np.testing.assert_array_equal(m.predict(X, features=fs.live()), plain)
    assert m.predict_one(X[5], features=fs) == plain[5] and m.predict_one(X[6], features=fs) == plain[6]
    sig = ModelSignal(fs.live(), m)
    assert [p.value for p in sig.on_events(events)] == list(plain)
    s = Recorder(fs, m)
    run_backtest(s, events, instrument=INST)
    assert len(s.got) > 100
    np.testing.assert_array_equal([p.value for p in s.got], m.predict(np.array([p.features for p in s.got])))


DIFFERENT: dict[str, tuple[Callable[[], FeatureSet], str]] = {
    "order": (lambda: _fs("imb5=imbalance(levels=5),spread,ofi=ofi(window=1s),micro=microprice"),
              "feature 0 is 'imb5', the model was trained with 'spread'"),
    "name": (lambda: _fs("spread,imb=imbalance(levels=5),ofi=ofi(window=1s),micro=microprice"),
             "feature 1 is 'imb', the model was trained with 'imb5'"),
    "parameter": (lambda: _fs("spread,imb5=imbalance(levels=10),ofi=ofi(window=1s),micro=microprice"),
                  "feature 'imb5': levels 10, the model was trained with levels 5"),
    "window": (lambda: _fs("spread,imb5=imbalance(levels=5),ofi=ofi(window=2s),micro=microprice"),
               "feature 'ofi': window_ns 2000000000, the model was trained with window_ns 1000000000"),
    "kind": (lambda: _fs("spread,imb5=imbalance(levels=5),ofi=ofi(window=1s),micro=mid"),
             "feature 'micro' is mid, the model was trained with microprice"),
    "missing": (lambda: _fs("spread,imb5=imbalance(levels=5),ofi=ofi(window=1s)"),
                "the feature set has 3 features, the model was trained with 4: feature 3 is 'micro'"),
    "sampling": (lambda: _fs(sample="message"),
                 "sampling: each message, the model was trained with rows sampled every 200ms"),
    "bars": (lambda: _fs(bars="1s"), "bars: every 1s, the model was trained with bars none"),
}


@pytest.mark.parametrize("case", sorted(DIFFERENT))
def test_a_different_feature_set_is_refused_naming_the_first_difference(case: str, trained: TrainResult,
                                                                        events: np.ndarray) -> None:
    make, difference = DIFFERENT[case]
    fs = make()
    m = Model.load(trained.model_path)
    want = f"the features do not match the model {trained.model_path}: {difference}"
    with pytest.raises(FeatureMismatch) as e:
        run_backtest(Recorder(fs, m), events, instrument=INST)  # ctx.run_model, before any event
    assert str(e.value) == want
    with pytest.raises(FeatureMismatch, match=difference):
        ModelSignal(fs.live(), m)
    _, X = _fs().replay(events[:2000])
    with pytest.raises(FeatureMismatch, match=difference):
        m.predict(X, features=fs)
    with pytest.raises(FeatureMismatch, match=difference):
        m.predict_one(X[0], features=fs)
    with pytest.raises(FeatureMismatch, match=difference):
        Model.load(trained.model_path, features=fs)  # declaring another set is refused too
    assert isinstance(e.value, InvalidInput)


def test_swapped_columns_would_have_changed_the_predictions(trained: TrainResult, events: np.ndarray) -> None:
    """What the check prevents: the same rows with two columns swapped predict otherwise."""
    m = Model.load(trained.model_path)
    _, X = _fs().replay(events)
    swapped = X[:, [1, 0, 2, 3]].copy()
    assert np.max(np.abs(m.predict(swapped) - m.predict(X))) > 0.01


def _plain(tmp_path: Path, events: np.ndarray, names: list[str] | None) -> tuple[Path, lgb.Booster, np.ndarray]:
    """A LightGBM model trained with the lightgbm package alone on the rows of ``_fs()``."""
    _, X = _fs().replay(events)
    y = (np.nan_to_num(X[:, 1]) + np.random.default_rng(0).normal(size=len(X)) * 0.3 > 0).astype(float)
    ds = lgb.Dataset(X, y, feature_name=names if names is not None else "auto")
    b = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5}, ds,
                  num_boost_round=10)
    path = tmp_path / "plain.txt"
    b.save_model(str(path))
    return path, b, X


def test_a_plain_lightgbm_file_needs_its_features_declared(tmp_path: Path, events: np.ndarray) -> None:
    fs = _fs()
    path, booster, X = _plain(tmp_path, events, fs.names)
    m = Model.load(path)
    assert m.features_definition is None
    for run in (lambda: ModelSignal(fs.live(), m), lambda: run_backtest(Recorder(fs, m), events, instrument=INST),
                lambda: m.predict(X, features=fs)):
        with pytest.raises(InvalidInput, match=r"declare them when loading it, Model.load\(path, features=the "
                                               r"feature set\) or Model.load\(path, features=\['spread', "
                                               r"'imb5', 'ofi', 'micro'\]\)") as e:
            run()
        assert not isinstance(e.value, FeatureMismatch)
    # without a feature set, a plain model still predicts rows as they come
    np.testing.assert_allclose(m.predict(X), booster.predict(X), rtol=0, atol=1e-12)
    # declared with the feature set: its definition is checked from then on
    by_set = Model.load(path, features=fs)
    assert by_set.features_sha256 == fs.definition_sha256
    np.testing.assert_array_equal([p.value for p in ModelSignal(fs.live(), by_set).on_events(events)],
                                  m.predict(X))
    with pytest.raises(FeatureMismatch, match="levels 10, the model was trained with levels 5"):
        ModelSignal(DIFFERENT["parameter"][0]().live(), by_set)
    # declared by names: the names are checked
    by_names = Model.load(path, features=fs.names)
    assert by_names.features_definition is None
    np.testing.assert_array_equal(by_names.predict(X, features=fs), m.predict(X))
    s = Recorder(fs, by_names)
    run_backtest(s, events, instrument=INST)
    assert len(s.got) == len(X)
    with pytest.raises(FeatureMismatch, match="feature 0 is 'imb5', the model was trained with 'spread'"):
        ModelSignal(DIFFERENT["order"][0]().live(), by_names)
    # names that are not the file's are refused when declared
    with pytest.raises(FeatureMismatch, match="feature 1 is 'imb', the model was trained with 'imb5'"):
        Model.load(path, features=["spread", "imb", "ofi", "micro"])
    with pytest.raises(FeatureMismatch, match="feature 0 is 'imb5', the model was trained with 'spread'"):
        Model.from_string(path.read_text(), features=DIFFERENT["order"][0]())
    with pytest.raises(InvalidInput, match="must be a FeatureSet or a list of column names"):
        Model.load(path, features="spread,imb5,ofi,micro")


def test_a_plain_file_without_names_is_refused_under_any_names(tmp_path: Path, events: np.ndarray) -> None:
    path, _, _ = _plain(tmp_path, events, None)
    with pytest.raises(FeatureMismatch, match="feature 0 is 'spread', the model was trained with 'Column_0'"):
        Model.load(path, features=_fs())


def test_an_edited_definition_is_refused(trained: TrainResult, tmp_path: Path) -> None:
    text = trained.model_path.read_text()
    edited = tmp_path / "edited.txt"
    edited.write_text(text.replace('"levels":5', '"levels":6'))
    line = next(i for i, x in enumerate(text.splitlines(), 1) if x.startswith("tradecore_features_sha256="))
    with pytest.raises(DataError, match=rf"edited.txt:{line}: tradecore_features_sha256 is \w+, the "
                                        r"definition's is \w+: the definition was changed"):
        Model.load(edited)
    edited.write_text(text.replace('"version":1', '"version":9'))
    with pytest.raises(DataError, match=r"edited.txt:\d+: invalid feature definition: version 9"):
        Model.load(edited)
    # embedding again replaces the definition (one pair of lines), LightGBM still loads it
    again = Model.embed_features(text, _fs())
    assert again.count("tradecore_features=") == 1 and again == text
    with pytest.raises(FeatureMismatch, match="feature 0 is 'imb5'"):
        Model.embed_features(text, DIFFERENT["order"][0]())


def test_feature_parameters_are_exact(events: np.ndarray) -> None:
    """The definition holds every parameter a kind uses, defaults included: a parameter no kind
    reads (a typo) or of the wrong type is refused rather than silently replaced by a default."""
    assert json.loads(_fs("imb=imbalance").definition)["features"][0]["params"] == {"levels": 1}
    assert _fs("imb=imbalance").definition == _fs("imb=imbalance(levels=1)").definition
    assert _fs("e=ema(period=3,source=trade)").definition == _fs("e=ema(period=3,source=last_price)").definition
    with pytest.raises(InvalidInput, match="invalid parameter: level .imbalance takes levels .feature imb5.."):
        _fs("imb5=imbalance(level=5)")
    with pytest.raises(InvalidInput, match="invalid parameter: x .mid takes no parameter"):
        FeatureSet({"m": ("mid", {"x": 1})}, tick_size=0.1, lot_size=0.001)
    with pytest.raises(InvalidInput, match="invalid levels: 5.0 .must be an integer"):
        FeatureSet({"i": ("imbalance", {"levels": 5.0})}, tick_size=0.1, lot_size=0.001)
    # an integer where a real is read is that real (nbdev=2 was silently 1 before)
    a = FeatureSet({"s": ("stddev", {"period": 5, "nbdev": 2})}, tick_size=0.1, lot_size=0.001)
    b = FeatureSet({"s": ("stddev", {"period": 5, "nbdev": 2.0})}, tick_size=0.1, lot_size=0.001)
    one = FeatureSet({"s": ("stddev", {"period": 5})}, tick_size=0.1, lot_size=0.001)
    assert a.definition == b.definition and '"nbdev":2.0' in a.definition
    ra, r1 = a.replay(events[:5000])[1], one.replay(events[:5000])[1]
    ok = ~np.isnan(r1[:, 0]) & (r1[:, 0] > 0)
    assert ok.sum() > 10
    np.testing.assert_allclose(ra[ok, 0], 2 * r1[ok, 0], rtol=1e-12)
