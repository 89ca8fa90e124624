"""Reading the journal: records from any seq (replay, streams from disk) and verify."""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from trade_engine.journal.errors import JournalCorruptError, JournalError, JournalRangeError
from trade_engine.journal.format import Record
from trade_engine.journal.segment import (
    CHUNK_SIZE,
    DamageKind,
    SegmentFile,
    TailCut,
    WalkState,
    classify_tail,
    list_segments,
    read_header,
    scan_journal,
    walk_records,
)


@dataclass(frozen=True, slots=True)
class VerifyStats:
    records: int
    first_seq: int | None
    last_seq: int | None
    segments: int
    total_bytes: int
    entering_hash: bytes | None  # chain value the first segment starts from (genesis if unpruned)
    last_hash: bytes | None  # anchor it elsewhere (snapshot, audit log) to pin the tail too
    torn_tail: TailCut | None  # what the writer would cut on open; verify changes nothing
    seconds: float


class JournalReader:
    """Read-only access to a journal directory; safe alongside a live writer.

    The segment list is taken when a read starts; a reader that reaches the end of it simply
    stops, and continues later with ``read_from(last_seen + 1)``.
    """

    def __init__(self, directory: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE):
        self._dir = Path(directory)
        if not self._dir.is_dir():
            raise JournalError(f"{self._dir} is not a journal directory")
        self._chunk_size = chunk_size

    @property
    def directory(self) -> Path:
        return self._dir

    def segments(self) -> list[SegmentFile]:
        return list_segments(self._dir)

    def read_from(
        self, seq: int, *, to_seq: int | None = None, verify_chain: bool = False
    ) -> Iterator[Record]:
        """Yield records with ``seq <= record.seq <= to_seq`` in order.

        The segment holding ``seq`` is found by file name; records before ``seq`` in it are
        stepped over by length. Each yielded record is checked by CRC and seq continuity,
        or, with ``verify_chain``, by its chain hash (continuing from the stored hash of the
        record before ``seq``). A seq older than the oldest segment raises
        JournalRangeError; a seq past the end yields nothing. An incomplete or torn tail of
        the last segment ends the iteration (a live writer may be mid-write); other damage
        raises JournalCorruptError.
        """
        if seq < 1:
            raise ValueError("seqs start at 1")
        segments = list_segments(self._dir)
        if not segments:
            return
        index = bisect.bisect_right([s.first_seq for s in segments], seq) - 1
        if index < 0:
            raise JournalRangeError(
                f"seq {seq} is no longer in the journal: the oldest segment starts at seq "
                f"{segments[0].first_seq}"
            )
        expect: int | None = None
        prev_hash = b""
        for i in range(index, len(segments)):
            seg = segments[i]
            is_last = i == len(segments) - 1
            try:
                f = open(seg.path, "rb", buffering=0)  # noqa: SIM115 - closed below
            except FileNotFoundError:
                if i == index:
                    raise JournalRangeError(f"seq {seq} was pruned while reading") from None
                raise
            with f:
                header = read_header(f, seg)
                if expect is not None and header.first_seq != expect:
                    raise JournalCorruptError(
                        seg.path, 0, expect, f"segment starts at seq {header.first_seq}"
                    )
                if expect is not None and verify_chain and header.entering_hash != prev_hash:
                    raise JournalCorruptError(
                        seg.path, 0, expect, "chain hash in the header does not follow"
                    )
                st = WalkState(header.first_seq, header.entering_hash)
                yield from walk_records(
                    f,
                    st,
                    start_seq=seq,
                    stop_seq=to_seq,
                    check_crc=not verify_chain,
                    check_chain=verify_chain,
                    chunk_size=self._chunk_size,
                )
            if to_seq is not None and st.next_seq > to_seq:
                return
            damage = st.damage
            if damage is not None:
                if not is_last:
                    raise JournalCorruptError(
                        seg.path, damage.offset, damage.seq, f"{damage.reason} (sealed segment)"
                    )
                limit = st.observed_size if damage.kind is DamageKind.INCOMPLETE else None
                classify_tail(seg.path, damage, limit)  # raises unless it is a tail
                return
            expect, prev_hash = st.next_seq, st.last_hash

    def verify(self) -> VerifyStats:
        """Walk every record (CRC, seq, chain, segment links); raise at the first damage."""
        started = time.perf_counter()
        scan = scan_journal(self._dir, full=True)
        return VerifyStats(
            records=scan.records,
            first_seq=scan.first_seq,
            last_seq=scan.last_seq,
            segments=len(scan.segments),
            total_bytes=scan.total_bytes,
            entering_hash=scan.entering_hash,
            last_hash=scan.last_hash,
            torn_tail=scan.tail_cut,
            seconds=time.perf_counter() - started,
        )


def first_seq(directory: str | os.PathLike[str]) -> int | None:
    """The seq of the oldest record still in the journal (None: no journal yet)."""
    if not os.path.isdir(directory):
        return None
    segs = JournalReader(directory).segments()
    return segs[0].first_seq if segs else None


def read_from(
    directory: str | os.PathLike[str],
    seq: int,
    *,
    to_seq: int | None = None,
    verify_chain: bool = False,
) -> Iterator[Record]:
    return JournalReader(directory).read_from(seq, to_seq=to_seq, verify_chain=verify_chain)


def verify(directory: str | os.PathLike[str]) -> VerifyStats:
    return JournalReader(directory).verify()
