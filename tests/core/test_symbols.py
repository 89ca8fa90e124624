"""Assets, symbols, status and user controls (docs/core-semantics.md, "Units" and
"Symbols and controls")."""

from __future__ import annotations

import pytest
from helpers.engine import SYMBOL, Harness, assert_refused, default_spec, of, one, rejected, trades

from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    AmendOrder,
    MassCancel,
    ResumeUser,
    SetAccountFlags,
    SetSymbolStatus,
    SuspendUser,
    UpdateSymbol,
)
from trade_engine.core.enums import EndReason, OrderStatus, OrderType, Side, StpMode, SymbolStatus
from trade_engine.core.events import (
    AccountFlagsSet,
    AssetAdded,
    MassCancelled,
    OrderAccepted,
    OrderCancelled,
    SelfTradePrevented,
    SymbolDefined,
    SymbolStatusChanged,
    UserResumed,
    UserSuspended,
)
from trade_engine.core.reasons import Reason
from trade_engine.core.symbols import SymbolSpec


def bare(*assets: tuple[str, int]) -> Harness:
    h = Harness(setup=False)
    for code, decimals in assets:
        h.do(AddAsset(code, decimals))
    return h


# ---------------------------------------------------------------- assets


def test_add_asset_event() -> None:
    h = Harness(setup=False)
    assert h.do(AddAsset("ETH", 18, operator="ops")) == [AssetAdded("ETH", 18, "ops")]
    assert h.do(AddAsset("JPY", 0)) == [AssetAdded("JPY", 0, "")]
    assert h.do(AddAsset("X30", 30)) == [AssetAdded("X30", 30, "")]


def test_duplicate_asset_is_refused() -> None:
    h = Harness()
    assert_refused(h, AddAsset("BTC", 18), Reason.ASSET_EXISTS)
    assert h.engine.assets["BTC"].decimals == 8


@pytest.mark.parametrize(
    "cmd",
    [
        AddAsset("", 8),
        AddAsset("ETH", -1),
        AddAsset("ETH", 31),
        pytest.param(AddAsset("ETH", 8.0), marks=pytest.mark.wrong_types),  # type: ignore[arg-type]
    ],
)
def test_malformed_asset_is_refused(cmd: AddAsset) -> None:
    h = Harness()
    assert_refused(h, cmd, Reason.INVALID_COMMAND)


# ---------------------------------------------------------------- grids


def test_symbol_factors_are_derived_from_steps_and_decimals() -> None:
    h = bare(("BTC", 8), ("USDT", 8))
    ev = h.do(
        AddSymbol(SymbolSpec("BTC-USDT", "BTC", "USDT", tick="0.05", lot="0.001"), operator="ops")
    )
    assert ev == [
        SymbolDefined(SymbolSpec("BTC-USDT", "BTC", "USDT", tick="0.05", lot="0.001"), True, "ops")
    ]
    m = h.engine.markets["BTC-USDT"]
    # tick x lot = 0.00005 USDT = 5,000 units; lot = 0.001 BTC = 100,000 units
    assert (m.quote_per_tick_lot, m.base_per_lot) == (5_000, 100_000)
    assert m.status is SymbolStatus.TRADING and m.last_price == 0


@pytest.mark.parametrize(
    ("assets", "tick", "lot"),
    [
        # tick x lot = 1e-6 quote, but the quote has only 2 decimals
        ((("BTC", 8), ("USD", 2)), "0.01", "0.0001"),
        # 0.5 x 0.3 = 0.15 of a 0-decimal quote
        ((("BTC", 8), ("USD", 0)), "0.5", "0.3"),
        # lot finer than the base's smallest unit
        ((("BTC", 4), ("USD", 8)), "0.01", "0.00001"),
        # lot of 1.5 units of a 0-decimal base
        ((("BTC", 0), ("USD", 8)), "0.01", "1.5"),
        # 1e-18 x 1e-1 = 1e-19 of an 18-decimal quote
        ((("BTC", 8), ("USD", 18)), "0.000000000000000001", "0.1"),
    ],
)
def test_unrepresentable_grid_is_refused(
    assets: tuple[tuple[str, int], ...], tick: str, lot: str
) -> None:
    h = bare(*assets)
    assert_refused(
        h, AddSymbol(SymbolSpec("S", "BTC", "USD", tick=tick, lot=lot)), Reason.INVALID_SYMBOL_SPEC
    )
    assert "S" not in h.engine.markets


