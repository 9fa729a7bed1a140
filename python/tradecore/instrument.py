"""The instrument: what a symbol trades in (tick, lot, contract), stored with its ticks."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tradecore._core import SCALE, OrderFilters
from tradecore.errors import InvalidInput

ContractKind = Literal["spot", "linear", "inverse"]
KINDS: tuple[str, ...] = ("spot", "linear", "inverse")

_SCALE = Decimal(SCALE)

STANDARD_FEES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("binance-spot", "spot"): ("0.001", "0.001", "Binance spot standard tier (VIP 0, no BNB discount)"),
    ("binance", "spot"): ("0.001", "0.001", "Binance spot standard tier (VIP 0, no BNB discount)"),
    ("binance-usdm", "linear"): ("0.0002", "0.0005", "Binance USDⓈ-M standard tier (VIP 0)"),
    ("binance-futures", "linear"): ("0.0002", "0.0005", "Binance USDⓈ-M standard tier (VIP 0)"),
    ("binance-coinm", "inverse"): ("0.0002", "0.0005", "Binance COIN-M standard tier (VIP 0)"),
    ("binance-delivery", "inverse"): ("0.0002", "0.0005", "Binance COIN-M standard tier (VIP 0)"),
    ("bybit", "linear"): ("0.0002", "0.00055", "Bybit derivatives standard tier (VIP 0)"),
    ("bybit-spot", "spot"): ("0.001", "0.001", "Bybit spot standard tier (VIP 0)"),
}
"""(maker, taker, source) of each venue's standard (lowest) fee tier, by (venue, kind), as the
venues publish them. An instrument given no fees gets these, named in every summary; zero fees
only when asked (``maker_fee=0, taker_fee=0`` or ``--zero-fees``)."""


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


Bracket = tuple[float, float, float, float, float]
"""(notional floor, notional cap, maintenance margin ratio, maintenance amount ``cum``, max
leverage): a row of Binance's leverage brackets (USDⓈ-M: notional in USDT; COIN-M: ``qtyFloor``
/ ``qtyCap`` in the base coin)."""

# Decimal fields of an instrument: (name, must be positive).
_FILTER_FIELDS = ("min_price", "max_price", "min_qty", "max_qty", "market_lot_size", "market_min_qty",
                  "market_max_qty", "min_notional", "max_notional", "percent_up", "percent_down")


@dataclass(frozen=True)
class Instrument:
    """A tradable instrument of one venue: its contract, order filters, assets, fees and margin
    brackets. One value carries the whole spec; the compiled core checks orders against it.

    Sizes are exact decimal strings (any number or string is accepted and normalised):
    ``Instrument("binance-usdm", "BTCUSDT", tick_size=0.1, lot_size=0.001)``. The venue's
    specs come from its ``exchangeInfo`` (:func:`load_instruments`, the bundled snapshot
    :func:`known_instrument`, or the live venue at start).

    Attributes:
        venue: Venue name as the data names it (``binance-usdm``, ``binance-spot``,
            ``binance-coinm``, ``bybit``...).
        symbol: The venue's symbol.
        tick_size: Price increment (``PRICE_FILTER`` tickSize).
        lot_size: Quantity increment of an order (``LOT_SIZE`` stepSize).
        kind: ``spot``, ``linear`` (quoted and settled in the quote currency) or ``inverse``
            (settled in the base currency; quantities count contracts).
        contract_size: Value of one contract (quote currency for inverse contracts). An inverse
            contract's size is never assumed: give it.
        maker_fee: Maker fee rate (negative for a rebate). None: the venue's standard tier
            (:data:`STANDARD_FEES`); a venue without one needs it given (0 for none).
        taker_fee: Taker fee rate (as ``maker_fee``).
        inferred: True when tick and lot sizes were inferred from the data, not given.
        min_price, max_price: ``PRICE_FILTER`` bounds (None: none).
        min_qty, max_qty: ``LOT_SIZE`` bounds of a limit order.
        market_lot_size, market_min_qty, market_max_qty: ``MARKET_LOT_SIZE`` of a market order.
        min_notional, max_notional: ``MIN_NOTIONAL`` / ``NOTIONAL`` bounds (quote currency).
        min_notional_reduce_only: The minimum notional applies to reduce-only orders (spot:
            True; Binance USDⓈ-M exempts them: False).
        percent_up, percent_down: ``PERCENT_PRICE`` multipliers around the reference price.
        base, quote, settle: Assets (None: told from the symbol where the venue's naming is
            unambiguous).
        brackets: Maintenance-margin brackets (futures), as Binance's leverage brackets.
        liquidation_fee: Liquidation clearance fee rate (``liquidationFee``).
        data_lot: Quantity precision of the market data when finer than ``lot_size`` (Binance
            spot books carry more decimals than its order step); None: ``lot_size``.
        source: Where the spec comes from (``given``, a file, the bundled snapshot's date...).
        fee_source: Where the fees come from.
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
    min_price: str | None = None
    max_price: str | None = None
    min_qty: str | None = None
    max_qty: str | None = None
    market_lot_size: str | None = None
    market_min_qty: str | None = None
    market_max_qty: str | None = None
    min_notional: str | None = None
    max_notional: str | None = None
    min_notional_reduce_only: bool = False
    percent_up: str | None = None
    percent_down: str | None = None
    base: str | None = None
    quote: str | None = None
    settle: str | None = None
    brackets: tuple[Bracket, ...] | None = None
    liquidation_fee: str | None = None
    data_lot: str | None = None
    source: str = "given"
    fee_source: str = "given"

    def __init__(
        self,
        venue: str,
        symbol: str,
        tick_size: object,
        lot_size: object,
        kind: str = "linear",
        contract_size: object = None,
        maker_fee: object = None,
        taker_fee: object = None,
        inferred: bool = False,
        *,
        min_price: object = None,
        max_price: object = None,
        min_qty: object = None,
        max_qty: object = None,
        market_lot_size: object = None,
        market_min_qty: object = None,
        market_max_qty: object = None,
        min_notional: object = None,
        max_notional: object = None,
        min_notional_reduce_only: bool = False,
        percent_up: object = None,
        percent_down: object = None,
        base: str | None = None,
        quote: str | None = None,
        settle: str | None = None,
        brackets: Sequence[Sequence[float]] | None = None,
        liquidation_fee: object = None,
        data_lot: object = None,
        source: str = "given",
        fee_source: str | None = None,
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
        if contract_size is None:
            if kind == "inverse":
                raise InvalidInput(f"invalid contract_size of {venue}/{symbol}: None (an inverse contract's size "
                                   "is never assumed: give it, e.g. 100 for Binance's BTCUSD_PERP, or load the "
                                   "venue's exchangeInfo with --instruments)")
            contract_size = 1
        set_(self, "contract_size", _decimal("contract_size", contract_size))
        if (maker_fee is None) != (taker_fee is None):
            raise InvalidInput(f"invalid fees of {venue}/{symbol}: give both maker_fee and taker_fee, or neither "
                               "(the venue's standard tier)")
        if maker_fee is None:
            tier = STANDARD_FEES.get((venue, kind))
            if tier is None:
                raise InvalidInput(f"invalid fees of {venue}/{symbol}: no standard fee tier known for venue "
                                   f"{venue!r} ({kind}); give maker_fee and taker_fee (0 for none)")
            maker_fee, taker_fee, fee_source = tier
        set_(self, "maker_fee", _decimal("maker_fee", maker_fee, positive=False))
        set_(self, "taker_fee", _decimal("taker_fee", taker_fee, positive=False))
        set_(self, "inferred", bool(inferred))
        values = {"min_price": min_price, "max_price": max_price, "min_qty": min_qty, "max_qty": max_qty,
                  "market_lot_size": market_lot_size, "market_min_qty": market_min_qty,
                  "market_max_qty": market_max_qty, "min_notional": min_notional, "max_notional": max_notional,
                  "percent_up": percent_up, "percent_down": percent_down}
        for field in _FILTER_FIELDS:
            v = values[field]
            set_(self, field, None if v is None else _decimal(field, v))
        set_(self, "min_notional_reduce_only", bool(min_notional_reduce_only))
        for field, asset in (("base", base), ("quote", quote), ("settle", settle)):
            if asset is not None and (not isinstance(asset, str) or not asset.isalnum()):
                raise InvalidInput(f"invalid {field} of {venue}/{symbol}: {asset!r} (an asset name)")
            set_(self, field, asset)
        set_(self, "brackets", None if brackets is None else _brackets(f"{venue}/{symbol}", brackets))
        set_(self, "liquidation_fee", None if liquidation_fee is None
             else _decimal("liquidation_fee", liquidation_fee, positive=False))
        set_(self, "data_lot", None if data_lot is None else _decimal("data_lot", data_lot))
        if self.data_lot is not None and Decimal(self.lot_size) % Decimal(self.data_lot) != 0:
            raise InvalidInput(f"invalid data_lot of {venue}/{symbol}: {self.data_lot} (the lot size "
                               f"{self.lot_size} must be a multiple of it)")
        set_(self, "source", str(source))
        set_(self, "fee_source", fee_source or "given")

    def with_fields(self, **fields: Any) -> Instrument:
        """A copy with ``fields`` changed (the fees' source becomes ``given`` when fees are)."""
        d = asdict(self)
        if "maker_fee" in fields or "taker_fee" in fields:
            d["fee_source"] = "given"
        d.update(fields)
        return Instrument(**d)

    def filters(self) -> OrderFilters:
        """The order filters the compiled core checks every order against."""
        def f(name: str) -> float:
            v = getattr(self, name)
            return 0.0 if v is None else float(v)
        return OrderFilters(min_price=f("min_price"), max_price=f("max_price"), min_qty=f("min_qty"),
                            max_qty=f("max_qty"), market_min_qty=f("market_min_qty"),
                            market_max_qty=f("market_max_qty"), market_lot=f("market_lot_size"),
                            min_notional=f("min_notional"), max_notional=f("max_notional"),
                            min_notional_reduce_only=self.min_notional_reduce_only,
                            percent_up=f("percent_up"), percent_down=f("percent_down"))

    def describe(self) -> str:
        """One line: the contract, filters, fees and where they come from."""
        parts = [f"{self.kind}", f"tick {self.tick_size}", f"lot {self.lot_size}"]
        if self.data_lot:
            parts.append(f"data precision {self.data_lot}")
        if self.kind == "inverse" or self.contract_size != "1":
            parts.append(f"contract {self.contract_size}")
        if self.min_notional:
            parts.append(f"min notional {self.min_notional}")
        if self.max_qty:
            parts.append(f"max qty {self.max_qty}")
        src = "inferred from the data" if self.inferred else self.source
        return (", ".join(parts) + f" ({src}); fees maker {float(self.maker_fee):.4%}, taker "
                f"{float(self.taker_fee):.4%} ({self.fee_source})")

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


def _brackets(name: str, rows: Sequence[Sequence[float]]) -> tuple[Bracket, ...]:
    out: list[Bracket] = []
    for n, row in enumerate(rows):
        try:
            floor, cap, mmr, cum, lev = (float(x) for x in row)
        except (TypeError, ValueError):
            raise InvalidInput(f"invalid brackets of {name}: row {n} {row!r} (floor, cap, maint_margin_ratio, cum, "
                               "max_leverage)") from None
        if not (0 <= floor < cap and 0 < mmr < 1 and cum >= 0 and lev >= 1 and math.isfinite(floor + mmr + cum + lev)):
            raise InvalidInput(f"invalid brackets of {name}: row {n} {row!r} (0 <= floor < cap, 0 < ratio < 1, "
                               "cum >= 0, leverage >= 1)")
        if out and floor != out[-1][1]:
            raise InvalidInput(f"invalid brackets of {name}: row {n} starts at {floor:g}, the previous ends at "
                               f"{out[-1][1]:g}")
        out.append((floor, cap, mmr, cum, lev))
    if not out or out[0][0] != 0:
        raise InvalidInput(f"invalid brackets of {name}: they must start at notional 0")
    return tuple(out)


# -- the venue's metadata: exchangeInfo, leverage brackets, TOML specs ---------------------------

def _market_of(doc: Mapping[str, Any]) -> str:
    """The Binance market an ``exchangeInfo`` document describes."""
    symbols = doc.get("symbols")
    if not isinstance(symbols, list) or not symbols:
        raise InvalidInput("invalid exchangeInfo: no 'symbols' list")
    first = symbols[0]
    if "contractSize" in first:
        return "binance-coinm"
    if "marginAsset" in first or "contractType" in first:
        return "binance-usdm"
    return "binance-spot"


def _f(filters: Mapping[str, Mapping[str, Any]], kind: str, key: str) -> str | None:
    """A filter value, None when absent or zero (Binance's "no bound")."""
    v = filters.get(kind, {}).get(key)
    if v is None:
        return None
    try:
        d = Decimal(str(v))
    except InvalidOperation:
        raise InvalidInput(f"invalid exchangeInfo: {kind}.{key} = {v!r} (not a number)") from None
    return None if d == 0 else str(v)


def instruments_from_exchange_info(doc: Mapping[str, Any], brackets: Any = None, *, source: str = "exchangeInfo",
                                   fees: Mapping[str, tuple[object, object]] | None = None) -> dict[str, Instrument]:
    """The instruments of a Binance ``exchangeInfo`` document (spot ``/api/v3``, USDⓈ-M
    ``/fapi/v1``, COIN-M ``/dapi/v1``), by symbol, with the leverage brackets of
    ``brackets`` (the ``leverageBracket`` answer) where given. Fees are the market's standard
    tier unless ``fees`` gives a symbol's (maker, taker): exchangeInfo carries no fee."""
    venue = _market_of(doc)
    kind = {"binance-spot": "spot", "binance-usdm": "linear", "binance-coinm": "inverse"}[venue]
    table: dict[str, tuple[Bracket, ...]] = {}
    for entry in brackets or []:
        key = entry.get("symbol") or entry.get("pair")
        rows = []
        for b in entry.get("brackets", []):
            if "notionalCap" in b:
                rows.append((b["notionalFloor"], b["notionalCap"], b["maintMarginRatio"], b["cum"],
                             b["initialLeverage"]))
            else:  # COIN-M: bounds in the base coin
                rows.append((b["qtyFloor"] if "qtyFloor" in b else b["qtylFloor"], b["qtyCap"],
                             b["maintMarginRatio"], b["cum"], b["initialLeverage"]))
        table[str(key)] = _brackets(f"{venue}/{key}", rows)
    out: dict[str, Instrument] = {}
    for sym in doc["symbols"]:
        name = sym.get("symbol")
        if not isinstance(name, str):
            raise InvalidInput(f"invalid exchangeInfo: a symbol without a name: {sym!r:.80}")
        if sym.get("status") not in (None, "TRADING"):
            continue
        flt = {f["filterType"]: f for f in sym.get("filters", [])}
        if "PRICE_FILTER" not in flt or "LOT_SIZE" not in flt:
            raise InvalidInput(f"invalid exchangeInfo: {name} has no PRICE_FILTER or LOT_SIZE filter")
        fields: dict[str, Any] = {
            "min_price": _f(flt, "PRICE_FILTER", "minPrice"), "max_price": _f(flt, "PRICE_FILTER", "maxPrice"),
            "min_qty": _f(flt, "LOT_SIZE", "minQty"), "max_qty": _f(flt, "LOT_SIZE", "maxQty"),
            "market_lot_size": _f(flt, "MARKET_LOT_SIZE", "stepSize"),
            "market_min_qty": _f(flt, "MARKET_LOT_SIZE", "minQty"),
            "market_max_qty": _f(flt, "MARKET_LOT_SIZE", "maxQty"),
            "base": sym.get("baseAsset"), "quote": sym.get("quoteAsset"),
            "settle": sym.get("marginAsset") or (sym.get("quoteAsset") if kind == "spot" else None),
            "source": source,
        }
        if "NOTIONAL" in flt:  # spot
            fields["min_notional"] = _f(flt, "NOTIONAL", "minNotional")
            fields["max_notional"] = _f(flt, "NOTIONAL", "maxNotional")
            fields["min_notional_reduce_only"] = True
        elif "MIN_NOTIONAL" in flt:
            fields["min_notional"] = _f(flt, "MIN_NOTIONAL", "notional") or _f(flt, "MIN_NOTIONAL", "minNotional")
            fields["min_notional_reduce_only"] = kind == "spot"
        if "PERCENT_PRICE" in flt:
            fields["percent_up"] = _f(flt, "PERCENT_PRICE", "multiplierUp")
            fields["percent_down"] = _f(flt, "PERCENT_PRICE", "multiplierDown")
        elif "PERCENT_PRICE_BY_SIDE" in flt:  # the widest of the two sides' bands
            fields["percent_up"] = _f(flt, "PERCENT_PRICE_BY_SIDE", "askMultiplierUp")
            fields["percent_down"] = _f(flt, "PERCENT_PRICE_BY_SIDE", "bidMultiplierDown")
        if "liquidationFee" in sym:
            fields["liquidation_fee"] = sym["liquidationFee"]
        if kind == "inverse":
            fields["contract_size"] = sym.get("contractSize")
            if fields["contract_size"] is None:
                raise InvalidInput(f"invalid exchangeInfo: COIN-M {name} has no contractSize")
        known_rows = table.get(name) or table.get(str(sym.get("pair", "")))
        if known_rows is not None:
            fields["brackets"] = known_rows
        maker_taker = (fees or {}).get(name)
        if maker_taker is not None:
            fields["maker_fee"], fields["taker_fee"] = maker_taker
            fields["fee_source"] = source
        tick = _f(flt, "PRICE_FILTER", "tickSize")
        lot = _f(flt, "LOT_SIZE", "stepSize")
        if tick is None or lot is None:
            raise InvalidInput(f"invalid exchangeInfo: {name} has a zero tickSize or stepSize")
        out[name] = Instrument(venue, name, tick, lot, kind, **fields)
    return out


def _instruments_toml(path: Path, text: str) -> dict[tuple[str, str], Instrument]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidInput(f"{path}: invalid TOML: {e}") from None
    unknown = set(doc) - {"instrument"}
    if unknown:
        raise InvalidInput(f"{path}: unknown table [{sorted(unknown)[0]}] (instruments are [[instrument]] tables)")
    out: dict[tuple[str, str], Instrument] = {}
    known = set(Instrument.__dataclass_fields__) - {"inferred"}
    for n, fields in enumerate(doc.get("instrument", [])):
        bad = set(fields) - known
        if bad:
            raise InvalidInput(f"{path}: [[instrument]] #{n + 1}: unknown key {sorted(bad)[0]!r} (known: "
                               f"{', '.join(sorted(known))})")
        for key in ("venue", "symbol", "tick_size", "lot_size"):
            if key not in fields:
                raise InvalidInput(f"{path}: [[instrument]] #{n + 1}: missing key {key!r}")
        for key, v in fields.items():
            if isinstance(v, bool) and key != "min_notional_reduce_only":
                raise InvalidInput(f"{path}: [[instrument]] #{n + 1}: {key} = {v!r} (not a boolean)")
        fields.setdefault("source", str(path))
        try:
            inst = Instrument(**fields)
        except InvalidInput as e:
            raise InvalidInput(f"{path}: [[instrument]] #{n + 1}: {e}") from None
        out[(inst.venue, inst.symbol)] = inst
    return out


def load_instruments(path: str | PathLike[str], brackets: str | PathLike[str] | None = None) -> dict[tuple[str, str], Instrument]:
    """Instruments by (venue, symbol) from a Binance ``exchangeInfo`` JSON file (with an optional
    ``leverageBracket`` JSON file) or a TOML file of ``[[instrument]]`` tables (the fields of
    :class:`Instrument`)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise InvalidInput(f"invalid instruments file: {path} ({e.strerror})") from None
    if p.suffix == ".toml":
        return _instruments_toml(p, text)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    table = None
    if brackets is not None:
        try:
            table = json.loads(Path(brackets).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InvalidInput(f"invalid brackets file {brackets}: {e}") from None
    try:
        insts = instruments_from_exchange_info(doc, table, source=f"exchangeInfo {p.name}")
    except (KeyError, TypeError) as e:
        raise InvalidInput(f"{path}: not an exchangeInfo document ({e!r})") from None
    return {(i.venue, i.symbol): i for i in insts.values()}


SNAPSHOT_DATE = "2026-12-07"
"""Date of the bundled snapshot of Binance's instrument specs (``tradecore/specs/``)."""


@cache
def _snapshot() -> dict[tuple[str, str], Instrument]:
    """The bundled specs: Binance's exchangeInfo and leverage brackets of the symbols of the
    bundled and example data, as the venue published them (see ``specs/README.md``)."""
    out: dict[tuple[str, str], Instrument] = {}
    root = resources.files("tradecore") / "specs"
    for market in ("spot", "usdm", "coinm"):
        doc = json.loads((root / f"binance-{market}.exchangeInfo.json").read_text())
        br = root / f"binance-{market}.leverageBracket.json"
        table = json.loads(br.read_text()) if br.is_file() else None
        source = f"Binance exchangeInfo snapshot {SNAPSHOT_DATE}"
        for inst in instruments_from_exchange_info(doc, table, source=source).values():
            out[(inst.venue, inst.symbol)] = inst
    return out


def known_instrument(venue: str, symbol: str,
                     extra: Mapping[tuple[str, str], Instrument] | None = None) -> Instrument | None:
    """The spec of ``venue/symbol`` from ``extra`` (a user's ``--instruments`` file) or the
    bundled snapshot; None when neither has it."""
    if extra and (venue, symbol) in extra:
        return extra[(venue, symbol)]
    return _snapshot().get((venue, symbol))


def snapshot_instruments() -> Iterable[Instrument]:
    """Every instrument of the bundled snapshot."""
    return _snapshot().values()


InstrumentsArg = str | PathLike[str] | Mapping[tuple[str, str], Instrument] | None


def specs_of(instruments: InstrumentsArg) -> Mapping[tuple[str, str], Instrument]:
    """The instruments of a file (exchangeInfo JSON or TOML) or a mapping, by (venue, symbol)."""
    if instruments is None:
        return {}
    if isinstance(instruments, Mapping):
        return instruments
    return load_instruments(instruments)


def _data_lot(events: np.ndarray) -> int:
    """The quantity precision of recorded events (fixed point): the gcd of their quantities."""
    qtys = events["qty"][np.isin(events["kind"], (1, 2, 4, 5)) & (events["qty"] > 0)]
    return int(np.gcd.reduce(qtys)) if len(qtys) else 0


def resolve_instrument(venue: str, symbol: str, first: np.ndarray | None, *, specs: InstrumentsArg = None,
                       fields: dict[str, Any] | None = None) -> Instrument:
    """The instrument of recorded ``venue/symbol``: the user's ``specs`` file or the bundled
    snapshot of the venue's exchangeInfo (the order grid kept apart from the data's quantity
    precision), else inferred from the ``first`` events (announced as inferred; fees from the
    venue's standard tier; an inverse contract's size never guessed). ``fields`` override."""
    fields = dict(fields or {})
    known = known_instrument(venue, symbol, specs_of(specs))
    if known is not None:
        inst = known
        if first is not None and "data_lot" not in fields:
            lot = int(Decimal(inst.lot_size) * _SCALE)
            data = math.gcd(lot, _data_lot(first)) if _data_lot(first) else lot
            if data != lot:
                inst = inst.with_fields(data_lot=str(Decimal(data) / _SCALE))
        return inst.with_fields(**fields) if fields else inst
    if "tick_size" in fields and "lot_size" in fields:
        fields.setdefault("kind", kind_of_venue(venue, symbol))
        return Instrument(venue, symbol, **fields)
    if first is None:
        raise InvalidInput(f"invalid instrument: {venue}/{symbol} is not in the bundled specs; give "
                           "--instruments FILE (exchangeInfo JSON or TOML) or tick_size and lot_size")
    tick, lot = fields.pop("tick_size", None), fields.pop("lot_size", None)
    inst = Instrument.infer(first, venue, symbol, **fields)
    grid = {k: v for k, v in (("tick_size", tick), ("lot_size", lot)) if v is not None}
    return inst.with_fields(**grid) if grid else inst
