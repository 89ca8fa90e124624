"""Golden scenarios: STOP (stop-market) and STOP_LIMIT orders and the trigger book.

A BUY stop fires when the last trade price >= stop, a SELL stop when <= stop, in the same
command that moved the price; BUY stops lowest first, then SELL stops highest first, equal
stops by acceptance; after each fired order runs the next is chosen with the new last price.
A STOP BUY reserves at ``stop x 10_500 // 10_000`` (market band 500 bps); a STOP_LIMIT BUY
at its limit price. Users 8 and 9 only print a trade to set the last price.
"""

from __future__ import annotations

from helpers.engine import SYMBOL, B, Harness, U, accepted_id, of, one, rejected, trades

from trade_engine.core.commands import AmendOrder, MassCancel
from trade_engine.core.enums import EndReason, OrderStatus, OrderType, Side, TimeInForce
from trade_engine.core.events import (
    MarketOrderReport,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    StopTriggered,
)
from trade_engine.core.reasons import Reason

STOP = OrderType.STOP
STOP_LIMIT = OrderType.STOP_LIMIT

oid = accepted_id


def make(*users: int, last: int = 10_000) -> Harness:
    """Fund users; if ``last``, print one 1-lot trade at that price between users 8 and 9."""
    h = Harness()
    for u in (*users, 8, 9):
        h.fund(u, btc=B, usdt=U)
    if last:
        h.sell(8, 1, last)
        h.buy(9, 1, last)
        assert h.engine.markets[SYMBOL].last_price == last
    return h


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def fired(events: list) -> list[tuple[int, int, int]]:
    """(order_id, stop_price, last_price) of each StopTriggered, in order."""
    return [(e.order_id, e.stop_price, e.last_price) for e in of(events, StopTriggered)]


def stop_buy(h: Harness, user: int, qty: int, stop: int, price: int = 0, **kw) -> list:
    otype = STOP_LIMIT if price else STOP
    return h.buy(user, qty, price, order_type=otype, stop_price=stop, **kw)


def stop_sell(h: Harness, user: int, qty: int, stop: int, price: int = 0, **kw) -> list:
    otype = STOP_LIMIT if price else STOP
    return h.sell(user, qty, price, order_type=otype, stop_price=stop, **kw)


# ---------------------------------------------------------------- pending


def test_buy_stop_rests_pending_and_reserves_at_its_protection_price() -> None:
    h = make(1)
    ev = stop_buy(h, 1, 5, 10_200, coid="s1")
    acc = ev[0]
    assert kinds(ev) == ["OrderAccepted", "BalanceChanged"]  # no book level: not in the book
    assert (acc.order_type, acc.status, acc.stop_price, acc.price, acc.qty) == (
        STOP,
        OrderStatus.PENDING_TRIGGER,
        10_200,
        0,
        5,
    )
    # protection 10_200 x 10_500 // 10_000 = 10_710; 5 x 10_710 x 100 = 5_355_000 + 5_355
    assert h.balance(1, "USDT") == (U - 5_360_355, 5_360_355)
    assert h.depth(Side.BUY) == [] and h.depth(Side.SELL) == []
    assert h.engine.orders[acc.order_id].status is OrderStatus.PENDING_TRIGGER
    h.check_invariants()


def test_sell_stop_limit_rests_pending_and_reserves_base() -> None:
    h = make(1)
    ev = stop_sell(h, 1, 3, 9_800, price=9_700)
    acc = ev[0]
    assert (acc.order_type, acc.status, acc.price) == (
        STOP_LIMIT,
        OrderStatus.PENDING_TRIGGER,
        9_700,
    )
    assert h.balance(1, "BTC") == (B - 30_000, 30_000)
    assert h.balance(1, "USDT") == (U, 0)
    h.check_invariants()


