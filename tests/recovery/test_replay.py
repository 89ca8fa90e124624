"""Recovery: snapshot + tail == full replay; torn tails are cut; other damage stops the start;
a damaged snapshot is skipped for an older one."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from helpers.aio import run
from helpers.journal import record_offsets
from helpers.sequencer import (
    commands,
    flip_byte,
    journal_entries,
    reference_hash,
    running,
    segments,
    submit_all,
)

from trade_engine.core.commands import AddAsset
from trade_engine.core.engine import Engine
from trade_engine.core.state import state_hash
from trade_engine.journal import JournalCorruptError, JournalReader
from trade_engine.recovery.replay import recover
from trade_engine.recovery.snapshots import list_snapshots, read_snapshot, restore_state
from trade_engine.sequencer import JournalEntry, Sequencer


def _snapshot_seqs(data_dir: Path) -> list[int]:
    return sorted(read_snapshot(p)[0].seq for p in list_snapshots(data_dir / "snapshots"))


async def _wait_for_snapshot(data_dir: Path, seq: int) -> None:
    """A forked snapshot is written by a child process: wait until its file is there."""
    for _ in range(500):
        if seq in _snapshot_seqs(data_dir):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no snapshot at seq {seq} after 5 s")


def test_snapshot_plus_tail_equals_full_replay_at_many_points(tmp_path: Path) -> None:
    cmds = commands(2000)
    marks = [(700, False), (1100, True), (1500, False), (1900, True)]

    async def go() -> list[JournalEntry]:
        async with running(tmp_path, snapshots_kept=100) as seqr:
            entries: list[JournalEntry] = []
            done = 0
            for mark, fork in marks:
                entries += await submit_all(seqr, cmds[done:mark])
                done = mark
                seqr.snapshot_now(fork=fork)
                await _wait_for_snapshot(tmp_path, mark)
            return entries + await submit_all(seqr, cmds[done:])

    entries = run(go())
    n = len(entries)
    snaps = _snapshot_seqs(tmp_path)
    assert snaps == [m for m, _ in marks]
    points = sorted(
        {1, snaps[0] - 1, n}
        | set(snaps)
        | {min(n, s + 1) for s in snaps}
        | {min(n, s + 137) for s in snaps}
    )
    # the reference: one fresh engine fed the journal's commands, hashed at every point
    expected = {}
    ref = Engine()
    for entry in entries:
        ref.apply(entry.seq, entry.ts, entry.command)
        if entry.seq in points:
            expected[entry.seq] = state_hash(ref)
    for p in points:
        r = recover(tmp_path / "journal", tmp_path / "snapshots", to_seq=p)
        assert r.engine.seq == p
        assert r.snapshot_seq == max((s for s in snaps if s <= p), default=0)
        assert r.replayed == p - r.snapshot_seq
        assert state_hash(r.engine) == expected[p], p
    # and from every snapshot the tail replays to exactly the recorded events (a state the
    # snapshot forgot would show up here even if the hash does not cover it)
    for path in list_snapshots(tmp_path / "snapshots"):
        info, state = read_snapshot(path)
        engine = restore_state(state)
        for entry in entries[info.seq :]:
            assert engine.apply(entry.seq, entry.ts, entry.command) == entry.events, entry.seq


def test_periodic_snapshots_are_taken_and_used_on_restart(tmp_path: Path) -> None:
    cmds = commands(1500)

    async def go() -> tuple[list[JournalEntry], int, str]:
        async with running(tmp_path, snapshot_every_commands=400) as seqr:
            entries = await submit_all(seqr, cmds, chunk=100)
        async with running(tmp_path) as seqr:
            assert seqr.recovery is not None
            return entries, seqr.recovery.snapshot_seq, state_hash(seqr.engine)

    entries, snap_seq, h = run(go())
    snaps = _snapshot_seqs(tmp_path)
    assert snaps and snaps[0] >= 400  # taken by the loop itself (forked, by default)
    assert snap_seq == snaps[-1]
    assert h == reference_hash(entries)


@pytest.mark.parametrize(("lost", "zeros"), [(1, 0), (3, 0), (1, 4096), (2, 100)])
def test_a_torn_tail_is_cut_and_exactly_the_last_commands_are_lost(
    tmp_path: Path, lost: int, zeros: int
) -> None:
    cmds = commands(700)

    async def first_run() -> list[JournalEntry]:
        async with running(tmp_path, segment_size=60_000) as seqr:
            entries = await submit_all(seqr, cmds[:400])
            seqr.snapshot_now(fork=False)
            return entries + await submit_all(seqr, cmds[400:])

    entries = run(first_run())
    n = len(entries)
    # a crash in the middle of writing record n-lost+1: a prefix of it is on disk (and the
    # file system may have extended the file with zeros)
    last = segments(tmp_path)[-1]
    seq, offset, size = record_offsets(last)[-lost]
    assert seq == n - lost + 1
    with open(last, "r+b") as f:
        f.truncate(offset + size // 2)
        f.seek(0, os.SEEK_END)
        f.write(bytes(zeros))
    torn = JournalReader(tmp_path / "journal").verify().torn_tail
    assert torn is not None and (torn.path, torn.offset, torn.seq) == (last, offset, seq)

    async def second_run() -> tuple[int, str, list[JournalEntry]]:
        async with running(tmp_path) as seqr:
            at_start, h = seqr.engine.seq, state_hash(seqr.engine)
            # the lost commands were never acknowledged: the client sends them again
            again = await submit_all(seqr, [e.command for e in entries[n - lost :]])
            return at_start, h, again

    at_start, h, again = run(second_run())
    assert at_start == n - lost
    assert h == reference_hash(entries, n - lost)
    assert [e.seq for e in again] == list(range(n - lost + 1, n + 1))
    on_disk = journal_entries(tmp_path)
    assert on_disk[: n - lost] == entries[: n - lost]
    assert on_disk[n - lost :] == again
    assert JournalReader(tmp_path / "journal").verify().torn_tail is None


@pytest.mark.parametrize("where", ["sealed segment", "last segment", "length field"])
def test_a_flipped_byte_inside_the_journal_stops_the_start(tmp_path: Path, where: str) -> None:
    cmds = commands(800)

    async def first_run() -> None:
        async with running(tmp_path, segment_size=60_000) as seqr:
            await submit_all(seqr, cmds)

    run(first_run())
    segs = segments(tmp_path)
    assert len(segs) >= 3
    seg = segs[len(segs) // 2] if where == "sealed segment" else segs[-1]
    records = record_offsets(seg)
    seq, offset, size = records[len(records) // 2]
    if where == "length field":
        flip_byte(seg, offset + 1)
    else:
        flip_byte(seg, offset + size - 7)  # inside the payload
    for _attempt in range(2):  # and the failed start left nothing locked or half-done
        with pytest.raises(JournalCorruptError) as err:
            run(Sequencer.open(tmp_path, sync=False))
        assert (err.value.path, err.value.offset, err.value.seq) == (seg, offset, seq)
        assert f"{seg}: byte offset {offset}, seq {seq}" in str(err.value)
    assert seg.stat().st_size == sum(s for _, _, s in records) + 64  # nothing was cut


def test_damage_behind_the_newest_snapshot_stops_the_start_only_with_a_full_scan(
    tmp_path: Path,
) -> None:
    """By default the start checks sealed segments through their links and reads only what
    recovery needs (docs/adr/0007): a flipped byte inside a sealed segment that lies wholly
    before the snapshot surfaces when that segment is read (verify, a subscription from
    there), not at start. ``full_scan_on_open`` walks everything and refuses to start."""
    cmds = commands(800)

    async def first_run() -> str:
        async with running(tmp_path, segment_size=60_000) as seqr:
            await submit_all(seqr, cmds)
            seqr.snapshot_now(fork=False)
            return state_hash(seqr.engine)

    before = run(first_run())
    segs = segments(tmp_path)
    assert len(segs) >= 3
    seg = segs[0]
    records = record_offsets(seg)
    seq, offset, size = records[len(records) // 2]
    flip_byte(seg, offset + size - 7)  # inside the payload

    async def reopen(**config: bool) -> str:
        async with running(tmp_path, **config) as seqr:
            return state_hash(seqr.engine)

    assert run(reopen()) == before
    with pytest.raises(JournalCorruptError) as err:
        JournalReader(tmp_path / "journal").verify()
    assert (err.value.path, err.value.seq) == (seg, seq)
    with pytest.raises(JournalCorruptError) as err:
        run(reopen(full_scan_on_open=True))
    assert (err.value.path, err.value.offset, err.value.seq) == (seg, offset, seq)


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "bad magic"])
def test_a_damaged_newest_snapshot_is_skipped_for_an_older_one(tmp_path: Path, damage: str) -> None:
    cmds = commands(1200)

    async def first_run() -> tuple[list[JournalEntry], str]:
        async with running(tmp_path, snapshots_kept=3) as seqr:
            entries = await submit_all(seqr, cmds[:600])
            seqr.snapshot_now(fork=False)
            entries += await submit_all(seqr, cmds[600:1000])
            seqr.snapshot_now(fork=True)
            entries += await submit_all(seqr, cmds[1000:])
            return entries, state_hash(seqr.engine)

    entries, before = run(first_run())
    older, newest = _snapshot_seqs(tmp_path)
    assert (older, newest) == (600, 1000)
    path = list_snapshots(tmp_path / "snapshots")[0]
    size = path.stat().st_size
    if damage == "flipped byte":
        flip_byte(path, size // 2)
    elif damage == "truncated":
        os.truncate(path, size - 10)
    else:
        flip_byte(path, 0)

    async def second_run() -> tuple[int, int, str]:
        async with running(tmp_path) as seqr:
            assert seqr.recovery is not None
            return seqr.recovery.snapshot_seq, seqr.recovery.replayed, state_hash(seqr.engine)

    snap_seq, replayed, after = run(second_run())
    assert (snap_seq, replayed) == (older, len(entries) - older)
    assert after == before == reference_hash(entries)


def test_timed_snapshot_is_taken_while_idle_and_only_once(tmp_path: Path) -> None:
    """snapshot_every_seconds must not wait for the next command to arrive."""

    async def go() -> list[str]:
        seqr = await Sequencer.open(
            tmp_path, sync=False, snapshot_every_seconds=0.2, snapshot_every_commands=0
        )
        task = asyncio.create_task(seqr.run())
        await seqr.submit(AddAsset("BTC", 8))
        await asyncio.sleep(0.9)  # idle: no further command arrives
        names = sorted(p.name for p in (tmp_path / "snapshots").glob("*.snap"))
        await seqr.stop()
        await task
        return names

    assert run(go()) == ["snapshot-00000000000000000001.snap"]
