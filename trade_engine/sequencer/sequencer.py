"""The sequencer: the one writer of engine state.

One asyncio loop task takes inbound commands in batches, stamps each with the next seq and the
engine clock, applies it to the engine and appends the record (command + events) to the journal.
A batch is made durable with one fsync (group commit) in a helper thread; only then are its
results released to the submitters and its entries to the subscribers. While one batch's fsync
runs, the next batch is already being applied (the journal writer buffers appends while another
thread commits), so the fsync overlaps matching.

Nothing else mutates the engine. Queries read it from the event-loop thread, which is the only
thread that ever calls ``Engine.apply``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import gc
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trade_engine.core.commands import Command
from trade_engine.core.engine import Engine
from trade_engine.core.state import export_state
from trade_engine.journal import JournalRangeError, JournalReader, JournalWriter, first_seq
from trade_engine.recovery import RecoveryError
from trade_engine.recovery.replay import RecoveryResult, recover
from trade_engine.recovery.snapshots import (
    Retention,
    encode_snapshot,
    retain_snapshots,
    write_snapshot_bytes,
)
from trade_engine.sequencer.child import ChildStatus, detach_child, read_status, write_status
from trade_engine.sequencer.clock import EngineClock
from trade_engine.wire.records import (
    JournalEntry,
    check_command,
    decode_entry,
    encode_record,
)

log = logging.getLogger(__name__)


class Busy(Exception):
    """The inbound queue is full: the caller should back off and retry."""


class SeqTooOld(Exception):
    """The requested seq is older than the oldest record still in the journal."""


class Stopped(Exception):
    """The sequencer has stopped (or failed) and takes no more commands."""


class DiskFull(Stopped):
    """The journal's file system has less free space than ``min_free_mib``: commands are
    refused (nothing was sequenced) until space is freed; queries still work.

    A ``Stopped`` so that a gateway that does not know it answers "unavailable"."""


@dataclass(frozen=True, slots=True)
class SequencerConfig:
    max_queue: int = 10_000  # inbound commands waiting; beyond this submit() raises Busy
    max_batch: int = 1_000  # commands per group commit at most
    sync: bool = True  # fsync each batch (off only for tests and benchmarks that say so)
    segment_size: int = 256 * 1024 * 1024
    snapshot_every_commands: int = 1_000_000  # 0 = never by count
    snapshot_every_seconds: float = 600.0  # 0 = never by time
    snapshots_kept: int = 2
    prune_journal: bool = False  # drop journal segments older than the oldest kept snapshot
    subscriber_queue: int = 10_000  # live entries buffered per subscriber before it reads disk
    overlap_fsync: bool = True  # apply the next batch while the previous one's fsync runs
    # on open, walk every record of every segment (CRC + chain) instead of the last segment by
    # CRC and the links between sealed ones; see docs/adr/0007
    full_scan_on_open: bool = False
    # refuse commands (DiskFull) while the journal's file system has less free space than this
    # (0 = never); checked every disk_check_seconds by a timer, never per command
    min_free_mib: int = 256
    disk_check_seconds: float = 1.0
    # a damaged final journal record that may have been acknowledged (complete, bad CRC):
    # refuse to start instead of cutting it (docs/journal-format.md)
    strict_tail: bool = False


_Pending = tuple["asyncio.Future[JournalEntry]", JournalEntry]
# a queued command: the command, its msgpack (checked at the door, written into its record as
# is), and the future its submitter waits on
_Queued = tuple[Command, bytes, "asyncio.Future[JournalEntry]"]


class Sequencer:
    def __init__(
        self,
        data_dir: Path,
        engine: Engine,
        journal: JournalWriter,
        config: SequencerConfig,
        recovery: RecoveryResult | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.journal_dir = data_dir / "journal"
        self.snapshot_dir = data_dir / "snapshots"
        self.engine = engine
        self.config = config
        self.recovery = recovery
        self._journal = journal
        self._clock = EngineClock(engine.ts)
        self._inbox: asyncio.Queue[_Queued] = asyncio.Queue(config.max_queue)
        self._fsync_pool = ThreadPoolExecutor(1, thread_name_prefix="journal-fsync")
        self._subscribers: set[_Subscriber] = set()
        # the batch being applied and the batch whose fsync is running (for failure handling)
        self._batch: list[_Queued] = []
        self._inflight: list[_Pending] = []
        self._closed = False  # journal closed: subscriptions end at committed_seq
        self._snapshot_wanted = False
        self._stopping = False
        self._failed: BaseException | None = None
        self.last_seq = engine.seq  # applied
        self.committed_seq = engine.seq  # durable and released
        # when_durable() waiters, by the seq they wait for (seqs only grow: a FIFO)
        self._durable_waiters: deque[tuple[int, asyncio.Future[int]]] = deque()
        self._last_snapshot_seq = recovery.snapshot_seq if recovery else 0
        self._last_snapshot_time = time.monotonic()
        self._snapshot_child: int | None = None
        self._snapshot_status_fd = -1  # read end of the child's status pipe
        self._snapshot_seq = 0  # the seq the running child writes
        self._disk_low = False
        self._disk_timer: asyncio.TimerHandle | None = None
        self._refusing = False  # stopping, failed or disk low: one test at the door
        self.stats = SequencerStats()

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        config: SequencerConfig | None = None,
        **overrides: object,
    ) -> Sequencer:
        """Recover the engine from ``data_dir`` (snapshot + journal tail) and get ready to run."""
        cfg = config or SequencerConfig()
        if overrides:
            cfg = dataclasses.replace(cfg, **overrides)  # type: ignore[arg-type]
        data_dir.mkdir(parents=True, exist_ok=True)
        journal_dir = data_dir / "journal"
        # opening the writer first cuts a torn tail before anything reads the journal
        journal = JournalWriter(
            journal_dir,
            segment_size=cfg.segment_size,
            sync=cfg.sync,
            full_scan=cfg.full_scan_on_open,
            tail_chain=cfg.full_scan_on_open,
            strict_tail=cfg.strict_tail,
        )
        try:
            # on this thread, not a worker: nothing else runs before recovery ends, and
            # rebuilding millions of objects was slower from a worker thread (timed by hand)
            result = recover(journal_dir, data_dir / "snapshots")
        except BaseException:
            journal.close(commit=False)
            raise
        if result.last_seq != journal.last_seq and journal.last_seq:
            journal.close(commit=False)
            raise RecoveryError(
                f"recovered state is at seq {result.last_seq} but the journal ends at"
                f" {journal.last_seq}"
            )
        log.info(
            "recovered seq %d (snapshot %d + %d replayed) in %.3f s",
            result.last_seq,
            result.snapshot_seq,
            result.replayed,
            result.seconds,
        )
        return cls(data_dir, result.engine, journal, cfg, result)

    async def stop(self) -> None:
        """Finish what is queued, make it durable, and close the journal."""
        self._stopping = True
        self._update_door()
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait((_STOP, b"", asyncio.get_running_loop().create_future()))
        while self._run_task is not None and not self._run_task.done():
            await asyncio.sleep(0.005)
        self._close()

    def _close(self) -> None:
        if self._disk_timer is not None:
            self._disk_timer.cancel()
        try:
            with contextlib.suppress(Exception):
                self._reap_snapshot(block=True)  # it may prune through the journal writer
            with contextlib.suppress(Exception):
                self._journal.close()
            self._fsync_pool.shutdown(wait=True)
        finally:
            self._closed = True
            for sub in list(self._subscribers):
                sub.close()
            while self._durable_waiters:
                w = self._durable_waiters.popleft()[1]
                if not w.done():
                    w.set_exception(Stopped("the sequencer stopped"))

    _run_task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """The sequencing loop; runs until ``stop()``."""
        self._run_task = asyncio.current_task()
        if self.config.min_free_mib > 0:
            self._check_disk()
        try:
            await self._loop()
        except BaseException as exc:
            # a failed apply or fsync: nothing in flight may be reported as done, and nobody
            # may wait forever. Stop taking commands; fail every waiter; end subscriptions.
            self._failed = exc
            self._update_door()
            if isinstance(exc, OSError):
                # the disk, not a bug: one line that says what happened and what to do
                log.error("sequencer stopped: %s", storage_failure(exc, self))
            elif not isinstance(exc, asyncio.CancelledError):
                log.exception("sequencer stopped on an error")
            self._fail_pending(exc)
            raise

    # ------------------------------------------------------------------ inbound

    async def submit(self, cmd: Command) -> JournalEntry:
        """Sequence ``cmd``; return its entry once it is durable. Raises Busy when full."""
        return await self.submit_nowait(cmd)

    def submit_nowait(self, cmd: Command) -> asyncio.Future[JournalEntry]:
        """Queue ``cmd`` now; the future resolves with its entry once durable.

        Raises Busy (queue full) or Stopped at once, so a gateway can answer without a task
        per request.
        """
        if self._refusing:
            self._refuse()
        data = check_command(cmd)  # a record that cannot be read back must never be written
        fut: asyncio.Future[JournalEntry] = asyncio.get_running_loop().create_future()
        try:
            self._inbox.put_nowait((cmd, data, fut))
        except asyncio.QueueFull:
            self.stats.busy += 1
            raise Busy(f"inbound queue full ({self.config.max_queue})") from None
        return fut

    def _refuse(self) -> None:
        if self._stopping or self._failed is not None:
            raise Stopped("the sequencer is not accepting commands")
        raise DiskFull(
            f"refused: the journal's disk ({self.journal_dir}) has less than "
            f"{self.config.min_free_mib} MiB free (sequencer.min_free_mib); nothing was "
            "sequenced"
        )

    def _update_door(self) -> None:
        # the three reasons to refuse folded into one flag, so the door costs one test
        self._refusing = self._stopping or self._failed is not None or self._disk_low

    def _check_disk(self) -> None:
        """Timer: compare the journal's free space with ``min_free_mib``; reschedule.

        A statvfs every ``disk_check_seconds`` on the loop thread (microseconds), never per
        command. The threshold must cover what can be written between two checks (at 25K
        commands/s about 15 MB/s) plus the next snapshot.
        """
        if self._disk_timer is not None:  # called early (a test, a reload): one timer only
            self._disk_timer.cancel()
            self._disk_timer = None
        if self._closed or self._failed is not None:
            return
        limit = self.config.min_free_mib * 1024 * 1024
        try:
            st = os.statvfs(self.journal_dir)
        except OSError as exc:
            log.warning("cannot check free space of %s: %s", self.journal_dir, exc)
        else:
            free = st.f_bavail * st.f_frsize
            low = free < limit
            if low and not self._disk_low:
                log.error(
                    "disk almost full: %s has %.1f MiB free, below sequencer.min_free_mib (%d):"
                    " refusing new commands until space is freed (runbook: Disk full)",
                    self.journal_dir,
                    free / 2**20,
                    self.config.min_free_mib,
                )
            elif self._disk_low and not low:
                log.warning(
                    "disk space recovered: %s has %.1f MiB free; accepting commands again",
                    self.journal_dir,
                    free / 2**20,
                )
            self._disk_low = low
            self._update_door()
        loop = asyncio.get_running_loop()
        self._disk_timer = loop.call_later(self.config.disk_check_seconds, self._check_disk)

    def _drain(self, first: _Queued | None) -> list[_Queued]:
        batch = [] if first is None else [first]
        inbox = self._inbox
        limit = self.config.max_batch
        while len(batch) < limit and not inbox.empty():
            batch.append(inbox.get_nowait())
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        commit: asyncio.Future[int] | None = None
        while True:
            if commit is None:
                if self._stopping and self._inbox.empty():
                    break
                self._maybe_snapshot()
                self._batch = self._drain(await self._next_command())
            else:
                self._batch = self._drain(None)
                if not self._batch:
                    await commit
                    self._release(self._inflight)
                    self._inflight, commit = [], None
                    continue
            applied = self._apply(self._batch)
            self._batch = []
            if commit is not None:
                await commit
                self._release(self._inflight)
            self._inflight = applied
            if applied:
                if self.config.overlap_fsync and self._inbox.empty():
                    # nothing is waiting to be applied, so nothing could overlap the fsync:
                    # do it here and skip two thread hand-offs (lower latency at moderate load)
                    self._journal.commit()
                    self._release(self._inflight)
                    self._inflight, commit = [], None
                    self.stats.inline_commits += 1
                    continue
                commit = loop.run_in_executor(self._fsync_pool, self._journal.commit)
                if not self.config.overlap_fsync:
                    await commit
                    self._release(self._inflight)
                    self._inflight, commit = [], None
            else:
                commit = None
        if commit is not None:
            await commit
            self._release(self._inflight)
            self._inflight = []

    async def _next_command(self) -> _Queued | None:
        """The next queued command; when idle, wake up in time for a due timed snapshot."""
        every = self.config.snapshot_every_seconds
        nothing_new = self.engine.seq == self._last_snapshot_seq
        if not every or nothing_new or not self._inbox.empty():
            return await self._inbox.get()
        left = every - (time.monotonic() - self._last_snapshot_time)
        try:
            return await asyncio.wait_for(self._inbox.get(), max(left, 0.05))
        except TimeoutError:
            return None

    def _apply(self, batch: list[_Queued]) -> list[_Pending]:
        engine = self.engine
        apply = engine.apply
        append = self._journal.append
        now = self._clock.now
        out: list[_Pending] = []
        seq = self.last_seq
        for cmd, data, fut in batch:
            if cmd is _STOP:
                continue
            seq += 1
            ts = now()
            events = apply(seq, ts, cmd)
            append(seq, ts, encode_record(data, events))
            out.append((fut, JournalEntry(seq, ts, cmd, events)))
        self.last_seq = seq
        self.stats.batches += 1 if out else 0
        self.stats.commands += len(out)
        return out

    def _release(self, done: list[_Pending]) -> None:
        if not done:
            return
        committed = self.committed_seq = done[-1][1].seq
        for fut, entry in done:
            if not fut.done():
                fut.set_result(entry)
        waiters = self._durable_waiters
        while waiters and waiters[0][0] <= committed:
            w = waiters.popleft()[1]
            if not w.done():
                w.set_result(committed)
        if self._subscribers:
            for sub in list(self._subscribers):
                sub.offer([e for _, e in done])

    def _fail_pending(self, exc: BaseException) -> None:
        err = Stopped(f"sequencer failed: {exc!r}")
        futs: list[asyncio.Future[Any]] = [f for f, _ in self._inflight]
        futs += [f for _, _, f in self._batch]
        while not self._inbox.empty():
            futs.append(self._inbox.get_nowait()[2])
        futs += [w for _, w in self._durable_waiters]
        self._durable_waiters.clear()
        for fut in futs:
            if not fut.done():
                fut.set_exception(err)
        self._inflight, self._batch = [], []
        self._closed = True
        if self._disk_timer is not None:
            self._disk_timer.cancel()
        for sub in list(self._subscribers):
            sub.close()

    def when_durable(self, seq: int) -> asyncio.Future[int]:
        """A future that resolves (with the durable seq) once everything up to ``seq`` is on
        disk and released; at once if it already is. Fails with Stopped if the sequencer does.

        Queries read state that may be applied but not yet fsynced: their answers wait here.
        """
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if seq <= self.committed_seq:
            fut.set_result(self.committed_seq)
        elif self._failed is not None or self._closed:
            fut.set_exception(Stopped("the sequencer is not running"))
        else:
            self._durable_waiters.append((seq, fut))
        return fut

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self, from_seq: int) -> AsyncIterator[JournalEntry]:
        """Durable entries from ``from_seq`` on, in order: from disk, then live.

        A subscriber that falls more than ``subscriber_queue`` entries behind is moved back to
        reading the journal, so it never holds the sequencer back and never misses an entry.
        """
        if from_seq < 1:
            from_seq = 1
        first = first_seq(self.journal_dir)
        if first is not None and from_seq < first:
            raise SeqTooOld(f"seq {from_seq} is before the oldest journal record {first}")
        next_seq = from_seq
        while True:
            # catch up from disk up to what is durable now
            while next_seq <= self.committed_seq:
                upto = self.committed_seq
                try:
                    chunk = await asyncio.to_thread(self._read_disk, next_seq, upto, 2_000)
                except JournalRangeError as exc:
                    raise SeqTooOld(f"seq {next_seq} was pruned before it could be read") from exc
                for entry in chunk:
                    yield entry
                    next_seq = entry.seq + 1
                if not chunk:
                    break
            if self._closed:
                return  # everything durable has been served and nothing more will come
            sub = _Subscriber(self.config.subscriber_queue)
            self._subscribers.add(sub)  # no await since the check above: no entry can slip by
            try:
                while not sub.lagging:
                    live = await sub.get()
                    if live is None:
                        return  # the sequencer closed
                    if live is _LAG or live.seq > next_seq:
                        break  # overflowed (a gap can only mean that): back to the disk
                    if live.seq == next_seq:
                        yield live
                        next_seq += 1
            finally:
                self._subscribers.discard(sub)

    def _read_disk(self, from_seq: int, to_seq: int, limit: int) -> list[JournalEntry]:
        out: list[JournalEntry] = []
        for seq, ts, payload in JournalReader(self.journal_dir).read_from(from_seq, to_seq=to_seq):
            out.append(decode_entry(seq, ts, payload))
            if len(out) >= limit:
                break
        return out

    # ------------------------------------------------------------------ snapshots

    def _maybe_snapshot(self) -> None:
        """Called only when nothing is in flight: engine state == durable journal."""
        cfg = self.config
        if self.engine.seq == self._last_snapshot_seq or self._snapshot_child is not None:
            self._reap_snapshot(block=False)
            return
        due = (
            self._snapshot_wanted
            or (
                cfg.snapshot_every_commands
                and self.engine.seq - self._last_snapshot_seq >= cfg.snapshot_every_commands
            )
            or (
                cfg.snapshot_every_seconds
                and time.monotonic() - self._last_snapshot_time >= cfg.snapshot_every_seconds
            )
        )
        if due:
            self.snapshot_now()

    def snapshot_now(self, *, fork: bool = True) -> float:
        """Write a snapshot of the current (durable) state; return the pause in seconds.

        With ``fork`` the state is serialised in a forked child (copy-on-write), so matching
        pauses only for the fork itself.
        """
        if self.last_seq != self.committed_seq or self._batch:
            # applied but not yet durable: a snapshot now could be ahead of the journal after
            # a crash. Take it as soon as the loop is idle.
            self._snapshot_wanted = True
            return 0.0
        if self._snapshot_child is not None:
            log.info("snapshot already being written; not starting another")
            return 0.0
        self._snapshot_wanted = False
        t0 = time.perf_counter()
        seq = self.engine.seq
        self._last_snapshot_seq = seq
        self._last_snapshot_time = time.monotonic()
        if fork and hasattr(os, "fork"):
            parent = os.getpid()
            status_r, status_w = os.pipe()  # the child's reason (or its retention) comes back
            try:
                pid = os.fork()
            except BaseException:
                os.close(status_r)
                os.close(status_w)
                raise
            if pid == 0:  # child: never returns
                self._snapshot_child_main(parent, status_w, seq)
            os.close(status_w)
            self._snapshot_child = pid
            self._snapshot_status_fd = status_r
            self._snapshot_seq = seq
        else:
            self._write_snapshot(seq)
            kept = retain_snapshots(self.snapshot_dir, self.config.snapshots_kept)
            self._after_snapshot(kept)
        pause = time.perf_counter() - t0
        self.stats.snapshot_pauses.append(pause)
        log.info("snapshot at seq %d (pause %.1f ms)", seq, pause * 1000)
        return pause

    def _snapshot_child_main(self, parent: int, status_w: int, seq: int) -> None:
        """The forked child: serialise, write, keep the good snapshots, report, leave.

        It holds nothing the next engine needs (detach_child closes every inherited fd but
        the status pipe and stdio: the journal lock, the listening sockets, client sockets)
        and it dies with its parent, so a restart is never blocked by an orphan (issue 8).
        It leaves with os._exit: no cleanup of the parent's objects may run here.
        """
        status = ChildStatus(ok=False, error="child ended before reporting")
        try:
            detach_child(parent, keep=status_w)
            gc.disable()  # the child lives for one job; collecting would only touch pages
            self._write_snapshot(seq)
            retention = retain_snapshots(self.snapshot_dir, self.config.snapshots_kept)
            status = ChildStatus.from_retention(retention)
        except BaseException as exc:
            status = ChildStatus.from_exception(exc)
        finally:
            try:
                write_status(status_w, status)
            finally:
                os._exit(0 if status.ok else 1)

    def _write_snapshot(self, seq: int) -> None:
        write_snapshot_bytes(self.snapshot_dir, seq, encode_snapshot(export_state(self.engine)))

    def _reap_snapshot(self, block: bool) -> None:
        pid = self._snapshot_child
        if pid is None:
            return
        done, wstatus = os.waitpid(pid, 0 if block else os.WNOHANG)
        if done == 0:
            return
        self._snapshot_child = None
        fd, self._snapshot_status_fd = self._snapshot_status_fd, -1
        status = read_status(fd, wstatus)  # the child has exited: this read does not block
        if not status.ok:
            log.error(
                "snapshot at seq %d failed (child %d): %s",
                self._snapshot_seq,
                pid,
                status.explain(self.snapshot_dir),
            )
            return
        self._after_snapshot(status.retention())

    def _after_snapshot(self, retention: Retention) -> None:
        for p in retention.removed:
            log.info("removed old snapshot %s", p.name)
        for p, why in retention.set_aside:
            log.error(
                "snapshot %s is damaged (%s): set aside as %s, not counted as kept; "
                "inspect or delete it",
                p.name.removesuffix(".damaged"),
                why,
                p.name,
            )
        for p, why in retention.unreadable:
            log.error("snapshot %s could not be read (%s): not counted as kept", p.name, why)
        if self.config.prune_journal:
            # only up to the oldest snapshot that verified: everything after it must stay
            # replayable (issue 8, item 9); none verified = prune nothing
            oldest = retention.oldest_kept_seq
            if oldest is not None:
                pruned = self._journal.prune_segments_before(oldest + 1)
                for seg in pruned:
                    log.info("pruned journal segment %s", seg.path.name)


def storage_failure(exc: OSError, seqr: Sequencer) -> str:
    """One line for an operator: what failed on the disk, what is safe, what to do."""
    name = errno.errorcode.get(exc.errno or 0, "?")
    where = seqr.journal_dir
    safe = f"nothing after seq {seqr.committed_seq} was acknowledged"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"disk full ({name}) writing the journal in {where}: {safe}; free space on that "
            "file system (or raise its quota) and start the engine again, which cuts the "
            "partial record (runbook: Disk full)"
        )
    return (
        f"I/O error writing the journal in {where}: {exc.strerror or exc} ({name}); {safe}; "
        "check the disk (dmesg, SMART, mount options) before starting again"
    )


@dataclass(slots=True)
class SequencerStats:
    commands: int = 0
    batches: int = 0
    inline_commits: int = 0  # batches fsynced on the loop's thread (nothing queued behind them)
    busy: int = 0
    snapshot_pauses: list[float] = dataclasses.field(default_factory=list)


class _Subscriber:
    """A live feed with a bounded buffer; overflowing flags it to fall back to disk."""

    def __init__(self, limit: int) -> None:
        self._queue: asyncio.Queue[JournalEntry | None] = asyncio.Queue()
        self._limit = limit
        self.lagging = False

    def offer(self, entries: list[JournalEntry]) -> None:
        if self.lagging:
            return
        if self._queue.qsize() + len(entries) > self._limit:
            self.lagging = True
            self._queue.put_nowait(_LAG)  # wake the reader so it notices
            return
        for e in entries:
            self._queue.put_nowait(e)

    async def get(self) -> JournalEntry | None:
        """The next live entry; ``_LAG`` when overflowed; None when closed."""
        return await self._queue.get()

    def close(self) -> None:
        self._queue.put_nowait(None)


class _StopMarker:
    """Queued by stop() to wake the loop."""


_STOP: Command = _StopMarker()  # type: ignore[assignment]
_LAG: JournalEntry = JournalEntry(-1, 0, _STOP, [])
