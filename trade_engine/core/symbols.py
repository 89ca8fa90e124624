"""Assets and symbols: the integer grids that every price, quantity and amount lives on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import Struct

from trade_engine.core.enums import SymbolStatus
from trade_engine.core.numbers import DecimalError, Step, parse_scaled
from trade_engine.core.reasons import Reason

PPM = 1_000_000  # fee rates are parts per million: 500 = 0.05 %
BPS = 10_000  # bands are basis points: 500 = 5 %
MAX_DECIMALS = 30  # 18-decimal tokens fit with room to spare


@dataclass(frozen=True, slots=True)
class Asset:
    code: str
    decimals: int  # the smallest unit is 10**-decimals


class SymbolSpec(Struct, frozen=True, gc=False):
    """A symbol as an operator defines it (decimal strings as typed, integers where natural).

    ``Market.build`` checks it against the assets and derives the integer factors.
    """

    symbol: str
    base: str
    quote: str
    tick: str  # price step, in quote per base unit
    lot: str  # quantity step, in base
    min_qty: str = "0"  # in base; 0 = one lot
    max_qty: str = "0"  # in base; 0 = unlimited
    min_notional: str = "0"  # in quote
    band_bps: int = 0  # limit price band around the reference price; 0 = off
    market_band_bps: int = 500  # market order protection band around the best opposite price
    maker_fee_ppm: int = 500
    taker_fee_ppm: int = 1000
    ref_price: str = "0"  # reference price before the first trade; 0 = none
    status: SymbolStatus = SymbolStatus.TRADING


def spec_to_dict(spec: SymbolSpec) -> dict[str, Any]:
    spec_dict: dict[str, Any] = msgspec.to_builtins(spec)  # enums become their values
    return spec_dict


def spec_from_dict(d: dict[str, Any]) -> SymbolSpec:
    return msgspec.convert(d, SymbolSpec)


class Market:
    """A symbol compiled for the hot path: every factor an integer, every limit in steps."""

    __slots__ = (
        "band_bps",
        "base",
        "base_per_lot",
        "last_price",
        "lot",
        "maker_ppm",
        "market_band_bps",
        "max_qty",
        "min_notional",
        "min_qty",
        "quote",
        "quote_per_tick_lot",
        "ref_price",
        "spec",
        "status",
        "symbol",
        "taker_ppm",
        "tick",
    )

    def __init__(self, spec: SymbolSpec, base: Asset, quote: Asset) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.base = base.code
        self.quote = quote.code
        self.tick = Step.parse(spec.tick)
        self.lot = Step.parse(spec.lot)
        # price_ticks * qty_lots * quote_per_tick_lot = notional in the quote's smallest units
        self.quote_per_tick_lot = _whole_units(
            self.tick.mantissa * self.lot.mantissa,
            quote.decimals - self.tick.decimals - self.lot.decimals,
            "tick x lot",
            quote,
        )
        self.base_per_lot = _whole_units(
            self.lot.mantissa, base.decimals - self.lot.decimals, "lot", base
        )
        self.min_qty = max(1, _to_lots(spec.min_qty, self.lot, "min_qty"))
        self.max_qty = _to_lots(spec.max_qty, self.lot, "max_qty")
        if self.max_qty and self.max_qty < self.min_qty:
            raise DecimalError(Reason.INVALID_SYMBOL_SPEC, "max_qty is below min_qty")
        self.min_notional = parse_scaled(
            spec.min_notional, quote.decimals, Reason.INVALID_SYMBOL_SPEC, "min_notional"
        )
        ref_scaled = parse_scaled(
            spec.ref_price, self.tick.decimals, Reason.INVALID_SYMBOL_SPEC, "ref_price"
        )
        if ref_scaled % self.tick.mantissa:
            raise DecimalError(Reason.INVALID_SYMBOL_SPEC, "ref_price is off the tick grid")
        self.ref_price = ref_scaled // self.tick.mantissa
        for name in ("band_bps", "market_band_bps"):
            v = getattr(spec, name)
            if not isinstance(v, int) or not 0 <= v < BPS:
                raise DecimalError(Reason.INVALID_SYMBOL_SPEC, f"{name} must be 0..9999")
        check_fee_rates(spec.maker_fee_ppm, spec.taker_fee_ppm)
        self.band_bps = spec.band_bps
        self.market_band_bps = spec.market_band_bps
        self.maker_ppm = spec.maker_fee_ppm
        self.taker_ppm = spec.taker_fee_ppm
        self.status = spec.status
        self.last_price = 0  # last trade price in ticks; 0 = no trade yet


def check_fee_rates(maker_ppm: int, taker_ppm: int) -> None:
    """Fees are 0..10 % and a maker never pays more than a taker.

    The second rule lets a BUY reserve the taker fee once and cover any mix of fills.
    """
    ok = (
        isinstance(maker_ppm, int)
        and isinstance(taker_ppm, int)
        and 0 <= maker_ppm <= taker_ppm <= PPM // 10
    )
    if not ok:
        raise DecimalError(
            Reason.INVALID_FEE, "fees must satisfy 0 <= maker <= taker <= 100000 ppm"
        )


def _whole_units(mantissa: int, exp: int, what: str, asset: Asset) -> int:
    if exp >= 0:
        units: int = mantissa * 10**exp
        return units
    divisor: int = 10**-exp
    units, rest = divmod(mantissa, divisor)
    if rest or units == 0:
        raise DecimalError(
            Reason.INVALID_SYMBOL_SPEC,
            f"{what} is not a whole number of {asset.code} smallest units "
            f"(10^-{asset.decimals}); use a coarser step or more asset decimals",
        )
    return units


def _to_lots(text: str, lot: Step, what: str) -> int:
    scaled = parse_scaled(text, lot.decimals, Reason.INVALID_SYMBOL_SPEC, what)
    lots, rest = divmod(scaled, lot.mantissa)
    if rest:
        raise DecimalError(Reason.INVALID_SYMBOL_SPEC, f"{what} is not a whole number of lots")
    return lots
