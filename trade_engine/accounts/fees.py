"""Fee and reservation arithmetic. All integers; the rounding rule lives here and only here
(the matcher calls these; in the compiled build they are direct native calls).

Rounding rule: a fee is ``notional * rate_ppm // 1_000_000``, rounded *down* to the quote's
smallest unit, per fill. Rounding down never charges a user more than the published rate, and
because ``floor(a) + floor(b) <= floor(a + b)`` the fees of any split of an order into fills
never exceed the fee reserved for the whole order, so a reservation is always enough.
"""

from __future__ import annotations

from trade_engine.core.symbols import BPS, PPM


def fee(notional: int, rate_ppm: int) -> int:
    """The fee on one fill, rounded down to the quote's smallest unit."""
    return notional * rate_ppm // PPM


def buy_reserve(price: int, qty: int, quote_per_tick_lot: int, taker_ppm: int) -> int:
    """Quote a BUY of ``qty`` lots at up to ``price`` ticks must hold: notional + max fee."""
    notional = price * qty * quote_per_tick_lot
    return notional + fee(notional, taker_ppm)


def lots_affordable(budget: int, price: int, quote_per_tick_lot: int, taker_ppm: int) -> int:
    """Most lots a quote ``budget`` buys at ``price`` with the taker fee included."""
    unit = price * quote_per_tick_lot
    q = budget * PPM // (unit * (PPM + taker_ppm))
    # the fee rounds down, so one more lot may still fit
    while buy_reserve(price, q + 1, quote_per_tick_lot, taker_ppm) <= budget:
        q += 1
    return q


def band_up(price: int, bps: int) -> int:
    """Highest price within ``bps`` above ``price`` (rounded down to the tick)."""
    return price * (BPS + bps) // BPS


def band_down(price: int, bps: int) -> int:
    """Lowest price within ``bps`` below ``price`` (rounded up to the tick, at least 1)."""
    return max(1, -(-price * (BPS - bps) // BPS))
