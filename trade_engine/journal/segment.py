"""Reading segment files: listing, headers, the record walk, the torn-tail rule, full scans.

Shared by the writer (recovery), the reader (replay, streams from disk) and verify.
"""

from __future__ import annotations

import enum
import hashlib
import os
import struct
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from trade_engine.journal.errors import JournalCorruptError
from trade_engine.journal.format import (
    HASH_OFFSET,
    HASH_SIZE,
    HEADER_SIZE,
    MAX_PAYLOAD,
    MAX_SEQ,
    RECORD_HEAD,
    RECORD_HEAD_SIZE,
    SEQ_OFFSET,
    TEMP_SUFFIX,
    Record,
    SegmentHeader,
    decode_header,
    parse_segment_name,
)

CHUNK_SIZE = 1 << 20
# Before cutting a damaged tail, look this many seqs ahead for an intact record behind it.
_GUARD_SEQS = 64

_SCAN = struct.Struct("<II16xQq")  # length, crc, (hash skipped), seq, ts
_PREFIX = struct.Struct("<II")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True, slots=True)
class SegmentFile:
    """A segment as found in the directory: first seq (from its name) and path."""

    first_seq: int
    path: Path


def list_segments(directory: Path) -> list[SegmentFile]:
    found: list[SegmentFile] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            seq = parse_segment_name(entry.name)
            if seq is not None:
                found.append(SegmentFile(seq, Path(entry.path)))
    found.sort(key=lambda s: s.first_seq)
    return found


def list_temp_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(TEMP_SUFFIX))


def read_header(f: BinaryIO, seg: SegmentFile) -> SegmentHeader:
    f.seek(0)
    header = decode_header(f.read(HEADER_SIZE), seg.path, seg.first_seq)
    if header.first_seq != seg.first_seq:
        raise JournalCorruptError(
            seg.path,
            0,
            seg.first_seq,
            f"bad segment header: first seq {header.first_seq} does not match the file name",
        )
    return header


class DamageKind(enum.Enum):
    INCOMPLETE = "incomplete"  # record runs past the end of the file
    BAD_LENGTH = "bad length"  # length field larger than any record can be
    BAD_CRC = "bad crc"
    BAD_SEQ = "bad seq"  # intact record, wrong seq: gap, reordering, duplicate
    BAD_CHAIN = "bad chain"  # intact record, chain hash does not follow


_TORN_CANDIDATES = frozenset({DamageKind.INCOMPLETE, DamageKind.BAD_LENGTH, DamageKind.BAD_CRC})


@dataclass(frozen=True, slots=True)
class Damage:
    offset: int
    seq: int  # the seq expected at offset
    kind: DamageKind
    reason: str


@dataclass(slots=True)
class WalkState:
    """Position of a walk through one segment; updated when the walk ends."""

    next_seq: int
    last_hash: bytes
    end_offset: int = HEADER_SIZE  # end of the last intact record
    last_record_offset: int = 0  # 0 = no record yet in this segment
    damage: Damage | None = None
    observed_size: int | None = None  # file size seen when the walk hit end of file


