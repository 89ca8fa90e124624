"""The forked snapshot child's ties to its parent: what it may keep, when it dies, what it says.

A forked child inherits every descriptor of the engine: the journal's ``flock`` (shared with
the parent's open file description), the listening sockets, the client connections. If it
outlived a killed engine it would keep them all, and the next engine would be refused the lock
and the port (issue 8, item 8). So right after the fork the child

* asks the kernel to SIGKILL it when its parent dies (``PR_SET_PDEATHSIG``, Linux), then checks
  that the parent has not died already (between the fork and the prctl). The signal is tied to
  the forking *thread*: the sequencer forks from its event-loop thread, which lives as long as
  the engine;
* closes every inherited descriptor except stdio and its status pipe (``os.closerange``, one
  ``close_range`` syscall on Linux), so even where there is no prctl it holds nothing.

It reports how it ended through the status pipe (a few hundred bytes of JSON written once,
below the pipe's buffer, so the write never blocks); the parent reads it when it reaps the
child, so a failed snapshot's log line says why (issue 8, item 11).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trade_engine.recovery.snapshots import Retention, SnapshotInfo

_PR_SET_PDEATHSIG = 1
_MAX_STATUS = 16 * 1024  # well below a pipe's buffer (64 KiB on Linux, 4 KiB minimum POSIX)
_MAX_NAMES = 50


def _load_prctl() -> Callable[..., int] | None:
    # resolved once in the parent, so the child only makes the call (no dlopen after fork)
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_prctl = _load_prctl()


def detach_child(parent: int, keep: int) -> None:
    """In a freshly forked child: die with ``parent``; drop every fd but stdio and ``keep``."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the prctl took effect: nobody wants this snapshot
    os.closerange(3, keep)
    os.closerange(keep + 1, _fd_limit())


def _fd_limit() -> int:
    try:
        return max(os.sysconf("SC_OPEN_MAX"), 1024)
    except (OSError, ValueError):
        return 65536


@dataclass(frozen=True, slots=True)
class ChildStatus:
    ok: bool
    error: str = ""
    errno: int = 0
    kept: list[tuple[str, int, int, int]] = field(default_factory=list)  # path, seq, ts, size
    removed: list[str] = field(default_factory=list)
    set_aside: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_exception(cls, exc: BaseException) -> ChildStatus:
        code = exc.errno if isinstance(exc, OSError) and exc.errno else 0
        return cls(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000], errno=code)

    @classmethod
    def from_retention(cls, r: Retention) -> ChildStatus:
        return cls(
            ok=True,
            kept=[(str(i.path), i.seq, i.ts, i.size) for i in r.kept],
            removed=[str(p) for p in r.removed[:_MAX_NAMES]],
            set_aside=[(str(p), why[:300]) for p, why in r.set_aside[:_MAX_NAMES]],
            unreadable=[(str(p), why[:300]) for p, why in r.unreadable[:_MAX_NAMES]],
        )

    def retention(self) -> Retention:
        return Retention(
            kept=tuple(SnapshotInfo(Path(p), seq, ts, size) for p, seq, ts, size in self.kept),
            removed=tuple(Path(p) for p in self.removed),
            set_aside=tuple((Path(p), why) for p, why in self.set_aside),
            unreadable=tuple((Path(p), why) for p, why in self.unreadable),
        )

    def explain(self, snapshot_dir: Path) -> str:
        """The reason, with what to do when it is a known one."""
        if self.errno in (errno.ENOSPC, errno.EDQUOT):
            return (
                f"{self.error}: disk full in {snapshot_dir}; free space there (runbook: Disk "
                "full). No temp file was left; the journal still holds everything and the "
                "next snapshot is tried as usual"
            )
        return self.error


def write_status(fd: int, status: ChildStatus) -> None:
    data = json.dumps(_as_dict(status)).encode()
    if len(data) > _MAX_STATUS:  # never block on a full pipe: drop the lists, keep the verdict
        data = json.dumps({"ok": status.ok, "error": status.error, "errno": status.errno}).encode()
    with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
        os.write(fd, data)


def _as_dict(status: ChildStatus) -> dict[str, Any]:
    return {
        "ok": status.ok,
        "error": status.error,
        "errno": status.errno,
        "kept": status.kept,
        "removed": status.removed,
        "set_aside": status.set_aside,
        "unreadable": status.unreadable,
    }


def read_status(fd: int, wait_status: int) -> ChildStatus:
    """Read what the (exited) child wrote and close ``fd``; fall back to its wait status."""
    chunks: list[bytes] = []
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        pass
    finally:
        os.close(fd)
    try:
        d = json.loads(b"".join(chunks))
        status = ChildStatus(
            ok=bool(d["ok"]),
            error=str(d.get("error", "")),
            errno=int(d.get("errno", 0)),
            kept=[tuple(x) for x in d.get("kept", [])],
            removed=list(d.get("removed", [])),
            set_aside=[tuple(x) for x in d.get("set_aside", [])],
            unreadable=[tuple(x) for x in d.get("unreadable", [])],
        )
    except (ValueError, KeyError, TypeError):
        status = None
    code = os.waitstatus_to_exitcode(wait_status)
    if status is not None and (status.ok == (code == 0)):
        return status
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return ChildStatus(ok=False, error=f"the snapshot child was killed by {name}")
    if status is not None:
        return status
    return ChildStatus(ok=False, error=f"the snapshot child exited with {code} without a report")
