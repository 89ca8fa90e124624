"""The native gateway's listener: accepts TCP and Unix-socket connections, one Session each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from collections.abc import Callable, Mapping
from typing import Any

from trade_engine.gateway.access import CredentialLike
from trade_engine.gateway.port import EnginePort
from trade_engine.native.logon import Authenticator
from trade_engine.native.options import ServerOptions
from trade_engine.native.session import Session, SessionContext
from trade_engine.protocol.messages import EntryBodies, ErrorCode

log = logging.getLogger(__name__)


class Server:
    def __init__(
        self,
        port: EnginePort,
        credentials: Mapping[str, CredentialLike],
        options: ServerOptions,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.port = port
        self.options = options
        kw: dict[str, Any] = {"window_ns": int(options.ts_window_seconds * 1e9)}
        if clock is not None:
            kw["clock"] = clock
        self.auth = Authenticator(credentials, **kw)
        self.context = SessionContext(port, options, self.auth, EntryBodies())
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
        session = Session(self.context, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(session)
        self._tasks.add(task)
        try:
            await session.run()
            await session.outbox.wait_closed()  # then nothing of it outlives it (no cycle)
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
    port: EnginePort,
    *,
    tcp: tuple[str, int] | None = None,
    unix: str | None = None,
    credentials: Mapping[str, CredentialLike],
    options: ServerOptions | None = None,
    max_frame_bytes: int | None = None,
    heartbeat_seconds: float | None = None,
    clock: Callable[[], int] | None = None,
) -> Server:
    """Start serving the binary protocol on a TCP address and/or a Unix socket path, in front
    of ``port`` (the sequencer).

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
    server = Server(port, credentials, opts, clock)
    await server._start(tcp, unix)
    return server


__all__ = ["Server", "ServerOptions", "serve"]
