"""Retention: delete whole segments that only hold records older than a given seq."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

from trade_engine.journal.fileio import fsync_dir
from trade_engine.journal.segment import list_segments


@dataclass(frozen=True, slots=True)
class PrunedSegment:
    path: Path
    first_seq: int
    last_seq: int
    size: int


def prune_segments_before(
    directory: str | os.PathLike[str], seq: int, *, sync: bool = True
) -> list[PrunedSegment]:
    """Delete the segments whose every record is < ``seq``; return what was removed.

    A segment's last seq is the next segment's first seq - 1, so the decision needs only the
    file names. The segment holding ``seq`` and the last segment (the writer's) are never
    removed. Oldest first, so a crash midway still leaves a contiguous journal.
    """
    path = Path(directory)
    segments = list_segments(path)
    removed: list[PrunedSegment] = []
    for current, following in itertools.pairwise(segments):
        if following.first_seq > seq:
            break
        size = current.path.stat().st_size
        current.path.unlink()
        removed.append(
            PrunedSegment(current.path, current.first_seq, following.first_seq - 1, size)
        )
    if removed and sync:
        fsync_dir(path)
    return removed
