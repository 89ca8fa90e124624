"""Logon, commands, roles, Busy, heartbeats: over TCP and Unix sockets, fake and real sequencer."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers.aio import run
from helpers.native import BACKENDS, CREDENTIALS, SETUP_SEQ, SYMBOL, harness

from trade_engine.client import BusyError, ConnectionLost, EngineClient, LogonError, ServerError
from trade_engine.core.commands import (
    AddAsset,
    CancelOrder,
    Deposit,
    MassCancel,
    PlaceOrder,
    SetSymbolStatus,
)
from trade_engine.core.enums import Side, SymbolStatus
from trade_engine.core.events import (
    AssetAdded,
    MassCancelled,
    OrderAccepted,
    OrderCancelled,
    Rejected,
    TransferApplied,
)
from trade_engine.protocol.frames import pack
from trade_engine.protocol.messages import LogonAck, encode


def buy(user: int, coid: str, qty: int = 10, price: int = 5_000_000) -> PlaceOrder:
    return PlaceOrder(user, SYMBOL, coid, Side.BUY, qty=qty, price=price)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("unix", [False, True])
def test_logon_and_command_round_trip(backend: str, unix: bool) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            c = await h.client("u1", unix=unix)
            assert (c.user_id, c.role, c.last_seq) == (1, "user", SETUP_SEQ)
            r = await c.submit(buy(1, "a"))
            assert r.seq == SETUP_SEQ + 1 and r.ts > 0
            assert isinstance(r.events[0], OrderAccepted)
            assert r.events[0].client_order_id == "a"
            assert h.seqr.committed_seq >= r.seq  # answered only once durable
            # an engine rejection is a normal Result (it is journaled), not an Error
            r2 = await c.submit(buy(1, "b", price=0))
            assert isinstance(r2.events[0], Rejected) and r2.seq == r.seq + 1

    run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_pipelined_commands(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            c = await h.client("gw")
            n = 3000
            t0 = time.perf_counter()
            futs = [c.submit_nowait(buy(1 + i % 2, f"p{i}", price=4_000_000 + i)) for i in range(n)]
            results = await asyncio.gather(*futs)
            dt = time.perf_counter() - t0
            seqs = [r.seq for r in results]
            # one session's commands are sequenced in the order it sent them
            assert seqs == list(range(SETUP_SEQ + 1, SETUP_SEQ + n + 1))
            assert all(isinstance(r.events[0], OrderAccepted) for r in results)
            assert len(h.seqr.engine.orders) == n
            print(f"{backend}: {n} pipelined commands in {dt * 1000:.0f} ms")

    run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_logon_refusals(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            with pytest.raises(LogonError) as ei:
                await EngineClient.connect(h.tcp, "u1", "wrong-secret")
            assert ei.value.code == "AUTH_FAILED"
            with pytest.raises(LogonError) as ei:
                await EngineClient.connect(h.tcp, "nobody", "x")
            assert ei.value.code == "AUTH_FAILED"

            for skew in (-31, +31):
                conn = await h.raw()
                conn.logon("u1", ts=time.time_ns() + skew * 10**9)
                frames = await conn.closed()
                assert frames[-1]["code"] == "STALE_TIMESTAMP" and frames[-1]["fatal"]

            conn = await h.raw()
            conn.logon("u1", nonce="n-1")
            assert (await conn.recv_type("LogonAck"))["user_id"] == 1
            again = await h.raw(unix=True)
            again.logon("u1", nonce="n-1")
            frames = await again.closed()
            assert [f["code"] for f in frames] == ["NONCE_REUSED"]
            other = await h.raw()
            other.logon("u2", nonce="n-1")  # nonces are per key
            assert (await other.recv_type("LogonAck"))["user_id"] == 2

            conn = await h.raw()
            conn.logon("u1", version=99)
            frames = await conn.closed()
            assert frames[-1]["code"] == "UNSUPPORTED_VERSION"

    run(main())


@pytest.mark.parametrize("backend", ["fake"])
def test_nothing_but_logon_before_logon(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            conn = await h.raw()
            conn.send({"type": "Query", "id": 5, "kind": "symbols"})
            conn.send({"type": "Heartbeat"})
            err = await conn.recv_type("Error")
            assert (err["code"], err["id"], err.get("fatal", False)) == ("NOT_LOGGED_IN", 5, False)
            conn.logon("u1")
            await conn.recv_type("LogonAck")
            conn.send({"type": "Query", "id": 6, "kind": "symbols"})
            assert (await conn.recv_type("QueryResult"))["id"] == 6
            conn.logon("u1")
            assert (await conn.recv_type("Error"))["code"] == "ALREADY_LOGGED_IN"

    run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_roles(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            u1 = await h.client("u1")
            with pytest.raises(ServerError) as ei:
                await u1.submit(buy(2, "x"))
            assert ei.value.code == "NOT_OWNER"
            with pytest.raises(ServerError) as ei:
                await u1.submit(CancelOrder(2, SYMBOL, order_id=1))
            assert ei.value.code == "NOT_OWNER"
            for admin in (
                AddAsset("DOGE", 8),
                Deposit(1, "USDT", 1, "free-money"),
                SetSymbolStatus(SYMBOL, SymbolStatus.HALTED),
                MassCancel(0, operator="me"),
            ):
                with pytest.raises(ServerError) as ei:
                    await u1.submit(admin)
                assert ei.value.code == "FORBIDDEN", admin
            # a user's mass cancel is made its own
            await u1.submit(buy(1, "m1"))
            r = await u1.submit(MassCancel())
            mc = [e for e in r.events if isinstance(e, MassCancelled)]
            assert mc[0].user_id == 1 and mc[0].cancelled == 1
            with pytest.raises(ServerError) as ei:
                await u1.query("balances", user_id=2)
            assert ei.value.code == "NOT_OWNER"
            with pytest.raises(ServerError) as ei:
                async for _ in u1.subscribe(1):
                    pass
            assert ei.value.code == "FORBIDDEN"

            gw = await h.client("gw")
            r = await gw.submit(buy(2, "g1"))
            assert isinstance(r.events[0], OrderAccepted) and r.events[0].user_id == 2
            r = await gw.submit(Deposit(2, "USDT", 5, "gw-dep", operator="someone-else"))
            ta = r.events[0]
            assert isinstance(ta, TransferApplied) and ta.operator == "gw"  # the credential
            with pytest.raises(ServerError) as ei:
                await gw.submit(AddAsset("DOGE", 8))
            assert ei.value.code == "FORBIDDEN"

            op = await h.client("op")
            r = await op.submit(AddAsset("DOGE", 8, operator="spoofed"))
            assert isinstance(r.events[0], AssetAdded) and r.events[0].operator == "op"
            r = await op.submit(MassCancel(0))
            cancelled = [e for e in r.events if isinstance(e, OrderCancelled)]
            assert [e.client_order_id for e in cancelled] == ["g1"]

    run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_busy_when_the_queue_is_full(backend: str) -> None:
    async def main() -> None:
        async with harness(backend, setup=False, start=False, max_queue=5) as h:
            c = await h.client("op")
            futs = [c.submit_nowait(AddAsset(f"A{i}", 8)) for i in range(20)]
            # the sequencer is not running: exactly max_queue commands wait, the rest are Busy
            while sum(f.done() for f in futs) < 15:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            assert all(isinstance(f.exception(), BusyError) for f in futs if f.done())
            assert sum(f.done() for f in futs) == 15
            h.start()
            ok = [await f for f in futs if not (f.done() and isinstance(f.exception(), BusyError))]
            assert [r.seq for r in ok] == [1, 2, 3, 4, 5]
            assert len(h.seqr.engine.assets) == 5  # Busy commands were never sequenced

    run(main())


@pytest.mark.parametrize("backend", ["fake"])
def test_heartbeat_timeout_closes_a_silent_session(backend: str) -> None:
    async def main() -> None:
        async with harness(backend, min_heartbeat_seconds=0.05, logon_timeout_seconds=0.3) as h:
            conn = await h.raw()
            conn.logon("gw", heartbeat_ms=100)
            ack = await conn.recv_type("LogonAck")
            assert ack["heartbeat_ms"] == 100
            t0 = time.monotonic()
            frames = await conn.closed(timeout=3)
            dt = time.monotonic() - t0
            assert frames[-1]["code"] == "HEARTBEAT_TIMEOUT" and frames[-1]["fatal"]
            assert any(f["type"] == "Heartbeat" for f in frames)  # the server kept talking
            assert 0.25 < dt < 1.0

            # the client library heartbeats on its own: an idle session stays up
            c = await h.client("gw", heartbeat_seconds=0.1)
            await asyncio.sleep(0.6)
            assert await c.query("assets")

            # no Logon at all
            silent = await h.raw()
            frames = await silent.closed(timeout=3)
            assert [f["code"] for f in frames] == ["LOGON_TIMEOUT"]

    run(main())


@pytest.mark.parametrize("backend", ["fake"])
def test_server_shutdown_reaches_clients(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            c = await h.client("gw")
            h.server.close()
            with pytest.raises(ConnectionLost) as ei:
                await c.query("assets")
            assert ei.value.code == "SHUTTING_DOWN"

    run(main())


def test_client_notices_a_silent_server() -> None:
    """A server that acks the logon and then says nothing is dropped after 3 intervals."""

    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1 << 16)  # the Logon
            writer.write(pack(encode(LogonAck(1, 7, "gateway", 0, 100, 1 << 20))))
            await reader.read(1 << 16)
            await asyncio.sleep(5)

        srv = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        c = await EngineClient.connect(("127.0.0.1", port), "k", "s", heartbeat_seconds=0.1)
        assert c.user_id == 7 and c.heartbeat_seconds == 0.1
        t0 = time.monotonic()
        with pytest.raises(ConnectionLost) as ei:
            await c.query("assets")
        assert ei.value.code == "HEARTBEAT_TIMEOUT"
        assert 0.25 < time.monotonic() - t0 < 1.0
        await c.close()
        srv.close()

    run(main())


@pytest.mark.parametrize("backend", ["fake"])
def test_big_integers_travel(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            gw = await h.client("gw")
            wei = 123 * 10**24  # beyond 64 bits
            r = await gw.submit(Deposit(1, "ETH", wei, "eth-1"))
            assert r.events[0].amount == wei
            bal = {b["asset"]: b for b in await gw.query("balances", user_id=1)}
            assert bal["ETH"]["available"] == wei
            async for e in gw.subscribe(r.seq):
                assert e.events[0].amount == wei
                break

    run(main())


def test_credentials_are_config_like() -> None:
    # the engine process passes its pydantic CredentialConfig objects
    from trade_engine.config import CredentialConfig
    from trade_engine.native.logon import Authenticator
    from trade_engine.protocol.signing import sign

    cfg = CredentialConfig(api_key="k", secret="s" * 8, role="gateway")
    auth = Authenticator({"k": cfg})
    ts = time.time_ns()
    assert auth.verify("k", ts, "n", sign("k", "s" * 8, ts, "n")) is cfg
    assert CREDENTIALS["u1"].role == "user"


def test_per_session_inflight_limit_and_internal_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async with harness("fake", max_inflight=3) as h:
            gw = await h.client("gw")
            h.seqr.hold()
            futs = [gw.submit_nowait(buy(1, f"i{i}")) for i in range(5)]
            await asyncio.sleep(0.1)
            assert [f.done() for f in futs] == [False, False, False, True, True]
            assert all(isinstance(f.exception(), BusyError) for f in futs[3:])
            h.seqr.release()
            assert [(await f).seq for f in futs[:3]] == [
                SETUP_SEQ + 1,
                SETUP_SEQ + 2,
                SETUP_SEQ + 3,
            ]

            # a bug in one request is an INTERNAL error for it, not the end of the session
            import trade_engine.native.session as session_mod

            def broken(*a: object) -> None:
                raise RuntimeError("boom")

            monkeypatch.setattr(session_mod, "run_query", broken)
            with pytest.raises(ServerError) as ei:
                await gw.query("assets")
            assert ei.value.code == "INTERNAL"
            monkeypatch.undo()
            assert await gw.query("assets")

    run(main())
