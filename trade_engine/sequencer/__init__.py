"""The sequencer: stamps, journals and applies every command; releases results once durable."""

from trade_engine.sequencer.records import JournalEntry
from trade_engine.sequencer.sequencer import (
    Busy,
    SeqTooOld,
    Sequencer,
    SequencerConfig,
    Stopped,
)

__all__ = ["Busy", "JournalEntry", "SeqTooOld", "Sequencer", "SequencerConfig", "Stopped"]
