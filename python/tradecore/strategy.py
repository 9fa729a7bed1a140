"""The strategy API: one class runs in the backtest replay and live, unchanged.

A strategy subclasses :class:`Strategy` and overrides the callbacks it needs. The engine
wakes it only for those: a strategy without ``on_trade`` is never called for a trade, and the
events nobody asked for never leave the compiled loop.

::

    from tradecore.strategy import Strategy

    class Skewed(Strategy):
        size = 0.01              # parameters are class attributes (overridable: --param size=0.02)
        edge_ticks = 2

        def on_start(self):
            self.ctx.set_timer("1s")

        def on_book(self, book):                   # each book message
            mid = book.microprice()
            ...
            self.ctx.buy(self.size, price=bid, post_only=True)

        def on_fill(self, fill):                   # fills of its own orders
            self.ctx.log.info("filled %s @ %s", fill.qty, fill.price)

Every order goes through the pre-trade risk engine before it is sent; a refused order is
never sent: ``buy``/``sell`` return ``None`` and ``ctx.last_reject`` says why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypedDict, Unpack

from tradecore._core import Kline, Liquidation, MarkPrice, OrderStatus, OrderType, Position, Side, TimeInForce
from tradecore.errors import InvalidInput
from tradecore.signals import duration_ns

if TYPE_CHECKING:
    from tradecore import _core
    from tradecore._core import BookView, Model, OrderUpdate, Prediction
    from tradecore.signals import FeatureSet
    from tradecore.instrument import Instrument

#: ``tif=`` names and the codes the backends take (from :class:`TimeInForce`, the one table).
TIF_CODES: dict[str, int] = {str(t): int(t) for t in (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK,
                                                      TimeInForce.POST_ONLY)}


class Backend(Protocol):
    """What a :class:`Context` drives: the backtest loop (``tradecore._core.Backtest``) or a
    live order gateway. Prices and quantities are floats; ``side`` is +1 buy / -1 sell
    (``Side.BUY``/``Side.SELL`` are equal to those); ``price`` None is a market order."""

    @property
    def now(self) -> int: ...

    @property
    def last_reject(self) -> tuple[str, str] | None: ...

    @property
    def trading_state(self) -> str: ...

    def submit(self, side: int, qty: float, price: float | None, tif: int, reduce_only: bool,
               instrument: int, client_id: int | None = None) -> int | None: ...

    def submit_conditional(self, side: int, qty: float, price: float | None, order_type: int, trigger_price: float,
                           trigger_by: str, tif: int, reduce_only: bool, close_position: bool, instrument: int,
                           client_id: int | None = None) -> int | None: ...

    def cancel(self, client_id: int) -> None: ...

    def modify(self, client_id: int, price: float, qty: float) -> bool: ...

    def book(self, instrument: int = 0) -> BookView: ...

    def position(self, instrument: int = 0) -> Position: ...

    def equity(self) -> float: ...

    def account(self) -> _core.Account: ...

    def open_orders(self) -> list[int]: ...

    def order(self, client_id: int) -> tuple[int, int, float, float, float, int] | None: ...

    def set_timer(self, timer_ns: int) -> None: ...

    def set_signal(self, instrument: int, features: _core.FeatureSet, model: Model | None = None, *,
                   raw_score: bool = False) -> None: ...


class BookLike(Protocol):
    """What ``on_book`` receives: the backtest's ``BookView`` or the live ``OrderBook``."""

    def best_bid(self) -> tuple[float, float] | None: ...

    def best_ask(self) -> tuple[float, float] | None: ...

    def mid(self) -> float | None: ...

    def spread(self) -> float | None: ...

    def microprice(self) -> float | None: ...

    def imbalance(self, levels: int = 5) -> float | None: ...

    @property
    def in_sync(self) -> bool: ...


class TradeLike(Protocol):
    """What ``on_trade`` receives: the backtest's ``Trade`` or the live ``LiveTrade``."""

    @property
    def ts(self) -> int: ...

    @property
    def exch_ts(self) -> int: ...

    @property
    def price(self) -> float: ...

    @property
    def qty(self) -> float: ...

    @property
    def side(self) -> int: ...

    @property
    def instrument(self) -> int: ...


