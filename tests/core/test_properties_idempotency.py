"""Properties of refusals and retries over random flows (see helpers/flow.py): a refused
command changes nothing; a retried order or transfer is answered from the client-id /
transfer-id memory and changes nothing."""

from __future__ import annotations

import pytest
from helpers.flow import Flow, Step, comparable, props
from helpers.model import Model
from helpers.strategies import Scenario, scenarios
from hypothesis import given, note

from trade_engine.core.commands import AmendOrder, Deposit, PlaceOrder, Withdraw
from trade_engine.core.engine import DAY_NS
from trade_engine.core.events import OrderStatusReport, Rejected, TransferApplied
from trade_engine.core.reasons import Reason


@props()
@given(scenarios())
def test_rejected_command_changes_nothing(scn: Scenario) -> None:
    """A refused command yields exactly one Rejected event and leaves the state as it was.
    An amend that only lowers the quantity at the same price is never refused for the price
    band, the min notional or the symbol's min / max quantity."""
    model = Model()
    failures: list[str] = []

    def check(flow: Flow, step: Step) -> None:  # runs before the model sees this step
        rej = [ev for ev in step.events if type(ev) is Rejected]
        if not rej:
            return
        c = step.cmd
        if (
            isinstance(c, AmendOrder)
            and rej[0].reason
            in (
                Reason.PRICE_OUT_OF_BAND,
                Reason.NOTIONAL_BELOW_MIN,
                Reason.QTY_BELOW_MIN,
                Reason.QTY_ABOVE_MAX,
            )
            and c.order_id in model.orders
        ):
            o = model.orders[c.order_id]
            if (c.new_price or o.price) == o.price and 0 < c.new_qty < o.qty:
                failures.append(f"seq {step.seq}: risk-reducing {c!r} refused {rej[0].reason}")
        if len(step.events) != 1:
            failures.append(f"seq {step.seq}: {step.cmd!r} -> {step.events!r}")
        if rej[0].command != type(step.cmd).__name__:
            failures.append(f"seq {step.seq}: Rejected.command {rej[0].command!r}")
        before, after = comparable(step, flow)
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
    are refused DUPLICATE_CLIENT_ORDER_ID. The memory is exactly: while the order is open and
    for 24 h of engine time after it closed, whatever else happened meanwhile; after that the
    id is free again. A transfer sent again changes nothing and answers
    TransferApplied(duplicate=True); other params are refused TRANSFER_ID_CONFLICT."""
    model = Model()
    failures: list[str] = []

    def check(flow: Flow, step: Step) -> None:  # runs before the model sees this step
        c = step.cmd
        ev = step.events
        where = f"seq {step.seq}: {c!r} -> {ev!r}"
        before, after = comparable(step, flow)
        if isinstance(c, PlaceOrder):
            oid = model.coids.get((c.user_id, c.client_order_id))
            if oid is None:
                return
            o = model.orders[oid]
            if o.closed_ts is not None and step.ts - o.closed_ts >= DAY_NS:
                # forgotten: answered as a new order, never from the memory
                if any(
                    type(x) is OrderStatusReport
                    or (type(x) is Rejected and x.reason is Reason.DUPLICATE_CLIENT_ORDER_ID)
                    for x in ev
                ):
                    failures.append(f"client id remembered 24 h after its order closed: {where}")
                return
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
