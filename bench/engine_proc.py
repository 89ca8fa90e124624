"""An engine process for the benchmarks: its config, a free port, start, connect, stop."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from trade_engine.client import EngineClient

KEY, SECRET = "bench-gateway", "bench-gateway-secret"

CONFIG = """
data_dir: {data}
log_level: {log_level}
listen: {{tcp_host: 127.0.0.1, tcp_port: {port}, max_frame_bytes: 4194304}}
sequencer: {{sync: {sync}, max_queue: 100000, snapshot_every_commands: {snapshot_every},
            snapshot_every_seconds: 0, overlap_fsync: {overlap}}}
credentials:
  - {{api_key: {key}, secret: {secret}, role: gateway}}
assets:
  - {{code: BTC, decimals: 8}}
  - {{code: USDT, decimals: 8}}
symbols:
  - {{symbol: BTC-USDT, base: BTC, quote: USDT, tick: "0.01", lot: "0.0001"}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    path: Path,
    data: Path,
    port: int,
    *,
    sync: bool = True,
    overlap: bool = True,
    log_level: str = "WARNING",
    snapshot_every: int = 0,
) -> Path:
    """The engine config for the benchmarks (and the crash test): BTC-USDT on a free port."""
    path.write_text(
        CONFIG.format(
            data=data,
            port=port,
            sync="true" if sync else "false",
            overlap="true" if overlap else "false",
            key=KEY,
            secret=SECRET,
            log_level=log_level,
            snapshot_every=snapshot_every,
        )
    )
    return path


def start_engine(config: Path) -> subprocess.Popen[bytes]:
    """``trade-engine engine`` with this interpreter (so a compiled install is what runs)."""
    return subprocess.Popen(
        [sys.executable, "-m", "trade_engine.cli", "engine", "--config", str(config)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def stop_engine(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


async def connect(port: int, timeout: float = 60.0) -> EngineClient:
    """Log on as the bench gateway, retrying until the engine listens (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await EngineClient.connect(("127.0.0.1", port), KEY, SECRET)
        except (OSError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)
