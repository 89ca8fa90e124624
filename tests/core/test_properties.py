"""Property-based tests of the deterministic core (docs/core-semantics.md is the spec).

Each test draws a random flow (``strategies.scenarios``): 1-2 symbols, 2-6 users, every order
type, every self-trade prevention mode, cancels, amends, mass cancels, transfers (with
repeated ids), fee tiers, account flags, symbol status changes, suspensions, time jumps and
retries, with prices clustered near a mid so that orders cross often. ``Flow`` drives the
engine through the shared ``Harness`` and records the resolved command log; ``Model``
rebuilds the market from the events alone (queues, stops, fees, last prices) and records
every disagreement with the spec as a *violation* of some kind. Each test then asserts one
property.

On failure the resolved command log of the (shrunk) flow is printed as a hypothesis note.

Run time is bounded by the profile: ``core-props-ci`` (default) or ``core-props-deep``
(``CORE_PROPS_PROFILE=core-props-deep``) for a longer hunt.

Filters (documented, deliberately narrow):
* "changes nothing" compares ``export_state`` without ``seq`` and ``ts``: those record the
  stamp of the last applied command (every command, even a refused one, advances them).
* when engine time has just passed the 24 h mark of some remembered ``client_order_id``, the
  command may also forget finished orders' client ids (time passing is not the command's
  doing): for such commands the comparison leaves out the client-id memory and the finished
  orders it holds.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from helpers.engine import Harness
from helpers.strategies import (
    BASE,
    HOUR_NS,
    INITIAL,
    AmendRef,
    CancelRef,
    Resend,
    Scenario,
    TimeJump,
    scenarios,
)
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from trade_engine.accounts.fees import band_down, band_up
from trade_engine.core import codec
from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
    Withdraw,
)
from trade_engine.core.engine import DAY_NS, Engine
from trade_engine.core.enums import (
    EndReason,
    OrderStatus,
    OrderType,
    Side,
    StpMode,
    SymbolStatus,
    TimeInForce,
)
from trade_engine.core.events import (
    AccountFlagsSet,
    BalanceChanged,
    BookLevelChanged,
    Event,
    FeeTierSet,
    MarketOrderReport,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderStatusReport,
    Rejected,
    SelfTradePrevented,
    StopTriggered,
    SymbolDefined,
    SymbolStatusChanged,
    Trade,
    TransferApplied,
    UserResumed,
    UserSuspended,
)
from trade_engine.core.reasons import Reason
from trade_engine.core.state import export_state, restore_state, state_hash
from trade_engine.core.symbols import SymbolSpec

PPM = 1_000_000
BPS = 10_000
QU = {"BTC-USDT": 100, "ETH-USDT": 1_000}  # quote units per tick x lot
BPL = {"BTC-USDT": 10_000, "ETH-USDT": 100_000}  # base units per lot

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


# ============================================================================ running a flow


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


def business_state(e: Engine) -> dict[str, Any]:
    """``export_state`` without the stamp of the last applied command."""
    d = export_state(e)
    del d["seq"], d["ts"]
    return d


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
        due = bool(q) and q[0].memo_ts <= max(h.ts + advance, h.engine.ts) - DAY_NS
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


# ============================================================================ the event model


@dataclass
class MOrder:
    oid: int
    user: int
    symbol: str
    side: Side
    otype: OrderType
    tif: TimeInForce
    price: int
    qty: int
    stop_price: int
    quote_qty: int
    post_only: bool
    stp: StpMode
    maker_ppm: int
    taker_ppm: int
    band_at_accept: int
    accepted_ts: int
    cmd: PlaceOrder
    remaining: int = 0
    filled: int = 0
    status: OrderStatus = OrderStatus.NEW

    @property
    def is_buy(self) -> bool:
        return self.side is Side.BUY

    @property
    def limit_type(self) -> bool:
        return self.otype is OrderType.LIMIT or self.otype is OrderType.STOP_LIMIT

    @property
    def open(self) -> bool:
        return self.status in (
            OrderStatus.NEW,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_TRIGGER,
        )


@dataclass
class Phase:
    """An order running as taker (from acceptance / trigger / re-queueing amend)."""

    oid: int
    reference: int  # best opposite price in the model when it started
    trades: list[Trade] = field(default_factory=list)
    ended: bool = False
    end_reason: EndReason | None = None
    prevented: int = 0  # SelfTradePrevented events with this order as taker
    report: MarketOrderReport | None = None


class Model:
    """The market rebuilt from events only; disagreements with the spec become violations."""

    def __init__(self) -> None:
        self.specs: dict[str, SymbolSpec] = {}
        self.status: dict[str, SymbolStatus] = {}
        self.tiers: dict[int, tuple[int, int] | None] = {}
        self.exempt: dict[int, bool] = {}
        self.suspended: set[int] = set()
        self.orders: dict[int, MOrder] = {}
        self.coids: dict[tuple[int, str], int] = {}
        self.transfers: dict[str, tuple[str, int, str, int]] = {}
        self.queues: dict[tuple[str, Side, int], list[int]] = {}
        self.stops: dict[str, list[int]] = defaultdict(list)
        self.last: dict[str, int] = defaultdict(int)
        self.violations: list[tuple[str, str]] = []
        self.phase: Phase | None = None
        self.step: Step | None = None

    # ---- helpers
    def bad(self, kind: str, msg: str) -> None:
        where = f"seq {self.step.seq} {self.step.cmd!r}" if self.step else "?"
        self.violations.append((kind, f"{msg}  [at {where}]"))

    def of(self, kind: str) -> list[str]:
        return [m for k, m in self.violations if k == kind]

    def best(self, symbol: str, side: Side) -> int:
        prices = [p for (s, sd, p), q in self.queues.items() if s == symbol and sd is side and q]
        if not prices:
            return 0
        return max(prices) if side is Side.BUY else min(prices)

    def dequeue(self, o: MOrder) -> bool:
        key = (o.symbol, o.side, o.price)
        q = self.queues.get(key)
        if q and o.oid in q:
            q.remove(o.oid)
            if not q:
                del self.queues[key]
            return True
        return False

    def expected_stop(self, symbol: str) -> int | None:
        last = self.last[symbol]
        if not last:
            return None
        pend = [self.orders[i] for i in self.stops[symbol]]
        buys = sorted((o.stop_price, o.oid) for o in pend if o.is_buy and o.stop_price <= last)
        if buys:
            return buys[0][1]
        sells = sorted(
            (-o.stop_price, o.oid) for o in pend if not o.is_buy and o.stop_price >= last
        )
        return sells[0][1] if sells else None

    # ---- phases
    def start_phase(self, o: MOrder) -> None:
        opp = Side.SELL if o.is_buy else Side.BUY
        self.phase = Phase(o.oid, self.best(o.symbol, opp))

    def close_phase(self) -> None:
        ph = self.phase
        if ph is None:
            return
        self.phase = None
        o = self.orders[ph.oid]
        got = sum(t.qty for t in ph.trades)
        if o.post_only and ph.trades:
            self.bad("limit", f"post-only order {o.oid} took liquidity")
        if o.tif is TimeInForce.FOK and got and not o.quote_qty and got != o.qty:
            self.bad("limit", f"FOK order {o.oid} filled {got} of {o.qty}")
        market = o.otype in (OrderType.MARKET, OrderType.STOP)
        if market and ph.report is None:
            self.bad("market", f"no MarketOrderReport for market order {o.oid}")
        # why it ended while running, by kind of order
        if ph.end_reason is not None:
            ok = {EndReason.SELF_TRADE_PREVENTED} if ph.prevented else set()
            if o.tif is TimeInForce.FOK:
                ok = {EndReason.FOK_NOT_FILLABLE}
            elif o.quote_qty:
                ok |= {EndReason.QUOTE_BUDGET_EXHAUSTED, EndReason.NO_LIQUIDITY}
            elif market:
                ok.add(EndReason.NO_LIQUIDITY)
            elif o.tif is TimeInForce.IOC:
                ok.add(EndReason.IOC_REMAINDER)
            if o.post_only and o.otype is OrderType.STOP_LIMIT:
                ok.add(EndReason.POST_ONLY_WOULD_TAKE)
            if ph.end_reason not in ok:
                self.bad("tif", f"{o.otype} {o.tif} order {o.oid} ended {ph.end_reason}")
        # a quote-budget BUY fills what it was sized to, unless its budget cannot buy a lot
        # (or self-trade prevention pushed it deeper)
        if o.quote_qty and not ph.prevented:
            fine = (not ph.ended and got > 0) or (
                ph.end_reason is EndReason.QUOTE_BUDGET_EXHAUSTED and not got
            )
            if not fine:
                self.bad("market", f"quote order {o.oid}: {got} lots, end {ph.end_reason}")
        if o.quote_qty:
            if not ph.ended:
                o.status = OrderStatus.FILLED
            return
        if ph.ended:
            return
        if o.remaining == 0:
            o.status = OrderStatus.FILLED
        elif o.limit_type and o.tif is TimeInForce.GTC:
            self.queues.setdefault((o.symbol, o.side, o.price), []).append(o.oid)
        else:
            self.bad("tif", f"{o.otype} {o.tif} order {o.oid} left open with {o.remaining} lots")
            o.status = OrderStatus.EXPIRED  # keep the model going

    # ---- events
    def process(self, step: Step, engine: Engine) -> None:
        self.step = step
        self.fees_by_asset: dict[str, int] = defaultdict(int)
        self.expected: dict[tuple[int, str], int] = defaultdict(int)
        for ev in step.events:
            getattr(self, "on_" + type(ev).__name__, self.on_other)(ev)
        self.close_phase()
        self.end_of_command(step, engine)

    def on_other(self, ev: Event) -> None:
        pass

    def on_SymbolDefined(self, ev: SymbolDefined) -> None:
        self.specs[ev.spec.symbol] = ev.spec
        if ev.created:
            self.status[ev.spec.symbol] = ev.spec.status

    def on_SymbolStatusChanged(self, ev: SymbolStatusChanged) -> None:
        self.status[ev.symbol] = ev.status

    def on_FeeTierSet(self, ev: FeeTierSet) -> None:
        self.tiers[ev.user_id] = (ev.maker_fee_ppm, ev.taker_fee_ppm) if ev.tier else None

    def on_AccountFlagsSet(self, ev: AccountFlagsSet) -> None:
        self.exempt[ev.user_id] = ev.stp_exempt

    def on_UserSuspended(self, ev: UserSuspended) -> None:
        self.suspended.add(ev.user_id)

    def on_UserResumed(self, ev: UserResumed) -> None:
        self.suspended.discard(ev.user_id)

    def on_TransferApplied(self, ev: TransferApplied) -> None:
        if ev.duplicate:
            return
        self.transfers[ev.transfer_id] = (ev.kind, ev.user_id, ev.asset, ev.amount)
        sign = 1 if ev.kind == "DEPOSIT" else -1
        self.expected[(ev.user_id, ev.asset)] += sign * ev.amount

    def on_OrderAccepted(self, ev: OrderAccepted) -> None:
        assert self.step is not None
        cmd = self.step.cmd
        assert isinstance(cmd, PlaceOrder)
        spec = self.specs[ev.symbol]
        rates = self.tiers.get(ev.user_id) or (spec.maker_fee_ppm, spec.taker_fee_ppm)
        o = MOrder(
            ev.order_id,
            ev.user_id,
            ev.symbol,
            ev.side,
            ev.order_type,
            ev.tif,
            ev.price,
            ev.qty,
            ev.stop_price,
            ev.quote_qty,
            ev.post_only,
            cmd.stp,
            rates[0],
            rates[1],
            spec.market_band_bps,
            self.step.ts,
            cmd,
            remaining=ev.qty,
        )
        self.orders[o.oid] = o
        self.coids[(o.user, cmd.client_order_id)] = o.oid
        if o.otype in (OrderType.STOP, OrderType.STOP_LIMIT):
            o.status = OrderStatus.PENDING_TRIGGER
            self.stops[o.symbol].append(o.oid)
            if self.last[o.symbol] and (
                o.stop_price <= self.last[o.symbol]
                if o.is_buy
                else o.stop_price >= self.last[o.symbol]
            ):
                self.bad("stops", f"stop {o.oid} accepted although it would trigger at once")
        else:
            self.start_phase(o)

    def on_StopTriggered(self, ev: StopTriggered) -> None:
        self.close_phase()
        o = self.orders[ev.order_id]
        want = self.expected_stop(o.symbol)
        if want != o.oid:
            self.bad("stops", f"stop {o.oid} fired; expected {want} (last {self.last[o.symbol]})")
        if ev.last_price != self.last[o.symbol]:
            self.bad("stops", f"StopTriggered.last_price {ev.last_price} != {self.last[o.symbol]}")
        if o.oid in self.stops[o.symbol]:
            self.stops[o.symbol].remove(o.oid)
        o.status = OrderStatus.NEW
        self.start_phase(o)

    def on_OrderAmended(self, ev: OrderAmended) -> None:
        o = self.orders[ev.order_id]
        keep = ev.price == o.price and ev.qty < o.qty
        if ev.kept_priority != keep:
            self.bad(
                "fifo",
                f"amend of {o.oid} ({o.price}x{o.qty} -> {ev.price}x{ev.qty}) "
                f"kept_priority={ev.kept_priority}",
            )
        if ev.remaining != ev.qty - o.filled:
            self.bad("fifo", f"amend of {o.oid}: remaining {ev.remaining} != qty - filled")
        if ev.kept_priority:
            o.qty, o.remaining = ev.qty, ev.remaining
            return
        self.close_phase()
        if not self.dequeue(o):
            self.bad("fifo", f"amended order {o.oid} was not resting in the model")
        o.price, o.qty, o.remaining = ev.price, ev.qty, ev.remaining
        self.start_phase(o)

    def _ended(self, ev: OrderCancelled | OrderExpired, status: OrderStatus) -> None:
        o = self.orders[ev.order_id]
        if not o.open:
            self.bad("book", f"order {o.oid} ended twice")
        self.dequeue(o)
        if o.oid in self.stops[o.symbol]:
            self.stops[o.symbol].remove(o.oid)
        if not o.quote_qty and ev.remaining != o.remaining:
            self.bad("book", f"end of {o.oid}: remaining {ev.remaining} != {o.remaining}")
        o.status = status
        if self.phase is not None and self.phase.oid == o.oid:
            self.phase.ended = True
            self.phase.end_reason = ev.reason

    def on_OrderCancelled(self, ev: OrderCancelled) -> None:
        self._ended(ev, OrderStatus.CANCELLED)

    def on_OrderExpired(self, ev: OrderExpired) -> None:
        self._ended(ev, OrderStatus.EXPIRED)

    def on_SelfTradePrevented(self, ev: SelfTradePrevented) -> None:
        t = self.orders[ev.taker_order_id]
        m = self.orders[ev.maker_order_id]
        if self.phase is not None and self.phase.oid == t.oid:
            self.phase.prevented += 1
        if t.user != m.user or ev.user_id != t.user:
            self.bad("stp", f"SelfTradePrevented between users {t.user} and {m.user}")
        if ev.mode is not t.stp or t.stp is StpMode.NONE or self.exempt.get(t.user):
            self.bad("stp", f"SelfTradePrevented with mode {ev.mode} for taker {t.oid}")

    def on_Trade(self, ev: Trade) -> None:
        t = self.orders[ev.taker_order_id]
        m = self.orders[ev.maker_order_id]
        sym = ev.symbol
        ph = self.phase
        if ph is None or ph.oid != t.oid:
            self.bad("fifo", f"trade {ev.trade_id}: taker {t.oid} is not the order running")
        else:
            ph.trades.append(ev)
        if ev.taker_side is not t.side or m.side is t.side:
            self.bad("fifo", f"trade {ev.trade_id}: sides {t.side}/{m.side}/{ev.taker_side}")
        # ---- price-time priority
        best = self.best(sym, m.side)
        if ev.price != best:
            self.bad("fifo", f"trade {ev.trade_id} at {ev.price}, best {m.side} is {best}")
        q = self.queues.get((sym, m.side, ev.price), [])
        if not q or q[0] != m.oid:
            self.bad("fifo", f"trade {ev.trade_id}: maker {m.oid}, queue at {ev.price} is {q}")
        # ---- prices
        if m.price != ev.price:
            self.bad(
                "limit", f"trade {ev.trade_id} at {ev.price}, maker {m.oid} rests at {m.price}"
            )
        if t.limit_type and (ev.price > t.price if t.is_buy else ev.price < t.price):
            self.bad("limit", f"trade {ev.trade_id} at {ev.price} beyond taker limit {t.price}")
        if ev.notional != ev.price * ev.qty * QU[sym]:
            self.bad("fee", f"trade {ev.trade_id}: notional {ev.notional}")
        # ---- self-trade
        if t.user == m.user and t.stp is not StpMode.NONE and not self.exempt.get(t.user):
            self.bad("stp", f"trade {ev.trade_id}: user {t.user} traded with itself ({t.stp})")
        # ---- fees: rates of each order's user at acceptance
        if ev.maker_fee != ev.notional * m.maker_ppm // PPM:
            self.bad("fee", f"trade {ev.trade_id}: maker fee {ev.maker_fee}, rate {m.maker_ppm}")
        if ev.taker_fee != ev.notional * t.taker_ppm // PPM:
            self.bad("fee", f"trade {ev.trade_id}: taker fee {ev.taker_fee}, rate {t.taker_ppm}")
        # ---- quantities
        if ev.qty <= 0 or ev.qty > m.remaining:
            self.bad("fifo", f"trade {ev.trade_id}: qty {ev.qty}, maker has {m.remaining}")
        m.remaining -= ev.qty
        m.filled += ev.qty
        t.remaining -= ev.qty
        t.filled += ev.qty
        if ev.maker_remaining != m.remaining:
            self.bad("fifo", f"trade {ev.trade_id}: maker_remaining {ev.maker_remaining}")
        if not t.quote_qty and (ev.taker_remaining != t.remaining or t.remaining < 0):
            self.bad("fifo", f"trade {ev.trade_id}: taker_remaining {ev.taker_remaining}")
        m.status = OrderStatus.PARTIALLY_FILLED if m.remaining else OrderStatus.FILLED
        if t.remaining > 0:
            t.status = OrderStatus.PARTIALLY_FILLED
        if not m.remaining:
            self.dequeue(m)
        self.last[sym] = ev.price
        # ---- settlement legs
        quote, base = "USDT", BASE[sym]
        buyer, seller = (t, m) if t.is_buy else (m, t)
        bfee, sfee = (ev.taker_fee, ev.maker_fee) if t.is_buy else (ev.maker_fee, ev.taker_fee)
        self.expected[(buyer.user, quote)] -= ev.notional + bfee
        self.expected[(buyer.user, base)] += ev.qty * BPL[sym]
        self.expected[(seller.user, base)] -= ev.qty * BPL[sym]
        self.expected[(seller.user, quote)] += ev.notional - sfee
        self.expected[(0, quote)] += ev.maker_fee + ev.taker_fee
        self.fees_by_asset[quote] += ev.maker_fee + ev.taker_fee

    def on_MarketOrderReport(self, ev: MarketOrderReport) -> None:
        o = self.orders[ev.order_id]
        ph = self.phase
        if ph is None or ph.oid != o.oid:
            self.bad("market", f"MarketOrderReport for {o.oid} outside its execution")
            return
        ph.report = ev
        trades = ph.trades
        sym = o.symbol
        buy = o.is_buy
        if ev.reference_price != ph.reference:
            self.bad("market", f"{o.oid}: reference {ev.reference_price}, best was {ph.reference}")
        band = band_up if buy else band_down
        # MARKET: from the best opposite price at arrival; a fired STOP: fixed at acceptance
        # from its stop price (it reserved at that price)
        ref = ph.reference if o.otype is OrderType.MARKET else o.stop_price
        want = band(ref, o.band_at_accept)
        if ev.protection_price != want:
            self.bad("market", f"{o.oid}: protection {ev.protection_price}, expected {want}")
        for t in trades:
            if t.price > ev.protection_price if buy else t.price < ev.protection_price:
                self.bad(
                    "limit", f"{o.oid}: fill at {t.price} beyond protection {ev.protection_price}"
                )
        qty = sum(t.qty for t in trades)
        notional = sum(t.notional for t in trades)
        if (ev.filled_qty, ev.filled_notional) != (qty, notional):
            self.bad(
                "market",
                f"{o.oid}: report {ev.filled_qty}/{ev.filled_notional}, trades {qty}/{notional}",
            )
        worst = (max if buy else min)(t.price for t in trades) if trades else 0
        if ev.worst_price != worst:
            self.bad("market", f"{o.oid}: worst_price {ev.worst_price}, trades say {worst}")
        slip = 0
        if qty and ev.reference_price:
            ref = ev.reference_price * qty * QU[sym]
            diff = notional - ref if buy else ref - notional
            slip = max(0, diff) * BPS // ref
        if ev.slippage_bps != slip:
            self.bad("market", f"{o.oid}: slippage {ev.slippage_bps} bps, expected {slip}")
        if o.quote_qty:
            spent = sum(t.notional + t.taker_fee for t in trades)
            if spent > o.quote_qty:
                self.bad("limit", f"{o.oid}: spent {spent} of a {o.quote_qty} quote budget")

    # ---- after each command
    def end_of_command(self, step: Step, e: Engine) -> None:
        # settlement: every balance moves by exactly its trade legs, fees and transfers
        got: dict[tuple[int, str], int] = defaultdict(int)
        for ev in step.events:
            if type(ev) is BalanceChanged:
                got[(ev.user_id, ev.asset)] += ev.delta_available + ev.delta_reserved
        keys = {k for k, v in got.items() if v} | {k for k, v in self.expected.items() if v}
        for k in sorted(keys):
            if got[k] != self.expected[k]:
                self.bad(
                    "fee", f"balance {k} moved {got[k]}, trades+transfers say {self.expected[k]}"
                )
        for asset, total in self.fees_by_asset.items():
            fee_delta = sum(
                ev.delta_available
                for ev in step.events
                if type(ev) is BalanceChanged and ev.user_id == 0 and ev.asset == asset
            )
            if fee_delta != total:
                self.bad("fee", f"fee account got {fee_delta} {asset}, fees sum to {total}")
        # stops: nothing left that the last price fires
        for sym in self.stops:
            nxt = self.expected_stop(sym)
            if nxt is not None:
                self.bad("stops", f"stop {nxt} still pending at last price {self.last[sym]}")
        # the book as the events say == the engine's book, queue order included
        for sym, book in e.books.items():
            for side, bs in ((Side.BUY, book.bids), (Side.SELL, book.asks)):
                engine_q = [(lv.price, [o.order_id for o in lv]) for lv in bs.iter_levels()]
                model_q = sorted(
                    (
                        (p, list(q))
                        for (s, sd, p), q in self.queues.items()
                        if s == sym and sd is side
                    ),
                    reverse=side is Side.BUY,
                )
                if engine_q != model_q:
                    self.bad("fifo", f"{sym} {side} queues: engine {engine_q}, events {model_q}")
            eng_stops = sorted(o.order_id for o in book.stops.orders())
            if eng_stops != sorted(self.stops[sym]):
                self.bad("book", f"{sym} stops: engine {eng_stops}, events {self.stops[sym]}")
        model_open = sorted(o.oid for o in self.orders.values() if o.open)
        if model_open != sorted(e.orders):
            self.bad("book", f"open orders: engine {sorted(e.orders)}, events {model_open}")


def check_model(flow: Flow, model: Model, *kinds: str) -> None:
    found = [m for k, m in model.violations if k in kinds]
    if found:
        note(flow.describe())
        pytest.fail(f"{len(found)} violation(s) of {kinds}:\n" + "\n".join(found[:10]))


# ============================================================================ properties


@props()
@given(scenarios())
def test_invariants_hold_after_every_command(scn: Scenario) -> None:
    """Book never crossed, levels consistent, conservation (fee account included), reserved ==
    what open orders hold, no negative balance: after every single command."""
    Flow(scn, invariants=True)


@props()
@given(scenarios())
def test_price_time_priority_fifo(scn: Scenario) -> None:
    """Every trade takes the head of the best level on the maker side, queues being built in
    acceptance order from events (an amend that loses priority counts from the amend); the
    engine's queues equal that model after every command; kept_priority follows the rule."""
    model = Model()
    flow = Flow(scn, model=model)
    check_model(flow, model, "fifo", "book")


