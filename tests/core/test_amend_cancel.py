"""Golden scenarios: amend, cancel, mass cancel, symbol status and the user kill switch.

Amend: ``new_qty`` is the new total; a decrease at the same price keeps queue priority, a
price change or an increase goes to the back (and may trade). One lot at P = 10_000 reserves
1_000_000 + 1_000 taker fee on the buy side and 10_000 BTC units on the sell side.
"""

from __future__ import annotations

from helpers.engine import (
    SYMBOL,
    B,
    Harness,
    U,
    accepted_id,
    default_spec,
    of,
    one,
    rejected,
    trades,
)

from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Deposit,
    MassCancel,
    ResumeUser,
    SetSymbolStatus,
    SuspendUser,
    UpdateSymbol,
)
from trade_engine.core.enums import EndReason, OrderStatus, OrderType, Side, SymbolStatus
from trade_engine.core.events import (
    BalanceChanged,
    BookLevelChanged,
    MassCancelled,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    UserResumed,
    UserSuspended,
)
from trade_engine.core.reasons import Reason

P = 10_000
ETH = "ETH-USDT"
LOT = 1_001_000  # one lot at P, reserved by a buy: 1_000_000 + 1_000

oid = accepted_id


def make(*users: int, eth: bool = False) -> Harness:
    h = Harness()
    if eth:
        h.do(AddAsset("ETH", 8))
        h.do(AddSymbol(default_spec(symbol=ETH, base="ETH")))
    for u in users:
        h.fund(u, btc=B, usdt=U)
        if eth:
            h.do(Deposit(u, "ETH", B, f"eth-{u}"))
    return h


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def cancelled(events: list) -> list[tuple[int, EndReason, int]]:
    return [(e.order_id, e.reason, e.remaining) for e in of(events, OrderCancelled)]


def snapshot(h: Harness) -> tuple:
    e = h.engine
    return (
        {
            (u, a): (b.available, b.reserved)
            for u, acct in e.accounts.by_user.items()
            for a, b in acct.balances.items()
        },
        {s: (h.depth(Side.BUY, s), h.depth(Side.SELL, s)) for s in e.books},
        {s: {p: h.queue(Side.BUY, p, s) for p in e.books[s].bids.levels} for s in e.books},
        {s: {p: h.queue(Side.SELL, p, s) for p in e.books[s].asks.levels} for s in e.books},
        sorted(e.orders),
        {i: (o.qty, o.remaining, o.price, o.status) for i, o in e.orders.items()},
        e.next_order_id,
        e.next_trade_id,
    )


def three_bids(h: Harness) -> tuple[int, int, int]:
    """Users 1, 2, 3 each bid 10 lots at P, in that order."""
    return oid(h.buy(1, 10, P, coid="a")), oid(h.buy(2, 10, P)), oid(h.buy(3, 10, P))


# ---------------------------------------------------------------- amend


def test_amend_qty_decrease_keeps_priority_and_releases_funds() -> None:
    h = make(1, 2, 3)
    a, b, c = three_bids(h)
    ev = h.amend(1, a, new_qty=4)
    assert ev == [
        OrderAmended(
            order_id=a,
            user_id=1,
            symbol=SYMBOL,
            client_order_id="a",
            price=P,
            qty=4,
            remaining=4,
            kept_priority=True,
        ),
        BalanceChanged(
            user_id=1,
            asset="USDT",
            available=U - 4 * LOT,
            reserved=4 * LOT,
            delta_available=6 * LOT,
            delta_reserved=-6 * LOT,
        ),
        BookLevelChanged(symbol=SYMBOL, side=Side.BUY, price=P, qty=24, orders=3),
    ]
    assert h.queue(Side.BUY, P) == [a, b, c]
    # still first: a seller fills a before b
    ev = h.sell(2, 4, P)
    assert [t.maker_order_id for t in trades(ev)] == [a]
    h.check_invariants()


