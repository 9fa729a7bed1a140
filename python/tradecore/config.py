"""Configuration files: the one strict, typed schema layer every TOML file of tradecore goes
through (the live runner's configuration, risk limits).

A schema is a :class:`Schema` (a ``msgspec.Struct`` with ``forbid_unknown_fields``) whose field
types carry their ranges (``Annotated[float, Meta(gt=0)]``). :func:`load_toml` reads a file and

- refuses a secret (an API key, secret, password, private key... in any table) when the file
  can be read by its group or by others, with the ``chmod`` to run;
- refuses unknown tables and keys by name, with the nearest valid one
  (``live.toml:7: unknown table [risks]; did you mean [risk]?``);
- checks every value's type exactly (a TOML boolean is a boolean, never a number; a string is
  never a number or a boolean) and its range;

and returns the typed value. Every refusal is one :class:`~tradecore.errors.ConfigError` line
naming the file, the line, the table, the key and the value::

    live.toml:9: [risk] max_order_qty = true: expected a number, got a boolean
"""

from __future__ import annotations

import difflib
import json
import re
import stat
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec

from tradecore.errors import ConfigError, InvalidInput

__all__ = ["ConfigSource", "FrozenSchema", "Meta", "Schema", "load_toml", "read_toml", "validate"]

Meta = msgspec.Meta

T = TypeVar("T")

#: Keys holding a credential (compared lower-case, without ``_`` and ``-``).
SECRET_KEYS = frozenset({"apikey", "secret", "apisecret", "secretkey", "password", "privatekey", "passphrase",
                         "token", "twofa"})

Positive = Annotated[float, Meta(gt=0)]
"""A number > 0."""
PositiveInt = Annotated[int, Meta(gt=0)]
"""An integer > 0."""


class Schema(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of a configuration table: unknown keys refused, fields by keyword."""


class FrozenSchema(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A :class:`Schema` whose values cannot be changed once read (hashable)."""


_BARE = re.compile(r"[A-Za-z0-9_-]+")
_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


def table_name(table: tuple[str, ...]) -> str:
    """A table's path as written in TOML (``symbols."BTC/USDT:USDT"``)."""
    return ".".join(p if _BARE.fullmatch(p) else json.dumps(p) for p in table)


def toml_value(v: Any, limit: int = 60) -> str:
    """A value as TOML writes it (``true``, ``"abc"``, ``0.1``), cut at ``limit`` characters."""
    if isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, str):
        s = json.dumps(v, ensure_ascii=False)
    elif isinstance(v, list):
        s = "[" + ", ".join(toml_value(x, limit) for x in v) + "]"
    elif isinstance(v, dict):
        s = "{" + ", ".join(f"{table_name((k,))} = {toml_value(x, limit)}" for k, x in v.items()) + "}"
    elif hasattr(v, "isoformat"):
        s = v.isoformat()
    else:
        s = repr(v)
    return s if len(s) <= limit else s[:limit - 3] + "..."


@dataclass(frozen=True)
class ConfigSource:
    """A configuration file's path and text: makes its one-line errors (with line numbers)."""

    path: Path
    text: str

    def line_of(self, table: tuple[str, ...], key: str | None = None) -> int:
        """The line of ``key`` in ``table`` (of the table's header when ``key`` is None), 0 if
        not found (a dotted key, an inline table)."""
        current: tuple[str, ...] = ()
        for no, raw in enumerate(self.text.splitlines(), 1):
            m = _HEADER.match(raw) if raw.lstrip().startswith("[") else None
            if m is not None:
                current = _header_path(m.group(1))
                if key is None and table and current[:len(table)] == table:
                    return no  # the table's header, or its first sub-table's
                continue
            k = _KEY.match(raw)
            if k is None:
                continue
            name = k.group(1).strip("\"'")
            if (key is not None and current == table and name == key) or \
                    (key is None and table and current == table[:-1] and name == table[-1]):
                return no
        return 0

    def where(self, table: tuple[str, ...], key: str | None = None) -> str:
        """``file:line`` (``file`` alone when the line is not found)."""
        line = self.line_of(table, key)
        if not line and key is not None:
            line = self.line_of(table)
        return f"{self.path}:{line}" if line else str(self.path)

    def error(self, table: tuple[str, ...], key: str | None, reason: str, *, value: Any = None,
              show_value: bool = True) -> ConfigError:
        """``file:line: [table] key = value: reason``."""
        head = f"[{table_name(table)}] " if table else ""
        if key is None:
            return ConfigError(f"{self.where(table)}: [{table_name(table)}] {reason}")
        shown = f" = {toml_value(value)}" if show_value else ""
        return ConfigError(f"{self.where(table, key)}: {head}{key}{shown}: {reason}")

    def check(self, table: tuple[str, ...], key: str, value: T, fn: Callable[[T], object]) -> None:
        """Runs a validator of the engine on ``value``; its refusal becomes this file's error."""
        try:
            fn(value)
        except InvalidInput as e:
            raise self.error(table, key, str(e), value=value) from None


