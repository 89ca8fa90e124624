"""Properties of matching over random flows, checked against the event model
(helpers/flow.py, helpers/model.py): price-time priority, limits and protection prices,
self-trade prevention and stops."""

from __future__ import annotations

from helpers.flow import Flow, props
from helpers.model import Model, check_model
from helpers.strategies import Scenario, scenarios
from hypothesis import given


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
def test_self_trade_prevention_and_stops(scn: Scenario) -> None:
    """No self-trade unless the taker's mode is NONE or the account is exempt; every prevention
    is reported; stops fire in the specified order in the step that moved the price."""
    model = Model()
    flow = Flow(scn, model=model)
    check_model(flow, model, "stp", "stops")
