"""The journal directory's lock: one writer at a time, and who holds it when a start is refused.

The lock is an ``flock`` on ``journal.lock``. The holder writes its pid into the file, but the
file alone cannot be trusted to name the holder: an ``flock`` belongs to the open file
description, so a process that inherited the descriptor (a forked child that outlived the
engine) holds the lock too, under another pid. So a refused start also looks through
``/proc/*/fd`` for every process that has the file open (all of them, as root; one's own
otherwise) and names each with its command line and parent.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from trade_engine.journal.errors import JournalLockedError
from trade_engine.journal.format import LOCK_NAME


@dataclass(frozen=True, slots=True)
class LockHolder:
    pid: int
    cmdline: str  # "" when it cannot be read

    def describe(self) -> str:
        cmd = self.cmdline or "command line unknown"
        return f"pid {self.pid} ({cmd})"


def lock_directory(directory: Path) -> int:
    """Take the directory's writer lock; return its fd (closing the fd releases it)."""
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _locked_error(directory, path) from None
    # Who holds it, for the next one that is refused. Not synced: it only has to be right
    # while this process lives.
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # a full disk must not stop the lock; the /proc scan still names the holder
    return fd


def _locked_error(directory: Path, path: Path) -> JournalLockedError:
    recorded = _recorded_pid(path)
    holders = lock_holders(path)
    if holders:
        parts = []
        orphans = []
        for h in holders:
            text = h.describe()
            if recorded and h.pid != recorded and not _alive(recorded):
                # an inherited descriptor: the process that took the lock is gone
                text += f", a leftover child of engine pid {recorded}, which is no longer running"
                orphans.append(str(h.pid))
            parts.append(text)
        who = "; ".join(parts)
        if orphans:
            advice = f"kill {' '.join(orphans)} (nothing in it is needed) and start again"
        else:
            advice = "stop that engine first, or give this one another data_dir"
    elif recorded == os.getpid():
        who = "this process (another journal writer in it is still open)"
        advice = "close it first"
    elif recorded:
        who = f"pid {recorded} (per {LOCK_NAME}; its command line could not be read)"
        advice = "stop that engine first, or give this one another data_dir"
    else:
        who = "a process that could not be identified"
        advice = f"find it with `fuser {path}` and stop it, or give this engine another data_dir"
    return JournalLockedError(
        f"data directory in use: the journal {directory} is locked by {who}; {advice}",
        holders=tuple(holders),
    )


def _recorded_pid(path: Path) -> int:
    try:
        text = path.read_text().strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holders(path: Path) -> list[LockHolder]:
    """Every other process with ``path`` open, found through ``/proc`` (Linux); [] elsewhere."""
    try:
        st = os.stat(path)
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []
    me = os.getpid()
    found: list[LockHolder] = []
    for pid in sorted(pids):
        if pid == me:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # gone, or not ours to look at
        for fd in fds:
            try:
                s = os.stat(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if s.st_ino == st.st_ino and s.st_dev == st.st_dev:
                found.append(LockHolder(pid, _cmdline(pid)))
                break
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return ""
    text = " ".join(a.decode(errors="replace") for a in raw.split(b"\0") if a)
    text = " ".join(text.split())  # one log line, whatever the arguments hold
    return text if len(text) <= 300 else text[:297] + "..."
