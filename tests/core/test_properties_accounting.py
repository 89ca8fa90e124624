"""Properties of accounting over random flows (see helpers/flow.py): the core invariants and
conservation after every command, fees at the rates of acceptance, and balances and depth
as folded from the events."""

from __future__ import annotations

import pytest
from helpers.flow import Flow, Step, props
from helpers.model import Model, check_model
from helpers.strategies import Scenario, scenarios
from hypothesis import given, note

from trade_engine.core.enums import Side
from trade_engine.core.events import BalanceChanged, BookLevelChanged


@props()
@given(scenarios())
def test_invariants_hold_after_every_command(scn: Scenario) -> None:
    """Book never crossed, levels consistent, conservation (fee account included), reserved ==
    what open orders hold, no negative balance: after every single command."""
    Flow(scn, invariants=True)


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