def test_stop_that_would_trigger_at_once_is_refused() -> None:
    h = make(1)  # last 10_000
    before = (h.balance(1, "USDT"), h.balance(1, "BTC"), h.engine.next_order_id)
    for ev in (
        stop_buy(h, 1, 1, 10_000),  # last >= stop: would fire
        stop_buy(h, 1, 1, 9_900),
        stop_buy(h, 1, 1, 10_000, price=10_100),
        stop_sell(h, 1, 1, 10_000),  # last <= stop: would fire
        stop_sell(h, 1, 1, 10_100, price=10_000),
    ):
        assert len(ev) == 1
        assert rejected(ev).reason is Reason.STOP_WOULD_TRIGGER
    assert (h.balance(1, "USDT"), h.balance(1, "BTC"), h.engine.next_order_id) == before
    # one tick away is fine
    assert one(stop_buy(h, 1, 1, 10_001), OrderAccepted).status is OrderStatus.PENDING_TRIGGER
    assert one(stop_sell(h, 1, 1, 9_999), OrderAccepted).status is OrderStatus.PENDING_TRIGGER
    h.check_invariants()


def test_cancel_pending_stop_releases_its_reservation() -> None:
    h = make(1)
    s = oid(stop_buy(h, 1, 5, 10_200))
    ev = h.cancel(1, s)
    assert kinds(ev) == ["OrderCancelled", "BalanceChanged"]
    c = ev[0]
    assert (c.order_id, c.reason, c.remaining) == (s, EndReason.USER_CANCEL, 5)
    assert (ev[1].delta_available, ev[1].delta_reserved) == (5_360_355, -5_360_355)
    assert h.balance(1, "USDT") == (U, 0)
    assert s not in h.engine.orders
    # a later trade through the stop price fires nothing
    h.sell(8, 1, 10_300)
    ev = h.buy(9, 1, 10_300)
    assert fired(ev) == []
    h.check_invariants()


def test_cancel_pending_sell_stop_limit_by_client_order_id() -> None:
    h = make(1)
    stop_sell(h, 1, 4, 9_800, price=9_700, coid="protect")
    ev = h.cancel(1, coid="protect")
    assert one(ev, OrderCancelled).client_order_id == "protect"
    assert h.balance(1, "BTC") == (B, 0)
    h.check_invariants()


def test_stop_not_reached_stays_pending() -> None:
    h = make(1, 2)
    s = oid(stop_buy(h, 1, 2, 10_200))
    h.sell(2, 5, 10_199)
    ev = h.buy(9, 1, 10_199)
    assert fired(ev) == []
    assert h.engine.markets[SYMBOL].last_price == 10_199
    assert h.engine.orders[s].status is OrderStatus.PENDING_TRIGGER
    h.check_invariants()


# ---------------------------------------------------------------- firing


def test_buy_stop_fires_in_the_command_that_moved_the_price_and_runs_as_market() -> None:
    h = make(1, 2, 3, 4)
    s = oid(stop_buy(h, 1, 4, 10_100))  # reserves 4 x 10_605 x 100 + fee = 4_246_242
    h.sell(2, 5, 10_100)
    h.sell(3, 5, 10_200)
    ev = h.buy(4, 2, 10_100)
    assert kinds(ev)[:6] == [
        "OrderAccepted",
        "Trade",
        "StopTriggered",
        "Trade",
        "Trade",
        "MarketOrderReport",
    ]
    assert ev[2] == StopTriggered(
        order_id=s, user_id=1, symbol=SYMBOL, stop_price=10_100, last_price=10_100
    )
    ts = trades(ev)
    assert [(t.taker_order_id, t.price, t.qty) for t in ts] == [
        (ev[0].order_id, 10_100, 2),
        (s, 10_100, 3),
        (s, 10_200, 1),
    ]
    rep = one(ev, MarketOrderReport)
    # protection min(10_605 from the stop, 10_605 from best ask 10_100) = 10_605
    # 3_030_000 + 1_020_000 = 4_050_000 vs 4 x 10_100 x 100 = 4_040_000 -> 24.75 -> 24 bps
    assert (rep.order_id, rep.reference_price, rep.protection_price) == (s, 10_100, 10_605)
    assert (rep.filled_qty, rep.filled_notional, rep.worst_price, rep.slippage_bps) == (
        4,
        4_050_000,
        10_200,
        24,
    )
    assert h.balance(1, "USDT") == (U - 4_054_050, 0)
    assert h.balance(1, "BTC") == (B + 40_000, 0)
    assert h.depth(Side.SELL) == [(10_200, 4, 1)]
    assert s not in h.engine.orders
    assert h.engine.markets[SYMBOL].last_price == 10_200
    h.check_invariants()


