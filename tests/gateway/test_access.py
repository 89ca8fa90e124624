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
