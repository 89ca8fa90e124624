"""Stable reject reason codes. Clients key on these strings: never rename one, only add."""

from enum import StrEnum


class Reason(StrEnum):
    # command shape
    INVALID_COMMAND = "INVALID_COMMAND"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_ORDER_TYPE = "INVALID_ORDER_TYPE"
    INVALID_TIME_IN_FORCE = "INVALID_TIME_IN_FORCE"
    # symbol and grid
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    SYMBOL_EXISTS = "SYMBOL_EXISTS"
    ASSET_EXISTS = "ASSET_EXISTS"
    INVALID_SYMBOL_SPEC = "INVALID_SYMBOL_SPEC"
    SYMBOL_HALTED = "SYMBOL_HALTED"
    SYMBOL_CANCEL_ONLY = "SYMBOL_CANCEL_ONLY"
    PRICE_OFF_TICK = "PRICE_OFF_TICK"
    QTY_OFF_LOT = "QTY_OFF_LOT"
    QTY_BELOW_MIN = "QTY_BELOW_MIN"
    QTY_ABOVE_MAX = "QTY_ABOVE_MAX"
    NOTIONAL_BELOW_MIN = "NOTIONAL_BELOW_MIN"
    PRICE_OUT_OF_BAND = "PRICE_OUT_OF_BAND"
    STOP_WOULD_TRIGGER = "STOP_WOULD_TRIGGER"
    # accounts
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    USER_SUSPENDED = "USER_SUSPENDED"
    RESERVED_ACCOUNT = "RESERVED_ACCOUNT"
    TRANSFER_ID_CONFLICT = "TRANSFER_ID_CONFLICT"
    INVALID_FEE = "INVALID_FEE"
    # orders
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    NOT_OWNER = "NOT_OWNER"  # no longer produced: another user's order is UNKNOWN_ORDER
    DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
    ORDER_NOT_AMENDABLE = "ORDER_NOT_AMENDABLE"
    AMEND_QTY_TOO_LOW = "AMEND_QTY_TOO_LOW"
    AMEND_NO_CHANGE = "AMEND_NO_CHANGE"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
    NO_LIQUIDITY = "NO_LIQUIDITY"


class Rejection(Exception):
    """Raised by validation before any mutation; the engine turns it into a ``Rejected`` event."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