def test_amend_qty_increase_goes_to_the_back_of_the_queue() -> None:
    h = make(1, 2, 3)
    a, b, c = three_bids(h)
    ev = h.amend(1, a, new_qty=12)
    am = one(ev, OrderAmended)
    assert (am.qty, am.remaining, am.kept_priority) == (12, 12, False)
    assert h.queue(Side.BUY, P) == [b, c, a]
    assert h.depth(Side.BUY) == [(P, 32, 3)]
    assert h.balance(1, "USDT") == (U - 12 * LOT, 12 * LOT)
    h.check_invariants()


def test_amend_price_change_loses_priority_even_when_moved_back() -> None:
    h = make(1, 2, 3)
    a, b, c = three_bids(h)
    ev = h.amend(1, a, new_price=P - 100)
    am = one(ev, OrderAmended)
    assert (am.price, am.qty, am.kept_priority) == (P - 100, 10, False)
    assert h.queue(Side.BUY, P) == [b, c]
    assert h.queue(Side.BUY, P - 100) == [a]
    # 10 x 9_900 x 100 = 9_900_000 + 9_900
    assert h.balance(1, "USDT") == (U - 9_909_900, 9_909_900)
    levels = {(e.price, e.qty, e.orders) for e in of(ev, BookLevelChanged)}
    assert levels == {(P, 20, 2), (P - 100, 10, 1)}
    h.amend(1, a, new_price=P)
    assert h.queue(Side.BUY, P) == [b, c, a]
    assert h.depth(Side.BUY) == [(P, 30, 3)]
    assert h.balance(1, "USDT") == (U - 10 * LOT, 10 * LOT)
    h.check_invariants()


def test_amend_qty_decrease_of_partially_filled_order_keeps_priority() -> None:
    h = make(1, 2, 3)
    a = oid(h.buy(1, 10, P))
    b = oid(h.buy(2, 10, P))
    h.sell(3, 4, P)  # fills 4 of a
    ev = h.amend(1, a, new_qty=8)
    am = one(ev, OrderAmended)
    assert (am.qty, am.remaining, am.kept_priority) == (8, 4, True)
    assert h.queue(Side.BUY, P) == [a, b]
    assert h.depth(Side.BUY) == [(P, 14, 2)]
    # paid as maker: 4_000_000 + 2_000 maker fee; keeps 4 lots reserved
    assert h.balance(1, "USDT") == (U - 4_002_000 - 4 * LOT, 4 * LOT)
    assert h.engine.orders[a].status is OrderStatus.PARTIALLY_FILLED
    h.check_invariants()


def test_amend_to_or_below_the_filled_qty_is_refused() -> None:
    h = make(1, 3)
    a = oid(h.buy(1, 10, P))
    h.sell(3, 4, P)
    before = snapshot(h)
    for q in (4, 3):
        ev = h.amend(1, a, new_qty=q)
        assert len(ev) == 1
        r = rejected(ev)
        assert (r.command, r.reason, r.order_id) == ("AmendOrder", Reason.AMEND_QTY_TOO_LOW, a)
    assert snapshot(h) == before
    h.check_invariants()


def test_amend_with_nothing_to_change_is_refused() -> None:
    h = make(1)
    a = oid(h.buy(1, 10, P))
    before = snapshot(h)
    assert rejected(h.amend(1, a, new_price=P, new_qty=10)).reason is Reason.AMEND_NO_CHANGE
    assert rejected(h.amend(1, a)).reason is Reason.AMEND_NO_CHANGE
    assert snapshot(h) == before
    h.check_invariants()


def test_amend_price_that_crosses_trades_at_once_then_rests_the_rest() -> None:
    h = make(1, 2)
    a = oid(h.buy(1, 10, 9_900))
    x = oid(h.sell(2, 5, P))
    ev = h.amend(1, a, new_price=P)
    assert kinds(ev)[:2] == ["OrderAmended", "Trade"]
    assert ev[0].kept_priority is False
    t = trades(ev)[0]
    assert (t.price, t.qty, t.maker_order_id, t.taker_order_id, t.taker_side) == (
        P,
        5,
        x,
        a,
        Side.BUY,
    )
    assert (t.taker_fee, t.maker_fee, t.taker_remaining) == (5_000, 2_500, 5)
    assert h.depth(Side.BUY) == [(P, 5, 1)]
    assert h.depth(Side.SELL) == []
    assert h.engine.orders[a].status is OrderStatus.PARTIALLY_FILLED
    assert h.balance(1, "USDT") == (U - 10 * LOT, 5 * LOT)
    assert h.balance(1, "BTC") == (B + 50_000, 0)
    h.check_invariants()


