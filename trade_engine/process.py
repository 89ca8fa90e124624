"""The engine process: recover, apply the configured market definition, serve, stop cleanly.

A start that is refused for a known reason, and a run that stops because the disk failed, end
with one ERROR line that names the cause and what to do, and an exit code of its own
(``ExitCode``; ops/runbook-engine.md lists them). Only what is not understood (a bug) ends with
a traceback and exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import time
from enum import IntEnum
from pathlib import Path
from typing import Any

from trade_engine.config import EngineConfig
from trade_engine.config.settings import ConfigError
from trade_engine.core.commands import AddAsset, AddSymbol, Command
from trade_engine.core.events import Rejected
from trade_engine.core.symbols import SymbolSpec
from trade_engine.journal import JournalCorruptError, JournalError, JournalLockedError
from trade_engine.native import serve
from trade_engine.recovery import RecoveryError
from trade_engine.sequencer import DiskFull, Sequencer, SequencerConfig

log = logging.getLogger("trade_engine")


class ExitCode(IntEnum):
    """The engine process's exit codes; ops/runbook-engine.md says what to do for each."""

    OK = 0  # stopped by SIGTERM/SIGINT, everything durable
    FAILED = 1  # an unexpected error (a bug): the traceback is printed
    CONFIG = 2  # config file missing, unreadable or invalid (also: bad command-line options)
    DATA_DIR_IN_USE = 3  # another process holds the journal's lock (it is named)
    ADDRESS_IN_USE = 4  # cannot listen on the configured TCP port or Unix socket
    JOURNAL_DAMAGED = 5  # journal or snapshots damaged or inconsistent: start refused
    DISK_FULL = 6  # no space (or quota) left on the data directory's file system
    DISK_ERROR = 7  # the data directory cannot be used: I/O error, permissions, read-only


