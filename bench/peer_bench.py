"""Our core against the PyPI peer ``matching-engine==0.1.1``, on the peer's own workload.

    scripts/bench-peer.sh [--commands 1000000] [--seed 42] [--repeat 3] [--breakdown]

Both engines run in one process and one interpreter (``.venv-peer``: the peer needs Python
>= 3.12; our package is installed there as in production, core compiled by mypyc). Run from
``bench/`` or with ``python -P`` so the source tree does not shadow the compiled install; with
``PYTHONPATH=<repo>`` the same script measures our pure (interpreted) source instead.

Workload: ``matching_engine.workload.order_flow(seed, commands)``, one market, 1,000 accounts:
25 % cancels of a random earlier limit order (any age, so many target orders that have filled
or were cancelled already and are rejected as unknown), 5 % market orders (IOC), the rest GTC
limits from 5 ticks through to 50 ticks behind a mid of 100,000 ticks. The list is generated
once. The peer's timed loop calls ``MatchingEngine.process`` with the commands already wrapped
in ``SequencedCommand`` (its sequencer's stamp, built before timing, as our loop is handed
``seq`` and ``ts``).

Translation (not timed), one of our commands per peer command: ``NewOrder`` -> ``PlaceOrder``
with ``client_order_id = str(order_id)`` (the peer's order id is the client's), the same
account, side, qty and price; MARKET orders as MARKET + IOC; ``CancelOrder`` -> our
``CancelOrder`` by that client id. One symbol (tick 0.01, lot 0.0001, the default fees
0.05 % / 0.1 % and 5 % market protection band, which the flow's +-55 ticks never reach). Every
account the flow uses gets a deposit far beyond what its orders can reserve, so nothing is
rejected for balance. Self-trade prevention is the same rule on both sides (the peer's default
CANCEL_TAKER is our default EXPIRE_TAKER: the taker stops at its own resting order and its
remainder ends).

Faithfulness, checked on one untimed pass of each engine: the list of trades (taker, maker,
price, qty, in order) and the number of resting orders at the end must be identical. Rejects
differ by a known amount: a market order that finds the opposite side empty is accepted and
cancelled unfilled by the peer but rejected NO_LIQUIDITY by us (we have no price to reserve
its funds at), so ours = the peer's unknown-order cancels + those market orders; the script
checks that sum.

Timing: best and median of ``--repeat`` passes of each engine, alternated (peer, ours, peer,
ours, ...; a shared VM drifts), each on a fresh engine, ``gc.collect()`` before and the
collector off while timing. ``--breakdown`` adds, in each round, a pass of our engine with
``emit = False`` (the same state changes, no event objects built: what recovery replay runs),
which splits our cost into building events and the rest. Prints every pass, a summary, then
one JSON line. ``--only peer|ours|none`` runs one pass of one engine and nothing else, to count
instructions under ``valgrind --tool=callgrind`` (engine = that count minus the one of none),
which the VM's drifting speed does not disturb.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from matching_engine.domain import CancelOrder as PeerCancel
from matching_engine.domain import NewOrder as PeerNew
from matching_engine.domain import OrderType as PeerType
from matching_engine.domain import SelfTradePrevention as PeerStp
from matching_engine.domain import SequencedCommand
from matching_engine.domain import Side as PeerSide
from matching_engine.domain import TimeInForce as PeerTif
from matching_engine.engine import MatchingEngine
from matching_engine.events import CancelReason as PeerCancelReason
from matching_engine.events import OrderCancelled as PeerCancelled
from matching_engine.events import OrderRejected as PeerRejected
from matching_engine.events import Trade as PeerTrade
from matching_engine.workload import order_flow

import trade_engine.core.engine as core_engine
from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
)
from trade_engine.core.engine import Engine
from trade_engine.core.enums import OrderType, Side, TimeInForce
from trade_engine.core.symbols import SymbolSpec

SYMBOL = "BTC-USDT"
PeerCommand = PeerNew | PeerCancel
TradeKey = tuple[str, str, int, int]  # (taker client id, maker client id, price, qty)


# ------------------------------------------------------------------ workload and translation


def peer_flow(seed: int, n: int) -> list[PeerCommand]:
    flow: list[PeerCommand] = list(order_flow(seed, n))
    for c in flow:  # the translation below maps exactly these shapes
        if type(c) is PeerNew:
            market = c.order_type is PeerType.MARKET
            expected_tif = PeerTif.IOC if market else PeerTif.GTC
            if c.tif is not expected_tif or c.post_only or c.stp is not PeerStp.CANCEL_TAKER:
                raise SystemExit(f"order_flow yielded a shape this bench does not map: {c}")
    return flow


def setup_commands(accounts: list[int]) -> list[Command]:
    cmds: list[Command] = [
        AddAsset("BTC", 8),
        AddAsset("USDT", 8),
        AddSymbol(SymbolSpec(SYMBOL, "BTC", "USDT", tick="0.01", lot="0.0001")),
    ]
    # an order reserves at most 100 lots: 0.01 BTC = 10**6 units, or 100 x 1,000.55 USDT
    # (+ fee) < 10**11 units; these cover 10**8 such orders per account
    for u in accounts:
        cmds.append(Deposit(u, "BTC", 10**14, f"b{u}"))
        cmds.append(Deposit(u, "USDT", 10**19, f"q{u}"))
    return cmds


def translate(flow: list[PeerCommand]) -> list[Command]:
    out: list[Command] = []
    add = out.append
    for c in flow:
        if type(c) is PeerNew:
            side = Side.BUY if c.side is PeerSide.BUY else Side.SELL
            coid = str(c.order_id)
            if c.order_type is PeerType.MARKET:
                add(
                    PlaceOrder(
                        c.account, SYMBOL, coid, side, OrderType.MARKET, c.qty, tif=TimeInForce.IOC
                    )
                )
            else:
                add(PlaceOrder(c.account, SYMBOL, coid, side, OrderType.LIMIT, c.qty, c.price))
        else:
            assert type(c) is PeerCancel
            add(CancelOrder(c.account, SYMBOL, client_order_id=str(c.order_id)))
    return out


# ------------------------------------------------------------------ engines


def fresh_ours(setup: list[Command]) -> tuple[Engine, int]:
    e = Engine()
    seq = 0
    for c in setup:
        seq += 1
        if type(e.apply(seq, seq, c)[0]).__name__ == "Rejected":
            raise SystemExit(f"setup command rejected: {c}")
    return e, seq


def time_peer(stamped: list[SequencedCommand]) -> tuple[float, int, MatchingEngine]:
    eng = MatchingEngine()
    process = eng.process
    events = 0
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    for sc in stamped:
        events += len(process(sc))
    dt = time.perf_counter() - t0
    gc.enable()
    return dt, events, eng


def time_ours(
    setup: list[Command], cmds: list[Command], emit: bool = True
) -> tuple[float, int, Engine]:
    e, seq = fresh_ours(setup)
    e.emit = emit
    apply = e.apply
    events = 0
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    for c in cmds:
        seq += 1
        events += len(apply(seq, seq * 1000, c))
    dt = time.perf_counter() - t0
    gc.enable()
    return dt, events, e


def check_peer(flow: list[PeerCommand], stamped: list[SequencedCommand]) -> dict[str, Any]:
    """One untimed pass: events by kind, rejects by reason, the trades, empty-book markets."""
    eng = MatchingEngine()
    kinds: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    trades: list[TradeKey] = []
    empty_book_markets = 0
    for c, sc in zip(flow, stamped, strict=True):
        evs = eng.process(sc)
        for ev in evs:
            kinds[type(ev).__name__] += 1
            if type(ev) is PeerTrade:
                trades.append((str(ev.taker_order_id), str(ev.maker_order_id), ev.price, ev.qty))
            elif type(ev) is PeerRejected:
                rejects[str(ev.reason)] += 1
        if type(c) is PeerNew and c.order_type is PeerType.MARKET and len(evs) == 2:
            end = evs[1]
            if (
                type(end) is PeerCancelled
                and end.reason is PeerCancelReason.UNFILLED
                and end.remaining == c.qty
            ):
                empty_book_markets += 1
    return {
        "kinds": kinds,
        "rejects": rejects,
        "trades": trades,
        "empty_book_markets": empty_book_markets,
        "open_orders": len(eng.book.orders),
        "trade_count": len(trades),
    }


def check_ours(setup: list[Command], cmds: list[Command]) -> dict[str, Any]:
    e, seq = fresh_ours(setup)
    kinds: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    trades: list[TradeKey] = []
    coid_of: dict[int, str] = {}
    for c in cmds:
        seq += 1
        for ev in e.apply(seq, seq * 1000, c):
            name = type(ev).__name__
            kinds[name] += 1
            if name == "OrderAccepted":
                coid_of[ev.order_id] = ev.client_order_id
            elif name == "Trade":
                trades.append(
                    (coid_of[ev.taker_order_id], coid_of[ev.maker_order_id], ev.price, ev.qty)
                )
            elif name == "Rejected":
                rejects[str(ev.reason)] += 1
    return {
        "kinds": kinds,
        "rejects": rejects,
        "trades": trades,
        "open_orders": len(e.orders),
        "remembered_orders": len(getattr(e, "by_id", ())),
        "trade_count": len(trades),
    }


# ------------------------------------------------------------------ report


def stats(rates: list[float]) -> dict[str, Any]:
    return {
        "commands_per_s": round(max(rates)),
        "median_commands_per_s": round(sorted(rates)[len(rates) // 2]),
        "passes_commands_per_s": [round(r) for r in rates],
    }


def fmt(rates: list[float]) -> str:
    s = stats(rates)
    return (
        f"{s['commands_per_s']:>9,} commands/s best of {len(rates)}"
        f" (median {s['median_commands_per_s']:,}; passes"
        f" {', '.join(f'{r:,.0f}' for r in rates)})"
    )


def kinds_line(kinds: Counter[str], n: int) -> str:
    total = sum(kinds.values())
    parts = ", ".join(f"{k} {v / n:.2f}" for k, v in kinds.most_common())
    return f"{total / n:.2f} events/command ({parts})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes of each engine")
    ap.add_argument("--breakdown", action="store_true", help="also time our engine with emit=False")
    ap.add_argument(
        "--only",
        choices=("peer", "ours", "none"),
        help="build the workload, run one pass of that engine (none: no engine) and exit;"
        " for counting instructions under valgrind, where none is the part to subtract",
    )
    args = ap.parse_args()
    n = args.commands
    compiled = not str(core_engine.__file__).endswith(".py")

    flow = peer_flow(args.seed, n)
    stamped = [SequencedCommand(i, i * 1000, c) for i, c in enumerate(flow, 1)]
    accounts = sorted({c.account for c in flow})
    setup = setup_commands(accounts)
    cmds = translate(flow)
    if args.only:
        if args.only == "peer":
            time_peer(stamped)
        elif args.only == "ours":
            time_ours(setup, cmds)
        else:
            fresh_ours(setup)  # (the setup is not the engine's share either)
        return

    peer = check_peer(flow, stamped)
    ours = check_ours(setup, cmds)
    same_trades = peer["trades"] == ours["trades"]
    peer_rejected = sum(peer["rejects"].values())
    ours_rejected = sum(ours["rejects"].values())
    expected_rejected = peer_rejected + peer["empty_book_markets"]
    print(
        f"workload        matching_engine.workload.order_flow(seed={args.seed}), {n:,} commands,"
        f" {len(accounts):,} accounts"
    )
    print(f"peer            matching-engine {importlib.metadata.version('matching-engine')}")
    print(f"ours            trade-engine core, {'compiled (mypyc)' if compiled else 'pure'}")
    print(
        f"trades          peer {peer['trade_count']:,}  ours {ours['trade_count']:,}"
        f"  ({'identical' if same_trades else 'DIFFERENT'}: taker, maker, price, qty, in order)"
    )
    print(
        f"rejected        peer {peer_rejected:,} {dict(peer['rejects'])}"
        f"  ours {ours_rejected:,} {dict(ours['rejects'])}"
    )
    print(
        f"                ours = peer + {peer['empty_book_markets']:,} market orders that met an"
        f" empty side (peer: accepted, cancelled unfilled): "
        f"{'ok' if ours_rejected == expected_rejected else 'MISMATCH'}"
    )
    print(f"open orders     peer {peer['open_orders']:,}  ours {ours['open_orders']:,}")
    print(f"events peer     {kinds_line(peer['kinds'], n)}")
    print(f"events ours     {kinds_line(ours['kinds'], n)}")
    print(
        f"remembered      ours keeps {ours['remembered_orders']:,} orders (24 h client-id memory)"
    )
    faithful = (
        same_trades
        and ours_rejected == expected_rejected
        and peer["open_orders"] == ours["open_orders"]
    )
    del peer["trades"], ours["trades"]

    peer_rates: list[float] = []
    our_rates: list[float] = []
    quiet_rates: list[float] = []
    passes: list[tuple[str, Callable[[], tuple[float, int, Any]], list[float]]] = [
        ("peer", lambda: time_peer(stamped), peer_rates),
        ("ours", lambda: time_ours(setup, cmds), our_rates),
    ]
    if args.breakdown:
        passes.append(("ours emit=False", lambda: time_ours(setup, cmds, emit=False), quiet_rates))
    for r in range(max(1, args.repeat)):
        for name, run, rates in passes:
            dt, events, eng = run()
            del eng
            rates.append(n / dt)
            print(
                f"pass {r + 1} {name:<16} {n / dt:>9,.0f} commands/s"
                f" ({dt:.2f} s, {events:,} events)"
            )
            sys.stdout.flush()

    ratio_best = max(our_rates) / max(peer_rates)
    p, o = stats(peer_rates), stats(our_rates)
    ratio_median = o["median_commands_per_s"] / p["median_commands_per_s"]
    print(f"peer            {fmt(peer_rates)}")
    print(f"ours            {fmt(our_rates)}")
    if quiet_rates:
        print(f"ours emit=False {fmt(quiet_rates)}")
    print(f"ours / peer     {ratio_best:.2f} best, {ratio_median:.2f} median")
    result: dict[str, Any] = {
        "bench": "peer",
        "peer": f"matching-engine {importlib.metadata.version('matching-engine')}",
        "workload": f"order_flow(seed={args.seed})",
        "commands": n,
        "peer_commands_per_s": p["commands_per_s"],
        "peer_median_commands_per_s": p["median_commands_per_s"],
        "peer_passes_commands_per_s": p["passes_commands_per_s"],
        "ours_commands_per_s": o["commands_per_s"],
        "ours_median_commands_per_s": o["median_commands_per_s"],
        "ours_passes_commands_per_s": o["passes_commands_per_s"],
        "ratio_ours_peer": round(ratio_best, 3),
        "ratio_ours_peer_median": round(ratio_median, 3),
        "ours_build": "compiled" if compiled else "pure",
        "peer_trades": peer["trade_count"],
        "ours_trades": ours["trade_count"],
        "trades_identical": same_trades,
        "peer_rejected": peer_rejected,
        "ours_rejected": ours_rejected,
        "faithful": faithful,
        "peer_events_per_command": round(sum(peer["kinds"].values()) / n, 3),
        "ours_events_per_command": round(sum(ours["kinds"].values()) / n, 3),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if quiet_rates:
        q = stats(quiet_rates)
        result["ours_no_events_commands_per_s"] = q["commands_per_s"]
        result["ours_no_events_passes_commands_per_s"] = q["passes_commands_per_s"]
    print(json.dumps(result))
    sys.stdout.flush()
    if not faithful:
        sys.exit("the translated workload did not behave like the peer's (see above)")


if __name__ == "__main__":
    main()
