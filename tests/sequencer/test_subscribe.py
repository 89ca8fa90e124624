"""Subscriptions: the ordered entry stream from any seq, from disk then live."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers.aio import run
from helpers.sequencer import collect, commands, running, submit_all

from trade_engine.journal import JournalReader
from trade_engine.sequencer import JournalEntry, SeqTooOld, Sequencer


@pytest.mark.parametrize("where", ["first", "middle", "next", "beyond"])
def test_subscribe_from_anywhere_gets_exactly_what_submit_returned(
    tmp_path: Path, where: str
) -> None:
    cmds = commands(1200)
    half = 800
    start = {"first": 1, "middle": 333, "next": half + 1, "beyond": half + 250}[where]
    wanted = len(cmds) - start + 1

    async def go() -> tuple[list[JournalEntry], list[JournalEntry]]:
        async with running(tmp_path) as seqr:
            before = await submit_all(seqr, cmds[:half])
            sub = asyncio.create_task(collect(seqr.subscribe(start), wanted))
            await asyncio.sleep(0.05)  # reading the disk part, or waiting for live entries
            after = await submit_all(seqr, cmds[half:], chunk=50)
            return before + after, await sub

    entries, got = run(go())
    assert [g.seq for g in got] == list(range(start, len(cmds) + 1))
    assert got == entries[start - 1 :]


def test_a_slow_subscriber_overflows_falls_back_to_disk_and_misses_nothing(
    tmp_path: Path,
) -> None:
    cmds = commands(1500)
    disk_reads: list[tuple[int, int]] = []

    async def go() -> tuple[list[JournalEntry], list[JournalEntry]]:
        async with running(tmp_path, subscriber_queue=16) as seqr:
            real_read = seqr._read_disk

            def read_disk(from_seq: int, to_seq: int, limit: int) -> list[JournalEntry]:
                disk_reads.append((from_seq, to_seq))
                return real_read(from_seq, to_seq, limit)

            seqr._read_disk = read_disk  # type: ignore[method-assign]

            async def slow(entry: JournalEntry) -> None:
                if entry.seq % 25 == 0:
                    await asyncio.sleep(0.003)

            sub = asyncio.create_task(collect(seqr.subscribe(1), len(cmds), slow))
            await asyncio.sleep(0)  # subscribed live before the first command
            entries = await submit_all(seqr, cmds, chunk=8)  # small batches: fits the queue
            return entries, await sub

    entries, got = run(go())
    assert [g.seq for g in got] == list(range(1, len(cmds) + 1))  # no gap, no duplicate
    assert got == entries
    # it did overflow and was served from the journal, more than once
    assert len(disk_reads) >= 2, disk_reads
    assert all(a > 1 for a, _ in disk_reads)


def test_subscribe_before_the_oldest_record_raises_seq_too_old(tmp_path: Path) -> None:
    cmds = commands(1000)

    async def go() -> tuple[list[JournalEntry], list[JournalEntry], int]:
        async with running(
            tmp_path, segment_size=20_000, prune_journal=True, snapshots_kept=1
        ) as seqr:
            entries = await submit_all(seqr, cmds)
            seqr.snapshot_now(fork=False)  # keeps one snapshot, prunes the journal before it
            first = JournalReader(tmp_path / "journal").segments()[0].first_seq
            assert 1 < first <= len(entries)
            for too_old in (1, first - 1):
                agen = seqr.subscribe(too_old)
                with pytest.raises(SeqTooOld):
                    await anext(agen)
            got = await collect(seqr.subscribe(first), len(entries) - first + 1)
            return entries, got, first

    entries, got, first = run(go())
    assert got == entries[first - 1 :]


def test_subscribe_after_stop_ends_after_the_journal(tmp_path: Path) -> None:
    cmds = commands(0)[:50]

    async def go() -> list[JournalEntry]:
        seqr = await Sequencer.open(tmp_path, sync=False)
        task = asyncio.create_task(seqr.run())
        await submit_all(seqr, cmds)
        await seqr.stop()
        await task
        got = []
        try:
            async with asyncio.timeout(1.0):
                async for entry in seqr.subscribe(1):
                    got.append(entry)
        except TimeoutError:
            pytest.fail(f"still waiting 1 s after stop(), having served {len(got)} entries")
        return got

    assert [e.seq for e in run(go())] == list(range(1, 51))


def test_a_subscriber_catching_up_from_disk_ends_when_the_sequencer_stops(
    tmp_path: Path,
) -> None:
    cmds = commands(300)

    async def go() -> int:
        seqr = await Sequencer.open(tmp_path, sync=False)
        task = asyncio.create_task(seqr.run())
        await submit_all(seqr, cmds)
        got = 0
        try:
            async with asyncio.timeout(1.0):
                async for _entry in seqr.subscribe(1):
                    got += 1
                    if got == 10:
                        await seqr.stop()  # the subscriber is still in its disk phase
        except TimeoutError:
            pytest.fail(f"still waiting 1 s after stop(), having served {got} entries")
        finally:
            await seqr.stop()
            await task
        return got

    assert run(go()) == len(cmds)


def test_a_subscriber_overtaken_by_pruning_gets_seq_too_old(tmp_path: Path) -> None:
    cmds = commands(2500)  # more records than one disk read (2,000) brings in

    async def go() -> None:
        async with running(
            tmp_path, segment_size=20_000, prune_journal=True, snapshots_kept=1
        ) as seqr:
            await submit_all(seqr, cmds)
            agen = seqr.subscribe(1)
            first = await anext(agen)  # reading from disk: the first 2,000 are in hand
            assert first.seq == 1
            seqr.snapshot_now(fork=False)  # prunes everything before the snapshot
            with pytest.raises(SeqTooOld):
                async for _entry in agen:
                    pass
            await agen.aclose()

    run(go())
