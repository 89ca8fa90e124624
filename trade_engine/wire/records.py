"""The journal record format: the sequenced command and the events it produced.

Below both the sequencer (which writes records) and recovery (which replays them); the journal
itself stores the payload as opaque bytes.

Payload = msgpack ``{"v": RECORD_VERSION, "c": <tagged command>, "e": [<tagged events>]}``.
Keeping the events in the record lets subscribers and sinks be served from disk without
re-running the engine, and lets a deep verify prove that a replay reproduces them. Replay
decodes only ``c`` (msgspec skips the rest without building it).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import msgspec

from trade_engine.core.commands import COMMAND_TYPES, Command
from trade_engine.core.events import Event
from trade_engine.core.limits import FieldLimitError, check_fields
from trade_engine.wire import msgpack_codec

RECORD_VERSION: Final = 1


class JournalEntry(NamedTuple):
    seq: int
    ts: int
    command: Command
    events: list[Event]


_CmdOnly: Any = msgspec.defstruct("_CmdOnly", [("v", int), ("c", msgpack_codec.COMMAND_UNION)])
_Full: Any = msgspec.defstruct(
    "_Full",
    [("v", int), ("c", msgpack_codec.COMMAND_UNION), ("e", list[msgpack_codec.EVENT_UNION])],
)
_cmd_decoder: Any = msgspec.msgpack.Decoder(_CmdOnly)
_one_cmd_decoder: Any = msgspec.msgpack.Decoder(msgpack_codec.COMMAND_UNION)
_COMMAND_TYPES = frozenset(COMMAND_TYPES)
_full_decoder: Any = msgspec.msgpack.Decoder(_Full)


def encode_record(cmd: Command | bytes, events: list[Event]) -> bytes:
    """The payload of one journal record; ``cmd`` may be its msgpack from ``check_command``."""
    c = msgspec.Raw(cmd) if isinstance(cmd, bytes) else cmd
    return msgpack_codec.encode({"v": RECORD_VERSION, "c": c, "e": events})


class InvalidCommand(ValueError):
    """A command that may not be journaled: a field outside its limit (``field`` names it,
    ``core.limits``), or fields without their declared types (it could not be read back)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def check_command(cmd: Command) -> bytes:
    """The command's msgpack, or InvalidCommand if a field is outside its limit
    (``core.limits``) or it would not survive the journal round trip unchanged. The bytes go
    into its record as they are (``encode_record``): encoded once."""
    if type(cmd) not in _COMMAND_TYPES:
        raise InvalidCommand(f"not a command: {type(cmd).__name__}")
    try:
        # before encoding: a 900 KB symbol or a 2**200 deposit costs nothing more here
        check_fields(cmd)
    except FieldLimitError as exc:
        raise InvalidCommand(str(exc), exc.field) from None
    try:
        data = msgpack_codec.encode(cmd)
        back = _one_cmd_decoder.decode(data)
    except msgspec.ValidationError:
        try:
            back = msgspec.convert(msgpack_codec.decode(data), msgpack_codec.COMMAND_UNION)
        except msgspec.ValidationError as exc:
            raise InvalidCommand(f"{type(cmd).__name__}: {exc}") from None
    except (TypeError, OverflowError) as exc:
        raise InvalidCommand(f"{type(cmd).__name__}: {exc}") from None
    if back != cmd:
        raise InvalidCommand(f"{type(cmd).__name__} does not survive encoding unchanged")
    return data


def _decode(payload: bytes | memoryview, decoder: Any, typ: Any) -> Any:
    try:
        rec = decoder.decode(payload)
    except msgspec.ValidationError:
        # integers beyond 64 bits travel as msgpack ext: take the converting path
        rec = msgspec.convert(msgpack_codec.decode(payload), typ)
    if rec.v != RECORD_VERSION:
        raise ValueError(f"journal record version {rec.v} is not readable by this release")
    return rec


def decode_command(payload: bytes | memoryview) -> Command:
    cmd: Command = _decode(payload, _cmd_decoder, _CmdOnly).c
    return cmd


def decode_entry(seq: int, ts: int, payload: bytes | memoryview) -> JournalEntry:
    rec = _decode(payload, _full_decoder, _Full)
    return JournalEntry(seq, ts, rec.c, rec.e)