def test_amend_needing_more_than_available_is_refused() -> None:
    h = Harness()
    h.fund(1, usdt=11 * LOT - 1)
    a = oid(h.buy(1, 10, P))  # LOT - 1 left available
    before = snapshot(h)
    # 11 lots need LOT more; 10 lots at 11_000 need 11_000_000 + 11_000 = 10 x LOT + LOT
    for ev in (h.amend(1, a, new_qty=11), h.amend(1, a, new_price=11_000)):
        assert rejected(ev).reason is Reason.INSUFFICIENT_BALANCE
    assert snapshot(h) == before
    h.fund(1, usdt=1)  # now exactly enough
    assert one(h.amend(1, a, new_qty=11), OrderAmended).qty == 11
    assert h.balance(1, "USDT") == (0, 11 * LOT)
    h.check_invariants()


def test_sell_amend_qty_increase_reserves_more_base() -> None:
    h = make(1, 2)
    s = oid(h.sell(1, 5, P))
    t = oid(h.sell(2, 5, P))
    h.amend(1, s, new_qty=7)
    assert h.balance(1, "BTC") == (B - 70_000, 70_000)
    assert h.queue(Side.SELL, P) == [t, s]
    h.amend(1, s, new_qty=6)  # decrease now: keeps its (new) place
    assert h.queue(Side.SELL, P) == [t, s]
    assert h.balance(1, "BTC") == (B - 60_000, 60_000)
    h.check_invariants()


def test_post_only_amend_that_would_cross_is_refused() -> None:
    h = make(1, 2)
    a = oid(h.buy(1, 10, 9_900, post_only=True))
    h.sell(2, 5, P)
    before = snapshot(h)
    ev = h.amend(1, a, new_price=P)
    assert rejected(ev).reason is Reason.POST_ONLY_WOULD_TAKE
    assert snapshot(h) == before
    # non-crossing price change and a decrease are fine
    assert one(h.amend(1, a, new_price=P - 1), OrderAmended).kept_priority is False
    assert one(h.amend(1, a, new_qty=3), OrderAmended).kept_priority is True
    assert h.depth(Side.BUY) == [(P - 1, 3, 1)]
    h.check_invariants()


def test_amend_someone_elses_or_unknown_or_filled_order_is_refused() -> None:
    h = make(1, 2)
    a = oid(h.buy(1, 10, P))
    f = oid(h.sell(2, 1, P + 100))
    assert trades(h.buy(1, 1, P + 100))[0].maker_order_id == f  # f is filled
    before = snapshot(h)
    # another user's order is answered exactly like an id that does not exist (issue 8 #6):
    # a user cannot learn which order ids exist
    r = rejected(h.amend(2, a, new_qty=5))
    assert (r.reason, r.user_id, r.order_id) == (Reason.UNKNOWN_ORDER, 2, a)
    unknown = rejected(h.amend(2, 999, new_qty=5))
    assert (unknown.reason, unknown.detail) == (r.reason, r.detail)
    assert rejected(h.amend(1, 999, new_qty=5)).reason is Reason.UNKNOWN_ORDER
    assert rejected(h.amend(2, f, new_qty=5)).reason is Reason.UNKNOWN_ORDER
    assert snapshot(h) == before
    h.check_invariants()


def test_amend_by_client_order_id() -> None:
    h = make(1, 2)
    a = oid(h.buy(1, 10, P, coid="mine"))
    ev = h.do(AmendOrder(1, SYMBOL, client_order_id="mine", new_qty=2))
    am = one(ev, OrderAmended)
    assert (am.order_id, am.client_order_id, am.qty, am.kept_priority) == (a, "mine", 2, True)
    # another user's client id space is separate
    ev = h.do(AmendOrder(2, SYMBOL, client_order_id="mine", new_qty=1))
    assert rejected(ev).reason is Reason.UNKNOWN_ORDER
    h.check_invariants()


