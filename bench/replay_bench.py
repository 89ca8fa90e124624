"""Replay speed and restart-to-ready time.

Builds a data directory the way the engine would (the seeded core flow, applied and journaled
with the real record format, fsync off while building), then measures:

* full replay: recovery from the journal alone (commands/s; best of ``--repeat`` passes, each
  listed: this VM's speed drifts);
* journal open: walking every record (``full_scan_on_open``) against the default start-up check;
* restart with a snapshot: a snapshot at the end, then ``Sequencer.open`` (journal open with
  torn-tail scan + snapshot load + tail replay), wall time to ready;
* the same restart as an operator sees it: ``trade-engine engine`` started on that data
  directory (interpreter start, imports, recovery, GC setup, listening), timed from the spawn
  to the first accepted logon.

    python bench/replay_bench.py [--commands 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from core_bench import flow, setup_commands
from engine_proc import connect, free_port, start_engine, stop_engine, write_config

from trade_engine.core.engine import Engine
from trade_engine.core.state import state_hash
from trade_engine.journal import JournalWriter
from trade_engine.recovery.replay import recover
from trade_engine.recovery.snapshots import write_snapshot
from trade_engine.sequencer import Sequencer
from trade_engine.wire.records import encode_record


def build(data: Path, n: int) -> tuple[Engine, float]:
    engine = Engine()
    cmds = setup_commands() + flow(n, 11)
    t0 = time.perf_counter()
    with JournalWriter(data / "journal", sync=False) as jw:
        for seq, cmd in enumerate(cmds, 1):
            ts = 1_700_000_000_000_000_000 + seq * 1000
            jw.append(seq, ts, encode_record(cmd, engine.apply(seq, ts, cmd)))
            if seq % 10_000 == 0:
                jw.commit()
        jw.commit()
    return engine, time.perf_counter() - t0


def journal_open_s(data: Path, full: bool) -> float:
    """Opening the journal's writer: every record walked (full) or the engine's default check."""
    t0 = time.perf_counter()
    w = JournalWriter(data / "journal", sync=False, full_scan=full, tail_chain=full)
    dt = time.perf_counter() - t0
    w.close()
    return dt


async def reopen(data: Path) -> tuple[float, Sequencer]:
    t0 = time.perf_counter()
    seqr = await Sequencer.open(data, sync=False)
    return time.perf_counter() - t0, seqr


def process_restart(data: Path) -> float:
    port = free_port()
    cfg = write_config(data / "engine.yaml", data, port, sync=False)
    t0 = time.perf_counter()
    proc = start_engine(cfg)
    try:

        async def logon() -> None:
            client = await connect(port, timeout=120)
            await client.close()

        asyncio.run(logon())
        return time.perf_counter() - t0
    finally:
        stop_engine(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    ap.add_argument("--repeat", type=int, default=3, help="full replay passes (best reported)")
    args = ap.parse_args()
    data = args.keep or Path(tempfile.mkdtemp(prefix="replay-bench-"))
    try:
        gc.freeze()
        engine, build_s = build(data, args.commands)
        n = engine.seq
        want = state_hash(engine)
        journal_bytes = sum(p.stat().st_size for p in (data / "journal").iterdir())
        print(f"built {n:,} records ({journal_bytes / 2**20:.0f} MiB) in {build_s:.1f} s")

        del engine
        rates: list[float] = []
        for i in range(max(1, args.repeat)):
            gc.collect()
            gc.disable()
            res = recover(data / "journal", data / "snapshots")
            gc.enable()
            rates.append(res.replayed / res.seconds)
            if i < args.repeat - 1:
                del res
        full_rate = max(rates)
        ok_full = state_hash(res.engine) == want
        print(
            f"full replay     {res.replayed:,} records: {full_rate:,.0f} cmd/s best of {len(rates)}"
            f" ({', '.join(f'{r:,.0f}' for r in rates)}; hash {'ok' if ok_full else 'MISMATCH'})"
        )

        t0 = time.perf_counter()
        write_snapshot(data / "snapshots", res.engine)
        snap_s = time.perf_counter() - t0
        del res
        gc.collect()
        open_full_s, open_tail_s = journal_open_s(data, True), journal_open_s(data, False)
        print(
            f"journal open    {open_full_s:.2f} s walking every record, {open_tail_s:.2f} s with"
            " the engine's start-up check (ADR 0007)"
        )
        ready_s, seqr = asyncio.run(reopen(data))
        ok_snap = state_hash(seqr.engine) == want
        fork_pause = seqr.snapshot_now(fork=True)  # what matching would pause for
        seqr._close()  # (waits for the forked child to finish writing)
        del seqr
        gc.collect()
        proc_s = process_restart(data)
        print(
            f"snapshot write  {snap_s:.2f} s inline; "
            f"forked: matching paused {fork_pause * 1000:.1f} ms"
        )
        print(
            f"restart->ready  {ready_s:.2f} s with a snapshot at seq {n:,} "
            f"(hash {'ok' if ok_snap else 'MISMATCH'})"
        )
        print(f"engine process  {proc_s:.2f} s from spawn to the first accepted logon")
        print(
            json.dumps(
                {
                    "bench": "replay",
                    "records": n,
                    "journal_mib": round(journal_bytes / 2**20, 1),
                    "full_replay_s": round(res_s := full_rate and n / full_rate, 3),
                    "replay_cmd_per_s": round(full_rate),
                    "replay_passes_cmd_per_s": [round(r) for r in rates],
                    "snapshot_write_s": round(snap_s, 3),
                    "snapshot_fork_pause_ms": round(fork_pause * 1000, 2),
                    "journal_open_full_s": round(open_full_s, 3),
                    "journal_open_startup_s": round(open_tail_s, 3),
                    "restart_ready_s": round(ready_s, 3),
                    "process_restart_s": round(proc_s, 3),
                    "hash_ok": ok_full and ok_snap,
                }
            )
        )
        del res_s
    finally:
        if args.keep is None:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