@props()
@given(scenarios())
def test_no_fill_worse_than_the_limit(scn: Scenario) -> None:
    """Trade price within the taker's limit and equal to the maker's price; MARKET and STOP
    fills within the reported protection price; budgets, post-only, IOC and FOK respected (and
    an order that ends while running ends for a reason its kind allows); the
    MarketOrderReport agrees with the trades."""
    model = Model()
    flow = Flow(scn, model=model)
    check_model(flow, model, "limit", "market", "tif")


@props()
@given(scenarios())
def test_fees_use_rates_at_acceptance_and_fee_account_gets_the_sum(scn: Scenario) -> None:
    """fee = notional * rate // 1e6 with the rates of the order's user when it was accepted;
    per command the fee account gains exactly the fees, and every balance moves by exactly
    its trade legs and transfers."""
    model = Model()
    flow = Flow(scn, model=model)
    check_model(flow, model, "fee")


@props()
@given(scenarios())
def test_self_trade_prevention_and_stops(scn: Scenario) -> None:
    """No self-trade unless the taker's mode is NONE or the account is exempt; every prevention
    is reported; stops fire in the specified order in the step that moved the price."""
    model = Model()
    flow = Flow(scn, model=model)
    check_model(flow, model, "stp", "stops")


def _comparable(step: Step, flow: Flow) -> tuple[dict[str, Any], dict[str, Any]]:
    assert step.before is not None and step.after is not None
    if not step.coid_expiry_due:
        return step.before, step.after
    open_ids = set(flow.h.engine.orders)  # only used to drop finished orders' memory
    return without_coid_memory(step.before, open_ids), without_coid_memory(step.after, open_ids)


