"""Decimal strings at the edges (core/numbers.py): strict parsing, exact formatting.

Spec (docs/core-semantics.md, "Units"): plain non-negative decimals only, no exponent, sign or
whitespace; more decimals than the step has is refused, and so is a value off the step grid.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trade_engine.core.numbers import (
    DecimalError,
    Step,
    format_scaled,
    format_steps,
    parse_scaled,
    parse_steps,
)
from trade_engine.core.reasons import Reason

R = Reason.INVALID_PRICE
DEC = Reason.INVALID_QUANTITY  # "too many decimals" reason in parse_steps calls below
GRID = Reason.QTY_OFF_LOT  # "off the grid" reason in parse_steps calls below


# ---------------------------------------------------------------- parse_scaled: valid


@pytest.mark.parametrize(
    ("text", "decimals", "expected"),
    [
        ("0", 8, 0),
        ("0.0", 8, 0),
        ("1", 0, 1),
        ("1", 8, 100_000_000),
        ("50000", 2, 5_000_000),
        ("50000.01", 2, 5_000_001),
        ("0.01", 2, 1),
        ("0.5", 8, 50_000_000),
        ("12.345", 3, 12_345),
        ("0.00000001", 8, 1),
        ("10.10", 2, 1010),
        ("7.0", 0, 7),  # a zero fraction adds no decimal
        ("1.500", 2, 150),  # trailing zeros are not significant decimals
        ("100.000000000000000000", 8, 10_000_000_000),
    ],
)
def test_parse_scaled_valid(text: str, decimals: int, expected: int) -> None:
    assert parse_scaled(text, decimals, R) == expected


def test_parse_scaled_18_decimals_exact() -> None:
    # one wei above 1 ETH: a float would lose it
    assert parse_scaled("1.000000000000000001", 18, R) == 10**18 + 1
    assert parse_scaled("0.000000000000000001", 18, R) == 1
    assert parse_scaled("123456789.123456789123456789", 18, R) == 123456789123456789123456789


def test_parse_scaled_30_digit_integer_exact() -> None:
    text = "123456789012345678901234567890"
    v = parse_scaled(text, 18, R)
    assert v == 123456789012345678901234567890 * 10**18
    assert v > 2**64
    assert format_scaled(v, 18) == text


# ---------------------------------------------------------------- parse_scaled: refused


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "1.",  # empty fraction
        ".5",  # empty whole part
        ".",
        "1e5",  # exponent form
        "1E5",
        "1.5e-2",
        "-1",  # signs
        "+1",
        "-0",
        " 1",  # whitespace
        "1 ",
        "1\n",
        "\t1",
        "1 000",
        "1,5",  # comma as a decimal separator
        "1_000",  # Python underscore grouping
        "0x10",  # other bases
        "1.2.3",
        "inf",
        "NaN",
        "\uff11",  # full-width digit one
        "\u0663",  # Arabic-Indic digit three
        "abc",
    ],
)
def test_parse_scaled_refuses_non_plain_decimals(text: str) -> None:
    with pytest.raises(DecimalError) as ei:
        parse_scaled(text, 8, R)
    assert ei.value.reason is R


@pytest.mark.parametrize("value", [5, 5.0, None, b"5", Decimal("5"), True, ["5"]])
def test_parse_scaled_refuses_non_strings(value: object) -> None:
    with pytest.raises(DecimalError) as ei:
        parse_scaled(value, 8, R)  # type: ignore[arg-type]
    assert ei.value.reason is R


@pytest.mark.parametrize(
    ("text", "decimals"),
    [
        ("0.001", 2),
        ("1.001", 2),
        ("0.000000001", 8),
        ("0.1", 0),
        ("1.0000000000000000001", 18),
    ],
)
def test_parse_scaled_refuses_too_many_decimals(text: str, decimals: int) -> None:
    with pytest.raises(DecimalError) as ei:
        parse_scaled(text, decimals, Reason.INVALID_AMOUNT, "amount")
    assert ei.value.reason is Reason.INVALID_AMOUNT
    assert "amount" in str(ei.value)


def test_decimal_error_is_a_value_error_with_detail() -> None:
    with pytest.raises(ValueError, match="not a plain"):
        parse_scaled("1e5", 2, R, "price")


# ---------------------------------------------------------------- format_scaled


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (0, 8, "0"),
        (0, 0, "0"),
        (1, 8, "0.00000001"),
        (5, 2, "0.05"),
        (150, 2, "1.5"),
        (100, 2, "1"),
        (5_000_001, 2, "50000.01"),
        (12, 0, "12"),
        (-5, 2, "-0.05"),
        (-150, 2, "-1.5"),
        (10**18 + 1, 18, "1.000000000000000001"),
        (2**70, 0, "1180591620717411303424"),
    ],
)
def test_format_scaled(value: int, decimals: int, expected: str) -> None:
    assert format_scaled(value, decimals) == expected


# ---------------------------------------------------------------- Step


@pytest.mark.parametrize(
    ("text", "mantissa", "decimals", "as_str"),
    [
        ("0.01", 1, 2, "0.01"),
        ("0.0001", 1, 4, "0.0001"),
        ("0.05", 5, 2, "0.05"),
        ("0.010", 1, 2, "0.01"),  # trailing zeros do not make a finer step
        ("0.25", 25, 2, "0.25"),
        ("1", 1, 0, "1"),
        ("10", 10, 0, "10"),
        ("10.0", 10, 0, "10"),
        ("2.5", 25, 1, "2.5"),
        ("0.000000000000000001", 1, 18, "0.000000000000000001"),
    ],
)
def test_step_parse(text: str, mantissa: int, decimals: int, as_str: str) -> None:
    s = Step.parse(text)
    assert (s.mantissa, s.decimals) == (mantissa, decimals)
    assert str(s) == as_str


def test_step_equal_whatever_the_spelling() -> None:
    assert Step.parse("0.010") == Step.parse("0.01")
    assert Step.parse("0.01") != Step.parse("0.1")


@pytest.mark.parametrize(
    "text", ["0", "0.0", "0.000", "", "-0.01", "+0.01", "1e-2", ".01", "1.", " 0.01", "abc"]
)
def test_step_parse_refuses(text: str) -> None:
    with pytest.raises(DecimalError) as ei:
        Step.parse(text)
    assert ei.value.reason is Reason.INVALID_SYMBOL_SPEC


@pytest.mark.parametrize("value", [0.01, 1, None, Decimal("0.01")])
def test_step_parse_refuses_non_strings(value: object) -> None:
    with pytest.raises(DecimalError) as ei:
        Step.parse(value)  # type: ignore[arg-type]
    assert ei.value.reason is Reason.INVALID_SYMBOL_SPEC


# ---------------------------------------------------------------- parse_steps / format_steps

TICK = Step.parse("0.01")
TICK5 = Step.parse("0.05")
LOT = Step.parse("0.0001")
BIG = Step.parse("25")


@pytest.mark.parametrize(
    ("text", "step", "expected"),
    [
        ("50000", TICK, 5_000_000),
        ("50000.01", TICK, 5_000_001),
        ("0.01", TICK, 1),
        ("1.10", TICK5, 22),
        ("0.05", TICK5, 1),
        ("0.5", LOT, 5_000),
        ("0.0001", LOT, 1),
        ("0.00010", LOT, 1),
        ("75", BIG, 3),
        ("75.00", BIG, 3),
    ],
)
def test_parse_steps_valid(text: str, step: Step, expected: int) -> None:
    assert parse_steps(text, step, DEC, GRID, "qty") == expected
    # and formatting the steps gives back the canonical spelling of the same value
    assert parse_steps(format_steps(expected, step), step, DEC, GRID, "qty") == expected


@pytest.mark.parametrize(
    ("text", "step"),
    [("50000.001", TICK), ("0.00001", LOT), ("1.001", TICK5), ("1.5", BIG)],
)
def test_parse_steps_too_many_decimals(text: str, step: Step) -> None:
    with pytest.raises(DecimalError) as ei:
        parse_steps(text, step, DEC, GRID, "qty")
    assert ei.value.reason is DEC


@pytest.mark.parametrize(
    ("text", "step"),
    [("1.02", TICK5), ("0.01", TICK5), ("0.99", TICK5), ("10", BIG), ("26", BIG)],
)
def test_parse_steps_off_grid(text: str, step: Step) -> None:
    with pytest.raises(DecimalError) as ei:
        parse_steps(text, step, DEC, GRID, "qty")
    assert ei.value.reason is GRID


@pytest.mark.parametrize("text", ["0", "0.00", "0.0000"])
def test_parse_steps_refuses_zero(text: str) -> None:
    with pytest.raises(DecimalError):
        parse_steps(text, TICK, DEC, GRID, "price")


@pytest.mark.parametrize("text", ["-1", "1e2", " 1", "", "1.", ".5"])
def test_parse_steps_refuses_malformed(text: str) -> None:
    with pytest.raises(DecimalError) as ei:
        parse_steps(text, TICK, DEC, GRID, "price")
    assert ei.value.reason is DEC


@pytest.mark.parametrize(
    ("steps", "step", "expected"),
    [
        (5_000_000, TICK, "50000"),
        (5_000_001, TICK, "50000.01"),
        (3, TICK5, "0.15"),
        (20, TICK5, "1"),
        (5_000, LOT, "0.5"),
        (4, BIG, "100"),
    ],
)
def test_format_steps(steps: int, step: Step, expected: str) -> None:
    assert format_steps(steps, step) == expected


# ---------------------------------------------------------------- properties


@given(value=st.integers(min_value=0, max_value=10**40), decimals=st.integers(0, 30))
def test_scaled_round_trip(value: int, decimals: int) -> None:
    text = format_scaled(value, decimals)
    assert parse_scaled(text, decimals, R) == value
    # the formatted text is canonical: no trailing fractional zeros, no exponent
    assert "e" not in text.lower()
    if "." in text:
        assert not text.endswith("0")


@given(
    whole=st.integers(min_value=0, max_value=10**30),
    frac=st.text(alphabet="0123456789", max_size=18),
    decimals=st.integers(18, 30),
)
def test_text_round_trip(whole: int, frac: str, decimals: int) -> None:
    text = f"{whole}.{frac}" if frac else str(whole)
    v = parse_scaled(text, decimals, R)
    canonical = format_scaled(v, decimals)
    # exact: compare against Decimal arithmetic with enough precision
    with localcontext() as ctx:
        ctx.prec = 100
        assert Decimal(v) == Decimal(text).scaleb(decimals)
        assert Decimal(canonical) == Decimal(text)
    assert parse_scaled(canonical, decimals, R) == v


@given(
    mantissa=st.integers(min_value=1, max_value=10**6),
    decimals=st.integers(0, 18),
    steps=st.integers(min_value=1, max_value=10**30),
)
def test_steps_round_trip(mantissa: int, decimals: int, steps: int) -> None:
    step = Step.parse(format_scaled(mantissa, decimals))
    text = format_steps(steps, step)
    assert parse_steps(text, step, DEC, GRID, "qty") == steps
    # one smallest unit more (at the step's own precision) is off the grid unless the step
    # is exactly one unit
    nudged = format_scaled(steps * step.mantissa + 1, step.decimals)
    if step.mantissa == 1:
        assert parse_steps(nudged, step, DEC, GRID, "qty") == steps + 1
    else:
        with pytest.raises(DecimalError) as ei:
            parse_steps(nudged, step, DEC, GRID, "qty")
        assert ei.value.reason is GRID


def test_absurdly_long_integer_part_is_refused_with_a_reason() -> None:
    # a hostile wire value must come back as a DecimalError (stable reason code), never as an
    # unexpected exception type that a gateway would not map to a clean error (or, if it is
    # accepted at all, it must be exact)
    try:
        v = parse_scaled("9" * 5000, 8, R)
    except DecimalError as e:
        assert e.reason is R
    except ValueError as e:  # documents the bug
        pytest.fail(f"escaped as {type(e).__name__}: {str(e)[:60]}")
    else:
        assert v == (10**5000 - 1) * 10**8
