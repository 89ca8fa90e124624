"""The big-integer ext (type 1): canonical ASCII digits only, bounded, every other ext refused."""

from __future__ import annotations

import msgspec
import pytest

from trade_engine.wire import msgpack_codec
from trade_engine.wire.msgpack_codec import BIGINT_EXT, MAX_BIGINT_CHARS, WireFormatError


def ext(data: bytes, code: int = BIGINT_EXT) -> bytes:
    return msgspec.msgpack.encode({"x": msgspec.msgpack.Ext(code, data)})


@pytest.mark.parametrize("n", [10**20, -(10**20), 2**64, -(2**63) - 1, 10**30, -(2**300)])
def test_big_integers_round_trip(n: int) -> None:
    assert msgpack_codec.decode(msgpack_codec.encode({"x": n})) == {"x": n}


@pytest.mark.parametrize(
    "text",
    [
        b" 1_000 ",  # int() would read 1000
        b"1_000",
        b" 1000",
        b"1000\n",
        b"+1000",
        b"--1",
        b"-",
        b"",
        b"0x10",
        b"1e30",
        b"12.5",
        b"abc",
        "\u0661\u0662".encode(),  # Arabic-Indic digits: int() reads 12
        b"\xff",
        b"1" * (MAX_BIGINT_CHARS + 1),
        b"1" * 5000,  # past int()'s own 4300-digit guard: a ValueError of another kind
    ],
)
def test_anything_but_strict_digits_is_refused(text: bytes) -> None:
    with pytest.raises(WireFormatError):
        msgpack_codec.decode(ext(text))


def test_longest_accepted_and_other_ext_types() -> None:
    n = int("9" * MAX_BIGINT_CHARS)
    assert msgpack_codec.decode(ext(str(n).encode())) == {"x": n}
    assert msgpack_codec.decode(ext(b"-" + b"9" * (MAX_BIGINT_CHARS - 1))) == {
        "x": -int("9" * (MAX_BIGINT_CHARS - 1))
    }
    for code in (0, 2, 5, 127):  # (-1 is msgpack's timestamp, which msgspec reads itself)
        with pytest.raises(WireFormatError, match="ext type"):
            msgpack_codec.decode(ext(b"1", code))


def test_deep_nesting_is_a_wire_error() -> None:
    with pytest.raises(WireFormatError, match="nested"):
        msgpack_codec.decode(b"\x91" * 100_000 + b"\x00")
