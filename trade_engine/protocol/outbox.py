"""A coalescing, bounded frame writer over an asyncio stream.

Frames queued during one event-loop iteration leave in one ``transport.write`` (one syscall
for a whole group commit's worth of results instead of one per frame). The bound is on what
the peer has not taken yet: above ``high_water`` producers that can wait (subscription pumps,
the request reader) pause until it drains, and the session cuts off a peer that does not
drain in time. What cannot wait (results of commands already in flight) is bounded by the
session's in-flight limit; ``limit`` is a hard backstop above all that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from trade_engine.protocol.frames import HEADER

_pack_header = HEADER.pack


class Outbox:
    __slots__ = (
        "_loop",
        "_on_overflow",
        "_pending",
        "_pending_bytes",
        "_scheduled",
        "_transport",
        "_writer",
        "closed",
        "high_water",
        "last_send",
        "limit",
    )

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        *,
        high_water: int = 1 << 20,
        limit: int = 0,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self._writer = writer
        self._transport = writer.transport
        self._loop = asyncio.get_running_loop()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._scheduled = False
        self._on_overflow = on_overflow
        self.limit = limit  # 0 = unbounded (the client side)
        self.high_water = high_water
        self._transport.set_write_buffer_limits(high=self.high_water, low=self.high_water // 2)
        self.closed = False
        self.last_send = self._loop.time()

    def send(self, body: bytes) -> None:
        """Queue one frame body; it is written at the end of this loop iteration."""
        if self.closed:
            return
        self._pending.append(_pack_header(len(body)))
        self._pending.append(body)
        self._pending_bytes += 4 + len(body)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    @property
    def buffered(self) -> int:
        """Bytes accepted but not yet taken by the peer (ours + the transport's)."""
        return self._pending_bytes + self._transport.get_write_buffer_size()

    def flush(self) -> None:
        self._scheduled = False
        if self.closed or not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self.last_send = self._loop.time()
        self._transport.write(data)
        over = self.limit and self._transport.get_write_buffer_size() > self.limit
        if over and self._on_overflow is not None:
            self._on_overflow()

    async def wait_writable(self, timeout: float) -> bool:
        """Wait until the peer has taken enough to go below the high-water mark again.

        False if it did not within ``timeout`` seconds (a slow consumer) or the connection
        is gone.
        """
        if self.buffered <= self.high_water:
            return True
        self.flush()
        try:
            async with asyncio.timeout(timeout):
                await self._writer.drain()
        except (TimeoutError, ConnectionError):
            return False
        return not self.closed

    def release(self) -> None:
        """Drop the owner's callback (the owner is going away: no reference cycle back to it)."""
        self._on_overflow = None

    async def wait_closed(self) -> None:
        """Wait until the connection is gone (after ``close``), then cut the reference cycle
        asyncio leaves in it: the selector transport keeps a bound method of itself
        (``_read_ready_cb``, CPython 3.11), which holds it, its socket object and its buffers
        until a full GC collection, and the engine freezes the GC generation instead."""
        with contextlib.suppress(Exception):  # a reset by the peer is not news here
            await self._writer.wait_closed()
        if getattr(self._transport, "_read_ready_cb", None) is not None:
            self._transport._read_ready_cb = None  # type: ignore[attr-defined]

    def close(self, abort_after: float = 0.0) -> None:
        """Write what is queued and close; with ``abort_after`` the socket is reset if the
        peer has not taken it all by then (a stalled reader must not keep us waiting)."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        transport = self._transport
        if abort_after > 0 and transport.get_write_buffer_size():
            self._loop.call_later(abort_after, transport.abort)
        transport.close()
