"""Deposits, withdrawals and balances (docs/core-semantics.md, "Accounts and fees").

A transfer carries an external transfer_id: the same id with the same parameters is answered
TransferApplied(duplicate=True) and moves nothing; with other parameters it is refused
(TRANSFER_ID_CONFLICT). A withdrawal takes only available funds. Conservation: per asset, the
sum of available + reserved over all accounts equals deposits minus withdrawals.
"""

from __future__ import annotations

import pytest
from helpers.engine import Harness, assert_refused, of, one, stateless, trades
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trade_engine.core.commands import Deposit, SetFeeTier, Withdraw
from trade_engine.core.enums import OrderType, Side, StpMode, TimeInForce
from trade_engine.core.events import (
    BalanceChanged,
    Rejected,
    Trade,
    TransferApplied,
)
from trade_engine.core.reasons import Reason

# ---------------------------------------------------------------- deposits


def test_deposit_events_and_balance() -> None:
    h = Harness()
    ev = h.do(Deposit(1, "USDT", 12_345, "w-1", operator="wallet"))
    assert ev == [
        TransferApplied("DEPOSIT", "w-1", 1, "USDT", 12_345, False, "wallet"),
        BalanceChanged(1, "USDT", 12_345, 0, 12_345, 0),
    ]
    ev = h.do(Deposit(1, "USDT", 5, "w-2"))
    assert ev[-1] == BalanceChanged(1, "USDT", 12_350, 0, 5, 0)
    assert h.balance(1, "USDT") == (12_350, 0)
    h.check_invariants()


def test_deposit_with_same_id_and_params_is_a_duplicate_and_moves_nothing() -> None:
    h = Harness()
    h.do(Deposit(1, "USDT", 1_000, "w-1"))
    before = stateless(h)
    ev = h.do(Deposit(1, "USDT", 1_000, "w-1"))
    assert ev == [TransferApplied("DEPOSIT", "w-1", 1, "USDT", 1_000, True, "")]
    assert not of(ev, BalanceChanged)
    assert h.balance(1, "USDT") == (1_000, 0)
    assert stateless(h) == before
    h.check_invariants()


@pytest.mark.parametrize(
    "other",
    [
        Deposit(1, "USDT", 1_001, "w-1"),  # other amount
        Deposit(2, "USDT", 1_000, "w-1"),  # other user
        Deposit(1, "BTC", 1_000, "w-1"),  # other asset
        Withdraw(1, "USDT", 1_000, "w-1"),  # other kind, same everything else
        Withdraw(1, "USDT", 1, "w-1"),
    ],
)
def test_transfer_id_reused_with_other_params_is_a_conflict(other: object) -> None:
    h = Harness()
    h.do(Deposit(1, "USDT", 1_000, "w-1"))
    h.do(Deposit(1, "BTC", 10**8, "w-btc"))
    r = assert_refused(h, other, Reason.TRANSFER_ID_CONFLICT)
    assert r.command == type(other).__name__
    assert h.balance(1, "USDT") == (1_000, 0)
    assert h.balance(2, "USDT") == (0, 0)
    h.check_invariants()


def test_withdrawal_is_idempotent_even_when_the_funds_are_gone() -> None:
    h = Harness()
    h.do(Deposit(1, "USDT", 1_000, "d-1"))
    ev = h.withdraw(1, "USDT", 1_000, "x-1")
    assert ev == [
        TransferApplied("WITHDRAWAL", "x-1", 1, "USDT", 1_000, False, ""),
        BalanceChanged(1, "USDT", 0, 0, -1_000, 0),
    ]
    # the wallet retries: it must be told "already done", not "insufficient balance"
    ev = h.withdraw(1, "USDT", 1_000, "x-1")
    assert ev == [TransferApplied("WITHDRAWAL", "x-1", 1, "USDT", 1_000, True, "")]
    assert h.balance(1, "USDT") == (0, 0)
    # and the withdrawal's id cannot be reused for a deposit
    assert_refused(h, Deposit(1, "USDT", 1_000, "x-1"), Reason.TRANSFER_ID_CONFLICT)
    h.check_invariants()


def test_refused_transfer_is_not_remembered_and_can_be_retried() -> None:
    h = Harness()
    h.do(Deposit(1, "USDT", 100, "d-1"))
    assert_refused(h, Withdraw(1, "USDT", 500, "x-1"), Reason.INSUFFICIENT_BALANCE)
    h.do(Deposit(1, "USDT", 400, "d-2"))
    ev = h.withdraw(1, "USDT", 500, "x-1")
    assert one(ev, TransferApplied).duplicate is False
    assert h.balance(1, "USDT") == (0, 0)
    h.check_invariants()