def test_sell_stop_fires_on_a_falling_trade_and_sells_into_bids() -> None:
    h = make(1, 2, 3, 4)
    s = oid(stop_sell(h, 1, 3, 9_900))
    h.buy(2, 5, 9_900)
    h.buy(3, 5, 9_800)
    ev = h.sell(4, 1, 9_900)
    assert fired(ev) == [(s, 9_900, 9_900)]
    assert [(t.taker_order_id, t.price, t.qty) for t in trades(ev)] == [
        (ev[0].order_id, 9_900, 1),
        (s, 9_900, 3),
    ]
    rep = one(ev, MarketOrderReport)
    # sell protection: max(ceil(9_900 x 0.95) = 9_405, same from best bid) = 9_405
    assert (rep.reference_price, rep.protection_price, rep.slippage_bps) == (9_900, 9_405, 0)
    assert h.balance(1, "BTC") == (B - 30_000, 0)
    assert h.balance(1, "USDT") == (U + 2_970_000 - 2_970, 0)
    assert h.depth(Side.BUY) == [(9_900, 1, 1), (9_800, 5, 1)]
    h.check_invariants()


def test_buy_stops_fire_lowest_stop_first_equal_stops_by_acceptance() -> None:
    h = make(1, 2, 3, 4, 5)
    a = oid(stop_buy(h, 1, 1, 10_300, price=10_400))
    b = oid(stop_buy(h, 2, 1, 10_100, price=10_400))
    c = oid(stop_buy(h, 3, 1, 10_200, price=10_400))
    d = oid(stop_buy(h, 1, 1, 10_100, price=10_400))
    h.sell(5, 10, 10_300)
    ev = h.buy(4, 1, 10_300)
    assert fired(ev) == [
        (b, 10_100, 10_300),
        (d, 10_100, 10_300),
        (c, 10_200, 10_300),
        (a, 10_300, 10_300),
    ]
    assert [t.taker_order_id for t in trades(ev)] == [ev[0].order_id, b, d, c, a]
    assert h.depth(Side.SELL) == [(10_300, 5, 1)]
    # stop-limit reserved 1 x 10_400 x 100 + fee = 1_041_040; paid 1_030_000 + 1_030
    assert h.balance(2, "USDT") == (U - 1_031_030, 0)
    assert h.balance(1, "USDT") == (U - 2 * 1_031_030, 0)
    h.check_invariants()


def test_sell_stops_fire_highest_stop_first_equal_stops_by_acceptance() -> None:
    h = make(1, 2, 3, 4, 5)
    a = oid(stop_sell(h, 1, 1, 9_700, price=9_600))
    b = oid(stop_sell(h, 2, 1, 9_900, price=9_600))
    c = oid(stop_sell(h, 3, 1, 9_800, price=9_600))
    d = oid(stop_sell(h, 1, 1, 9_900, price=9_600))
    h.buy(5, 10, 9_700)
    ev = h.sell(4, 1, 9_700)
    assert fired(ev) == [(b, 9_900, 9_700), (d, 9_900, 9_700), (c, 9_800, 9_700), (a, 9_700, 9_700)]
    assert all(t.price == 9_700 for t in trades(ev))
    assert h.depth(Side.BUY) == [(9_700, 5, 1)]
    h.check_invariants()


