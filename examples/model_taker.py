"""A taker trading on a LightGBM model's prediction: the model runs in the compiled core on the
feature set's row at each sample point (``ctx.run_model``), and the strategy only reads the
result (``on_prediction``).

Train a model that says whether the mid will be higher ``horizon`` from now, then backtest on
data it has not seen:

    tradecore train --data usdm_btcusdt_20240718.gz --features "$FEATURES" --label 2s --target sign \\
        --out model.txt
    tradecore backtest --strategy examples/model_taker.py:ModelTaker --data usdm_btcusdt_20240719.gz \\
        --param model=model.txt --param features="$FEATURES"

with the same ``FEATURES`` (and ``sample``) for both, e.g. the default below. When the
probability of an up move is above ``enter`` it buys (below ``1 - enter`` it sells) ``size``
with an IOC order at the touch, and it closes the position ``hold`` later (or when the signal
turns the other way).
"""

from __future__ import annotations

from tradecore import Model, OrderUpdate, Prediction, Strategy
from tradecore.signals import FeatureSet, duration_ns
from tradecore.train import parse_features

FEATURES = ("spread,imb1=imbalance(levels=1),imb5=imbalance(levels=5),ofi=ofi(window=1s),ofi5=ofi(window=5s),"
            "flow=trade_imbalance(window=5s),ret1=mid_return(horizon=1s),ret10=mid_return(horizon=10s),"
            "vol=realized_vol(window=10s)")


class ModelTaker(Strategy):
    model = ""                  # the model text (tradecore train --out)
    features = FEATURES         # the feature set it was trained on, in order
    sample = "100ms"            # the rows' sampling, as in training
    enter = 0.6                 # probability of an up move to buy (1 - enter to sell)
    size = 0.002                # BTCUSDT: 0.002 x 60,000 = 120 USDT >= MIN_NOTIONAL 100
    hold = "2s"                 # the label's horizon

    def on_start(self) -> None:
        if not self.model:
            raise ValueError("ModelTaker needs --param model=PATH (a model text from tradecore train)")
        inst = self.ctx.instruments[0]
        fs = FeatureSet(parse_features(self.features), tick_size=float(inst.tick_size),
                        lot_size=float(inst.lot_size), sample=self.sample)
        self.ctx.run_model(fs, Model.load(self.model))
        self.hold_ns = duration_ns(self.hold, "hold")
        self.entry_ts = 0
        self.side = 0
        self.predictions = 0
        self.trades = 0

    def on_prediction(self, p: Prediction) -> None:
        self.predictions += 1
        ctx = self.ctx
        qty = ctx.position().qty
        if qty != 0 and (ctx.now - self.entry_ts >= self.hold_ns or self._signal(p.value) == -self.side):
            self._take(-1 if qty > 0 else 1, abs(qty))  # out: held long enough, or the signal turned
            self.side = 0
            return
        if qty == 0 and not ctx.open_orders():
            side = self._signal(p.value)
            if side != 0 and self._take(side, self.size):
                self.side, self.entry_ts = side, ctx.now

    def _signal(self, up: float) -> int:
        return 1 if up > self.enter else -1 if up < 1.0 - self.enter else 0

    def _take(self, side: int, qty: float) -> bool:
        book = self.ctx.book()
        touch = book.best_ask() if side > 0 else book.best_bid()
        if touch is None:
            return False
        send = self.ctx.buy if side > 0 else self.ctx.sell
        return send(qty, touch[0], tif="ioc") is not None

    def on_fill(self, fill: OrderUpdate) -> None:
        self.trades += 1


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    import tradecore
    from tradecore.backtest import run_backtest
    from tradecore.train import train_model

    with tempfile.TemporaryDirectory() as d:
        train_on, trade_on = Path(d) / "train.gz", Path(d) / "trade.gz"
        tradecore.synth_binance(train_on, seconds=240, seed=1)  # two synthetic markets: train on
        tradecore.synth_binance(trade_on, seconds=120, seed=2)  # one, trade the other
        r = train_model(train_on, FEATURES, horizon="2s", target="sign", out=Path(d) / "model.txt")
        print(f"trained: validation AUC {r.metrics['valid_auc']:.3f} on {r.metrics['valid_rows']} rows")
        result = run_backtest(ModelTaker(model=str(r.model_path)), trade_on, latency="5ms")
        print(result.summary())
