"""A real sequencer + native server in a process of its own, with the GC tuned as the engine
process tunes it (``process.tune_gc`` + ``gc_freezer``), for tests that measure the server's
memory (/proc/PID/statm) or its latency without the test's own work in the same process.

``python -m helpers.native_server [--levels N]`` prints ``READY <port>`` once serving (with
BTC-USDT set up, users 1 and 2 funded and, with ``--levels``, N resting orders per side at
distinct prices), then serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.native import SYMBOL, harness
from trade_engine.core.commands import PlaceOrder
from trade_engine.core.enums import Side
from trade_engine.process import gc_freezer, tune_gc

PAGE = os.sysconf("SC_PAGE_SIZE")


async def _serve(levels: int) -> None:
    tune_gc()
    freezer = asyncio.create_task(gc_freezer())
    async with harness("real") as h:
        for i in range(levels):
            await h.seqr.submit(
                PlaceOrder(1, SYMBOL, f"b{i}", Side.BUY, qty=1, price=4_000_000 - i)
            )
            await h.seqr.submit(
                PlaceOrder(2, SYMBOL, f"s{i}", Side.SELL, qty=1, price=6_000_000 + i)
            )
        print(f"READY {h.tcp[1]}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    freezer.cancel()


@contextmanager
def server_process(levels: int = 0) -> Iterator[tuple[int, int]]:
    """(pid, port) of a served subprocess; stopped on exit."""
    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers.native_server", "--levels", str(levels)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=tests,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("READY "), line
        yield proc.pid, int(line.split()[1])
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", type=int, default=0)
    asyncio.run(_serve(ap.parse_args().levels))