def _header_path(inner: str) -> tuple[str, ...]:
    try:
        d: Any = tomllib.loads(f"{inner} = 0")
    except tomllib.TOMLDecodeError:
        return ()
    out: list[str] = []
    while isinstance(d, dict) and len(d) == 1:
        k = next(iter(d))
        out.append(k)
        d = d[k]
    return tuple(out)


def read_toml(path: str | PathLike[str]) -> tuple[dict[str, Any], ConfigSource]:
    """A TOML file's document and source; a missing file, bad TOML and a readable secret are
    refused (:class:`ConfigError`)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read it ({e.strerror or e})") from None
    src = ConfigSource(p, text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        what = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise ConfigError(f"{p}:{m.group(1)}: invalid TOML: {what} (column {m.group(2)})" if m else
                          f"{p}: invalid TOML: {e}") from None
    _check_secrets(doc, (), src)
    return doc, src


def _check_secrets(doc: Mapping[str, Any], table: tuple[str, ...], src: ConfigSource) -> None:
    for key, value in doc.items():
        if isinstance(value, dict):
            _check_secrets(value, (*table, key), src)
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):  # an array of tables
            for v in value:
                if isinstance(v, dict):
                    _check_secrets(v, (*table, key), src)
        elif key.lower().replace("_", "").replace("-", "") in SECRET_KEYS and value not in ("", None):
            mode = stat.S_IMODE(src.path.stat().st_mode)
            if mode & 0o077:
                raise src.error(table, key, f"a secret in a file its group or others can read (mode {mode:o}): "
                                f"run `chmod 600 {src.path}`, or give the keys in TRADECORE_API_KEY / "
                                "TRADECORE_API_SECRET", show_value=False)


def load_toml(path: str | PathLike[str], schema: type[T]) -> tuple[T, ConfigSource]:
    """A TOML file checked against ``schema`` (see the module documentation): its typed value
    and its source (for the caller's own checks, :meth:`ConfigSource.check`)."""
    doc, src = read_toml(path)
    return validate(doc, schema, src), src


def validate(doc: Mapping[str, Any], schema: type[T], src: ConfigSource, table: tuple[str, ...] = ()) -> T:
    """``doc`` (a TOML table at ``table``) checked against ``schema`` and converted."""
    _check_struct(doc, schema, table, src)
    try:
        return msgspec.convert(doc, schema, strict=True)
    except msgspec.ValidationError as e:  # every key was checked above: a rule of a whole table
        raise ConfigError(f"{src.where(table)}: {f'[{table_name(table)}] ' if table else ''}{e}") from None


def _check_struct(doc: Mapping[str, Any], cls: Any, table: tuple[str, ...], src: ConfigSource) -> None:
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    for key, value in doc.items():
        f = fields.get(key)
        if f is None:
            raise _unknown(key, value, fields, table, src)
        _check_value(value, f.type, table, key, src)
    for name, f in fields.items():
        if f.required and name not in doc:
            if _struct_of(f.type) is not None:
                raise ConfigError(f"{src.path}: missing table [{table_name((*table, name))}]")
            where = f"{src.where(table)}: [{table_name(table)}] " if table else f"{src.path}: "
            raise ConfigError(f"{where}{name} is missing (required)")


def _unknown(key: str, value: Any, fields: Mapping[str, Any], table: tuple[str, ...],
             src: ConfigSource) -> ConfigError:
    names = list(fields)
    if isinstance(value, dict):
        names = [n for n in names if _is_table(fields[n].type)] or names
    low = {n.lower(): n for n in names}
    close = difflib.get_close_matches(key.lower(), list(low), n=1, cutoff=0.6)
    if isinstance(value, dict):
        full = (*table, key)
        hint = f"; did you mean [{table_name((*table, low[close[0]]))}]?" if close else \
            f" (known: {', '.join(f'[{table_name((*table, n))}]' for n in names)})"
        return ConfigError(f"{src.where(full)}: unknown table [{table_name(full)}]{hint}")
    hint = f"; did you mean {low[close[0]]}?" if close else f" (known: {', '.join(names)})"
    inside = f" in [{table_name(table)}]" if table else ""
    return ConfigError(f"{src.where(table, key)}: unknown key {key}{inside} "
                       f"(= {toml_value(value)}){hint}")


def _strip_optional(typ: Any) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return typ


def _bare(typ: Any) -> Any:
    typ = _strip_optional(typ)
    return typing.get_args(typ)[0] if typing.get_origin(typ) is Annotated else typ


def _struct_of(typ: Any) -> Any:
    t = _bare(typ)
    return t if isinstance(t, type) and issubclass(t, msgspec.Struct) else None


def _dict_value(typ: Any) -> Any:
    t = _bare(typ)
    if typing.get_origin(t) is dict:
        return typing.get_args(t)[1]
    return None


def _is_table(typ: Any) -> bool:
    return _struct_of(typ) is not None or _dict_value(typ) is not None


def _check_value(value: Any, typ: Any, table: tuple[str, ...], key: str, src: ConfigSource) -> None:
    cls = _struct_of(typ)
    if cls is not None:
        if not isinstance(value, dict):
            raise src.error(table, key, f"expected a table [{table_name((*table, key))}], got {_kind_of(value)}",
                            value=value)
        _check_struct(value, cls, (*table, key), src)
        return
    inner = _dict_value(typ)
    if inner is not None and isinstance(value, dict) and inner is not Any:
        for k, v in value.items():
            _check_value(v, inner, (*table, key), k, src)
    try:
        msgspec.convert(value, typ, strict=True)
    except msgspec.ValidationError as e:
        raise src.error(table, key, _reason(str(e), typ), value=value) from None


_KINDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "a boolean",
          "array": "an array", "object": "a table", "null": "nothing", "datetime": "a date-time",
          "date": "a date", "time": "a time"}


