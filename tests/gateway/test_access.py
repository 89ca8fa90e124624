"""gateway.access: which role may send which command, on whose behalf."""

from __future__ import annotations

import pytest

from trade_engine.core.commands import (
    AddAsset,
    AmendOrder,
    Deposit,
    MassCancel,
    PlaceOrder,
    SuspendUser,
    Withdraw,
)
from trade_engine.core.enums import Side
from trade_engine.gateway.access import Credential, authorize
from trade_engine.gateway.errors import AccessError


def test_authorize_table() -> None:
    user = Credential("u", "s", "user", 1)
    gw = Credential("g", "s", "gateway", 0)
    op = Credential("o", "s", "operator", 0)
    mine = PlaceOrder(1, "S", "c", Side.BUY, qty=1, price=1)
    theirs = PlaceOrder(2, "S", "c", Side.BUY, qty=1, price=1)
    assert authorize(user, mine) is mine
    assert authorize(gw, theirs) is theirs
    with pytest.raises(AccessError):
        authorize(user, theirs)
    with pytest.raises(AccessError):
        authorize(user, AmendOrder(2, "S", order_id=1, new_qty=3))
    assert authorize(user, MassCancel()).user_id == 1
    assert authorize(user, MassCancel(symbol="S")) == MassCancel(1, "S")
    with pytest.raises(AccessError):
        authorize(gw, MassCancel(operator="me"))
    assert authorize(op, MassCancel()).operator == "o"
    for cmd in (Deposit(1, "A", 1, "t"), Withdraw(1, "A", 1, "t")):
        with pytest.raises(AccessError):
            authorize(user, cmd)
        assert authorize(gw, cmd).operator == "g"
    for cmd in (AddAsset("X", 1), SuspendUser(3)):
        with pytest.raises(AccessError):
            authorize(gw, cmd)
        assert authorize(op, cmd).operator == "o"


def test_open_orders_are_answered_in_bounded_pages() -> None:
    from trade_engine.core.commands import AddAsset, AddSymbol, Deposit, PlaceOrder
    from trade_engine.core.engine import Engine
    from trade_engine.core.enums import Side
    from trade_engine.core.symbols import SymbolSpec
    from trade_engine.gateway.errors import QueryError
    from trade_engine.gateway.queries import MAX_ORDERS, run_query

    e = Engine()
    cmds = [
        AddAsset("BTC", 8),
        AddAsset("USDT", 8),
        AddSymbol(SymbolSpec("BTC-USDT", "BTC", "USDT", tick="0.01", lot="0.0001")),
        Deposit(1, "USDT", 10**20, "d1"),
    ]
    cmds += [
        PlaceOrder(1, "BTC-USDT", f"c{i}", Side.BUY, qty=1, price=100 + i % 7) for i in range(2500)
    ]
    for seq, cmd in enumerate(cmds, 1):
        e.apply(seq, seq, cmd)
    gw = Credential("g", "s", "gateway", 0)
    first = run_query(e, gw, "open_orders", {"user_id": 1})
    assert len(first) == 500  # the default page
    seen = [o["order_id"] for o in first]
    while True:
        page = run_query(
            e, gw, "open_orders", {"user_id": 1, "limit": MAX_ORDERS, "after_order_id": seen[-1]}
        )
        if not page:
            break
        assert len(page) <= MAX_ORDERS
        seen += [o["order_id"] for o in page]
    assert seen == sorted(e.orders) and len(seen) == 2500  # every order once, in id order
    with pytest.raises(QueryError):
        run_query(e, gw, "open_orders", {"user_id": 1, "limit": MAX_ORDERS + 1})
