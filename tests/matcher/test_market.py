"""Golden scenarios: MARKET orders by quantity and by quote budget, protection band, report.

Default symbol: notional = price x qty x 100, one lot = 10,000 BTC units, taker 1000 ppm,
maker 500 ppm, market band 500 bps. A MARKET BUY reserves at its protection price
``best ask at arrival x 10_500 // 10_000``; a MARKET SELL protects at
``ceil(best bid x 9_500 / 10_000)``. Slippage = (fill notional vs reference) in whole bps,
rounded down.
"""

from __future__ import annotations

from helpers.engine import SYMBOL, B, Harness, U, accepted_id, funded, of, one, rejected, trades

from trade_engine.core.enums import EndReason, OrderStatus, OrderType, Side, TimeInForce
from trade_engine.core.events import (
    MarketOrderReport,
    OrderCancelled,
    OrderExpired,
)
from trade_engine.core.reasons import Reason

MKT = OrderType.MARKET

make = funded
oid = accepted_id


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def tp(events: list) -> list[tuple[int, int]]:
    return [(t.price, t.qty) for t in trades(events)]


def mbuy(h: Harness, user: int, qty: int = 0, **kw) -> list:
    return h.buy(user, qty, order_type=MKT, **kw)


def msell(h: Harness, user: int, qty: int, **kw) -> list:
    return h.sell(user, qty, order_type=MKT, **kw)


def ended(events: list) -> list[tuple[int, EndReason, int]]:
    return [
        (e.order_id, e.reason, e.remaining)
        for e in events
        if isinstance(e, OrderExpired | OrderCancelled)
    ]


# ---------------------------------------------------------------- by quantity


def test_market_buy_inside_one_level_reports_zero_slippage() -> None:
    h = make(1, 2)
    h.sell(2, 10, 10_000)
    ev = mbuy(h, 1, 4, coid="m1")
    mid = oid(ev)
    acc = ev[0]
    assert (acc.order_type, acc.price, acc.qty, acc.status) == (MKT, 0, 4, OrderStatus.NEW)
    assert kinds(ev)[:3] == ["OrderAccepted", "Trade", "MarketOrderReport"]
    assert tp(ev) == [(10_000, 4)]
    assert ev[2] == MarketOrderReport(
        order_id=mid,
        user_id=1,
        symbol=SYMBOL,
        reference_price=10_000,
        protection_price=10_500,  # 10_000 x 10_500 // 10_000
        filled_qty=4,
        filled_notional=4_000_000,
        worst_price=10_000,
        slippage_bps=0,
    )
    # reserved at 10_500: 4_200_000 + 4_200; paid 4_000_000 + 4_000; the rest is back
    assert h.balance(1, "USDT") == (U - 4_004_000, 0)
    assert h.balance(1, "BTC") == (B + 40_000, 0)
    assert h.depth(Side.SELL) == [(10_000, 6, 1)]
    assert h.engine.orders.get(mid) is None
    h.check_invariants()


def test_market_buy_walks_levels_and_reports_slippage() -> None:
    h = make(1, 2, 3)
    h.sell(2, 2, 10_000)
    h.sell(3, 3, 10_100)
    h.sell(2, 5, 10_300)
    ev = mbuy(h, 1, 8)
    assert tp(ev) == [(10_000, 2), (10_100, 3), (10_300, 3)]
    rep = one(ev, MarketOrderReport)
    # notional 2_000_000 + 3_030_000 + 3_090_000 = 8_120_000 vs 8 x 10_000 x 100 = 8_000_000
    # 120_000 x 10_000 // 8_000_000 = 150 bps
    assert (rep.filled_qty, rep.filled_notional, rep.worst_price, rep.slippage_bps) == (
        8,
        8_120_000,
        10_300,
        150,
    )
    assert (rep.reference_price, rep.protection_price) == (10_000, 10_500)
    assert of(ev, OrderExpired) == []
    assert h.depth(Side.SELL) == [(10_300, 2, 1)]
    assert h.balance(1, "USDT") == (U - 8_120_000 - 8_120, 0)
    h.check_invariants()


def test_market_buy_stops_at_protection_price_and_expires_rest_no_liquidity() -> None:
    h = make(1, 2, 3)
    h.sell(2, 2, 10_000)
    h.sell(3, 3, 10_500)  # exactly the protection price: still inside
    far = oid(h.sell(2, 5, 10_501))  # one tick beyond: untouched
    ev = mbuy(h, 1, 10)
    mid = oid(ev)
    assert tp(ev) == [(10_000, 2), (10_500, 3)]
    assert kinds(ev)[:5] == [
        "OrderAccepted",
        "Trade",
        "Trade",
        "OrderExpired",
        "MarketOrderReport",
    ]
    assert ended(ev) == [(mid, EndReason.NO_LIQUIDITY, 5)]
    rep = one(ev, MarketOrderReport)
    # 2_000_000 + 3_150_000 = 5_150_000 vs 5_000_000: 150_000 x 10_000 // 5_000_000 = 300
    assert (rep.filled_qty, rep.filled_notional, rep.worst_price, rep.slippage_bps) == (
        5,
        5_150_000,
        10_500,
        300,
    )
    assert rep.protection_price == 10_500
    assert h.queue(Side.SELL, 10_501) == [far]
    assert h.balance(1, "USDT") == (U - 5_150_000 - 5_150, 0)
    h.check_invariants()


