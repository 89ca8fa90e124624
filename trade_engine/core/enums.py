"""Small closed vocabularies shared by commands, events and state.

They are ``StrEnum`` so that their wire and journal form is a stable, readable string.
"""

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP = "STOP"  # stop-market
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class StpMode(StrEnum):
    """Self-trade prevention: what happens when a taker meets a resting order of its own user."""

    EXPIRE_TAKER = "EXPIRE_TAKER"
    EXPIRE_MAKER = "EXPIRE_MAKER"
    EXPIRE_BOTH = "EXPIRE_BOTH"
    NONE = "NONE"


class SymbolStatus(StrEnum):
    TRADING = "TRADING"
    HALTED = "HALTED"  # nothing but queries; resting orders stay
    CANCEL_ONLY = "CANCEL_ONLY"  # cancels (and mass cancels) only


class OrderStatus(StrEnum):
    NEW = "NEW"  # resting, nothing filled
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    PENDING_TRIGGER = "PENDING_TRIGGER"  # a stop waiting in the trigger book


class EndReason(StrEnum):
    """Why an order left the book without being filled."""

    USER_CANCEL = "USER_CANCEL"
    MASS_CANCEL = "MASS_CANCEL"
    ADMIN_CANCEL = "ADMIN_CANCEL"
    USER_SUSPENDED = "USER_SUSPENDED"
    IOC_REMAINDER = "IOC_REMAINDER"
    FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
    NO_LIQUIDITY = "NO_LIQUIDITY"  # market order: nothing (more) inside the protection band
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    SELF_TRADE_PREVENTED = "SELF_TRADE_PREVENTED"
    QUOTE_BUDGET_EXHAUSTED = "QUOTE_BUDGET_EXHAUSTED"  # market buy by quote amount
