"""Decimal strings at the edges, integers inside.

Every price, quantity and amount inside the engine is an ``int`` counted in some step: a
symbol's tick, a symbol's lot, or an asset's smallest unit. These helpers convert the decimal
strings that the JSON and FIX wire carry into those integers and back, strictly: no floats, no
exponents, no signs, no whitespace, no more decimals than the step has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trade_engine.core.reasons import Reason

_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
MAX_DECIMAL_CHARS = 80  # far above any real amount; keeps int() off pathological inputs


class DecimalError(ValueError):
    """A decimal string was refused. ``reason`` is the stable code, ``args[0]`` the detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Step:
    """A positive decimal step such as a tick ``0.01`` = ``mantissa * 10**-decimals``."""

    mantissa: int
    decimals: int

    @staticmethod
    def parse(text: str) -> Step:
        ok = isinstance(text, str) and len(text) <= MAX_DECIMAL_CHARS
        m = _DECIMAL.fullmatch(text) if ok else None
        if m is None:
            raise DecimalError(Reason.INVALID_SYMBOL_SPEC, f"step {text!r} is not a plain decimal")
        frac = (m.group(2) or "").rstrip("0")
        mantissa = int(m.group(1) + frac)
        if mantissa == 0:
            raise DecimalError(Reason.INVALID_SYMBOL_SPEC, f"step {text!r} must be positive")
        return Step(mantissa, len(frac))

    def __str__(self) -> str:
        return format_scaled(self.mantissa, self.decimals)


def parse_scaled(text: str, decimals: int, reason: Reason, what: str = "value") -> int:
    """Parse a non-negative decimal string into an integer count of ``10**-decimals``.

    Rejects exponent form, signs, whitespace, empty parts ("1.", ".5") and more than
    ``decimals`` significant fractional digits (trailing zeros beyond are accepted: "1.500"
    with 2 decimals is 150).
    """
    if not isinstance(text, str):
        raise DecimalError(reason, f"{what} must be a decimal string, got {type(text).__name__}")
    if len(text) > MAX_DECIMAL_CHARS:
        raise DecimalError(reason, f"{what} is longer than {MAX_DECIMAL_CHARS} characters")
    m = _DECIMAL.fullmatch(text)
    if m is None:
        raise DecimalError(reason, f"{what} {text!r} is not a plain non-negative decimal")
    frac = (m.group(2) or "").rstrip("0")
    if len(frac) > decimals:
        raise DecimalError(reason, f"{what} {text!r} has more than {decimals} decimals")
    whole: int = int(m.group(1)) * _pow10(decimals)
    return whole + (int(frac) * _pow10(decimals - len(frac)) if frac else 0)


def _pow10(n: int) -> int:
    result: int = 10**n
    return result


def format_scaled(value: int, decimals: int) -> str:
    """Format an integer count of ``10**-decimals`` as a plain decimal string ("0.05", "12")."""
    sign = "-" if value < 0 else ""
    value = -value if value < 0 else value
    if decimals == 0:
        return f"{sign}{value}"
    whole, frac = divmod(value, 10**decimals)
    frac_s = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{sign}{whole}.{frac_s}" if frac_s else f"{sign}{whole}"


def parse_steps(
    text: str, step: Step, reason_decimals: Reason, reason_grid: Reason, what: str
) -> int:
    """Parse a decimal string into a positive whole number of ``step``s.

    "too many decimals" and "off the grid" are told apart because a client fixes them
    differently; zero is refused (a price or quantity of zero is never meaningful).
    """
    scaled = parse_scaled(text, step.decimals, reason_decimals, what)
    steps, rest = divmod(scaled, step.mantissa)
    if rest:
        raise DecimalError(reason_grid, f"{what} {text!r} is not a multiple of {step}")
    if steps == 0:
        raise DecimalError(reason_decimals, f"{what} must be positive")
    return steps


def format_steps(steps: int, step: Step) -> str:
    return format_scaled(steps * step.mantissa, step.decimals)