def test_amend_qty_increase_of_a_lone_order_emits_one_level_change() -> None:
    h = make(1)
    a = oid(h.buy(1, 10, P))
    ev = h.amend(1, a, new_qty=12)
    assert of(ev, BookLevelChanged) == [
        BookLevelChanged(symbol=SYMBOL, side=Side.BUY, price=P, qty=12, orders=1)
    ]


# ---------------------------------------------------------------- cancel


def test_cancel_by_order_id_releases_and_removes_the_level() -> None:
    h = make(1)
    a = oid(h.buy(1, 10, P, coid="c1"))
    ev = h.cancel(1, a)
    assert ev == [
        OrderCancelled(
            order_id=a,
            user_id=1,
            symbol=SYMBOL,
            client_order_id="c1",
            reason=EndReason.USER_CANCEL,
            remaining=10,
        ),
        BalanceChanged(
            user_id=1,
            asset="USDT",
            available=U,
            reserved=0,
            delta_available=10 * LOT,
            delta_reserved=-10 * LOT,
        ),
        BookLevelChanged(symbol=SYMBOL, side=Side.BUY, price=P, qty=0, orders=0),
    ]
    assert h.depth(Side.BUY) == []
    assert h.engine.orders == {}
    h.check_invariants()


def test_cancel_by_client_order_id() -> None:
    h = make(1)
    a = oid(h.sell(1, 3, P, coid="sell-1"))
    ev = h.cancel(1, coid="sell-1")
    assert cancelled(ev) == [(a, EndReason.USER_CANCEL, 3)]
    assert h.balance(1, "BTC") == (B, 0)
    h.check_invariants()


def test_cancel_from_the_middle_of_the_queue_keeps_the_others_in_order() -> None:
    h = make(1, 2, 3, 4)
    a, b, c = three_bids(h)
    h.cancel(2, b)
    assert h.queue(Side.BUY, P) == [a, c]
    assert h.depth(Side.BUY) == [(P, 20, 2)]
    ev = h.sell(4, 15, P)
    assert [(t.maker_order_id, t.qty) for t in trades(ev)] == [(a, 10), (c, 5)]
    h.check_invariants()


def test_cancel_partially_filled_order_reports_its_remainder() -> None:
    h = make(1, 2)
    a = oid(h.buy(1, 10, P))
    h.sell(2, 4, P)
    ev = h.cancel(1, a)
    assert cancelled(ev) == [(a, EndReason.USER_CANCEL, 6)]
    assert h.balance(1, "USDT") == (U - 4_002_000, 0)  # 4 lots as maker: 4_000_000 + 2_000
    assert h.balance(1, "BTC") == (B + 40_000, 0)
    h.check_invariants()


def test_cancel_refusals_change_nothing() -> None:
    h = make(1, 2, eth=True)
    a = oid(h.buy(1, 10, P, coid="open"))
    f = oid(h.sell(2, 1, P, coid="gone"))  # fills against a right away
    assert f not in h.engine.orders
    x = oid(h.buy(1, 1, P - 500, coid="x"))
    h.cancel(1, x)
    before = snapshot(h)
    cases = [
        (h.cancel(2, a), Reason.UNKNOWN_ORDER),  # another user's: as if unknown
        (h.cancel(1, 999), Reason.UNKNOWN_ORDER),
        (h.cancel(1, coid="nope"), Reason.UNKNOWN_ORDER),
        (h.cancel(2, f), Reason.UNKNOWN_ORDER),  # already filled
        (h.cancel(2, coid="gone"), Reason.UNKNOWN_ORDER),
        (h.cancel(1, x), Reason.UNKNOWN_ORDER),  # already cancelled
        (h.cancel(1, a, symbol=ETH), Reason.UNKNOWN_ORDER),  # wrong symbol
        (h.cancel(2, coid="open"), Reason.UNKNOWN_ORDER),  # client ids are per user
        (h.cancel(1, a, symbol="XRP-USDT"), Reason.UNKNOWN_SYMBOL),
        (h.cancel(1), Reason.INVALID_COMMAND),  # neither id given
    ]
    for ev, reason in cases:
        assert len(ev) == 1
        assert rejected(ev).reason is reason, (ev, reason)
    # same detail text too: nothing tells another user's order from one that does not exist
    assert rejected(cases[0][0]).detail == rejected(cases[1][0]).detail
    assert snapshot(h) == before
    h.check_invariants()


