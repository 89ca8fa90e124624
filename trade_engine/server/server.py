"""The listener: accepts TCP and Unix-socket connections and runs one Session per connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from trade_engine.core.engine import Engine
from trade_engine.server.auth import Authenticator, CredentialLike
from trade_engine.server.frames import DEFAULT_MAX_FRAME
from trade_engine.server.messages import EntryBodies, ErrorCode
from trade_engine.server.session import Session, aclose_stream

log = logging.getLogger(__name__)


class EntryLike(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> int: ...
    @property
    def command(self) -> Any: ...
    @property
    def events(self) -> list[Any]: ...


class SequencerLike(Protocol):
    """The part of ``trade_engine.sequencer.Sequencer`` the server uses."""

    engine: Engine

    @property
    def committed_seq(self) -> int: ...
    async def submit(self, cmd: Any) -> Any: ...
    # optional, used when present: ``submit_nowait(cmd) -> asyncio.Future[entry]`` that
    # raises Busy / Stopped at once instead of through the future
    def subscribe(self, from_seq: int) -> AsyncIterator[Any]: ...


@dataclass(frozen=True, slots=True)
class ServerOptions:
    max_frame_bytes: int = DEFAULT_MAX_FRAME  # inbound frame body limit
    # per session: above the high-water mark subscriptions and request reading pause, and a
    # peer that does not drain below it within slow_consumer_seconds is cut off; the hard
    # limit (reachable only through results of commands already in flight) cuts at once
    outbound_high_water: int = 1 << 20
    max_outbound_bytes: int = 64 << 20
    slow_consumer_seconds: float = 5.0
    heartbeat_seconds: float = 10.0  # when the Logon asks for none
    min_heartbeat_seconds: float = 1.0
    max_heartbeat_seconds: float = 300.0
    logon_timeout_seconds: float = 10.0
    ts_window_seconds: float = 30.0
    max_inflight: int = 10_000  # commands awaiting durability per session
    max_subscriptions: int = 8
    max_errors: int = 100  # content errors before a session is dropped
    close_grace_seconds: float = 2.0  # time to flush a closing session before a reset
    read_chunk_bytes: int = 256 << 10
    socket_send_buffer: int = 0  # SO_SNDBUF per session; 0 = the OS default (autotuned)


class CommitWatch:
    """Runs callbacks once a seq is durable.

    Queries read state that may be applied but not yet fsynced; their answers wait here. The
    seqs asked for only grow (the engine's seq only grows), so waiters form a FIFO. It follows
    the sequencer's durable stream with one internal subscription, started on first need.
    """

    def __init__(self, seqr: SequencerLike) -> None:
        self._seqr = seqr
        self._waiters: deque[tuple[int, Callable[[], None]]] = deque()
        self._task: asyncio.Task[None] | None = None

    def after(self, seq: int, fn: Callable[[], None]) -> None:
        if self._seqr.committed_seq >= seq and not self._waiters:
            fn()
            return
        self._waiters.append((seq, fn))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(), name="commit-watch")

    def _release(self) -> None:
        committed = self._seqr.committed_seq
        w = self._waiters
        while w and w[0][0] <= committed:
            w.popleft()[1]()

    async def _follow(self) -> None:
        stream = None
        try:
            stream = self._seqr.subscribe(self._seqr.committed_seq + 1)
            self._release()  # anything that became durable before the subscription began
            async for _ in stream:
                self._release()
        except Exception:
            log.exception("commit watch stopped")
        finally:
            await aclose_stream(stream)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._waiters.clear()


class Server:
    def __init__(
        self,
        seqr: SequencerLike,
        credentials: Mapping[str, CredentialLike],
        options: ServerOptions,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.seqr = seqr
        self.options = options
        kw: dict[str, Any] = {"window_ns": int(options.ts_window_seconds * 1e9)}
        if clock is not None:
            kw["clock"] = clock
        self.auth = Authenticator(credentials, **kw)
        self.commits = CommitWatch(seqr)
        self.entry_bodies = EntryBodies()
        self.sessions: set[Session] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listeners: list[asyncio.base_events.Server] = []
        self.tcp_address: tuple[str, int] | None = None
        self.unix_path: str | None = None
        self._closed = False

    async def _start(self, tcp: tuple[str, int] | None, unix: str | None) -> None:
        limit = self.options.read_chunk_bytes
        if tcp is not None:
            srv = await asyncio.start_server(self._on_connect, tcp[0], tcp[1], limit=limit)
            self._listeners.append(srv)
            self.tcp_address = srv.sockets[0].getsockname()[:2]
        if unix is not None:
            _remove_stale_socket(unix)
            srv = await asyncio.start_unix_server(self._on_connect, unix, limit=limit)
            self._listeners.append(srv)
            self.unix_path = unix
        log.info("binary protocol listening on tcp %s unix %s", self.tcp_address, self.unix_path)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.options.socket_send_buffer:
                # bounds what a stalled peer can park in the kernel on top of our outbox
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDBUF, self.options.socket_send_buffer
                )
        if self._closed:
            writer.close()
            return
        session = Session(self, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(session)
        self._tasks.add(task)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            self._tasks.discard(task)

    def close(self) -> None:
        """Stop listening and close every session (each is told SHUTTING_DOWN)."""
        if self._closed:
            return
        self._closed = True
        for srv in self._listeners:
            srv.close()
        for s in list(self.sessions):
            s.fatal(ErrorCode.SHUTTING_DOWN, "the server is shutting down")
        self.commits.close()
        if self.unix_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.unix_path)

    async def wait_closed(self) -> None:
        for srv in self._listeners:
            await srv.wait_closed()
        if self._tasks:
            await asyncio.wait(set(self._tasks))


def _remove_stale_socket(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)


async def serve(
    seqr: SequencerLike,
    *,
    tcp: tuple[str, int] | None = None,
    unix: str | None = None,
    credentials: Mapping[str, CredentialLike],
    options: ServerOptions | None = None,
    max_frame_bytes: int | None = None,
    heartbeat_seconds: float | None = None,
    clock: Callable[[], int] | None = None,
) -> Server:
    """Start serving the binary protocol on a TCP address and/or a Unix socket path.

    ``credentials`` maps api_key -> credential (api_key, secret, role, user_id); it is read
    at each logon. ``max_frame_bytes`` and ``heartbeat_seconds`` override ``options``;
    ``clock`` (ns) is for tests of the logon time window.
    """
    if tcp is None and unix is None:
        raise ValueError("serve() needs a tcp address, a unix path, or both")
    opts = options or ServerOptions()
    over: dict[str, Any] = {}
    if max_frame_bytes is not None:
        over["max_frame_bytes"] = max_frame_bytes
    if heartbeat_seconds is not None:
        over["heartbeat_seconds"] = heartbeat_seconds
    if over:
        from dataclasses import replace

        opts = replace(opts, **over)
    server = Server(seqr, credentials, opts, clock)
    await server._start(tcp, unix)
    return server


__all__ = ["SequencerLike", "Server", "ServerOptions", "serve"]
