"""Failures inside the sequencer: what callers see, and what survives a restart.

The xfail(strict=True) tests pin bugs found in the sequencer (trade_engine/sequencer/); each
reason says what is wrong. They turn into failures ("XPASS(strict)") once fixed: then drop the
marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from pathlib import Path

import pytest
from helpers.aio import run
from helpers.sequencer import commands, running, submit_all

from trade_engine.core.commands import Deposit
from trade_engine.core.state import state_hash
from trade_engine.recovery.snapshots import list_snapshots, read_snapshot
from trade_engine.sequencer import Sequencer, Stopped


def test_a_failed_fsync_fails_the_waiting_submitters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cmds = commands(0)[:20]

    async def go() -> None:
        seqr = await Sequencer.open(tmp_path, sync=True)
        task = asyncio.create_task(seqr.run())
        waiting: list[asyncio.Task[object]] = []
        try:
            await submit_all(seqr, cmds[:10])

            def eio(fd: int) -> None:
                raise OSError(errno.EIO, "injected EIO")

            monkeypatch.setattr(os, "fdatasync", eio)
            waiting += [asyncio.create_task(seqr.submit(c)) for c in cmds[10:]]
            done, pending = await asyncio.wait(waiting, timeout=1.0)
            assert not pending, f"{len(pending)} submitters still waiting 1 s after the failure"
            for t in done:  # each one is told: the sequencer stopped, or the I/O error
                assert isinstance(t.exception(), Stopped | OSError), t.exception()
        finally:
            monkeypatch.undo()
            for t in waiting:
                t.cancel()
            await seqr.stop()
            await asyncio.gather(task, return_exceptions=True)

    run(go())


@pytest.mark.parametrize(
    "bad",
    [
        Deposit(1, "BTC", 1.5, "float-amount"),  # type: ignore[arg-type]
        Deposit("1", "BTC", 5, "str-user"),  # type: ignore[arg-type]
    ],
    ids=["float amount", "str user id"],
)
def test_an_ill_typed_command_does_not_poison_the_journal(tmp_path: Path, bad: Deposit) -> None:
    cmds = commands(0)[:20]

    async def go() -> tuple[str, str]:
        async with running(tmp_path) as seqr:
            await submit_all(seqr, cmds)
            with contextlib.suppress(TypeError, ValueError):  # refusing it would be fine
                await seqr.submit(bad)
            before = state_hash(seqr.engine)
        async with running(tmp_path) as seqr:  # the start must still work
            return before, state_hash(seqr.engine)

    before, after = run(go())
    assert after == before


def test_stop_after_a_forked_snapshot_with_journal_pruning(tmp_path: Path) -> None:
    cmds = commands(400)

    async def go() -> None:
        seqr = await Sequencer.open(
            tmp_path, sync=False, prune_journal=True, segment_size=20_000, snapshots_kept=1
        )
        task = asyncio.create_task(seqr.run())
        await submit_all(seqr, cmds)
        seqr.snapshot_now(fork=True)
        try:
            await seqr.stop()
        finally:
            await asyncio.gather(task, return_exceptions=True)

    run(go())


def test_snapshot_now_never_captures_state_that_is_not_durable(tmp_path: Path) -> None:
    cmds = commands(300)

    async def go() -> tuple[int, int]:
        async with running(tmp_path, sync=True) as seqr:
            await submit_all(seqr, cmds[:50])
            tasks = [asyncio.create_task(seqr.submit(c)) for c in cmds[50:]]
            for _ in range(10_000):  # until a batch is applied and its fsync is running
                await asyncio.sleep(0)
                if seqr.last_seq > seqr.committed_seq:
                    break
            committed = seqr.committed_seq
            seqr.snapshot_now(fork=False)
            snaps = [read_snapshot(p)[0].seq for p in list_snapshots(tmp_path / "snapshots")]
            await asyncio.gather(*tasks)
            return max(snaps, default=0), committed

    snapshot_seq, committed = run(go())
    assert snapshot_seq <= committed