def walk_records(
    f: BinaryIO,
    st: WalkState,
    *,
    start_seq: int = 0,
    stop_seq: int | None = None,
    check_crc: bool = True,
    check_chain: bool = True,
    emit: bool = True,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Record]:
    """Yield the records of one segment from ``st.end_offset``, verifying as asked.

    Records below ``start_seq`` are stepped over by length alone (not verified); the walk
    stops before the first record above ``stop_seq``. It ends at end of file or at the first
    damage, recorded in ``st.damage``: whether that is a torn tail or corruption is the
    caller's decision (it depends on whether this is the last segment). ``emit=False`` only
    checks. ``f`` must be unbuffered so that each read is one large syscall.
    """
    # The inner loop is the replay hot path: locals only, one unpack per record, and every
    # anomaly leaves it through a single test to be sorted out below.
    unpack = _SCAN.unpack_from
    crc32 = zlib.crc32
    blake2b = hashlib.blake2b
    stop = MAX_SEQ if stop_seq is None else stop_seq
    expect = st.next_seq
    prev = st.last_hash
    base = st.end_offset  # file offset of buf[0]
    last_off = st.last_record_offset
    f.seek(base)
    buf = b""
    o = n = 0
    want = chunk_size
    while True:
        data = f.read(want)
        if not data:
            break
        if o:
            base += o
            buf = buf[o:] + data if o < n else data
            o = 0
        else:
            buf += data
        n = len(buf)
        mv = memoryview(buf)
        want = chunk_size
        lo = -1
        limit = n - RECORD_HEAD_SIZE
        while o <= limit:
            plen, crc, seq, ts = unpack(buf, o)
            end = o + RECORD_HEAD_SIZE + plen
            if end > n or seq != expect:
                break
            if seq >= start_seq:
                if seq > stop:
                    if lo >= 0:
                        last_off = base + lo
                    _end_walk(f, st, expect, prev, base + o, last_off, check_chain)
                    return
                if check_chain:
                    h = blake2b(prev + mv[o + SEQ_OFFSET : end], digest_size=HASH_SIZE).digest()
                    if h != buf[o + HASH_OFFSET : o + SEQ_OFFSET]:
                        break
                    prev = h
                if check_crc and crc32(mv[o + 8 : end]) != crc:
                    break
                if emit:
                    yield (seq, ts, mv[o + RECORD_HEAD_SIZE : end])
            elif check_chain:
                prev = buf[o + HASH_OFFSET : o + SEQ_OFFSET]
            lo = o
            o = end
            expect += 1
        if lo >= 0:
            last_off = base + lo
        if o <= limit:  # stopped at a record whose header is here: long, cut short or damaged
            plen = unpack(buf, o)[0]
            if plen <= MAX_PAYLOAD and o + RECORD_HEAD_SIZE + plen > n:
                want = max(chunk_size, o + RECORD_HEAD_SIZE + plen - n)
                continue
            _end_walk(f, st, expect, prev, base + o, last_off, check_chain)
            st.damage = _diagnose(buf, o, base + o, expect)
            return
    _end_walk(f, st, expect, prev, base + o, last_off, check_chain)
    st.observed_size = base + n
    if o < n:
        st.damage = Damage(
            base + o,
            expect,
            DamageKind.INCOMPLETE,
            f"incomplete record: {n - o} bytes before end of file",
        )


def _diagnose(buf: bytes, o: int, offset: int, expect: int) -> Damage:
    """Name the damage of the complete-looking record at ``buf[o:]``."""
    plen, crc, seq, _ts = _SCAN.unpack_from(buf, o)
    if plen > MAX_PAYLOAD:
        return Damage(offset, expect, DamageKind.BAD_LENGTH, f"implausible record length {plen}")
    end = o + RECORD_HEAD_SIZE + plen
    if zlib.crc32(buf[o + 8 : end]) != crc:
        return Damage(offset, expect, DamageKind.BAD_CRC, "CRC mismatch")
    if seq != expect:
        return Damage(
            offset,
            expect,
            DamageKind.BAD_SEQ,
            f"sequence break: expected seq {expect}, found {seq} (gap, duplicate or reordering)",
        )
    return Damage(
        offset,
        expect,
        DamageKind.BAD_CHAIN,
        "chain hash mismatch: a record before it was altered, removed or reordered, "
        "or this one was rewritten",
    )


def _end_walk(
    f: BinaryIO,
    st: WalkState,
    expect: int,
    prev: bytes,
    end_offset: int,
    last_off: int,
    chain_checked: bool,
) -> None:
    # Without chain checks the walk does not carry the hash along: fetch the stored one.
    if not chain_checked and last_off != st.last_record_offset:
        f.seek(last_off + HASH_OFFSET)
        prev = f.read(HASH_SIZE)
    st.next_seq = expect
    st.last_hash = prev
    st.end_offset = end_offset
    st.last_record_offset = last_off


@dataclass(frozen=True, slots=True)
class TailCut:
    """A torn tail found in the last segment (cut by the writer, reported by verify)."""

    path: Path
    offset: int  # where the cut starts: the end of the last intact record
    length: int  # bytes removed
    seq: int  # first seq that was not (completely) written
    reason: str
    # True when the cut starts with a COMPLETE record that fails its check (bad CRC, or a
    # damaged length field): bit rot can do that to a record that was fsynced and
    # acknowledged, so the cut may lose an acknowledged command. False for a short record or
    # zeros: what a crash mid-write leaves, never acknowledged (commit returns after fsync).
    may_be_acknowledged: bool = False

    def __str__(self) -> str:
        return (
            f"torn tail in {self.path}: {self.length} bytes from offset {self.offset} "
            f"(seq {self.seq}): {self.reason}"
        )


