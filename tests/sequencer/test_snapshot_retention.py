"""Snapshot retention and journal pruning count only snapshots that verify (issue 8, item 9).

The scenario of the issue, with ``prune_journal: true`` and two snapshots kept: the newest
snapshot is damaged, recovery falls back to the older one, the engine writes a new snapshot.
Keeping "the two newest by name" kept the new one and the damaged one, deleted the good one and
pruned the journal behind the damaged one; losing the new one then made the directory
unstartable. Retention must keep the good one and never prune past it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.aio import run
from helpers.journal import flip
from helpers.sequencer import commands, running, submit_all

from trade_engine.core.state import state_hash
from trade_engine.journal import JournalReader
from trade_engine.recovery.replay import recover
from trade_engine.recovery.snapshots import list_snapshots, retain_snapshots, seq_of

CONFIG = {"prune_journal": True, "snapshots_kept": 2, "segment_size": 20_000}


@pytest.mark.parametrize("fork", [False, True], ids=["inline", "forked child"])
def test_a_damaged_newest_snapshot_never_costs_the_good_one(tmp_path: Path, fork: bool) -> None:
    cmds = commands(900)
    thirds = len(cmds) // 3
    snaps = tmp_path / "snapshots"

    async def build() -> None:
        async with running(tmp_path, **CONFIG) as seqr:
            await submit_all(seqr, cmds[:thirds])
            seqr.snapshot_now(fork=False)  # A
            await submit_all(seqr, cmds[thirds : 2 * thirds])
            seqr.snapshot_now(fork=False)  # B

    run(build())
    a, b = sorted(seq_of(p) for p in list_snapshots(snaps))
    newest = list_snapshots(snaps)[0]
    flip(newest, newest.stat().st_size - 100)  # B's body: its checksum no longer matches

    async def fall_back_and_snapshot() -> tuple[int, str]:
        async with running(tmp_path, **CONFIG) as seqr:
            assert seqr.recovery is not None and seqr.recovery.snapshot_seq == a
            await submit_all(seqr, cmds[2 * thirds :])
            seqr.snapshot_now(fork=fork)  # C; a forked one is reaped by stop()
            return seqr.engine.seq, state_hash(seqr.engine)

    last, expected = run(fall_back_and_snapshot())
    kept = sorted(seq_of(p) for p in list_snapshots(snaps))
    assert kept == [a, last], f"kept {kept}: the good snapshot at {a} must survive, not {b}"
    assert (snaps / (newest.name + ".damaged")).exists()  # set aside for inspection
    first = JournalReader(tmp_path / "journal").segments()[0].first_seq
    assert first <= a + 1, f"journal pruned to {first}, past the oldest good snapshot {a}"

    # lose the newest snapshot too: the directory must still start, from A
    (snaps / list_snapshots(snaps)[0].name).unlink()
    result = recover(tmp_path / "journal", snaps)
    assert (result.snapshot_seq, result.last_seq) == (a, last)
    assert state_hash(result.engine) == expected


def test_retention_keeps_the_newest_good_one_whatever_is_damaged(tmp_path: Path) -> None:
    cmds = commands(300)

    async def build() -> None:
        async with running(tmp_path, snapshots_kept=10) as seqr:
            for i in range(3):
                await submit_all(seqr, cmds[i * 100 : (i + 1) * 100])
                seqr.snapshot_now(fork=False)

    run(build())
    snaps = tmp_path / "snapshots"
    paths = list_snapshots(snaps)  # newest first
    for p in paths[:2]:
        flip(p, p.stat().st_size - 1)
    r = retain_snapshots(snaps, keep=1)
    assert [i.path for i in r.kept] == [paths[2]]
    assert r.removed == ()
    assert sorted(p.name for p, _ in r.set_aside) == sorted(p.name + ".damaged" for p in paths[:2])
    assert list_snapshots(snaps) == [paths[2]]
    assert r.oldest_kept_seq == seq_of(paths[2])