# ---------------------------------------------------------------- mass cancel


def _spread(h: Harness) -> dict[str, int]:
    """User 1: BTC bid, BTC ask, BTC pending stop, ETH bid; user 2: BTC bid."""
    return {
        "bid": oid(h.buy(1, 2, P - 100)),
        "ask": oid(h.sell(1, 3, P + 100)),
        "stop": oid(h.buy(1, 1, order_type=OrderType.STOP, stop_price=P + 500)),
        "eth": oid(h.buy(1, 4, P, symbol=ETH)),
        "other": oid(h.buy(2, 5, P - 100)),
    }


def test_mass_cancel_all_of_a_users_orders() -> None:
    h = make(1, 2, eth=True)
    o = _spread(h)
    ev = h.do(MassCancel(user_id=1))
    assert cancelled(ev) == [
        (o["bid"], EndReason.MASS_CANCEL, 2),
        (o["ask"], EndReason.MASS_CANCEL, 3),
        (o["stop"], EndReason.MASS_CANCEL, 1),
        (o["eth"], EndReason.MASS_CANCEL, 4),
    ]
    assert one(ev, MassCancelled) == MassCancelled(
        user_id=1, symbol="", side=None, cancelled=4, operator=""
    )
    assert h.balance(1, "USDT") == (U, 0) and h.balance(1, "BTC") == (B, 0)
    assert sorted(h.engine.orders) == [o["other"]]
    assert h.queue(Side.BUY, P - 100) == [o["other"]]
    h.check_invariants()


def test_mass_cancel_one_symbol_of_a_user() -> None:
    h = make(1, 2, eth=True)
    o = _spread(h)
    ev = h.do(MassCancel(user_id=1, symbol=ETH))
    assert cancelled(ev) == [(o["eth"], EndReason.MASS_CANCEL, 4)]
    assert one(ev, MassCancelled).cancelled == 1
    assert sorted(h.engine.orders) == [o["bid"], o["ask"], o["stop"], o["other"]]
    h.check_invariants()


def test_mass_cancel_one_side_of_a_symbol() -> None:
    h = make(1, 2, eth=True)
    o = _spread(h)
    ev = h.do(MassCancel(user_id=1, symbol=SYMBOL, side=Side.BUY))
    assert cancelled(ev) == [
        (o["bid"], EndReason.MASS_CANCEL, 2),
        (o["stop"], EndReason.MASS_CANCEL, 1),
    ]
    assert sorted(h.engine.orders) == [o["ask"], o["eth"], o["other"]]
    ev = h.do(MassCancel(user_id=1, side=Side.SELL))
    assert cancelled(ev) == [(o["ask"], EndReason.MASS_CANCEL, 3)]
    h.check_invariants()


def test_operator_mass_cancel_of_a_symbol_for_all_users() -> None:
    h = make(1, 2, eth=True)
    o = _spread(h)
    ev = h.do(MassCancel(user_id=0, symbol=SYMBOL, operator="alice"))
    assert cancelled(ev) == [
        (o["bid"], EndReason.ADMIN_CANCEL, 2),
        (o["ask"], EndReason.ADMIN_CANCEL, 3),
        (o["stop"], EndReason.ADMIN_CANCEL, 1),
        (o["other"], EndReason.ADMIN_CANCEL, 5),
    ]
    assert one(ev, MassCancelled) == MassCancelled(
        user_id=0, symbol=SYMBOL, side=None, cancelled=4, operator="alice"
    )
    assert h.depth(Side.BUY) == [] and h.depth(Side.SELL) == []
    assert sorted(h.engine.orders) == [o["eth"]]
    h.check_invariants()


