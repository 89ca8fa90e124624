"""Property: any sequence of appends, commits, reopens, crashes and torn writes reads back
exactly the committed records, with an intact chain."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import cast

from helpers.journal import chain_of, segment_files
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from trade_engine.journal import JournalReader, JournalWriter
from trade_engine.journal.format import encode_record

Rec = tuple[int, int, bytes]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(st.binary(max_size=120), min_size=1, max_size=12)),
        st.tuples(st.just("commit")),
        st.tuples(st.just("reopen")),
        st.tuples(st.just("crash")),
        st.tuples(st.just("torn"), st.integers(min_value=1, max_value=200)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=ops,
    segment_size=st.sampled_from([100, 700, 1 << 20]),
    first_seq=st.sampled_from([1, 2**40]),
)
def test_any_history_reads_back_exactly(
    ops: list[tuple[object, ...]], segment_size: int, first_seq: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        committed: list[Rec] = []
        pending: list[Rec] = []

        def check() -> None:
            got = list(JournalReader(d).read_from(first_seq))
            assert got == committed

        w = JournalWriter(d, segment_size=segment_size, sync=False)
        for op in ops:
            kind = op[0]
            event(f"op {kind}")
            if kind == "append":
                for data in cast(list[bytes], op[1]):
                    seq = first_seq + len(committed) + len(pending)
                    rec = (seq, seq * 7 - 1000, data)
                    w.append(*rec)
                    pending.append(rec)
            elif kind == "commit":
                assert w.commit() == len(pending)
                committed += pending
                pending = []
            elif kind == "reopen":
                w.close()
                committed += pending
                pending = []
                w = JournalWriter(d, segment_size=segment_size, sync=False)
                assert w.recovery.tail_cut is None
                check()
            else:  # crash, or crash in the middle of writing the next record
                w.close(commit=False)
                pending = []
                segs = segment_files(d)
                if kind == "torn" and segs:
                    seq = first_seq + len(committed)
                    raw, _ = encode_record(w.last_hash, seq, 1, b"z" * 100)
                    with open(segs[-1], "ab") as f:
                        f.write(raw[: min(cast(int, op[1]), len(raw) - 1)])
                w = JournalWriter(d, segment_size=segment_size, sync=False)
                assert (w.recovery.tail_cut is not None) == (kind == "torn" and bool(segs))
                check()
            last = committed[-1][0] if committed else (first_seq - 1 if segment_files(d) else 0)
            assert w.committed_seq == last
        w.close()
        committed += pending
        check()
        stats = JournalReader(d).verify()
        assert stats.records == len(committed)
        assert stats.torn_tail is None
        if committed:
            assert stats.last_hash == chain_of(committed)
