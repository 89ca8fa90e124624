"""Commands and events as versioned plain data (``journal dump --json``, tools, tests).

The journal and the native wire carry them msgpack-tagged instead (``wire``); this is their
JSON-friendly form.

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

import msgspec

from trade_engine.core import commands as _c
from trade_engine.core import events as _e
from trade_engine.core.symbols import SymbolSpec, spec_to_dict

# schema version per record type; bump one when its fields change, and add an upgrade
SCHEMA_VERSIONS: dict[str, int] = {
    **{t.__name__: 1 for t in _c.COMMAND_TYPES},
    **{t.__name__: 1 for t in _e.EVENT_TYPES},
}
_TYPES: dict[str, type[msgspec.Struct]] = {
    t.__name__: t for t in (*_c.COMMAND_TYPES, *_e.EVENT_TYPES)
}
_UPGRADES: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


class CodecError(ValueError):
    pass


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
            v = spec_to_dict(v)
        out[name] = v
    return out


def from_plain(data: dict[str, Any]) -> Any:
    """A typed command or event from ``to_plain`` output, with every field type-checked."""
    try:
        name = data["type"]
        version = data["v"]
    except (KeyError, TypeError):
        raise CodecError("record needs 'type' and 'v'") from None
    cls = _TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CodecError(f"unknown record type {name!r}")
    current = SCHEMA_VERSIONS[name]
    if type(version) is not int or version > current or version < 1:
        raise CodecError(f"{name} schema version {version!r} is not readable by this release")
    fields = {k: v for k, v in data.items() if k not in ("type", "v")}
    unknown = set(fields) - set(cls.__struct_fields__)
    if unknown:
        raise CodecError(f"{name} has no field(s) {sorted(unknown)}")
    while version < current:
        fields = _UPGRADES[(name, version)](fields)
        version += 1
    try:
        # strict conversion: no floats or numeric strings for ints, enums by value
        return msgspec.convert(fields, cls)
    except msgspec.ValidationError as exc:
        raise CodecError(f"bad {name} record: {exc}") from None
