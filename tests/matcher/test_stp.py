"""Golden scenarios: self-trade prevention (the taker's mode decides).

EXPIRE_TAKER (default) expires the taker's remainder, EXPIRE_MAKER expires the resting order
and goes on, EXPIRE_BOTH does both, NONE trades; an ``stp_exempt`` account trades with itself
whatever the mode. Every prevention emits ``SelfTradePrevented``; trades made before it stand.
One lot at P = 10_000 costs 1_000_000 + 1_000 taker fee (maker fee 500).
"""

from __future__ import annotations

from helpers.engine import SYMBOL, B, Harness, U, accepted_id, funded, of, one, trades

from trade_engine.core.commands import SetAccountFlags
from trade_engine.core.enums import EndReason, OrderType, Side, StpMode
from trade_engine.core.events import (
    AccountFlagsSet,
    MarketOrderReport,
    OrderExpired,
    SelfTradePrevented,
)

P = 10_000

make = funded
oid = accepted_id


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def tp(events: list) -> list[tuple[int, int, int]]:
    return [(t.price, t.qty, t.maker_order_id) for t in trades(events)]


def expired(events: list) -> list[tuple[int, EndReason, int]]:
    return [(e.order_id, e.reason, e.remaining) for e in of(events, OrderExpired)]


def three_asks(h: Harness) -> tuple[int, int, int]:
    """At P: user 2 sells 2, then user 1 sells 3, then user 3 sells 4."""
    x = oid(h.sell(2, 2, P))
    own = oid(h.sell(1, 3, P))
    z = oid(h.sell(3, 4, P))
    return x, own, z


def test_expire_taker_is_the_default_and_leaves_the_resting_order() -> None:
    h = make(1)
    own = oid(h.sell(1, 5, P))
    ev = h.buy(1, 3, P)
    taker = oid(ev)
    assert kinds(ev)[:3] == ["OrderAccepted", "SelfTradePrevented", "OrderExpired"]
    assert ev[1] == SelfTradePrevented(
        symbol=SYMBOL,
        user_id=1,
        taker_order_id=taker,
        maker_order_id=own,
        mode=StpMode.EXPIRE_TAKER,
        price=P,
        qty=3,  # min(taker 3, maker 5)
    )
    assert expired(ev) == [(taker, EndReason.SELF_TRADE_PREVENTED, 3)]
    assert trades(ev) == []
    assert h.queue(Side.SELL, P) == [own]
    assert h.depth(Side.SELL) == [(P, 5, 1)]
    assert h.depth(Side.BUY) == []
    assert h.balance(1, "USDT") == (U, 0)
    assert h.balance(1, "BTC") == (B - 50_000, 50_000)
    h.check_invariants()


def test_expire_taker_trades_before_the_self_match_stand() -> None:
    h = make(1, 2, 3)
    x, own, z = three_asks(h)
    ev = h.buy(1, 6, P)
    taker = oid(ev)
    assert kinds(ev)[:4] == ["OrderAccepted", "Trade", "SelfTradePrevented", "OrderExpired"]
    assert tp(ev) == [(P, 2, x)]
    stp = one(ev, SelfTradePrevented)
    assert (stp.maker_order_id, stp.qty, stp.mode) == (own, 3, StpMode.EXPIRE_TAKER)
    assert expired(ev) == [(taker, EndReason.SELF_TRADE_PREVENTED, 4)]
    assert h.queue(Side.SELL, P) == [own, z]
    assert h.depth(Side.SELL) == [(P, 7, 2)]
    assert h.depth(Side.BUY) == []  # the GTC remainder does not rest
    assert h.balance(1, "USDT") == (U - 2_002_000, 0)
    assert h.balance(1, "BTC") == (B - 30_000 + 20_000, 30_000)
    h.check_invariants()


def test_expire_maker_removes_own_order_and_goes_on() -> None:
    h = make(1, 2, 3)
    x, own, z = three_asks(h)
    ev = h.buy(1, 6, P, stp=StpMode.EXPIRE_MAKER)
    assert kinds(ev)[:5] == [
        "OrderAccepted",
        "Trade",
        "SelfTradePrevented",
        "OrderExpired",
        "Trade",
    ]
    assert tp(ev) == [(P, 2, x), (P, 4, z)]
    stp = one(ev, SelfTradePrevented)
    assert (stp.maker_order_id, stp.qty, stp.mode) == (own, 3, StpMode.EXPIRE_MAKER)
    assert expired(ev) == [(own, EndReason.SELF_TRADE_PREVENTED, 3)]
    assert trades(ev)[-1].taker_remaining == 0
    assert h.depth(Side.SELL) == []
    assert h.engine.orders == {}
    # own ask's 3 lots back, 6 bought; paid 6_006_000
    assert h.balance(1, "BTC") == (B + 60_000, 0)
    assert h.balance(1, "USDT") == (U - 6_006_000, 0)
    h.check_invariants()


