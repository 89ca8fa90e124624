"""Opening = recovery: torn tails are cut and reported, any other damage is refused."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from helpers.journal import (
    chain_of,
    flip,
    record_offsets,
    segment_files,
    ts_of,
    write_journal,
)

from trade_engine.journal import (
    JournalCorruptError,
    JournalReader,
    JournalWriter,
    verify,
)
from trade_engine.journal.format import encode_record


def open_writer(directory: Path, full_scan: bool = True) -> JournalWriter:
    return JournalWriter(directory, sync=False, segment_size=600, full_scan=full_scan)


def seqs(directory: Path) -> list[int]:
    return [r[0] for r in JournalReader(directory).read_from(1)]


# -- torn tails -------------------------------------------------------------------------------


def test_truncation_at_every_byte_of_the_last_record(tmp_path: Path) -> None:
    src = tmp_path / "src"
    records = write_journal(src, 12, segment_size=600)
    last = segment_files(src)[-1]
    seq, start, size = record_offsets(last)[-1]
    assert seq == 12
    original = last.read_bytes()
    assert len(original) == start + size
    for cut in range(start + 1, start + size):
        d = tmp_path / f"cut{cut}"
        d.mkdir()
        for seg in segment_files(src):
            (d / seg.name).write_bytes(seg.read_bytes())
        (d / last.name).write_bytes(original[:cut])
        with open_writer(d) as w:
            tc = w.recovery.tail_cut
            assert tc is not None
            assert (tc.offset, tc.length, tc.seq) == (start, cut - start, 12)
            assert tc.path == d / last.name
            assert (d / last.name).stat().st_size == start
            assert (w.last_seq, w.last_hash) == (11, chain_of(records[:11]))
            w.append(12, 99, b"rewritten")
        assert list(JournalReader(d).read_from(1)) == [
            *records[:11],
            (12, 99, b"rewritten"),
        ]


def test_only_record_of_last_segment_torn_leaves_header_only_segment(tmp_path: Path) -> None:
    write_journal(tmp_path, 30, segment_size=600)
    last = segment_files(tmp_path)[-1]
    offs = record_offsets(last)
    # keep the header and half of the first record of the last segment
    first_seq, off, size = offs[0]
    last.write_bytes(last.read_bytes()[: off + size // 2])
    with open_writer(tmp_path) as w:
        assert w.recovery.tail_cut is not None
        assert w.last_seq == first_seq - 1
        assert last.stat().st_size == 64
        w.append(first_seq, 1, b"again")
    assert seqs(tmp_path) == list(range(1, first_seq + 1))
    assert verify(tmp_path).last_seq == first_seq


def test_zero_filled_tail_is_cut(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    size = seg.stat().st_size
    with open(seg, "ab") as f:
        f.write(bytes(4096))
    assert verify(tmp_path).torn_tail is not None  # verify reports, changes nothing
    assert seg.stat().st_size == size + 4096
    with open_writer(tmp_path) as w:
        tc = w.recovery.tail_cut
        assert tc is not None
        assert (tc.offset, tc.length, tc.seq, tc.reason) == (size, 4096, 11, "zero-filled tail")
        assert w.last_seq == 10
    assert f"4096 bytes from offset {size} (seq 11): zero-filled tail" in caplog.text
    assert seg.stat().st_size == size


def test_partially_written_record_followed_by_zeros_is_cut(tmp_path: Path) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    _, start, _ = record_offsets(seg)[-1]
    data = bytearray(seg.read_bytes())
    data[start + 41 :] = bytes(len(data) - start - 41 + 512)  # payload lost, file extended
    seg.write_bytes(bytes(data))
    with open_writer(tmp_path) as w:
        tc = w.recovery.tail_cut
        assert tc is not None
        assert (tc.offset, tc.seq) == (start, 10)
        assert w.last_seq == 9


def test_garbage_after_the_last_record_is_cut(tmp_path: Path) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    size = seg.stat().st_size
    with open(seg, "ab") as f:
        f.write(b"\xde\xad\xbe\xef" * 25)  # length field 0xefbeadde: cannot be a record
    with open_writer(tmp_path) as w:
        tc = w.recovery.tail_cut
        assert tc is not None
        assert (tc.offset, tc.length) == (size, 100)
        assert "implausible record length" in tc.reason
    assert seg.stat().st_size == size


def test_final_record_with_bad_crc_at_eof_is_cut(tmp_path: Path) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    _, start, size = record_offsets(seg)[-1]
    flip(seg, start + size - 1)
    with open_writer(tmp_path) as w:
        tc = w.recovery.tail_cut
        assert tc is not None
        assert (tc.offset, tc.length, tc.seq) == (start, size, 10)
        assert "CRC mismatch on the final record" in tc.reason


# -- corruption: refused with file, offset and seq ---------------------------------------------


def assert_corrupt(
    exc: pytest.ExceptionInfo[JournalCorruptError], path: Path, offset: int, seq: int, text: str
) -> None:
    err = exc.value
    assert (err.path, err.offset, err.seq) == (path, offset, seq)
    assert text in str(err)
    assert str(path) in str(err) and f"byte offset {offset}" in str(err)


def test_bad_crc_in_a_middle_record_of_the_last_segment(tmp_path: Path) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    seq, offset, _ = record_offsets(seg)[4]
    flip(seg, offset + 50)
    before = seg.read_bytes()
    for full in (True, False):
        with pytest.raises(JournalCorruptError) as exc:
            open_writer(tmp_path, full_scan=full)
        assert_corrupt(exc, seg, offset, seq, "CRC mismatch, followed by")
    assert seg.read_bytes() == before  # nothing was cut
    with pytest.raises(JournalCorruptError):
        verify(tmp_path)


def test_damage_in_a_sealed_segment(tmp_path: Path) -> None:
    write_journal(tmp_path, 60, segment_size=600)
    seg = segment_files(tmp_path)[1]
    seq, offset, _ = record_offsets(seg)[1]
    flip(seg, offset + 30)  # inside the seq field: CRC fails
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, seg, offset, seq, "sealed segment")
    with pytest.raises(JournalCorruptError) as exc:
        verify(tmp_path)
    assert_corrupt(exc, seg, offset, seq, "CRC mismatch")
    # The tail-only scan trusts sealed segments' insides (checked by verify and when read).
    open_writer(tmp_path, full_scan=False).close()


def test_truncated_sealed_segment(tmp_path: Path) -> None:
    write_journal(tmp_path, 60, segment_size=600)
    seg = segment_files(tmp_path)[1]
    seq, offset, size = record_offsets(seg)[-1]
    seg.write_bytes(seg.read_bytes()[: offset + size - 3])
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, seg, offset, seq, "incomplete record")
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path, full_scan=False)
    assert_corrupt(exc, seg, offset, seq, "file is")


def test_data_appended_to_a_sealed_segment(tmp_path: Path) -> None:
    write_journal(tmp_path, 60, segment_size=600)
    seg = segment_files(tmp_path)[1]
    size = seg.stat().st_size
    seq = record_offsets(seg)[-1][0] + 1
    with open(seg, "ab") as f:
        f.write(bytes(100))  # zeros would be a forgivable tail, but not in a sealed segment
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, seg, size, seq, "sealed segment")
    with pytest.raises(JournalCorruptError, match=f"the file is {size + 100} bytes long"):
        open_writer(tmp_path, full_scan=False)


@pytest.mark.parametrize("which", [0, -1])
def test_damaged_segment_header(tmp_path: Path, which: int) -> None:
    write_journal(tmp_path, 60, segment_size=600)
    seg = segment_files(tmp_path)[which]
    flip(seg, 20)
    for full in (True, False):
        with pytest.raises(JournalCorruptError) as exc:
            open_writer(tmp_path, full_scan=full)
        assert_corrupt(exc, seg, 0, int(seg.name[:-4]), "bad segment header: CRC mismatch")


def test_segment_renamed_to_the_wrong_seq(tmp_path: Path) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    wrong = seg.with_name("00000000000000000002.jnl")
    seg.rename(wrong)
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, wrong, 0, 2, "does not match the file name")


@pytest.mark.parametrize("full", [True, False])
def test_missing_middle_segment(tmp_path: Path, full: bool) -> None:
    write_journal(tmp_path, 80, segment_size=600)
    segs = segment_files(tmp_path)
    assert len(segs) >= 4
    segs[2].unlink()
    expected_seq = int(segs[2].name[:-4])
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path, full_scan=full)
    if full:
        assert_corrupt(exc, segs[3], 0, expected_seq, "are missing")
    else:
        # the link in segment 3's header points at segment 2's last record, not segment 1's
        assert exc.value.path == segs[1]
        assert "missing" in str(exc.value)
    with pytest.raises(JournalCorruptError, match="are missing"):
        verify(tmp_path)


def test_swapped_records(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, sync=False) as w:
        for s in range(1, 11):
            w.append(s, s, b"same size payload")
    (seg,) = segment_files(tmp_path)
    offs = record_offsets(seg)
    (_, a, size), (_, b, _) = offs[3], offs[4]
    data = bytearray(seg.read_bytes())
    data[a : a + size], data[b : b + size] = data[b : b + size], data[a : a + size]
    seg.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, seg, a, 4, "expected seq 4, found 5")


def test_swapping_the_last_two_records_is_not_a_torn_tail(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, sync=False) as w:
        for s in range(1, 11):
            w.append(s, s, b"same size payload")
    (seg,) = segment_files(tmp_path)
    offs = record_offsets(seg)
    (_, a, size), (_, b, _) = offs[-2], offs[-1]
    data = bytearray(seg.read_bytes())
    data[a : a + size], data[b : b + size] = data[b : b + size], data[a : a + size]
    seg.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, seg, a, 9, "expected seq 9, found 10")


def test_removed_record_is_a_seq_gap(tmp_path: Path) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    _, offset, size = record_offsets(seg)[5]
    data = seg.read_bytes()
    seg.write_bytes(data[:offset] + data[offset + size :])
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, seg, offset, 6, "expected seq 6, found 7")


def test_rewritten_record_breaks_the_chain(tmp_path: Path) -> None:
    records = write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    offs = record_offsets(seg)
    data = seg.read_bytes()
    _, off4, size4 = offs[4]
    prev_hash = data[offs[3][1] + 8 : offs[3][1] + 24]
    s, t, p = records[4]
    assert (s, t, p) == (5, ts_of(5), b"p5;" * 5)
    forged = p.replace(b"5", b"6")

    # 1) payload changed, CRC fixed, hash left: the record itself fails the chain
    rec, _ = encode_record(prev_hash, s, t, forged)
    stale = rec[:8] + data[off4 + 8 : off4 + 24] + rec[24:]
    crc = struct.pack("<I", zlib.crc32(stale[8:]))
    stale = stale[:4] + crc + stale[8:]
    (tmp_path / seg.name).write_bytes(data[:off4] + stale + data[off4 + size4 :])
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, seg, off4, 5, "chain hash mismatch")

    # 2) the forger also recomputed this record's hash: the next record exposes it
    rec, _ = encode_record(prev_hash, s, t, forged)
    (tmp_path / seg.name).write_bytes(data[:off4] + rec + data[off4 + size4 :])
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, seg, offs[5][1], 6, "chain hash mismatch")
    with pytest.raises(JournalCorruptError, match="chain hash mismatch"):
        verify(tmp_path)


def test_damaged_length_field_is_not_mistaken_for_a_torn_tail(tmp_path: Path) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    seq, offset, _ = record_offsets(seg)[6]
    data = bytearray(seg.read_bytes())
    data[offset + 1] = 0x7F  # length now runs past end of file, as a torn write would
    seg.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError) as exc:
        open_writer(tmp_path)
    assert_corrupt(exc, seg, offset, seq, "an intact record with seq 8 follows")


def test_corruption_is_refused_again_and_again(tmp_path: Path) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    flip(seg, record_offsets(seg)[2][1] + 45)
    for _ in range(2):
        with pytest.raises(JournalCorruptError):
            open_writer(tmp_path)
    assert len(record_offsets(seg)) == 10
