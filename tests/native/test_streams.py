"""Queries, subscriptions (from 0, from the middle, resume), malformed frames, slow consumers."""

from __future__ import annotations

import asyncio
import struct

import pytest
from helpers.aio import run
from helpers.native import BACKENDS, SETUP_SEQ, SYMBOL, harness

from trade_engine.client import ConnectionLost, Entry, ServerError
from trade_engine.core.commands import PlaceOrder
from trade_engine.core.enums import Side
from trade_engine.core.events import OrderAccepted
from trade_engine.protocol.frames import pack


def order(user: int, coid: str, side: Side = Side.BUY, qty: int = 10, price: int = 5_000_000):
    return PlaceOrder(user, SYMBOL, coid, side, qty=qty, price=price)


@pytest.mark.parametrize("backend", BACKENDS)
def test_queries(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            u1 = await h.client("u1")
            gw = await h.client("gw")
            r = await u1.submit(order(1, "q1", qty=7, price=4_900_000))
            oid = r.events[0].order_id
            await u1.submit(order(1, "q2", Side.SELL, qty=3, price=5_100_000))

            o = await u1.query("order", order_id=oid)
            assert (o["order_id"], o["client_order_id"], o["status"], o["remaining"]) == (
                oid,
                "q1",
                "NEW",
                7,
            )
            assert o["side"] == "BUY" and o["price"] == 4_900_000 and o["user_id"] == 1
            assert await u1.query("order", client_order_id="q1") == o
            assert await gw.query("order", user_id=1, client_order_id="q1") == o
            assert await gw.query("order", order_id=oid) == o
            assert await gw.query("order", order_id=oid, user_id=2) is None
            assert await h.clients[0].query("order", order_id=10**9) is None
            u2 = await h.client("u2")
            assert await u2.query("order", order_id=oid) is None  # not someone else's

            opened = await u1.query("open_orders")
            assert [x["client_order_id"] for x in opened] == ["q1", "q2"]
            assert await gw.query("open_orders", user_id=1, symbol="ETH-USDT") == []
            assert await gw.query("open_orders", user_id=99) == []

            bal = {b["asset"]: b for b in await u1.query("balances")}
            assert bal["USDT"]["available"] + bal["USDT"]["reserved"] == 10**15
            assert bal["USDT"]["reserved"] > 0 and bal["BTC"]["reserved"] == 3 * 10_000

            res = await gw.query_result("depth", symbol=SYMBOL, limit=5)
            assert res.seq == h.seqr.committed_seq
            assert res.data["bids"] == [[4_900_000, 7, 1]]
            assert res.data["asks"] == [[5_100_000, 3, 1]]

            (sym,) = await gw.query("symbols")
            assert sym["symbol"] == SYMBOL and sym["quote_per_tick_lot"] == 100
            assert sym["base_per_lot"] == 10_000 and sym["spec"]["tick"] == "0.01"
            assets = await gw.query("assets")
            assert {a["code"]: a["decimals"] for a in assets}["ETH"] == 18

            for kind, args, code in [
                ("nope", {}, "UNKNOWN_QUERY"),
                ("depth", {}, "BAD_QUERY"),
                ("depth", {"symbol": "X"}, "UNKNOWN_SYMBOL"),
                ("depth", {"symbol": SYMBOL, "limit": 0}, "BAD_QUERY"),
                ("balances", {}, "BAD_QUERY"),  # a gateway must say which user
                ("order", {"order_id": "1"}, "BAD_QUERY"),
            ]:
                with pytest.raises(ServerError) as ei:
                    await gw.query(kind, **args)
                assert ei.value.code == code, (kind, args)

    run(main())


def test_query_answers_wait_for_durability() -> None:
    async def main() -> None:
        async with harness("fake") as h:
            gw = await h.client("gw")
            h.seqr.hold()  # batches get applied but their "fsync" does not finish
            fut = gw.submit_nowait(order(1, "d1"))
            while h.seqr.engine.seq == h.seqr.committed_seq:
                await asyncio.sleep(0.001)
            q = asyncio.ensure_future(gw.query_result("open_orders", user_id=1))
            await asyncio.sleep(0.1)
            assert not q.done() and not fut.done()  # state is applied, not yet durable
            h.seqr.release()
            res = await q
            assert [o["client_order_id"] for o in res.data] == ["d1"]
            assert res.seq == (await fut).seq <= h.seqr.committed_seq

    run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_subscribe_from_zero_and_from_the_middle(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            gw = await h.client("gw")
            for i in range(20):
                await gw.submit(order(1, f"s{i}"))
            last = h.seqr.committed_seq
            assert last == SETUP_SEQ + 20

            got: list[Entry] = []
            async for e in gw.subscribe(0):
                got.append(e)
                if e.seq == last:
                    break
            assert [e.seq for e in got] == list(range(1, last + 1))
            assert got[SETUP_SEQ].command == order(1, "s0")
            assert isinstance(got[SETUP_SEQ].events[0], OrderAccepted)

            # from the middle, then live entries as they are made durable
            op = await h.client("op")
            mid = SETUP_SEQ + 10
            seen: list[int] = []
            async for e in op.subscribe(mid):
                seen.append(e.seq)
                if e.seq == last:
                    for i in range(5):
                        gw.submit_nowait(order(2, f"live{i}"))
                if e.seq == last + 5:
                    break
            assert seen == list(range(mid, last + 6))
            # leaving the loop unsubscribed: the connection still answers
            assert await op.query("assets")
            for _ in range(100):
                if not any(s.subs for s in h.server.sessions):
                    break
                await asyncio.sleep(0.01)
            assert not any(s.subs for s in h.server.sessions)

    run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_resume_after_disconnect_neither_skips_nor_repeats(backend: str) -> None:
    async def main() -> None:
        async with harness(backend) as h:
            writer = await h.client("gw")
            stop = asyncio.Event()

            async def produce() -> None:
                i = 0
                while not stop.is_set():
                    await writer.submit(order(1 + i % 2, f"r{i}", price=4_000_000 + i))
                    i += 1

            prod = asyncio.create_task(produce())
            seen: list[int] = []
            next_seq = 1
            for round_ in range(4):
                reader = await h.client("gw", unix=bool(round_ % 2))
                async for e in reader.subscribe(next_seq):
                    seen.append(e.seq)
                    if len(seen) >= 40 * (round_ + 1):
                        break
                next_seq = seen[-1] + 1
                reader._writer.transport.abort()  # an abrupt disconnect, mid-stream
                with pytest.raises(ConnectionLost):
                    await reader.query("assets")
            stop.set()
            await prod
            assert seen == list(range(1, len(seen) + 1))

    run(main())


def test_seq_too_old() -> None:
    async def main() -> None:
        async with harness("fake") as h:
            h.seqr.forget_before(3)
            gw = await h.client("gw")
            with pytest.raises(ServerError) as ei:
                async for _ in gw.subscribe(2):
                    pass
            assert ei.value.code == "SEQ_TOO_OLD"
            async for e in gw.subscribe(3):
                assert e.seq == 3
                break

    run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_malformed_frames_get_errors_and_spare_other_sessions(backend: str) -> None:
    async def main() -> None:
        async with harness(backend, max_frame_bytes=4096) as h:
            good = await h.client("gw")
            bad = await h.raw()
            bad.logon("gw")
            await bad.recv_type("LogonAck")
            cases = [
                (b"\xc1\xff\x00garbage", "MALFORMED_FRAME", None),
                (b"", "MALFORMED_FRAME", None),
                (b"\x93\x01\x02\x03", "NOT_A_MAP", None),  # [1, 2, 3]
                (b"\x81\xa4type\xa4Nope", "UNKNOWN_MESSAGE", None),
            ]
            for body, code, rid in cases:
                bad.send_bytes(pack(body))
                err = await bad.recv_type("Error")
                assert (err["code"], err.get("id"), err.get("fatal", False)) == (code, rid, False)
            for msg, code in [
                ({"type": "Command", "id": 7}, "INVALID_MESSAGE"),
                ({"type": "Query", "id": 8, "kind": 5}, "INVALID_MESSAGE"),
                ({"type": "Command", "id": 9, "command": {"type": "Explode"}}, "BAD_COMMAND"),
                (
                    {"type": "Command", "id": 10, "command": {"type": "PlaceOrder", "user_id": 1}},
                    "BAD_COMMAND",
                ),
                ({"type": "Subscribe", "id": 11, "from_seq": -1}, "INVALID_MESSAGE"),
            ]:
                bad.send(msg)
                err = await bad.recv_type("Error")
                assert (err["code"], err["id"]) == (code, msg["id"]), err
                # the good session is untouched throughout
                r = await good.submit(order(1, f"g{msg['id']}"))
                assert isinstance(r.events[0], OrderAccepted)
            # the bad session itself still works after content errors
            bad.send({"type": "Query", "id": 12, "kind": "assets"})
            assert (await bad.recv_type("QueryResult"))["id"] == 12

            # broken framing: an oversized length closes the session
            bad.send_bytes(struct.pack(">I", 4097) + b"x" * 10)
            frames = await bad.closed()
            assert [(f["code"], f["fatal"]) for f in frames] == [("FRAME_TOO_LARGE", True)]
            # raw garbage on a fresh connection (an HTTP request, say) is the same thing
            junk = await h.raw(unix=True)
            junk.send_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            frames = await junk.closed()
            assert [f["code"] for f in frames] == ["FRAME_TOO_LARGE"]
            r = await good.submit(order(1, "after"))
            assert isinstance(r.events[0], OrderAccepted)

    run(main())


def test_too_many_errors_closes_the_session() -> None:
    async def main() -> None:
        async with harness("fake", max_errors=5) as h:
            bad = await h.raw()
            for _ in range(10):
                bad.send_bytes(pack(b"\xc1"))
            frames = await bad.closed()
            assert [f["code"] for f in frames] == ["MALFORMED_FRAME"] * 5 + ["TOO_MANY_ERRORS"]

    run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_slow_subscriber_is_cut_off_and_resumes(backend: str) -> None:
    async def main() -> None:
        async with harness(
            backend,
            outbound_high_water=16 << 10,
            slow_consumer_seconds=0.3,
            close_grace_seconds=0.3,
            socket_send_buffer=16 << 10,
        ) as h:
            gw = await h.client("gw")
            n = 2000
            await asyncio.gather(*(gw.submit_nowait(order(1, f"x{i}")) for i in range(n)))
            last = h.seqr.committed_seq

            slow = await h.raw(rcvbuf=4096)
            slow.logon("gw")
            await slow.recv_type("LogonAck")
            slow.send({"type": "Subscribe", "id": 1, "from_seq": 1})
            await asyncio.sleep(0.2)
            # it does not read: the server pauses at its high-water mark, then gives up
            peak = 0
            for _ in range(40):
                sessions = list(h.server.sessions)
                peak = max([peak, *(s.outbox.buffered for s in sessions)])
                if len(sessions) == 1:  # only the good client is left
                    break
                await asyncio.sleep(0.05)
            assert len(h.server.sessions) == 1
            assert peak <= (16 << 10) + 4096  # memory stayed bounded: high water + one entry

            frames = await slow.closed()  # what got through before the cut
            entries = [f for f in frames if f["type"] == "Entry"]
            seqs = [f["seq"] for f in entries]
            assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) < last
            if frames and frames[-1]["type"] == "Error":
                assert frames[-1]["code"] == "SLOW_CONSUMER"

            # resume where it stopped
            again = await h.client("gw")
            got = []
            async for e in again.subscribe(len(seqs) + 1):
                got.append(e.seq)
                if e.seq == last:
                    break
            assert got == list(range(len(seqs) + 1, last + 1))

    run(main())


def test_client_reader_backpressure_keeps_memory_bounded() -> None:
    """A client that subscribes but does not iterate stalls its own reader, not memory."""

    async def main() -> None:
        async with harness("fake") as h:
            gw = await h.client("gw")
            await asyncio.gather(*(gw.submit_nowait(order(1, f"b{i}")) for i in range(500)))
            lazy = await h.client("gw", subscription_buffer=50)
            sub = lazy.subscribe(1)
            first = await sub.__anext__()
            assert first.seq == 1
            await asyncio.sleep(0.2)
            (stream,) = lazy._subs.values()
            assert len(stream.entries) <= 50
            seqs = [first.seq]
            async for e in sub:
                seqs.append(e.seq)
                if e.seq == h.seqr.committed_seq:
                    break
            assert seqs == list(range(1, h.seqr.committed_seq + 1))

    run(main())


def test_unsubscribe_and_logout_on_the_wire() -> None:
    async def main() -> None:
        async with harness("fake") as h:
            conn = await h.raw(unix=True)
            conn.logon("op")
            await conn.recv_type("LogonAck")
            conn.send({"type": "Subscribe", "id": 4, "from_seq": 1})
            assert (await conn.recv_type("Subscribed"))["id"] == 4
            first = await conn.recv_type("Entry")
            assert (first["id"], first["seq"], first["command"]["type"]) == (4, 1, "AddAsset")
            conn.send({"type": "Subscribe", "id": 4, "from_seq": 1})
            conn.send({"type": "Unsubscribe", "id": 4})
            frames = []
            while True:
                f = await conn.recv()
                assert f is not None
                frames.append(f)
                if f["type"] == "Unsubscribed":
                    break
            seqs = [f["seq"] for f in frames if f["type"] == "Entry"]
            assert seqs == list(range(2, 2 + len(seqs)))  # in order, none after Unsubscribed
            assert [f["code"] for f in frames if f["type"] == "Error"] == ["DUPLICATE_ID"]
            conn.send({"type": "Command", "id": 5, "command": {"type": "ResumeUser", "user_id": 1}})
            res = await conn.recv_type("Result")
            assert res["seq"] == SETUP_SEQ + 1  # and no Entry for it: unsubscribed
            assert res["events"][0] == {"type": "UserResumed", "user_id": 1, "operator": "op"}
            conn.send({"type": "Logout"})
            assert [f["type"] for f in await conn.closed()] == ["Logout"]

    run(main())


@pytest.mark.parametrize("backend", ["fake-nowait", "real"])
def test_many_sessions_at_once(backend: str) -> None:
    """Sessions interleave freely; each sees its own answers and the stream stays whole."""

    async def main() -> None:
        async with harness(backend) as h:
            clients = [await h.client("gw", unix=bool(i % 2)) for i in range(8)]
            watcher = await h.client("op")
            n = 200
            total = n * len(clients)

            async def one(k: int, c) -> list[int]:
                rs = await asyncio.gather(
                    *(
                        c.submit_nowait(order(1 + k % 2, f"c{k}-{i}", price=4_000_000 + k))
                        for i in range(n)
                    )
                )
                return [r.seq for r in rs]

            async def watch() -> list[int]:
                seqs = []
                async for e in watcher.subscribe(SETUP_SEQ + 1):
                    seqs.append(e.seq)
                    if len(seqs) == total:
                        return seqs
                return seqs

            w = asyncio.create_task(watch())
            per_client = await asyncio.gather(*(one(k, c) for k, c in enumerate(clients)))
            for seqs in per_client:
                assert seqs == sorted(seqs)  # each session's order is kept
            all_seqs = sorted(s for seqs in per_client for s in seqs)
            assert all_seqs == list(range(SETUP_SEQ + 1, SETUP_SEQ + total + 1))
            assert await w == all_seqs

    run(main())
