"""Core throughput and latency: the engine in-process, no journal, no I/O.

Seeded flow (issue 2): 1,000 funded users; 25 % cancels, 5 % market orders, the rest limit
orders within 50 ticks of mid of which about one in ten crosses. Balances and fees are on.

    python bench/core_bench.py [--commands 1000000] [--seed 7] [--repeat 3]

Prints commands/s (passes without per-command timing, each on a fresh engine: the best and the
median of ``--repeat``; on a shared VM the spread between passes is large, and the best is the
one least disturbed by neighbours) and per-command latency percentiles (one more pass, timing
each apply), then one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import platform
import random
import sys
import time
from collections.abc import Iterator

from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
)
from trade_engine.core.engine import Engine
from trade_engine.core.enums import OrderType, Side
from trade_engine.core.symbols import SymbolSpec

SYMBOL = "BTC-USDT"
USERS = 1000


def setup_commands() -> list[Command]:
    cmds: list[Command] = [
        AddAsset("BTC", 8),
        AddAsset("USDT", 8),
        AddSymbol(SymbolSpec(SYMBOL, "BTC", "USDT", tick="0.01", lot="0.0001")),
    ]
    for u in range(1, USERS + 1):
        cmds.append(Deposit(u, "BTC", 10**8 * 10**6, f"b{u}"))
        cmds.append(Deposit(u, "USDT", 10**8 * 10**10, f"q{u}"))
    return cmds


def iter_flow(seed: int) -> Iterator[Command]:
    """The seeded command flow, endless (load generators take what they need)."""
    rnd = random.Random(seed)
    mid = 5_000_000  # 50,000.00 in ticks of 0.01
    live: list[tuple[int, str]] = []  # (user, client id) of orders that may still rest
    i = 0
    while True:
        i += 1
        r = rnd.random()
        user = rnd.randint(1, USERS)
        if r < 0.25 and live:
            j = rnd.randrange(len(live))
            live[j], live[-1] = live[-1], live[j]
            u, coid = live.pop()
            yield CancelOrder(u, SYMBOL, client_order_id=coid)
            continue
        side = Side.BUY if rnd.random() < 0.5 else Side.SELL
        coid = f"c{seed}-{i}"
        qty = rnd.randint(1, 100)
        if r < 0.30:
            yield PlaceOrder(user, SYMBOL, coid, side, OrderType.MARKET, qty=qty)
            continue
        if rnd.random() < 0.1:  # crossing
            off = rnd.randint(0, 5)
            price = mid + off if side is Side.BUY else mid - off
        else:
            off = rnd.randint(1, 50)
            price = mid - off if side is Side.BUY else mid + off
        yield PlaceOrder(user, SYMBOL, coid, side, OrderType.LIMIT, qty=qty, price=price)
        live.append((user, coid))
        if rnd.random() < 0.001:
            mid += rnd.choice((-1, 1))


def flow(n: int, seed: int) -> list[Command]:
    return list(itertools.islice(iter_flow(seed), n))


def fresh_engine() -> tuple[Engine, int]:
    e = Engine()
    seq = 0
    for c in setup_commands():
        seq += 1
        e.apply(seq, seq, c)
    return e, seq


def throughput_pass(cmds: list[Command]) -> tuple[Engine, float, int]:
    """Apply ``cmds`` to a fresh engine without per-command timing: (engine, seconds, events)."""
    e, seq = fresh_engine()
    apply = e.apply
    gc.collect()
    gc.disable()  # as the engine process runs (see README: gc tuning)
    t0 = time.perf_counter()
    events = 0
    for c in cmds:
        seq += 1
        events += len(apply(seq, seq * 1000, c))
    dt = time.perf_counter() - t0
    gc.enable()
    return e, dt, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="throughput passes")
    args = ap.parse_args()
    cmds = flow(args.commands, args.seed)

    rates: list[float] = []
    for _ in range(max(1, args.repeat)):
        e, dt, events = throughput_pass(cmds)
        rates.append(len(cmds) / dt)
        if len(rates) < args.repeat:
            del e
    rate = max(rates)
    median = sorted(rates)[len(rates) // 2]

    e2, seq = fresh_engine()
    apply = e2.apply
    lat: list[int] = []
    rec = lat.append
    now = time.perf_counter_ns
    gc.collect()
    gc.disable()
    for c in cmds:
        seq += 1
        t = now()
        apply(seq, seq * 1000, c)
        rec(now() - t)
    gc.enable()
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(len(lat) * p))] / 1000

    book = e.books[SYMBOL]
    result = {
        "bench": "core",
        "commands": len(cmds),
        "seconds": round(len(cmds) / rate, 3),
        "commands_per_s": round(rate),
        "median_commands_per_s": round(median),
        "passes_commands_per_s": [round(r) for r in rates],
        "events": events,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "p999_us": pct(0.999),
        "open_orders": len(e.orders),
        "bid_levels": len(book.bids.levels),
        "ask_levels": len(book.asks.levels),
        "trades": e.next_trade_id - 1,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"commands        {len(cmds):,} per pass")
    print(
        f"throughput      {rate:,.0f} commands/s best of {len(rates)}"
        f" (median {median:,.0f}; passes {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    print(f"latency (us)    p50 {pct(0.5):.2f}  p99 {pct(0.99):.2f}  p99.9 {pct(0.999):.2f}")
    print(f"trades {result['trades']:,}  events {events:,}  open orders {len(e.orders):,}")
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
