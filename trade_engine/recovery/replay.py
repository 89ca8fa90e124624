"""Recovery: rebuild the engine from the newest valid snapshot plus the journal tail."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trade_engine.core.engine import Engine
from trade_engine.journal import JournalReader, first_seq
from trade_engine.recovery.errors import JournalGapError, RecordsMissingError
from trade_engine.recovery.snapshots import load_newest
from trade_engine.wire.records import decode_command

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    engine: Engine
    snapshot_seq: int  # 0 = started from an empty engine
    replayed: int
    last_seq: int
    seconds: float


def replay_into(
    engine: Engine,
    journal_dir: Path,
    from_seq: int,
    to_seq: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Apply journal records ``from_seq``..``to_seq`` to ``engine``; return how many."""
    n = 0
    apply = engine.apply
    expected = from_seq
    emit = engine.emit
    engine.emit = False  # the records hold the events already: rebuild the state only
    try:
        for seq, ts, payload in JournalReader(journal_dir).read_from(from_seq, to_seq=to_seq):
            if seq != expected:
                raise JournalGapError(f"journal jumps from seq {expected - 1} to {seq}")
            apply(seq, ts, decode_command(payload))
            expected = seq + 1
            n += 1
            if progress is not None and n % 10_000 == 0:
                progress(n)
    finally:
        engine.emit = emit
    return n


def recover(
    journal_dir: Path,
    snapshot_dir: Path,
    to_seq: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RecoveryResult:
    """Newest usable snapshot (at or below ``to_seq``) + replay of the journal after it."""
    t0 = time.perf_counter()
    # rebuilding allocates millions of objects that all survive: the cyclic GC would walk
    # them again and again for nothing
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _recover(journal_dir, snapshot_dir, to_seq, progress, t0)
    finally:
        # what recovery built is the engine's long-lived state: move it to the permanent
        # generation, or the first collections after this walk millions of objects (the
        # engine process keeps freezing survivors the same way, see process.tune_gc)
        gc.freeze()
        if gc_was_enabled:
            gc.enable()


def _recover(
    journal_dir: Path,
    snapshot_dir: Path,
    to_seq: int | None,
    progress: Callable[[int], None] | None,
    t0: float,
) -> RecoveryResult:
    found = load_newest(snapshot_dir, max_seq=to_seq)
    if found is None:
        engine, snap_seq = Engine(), 0
    else:
        info, engine = found
        snap_seq = info.seq
    first = first_seq(journal_dir)
    if to_seq is not None and to_seq <= snap_seq:
        first = None  # the snapshot is the state asked for: nothing to replay
    elif first is not None and first > snap_seq + 1:
        raise RecordsMissingError(snap_seq, first)
    replayed = 0
    if first is not None:
        replayed = replay_into(engine, journal_dir, snap_seq + 1, to_seq, progress)
    dt = time.perf_counter() - t0
    return RecoveryResult(engine, snap_seq, replayed, engine.seq, dt)
