"""Golden scenarios: LIMIT orders (GTC / IOC / FOK / post-only), price-time priority, fees.

Default symbol BTC-USDT: tick 0.01, lot 0.0001, both assets 8 decimals, so
notional = price x qty x 100 (USDT units) and one lot = 10,000 BTC units.
Fees: maker 500 ppm, taker 1000 ppm, ``fee = notional * ppm // 1_000_000``.
A BUY reserves ``notional(limit, qty) + taker fee on it``.

Every expected number below is worked out by hand in the comment next to it.
"""

from __future__ import annotations

from helpers.engine import SYMBOL, B, U, accepted_id, funded, of, one, rejected, trades

from trade_engine.core.commands import SetFeeTier
from trade_engine.core.enums import EndReason, OrderStatus, OrderType, Side, StpMode, TimeInForce
from trade_engine.core.events import (
    BalanceChanged,
    BookLevelChanged,
    OrderAccepted,
    OrderExpired,
    SelfTradePrevented,
    Trade,
)
from trade_engine.core.reasons import Reason

P = 10_000  # 100.00 USDT: one lot at P has notional 1_000_000, taker fee 1_000, maker fee 500

IOC = TimeInForce.IOC
FOK = TimeInForce.FOK

make = funded
oid = accepted_id


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def balance_moves(events: list) -> dict[tuple[int, str], tuple[int, int, int, int]]:
    """(user, asset) -> (available, reserved, delta_available, delta_reserved)."""
    return {
        (e.user_id, e.asset): (e.available, e.reserved, e.delta_available, e.delta_reserved)
        for e in of(events, BalanceChanged)
    }


def tp(events: list) -> list[tuple[int, int, int]]:
    """(price, qty, maker_order_id) of each trade, in order."""
    return [(t.price, t.qty, t.maker_order_id) for t in trades(events)]


# ---------------------------------------------------------------- resting


def test_gtc_buy_rests_on_empty_book_and_reserves_quote_plus_taker_fee() -> None:
    h = make(1)
    ev = h.buy(1, 10, P, coid="b1")
    assert kinds(ev) == ["OrderAccepted", "BalanceChanged", "BookLevelChanged"]
    assert ev[0] == OrderAccepted(
        order_id=1,
        user_id=1,
        symbol=SYMBOL,
        client_order_id="b1",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        price=P,
        qty=10,
        stop_price=0,
        quote_qty=0,
        post_only=False,
        status=OrderStatus.NEW,
    )
    # 10 lots x 10_000 ticks x 100 = 10_000_000 + taker fee 10_000
    assert ev[1] == BalanceChanged(
        user_id=1,
        asset="USDT",
        available=U - 10_010_000,
        reserved=10_010_000,
        delta_available=-10_010_000,
        delta_reserved=10_010_000,
    )
    assert ev[2] == BookLevelChanged(symbol=SYMBOL, side=Side.BUY, price=P, qty=10, orders=1)
    assert h.depth(Side.BUY) == [(P, 10, 1)]
    assert h.depth(Side.SELL) == []
    assert h.engine.next_order_id == 2
    h.check_invariants()


def test_gtc_sell_rests_and_reserves_base_only() -> None:
    h = make(2)
    ev = h.sell(2, 7, P)
    assert kinds(ev) == ["OrderAccepted", "BalanceChanged", "BookLevelChanged"]
    assert h.balance(2, "BTC") == (B - 70_000, 70_000)  # 7 lots x 10_000 units
    assert h.balance(2, "USDT") == (U, 0)
    assert h.depth(Side.SELL) == [(P, 7, 1)]
    h.check_invariants()


def test_non_crossing_orders_both_rest_and_depth_is_best_first() -> None:
    h = make(1, 2)
    h.buy(1, 3, P - 200)
    h.buy(1, 4, P - 100)
    h.buy(2, 5, P - 100)
    h.sell(2, 6, P + 200)
    h.sell(1, 2, P + 100)
    assert h.depth(Side.BUY) == [(P - 100, 9, 2), (P - 200, 3, 1)]
    assert h.depth(Side.SELL) == [(P + 100, 2, 1), (P + 200, 6, 1)]
    assert trades(h.log[-1][2]) == []
    h.check_invariants()


# ---------------------------------------------------------------- crossing


