"""Durable order throughput and ack latency over the binary protocol, open loop.

Starts an engine process (fsync on) on a free loopback port, funds the users, then sends the
seeded core flow (limit orders near mid, 25 % cancels, 5 % market orders) from this separate
process at fixed rates. Sending is open loop: each order has a scheduled send time and its
latency is measured from that time to the arrival of its durable Result, so a stalled engine
shows up as latency instead of being hidden by a slower sender. The fixed rates also print
latency from the moment the generator actually sent (it wakes at most every ~1 ms: epoll
timeouts are whole milliseconds), which separates its own lateness from the engine's time.

    python bench/load_bench.py [--rates 1000,10000] [--seconds 10] [--max-seconds 60]

To tell the engine's share of a latency spike from the disk's, a probe process runs beside the
engine for the whole run (``--no-disk-probe`` to skip): on the same filesystem it writes 6 KB
and fdatasyncs about every millisecond, stamping each with the shared monotonic clock. Each
fixed rate then prints its worst 100 ms windows (by the worst latency of the orders scheduled in
them) next to the slowest probe fdatasync that overlapped each window, and the probe's own
distribution. A window far worse than the disk's stall in it is the engine's (or this
generator's) doing.

Prints one line per rate and one JSON line at the end. Everything runs on 127.0.0.1 and stops
by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from core_bench import iter_flow, setup_commands
from engine_proc import connect, free_port, start_engine, stop_engine, write_config

from trade_engine.client import EngineClient
from trade_engine.client.errors import BusyError
from trade_engine.core.commands import Command, Deposit

_PROBE = """
import os, signal, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # finish, then report
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
block = b"x" * 6144
end = time.monotonic() + seconds
out = []
try:
    while time.monotonic() < end and not stop:
        t0 = time.monotonic()
        os.write(fd, block)
        os.fdatasync(fd)
        t1 = time.monotonic()
        out.append(f"{t0:.6f} {t1 - t0:.6f}")
        time.sleep(max(0.0, 0.001 - (t1 - t0)))
finally:
    os.close(fd)
    os.unlink(path)
sys.stdout.write("\\n".join(out))
"""


def start_disk_probe(directory: Path, seconds: float) -> subprocess.Popen[str]:
    """The raw disk beside the engine: 6 KB + fdatasync about every ms, on the same fs."""
    return subprocess.Popen(
        [sys.executable, "-c", _PROBE, str(directory / "disk-probe.bin"), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )


def read_disk_probe(proc: subprocess.Popen[str]) -> list[tuple[float, float]]:
    """(start on the monotonic clock, fdatasync seconds) per probe write."""
    out, _ = proc.communicate(timeout=600)
    return [(float(a), float(b)) for a, b in (ln.split() for ln in out.splitlines() if ln)]


def worst_windows(
    samples: list[tuple[float, float]], probe: list[tuple[float, float]], n: int = 5
) -> list[dict[str, float]]:
    """The ``n`` 100 ms windows whose orders (by scheduled send time) waited longest, each with
    the slowest probe fdatasync that ran during the window or its orders' wait."""
    windows: dict[int, list[float]] = {}
    for t, lat in samples:
        windows.setdefault(int(t * 10), []).append(lat)
    worst = sorted(windows.items(), key=lambda kv: max(kv[1]), reverse=True)[:n]
    out = []
    for w, lats in sorted(worst, key=lambda kv: -max(kv[1])):
        lo, hi = w / 10, w / 10 + 0.1 + max(lats)
        disk = max((d for t, d in probe if t + d >= lo and t <= hi), default=0.0)
        out.append(
            {
                "at_s": round(lo, 1),
                "orders": len(lats),
                "max_ms": round(max(lats) * 1000, 2),
                "disk_max_ms": round(disk * 1000, 2),
            }
        )
    return out


def pct(sorted_vals: list[float], p: float) -> float:
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * p))]


async def run_rate(
    c: EngineClient, cmds: Iterator[Command], rate: float, seconds: float, window: int
) -> dict[str, float]:
    """Send at ``rate`` per second (inf = as fast as ``window`` outstanding allows)."""
    loop = asyncio.get_running_loop()
    lat: list[float] = []  # from the scheduled send time (open loop: the headline figure)
    # (scheduled send time on the monotonic clock, latency) for the timeline
    timeline: list[tuple[float, float]] = []
    lat_sent: list[float] = []  # from the actual send (without this generator's own lateness)
    busy = 0
    errors = 0
    outstanding = 0
    done_evt = asyncio.Event()

    def finished(t_sched: float, t_sent: float, fut: asyncio.Future[object]) -> None:
        nonlocal busy, errors, outstanding
        outstanding -= 1
        exc = fut.exception() if not fut.cancelled() else None
        if exc is None:
            now = loop.time()
            lat.append(now - t_sched)
            lat_sent.append(now - t_sent)
            timeline.append((t_sched, now - t_sched))
        elif isinstance(exc, BusyError):
            busy += 1
        else:
            errors += 1
        if outstanding == 0:
            done_evt.set()

    start = loop.time()
    total = int(rate * seconds) if rate != float("inf") else None
    sent = 0
    while True:
        now = loop.time()
        if now - start >= seconds or (total is not None and sent >= total):
            break
        due = total if total is None else min(total, int((now - start) * rate) + 1)
        while (due is None or sent < due) and outstanding < window:
            t_sched = now if due is None else start + sent / rate
            fut = c.submit_nowait(next(cmds))
            outstanding += 1
            sent += 1
            fut.add_done_callback(lambda f, t=t_sched, s=now: finished(t, s, f))
            if due is None and sent % 256 == 0:
                break
        await asyncio.sleep(0.0005 if due is not None else 0)
    send_end = loop.time()
    if outstanding:
        done_evt.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done_evt.wait(), 120)
    end = loop.time()
    lat.sort()
    lat_sent.sort()
    return {
        "target_rate": rate if total is not None else -1,
        "sent": sent,
        "acked": len(lat),
        "busy": busy,
        "errors": errors,
        "send_seconds": round(send_end - start, 3),
        "acked_per_s": round(len(lat) / (end - start)),
        "p50_ms": round(pct(lat, 0.5) * 1000, 3),
        "p99_ms": round(pct(lat, 0.99) * 1000, 3),
        "p999_ms": round(pct(lat, 0.999) * 1000, 3),
        "max_ms": round((lat[-1] if lat else float("nan")) * 1000, 3),
        "from_send_p50_ms": round(pct(lat_sent, 0.5) * 1000, 3),
        "from_send_p99_ms": round(pct(lat_sent, 0.99) * 1000, 3),
        "timeline": timeline,  # (dropped before printing the JSON line)
    }