# ---------------------------------------------------------------- withdrawals and reservations


def test_withdrawal_cannot_touch_reserved_funds() -> None:
    h = Harness()
    h.fund(1, usdt=1_000_000_000_000)  # 10,000 USDT
    h.buy(1, 1_000, 5_000_000)  # reserves 500,000,000,000 + 500,000,000
    assert h.balance(1, "USDT") == (499_500_000_000, 500_500_000_000)
    r = assert_refused(h, Withdraw(1, "USDT", 499_500_000_001, "x-1"), Reason.INSUFFICIENT_BALANCE)
    assert r.user_id == 1
    ev = h.withdraw(1, "USDT", 499_500_000_000, "x-2")
    assert one(ev, BalanceChanged) == BalanceChanged(
        1, "USDT", 0, 500_500_000_000, -499_500_000_000, 0
    )
    # the order is untouched and still holds its reservation
    assert h.depth("BUY") == [(5_000_000, 1_000, 1)]
    assert_refused(h, Withdraw(1, "USDT", 1, "x-3"), Reason.INSUFFICIENT_BALANCE)
    # cancelling frees the reservation, which can then be withdrawn
    (order_id,) = h.engine.orders
    h.cancel(1, order_id)
    assert h.balance(1, "USDT") == (500_500_000_000, 0)
    h.withdraw(1, "USDT", 500_500_000_000, "x-3")
    assert h.balance(1, "USDT") == (0, 0)
    h.check_invariants()


def test_withdrawal_cannot_take_base_reserved_by_a_sell() -> None:
    h = Harness()
    h.fund(1, btc=100_000)
    h.sell(1, 6, 5_000_000)  # 6 lots = 60,000 BTC units reserved
    assert h.balance(1, "BTC") == (40_000, 60_000)
    assert_refused(h, Withdraw(1, "BTC", 40_001, "x"), Reason.INSUFFICIENT_BALANCE)
    h.withdraw(1, "BTC", 40_000, "x")
    assert h.balance(1, "BTC") == (0, 60_000)
    h.check_invariants()


def test_withdrawal_by_unknown_user_is_refused_and_creates_no_account() -> None:
    h = Harness()
    assert_refused(h, Withdraw(42, "USDT", 1, "x"), Reason.INSUFFICIENT_BALANCE)
    assert 42 not in h.engine.accounts.by_user


def test_fee_account_can_be_withdrawn_from() -> None:
    h = Harness()
    h.fund(1, usdt=10**12)
    h.fund(2, btc=10**8)
    h.sell(2, 1_000, 5_000_000)
    h.buy(1, 1_000, 5_000_000)  # fees: maker 250,000,000 + taker 500,000,000
    assert h.balance(0, "USDT") == (750_000_000, 0)
    assert_refused(h, Withdraw(0, "USDT", 750_000_001, "fees-1"), Reason.INSUFFICIENT_BALANCE)
    ev = h.do(Withdraw(0, "USDT", 750_000_000, "fees-1", operator="treasury"))
    assert one(ev, TransferApplied).operator == "treasury"
    assert h.balance(0, "USDT") == (0, 0)
    h.check_invariants()


# ---------------------------------------------------------------- malformed transfers


@pytest.mark.parametrize("cls", [Deposit, Withdraw])
def test_unknown_asset_is_refused(cls: type) -> None:
    h = Harness()
    h.fund(1, usdt=100)
    r = assert_refused(h, cls(1, "DOGE", 10, "t-1"), Reason.UNKNOWN_ASSET)
    assert r.command == cls.__name__
    # asset codes are exact
    assert_refused(h, cls(1, "usdt", 10, "t-2"), Reason.UNKNOWN_ASSET)


@pytest.mark.parametrize("cls", [Deposit, Withdraw])
@pytest.mark.parametrize(
    "amount",
    [
        0,
        -1,
        -(10**20),
        *(pytest.param(v, marks=pytest.mark.wrong_types) for v in (1.0, 0.5, "100", True, None)),
    ],
)
def test_non_positive_or_non_integer_amount_is_refused(cls: type, amount: object) -> None:
    h = Harness()
    h.fund(1, usdt=1_000)
    assert_refused(h, cls(1, "USDT", amount, "t-1"), Reason.INVALID_AMOUNT)
    assert h.balance(1, "USDT") == (1_000, 0)


