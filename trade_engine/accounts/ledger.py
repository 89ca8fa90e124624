"""Accounts and balances. The engine mutates these fields directly on its hot path; this module
owns their shape and the operations that are not on the hot path."""

from __future__ import annotations

FEE_ACCOUNT = 0  # the exchange's fee account; no orders can be placed for it


class Balance:
    """One user's holding of one asset.

    ``mark``/``a0``/``r0`` are the engine's per-command scratch (not state): the command stamp
    that last touched the balance and the values it had then, so the engine can report each
    changed balance once per command without a dict of first-touch tuples.
    """

    __slots__ = ("a0", "asset", "available", "mark", "r0", "reserved", "user_id")

    def __init__(self, user_id: int, asset: str, available: int = 0, reserved: int = 0) -> None:
        self.user_id = user_id
        self.asset = asset
        self.available = available
        self.reserved = reserved
        self.mark = 0
        self.a0 = 0
        self.r0 = 0

    def __repr__(self) -> str:
        return f"Balance(u{self.user_id} {self.asset} avail={self.available} res={self.reserved})"


class Account:
    __slots__ = (
        "balances",
        "coids",
        "maker_ppm",
        "market_maker",
        "open_orders",
        "stp_exempt",
        "suspended",
        "taker_ppm",
        "tier",
        "user_id",
    )

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.balances: dict[str, Balance] = {}
        # open orders by id; values are matcher Orders (typed loosely to keep this package
        # free of matcher imports)
        self.open_orders: dict[int, object] = {}
        # client order id -> order, open or finished within the engine's 24 h memory
        self.coids: dict[str, object] = {}
        self.market_maker = False
        self.stp_exempt = False
        self.suspended = False
        self.tier = ""  # "" = symbol default fees
        self.maker_ppm = 0
        self.taker_ppm = 0

    def balance(self, asset: str) -> Balance:
        b = self.balances.get(asset)
        if b is None:
            b = self.balances[asset] = Balance(self.user_id, asset)
        return b


class Accounts:
    """All accounts plus the memory of applied external transfers (idempotency by id)."""

    __slots__ = ("by_user", "transfers")

    def __init__(self) -> None:
        self.by_user: dict[int, Account] = {}
        # transfer_id -> (kind, user_id, asset, amount); kept for good: wallet ids are unique
        self.transfers: dict[str, tuple[str, int, str, int]] = {}

    def get(self, user_id: int) -> Account:
        a = self.by_user.get(user_id)
        if a is None:
            a = self.by_user[user_id] = Account(user_id)
        return a

    def balance(self, user_id: int, asset: str) -> Balance:
        return self.get(user_id).balance(asset)

    def totals(self) -> dict[str, int]:
        """Sum of available + reserved per asset over every account (fee account included)."""
        out: dict[str, int] = {}
        for acct in self.by_user.values():
            for asset, b in acct.balances.items():
                out[asset] = out.get(asset, 0) + b.available + b.reserved
        return out
