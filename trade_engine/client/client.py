"""Async client of the native binary protocol.

One connection, any number of outstanding requests (each carries an id; answers are matched
by it, in whatever order they come), subscriptions multiplexed on the same connection,
heartbeats in the background. Frames written in one event-loop iteration leave in one write.

    async with EngineClient.connect(("127.0.0.1", 7300), key, secret) as c:
        result = await c.submit(PlaceOrder(...))      # after the engine made it durable
        book = await c.query("depth", symbol="BTC-USDT")
        async for entry in c.subscribe(from_seq=1):    # the ordered event stream
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator
from types import TracebackType
from typing import Any, Final

from trade_engine.client.errors import (
    BusyError,
    ClientError,
    ConnectionLost,
    LogonError,
    ServerError,
)
from trade_engine.core.commands import Command
from trade_engine.protocol.frames import FrameDecoder
from trade_engine.protocol.messages import (
    PROTOCOL_VERSION,
    Busy,
    CommandRequest,
    Entry,
    Error,
    Heartbeat,
    Logon,
    LogonAck,
    Logout,
    Query,
    QueryResult,
    Result,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    decode_server,
    encode,
)
from trade_engine.protocol.outbox import Outbox
from trade_engine.protocol.signing import sign

Target = tuple[str, int] | str | os.PathLike[str]

READ_CHUNK: Final = 256 << 10
DEFAULT_MAX_INBOUND: Final = 1 << 30  # the server is trusted; a mass cancel's Result is large
_HEARTBEAT: Final = encode(Heartbeat())
_LOGOUT: Final = encode(Logout())


class _Stream:
    """Buffer of one subscription: entries wait here for the consumer.

    When it is full the connection's reader waits for room, so a slow consumer slows the
    TCP stream (and eventually the server cuts it off) rather than growing memory.
    """

    __slots__ = ("_space", "_waiter", "end", "ended", "entries", "from_seq", "limit")

    def __init__(self, limit: int) -> None:
        self.entries: deque[Entry] = deque()
        self.limit = limit
        self.ended = False
        self.end: BaseException | None = None
        self.from_seq: int | None = None  # set by the server's Subscribed: it was accepted
        self._waiter: asyncio.Future[None] | None = None
        self._space: asyncio.Future[None] | None = None

    @property
    def full(self) -> bool:
        return len(self.entries) >= self.limit and not self.ended

    def push(self, e: Entry) -> None:
        self.entries.append(e)
        _wake(self._waiter)

    def subscribed(self, from_seq: int) -> None:
        self.from_seq = from_seq

    def finish(self, exc: BaseException | None) -> None:
        if not self.ended:
            self.ended = True
            self.end = exc
        _wake(self._waiter)
        _wake(self._space)

    async def wait_space(self) -> None:
        if self.full:
            self._space = asyncio.get_running_loop().create_future()
            await self._space

    async def next(self) -> Entry | None:
        entries = self.entries
        while not entries:
            if self.ended:
                if self.end is not None:
                    raise self.end
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        e = entries.popleft()
        if self._space is not None and len(entries) <= self.limit // 2:
            _wake(self._space)
        return e


def _wake(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)


class EngineClient:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        subscription_buffer: int = 10_000,
        max_inbound_bytes: int = DEFAULT_MAX_INBOUND,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._reader = reader
        self._writer = writer
        self._out = Outbox(writer)
        self._decoder = FrameDecoder(max_inbound_bytes)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._subs: dict[int, _Stream] = {}
        self._ids = itertools.count(1)
        self._sub_buffer = subscription_buffer
        self._logon: asyncio.Future[LogonAck] = self._loop.create_future()
        self._fatal: Error | None = None
        self._close_exc: ClientError | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._hb_task: asyncio.Task[None] | None = None
        self.last_recv = self._loop.time()
        self._read_paused = False  # waiting for a subscription consumer: not the server's fault
        # from the LogonAck
        self.user_id = 0
        self.role = ""
        self.last_seq = 0  # last durable seq when we logged on
        self.heartbeat_seconds = 0.0
        self.server_max_frame = 0

    # ------------------------------------------------------------------ connecting

    @classmethod
    def connect(
        cls,
        target: Target,
        api_key: str,
        secret: str,
        *,
        heartbeat_seconds: float = 10.0,
        timeout: float = 10.0,
        subscription_buffer: int = 10_000,
        max_inbound_bytes: int = DEFAULT_MAX_INBOUND,
    ) -> _Connect:
        """Connect and log on. ``target``: ``(host, port)``, ``"tcp://host:port"`` or a Unix
        socket path. Use as ``async with EngineClient.connect(...) as c`` or ``await``."""

        async def open_() -> EngineClient:
            async with asyncio.timeout(timeout):
                reader, writer = await _open(target)
                client = cls(
                    reader,
                    writer,
                    subscription_buffer=subscription_buffer,
                    max_inbound_bytes=max_inbound_bytes,
                )
                try:
                    await client._log_on(api_key, secret, heartbeat_seconds)
                except BaseException:
                    client._shutdown(ConnectionLost("logon did not complete"))
                    raise
                return client

        return _Connect(open_)

    async def _log_on(self, api_key: str, secret: str, heartbeat_seconds: float) -> None:
        self._read_task = asyncio.create_task(self._read_loop(), name="engine-client-reader")
        ts = time.time_ns()
        nonce = secrets.token_hex(16)
        self._out.send(
            encode(
                Logon(
                    PROTOCOL_VERSION,
                    api_key,
                    ts,
                    nonce,
                    sign(api_key, secret, ts, nonce),
                    round(heartbeat_seconds * 1000),
                )
            )
        )
        ack = await self._logon
        self.user_id = ack.user_id
        self.role = ack.role
        self.last_seq = ack.last_seq
        self.heartbeat_seconds = ack.heartbeat_ms / 1000
        self.server_max_frame = ack.max_frame_bytes
        self._hb_task = asyncio.create_task(self._heartbeats(), name="engine-client-heartbeat")

    # ------------------------------------------------------------------ requests

    @property
    def closed(self) -> bool:
        return self._close_exc is not None

    def _send(self, body: bytes) -> None:
        if self._close_exc is not None:
            raise self._close_exc
        if self.server_max_frame and len(body) > self.server_max_frame:
            raise ClientError(f"frame of {len(body)} bytes exceeds the server's limit")
        self._out.send(body)

    def submit_nowait(self, cmd: Command) -> asyncio.Future[Result]:
        """Send a command now; the future resolves with its Result once durable.

        For pipelining without a task per request (load generators, gateways). Raises
        BusyError / ServerError / ConnectionLost through the future.
        """
        rid = next(self._ids)
        self._send(encode(CommandRequest(rid, cmd)))
        fut: asyncio.Future[Result] = self._loop.create_future()
        self._pending[rid] = fut
        return fut

    async def submit(self, cmd: Command) -> Result:
        """Sequence a command; its Result (seq, ts, events) once it is durable."""
        return await self.submit_nowait(cmd)

    async def query_result(self, kind: str, **args: Any) -> QueryResult:
        """A query's answer with the seq its state is as of."""
        rid = next(self._ids)
        self._send(encode(Query(rid, kind, args)))
        fut: asyncio.Future[QueryResult] = self._loop.create_future()
        self._pending[rid] = fut
        return await fut

    async def query(self, kind: str, **args: Any) -> Any:
        """``order``, ``open_orders``, ``balances``, ``depth``, ``symbols`` or ``assets``."""
        return (await self.query_result(kind, **args)).data

    async def subscribe(self, from_seq: int) -> AsyncGenerator[Entry, None]:
        """The durable entries from ``from_seq`` on, in seq order, without gaps or repeats.

        Leaving the loop unsubscribes. After a ConnectionLost, reconnect and subscribe again
        from the last seq seen + 1. A start the server refuses (``SEQ_TOO_OLD``, a from_seq
        beyond the next seq: ``SEQ_IN_FUTURE``, ``FORBIDDEN``) raises ServerError from the
        first iteration; the server acknowledges an accepted one (``Subscribed``) before any
        entry.
        """
        rid = next(self._ids)
        stream = _Stream(self._sub_buffer)
        self._subs[rid] = stream
        self._send(encode(Subscribe(rid, from_seq)))
        try:
            while True:
                entry = await stream.next()
                if entry is None:
                    return
                yield entry
        finally:
            if self._subs.pop(rid, None) is not None and self._close_exc is None:
                self._out.send(encode(Unsubscribe(rid)))
            stream.finish(None)  # a reader waiting for room in this buffer must go on

    async def drain(self) -> None:
        """Wait until the socket takes what was sent (pacing for bulk senders)."""
        self._out.flush()
        await self._writer.drain()

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Log out and close; requests still in flight fail with ConnectionLost."""
        if self._close_exc is None:
            self._out.send(_LOGOUT)
            self._shutdown(ConnectionLost("closed by the client"))
        for task in (self._read_task, self._hb_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _shutdown(self, exc: ClientError) -> None:
        if self._close_exc is not None:
            return
        self._close_exc = exc
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)
        subs, self._subs = self._subs, {}
        for st in subs.values():
            st.finish(exc)
        if not self._logon.done():
            self._logon.set_exception(exc)
        if self._hb_task is not None and self._hb_task is not asyncio.current_task():
            self._hb_task.cancel()
        self._out.close(abort_after=1.0)

    # ------------------------------------------------------------------ background

    async def _read_loop(self) -> None:
        reader, decoder = self._reader, self._decoder
        exc: ClientError
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                self.last_recv = self._loop.time()
                for body in decoder.feed(data):
                    stream = self._dispatch(decode_server(body))
                    if stream is not None:
                        self._read_paused = True
                        await stream.wait_space()
                        self._read_paused = False
                        self.last_recv = self._loop.time()
                if decoder.error is not None:
                    raise ClientError(f"bad frame from the server: {decoder.error}")
            fatal = self._fatal
            if fatal is not None:
                exc = ConnectionLost(f"closed by the server: {fatal.message}", fatal.code)
            else:
                exc = ConnectionLost("closed by the server")
        except ClientError as e:
            exc = e
        except (ConnectionError, OSError) as e:
            exc = ConnectionLost(f"connection lost: {e}")
        except Exception as e:  # an undecodable frame: the stream cannot be trusted
            exc = ConnectionLost(f"protocol error: {type(e).__name__}: {e}")
        self._shutdown(exc)

    def _dispatch(self, msg: Any) -> _Stream | None:
        """Route one message; returns a subscription buffer that is now full."""
        t = type(msg)
        if t is Result or t is QueryResult:
            fut = self._pending.pop(msg.id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif t is Entry:
            stream = self._subs.get(msg.id)
            if stream is not None:
                stream.push(msg)
                if stream.full:
                    return stream
        elif t is Busy:
            fut = self._pending.pop(msg.id, None)
            if fut is not None and not fut.done():
                fut.set_exception(BusyError(msg.id))
        elif t is Error:
            self._on_error(msg)
        elif t is Subscribed:
            stream = self._subs.get(msg.id)
            if stream is not None:
                stream.subscribed(msg.from_seq)
        elif t is Unsubscribed:
            stream = self._subs.pop(msg.id, None)
            if stream is not None:
                stream.finish(None)
        elif t is LogonAck and not self._logon.done():
            self._logon.set_result(msg)
        return None  # Heartbeat, Logout: nothing to do (last_recv is per read)

    def _on_error(self, msg: Error) -> None:
        if msg.fatal:
            self._fatal = msg
        rid = msg.id
        if rid is not None:
            fut = self._pending.pop(rid, None)
            if fut is not None:
                if not fut.done():
                    fut.set_exception(ServerError(msg.code, msg.message, rid, msg.fatal, msg.field))
                return
            stream = self._subs.pop(rid, None)
            if stream is not None:
                stream.finish(ServerError(msg.code, msg.message, rid, msg.fatal))
                return
        if not self._logon.done():
            self._logon.set_exception(LogonError(msg.code, msg.message, rid, msg.fatal))

    async def _heartbeats(self) -> None:
        hb = self.heartbeat_seconds
        while self._close_exc is None:
            await asyncio.sleep(hb / 4)
            now = self._loop.time()
            if now - self.last_recv > 3 * hb and not self._read_paused:
                self._shutdown(ConnectionLost("the server went silent", "HEARTBEAT_TIMEOUT"))
                return
            if now - self._out.last_send >= hb:
                self._out.send(_HEARTBEAT)


class _Connect:
    """``await EngineClient.connect(...)`` or ``async with EngineClient.connect(...) as c``."""

    def __init__(self, open_: Callable[[], Coroutine[Any, Any, EngineClient]]) -> None:
        self._open = open_
        self._client: EngineClient | None = None

    def __await__(self) -> Generator[Any, None, EngineClient]:
        return self._open().__await__()

    async def __aenter__(self) -> EngineClient:
        self._client = await self._open()
        return self._client

    async def __aexit__(
        self,
        et: type[BaseException] | None,
        e: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.close()


async def _open(target: Target) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if isinstance(target, str) and target.startswith("tcp://"):
        host, _, port = target[6:].rpartition(":")
        target = (host.strip("[]"), int(port))
    if isinstance(target, tuple):
        reader, writer = await asyncio.open_connection(target[0], target[1], limit=READ_CHUNK)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer
    return await asyncio.open_unix_connection(os.fspath(target), limit=READ_CHUNK)