@props()
@given(scenarios())
def test_rejected_command_changes_nothing(scn: Scenario) -> None:
    """A refused command yields exactly one Rejected event and leaves the state as it was.
    An amend that only lowers the quantity at the same price is never refused for the price
    band or the min notional."""
    model = Model()
    failures: list[str] = []

    def check(flow: Flow, step: Step) -> None:  # runs before the model sees this step
        rej = [ev for ev in step.events if type(ev) is Rejected]
        if not rej:
            return
        c = step.cmd
        if (
            isinstance(c, AmendOrder)
            and rej[0].reason in (Reason.PRICE_OUT_OF_BAND, Reason.NOTIONAL_BELOW_MIN)
            and c.order_id in model.orders
        ):
            o = model.orders[c.order_id]
            if (c.new_price or o.price) == o.price and 0 < c.new_qty < o.qty:
                failures.append(f"seq {step.seq}: risk-reducing {c!r} refused {rej[0].reason}")
        if len(step.events) != 1:
            failures.append(f"seq {step.seq}: {step.cmd!r} -> {step.events!r}")
        if rej[0].command != type(step.cmd).__name__:
            failures.append(f"seq {step.seq}: Rejected.command {rej[0].command!r}")
        before, after = _comparable(step, flow)
        if before != after:
            failures.append(f"seq {step.seq}: {step.cmd!r} -> {rej[0].reason} changed the state")

    flow = Flow(scn, snapshots=True, on_step=check, model=model)
    if failures:
        note(flow.describe())
        pytest.fail("\n".join(failures[:10]))


