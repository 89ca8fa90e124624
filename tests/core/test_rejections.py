"""Golden scenarios: refused orders. A refused command returns exactly one ``Rejected`` event
with a stable reason code and changes nothing (balances, books, queues, ids, client-id memory).

Numbers: one lot at P = 10_000 has notional 1_000_000 and reserves 1_001_000 on the buy side.
"""

from __future__ import annotations

from helpers.engine import SYMBOL, Harness, accepted_id, default_spec, funded, one, rejected

from trade_engine.core.commands import (
    AmendOrder,
    PlaceOrder,
    SetSymbolStatus,
    SuspendUser,
    Withdraw,
)
from trade_engine.core.enums import OrderStatus, OrderType, Side, SymbolStatus, TimeInForce
from trade_engine.core.events import OrderAccepted, OrderStatusReport, Rejected
from trade_engine.core.reasons import Reason

P = 10_000
LOT = 1_001_000
DAY = 86_400 * 10**9

oid = accepted_id


def make(*users: int, **spec: object) -> Harness:
    return funded(*users, spec=default_spec(**spec) if spec else None)


def snapshot(h: Harness) -> tuple:
    e = h.engine
    return (
        {
            (u, a): (b.available, b.reserved)
            for u, acct in e.accounts.by_user.items()
            for a, b in acct.balances.items()
        },
        h.depth(Side.BUY),
        h.depth(Side.SELL),
        {p: h.queue(Side.BUY, p) for p in e.books[SYMBOL].bids.levels},
        {p: h.queue(Side.SELL, p) for p in e.books[SYMBOL].asks.levels},
        {i: (o.qty, o.remaining, o.filled, o.status) for i, o in e.orders.items()},
        len(e.books[SYMBOL].stops),
        sorted(e.coids),
        e.next_order_id,
        e.next_trade_id,
        e.markets[SYMBOL].last_price,
    )


def refused(h: Harness, events: list, reason: Reason, before: tuple) -> Rejected:
    """Exactly one Rejected with ``reason``, and nothing changed."""
    assert len(events) == 1, events
    r = rejected(events)
    assert r.reason is reason, r
    assert snapshot(h) == before
    return r


def seeded(*users: int, **spec: object) -> Harness:
    """Users funded; a resting bid (user 2, 5 @ 9_900) and ask (user 2, 5 @ 10_100)."""
    h = make(2, *users, **spec)
    h.buy(2, 5, 9_900)
    h.sell(2, 5, 10_100)
    return h


# ---------------------------------------------------------------- symbol


def test_unknown_symbol() -> None:
    h = seeded(1)
    before = snapshot(h)
    ev = h.buy(1, 1, P, symbol="DOGE-USDT", coid="d1")
    r = refused(h, ev, Reason.UNKNOWN_SYMBOL, before)
    assert (r.command, r.user_id, r.symbol, r.client_order_id) == (
        "PlaceOrder",
        1,
        "DOGE-USDT",
        "d1",
    )


def test_halted_symbol() -> None:
    h = seeded(1)
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.HALTED))
    before = snapshot(h)
    refused(h, h.buy(1, 1, P), Reason.SYMBOL_HALTED, before)
    refused(h, h.sell(1, 1, order_type=OrderType.MARKET), Reason.SYMBOL_HALTED, before)


def test_cancel_only_symbol() -> None:
    h = seeded(1)
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.CANCEL_ONLY))
    before = snapshot(h)
    refused(h, h.buy(1, 1, P), Reason.SYMBOL_CANCEL_ONLY, before)
    refused(
        h,
        h.buy(1, 1, order_type=OrderType.STOP, stop_price=11_000),
        Reason.SYMBOL_CANCEL_ONLY,
        before,
    )


# ---------------------------------------------------------------- quantity and notional


def test_qty_below_min() -> None:
    h = seeded(1, min_qty="0.001")  # 10 lots
    before = snapshot(h)
    refused(h, h.buy(1, 9, P - 200), Reason.QTY_BELOW_MIN, before)
    refused(h, h.sell(1, 9, order_type=OrderType.MARKET), Reason.QTY_BELOW_MIN, before)
    assert one(h.buy(1, 10, P - 200), OrderAccepted).qty == 10
    h.check_invariants()


def test_qty_above_max() -> None:
    h = seeded(1, max_qty="0.01")  # 100 lots
    before = snapshot(h)
    refused(h, h.sell(1, 101, P + 500), Reason.QTY_ABOVE_MAX, before)
    assert one(h.sell(1, 100, P + 500), OrderAccepted).qty == 100
    h.check_invariants()


def test_zero_or_negative_qty_is_invalid() -> None:
    h = seeded(1)
    before = snapshot(h)
    refused(h, h.buy(1, 0, P), Reason.INVALID_QUANTITY, before)
    refused(h, h.buy(1, -1, P), Reason.INVALID_QUANTITY, before)
    refused(h, h.buy(1, 0, order_type=OrderType.MARKET), Reason.INVALID_QUANTITY, before)


