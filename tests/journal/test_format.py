"""The on-disk bytes match docs/journal-format.md."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from helpers.journal import chain, segment_files

from trade_engine.journal import JournalCorruptError, JournalWriter
from trade_engine.journal.format import (
    SegmentHeader,
    decode_header,
    parse_segment_name,
    segment_name,
)


def test_segment_and_record_bytes(tmp_path: Path) -> None:
    genesis = bytes(range(16))
    with JournalWriter(tmp_path, sync=False, genesis=genesis) as w:
        w.append(7, -5, b"hello")
        w.append(8, 2**63 - 1, b"")
    (seg,) = segment_files(tmp_path)
    assert seg.name == "00000000000000000007.jnl"
    data = seg.read_bytes()
    # header
    assert data[0:8] == b"TEJOURNL"
    assert struct.unpack_from("<HHIQQ", data, 8) == (1, 64, 0, 7, 0)
    assert data[32:48] == genesis
    assert data[48:60] == bytes(12)
    assert struct.unpack_from("<I", data, 60)[0] == zlib.crc32(data[:60])
    # first record at 64
    plen, crc = struct.unpack_from("<II", data, 64)
    assert plen == 5
    end = 64 + 40 + 5
    assert crc == zlib.crc32(data[72:end])
    h1 = chain(genesis, 7, -5, b"hello")
    assert data[72:88] == h1
    assert struct.unpack_from("<Qq", data, 88) == (7, -5)
    assert data[104:end] == b"hello"
    # second record, empty payload, ends the file
    assert struct.unpack_from("<I", data, end)[0] == 0
    assert data[end + 8 : end + 24] == chain(h1, 8, 2**63 - 1, b"")
    assert len(data) == end + 40


def test_header_round_trip_and_rejections(tmp_path: Path) -> None:
    h = SegmentHeader(42, b"\x01" * 16, 1234)
    raw = h.encode()
    assert len(raw) == 64
    assert decode_header(raw, tmp_path, 42) == h
    with pytest.raises(JournalCorruptError, match="CRC mismatch"):
        decode_header(raw[:16] + b"\x2b" + raw[17:], tmp_path, 42)
    with pytest.raises(JournalCorruptError, match="magic"):
        decode_header(b"X" + raw[1:], tmp_path, 42)
    with pytest.raises(JournalCorruptError, match="header needs 64"):
        decode_header(raw[:63], tmp_path, 42)
    bad_version = bytearray(raw)
    bad_version[8] = 9
    bad_version[60:64] = struct.pack("<I", zlib.crc32(bytes(bad_version[:60])))
    with pytest.raises(JournalCorruptError, match="unsupported format version 9"):
        decode_header(bytes(bad_version), tmp_path, 42)


def test_segment_names() -> None:
    assert segment_name(1) == "00000000000000000001.jnl"
    assert segment_name(2**64 - 1) == "18446744073709551615.jnl"
    assert parse_segment_name("00000000000000000001.jnl") == 1
    assert parse_segment_name("00000000000000000001.jnl.tmp") is None
    assert parse_segment_name("1.jnl") is None
    assert parse_segment_name("0000000000000000000x.jnl") is None
    assert parse_segment_name("journal.lock") is None