def test_expire_both_removes_own_order_and_the_taker_remainder() -> None:
    h = make(1, 2, 3)
    x, own, z = three_asks(h)
    ev = h.buy(1, 6, P, stp=StpMode.EXPIRE_BOTH)
    taker = oid(ev)
    assert kinds(ev)[:5] == [
        "OrderAccepted",
        "Trade",
        "SelfTradePrevented",
        "OrderExpired",
        "OrderExpired",
    ]
    assert tp(ev) == [(P, 2, x)]
    assert one(ev, SelfTradePrevented).mode is StpMode.EXPIRE_BOTH
    assert expired(ev) == [
        (own, EndReason.SELF_TRADE_PREVENTED, 3),
        (taker, EndReason.SELF_TRADE_PREVENTED, 4),
    ]
    assert h.queue(Side.SELL, P) == [z]
    assert h.balance(1, "BTC") == (B + 20_000, 0)
    assert h.balance(1, "USDT") == (U - 2_002_000, 0)
    h.check_invariants()


def test_mode_none_trades_with_itself_and_pays_both_fees() -> None:
    h = make(1, 2, 3)
    x, own, z = three_asks(h)
    ev = h.buy(1, 6, P, stp=StpMode.NONE)
    assert of(ev, SelfTradePrevented) == []
    assert tp(ev) == [(P, 2, x), (P, 3, own), (P, 1, z)]
    self_trade = trades(ev)[1]
    assert (self_trade.maker_user_id, self_trade.taker_user_id) == (1, 1)
    assert (self_trade.maker_fee, self_trade.taker_fee) == (1_500, 3_000)
    # pays 6_006_000 as taker, gets 3_000_000 - 1_500 back as maker of the self-trade
    assert h.balance(1, "USDT") == (U - 6_006_000 + 2_998_500, 0)
    assert h.balance(1, "BTC") == (B + 30_000, 0)
    # taker fees 6_000; maker fees 1_000 + 1_500 + 500
    assert h.balance(0, "USDT") == (9_000, 0)
    assert h.queue(Side.SELL, P) == [z]
    assert h.depth(Side.SELL) == [(P, 3, 1)]
    h.check_invariants()


def test_stp_exempt_account_trades_with_itself_under_expire_taker() -> None:
    h = make(1)
    ev = h.do(SetAccountFlags(1, market_maker=True, stp_exempt=True, operator="ops"))
    assert ev == [AccountFlagsSet(user_id=1, market_maker=True, stp_exempt=True, operator="ops")]
    own = oid(h.sell(1, 5, P))
    ev = h.buy(1, 3, P)  # default EXPIRE_TAKER, but the account is exempt
    assert of(ev, SelfTradePrevented) == []
    assert tp(ev) == [(P, 3, own)]
    # net cost is the two fees: 3_000 taker + 1_500 maker
    assert h.balance(1, "USDT") == (U - 4_500, 0)
    assert h.balance(1, "BTC") == (B - 20_000, 20_000)
    assert h.balance(0, "USDT") == (4_500, 0)
    h.check_invariants()


def test_clearing_stp_exempt_turns_prevention_back_on() -> None:
    h = make(1)
    h.do(SetAccountFlags(1, stp_exempt=True))
    own = oid(h.sell(1, 5, P))
    h.do(SetAccountFlags(1, stp_exempt=False))
    ev = h.buy(1, 3, P)
    assert one(ev, SelfTradePrevented).maker_order_id == own
    assert trades(ev) == []
    h.check_invariants()


def test_stp_exempt_also_covers_expire_maker_and_expire_both_orders() -> None:
    h = make(1)
    h.do(SetAccountFlags(1, stp_exempt=True))
    a = oid(h.sell(1, 2, P))
    b = oid(h.sell(1, 2, P))
    ev1 = h.buy(1, 2, P, stp=StpMode.EXPIRE_MAKER)
    ev2 = h.buy(1, 2, P, stp=StpMode.EXPIRE_BOTH)
    assert tp(ev1) == [(P, 2, a)] and tp(ev2) == [(P, 2, b)]
    assert of(ev1 + ev2, SelfTradePrevented) == []
    h.check_invariants()


def test_sell_taker_meets_own_bid_first_and_expires_without_reaching_others() -> None:
    h = make(1, 2)
    own = oid(h.buy(1, 5, P))
    other = oid(h.buy(2, 5, P - 100))
    ev = h.sell(1, 3, P - 100)
    taker = oid(ev)
    stp = one(ev, SelfTradePrevented)
    assert (stp.taker_order_id, stp.maker_order_id, stp.price, stp.qty) == (taker, own, P, 3)
    assert expired(ev) == [(taker, EndReason.SELF_TRADE_PREVENTED, 3)]
    assert trades(ev) == []
    assert h.queue(Side.BUY, P - 100) == [other]
    assert h.balance(1, "BTC") == (B, 0)
    h.check_invariants()