def test_notional_below_min() -> None:
    h = seeded(1, min_notional="0.05")  # 5_000_000 USDT units
    before = snapshot(h)
    refused(h, h.buy(1, 4, P), Reason.NOTIONAL_BELOW_MIN, before)  # 4_000_000
    refused(h, h.buy(1, 5, 9_999), Reason.NOTIONAL_BELOW_MIN, before)  # 4_999_500
    refused(
        h,
        h.buy(1, 0, order_type=OrderType.MARKET, quote_qty=4_999_999),
        Reason.NOTIONAL_BELOW_MIN,
        before,
    )
    h.check_invariants()


def test_notional_exactly_min_is_accepted() -> None:
    h = seeded(1, min_notional="0.05")
    ev = h.buy(1, 5, P)  # exactly 5_000_000 (rests: best ask is 10_100)
    assert one(ev, OrderAccepted).qty == 5
    h.check_invariants()


# ---------------------------------------------------------------- price


def test_limit_price_zero_or_negative_is_invalid() -> None:
    h = seeded(1)
    before = snapshot(h)
    refused(h, h.buy(1, 1, 0), Reason.INVALID_PRICE, before)
    refused(h, h.sell(1, 1, -5), Reason.INVALID_PRICE, before)
    refused(
        h,
        h.buy(1, 1, 0, order_type=OrderType.STOP_LIMIT, stop_price=11_000),
        Reason.INVALID_PRICE,
        before,
    )


def test_stop_price_missing_or_given_where_not_allowed() -> None:
    h = seeded(1)
    before = snapshot(h)
    refused(h, h.buy(1, 1, order_type=OrderType.STOP), Reason.INVALID_PRICE, before)
    refused(h, h.buy(1, 1, P, stop_price=11_000), Reason.INVALID_PRICE, before)
    refused(
        h,
        h.sell(1, 1, order_type=OrderType.MARKET, stop_price=9_000),
        Reason.INVALID_PRICE,
        before,
    )


def test_price_out_of_band_around_ref_price() -> None:
    h = seeded(1, band_bps=500, ref_price="100.00")  # ref 10_000 ticks: 9_500 .. 10_500
    before = snapshot(h)
    refused(h, h.sell(1, 1, 10_501), Reason.PRICE_OUT_OF_BAND, before)
    refused(h, h.buy(1, 1, 9_499), Reason.PRICE_OUT_OF_BAND, before)
    refused(
        h,
        h.buy(1, 1, 10_600, order_type=OrderType.STOP_LIMIT, stop_price=10_200),
        Reason.PRICE_OUT_OF_BAND,
        before,
    )
    # the edges are inside
    assert one(h.sell(1, 1, 10_500), OrderAccepted).price == 10_500
    assert one(h.buy(1, 1, 9_500), OrderAccepted).price == 9_500
    h.check_invariants()


def test_price_band_follows_the_last_trade_price() -> None:
    h = seeded(1, 3, band_bps=500, ref_price="100.00")
    h.sell(3, 1, 10_200)
    h.buy(1, 6, 10_200)  # takes 5 @ 10_100 and 1 @ 10_200 -> last 10_200
    assert h.engine.markets[SYMBOL].last_price == 10_200
    # band now 10_200 x (1 -/+ 5 %) = 9_690 .. 10_710
    before = snapshot(h)
    refused(h, h.sell(1, 1, 10_711), Reason.PRICE_OUT_OF_BAND, before)
    refused(h, h.buy(1, 1, 9_689), Reason.PRICE_OUT_OF_BAND, before)
    assert one(h.sell(1, 1, 10_710), OrderAccepted).price == 10_710
    assert one(h.buy(1, 1, 9_690), OrderAccepted).price == 9_690
    h.check_invariants()


def test_amend_to_a_price_out_of_band_is_refused() -> None:
    h = seeded(1, band_bps=500, ref_price="100.00")
    a = oid(h.buy(1, 1, 9_800))
    before = snapshot(h)
    ev = h.do(AmendOrder(1, SYMBOL, order_id=a, new_price=9_499))
    r = refused(h, ev, Reason.PRICE_OUT_OF_BAND, before)
    assert (r.command, r.order_id) == ("AmendOrder", a)


def test_post_only_refused_changes_nothing() -> None:
    h = seeded(1)
    before = snapshot(h)
    refused(h, h.buy(1, 1, 10_100, post_only=True), Reason.POST_ONLY_WOULD_TAKE, before)
    refused(h, h.sell(1, 1, 9_900, post_only=True), Reason.POST_ONLY_WOULD_TAKE, before)


# ---------------------------------------------------------------- funds and users