def test_cascade_a_fired_stop_moves_the_price_and_fires_the_next() -> None:
    h = make(1, 2, 3, 4)
    a = oid(stop_buy(h, 1, 2, 10_100))
    b = oid(stop_buy(h, 1, 1, 10_200))
    h.sell(2, 1, 10_100)
    h.sell(3, 2, 10_200)
    h.sell(3, 2, 10_300)
    ev = h.buy(4, 1, 10_100)
    t0 = ev[0].order_id
    assert kinds(ev)[:8] == [
        "OrderAccepted",
        "Trade",  # 4 buys 1 @ 10_100 -> last 10_100: only a fires (b needs 10_200)
        "StopTriggered",
        "Trade",  # a buys 2 @ 10_200 -> last 10_200: b fires
        "MarketOrderReport",
        "StopTriggered",
        "Trade",  # b buys 1 @ 10_300
        "MarketOrderReport",
    ]
    assert fired(ev) == [(a, 10_100, 10_100), (b, 10_200, 10_200)]
    assert [(t.taker_order_id, t.price, t.qty) for t in trades(ev)] == [
        (t0, 10_100, 1),
        (a, 10_200, 2),
        (b, 10_300, 1),
    ]
    reps = of(ev, MarketOrderReport)
    # a: min(band_up(10_100) = 10_605, band_up(best 10_200) = 10_710); b: min(10_710, 10_815)
    assert [(r.order_id, r.reference_price, r.protection_price) for r in reps] == [
        (a, 10_200, 10_605),
        (b, 10_300, 10_710),
    ]
    assert h.engine.markets[SYMBOL].last_price == 10_300
    assert h.depth(Side.SELL) == [(10_300, 1, 1)]
    # paid 2_040_000 + 2_040 and 1_030_000 + 1_030
    assert h.balance(1, "USDT") == (U - 2_042_040 - 1_031_030, 0)
    h.check_invariants()


def test_buy_stops_fire_before_sell_stops_when_both_are_reached() -> None:
    # no trade yet: stops on both sides are accepted wherever they are
    h = make(2, 3, 4, 5, 6, last=0)
    buy_stop = oid(stop_buy(h, 5, 1, 10_100, price=10_200))
    sell_stop = oid(stop_sell(h, 6, 1, 10_300, price=10_000))
    h.sell(2, 3, 10_200)
    h.buy(3, 3, 10_000)
    ev = h.buy(4, 1, 10_200)  # last 10_200: both reached
    assert fired(ev) == [(buy_stop, 10_100, 10_200), (sell_stop, 10_300, 10_200)]
    assert [(t.taker_order_id, t.price) for t in trades(ev)] == [
        (ev[0].order_id, 10_200),
        (buy_stop, 10_200),
        (sell_stop, 10_000),
    ]
    assert h.engine.markets[SYMBOL].last_price == 10_000
    assert h.depth(Side.SELL) == [(10_200, 1, 1)]
    assert h.depth(Side.BUY) == [(10_000, 2, 1)]
    h.check_invariants()


def test_stop_limit_fires_trades_what_it_can_and_rests_the_rest() -> None:
    h = make(1, 2, 3, 4)
    s = oid(stop_buy(h, 1, 5, 10_100, price=10_150))  # reserves 5_075_000 + 5_075 = 5_080_075
    h.sell(2, 2, 10_100)
    h.sell(3, 5, 10_200)
    ev = h.buy(4, 1, 10_100)
    assert fired(ev) == [(s, 10_100, 10_100)]
    assert [(t.taker_order_id, t.price, t.qty) for t in trades(ev)] == [
        (ev[0].order_id, 10_100, 1),
        (s, 10_100, 1),
    ]
    assert of(ev, MarketOrderReport) == []
    assert h.depth(Side.BUY) == [(10_150, 4, 1)]
    assert h.queue(Side.BUY, 10_150) == [s]
    assert h.engine.orders[s].status is OrderStatus.PARTIALLY_FILLED
    # paid 1_010_000 + 1_010; keeps 4 x 10_150 x 100 + fee = 4_064_060
    assert h.balance(1, "USDT") == (U - 1_011_010 - 4_064_060, 4_064_060)
    h.check_invariants()


def test_stop_limit_ioc_fires_and_expires_its_remainder() -> None:
    h = make(1, 2, 4)
    s = oid(stop_buy(h, 1, 5, 10_100, price=10_100, tif=TimeInForce.IOC))
    h.sell(2, 3, 10_100)
    ev = h.buy(4, 1, 10_100)
    assert fired(ev) == [(s, 10_100, 10_100)]
    exp = one(ev, OrderExpired)
    assert (exp.order_id, exp.reason, exp.remaining) == (s, EndReason.IOC_REMAINDER, 3)
    assert h.depth(Side.BUY) == [] and h.depth(Side.SELL) == []
    assert h.balance(1, "USDT") == (U - 2_020_000 - 2_020, 0)
    h.check_invariants()


