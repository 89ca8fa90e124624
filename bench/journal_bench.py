"""Journal benchmark: durable appends per group-commit size, then read/verify/recovery speed.

    python bench/journal_bench.py [--dir DIR] [--seconds 0.5] [--read-records 150000]

Write phases run with fsync on (one fdatasync per commit) for batches of 1, 10 and 100
records of ~100-byte payloads, and report appends/s and commit latency p50/p99/max.
Read phases use a journal written without fsync and read it from a warm page cache. The last
line is one JSON object with all the numbers. Runs in a few seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trade_engine.journal import JournalReader, JournalWriter

PAYLOAD = bytes(range(100))


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, round(p / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


def bench_durable(directory: Path, batch: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    records = 0
    clock = time.perf_counter
    with JournalWriter(directory, sync=True) as w:
        seq = w.last_seq
        started = clock()
        deadline = started + seconds
        while clock() < deadline:
            for _ in range(batch):
                seq += 1
                w.append(seq, seq, PAYLOAD)
            t0 = clock()
            w.commit()
            latencies.append(clock() - t0)
            records += batch
        elapsed = clock() - started
    latencies.sort()
    return {
        "batch": batch,
        "commits": len(latencies),
        "appends_per_s": round(records / elapsed),
        "commit_p50_us": round(percentile(latencies, 50) * 1e6, 1),
        "commit_p99_us": round(percentile(latencies, 99) * 1e6, 1),
        "commit_max_us": round(latencies[-1] * 1e6, 1),
    }


def bench_read(directory: Path, count: int) -> dict[str, float]:
    clock = time.perf_counter
    t0 = clock()
    with JournalWriter(directory, sync=False, segment_size=16 * 1024 * 1024) as w:
        for seq in range(1, count + 1):
            w.append(seq, seq, PAYLOAD)
            if seq % 100 == 0:
                w.commit()
    append_nosync = count / (clock() - t0)

    reader = JournalReader(directory)
    out: dict[str, float] = {"records": count, "append_nosync_per_s": round(append_nosync)}
    for name, chain in (("read_crc_per_s", False), ("read_chain_per_s", True)):
        best = 0.0
        for _ in range(3):  # best of 3: the first pass also warms the page cache
            t0 = clock()
            n = 0
            for _rec in reader.read_from(1, verify_chain=chain):
                n += 1
            best = max(best, n / (clock() - t0))
            assert n == count
        out[name] = round(best)
    t0 = clock()
    tail = list(reader.read_from(count - 999))
    out["read_last_1000_ms"] = round((clock() - t0) * 1e3, 2)
    assert len(tail) == 1000
    stats = reader.verify()
    out["verify_per_s"] = round(stats.records / stats.seconds)
    for name, full in (("open_full_scan_ms", True), ("open_tail_scan_ms", False)):
        with JournalWriter(directory, sync=False, full_scan=full) as w:
            out[name] = round(w.recovery.seconds * 1e3, 1)
    out["segments"] = stats.segments
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="parent directory (default: system temp)")
    parser.add_argument("--seconds", type=float, default=0.5, help="per durable batch size")
    parser.add_argument("--read-records", type=int, default=150_000)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="journal-bench-", dir=args.dir))
    try:
        results: dict[str, Any] = {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "payload_bytes": len(PAYLOAD),
        }
        durable = []
        for batch in (1, 10, 100):
            r = bench_durable(root / f"durable-{batch}", batch, args.seconds)
            durable.append(r)
            print(
                f"fsync on, {batch:>3} records/commit: {r['appends_per_s']:>9,} appends/s  "
                f"commit p50 {r['commit_p50_us']:>7} us  p99 {r['commit_p99_us']:>7} us  "
                f"max {r['commit_max_us']:>8} us  ({r['commits']} commits)"
            )
        results["durable"] = durable

        read = bench_read(root / "read", args.read_records)
        results["read"] = read
        print(f"append without fsync: {read['append_nosync_per_s']:,} records/s")
        print(
            f"read_from(1), CRC checks:   {read['read_crc_per_s']:>9,} records/s\n"
            f"read_from(1), chain checks: {read['read_chain_per_s']:>9,} records/s\n"
            f"verify (CRC + chain):       {read['verify_per_s']:>9,} records/s\n"
            f"read_from(last-999): {read['read_last_1000_ms']} ms; "
            f"open with full scan: {read['open_full_scan_ms']} ms, "
            f"tail scan: {read['open_tail_scan_ms']} ms "
            f"({read['records']:,} records, {read['segments']} segments)"
        )
        print(json.dumps(results, separators=(",", ":")))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
