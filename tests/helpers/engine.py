"""Test support: a harness that drives the engine and checks the core invariants."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeVar

from trade_engine.accounts.fees import buy_reserve
from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
    Withdraw,
)
from trade_engine.core.engine import Engine
from trade_engine.core.enums import OrderType, Side
from trade_engine.core.events import (
    Event,
    OrderAccepted,
    Rejected,
    Trade,
    TransferApplied,
)
from trade_engine.core.reasons import Reason
from trade_engine.core.state import export_state
from trade_engine.core.symbols import SymbolSpec

T = TypeVar("T")

SYMBOL = "BTC-USDT"
# BTC and USDT with 8 decimals; tick 0.01 USDT, lot 0.0001 BTC
# -> one tick x one lot = 100 USDT smallest units; one lot = 10,000 BTC smallest units
QU = 100
BPL = 10_000


def default_spec(**overrides: Any) -> SymbolSpec:
    kw: dict[str, Any] = dict(symbol=SYMBOL, base="BTC", quote="USDT", tick="0.01", lot="0.0001")
    kw.update(overrides)
    return SymbolSpec(**kw)


class Harness:
    """Owns an engine and a sequencer stand-in (seq += 1, ts += 1 ms per command)."""

    def __init__(self, spec: SymbolSpec | None = None, *, setup: bool = True) -> None:
        self.engine = Engine()
        self.seq = 0
        self.ts = 1_700_000_000_000_000_000
        self.log: list[tuple[int, Command, list[Event]]] = []
        self.net_transfers: dict[str, int] = defaultdict(int)  # deposits - withdrawals
        self._coid = 0
        if setup:
            self.do(AddAsset("BTC", 8))
            self.do(AddAsset("USDT", 8))
            self.do(AddSymbol(spec or default_spec()))

    # ---- driving
    def do(self, cmd: Command, *, advance_ns: int = 1_000_000) -> list[Event]:
        self.seq += 1
        self.ts += advance_ns
        events = self.engine.apply(self.seq, self.ts, cmd)
        self.log.append((self.seq, cmd, events))
        for e in events:
            if isinstance(e, TransferApplied) and not e.duplicate:
                sign = 1 if e.kind == "DEPOSIT" else -1
                self.net_transfers[e.asset] += sign * e.amount
        return events

    def fund(self, user: int, btc: int = 0, usdt: int = 0) -> None:
        """Deposit in smallest units."""
        if btc:
            self.do(Deposit(user, "BTC", btc, f"dep-{user}-BTC-{self.seq}"))
        if usdt:
            self.do(Deposit(user, "USDT", usdt, f"dep-{user}-USDT-{self.seq}"))

    def next_coid(self) -> str:
        self._coid += 1
        return f"o{self._coid}"

    def place(
        self,
        user: int,
        side: Side | str,
        qty: int,
        price: int = 0,
        *,
        order_type: OrderType = OrderType.LIMIT,
        coid: str | None = None,
        symbol: str = SYMBOL,
        **kw: Any,
    ) -> list[Event]:
        return self.do(
            PlaceOrder(
                user,
                symbol,
                coid or self.next_coid(),
                Side(side),
                order_type,
                qty=qty,
                price=price,
                **kw,
            )
        )

    def buy(self, user: int, qty: int, price: int = 0, **kw: Any) -> list[Event]:
        return self.place(user, Side.BUY, qty, price, **kw)

    def sell(self, user: int, qty: int, price: int = 0, **kw: Any) -> list[Event]:
        return self.place(user, Side.SELL, qty, price, **kw)

    def cancel(
        self, user: int, order_id: int = 0, coid: str = "", symbol: str = SYMBOL
    ) -> list[Event]:
        return self.do(CancelOrder(user, symbol, order_id=order_id, client_order_id=coid))

    def amend(self, user: int, order_id: int, new_price: int = 0, new_qty: int = 0) -> list[Event]:
        return self.do(
            AmendOrder(user, SYMBOL, order_id=order_id, new_price=new_price, new_qty=new_qty)
        )

    def withdraw(self, user: int, asset: str, amount: int, transfer_id: str) -> list[Event]:
        return self.do(Withdraw(user, asset, amount, transfer_id))

    # ---- reading
    def balance(self, user: int, asset: str) -> tuple[int, int]:
        """(available, reserved) in smallest units; (0, 0) if never touched."""
        acct = self.engine.accounts.by_user.get(user)
        b = acct.balances.get(asset) if acct else None
        return (b.available, b.reserved) if b else (0, 0)

    def depth(self, side: Side | str, symbol: str = SYMBOL) -> list[tuple[int, int, int]]:
        book = self.engine.books[symbol]
        return (book.bids if Side(side) is Side.BUY else book.asks).depth()

    def queue(self, side: Side | str, price: int, symbol: str = SYMBOL) -> list[int]:
        """Order ids resting at ``price`` in time priority."""
        book = self.engine.books[symbol]
        bs = book.bids if Side(side) is Side.BUY else book.asks
        lv = bs.levels.get(price)
        return [o.order_id for o in lv] if lv else []

    # ---- invariants
    def check_invariants(self) -> None:
        e = self.engine
        for symbol, book in e.books.items():
            assert not book.crossed(), f"{symbol} book crossed"
            m = e.markets[symbol]
            for bs in (book.bids, book.asks):
                for lv in bs.levels.values():
                    orders = list(lv)
                    assert orders, "empty level left in the book"
                    assert lv.qty == sum(o.remaining for o in orders)
                    assert lv.count == len(orders)
                    for o in orders:
                        assert o.price == lv.price and o.remaining > 0 and o.is_open
                        assert o.is_buy == bs.is_bid
                if bs.levels:
                    prices = sorted(bs.levels)
                    assert bs.best == (prices[-1] if bs.is_bid else prices[0])
                else:
                    assert bs.best == 0
            del m
        # conservation: every asset's total equals deposits - withdrawals
        totals = e.accounts.totals()
        for asset in set(totals) | set(self.net_transfers):
            assert totals.get(asset, 0) == self.net_transfers.get(asset, 0), asset
        # each balance's reserved = what its open orders hold; no negatives
        held: dict[tuple[int, str], int] = defaultdict(int)
        for o in e.orders.values():
            m = e.markets[o.symbol]
            held[(o.user_id, m.quote if o.is_buy else m.base)] += o.reserved
            if o.is_buy:
                assert o.reserved == buy_reserve(
                    o.limit, o.remaining, m.quote_per_tick_lot, o.taker_ppm
                )
            else:
                assert o.reserved == o.remaining * m.base_per_lot
        for uid, acct in e.accounts.by_user.items():
            for asset, b in acct.balances.items():
                assert b.available >= 0 and b.reserved >= 0, (uid, asset, b)
                assert b.reserved == held.get((uid, asset), 0), (uid, asset, b.reserved)


# what ``funded`` gives each user: 10 USDT and 0.01 BTC (100 lots)
U = 10**9
B = 1_000_000


def funded(*users: int, spec: SymbolSpec | None = None) -> Harness:
    """A harness on the default symbol (or ``spec``) with each user funded with U and B."""
    h = Harness(spec)
    for u in users:
        h.fund(u, btc=B, usdt=U)
    return h


def accepted_id(events: list[Event]) -> int:
    """The order id of the one OrderAccepted among ``events``."""
    return one(events, OrderAccepted).order_id


def of(events: list[Event], cls: type[T]) -> list[T]:
    return [e for e in events if isinstance(e, cls)]


def one(events: list[Event], cls: type[T]) -> T:
    found = of(events, cls)
    assert len(found) == 1, f"expected one {cls.__name__}, got {events}"
    return found[0]


def rejected(events: list[Event]) -> Rejected:
    return one(events, Rejected)


def trades(events: list[Event]) -> list[Trade]:
    return of(events, Trade)


def business_state(e: Engine) -> dict[str, Any]:
    """``export_state`` without the stamp of the last applied command: ``seq`` and ``ts`` move
    with every command, even a refused one."""
    d = export_state(e)
    del d["seq"], d["ts"]
    return d


def stateless(h: Harness) -> dict[str, Any]:
    """The harness engine's ``business_state``."""
    return business_state(h.engine)


def assert_refused(h: Harness, cmd: object, reason: Reason) -> Rejected:
    """``cmd`` yields exactly one Rejected, with ``reason``, and changes nothing."""
    before = stateless(h)
    ev = h.do(cmd)  # type: ignore[arg-type]
    assert len(ev) == 1, ev  # exactly one Rejected and nothing else
    r = rejected(ev)
    assert r.reason is reason, r
    assert stateless(h) == before
    return r
