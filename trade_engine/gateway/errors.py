"""The errors a gateway answers with, before anything reaches the sequencer.

Each has a stable ``ErrorKind``; every gateway renders it in its own wire's terms (the native
protocol's error code of the same name, an HTTP status, a FIX reject reason).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Stable kinds: clients key on them (through each gateway's rendering). Only add."""

    FORBIDDEN = "FORBIDDEN"  # this role may not do that
    NOT_OWNER = "NOT_OWNER"  # acting for another user than the credential's
    UNKNOWN_QUERY = "UNKNOWN_QUERY"
    BAD_QUERY = "BAD_QUERY"  # missing or mistyped arguments, or out of range
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_NUMBER = "INVALID_NUMBER"  # a decimal string off its grid or malformed (units)


class GatewayError(Exception):
    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class AccessError(GatewayError):
    """The credential may not send this command or ask this question."""


class QueryError(GatewayError):
    """A query that cannot be answered as asked."""
