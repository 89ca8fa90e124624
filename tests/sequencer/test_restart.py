"""Restart: the same state comes back, the clock keeps going forward, seqs continue."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from helpers.aio import run
from helpers.sequencer import (
    collect,
    commands,
    journal_entries,
    reference_hash,
    running,
    submit_all,
)

from trade_engine.core.state import state_hash
from trade_engine.recovery.replay import RecoveryResult
from trade_engine.sequencer import JournalEntry


@pytest.mark.parametrize(
    ("snapshot", "sync"),
    [("none", False), ("fork", False), ("no-fork", False), ("fork", True), ("no-fork", True)],
)
def test_restart_brings_back_the_state_of_before_the_stop(
    tmp_path: Path, snapshot: str, sync: bool
) -> None:
    cmds = commands(1500)
    cut, stop_at = 1000, 1400

    async def go() -> tuple[list[JournalEntry], str, str, RecoveryResult, str]:
        async with running(tmp_path, sync=sync) as s1:
            entries = await submit_all(s1, cmds[:cut])
            if snapshot != "none":
                s1.snapshot_now(fork=snapshot == "fork")
            entries += await submit_all(s1, cmds[cut:stop_at])
            before = state_hash(s1.engine)
        async with running(tmp_path, sync=sync) as s2:
            after = state_hash(s2.engine)
            assert s2.recovery is not None
            recovery = s2.recovery
            entries += await submit_all(s2, cmds[stop_at:])  # seqs go on from the journal
            final = state_hash(s2.engine)
        return entries, before, after, recovery, final

    entries, before, after, recovery, final = run(go())
    assert after == before == reference_hash(entries, stop_at)
    expected_snapshot = 0 if snapshot == "none" else cut
    assert (recovery.snapshot_seq, recovery.replayed) == (
        expected_snapshot,
        stop_at - expected_snapshot,
    )
    assert [e.seq for e in entries] == list(range(1, len(cmds) + 1))
    assert final == reference_hash(entries)
    assert journal_entries(tmp_path) == entries


def test_the_engine_clock_never_goes_back_across_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cmds = commands(300)

    async def first_run() -> list[JournalEntry]:
        async with running(tmp_path) as seqr:
            entries = await submit_all(seqr, cmds[:300])
            seqr.snapshot_now(fork=False)
            return entries + await submit_all(seqr, cmds[300:400])

    entries = run(first_run())
    last_ts = entries[-1].ts
    # the wall clock steps back an hour (NTP, a VM restored, another host): engine time waits
    monkeypatch.setattr(time, "time_ns", lambda: last_ts - 3600 * 10**9)

    async def second_run() -> list[JournalEntry]:
        async with running(tmp_path) as seqr:
            return await submit_all(seqr, cmds[400:])

    later = run(second_run())
    # time stands still at the last stamp until the wall clock catches up
    assert {e.ts for e in later} == {last_ts}
    stamps = [e.ts for e in journal_entries(tmp_path)]
    assert stamps == sorted(stamps)


def test_subscribers_get_entries_from_before_the_restart_from_disk(tmp_path: Path) -> None:
    cmds = commands(800)

    async def go() -> tuple[list[JournalEntry], list[JournalEntry]]:
        async with running(tmp_path) as s1:
            entries = await submit_all(s1, cmds[:600])
        async with running(tmp_path) as s2:
            sub = asyncio.create_task(collect(s2.subscribe(1), len(cmds)))
            entries += await submit_all(s2, cmds[600:], chunk=40)
            return entries, await sub

    entries, got = run(go())
    assert got == entries