def test_full_cross_at_same_price_settles_both_legs_and_fees() -> None:
    h = make(1, 2)
    ask = oid(h.sell(2, 10, P))
    ev = h.buy(1, 10, P)
    bid = oid(ev)
    assert kinds(ev)[:2] == ["OrderAccepted", "Trade"]
    assert trades(ev) == [
        Trade(
            trade_id=1,
            symbol=SYMBOL,
            price=P,
            qty=10,
            notional=10_000_000,
            taker_side=Side.BUY,
            maker_order_id=ask,
            maker_user_id=2,
            taker_order_id=bid,
            taker_user_id=1,
            maker_fee=5_000,
            taker_fee=10_000,
            maker_remaining=0,
            taker_remaining=0,
        )
    ]
    # BalanceChanged then BookLevelChanged close the list
    assert kinds(ev)[2:] == ["BalanceChanged"] * 5 + ["BookLevelChanged"]
    assert balance_moves(ev) == {
        # buyer pays 10_000_000 + 10_000 fee, receives 10 lots
        (1, "USDT"): (U - 10_010_000, 0, -10_010_000, 0),
        (1, "BTC"): (B + 100_000, 0, 100_000, 0),
        # seller's reserved base leaves, proceeds less the 5_000 maker fee arrive
        (2, "BTC"): (B - 100_000, 0, 0, -100_000),
        (2, "USDT"): (U + 9_995_000, 0, 9_995_000, 0),
        (0, "USDT"): (15_000, 0, 15_000, 0),
    }
    assert ev[-1] == BookLevelChanged(symbol=SYMBOL, side=Side.SELL, price=P, qty=0, orders=0)
    assert h.depth(Side.BUY) == [] and h.depth(Side.SELL) == []
    assert h.engine.markets[SYMBOL].last_price == P
    assert h.engine.orders == {}
    h.check_invariants()


def test_taker_smaller_than_maker_leaves_maker_partially_filled() -> None:
    h = make(1, 2)
    ask = oid(h.sell(2, 10, P))
    ev = h.buy(1, 4, P)
    t = one(ev, Trade)
    assert (t.qty, t.maker_remaining, t.taker_remaining) == (4, 6, 0)
    assert h.depth(Side.SELL) == [(P, 6, 1)]
    assert h.engine.orders[ask].status is OrderStatus.PARTIALLY_FILLED
    assert h.balance(2, "BTC") == (B - 100_000, 60_000)
    assert h.balance(2, "USDT") == (U + 4_000_000 - 2_000, 0)
    assert h.balance(1, "BTC") == (B + 40_000, 0)
    assert h.balance(1, "USDT") == (U - 4_004_000, 0)
    h.check_invariants()


def test_gtc_taker_partially_filled_rests_the_remainder() -> None:
    h = make(1, 2)
    h.sell(2, 4, P)
    ev = h.buy(1, 10, P)
    bid = oid(ev)
    t = one(ev, Trade)
    assert (t.qty, t.maker_remaining, t.taker_remaining) == (4, 0, 6)
    assert h.depth(Side.SELL) == []
    assert h.depth(Side.BUY) == [(P, 6, 1)]
    assert h.queue(Side.BUY, P) == [bid]
    assert h.engine.orders[bid].status is OrderStatus.PARTIALLY_FILLED
    # paid 4 lots: 4_000_000 + 4_000; still reserves 6 lots: 6_000_000 + 6_000
    assert h.balance(1, "USDT") == (U - 4_004_000 - 6_006_000, 6_006_000)
    # both levels touched: ask level gone, bid level created
    levels = {(e.side, e.price): (e.qty, e.orders) for e in of(ev, BookLevelChanged)}
    assert levels == {(Side.SELL, P): (0, 0), (Side.BUY, P): (6, 1)}
    h.check_invariants()


