"""Durable order throughput and ack latency over the binary protocol, open loop.

Starts an engine process (fsync on) on a free loopback port, funds the users, then sends the
seeded core flow (limit orders near mid, 25 % cancels, 5 % market orders) from this separate
process at fixed rates. Sending is open loop: each order has a scheduled send time and its
latency is measured from that time to the arrival of its durable Result, so a stalled engine
shows up as latency instead of being hidden by a slower sender. The fixed rates also print
latency from the moment the generator actually sent (it wakes at most every ~1 ms: epoll
timeouts are whole milliseconds), which separates its own lateness from the engine's time.

    python bench/load_bench.py [--rates 1000,10000] [--seconds 10] [--max-seconds 60]

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
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from core_bench import iter_flow, setup_commands
from engine_proc import connect, free_port, start_engine, stop_engine, write_config

from trade_engine.client import EngineClient
from trade_engine.client.errors import BusyError
from trade_engine.core.commands import Command, Deposit


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
    }


async def bench(args: argparse.Namespace, port: int) -> list[dict[str, float]]:
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
        try:
            results = asyncio.run(bench(args, port))
        finally:
            stop_engine(engine)
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


if __name__ == "__main__":
    main()
