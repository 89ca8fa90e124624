"""Commands: the only way into the core. Each is an immutable, typed record.

Prices are in ticks, quantities in lots, amounts in an asset's smallest units (all ``int``).
Gateways parse decimal strings into these before sequencing; the core validates them again.
The journal stores them msgpack-tagged in a versioned record (``wire.records.RECORD_VERSION``);
``core.codec`` gives their plain-data form with a schema version per type (``journal dump
--json``).
"""

from __future__ import annotations

from msgspec import Struct

from trade_engine.core.enums import OrderType, Side, StpMode, SymbolStatus, TimeInForce
from trade_engine.core.symbols import SymbolSpec


class PlaceOrder(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    user_id: int
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType = OrderType.LIMIT
    qty: int = 0  # lots; 0 only for a MARKET BUY by quote_qty
    price: int = 0  # ticks; LIMIT and STOP_LIMIT
    stop_price: int = 0  # ticks; STOP and STOP_LIMIT
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    stp: StpMode = StpMode.EXPIRE_TAKER
    quote_qty: int = 0  # quote smallest units; MARKET BUY spending at most this, fees included


class CancelOrder(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    """Cancel by engine ``order_id`` or by the user's ``client_order_id`` (one of them)."""

    user_id: int
    symbol: str
    order_id: int = 0
    client_order_id: str = ""


class AmendOrder(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    """Change price and/or total quantity of a resting order.

    ``new_qty`` is the new *total* quantity (as FIX OrderQty): it must stay above what has
    been filled. Lowering quantity at the same price keeps queue priority; anything else is a
    cancel + new that goes to the back of the queue (and may trade if the new price crosses).
    0 means "unchanged".
    """

    user_id: int
    symbol: str
    order_id: int = 0
    client_order_id: str = ""
    new_price: int = 0
    new_qty: int = 0


class MassCancel(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    """Cancel every open order (resting and pending stops) that matches all given filters.

    ``user_id`` 0 with an ``operator`` is an admin mass cancel over all users.
    """

    user_id: int = 0
    symbol: str = ""
    side: Side | None = None
    operator: str = ""


class Deposit(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    user_id: int
    asset: str
    amount: int
    transfer_id: str
    operator: str = ""


class Withdraw(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    user_id: int
    asset: str
    amount: int
    transfer_id: str
    operator: str = ""


class AddAsset(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    code: str
    decimals: int
    operator: str = ""


class AddSymbol(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    spec: SymbolSpec
    operator: str = ""


class UpdateSymbol(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    """Replace a symbol's parameters (same base and quote). Resting orders stay as they are."""

    spec: SymbolSpec
    operator: str = ""


class SetSymbolStatus(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    symbol: str
    status: SymbolStatus
    operator: str = ""


class SetFeeTier(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    """Per-user fee rates for all symbols (overriding the symbols' defaults).

    ``tier`` "" clears the override. Open orders keep the rates they were accepted with.
    """

    user_id: int
    tier: str
    maker_fee_ppm: int = 0
    taker_fee_ppm: int = 0
    operator: str = ""


class SetAccountFlags(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    """``market_maker``: the account is a registered market maker. ``stp_exempt``: its orders
    may trade with each other (self-trade prevention is off for it)."""

    user_id: int
    market_maker: bool = False
    stp_exempt: bool = False
    operator: str = ""


class SuspendUser(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    """Refuse the user's new orders; with ``cancel_orders`` (the kill switch) cancel all open."""

    user_id: int
    cancel_orders: bool = True
    operator: str = ""


class ResumeUser(Struct, frozen=True, gc=False, tag=True, omit_defaults=True):
    user_id: int
    operator: str = ""


Command = (
    PlaceOrder
    | CancelOrder
    | AmendOrder
    | MassCancel
    | Deposit
    | Withdraw
    | AddAsset
    | AddSymbol
    | UpdateSymbol
    | SetSymbolStatus
    | SetFeeTier
    | SetAccountFlags
    | SuspendUser
    | ResumeUser
)

COMMAND_TYPES: tuple[type, ...] = (
    PlaceOrder,
    CancelOrder,
    AmendOrder,
    MassCancel,
    Deposit,
    Withdraw,
    AddAsset,
    AddSymbol,
    UpdateSymbol,
    SetSymbolStatus,
    SetFeeTier,
    SetAccountFlags,
    SuspendUser,
    ResumeUser,
)
