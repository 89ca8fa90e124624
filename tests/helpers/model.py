"""The event model for the property tests: the market (queues, stops, fees, last prices)
rebuilt from the engine's events alone; every disagreement with docs/core-semantics.md is
recorded as a *violation* of some kind, which ``check_model`` turns into a failure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from hypothesis import note

from helpers.strategies import BASE
from trade_engine.accounts.fees import band_down, band_up
from trade_engine.core.commands import PlaceOrder
from trade_engine.core.engine import Engine
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
    Event,
    FeeTierSet,
    MarketOrderReport,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    SelfTradePrevented,
    StopTriggered,
    SymbolDefined,
    SymbolStatusChanged,
    Trade,
    TransferApplied,
    UserResumed,
    UserSuspended,
)
from trade_engine.core.symbols import SymbolSpec

if TYPE_CHECKING:
    from helpers.flow import Flow, Step

PPM = 1_000_000
BPS = 10_000
QU = {"BTC-USDT": 100, "ETH-USDT": 1_000}  # quote units per tick x lot
BPL = {"BTC-USDT": 10_000, "ETH-USDT": 100_000}  # base units per lot


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
    closed_ts: int | None = None  # engine time of the command in which it closed

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
        # the client-id memory keeps an order while open and 24 h after the command that
        # closed it (filled, cancelled or expired)
        for o in self.orders.values():
            if o.closed_ts is None and not o.open:
                o.closed_ts = step.ts
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
