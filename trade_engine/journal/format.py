"""On-disk format: segment header, record framing, chain hash, segment file names.

The byte-by-byte description lives in docs/journal-format.md; this module is its single
implementation. All integers are little-endian.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from trade_engine.journal.errors import JournalCorruptError

MAGIC = b"TEJOURNL"
FORMAT_VERSION = 1

HASH_SIZE = 16
GENESIS_HASH = bytes(HASH_SIZE)

# Segment header: magic, version, header size, flags, first seq, offset of the previous
# segment's last record (0 = none), chain hash entering the segment, reserved, CRC32.
_HEADER_BODY = struct.Struct("<8sHHIQQ16s12x")
HEADER_SIZE = _HEADER_BODY.size + 4  # 64
_U32 = struct.Struct("<I")

# Record: payload length, CRC32 of bytes [8:end], chain hash, seq, ts, payload. The hash
# sits before seq so that the hashed bytes (seq, ts, payload) are one contiguous slice.
RECORD_HEAD = struct.Struct("<II16sQq")
RECORD_HEAD_SIZE = RECORD_HEAD.size  # 40
_PREFIX = struct.Struct("<II")
_SEQ_TS = struct.Struct("<Qq")
HASH_OFFSET = 8  # within a record
SEQ_OFFSET = 24  # within a record; also where the hashed bytes start

MAX_PAYLOAD = 64 * 1024 * 1024  # a larger length field can only be damage
MAX_SEQ = 2**64 - 1
MIN_TS = -(2**63)
MAX_TS = 2**63 - 1

SEGMENT_SUFFIX = ".jnl"
TEMP_SUFFIX = ".jnl.tmp"
LOCK_NAME = "journal.lock"
_NAME_DIGITS = 20  # enough for any u64 seq


# A record as handed to readers: (seq, ts, payload). A plain tuple rather than a NamedTuple:
# building a NamedTuple costs a Python-level call per record, about a quarter of replay time.
# The payload is a read-only view into the chunk just read (no copy per record); it compares
# equal to the same bytes, and ``bytes(payload)`` makes a copy that outlives the chunk.
Record = tuple[int, int, memoryview]


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    first_seq: int
    entering_hash: bytes
    prev_last_offset: int = 0
    version: int = FORMAT_VERSION

    def encode(self) -> bytes:
        body = _HEADER_BODY.pack(
            MAGIC,
            self.version,
            HEADER_SIZE,
            0,
            self.first_seq,
            self.prev_last_offset,
            self.entering_hash,
        )
        return body + _U32.pack(zlib.crc32(body))


def decode_header(data: bytes, path: Path, seq: int) -> SegmentHeader:
    """Parse a segment header; ``seq`` (from the file name) is only used in error messages."""

    def bad(reason: str) -> JournalCorruptError:
        return JournalCorruptError(path, 0, seq, f"bad segment header: {reason}")

    if len(data) < HEADER_SIZE:
        raise bad(f"file is {len(data)} bytes, a header needs {HEADER_SIZE}")
    magic, version, header_size, _flags, first_seq, prev_last_offset, entering = (
        _HEADER_BODY.unpack_from(data, 0)
    )
    if magic != MAGIC:
        raise bad(f"magic {magic!r}, expected {MAGIC!r}")
    (crc,) = _U32.unpack_from(data, _HEADER_BODY.size)
    if zlib.crc32(data[: _HEADER_BODY.size]) != crc:
        raise bad("CRC mismatch")
    if version != FORMAT_VERSION:
        raise bad(f"unsupported format version {version} (this build reads {FORMAT_VERSION})")
    if header_size != HEADER_SIZE:
        raise bad(f"header size {header_size}, expected {HEADER_SIZE}")
    if prev_last_offset != 0 and prev_last_offset < HEADER_SIZE:
        raise bad(f"previous-segment link {prev_last_offset} points into a header")
    return SegmentHeader(first_seq, entering, prev_last_offset, version)


def encode_record(prev_hash: bytes, seq: int, ts: int, payload: bytes) -> tuple[bytes, bytes]:
    """Return (record bytes, chain hash of the record). Arguments must be in range.

    h_n = blake2b-128(h_{n-1} || seq || ts || payload), with seq/ts as encoded on disk.
    """
    hashed = _SEQ_TS.pack(seq, ts) + payload
    h = hashlib.blake2b(prev_hash + hashed, digest_size=HASH_SIZE).digest()
    body = h + hashed
    return _PREFIX.pack(len(payload), zlib.crc32(body)) + body, h


def segment_name(first_seq: int) -> str:
    return f"{first_seq:0{_NAME_DIGITS}d}{SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    """First seq encoded in a segment file name, or None if the name is not a segment's."""
    if not name.endswith(SEGMENT_SUFFIX):
        return None
    stem = name[: -len(SEGMENT_SUFFIX)]
    if len(stem) != _NAME_DIGITS or not (stem.isascii() and stem.isdigit()):
        return None
    return int(stem)
