"""Deposits and withdrawals: journaled, idempotent by their external transfer id."""

from __future__ import annotations

from trade_engine.core.commands import Deposit, Withdraw
from trade_engine.core.events import TransferApplied
from trade_engine.core.reasons import Reason, Rejection
from trade_engine.matcher.matching import Matcher


def _transfer_seen(e: Matcher, kind: str, c: Deposit | Withdraw) -> bool:
    prior = e.accounts.transfers.get(c.transfer_id)
    if prior is None:
        return False
    if prior != (kind, c.user_id, c.asset, c.amount):
        raise Rejection(
            Reason.TRANSFER_ID_CONFLICT,
            f"transfer {c.transfer_id!r} was already applied with other parameters",
        )
    e.events.append(
        TransferApplied(kind, c.transfer_id, c.user_id, c.asset, c.amount, True, c.operator)
    )
    return True


def _check_transfer(e: Matcher, c: Deposit | Withdraw) -> None:
    if not c.transfer_id or type(c.transfer_id) is not str:
        raise Rejection(Reason.INVALID_COMMAND, "a transfer needs a transfer_id")
    if c.asset not in e.assets:
        raise Rejection(Reason.UNKNOWN_ASSET, f"unknown asset {c.asset!r}")
    if type(c.amount) is not int or c.amount <= 0:
        raise Rejection(Reason.INVALID_AMOUNT, "amount must be a positive integer")
    if type(c.user_id) is not int or c.user_id < 0:
        raise Rejection(Reason.INVALID_COMMAND, "user_id must be a non-negative integer")


def deposit(e: Matcher, c: Deposit) -> None:
    _check_transfer(e, c)
    if _transfer_seen(e, "DEPOSIT", c):
        return
    bal = e.accounts.balance(c.user_id, c.asset)
    e.touch(bal)
    bal.available += c.amount
    e.accounts.transfers[c.transfer_id] = ("DEPOSIT", c.user_id, c.asset, c.amount)
    e.events.append(
        TransferApplied("DEPOSIT", c.transfer_id, c.user_id, c.asset, c.amount, False, c.operator)
    )


def withdraw(e: Matcher, c: Withdraw) -> None:
    _check_transfer(e, c)
    if _transfer_seen(e, "WITHDRAWAL", c):
        return
    acct = e.accounts.by_user.get(c.user_id)
    bal = acct.balances.get(c.asset) if acct else None
    have = bal.available if bal else 0
    if bal is None or have < c.amount:
        raise Rejection(
            Reason.INSUFFICIENT_BALANCE,
            f"withdrawal of {e.amount_text(c.amount, c.asset)} exceeds the available "
            f"{e.amount_text(have, c.asset)}",
        )
    e.touch(bal)
    bal.available -= c.amount
    e.accounts.transfers[c.transfer_id] = ("WITHDRAWAL", c.user_id, c.asset, c.amount)
    e.events.append(
        TransferApplied(
            "WITHDRAWAL", c.transfer_id, c.user_id, c.asset, c.amount, False, c.operator
        )
    )
