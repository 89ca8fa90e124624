"""An in-memory stand-in for ``trade_engine.sequencer.Sequencer`` with the same interface.

Group commit is imitated: a batch is applied, then the "fsync" yields to the event loop (so
queries can see applied-but-not-durable state, as with the real one), then results and entries
are released. ``hold()`` / ``release()`` keep batches applied but not durable for as long as
a test wants; ``forget_before(seq)`` imitates journal retention for SeqTooOld.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from trade_engine.core.commands import Command
from trade_engine.core.engine import Engine
from trade_engine.sequencer import Busy, JournalEntry, SeqTooOld, Stopped


class FakeSequencer:
    def __init__(self, max_queue: int) -> None:
        self.engine = Engine()
        self.committed_seq = 0
        self.last_seq = 0
        self.entries: list[JournalEntry] = []
        self.first_seq = 1
        self._inbox: asyncio.Queue[tuple[Command, asyncio.Future[JournalEntry]]] = asyncio.Queue(
            max_queue
        )
        self._changed = asyncio.Event()
        self._gate = asyncio.Event()
        self._gate.set()
        self._stopped = False
        self._ts = 0
        self._waiters: set[asyncio.Future[None]] = set()

    @classmethod
    async def open(
        cls, data_dir: Path, *, sync: bool = True, max_queue: int = 10_000, **_: Any
    ) -> FakeSequencer:
        return cls(max_queue)

    # ---- test controls
    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def forget_before(self, seq: int) -> None:
        self.first_seq = seq

    # ---- the interface
    async def run(self) -> None:
        while True:
            cmd, fut = await self._inbox.get()
            if fut is None:
                break
            batch = [(cmd, fut)]
            while not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            done = []
            for cmd, fut in batch:
                if fut is None:
                    self._stopped = True
                    continue
                self.last_seq += 1
                self._ts = max(self._ts + 1, time.time_ns())
                events = self.engine.apply(self.last_seq, self._ts, cmd)
                done.append((fut, JournalEntry(self.last_seq, self._ts, cmd, events)))
            await asyncio.sleep(0)  # the "fsync": other tasks run meanwhile
            await self._gate.wait()
            if done:
                self.entries.extend(e for _, e in done)
                self.committed_seq = done[-1][1].seq
                for f, e in done:
                    if not f.done():
                        f.set_result(e)
                self._changed.set()
                self._changed = asyncio.Event()
            if self._stopped:
                break
        self._stopped = True
        self._changed.set()

    async def submit(self, cmd: Command) -> JournalEntry:
        return await self.submit_nowait(cmd)

    def when_durable(self, seq: int) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def wait() -> None:
            while self.committed_seq < seq:
                if self._stopped:
                    fut.set_exception(Stopped("stopped"))
                    return
                await self._changed.wait()
            fut.set_result(self.committed_seq)

        if seq <= self.committed_seq:
            fut.set_result(self.committed_seq)
        else:
            self._waiters.add(asyncio.ensure_future(wait()))
        return fut

    def submit_nowait(self, cmd: Command) -> asyncio.Future[JournalEntry]:
        if self._stopped:
            raise Stopped("stopped")
        fut: asyncio.Future[JournalEntry] = asyncio.get_running_loop().create_future()
        try:
            self._inbox.put_nowait((cmd, fut))
        except asyncio.QueueFull:
            raise Busy("inbound queue full") from None
        return fut

    async def subscribe(self, from_seq: int) -> AsyncIterator[JournalEntry]:
        nxt = max(from_seq, 1)
        if nxt < self.first_seq:
            raise SeqTooOld(f"seq {nxt} is before the oldest record {self.first_seq}")
        while True:
            while nxt <= self.committed_seq:
                yield self.entries[nxt - 1]
                nxt += 1
            if self._stopped:
                return
            await self._changed.wait()

    async def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait((None, None))  # type: ignore[arg-type]
        self._changed.set()
