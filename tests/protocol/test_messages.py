"""protocol.messages: decoding client messages (with their error codes) and the shared
encoding of entry bodies."""

from __future__ import annotations

import pytest

from trade_engine.core.commands import PlaceOrder
from trade_engine.core.enums import Side
from trade_engine.protocol.messages import (
    CommandRequest,
    EntryBodies,
    ErrorCode,
    ProtocolError,
    decode_client,
    decode_server,
    encode,
)


def test_decode_client_codes() -> None:
    po = PlaceOrder(1, "S", "c", Side.BUY, qty=1, price=1)
    assert decode_client(encode(CommandRequest(3, po))) == CommandRequest(3, po)
    cases = [
        (b"\xc1", ErrorCode.MALFORMED_FRAME, None),
        (encode("text"), ErrorCode.NOT_A_MAP, None),
        (encode({"type": "Result", "id": 4}), ErrorCode.UNKNOWN_MESSAGE, 4),
        (encode({"id": 4}), ErrorCode.UNKNOWN_MESSAGE, 4),
        (encode({"type": "Subscribe", "id": 5}), ErrorCode.INVALID_MESSAGE, 5),
        (encode({"type": "Command", "id": 6, "command": 1}), ErrorCode.BAD_COMMAND, 6),
        (
            encode({"type": "Command", "id": 7, "command": {"type": "PlaceOrder", "user_id": "1"}}),
            ErrorCode.BAD_COMMAND,
            7,
        ),
    ]
    for body, code, rid in cases:
        with pytest.raises(ProtocolError) as ei:
            decode_client(body)
        assert (ei.value.code, ei.value.request_id) == (code, rid), body


def test_entry_bodies_share_the_encoding() -> None:
    eb = EntryBodies(size=2)
    po = PlaceOrder(1, "S", "c", Side.BUY, qty=1, price=1)
    a = decode_server(eb.body(1, 10, 99, po, []))
    b = decode_server(eb.body(2**40, 10, 99, po, []))
    assert (a.id, b.id, a.seq, a.command) == (1, 2**40, 10, po)
    for seq in (11, 12, 13):
        eb.body(1, seq, 0, po, [])
    assert len(eb._cache) == 2


def test_decode_server_skips_message_types_it_does_not_know() -> None:
    # a newer server may send new message types within version 1 (docs/protocol.md)
    assert decode_server(encode({"type": "SomethingNew", "id": 1})) is None
    assert decode_server(encode({"type": "Subscribed", "id": 2, "from_seq": 5})) is not None