def test_mass_cancel_over_all_users_needs_an_operator() -> None:
    h = make(1, 2, eth=True)
    _spread(h)
    before = snapshot(h)
    ev = h.do(MassCancel(user_id=0, symbol=SYMBOL))
    assert rejected(ev).reason is Reason.INVALID_COMMAND
    assert rejected(h.do(MassCancel(user_id=1, symbol="NOPE"))).reason is Reason.UNKNOWN_SYMBOL
    assert snapshot(h) == before
    ev = h.do(MassCancel(user_id=3))
    assert ev == [MassCancelled(user_id=3, symbol="", side=None, cancelled=0, operator="")]
    h.check_invariants()


# ---------------------------------------------------------------- symbol status


def test_halted_symbol_refuses_everything_from_users_and_freezes_the_book() -> None:
    h = make(1, 2, eth=True)
    o = _spread(h)
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.HALTED, operator="ops"))
    before = snapshot(h)
    for ev in (
        h.buy(2, 1, P + 100),
        h.cancel(1, o["bid"]),
        h.cancel(1, coid="x"),
        h.amend(1, o["bid"], new_qty=1),
        h.do(MassCancel(user_id=1, symbol=SYMBOL)),
    ):
        assert len(ev) == 1
        assert rejected(ev).reason is Reason.SYMBOL_HALTED
    assert snapshot(h) == before
    # a user-wide mass cancel leaves the halted symbol alone
    ev = h.do(MassCancel(user_id=1))
    assert cancelled(ev) == [(o["eth"], EndReason.MASS_CANCEL, 4)]
    assert one(ev, MassCancelled).cancelled == 1
    # the operator's mass cancel works in every status
    ev = h.do(MassCancel(user_id=0, symbol=SYMBOL, operator="ops"))
    assert [c[0] for c in cancelled(ev)] == [o["bid"], o["ask"], o["stop"], o["other"]]
    assert h.engine.orders == {}
    h.check_invariants()


def test_cancel_only_symbol_takes_cancels_but_no_new_orders_or_amends() -> None:
    h = make(1, 2, eth=True)
    o = _spread(h)
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.CANCEL_ONLY))
    before = snapshot(h)
    for ev in (h.buy(2, 1, P - 200), h.amend(1, o["bid"], new_qty=1)):
        assert rejected(ev).reason is Reason.SYMBOL_CANCEL_ONLY
    assert snapshot(h) == before
    assert cancelled(h.cancel(1, o["bid"])) == [(o["bid"], EndReason.USER_CANCEL, 2)]
    ev = h.do(MassCancel(user_id=2, symbol=SYMBOL))
    assert cancelled(ev) == [(o["other"], EndReason.MASS_CANCEL, 5)]
    # the other symbol is unaffected
    assert one(h.buy(2, 1, P - 200, symbol=ETH), OrderAccepted).symbol == ETH
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.TRADING))
    assert one(h.buy(2, 1, P - 200), OrderAccepted).order_id == 7
    h.check_invariants()


# ---------------------------------------------------------------- suspend / kill switch


def test_suspend_user_kill_switch_cancels_every_open_order() -> None:
    h = make(1, 2, eth=True)
    o = _spread(h)
    ev = h.do(SuspendUser(1, operator="risk"))
    assert cancelled(ev) == [
        (o["bid"], EndReason.USER_SUSPENDED, 2),
        (o["ask"], EndReason.USER_SUSPENDED, 3),
        (o["stop"], EndReason.USER_SUSPENDED, 1),
        (o["eth"], EndReason.USER_SUSPENDED, 4),
    ]
    assert one(ev, UserSuspended) == UserSuspended(user_id=1, cancelled=4, operator="risk")
    assert h.balance(1, "USDT") == (U, 0) and h.balance(1, "BTC") == (B, 0)
    assert sorted(h.engine.orders) == [o["other"]]
    before = snapshot(h)
    ev = h.buy(1, 1, P - 300)
    assert len(ev) == 1 and rejected(ev).reason is Reason.USER_SUSPENDED
    assert snapshot(h) == before
    h.check_invariants()