def test_buy_walks_three_ask_levels_best_first_and_gets_surplus_back() -> None:
    h = make(1, 2, 3)
    a1 = oid(h.sell(2, 3, 10_000))
    a2 = oid(h.sell(3, 4, 10_100))
    a3 = oid(h.sell(2, 5, 10_200))
    ev = h.buy(1, 10, 10_200)
    bid = oid(ev)
    assert tp(ev) == [(10_000, 3, a1), (10_100, 4, a2), (10_200, 3, a3)]
    assert [t.trade_id for t in trades(ev)] == [1, 2, 3]
    assert [(t.notional, t.taker_fee, t.maker_fee) for t in trades(ev)] == [
        (3_000_000, 3_000, 1_500),
        (4_040_000, 4_040, 2_020),
        (3_060_000, 3_060, 1_530),
    ]
    assert [t.taker_remaining for t in trades(ev)] == [7, 3, 0]
    assert h.depth(Side.SELL) == [(10_200, 2, 1)]
    assert bid not in h.engine.orders
    # reserved 10 x 10_200 x 100 + fee = 10_210_200; paid 10_100_000 + 10_100 = 10_110_100
    assert balance_moves(ev)[(1, "USDT")] == (U - 10_110_100, 0, -10_110_100, 0)
    assert h.balance(1, "BTC") == (B + 100_000, 0)
    # user 2 sold 3 @ 10_000 and 3 @ 10_200, still has 2 lots reserved
    assert h.balance(2, "USDT") == (U + 3_000_000 - 1_500 + 3_060_000 - 1_530, 0)
    assert h.balance(2, "BTC") == (B - 80_000, 20_000)
    assert h.balance(3, "USDT") == (U + 4_040_000 - 2_020, 0)
    assert h.balance(0, "USDT") == (10_100 + 5_050, 0)
    assert h.engine.markets[SYMBOL].last_price == 10_200
    h.check_invariants()


def test_sell_walks_three_bid_levels_best_first() -> None:
    h = make(1, 2, 3)
    b1 = oid(h.buy(2, 3, 10_200))
    b2 = oid(h.buy(3, 4, 10_100))
    b3 = oid(h.buy(2, 5, 10_000))
    ev = h.sell(1, 10, 10_000)
    assert tp(ev) == [(10_200, 3, b1), (10_100, 4, b2), (10_000, 3, b3)]
    assert all(t.taker_side is Side.SELL for t in trades(ev))
    assert h.depth(Side.BUY) == [(10_000, 2, 1)]
    # proceeds 3_060_000 + 4_040_000 + 3_000_000 = 10_100_000, taker fees 10_100
    assert h.balance(1, "USDT") == (U + 10_089_900, 0)
    assert h.balance(1, "BTC") == (B - 100_000, 0)
    # user 2 still bids 2 lots @ 10_000: 2_000_000 + 2_000 reserved
    assert h.balance(2, "USDT")[1] == 2_002_000
    assert h.engine.markets[SYMBOL].last_price == 10_000
    h.check_invariants()


def test_fifo_within_a_level_three_makers() -> None:
    h = make(1, 2, 3, 4)
    a = oid(h.sell(2, 5, P))
    b = oid(h.sell(3, 5, P))
    c = oid(h.sell(4, 5, P))
    d = oid(h.sell(2, 5, P))
    assert h.queue(Side.SELL, P) == [a, b, c, d]
    ev = h.buy(1, 12, P)
    assert tp(ev) == [(P, 5, a), (P, 5, b), (P, 2, c)]
    assert [t.maker_user_id for t in trades(ev)] == [2, 3, 4]
    assert h.queue(Side.SELL, P) == [c, d]
    assert h.depth(Side.SELL) == [(P, 8, 2)]
    # next taker continues with c's 3 lots, then d
    ev = h.buy(1, 4, P)
    assert tp(ev) == [(P, 3, c), (P, 1, d)]
    assert h.queue(Side.SELL, P) == [d]
    h.check_invariants()


def test_price_beats_time_a_later_better_ask_fills_first() -> None:
    h = make(1, 2, 3)
    worse = oid(h.sell(2, 5, P + 100))
    better = oid(h.sell(3, 5, P))
    ev = h.buy(1, 6, P + 100)
    assert tp(ev) == [(P, 5, better), (P + 100, 1, worse)]
    h.check_invariants()


def test_buy_taker_price_improvement_trades_at_maker_price_and_releases_surplus() -> None:
    h = make(1, 2)
    h.sell(2, 10, 10_000)
    ev = h.buy(1, 10, 10_500)
    t = one(ev, Trade)
    assert (t.price, t.notional, t.taker_fee) == (10_000, 10_000_000, 10_000)
    # reserved 10_500_000 + 10_500 = 10_510_500, paid 10_010_000; 500_500 back in the same step
    assert balance_moves(ev)[(1, "USDT")] == (U - 10_010_000, 0, -10_010_000, 0)
    h.check_invariants()


def test_sell_taker_price_improvement_gets_the_bid_price() -> None:
    h = make(1, 2)
    h.buy(1, 10, 10_500)
    ev = h.sell(2, 10, 10_000)
    t = one(ev, Trade)
    assert (t.price, t.notional, t.maker_fee, t.taker_fee) == (10_500, 10_500_000, 5_250, 10_500)
    # seller: 10_500_000 - 10_500
    assert h.balance(2, "USDT") == (U + 10_489_500, 0)
    # buyer (maker): paid 10_500_000 + 5_250; the reserved taker-fee difference came back
    assert h.balance(1, "USDT") == (U - 10_505_250, 0)
    assert balance_moves(ev)[(1, "USDT")] == (U - 10_505_250, 0, 5_250, -10_510_500)
    h.check_invariants()