def test_insufficient_quote_for_a_buy_by_one_unit() -> None:
    h = seeded()
    h.fund(1, usdt=3 * LOT - 1)
    before = snapshot(h)
    r = refused(h, h.buy(1, 3, P, coid="b"), Reason.INSUFFICIENT_BALANCE, before)
    assert r.client_order_id == "b"
    h.fund(1, usdt=1)
    ev = h.buy(1, 3, P, coid="b")  # the refused id may be used again
    assert one(ev, OrderAccepted).client_order_id == "b"
    assert h.balance(1, "USDT") == (0, 3 * LOT)
    h.check_invariants()


def test_insufficient_base_for_a_sell() -> None:
    h = seeded()
    h.fund(1, btc=29_999)
    before = snapshot(h)
    refused(h, h.sell(1, 3, P + 500), Reason.INSUFFICIENT_BALANCE, before)
    refused(h, h.sell(1, 3, order_type=OrderType.MARKET), Reason.INSUFFICIENT_BALANCE, before)


def test_user_without_any_account_gets_insufficient_balance_and_no_account() -> None:
    h = seeded()
    before = snapshot(h)
    refused(h, h.buy(7, 1, P), Reason.INSUFFICIENT_BALANCE, before)
    assert 7 not in h.engine.accounts.by_user


def test_funds_reserved_by_open_orders_are_not_available() -> None:
    h = seeded()
    h.fund(1, usdt=3 * LOT)
    h.buy(1, 2, P)
    before = snapshot(h)
    refused(h, h.buy(1, 2, P), Reason.INSUFFICIENT_BALANCE, before)
    assert one(h.buy(1, 1, P), OrderAccepted).qty == 1
    assert h.balance(1, "USDT") == (0, 3 * LOT)
    h.check_invariants()


def test_suspended_user() -> None:
    h = seeded(1)
    h.do(SuspendUser(1))
    before = snapshot(h)
    refused(h, h.buy(1, 1, P), Reason.USER_SUSPENDED, before)
    refused(h, h.sell(1, 1, order_type=OrderType.MARKET), Reason.USER_SUSPENDED, before)


def test_fee_account_cannot_place_orders() -> None:
    h = seeded()
    before = snapshot(h)
    refused(h, h.buy(0, 1, P), Reason.RESERVED_ACCOUNT, before)


def test_client_order_id_must_be_1_to_64_characters() -> None:
    h = seeded(1)
    before = snapshot(h)
    ev = h.do(PlaceOrder(1, SYMBOL, "", Side.BUY, qty=1, price=P))
    refused(h, ev, Reason.INVALID_COMMAND, before)
    refused(h, h.buy(1, 1, P, coid="x" * 65), Reason.INVALID_COMMAND, before)
    assert one(h.buy(1, 1, P, coid="x" * 64), OrderAccepted).client_order_id == "x" * 64
    h.check_invariants()


def test_unknown_order_type_time_in_force_and_stp_mode() -> None:
    h = seeded(1)
    before = snapshot(h)
    refused(h, h.buy(1, 1, P, order_type="ICEBERG"), Reason.INVALID_ORDER_TYPE, before)
    refused(h, h.buy(1, 1, P, tif="GTD"), Reason.INVALID_TIME_IN_FORCE, before)
    refused(h, h.buy(1, 1, P, stp="DECREMENT"), Reason.INVALID_COMMAND, before)


# ---------------------------------------------------------------- client order id


def test_duplicate_client_order_id_with_other_params_is_refused() -> None:
    h = seeded(1)
    a = oid(h.buy(1, 3, P, coid="dup"))
    before = snapshot(h)
    r = refused(h, h.buy(1, 4, P, coid="dup"), Reason.DUPLICATE_CLIENT_ORDER_ID, before)
    assert r.client_order_id == "dup"
    refused(h, h.sell(1, 3, P + 500, coid="dup"), Reason.DUPLICATE_CLIENT_ORDER_ID, before)
    refused(
        h, h.buy(1, 3, P, coid="dup", tif=TimeInForce.IOC), Reason.DUPLICATE_CLIENT_ORDER_ID, before
    )
    assert h.engine.orders[a].qty == 3
    # the same id is free for another user
    assert one(h.buy(2, 1, P - 500, coid="dup"), OrderAccepted).user_id == 2
    h.check_invariants()


def test_duplicate_with_same_params_returns_current_state_and_changes_nothing() -> None:
    h = seeded(1, 3)
    a = oid(h.buy(1, 10, P, coid="same"))
    h.sell(3, 4, P)  # fills 4
    before = snapshot(h)
    ev = h.buy(1, 10, P, coid="same")
    assert ev == [
        OrderStatusReport(
            order_id=a,
            user_id=1,
            symbol=SYMBOL,
            client_order_id="same",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            status=OrderStatus.PARTIALLY_FILLED,
            price=P,
            qty=10,
            filled=4,
            remaining=6,
            duplicate=True,
        )
    ]
    assert snapshot(h) == before
    h.check_invariants()


