"""The instrument: what a symbol trades in (tick, lot, contract), stored with its ticks."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import numpy as np

from tradecore._core import SCALE
from tradecore.errors import InvalidInput

ContractKind = Literal["spot", "linear", "inverse"]
KINDS: tuple[str, ...] = ("spot", "linear", "inverse")

_SCALE = Decimal(SCALE)


def _decimal(field: str, value: object, *, positive: bool = True) -> str:
    """``value`` as an exact decimal string on the core's 1e-9 grid (``positive=False``: any
    sign)."""
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"invalid {field}: {value!r} (not a number)") from None
    if not d.is_finite():
        raise InvalidInput(f"invalid {field}: {value!r} (must be finite)")
    if positive and d <= 0:
        raise InvalidInput(f"invalid {field}: {value!r} (must be positive)")
    if (d * _SCALE) % 1 != 0:
        raise InvalidInput(f"invalid {field}: {value!r} (finer than the core's 1e-9 resolution)")
    return format(d.normalize(), "f")


@dataclass(frozen=True)
class Instrument:
    """A tradable instrument of one venue.

    Sizes are exact decimal strings (any number or string is accepted and normalised):
    ``Instrument("binance-usdm", "BTCUSDT", tick_size=0.1, lot_size=0.001)``.

    Attributes:
        venue: Venue name as the data names it (``binance-usdm``, ``deribit``, ``bybit``...).
        symbol: The venue's symbol.
        tick_size: Price increment.
        lot_size: Quantity increment.
        kind: ``spot``, ``linear`` (quoted and settled in the quote currency) or ``inverse``
            (settled in the base currency; quantities count contracts).
        contract_size: Value of one contract (quote currency for inverse contracts).
        maker_fee: Maker fee rate (negative for a rebate).
        taker_fee: Taker fee rate.
        inferred: True when tick and lot sizes were inferred from the data, not given.
    """

    venue: str
    symbol: str
    tick_size: str
    lot_size: str
    kind: ContractKind = "linear"
    contract_size: str = "1"
    maker_fee: str = "0"
    taker_fee: str = "0"
    inferred: bool = False

    def __init__(
        self,
        venue: str,
        symbol: str,
        tick_size: object,
        lot_size: object,
        kind: str = "linear",
        contract_size: object = 1,
        maker_fee: object = 0,
        taker_fee: object = 0,
        inferred: bool = False,
    ) -> None:
        for field, text in (("venue", venue), ("symbol", symbol)):
            if not isinstance(text, str) or not text or "/" in text or "=" in text:
                raise InvalidInput(f"invalid {field}: {text!r} (a non-empty name without '/' or '=')")
        if kind not in KINDS:
            raise InvalidInput(f"invalid kind: {kind!r} (one of {', '.join(KINDS)})")
        set_ = object.__setattr__
        set_(self, "venue", venue)
        set_(self, "symbol", symbol)
        set_(self, "tick_size", _decimal("tick_size", tick_size))
        set_(self, "lot_size", _decimal("lot_size", lot_size))
        set_(self, "kind", kind)
        set_(self, "contract_size", _decimal("contract_size", contract_size))
        set_(self, "maker_fee", _decimal("maker_fee", maker_fee, positive=False))
        set_(self, "taker_fee", _decimal("taker_fee", taker_fee, positive=False))
        set_(self, "inferred", bool(inferred))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Instrument:
        d: dict[str, Any] = json.loads(text)
        try:
            return cls(**d)
        except TypeError as e:
            raise InvalidInput(f"invalid instrument metadata: {e}") from None

    @classmethod
    def infer(cls, events: np.ndarray, venue: str, symbol: str, **fields: Any) -> Instrument:
        """Tick and lot sizes inferred from recorded events: the greatest common divisor of
        the prices and of the non-zero quantities seen (marked ``inferred``). Other fields
        default from the venue (``kind``) unless given."""
        priced = events[np.isin(events["kind"], (1, 2, 4, 5))]
        prices = priced["price"][priced["price"] > 0]
        qtys = priced["qty"][priced["qty"] > 0]
        if len(prices) == 0 or len(qtys) == 0:
            raise InvalidInput(f"cannot infer tick and lot sizes of {venue}/{symbol}: no priced events")
        tick = int(np.gcd.reduce(prices))
        lot = int(np.gcd.reduce(qtys))
        fields.setdefault("kind", kind_of_venue(venue, symbol))
        return cls(venue, symbol, Decimal(tick) / _SCALE, Decimal(lot) / _SCALE, inferred=True, **fields)


def kind_of_venue(venue: str, symbol: str) -> str:
    """The contract kind a venue name implies (``linear`` when it does not say)."""
    v = venue.lower()
    if v in ("binance-spot", "binance", "coinbase", "bybit-spot", "kraken") or v.endswith("-spot"):
        return "spot"
    if v in ("binance-coinm", "binance-delivery", "deribit", "bitmex") or symbol.endswith("_PERP"):
        return "inverse"
    return "linear"
