"""A full disk (issue 8, item 11): no temp files left behind, a failed snapshot child says why,
the sequencer stops with one line that names the cause, and a free-space guard refuses new
commands (``DiskFull``) before the disk is full and accepts them again once space is freed.

The full disk is real: a small tmpfs (needs root; skipped otherwise), filled up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest
from helpers.aio import run
from helpers.disk import fill, tiny_tmpfs
from helpers.sequencer import commands, running, submit_all

from trade_engine.recovery.snapshots import list_snapshots, write_snapshot_bytes
from trade_engine.sequencer import DiskFull, Sequencer, Stopped


def test_a_snapshot_write_that_fails_leaves_no_temp_file(tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "snaps", size_mib=1) as snaps:
        with pytest.raises(OSError, match="No space left"):
            write_snapshot_bytes(snaps, 7, b"x" * (2 << 20))
        assert list(snaps.iterdir()) == []


def test_a_failed_snapshot_child_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cmds = commands(200)
    with tiny_tmpfs(tmp_path / "snapshots", size_mib=1) as snaps:
        fill(snaps, leave=0)

        async def go() -> int:
            async with running(tmp_path) as seqr:
                await submit_all(seqr, cmds)
                seqr.snapshot_now(fork=True)
                return seqr.engine.seq  # stop() reaps the child

        with caplog.at_level(logging.INFO):
            seq = run(go())
        assert sorted(p.name for p in snaps.iterdir()) == ["filler"]  # no temp file
    failed = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failed) == 1, caplog.text
    assert f"snapshot at seq {seq} failed" in failed[0]
    assert "No space left on device" in failed[0]
    assert "disk full" in failed[0]


def test_a_failed_snapshot_child_says_why_without_a_full_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "snapshots").write_text("a file where the directory should be")

    async def go() -> None:
        async with running(tmp_path) as seqr:
            await submit_all(seqr, commands(0)[:20])
            seqr.snapshot_now(fork=True)

    run(go())
    failed = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failed) == 1 and "FileExistsError" in failed[0], caplog.text


def test_a_full_journal_disk_stops_the_sequencer_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cmds = commands(3000)
    with tiny_tmpfs(tmp_path / "data", size_mib=1) as data:
        fill(data, leave=64 * 1024)

        async def go() -> int:
            seqr = await Sequencer.open(data, sync=True, min_free_mib=0)
            task = asyncio.create_task(seqr.run())
            acked = 0
            try:
                for c in cmds:
                    await seqr.submit(c)
                    acked += 1
            except Stopped:
                pass
            finally:
                await seqr.stop()
                await asyncio.gather(task, return_exceptions=True)
            return acked

        acked = run(go())
        assert 0 < acked < len(cmds)
        leftovers = [p for p in data.rglob("*.tmp")]
        assert leftovers == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    assert errors[0].exc_info is None  # a cause and a fix, not a traceback
    msg = errors[0].getMessage()
    assert "disk full (ENOSPC)" in msg and f"nothing after seq {acked}" in msg, msg


def test_the_free_space_guard_refuses_commands_until_space_is_freed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cmds = commands(0)[:10]

    async def go() -> None:
        # more than any disk has: the guard closes the door at once
        async with running(tmp_path, min_free_mib=2**40, disk_check_seconds=0.05) as seqr:
            await asyncio.sleep(0)
            with pytest.raises(DiskFull, match="min_free_mib"):
                seqr.submit_nowait(cmds[0])
            assert seqr.last_seq == 0  # nothing was sequenced
            # "space freed": the next check finds enough and opens the door again
            seqr.config = dataclasses.replace(seqr.config, min_free_mib=1)
            await asyncio.sleep(0.2)
            await submit_all(seqr, cmds)

    with caplog.at_level(logging.INFO):
        run(go())
    assert "disk almost full" in caplog.text
    assert "accepting commands again" in caplog.text


def test_the_guard_on_a_really_filling_disk(tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "data", size_mib=4) as data:

        async def go() -> None:
            async with running(data, min_free_mib=2, disk_check_seconds=0.05) as seqr:
                await submit_all(seqr, commands(0)[:10])
                filler = fill(data, leave=1 << 20)  # 1 MiB left: below the 2 MiB threshold
                await asyncio.sleep(0.2)
                with pytest.raises(DiskFull):
                    await seqr.submit(commands(0)[10])
                filler.unlink()
                await asyncio.sleep(0.2)
                await seqr.submit(commands(0)[10])

        run(go())
        assert not list_snapshots(data / "snapshots")
