"""Retention: whole segments below a seq are deleted; never the one holding it, nor the last."""

from __future__ import annotations

import itertools
from pathlib import Path

from helpers.journal import segment_files, write_journal

from trade_engine.journal import JournalReader, JournalWriter, prune_segments_before


def firsts(directory: Path) -> list[int]:
    return [int(p.name[:-4]) for p in segment_files(directory)]


def test_prune_removes_only_whole_segments_below_seq(tmp_path: Path) -> None:
    records = write_journal(tmp_path, 120, segment_size=600)
    f = firsts(tmp_path)
    assert len(f) >= 6
    sizes = {p.name: p.stat().st_size for p in segment_files(tmp_path)}
    seq = f[3] + 1  # inside the fourth segment
    removed = prune_segments_before(tmp_path, seq, sync=False)
    assert [(r.first_seq, r.last_seq) for r in removed] == [
        (f[0], f[1] - 1),
        (f[1], f[2] - 1),
        (f[2], f[3] - 1),
    ]
    assert [r.size for r in removed] == [sizes[r.path.name] for r in removed]
    assert firsts(tmp_path) == f[3:]
    stats = JournalReader(tmp_path).verify()
    assert (stats.first_seq, stats.last_seq, stats.records) == (f[3], 120, 121 - f[3])
    assert list(JournalReader(tmp_path).read_from(seq)) == records[seq - 1 :]


def test_prune_boundaries(tmp_path: Path) -> None:
    write_journal(tmp_path, 120, segment_size=600)
    f = firsts(tmp_path)
    assert prune_segments_before(tmp_path, f[0], sync=False) == []
    assert prune_segments_before(tmp_path, f[1] - 1, sync=False) == []  # seq in segment 0
    assert [r.first_seq for r in prune_segments_before(tmp_path, f[1], sync=False)] == [f[0]]
    # far past the end: everything but the last segment goes
    removed = prune_segments_before(tmp_path, 10**9, sync=False)
    assert [r.first_seq for r in removed] == f[1:-1]
    assert firsts(tmp_path) == [f[-1]]


def test_writer_prunes_and_continues(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, segment_size=500, sync=False) as w:
        for s in range(1, 101):
            w.append(s, s, b"x" * 20)
            if s % 10 == 0:
                w.commit()
        before = firsts(tmp_path)
        removed = w.prune_segments_before(80)
        expected = [x for x, nxt in itertools.pairwise(before) if nxt <= 80]
        assert len(expected) >= 3
        assert [r.first_seq for r in removed] == expected
        assert firsts(tmp_path) == before[len(expected) :]
        for s in range(101, 151):
            w.append(s, s, b"y")
    with JournalWriter(tmp_path, segment_size=500, sync=False) as w:
        assert w.recovery.first_seq == firsts(tmp_path)[0] <= 80
        assert w.last_seq == 150
    assert JournalReader(tmp_path).verify().last_seq == 150