def test_fired_stop_market_with_nothing_left_expires_no_liquidity() -> None:
    h = make(1, 2, 4)
    s = oid(stop_buy(h, 1, 3, 10_100))
    h.sell(2, 1, 10_100)
    ev = h.buy(4, 1, 10_100)  # takes the only ask
    assert fired(ev) == [(s, 10_100, 10_100)]
    exp = one(ev, OrderExpired)
    assert (exp.order_id, exp.reason, exp.remaining) == (s, EndReason.NO_LIQUIDITY, 3)
    assert one(ev, MarketOrderReport).filled_qty == 0
    assert h.balance(1, "USDT") == (U, 0)
    h.check_invariants()


def test_fired_stop_market_protection_from_the_stop_caps_the_walk() -> None:
    # stop 10_000 -> protection 10_500 at acceptance; the book at trigger (best ask 10_500
    # once the trigger trade took 10_100) would allow 11_025, but the tighter 10_500 holds
    h = make(1, 2, 4, last=9_900)
    s = oid(stop_buy(h, 1, 5, 10_000))
    h.sell(2, 1, 10_100)
    h.sell(2, 2, 10_500)
    h.sell(2, 2, 10_600)
    ev = h.buy(4, 1, 10_100)
    assert fired(ev) == [(s, 10_000, 10_100)]
    assert [(t.price, t.qty) for t in trades(ev) if t.taker_order_id == s] == [(10_500, 2)]
    exp = one(ev, OrderExpired)
    assert (exp.order_id, exp.reason, exp.remaining) == (s, EndReason.NO_LIQUIDITY, 3)
    rep = one(ev, MarketOrderReport)
    assert (rep.reference_price, rep.protection_price, rep.worst_price) == (10_500, 10_500, 10_500)
    assert h.depth(Side.SELL) == [(10_600, 2, 1)]
    h.check_invariants()


def test_amend_that_trades_fires_stops_in_the_same_command() -> None:
    h = make(1, 2, 3)
    s = oid(stop_buy(h, 3, 1, 10_100, price=10_200))
    h.sell(2, 3, 10_100)
    bid = oid(h.buy(1, 1, 9_000))
    ev = h.do(AmendOrder(1, SYMBOL, order_id=bid, new_price=10_100))
    assert kinds(ev)[:4] == ["OrderAmended", "Trade", "StopTriggered", "Trade"]
    assert fired(ev) == [(s, 10_100, 10_100)]
    assert h.depth(Side.SELL) == [(10_100, 1, 1)]
    h.check_invariants()


def test_market_order_fires_stop() -> None:
    h = make(1, 2, 4)
    s = oid(stop_sell(h, 1, 1, 9_900, price=9_800))
    h.buy(2, 1, 9_900)
    h.buy(2, 1, 9_800)
    ev = h.sell(4, 1, order_type=OrderType.MARKET)
    assert fired(ev) == [(s, 9_900, 9_900)]
    assert [(t.taker_order_id, t.price) for t in trades(ev)] == [
        (ev[0].order_id, 9_900),
        (s, 9_800),
    ]
    assert h.engine.markets[SYMBOL].last_price == 9_800
    h.check_invariants()


def test_pending_stop_cannot_be_amended() -> None:
    h = make(1)
    s = oid(stop_buy(h, 1, 1, 10_100, price=10_200))
    ev = h.amend(1, s, new_qty=2)
    assert rejected(ev).reason is Reason.ORDER_NOT_AMENDABLE
    assert h.balance(1, "USDT") == (U - 1_021_020, 1_021_020)
    h.check_invariants()


def test_mass_cancel_includes_pending_stops() -> None:
    h = make(1)
    s1 = oid(stop_buy(h, 1, 1, 10_100))
    s2 = oid(stop_sell(h, 1, 1, 9_900, price=9_800))
    r = oid(h.buy(1, 1, 9_000))
    ev = h.do(MassCancel(user_id=1))
    assert [(c.order_id, c.reason) for c in of(ev, OrderCancelled)] == [
        (s1, EndReason.MASS_CANCEL),
        (s2, EndReason.MASS_CANCEL),
        (r, EndReason.MASS_CANCEL),
    ]
    assert len(h.engine.books[SYMBOL].stops) == 0
    assert h.balance(1, "USDT") == (U, 0) and h.balance(1, "BTC") == (B, 0)
    h.check_invariants()
