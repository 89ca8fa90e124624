"""The message set of the native protocol (version 1), shared by the server and the client.

Every frame body is a msgpack map whose ``"type"`` names the message. Commands and events
inside messages keep the core's own tagged form (``{"type": "PlaceOrder", ...}``), so the wire
and the journal speak the same records. Unknown fields are ignored, so fields can be added
within a protocol version; removing or changing one needs a new version. docs/protocol.md is
the reference.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

import msgspec

from trade_engine.core.commands import Command
from trade_engine.core.events import Event
from trade_engine.wire import msgpack_codec

PROTOCOL_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = frozenset({1})


class ErrorCode(StrEnum):
    """Stable error codes: clients key on these strings. Never rename one, only add."""

    # framing: the stream is out of sync, the session is closed
    FRAME_TOO_LARGE = "FRAME_TOO_LARGE"
    # content: one bad frame, the session goes on
    MALFORMED_FRAME = "MALFORMED_FRAME"  # body is not msgpack
    NOT_A_MAP = "NOT_A_MAP"
    UNKNOWN_MESSAGE = "UNKNOWN_MESSAGE"
    INVALID_MESSAGE = "INVALID_MESSAGE"  # missing or mistyped fields of the message itself
    BAD_COMMAND = "BAD_COMMAND"  # the command inside a Command message does not parse
    INVALID_FIELD = "INVALID_FIELD"  # a command field outside its limit (core.limits): `field`
    # session
    NOT_LOGGED_IN = "NOT_LOGGED_IN"
    ALREADY_LOGGED_IN = "ALREADY_LOGGED_IN"
    UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
    AUTH_FAILED = "AUTH_FAILED"
    STALE_TIMESTAMP = "STALE_TIMESTAMP"
    NONCE_REUSED = "NONCE_REUSED"
    LOGON_TIMEOUT = "LOGON_TIMEOUT"
    HEARTBEAT_TIMEOUT = "HEARTBEAT_TIMEOUT"
    SLOW_CONSUMER = "SLOW_CONSUMER"
    TOO_MANY_ERRORS = "TOO_MANY_ERRORS"
    SHUTTING_DOWN = "SHUTTING_DOWN"
    # authorization
    FORBIDDEN = "FORBIDDEN"
    NOT_OWNER = "NOT_OWNER"
    # requests
    UNKNOWN_QUERY = "UNKNOWN_QUERY"
    BAD_QUERY = "BAD_QUERY"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_NUMBER = "INVALID_NUMBER"
    SEQ_TOO_OLD = "SEQ_TOO_OLD"
    SEQ_IN_FUTURE = "SEQ_IN_FUTURE"  # a subscription start beyond the next seq to be committed
    DUPLICATE_ID = "DUPLICATE_ID"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    UNAVAILABLE = "UNAVAILABLE"  # the sequencer has stopped
    DISK_FULL = "DISK_FULL"  # the journal's disk is below its free-space guard: retry later
    INTERNAL = "INTERNAL"


class Message(msgspec.Struct, tag=True, omit_defaults=True):
    """Base of every message; the tag (``"type"``) is the class name unless set."""


# ---------------------------------------------------------------- both directions


class Heartbeat(Message):
    pass


class Logout(Message):
    pass


# ---------------------------------------------------------------- client -> server


class Logon(Message):
    version: int
    api_key: str
    ts: int  # client wall clock, ns since the Unix epoch
    nonce: str
    signature: str  # hex HMAC-SHA256(secret, f"{api_key}\n{ts}\n{nonce}")
    heartbeat_ms: int = 0  # 0: the server's default


class CommandRequest(Message, tag="Command"):
    id: int
    command: Command


class Query(Message):
    id: int
    kind: str
    args: dict[str, Any] = msgspec.field(default_factory=dict)


class Subscribe(Message):
    id: int
    from_seq: int


class Unsubscribe(Message):
    id: int  # the Subscribe's id


# ---------------------------------------------------------------- server -> client


class LogonAck(Message):
    version: int
    user_id: int
    role: str
    last_seq: int  # last durable seq at logon
    heartbeat_ms: int  # the interval in force for this session
    max_frame_bytes: int


class Result(Message):
    id: int
    seq: int
    ts: int
    events: list[Event]


class Busy(Message):
    id: int


class Error(Message):
    code: str
    message: str = ""
    id: int | None = None  # the request it answers, if any
    fatal: bool = False  # the server closes the session after this frame
    field: str = ""  # INVALID_FIELD: which one, e.g. "PlaceOrder.symbol"


class QueryResult(Message):
    id: int
    seq: int  # the state is as of this (durable) seq
    data: Any


class Entry(Message):
    id: int  # the Subscribe's id
    seq: int
    ts: int
    command: Command
    events: list[Event]


class Subscribed(Message):
    """A Subscribe was accepted: its entries from ``from_seq`` on follow (none before this)."""

    id: int
    from_seq: int  # the first seq it will deliver (a from_seq of 0 is 1)


class Unsubscribed(Message):
    id: int


ClientMessage = Logon | Heartbeat | CommandRequest | Query | Subscribe | Unsubscribe | Logout
ServerMessage = (
    LogonAck
    | Heartbeat
    | Result
    | Busy
    | Error
    | QueryResult
    | Entry
    | Subscribed
    | Unsubscribed
    | Logout
)
SERVER_TYPES: Final = frozenset(t.__struct_config__.tag for t in ServerMessage.__args__)
CLIENT_TYPES: Final = frozenset(
    {"Logon", "Heartbeat", "Command", "Query", "Subscribe", "Unsubscribe", "Logout"}
)


class ProtocolError(Exception):
    """A frame that cannot be accepted; ``request_id`` when the frame carried one."""

    def __init__(self, code: ErrorCode, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


_ext_hook = msgpack_codec.ext_hook  # strict big integers; any other ext is refused
_client_decoder: Any = msgspec.msgpack.Decoder(ClientMessage, ext_hook=_ext_hook)
_server_decoder: Any = msgspec.msgpack.Decoder(ServerMessage, ext_hook=_ext_hook)
encode = msgpack_codec.encode


def decode_client(body: bytes) -> ClientMessage:
    """A typed client message, or ProtocolError with the most precise code.

    Whatever a peer's bytes make the decoders raise ends here as a ProtocolError: besides
    msgspec's own errors, the ext hook's WireFormatError and the RecursionError of deep nesting
    (which msgspec raises itself and which no session handler should ever see).
    """
    try:
        return _client_decoder.decode(body)  # type: ignore[no-any-return]
    except msgspec.ValidationError:
        pass  # a real problem, or an ext-coded big integer: classify on the plain form
    except (msgspec.DecodeError, msgpack_codec.WireFormatError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.MALFORMED_FRAME, _not_msgpack(exc)) from None
    try:
        plain = msgpack_codec.decode(body)
    except (msgspec.DecodeError, ValueError) as exc:
        raise ProtocolError(ErrorCode.MALFORMED_FRAME, _not_msgpack(exc)) from None
    if not isinstance(plain, dict):
        raise ProtocolError(ErrorCode.NOT_A_MAP, f"body is a {type(plain).__name__}, not a map")
    rid = plain.get("id")
    request_id = rid if type(rid) is int else None
    mtype = plain.get("type")
    if mtype not in CLIENT_TYPES:
        raise ProtocolError(
            ErrorCode.UNKNOWN_MESSAGE, f"unknown message type {mtype!r}", request_id
        )
    try:
        return msgspec.convert(plain, ClientMessage)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        text = str(exc)
        code = ErrorCode.BAD_COMMAND if "$.command" in text else ErrorCode.INVALID_MESSAGE
        raise ProtocolError(code, f"{mtype}: {text}", request_id) from None
    except RecursionError as exc:
        raise ProtocolError(ErrorCode.MALFORMED_FRAME, _not_msgpack(exc), request_id) from None


def _not_msgpack(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        exc = msgpack_codec.nested_too_deeply(exc)
    return f"body is not msgpack of this protocol: {exc}"


def decode_server(body: bytes) -> ServerMessage | None:
    """A typed server message (the client's side), None for a message type this release does
    not know (the protocol may add them within a version); msgspec errors propagate."""
    try:
        return _server_decoder.decode(body)  # type: ignore[no-any-return]
    except msgspec.ValidationError:
        # ext-coded big integers in typed fields, or a newer message: use the plain form
        plain = msgpack_codec.decode(body)
        if isinstance(plain, dict) and plain.get("type") not in SERVER_TYPES:
            return None
        return msgspec.convert(plain, ServerMessage)  # type: ignore[no-any-return]


def _entry_prefix() -> bytes:
    head = encode({"type": "Entry", "id": 0})
    # fixmap(2) "type" "Entry" "id" 0  ->  drop the header and the trailing id value
    assert head[0] == 0x82 and head[-1] == 0x00
    return b"\x86" + head[1:-1]


_ENTRY_PREFIX: Final = _entry_prefix()


class EntryBodies:
    """Entry frame bodies, encoding each journal entry once for all its subscribers.

    A msgpack map is a header followed by its key/value pairs, so the shared part (seq, ts,
    command, events) is encoded once per seq and only the subscription id differs. With a
    handful of sinks on one stream this saves most of the fan-out's encoding time.
    """

    __slots__ = ("_cache", "_size")

    def __init__(self, size: int = 4096) -> None:
        self._cache: dict[int, bytes] = {}
        self._size = size

    def body(self, sub_id: int, seq: int, ts: int, command: Any, events: list[Any]) -> bytes:
        cache = self._cache
        kv = cache.get(seq)
        if kv is None:
            full = encode({"seq": seq, "ts": ts, "command": command, "events": events})
            kv = full[1:]  # drop the fixmap(4) header
            if len(cache) >= self._size:
                del cache[next(iter(cache))]
            cache[seq] = kv
        return b"".join((_ENTRY_PREFIX, encode(sub_id), kv))