async def bench(args: argparse.Namespace, port: int) -> list[dict[str, Any]]:
    # the load generator must not stall on its own garbage collection (it keeps every
    # latency sample); its pauses would be charged to the engine
    gc.collect()
    gc.freeze()
    gc.disable()
    c = await connect(port)
    try:
        funding = [cmd for cmd in setup_commands() if isinstance(cmd, Deposit)]
        await asyncio.gather(*(c.submit(cmd) for cmd in funding))
        cmds = iter_flow(args.seed)
        results = []
        for rate in args.rates:
            r = await run_rate(c, cmds, rate, args.seconds, window=1_000_000)
            print(
                f"rate {rate:>8,.0f}/s: acked {r['acked_per_s']:>7,}/s  p50 {r['p50_ms']:.2f} ms"
                f"  p99 {r['p99_ms']:.2f} ms  p99.9 {r['p999_ms']:.2f} ms  busy {r['busy']}"
                f"  (from the actual send: p50 {r['from_send_p50_ms']:.2f}"
                f" p99 {r['from_send_p99_ms']:.2f} ms)"
            )
            results.append(r)
        if args.max_seconds > 0:
            r = await run_rate(c, cmds, float("inf"), args.max_seconds, window=args.window)
            print(
                f"max rate ({args.max_seconds:.0f} s, window {args.window}): "
                f"acked {r['acked_per_s']:,}/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms"
                f"  p99.9 {r['p999_ms']:.2f} ms  busy {r['busy']}"
            )
            results.append(r)
        return results
    finally:
        await c.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1000,10000", help="comma-separated orders/s")
    ap.add_argument("--seconds", type=float, default=10.0, help="per fixed rate")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="0 = skip the max-rate run")
    ap.add_argument("--window", type=int, default=5_000, help="outstanding orders at max rate")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--no-fsync", action="store_true")
    ap.add_argument("--no-overlap", action="store_true", help="fsync without applying meanwhile")
    ap.add_argument("--no-disk-probe", action="store_true", help="no raw-disk probe beside it")
    args = ap.parse_args()
    args.rates = [float(x) for x in args.rates.split(",") if x]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        cfg = write_config(
            Path(tmp) / "engine.yaml",
            Path(tmp) / "data",
            port,
            sync=not args.no_fsync,
            overlap=not args.no_overlap,
        )
        engine = start_engine(cfg)
        probe = None
        if not args.no_disk_probe:
            # long enough for every run; it is stopped with the engine
            span = len(args.rates) * args.seconds + args.max_seconds + 60
            probe = start_disk_probe(Path(tmp), span)
        try:
            results = asyncio.run(bench(args, port))
        finally:
            stop_engine(engine)
            if probe is not None:
                probe.terminate()
        disk = read_disk_probe(probe) if probe is not None else []
    report_timeline(results, disk)
    print(
        json.dumps(
            {
                "bench": "load",
                "fsync": not args.no_fsync,
                "overlap_fsync": not args.no_overlap,
                "runs": results,
                "python": platform.python_version(),
            }
        )
    )


def report_timeline(results: list[dict[str, Any]], disk: list[tuple[float, float]]) -> None:
    """Worst windows per fixed rate beside the disk; the probe's distribution; no raw samples
    in the JSON line."""
    for r in results:
        timeline = r.pop("timeline")
        if r["target_rate"] == -1 or not timeline:
            continue
        t0 = timeline[0][0]
        shifted = [(t - t0, lat) for t, lat in timeline]
        probe = [(t - t0, d) for t, d in disk]
        r["worst_windows"] = worst_windows(shifted, probe)
        print(f"rate {r['target_rate']:,.0f}/s, worst 100 ms windows (orders scheduled in them):")
        for w in r["worst_windows"]:
            print(
                f"  at {w['at_s']:5.1f} s  {w['orders']:5d} orders  max {w['max_ms']:8.2f} ms"
                f"  slowest disk fdatasync meanwhile {w['disk_max_ms']:8.2f} ms"
            )
    if disk:
        d = sorted(x for _, x in disk)
        figures = {
            "writes": len(d),
            "p50_ms": round(pct(d, 0.5) * 1000, 3),
            "p99_ms": round(pct(d, 0.99) * 1000, 3),
            "max_ms": round(d[-1] * 1000, 3),
        }
        print(
            f"raw disk beside it (6 KB + fdatasync per ms): {figures['writes']:,} writes"
            f"  p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms"
            f"  max {figures['max_ms']:.2f} ms"
        )
        results.append({"disk_probe": figures})


if __name__ == "__main__":
    main()