@pytest.mark.parametrize("cls", [Deposit, Withdraw])
def test_transfer_needs_a_transfer_id(cls: type) -> None:
    h = Harness()
    h.fund(1, usdt=1_000)
    assert_refused(h, cls(1, "USDT", 10, ""), Reason.INVALID_COMMAND)


@pytest.mark.parametrize("cls", [Deposit, Withdraw])
def test_transfer_for_a_negative_user_is_refused(cls: type) -> None:
    h = Harness()
    assert_refused(h, cls(-1, "USDT", 10, "t"), Reason.INVALID_COMMAND)


def test_huge_18_decimal_deposit_is_exact() -> None:
    from trade_engine.core.commands import AddAsset

    h = Harness()
    h.do(AddAsset("ETH", 18))
    amount = 123_456_789_012_345_678_901_234_567_890_123  # far beyond 2**64
    ev = h.do(Deposit(1, "ETH", amount, "big"))
    assert one(ev, BalanceChanged).delta_available == amount
    h.withdraw(1, "ETH", amount - 1, "big-out")
    assert h.balance(1, "ETH") == (1, 0)
    h.check_invariants()


# ---------------------------------------------------------------- BalanceChanged in a trade


def test_balance_changed_deltas_for_every_leg_of_a_trade() -> None:
    h = Harness()
    h.fund(1, usdt=10**12)  # 10,000 USDT
    h.fund(2, btc=10**8)
    ev = h.sell(2, 2_000, 5_000_000)
    assert of(ev, BalanceChanged) == [
        BalanceChanged(2, "BTC", 80_000_000, 20_000_000, -20_000_000, 20_000_000)
    ]
    ev = h.buy(1, 1_000, 5_000_100)
    (t,) = trades(ev)
    assert (t.notional, t.maker_fee, t.taker_fee) == (500_000_000_000, 250_000_000, 500_000_000)
    got = {(b.user_id, b.asset): b for b in of(ev, BalanceChanged)}
    assert set(got) == {(0, "USDT"), (1, "USDT"), (1, "BTC"), (2, "USDT"), (2, "BTC")}
    # buyer: pays 500,500,000,000 net (reserved at 5,000,100 then released), gets 0.1 BTC
    assert got[(1, "USDT")] == BalanceChanged(
        1, "USDT", 10**12 - 500_500_000_000, 0, -500_500_000_000, 0
    )
    assert got[(1, "BTC")] == BalanceChanged(1, "BTC", 10_000_000, 0, 10_000_000, 0)
    # seller: 0.1 BTC leaves its reservation, notional - maker fee arrives
    assert got[(2, "BTC")] == BalanceChanged(2, "BTC", 80_000_000, 10_000_000, 0, -10_000_000)
    assert got[(2, "USDT")] == BalanceChanged(2, "USDT", 499_750_000_000, 0, 499_750_000_000, 0)
    assert got[(0, "USDT")] == BalanceChanged(0, "USDT", 750_000_000, 0, 750_000_000, 0)
    # BalanceChanged events come after the trade and before the book level events
    kinds = [type(e).__name__ for e in ev]
    last_trade = max(i for i, k in enumerate(kinds) if k == "Trade")
    first_bal = kinds.index("BalanceChanged")
    assert first_bal > last_trade
    assert all(k in ("BalanceChanged", "BookLevelChanged") for k in kinds[first_bal:])
    assert "BookLevelChanged" not in kinds[first_bal : first_bal + len(got)]
    # the deltas of a command add up per asset to zero (a trade creates no money)
    for asset in ("USDT", "BTC"):
        assert (
            sum(
                b.delta_available + b.delta_reserved
                for b in of(ev, BalanceChanged)
                if b.asset == asset
            )
            == 0
        )
    h.check_invariants()


# ---------------------------------------------------------------- conservation


