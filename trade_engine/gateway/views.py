"""An order as clients see it, folded from the core's events.

The core reports what happened (accepted, traded, amended, triggered, cancelled, expired,
rejected); clients of every wire want the order's state after each of those steps: its status
in the names exchange APIs use (NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, REJECTED),
cumulative quantity, cumulative quote, fees, and what the last step was. ``OrderBookkeeper``
folds a stream of events into ``OrderUpdate``s: the REST answer, the WebSocket private stream
and the FIX ExecutionReport are each one rendering of them.

Integers throughout (ticks, lots, smallest units); ``gateway.units`` turns them into decimals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from trade_engine.core.enums import OrderStatus, OrderType, Side, TimeInForce
from trade_engine.core.events import (
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderStatusReport,
    Rejected,
    StopTriggered,
    Trade,
)


class Status(StrEnum):
    """Client-facing order status (Binance's names; FIX OrdStatus maps 1:1 onto them)."""

    NEW = "NEW"  # accepted and working, or a stop waiting for its trigger
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


class Step(StrEnum):
    """What the update reports (FIX ExecType; the WebSocket ``executionType``)."""

    NEW = "NEW"
    TRADE = "TRADE"
    REPLACED = "REPLACED"  # amended
    TRIGGERED = "TRIGGERED"  # a stop fired and now works as a market or limit order
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    STATUS = "STATUS"  # a repeated client_order_id: the order's state, nothing happened


_CORE_STATUS = {
    OrderStatus.NEW: Status.NEW,
    OrderStatus.PENDING_TRIGGER: Status.NEW,
    OrderStatus.PARTIALLY_FILLED: Status.PARTIALLY_FILLED,
    OrderStatus.FILLED: Status.FILLED,
    OrderStatus.CANCELLED: Status.CANCELED,
    OrderStatus.EXPIRED: Status.EXPIRED,
}


def client_status(status: OrderStatus) -> Status:
    return _CORE_STATUS[status]


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order's state after a step. ``order_id`` 0: a placement that was rejected."""

    order_id: int
    user_id: int
    symbol: str
    client_order_id: str
    side: Side | None
    order_type: OrderType | None
    tif: TimeInForce | None
    price: int  # ticks; 0 for MARKET / STOP
    stop_price: int
    qty: int  # lots, the total (after amends); 0 for a MARKET BUY by quote amount
    quote_qty: int  # the quote budget of a MARKET BUY by amount
    post_only: bool
    status: Status
    triggered: bool  # a stop that has fired (always True for other types)
    filled: int  # cumulative lots
    remaining: int
    filled_notional: int  # cumulative quote units
    fees: int  # cumulative fee paid by this order's owner, quote units
    created_seq: int
    created_ts: int
    updated_seq: int
    updated_ts: int
    reason: str = ""  # why it ended or was rejected (EndReason / Reason), else ""

    @property
    def is_open(self) -> bool:
        return self.status in (Status.NEW, Status.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: int
    price: int
    qty: int
    notional: int
    fee: int
    maker: bool  # this order was the maker


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    step: Step
    order: OrderView
    fill: Fill | None = None  # with Step.TRADE
    kept_priority: bool | None = None  # with Step.REPLACED


class OrderBookkeeper:
    """Keeps the views of the orders it has seen and folds each command's events into updates.

    A gateway feeds it the ordered event stream (``fold`` per entry); orders it has not seen
    accepted (it joined the stream late) are picked up from their first event that carries
    enough to describe them.
    """

    def __init__(self) -> None:
        self.orders: dict[int, OrderView] = {}

    def get(self, order_id: int) -> OrderView | None:
        return self.orders.get(order_id)

    def fold(self, seq: int, ts: int, events: Iterable[Any]) -> list[OrderUpdate]:
        out: list[OrderUpdate] = []
        for ev in events:
            t = type(ev)
            if t is Trade:
                self._trade(ev, seq, ts, out)
            elif t is OrderAccepted:
                self._accepted(ev, seq, ts, out)
            elif t is OrderCancelled or t is OrderExpired:
                self._ended(ev, seq, ts, out)
            elif t is OrderAmended:
                self._amended(ev, seq, ts, out)
            elif t is StopTriggered:
                self._touch(ev.order_id, Step.TRIGGERED, seq, ts, out, triggered=True)
            elif t is Rejected:
                if ev.command == "PlaceOrder":
                    out.append(OrderUpdate(Step.REJECTED, _rejected_view(ev, seq, ts)))
            elif t is OrderStatusReport:
                self._status_report(ev, seq, ts, out)
        return out

    # ------------------------------------------------------------------ per event

    def _accepted(self, ev: OrderAccepted, seq: int, ts: int, out: list[OrderUpdate]) -> None:
        v = OrderView(
            ev.order_id,
            ev.user_id,
            ev.symbol,
            ev.client_order_id,
            ev.side,
            ev.order_type,
            ev.tif,
            ev.price,
            ev.stop_price,
            ev.qty,
            ev.quote_qty,
            ev.post_only,
            Status.NEW,
            ev.status is not OrderStatus.PENDING_TRIGGER,
            0,
            ev.qty,
            0,
            0,
            seq,
            ts,
            seq,
            ts,
        )
        self.orders[ev.order_id] = v
        out.append(OrderUpdate(Step.NEW, v))

    def _trade(self, ev: Trade, seq: int, ts: int, out: list[OrderUpdate]) -> None:
        for oid, remaining, fee, maker in (
            (ev.maker_order_id, ev.maker_remaining, ev.maker_fee, True),
            (ev.taker_order_id, ev.taker_remaining, ev.taker_fee, False),
        ):
            v = self.orders.get(oid)
            if v is None:
                continue
            filled = v.filled + ev.qty
            v = replace(
                v,
                filled=filled,
                # a MARKET BUY by quote amount learns its size as it fills
                qty=v.qty if v.qty else filled + remaining,
                remaining=remaining,
                filled_notional=v.filled_notional + ev.notional,
                fees=v.fees + fee,
                status=Status.PARTIALLY_FILLED if remaining else Status.FILLED,
                updated_seq=seq,
                updated_ts=ts,
            )
            self.orders[oid] = v
            fill = Fill(ev.trade_id, ev.price, ev.qty, ev.notional, fee, maker)
            out.append(OrderUpdate(Step.TRADE, v, fill))

    def _ended(
        self, ev: OrderCancelled | OrderExpired, seq: int, ts: int, out: list[OrderUpdate]
    ) -> None:
        cancelled = type(ev) is OrderCancelled
        step = Step.CANCELED if cancelled else Step.EXPIRED
        status = Status.CANCELED if cancelled else Status.EXPIRED
        self._touch(
            ev.order_id, step, seq, ts, out, status=status, remaining=0, reason=str(ev.reason)
        )

    def _amended(self, ev: OrderAmended, seq: int, ts: int, out: list[OrderUpdate]) -> None:
        v = self.orders.get(ev.order_id)
        if v is None:
            return
        v = replace(
            v, price=ev.price, qty=ev.qty, remaining=ev.remaining, updated_seq=seq, updated_ts=ts
        )
        self.orders[ev.order_id] = v
        out.append(OrderUpdate(Step.REPLACED, v, kept_priority=ev.kept_priority))

    def _status_report(
        self, ev: OrderStatusReport, seq: int, ts: int, out: list[OrderUpdate]
    ) -> None:
        v = self.orders.get(ev.order_id)
        if v is None:  # not seen accepted: describe it from the report alone
            v = OrderView(
                ev.order_id,
                ev.user_id,
                ev.symbol,
                ev.client_order_id,
                ev.side,
                ev.order_type,
                None,
                ev.price,
                0,
                ev.qty,
                0,
                False,
                client_status(ev.status),
                ev.status is not OrderStatus.PENDING_TRIGGER,
                ev.filled,
                ev.remaining,
                0,
                0,
                0,
                0,
                seq,
                ts,
            )
        out.append(OrderUpdate(Step.STATUS, v))

    def _touch(
        self,
        order_id: int,
        step: Step,
        seq: int,
        ts: int,
        out: list[OrderUpdate],
        **changes: Any,
    ) -> None:
        v = self.orders.get(order_id)
        if v is None:
            return
        v = replace(v, updated_seq=seq, updated_ts=ts, **changes)
        self.orders[order_id] = v
        out.append(OrderUpdate(step, v))


def _rejected_view(ev: Rejected, seq: int, ts: int) -> OrderView:
    return OrderView(
        0,
        ev.user_id,
        ev.symbol,
        ev.client_order_id,
        None,
        None,
        None,
        0,
        0,
        0,
        0,
        False,
        Status.REJECTED,
        False,
        0,
        0,
        0,
        0,
        seq,
        ts,
        seq,
        ts,
        str(ev.reason),
    )