def test_market_sell_walks_bids_down_to_protection_and_expires_rest() -> None:
    h = make(1, 2, 3)
    h.buy(2, 2, 10_000)
    h.buy(3, 3, 9_500)  # protection: ceil(10_000 x 9_500 / 10_000) = 9_500 -> inside
    h.buy(2, 4, 9_499)
    ev = msell(h, 1, 10)
    mid = oid(ev)
    assert tp(ev) == [(10_000, 2), (9_500, 3)]
    assert all(t.taker_side is Side.SELL for t in trades(ev))
    assert ended(ev) == [(mid, EndReason.NO_LIQUIDITY, 5)]
    rep = one(ev, MarketOrderReport)
    # 2_000_000 + 2_850_000 = 4_850_000 vs 5_000_000: 150_000 x 10_000 // 5_000_000 = 300
    assert (rep.reference_price, rep.protection_price, rep.worst_price) == (10_000, 9_500, 9_500)
    assert (rep.filled_qty, rep.filled_notional, rep.slippage_bps) == (5, 4_850_000, 300)
    # 10 lots reserved, 5 sold, 5 back; proceeds 4_850_000 - fees (2_000 + 2_850)
    assert h.balance(1, "BTC") == (B - 50_000, 0)
    assert h.balance(1, "USDT") == (U + 4_845_150, 0)
    assert h.depth(Side.BUY) == [(9_499, 4, 1)]
    h.check_invariants()


def test_market_buy_book_runs_out_inside_band_expires_rest() -> None:
    h = make(1, 2)
    h.sell(2, 3, 10_000)
    ev = mbuy(h, 1, 5)
    assert tp(ev) == [(10_000, 3)]
    assert ended(ev) == [(oid(ev), EndReason.NO_LIQUIDITY, 2)]
    assert one(ev, MarketOrderReport).filled_qty == 3
    assert h.depth(Side.SELL) == []
    assert h.balance(1, "USDT") == (U - 3_003_000, 0)
    h.check_invariants()


def test_slippage_is_rounded_down_to_whole_bps() -> None:
    h = make(1, 2)
    h.sell(2, 1, 10_000)
    h.sell(2, 1, 10_003)
    ev = mbuy(h, 1, 2)
    rep = one(ev, MarketOrderReport)
    # 1_000_000 + 1_000_300 = 2_000_300 vs 2_000_000: 300 x 10_000 / 2_000_000 = 1.5 -> 1
    assert (rep.filled_notional, rep.slippage_bps, rep.worst_price) == (2_000_300, 1, 10_003)
    h.check_invariants()


def test_market_buy_on_empty_book_is_refused_no_liquidity() -> None:
    h = make(1, 2)
    h.buy(2, 5, 9_000)  # bids do not help a buy
    before = (h.balance(1, "USDT"), h.engine.next_order_id, h.depth(Side.BUY))
    ev = mbuy(h, 1, 1, coid="mk")
    r = rejected(ev)
    assert len(ev) == 1
    assert (r.command, r.reason, r.user_id, r.client_order_id) == (
        "PlaceOrder",
        Reason.NO_LIQUIDITY,
        1,
        "mk",
    )
    assert (h.balance(1, "USDT"), h.engine.next_order_id, h.depth(Side.BUY)) == before
    h.check_invariants()


def test_market_sell_on_empty_bids_is_refused_no_liquidity() -> None:
    h = make(1, 2)
    h.sell(2, 5, 11_000)
    ev = msell(h, 1, 1)
    assert rejected(ev).reason is Reason.NO_LIQUIDITY
    assert len(ev) == 1
    assert h.balance(1, "BTC") == (B, 0)
    assert h.engine.next_order_id == 2
    h.check_invariants()


def test_market_buy_must_afford_the_protection_price_not_the_fill_price() -> None:
    h = Harness()
    h.fund(2, btc=B)
    h.sell(2, 10, 10_000)
    # 4 lots at protection 10_500: 4_200_000 + 4_200 = 4_204_200
    h.fund(1, usdt=4_204_199)
    ev = mbuy(h, 1, 4)
    assert rejected(ev).reason is Reason.INSUFFICIENT_BALANCE
    assert h.balance(1, "USDT") == (4_204_199, 0)
    h.fund(1, usdt=1)
    ev = mbuy(h, 1, 4)
    assert tp(ev) == [(10_000, 4)]
    assert h.balance(1, "USDT") == (4_204_200 - 4_004_000, 0)
    h.check_invariants()


