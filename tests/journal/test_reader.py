"""Reader: read_from any seq across segments, bounds, chain checks, live tails, chunking."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from helpers.journal import record_offsets, segment_files, write_journal

from trade_engine.journal import (
    JournalCorruptError,
    JournalError,
    JournalRangeError,
    JournalReader,
    JournalWriter,
    prune_segments_before,
    read_from,
)


def as_tuples(it: Iterable[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    return list(it)


def test_read_from_every_seq_across_segments(tmp_path: Path) -> None:
    records = write_journal(tmp_path, 150, segment_size=800)
    assert len(segment_files(tmp_path)) >= 8
    reader = JournalReader(tmp_path)
    for seq in range(1, 152):
        assert as_tuples(reader.read_from(seq)) == records[seq - 1 :], seq


def test_read_from_with_chain_verification(tmp_path: Path) -> None:
    records = write_journal(tmp_path, 90, segment_size=600)
    reader = JournalReader(tmp_path)
    for seq in (1, 2, 17, 45, 89, 90):
        assert as_tuples(reader.read_from(seq, verify_chain=True)) == records[seq - 1 :]


def test_to_seq_bounds(tmp_path: Path) -> None:
    records = write_journal(tmp_path, 100, segment_size=700)
    reader = JournalReader(tmp_path)
    assert as_tuples(reader.read_from(10, to_seq=60)) == records[9:60]
    assert as_tuples(reader.read_from(10, to_seq=10)) == [records[9]]
    assert as_tuples(reader.read_from(10, to_seq=9)) == []
    assert as_tuples(reader.read_from(95, to_seq=1000)) == records[94:]
    # a segment boundary as the upper bound
    first_of_second = int(segment_files(tmp_path)[1].name[:-4])
    got = as_tuples(reader.read_from(1, to_seq=first_of_second - 1))
    assert got == records[: first_of_second - 1]


def test_reading_past_the_end_and_edges(tmp_path: Path) -> None:
    write_journal(tmp_path, 5, first=10)
    reader = JournalReader(tmp_path)
    assert as_tuples(reader.read_from(15)) == []
    assert as_tuples(reader.read_from(1000)) == []
    with pytest.raises(JournalRangeError, match="oldest segment starts at seq 10"):
        list(reader.read_from(9))
    with pytest.raises(ValueError):
        list(reader.read_from(0))
    with pytest.raises(JournalError):
        JournalReader(tmp_path / "missing")
    assert [r[0] for r in read_from(tmp_path, 12)] == [12, 13, 14]


def test_pruned_seq_is_out_of_range(tmp_path: Path) -> None:
    write_journal(tmp_path, 100, segment_size=500)
    removed = prune_segments_before(tmp_path, 50, sync=False)
    first_kept = removed[-1].last_seq + 1
    with pytest.raises(JournalRangeError):
        list(JournalReader(tmp_path).read_from(first_kept - 1))
    assert next(iter(JournalReader(tmp_path).read_from(first_kept)))[0] == first_kept


def test_live_tail_being_written_ends_iteration(tmp_path: Path) -> None:
    records = write_journal(tmp_path, 20)
    (seg,) = segment_files(tmp_path)
    # What a reader may see while the writer is inside write(): a prefix of the next batch.
    with open(seg, "ab") as f:
        f.write(b"\x30\x00\x00\x00\x11\x22")
    assert as_tuples(JournalReader(tmp_path).read_from(1)) == records
    assert as_tuples(JournalReader(tmp_path).read_from(20)) == records[19:]


def test_reader_follows_a_live_writer(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, segment_size=400, sync=False) as w:
        reader = JournalReader(tmp_path)
        seen: list[int] = []
        for s in range(1, 61):
            w.append(s, s, b"x" * (s % 9))
            if s % 5 == 0:
                w.commit()
                seen += [r[0] for r in reader.read_from(len(seen) + 1)]
        assert seen == list(range(1, 61))


@pytest.mark.parametrize("chunk_size", [1, 41, 100, 4096])
def test_small_read_chunks_and_large_records(tmp_path: Path, chunk_size: int) -> None:
    records = [(s, s, bytes([s]) * (s * 997 % 5000)) for s in range(1, 40)]
    with JournalWriter(tmp_path, segment_size=20_000, sync=False) as w:
        for r in records:
            w.append(*r)
    reader = JournalReader(tmp_path, chunk_size=chunk_size)
    assert as_tuples(reader.read_from(1)) == records
    assert as_tuples(reader.read_from(33, verify_chain=True)) == records[32:]


def test_damage_in_a_sealed_segment_raises_on_read(tmp_path: Path) -> None:
    write_journal(tmp_path, 60, segment_size=500)
    seg = segment_files(tmp_path)[1]
    seq, offset, _ = record_offsets(seg)[2]
    data = bytearray(seg.read_bytes())
    data[offset + 45] ^= 1
    seg.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError) as info:
        list(JournalReader(tmp_path).read_from(1))
    assert (info.value.path, info.value.offset, info.value.seq) == (seg, offset, seq)
    # reading before the damage is fine
    assert len(list(JournalReader(tmp_path).read_from(1, to_seq=seq - 1))) == seq - 1


def test_reordered_records_are_refused_by_a_crc_only_read(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, segment_size=600, sync=False) as w:
        for s in range(1, 61):
            w.append(s, s, b"fixed-size payload")
    seg = segment_files(tmp_path)[1]
    offs = record_offsets(seg)
    (seq, a, size), (_, b, _) = offs[2], offs[3]
    data = bytearray(seg.read_bytes())
    data[a : a + size], data[b : b + size] = data[b : b + size], data[a : a + size]
    seg.write_bytes(bytes(data))
    for start in (1, seq - 1, seq):
        with pytest.raises(JournalCorruptError, match=f"expected seq {seq}, found {seq + 1}"):
            list(JournalReader(tmp_path).read_from(start))
