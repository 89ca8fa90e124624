"""Field limits of every command: the longest string and the largest integer each field takes.

One table, in the core's vocabulary, so that the door (``wire.records.check_command``, run
by the sequencer for every gateway before a command gets a seq), the core's own validation
and ``docs/protocol.md`` say the same. A command outside these limits is refused at the door
and never journaled: without them one client could journal megabytes per command (a 900 KB
symbol was written three times: the command, ``Rejected.symbol`` and the detail).

Strings: a maximum length and a character set (ASCII only). Empty strings pass here; where
a field must not be empty the core rejects it with a stable reason, as before.
Integers: every integer field fits msgpack's native 64-bit integers, except the amounts
(prices, quantities, transfer amounts), which may reach ``MAX_AMOUNT`` = 2**128 - 1 (about
3.4e38): an 18-decimal token up to 3.4e20 whole tokens, a 30-decimal asset (``MAX_DECIMALS``)
up to 3.4e8. Negative values stay what they were (within 64 bits; the core rejects them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Deposit,
    MassCancel,
    PlaceOrder,
    ResumeUser,
    SetAccountFlags,
    SetFeeTier,
    SetSymbolStatus,
    SuspendUser,
    UpdateSymbol,
    Withdraw,
)
from trade_engine.core.numbers import MAX_DECIMAL_CHARS
from trade_engine.core.symbols import SymbolSpec

MAX_AMOUNT: Final = 2**128 - 1
MIN_INT: Final = -(2**63)
MAX_INT: Final = 2**63 - 1  # ids, decimals, fee rates, bands: signed 64-bit


class FieldLimitError(ValueError):
    """A field outside its limit; ``field`` names it (``PlaceOrder.symbol``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Text:
    """A string field: at most ``max_len`` characters of ``charset`` (``pattern``)."""

    max_len: int
    charset: str  # for people (docs, error messages)
    pattern: re.Pattern[str]


# names are what books and balances are keyed by, and what people read
NAME_CHARS: Final = "A-Z a-z 0-9 . _ / -"
_NAME = re.compile(r"[A-Za-z0-9._/-]*")
# identifiers chosen by clients: printable ASCII without space (as FIX ClOrdID in practice)
ID_CHARS: Final = "printable ASCII except space (! to ~)"
_ID = re.compile(r"[!-~]*")
_DECIMAL_CHARS = re.compile(r"[0-9.]*")

SYMBOL: Final = Text(32, NAME_CHARS, _NAME)
ASSET: Final = Text(16, NAME_CHARS, _NAME)
CLIENT_ORDER_ID: Final = Text(64, ID_CHARS, _ID)
TRANSFER_ID: Final = Text(128, ID_CHARS, _ID)  # room for a chain tx hash + output index
OPERATOR: Final = Text(64, ID_CHARS, _ID)  # the gateway stamps it with the api_key
TIER: Final = Text(32, ID_CHARS, _ID)
DECIMAL: Final = Text(MAX_DECIMAL_CHARS, "0-9 and .", _DECIMAL_CHARS)  # symbol spec strings
# at logon (native/logon.py): the api_key ends up in the journal as an operator
API_KEY: Final = Text(64, ID_CHARS, _ID)
NONCE: Final = Text(128, ID_CHARS, _ID)
SIGNATURE: Final = Text(128, "hex digits", re.compile(r"[0-9A-Fa-f]*"))


def text_ok(value: str, limit: Text) -> bool:
    # length first: a long value must not cost a scan before it is refused
    if len(value) > limit.max_len or not value.isascii():
        return False
    if limit.pattern is _ID:
        # printable ASCII is 0x20..0x7e: three C scans are 2-3x faster than the regex
        return value.isprintable() and " " not in value
    if limit.pattern is _NAME:
        if value in _names_ok:  # a handful of symbols and assets, seen on every order
            return True
        if _NAME.fullmatch(value) is None:
            return False
        if len(_names_ok) >= 4096:
            _names_ok.clear()
        _names_ok.add(value)
        return True
    return limit.pattern.fullmatch(value) is not None


_names_ok: set[str] = set()


def check_text(field: str, value: str, limit: Text) -> None:
    """FieldLimitError unless ``value`` is within ``limit``."""
    if len(value) > limit.max_len:
        raise FieldLimitError(
            field, f"at most {limit.max_len} characters, got {len(value)} ({_show(value)})"
        )
    if not text_ok(value, limit):
        raise FieldLimitError(field, f"characters must be {limit.charset}, got {_show(value)}")


def _show(value: str) -> str:
    return repr(value[:24]) + ("..." if len(value) > 24 else "")


# ---------------------------------------------------------------- the table

AMOUNT: Final = "amount"  # 0 <= n <= MAX_AMOUNT (negatives within 64 bits)
INT: Final = "int"  # signed 64-bit
Limit = Text | str

SPEC_FIELDS: Final[dict[str, Limit]] = {
    "symbol": SYMBOL,
    "base": ASSET,
    "quote": ASSET,
    "tick": DECIMAL,
    "lot": DECIMAL,
    "min_qty": DECIMAL,
    "max_qty": DECIMAL,
    "min_notional": DECIMAL,
    "ref_price": DECIMAL,
    "band_bps": INT,
    "market_band_bps": INT,
    "maker_fee_ppm": INT,
    "taker_fee_ppm": INT,
}

# per command type, each field that is a string or an integer (enums and bools are typed);
# AddSymbol and UpdateSymbol also check their spec against SPEC_FIELDS
FIELDS: Final[dict[type, dict[str, Limit]]] = {
    PlaceOrder: {
        "user_id": INT,
        "symbol": SYMBOL,
        "client_order_id": CLIENT_ORDER_ID,
        "qty": AMOUNT,
        "price": AMOUNT,
        "stop_price": AMOUNT,
        "quote_qty": AMOUNT,
    },
    CancelOrder: {
        "user_id": INT,
        "symbol": SYMBOL,
        "order_id": INT,
        "client_order_id": CLIENT_ORDER_ID,
    },
    AmendOrder: {
        "user_id": INT,
        "symbol": SYMBOL,
        "order_id": INT,
        "client_order_id": CLIENT_ORDER_ID,
        "new_price": AMOUNT,
        "new_qty": AMOUNT,
    },
    MassCancel: {"user_id": INT, "symbol": SYMBOL, "operator": OPERATOR},
    Deposit: {
        "user_id": INT,
        "asset": ASSET,
        "amount": AMOUNT,
        "transfer_id": TRANSFER_ID,
        "operator": OPERATOR,
    },
    Withdraw: {
        "user_id": INT,
        "asset": ASSET,
        "amount": AMOUNT,
        "transfer_id": TRANSFER_ID,
        "operator": OPERATOR,
    },
    AddAsset: {"code": ASSET, "decimals": INT, "operator": OPERATOR},
    AddSymbol: {"operator": OPERATOR},
    UpdateSymbol: {"operator": OPERATOR},
    SetSymbolStatus: {"symbol": SYMBOL, "operator": OPERATOR},
    SetFeeTier: {
        "user_id": INT,
        "tier": TIER,
        "maker_fee_ppm": INT,
        "taker_fee_ppm": INT,
        "operator": OPERATOR,
    },
    SetAccountFlags: {"user_id": INT, "operator": OPERATOR},
    SuspendUser: {"user_id": INT, "operator": OPERATOR},
    ResumeUser: {"user_id": INT, "operator": OPERATOR},
}

# flattened for the per-command loop: (attribute, label, limit)
_Checks = tuple[tuple[str, str, Limit], ...]
_CHECKS: Final[dict[type, _Checks]] = {
    t: tuple((name, f"{t.__name__}.{name}", lim) for name, lim in fields.items())
    for t, fields in FIELDS.items()
}
_SPEC_CHECKS: Final = tuple((name, f"spec.{name}", lim) for name, lim in SPEC_FIELDS.items())


def check_fields(cmd: Any) -> None:
    """FieldLimitError naming the first field of ``cmd`` outside its limit.

    Runs at the door for every command: the two hot commands take a flat expression that
    only says yes (about 0.3 us); anything else, or a no, takes the table. A field of the
    wrong type is left to the caller's type check (``check_command``).
    """
    t = type(cmd)
    if t is PlaceOrder:
        try:
            if _place_ok(cmd):
                return
        except (TypeError, AttributeError):
            pass  # a field of the wrong type: the table below skips it
    elif t is CancelOrder:
        try:
            if _cancel_ok(cmd):
                return
        except (TypeError, AttributeError):
            pass
    checks = _CHECKS.get(t)
    if checks is None:
        return
    _check(cmd, checks, "")
    spec = getattr(cmd, "spec", None)
    if type(spec) is SymbolSpec:
        _check(spec, _SPEC_CHECKS, f"{t.__name__}.")


# the fast path of the two hot commands; tests/core/test_limits.py checks it agrees
_SYMBOL_LEN: Final = SYMBOL.max_len
_COID_LEN: Final = CLIENT_ORDER_ID.max_len


def _symbol_and_coid_ok(sym: str, coid: str) -> bool:
    return (
        len(sym) <= _SYMBOL_LEN
        and (sym in _names_ok or text_ok(sym, SYMBOL))
        and len(coid) <= _COID_LEN
        and coid.isascii()
        and coid.isprintable()
        and " " not in coid
    )


def _place_ok(c: PlaceOrder) -> bool:
    return (
        _symbol_and_coid_ok(c.symbol, c.client_order_id)
        and MIN_INT <= c.user_id <= MAX_INT
        and MIN_INT <= c.qty <= MAX_AMOUNT
        and MIN_INT <= c.price <= MAX_AMOUNT
        and MIN_INT <= c.stop_price <= MAX_AMOUNT
        and MIN_INT <= c.quote_qty <= MAX_AMOUNT
    )


def _cancel_ok(c: CancelOrder) -> bool:
    return (
        _symbol_and_coid_ok(c.symbol, c.client_order_id)
        and MIN_INT <= c.user_id <= MAX_INT
        and MIN_INT <= c.order_id <= MAX_INT
    )


def _check(obj: Any, checks: _Checks, prefix: str) -> None:
    for name, label, lim in checks:
        v = getattr(obj, name)
        t = type(v)
        if t is str:
            if isinstance(lim, Text) and not text_ok(v, lim):
                check_text(prefix + label, v, lim)
        elif t is int:
            if MIN_INT <= v <= MAX_INT or (lim is AMOUNT and 0 <= v <= MAX_AMOUNT):
                continue
            if lim is AMOUNT:
                raise FieldLimitError(prefix + label, f"at most 2**128 - 1, got {_magnitude(v)}")
            raise FieldLimitError(
                prefix + label, f"must fit a signed 64-bit integer, got {_magnitude(v)}"
            )


def _magnitude(v: int) -> str:
    bits = abs(v).bit_length()
    return str(v) if bits <= 140 else f"{'-' if v < 0 else ''}a {bits}-bit integer"