@pytest.mark.parametrize(
    ("assets", "tick", "lot", "qu", "bpl"),
    [
        ((("BTC", 8), ("USD", 2)), "0.01", "1", 1, 10**8),  # exactly one cent per tick-lot
        ((("BTC", 8), ("USD", 0)), "0.5", "2", 1, 2 * 10**8),  # 0.5 x 2 = 1 unit
        ((("BTC", 0), ("USD", 0)), "5", "3", 15, 3),
        ((("BTC", 18), ("USD", 18)), "0.000000001", "0.000000001", 1, 10**9),
    ],
)
def test_coarse_enough_grids_are_accepted(
    assets: tuple[tuple[str, int], ...], tick: str, lot: str, qu: int, bpl: int
) -> None:
    h = bare(*assets)
    assert one(h.do(AddSymbol(SymbolSpec("S", "BTC", "USD", tick=tick, lot=lot))), SymbolDefined)
    m = h.engine.markets["S"]
    assert (m.quote_per_tick_lot, m.base_per_lot) == (qu, bpl)


@pytest.mark.parametrize(
    "overrides",
    [
        {"tick": "0"},
        {"tick": "-0.01"},
        {"tick": "1e-2"},
        {"lot": "0.0"},
        {"lot": " 0.0001"},
        {"min_qty": "0.00015"},  # not a whole number of lots
        {"max_qty": "1.00005"},
        {"min_qty": "0.01", "max_qty": "0.001"},  # max below min
        {"min_notional": "0.000000001"},  # more decimals than USDT has
        {"ref_price": "100.005"},  # off the tick grid
        {"band_bps": 10_000},
        {"band_bps": -1},
        {"market_band_bps": 10_000},
        {"symbol": ""},
        {"symbol": "X" * 33},
        {"base": "USDT"},  # base == quote
    ],
)
def test_invalid_symbol_spec_is_refused(overrides: dict) -> None:
    h = bare(("BTC", 8), ("USDT", 8))
    spec = default_spec(**overrides)
    assert_refused(h, AddSymbol(spec), Reason.INVALID_SYMBOL_SPEC)
    assert h.engine.markets == {}


@pytest.mark.parametrize("overrides", [{"base": "ETH"}, {"quote": "EUR"}])
def test_symbol_with_unknown_asset_is_refused(overrides: dict) -> None:
    h = bare(("BTC", 8), ("USDT", 8))
    assert_refused(h, AddSymbol(default_spec(**overrides)), Reason.UNKNOWN_ASSET)


def test_duplicate_symbol_is_refused() -> None:
    h = Harness()
    assert_refused(h, AddSymbol(default_spec(tick="0.1")), Reason.SYMBOL_EXISTS)
    assert str(h.engine.markets[SYMBOL].tick) == "0.01"


def test_min_and_max_quantity_are_in_lots() -> None:
    # min 0.001 BTC = 10 lots, max 1 BTC = 10,000 lots
    h = Harness(default_spec(min_qty="0.001", max_qty="1"))
    m = h.engine.markets[SYMBOL]
    assert (m.min_qty, m.max_qty) == (10, 10_000)
    h.fund(1, btc=10**9)
    assert rejected(h.sell(1, 9, 5_000_000)).reason is Reason.QTY_BELOW_MIN
    assert one(h.sell(1, 10, 5_000_000), OrderAccepted).qty == 10
    assert one(h.sell(1, 10_000, 5_000_000), OrderAccepted).qty == 10_000
    assert rejected(h.sell(1, 10_001, 5_000_000)).reason is Reason.QTY_ABOVE_MAX
    h.check_invariants()


