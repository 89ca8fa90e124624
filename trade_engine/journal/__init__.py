"""Append-only, segmented, checksummed, hash-chained journal of ``(seq, ts, payload)`` records.

The journal stores opaque payload bytes; what they mean is the sequencer's business. Format:
docs/journal-format.md.
"""

from trade_engine.journal.errors import (
    JournalClosedError,
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalRangeError,
    JournalSequenceError,
    TailDamageError,
)
from trade_engine.journal.format import FORMAT_VERSION, GENESIS_HASH, MAX_PAYLOAD, Record
from trade_engine.journal.reader import JournalReader, VerifyStats, first_seq, read_from, verify
from trade_engine.journal.retention import PrunedSegment, prune_segments_before
from trade_engine.journal.segment import TailCut
from trade_engine.journal.writer import (
    DEFAULT_SEGMENT_SIZE,
    JournalWriter,
    RecoveryReport,
    quarantined_tails,
)

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "FORMAT_VERSION",
    "GENESIS_HASH",
    "MAX_PAYLOAD",
    "JournalClosedError",
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalRangeError",
    "JournalReader",
    "JournalSequenceError",
    "JournalWriter",
    "PrunedSegment",
    "Record",
    "RecoveryReport",
    "TailCut",
    "TailDamageError",
    "VerifyStats",
    "first_seq",
    "prune_segments_before",
    "quarantined_tails",
    "read_from",
    "verify",
]
