"""The sequencer port: what a gateway running beside the engine needs from the sequencer.

``trade_engine.sequencer.Sequencer`` implements it; a gateway depends on this shape only, so
tests can stand a double in its place. Every method runs on the event-loop thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from trade_engine.core.commands import Command
from trade_engine.core.engine import Engine
from trade_engine.sequencer import (
    Busy,
    DiskFull,
    InvalidCommand,
    JournalEntry,
    SeqTooOld,
    Stopped,
)

__all__ = [
    "Busy",
    "DiskFull",
    "EnginePort",
    "InvalidCommand",
    "SeqTooOld",
    "Stopped",
    "aclose_stream",
]


class EnginePort(Protocol):
    @property
    def engine(self) -> Engine:
        """The live state, for queries: read it only on the loop thread, between two steps."""
        ...

    @property
    def committed_seq(self) -> int:
        """The last seq that is durable and released."""
        ...

    def submit_nowait(self, cmd: Command) -> asyncio.Future[JournalEntry]:
        """Queue a command; the future gives its entry once durable. Raises Busy (queue full),
        Stopped, or InvalidCommand (a field outside ``core.limits``, named by ``.field``; never
        journaled) at once, so a gateway answers without a task per request."""
        ...

    def when_durable(self, seq: int) -> asyncio.Future[int]:
        """Resolves once ``seq`` is durable (at once if it is): answers that read state wait
        here, since durable comes before visible. Fails with Stopped."""
        ...

    def subscribe(self, from_seq: int) -> AsyncIterator[JournalEntry]:
        """Durable entries from ``from_seq`` on, in order, from disk then live; raises
        SeqTooOld when that seq was pruned."""
        ...


async def aclose_stream(stream: object) -> None:
    """Close a subscription's async generator now (not at garbage collection), so the
    sequencer drops its subscriber at once."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
