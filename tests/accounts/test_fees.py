"""Fee golden scenarios: exact amounts worked out by hand from docs/core-semantics.md.

Default symbol BTC-USDT (tests/helpers/engine.py): tick 0.01, lot 0.0001, both assets 8 decimals, so
notional = price_ticks x qty_lots x 100 USDT units and one lot = 10,000 BTC units.
Default rates: maker 500 ppm (0.05 %), taker 1000 ppm (0.10 %).
fee = notional * rate_ppm // 1_000_000 per fill, always in quote, paid to user 0.
A BUY reserves limit_price x qty x 100 + taker fee on that.
"""

from __future__ import annotations

import pytest
from helpers.engine import SYMBOL, Harness, default_spec, of, one, rejected, trades

from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    Deposit,
    SetFeeTier,
    UpdateSymbol,
)
from trade_engine.core.enums import OrderType, StpMode, TimeInForce
from trade_engine.core.events import BalanceChanged, FeeTierSet, OrderAccepted, SymbolDefined
from trade_engine.core.reasons import Reason
from trade_engine.core.state import export_state
from trade_engine.core.symbols import SymbolSpec

FEE = 0  # the fee account

USDT_1 = 100_000_000  # 1 USDT in smallest units
BTC_1 = 100_000_000  # 1 BTC


def fee_account(h: Harness) -> int:
    avail, reserved = h.balance(FEE, "USDT")
    assert reserved == 0
    assert h.balance(FEE, "BTC") == (0, 0)  # fees are never charged in base
    return avail


def changes(events: list, user: int, asset: str) -> BalanceChanged | None:
    found = [e for e in of(events, BalanceChanged) if e.user_id == user and e.asset == asset]
    assert len(found) <= 1, "one BalanceChanged per balance per command"
    return found[0] if found else None


def state_without_stamp(h: Harness) -> dict:
    d = export_state(h.engine)
    d.pop("seq")
    d.pop("ts")
    return d


# ---------------------------------------------------------------- maker vs taker


def test_taker_buy_pays_taker_rate_maker_sell_pays_maker_rate() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.sell(2, 5_000, 5_000_000)  # 0.5 BTC at 50,000.00
    ev = h.buy(1, 5_000, 5_000_000)
    (t,) = trades(ev)
    # notional 5,000,000 x 5,000 x 100 = 2,500,000,000,000 (25,000 USDT)
    assert t.notional == 2_500_000_000_000
    assert t.maker_fee == 1_250_000_000  # 12.5 USDT = 0.05 %
    assert t.taker_fee == 2_500_000_000  # 25 USDT = 0.10 %
    # buyer pays notional + taker fee, receives exactly 0.5 BTC (no fee in base)
    assert h.balance(1, "USDT") == (10_000_000_000_000 - 2_502_500_000_000, 0)
    assert h.balance(1, "BTC") == (50_000_000, 0)
    # seller receives notional - maker fee, gives exactly 0.5 BTC
    assert h.balance(2, "USDT") == (2_498_750_000_000, 0)
    assert h.balance(2, "BTC") == (50_000_000, 0)
    assert fee_account(h) == 3_750_000_000
    fee_ev = changes(ev, FEE, "USDT")
    assert fee_ev is not None
    assert (fee_ev.available, fee_ev.delta_available, fee_ev.delta_reserved) == (
        3_750_000_000,
        3_750_000_000,
        0,
    )
    h.check_invariants()


def test_maker_buy_pays_maker_rate_and_gets_reserved_taker_fee_back() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.buy(1, 5_000, 5_000_000)
    # reserve = 2,500,000,000,000 + 0.10 % = 2,502,500,000,000
    assert h.balance(1, "USDT") == (7_497_500_000_000, 2_502_500_000_000)
    ev = h.sell(2, 5_000, 5_000_000)
    (t,) = trades(ev)
    assert (t.maker_fee, t.taker_fee) == (1_250_000_000, 2_500_000_000)
    # buyer (maker) paid notional + 0.05 %; the other 0.05 % reserved comes back at once
    assert h.balance(1, "USDT") == (10_000_000_000_000 - 2_501_250_000_000, 0)
    bc = changes(ev, 1, "USDT")
    assert bc is not None
    assert (bc.delta_available, bc.delta_reserved) == (1_250_000_000, -2_502_500_000_000)
    # seller (taker) receives notional - 0.10 %
    assert h.balance(2, "USDT") == (2_497_500_000_000, 0)
    assert fee_account(h) == 3_750_000_000
    h.check_invariants()