@dataclass(frozen=True)
class Order:
    """An order as the strategy knows it (``ctx.order``, ``ctx.open_orders``), the same in a
    backtest, paper and real trading."""

    client_id: int
    instrument: int
    side: Side
    """:class:`Side` (equal to +1 buy, -1 sell)."""
    price: float
    """The limit price; 0.0 for a market order."""
    qty: float
    filled: float
    status: OrderStatus
    """Its :class:`OrderStatus` (``str()`` gives the name: ``pending``, ``open``,
    ``partially_filled``, ``filled``, ``cancelled``, ``rejected`` by the exchange, ``refused``
    before sending, ...)."""

    @property
    def remaining(self) -> float:
        """Quantity not yet filled."""
        return max(self.qty - self.filled, 0.0)


OrderInfo = Order
"""The former name of :class:`Order`."""


class Conditional(TypedDict, total=False):
    """The arguments that make an order conditional (see :meth:`Context.buy`)."""

    trigger_price: float
    order_type: str | OrderType
    trigger_by: str
    close_position: bool


class Context:
    """What a strategy can see and do. Set as ``strategy.ctx`` before ``on_start``.

    Args:
        backend: The loop or gateway orders go to.
        instruments: The instruments, in the order of their indexes.
        log: The strategy's logger.
    """

    def __init__(self, backend: Backend, instruments: Sequence[Instrument], log: logging.Logger) -> None:
        self._b = backend
        self._submit = backend.submit
        self.instruments: tuple[Instrument, ...] = tuple(instruments)
        self.log = log

    @property
    def now(self) -> int:
        """The strategy's local time, ns since the epoch."""
        return self._b.now

    def book(self, instrument: int = 0) -> BookView:
        """The book of an instrument, as the strategy sees it (after the feed latency)."""
        return self._b.book(instrument)

    def position(self, instrument: int = 0) -> Position:
        """Position and PnL of an instrument (``qty``, ``avg_price``, ``realized``,
        ``unrealized``, ``fees``)."""
        return self._b.position(instrument)

    def equity(self) -> float:
        """Capital + realized + unrealized PnL - fees, at the last marks."""
        return self._b.equity()

    def account(self) -> _core.Account:
        """The account now: ``kind`` (``cash``, ``margin`` or ``none``), ``balances`` per asset
        (free, locked), ``equity``, ``available``, ``margin_used``, ``maintenance_margin``, and
        per instrument ``leverage``, ``liquidation_prices`` and ``funding``."""
        return self._b.account()

    def open_orders(self, instrument: int | None = None) -> list[Order]:
        """The open orders (of one instrument), oldest first."""
        out = []
        for cid in self._b.open_orders():
            o = self.order(cid)
            if o is not None and (instrument is None or o.instrument == instrument):
                out.append(o)
        return out

    def order(self, client_id: int) -> Order | None:
        """An order by client id (None if unknown)."""
        o = self._b.order(client_id)
        if o is None:
            return None
        inst, side, price, qty, filled, status = o
        return Order(client_id, inst, Side.of(side), price, qty, filled, OrderStatus.of(status))

    def feed_health(self, instrument: int = 0) -> Any:
        """Live: the feed's health of an instrument (``messages``, ``gaps``, ``resyncs``,
        ``reconnects``, ``malformed``, ``in_sync``, ``age_s()``). None in a backtest, where
        the recorded feed's gaps are in the data (events flagged ``OUT_OF_SYNC``)."""
        fh = getattr(self._b, "feed_health", None)
        return None if fh is None else fh(instrument)

    @property
    def last_reject(self) -> tuple[str, str] | None:
        """(code, message) of the last order the risk check refused."""
        return self._b.last_reject

    @property
    def trading_state(self) -> str:
        """The risk engine's state: ``active``, ``reducing`` or ``halted``."""
        return self._b.trading_state

    def _tif(self, tif: str | TimeInForce, post_only: bool) -> int:
        if post_only:
            return int(TimeInForce.POST_ONLY)
        return int(TimeInForce.of(tif))

    def buy(self, qty: float, price: float | None = None, *, tif: str | TimeInForce = "gtc", post_only: bool = False,
            reduce_only: bool = False, instrument: int = 0, client_id: int | None = None,
            **conditional: Unpack[Conditional]) -> int | None:
        """Sends a buy order: a limit order at ``price``, or a market order without one; with a
        ``trigger_price``, a stop or take-profit order that waits at the exchange until the
        price is touched.

        Args:
            qty: Quantity (contracts or base units), on the lot grid.
            price: Limit price, > 0 on the tick grid; None for a market order. A price of 0
                (or below, or finer than the grid) is refused with ``InvalidInput``, never
                taken as a market order.
            tif: ``gtc``, ``ioc``, ``fok`` or ``post_only`` (or a :class:`TimeInForce`).
            post_only: Same as ``tif="post_only"``: rejected if it would trade on arrival.
            reduce_only: May only reduce the position (checked by the risk engine and the
                exchange).
            instrument: Instrument index.
            client_id: Unique id; default the next free one.
            **conditional: :class:`Conditional`: ``trigger_price`` makes it a conditional
                order (> 0 on the tick grid): by default a stop (a buy stop fires when the
                price rises to it), market without ``price``, limit with one;
                ``order_type`` ``stop_market``, ``stop_limit``, ``take_profit_market`` or
                ``take_profit_limit`` (a take-profit buy fires when the price falls to the
                trigger), agreeing with ``price``; ``trigger_by`` the price watched, ``last``
                (trades, the default) or ``mark``; ``close_position`` closes the whole
                position when triggered (reduce-only).

        Returns:
            The client id, or None if the pre-trade risk check refused it (``last_reject``).
        """
        if conditional:
            return self._conditional(1, qty, price, tif, post_only, reduce_only, instrument, client_id, conditional)
        code = 3 if post_only else TIF_CODES.get(tif)  # type: ignore[arg-type]  # inline: the tick-to-order path
        return self._submit(1, qty, price, self._tif(tif, False) if code is None else code,
                            reduce_only, instrument, client_id)

    def sell(self, qty: float, price: float | None = None, *, tif: str | TimeInForce = "gtc", post_only: bool = False,
             reduce_only: bool = False, instrument: int = 0, client_id: int | None = None,
             **conditional: Unpack[Conditional]) -> int | None:
        """Sends a sell order (see :meth:`buy`; a sell stop fires when the price falls to the
        trigger, a sell take-profit when it rises to it)."""
        if conditional:
            return self._conditional(-1, qty, price, tif, post_only, reduce_only, instrument, client_id, conditional)
        code = 3 if post_only else TIF_CODES.get(tif)  # type: ignore[arg-type]
        return self._submit(-1, qty, price, self._tif(tif, False) if code is None else code,
                            reduce_only, instrument, client_id)

    def _conditional(self, side: int, qty: float, price: float | None, tif: str | TimeInForce, post_only: bool,
                     reduce_only: bool, instrument: int, client_id: int | None, c: Conditional) -> int | None:
        unknown = sorted(set(c) - set(Conditional.__annotations__))
        if unknown:
            raise InvalidInput(f"invalid argument: {unknown[0]!r} (an order takes tif, post_only, reduce_only, "
                               f"instrument, client_id, {', '.join(Conditional.__annotations__)})")
        trigger_price, order_type = c.get("trigger_price"), c.get("order_type")
        trigger_by, close_position = c.get("trigger_by", "last"), c.get("close_position", False)
        if trigger_price is None:
            raise InvalidInput(f"invalid trigger_price: None (a {order_type} order needs one)")
        if order_type is None:
            kind = OrderType.STOP_MARKET if price is None else OrderType.STOP_LIMIT
        else:
            kind = OrderType.of(order_type)
            if not kind.is_conditional:
                raise InvalidInput(f"invalid order_type: {str(kind)!r} (a trigger_price goes with stop_market, "
                                   "stop_limit, take_profit_market or take_profit_limit)")
            if kind.has_limit_price != (price is not None):
                raise InvalidInput(f"invalid price: {price!r} (a {kind} order "
                                   f"{'needs a limit price' if kind.has_limit_price else 'has no limit price'})")
        if trigger_by not in ("last", "mark"):
            raise InvalidInput(f"invalid trigger_by: {trigger_by!r} ('last' or 'mark')")
        tif_code = self._tif(tif, post_only) if kind.has_limit_price else int(TimeInForce.IOC)
        return self._b.submit_conditional(side, qty, price, int(kind), trigger_price, trigger_by, tif_code,
                                          reduce_only, close_position, instrument, client_id)

    def cancel(self, client_id: int) -> None:
        """Sends a cancel of an open order."""
        self._b.cancel(client_id)

    def cancel_all(self, instrument: int | None = None) -> int:
        """Cancels every open order (of one instrument); returns how many were sent."""
        n = 0
        for cid in self._b.open_orders():
            o = self._b.order(cid)
            if o is not None and (instrument is None or o[0] == instrument):
                self._b.cancel(cid)
                n += 1
        return n

    def modify(self, client_id: int, price: float, qty: float) -> bool:
        """Sends a new price and open quantity for an open order (checked as a modify). A
        smaller quantity at the same price keeps the queue place. False if refused."""
        return self._b.modify(client_id, price, qty)

    def set_timer(self, interval: str | int) -> None:
        """Calls ``on_timer`` every ``interval`` of local time (``"1s"``, ``"250ms"`` or ns;
        0 stops it)."""
        ns = duration_ns(interval, "interval")
        if ns < 0:
            raise InvalidInput(f"invalid interval: {interval!r} (must be >= 0)")
        self._b.set_timer(ns)

    def run_model(self, features: FeatureSet | _core.FeatureSet, model: Model | None = None, *,
                  instrument: int = 0, raw_score: bool = False) -> None:
        """Runs ``features`` over an instrument's events as the strategy sees them and, at each
        of their sample points, ``model`` on the row, in the compiled core (no Python between
        the events, the features and the model); ``on_prediction`` receives each result
        (``Prediction``: ``ts``, ``instrument``, ``value``, ``values``, ``features``). The
        feature set must be the one the model was trained on: a model of ``tradecore train``
        carries its definition, and any difference (the columns' order, a name, a parameter,
        the bars, the sampling) raises ``FeatureMismatch`` naming the first one, here, before
        any event; a plain LightGBM file needs its inputs declared
        (``Model.load(path, features=...)``). The same in a backtest, paper and live trading."""
        from tradecore.signals import FeatureSet as _FeatureSet

        core = features.live() if isinstance(features, _FeatureSet) else features
        self._b.set_signal(instrument, core, model, raw_score=raw_score)


