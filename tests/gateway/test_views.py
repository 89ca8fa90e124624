"""gateway.views: the client-facing order state folded from events equals the engine's."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
)
from trade_engine.core.engine import Engine
from trade_engine.core.enums import OrderType, Side, TimeInForce
from trade_engine.core.symbols import SymbolSpec
from trade_engine.gateway.views import OrderBookkeeper, Status, Step, client_status

SYMBOL = "BTC-USDT"
SETUP: list[Command] = [
    AddAsset("BTC", 8),
    AddAsset("USDT", 8),
    AddSymbol(SymbolSpec(SYMBOL, "BTC", "USDT", tick="0.01", lot="0.0001")),
    *(Deposit(u, a, 10**20, f"{a}{u}") for u in (1, 2, 3) for a in ("BTC", "USDT")),
]


def flow(seed: int, n: int) -> list[Command]:
    rnd = random.Random(seed)
    out: list[Command] = []
    for i in range(n):
        user = rnd.randint(1, 3)
        r = rnd.random()
        if r < 0.2:
            out.append(CancelOrder(user, SYMBOL, client_order_id=f"c{rnd.randrange(i + 1)}"))
        elif r < 0.3:
            out.append(
                AmendOrder(
                    user,
                    SYMBOL,
                    client_order_id=f"c{rnd.randrange(i + 1)}",
                    new_qty=rnd.randint(1, 20),
                    new_price=rnd.choice([0, 1000 + rnd.randint(-5, 5)]),
                )
            )
        else:
            side = rnd.choice([Side.BUY, Side.SELL])
            kind = rnd.choice([OrderType.LIMIT] * 6 + [OrderType.MARKET, OrderType.STOP_LIMIT])
            tif = rnd.choice([TimeInForce.GTC] * 4 + [TimeInForce.IOC, TimeInForce.FOK])
            price = 1000 + rnd.randint(-5, 5) if kind is not OrderType.MARKET else 0
            stop = 0
            if kind is OrderType.STOP_LIMIT:
                stop = price + (3 if side is Side.BUY else -3)
                tif = TimeInForce.GTC
            out.append(
                PlaceOrder(user, SYMBOL, f"c{i}", side, kind, rnd.randint(1, 20), price, stop, tif)
            )
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=10, max_value=300))
def test_views_follow_the_engine(seed: int, n: int) -> None:
    e = Engine()
    keeper = OrderBookkeeper()
    steps: dict[int, list[Step]] = {}
    for seq, cmd in enumerate(SETUP + flow(seed, n), 1):
        for u in keeper.fold(seq, seq, e.apply(seq, seq, cmd)):
            steps.setdefault(u.order.order_id, []).append(u.step)
            if u.step is Step.TRADE:
                assert u.fill is not None and u.fill.qty > 0
            if u.step is Step.REJECTED:
                assert u.order.order_id == 0 and u.order.status is Status.REJECTED
    # every order the engine still knows (open or finished within its memory)
    assert e.by_id
    for oid, o in e.by_id.items():
        v = keeper.get(oid)
        assert v is not None
        assert v.status is client_status(o.status)
        assert v.filled == o.filled
        assert v.filled_notional == o.filled_notional
        assert v.qty == o.qty
        assert v.price == o.price
        if v.is_open:
            assert v.remaining == o.remaining
        assert steps[oid][0] is Step.NEW
        if not v.is_open:
            assert steps[oid][-1] in (Step.TRADE, Step.CANCELED, Step.EXPIRED)


def test_stop_trigger_and_fees() -> None:
    e = Engine()
    keeper = OrderBookkeeper()
    cmds = [
        *SETUP,
        PlaceOrder(1, SYMBOL, "s", Side.SELL, OrderType.LIMIT, 1, 1000),
        PlaceOrder(2, SYMBOL, "b", Side.BUY, OrderType.LIMIT, 1, 1000),  # last price 1000
        PlaceOrder(3, SYMBOL, "stop", Side.BUY, OrderType.STOP, 2, 0, 1001),
        PlaceOrder(1, SYMBOL, "s2", Side.SELL, OrderType.LIMIT, 2, 1001),
        PlaceOrder(1, SYMBOL, "s3", Side.SELL, OrderType.LIMIT, 1, 1001),
        # trades 1 lot at 1001: the stop fires in the same step and buys s2's last lot and s3
        PlaceOrder(2, SYMBOL, "b2", Side.BUY, OrderType.LIMIT, 1, 1001),
    ]
    updates = []
    for seq, cmd in enumerate(cmds, 1):
        updates += keeper.fold(seq, seq, e.apply(seq, seq, cmd))
    stop = [u for u in updates if u.order.client_order_id == "stop"]
    assert [u.step for u in stop] == [Step.NEW, Step.TRIGGERED, Step.TRADE, Step.TRADE]
    assert not stop[0].order.triggered and stop[1].order.triggered
    final = stop[-1].order
    assert final.status is Status.FILLED and final.filled == 2
    assert final.fees == sum(u.fill.fee for u in stop if u.fill is not None) > 0
    # a repeated client_order_id answers the order's state
    dup = keeper.fold(99, 99, e.apply(99, 99, cmds[-1]))
    assert [u.step for u in dup] == [Step.STATUS]
    assert dup[0].order.status is Status.FILLED
