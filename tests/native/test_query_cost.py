"""A session that pipelines expensive queries and never reads cannot stall the others
(issue 8 item 3): a real server in a subprocess, a 2,000-level book."""

from __future__ import annotations

import asyncio
import time

from helpers.aio import run
from helpers.native import CREDENTIALS, SYMBOL, RawConn, harness
from helpers.native_server import rss_bytes, server_process

from trade_engine.client import BusyError, EngineClient
from trade_engine.core.commands import PlaceOrder
from trade_engine.core.enums import Side
from trade_engine.gateway.queries import MAX_DEPTH
from trade_engine.protocol.frames import pack
from trade_engine.wire import msgpack_codec

MIB = 1 << 20


async def _hostile(port: int, n: int, limit: int) -> RawConn:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    raw = RawConn(r, w)
    raw.logon("u1")
    await raw.recv_type("LogonAck")
    q = {"type": "Query", "kind": "depth", "args": {"symbol": SYMBOL, "limit": limit}}
    raw.send_bytes(b"".join(pack(msgpack_codec.encode(q | {"id": i})) for i in range(n)))
    return raw  # and never read


async def _worst_ping(port: int, seconds: float) -> float:
    cred = CREDENTIALS["u2"]
    async with EngineClient.connect(("127.0.0.1", port), cred.api_key, cred.secret) as c:
        worst = 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t = time.perf_counter()
            await c.query("assets")
            worst = max(worst, time.perf_counter() - t)
            await asyncio.sleep(0.002)
        return worst


def test_pipelined_depth_queries_do_not_stall_other_sessions() -> None:
    with server_process(levels=2_000) as (pid, port):
        base = rss_bytes(pid)

        async def main() -> float:
            pinger = asyncio.create_task(_worst_ping(port, 3.0))
            await asyncio.sleep(0.3)
            hostile = [await _hostile(port, 1_000, lim) for lim in (5_000, MAX_DEPTH, MAX_DEPTH)]
            worst = await pinger
            for h in hostile:
                h.close()
            return worst

        worst = run(main())
        grown = rss_bytes(pid) - base
        assert worst < 0.1, f"another session's query waited {worst * 1000:.0f} ms"
        assert grown < 16 * MIB, f"RSS grew by {grown / MIB:.1f} MiB"


def test_answers_held_for_durability_have_a_budget() -> None:
    async def main() -> None:
        async with harness("fake", max_queries_waiting=3) as h:
            gw = await h.client("gw")
            h.seqr.hold()  # applied, not yet durable: every answer is held back
            fut = gw.submit_nowait(PlaceOrder(1, SYMBOL, "d1", Side.BUY, qty=1, price=1))
            while h.seqr.engine.seq == h.seqr.committed_seq:
                await asyncio.sleep(0.001)
            qs = [asyncio.ensure_future(gw.query("assets")) for _ in range(5)]
            await asyncio.sleep(0.1)
            busy = [q for q in qs if q.done()]
            assert len(busy) == 2 and all(isinstance(q.exception(), BusyError) for q in busy)
            h.seqr.release()
            assert len(await asyncio.gather(*[q for q in qs if not q.done()])) == 3
            await fut
            assert await gw.query("assets")  # the budget is free again

    run(main())
