"""The journal writer: recovery on open, buffered appends, group commit, rotation."""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from trade_engine.journal.errors import (
    JournalClosedError,
    JournalError,
    JournalSequenceError,
    TailDamageError,
)
from trade_engine.journal.fileio import fsync_dir, write_all
from trade_engine.journal.format import (
    GENESIS_HASH,
    HASH_SIZE,
    HEADER_SIZE,
    MAX_PAYLOAD,
    MAX_SEQ,
    MAX_TS,
    MIN_TS,
    RECORD_HEAD_SIZE,
    SEGMENT_SUFFIX,
    TEMP_SUFFIX,
    SegmentHeader,
    segment_name,
)
from trade_engine.journal.lockfile import lock_directory
from trade_engine.journal.retention import PrunedSegment, prune_segments_before
from trade_engine.journal.segment import TailCut, list_temp_files, scan_journal

QUARANTINE_DIR = "quarantine"  # under the journal directory: cut tails, kept

log = logging.getLogger(__name__)

_SEQ_TS = struct.Struct("<Qq")
_PREFIX = struct.Struct("<II")
_blake2b = hashlib.blake2b
_crc32 = zlib.crc32

DEFAULT_SEGMENT_SIZE = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What opening the journal found and did."""

    directory: Path
    segments: int
    records: int
    first_seq: int | None
    last_seq: int | None
    tail_cut: TailCut | None
    removed_temp_files: tuple[Path, ...]
    full_scan: bool
    seconds: float
    quarantined: Path | None = None  # where the bytes of a cut tail were kept


def quarantined_tails(directory: Path) -> list[Path]:
    """The tails a start has cut from the journal in ``directory``, kept (oldest name first)."""
    q = Path(directory) / QUARANTINE_DIR
    return sorted(p for p in q.iterdir() if p.is_file()) if q.is_dir() else []


class _Chunk:
    """Buffered bytes bound for one segment; a new segment's chunk starts with its header."""

    __slots__ = ("data", "first_seq", "new_segment")

    def __init__(self, data: bytearray, first_seq: int, new_segment: bool) -> None:
        self.data = data
        self.first_seq = first_seq
        self.new_segment = new_segment


