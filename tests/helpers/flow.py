"""Running random command flows through the core for the property tests
(tests/core/test_properties_*.py, tests/matcher/test_properties_matching.py).

Each test draws a random flow (``helpers.strategies.scenarios``): 1-2 symbols, 2-6 users,
every order type, every self-trade prevention mode, cancels, amends, mass cancels, transfers
(with repeated ids), fee tiers, account flags, symbol status changes, suspensions, time jumps
and retries, with prices clustered near a mid so that orders cross often. ``Flow`` drives the
engine through the shared ``Harness`` and records the resolved command log; ``helpers.model``
rebuilds the market from the events alone and records every disagreement with the spec as a
*violation* of some kind. Each test then asserts one property.

On failure the resolved command log of the (shrunk) flow is printed as a hypothesis note.

Run time is bounded by the profile: ``core-props-ci`` (default) or ``core-props-deep``
(``CORE_PROPS_PROFILE=core-props-deep``) for a longer hunt.

Filters (documented, deliberately narrow):
* "changes nothing" compares ``export_state`` without ``seq`` and ``ts``: those record the
  stamp of the last applied command (every command, even a refused one, advances them).
* when engine time has just passed the 24 h mark of some remembered ``client_order_id``, the
  command may also forget finished orders' client ids (time passing is not the command's
  doing): for such commands the comparison leaves out the client-id memory and the finished
  orders it holds (``comparable``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, note, settings

from helpers.engine import Harness, business_state
from helpers.strategies import (
    BASE,
    HOUR_NS,
    INITIAL,
    AmendRef,
    CancelRef,
    Resend,
    Scenario,
    TimeJump,
)
from trade_engine.core import codec
from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Command,
    Deposit,
)
from trade_engine.core.engine import DAY_NS, Engine
from trade_engine.core.events import Event, OrderAccepted, TransferApplied

if TYPE_CHECKING:
    from helpers.model import Model

settings.register_profile(
    "core-props-ci",
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "core-props-deep",
    max_examples=2_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile(os.environ.get("CORE_PROPS_PROFILE", "core-props-ci"))


def props(**kw: Any) -> settings:
    return settings(PROFILE, **kw)


@dataclass
class Step:
    index: int
    seq: int
    ts: int
    cmd: Command
    events: list[Event]
    op: object  # what the strategy drew (a command, or a reference resolved into ``cmd``)
    coid_expiry_due: bool  # engine time passes the 24 h mark of a remembered client id
    before: dict[str, Any] | None = None  # business state (see ``business_state``)
    after: dict[str, Any] | None = None


def without_coid_memory(d: dict[str, Any], open_ids: set[int]) -> dict[str, Any]:
    d = dict(d)
    d["coids"] = None
    d["orders"] = [row for row in d["orders"] if row[1] in open_ids]
    return d


class Flow:
    """Drive a Harness through a scenario, resolving reference ops; keep the resolved log."""

    def __init__(
        self,
        scn: Scenario,
        *,
        snapshots: bool = False,
        model: Model | None = None,
        on_step: Any = None,
        invariants: bool = False,
    ) -> None:
        self.scn = scn
        self.h = Harness(setup=False)
        self.steps: list[Step] = []
        self.snapshots = snapshots
        self.model = model
        self.on_step = on_step
        self.invariants = invariants
        self._advance = 0
        self._sendable: list[Command] = []  # accepted PlaceOrders, applied transfers
        self._prev_state = business_state(self.h.engine) if snapshots else None
        try:
            self._run()
        except BaseException:
            note(self.describe())
            raise

    # ---- setup + ops
    def _run(self) -> None:
        assets = sorted({"USDT", *(BASE[s] for s in self.scn.symbols)})
        for a in assets:
            self.send(AddAsset(a, 8))
        for spec in self.scn.specs:
            self.send(AddSymbol(spec))
        for u in range(1, self.scn.n_users + 1):
            for a in assets:
                self.send(Deposit(u, a, INITIAL[a], f"init-{u}-{a}"))
        for op in self.scn.ops:
            cmd = self.resolve(op)
            if cmd is not None:
                self.send(cmd, op)

    def resolve(self, op: object) -> Command | None:
        e = self.h.engine
        if isinstance(op, TimeJump):
            self._advance += op.hours * HOUR_NS
            return None
        if isinstance(op, CancelRef | AmendRef):
            live = sorted(e.orders.values(), key=lambda o: o.order_id)
            if not live:
                return None
            o = live[op.pick % len(live)]
            if isinstance(op, CancelRef):
                if op.by_coid:
                    return CancelOrder(o.user_id, o.symbol, client_order_id=o.client_order_id)
                return CancelOrder(o.user_id, o.symbol, order_id=o.order_id)
            return AmendOrder(
                o.user_id,
                o.symbol,
                order_id=o.order_id,
                new_price=o.price + op.dprice if op.dprice else 0,
                new_qty=o.qty + op.dqty if op.dqty else 0,
            )
        if isinstance(op, Resend):
            if not self._sendable:
                return None
            return self._sendable[op.pick % len(self._sendable)]
        assert not isinstance(op, AmendRef | CancelRef | Resend | TimeJump)
        return op  # type: ignore[return-value]

    def send(self, cmd: Command, op: object = None) -> Step:
        h = self.h
        advance = 1_000_000 + self._advance
        self._advance = 0
        q = h.engine.coid_queue
        due = bool(q) and q[0].closed_ts <= max(h.ts + advance, h.engine.ts) - DAY_NS
        events = h.do(cmd, advance_ns=advance)
        step = Step(len(self.steps), h.seq, h.ts, cmd, events, op if op is not None else cmd, due)
        if self.snapshots:
            step.before = self._prev_state
            step.after = self._prev_state = business_state(h.engine)
        self.steps.append(step)
        if any(type(ev) is OrderAccepted for ev in events) or any(
            type(ev) is TransferApplied and not ev.duplicate for ev in events
        ):
            self._sendable.append(cmd)
        if self.on_step is not None:
            self.on_step(self, step)
        if self.model is not None:
            self.model.process(step, h.engine)
        if self.invariants:
            h.check_invariants()
        return step

    # ---- reporting
    def describe(self, upto: int | None = None) -> str:
        lines = [f"users 1..{self.scn.n_users}; specs:"]
        lines += [f"    {s!r}" for s in self.scn.specs]
        lines.append("resolved command log (seq: command -> events):")
        for s in self.steps[:upto]:
            lines.append(f"  {s.seq}: {s.cmd!r}")
            for ev in s.events:
                lines.append(f"        {ev!r}")
        return "\n".join(lines)

    @property
    def log(self) -> list[tuple[int, int, Command]]:
        return [(s.seq, s.ts, s.cmd) for s in self.steps]


def comparable(step: Step, flow: Flow) -> tuple[dict[str, Any], dict[str, Any]]:
    assert step.before is not None and step.after is not None
    if not step.coid_expiry_due:
        return step.before, step.after
    open_ids = set(flow.h.engine.orders)  # only used to drop finished orders' memory
    return without_coid_memory(step.before, open_ids), without_coid_memory(step.after, open_ids)


def replay(
    log: list[tuple[int, int, Command]], engine: Engine | None = None
) -> tuple[Engine, list[list[dict[str, Any]]]]:
    e = engine or Engine()
    out = []
    for seq, ts, cmd in log:
        out.append([codec.to_plain(ev) for ev in e.apply(seq, ts, cmd)])
    return e, out
