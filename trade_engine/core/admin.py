"""Admin commands: assets, symbols and their status, fee tiers, account flags, suspension.

Off the hot path, so written for clarity. Each handler validates fully before its first
mutation (a ``Rejection`` changes nothing) and records the operator in its event.
"""

from __future__ import annotations

from typing import Final

import msgspec

from trade_engine.accounts.ledger import FEE_ACCOUNT, Account
from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    ResumeUser,
    SetAccountFlags,
    SetFeeTier,
    SetSymbolStatus,
    SuspendUser,
    UpdateSymbol,
)
from trade_engine.core.enums import EndReason, SymbolStatus
from trade_engine.core.events import (
    AccountFlagsSet,
    AssetAdded,
    FeeTierSet,
    SymbolDefined,
    SymbolStatusChanged,
    UserResumed,
    UserSuspended,
)
from trade_engine.core.limits import ASSET, SYMBOL
from trade_engine.core.numbers import DecimalError
from trade_engine.core.reasons import Reason, Rejection
from trade_engine.core.symbols import MAX_DECIMALS, Asset, Market, check_fee_rates
from trade_engine.matcher.book import OrderBook
from trade_engine.matcher.matching import Matcher

_TRADING: Final = SymbolStatus.TRADING
_HALTED: Final = SymbolStatus.HALTED


def add_asset(e: Matcher, c: AddAsset) -> None:
    if not c.code or type(c.code) is not str or len(c.code) > ASSET.max_len:
        raise Rejection(Reason.INVALID_COMMAND, f"asset code must be 1..{ASSET.max_len} characters")
    if c.code in e.assets:
        raise Rejection(Reason.ASSET_EXISTS, f"asset {c.code!r} exists")
    if type(c.decimals) is not int or not 0 <= c.decimals <= MAX_DECIMALS:
        raise Rejection(Reason.INVALID_COMMAND, f"decimals must be 0..{MAX_DECIMALS}")
    e.assets[c.code] = Asset(c.code, c.decimals)
    e.events.append(AssetAdded(c.code, c.decimals, c.operator))


def _build_market(e: Matcher, c: AddSymbol | UpdateSymbol) -> Market:
    spec = c.spec
    base = e.assets.get(spec.base)
    quote = e.assets.get(spec.quote)
    if base is None or quote is None:
        raise Rejection(Reason.UNKNOWN_ASSET, f"unknown asset in {spec.base}/{spec.quote}")
    if base == quote:
        raise Rejection(Reason.INVALID_SYMBOL_SPEC, "base and quote must differ")
    if not spec.symbol or len(spec.symbol) > SYMBOL.max_len:
        raise Rejection(
            Reason.INVALID_SYMBOL_SPEC, f"symbol name must be 1..{SYMBOL.max_len} characters"
        )
    if spec.status not in (_TRADING, _HALTED, SymbolStatus.CANCEL_ONLY):
        raise Rejection(Reason.INVALID_SYMBOL_SPEC, f"unknown status {spec.status!r}")
    try:
        return Market(spec, base, quote)
    except DecimalError as err:
        raise Rejection(err.reason, str(err)) from None


def add_symbol(e: Matcher, c: AddSymbol) -> None:
    if c.spec.symbol in e.markets:
        raise Rejection(Reason.SYMBOL_EXISTS, f"symbol {c.spec.symbol!r} exists")
    m = _build_market(e, c)
    e.markets[m.symbol] = m
    e.books[m.symbol] = OrderBook(m.symbol)
    e.events.append(SymbolDefined(c.spec, True, c.operator))


def update_symbol(e: Matcher, c: UpdateSymbol) -> None:
    old = e.markets.get(c.spec.symbol)
    if old is None:
        raise Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {c.spec.symbol!r}")
    m = _build_market(e, c)
    if (m.base, m.quote, m.tick, m.lot) != (old.base, old.quote, old.tick, old.lot):
        raise Rejection(
            Reason.INVALID_SYMBOL_SPEC,
            "base, quote, tick and lot cannot change (open orders are counted in them)",
        )
    # status changes go through SetSymbolStatus: keep the current one, and say so
    spec = msgspec.structs.replace(c.spec, status=old.status)
    m.spec = spec
    m.status = old.status
    m.last_price = old.last_price
    e.markets[m.symbol] = m
    e.events.append(SymbolDefined(spec, False, c.operator))


def set_symbol_status(e: Matcher, c: SetSymbolStatus) -> None:
    m = e.markets.get(c.symbol)
    if m is None:
        raise Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {c.symbol!r}")
    if c.status not in (_TRADING, _HALTED, SymbolStatus.CANCEL_ONLY):
        raise Rejection(Reason.INVALID_COMMAND, f"unknown status {c.status!r}")
    prev = m.status
    m.status = SymbolStatus(c.status)
    e.events.append(SymbolStatusChanged(c.symbol, m.status, prev, c.operator))


def _user_for_admin(e: Matcher, user_id: int) -> Account:
    if type(user_id) is not int or user_id <= FEE_ACCOUNT:
        raise Rejection(Reason.RESERVED_ACCOUNT, "user id must be > 0")
    return e.accounts.get(user_id)


def set_fee_tier(e: Matcher, c: SetFeeTier) -> None:
    if type(c.user_id) is not int or c.user_id <= FEE_ACCOUNT:
        raise Rejection(Reason.RESERVED_ACCOUNT, "user id must be > 0")
    if c.tier:
        try:
            check_fee_rates(c.maker_fee_ppm, c.taker_fee_ppm)
        except DecimalError as err:
            raise Rejection(err.reason, str(err)) from None
    acct = _user_for_admin(e, c.user_id)
    acct.tier = c.tier
    acct.maker_ppm = c.maker_fee_ppm if c.tier else 0
    acct.taker_ppm = c.taker_fee_ppm if c.tier else 0
    e.events.append(FeeTierSet(c.user_id, c.tier, acct.maker_ppm, acct.taker_ppm, c.operator))


def set_account_flags(e: Matcher, c: SetAccountFlags) -> None:
    acct = _user_for_admin(e, c.user_id)
    acct.market_maker = bool(c.market_maker)
    acct.stp_exempt = bool(c.stp_exempt)
    e.events.append(AccountFlagsSet(c.user_id, acct.market_maker, acct.stp_exempt, c.operator))


def suspend_user(e: Matcher, c: SuspendUser) -> None:
    acct = _user_for_admin(e, c.user_id)
    acct.suspended = True
    n = 0
    if c.cancel_orders:
        n = e.cancel_many(list(acct.open_orders.values()), "", None, EndReason.USER_SUSPENDED, True)
    e.events.append(UserSuspended(c.user_id, n, c.operator))


def resume_user(e: Matcher, c: ResumeUser) -> None:
    acct = _user_for_admin(e, c.user_id)
    acct.suspended = False
    e.events.append(UserResumed(c.user_id, c.operator))