def test_market_fok_not_fillable_expires_without_trading() -> None:
    h = make(1, 2)
    h.sell(2, 3, 10_000)
    ev = mbuy(h, 1, 5, tif=TimeInForce.FOK)
    assert trades(ev) == []
    assert ended(ev) == [(oid(ev), EndReason.FOK_NOT_FILLABLE, 5)]
    assert h.depth(Side.SELL) == [(10_000, 3, 1)]
    assert h.balance(1, "USDT") == (U, 0)
    h.check_invariants()


def test_market_fok_not_fillable_still_reports() -> None:
    h = make(1, 2)
    h.sell(2, 3, 10_000)
    ev = mbuy(h, 1, 5, tif=TimeInForce.FOK)
    rep = one(ev, MarketOrderReport)
    assert (rep.reference_price, rep.protection_price, rep.filled_qty) == (10_000, 10_500, 0)


def test_market_buy_moves_last_price_to_the_worst_fill() -> None:
    h = make(1, 2)
    h.sell(2, 1, 10_000)
    h.sell(2, 1, 10_200)
    mbuy(h, 1, 2)
    assert h.engine.markets[SYMBOL].last_price == 10_200
    h.check_invariants()


# ---------------------------------------------------------------- by quote budget


def test_quote_budget_buys_whole_levels_then_what_the_rest_affords() -> None:
    h = make(1, 2, 3)
    h.sell(2, 3, 10_000)
    h.sell(3, 5, 10_100)
    ev = mbuy(h, 1, quote_qty=6_000_000, coid="q")
    mid = oid(ev)
    acc = ev[0]
    assert (acc.qty, acc.quote_qty) == (0, 6_000_000)
    # level 1: 3 lots cost 3_000_000 + 3_000 = 3_003_000 -> 2_997_000 left
    # level 2: one lot costs 1_010_000 + 1_010 = 1_011_010; 2 lots 2_022_020 fit, 3 do not
    assert tp(ev) == [(10_000, 3), (10_100, 2)]
    assert [t.taker_fee for t in trades(ev)] == [3_000, 2_020]
    rep = one(ev, MarketOrderReport)
    # 5_020_000 vs 5 x 10_000 x 100 = 5_000_000: 20_000 x 10_000 // 5_000_000 = 40 bps
    assert rep == MarketOrderReport(
        order_id=mid,
        user_id=1,
        symbol=SYMBOL,
        reference_price=10_000,
        protection_price=10_500,
        filled_qty=5,
        filled_notional=5_020_000,
        worst_price=10_100,
        slippage_bps=40,
    )
    # spent 5_020_000 + 5_020; the other 974_980 of the budget is back
    assert h.balance(1, "USDT") == (U - 5_025_020, 0)
    assert h.balance(1, "BTC") == (B + 50_000, 0)
    assert h.depth(Side.SELL) == [(10_100, 3, 1)]
    h.check_invariants()


def test_quote_budget_sized_on_arrival_fills_and_returns_the_rest() -> None:
    h = make(1, 2, 3)
    h.sell(2, 3, 10_000)
    h.sell(3, 5, 10_100)
    ev = mbuy(h, 1, quote_qty=6_000_000)
    # 3 lots at 10_000 cost 3_003_000; 2_997_000 left buys 2 lots at 10_100 (2_022_020 with
    # fee); 974_980 cannot buy a third (1_011_010): sized to 5 lots, all filled
    assert tp(ev) == [(10_000, 3), (10_100, 2)]
    assert of(ev, OrderExpired) == []
    assert h.engine.find_order(oid(ev)).status is OrderStatus.FILLED
    assert h.balance(1, "USDT") == (U - 3_003_000 - 2_022_020, 0)
    h.check_invariants()


def test_quote_budget_exact_cost_of_one_lot_is_fully_spent() -> None:
    h = make(1, 2)
    h.sell(2, 5, 10_000)
    ev = mbuy(h, 1, quote_qty=1_001_000)  # 1_000_000 + 1_000 fee
    assert tp(ev) == [(10_000, 1)]
    assert h.balance(1, "USDT") == (U - 1_001_000, 0)
    assert h.balance(0, "USDT") == (1_000 + 500, 0)
    h.check_invariants()


