"""Sans-I/O pieces: framing, message decoding, logon verification, authorization."""

from __future__ import annotations

import struct

import pytest

from trade_engine.core.commands import (
    AddAsset,
    AmendOrder,
    Deposit,
    MassCancel,
    PlaceOrder,
    SuspendUser,
    Withdraw,
)
from trade_engine.core.enums import Side
from trade_engine.gateway.access import Credential, authorize
from trade_engine.gateway.errors import AccessError
from trade_engine.native.logon import Authenticator, AuthError
from trade_engine.protocol.frames import FrameDecoder, pack
from trade_engine.protocol.messages import (
    CommandRequest,
    EntryBodies,
    ErrorCode,
    ProtocolError,
    decode_client,
    decode_server,
    encode,
)
from trade_engine.protocol.signing import sign


def test_frames_split_and_joined_anywhere() -> None:
    bodies = [b"a", b"", b"x" * 1000, bytes(range(256))]
    stream = b"".join(pack(b) for b in bodies)
    for cut in range(0, len(stream), 7):
        d = FrameDecoder()
        out = d.feed(stream[:cut]) + d.feed(stream[cut:])
        assert out == bodies and d.buffered == 0
    d = FrameDecoder()
    out = [f for i in range(len(stream)) for f in d.feed(stream[i : i + 1])]
    assert out == bodies


def test_oversized_frame_stops_the_decoder_after_the_good_ones() -> None:
    d = FrameDecoder(max_frame=10)
    out = d.feed(pack(b"ok") + struct.pack(">I", 11) + b"z" * 11 + pack(b"never"))
    assert out == [b"ok"]
    assert d.error is not None and d.error.size == 11
    assert d.feed(pack(b"more")) == []


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


def test_authenticator_window_and_nonce_memory() -> None:
    now = [1_000 * 10**9]
    cred = Credential("k", "secret", "user", 5)
    auth = Authenticator({"k": cred}, window_ns=30 * 10**9, clock=lambda: now[0])

    def logon(ts: int, nonce: str, secret: str = "secret") -> None:
        auth.verify("k", ts, nonce, sign("k", secret, ts, nonce))

    logon(now[0], "a")
    with pytest.raises(AuthError) as ei:
        logon(now[0], "a")
    assert ei.value.code == ErrorCode.NONCE_REUSED
    with pytest.raises(AuthError) as ei:
        logon(now[0] - 31 * 10**9, "b")
    assert ei.value.code == ErrorCode.STALE_TIMESTAMP
    with pytest.raises(AuthError) as ei:
        logon(now[0], "c", secret="guess")
    assert ei.value.code == ErrorCode.AUTH_FAILED
    with pytest.raises(AuthError) as ei:
        auth.verify("k", now[0], "d", sign("k", "secret", now[0], "d").upper() + "0")
    assert ei.value.code == ErrorCode.AUTH_FAILED
    # a nonce is forgotten once its ts is out of the window; replaying it is stale anyway
    first = now[0]
    now[0] += 31 * 10**9
    logon(now[0], "e")
    assert ("k", "a") not in auth._seen
    with pytest.raises(AuthError) as ei:
        logon(first, "a")
    assert ei.value.code == ErrorCode.STALE_TIMESTAMP
    # upper-case hex is accepted
    auth.verify("k", now[0], "f", sign("k", "secret", now[0], "f").upper())


def test_authorize_table() -> None:
    user = Credential("u", "s", "user", 1)
    gw = Credential("g", "s", "gateway", 0)
    op = Credential("o", "s", "operator", 0)
    mine = PlaceOrder(1, "S", "c", Side.BUY, qty=1, price=1)
    theirs = PlaceOrder(2, "S", "c", Side.BUY, qty=1, price=1)
    assert authorize(user, mine) is mine
    assert authorize(gw, theirs) is theirs
    with pytest.raises(AccessError):
        authorize(user, theirs)
    with pytest.raises(AccessError):
        authorize(user, AmendOrder(2, "S", order_id=1, new_qty=3))
    assert authorize(user, MassCancel()).user_id == 1
    assert authorize(user, MassCancel(symbol="S")) == MassCancel(1, "S")
    with pytest.raises(AccessError):
        authorize(gw, MassCancel(operator="me"))
    assert authorize(op, MassCancel()).operator == "o"
    for cmd in (Deposit(1, "A", 1, "t"), Withdraw(1, "A", 1, "t")):
        with pytest.raises(AccessError):
            authorize(user, cmd)
        assert authorize(gw, cmd).operator == "g"
    for cmd in (AddAsset("X", 1), SuspendUser(3)):
        with pytest.raises(AccessError):
            authorize(gw, cmd)
        assert authorize(op, cmd).operator == "o"
