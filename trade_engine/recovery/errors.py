"""Why a data directory cannot be recovered: each is a refusal to start, never skipped."""


class RecoveryError(Exception):
    """The snapshot and the journal do not make one consistent history."""


class JournalGapError(RecoveryError):
    """The journal skips a seq while replaying."""


class RecordsMissingError(RecoveryError):
    """The journal starts after the newest usable snapshot: the records between are gone."""

    def __init__(self, snapshot_seq: int, first_seq: int) -> None:
        super().__init__(
            f"journal starts at seq {first_seq} but the newest usable snapshot is at seq"
            f" {snapshot_seq}: records {snapshot_seq + 1}..{first_seq - 1} are missing"
        )
        self.snapshot_seq = snapshot_seq  # 0: no usable snapshot
        self.first_seq = first_seq
