"""Risk limits, the pre-trade risk engine and the portfolio (computed in the core).

::

    limits = tradecore.RiskLimits(max_order_qty=5, max_position=10, price_band_bps=50,
                                  max_submits_per_sec=20, daily_loss_limit=500)
    # or tradecore.RiskLimits.from_toml("risk.toml")  (a [risk] table, or top-level keys)
    risk = tradecore.RiskEngine(limits)
    btc = risk.add_instrument(contract_size=1.0)
    risk.on_market(btc, reference=61_773.6)          # mid or last, with its local time
    d = risk.check(client_id=1, instrument=btc, side="buy", qty=0.5, price=61_770.0)
    if not d:
        print(d.code, d.message)                     # e.g. price_band: price ... bps ...

An accepted order counts as open (in the worst-case position) until ``order_closed`` or
fills (``on_fill``). ``on_equity`` applies the daily loss limit and the drawdown limit: when
one is breached the state becomes ``"halted"`` and the ids of the open orders to cancel are
returned (the kill switch).
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import msgspec

from tradecore import _core
from tradecore.config import FrozenSchema, Positive, PositiveInt, read_toml, validate
from tradecore.errors import InvalidInput


class RiskLimits(FrozenSchema, frozen=True):
    """Pre-trade limits; ``None`` disables a check. Quantities in contracts, money in the
    settlement currency, the price band in basis points around the reference (mid or last),
    rates per second and per minute (submits and modifies counted apart), data age in ms.
    In a TOML file every limit is a number > 0 (a boolean or a string is refused)."""

    max_order_qty: Positive | None = None
    max_order_notional: Positive | None = None
    max_position: Positive | None = None
    max_gross_exposure: Positive | None = None
    price_band_bps: Positive | None = None
    max_submits_per_sec: PositiveInt | None = None
    max_submits_per_min: PositiveInt | None = None
    max_modifies_per_sec: PositiveInt | None = None
    max_modifies_per_min: PositiveInt | None = None
    max_open_orders: PositiveInt | None = None
    max_data_age_ms: Positive | None = None
    daily_loss_limit: Positive | None = None
    max_drawdown: Positive | None = None
    self_trade_prevention: bool = False

    @classmethod
    def from_toml(cls, path: str | PathLike[str]) -> RiskLimits:
        """Limits from a TOML file: a ``[risk]`` table, or keys at the top level; checked by
        the configuration schema (:mod:`tradecore.config`: unknown keys, types, ranges)."""
        doc, src = read_toml(path)
        f = validate(doc, _RiskFile, src)
        if f.risk is None:
            return cls(**{k: v for k, v in msgspec.structs.asdict(f).items() if k != "risk"})
        if len(doc) > 1:
            other = next(k for k in doc if k != "risk")
            raise src.error((), other, "limits go either in [risk] or at the top level, not both", value=doc[other])
        return f.risk

    def as_kwargs(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


class _RiskFile(RiskLimits, frozen=True):
    """A risk limits file: the limits at the top level, or in a ``[risk]`` table."""

    risk: RiskLimits | None = None


class RiskEngine(_core.RiskEngine):
    """Pre-trade risk checks (see the module documentation)."""

    def __new__(cls, limits: RiskLimits | None = None, **kwargs: Any) -> RiskEngine:
        if limits is not None and kwargs:
            raise InvalidInput("invalid arguments: give either a RiskLimits or keyword limits, not both")
        lim = limits if limits is not None else RiskLimits(**kwargs)
        engine: RiskEngine = super().__new__(cls, **lim.as_kwargs())  # type: ignore[assignment]
        return engine


Portfolio = _core.Portfolio
Decision = _core.Decision

__all__ = ["Decision", "Portfolio", "RiskEngine", "RiskLimits"]