def test_partial_fill_at_better_price_then_rest_keeps_exact_reservation() -> None:
    h = make(1, 2)
    h.sell(2, 4, 10_000)
    ev = h.buy(1, 10, 10_100)
    # reserve 10 x 10_100 x 100 + fee = 10_110_100
    # pay 4 @ 10_000: 4_000_000 + 4_000 = 4_004_000
    # keep for 6 @ 10_100: 6_060_000 + 6_060 = 6_066_060 (surplus 40_040 released)
    assert balance_moves(ev)[(1, "USDT")] == (
        U - 4_004_000 - 6_066_060,
        6_066_060,
        -4_004_000 - 6_066_060,
        6_066_060,
    )
    assert h.depth(Side.BUY) == [(10_100, 6, 1)]
    h.check_invariants()


def test_resting_bid_hit_partially_releases_taker_fee_minus_maker_fee() -> None:
    h = make(1, 2)
    h.buy(1, 10, 10_500)  # reserves 10_500_000 + 10_500 = 10_510_500
    h.sell(2, 4, 10_000)  # trades 4 @ 10_500: notional 4_200_000, maker fee 2_100
    # keeps 6 lots: 6_300_000 + 6_300 = 6_306_300; released 4_200 - 2_100 = 2_100
    assert h.balance(1, "USDT") == (U - 10_510_500 + 2_100, 6_306_300)
    assert h.balance(1, "BTC") == (B + 40_000, 0)
    assert h.depth(Side.BUY) == [(10_500, 6, 1)]
    h.check_invariants()


def test_fee_is_rounded_down_per_fill() -> None:
    h = make(1, 2)
    h.sell(2, 1, 12_345)
    h.sell(2, 1, 12_345)
    ev = h.buy(1, 2, 12_345)
    # each fill: notional 1_234_500; taker 1_234.5 -> 1_234, maker 617.25 -> 617
    assert [(t.notional, t.taker_fee, t.maker_fee) for t in trades(ev)] == [
        (1_234_500, 1_234, 617),
        (1_234_500, 1_234, 617),
    ]
    # reserved for the whole order: 2_469_000 + 2_469; paid 2_469_000 + 2_468; 1 unit back
    assert h.balance(1, "USDT") == (U - 2_471_468, 0)
    assert h.balance(0, "USDT") == (2 * 1_234 + 2 * 617, 0)
    h.check_invariants()


def test_trade_ids_continue_across_commands() -> None:
    h = make(1, 2)
    h.sell(2, 1, P)
    h.sell(2, 1, P + 1)
    ev1 = h.buy(1, 1, P)
    ev2 = h.buy(1, 1, P + 1)
    assert [t.trade_id for t in trades(ev1) + trades(ev2)] == [1, 2]
    assert h.engine.markets[SYMBOL].last_price == P + 1
    h.check_invariants()


def test_fee_tier_rates_apply_to_reservation_and_fills() -> None:
    h = make(1, 2)
    h.do(SetFeeTier(1, "vip", maker_fee_ppm=0, taker_fee_ppm=200))
    ev = h.buy(1, 10, P)  # 10_000_000 + 200 ppm = 2_000
    assert h.balance(1, "USDT") == (U - 10_002_000, 10_002_000)
    ev = h.sell(2, 4, P)  # user 1 is the maker at 0 ppm; user 2 pays the default 1_000 ppm
    t = one(ev, Trade)
    assert (t.maker_fee, t.taker_fee) == (0, 4_000)
    # 4 lots paid with no fee; the remaining 6 keep 6_000_000 + 1_200
    assert h.balance(1, "USDT") == (U - 4_000_000 - 6_001_200, 6_001_200)
    assert h.balance(0, "USDT") == (4_000, 0)
    h.check_invariants()


