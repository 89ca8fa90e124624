"""protocol.frames: length-prefixed framing, split and joined anywhere; the size limit."""

from __future__ import annotations

import struct

from trade_engine.protocol.frames import FrameDecoder, pack


def test_frames_split_and_joined_anywhere() -> None:
    bodies = [b"a", b"", b"x" * 1000, bytes(range(256))]
    stream = b"".join(pack(b) for b in bodies)
    for cut in range(0, len(stream), 7):
        d = FrameDecoder()
        out = d.feed(stream[:cut]) + d.feed(stream[cut:])
        assert out == bodies and d.buffered == 0
    d = FrameDecoder()
    out = [f for i in range(len(stream)) for f in d.feed(stream[i : i + 1])]
    assert out == bodies


def test_oversized_frame_stops_the_decoder_after_the_good_ones() -> None:
    d = FrameDecoder(max_frame=10)
    out = d.feed(pack(b"ok") + struct.pack(">I", 11) + b"z" * 11 + pack(b"never"))
    assert out == [b"ok"]
    assert d.error is not None and d.error.size == 11
    assert d.feed(pack(b"more")) == []
