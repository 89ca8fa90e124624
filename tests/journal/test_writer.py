"""Writer: round trip, rotation, reopen, seq rules, commit semantics, failure handling."""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest
from helpers.journal import (
    chain_of,
    payload,
    record_offsets,
    segment_files,
    ts_of,
    write_journal,
)

from trade_engine.journal import (
    MAX_PAYLOAD,
    JournalClosedError,
    JournalLockedError,
    JournalReader,
    JournalSequenceError,
    JournalWriter,
)
from trade_engine.journal import writer as writer_module


def read_all(directory: Path, seq: int = 1) -> list[tuple[int, int, bytes]]:
    return list(JournalReader(directory).read_from(seq))


def test_round_trip_and_verify_stats(tmp_path: Path) -> None:
    records = write_journal(tmp_path, 25, batch=4)
    assert read_all(tmp_path) == records
    stats = JournalReader(tmp_path).verify()
    assert (stats.records, stats.first_seq, stats.last_seq, stats.segments) == (25, 1, 25, 1)
    (seg,) = segment_files(tmp_path)
    assert stats.total_bytes == seg.stat().st_size == 64 + sum(40 + len(p) for *_, p in records)
    assert stats.last_hash == chain_of(records)
    assert stats.entering_hash == bytes(16)
    assert stats.torn_tail is None


def test_empty_journal(tmp_path: Path) -> None:
    with JournalWriter(tmp_path / "j", sync=False) as w:
        assert (w.last_seq, w.committed_seq, w.pending) == (0, 0, 0)
        assert w.last_hash == bytes(16)
        assert w.commit() == 0
    assert segment_files(tmp_path / "j") == []
    stats = JournalReader(tmp_path / "j").verify()
    assert (stats.records, stats.first_seq, stats.last_seq, stats.segments) == (0, None, None, 0)
    assert list(JournalReader(tmp_path / "j").read_from(1)) == []


def test_commit_counts_and_committed_seq(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, sync=False) as w:
        for s in range(1, 4):
            w.append(s, ts_of(s), payload(s))
        assert (w.pending, w.last_seq, w.committed_seq) == (3, 3, 0)
        assert read_all(tmp_path) == []  # appends are not written before commit
        assert w.commit() == 3
        assert (w.pending, w.committed_seq) == (0, 3)
        assert len(read_all(tmp_path)) == 3


def test_rotation_at_threshold(tmp_path: Path) -> None:
    records = write_journal(tmp_path, 200, segment_size=1000, batch=7)
    segs = segment_files(tmp_path)
    assert len(segs) > 5
    firsts = [int(p.name[:-4]) for p in segs]
    assert firsts[0] == 1
    seen = []
    for path, first in zip(segs, firsts, strict=True):
        offs = record_offsets(path)
        assert offs[0][0] == first
        seen += [s for s, _, _ in offs]
        size = path.stat().st_size
        if path != segs[-1]:
            # rotated right after passing the threshold: without its last record it was below
            assert size >= 1000
            assert size - offs[-1][2] < 1000
    assert seen == list(range(1, 201))
    assert read_all(tmp_path) == records
    assert JournalReader(tmp_path).verify().segments == len(segs)


def test_one_commit_spanning_many_segments(tmp_path: Path) -> None:
    records = write_journal(tmp_path, 300, segment_size=500, batch=300)
    assert len(segment_files(tmp_path)) > 10
    assert read_all(tmp_path) == records


def test_reopen_continues_chain(tmp_path: Path) -> None:
    first = write_journal(tmp_path, 40, segment_size=700)
    with JournalWriter(tmp_path, segment_size=700, sync=False) as w:
        assert w.recovery.tail_cut is None
        assert (w.recovery.records, w.recovery.first_seq, w.recovery.last_seq) == (40, 1, 40)
        assert w.last_seq == w.committed_seq == 40
        assert w.last_hash == chain_of(first)
        more = [(s, ts_of(s), payload(s)) for s in range(41, 90)]
        for r in more:
            w.append(*r)
    assert read_all(tmp_path) == first + more
    assert JournalReader(tmp_path).verify().last_hash == chain_of(first + more)


@pytest.mark.parametrize("full_scan", [True, False])
def test_reopen_scan_modes_agree(tmp_path: Path, full_scan: bool) -> None:
    records = write_journal(tmp_path, 120, segment_size=600)
    with JournalWriter(tmp_path, segment_size=600, sync=False, full_scan=full_scan) as w:
        assert (w.last_seq, w.last_hash) == (120, chain_of(records))
        w.append(121, 0, b"x")
    assert JournalReader(tmp_path).verify().last_seq == 121


