"""Test support for the binary protocol: a sequencer + server harness and a raw connection.

pytest-asyncio is not installed: each test is a plain function that calls ``run(coro)``,
which bounds it with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from helpers.fake_sequencer import FakeSequencer
from trade_engine.client import EngineClient
from trade_engine.core.commands import AddAsset, AddSymbol, Deposit
from trade_engine.core.events import Rejected
from trade_engine.core.symbols import SymbolSpec
from trade_engine.gateway.access import Credential
from trade_engine.native import Server, ServerOptions, serve
from trade_engine.protocol.frames import FrameDecoder, pack
from trade_engine.protocol.messages import PROTOCOL_VERSION
from trade_engine.protocol.signing import sign
from trade_engine.wire import msgpack_codec

SYMBOL = "BTC-USDT"
BACKENDS = ["fake", "real"]

CREDENTIALS = {
    "u1": Credential("u1", "secret-u1-xxxx", "user", 1),
    "u2": Credential("u2", "secret-u2-xxxx", "user", 2),
    "gw": Credential("gw", "secret-gw-xxxx", "gateway", 0),
    "op": Credential("op", "secret-op-xxxx", "operator", 0),
}


async def open_sequencer(backend: str, data_dir: Path, **kw: Any) -> Any:
    if backend == "fake":
        return await FakeSequencer.open(data_dir, sync=False, **kw)
    from trade_engine.sequencer import Sequencer

    return await Sequencer.open(data_dir, sync=False, **kw)


@dataclass
class Harness:
    seqr: Any
    server: Server
    run_task: asyncio.Task[None] | None
    sock_dir: str
    clients: list[EngineClient] = field(default_factory=list)

    @property
    def tcp(self) -> tuple[str, int]:
        assert self.server.tcp_address is not None
        return self.server.tcp_address

    @property
    def unix(self) -> str:
        assert self.server.unix_path is not None
        return self.server.unix_path

    async def client(self, key: str = "gw", *, unix: bool = False, **kw: Any) -> EngineClient:
        cred = CREDENTIALS[key]
        c = await EngineClient.connect(
            self.unix if unix else self.tcp, cred.api_key, cred.secret, **kw
        )
        self.clients.append(c)
        return c

    async def raw(self, *, unix: bool = False, rcvbuf: int = 0) -> RawConn:
        if unix:
            r, w = await asyncio.open_unix_connection(self.unix)
        elif rcvbuf:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connecting
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, self.tcp)
            r, w = await asyncio.open_connection(sock=sock)
        else:
            r, w = await asyncio.open_connection(*self.tcp)
        return RawConn(r, w)

    def start(self) -> None:
        if self.run_task is None:
            self.run_task = asyncio.create_task(self.seqr.run())


@contextlib.asynccontextmanager
async def harness(
    backend: str,
    *,
    setup: bool = True,
    start: bool = True,
    max_queue: int = 10_000,
    clock: Callable[[], int] | None = None,
    **options: Any,
) -> AsyncIterator[Harness]:
    """A sequencer (fake or real, fresh data dir) with BTC-USDT set up and users 1 and 2
    funded, served on a free TCP port and a temporary Unix socket."""
    sock_dir = tempfile.mkdtemp(prefix="te-", dir="/tmp")  # short: Unix socket paths are <108
    seqr = await open_sequencer(backend, Path(sock_dir) / "data", max_queue=max_queue)
    h = Harness(seqr, None, None, sock_dir)  # type: ignore[arg-type]
    if start:
        h.start()
    try:
        if setup:
            assert start
            for cmd in setup_commands():
                entry = await seqr.submit(cmd)
                assert not any(isinstance(e, Rejected) for e in entry.events), entry.events
        h.server = await serve(
            seqr,
            tcp=("127.0.0.1", 0),
            unix=f"{sock_dir}/s.sock",
            credentials=CREDENTIALS,
            options=ServerOptions(**options),
            clock=clock,
        )
        yield h
    finally:
        for c in h.clients:
            await c.close()
        if h.server is not None:
            h.server.close()
            await h.server.wait_closed()
        h.start()  # stop() needs the loop running to finish what is queued
        await seqr.stop()
        if h.run_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(h.run_task, 5)
        shutil.rmtree(sock_dir, ignore_errors=True)


def setup_commands() -> list[Any]:
    return [
        AddAsset("BTC", 8, operator="test"),
        AddAsset("USDT", 8, operator="test"),
        AddAsset("ETH", 18, operator="test"),
        AddSymbol(SymbolSpec(SYMBOL, "BTC", "USDT", "0.01", "0.0001"), operator="test"),
        Deposit(1, "USDT", 10**15, "dep-1-usdt"),
        Deposit(1, "BTC", 10**12, "dep-1-btc"),
        Deposit(2, "USDT", 10**15, "dep-2-usdt"),
        Deposit(2, "BTC", 10**12, "dep-2-btc"),
    ]


SETUP_SEQ = len(setup_commands())


class RawConn:
    """A bare socket speaking frames, for what the client library would never send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder(1 << 30)
        self.frames: list[dict[str, Any]] = []

    def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, msg: dict[str, Any]) -> None:
        self.writer.write(pack(msgpack_codec.encode(msg)))

    def logon(
        self,
        key: str = "gw",
        *,
        ts: int | None = None,
        nonce: str | None = None,
        heartbeat_ms: int = 0,
        version: int = PROTOCOL_VERSION,
        secret: str | None = None,
    ) -> None:
        cred = CREDENTIALS[key]
        ts = time.time_ns() if ts is None else ts
        nonce = secrets.token_hex(8) if nonce is None else nonce
        sig = sign(cred.api_key, secret or cred.secret, ts, nonce)
        self.send(
            {
                "type": "Logon",
                "version": version,
                "api_key": cred.api_key,
                "ts": ts,
                "nonce": nonce,
                "signature": sig,
                "heartbeat_ms": heartbeat_ms,
            }
        )

    async def recv(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """The next frame as plain data; None at EOF."""
        async with asyncio.timeout(timeout):
            while not self.frames:
                try:
                    data = await self.reader.read(1 << 16)
                except ConnectionError:
                    return None
                if not data:
                    return None
                self.frames.extend(msgpack_codec.decode(b) for b in self.decoder.feed(data))
        return self.frames.pop(0)

    async def recv_type(self, mtype: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame of this type, skipping heartbeats."""
        while True:
            f = await self.recv(timeout)
            assert f is not None, f"connection closed while waiting for {mtype}"
            if f["type"] == "Heartbeat" and mtype != "Heartbeat":
                continue
            assert f["type"] == mtype, f
            return f

    async def closed(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Read until EOF; the frames received meanwhile."""
        out = []
        while True:
            f = await self.recv(timeout)
            if f is None:
                return out
            out.append(f)

    def close(self) -> None:
        self.writer.close()


def plain(obj: Any) -> Any:
    return msgspec.to_builtins(obj)
