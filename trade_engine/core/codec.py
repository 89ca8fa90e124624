"""Commands and events as versioned plain data, for the journal and the wire.

A record is ``{"type": <class name>, "v": <schema version>, **fields}``; enums become their
string values, a SymbolSpec a nested dict. Decoding refuses unknown types and versions newer
than this release understands; an older version is upgraded by the functions in ``_UPGRADES``
(none yet: every schema is at version 1). Amounts stay Python ints here; binary encoders must
carry ints beyond 64 bits (see the journal and wire docs).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from trade_engine.core import commands as _c
from trade_engine.core import events as _e
from trade_engine.core.enums import (
    EndReason,
    OrderStatus,
    OrderType,
    Side,
    StpMode,
    SymbolStatus,
    TimeInForce,
)
from trade_engine.core.reasons import Reason
from trade_engine.core.symbols import SymbolSpec

# schema version per record type; bump one when its fields change, and add an upgrade
SCHEMA_VERSIONS: dict[str, int] = {
    **{t.__name__: 1 for t in _c.COMMAND_TYPES},
    **{t.__name__: 1 for t in _e.EVENT_TYPES},
}
_TYPES: dict[str, type] = {t.__name__: t for t in (*_c.COMMAND_TYPES, *_e.EVENT_TYPES)}
_UPGRADES: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}

# which enum each enum-typed field holds (by field name; names are unique in meaning)
_ENUM_FIELDS: dict[str, type[Enum]] = {
    "side": Side,
    "taker_side": Side,
    "order_type": OrderType,
    "tif": TimeInForce,
    "stp": StpMode,
    "mode": StpMode,
    "status": OrderStatus,
    "reason": Reason,
    "previous": SymbolStatus,
}
_STATUS_BY_TYPE: dict[str, type[Enum]] = {
    "SymbolStatusChanged": SymbolStatus,
    "SetSymbolStatus": SymbolStatus,
}
_END_REASON_TYPES = {"OrderCancelled", "OrderExpired"}


class CodecError(ValueError):
    pass


def _plain(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def to_plain(record: Any) -> dict[str, Any]:
    name = type(record).__name__
    if name not in _TYPES:
        raise CodecError(f"not a command or event: {name}")
    out: dict[str, Any] = {"type": name, "v": SCHEMA_VERSIONS[name]}
    for name in record.__struct_fields__:
        v = getattr(record, name)
        if isinstance(v, Enum):
            v = v.value
        elif isinstance(v, SymbolSpec):
            v = {k: _plain(getattr(v, k)) for k in v.__struct_fields__}
        out[name] = v
    return out


def from_plain(data: dict[str, Any]) -> Any:
    try:
        name = data["type"]
        version = data["v"]
    except (KeyError, TypeError):
        raise CodecError("record needs 'type' and 'v'") from None
    cls = _TYPES.get(name)
    if cls is None:
        raise CodecError(f"unknown record type {name!r}")
    current = SCHEMA_VERSIONS[name]
    if not isinstance(version, int) or version > current or version < 1:
        raise CodecError(f"{name} schema version {version!r} is not readable by this release")
    fields = {k: v for k, v in data.items() if k not in ("type", "v")}
    while version < current:
        fields = _UPGRADES[(name, version)](fields)
        version += 1
    try:
        for k, v in fields.items():
            if v is None:
                continue
            if k == "status" and name in _STATUS_BY_TYPE:
                fields[k] = _STATUS_BY_TYPE[name](v)
            elif k == "reason" and name in _END_REASON_TYPES:
                fields[k] = EndReason(v)
            elif k in _ENUM_FIELDS:
                fields[k] = _ENUM_FIELDS[k](v)
            elif k == "spec":
                spec = dict(v)
                spec["status"] = SymbolStatus(spec.get("status", SymbolStatus.TRADING))
                fields[k] = SymbolSpec(**spec)
        return cls(**fields)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"bad {name} record: {exc}") from None
