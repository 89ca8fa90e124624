"""The sequencer's pipeline: seqs, durable-before-visible, backpressure, stop."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import pytest
from helpers.aio import run
from helpers.sequencer import commands, journal_entries, running, submit_all

from trade_engine.core.engine import Engine
from trade_engine.journal import JournalLockedError, JournalReader
from trade_engine.sequencer import Busy, JournalEntry, Sequencer, Stopped
from trade_engine.wire.records import decode_entry


def test_seqs_are_1_to_n_without_gaps_and_each_result_carries_its_seq(tmp_path: Path) -> None:
    cmds = commands(1500)

    async def go() -> list[JournalEntry]:
        # all at once, small batches: many group commits overlapping the next batch
        async with running(tmp_path, max_batch=64) as seqr:
            return list(await asyncio.gather(*(seqr.submit(c) for c in cmds)))

    results = run(go())
    assert [r.seq for r in results] == list(range(1, len(cmds) + 1))
    assert all(r.command is c for r, c in zip(results, cmds, strict=True))
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(results))
    # the events handed back are what the engine says for that (seq, ts, command)
    e = Engine()
    for r in results:
        assert e.apply(r.seq, r.ts, r.command) == r.events, r.seq
    # and the journal holds exactly these entries, chain-verified
    assert journal_entries(tmp_path) == results


@pytest.mark.parametrize("sync", [False, True])
def test_results_and_live_entries_are_released_only_once_the_journal_has_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sync: bool
) -> None:
    journal_dir = tmp_path / "journal"
    durable = [0]  # highest seq on disk when the last fsync returned (sync=True only)
    if sync:
        real_fdatasync, real_fsync = os.fdatasync, os.fsync

        def note_durable() -> None:
            # runs in the thread that writes the journal, right after a sync: whatever is in
            # the segment files now was written before that sync
            if not any(journal_dir.glob("*.jnl")):
                return
            for seq, _ts, _p in JournalReader(journal_dir).read_from(durable[0] + 1):
                durable[0] = seq

        def fdatasync(fd: int) -> None:
            real_fdatasync(fd)
            note_durable()

        def fsync(fd: int) -> None:
            real_fsync(fd)
            note_durable()

        monkeypatch.setattr(os, "fdatasync", fdatasync)
        monkeypatch.setattr(os, "fsync", fsync)

    cmds = commands(300)
    late: list[str] = []

    def check(entry: JournalEntry, who: str) -> None:
        # at the moment the result is handed out, a reader already sees the record
        found = list(JournalReader(journal_dir).read_from(entry.seq, to_seq=entry.seq))
        if len(found) != 1 or decode_entry(*found[0]) != entry:
            late.append(f"{who} {entry.seq}: not in the journal yet")
        if sync and durable[0] < entry.seq:
            late.append(f"{who} {entry.seq}: released before its fsync ({durable[0]})")

    async def go() -> None:
        async with running(tmp_path, sync=sync, max_batch=200, segment_size=150_000) as seqr:

            async def one(c: object) -> None:
                check(await seqr.submit(c), "result")  # type: ignore[arg-type]

            async def subscriber() -> None:
                async for entry in seqr.subscribe(1):
                    check(entry, "subscriber")
                    if entry.seq == len(cmds):
                        return

            sub = asyncio.create_task(subscriber())
            await asyncio.sleep(0)
            for i in range(0, len(cmds), 400):
                await asyncio.gather(*(one(c) for c in cmds[i : i + 400]))
            await sub

    run(go())
    assert late == []
    if sync:
        assert durable[0] == len(cmds)


def test_busy_when_the_queue_is_full_and_nothing_accepted_is_lost(tmp_path: Path) -> None:
    cmds = commands(300)[:400]

    async def go() -> tuple[list[object], list[JournalEntry], int]:
        async with running(tmp_path, max_queue=50) as seqr:
            outcomes = await asyncio.gather(*(seqr.submit(c) for c in cmds), return_exceptions=True)
            # back off, then retry what was refused: it all goes through, in order
            refused = [c for c, o in zip(cmds, outcomes, strict=True) if isinstance(o, Busy)]
            retried = await submit_all(seqr, refused, chunk=40)
            return list(outcomes), retried, seqr.stats.busy

    outcomes, retried, busy_count = run(go())
    accepted = [o for o in outcomes if isinstance(o, JournalEntry)]
    refused = [o for o in outcomes if isinstance(o, Busy)]
    assert len(accepted) + len(refused) == len(cmds)  # nothing else happened
    assert 50 <= len(accepted) < len(cmds) and refused
    assert busy_count == len(refused)
    assert "queue full" in str(refused[0])
    # the accepted ones were sequenced in submission order, without gaps
    accepted_cmds = [c for c, o in zip(cmds, outcomes, strict=True) if isinstance(o, JournalEntry)]
    assert [o.command for o in accepted] == accepted_cmds
    assert [o.seq for o in accepted] == list(range(1, len(accepted) + 1))
    assert [r.seq for r in retried] == list(range(len(accepted) + 1, len(cmds) + 1))
    assert journal_entries(tmp_path) == accepted + retried


def test_stop_finishes_what_was_accepted_then_refuses_new_commands(tmp_path: Path) -> None:
    cmds = commands(500)[:600]

    async def go() -> list[JournalEntry]:
        async with running(tmp_path) as seqr:
            tasks = [asyncio.create_task(seqr.submit(c)) for c in cmds[:500]]
            await asyncio.sleep(0)  # every task has queued its command
            await seqr.stop()
            results = list(await asyncio.gather(*tasks))
            with pytest.raises(Stopped):
                await seqr.submit(cmds[500])
            return results

    results = run(go())
    assert [r.seq for r in results] == list(range(1, 501))
    assert journal_entries(tmp_path) == results


def test_a_second_sequencer_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    async def go() -> None:
        async with running(tmp_path) as seqr:
            await seqr.submit(commands(0)[0])
            with pytest.raises(JournalLockedError):
                await Sequencer.open(tmp_path, sync=False)

    run(go())
