"""Opening with ``tail_chain=False``: the last segment is checked by CRC and seq only and the
chain continues from its last record's stored hash. It must continue the chain exactly as a
full recomputation does, and still cut a torn tail and refuse real damage."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.journal import chain_of, flip, record_offsets, segment_files, write_journal

from trade_engine.journal import JournalCorruptError, JournalReader, JournalWriter


@pytest.mark.parametrize("full_scan", [False, True])
def test_tail_chain_off_continues_the_same_chain(tmp_path: Path, full_scan: bool) -> None:
    records = write_journal(tmp_path, 300, segment_size=4096)
    assert len(segment_files(tmp_path)) > 2
    with JournalWriter(tmp_path, sync=False, full_scan=full_scan, tail_chain=False) as w:
        assert w.last_seq == 300
        assert w.last_hash == chain_of(records)  # taken from disk, equal to the recomputation
        w.append(301, 1, b"after reopen")
        w.commit()
    stats = JournalReader(tmp_path).verify()  # recomputes the whole chain
    assert stats.last_seq == 301


def test_tail_chain_off_still_cuts_a_torn_tail(tmp_path: Path) -> None:
    write_journal(tmp_path, 50)
    last = segment_files(tmp_path)[-1]
    seq, off, size = record_offsets(last)[-1]
    with open(last, "r+b") as f:
        f.truncate(off + size - 3)  # the last record lost its end: a crash mid-write
    with JournalWriter(tmp_path, sync=False, full_scan=False, tail_chain=False) as w:
        assert w.last_seq == seq - 1
        assert w.recovery.tail_cut is not None


def test_tail_chain_off_refuses_a_bad_crc_in_the_middle(tmp_path: Path) -> None:
    write_journal(tmp_path, 50)
    last = segment_files(tmp_path)[-1]
    _seq, off, _size = record_offsets(last)[10]
    flip(last, off + 30)  # inside seq/ts: CRC fails, intact records follow
    with pytest.raises(JournalCorruptError):
        JournalWriter(tmp_path, sync=False, full_scan=False, tail_chain=False)