def test_suspend_without_cancel_keeps_orders_refuses_new_and_amend_allows_cancel() -> None:
    h = make(1, 2)
    a = oid(h.buy(1, 5, P))
    b = oid(h.buy(1, 5, P - 100))
    ev = h.do(SuspendUser(1, cancel_orders=False))
    assert ev == [UserSuspended(user_id=1, cancelled=0, operator="")]
    assert h.queue(Side.BUY, P) == [a]
    before = snapshot(h)
    assert rejected(h.buy(1, 1, P - 300)).reason is Reason.USER_SUSPENDED
    assert rejected(h.amend(1, a, new_qty=1)).reason is Reason.USER_SUSPENDED
    assert snapshot(h) == before
    # resting orders still trade, and the user may still cancel
    ev = h.sell(2, 2, P)
    assert [t.maker_order_id for t in trades(ev)] == [a]
    assert cancelled(h.cancel(1, b)) == [(b, EndReason.USER_CANCEL, 5)]
    assert h.do(ResumeUser(1, operator="risk")) == [UserResumed(user_id=1, operator="risk")]
    assert one(h.buy(1, 1, P - 300), OrderAccepted).user_id == 1
    h.check_invariants()


def test_cancel_order_command_by_client_id_for_a_pending_stop() -> None:
    h = make(1)
    s = oid(h.sell(1, 2, order_type=OrderType.STOP, stop_price=P - 500, coid="sl"))
    ev = h.do(CancelOrder(1, SYMBOL, client_order_id="sl"))
    assert cancelled(ev) == [(s, EndReason.USER_CANCEL, 2)]
    assert h.balance(1, "BTC") == (B, 0)
    h.check_invariants()


# ---------------------------------------------------------------- ids that name the order


def test_another_users_order_is_answered_like_an_unknown_id_everywhere() -> None:
    """Issue 8 #6: cancel and amend by id of another user's open order give the same Rejected
    (reason and detail) as an id that never existed; the order is untouched."""
    h = make(1, 2)
    a = oid(h.buy(1, 10, P))
    before = snapshot(h)
    for cmd in (
        CancelOrder(2, SYMBOL, order_id=a),
        AmendOrder(2, SYMBOL, order_id=a, new_qty=5),
        AmendOrder(2, SYMBOL, order_id=a, new_price=P - 1),
    ):
        theirs = rejected(h.do(cmd))
        missing = rejected(h.do(type(cmd)(**{**_fields(cmd), "order_id": 999})))
        assert (theirs.reason, theirs.detail) == (Reason.UNKNOWN_ORDER, missing.detail)
        assert missing.reason is Reason.UNKNOWN_ORDER
    assert snapshot(h) == before
    # the operator's paths still reach every order
    ev = h.do(MassCancel(0, SYMBOL, operator="ops"))
    assert cancelled(ev) == [(a, EndReason.ADMIN_CANCEL, 10)]
    h.check_invariants()


def _fields(cmd: object) -> dict:
    return {f: getattr(cmd, f) for f in type(cmd).__struct_fields__}  # type: ignore[attr-defined]