@props()
@given(scenarios())
def test_idempotent_retries(scn: Scenario) -> None:
    """An accepted PlaceOrder sent again (same params) within its client-id memory changes
    nothing and answers OrderStatusReport(duplicate=True) with the order's state; other params
    are refused DUPLICATE_CLIENT_ORDER_ID. A transfer sent again changes nothing and answers
    TransferApplied(duplicate=True); other params are refused TRANSFER_ID_CONFLICT."""
    model = Model()
    failures: list[str] = []

    def check(flow: Flow, step: Step) -> None:  # runs before the model sees this step
        c = step.cmd
        ev = step.events
        where = f"seq {step.seq}: {c!r} -> {ev!r}"
        before, after = _comparable(step, flow)
        if isinstance(c, PlaceOrder):
            oid = model.coids.get((c.user_id, c.client_order_id))
            if oid is None:
                return
            o = model.orders[oid]
            if not o.open and step.ts - o.accepted_ts >= DAY_NS:
                return  # memory may have lapsed: either answer is fine
            if before != after:
                failures.append(f"retry changed the state: {where}")
            if c != o.cmd:
                if (
                    len(ev) != 1
                    or type(ev[0]) is not Rejected
                    or ev[0].reason
                    not in (
                        Reason.DUPLICATE_CLIENT_ORDER_ID,
                        Reason.UNKNOWN_SYMBOL,
                    )
                ):
                    failures.append(f"reused client id with other params not refused: {where}")
                return
            if len(ev) != 1 or type(ev[0]) is not OrderStatusReport or not ev[0].duplicate:
                failures.append(f"retry not answered by one duplicate report: {where}")
                return
            r = ev[0]
            if r.order_id != oid or r.filled != o.filled:
                failures.append(f"report {r!r} disagrees with order {o!r}")
            if not o.quote_qty and (r.status is not o.status or r.remaining != o.remaining):
                failures.append(f"report {r!r} disagrees with order {o!r}")
        elif isinstance(c, Deposit | Withdraw):
            prior = model.transfers.get(c.transfer_id)
            if prior is None:
                return
            kind = "DEPOSIT" if isinstance(c, Deposit) else "WITHDRAWAL"
            if before != after:
                failures.append(f"transfer retry changed the state: {where}")
            if prior == (kind, c.user_id, c.asset, c.amount):
                if len(ev) != 1 or type(ev[0]) is not TransferApplied or not ev[0].duplicate:
                    failures.append(f"transfer retry not answered as duplicate: {where}")
            elif not (len(ev) == 1 and type(ev[0]) is Rejected):
                failures.append(f"transfer id reuse with other params not refused: {where}")
            elif ev[0].reason not in (
                Reason.TRANSFER_ID_CONFLICT,
                Reason.INVALID_AMOUNT,
                Reason.UNKNOWN_ASSET,
            ):
                failures.append(f"transfer id reuse refused with {ev[0].reason}: {where}")

    flow = Flow(scn, snapshots=True, on_step=check, model=model)
    if failures:
        note(flow.describe())
        pytest.fail("\n".join(failures[:10]))