def test_fee_tier_change_does_not_touch_open_orders() -> None:
    h = make(1, 2)
    bid = oid(h.buy(1, 10, P))  # default rates locked: reserves 10_010_000
    h.do(SetFeeTier(1, "vip", maker_fee_ppm=100, taker_fee_ppm=200))
    assert h.balance(1, "USDT") == (U - 10_010_000, 10_010_000)
    ev = h.sell(2, 10, P)
    t = one(ev, Trade)
    assert (t.maker_order_id, t.maker_fee, t.taker_fee) == (bid, 5_000, 10_000)
    ev = h.buy(1, 1, P + 100)  # new order: the tier's 200 ppm -> 1_010_000 + 202
    assert h.balance(1, "USDT") == (U - 10_005_000 - 1_010_202, 1_010_202)
    h.check_invariants()


# ---------------------------------------------------------------- IOC


def test_ioc_partial_fill_expires_remainder() -> None:
    h = make(1, 2)
    h.sell(2, 4, P)
    ev = h.buy(1, 10, P, tif=IOC)
    bid = oid(ev)
    assert kinds(ev)[:3] == ["OrderAccepted", "Trade", "OrderExpired"]
    assert ev[2] == OrderExpired(
        order_id=bid,
        user_id=1,
        symbol=SYMBOL,
        client_order_id=ev[0].client_order_id,
        reason=EndReason.IOC_REMAINDER,
        remaining=6,
    )
    assert h.depth(Side.BUY) == [] and h.depth(Side.SELL) == []
    assert h.balance(1, "USDT") == (U - 4_004_000, 0)
    assert h.engine.orders == {}
    h.check_invariants()


def test_ioc_without_cross_expires_whole_and_moves_nothing() -> None:
    h = make(1, 2)
    h.sell(2, 4, P + 1)
    ev = h.buy(1, 10, P, tif=IOC)
    # reserve and release in the same command net to zero: no BalanceChanged, no level touched
    assert kinds(ev) == ["OrderAccepted", "OrderExpired"]
    assert (ev[1].reason, ev[1].remaining) == (EndReason.IOC_REMAINDER, 10)
    assert h.balance(1, "USDT") == (U, 0)
    assert h.depth(Side.SELL) == [(P + 1, 4, 1)]
    assert h.engine.next_order_id == 3
    h.check_invariants()


def test_ioc_sell_walks_bids_down_to_its_limit_only() -> None:
    h = make(1, 2)
    h.buy(2, 2, P + 100)
    h.buy(2, 2, P)
    b3 = oid(h.buy(2, 2, P - 100))
    ev = h.sell(1, 6, P, tif=IOC)
    assert [(t.price, t.qty) for t in trades(ev)] == [(P + 100, 2), (P, 2)]
    assert one(ev, OrderExpired).remaining == 2
    assert h.queue(Side.BUY, P - 100) == [b3]
    assert h.balance(1, "BTC") == (B - 40_000, 0)
    h.check_invariants()


# ---------------------------------------------------------------- FOK


def test_fok_fills_completely_across_two_levels() -> None:
    h = make(1, 2, 3)
    a1 = oid(h.sell(2, 4, P))
    a2 = oid(h.sell(3, 6, P + 100))
    ev = h.buy(1, 10, P + 100, tif=FOK)
    assert tp(ev) == [(P, 4, a1), (P + 100, 6, a2)]
    assert of(ev, OrderExpired) == []
    assert h.depth(Side.SELL) == []
    # 4_000_000 + 6_060_000 = 10_060_000 notional, fees 10_060
    assert h.balance(1, "USDT") == (U - 10_070_060, 0)
    h.check_invariants()


def test_fok_not_enough_quantity_expires_with_no_trade() -> None:
    h = make(1, 2, 3)
    h.sell(2, 4, P)
    h.sell(3, 6, P + 100)
    ev = h.buy(1, 11, P + 100, tif=FOK)
    assert kinds(ev) == ["OrderAccepted", "OrderExpired"]
    assert (ev[1].reason, ev[1].remaining) == (EndReason.FOK_NOT_FILLABLE, 11)
    assert h.depth(Side.SELL) == [(P, 4, 1), (P + 100, 6, 1)]
    assert h.balance(1, "USDT") == (U, 0)
    assert h.engine.markets[SYMBOL].last_price == 0
    h.check_invariants()


def test_fok_enough_quantity_but_not_within_limit_expires() -> None:
    h = make(1, 2, 3)
    h.sell(2, 4, P)
    h.sell(3, 6, P + 100)
    ev = h.buy(1, 10, P, tif=FOK)
    assert trades(ev) == []
    assert one(ev, OrderExpired).reason is EndReason.FOK_NOT_FILLABLE
    assert h.depth(Side.SELL) == [(P, 4, 1), (P + 100, 6, 1)]
    h.check_invariants()