class Refusal(Exception):
    """A known reason to refuse to start or to stop: one line, an exit code."""

    def __init__(self, code: ExitCode, message: str, *, logged: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.logged = logged  # already reported by whoever found it (the sequencer)


class ListenError(Exception):
    def __init__(self, where: str, exc: OSError) -> None:
        super().__init__(f"cannot listen on {where}: {exc.strerror or exc}")
        self.where = where
        self.os_error = exc


class SequencerFailed(Exception):
    """The sequencer loop stopped on an error; it has logged the reason already."""


_FULL = (errno.ENOSPC, errno.EDQUOT)


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def classify(exc: BaseException, cfg: EngineConfig) -> Refusal | None:
    """The refusal ``exc`` stands for, with its line and exit code; None: not understood."""
    chain = _chain(exc)
    data = cfg.data_dir
    runbook = "(ops/runbook-engine.md: The engine refuses to start)"
    for e in chain:
        if isinstance(e, Refusal):
            return e
        if isinstance(e, ConfigError):
            return Refusal(ExitCode.CONFIG, f"{e}; fix the file and start again")
        if isinstance(e, JournalLockedError):
            return Refusal(ExitCode.DATA_DIR_IN_USE, str(e))
        if isinstance(e, ListenError):
            hint = "another process listens there; stop it or change listen.tcp_port/unix"
            if e.os_error.errno != errno.EADDRINUSE:
                hint = "check listen.tcp_host/tcp_port/unix (address and permissions)"
            return Refusal(ExitCode.ADDRESS_IN_USE, f"{e}: {hint}")
        if isinstance(e, DiskFull):
            return Refusal(
                ExitCode.DISK_FULL, f"{e}: free space (ops/runbook-engine.md: Disk full)"
            )
        if isinstance(e, OSError) and e.errno in _FULL:
            return Refusal(
                ExitCode.DISK_FULL,
                f"disk full under {data} ({e}): free space on that file system and start again "
                "(ops/runbook-engine.md: Disk full)",
                logged=isinstance(exc, SequencerFailed),
            )
    for e in chain:
        if isinstance(e, JournalCorruptError):
            return Refusal(
                ExitCode.JOURNAL_DAMAGED,
                f"refusing to start: {e}. Keep {data} as it is (copy it), run `trade-engine "
                f"journal verify {data}` and restore the segment from a replica or backup "
                f"{runbook}",
            )
        if isinstance(e, RecoveryError | JournalError):
            return Refusal(
                ExitCode.JOURNAL_DAMAGED,
                f"refusing to start: cannot recover {data}: {e}. Run `trade-engine journal "
                f"verify {data}` {runbook}",
            )
    if isinstance(exc, SequencerFailed):
        cause = exc.__cause__
        if isinstance(cause, OSError):
            return Refusal(ExitCode.DISK_ERROR, str(cause), logged=True)
        return None
    for e in chain:
        if isinstance(e, OSError) and _under(e.filename, data):
            return Refusal(
                ExitCode.DISK_ERROR,
                f"cannot use the data directory {data}: {e}; check its permissions, the mount "
                "(read-only?) and the disk (dmesg)",
            )
    return None


def _under(name: object, directory: Path) -> bool:
    if not isinstance(name, str | Path):
        return False
    try:
        Path(name).resolve().relative_to(Path(directory).resolve())
    except ValueError:
        return False
    return True


def main(cfg: EngineConfig) -> int:
    """Run the engine; the process's exit code. Known refusals are logged as one line."""
    try:
        asyncio.run(run_engine(cfg))
    except BaseException as exc:
        refusal = classify(exc, cfg)
        if refusal is None:
            raise  # not understood: a bug, and its traceback is what a developer needs
        if not refusal.logged:
            log.error("%s", refusal.message)
        log.info("exit code %d (%s)", refusal.code, refusal.code.name)
        return int(refusal.code)
    return int(ExitCode.OK)


def sequencer_config(cfg: EngineConfig) -> SequencerConfig:
    s = cfg.sequencer
    return SequencerConfig(
        max_queue=s.max_queue,
        max_batch=s.max_batch,
        sync=s.sync,
        segment_size=s.segment_mib * 1024 * 1024,
        snapshot_every_commands=s.snapshot_every_commands,
        snapshot_every_seconds=s.snapshot_every_seconds,
        snapshots_kept=s.snapshots_kept,
        prune_journal=s.prune_journal,
        subscriber_queue=s.subscriber_queue,
        overlap_fsync=s.overlap_fsync,
        full_scan_on_open=s.full_scan_on_open,
        min_free_mib=s.min_free_mib,
        disk_check_seconds=s.disk_check_seconds,
        strict_tail=s.strict_tail,
    )


def market_commands(cfg: EngineConfig, seqr: Sequencer) -> list[Command]:
    """Admin commands for configured assets and symbols the engine does not know yet."""
    out: list[Command] = []
    e = seqr.engine
    for a in cfg.assets:
        if a.code not in e.assets:
            out.append(AddAsset(a.code, a.decimals, operator="config"))
    for s in cfg.symbols:
        if s.symbol not in e.markets:
            out.append(AddSymbol(SymbolSpec(**s.model_dump()), operator="config"))
        elif e.markets[s.symbol].spec != SymbolSpec(**s.model_dump()):
            log.warning(
                "symbol %s differs from the config; change it with an UpdateSymbol command",
                s.symbol,
            )
    return out


async def run_engine(cfg: EngineConfig, ready: asyncio.Event | None = None) -> None:
    t0 = time.perf_counter()
    seqr = await Sequencer.open(cfg.data_dir, sequencer_config(cfg))
    rec = seqr.recovery
    if rec is not None:
        log.info(
            "recovery: snapshot seq %d + %d journal records -> seq %d in %.3f s",
            rec.snapshot_seq,
            rec.replayed,
            rec.last_seq,
            rec.seconds,
        )
    tune_gc()
    freezer = asyncio.create_task(gc_freezer(), name="gc-freezer")
    run_task = asyncio.create_task(seqr.run(), name="sequencer")
    try:
        for cmd in market_commands(cfg, seqr):
            entry = await seqr.submit(cmd)
            for ev in entry.events:
                if isinstance(ev, Rejected):
                    log.error("config command %s refused: %s %s", cmd, ev.reason, ev.detail)
        opts = server_options(cfg)
        try:
            server = await serve(seqr, **opts)
        except OSError as exc:
            raise ListenError(_listen_where(cfg), exc) from exc
    except BaseException:
        # refused before serving: close the journal properly (the next start must not find a
        # half-written batch) and let the caller report why
        await seqr.stop()
        freezer.cancel()
        await asyncio.gather(run_task, return_exceptions=True)
        raise
    log.info(
        "engine ready at seq %d in %.3f s (%s)",
        seqr.last_seq,
        time.perf_counter() - t0,
        _listen_where(cfg),
    )
    if ready is not None:
        ready.set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, run_task}, return_when=asyncio.FIRST_COMPLETED)
    log.info("stopping")
    server.close()
    await server.wait_closed()
    await seqr.stop()
    waiter.cancel()
    freezer.cancel()
    if run_task.done() and not run_task.cancelled() and run_task.exception() is not None:
        raise SequencerFailed("the sequencer stopped on an error") from run_task.exception()
    log.info("stopped at seq %d", seqr.committed_seq)


def _listen_where(cfg: EngineConfig) -> str:
    lc = cfg.listen
    parts = [f"tcp {lc.tcp_host}:{lc.tcp_port}"] if lc.tcp_host else []
    if lc.unix:
        parts.append(f"unix {lc.unix}")
    return ", ".join(parts) or "nothing"


def tune_gc() -> None:
    """Keep the cyclic GC off the hot path.

    The engine breaks its own reference cycles (orders unlink from their levels), so the
    collector only ever finds strays (asyncio's); but with hundreds of thousands of live orders a
    full collection walks them all and stalls matching for 100-300 ms (measured: p99 at 10K
    orders/s fell from 234 ms to 19 ms without it). So: young generations are still collected
    (cheap, and that is where stray cycles die), and everything that survived a while is moved
    to the permanent generation every second (``gc_freezer``), so no collection walks the book.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 1_000_000)


async def gc_freezer(period: float = 1.0) -> None:
    while True:
        await asyncio.sleep(period)
        gc.freeze()


def server_options(cfg: EngineConfig) -> dict[str, Any]:
    lc = cfg.listen
    return {
        "tcp": (lc.tcp_host, lc.tcp_port) if lc.tcp_host else None,
        "unix": lc.unix,
        "credentials": {c.api_key: c for c in cfg.credentials},
        "max_frame_bytes": lc.max_frame_bytes,
        "heartbeat_seconds": lc.heartbeat_seconds,
    }
