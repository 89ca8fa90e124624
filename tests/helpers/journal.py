"""Helpers for the journal tests: independent parsing of the on-disk format."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from trade_engine.journal import JournalWriter

HEADER = 64
RECORD_HEAD = 40


def payload(seq: int) -> bytes:
    """Deterministic payloads of varying length (0..~60 bytes)."""
    return (b"p%d;" % seq) * (seq % 7)


def ts_of(seq: int) -> int:
    return 1_700_000_000_000_000_000 + seq * 1000


def write_journal(
    directory: Path,
    count: int,
    *,
    first: int = 1,
    segment_size: int = 1 << 20,
    batch: int = 10,
) -> list[tuple[int, int, bytes]]:
    """Write ``count`` records (committing every ``batch``); return them."""
    records = [(s, ts_of(s), payload(s)) for s in range(first, first + count)]
    with JournalWriter(directory, segment_size=segment_size, sync=False) as w:
        for i, (s, t, p) in enumerate(records, 1):
            w.append(s, t, p)
            if i % batch == 0:
                w.commit()
    return records


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jnl"))


def record_offsets(path: Path) -> list[tuple[int, int, int]]:
    """(seq, offset, size) of every record in a segment, parsed independently."""
    data = path.read_bytes()
    out = []
    o = HEADER
    while o + RECORD_HEAD <= len(data):
        (plen,) = struct.unpack_from("<I", data, o)
        (seq,) = struct.unpack_from("<Q", data, o + 24)
        out.append((seq, o, RECORD_HEAD + plen))
        o += RECORD_HEAD + plen
    return out


def chain(prev: bytes, seq: int, ts: int, data: bytes) -> bytes:
    """The documented chain formula, computed independently of the journal code."""
    return hashlib.blake2b(prev + struct.pack("<Qq", seq, ts) + data, digest_size=16).digest()


def chain_of(records: list[tuple[int, int, bytes]], genesis: bytes = bytes(16)) -> bytes:
    h = genesis
    for s, t, p in records:
        h = chain(h, s, t, p)
    return h


def flip(path: Path, offset: int, mask: int = 0x40) -> None:
    """XOR one byte of a file with ``mask``."""
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))