def test_default_min_qty_is_one_lot_and_max_is_unlimited() -> None:
    h = Harness()
    m = h.engine.markets[SYMBOL]
    assert (m.min_qty, m.max_qty) == (1, 0)
    h.fund(1, btc=10**15)
    assert one(h.sell(1, 1, 5_000_000), OrderAccepted)
    assert one(h.sell(1, 10**10, 5_000_000), OrderAccepted)


def test_min_notional_in_quote() -> None:
    # min notional 5 USDT = 500,000,000 units; at 50,000.00 one lot is 5 USDT exactly
    h = Harness(default_spec(min_notional="5"))
    h.fund(1, usdt=10**12)
    assert rejected(h.buy(1, 1, 4_999_999)).reason is Reason.NOTIONAL_BELOW_MIN
    assert one(h.buy(1, 1, 5_000_000), OrderAccepted)


# ---------------------------------------------------------------- UpdateSymbol


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"tick": "0.1"}, Reason.INVALID_SYMBOL_SPEC),
        ({"lot": "0.001"}, Reason.INVALID_SYMBOL_SPEC),
        ({"base": "ETH"}, Reason.INVALID_SYMBOL_SPEC),
        ({"quote": "EUR"}, Reason.INVALID_SYMBOL_SPEC),
        ({"symbol": "ETH-USDT"}, Reason.UNKNOWN_SYMBOL),
    ],
)
def test_update_symbol_cannot_change_grid_or_assets(overrides: dict, reason: Reason) -> None:
    h = Harness()
    h.do(AddAsset("ETH", 8))
    h.do(AddAsset("EUR", 8))
    assert_refused(h, UpdateSymbol(default_spec(**overrides)), reason)


def test_update_symbol_accepts_the_same_grid_spelled_differently() -> None:
    h = Harness()
    ev = h.do(UpdateSymbol(default_spec(tick="0.010", lot="0.00010", band_bps=100)))
    assert one(ev, SymbolDefined).created is False
    assert h.engine.markets[SYMBOL].band_bps == 100


def test_update_symbol_changes_fees_and_bands_and_keeps_status_and_last_price() -> None:
    h = Harness()
    h.fund(1, usdt=10**13)
    h.fund(2, btc=10**9)
    h.sell(2, 1_000, 5_000_000)
    h.buy(1, 1_000, 5_000_000)  # last price 5,000,000
    h.buy(1, 10, 4_000_000)  # a resting order that must survive the update
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.CANCEL_ONLY))
    spec = default_spec(
        band_bps=100,  # 1 %
        ref_price="10",  # would be the reference if there were no last price
        maker_fee_ppm=0,
        taker_fee_ppm=50,
        min_qty="0.001",
        status=SymbolStatus.TRADING,  # ignored: status changes only via SetSymbolStatus
    )
    ev = h.do(UpdateSymbol(spec, operator="ops"))
    # the event carries the status the symbol actually keeps, not the one submitted
    assert ev == [
        SymbolDefined(default_spec(**{**spec_fields(spec), "status": "CANCEL_ONLY"}), False, "ops")
    ]
    m = h.engine.markets[SYMBOL]
    assert m.status is SymbolStatus.CANCEL_ONLY
    assert m.last_price == 5_000_000
    assert (m.maker_ppm, m.taker_ppm, m.band_bps, m.min_qty) == (0, 50, 100, 10)
    assert h.depth("BUY") == [(4_000_000, 10, 1)]
    assert rejected(h.buy(1, 10, 5_000_000)).reason is Reason.SYMBOL_CANCEL_ONLY
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.TRADING))
    # the band is measured from the last price (5,000,000), not from ref_price: +/- 50,000
    assert rejected(h.buy(1, 10, 5_050_001)).reason is Reason.PRICE_OUT_OF_BAND
    assert rejected(h.sell(2, 10, 4_949_999)).reason is Reason.PRICE_OUT_OF_BAND
    assert one(h.buy(1, 10, 4_950_000), OrderAccepted)
    assert one(h.sell(2, 10, 5_050_000), OrderAccepted)
    assert rejected(h.buy(1, 9, 4_950_000)).reason is Reason.QTY_BELOW_MIN
    # a stop at or below the kept last price would trigger at once
    r = rejected(h.buy(1, 10, order_type=OrderType.STOP, stop_price=5_000_000))
    assert r.reason is Reason.STOP_WOULD_TRIGGER
    # new orders get the new rates: 50 ppm taker
    (t,) = trades(h.buy(1, 10, 5_050_000))
    assert (t.notional, t.taker_fee) == (5_050_000_000, 252_500)
    h.check_invariants()