def _replay(
    log: list[tuple[int, int, Command]], engine: Engine | None = None
) -> tuple[Engine, list[list[dict[str, Any]]]]:
    e = engine or Engine()
    out = []
    for seq, ts, cmd in log:
        out.append([codec.to_plain(ev) for ev in e.apply(seq, ts, cmd)])
    return e, out


@props()
@given(scenarios())
def test_replay_is_deterministic(scn: Scenario) -> None:
    """The same command log on a fresh engine gives the same events and state hash."""
    flow = Flow(scn)
    original = [[codec.to_plain(ev) for ev in s.events] for s in flow.steps]
    e2, replayed = _replay(flow.log)
    for s, a, b in zip(flow.steps, original, replayed, strict=True):
        assert a == b, f"seq {s.seq} {s.cmd!r}: events differ on replay"
    assert state_hash(e2) == state_hash(flow.h.engine)


@props()
@given(scenarios(), st.integers(0, 10_000))
def test_replay_without_events_builds_the_same_state(scn: Scenario, cut: int) -> None:
    """Recovery applies with ``emit=False`` (no hot-path events built): after any prefix of the
    log, and at the end, the state hash equals that of the run that built every event; the
    only events it still returns are rejections, duplicates' reports and admin results."""
    flow = Flow(scn)
    k = cut % (len(flow.steps) + 1)
    quiet = Engine()
    quiet.emit = False
    hot = (OrderAccepted, Trade, BalanceChanged, BookLevelChanged, OrderCancelled, OrderExpired)
    for i, (seq, ts, cmd) in enumerate(flow.log):
        if i == k:
            e1, _ = _replay(flow.log[:k])
            assert state_hash(quiet) == state_hash(e1), f"quiet replay differs after {k} steps"
        events = quiet.apply(seq, ts, cmd)
        assert not [ev for ev in events if isinstance(ev, hot)]
    assert state_hash(quiet) == state_hash(flow.h.engine)


