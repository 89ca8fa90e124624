"""Hostile or careless clients on a real server: malformed content, oversized fields,
subscriptions that would never start (issue 8, items 2, 4 and 7)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import msgspec
import pytest
from helpers.aio import run
from helpers.native import BACKENDS, SETUP_SEQ, SYMBOL, Harness, harness

from trade_engine.client import ServerError
from trade_engine.core.commands import Deposit, PlaceOrder
from trade_engine.core.enums import Side
from trade_engine.core.events import OrderAccepted
from trade_engine.protocol.frames import pack

_QUERY_ARGS_X = b"\x84\xa4type\xa5Query\xa2id\x0c\xa4kind\xa6assets\xa4args\x81\xa1x"


def _ext(code: int, data: bytes) -> bytes:
    return msgspec.msgpack.encode(msgspec.msgpack.Ext(code, data))


# bodies that used to end the session with no Error and no log line
MALFORMED = {
    "deep nesting": b"\x91" * 100_000 + b"\x00",
    "deep nesting in Query.args": _QUERY_ARGS_X + b"\x91" * 100_000 + b"\x00",
    "ext type 5": _QUERY_ARGS_X + _ext(5, b"\x00"),
    "5,000-digit big integer": _QUERY_ARGS_X + _ext(1, b"7" * 5000),
    "non-digit big integer": _QUERY_ARGS_X + _ext(1, b"abc"),
    "lenient big integer": _QUERY_ARGS_X + _ext(1, b" 1_000 "),
    "non-ASCII big integer": _QUERY_ARGS_X + _ext(1, b"\xff"),
}


@pytest.mark.parametrize("logged_on", [False, True])
def test_malformed_content_is_answered_logged_and_counted(
    logged_on: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        async with harness("real", max_errors=len(MALFORMED)) as h:
            bad = await h.raw()
            if logged_on:
                bad.logon("gw")
                await bad.recv_type("LogonAck")
            for name, body in MALFORMED.items():
                bad.send_bytes(pack(body))
                err = await bad.recv_type("Error")
                assert err["code"] == "MALFORMED_FRAME", (name, err)
                assert not err.get("fatal", False), name
            # the session goes on ...
            bad.send({"type": "Heartbeat"})
            if logged_on:
                bad.send({"type": "Query", "id": 99, "kind": "assets"})
                assert (await bad.recv_type("QueryResult"))["id"] == 99
            # ... and these were content errors like any other: one more is one too many
            bad.send_bytes(pack(MALFORMED["ext type 5"]))
            frames = await bad.closed()
            assert [f["code"] for f in frames if f["type"] == "Error"] == ["TOO_MANY_ERRORS"]

    with caplog.at_level(logging.INFO, logger="trade_engine.native"):
        run(main())
    logged = [r.getMessage() for r in caplog.records if "MALFORMED_FRAME" in r.getMessage()]
    assert len(logged) == len(MALFORMED) + 1, logged  # + the one that ended the session


def _journal_bytes(h: Harness) -> int:
    return sum(p.stat().st_size for p in Path(h.sock_dir, "data").rglob("*") if p.is_file())


def test_oversized_fields_are_refused_at_the_door_and_never_journaled() -> None:
    async def main() -> None:
        async with harness("real", max_frame_bytes=4 << 20) as h:
            u1 = await h.client("u1")
            gw = await h.client("gw")
            seq, size = h.seqr.committed_seq, _journal_bytes(h)
            refused = [
                (u1, PlaceOrder(1, "B" * 900_000, "c1", Side.BUY, qty=1, price=1), "symbol"),
                (u1, PlaceOrder(1, SYMBOL, "x" * 65, Side.BUY, qty=1, price=1), "client_order_id"),
                (u1, PlaceOrder(1, SYMBOL, "c 1", Side.BUY, qty=1, price=1), "client_order_id"),
                (u1, PlaceOrder(1, SYMBOL, "c1", Side.BUY, qty=2**129, price=1), "qty"),
                (gw, Deposit(1, "USDT", 2**200, "dep-big"), "amount"),
                (gw, Deposit(1, "USDT", 1, "t" * 129), "transfer_id"),
                (gw, Deposit(1, "USD\u00a0T", 1, "dep-nbsp"), "asset"),
                (gw, Deposit(2**64, "USDT", 1, "dep-user"), "user_id"),
            ]
            for client, cmd, field in refused:
                with pytest.raises(ServerError) as ei:
                    await client.submit(cmd)
                name = f"{type(cmd).__name__}.{field}"
                assert (ei.value.code, ei.value.field) == ("INVALID_FIELD", name), ei.value
                assert name in ei.value.message and len(ei.value.message) < 300
            assert h.seqr.committed_seq == seq == SETUP_SEQ
            assert _journal_bytes(h) == size
            # at the limits, still accepted (an 18-decimal token amount of 10**30 units)
            r = await gw.submit(Deposit(1, "ETH", 10**30, "d" * 128))
            assert r.events[0].amount == 10**30
            r = await u1.submit(PlaceOrder(1, SYMBOL, "c" * 64, Side.BUY, qty=1, price=1))
            assert isinstance(r.events[0], OrderAccepted)

    run(main())


def test_logon_fields_have_limits() -> None:
    async def main() -> None:
        async with harness("real") as h:
            for field, value in [("api_key", "k" * 500_000), ("nonce", "n n"), ("signature", "zz")]:
                raw = await h.raw()
                msg = {"type": "Logon", "version": 1, "api_key": "gw", "ts": 0, "nonce": "n1"}
                raw.send(msg | {"signature": "00", field: value})
                frames = await raw.closed()
                assert [(f["code"], f["fatal"]) for f in frames] == [("AUTH_FAILED", True)]
                assert frames[0]["message"].startswith(field), frames

    run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_subscribe_is_acknowledged_or_refused(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            raw = await h.raw()
            raw.logon("gw")
            await raw.recv_type("LogonAck")
            nxt = h.seqr.committed_seq + 1
            # the next seq: nothing to send yet, but the start is acknowledged at once
            raw.send({"type": "Subscribe", "id": 1, "from_seq": nxt})
            assert await raw.recv_type("Subscribed", timeout=2) == {
                "type": "Subscribed",
                "id": 1,
                "from_seq": nxt,
            }
            # beyond it: refused, not left waiting
            raw.send({"type": "Subscribe", "id": 2, "from_seq": nxt + 100})
            err = await raw.recv_type("Error", timeout=2)
            assert (err["code"], err["id"]) == ("SEQ_IN_FUTURE", 2), err
            # from the start: Subscribed comes before the first Entry
            raw.send({"type": "Subscribe", "id": 3, "from_seq": 0})
            ack = await raw.recv_type("Subscribed")
            assert (ack["id"], ack["from_seq"]) == (3, 1)
            assert [(await raw.recv_type("Entry"))["seq"] for _ in range(SETUP_SEQ)] == list(
                range(1, SETUP_SEQ + 1)
            )
            gw = await h.client("gw")
            with pytest.raises(ServerError) as ei:
                async with asyncio.timeout(2):
                    async for _ in gw.subscribe(nxt + 5):
                        pass
            assert ei.value.code == "SEQ_IN_FUTURE"
            await gw.submit(PlaceOrder(1, SYMBOL, "s1", Side.BUY, qty=1, price=1))
            async for e in gw.subscribe(nxt):
                assert e.seq == nxt
                break

    run(main())


def test_a_full_disk_is_told_as_disk_full_and_passes() -> None:
    async def main() -> None:
        async with harness("real") as h:
            u1 = await h.client("u1")
            seqr = h.seqr
            # the guard sees less free space than it wants (as on a filling disk)
            seqr.config = dataclasses.replace(seqr.config, min_free_mib=2**40)
            seqr._check_disk()
            with pytest.raises(ServerError) as ei:
                await u1.submit(PlaceOrder(1, SYMBOL, "df1", Side.BUY, qty=1, price=1))
            assert ei.value.code == "DISK_FULL" and "min_free_mib" in ei.value.message
            assert not u1.closed  # not fatal: the session goes on
            seqr.config = dataclasses.replace(seqr.config, min_free_mib=1)
            seqr._check_disk()
            r = await u1.submit(PlaceOrder(1, SYMBOL, "df1", Side.BUY, qty=1, price=1))
            assert isinstance(r.events[0], OrderAccepted)

    run(main())