def test_update_symbol_keeps_halted() -> None:
    h = Harness()
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.HALTED))
    h.do(UpdateSymbol(default_spec(band_bps=10)))
    assert h.engine.markets[SYMBOL].status is SymbolStatus.HALTED


# ---------------------------------------------------------------- status


def test_status_transitions_and_their_events() -> None:
    h = Harness()
    T, H, C = SymbolStatus.TRADING, SymbolStatus.HALTED, SymbolStatus.CANCEL_ONLY
    seen = []
    for new in (H, C, T, C, H, T):
        ev = h.do(SetSymbolStatus(SYMBOL, new, operator="ops"))
        (e,) = ev
        assert isinstance(e, SymbolStatusChanged)
        seen.append((e.previous, e.status))
        assert e.symbol == SYMBOL and e.operator == "ops"
        assert h.engine.markets[SYMBOL].status is new
    assert seen == [(T, H), (H, C), (C, T), (T, C), (C, H), (H, T)]


def test_set_status_refusals() -> None:
    h = Harness()
    assert_refused(h, SetSymbolStatus("NOPE", SymbolStatus.HALTED), Reason.UNKNOWN_SYMBOL)
    assert_refused(h, SetSymbolStatus(SYMBOL, "PAUSED"), Reason.INVALID_COMMAND)  # type: ignore[arg-type]


def test_cancel_only_refuses_new_orders_and_amends_but_takes_cancels() -> None:
    h = Harness()
    h.fund(1, usdt=10**12)
    a = one(h.buy(1, 10, 4_000_000), OrderAccepted).order_id
    b = one(h.buy(1, 10, 4_000_001), OrderAccepted).order_id
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.CANCEL_ONLY))
    assert rejected(h.buy(1, 10, 4_000_000)).reason is Reason.SYMBOL_CANCEL_ONLY
    assert rejected(h.amend(1, a, new_qty=5)).reason is Reason.SYMBOL_CANCEL_ONLY
    assert one(h.cancel(1, a), OrderCancelled).reason is EndReason.USER_CANCEL
    mc = h.do(MassCancel(1, SYMBOL))
    assert one(mc, MassCancelled).cancelled == 1
    assert one(mc, OrderCancelled).order_id == b
    assert h.balance(1, "USDT") == (10**12, 0)
    h.check_invariants()


def test_halted_freezes_the_book_but_operator_mass_cancel_works() -> None:
    h = Harness()
    h.fund(1, usdt=10**12)
    h.fund(2, btc=10**8)
    a = one(h.buy(1, 10, 4_000_000), OrderAccepted).order_id
    h.sell(2, 10, 4_100_000)
    h.do(SetSymbolStatus(SYMBOL, SymbolStatus.HALTED))
    assert rejected(h.buy(1, 10, 4_100_000)).reason is Reason.SYMBOL_HALTED
    assert rejected(h.cancel(1, a)).reason is Reason.SYMBOL_HALTED
    assert (
        rejected(h.do(AmendOrder(1, SYMBOL, order_id=a, new_qty=5))).reason is Reason.SYMBOL_HALTED
    )
    assert rejected(h.do(MassCancel(1, SYMBOL))).reason is Reason.SYMBOL_HALTED
    assert h.depth("BUY") == [(4_000_000, 10, 1)]
    assert h.depth("SELL") == [(4_100_000, 10, 1)]
    ev = h.do(MassCancel(0, SYMBOL, operator="ops"))
    assert one(ev, MassCancelled) == MassCancelled(0, SYMBOL, None, 2, "ops")
    assert {e.reason for e in of(ev, OrderCancelled)} == {EndReason.ADMIN_CANCEL}
    assert h.depth("BUY") == [] and h.depth("SELL") == []
    h.check_invariants()