def test_conservation_after_a_flow() -> None:
    h = Harness()
    h.do(Deposit(1, "USDT", 3_000_000_000_000, "d1"))
    h.do(Deposit(2, "BTC", 300_000_000, "d2"))
    h.do(Deposit(3, "USDT", 1_000_000_000_000, "d3"))
    h.do(Deposit(3, "BTC", 50_000_000, "d4"))
    h.do(Deposit(3, "BTC", 50_000_000, "d4"))  # duplicate: counts once
    h.sell(2, 3_000, 5_000_000)
    h.sell(3, 2_000, 5_001_000)
    h.buy(1, 4_000, 5_001_000)  # walks two levels
    h.buy(3, 500, 4_990_000)
    h.sell(2, 700, 4_990_000)  # hits user 3's bid partly
    h.withdraw(2, "USDT", 100_000_000_000, "w1")
    h.withdraw(1, "BTC", 10_000_000, "w2")
    h.do(Withdraw(0, "USDT", 1_000_000, "fees"))
    h.cancel(3, coid="")  # refused (no id): changes nothing
    all_trades: list[Trade] = [t for _, _, evs in h.log for t in trades(evs)]
    assert len(all_trades) == 3
    totals = h.engine.accounts.totals()
    assert totals["USDT"] == 3_000_000_000_000 + 1_000_000_000_000 - 100_000_000_000 - 1_000_000
    assert totals["BTC"] == 300_000_000 + 50_000_000 - 10_000_000
    # the fee account holds every fee charged minus what was withdrawn from it
    fees = sum(t.maker_fee + t.taker_fee for t in all_trades)
    assert h.balance(0, "USDT") == (fees - 1_000_000, 0)
    h.check_invariants()


def test_rejected_command_emits_exactly_one_rejected_event() -> None:
    h = Harness()
    ev = h.do(Withdraw(5, "USDT", 10, "nope"))
    assert ev == [
        Rejected(
            "Withdraw",
            5,
            Reason.INSUFFICIENT_BALANCE,
            ev[0].detail,
        )
    ]
    assert ev[0].detail  # a readable reason is given


# ---------------------------------------------------------------- conservation, randomised

_KINDS = [
    *("limit", "limit", "limit", "ioc", "market", "quote", "stop", "cancel", "amend"),
    *("deposit", "withdraw", "tier"),
]
_PRICES = [4_990_000, 4_995_000, 5_000_000, 5_000_001, 5_005_000, 5_010_000]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(_KINDS),
            st.integers(1, 3),  # user
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(1, 40),  # qty
            st.sampled_from(_PRICES),
            st.sampled_from(list(StpMode)),
            st.integers(0, 10**12),  # amount / budget
        ),
        min_size=5,
        max_size=40,
    )
)
def test_conservation_and_reservations_hold_after_every_command(ops: list) -> None:
    h = Harness()
    deposited = {"USDT": 0, "BTC": 0}
    withdrawn = {"USDT": 0, "BTC": 0}
    for u in (1, 2, 3):
        h.fund(u, btc=10**8, usdt=10**13)
        deposited["BTC"] += 10**8
        deposited["USDT"] += 10**13
    for i, (kind, user, side, qty, price, stp, amount) in enumerate(ops):
        if kind == "limit":
            h.place(user, side, qty, price, stp=stp)
        elif kind == "ioc":
            h.place(user, side, qty, price, stp=stp, tif=TimeInForce.IOC)
        elif kind == "market":
            h.place(user, side, qty, order_type=OrderType.MARKET, stp=stp)
        elif kind == "quote":
            h.place(user, Side.BUY, 0, order_type=OrderType.MARKET, quote_qty=amount or 1)
        elif kind == "stop":
            h.place(user, side, qty, order_type=OrderType.STOP, stop_price=price)
        elif kind == "cancel":
            mine = sorted(o for o, x in h.engine.orders.items() if x.user_id == user)
            if mine:
                h.cancel(user, mine[amount % len(mine)])
        elif kind == "amend":
            mine = sorted(o for o, x in h.engine.orders.items() if x.user_id == user)
            if mine:
                h.amend(user, mine[amount % len(mine)], new_price=price, new_qty=qty)
        elif kind == "deposit":
            asset = "BTC" if side is Side.SELL else "USDT"
            ev = h.do(Deposit(user, asset, amount + 1, f"d{i}"))
            if of(ev, TransferApplied):
                deposited[asset] += amount + 1
        elif kind == "withdraw":
            asset = "BTC" if side is Side.SELL else "USDT"
            ev = h.withdraw(user, asset, amount % 10**9 + 1, f"w{i}")
            if of(ev, TransferApplied):
                withdrawn[asset] += amount % 10**9 + 1
        else:
            h.do(SetFeeTier(user, "t" if amount % 2 else "", qty * 10, qty * 20))
        h.check_invariants()
    totals = h.engine.accounts.totals()
    for asset in ("USDT", "BTC"):
        assert totals[asset] == deposited[asset] - withdrawn[asset]
    fees = sum(t.maker_fee + t.taker_fee for _, _, evs in h.log for t in trades(evs))
    assert h.balance(0, "USDT") == (fees, 0)