@props()
@given(scenarios(), st.integers(0, 10_000))
def test_restore_mid_flow(scn: Scenario, cut: int) -> None:
    """export_state -> (JSON) -> restore_state at any point, then the rest of the log: same
    events and state hash as the uninterrupted run."""
    flow = Flow(scn)
    k = cut % (len(flow.steps) + 1)
    e1, _ = _replay(flow.log[:k])
    exported = export_state(e1)
    h1 = state_hash(e1)
    restored = restore_state(json.loads(json.dumps(exported)))
    assert state_hash(restored) == h1, "restored engine hashes differently"
    _, rest = _replay(flow.log[k:], restored)
    original = [[codec.to_plain(ev) for ev in s.events] for s in flow.steps[k:]]
    for s, a, b in zip(flow.steps[k:], original, rest, strict=True):
        if a != b:
            note(flow.describe(upto=s.index + 1))
            pytest.fail(
                f"restored at step {k}: seq {s.seq} {s.cmd!r} events differ:\n"
                f"  uninterrupted {a}\n  restored      {b}"
            )
    assert state_hash(restored) == state_hash(flow.h.engine)


@props()
@given(scenarios())
def test_events_reproduce_balances_and_depth(scn: Scenario) -> None:
    """Folding BalanceChanged and BookLevelChanged into dicts reproduces every balance and
    every price level after every command; those events close each command's list."""
    balances: dict[tuple[int, str], tuple[int, int]] = {}
    depth: dict[tuple[str, Side, int], tuple[int, int]] = {}
    failures: list[str] = []

    def check(flow: Flow, step: Step) -> None:
        tail = False
        seen_b: set[tuple[int, str]] = set()
        seen_l: set[tuple[str, Side, int]] = set()
        for ev in step.events:
            if type(ev) is BalanceChanged:
                tail = True
                key = (ev.user_id, ev.asset)
                if key in seen_b:
                    failures.append(f"seq {step.seq}: two BalanceChanged for {key}")
                seen_b.add(key)
                a0, r0 = balances.get(key, (0, 0))
                if (a0 + ev.delta_available, r0 + ev.delta_reserved) != (ev.available, ev.reserved):
                    failures.append(f"seq {step.seq}: {ev!r} does not follow from {(a0, r0)}")
                balances[key] = (ev.available, ev.reserved)
            elif type(ev) is BookLevelChanged:
                tail = True
                lkey = (ev.symbol, ev.side, ev.price)
                if lkey in seen_l:
                    failures.append(f"seq {step.seq}: two BookLevelChanged for {lkey}")
                seen_l.add(lkey)
                if ev.qty:
                    depth[lkey] = (ev.qty, ev.orders)
                else:
                    depth.pop(lkey, None)
                    if ev.orders:
                        failures.append(f"seq {step.seq}: {ev!r} gone with orders left")
            elif tail:
                failures.append(f"seq {step.seq}: {ev!r} after the balance/level events")
        e = flow.h.engine
        actual = {
            (uid, a): (b.available, b.reserved)
            for uid, acct in e.accounts.by_user.items()
            for a, b in acct.balances.items()
            if b.available or b.reserved
        }
        folded = {k: v for k, v in balances.items() if v != (0, 0)}
        if actual != folded:
            diff = {
                k: (actual.get(k), folded.get(k))
                for k in actual.keys() | folded.keys()
                if actual.get(k) != folded.get(k)
            }
            failures.append(f"seq {step.seq}: balances (engine, events) differ: {diff}")
        actual_depth = {
            (sym, side, p): (q, n)
            for sym, book in e.books.items()
            for side, bs in ((Side.BUY, book.bids), (Side.SELL, book.asks))
            for p, q, n in bs.depth()
        }
        if actual_depth != depth:
            failures.append(f"seq {step.seq}: depth engine {actual_depth} events {depth}")

    flow = Flow(scn, on_step=check)
    if failures:
        note(flow.describe())
        pytest.fail("\n".join(failures[:10]))