# ---------------------------------------------------------------- users


def test_suspend_user_kill_switch_and_resume() -> None:
    h = Harness()
    h.fund(1, usdt=10**12, btc=10**8)
    a = one(h.buy(1, 10, 4_000_000), OrderAccepted).order_id
    b = one(h.sell(1, 10, 6_000_000), OrderAccepted).order_id
    c = one(h.sell(1, 10, order_type=OrderType.STOP, stop_price=3_000_000), OrderAccepted)
    assert c.status is OrderStatus.PENDING_TRIGGER
    ev = h.do(SuspendUser(1, operator="risk"))
    cancelled = of(ev, OrderCancelled)
    assert [(x.order_id, x.reason) for x in cancelled] == [
        (a, EndReason.USER_SUSPENDED),
        (b, EndReason.USER_SUSPENDED),
        (c.order_id, EndReason.USER_SUSPENDED),
    ]
    assert one(ev, UserSuspended) == UserSuspended(1, 3, "risk")
    assert len(h.engine.books[SYMBOL].stops) == 0
    assert h.balance(1, "USDT") == (10**12, 0) and h.balance(1, "BTC") == (10**8, 0)
    assert rejected(h.buy(1, 10, 4_000_000)).reason is Reason.USER_SUSPENDED
    assert h.do(ResumeUser(1, operator="risk")) == [UserResumed(1, "risk")]
    assert one(h.buy(1, 10, 4_000_000), OrderAccepted)
    h.check_invariants()


def test_suspend_without_cancel_keeps_orders_refuses_amend_allows_cancel() -> None:
    h = Harness()
    h.fund(1, usdt=10**12)
    a = one(h.buy(1, 10, 4_000_000), OrderAccepted).order_id
    ev = h.do(SuspendUser(1, cancel_orders=False))
    assert ev == [UserSuspended(1, 0, "")]
    assert h.depth("BUY") == [(4_000_000, 10, 1)]
    assert rejected(h.amend(1, a, new_qty=5)).reason is Reason.USER_SUSPENDED
    assert rejected(h.sell(1, 1, 4_000_000)).reason is Reason.USER_SUSPENDED
    assert one(h.cancel(1, a), OrderCancelled).order_id == a
    h.check_invariants()


def test_user_admin_commands_refuse_the_fee_account() -> None:
    h = Harness()
    for cmd in (SuspendUser(0), ResumeUser(0), SetAccountFlags(0, stp_exempt=True)):
        assert_refused(h, cmd, Reason.RESERVED_ACCOUNT)


def test_account_flags_event_and_stp_exemption() -> None:
    h = Harness()
    h.fund(1, usdt=10**12, btc=10**8)
    ev = h.do(SetAccountFlags(1, market_maker=True, stp_exempt=True, operator="ops"))
    assert ev == [AccountFlagsSet(1, True, True, "ops")]
    h.sell(1, 10, 5_000_000)
    ev = h.buy(1, 10, 5_000_000, stp=StpMode.EXPIRE_TAKER)
    assert not of(ev, SelfTradePrevented)
    assert len(trades(ev)) == 1
    # clearing the flag brings self-trade prevention back
    assert h.do(SetAccountFlags(1)) == [AccountFlagsSet(1, False, False, "")]
    h.sell(1, 10, 5_000_000)
    ev = h.buy(1, 10, 5_000_000)
    assert one(ev, SelfTradePrevented).mode is StpMode.EXPIRE_TAKER
    assert not trades(ev)
    h.check_invariants()


def test_symbol_for_unknown_symbol_order_is_refused() -> None:
    h = Harness()
    h.fund(1, usdt=10**12)
    r = rejected(h.place(1, Side.BUY, 10, 5_000_000, symbol="ETH-USDT"))
    assert r.reason is Reason.UNKNOWN_SYMBOL


def spec_fields(spec: SymbolSpec) -> dict[str, object]:
    return {f: getattr(spec, f) for f in spec.__struct_fields__}
