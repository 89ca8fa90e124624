"""Helpers for the sequencer and recovery tests: a running sequencer, command flows, an
independent reference (a fresh Engine fed the same (seq, ts, command)s) and file surgery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from helpers.bench import core_bench
from helpers.journal import flip, segment_files
from trade_engine.core.commands import AddAsset, Command, Deposit
from trade_engine.core.engine import Engine
from trade_engine.core.state import state_hash
from trade_engine.journal import JournalReader
from trade_engine.sequencer import JournalEntry, Sequencer
from trade_engine.wire.records import decode_entry


def commands(n: int, seed: int = 1, users: int = 100) -> list[Command]:
    """The bench's realistic set-up and flow (over ``users`` funded users; the bench's own
    1,000 only make the set-up longer) plus an 18-decimal asset with an amount > 2**64."""
    saved = core_bench.USERS
    core_bench.USERS = users
    try:
        setup, cmds = core_bench.setup_commands(), core_bench.flow(n, seed)
    finally:
        core_bench.USERS = saved
    extra: list[Command] = [
        AddAsset("ETH", 18, operator="ops"),
        Deposit(7, "ETH", 123 * 10**18 + 5, "eth-7", "wallet"),  # > 2**64 smallest units
    ]
    return setup + extra + cmds


@contextlib.asynccontextmanager
async def running(data_dir: Path, **config: Any) -> AsyncIterator[Sequencer]:
    """An open sequencer with its loop running; stopped (and the loop awaited) on exit."""
    config.setdefault("sync", False)
    seqr = await Sequencer.open(data_dir, **config)
    task = asyncio.create_task(seqr.run())
    try:
        yield seqr
    finally:
        if not task.done():
            await asyncio.wait_for(seqr.stop(), 10)
        with contextlib.suppress(BaseException):
            await task


async def submit_all(
    seqr: Sequencer, cmds: Iterable[Command], chunk: int = 500
) -> list[JournalEntry]:
    """Submit in concurrent chunks (so batches form), in order; return the entries."""
    out: list[JournalEntry] = []
    cmds = list(cmds)
    for i in range(0, len(cmds), chunk):
        out += await asyncio.gather(*(seqr.submit(c) for c in cmds[i : i + chunk]))
    return out


def reference(entries: Iterable[JournalEntry], upto: int | None = None) -> Engine:
    """A fresh engine fed the same (seq, ts, command)s, independent of journal and snapshots."""
    e = Engine()
    for entry in entries:
        if upto is not None and entry.seq > upto:
            break
        e.apply(entry.seq, entry.ts, entry.command)
    return e


def reference_hash(entries: Iterable[JournalEntry], upto: int | None = None) -> str:
    return state_hash(reference(entries, upto))


def journal_entries(data_dir: Path, from_seq: int = 1) -> list[JournalEntry]:
    reader = JournalReader(data_dir / "journal")
    return [decode_entry(s, t, p) for s, t, p in reader.read_from(from_seq, verify_chain=True)]


def segments(data_dir: Path) -> list[Path]:
    """The journal segments of a sequencer's data directory."""
    return segment_files(data_dir / "journal")


def flip_byte(path: Path, offset: int) -> None:
    flip(path, offset, mask=0x5A)


async def collect(
    agen: AsyncIterator[JournalEntry],
    count: int,
    on_entry: Callable[[JournalEntry], Awaitable[None]] | None = None,
) -> list[JournalEntry]:
    """The first ``count`` entries of a subscription (then it is closed)."""
    got: list[JournalEntry] = []
    try:
        async for entry in agen:
            got.append(entry)
            if on_entry is not None:
                await on_entry(entry)
            if len(got) >= count:
                break
    finally:
        await agen.aclose()  # type: ignore[attr-defined]
    return got