def _kind(name: str) -> str:
    parts = [p.strip() for p in name.split("|") if p.strip() != "null"]
    return " or ".join(_KINDS.get(p, p) for p in parts)


def _kind_of(v: Any) -> str:
    for t, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "array"),
                    (dict, "object")):
        if isinstance(v, t):
            return _KINDS[name]
    return type(v).__name__


def _reason(msg: str, typ: Any) -> str:
    """msgspec's message as a reason for a user (``expected a number, got a boolean``)."""
    at = re.search(r" - at `\$(.*)`$", msg)
    msg = msg[:at.start()] if at else msg
    where = f" (at {at.group(1)})" if at and at.group(1) else ""
    m = re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", msg)
    if m:
        expected = _kind(m.group(1)).replace("a boolean", "a boolean (true or false)")
        return f"expected {expected}, got {_kind(m.group(2))}{where}"
    if msg.startswith("Invalid enum value"):
        values = _literal_values(typ)
        return f"must be one of {', '.join(map(toml_value, values))}{where}" if values else msg + where
    m = re.fullmatch(r"Expected `[^`]+` (?:of length )?(>=|<=|>|<) (\S+)", msg)
    if m:
        kind, limit = ("length", m.group(2)) if "of length" in msg else ("value", m.group(2))
        if kind == "length":
            return ("must not be empty" if (m.group(1), limit) in ((">=", "1"), (">", "0"))
                    else f"length must be {m.group(1)} {limit}") + where
        return f"must be {_range(typ) or f'{m.group(1)} {limit}'}{where}"
    m = re.fullmatch(r"Expected `str` matching regex '(.+)'", msg)
    if m:
        return f"must match {m.group(1)}{where}"
    return msg[:1].lower() + msg[1:] + where


def _literal_values(typ: Any) -> tuple[Any, ...]:
    t = _bare(typ)
    return typing.get_args(t) if typing.get_origin(t) is typing.Literal else ()


def _range(typ: Any) -> str:
    t = _strip_optional(typ)
    metas = [a for a in typing.get_args(t)[1:] if isinstance(a, msgspec.Meta)] \
        if typing.get_origin(t) is Annotated else []
    if not metas:
        return ""
    m = metas[0]
    lo = f">= {m.ge}" if m.ge is not None else f"> {m.gt}" if m.gt is not None else ""
    hi = f"<= {m.le}" if m.le is not None else f"< {m.lt}" if m.lt is not None else ""
    if m.ge is not None and m.le is not None:
        return f"in {m.ge}..{m.le}"
    return " and ".join(x for x in (lo, hi) if x)

