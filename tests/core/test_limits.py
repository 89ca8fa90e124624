"""core.limits: every string and integer field of every command has a limit, the hot
commands' fast path agrees with the table, and the limits agree with the core's own checks."""

from __future__ import annotations

import typing

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trade_engine.core import limits
from trade_engine.core.commands import (
    COMMAND_TYPES,
    AddSymbol,
    CancelOrder,
    Deposit,
    PlaceOrder,
)
from trade_engine.core.enums import Side
from trade_engine.core.limits import MAX_AMOUNT, FieldLimitError, check_fields
from trade_engine.core.numbers import MAX_DECIMAL_CHARS
from trade_engine.core.symbols import SymbolSpec


def _fields_of(t: type) -> dict[str, object]:
    hints = typing.get_type_hints(t)
    return {f: hints[f] for f in t.__struct_fields__}  # type: ignore[attr-defined]


@pytest.mark.parametrize("t", COMMAND_TYPES, ids=lambda t: t.__name__)
def test_every_string_and_integer_field_has_a_limit(t: type) -> None:
    table = limits.FIELDS[t]
    for name, hint in _fields_of(t).items():
        if hint in (str, int):
            assert name in table, f"{t.__name__}.{name} has no limit"
        elif hint is SymbolSpec:
            for sname, shint in _fields_of(SymbolSpec).items():
                if shint in (str, int):
                    assert sname in limits.SPEC_FIELDS, f"SymbolSpec.{sname} has no limit"


def test_limits_agree_with_the_core() -> None:
    # the core's own validation (engine: client_order_id 1..64; admin: asset code 1..16,
    # symbol name 1..32; numbers: decimal strings up to MAX_DECIMAL_CHARS)
    assert limits.CLIENT_ORDER_ID.max_len == 64
    assert limits.ASSET.max_len == 16
    assert limits.SYMBOL.max_len == 32
    assert limits.DECIMAL.max_len == MAX_DECIMAL_CHARS
    assert limits.OPERATOR.max_len >= limits.API_KEY.max_len  # the api_key becomes the operator
    assert MAX_AMOUNT >= 10**30  # 10^12 whole 18-decimal tokens


def _refused(cmd: object) -> str:
    with pytest.raises(FieldLimitError) as ei:
        check_fields(cmd)
    return ei.value.field


def test_refusals_name_the_field() -> None:
    po = PlaceOrder(1, "BTC-USDT", "web-1", Side.BUY, qty=1, price=1)
    check_fields(po)
    assert _refused(msgspec.structs.replace(po, symbol="B" * 900_000)) == "PlaceOrder.symbol"
    assert _refused(msgspec.structs.replace(po, symbol="BTC USDT")) == "PlaceOrder.symbol"
    assert (
        _refused(msgspec.structs.replace(po, client_order_id="é")) == "PlaceOrder.client_order_id"
    )
    assert _refused(msgspec.structs.replace(po, price=MAX_AMOUNT + 1)) == "PlaceOrder.price"
    assert _refused(msgspec.structs.replace(po, qty=-(2**64))) == "PlaceOrder.qty"
    assert _refused(msgspec.structs.replace(po, user_id=2**63)) == "PlaceOrder.user_id"
    check_fields(msgspec.structs.replace(po, qty=MAX_AMOUNT, price=-5))  # the core rejects -5
    assert _refused(CancelOrder(1, "S", client_order_id="x\n")) == "CancelOrder.client_order_id"
    assert _refused(Deposit(1, "USDT", 2**200, "t")) == "Deposit.amount"
    spec = SymbolSpec("A-B", "A", "B", "0." + "0" * 80 + "1", "1")
    assert _refused(AddSymbol(spec)) == "AddSymbol.spec.tick"
    msg = str(FieldLimitError("x", "y"))
    assert msg == "x: y"


_ascii = st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=70)


@given(sym=_ascii, coid=st.one_of(_ascii, st.text(max_size=70)), qty=st.integers())
def test_the_fast_path_agrees_with_the_table(sym: str, coid: str, qty: int) -> None:
    po = PlaceOrder(1, sym, coid, Side.BUY, qty=qty)
    table = limits.FIELDS[PlaceOrder]
    expected_ok = (
        limits.text_ok(sym, table["symbol"])  # type: ignore[arg-type]
        and limits.text_ok(coid, table["client_order_id"])  # type: ignore[arg-type]
        and limits.MIN_INT <= qty <= MAX_AMOUNT
    )
    assert limits._place_ok(po) == expected_ok
    co = CancelOrder(1, sym, client_order_id=coid)
    try:
        check_fields(co)
        ok = True
    except FieldLimitError:
        ok = False
    assert ok == (
        limits.text_ok(sym, limits.SYMBOL) and limits.text_ok(coid, limits.CLIENT_ORDER_ID)
    )