class Strategy:
    """Base class of strategies. Override the callbacks you need; the others are never called.

    Parameters are class attributes with defaults; ``Strategy(**params)`` (or
    ``--param k=v`` on the command line) overrides them, converted to the default's type.
    """

    ctx: Context
    """Set by the engine before :meth:`on_start`."""

    CALLBACKS: ClassVar[tuple[str, ...]] = ("on_book", "on_trade", "on_fill", "on_order", "on_timer",
                                            "on_prediction")

    def __init__(self, **params: Any) -> None:
        for name, value in params.items():
            if name.startswith("_") or not hasattr(type(self), name) or callable(getattr(type(self), name)):
                known = ", ".join(self.parameters()) or "none"
                raise InvalidInput(f"invalid parameter: {name!r} is not a parameter of "
                                   f"{type(self).__name__} (parameters: {known})")
            setattr(self, name, _convert(name, value, getattr(type(self), name)))

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        """The parameters and their defaults."""
        out: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if klass in (Strategy, object):
                continue
            for k, v in vars(klass).items():
                if not k.startswith("_") and not callable(v) and not isinstance(v, (classmethod, staticmethod,
                                                                                     property)):
                    out[k] = v
        return out

    def wants(self, callback: str) -> bool:
        """True if this strategy overrides ``callback``."""
        return getattr(type(self), callback) is not getattr(Strategy, callback)

    def on_start(self) -> None:
        """Before the first event."""

    def on_book(self, book: BookLike) -> None:
        """After each book message of an instrument is applied to the strategy's book."""

    def on_trade(self, trade: TradeLike) -> None:
        """After each trade."""

    def on_fill(self, fill: OrderUpdate) -> None:
        """A fill of one of the strategy's orders (``kind == "filled"``)."""

    def on_order(self, update: OrderUpdate) -> None:
        """Any other update of its orders: accepted, rejected, modified, cancelled."""

    def on_timer(self, ts: int) -> None:
        """Every ``ctx.set_timer`` interval of local time."""

    def on_prediction(self, prediction: Prediction) -> None:
        """At each sample point of a ``ctx.run_model`` signal: the model's output
        (``prediction.value``; ``values`` for a multiclass model) and the feature row."""

    def on_mark(self, mark: MarkPrice) -> None:
        """After each mark price message (Binance ``markPriceUpdate``): ``mark.mark``, ``index``,
        ``funding_rate`` (announced for ``next_funding_ts``). The backtest books funding itself."""

    def on_agg_trade(self, trade: TradeLike) -> None:
        """After each aggregate trade (``trade.trade_id`` is the aggregate id)."""

    def on_kline(self, kline: Kline) -> None:
        """After each kline (candlestick) message; ``kline.closed`` once the kline is final."""

    def on_liquidation(self, liquidation: Liquidation) -> None:
        """After each liquidation order the venue publishes (Binance ``forceOrder``)."""

    def on_stop(self) -> None:
        """After the last event."""


def _convert(name: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        return type(default)(value)
    except ValueError:
        raise InvalidInput(f"invalid parameter {name}: {value!r} (expected {type(default).__name__})") from None