def test_quote_budget_too_small_for_one_lot_expires_budget_exhausted() -> None:
    h = make(1, 2)
    h.sell(2, 5, 10_000)
    ev = mbuy(h, 1, quote_qty=1_000_999)  # one lot needs 1_001_000
    mid = oid(ev)
    assert trades(ev) == []
    assert ended(ev) == [(mid, EndReason.QUOTE_BUDGET_EXHAUSTED, 0)]
    rep = one(ev, MarketOrderReport)
    assert (rep.reference_price, rep.protection_price, rep.filled_qty) == (10_000, 10_500, 0)
    assert (rep.filled_notional, rep.worst_price, rep.slippage_bps) == (0, 0, 0)
    assert h.balance(1, "USDT") == (U, 0)
    assert h.depth(Side.SELL) == [(10_000, 5, 1)]
    h.check_invariants()


def test_quote_budget_fee_rounding_lets_the_exact_amount_buy_two_lots() -> None:
    h = make(1, 2)
    h.sell(2, 5, 12_345)
    # one lot: 1_234_500 + 1_234 (1_234.5 rounded down); two: 2_469_000 + 2_469 = 2_471_469
    ev = mbuy(h, 1, quote_qty=2_471_469)
    assert tp(ev) == [(12_345, 2)]
    assert h.balance(1, "USDT") == (U - 2_471_469, 0)
    ev = mbuy(h, 1, quote_qty=2_471_468)  # one unit short of two lots
    assert tp(ev) == [(12_345, 1)]
    assert h.balance(1, "USDT") == (U - 2_471_469 - 1_235_734, 0)
    h.check_invariants()


def test_quote_budget_reserves_the_budget_itself() -> None:
    h = Harness()
    h.fund(2, btc=B)
    h.sell(2, 5, 10_000)
    h.fund(1, usdt=2_000_000)
    ev = mbuy(h, 1, quote_qty=2_000_001)
    assert rejected(ev).reason is Reason.INSUFFICIENT_BALANCE
    ev = mbuy(h, 1, quote_qty=2_000_000)
    # 1 lot = 1_001_000; 2 lots = 2_002_000 > budget -> 1 lot
    assert tp(ev) == [(10_000, 1)]
    assert h.balance(1, "USDT") == (2_000_000 - 1_001_000, 0)
    h.check_invariants()


def test_quote_budget_does_not_walk_beyond_the_protection_price() -> None:
    h = make(1, 2)
    h.sell(2, 1, 10_000)
    h.sell(2, 5, 10_501)
    ev = mbuy(h, 1, quote_qty=50_000_000)
    assert tp(ev) == [(10_000, 1)]
    assert one(ev, MarketOrderReport).filled_qty == 1
    assert h.balance(1, "USDT") == (U - 1_001_000, 0)
    assert h.depth(Side.SELL) == [(10_501, 5, 1)]
    h.check_invariants()


def test_quote_budget_sized_to_the_liquidity_inside_the_band() -> None:
    h = make(1, 2)
    h.sell(2, 1, 10_000)
    h.sell(2, 5, 10_501)  # outside the 5 % band around 10_000 (10_500)
    ev = mbuy(h, 1, quote_qty=50_000_000)
    assert tp(ev) == [(10_000, 1)]
    assert of(ev, OrderExpired) == []
    rep = one(ev, MarketOrderReport)
    assert (rep.filled_qty, rep.filled_notional, rep.protection_price) == (1, 1_000_000, 10_500)
    assert h.balance(1, "USDT") == (U - 1_001_000, 0)
    assert h.depth(Side.SELL) == [(10_501, 5, 1)]
    h.check_invariants()


def test_quote_qty_is_only_for_market_buys_without_qty() -> None:
    h = make(1, 2)
    h.sell(2, 5, 10_000)
    h.buy(2, 5, 9_000)
    assert rejected(mbuy(h, 1, 1, quote_qty=1_001_000)).reason is Reason.INVALID_COMMAND
    assert rejected(msell(h, 1, 0, quote_qty=1_001_000)).reason is Reason.INVALID_COMMAND
    ev = h.buy(1, 0, 10_000, quote_qty=1_001_000)
    assert rejected(ev).reason is Reason.INVALID_COMMAND
    ev = mbuy(h, 1, quote_qty=1_001_000, tif=TimeInForce.FOK)
    assert rejected(ev).reason is Reason.INVALID_TIME_IN_FORCE
    assert h.engine.next_order_id == 3
    assert h.balance(1, "USDT") == (U, 0)
    h.check_invariants()


def test_market_order_with_limit_price_or_post_only_is_refused() -> None:
    h = make(1, 2)
    h.sell(2, 5, 10_000)
    assert rejected(mbuy(h, 1, 1, price=10_000)).reason is Reason.INVALID_PRICE
    assert rejected(mbuy(h, 1, 1, post_only=True)).reason is Reason.INVALID_COMMAND
    assert h.engine.next_order_id == 2
    h.check_invariants()
