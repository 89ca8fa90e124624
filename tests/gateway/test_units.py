"""gateway.units: decimal strings <-> ticks, lots and units, strictly, in both directions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trade_engine.core.commands import AddAsset, AddSymbol
from trade_engine.core.engine import Engine
from trade_engine.core.reasons import Reason
from trade_engine.core.symbols import SymbolSpec
from trade_engine.gateway.access import Credential
from trade_engine.gateway.errors import ErrorKind
from trade_engine.gateway.queries import run_query
from trade_engine.gateway.units import UnitError, Units

SPEC = SymbolSpec("ETH-USDT", "ETH", "USDT", tick="0.05", lot="0.001")


def engine() -> Engine:
    e = Engine()
    for i, cmd in enumerate([AddAsset("ETH", 18), AddAsset("USDT", 6), AddSymbol(SPEC)], 1):
        e.apply(i, i, cmd)
    return e


def test_parse_on_the_grid() -> None:
    u = Units.of_engine(engine())
    assert u.parse_price("ETH-USDT", "2500.05") == 50_001
    assert u.parse_price("ETH-USDT", "2500.1000") == 50_002  # trailing zeros are fine
    assert u.parse_qty("ETH-USDT", "1.234") == 1_234
    assert u.parse_amount("ETH", "100") == 100 * 10**18  # beyond 64 bits, exact
    assert u.parse_quote_amount("ETH-USDT", "0.000001") == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2500.03", Reason.PRICE_OFF_TICK),
        ("2500.001", Reason.INVALID_PRICE),  # more decimals than the tick has
        ("-1", Reason.INVALID_PRICE),
        ("1e3", Reason.INVALID_PRICE),
        (" 1", Reason.INVALID_PRICE),
        ("0", Reason.INVALID_PRICE),
        ("", Reason.INVALID_PRICE),
        ("1.", Reason.INVALID_PRICE),
        ("1" * 100, Reason.INVALID_PRICE),
    ],
)
def test_price_refusals_name_field_and_step(text: str, reason: Reason) -> None:
    u = Units.of_engine(engine())
    with pytest.raises(UnitError) as ei:
        u.parse_price("ETH-USDT", text, field="stopPrice")
    assert ei.value.reason is reason
    assert ei.value.field == "stopPrice"
    assert ei.value.kind is ErrorKind.INVALID_NUMBER
    assert "stopPrice" in ei.value.message and "0.05" in ei.value.message


def test_numbers_where_strings_belong_are_refused() -> None:
    u = Units.of_engine(engine())
    with pytest.raises(UnitError) as ei:
        u.parse_qty("ETH-USDT", 1.5)  # type: ignore[arg-type]
    assert ei.value.reason is Reason.INVALID_QUANTITY


def test_unknowns() -> None:
    u = Units.of_engine(engine())
    with pytest.raises(UnitError) as ei:
        u.parse_price("NOPE", "1")
    assert ei.value.reason is Reason.UNKNOWN_SYMBOL
    with pytest.raises(UnitError) as ei:
        u.parse_amount("NOPE", "1")
    assert ei.value.reason is Reason.UNKNOWN_ASSET
    assert u.price("NOPE", 5) == "5(ticks)"  # formatting never fails, it says what it lacks


def test_format() -> None:
    u = Units.of_engine(engine())
    assert u.price("ETH-USDT", 50_001) == "2500.05"
    assert u.qty("ETH-USDT", 1_000) == "1"
    assert u.amount("ETH", 25 * 10**16) == "0.25"
    assert u.quote_amount("ETH-USDT", 1_500_000) == "1.5"


def test_every_source_gives_the_same_catalog() -> None:
    e = engine()
    from_engine = Units.of_engine(e)
    from_answers = Units()
    cred = Credential("op", "s", "operator")
    from_answers.add_answers(run_query(e, cred, "assets", {}), run_query(e, cred, "symbols", {}))
    from_events = Units()
    events = []
    f = Engine()
    for i, cmd in enumerate([AddAsset("ETH", 18), AddAsset("USDT", 6), AddSymbol(SPEC)], 1):
        events += f.apply(i, i, cmd)
    from_events.observe(events)
    for u in (from_answers, from_events):
        assert u.decimals == from_engine.decimals
        assert u.grids == from_engine.grids


@given(st.integers(min_value=1, max_value=10**30))
def test_round_trip(n: int) -> None:
    u = Units.of_engine(engine())
    assert u.parse_price("ETH-USDT", u.price("ETH-USDT", n)) == n
    assert u.parse_qty("ETH-USDT", u.qty("ETH-USDT", n)) == n
    assert u.parse_amount("ETH", u.amount("ETH", n)) == n