def test_expire_maker_over_own_orders_on_two_levels() -> None:
    h = make(1, 2)
    o1 = oid(h.sell(1, 2, P))
    o2 = oid(h.sell(1, 2, P + 100))
    x = oid(h.sell(2, 3, P + 100))
    ev = h.buy(1, 3, P + 100, stp=StpMode.EXPIRE_MAKER)
    assert [(s.maker_order_id, s.price, s.qty) for s in of(ev, SelfTradePrevented)] == [
        (o1, P, 2),
        (o2, P + 100, 2),
    ]
    assert expired(ev) == [
        (o1, EndReason.SELF_TRADE_PREVENTED, 2),
        (o2, EndReason.SELF_TRADE_PREVENTED, 2),
    ]
    assert tp(ev) == [(P + 100, 3, x)]
    assert h.depth(Side.SELL) == []
    # reserved 3 x 10_100 x 100 + fee, all spent: 3_030_000 + 3_030
    assert h.balance(1, "USDT") == (U - 3_033_030, 0)
    assert h.balance(1, "BTC") == (B + 30_000, 0)
    h.check_invariants()


def test_market_buy_meeting_own_best_ask_expires_and_reports_nothing_filled() -> None:
    h = make(1, 2)
    own = oid(h.sell(1, 2, P))
    h.sell(2, 5, P + 100)
    ev = h.buy(1, 4, order_type=OrderType.MARKET)
    taker = oid(ev)
    assert one(ev, SelfTradePrevented).maker_order_id == own
    assert expired(ev) == [(taker, EndReason.SELF_TRADE_PREVENTED, 4)]
    rep = one(ev, MarketOrderReport)
    assert (rep.filled_qty, rep.filled_notional, rep.worst_price) == (0, 0, 0)
    assert h.balance(1, "USDT") == (U, 0)
    assert h.depth(Side.SELL) == [(P, 2, 1), (P + 100, 5, 1)]
    h.check_invariants()


def test_market_buy_expire_maker_skips_own_ask_and_fills_from_others() -> None:
    h = make(1, 2)
    own = oid(h.sell(1, 2, P))
    h.sell(2, 5, P + 100)
    ev = h.buy(1, 4, order_type=OrderType.MARKET, stp=StpMode.EXPIRE_MAKER)
    assert expired(ev) == [(own, EndReason.SELF_TRADE_PREVENTED, 2)]
    assert [(t.price, t.qty) for t in trades(ev)] == [(P + 100, 4)]
    rep = one(ev, MarketOrderReport)
    # reference is the best ask at arrival (own 10_000): 4_040_000 vs 4_000_000 -> 100 bps
    assert (rep.reference_price, rep.filled_notional, rep.slippage_bps) == (P, 4_040_000, 100)
    assert h.balance(1, "USDT") == (U - 4_044_040, 0)
    h.check_invariants()


def test_quote_budget_market_buy_stopped_by_stp_expires_self_trade_prevented() -> None:
    h = make(1, 2)
    h.sell(2, 1, P)
    own = oid(h.sell(1, 5, P))
    ev = h.buy(1, 0, order_type=OrderType.MARKET, quote_qty=5_000_000)
    taker = oid(ev)
    assert [(t.price, t.qty) for t in trades(ev)] == [(P, 1)]
    assert one(ev, SelfTradePrevented).maker_order_id == own
    assert expired(ev) == [(taker, EndReason.SELF_TRADE_PREVENTED, 3)]


def test_fired_stop_meeting_own_order_is_prevented() -> None:
    h = make(1, 2, 4)
    h.sell(4, 1, 9_900)
    h.buy(2, 1, 9_900)  # last 9_900
    stop = oid(h.buy(1, 2, order_type=OrderType.STOP, stop_price=10_000))
    h.sell(2, 1, 10_000)
    own = oid(h.sell(1, 3, 10_000))
    ev = h.buy(4, 1, 10_000)  # takes user 2's ask -> last 10_000 -> the stop fires
    stp = one(ev, SelfTradePrevented)
    assert (stp.taker_order_id, stp.maker_order_id, stp.qty) == (stop, own, 2)
    assert expired(ev) == [(stop, EndReason.SELF_TRADE_PREVENTED, 2)]
    assert h.queue(Side.SELL, 10_000) == [own]
    assert h.balance(1, "USDT") == (U, 0)
    h.check_invariants()
