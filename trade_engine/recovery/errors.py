"""Why a data directory cannot be recovered: each is a refusal to start, never skipped."""


class RecoveryError(Exception):
    """The snapshot and the journal do not make one consistent history."""


class JournalGapError(RecoveryError):
    """The journal skips a seq while replaying."""


class RecordsMissingError(RecoveryError):
    """The journal starts after the newest usable snapshot: the records between are gone."""
