"""Python client of the engine's native binary protocol (docs/protocol.md)."""

from trade_engine.client.client import EngineClient, Target
from trade_engine.client.errors import (
    BusyError,
    ClientError,
    ConnectionLost,
    LogonError,
    ServerError,
)
from trade_engine.protocol.messages import Entry, QueryResult, Result

__all__ = [
    "BusyError",
    "ClientError",
    "ConnectionLost",
    "EngineClient",
    "Entry",
    "LogonError",
    "QueryResult",
    "Result",
    "ServerError",
    "Target",
]
