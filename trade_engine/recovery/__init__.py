"""Snapshots of the core state and recovery: newest valid snapshot + replay of the journal."""

from trade_engine.recovery.errors import JournalGapError, RecordsMissingError, RecoveryError

__all__ = ["JournalGapError", "RecordsMissingError", "RecoveryError"]