def test_fok_sell_against_no_crossing_bid_expires() -> None:
    h = make(1, 2)
    h.buy(2, 10, P - 1)
    ev = h.sell(1, 5, P, tif=FOK)
    assert kinds(ev) == ["OrderAccepted", "OrderExpired"]
    assert ev[1].reason is EndReason.FOK_NOT_FILLABLE
    assert h.balance(1, "BTC") == (B, 0)
    h.check_invariants()


def test_fok_blocked_by_own_order_under_expire_taker_expires_with_no_trade() -> None:
    # 13 lots on offer but user 1's own 3 sit between 4 and 6 of others': with EXPIRE_TAKER
    # the match would stop after 4, so the FOK cannot fill at once and must not trade at all.
    h = make(1, 2, 3)
    h.sell(2, 4, P)
    own = oid(h.sell(1, 3, P))
    h.sell(3, 6, P)
    ev = h.buy(1, 4 + 6, P, tif=FOK)
    assert kinds(ev) == ["OrderAccepted", "OrderExpired"]
    assert ev[1].reason is EndReason.FOK_NOT_FILLABLE
    assert of(ev, SelfTradePrevented) == []
    assert h.depth(Side.SELL) == [(P, 13, 3)]
    assert own in h.engine.orders
    h.check_invariants()


def test_fok_that_fills_before_reaching_own_order_trades() -> None:
    h = make(1, 2)
    a = oid(h.sell(2, 4, P))
    own = oid(h.sell(1, 3, P))
    ev = h.buy(1, 4, P, tif=FOK)
    assert tp(ev) == [(P, 4, a)]
    assert of(ev, SelfTradePrevented) == []
    assert h.queue(Side.SELL, P) == [own]
    h.check_invariants()


def test_fok_with_expire_maker_skips_own_order_and_fills() -> None:
    h = make(1, 2, 3)
    a = oid(h.sell(2, 4, P))
    own = oid(h.sell(1, 3, P))
    c = oid(h.sell(3, 6, P))
    ev = h.buy(1, 10, P, tif=FOK, stp=StpMode.EXPIRE_MAKER)
    assert tp(ev) == [(P, 4, a), (P, 6, c)]
    stp = one(ev, SelfTradePrevented)
    assert (stp.maker_order_id, stp.mode, stp.qty) == (own, StpMode.EXPIRE_MAKER, 3)
    exp = one(ev, OrderExpired)
    assert (exp.order_id, exp.reason, exp.remaining) == (own, EndReason.SELF_TRADE_PREVENTED, 3)
    assert h.depth(Side.SELL) == []
    assert h.balance(1, "BTC") == (B + 100_000, 0)  # own ask's 3 lots released, 10 bought
    h.check_invariants()


# ---------------------------------------------------------------- post-only


def test_post_only_that_does_not_cross_rests() -> None:
    h = make(1, 2)
    h.sell(2, 5, P + 1)
    ev = h.buy(1, 5, P, post_only=True)
    assert one(ev, OrderAccepted).post_only is True
    assert trades(ev) == []
    assert h.depth(Side.BUY) == [(P, 5, 1)]
    assert h.balance(1, "USDT") == (U - 5_005_000, 5_005_000)
    h.check_invariants()


def test_post_only_buy_that_would_take_is_refused_and_nothing_changes() -> None:
    h = make(1, 2)
    h.sell(2, 5, P)
    before = (h.balance(1, "USDT"), h.depth(Side.SELL), h.engine.next_order_id)
    ev = h.buy(1, 5, P, post_only=True, coid="po")
    r = rejected(ev)
    assert len(ev) == 1
    assert (r.reason, r.client_order_id) == (Reason.POST_ONLY_WOULD_TAKE, "po")
    assert (h.balance(1, "USDT"), h.depth(Side.SELL), h.engine.next_order_id) == before
    # a refused order's client id is not remembered: it may be retried
    ev = h.buy(1, 5, P - 1, post_only=True, coid="po")
    assert one(ev, OrderAccepted).client_order_id == "po"
    h.check_invariants()


def test_post_only_sell_at_the_bid_is_refused() -> None:
    h = make(1, 2)
    h.buy(2, 5, P)
    ev = h.sell(1, 5, P, post_only=True)
    assert rejected(ev).reason is Reason.POST_ONLY_WOULD_TAKE
    assert h.balance(1, "BTC") == (B, 0)
    ev = h.sell(1, 5, P + 1, post_only=True)
    assert h.depth(Side.SELL) == [(P + 1, 5, 1)]
    h.check_invariants()
