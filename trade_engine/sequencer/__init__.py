"""The sequencer: stamps, journals and applies every command; releases results once durable."""

from trade_engine.sequencer.sequencer import (
    Busy,
    SeqTooOld,
    Sequencer,
    SequencerConfig,
    Stopped,
)
from trade_engine.wire.records import InvalidCommand, JournalEntry

__all__ = [
    "Busy",
    "InvalidCommand",
    "JournalEntry",
    "SeqTooOld",
    "Sequencer",
    "SequencerConfig",
    "Stopped",
]