def test_price_improvement_fee_on_the_traded_price() -> None:
    h = Harness()
    h.fund(1, usdt=10_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.sell(2, 1_000, 5_000_000)
    ev = h.buy(1, 1_000, 5_000_500)  # limit 50,005.00, trades at 50,000.00
    (t,) = trades(ev)
    assert (t.price, t.notional, t.taker_fee, t.maker_fee) == (
        5_000_000,
        500_000_000_000,
        500_000_000,
        250_000_000,
    )
    # reserved at the limit (500,550,050,000) but paid 500,500,000,000: the rest is back
    assert h.balance(1, "USDT") == (1_000_000_000_000 - 500_500_000_000, 0)
    bc = changes(ev, 1, "USDT")
    assert bc is not None
    assert (bc.delta_available, bc.delta_reserved) == (-500_500_000_000, 0)
    h.check_invariants()


# ---------------------------------------------------------------- rounding down per fill


def test_tiny_notional_pays_zero_fee() -> None:
    h = Harness()
    h.fund(1, usdt=1_000_000)
    h.fund(2, btc=100_000)
    h.sell(2, 1, 1)  # 0.0001 BTC at 0.01 USDT: notional 1 x 1 x 100 = 100 units
    ev = h.buy(1, 1, 1)
    (t,) = trades(ev)
    assert (t.notional, t.maker_fee, t.taker_fee) == (100, 0, 0)  # 0.05 and 0.1 round to 0
    assert h.balance(1, "USDT") == (1_000_000 - 100, 0)
    assert h.balance(2, "USDT") == (100, 0)
    assert fee_account(h) == 0
    assert changes(ev, FEE, "USDT") is None  # the fee account did not move
    h.check_invariants()


def test_fee_rounds_down_not_to_nearest() -> None:
    h = Harness()
    h.fund(1, usdt=10 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.sell(2, 9_999, 1)
    ev = h.buy(1, 9_999, 1)
    (t,) = trades(ev)
    # notional 1 x 9,999 x 100 = 999,900; taker 999.9 -> 999; maker 499.95 -> 499
    assert (t.notional, t.taker_fee, t.maker_fee) == (999_900, 999, 499)
    assert h.balance(1, "USDT") == (10 * USDT_1 - 1_000_899, 0)
    assert h.balance(2, "USDT") == (999_401, 0)
    assert fee_account(h) == 1_498
    h.check_invariants()


def test_split_fills_pay_less_than_fee_on_the_total_and_the_rest_is_released() -> None:
    h = Harness()
    h.fund(1, usdt=USDT_1)
    h.fund(2, btc=10_000)
    h.fund(3, btc=10_000)
    h.sell(2, 1, 1_999)
    h.sell(3, 1, 1_999)
    ev = h.buy(1, 2, 1_999)
    # reserve for 2 lots at 1,999: 399,800 + floor(399.8) = 400,199
    # each fill: notional 199,900, taker floor(199.9) = 199, maker floor(99.95) = 99
    ts = trades(ev)
    assert [(t.notional, t.taker_fee, t.maker_fee) for t in ts] == [(199_900, 199, 99)] * 2
    assert sum(t.taker_fee for t in ts) == 398 < 399_800 * 1000 // 1_000_000  # 399
    # paid 2 x (199,900 + 199) = 400,198: one unit of the reservation comes back
    assert h.balance(1, "USDT") == (USDT_1 - 400_198, 0)
    bc = changes(ev, 1, "USDT")
    assert bc is not None and bc.delta_available == -400_198
    assert h.balance(2, "USDT") == (199_801, 0)
    assert h.balance(3, "USDT") == (199_801, 0)
    assert fee_account(h) == 596  # 2 x (199 + 99), not 399 + 199
    h.check_invariants()


def test_resting_buy_filled_in_two_pieces_releases_per_fill() -> None:
    h = Harness()
    h.fund(1, usdt=USDT_1)
    h.fund(2, btc=10_000)
    h.fund(3, btc=10_000)
    h.buy(1, 2, 1_999)
    assert h.balance(1, "USDT") == (USDT_1 - 400_199, 400_199)
    ev = h.sell(2, 1, 1_999)
    (t,) = trades(ev)
    assert (t.maker_fee, t.taker_fee) == (99, 199)
    # remainder 1 lot needs 199,900 + 199 = 200,099; released 400,199 - 199,999 - 200,099 = 101
    assert h.balance(1, "USDT") == (USDT_1 - 400_199 + 101, 200_099)
    ev = h.sell(3, 1, 1_999)
    # last fill: 200,099 - 199,900 - 99 = 100 released
    assert h.balance(1, "USDT") == (USDT_1 - 399_998, 0)
    assert h.balance(2, "USDT") == (199_701, 0)  # taker sellers pay 199 each
    assert h.balance(3, "USDT") == (199_701, 0)
    assert fee_account(h) == 596
    h.check_invariants()


def test_taker_sell_walking_two_levels_rounds_each_fill() -> None:
    h = Harness()
    h.fund(1, usdt=USDT_1)
    h.fund(3, usdt=USDT_1)
    h.fund(2, btc=30_000)
    h.buy(1, 1, 3_333)  # reserve 333,300 + 333 = 333,633
    h.buy(3, 2, 3_331)  # reserve 666,200 + 666 = 666,866
    assert h.balance(1, "USDT")[1] == 333_633
    assert h.balance(3, "USDT")[1] == 666_866
    ev = h.sell(2, 3, 3_331)
    ts = trades(ev)
    # fill 1: 333,300 -> taker floor(333.3) = 333, maker floor(166.65) = 166
    # fill 2: 666,200 -> taker floor(666.2) = 666, maker floor(333.1) = 333
    assert [(t.price, t.qty, t.notional, t.taker_fee, t.maker_fee) for t in ts] == [
        (3_333, 1, 333_300, 333, 166),
        (3_331, 2, 666_200, 666, 333),
    ]
    assert h.balance(2, "USDT") == (333_300 - 333 + 666_200 - 666, 0)  # 998,501
    assert h.balance(2, "BTC") == (0, 0)
    assert h.balance(1, "USDT") == (USDT_1 - 333_466, 0)
    assert h.balance(3, "USDT") == (USDT_1 - 666_533, 0)
    assert h.balance(1, "BTC") == (10_000, 0)
    assert h.balance(3, "BTC") == (20_000, 0)
    assert fee_account(h) == 333 + 166 + 666 + 333
    h.check_invariants()


# ---------------------------------------------------------------- remainders and order kinds


def test_ioc_pays_fee_only_on_the_filled_part() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.sell(2, 1_000, 5_000_000)
    ev = h.buy(1, 3_000, 5_000_000, tif=TimeInForce.IOC)
    (t,) = trades(ev)
    assert (t.qty, t.taker_fee) == (1_000, 500_000_000)
    # reserved 1,501,500,000,000 for 3,000 lots, paid 500,500,000,000, rest released
    assert h.balance(1, "USDT") == (10_000_000_000_000 - 500_500_000_000, 0)
    assert fee_account(h) == 500_000_000 + 250_000_000
    h.check_invariants()


def test_partially_filled_buy_rests_with_exactly_its_remainder_reserved() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.sell(2, 1_000, 5_000_000)
    h.buy(1, 3_000, 5_000_100)
    # paid for the fill: 500,000,000,000 + 500,000,000
    # remainder 2,000 lots at 5,000,100: 1,000,020,000,000 + 1,000,020,000 = 1,001,020,020,000
    assert h.balance(1, "USDT") == (
        10_000_000_000_000 - 500_500_000_000 - 1_001_020_020_000,
        1_001_020_020_000,
    )
    h.check_invariants()


def test_market_buy_reserves_at_protection_price_and_pays_at_fill_price() -> None:
    h = Harness()
    h.fund(1, usdt=10_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.sell(2, 1_000, 5_000_000)
    ev = h.buy(1, 1_000, order_type=OrderType.MARKET)
    # protection = 5,000,000 x 1.05 = 5,250,000; reserve 525,000,000,000 + 525,000,000
    first = changes(ev, 1, "USDT")
    assert first is not None
    (t,) = trades(ev)
    assert (t.notional, t.taker_fee) == (500_000_000_000, 500_000_000)
    assert h.balance(1, "USDT") == (1_000_000_000_000 - 500_500_000_000, 0)
    assert first.delta_available == -500_500_000_000 and first.delta_reserved == 0
    h.check_invariants()


def test_self_trade_with_stp_none_pays_both_fees() -> None:
    h = Harness()
    h.fund(1, usdt=10_000 * USDT_1, btc=BTC_1)
    h.sell(1, 1_000, 5_000_000)
    ev = h.buy(1, 1_000, 5_000_000, stp=StpMode.NONE)
    (t,) = trades(ev)
    assert (t.maker_fee, t.taker_fee) == (250_000_000, 500_000_000)
    # the user's quote moves only by the two fees, its base not at all
    assert h.balance(1, "USDT") == (1_000_000_000_000 - 750_000_000, 0)
    assert h.balance(1, "BTC") == (BTC_1, 0)
    assert fee_account(h) == 750_000_000
    h.check_invariants()


def test_fee_account_collects_every_fill_of_a_session() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.fund(3, btc=BTC_1)
    h.sell(2, 1_000, 5_000_000)  # fill A: 500,000,000,000 -> maker 250,000,000
    h.sell(3, 333, 5_000_001)  # fill B: 166,500,033,300 -> maker 83,250,016
    h.buy(1, 1_333, 5_000_001)  # taker on A: 500,000,000; on B: 166,500,033
    h.buy(1, 7, 4_999_999)  # rests
    h.sell(2, 7, 4_999_999)  # fill C: 3,499,999,300 -> maker 1,749,999, taker 3,499,999
    expected = 250_000_000 + 500_000_000 + 83_250_016 + 166_500_033 + 1_749_999 + 3_499_999
    assert fee_account(h) == expected
    all_trades = [t for _, _, evs in h.log for t in trades(evs)]
    assert len(all_trades) == 3
    assert sum(t.maker_fee + t.taker_fee for t in all_trades) == expected
    # the buyer paid 666,500,033,300 + 666,500,033 (A + B) and 3,499,999,300 + 1,749,999 (C)
    assert h.balance(1, "USDT") == (
        10_000_000_000_000 - 666_500_033_300 - 666_500_033 - 3_499_999_300 - 1_749_999,
        0,
    )
    h.check_invariants()


# ---------------------------------------------------------------- fee tiers


def test_fee_tier_applies_to_the_users_taker_order() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    ev = h.do(SetFeeTier(1, "vip", 200, 400, operator="ops"))
    assert ev == [FeeTierSet(1, "vip", 200, 400, "ops")]
    h.buy(1, 1_000, 4_000_000)
    # reserve at the tier's taker rate: 400,000,000,000 + 0.04 % = 400,160,000,000
    assert h.balance(1, "USDT")[1] == 400_160_000_000
    h.sell(2, 5_000, 5_000_000)
    (t,) = trades(h.buy(1, 5_000, 5_000_000))
    assert (t.taker_fee, t.maker_fee) == (1_000_000_000, 1_250_000_000)  # 0.04 %, default 0.05 %
    assert h.balance(1, "USDT") == (
        10_000_000_000_000 - 400_160_000_000 - 2_501_000_000_000,
        400_160_000_000,
    )
    h.check_invariants()


def test_fee_tier_applies_to_the_users_maker_order() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.do(SetFeeTier(2, "market-maker", 0, 100))
    h.sell(2, 5_000, 5_000_000)
    (t,) = trades(h.buy(1, 5_000, 5_000_000))
    assert (t.maker_fee, t.taker_fee) == (0, 2_500_000_000)
    assert h.balance(2, "USDT") == (2_500_000_000_000, 0)  # full notional, no maker fee
    assert fee_account(h) == 2_500_000_000
    h.check_invariants()


def test_clearing_a_fee_tier_restores_the_symbol_rates() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.do(SetFeeTier(1, "zero", 0, 0))
    ev = h.do(SetFeeTier(1, "", 123, 456, operator="ops"))
    assert ev == [FeeTierSet(1, "", 0, 0, "ops")]
    h.buy(1, 1_000, 4_000_000)
    assert h.balance(1, "USDT")[1] == 400_400_000_000  # default 0.10 % reserved
    h.sell(2, 1_000, 5_000_000)
    (t,) = trades(h.buy(1, 1_000, 5_000_000))
    assert t.taker_fee == 500_000_000
    h.check_invariants()


def test_rates_are_locked_when_the_order_is_accepted_tier_set_later() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.buy(1, 1_000, 5_000_000)  # default rates: reserve 500,500,000,000
    h.do(SetFeeTier(1, "zero", 0, 0))
    assert h.balance(1, "USDT")[1] == 500_500_000_000  # the resting order's reserve is kept
    h.check_invariants()
    (t,) = trades(h.sell(2, 1_000, 5_000_000))
    assert t.maker_fee == 250_000_000  # still 0.05 %, not the new 0
    assert h.balance(1, "USDT") == (10_000_000_000_000 - 500_250_000_000, 0)
    # a new order of the same user gets the tier: no fee at all
    h.sell(2, 1_000, 5_000_000)
    (t,) = trades(h.buy(1, 1_000, 5_000_000))
    assert (t.taker_fee, t.maker_fee) == (0, 250_000_000)
    h.check_invariants()


def test_rates_are_locked_when_the_order_is_accepted_tier_cleared_later() -> None:
    h = Harness()
    h.fund(1, btc=BTC_1)
    h.fund(2, usdt=100_000 * USDT_1)
    h.do(SetFeeTier(1, "cheap", 100, 200))
    h.sell(1, 1_000, 5_000_000)
    h.do(SetFeeTier(1, ""))
    (t,) = trades(h.buy(2, 1_000, 5_000_000))
    assert t.maker_fee == 50_000_000  # 0.01 % as accepted, not the default 0.05 %
    assert h.balance(1, "USDT") == (500_000_000_000 - 50_000_000, 0)
    h.check_invariants()


def test_symbol_fee_update_does_not_reprice_resting_orders() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.sell(2, 1_000, 5_000_000)  # accepted at maker 0.05 %
    h.do(UpdateSymbol(default_spec(maker_fee_ppm=0, taker_fee_ppm=0)))
    ev = h.buy(1, 1_000, 5_000_000)  # accepted at the new rates: no taker fee
    (t,) = trades(ev)
    assert (t.maker_fee, t.taker_fee) == (250_000_000, 0)
    assert h.balance(1, "USDT") == (10_000_000_000_000 - 500_000_000_000, 0)
    assert h.balance(2, "USDT") == (500_000_000_000 - 250_000_000, 0)
    h.check_invariants()


def test_partial_fill_of_resting_buy_releases_the_maker_taker_difference() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.buy(1, 3_000, 5_000_000)  # reserve 1,500,000,000,000 + 1,500,000,000
    ev = h.sell(2, 1_000, 5_000_000)
    (t,) = trades(ev)
    assert (t.notional, t.maker_fee) == (500_000_000_000, 250_000_000)
    # remainder 2,000 lots needs 1,001,000,000,000; released 1,501,500,000,000
    #   - 500,000,000,000 - 250,000,000 - 1,001,000,000,000 = 250,000,000
    assert h.balance(1, "USDT") == (
        10_000_000_000_000 - 1_501_500_000_000 + 250_000_000,
        1_001_000_000_000,
    )
    bc = changes(ev, 1, "USDT")
    assert bc is not None
    assert (bc.delta_available, bc.delta_reserved) == (250_000_000, -500_500_000_000)
    h.check_invariants()


# ---------------------------------------------------------------- zero and maximum fees


def test_zero_fee_symbol() -> None:
    h = Harness(default_spec(maker_fee_ppm=0, taker_fee_ppm=0))
    h.fund(1, usdt=10_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.buy(1, 1_000, 5_000_000)
    assert h.balance(1, "USDT") == (1_000_000_000_000 - 500_000_000_000, 500_000_000_000)
    ev = h.sell(2, 1_000, 5_000_000)
    (t,) = trades(ev)
    assert (t.maker_fee, t.taker_fee) == (0, 0)
    assert h.balance(1, "USDT") == (500_000_000_000, 0)
    assert h.balance(2, "USDT") == (500_000_000_000, 0)
    assert fee_account(h) == 0
    assert changes(ev, FEE, "USDT") is None
    h.check_invariants()


def test_ten_percent_fees_are_the_maximum_and_allowed() -> None:
    h = Harness(default_spec(maker_fee_ppm=100_000, taker_fee_ppm=100_000))
    h.fund(1, usdt=10_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.sell(2, 1_000, 5_000_000)
    (t,) = trades(h.buy(1, 1_000, 5_000_000))
    assert (t.maker_fee, t.taker_fee) == (50_000_000_000, 50_000_000_000)
    assert h.balance(1, "USDT") == (1_000_000_000_000 - 550_000_000_000, 0)
    assert h.balance(2, "USDT") == (450_000_000_000, 0)
    assert fee_account(h) == 100_000_000_000
    h.check_invariants()


# ---------------------------------------------------------------- invalid rates


@pytest.mark.parametrize(
    ("maker", "taker"),
    [
        (600, 500),  # maker above taker
        (0, 100_001),  # above 10 %
        (100_001, 100_001),
        (-1, 1000),  # negative
        (-1000, -1),
        pytest.param(0.5, 1000, marks=pytest.mark.wrong_types),  # not an integer
        pytest.param(500, "1000", marks=pytest.mark.wrong_types),
    ],
)
def test_fee_tier_with_invalid_rates_is_refused(maker: object, taker: object) -> None:
    h = Harness()
    h.fund(1, usdt=10_000 * USDT_1)
    h.do(SetFeeTier(1, "old", 100, 200))
    before = state_without_stamp(h)
    ev = h.do(SetFeeTier(1, "bad", maker, taker))  # type: ignore[arg-type]
    assert rejected(ev).reason is Reason.INVALID_FEE
    assert len(ev) == 1
    assert state_without_stamp(h) == before
    # the user still has the old tier
    h.buy(1, 1_000, 5_000_000)
    assert h.balance(1, "USDT")[1] == 500_000_000_000 + 100_000_000


@pytest.mark.parametrize(("maker", "taker"), [(0, 0), (100_000, 100_000), (0, 100_000)])
def test_fee_tier_boundaries_are_accepted(maker: int, taker: int) -> None:
    h = Harness()
    ev = h.do(SetFeeTier(1, "edge", maker, taker))
    assert ev == [FeeTierSet(1, "edge", maker, taker, "")]


def test_fee_tier_for_the_fee_account_is_refused() -> None:
    h = Harness()
    ev = h.do(SetFeeTier(0, "x", 0, 0))
    assert rejected(ev).reason is Reason.RESERVED_ACCOUNT


@pytest.mark.parametrize(("maker", "taker"), [(1001, 1000), (0, 100_001), (-1, 0)])
def test_symbol_with_invalid_fee_rates_is_refused(maker: int, taker: int) -> None:
    h = Harness()
    ev = h.do(AddSymbol(default_spec(symbol="ETH-USDT", maker_fee_ppm=maker, taker_fee_ppm=taker)))
    assert rejected(ev).reason is Reason.INVALID_FEE
    assert "ETH-USDT" not in h.engine.markets
    ev = h.do(UpdateSymbol(default_spec(maker_fee_ppm=maker, taker_fee_ppm=taker)))
    assert rejected(ev).reason is Reason.INVALID_FEE
    m = h.engine.markets[SYMBOL]
    assert (m.maker_ppm, m.taker_ppm) == (500, 1000)


# ---------------------------------------------------------------- 18 decimals, huge amounts


def test_18_decimal_quote_with_amounts_beyond_64_bits_settles_exactly() -> None:
    h = Harness(setup=False)
    h.do(AddAsset("TOK", 18))
    h.do(AddAsset("ETH", 18))
    # tick 1e-9 ETH, lot 1e-3 TOK: quote_per_tick_lot = 10^(18-9-3) = 10^6; base_per_lot 10^15
    ev = h.do(AddSymbol(SymbolSpec("TOK-ETH", "TOK", "ETH", tick="0.000000001", lot="0.001")))
    assert one(ev, SymbolDefined).created is True
    m = h.engine.markets["TOK-ETH"]
    assert (m.quote_per_tick_lot, m.base_per_lot) == (10**6, 10**15)
    h.do(Deposit(1, "ETH", 10**36, "eth-1"))
    h.do(Deposit(2, "TOK", 10**30, "tok-2"))
    price = 123_456_789_012  # 123.456789012 ETH per TOK
    qty = 987_654_321  # 987,654.321 TOK
    h.place(2, "SELL", qty, price, symbol="TOK-ETH")
    ev = h.place(1, "BUY", qty, price, symbol="TOK-ETH")
    assert one(ev, OrderAccepted).qty == qty
    (t,) = trades(ev)
    # 123,456,789,012 x 987,654,321 = 121,932,631,124,487,120,852; x 10^6 quote units per
    # tick-lot
    notional = 121_932_631_124_487_120_852_000_000
    assert notional > 2**64
    assert t.notional == notional
    maker_fee = 60_966_315_562_243_560_426_000  # notional x 500 / 10^6 (exact)
    taker_fee = 121_932_631_124_487_120_852_000  # notional x 1000 / 10^6 (exact)
    assert (t.maker_fee, t.taker_fee) == (maker_fee, taker_fee)
    base = qty * 10**15
    assert h.balance(1, "ETH") == (10**36 - notional - taker_fee, 0)
    assert h.balance(1, "TOK") == (base, 0)
    assert h.balance(2, "TOK") == (10**30 - base, 0)
    assert h.balance(2, "ETH") == (notional - maker_fee, 0)
    assert h.balance(FEE, "ETH") == (maker_fee + taker_fee, 0)
    h.check_invariants()


def test_18_decimal_fee_rounds_down_at_one_wei() -> None:
    h = Harness(setup=False)
    h.do(AddAsset("TOK", 18))
    h.do(AddAsset("ETH", 18))
    # tick x lot = 1e-18 ETH: one tick-lot is exactly one wei
    h.do(AddSymbol(SymbolSpec("TOK-ETH", "TOK", "ETH", tick="0.000000000000001", lot="0.001")))
    h.do(Deposit(1, "ETH", 10**18, "e"))
    h.do(Deposit(2, "TOK", 10**19, "t"))
    h.place(2, "SELL", 1_999, 1_000, symbol="TOK-ETH")
    (t,) = trades(h.place(1, "BUY", 1_999, 1_000, symbol="TOK-ETH"))
    # notional 1,000 x 1,999 x 1 = 1,999,000 wei; taker floor(1,999) = 1,999; maker floor(999.5)
    assert (t.notional, t.taker_fee, t.maker_fee) == (1_999_000, 1_999, 999)
    assert h.balance(1, "ETH") == (10**18 - 1_999_000 - 1_999, 0)
    assert h.balance(2, "ETH") == (1_999_000 - 999, 0)
    assert h.balance(2, "TOK") == (10**19 - 1_999 * 10**15, 0)
    h.check_invariants()


def test_stop_fired_after_a_tier_change_pays_the_rates_of_its_acceptance() -> None:
    h = Harness()
    h.fund(1, usdt=100_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.fund(3, usdt=100_000 * USDT_1)
    h.sell(2, 10, 5_000_000)
    h.buy(3, 10, 5_000_000)  # last price 5,000,000
    h.sell(2, 10, 5_100_000)
    h.buy(1, 10, order_type=OrderType.STOP, stop_price=5_050_000)
    # reserved at the protection price 5,050,000 x 1.05 = 5,302,500:
    # 5,302,500,000 + 5,302,500 taker fee
    assert h.balance(1, "USDT")[1] == 5_307_802_500
    h.do(SetFeeTier(1, "zero", 0, 0))
    h.sell(2, 5, 5_050_000)
    ev = h.buy(3, 5, 5_050_000)  # last 5,050,000 fires the stop, which buys at 5,100,000
    fills = [t for t in trades(ev) if t.taker_user_id == 1]
    assert [(t.price, t.notional, t.taker_fee) for t in fills] == [
        (5_100_000, 5_100_000_000, 5_100_000)
    ]
    assert h.balance(1, "USDT") == (10_000_000_000_000 - 5_105_100_000, 0)
    h.check_invariants()


@pytest.mark.parametrize(
    ("budget", "lots"),
    [
        (1_501_500_000, 3),  # 3 lots: 1,500,000,000 + 1,500,000 fee, exactly the budget
        (1_501_499_999, 2),  # one unit short: the fee makes the third lot unaffordable
        (500_499_999, 0),  # not even one lot (500,000,000 + 500,000)
    ],
)
def test_quote_budget_market_buy_counts_the_taker_fee(budget: int, lots: int) -> None:
    h = Harness()
    h.fund(1, usdt=10_000 * USDT_1)
    h.fund(2, btc=BTC_1)
    h.sell(2, 10, 5_000_000)  # one lot: notional 500,000,000, taker fee 500,000
    ev = h.buy(1, 0, order_type=OrderType.MARKET, quote_qty=budget)
    ts = trades(ev)
    assert sum(t.qty for t in ts) == lots
    spent = lots * 500_000_000 + lots * 500_000
    assert spent <= budget
    assert sum(t.notional + t.taker_fee for t in ts) == spent
    assert h.balance(1, "USDT") == (1_000_000_000_000 - spent, 0)
    assert h.balance(1, "BTC") == (lots * 10_000, 0)
    h.check_invariants()
