"""msgpack for commands, events and plain data, with integers of any size.

msgpack integers stop at 64 bits, but an 18-decimal token balance does not (100 ETH in wei is
1e20). Integers outside [-2**63, 2**64) are written as ext type 1 holding their decimal
digits; readers turn them back into ints. The fast path is msgspec's C encoder; only a record
that actually holds such an integer takes the slower converting path.

Reading is strict, because these bytes come from peers: the ext holds an optional ``-`` and
ASCII digits, at most ``MAX_BIGINT_CHARS`` of them (``int()`` alone would take " 1_000 ",
non-ASCII digits and 4,000-digit numbers). Anything undecodable (another ext type, nesting
deeper than msgspec's recursion limit) is a ``WireFormatError``, so callers map one exception.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from trade_engine.core.commands import COMMAND_TYPES
from trade_engine.core.events import EVENT_TYPES

BIGINT_EXT: Final = 1
# 2**256 has 78 digits; every bounded field (core.limits) is far below. Bounds int()'s work.
MAX_BIGINT_CHARS: Final = 100
_MIN: Final = -(2**63)
_MAX: Final = 2**64 - 1
_BIGINT: Final = re.compile(rb"-?[0-9]+")

_encoder = msgspec.msgpack.Encoder()


class WireFormatError(ValueError):
    """Bytes that are msgpack-shaped but not ours: a bad ext, too deep, a malformed big int."""


def ext_hook(code: int, data: memoryview) -> Any:
    """The ext hook for every msgspec decoder of our msgpack (the protocol's typed ones too)."""
    if code != BIGINT_EXT:
        raise WireFormatError(f"unknown msgpack ext type {code}")
    raw = bytes(data)
    if len(raw) > MAX_BIGINT_CHARS or _BIGINT.fullmatch(raw) is None:
        shown = raw[:40] + (b"..." if len(raw) > 40 else b"")
        raise WireFormatError(
            f"big integer ext must be an optional '-' and 1..{MAX_BIGINT_CHARS} ASCII digits, "
            f"got {len(raw)} bytes {shown!r}"
        )
    return int(raw)


def nested_too_deeply(exc: RecursionError) -> WireFormatError:
    return WireFormatError(f"nested too deeply ({exc})")


def _bigints_to_ext(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if _MIN <= v <= _MAX:
            return v
        return msgspec.msgpack.Ext(BIGINT_EXT, str(v).encode("ascii"))
    if isinstance(v, dict):
        return {k: _bigints_to_ext(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_bigints_to_ext(x) for x in v]
    return v


def encode(obj: Any) -> bytes:
    """msgpack bytes for a command, an event, or plain data containing them."""
    try:
        return _encoder.encode(obj)
    except OverflowError:
        return _encoder.encode(_split(obj))


def _split(obj: Any) -> Any:
    """Re-encode only the parts that hold a big integer; embed the rest as raw msgpack."""
    if isinstance(obj, dict):
        return {k: _split(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_split(v) for v in obj]
    try:
        return msgspec.Raw(_encoder.encode(obj))
    except OverflowError:
        return _bigints_to_ext(msgspec.to_builtins(obj))


def decode(data: bytes | memoryview) -> Any:
    """Plain data (dicts, lists, ints of any size, ...) from msgpack bytes; WireFormatError
    for a bad ext or excessive nesting, msgspec.DecodeError for what is not msgpack."""
    try:
        return msgspec.msgpack.decode(data, ext_hook=ext_hook)
    except RecursionError as exc:
        raise nested_too_deeply(exc) from None


# the tagged unions, built from the type lists so a new command or event is picked up
_command_union: Any = COMMAND_TYPES[0]
for _t in COMMAND_TYPES[1:]:
    _command_union = _command_union | _t
_event_union: Any = EVENT_TYPES[0]
for _t in EVENT_TYPES[1:]:
    _event_union = _event_union | _t
COMMAND_UNION: Any = _command_union
EVENT_UNION: Any = _event_union

_cmd_decoder = msgspec.msgpack.Decoder(_command_union)


def decode_command(data: bytes | memoryview) -> Any:
    """A typed command from msgpack bytes (as written by ``encode``)."""
    try:
        return _cmd_decoder.decode(data)
    except msgspec.ValidationError:
        # an ext-coded big integer (or a genuinely bad record: convert re-raises for that)
        return msgspec.convert(decode(data), _command_union)
