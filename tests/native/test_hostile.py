"""Hostile or careless clients on a real server: malformed content, oversized fields,
subscriptions that would never start (issue 8, items 2, 4 and 7)."""

from __future__ import annotations

import logging

import msgspec
import pytest
from helpers.aio import run
from helpers.native import harness

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