def classify_tail(path: Path, damage: Damage, limit: int | None = None) -> TailCut:
    """Decide whether damage in the LAST segment is a torn write; raise if it is not.

    A crash mid-commit leaves a prefix of the batch, possibly followed by zeros: the first
    damaged record runs past end of file, or fails its CRC with nothing but zeros after it.
    Everything else (an intact record with a wrong seq or hash, a bad CRC followed by data)
    is corruption. As a guard against cutting good data behind a damaged length field, the
    tail is also refused if an intact record with one of the next seqs lies behind it.
    ``limit`` caps the bytes considered (a live reader passes the size it saw).
    """
    with open(path, "rb", buffering=0) as f:
        f.seek(damage.offset)
        rest = f.read() if limit is None else f.read(max(0, limit - damage.offset))

    def corrupt(reason: str) -> JournalCorruptError:
        return JournalCorruptError(path, damage.offset, damage.seq, reason)

    if not rest.strip(b"\0"):
        return TailCut(path, damage.offset, len(rest), damage.seq, "zero-filled tail")
    if damage.kind not in _TORN_CANDIDATES:
        raise corrupt(damage.reason)
    complete = False
    if damage.kind is DamageKind.BAD_CRC:
        (plen,) = struct.unpack_from("<I", rest, 0)
        after = rest[RECORD_HEAD_SIZE + plen :]
        if after.strip(b"\0"):
            raise corrupt(f"CRC mismatch, followed by {len(after)} more bytes: not a torn tail")
        # a whole record is there (header and payload up to its length): a torn write that
        # reached the file size but not the data, or bit rot of an acknowledged record
        complete = bool(rest[RECORD_HEAD_SIZE:].strip(b"\0"))
        reason = "CRC mismatch on the final record, which is complete"
    elif _complete_with_bad_length(rest):
        complete = True
        reason = f"{damage.reason}; the bytes to end of file are a complete record whose CRC "
        reason += "matches: only its length field is damaged"
    else:
        reason = damage.reason
    found = _find_intact_record(rest, damage.seq)
    if found is not None:
        off, seq = found
        raise corrupt(
            f"{damage.reason}, but an intact record with seq {seq} follows at byte offset "
            f"{damage.offset + off}: not a torn tail"
        )
    return TailCut(path, damage.offset, len(rest), damage.seq, reason, complete)


def _complete_with_bad_length(rest: bytes) -> bool:
    """Whether ``rest`` is exactly one record whose CRC matches but whose length is wrong."""
    if len(rest) < RECORD_HEAD_SIZE:
        return False
    plen, crc = _PREFIX.unpack_from(rest, 0)
    return plen != len(rest) - RECORD_HEAD_SIZE and zlib.crc32(rest[8:]) == int(crc)


def _find_intact_record(rest: bytes, seq: int) -> tuple[int, int] | None:
    for s in range(seq, min(seq + _GUARD_SEQS, MAX_SEQ + 1)):
        pattern = _U64.pack(s)
        i = rest.find(pattern, 1 + SEQ_OFFSET)
        while i != -1:
            o = i - SEQ_OFFSET
            if _record_intact(rest, o):
                return o, s
            i = rest.find(pattern, i + 1)
    return None


def _record_intact(buf: bytes, o: int) -> bool:
    if o + RECORD_HEAD_SIZE > len(buf):
        return False
    plen, crc = _PREFIX.unpack_from(buf, o)
    end = o + RECORD_HEAD_SIZE + plen
    return plen <= MAX_PAYLOAD and end <= len(buf) and zlib.crc32(buf[o + 8 : end]) == int(crc)


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    path: Path
    first_seq: int
    last_seq: int  # first_seq - 1 when the segment holds no record
    size: int  # bytes up to the end of the last intact record

    @property
    def records(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True, slots=True)
class ScanResult:
    segments: tuple[SegmentInfo, ...]
    entering_hash: bytes | None  # chain hash entering the first segment
    last_hash: bytes | None  # hash of the last record (or entering hash if none)
    last_record_offset: int  # in the last segment; 0 if it holds no record
    tail_cut: TailCut | None

    @property
    def next_seq(self) -> int | None:
        return self.segments[-1].last_seq + 1 if self.segments else None

    @property
    def records(self) -> int:
        return sum(s.records for s in self.segments)

    @property
    def first_seq(self) -> int | None:
        return self.segments[0].first_seq if self.records else None

    @property
    def last_seq(self) -> int | None:
        return self.segments[-1].last_seq if self.records else None

    @property
    def total_bytes(self) -> int:
        return sum(s.size for s in self.segments)


