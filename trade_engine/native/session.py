"""One client connection: logon, requests, subscriptions, heartbeats.

Everything runs on the event loop. A session never blocks the loop and never lets its peer
grow memory: requests are read only while the outbound buffer is below its high-water mark,
each command is one task awaiting durability, and each subscription is one task pumping
journal entries with backpressure. Whatever goes wrong in a session stays in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from trade_engine.gateway.access import CredentialLike, Role, authorize
from trade_engine.gateway.errors import GatewayError
from trade_engine.gateway.port import Busy as SeqBusy
from trade_engine.gateway.port import (
    DiskFull,
    EnginePort,
    InvalidCommand,
    SeqTooOld,
    Stopped,
    aclose_stream,
)
from trade_engine.gateway.queries import run_query
from trade_engine.native.logon import Authenticator, AuthError
from trade_engine.native.options import ServerOptions
from trade_engine.protocol.frames import FrameDecoder
from trade_engine.protocol.messages import (
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    Busy,
    CommandRequest,
    EntryBodies,
    Error,
    ErrorCode,
    Heartbeat,
    Logon,
    LogonAck,
    Logout,
    ProtocolError,
    Query,
    QueryResult,
    Result,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    decode_client,
    encode,
)
from trade_engine.protocol.outbox import Outbox

log = logging.getLogger(__name__)

_HEARTBEAT = encode(Heartbeat())
_LOGOUT = encode(Logout())


@dataclass(frozen=True, slots=True)
class SessionContext:
    """What every session of one server shares."""

    port: EnginePort
    options: ServerOptions
    auth: Authenticator
    entry_bodies: EntryBodies  # encoded stream entries, shared by every subscription


class Session:
    def __init__(
        self, ctx: SessionContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.ctx = ctx
        self.port = ctx.port
        self.opts = ctx.options
        self.reader = reader
        self.loop = asyncio.get_running_loop()
        self.outbox = Outbox(
            writer,
            high_water=self.opts.outbound_high_water,
            limit=self.opts.max_outbound_bytes,
            on_overflow=self._overflow,
        )
        self.decoder = FrameDecoder(self.opts.max_frame_bytes)
        self.peer: Any = writer.get_extra_info("peername") or writer.get_extra_info("sockname")
        self.cred: CredentialLike | None = None
        self.heartbeat = self.opts.heartbeat_seconds
        self.started = self.last_recv = self.loop.time()
        self.subs: dict[int, asyncio.Task[None]] = {}
        self.inflight = 0
        self.queries_waiting = 0  # answers computed, held until their seq is durable
        self.answer_bytes_waiting = 0
        self.errors = 0
        self.closing = False
        self.read_paused = False  # waiting for the peer to drain: its silence is ours
        self._handlers: dict[type, Callable[[Any], None]] = {
            CommandRequest: self._on_command,
            Query: self._on_query,
            Subscribe: self._on_subscribe,
            Unsubscribe: self._on_unsubscribe,
            Heartbeat: self._on_heartbeat,
            Logout: self._on_logout,
            Logon: self._on_logon,
        }

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        timer = asyncio.create_task(self._timer())
        try:
            await self._read_loop()
        except (ConnectionError, OSError) as e:
            # the peer went away: nothing to tell it. The reader keeps this exception, and its
            # traceback holds our frames (and so this session): a cycle; cut it
            e.__traceback__ = None
        finally:
            timer.cancel()
            if self.cred is not None:
                log.info("session %s ended", self.describe())
            self._teardown()

    async def _read_loop(self) -> None:
        reader, decoder, outbox = self.reader, self.decoder, self.outbox
        chunk = self.opts.read_chunk_bytes
        slice_s = self.opts.read_slice_seconds
        while not self.closing:
            data = await reader.read(chunk)
            if not data:
                return
            self.last_recv = started = self.loop.time()
            # one chunk may hold thousands of requests: between two of them, stop when the
            # peer is not taking its answers, and give the loop (other sessions, the
            # sequencer) a turn once this chunk has had its time slice
            for body in decoder.feed(data):
                self._handle(body)
                if self.closing:
                    return
                if outbox.buffered > outbox.high_water:
                    if not await self._wait_drained():
                        return
                    started = self.loop.time()
                elif self.loop.time() - started > slice_s:
                    await asyncio.sleep(0)
                    if self.closing:
                        return
                    started = self.loop.time()
            if decoder.error is not None:
                self.fatal(ErrorCode.FRAME_TOO_LARGE, str(decoder.error))
                return

    async def _wait_drained(self) -> bool:
        """Read no more requests while the peer is not taking our answers."""
        self.read_paused = True
        drained = await self.outbox.wait_writable(self.opts.slow_consumer_seconds)
        self.read_paused = False
        self.last_recv = self.loop.time()
        if not drained:
            self.fatal(ErrorCode.SLOW_CONSUMER, "the peer does not read its answers")
        return drained and not self.closing

    async def _timer(self) -> None:
        """Logon timeout, then heartbeats: send one when idle, drop a silent peer."""
        while not self.closing:
            if self.cred is None:
                await asyncio.sleep(self.opts.logon_timeout_seconds / 4)
                if self.cred is None and self.loop.time() - self.started > (
                    self.opts.logon_timeout_seconds
                ):
                    self.fatal(ErrorCode.LOGON_TIMEOUT, "no Logon in time")
                continue
            hb = self.heartbeat
            await asyncio.sleep(hb / 4)
            now = self.loop.time()
            if now - self.last_recv > 3 * hb and not self.read_paused:
                self.fatal(ErrorCode.HEARTBEAT_TIMEOUT, f"nothing received for {3 * hb:.1f} s")
            elif now - self.outbox.last_send >= hb:
                self.outbox.send(_HEARTBEAT)

    def fatal(self, code: ErrorCode, message: str) -> None:
        """Tell the peer why, then close the session (from any of its tasks)."""
        if self.closing:
            return
        log.info("session %s closed: %s %s", self.describe(), code, message)
        self.outbox.send(encode(Error(code.value, message, fatal=True)))
        self._close()

    def _close(self) -> None:
        self.closing = True
        for task in self.subs.values():
            task.cancel()
        self.subs.clear()
        # the socket closes once the peer took the rest, or is reset if it does not in time;
        # closing the transport also wakes the reader task with EOF
        self.outbox.close(abort_after=self.opts.close_grace_seconds)

    def _teardown(self) -> None:
        """Break every reference cycle through this session, so that reference counting frees
        it (and its buffers) the moment its last task ends: the engine freezes the GC
        generation every second (``process.gc_freezer``), so a cycle would never be collected.
        """
        if not self.closing:
            self._close()
        self._handlers.clear()  # bound methods of self
        self.outbox.release()  # its overflow callback is a bound method of self
        self.decoder.clear()  # up to max_frame_bytes of a partial frame
        self.subs.clear()

    def _overflow(self) -> None:
        self.fatal(ErrorCode.SLOW_CONSUMER, "outbound buffer limit reached")

    def describe(self) -> str:
        who = self.cred.api_key if self.cred else "-"
        return f"{who}@{self.peer}"

    # ------------------------------------------------------------------ dispatch

    def _send_error(self, code: ErrorCode, message: str, request_id: int | None) -> None:
        self.outbox.send(encode(Error(code.value, message, request_id)))

    def _handle(self, body: bytes) -> None:
        try:
            msg = decode_client(body)
        except ProtocolError as e:
            self._content_error(e.code, e.message, e.request_id)
            return
        t = type(msg)
        if self.cred is None and t is not Logon and t is not Heartbeat:
            self._content_error(ErrorCode.NOT_LOGGED_IN, "log on first", getattr(msg, "id", None))
            return
        try:
            self._handlers[t](msg)
        except Exception as e:  # a bug: keep it inside this request
            log.exception("%s from %s failed", t.__name__, self.describe())
            rid = getattr(msg, "id", None)
            self._send_error(ErrorCode.INTERNAL, f"{type(e).__name__}: {e}", rid)

    def _content_error(self, code: ErrorCode, message: str, request_id: int | None) -> None:
        # at most max_errors lines per session, so a hostile peer cannot flood the log
        log.info("session %s: %s %.200s", self.describe(), code, message)
        self.errors += 1
        if self.errors > self.opts.max_errors:
            self.fatal(ErrorCode.TOO_MANY_ERRORS, f"more than {self.opts.max_errors} errors")
            return
        self._send_error(code, message, request_id)

    # ------------------------------------------------------------------ session messages

    def _on_logon(self, msg: Logon) -> None:
        if self.cred is not None:
            self._content_error(ErrorCode.ALREADY_LOGGED_IN, "already logged on", None)
            return
        if msg.version not in SUPPORTED_VERSIONS:
            self.fatal(
                ErrorCode.UNSUPPORTED_VERSION,
                f"protocol version {msg.version} is not supported; "
                f"supported: {sorted(SUPPORTED_VERSIONS)}",
            )
            return
        try:
            cred = self.ctx.auth.verify(msg.api_key, msg.ts, msg.nonce, msg.signature)
        except AuthError as e:
            self.fatal(e.code, e.message)
            return
        self.cred = cred
        opts = self.opts
        if msg.heartbeat_ms > 0:
            self.heartbeat = min(
                max(msg.heartbeat_ms / 1000, opts.min_heartbeat_seconds),
                opts.max_heartbeat_seconds,
            )
        self.last_recv = self.loop.time()
        log.info("session %s logged on as %s user %d", self.describe(), cred.role, cred.user_id)
        self.outbox.send(
            encode(
                LogonAck(
                    PROTOCOL_VERSION,
                    cred.user_id,
                    cred.role,
                    self.port.committed_seq,
                    round(self.heartbeat * 1000),
                    opts.max_frame_bytes,
                )
            )
        )

    def _on_heartbeat(self, msg: Heartbeat) -> None:
        pass  # last_recv is updated per read

    def _on_logout(self, msg: Logout) -> None:
        self.outbox.send(_LOGOUT)
        self._close()

    # ------------------------------------------------------------------ commands

    def _on_command(self, msg: CommandRequest) -> None:
        assert self.cred is not None
        try:
            cmd = authorize(self.cred, msg.command)
        except GatewayError as e:
            self._send_error(ErrorCode(e.kind), e.message, msg.id)
            return
        if self.inflight >= self.opts.max_inflight:
            self.outbox.send(encode(Busy(msg.id)))
            return
        try:
            fut = self.port.submit_nowait(cmd)
        except SeqBusy:
            self.outbox.send(encode(Busy(msg.id)))
            return
        except DiskFull as e:  # (a Stopped that passes: commands are taken again with space)
            self._send_error(ErrorCode.DISK_FULL, str(e), msg.id)
            return
        except Stopped as e:
            self._send_error(ErrorCode.UNAVAILABLE, str(e), msg.id)
            return
        except InvalidCommand as e:  # refused at the door: never sequenced, never journaled
            if e.field:
                self.outbox.send(
                    encode(Error(ErrorCode.INVALID_FIELD, str(e), msg.id, False, e.field))
                )
            else:
                self._send_error(ErrorCode.BAD_COMMAND, str(e), msg.id)
            return
        self.inflight += 1
        fut.add_done_callback(partial(self._command_done, msg.id))

    def _command_done(self, request_id: int, fut: asyncio.Future[Any]) -> None:
        self.inflight -= 1
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is None:
            e = fut.result()
            self.outbox.send(encode(Result(request_id, e.seq, e.ts, e.events)))
        elif isinstance(exc, SeqBusy):
            self.outbox.send(encode(Busy(request_id)))
        elif isinstance(exc, Stopped):
            self._send_error(ErrorCode.UNAVAILABLE, str(exc), request_id)
        else:
            log.error("command %d of %s failed", request_id, self.describe(), exc_info=exc)
            self._send_error(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}", request_id)

    # ------------------------------------------------------------------ queries

    def _on_query(self, msg: Query) -> None:
        assert self.cred is not None
        # the budget of answers not yet written (held for durability, or unread by the peer):
        # beyond it a query is refused before it costs anything
        opts = self.opts
        if (
            self.queries_waiting >= opts.max_queries_waiting
            or self.answer_bytes_waiting + self.outbox.buffered > opts.max_answer_backlog_bytes
        ):
            self.outbox.send(encode(Busy(msg.id)))
            return
        engine = self.port.engine
        try:
            data = run_query(engine, self.cred, msg.kind, msg.args)
        except GatewayError as e:
            self._send_error(ErrorCode(e.kind), e.message, msg.id)
            return
        # the state may include commands whose journal records are not on disk yet:
        # durable before visible, so the answer waits for them
        as_of = engine.seq
        body = encode(QueryResult(msg.id, as_of, data))
        if as_of <= self.port.committed_seq:
            self.outbox.send(body)
            return
        self.queries_waiting += 1
        self.answer_bytes_waiting += len(body)
        self.port.when_durable(as_of).add_done_callback(partial(self._answer, msg.id, body))

    def _answer(self, request_id: int, body: bytes, durable: asyncio.Future[int]) -> None:
        self.queries_waiting -= 1
        self.answer_bytes_waiting -= len(body)
        if durable.cancelled():
            return
        exc = durable.exception()
        if exc is None:
            self.outbox.send(body)
        else:
            self._send_error(ErrorCode.UNAVAILABLE, str(exc), request_id)

    # ------------------------------------------------------------------ subscriptions

    def _on_subscribe(self, msg: Subscribe) -> None:
        assert self.cred is not None
        if self.cred.role == Role.USER:
            self._send_error(
                ErrorCode.FORBIDDEN, "the event stream is for gateways and operators", msg.id
            )
            return
        if msg.id in self.subs:
            self._send_error(ErrorCode.DUPLICATE_ID, "a subscription with this id is open", msg.id)
            return
        if len(self.subs) >= self.opts.max_subscriptions:
            self._send_error(
                ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                f"at most {self.opts.max_subscriptions} per session",
                msg.id,
            )
            return
        if msg.from_seq < 0:
            self._send_error(ErrorCode.INVALID_MESSAGE, "from_seq must be >= 0", msg.id)
            return
        # a start beyond the next seq names entries this engine never committed (a consumer
        # of another engine or of a data directory restored from an older backup): say so
        # instead of waiting silently for seqs that may mean something else when they come
        nxt = self.port.committed_seq + 1
        if msg.from_seq > nxt:
            self._send_error(
                ErrorCode.SEQ_IN_FUTURE,
                f"from_seq {msg.from_seq} is beyond the next seq {nxt}",
                msg.id,
            )
            return
        self.subs[msg.id] = asyncio.create_task(self._pump(msg.id, msg.from_seq))

    def _on_unsubscribe(self, msg: Unsubscribe) -> None:
        task = self.subs.pop(msg.id, None)
        if task is not None:
            task.cancel()  # it is suspended, so no Entry of it can follow Unsubscribed
        self.outbox.send(encode(Unsubscribed(msg.id)))

    async def _pump(self, sub_id: int, from_seq: int) -> None:
        out = self.outbox
        bodies = self.ctx.entry_bodies
        timeout = self.opts.slow_consumer_seconds
        stream = None
        first: asyncio.Future[Any] | None = None
        next_seq = from_seq
        try:
            stream = self.port.subscribe(from_seq)
            # the stream checks its start (SeqTooOld) before its first await: give it one
            # loop step, so a refused start is an Error and an accepted one a Subscribed that
            # comes before any Entry, even when the next entry is far off
            first = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(0)
            if first.done() and first.exception() is not None:
                await first  # raises it
            out.send(encode(Subscribed(sub_id, max(from_seq, 1))))
            next_entry: Any = first
            while True:
                try:
                    entry = await next_entry
                except StopAsyncIteration:
                    break
                if out.closed:
                    return
                if out.buffered > out.high_water and not await out.wait_writable(timeout):
                    self.fatal(
                        ErrorCode.SLOW_CONSUMER,
                        f"subscription {sub_id} not read; resume with from_seq={next_seq}",
                    )
                    return
                out.send(bodies.body(sub_id, entry.seq, entry.ts, entry.command, entry.events))
                next_seq = entry.seq + 1
                next_entry = anext(stream)
            self._end_sub(sub_id, ErrorCode.UNAVAILABLE, "the event stream ended")
        except SeqTooOld as e:
            self._end_sub(sub_id, ErrorCode.SEQ_TOO_OLD, str(e))
        except Stopped as e:
            self._end_sub(sub_id, ErrorCode.UNAVAILABLE, str(e))
        except Exception as e:
            log.exception("subscription %d of %s failed", sub_id, self.describe())
            self._end_sub(sub_id, ErrorCode.INTERNAL, f"{type(e).__name__}: {e}")
        finally:
            if first is not None and not first.done():
                first.cancel()  # an async generator may not be closed while it runs
                with contextlib.suppress(BaseException):
                    await first
            await aclose_stream(stream)

    def _end_sub(self, sub_id: int, code: ErrorCode, message: str) -> None:
        if self.subs.get(sub_id) is asyncio.current_task():
            del self.subs[sub_id]
        self._send_error(code, message, sub_id)
