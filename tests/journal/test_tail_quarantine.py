"""A cut tail leaves a trace (issue 8, item 10): its bytes in quarantine, a log line that says
whether an acknowledged record may be lost, a count in ``journal verify``, and a strict start
that refuses instead of cutting what may have been acknowledged.

A crash mid-write leaves a short record (or zeros): never acknowledged, since a commit returns
only after its fsync. Bit rot leaves a complete record that fails its CRC: that one may have
been acknowledged, and the two used to be cut alike and silently.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from helpers.journal import flip, record_offsets, segment_files, write_journal
from typer.testing import CliRunner

from trade_engine.cli import app
from trade_engine.journal import JournalCorruptError, JournalWriter


def quarantined(journal: Path) -> list[Path]:
    q = journal / "quarantine"
    return sorted(q.iterdir()) if q.is_dir() else []


def test_a_flipped_byte_in_the_last_record_is_kept_and_logged_as_maybe_acknowledged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    seq, start, size = record_offsets(seg)[-1]
    original = seg.read_bytes()[start:]
    flip(seg, start + size - 3)  # in the payload of the final, complete record
    damaged = seg.read_bytes()[start:]
    with caplog.at_level(logging.WARNING), JournalWriter(tmp_path, sync=False) as w:
        cut = w.recovery.tail_cut
        assert cut is not None and cut.may_be_acknowledged
        assert w.last_seq == seq - 1
    assert original != damaged
    (kept,) = quarantined(tmp_path)
    assert kept.read_bytes() == damaged  # exactly the bytes that were cut
    assert f"seq{seq}" in kept.name and f"off{start}" in kept.name
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, caplog.text
    msg = errors[0].getMessage()
    assert f"seq {seq} MAY HAVE BEEN ACKNOWLEDGED" in msg
    assert str(kept) in msg


def test_a_short_final_record_is_kept_but_said_to_be_unacknowledged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    _seq, start, size = record_offsets(seg)[-1]
    os.truncate(seg, start + size - 5)
    with caplog.at_level(logging.WARNING), JournalWriter(tmp_path, sync=False) as w:
        cut = w.recovery.tail_cut
        assert cut is not None and not cut.may_be_acknowledged
        assert w.recovery.quarantined is not None
    (kept,) = quarantined(tmp_path)
    assert len(kept.read_bytes()) == size - 5
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "never acknowledged" in caplog.text


def test_a_complete_final_record_with_a_damaged_length_is_maybe_acknowledged(
    tmp_path: Path,
) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    _seq, start, _size = record_offsets(seg)[-1]
    flip(seg, start + 2)  # the length now runs past end of file, like a short record
    with JournalWriter(tmp_path, sync=False) as w:
        cut = w.recovery.tail_cut
        assert cut is not None
        assert cut.may_be_acknowledged, cut.reason
        assert "only its length field is damaged" in cut.reason


def test_strict_tail_refuses_a_record_that_may_have_been_acknowledged(tmp_path: Path) -> None:
    write_journal(tmp_path, 10)
    (seg,) = segment_files(tmp_path)
    seq, start, size = record_offsets(seg)[-1]
    flip(seg, start + size - 3)
    before = seg.read_bytes()
    with pytest.raises(JournalCorruptError) as exc:
        JournalWriter(tmp_path, sync=False, strict_tail=True)
    assert (exc.value.path, exc.value.offset, exc.value.seq) == (seg, start, seq)
    assert "strict_tail" in str(exc.value)
    assert seg.read_bytes() == before  # nothing cut
    assert quarantined(tmp_path) == []
    # a short record (a crash mid-write) is still cut under strict_tail: never acknowledged
    os.truncate(seg, start + size - 5)
    with JournalWriter(tmp_path, sync=False, strict_tail=True) as w:
        assert w.last_seq == seq - 1


def test_journal_verify_counts_quarantined_tails(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    write_journal(journal, 10)
    (seg,) = segment_files(journal)
    seq, start, size = record_offsets(seg)[-1]
    flip(seg, start + size - 3)
    r = CliRunner().invoke(app, ["journal", "verify", str(tmp_path)])
    assert r.exit_code == 3, r.output
    assert f"seq {seq} may have been acknowledged" in r.output
    JournalWriter(journal, sync=False).close()  # the start that cuts it
    r = CliRunner().invoke(app, ["journal", "verify", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "1 tail cut on start kept in quarantine" in r.output
