"""A short, readable session with the core: what `trade-engine demo` prints.

It sets up BTC-USDT, funds two users, and walks through a resting order, a crossing order
with price improvement, a market order, a stop that fires, self-trade prevention and a
duplicate client order id, printing every event with decimal amounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Any

from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
)
from trade_engine.core.engine import Engine
from trade_engine.core.enums import OrderType, Side, StpMode
from trade_engine.core.events import Event
from trade_engine.core.numbers import format_scaled, format_steps
from trade_engine.core.state import state_hash
from trade_engine.core.symbols import SymbolSpec

SYMBOL = "BTC-USDT"
BTC = 10**8
USDT = 10**8


def script() -> Iterator[tuple[str, Command]]:
    yield "define assets and the symbol", AddAsset("BTC", 8, operator="demo")
    yield "", AddAsset("USDT", 8, operator="demo")
    yield (
        "",
        AddSymbol(
            SymbolSpec(SYMBOL, "BTC", "USDT", tick="0.01", lot="0.0001", min_notional="5"),
            operator="demo",
        ),
    )
    yield "alice deposits 100,000 USDT", Deposit(1, "USDT", 100_000 * USDT, "w-1", "wallet")
    yield "bob deposits 2 BTC", Deposit(2, "BTC", 2 * BTC, "w-2", "wallet")
    yield (
        "bob offers 0.5 BTC at 50,000.00",
        PlaceOrder(2, SYMBOL, "bob-1", Side.SELL, qty=5000, price=5_000_000),
    )
    yield (
        "bob offers 0.5 BTC at 50,010.00",
        PlaceOrder(2, SYMBOL, "bob-2", Side.SELL, qty=5000, price=5_001_000),
    )
    yield (
        "alice bids 0.3 BTC at 50,005.00: trades at 50,000.00 (price improvement)",
        PlaceOrder(1, SYMBOL, "alice-1", Side.BUY, qty=3000, price=5_000_500),
    )
    yield (
        "alice places a stop buy 0.1 BTC at 50,010.00",
        PlaceOrder(1, SYMBOL, "alice-2", Side.BUY, OrderType.STOP, qty=1000, stop_price=5_001_000),
    )
    yield (
        "alice market-buys 0.3 BTC: walks two levels, the stop fires",
        PlaceOrder(1, SYMBOL, "alice-3", Side.BUY, OrderType.MARKET, qty=3000),
    )
    yield (
        "alice retries alice-3 (same id, same params): the original comes back",
        PlaceOrder(1, SYMBOL, "alice-3", Side.BUY, OrderType.MARKET, qty=3000),
    )
    yield (
        "alice sells into her own bid: self-trade prevented",
        PlaceOrder(1, SYMBOL, "alice-4", Side.BUY, qty=1000, price=4_990_000),
    )
    yield "", Deposit(1, "BTC", BTC // 10, "w-3", "wallet")
    yield (
        "",
        PlaceOrder(
            1, SYMBOL, "alice-5", Side.SELL, qty=1000, price=4_990_000, stp=StpMode.EXPIRE_TAKER
        ),
    )
    yield "alice cancels alice-4", CancelOrder(1, SYMBOL, client_order_id="alice-4")


def describe(e: Event, engine: Engine) -> str:
    """One line per event, decimals as the wire shows them."""
    m = engine.markets.get(SYMBOL)
    fields: list[str] = []
    for name in e.__struct_fields__:
        v: Any = getattr(e, name)
        if isinstance(v, Enum):
            v = v.value
        elif m is not None and isinstance(v, int) and not isinstance(v, bool):
            if (
                name
                in (
                    "price",
                    "stop_price",
                    "last_price",
                    "reference_price",
                    "worst_price",
                    "protection_price",
                )
                and v
            ):
                v = format_steps(v, m.tick)
            elif name in (
                "qty",
                "remaining",
                "filled",
                "filled_qty",
                "maker_remaining",
                "taker_remaining",
            ):
                v = format_steps(v, m.lot)
            elif name in ("notional", "maker_fee", "taker_fee", "filled_notional", "quote_qty"):
                v = format_scaled(v, engine.assets[m.quote].decimals)
            elif name in ("available", "reserved", "delta_available", "delta_reserved", "amount"):
                asset = getattr(e, "asset", m.quote)
                v = format_scaled(v, engine.assets[asset].decimals)
        if name == "spec":
            v = f"{v.symbol} tick={v.tick} lot={v.lot}"
        fields.append(f"{name}={v}")
    return f"{type(e).__name__}({', '.join(fields)})"


def run_demo(echo: Any = print) -> str:
    engine = Engine()
    seq = 0
    for title, cmd in script():
        seq += 1
        if title:
            echo(f"\n# {title}")
        echo(f"> seq {seq}: {type(cmd).__name__}")
        for ev in engine.apply(seq, seq * 1_000_000, cmd):
            echo(f"    {describe(ev, engine)}")
    h = state_hash(engine)
    echo(f"\nstate hash after {seq} commands: {h}")
    return h