def test_duplicate_of_a_finished_order_reports_it_and_does_not_trade_again() -> None:
    h = seeded(1)
    ev = h.buy(1, 2, 10_100, coid="done")  # fills 2 of the resting ask
    a = oid(ev)
    x = oid(h.buy(1, 1, 9_000, coid="gone"))
    h.cancel(1, x)
    before = snapshot(h)
    r1 = one(h.buy(1, 2, 10_100, coid="done"), OrderStatusReport)
    r2 = one(h.buy(1, 1, 9_000, coid="gone"), OrderStatusReport)
    assert (r1.order_id, r1.status, r1.filled, r1.remaining, r1.duplicate) == (
        a,
        OrderStatus.FILLED,
        2,
        0,
        True,
    )
    assert (r2.order_id, r2.status, r2.filled, r2.remaining) == (x, OrderStatus.CANCELLED, 0, 1)
    assert snapshot(h) == before
    h.check_invariants()


def test_client_order_id_of_a_finished_order_is_forgotten_after_24h() -> None:
    h = seeded(1)
    h.buy(1, 1, 9_000, coid="day")
    h.cancel(1, coid="day")
    h.buy(1, 1, 9_000, coid="open")  # still open after a day: stays remembered
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.TRADING), advance_ns=DAY)
    ev = h.buy(1, 2, 9_000, coid="day")  # other params: accepted as a new order now
    assert one(ev, OrderAccepted).qty == 2
    before = snapshot(h)
    refused(h, h.buy(1, 2, 9_000, coid="open"), Reason.DUPLICATE_CLIENT_ORDER_ID, before)
    h.check_invariants()


# ---------------------------------------------------------------- details people read


def test_details_quote_amounts_as_decimals_of_the_asset() -> None:
    """Issue 8 #14: 'needs 25025000000 USDT' meant 250.25 USDT; details now say 250.25 USDT,
    and prices / quantities on the symbol's grid (tick 0.01, lot 0.0001 BTC)."""
    h = make(min_qty="0.0002", max_qty="10", min_notional="0.05", band_bps=500, ref_price="100")
    h.fund(1, usdt=25_025_000_000 - 1)  # 250.24999999 USDT
    r = rejected(h.buy(1, 25_000, P))  # 2.5 BTC at 100.00: 250 USDT + 0.25 taker fee
    assert r.reason is Reason.INSUFFICIENT_BALANCE
    assert r.detail == "needs 250.25 USDT available, has 250.24999999 USDT"
    r = rejected(h.buy(1, 1, P))
    assert r.detail == "quantity 0.0001 BTC is below the minimum 0.0002 BTC"
    r = rejected(h.buy(1, 100_001, P))
    assert r.detail == "quantity 10.0001 BTC is above the maximum 10 BTC"
    r = rejected(h.buy(1, 4, P))
    assert r.detail == "notional 0.04 USDT is below the minimum 0.05 USDT"
    r = rejected(h.buy(1, 10, 10_501))
    assert r.detail == "price 105.01 is more than 500 bps from the reference 100"
    r = rejected(h.do(Withdraw(1, "USDT", 30_000_000_000, "w")))
    assert r.detail == "withdrawal of 300 USDT exceeds the available 250.24999999 USDT"


def test_stop_with_zero_qty_is_an_invalid_quantity_even_when_it_would_trigger() -> None:
    """Issue 8 #18: field checks come before the market-state checks (stop trigger)."""
    h = seeded(1)
    h.sell(1, 1, 9_900)  # trades with the resting bid: last price 9_900
    before = snapshot(h)
    for otype, price in ((OrderType.STOP, 0), (OrderType.STOP_LIMIT, 9_000)):
        refused(
            h,
            h.sell(1, 0, price, order_type=otype, stop_price=9_950),
            Reason.INVALID_QUANTITY,
            before,
        )
        r = refused(
            h,
            h.sell(1, 1, price, order_type=otype, stop_price=9_950),
            Reason.STOP_WOULD_TRIGGER,
            before,
        )
        assert r.detail == "stop 99.5 would trigger at once (last trade price 99)"


def test_amend_post_only_would_take_comes_before_insufficient_balance() -> None:
    """Checks that depend on the book come before the balance, for amends as for new orders."""
    h = seeded()
    h.fund(1, usdt=LOT)
    a = oid(h.buy(1, 1, P - 200, post_only=True))
    before = snapshot(h)
    refused(h, h.amend(1, a, new_price=10_100, new_qty=5), Reason.POST_ONLY_WOULD_TAKE, before)
    refused(h, h.buy(1, 5, 10_100, post_only=True), Reason.POST_ONLY_WOULD_TAKE, before)
