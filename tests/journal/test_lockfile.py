"""A refused journal lock names what holds it (issue 8, items 8 and 12): the holding process,
and when that is a leftover child of an engine that is gone, says so and what to kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trade_engine.journal import JournalLockedError, JournalWriter

# takes the lock, forks a child that inherits it (as the snapshot child used to), and exits
ORPHAN_MAKER = """
import os, sys, time
from pathlib import Path
from trade_engine.journal import JournalWriter
w = JournalWriter(Path(sys.argv[1]))
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    time.sleep(60)
    os._exit(0)
print(pid, flush=True)
os._exit(0)
"""


def test_a_second_writer_in_this_process_is_told_so(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, sync=False), pytest.raises(JournalLockedError) as exc:
        JournalWriter(tmp_path, sync=False)
    assert "this process" in str(exc.value)


@pytest.mark.timeout(60)
def test_a_lock_held_by_an_orphaned_child_names_it_and_says_to_kill_it(tmp_path: Path) -> None:
    maker = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_MAKER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert maker.stdout is not None
    child = int(maker.stdout.readline())
    maker.wait(30)
    try:
        with pytest.raises(JournalLockedError) as exc:
            JournalWriter(tmp_path, sync=False)
        msg = str(exc.value)
        assert f"pid {child} (" in msg
        assert f"leftover child of engine pid {maker.pid}" in msg
        assert f"kill {child}" in msg
        assert "\n" not in msg
        assert [h.pid for h in exc.value.holders] == [child]
    finally:
        os.kill(child, signal.SIGKILL)
    # once it is gone, the directory opens
    for _ in range(200):
        try:
            JournalWriter(tmp_path, sync=False).close()
            break
        except JournalLockedError:
            time.sleep(0.02)
    else:
        raise AssertionError("the lock was not released after the orphan died")
