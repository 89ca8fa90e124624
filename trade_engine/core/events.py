"""Events: everything the core has to say about one command, in order.

The sequencer tags a command's events with the command's seq; within a seq, list order is the
order things happened. Events are plain typed records (mutable only for speed of creation; the
core never changes one after returning it). Prices in ticks, quantities in lots, amounts in an
asset's smallest units.
"""

from __future__ import annotations

from msgspec import Struct

from trade_engine.core.enums import (
    EndReason,
    OrderStatus,
    OrderType,
    Side,
    StpMode,
    SymbolStatus,
    TimeInForce,
)
from trade_engine.core.reasons import Reason
from trade_engine.core.symbols import SymbolSpec


class OrderAccepted(Struct, gc=False, tag=True, omit_defaults=True):
    order_id: int
    user_id: int
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    stop_price: int
    quote_qty: int
    post_only: bool
    status: OrderStatus  # NEW, or PENDING_TRIGGER for a stop


class Rejected(Struct, gc=False, tag=True, omit_defaults=True):
    """A command was refused as a whole; nothing changed."""

    command: str  # the command's type name, e.g. "PlaceOrder"
    user_id: int
    reason: Reason
    detail: str
    symbol: str = ""
    client_order_id: str = ""
    order_id: int = 0


class Trade(Struct, gc=False, tag=True, omit_defaults=True):
    trade_id: int
    symbol: str
    price: int
    qty: int
    notional: int  # quote smallest units
    taker_side: Side
    maker_order_id: int
    maker_user_id: int
    taker_order_id: int
    taker_user_id: int
    maker_fee: int  # quote smallest units, paid to the fee account
    taker_fee: int
    maker_remaining: int  # lots left on each order after this trade
    taker_remaining: int


class OrderCancelled(Struct, gc=False, tag=True, omit_defaults=True):
    order_id: int
    user_id: int
    symbol: str
    client_order_id: str
    reason: EndReason
    remaining: int


class OrderExpired(Struct, gc=False, tag=True, omit_defaults=True):
    order_id: int
    user_id: int
    symbol: str
    client_order_id: str
    reason: EndReason
    remaining: int


class OrderAmended(Struct, gc=False, tag=True, omit_defaults=True):
    order_id: int
    user_id: int
    symbol: str
    client_order_id: str
    price: int
    qty: int  # new total quantity
    remaining: int
    kept_priority: bool


class StopTriggered(Struct, gc=False, tag=True, omit_defaults=True):
    order_id: int
    user_id: int
    symbol: str
    stop_price: int
    last_price: int


class SelfTradePrevented(Struct, gc=False, tag=True, omit_defaults=True):
    """Compliance record: the taker would have traded ``qty`` with the user's own maker."""

    symbol: str
    user_id: int
    taker_order_id: int
    maker_order_id: int
    mode: StpMode
    price: int
    qty: int


class MarketOrderReport(Struct, gc=False, tag=True, omit_defaults=True):
    """How a MARKET order went: filled against the best opposite price at its arrival.

    ``slippage_bps`` = (average fill price vs ``reference_price``) in whole basis points,
    rounded down, always >= 0 (worse for the taker).
    """

    order_id: int
    user_id: int
    symbol: str
    reference_price: int
    protection_price: int
    filled_qty: int
    filled_notional: int
    worst_price: int
    slippage_bps: int


class OrderStatusReport(Struct, gc=False, tag=True, omit_defaults=True):
    """An order's current state: the answer to a repeated ``client_order_id`` (duplicate=True)."""

    order_id: int
    user_id: int
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    status: OrderStatus
    price: int
    qty: int
    filled: int
    remaining: int
    duplicate: bool


class BalanceChanged(Struct, gc=False, tag=True, omit_defaults=True):
    """A balance's new value after the command, and how much it moved in this command."""

    user_id: int
    asset: str
    available: int
    reserved: int
    delta_available: int
    delta_reserved: int


class BookLevelChanged(Struct, gc=False, tag=True, omit_defaults=True):
    """A price level's new total after the command (qty 0: the level is gone)."""

    symbol: str
    side: Side
    price: int
    qty: int
    orders: int


class TransferApplied(Struct, gc=False, tag=True, omit_defaults=True):
    kind: str  # "DEPOSIT" or "WITHDRAWAL"
    transfer_id: str
    user_id: int
    asset: str
    amount: int
    duplicate: bool  # True: already applied earlier; nothing moved this time
    operator: str


class AssetAdded(Struct, gc=False, tag=True, omit_defaults=True):
    code: str
    decimals: int
    operator: str


class SymbolDefined(Struct, gc=False, tag=True, omit_defaults=True):
    spec: SymbolSpec
    created: bool
    operator: str


class SymbolStatusChanged(Struct, gc=False, tag=True, omit_defaults=True):
    symbol: str
    status: SymbolStatus
    previous: SymbolStatus
    operator: str


class FeeTierSet(Struct, gc=False, tag=True, omit_defaults=True):
    user_id: int
    tier: str
    maker_fee_ppm: int
    taker_fee_ppm: int
    operator: str


class AccountFlagsSet(Struct, gc=False, tag=True, omit_defaults=True):
    user_id: int
    market_maker: bool
    stp_exempt: bool
    operator: str


class UserSuspended(Struct, gc=False, tag=True, omit_defaults=True):
    user_id: int
    cancelled: int
    operator: str


class UserResumed(Struct, gc=False, tag=True, omit_defaults=True):
    user_id: int
    operator: str


class MassCancelled(Struct, gc=False, tag=True, omit_defaults=True):
    user_id: int
    symbol: str
    side: Side | None
    cancelled: int
    operator: str


Event = (
    OrderAccepted
    | Rejected
    | Trade
    | OrderCancelled
    | OrderExpired
    | OrderAmended
    | StopTriggered
    | SelfTradePrevented
    | MarketOrderReport
    | OrderStatusReport
    | BalanceChanged
    | BookLevelChanged
    | TransferApplied
    | AssetAdded
    | SymbolDefined
    | SymbolStatusChanged
    | FeeTierSet
    | AccountFlagsSet
    | UserSuspended
    | UserResumed
    | MassCancelled
)

EVENT_TYPES: tuple[type, ...] = (
    OrderAccepted,
    Rejected,
    Trade,
    OrderCancelled,
    OrderExpired,
    OrderAmended,
    StopTriggered,
    SelfTradePrevented,
    MarketOrderReport,
    OrderStatusReport,
    BalanceChanged,
    BookLevelChanged,
    TransferApplied,
    AssetAdded,
    SymbolDefined,
    SymbolStatusChanged,
    FeeTierSet,
    AccountFlagsSet,
    UserSuspended,
    UserResumed,
    MassCancelled,
)
