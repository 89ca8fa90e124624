"""Exceptions raised by the journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class JournalError(Exception):
    """Base class for every journal error."""


class JournalCorruptError(JournalError):
    """The journal holds damage that is not a torn tail; it must not be used as is.

    ``path``, ``offset`` (byte offset in that file) and ``seq`` (the sequence number expected
    at that position) locate the damage precisely, so an operator can inspect it with a hex
    dump and decide; the journal never skips it.
    """

    def __init__(self, path: Path, offset: int, seq: int, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.seq = seq
        self.reason = reason
        super().__init__(f"journal corrupt: {path}: byte offset {offset}, seq {seq}: {reason}")


class TailDamageError(JournalCorruptError):
    """Strict start (``strict_tail``): the final record is complete but damaged, so it may have
    been acknowledged; the writer refuses instead of cutting it. Nothing was changed."""


class JournalSequenceError(JournalError, ValueError):
    """The writer refused a record whose seq is not the previous seq + 1."""


class JournalRangeError(JournalError):
    """A seq was requested that the journal no longer holds (pruned) or never held."""


class JournalClosedError(JournalError):
    """The writer is closed, or a failed write left it unusable (reopen it to recover)."""


class JournalLockedError(JournalError):
    """Another writer holds the journal directory.

    ``holders``: the processes found with the lock file open (``lockfile.LockHolder``), so a
    refused start can say which engine (or leftover child of one) to stop.
    """

    def __init__(self, message: str, holders: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.holders = holders
