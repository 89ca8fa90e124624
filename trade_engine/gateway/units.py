"""Decimal strings on the wire <-> the engine's integers (ticks, lots, smallest asset units).

The engine counts prices in a symbol's ticks, quantities in its lots and amounts in an asset's
smallest unit. Every gateway (and every tool that shows numbers to people) translates through a
``Units`` catalog: the assets' decimals and the symbols' grids. Ticks, lots and decimals never
change once defined (``UpdateSymbol`` refuses), so a catalog only grows. It is filled from the
engine in-process, from exported state, from the ``AssetAdded`` / ``SymbolDefined`` events of
the stream, or from the ``assets`` and ``symbols`` query answers (a gateway in another process).

Parsing is strict (``core.numbers``): plain non-negative decimals, no exponent, sign or
whitespace, no more decimals than the step has, and on the grid; a refusal names the field, the
step and the engine's stable reason code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trade_engine.core.engine import Engine
from trade_engine.core.events import AssetAdded, SymbolDefined
from trade_engine.core.numbers import (
    DecimalError,
    Step,
    format_scaled,
    format_steps,
    parse_scaled,
    parse_steps,
)
from trade_engine.core.reasons import Reason
from trade_engine.gateway.errors import ErrorKind, GatewayError


class UnitError(GatewayError):
    """A number a client sent is not valid for its field; ``reason`` is the core's code."""

    def __init__(self, reason: Reason, message: str, field: str) -> None:
        super().__init__(ErrorKind.INVALID_NUMBER, message)
        self.reason = reason
        self.field = field


@dataclass(frozen=True, slots=True)
class Grid:
    """One symbol's steps: its tick (price) and lot (quantity), and its two assets."""

    symbol: str
    tick: Step
    lot: Step
    base: str
    quote: str


class Units:
    """Assets' decimals and symbols' grids, to translate in both directions."""

    def __init__(self) -> None:
        self.decimals: dict[str, int] = {}
        self.grids: dict[str, Grid] = {}

    # ------------------------------------------------------------------ filling

    @classmethod
    def of_engine(cls, engine: Engine) -> Units:
        units = cls()
        for code, asset in engine.assets.items():
            units.decimals[code] = asset.decimals
        for symbol, m in engine.markets.items():
            units.grids[symbol] = Grid(symbol, m.tick, m.lot, m.base, m.quote)
        return units

    def add_state(self, state: Mapping[str, Any]) -> None:
        """Definitions from an exported state (a snapshot body)."""
        for code, decimals in state.get("assets", []):
            self.decimals.setdefault(code, decimals)
        for market in state.get("markets", []):
            self.add_spec(market["spec"])

    def observe(self, events: Iterable[Any]) -> None:
        """Definitions from a stream's events (only accepted definitions produce these)."""
        for ev in events:
            if type(ev) is AssetAdded:
                self.decimals.setdefault(ev.code, ev.decimals)
            elif type(ev) is SymbolDefined:
                s = ev.spec
                self.add_spec(
                    {
                        "symbol": s.symbol,
                        "tick": s.tick,
                        "lot": s.lot,
                        "base": s.base,
                        "quote": s.quote,
                    }
                )

    def add_answers(
        self, assets: Iterable[Mapping[str, Any]], symbols: Iterable[Mapping[str, Any]]
    ) -> None:
        """Definitions from the ``assets`` and ``symbols`` query answers."""
        for a in assets:
            self.decimals.setdefault(a["code"], a["decimals"])
        for row in symbols:
            self.add_spec(row["spec"])

    def add_spec(self, spec: Mapping[str, Any]) -> None:
        """A symbol from its definition's fields (``symbol``, ``tick``, ``lot``, ``base``,
        ``quote`` as the operator wrote them)."""
        symbol = spec["symbol"]
        if symbol not in self.grids:
            self.grids[symbol] = Grid(
                symbol,
                Step.parse(spec["tick"]),
                Step.parse(spec["lot"]),
                spec["base"],
                spec["quote"],
            )

    # ------------------------------------------------------------------ engine -> client

    def price(self, symbol: str, ticks: int) -> str:
        g = self.grids.get(symbol)
        return format_steps(ticks, g.tick) if g else f"{ticks}(ticks)"

    def qty(self, symbol: str, lots: int) -> str:
        g = self.grids.get(symbol)
        return format_steps(lots, g.lot) if g else f"{lots}(lots)"

    def amount(self, asset: str, units: int) -> str:
        d = self.decimals.get(asset)
        return format_scaled(units, d) if d is not None else f"{units}(units)"

    def quote_amount(self, symbol: str, units: int) -> str:
        """An amount in the symbol's quote asset (notional, fee)."""
        g = self.grids.get(symbol)
        return self.amount(g.quote, units) if g else f"{units}(units)"

    # ------------------------------------------------------------------ client -> engine

    def parse_price(self, symbol: str, text: str, field: str = "price") -> int:
        """Ticks for a positive price on the symbol's tick grid."""
        g = self._grid(symbol, field)
        return _steps(text, g.tick, Reason.INVALID_PRICE, Reason.PRICE_OFF_TICK, field)

    def parse_qty(self, symbol: str, text: str, field: str = "quantity") -> int:
        """Lots for a positive quantity on the symbol's lot grid."""
        g = self._grid(symbol, field)
        return _steps(text, g.lot, Reason.INVALID_QUANTITY, Reason.QTY_OFF_LOT, field)

    def parse_amount(self, asset: str, text: str, field: str = "amount") -> int:
        """Smallest units for a positive amount of ``asset``."""
        d = self.decimals.get(asset)
        if d is None:
            raise UnitError(Reason.UNKNOWN_ASSET, f"unknown asset {asset!r}", field)
        try:
            units = parse_scaled(text, d, Reason.INVALID_AMOUNT, field)
        except DecimalError as e:
            raise UnitError(e.reason, str(e), field) from None
        if units == 0:
            raise UnitError(Reason.INVALID_AMOUNT, f"{field} must be positive", field)
        return units

    def parse_quote_amount(self, symbol: str, text: str, field: str = "quote_quantity") -> int:
        return self.parse_amount(self._grid(symbol, field).quote, text, field)

    def _grid(self, symbol: str, field: str) -> Grid:
        g = self.grids.get(symbol)
        if g is None:
            raise UnitError(Reason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}", field)
        return g


def _steps(text: str, step: Step, reason_decimals: Reason, reason_grid: Reason, field: str) -> int:
    try:
        return parse_steps(text, step, reason_decimals, reason_grid, field)
    except DecimalError as e:
        raise UnitError(e.reason, f"{e} (step {step})", field) from None
