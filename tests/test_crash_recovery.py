"""Crash test: SIGKILL the engine process again and again while this process sends orders.

After every restart, every command the engine acknowledged must be in the journal at the seq
it was acknowledged with (same command, same events) and its order must be findable with a
state at least as far along; at the end, the engine's state equals a clean replay of the
journal in a fresh process (same state hash), with snapshots both used and not used.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from helpers.bench import engine_proc

from trade_engine.client import ClientError, EngineClient
from trade_engine.core.commands import CancelOrder, Command, Deposit, PlaceOrder
from trade_engine.core.enums import Side
from trade_engine.core.events import OrderAccepted
from trade_engine.core.state import state_hash
from trade_engine.journal import JournalReader
from trade_engine.recovery.replay import recover
from trade_engine.wire.records import decode_entry

ROUNDS = 5


def _start(cfg: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trade_engine.cli", "engine", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def _connect(port: int, proc: subprocess.Popen[bytes]) -> EngineClient:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"engine exited with {proc.returncode}: {err[-2000:]}")
        try:
            return await EngineClient.connect(
                ("127.0.0.1", port), engine_proc.KEY, engine_proc.SECRET, timeout=5
            )
        except (OSError, ConnectionError, ClientError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


class Flow:
    """Orders from a few users around a mid price, with cancels of earlier ones."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.n = 0
        self.live: list[tuple[int, str]] = []

    def next(self) -> Command:
        rnd = self.rnd
        self.n += 1
        if self.live and rnd.random() < 0.25:
            user, coid = self.live.pop(rnd.randrange(len(self.live)))
            return CancelOrder(user, "BTC-USDT", client_order_id=coid)
        user = rnd.randint(1, 20)
        side = Side.BUY if rnd.random() < 0.5 else Side.SELL
        off = rnd.randint(-3, 20)  # some cross
        price = 5_000_000 - off if side is Side.BUY else 5_000_000 + off
        coid = f"k{self.n}"
        self.live.append((user, coid))
        return PlaceOrder(user, "BTC-USDT", coid, side, qty=rnd.randint(1, 50), price=price)


async def _round(
    port: int, proc: subprocess.Popen[bytes], flow: Flow, acked: dict[int, tuple[Command, list]]
) -> None:
    """Send until killed; record every acknowledged (seq -> command, events)."""
    c = await _connect(port, proc)
    # before anything else, everything acknowledged earlier must still be there
    for seq, (_cmd, events) in list(acked.items())[-200:]:
        for ev in events:
            if isinstance(ev, OrderAccepted):
                o = await c.query("order", order_id=ev.order_id, user_id=ev.user_id)
                assert o is not None, f"acknowledged order {ev.order_id} (seq {seq}) is gone"
    if not acked:
        for u in range(1, 21):
            for asset, amount in (("BTC", 10**12), ("USDT", 10**16)):
                dep = Deposit(u, asset, amount, f"fund-{u}-{asset}")
                r = await c.submit(dep)
                acked[r.seq] = (dep, r.events)
    kill_at = time.monotonic() + random.Random(len(acked)).uniform(0.3, 1.2)
    pending: set[asyncio.Future] = set()

    def done(cmd: Command, fut: asyncio.Future) -> None:
        pending.discard(fut)
        if not fut.cancelled() and fut.exception() is None:
            res = fut.result()
            acked[res.seq] = (cmd, res.events)

    try:
        while time.monotonic() < kill_at:
            while len(pending) < 200:
                cmd = flow.next()
                fut = c.submit_nowait(cmd)
                fut.add_done_callback(lambda f, cmd=cmd: done(cmd, f))
                pending.add(fut)
            await asyncio.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        await asyncio.sleep(0.1)  # let the client see the connection drop
    finally:
        await c.close()


def _unstamped(cmd: Command) -> Command:
    return msgspec.structs.replace(cmd, operator="") if hasattr(cmd, "operator") else cmd


@pytest.mark.timeout(300)
def test_sigkill_loop_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = engine_proc.free_port()
    cfg = tmp_path / "engine.yaml"
    engine_proc.write_config(cfg, data, port, snapshot_every=700)
    acked: dict[int, tuple[Command, list]] = {}
    flow = Flow(42)

    async def crash_rounds() -> None:
        for _ in range(ROUNDS):
            proc = _start(cfg)
            try:
                await _round(port, proc, flow, acked)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)

    asyncio.run(crash_rounds())
    assert len(acked) > 200, "the crash loop acknowledged too little to mean anything"

    # one more start: recovery must succeed; then a clean stop
    proc = _start(cfg)

    served: dict[int, dict] = {}  # what the restarted engine says about every acked order

    async def final_checks() -> None:
        c = await _connect(port, proc)
        try:
            for seq, (_cmd, events) in acked.items():
                for ev in events:
                    if isinstance(ev, OrderAccepted):
                        o = await c.query("order", order_id=ev.order_id, user_id=ev.user_id)
                        assert o is not None, f"order {ev.order_id} acked at seq {seq} is gone"
                        served[ev.order_id] = o
        finally:
            await c.close()

    try:
        asyncio.run(final_checks())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0

    # every acknowledged seq is in the journal with the same command and events
    journal = data / "journal"
    recorded = {}
    for seq, ts, payload in JournalReader(journal).read_from(1):
        recorded[seq] = decode_entry(seq, ts, payload)
    assert sorted(recorded) == list(range(1, len(recorded) + 1))
    for seq, (cmd, events) in acked.items():
        entry = recorded[seq]
        # the server stamps admin-type commands with the credential that sent them
        assert _unstamped(entry.command) == cmd, f"seq {seq} holds another command"
        assert entry.events == events, f"seq {seq} holds other events than were acknowledged"

    # snapshot + tail here == full replay in a fresh process
    with_snapshots = recover(journal, data / "snapshots")
    assert with_snapshots.snapshot_seq > 0, "no snapshot was written: the test lost its point"
    # the restarted engine served exactly the state that the journal replays to
    for order_id, o in served.items():
        rec = with_snapshots.engine.find_order(order_id)
        assert rec is not None
        assert (o["status"], o["filled"], o["remaining"]) == (
            rec.status.value,
            rec.filled,
            rec.remaining,
        ), f"order {order_id}"
    code = (
        "import sys; from pathlib import Path; from trade_engine.recovery.replay import recover;"
        "from trade_engine.core.state import state_hash;"
        "r = recover(Path(sys.argv[1]), Path(sys.argv[2])); print(r.last_seq, state_hash(r.engine))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(journal), str(tmp_path / "no-snapshots")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert int(out[0]) == with_snapshots.last_seq == max(recorded)
    assert out[1] == state_hash(with_snapshots.engine)