class JournalWriter:
    """Single writer of a journal directory.

    Opening recovers the tail (see ``recovery``). ``append`` only buffers; ``commit`` writes
    the buffer and fdatasyncs once, so nothing appended is durable (or may be acknowledged)
    before ``commit`` returns. One thread may append while another commits (the fsync of
    batch N overlaps the building of batch N+1); commits themselves are serialized.
    After a failed write the writer refuses further work: what reached the disk is unknown
    (a failed fsync may have dropped dirty pages), so the only safe move is to reopen.

    ``segment_size``: rotation threshold in bytes. ``sync=False`` skips every fsync (tests,
    benchmarks). ``genesis``: chain value before the first record, used only when the
    journal is created (afterwards it is read from the first segment's header).
    ``full_scan``: on open, walk every record of every segment (True) or only the last
    segment plus the links between segments (False; see docs/journal-format.md).
    ``tail_chain``: without ``full_scan``, recompute the chain over the last segment (True)
    or check it by CRC and seq and take its last record's stored hash (False).
    A cut tail's bytes are kept in ``quarantine_dir`` (default ``<directory>/quarantine``)
    before the cut. ``strict_tail``: refuse (``TailDamageError``) instead of cutting a final
    record that is complete but damaged, which may have been acknowledged; a short or
    zero-filled tail, which never was, is still cut.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        sync: bool = True,
        genesis: bytes = GENESIS_HASH,
        full_scan: bool = True,
        tail_chain: bool = True,
        quarantine_dir: Path | None = None,
        strict_tail: bool = False,
    ) -> None:
        if segment_size < 1:
            raise ValueError("segment_size must be positive")
        if len(genesis) != HASH_SIZE:
            raise ValueError(f"genesis must be {HASH_SIZE} bytes")
        self._dir = Path(directory)
        self._segment_size = segment_size
        self._sync = sync
        self._lock = threading.Lock()  # guards the append-side state below
        self._commit_lock = threading.Lock()
        self._closed = False
        self._failed: BaseException | None = None
        self._usable = True  # neither closed nor failed: one test on the hot path
        self._fd: int | None = None
        self._fd_dirty = False
        self._quarantine_dir = quarantine_dir or self._dir / QUARANTINE_DIR
        self._strict_tail = strict_tail

        created = not self._dir.exists()
        self._dir.mkdir(parents=True, exist_ok=True)
        if created and sync:
            fsync_dir(self._dir.resolve().parent)
        self._lock_fd = lock_directory(self._dir)
        try:
            self.recovery = self._recover(full_scan, genesis, tail_chain)
        except BaseException:
            self._release()
            raise

    def _recover(self, full_scan: bool, genesis: bytes, tail_chain: bool) -> RecoveryReport:
        started = time.perf_counter()
        # A temp segment never got renamed, so its commit never returned: nobody was told.
        temps = list_temp_files(self._dir)
        for temp in temps:
            log.warning("journal %s: removing unfinished segment %s", self._dir, temp.name)
            temp.unlink()
        if temps and self._sync:
            fsync_dir(self._dir)

        scan = scan_journal(self._dir, full=full_scan, tail_chain=tail_chain)
        cut = scan.tail_cut
        quarantined = None
        if cut is not None:
            if self._strict_tail and cut.may_be_acknowledged:
                raise TailDamageError(
                    cut.path,
                    cut.offset,
                    cut.seq,
                    f"{cut.reason}: the final record may have been acknowledged, and "
                    "sequencer.strict_tail refuses to cut it. Check whether seq "
                    f"{cut.seq} reached a client, a replica or a sink; to accept its loss, "
                    "start once with strict_tail off (its bytes are then kept in quarantine)",
                )
            quarantined = self._quarantine(cut)
            self._log_cut(cut, quarantined)
            fd = os.open(cut.path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.ftruncate(fd, cut.offset)
                if self._sync:
                    os.fsync(fd)
            finally:
                os.close(fd)

        # Append-side state: where the next record goes.
        self._chunks: list[_Chunk] = []
        self._chunk: _Chunk | None = None  # the chunk the next record joins, if any
        self._pending = 0
        if scan.segments:
            tail = scan.segments[-1]
            self._fd = os.open(tail.path, os.O_WRONLY | os.O_CLOEXEC)
            os.lseek(self._fd, tail.size, os.SEEK_SET)
            self._next: int | None = tail.last_seq + 1
            self._last_hash = scan.last_hash if scan.last_hash is not None else genesis
            self._tail_size = tail.size
        else:
            self._next = None
            self._last_hash = genesis
            self._tail_size = 0
        self._tail_last_off = scan.last_record_offset  # 0 = no record in the tail segment
        self._has_segment = bool(scan.segments)
        self._committed_seq = self.last_seq

        report = RecoveryReport(
            directory=self._dir,
            segments=len(scan.segments),
            records=scan.records,
            first_seq=scan.first_seq,
            last_seq=scan.last_seq,
            tail_cut=cut,
            removed_temp_files=tuple(temps),
            full_scan=full_scan,
            seconds=time.perf_counter() - started,
            quarantined=quarantined,
        )
        log.info(
            "journal %s: opened, %d records (seq %s..%s) in %d segments, %.3f s",
            self._dir,
            report.records,
            report.first_seq,
            report.last_seq,
            report.segments,
            report.seconds,
        )
        return report

    def _quarantine(self, cut: TailCut) -> Path:
        """Keep the bytes about to be cut, durably, before the cut: the only copy of what may
        be an acknowledged record. If they cannot be kept (a full disk), the start fails."""
        with open(cut.path, "rb") as f:
            f.seek(cut.offset)
            data = f.read(cut.length)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = f"tail-seq{cut.seq}-{cut.path.stem}-off{cut.offset}-{stamp}.bin"
        qdir = self._quarantine_dir
        path = qdir / name
        try:
            qdir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                write_all(fd, data)
                if self._sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if self._sync:
                fsync_dir(qdir)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise JournalError(
                f"cannot keep the damaged journal tail ({cut.length} bytes at seq {cut.seq}) in "
                f"{qdir} before cutting it: {exc}"
            ) from exc
        return path

    def _log_cut(self, cut: TailCut, kept: Path) -> None:
        if cut.may_be_acknowledged:
            # bit rot looks like this too: the record was complete, so it may have been
            # fsynced and acknowledged before the damage
            log.error(
                "journal %s: cutting %s; the record was complete, so seq %d MAY HAVE BEEN "
                "ACKNOWLEDGED: check whether it reached a client, a replica or a sink (runbook: "
                "a damaged final record). Its bytes are kept in %s; sequencer.strict_tail "
                "refuses to start instead of cutting",
                self._dir,
                cut,
                cut.seq,
                kept,
            )
        else:
            log.warning(
                "journal %s: cutting %s; a write that never completed, so never acknowledged "
                "(bytes kept in %s)",
                self._dir,
                cut,
                kept,
            )

    # -- state ---------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def last_seq(self) -> int:
        """Seq of the last appended record (committed or not); 0 if the journal is empty."""
        return self._next - 1 if self._next is not None else 0

    @property
    def last_hash(self) -> bytes:
        """Chain hash of the last appended record (the genesis value if there is none)."""
        return self._last_hash

    @property
    def committed_seq(self) -> int:
        """Seq of the last record written by a successful commit (durable if ``sync``)."""
        return self._committed_seq

    @property
    def pending(self) -> int:
        """Records appended but not yet committed."""
        return self._pending

    # -- writing -------------------------------------------------------------------------

    def append(self, seq: int, ts: int, payload: bytes) -> None:
        """Buffer one record. ``seq`` must be ``last_seq + 1`` (any positive int at first)."""
        # Hot path of the sequencer: record encoding is inlined (see format.encode_record).
        if not self._usable:
            self._check_usable()
        if seq != self._next:
            self._check_first_seq(seq)
        if not MIN_TS <= ts <= MAX_TS:
            raise ValueError(f"ts {ts} does not fit in a signed 64-bit int")
        size = len(payload)
        if size > MAX_PAYLOAD:
            raise ValueError(f"payload of {size} bytes exceeds {MAX_PAYLOAD}")
        hashed = _SEQ_TS.pack(seq, ts) + payload
        h = _blake2b(self._last_hash + hashed, digest_size=HASH_SIZE).digest()
        body = h + hashed
        with self._lock:
            chunk = self._chunk
            if chunk is None or self._tail_size >= self._segment_size:
                chunk = self._start_chunk(seq)
            data = chunk.data
            data += _PREFIX.pack(size, _crc32(body))
            data += body
            self._tail_last_off = self._tail_size
            self._tail_size += RECORD_HEAD_SIZE + size
            self._pending += 1
            self._next = seq + 1
            self._last_hash = h

    def _check_first_seq(self, seq: int) -> None:
        if self._next is not None:
            raise JournalSequenceError(f"seq {seq} refused: the next seq must be {self._next}")
        if not 0 < seq <= MAX_SEQ:
            raise JournalSequenceError(f"seq {seq} refused: seqs are positive 64-bit ints")

    def _start_chunk(self, seq: int) -> _Chunk:
        """Slow path of append: the first record after a commit, or a rotation."""
        rotate = self._tail_last_off != 0 and self._tail_size >= self._segment_size
        if self._has_segment and not rotate:
            if self._chunk is not None:
                return self._chunk
            chunk = _Chunk(bytearray(), seq, new_segment=False)
        else:
            header = SegmentHeader(seq, self._last_hash, self._tail_last_off)
            chunk = _Chunk(bytearray(header.encode()), seq, new_segment=True)
            self._has_segment = True
            self._tail_size = HEADER_SIZE
            self._tail_last_off = 0
        self._chunks.append(chunk)
        self._chunk = chunk
        return chunk

    def commit(self) -> int:
        """Write everything appended, fdatasync once; return the number of records written."""
        with self._commit_lock:
            return self._commit_locked()

    def _commit_locked(self) -> int:
        self._check_usable()
        with self._lock:
            chunks, self._chunks = self._chunks, []
            self._chunk = None
            count, self._pending = self._pending, 0
            last_seq = self.last_seq
        if not chunks:
            return 0
        try:
            self._write(chunks)
        except BaseException as exc:
            self._failed = exc
            self._usable = False
            raise
        self._committed_seq = last_seq
        return count

    def _write(self, chunks: list[_Chunk]) -> None:
        for chunk in chunks:
            if chunk.new_segment:
                if self._fd is not None:
                    # The sealed segment must be durable before a later one exists: recovery
                    # only forgives damage in the last segment.
                    if self._sync and self._fd_dirty:
                        os.fdatasync(self._fd)
                    os.close(self._fd)
                    self._fd = None
                self._fd = self._create_segment(chunk)
                self._fd_dirty = False
            else:
                assert self._fd is not None  # a non-new chunk always follows a segment
                write_all(self._fd, chunk.data)
                self._fd_dirty = True
        if self._fd_dirty and self._sync:
            assert self._fd is not None
            os.fdatasync(self._fd)
        self._fd_dirty = False

    def _create_segment(self, chunk: _Chunk) -> int:
        # Header and first records go to a temp file that is synced, then renamed: a segment
        # file therefore never exists with a partial header.
        final = self._dir / segment_name(chunk.first_seq)
        if final.exists():
            raise JournalError(f"{final} already exists; refusing to overwrite a segment")
        temp = final.with_name(final.name[: -len(SEGMENT_SUFFIX)] + TEMP_SUFFIX)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            write_all(fd, chunk.data)
            if self._sync:
                os.fdatasync(fd)
            os.rename(temp, final)
        except BaseException:
            os.close(fd)
            temp.unlink(missing_ok=True)
            raise
        if self._sync:
            try:
                fsync_dir(self._dir)
            except BaseException:
                os.close(fd)
                raise
        return fd

    # -- retention and lifetime -----------------------------------------------------------

    def prune_segments_before(self, seq: int) -> list[PrunedSegment]:
        """Delete whole segments whose records are all < ``seq`` (never the current one)."""
        self._check_usable()
        return prune_segments_before(self._dir, seq, sync=self._sync)

    def close(self, *, commit: bool = True) -> None:
        """Commit what is pending (unless ``commit=False``: it is dropped) and close."""
        with self._commit_lock:  # never close the fd under a commit running in another thread
            if self._closed:
                return
            try:
                if commit and self._failed is None and self._pending:
                    self._commit_locked()
            finally:
                self._closed = True
                self._usable = False
                self._release()

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        os.close(self._lock_fd)

    def _check_usable(self) -> None:
        if self._closed:
            raise JournalClosedError(f"journal writer for {self._dir} is closed")
        if self._failed is not None:
            raise JournalClosedError(
                f"journal writer for {self._dir} failed ({self._failed!r}); reopen to recover"
            )

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(commit=exc_type is None)