def test_seq_rules(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, sync=False) as w:
        with pytest.raises(JournalSequenceError, match="positive"):
            w.append(0, 0, b"")
        w.append(1000, 0, b"a")  # an empty journal may start anywhere
        with pytest.raises(JournalSequenceError, match="next seq must be 1001"):
            w.append(1002, 0, b"gap")
        with pytest.raises(JournalSequenceError, match="next seq must be 1001"):
            w.append(1000, 0, b"duplicate")
        assert (w.last_seq, w.pending) == (1000, 1)  # refused appends change nothing
        w.append(1001, 0, b"b")
    with JournalWriter(tmp_path, sync=False) as w:
        with pytest.raises(JournalSequenceError):
            w.append(1, 0, b"")
        w.append(1002, 0, b"c")
    assert [r[0] for r in JournalReader(tmp_path).read_from(1000)] == [1000, 1001, 1002]


def test_value_limits(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, sync=False) as w:
        with pytest.raises(ValueError, match="signed 64-bit"):
            w.append(1, 2**63, b"")
        with pytest.raises(ValueError, match="exceeds"):
            w.append(1, 0, bytes(MAX_PAYLOAD + 1))
        w.append(1, -(2**63), b"")
    assert read_all(tmp_path) == [(1, -(2**63), b"")]


def test_genesis_lives_in_first_header(tmp_path: Path) -> None:
    genesis = b"shard-7-genesis!"
    with JournalWriter(tmp_path, sync=False, genesis=genesis) as w:
        w.append(1, 5, b"x")
    assert segment_files(tmp_path)[0].read_bytes()[32:48] == genesis
    stats = JournalReader(tmp_path).verify()
    assert stats.entering_hash == genesis
    assert stats.last_hash == chain_of([(1, 5, b"x")], genesis)
    # once written, the genesis value comes from the header, not from the argument
    with JournalWriter(tmp_path, sync=False) as w:
        assert w.last_hash == chain_of([(1, 5, b"x")], genesis)


def test_close_without_commit_drops_pending(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, sync=False)
    w.append(1, 0, b"kept")
    w.commit()
    w.append(2, 0, b"dropped")
    w.close(commit=False)
    with pytest.raises(JournalClosedError):
        w.append(2, 0, b"")
    w.close()  # idempotent
    with pytest.raises(RuntimeError), JournalWriter(tmp_path, sync=False) as w2:
        w2.append(2, 0, b"dropped too")
        raise RuntimeError
    assert read_all(tmp_path) == [(1, 0, b"kept")]


def test_second_writer_is_refused(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, sync=False)
    with pytest.raises(JournalLockedError):
        JournalWriter(tmp_path, sync=False)
    w.close()
    JournalWriter(tmp_path, sync=False).close()


def test_failed_write_poisons_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = JournalWriter(tmp_path, sync=False)
    w.append(1, 0, b"a")
    w.commit()

    def no_space(fd: int, data: bytes | bytearray) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer_module, "write_all", no_space)
    w.append(2, 0, b"b")
    with pytest.raises(OSError, match="No space"):
        w.commit()
    with pytest.raises(JournalClosedError, match="reopen"):
        w.append(3, 0, b"c")
    with pytest.raises(JournalClosedError):
        w.commit()
    w.close()
    monkeypatch.undo()
    with JournalWriter(tmp_path, sync=False) as w:
        assert w.last_seq == 1


def test_unfinished_temp_segment_is_removed(tmp_path: Path) -> None:
    write_journal(tmp_path, 5)
    temp = tmp_path / "00000000000000000006.jnl.tmp"
    temp.write_bytes(b"half a segment")
    with JournalWriter(tmp_path, sync=False) as w:
        assert w.recovery.removed_temp_files == (temp,)
        assert w.last_seq == 5
    assert not temp.exists()


def test_sync_mode_writes_durably(tmp_path: Path) -> None:
    # Exercises the fdatasync / directory fsync paths, including a rotation.
    with JournalWriter(tmp_path / "new" / "dir", segment_size=300) as w:
        for s in range(1, 31):
            w.append(s, ts_of(s), payload(s))
            if s % 3 == 0:
                w.commit()
    assert len(segment_files(tmp_path / "new" / "dir")) > 2
    assert JournalReader(tmp_path / "new" / "dir").verify().records == 30


def test_append_and_commit_from_two_threads(tmp_path: Path) -> None:
    total = 20_000
    done = threading.Event()
    errors: list[BaseException] = []
    w = JournalWriter(tmp_path, segment_size=64 * 1024, sync=False)

    def committer() -> None:
        try:
            while not done.is_set():
                w.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=committer)
    thread.start()
    for s in range(1, total + 1):
        w.append(s, s, b"%d" % s)
    done.set()
    thread.join()
    w.close()
    assert errors == []
    got = read_all(tmp_path)
    assert len(got) == total
    assert got == [(s, s, b"%d" % s) for s in range(1, total + 1)]
    assert JournalReader(tmp_path).verify().records == total
