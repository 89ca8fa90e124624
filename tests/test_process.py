"""The engine process as an operator meets it: refusals to start, orphaned snapshot children,
a full disk. Real processes (``python -m trade_engine.cli engine``), loopback only, each bounded
in time.

Every known refusal must be one ERROR line naming the cause and what to do, with its documented
exit code (``process.ExitCode``, ops/runbook-engine.md), and never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.bench import engine_proc
from helpers.disk import fill, tiny_tmpfs
from helpers.journal import flip, record_offsets, segment_files

from trade_engine.client import ClientError, EngineClient
from trade_engine.core.commands import Deposit
from trade_engine.process import ExitCode

CONFIG = """
data_dir: {data}
log_level: INFO
listen: {{tcp_host: 127.0.0.1, tcp_port: {port}}}
sequencer: {{sync: true, snapshot_every_commands: {snapshot_every}, snapshot_every_seconds: 0,
            min_free_mib: {min_free_mib}}}
credentials:
  - {{api_key: {key}, secret: {secret}, role: gateway}}
assets:
  - {{code: BTC, decimals: 8}}
  - {{code: USDT, decimals: 8}}
symbols:
  - {{symbol: BTC-USDT, base: BTC, quote: USDT, tick: "0.01", lot: "0.0001"}}
"""
SETUP_COMMANDS = 3  # the config's two assets and one symbol


def write_config(
    path: Path, data: Path, port: int, *, snapshot_every: int = 0, min_free_mib: int = 0
) -> Path:
    path.write_text(
        CONFIG.format(
            data=data,
            port=port,
            snapshot_every=snapshot_every,
            min_free_mib=min_free_mib,
            key=engine_proc.KEY,
            secret=engine_proc.SECRET,
        )
    )
    return path


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trade_engine.cli", "engine", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )


def refused(*args: str, timeout: float = 60) -> tuple[int, str]:
    """Run an engine that must refuse to start; its exit code and stderr."""
    proc = start(*args)
    try:
        _out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return proc.returncode, err


def assert_one_error_line(err: str, *needles: str) -> str:
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if " ERROR " in line or line.startswith("ERROR")]
    assert len(errors) == 1, err
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


async def connect(port: int, proc: subprocess.Popen[str], timeout: float = 60) -> EngineClient:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"engine exited with {proc.returncode}: {err[-3000:]}")
        try:
            return await EngineClient.connect(
                ("127.0.0.1", port), engine_proc.KEY, engine_proc.SECRET, timeout=5
            )
        except (OSError, ConnectionError, ClientError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


@contextlib.contextmanager
def engine(*args: str) -> Iterator[subprocess.Popen[str]]:
    proc = start(*args)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    return out


def alive(pid: int) -> bool:
    """Running or stopped (a zombie whose parent has not reaped it holds nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def opening_fifo(pid: int) -> bool:
    """Whether ``pid`` is blocked opening a FIFO for writing (no reader yet)."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            if f.read().strip() == "wait_for_partner":
                return True
        with open(f"/proc/{pid}/syscall") as f:
            return os.uname().machine == "x86_64" and f.read().split()[0] == "257"  # openat
    except (OSError, IndexError):
        return False


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# ----------------------------------------------------------------------- item 8: orphans


@pytest.mark.timeout(120)
def test_an_orphaned_snapshot_child_does_not_block_the_restart(tmp_path: Path) -> None:
    """SIGSTOP the snapshot child, SIGKILL the engine: the next engine on the same data
    directory and port starts, and the child does not outlive its parent."""
    data, port = tmp_path / "data", engine_proc.free_port()
    every = 10
    cfg = write_config(tmp_path / "engine.yaml", data, port, snapshot_every=every)
    # the child blocks opening its temp file, a FIFO nobody reads: a snapshot writer stuck on
    # a slow disk, at a known point and for as long as the test wants
    snaps = data / "snapshots"
    snaps.mkdir(parents=True)
    fifo = snaps / f"snapshot-{every:020d}.tmp"
    os.mkfifo(fifo)
    child = 0
    try:
        with engine("--config", str(cfg)) as first:

            async def until_snapshot() -> None:
                c = await connect(port, first)
                try:
                    for i in range(every - SETUP_COMMANDS):  # one at a time: seq `every` exactly
                        await c.submit(Deposit(1, "USDT", 100, f"d{i}"))
                finally:
                    await c.close()

            asyncio.run(asyncio.wait_for(until_snapshot(), 60))
            wait_for(lambda: children(first.pid), 10, "the snapshot child")
            (child,) = children(first.pid)
            # stop it where a slow disk would hold it: in the middle of writing its snapshot
            wait_for(lambda: opening_fifo(child), 10, "the snapshot child to open its file")
            os.kill(child, signal.SIGSTOP)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        fifo.unlink()  # or the next engine's own snapshot would block on it as well
        wait_for(lambda: not alive(child), 10, f"the orphaned snapshot child {child} to end")

        with engine("--config", str(cfg)) as second:

            async def check() -> None:
                c = await connect(port, second, timeout=30)
                try:
                    r = await c.submit(Deposit(1, "USDT", 100, "after"))
                    assert r.seq == every + 1
                finally:
                    await c.close()

            asyncio.run(asyncio.wait_for(check(), 60))
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
    finally:
        if child and alive(child):
            os.kill(child, signal.SIGKILL)


# ----------------------------------------------------------------------- item 12: refusals


@pytest.mark.timeout(120)
def test_a_second_engine_on_the_same_data_dir_names_the_first(tmp_path: Path) -> None:
    data, port = tmp_path / "data", engine_proc.free_port()
    cfg = write_config(tmp_path / "engine.yaml", data, port)
    with engine("--config", str(cfg)) as first:

        async def ready() -> None:
            await (await connect(port, first)).close()

        asyncio.run(ready())
        code, err = refused("--config", str(cfg), "--tcp-port", str(engine_proc.free_port()))
        line = assert_one_error_line(err, f"pid {first.pid}", "trade_engine.cli")
        assert "in use" in line
        assert code == ExitCode.DATA_DIR_IN_USE
        assert first.poll() is None  # the first one is untouched


@pytest.mark.timeout(120)
def test_a_port_in_use_is_one_line_and_its_exit_code(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = write_config(tmp_path / "engine.yaml", tmp_path / "data", port)
        code, err = refused("--config", str(cfg))
    assert_one_error_line(err, f"127.0.0.1:{port}", "in use")
    assert code == ExitCode.ADDRESS_IN_USE
    # and it left the data directory startable (the journal was closed, not abandoned)
    cfg = write_config(tmp_path / "engine.yaml", tmp_path / "data", engine_proc.free_port())
    with engine("--config", str(cfg)) as proc:
        port2 = int(cfg.read_text().split("tcp_port: ")[1].split("}")[0])
        asyncio.run(_ping(port2, proc))


async def _ping(port: int, proc: subprocess.Popen[str]) -> None:
    await (await connect(port, proc)).close()


def test_a_missing_config_file(tmp_path: Path) -> None:
    code, err = refused("--config", str(tmp_path / "nope.yaml"))
    assert_one_error_line(err, "nope.yaml")
    assert code == ExitCode.CONFIG


@pytest.mark.parametrize(
    "text",
    [
        "sequencer: {max_queue: -1}\n",  # out of range
        "sequencer: {no_such_key: 1}\n",  # unknown key
        "listen: [1, 2\n",  # not YAML
    ],
)
def test_an_invalid_config_file(tmp_path: Path, text: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    code, err = refused("--config", str(bad))
    assert_one_error_line(err, "bad.yaml")
    assert code == ExitCode.CONFIG


@pytest.mark.timeout(120)
def test_a_corrupt_journal_is_one_line_naming_file_offset_and_seq(tmp_path: Path) -> None:
    data, port = tmp_path / "data", engine_proc.free_port()
    cfg = write_config(tmp_path / "engine.yaml", data, port)
    with engine("--config", str(cfg)) as proc:

        async def fill() -> None:
            c = await connect(port, proc)
            try:
                for i in range(5):
                    await c.submit(Deposit(1, "USDT", 100, f"d{i}"))
            finally:
                await c.close()

        asyncio.run(fill())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    (seg,) = segment_files(data / "journal")
    seq, off, _size = record_offsets(seg)[2]  # a record in the middle: not a torn tail
    flip(seg, off + 45)
    code, err = refused("--config", str(cfg))
    assert_one_error_line(err, seg.name, f"offset {off}", f"seq {seq}", "journal verify")
    assert code == ExitCode.JOURNAL_DAMAGED


# ----------------------------------------------------------------------- item 11: disk full


@pytest.mark.timeout(120)
def test_a_full_disk_stops_the_engine_with_one_line_and_its_exit_code(tmp_path: Path) -> None:
    port = engine_proc.free_port()
    with tiny_tmpfs(tmp_path / "data", size_mib=2) as data:
        cfg = write_config(tmp_path / "engine.yaml", data, port, min_free_mib=0)
        acked: list[int] = []
        with engine("--config", str(cfg)) as proc:

            async def until_full() -> None:
                c = await connect(port, proc)
                fill(data, leave=96 * 1024)
                try:
                    for i in range(100_000):
                        acked.append((await c.submit(Deposit(1, "USDT", 100, f"d{i}"))).seq)
                except (ClientError, OSError):
                    pass
                finally:
                    with contextlib.suppress(Exception):
                        await c.close()

            asyncio.run(asyncio.wait_for(until_full(), 60))
            code = proc.wait(30)
            err = proc.stderr.read() if proc.stderr else ""
        assert code == ExitCode.DISK_FULL, err[-3000:]
        line = assert_one_error_line(err, "disk full (ENOSPC)", f"nothing after seq {acked[-1]}")
        assert "free space" in line
        assert list(data.rglob("*.tmp")) == []
        # space freed: the next start cuts the partial record and has every acknowledged seq
        (data / "filler").unlink()
        with engine("--config", str(cfg)) as proc:

            async def after() -> None:
                c = await connect(port, proc)
                try:
                    r = await c.submit(Deposit(1, "USDT", 100, "after"))
                    assert r.seq == acked[-1] + 1
                finally:
                    await c.close()

            asyncio.run(asyncio.wait_for(after(), 60))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
