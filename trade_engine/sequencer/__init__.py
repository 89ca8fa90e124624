"""The sequencer: stamps, journals and applies every command; releases results once durable."""

from trade_engine.sequencer.sequencer import (
    Busy,
    DiskFull,
    SeqTooOld,
    Sequencer,
    SequencerConfig,
    Stopped,
)
from trade_engine.wire.records import InvalidCommand, JournalEntry

__all__ = [
    "Busy",
    "DiskFull",
    "InvalidCommand",
    "JournalEntry",
    "SeqTooOld",
    "Sequencer",
    "SequencerConfig",
    "Stopped",
]