def test_both_ids_given_must_name_the_same_order() -> None:
    """Issue 8 #17: order_id and client_order_id together must agree; a mismatched pair is
    refused INVALID_COMMAND (and changes nothing) instead of acting on the order_id."""
    h = make(1, 2)
    a = oid(h.buy(1, 10, P, coid="ca"))
    b = oid(h.buy(1, 10, P - 1, coid="cb"))
    other = oid(h.buy(2, 10, P - 2, coid="ca"))  # user 2's "ca" is another order
    before = snapshot(h)
    for ev in (
        h.do(CancelOrder(1, SYMBOL, order_id=a, client_order_id="cb")),
        h.do(CancelOrder(1, SYMBOL, order_id=a, client_order_id="unknown")),
        h.do(CancelOrder(1, SYMBOL, order_id=999, client_order_id="ca")),
        h.do(CancelOrder(1, SYMBOL, order_id=other, client_order_id="ca")),
        h.do(AmendOrder(1, SYMBOL, order_id=b, client_order_id="ca", new_qty=5)),
    ):
        assert len(ev) == 1
        r = rejected(ev)
        assert r.reason is Reason.INVALID_COMMAND, r
        assert "name different orders" in r.detail
    # another user's id with one's own client id is refused exactly as an unknown id is
    r1 = rejected(h.do(CancelOrder(1, SYMBOL, order_id=other, client_order_id="cb")))
    r2 = rejected(h.do(CancelOrder(1, SYMBOL, order_id=998, client_order_id="cb")))
    assert (r1.reason, r1.detail.replace(str(other), "N")) == (
        r2.reason,
        r2.detail.replace("998", "N"),
    )
    # neither names anything: an unknown order
    ev = h.do(CancelOrder(1, SYMBOL, order_id=999, client_order_id="nope"))
    assert rejected(ev).reason is Reason.UNKNOWN_ORDER
    assert snapshot(h) == before
    # a matching pair works
    am = one(h.do(AmendOrder(1, SYMBOL, order_id=b, client_order_id="cb", new_qty=4)), OrderAmended)
    assert (am.order_id, am.qty) == (b, 4)
    ev = h.do(CancelOrder(1, SYMBOL, order_id=a, client_order_id="ca"))
    assert cancelled(ev) == [(a, EndReason.USER_CANCEL, 10)]
    h.check_invariants()


# ---------------------------------------------------------------- amend and quantity limits


def _limited(min_qty: str = "0", max_qty: str = "0") -> Harness:
    h = Harness(default_spec(min_qty=min_qty, max_qty=max_qty))
    for u in (1, 2):
        h.fund(u, btc=B, usdt=U)
    return h


def test_amend_decrease_below_min_qty_keeps_priority() -> None:
    """Issue 8 #16 (decided, ADR 0009): a decrease at the same price is not refused for
    min_qty, as long as some quantity remains; a price change or an increase is."""
    h = _limited(min_qty="0.0002")  # 2 lots
    a = oid(h.buy(1, 5, P))
    b = oid(h.buy(2, 5, P))
    am = one(h.amend(1, a, new_qty=1), OrderAmended)
    assert (am.qty, am.remaining, am.kept_priority) == (1, 1, True)
    assert h.queue(Side.BUY, P) == [a, b]
    before = snapshot(h)
    # below the minimum with a price change: checked like a new order
    r = rejected(h.amend(2, b, new_price=P - 1, new_qty=1))
    assert r.reason is Reason.QTY_BELOW_MIN
    assert r.detail == "quantity 0.0001 BTC is below the minimum 0.0002 BTC"
    assert rejected(h.amend(1, a, new_qty=0)).reason is Reason.AMEND_NO_CHANGE  # 0 = keep
    assert snapshot(h) == before
    h.check_invariants()


def test_amend_decrease_above_a_lowered_max_qty_is_allowed() -> None:
    """Issue 8 #16: place 100 lots, lower max_qty to 60, amend to 90 at the same price: a
    decrease, accepted with priority. An increase, or a price change, above the max is not."""
    h = _limited(max_qty="0.01")  # 100 lots
    a = oid(h.buy(1, 100, P))
    h.do(UpdateSymbol(default_spec(max_qty="0.006"), "ops"))  # 60 lots
    am = one(h.amend(1, a, new_qty=90), OrderAmended)
    assert (am.qty, am.kept_priority) == (90, True)
    before = snapshot(h)
    assert rejected(h.amend(1, a, new_qty=91)).reason is Reason.QTY_ABOVE_MAX
    assert rejected(h.amend(1, a, new_price=P - 1, new_qty=80)).reason is Reason.QTY_ABOVE_MAX
    assert snapshot(h) == before
    assert one(h.amend(1, a, new_price=P - 1, new_qty=60), OrderAmended).kept_priority is False
    h.check_invariants()
