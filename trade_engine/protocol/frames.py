"""Framing: a 4-byte big-endian body length, then a msgpack body.

The decoder is sans-I/O (bytes in, bodies out) so the server and the client share it and it
can parse every frame of a read chunk in one pass: a pipelining peer sends many frames per
TCP segment, and one loop iteration per chunk beats two awaits per frame.
"""

from __future__ import annotations

import struct
from typing import Final

HEADER: Final = struct.Struct(">I")
HEADER_SIZE: Final = HEADER.size
DEFAULT_MAX_FRAME: Final = 1 << 20  # 1 MiB of body

_unpack_from = HEADER.unpack_from


def pack(body: bytes) -> bytes:
    """One frame (header + body)."""
    return HEADER.pack(len(body)) + body


class FrameTooLarge(Exception):
    """The peer announced a body longer than the limit: the stream can no longer be trusted."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class FrameDecoder:
    """Accumulates stream bytes and cuts them into frame bodies.

    ``feed`` returns the complete bodies found so far. When a header announces an oversized
    body the decoder stops for good and ``error`` says why; bodies before it are still
    returned so that their answers go out before the session is closed.
    """

    __slots__ = ("_buf", "error", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self.error: FrameTooLarge | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def clear(self) -> None:
        """Drop a partial frame (the connection is gone); frees its memory at once."""
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            return []
        buf = self._buf
        src: bytes | bytearray
        if buf:
            buf += data
            src = buf
        else:
            src = data  # common case: parse straight from the chunk, no copy into the buffer
        out: list[bytes] = []
        n = len(src)
        pos = 0
        limit = self.max_frame
        view = memoryview(src)
        try:
            while n - pos >= HEADER_SIZE:
                (size,) = _unpack_from(src, pos)
                if size > limit:
                    self.error = FrameTooLarge(size, limit)
                    break
                end = pos + HEADER_SIZE + size
                if end > n:
                    break
                out.append(bytes(view[pos + HEADER_SIZE : end]))
                pos = end
        finally:
            view.release()
        if self.error is not None:
            buf.clear()
        elif src is buf:
            del buf[:pos]
        elif pos < n:
            buf += data[pos:]
        return out