def scan_journal(directory: Path, *, full: bool = True, tail_chain: bool = True) -> ScanResult:
    """Check the whole journal; raise JournalCorruptError on anything but a torn tail.

    ``full`` walks every record of every segment (CRC and chain). Otherwise sealed segments
    are checked through their headers and the link to their last record (size, CRC, seq,
    hash: catches truncated, extended, missing and swapped segments) and only the last
    segment is walked; damage inside a sealed segment then surfaces when it is read.
    ``tail_chain=False`` (only without ``full``) walks the last segment by CRC and seq alone
    and takes the chain hash stored in its last record (the CRC covers it); recomputing the
    chain is ``verify``'s job. About 3x faster on a large tail.
    """
    segs = list_segments(directory)
    infos: list[SegmentInfo] = []
    entering: bytes | None = None
    expect = 0
    prev_hash = b""
    prev_last_off = 0
    tail_cut: TailCut | None = None
    for i, seg in enumerate(segs):
        is_last = i == len(segs) - 1
        with open(seg.path, "rb", buffering=0) as f:
            header = read_header(f, seg)
            if i == 0:
                entering = header.entering_hash
            else:
                _check_continuity(seg, header, expect, prev_hash, prev_last_off)
            st = WalkState(header.first_seq, header.entering_hash)
            if full or is_last:
                chain = full or tail_chain
                deque(walk_records(f, st, emit=False, check_chain=chain), maxlen=0)
                if st.damage is not None:
                    if not is_last:
                        d = st.damage
                        raise JournalCorruptError(
                            seg.path, d.offset, d.seq, f"{d.reason} (in a sealed segment)"
                        )
                    tail_cut = classify_tail(seg.path, st.damage)
            else:
                with open(segs[i + 1].path, "rb", buffering=0) as nf:
                    next_header = read_header(nf, segs[i + 1])
                _check_sealed_end(f, seg, header, next_header, segs[i + 1].path, st)
        if not is_last and st.last_record_offset == 0:
            raise JournalCorruptError(
                seg.path, HEADER_SIZE, header.first_seq, "sealed segment holds no record"
            )
        infos.append(SegmentInfo(seg.path, header.first_seq, st.next_seq - 1, st.end_offset))
        expect, prev_hash, prev_last_off = st.next_seq, st.last_hash, st.last_record_offset
    return ScanResult(
        segments=tuple(infos),
        entering_hash=entering,
        last_hash=prev_hash if segs else None,
        last_record_offset=prev_last_off,
        tail_cut=tail_cut,
    )


def _check_continuity(
    seg: SegmentFile, header: SegmentHeader, expect: int, prev_hash: bytes, prev_last_off: int
) -> None:
    def corrupt(reason: str) -> JournalCorruptError:
        return JournalCorruptError(seg.path, 0, expect, reason)

    if header.first_seq > expect:
        raise corrupt(
            f"segment starts at seq {header.first_seq} but the previous segment ends at seq "
            f"{expect - 1}: seqs {expect}..{header.first_seq - 1} are missing "
            "(deleted segment?)"
        )
    if header.first_seq < expect:
        raise corrupt(
            f"segment starts at seq {header.first_seq}, inside the previous segment "
            f"(which ends at seq {expect - 1})"
        )
    if header.entering_hash != prev_hash:
        raise corrupt("chain hash in the header does not match the previous segment's last record")
    if header.prev_last_offset != prev_last_off:
        raise corrupt(
            f"header links to the previous segment's last record at offset "
            f"{header.prev_last_offset}, but that record is at offset {prev_last_off}"
        )


def _check_sealed_end(
    f: BinaryIO,
    seg: SegmentFile,
    header: SegmentHeader,
    next_header: SegmentHeader,
    next_path: Path,
    st: WalkState,
) -> None:
    """Check a sealed segment's last record against the link in the next segment's header."""
    link = next_header.prev_last_offset
    seq = next_header.first_seq - 1
    if link == 0:
        raise JournalCorruptError(
            next_path, 0, next_header.first_seq, "header lacks the link to the previous segment"
        )

    def corrupt(reason: str) -> JournalCorruptError:
        return JournalCorruptError(seg.path, link, seq, f"{reason} (in a sealed segment)")

    size = os.fstat(f.fileno()).st_size
    f.seek(link)
    head = f.read(RECORD_HEAD_SIZE)
    if len(head) < RECORD_HEAD_SIZE:
        raise corrupt(
            f"the next segment's header puts the last record here, past end of file ({size} "
            "bytes): segment truncated, or a segment after it is missing"
        )
    plen, crc, stored, rec_seq, _ts = RECORD_HEAD.unpack(head)
    end = link + RECORD_HEAD_SIZE + min(plen, MAX_PAYLOAD)
    if end != size:
        raise corrupt(f"last record ends at {end} but the file is {size} bytes long")
    if zlib.crc32(head[8:] + f.read(plen)) != crc:
        raise corrupt("CRC mismatch")
    if rec_seq != seq or rec_seq < header.first_seq:
        raise corrupt(
            f"last record has seq {rec_seq}, the next segment starts at {seq + 1} "
            "(a segment after it is missing?)"
        )
    if stored != next_header.entering_hash:
        raise corrupt("chain hash of the last record does not match the next segment's header")
    st.next_seq = seq + 1
    st.last_hash = stored
    st.end_offset = size
    st.last_record_offset = link
