"""Commands and events as versioned plain data (core/codec.py).

A record is {"type": <class name>, "v": <schema version>, **fields}; enums become their string
values, a SymbolSpec a nested dict. Decoding refuses unknown types, versions newer than this
release, and records whose fields do not fit the type.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from trade_engine.core.codec import SCHEMA_VERSIONS, CodecError, from_plain, to_plain
from trade_engine.core.commands import (
    COMMAND_TYPES,
    AddAsset,
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Deposit,
    MassCancel,
    PlaceOrder,
    ResumeUser,
    SetAccountFlags,
    SetFeeTier,
    SetSymbolStatus,
    SuspendUser,
    UpdateSymbol,
    Withdraw,
)
from trade_engine.core.enums import (
    EndReason,
    OrderStatus,
    OrderType,
    Side,
    StpMode,
    SymbolStatus,
    TimeInForce,
)
from trade_engine.core.events import (
    EVENT_TYPES,
    AccountFlagsSet,
    AssetAdded,
    BalanceChanged,
    BookLevelChanged,
    FeeTierSet,
    MarketOrderReport,
    MassCancelled,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderStatusReport,
    Rejected,
    SelfTradePrevented,
    StopTriggered,
    SymbolDefined,
    SymbolStatusChanged,
    Trade,
    TransferApplied,
    UserResumed,
    UserSuspended,
)
from trade_engine.core.reasons import Reason
from trade_engine.core.symbols import SymbolSpec

HUGE = 123_456_789_012_345_678_901_234_567_890  # beyond 2**64: must survive exactly

SPEC = SymbolSpec(
    "ETH-USDT",
    "ETH",
    "USDT",
    tick="0.01",
    lot="0.001",
    min_qty="0.01",
    max_qty="1000",
    min_notional="5",
    band_bps=500,
    market_band_bps=300,
    maker_fee_ppm=200,
    taker_fee_ppm=400,
    ref_price="3000",
    status=SymbolStatus.CANCEL_ONLY,
)

COMMANDS: list[Any] = [
    PlaceOrder(
        7,
        "BTC-USDT",
        "c-1",
        Side.SELL,
        OrderType.STOP_LIMIT,
        qty=HUGE,
        price=5_000_000,
        stop_price=4_900_000,
        tif=TimeInForce.FOK,
        post_only=True,
        stp=StpMode.EXPIRE_BOTH,
        quote_qty=0,
    ),
    CancelOrder(7, "BTC-USDT", order_id=12, client_order_id="c-1"),
    AmendOrder(7, "BTC-USDT", order_id=12, client_order_id="", new_price=5_000_001, new_qty=9),
    MassCancel(7, "BTC-USDT", Side.BUY, "ops"),
    Deposit(7, "ETH", HUGE, "w-1", "wallet"),
    Withdraw(7, "ETH", HUGE, "w-2", "wallet"),
    AddAsset("ETH", 18, "ops"),
    AddSymbol(SPEC, "ops"),
    UpdateSymbol(SPEC, "ops"),
    SetSymbolStatus("BTC-USDT", SymbolStatus.HALTED, "ops"),
    SetFeeTier(7, "vip", 100, 300, "ops"),
    SetAccountFlags(7, market_maker=True, stp_exempt=True, operator="ops"),
    SuspendUser(7, cancel_orders=False, operator="risk"),
    ResumeUser(7, "risk"),
]

EVENTS: list[Any] = [
    OrderAccepted(
        12,
        7,
        "BTC-USDT",
        "c-1",
        Side.BUY,
        OrderType.MARKET,
        TimeInForce.IOC,
        0,
        10,
        0,
        HUGE,
        False,
        OrderStatus.PENDING_TRIGGER,
    ),
    Rejected("PlaceOrder", 7, Reason.DUPLICATE_CLIENT_ORDER_ID, "in use", "BTC-USDT", "c-1", 12),
    Trade(
        3,
        "BTC-USDT",
        5_000_000,
        10,
        HUGE,
        Side.SELL,
        11,
        8,
        12,
        7,
        HUGE // 2000,
        HUGE // 1000,
        5,
        0,
    ),
    OrderCancelled(12, 7, "BTC-USDT", "c-1", EndReason.MASS_CANCEL, 4),
    OrderExpired(12, 7, "BTC-USDT", "c-1", EndReason.QUOTE_BUDGET_EXHAUSTED, 4),
    OrderAmended(12, 7, "BTC-USDT", "c-1", 5_000_001, 9, 4, False),
    StopTriggered(12, 7, "BTC-USDT", 4_900_000, 4_899_999),
    SelfTradePrevented("BTC-USDT", 7, 12, 11, StpMode.EXPIRE_MAKER, 5_000_000, 3),
    MarketOrderReport(12, 7, "BTC-USDT", 5_000_000, 5_250_000, 10, HUGE, 5_000_100, 2),
    OrderStatusReport(
        12,
        7,
        "BTC-USDT",
        "c-1",
        Side.SELL,
        OrderType.STOP,
        OrderStatus.PARTIALLY_FILLED,
        0,
        10,
        6,
        4,
        True,
    ),
    BalanceChanged(7, "ETH", HUGE, 1, -HUGE, -1),
    BookLevelChanged("BTC-USDT", Side.SELL, 5_000_000, 0, 0),
    TransferApplied("WITHDRAWAL", "w-2", 7, "ETH", HUGE, True, "wallet"),
    AssetAdded("ETH", 18, "ops"),
    SymbolDefined(SPEC, False, "ops"),
    SymbolStatusChanged("BTC-USDT", SymbolStatus.CANCEL_ONLY, SymbolStatus.HALTED, "ops"),
    FeeTierSet(7, "", 0, 0, "ops"),
    AccountFlagsSet(7, False, True, "ops"),
    UserSuspended(7, 3, "risk"),
    UserResumed(7, "risk"),
    MassCancelled(0, "", None, 17, "ops"),
]

RECORDS = COMMANDS + EVENTS


def _ids(r: Any) -> str:
    return type(r).__name__


def test_one_instance_of_every_command_and_event_type() -> None:
    assert {type(r) for r in COMMANDS} == set(COMMAND_TYPES)
    assert {type(r) for r in EVENTS} == set(EVENT_TYPES)
    assert len(RECORDS) == len(COMMAND_TYPES) + len(EVENT_TYPES)
    assert set(SCHEMA_VERSIONS) == {t.__name__ for t in (*COMMAND_TYPES, *EVENT_TYPES)}


def _assert_plain(v: Any) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            assert type(k) is str
            _assert_plain(x)
    else:
        assert v is None or type(v) in (str, int, bool), (v, type(v))


@pytest.mark.parametrize("record", RECORDS, ids=_ids)
def test_round_trip(record: Any) -> None:
    plain = to_plain(record)
    assert plain["type"] == type(record).__name__
    assert plain["v"] == SCHEMA_VERSIONS[type(record).__name__] == 1
    _assert_plain(plain)  # no enums or structs leak into the plain form
    back = from_plain(plain)
    assert type(back) is type(record)
    assert back == record
    # enum fields come back as enum members of the right enum, not as bare strings
    for field in plain:
        if field in ("type", "v"):
            continue
        orig = getattr(record, field)
        got = getattr(back, field)
        assert type(got) is type(orig), (field, type(got), type(orig))
    # and through JSON text too (ints beyond 64 bits included)
    again = from_plain(json.loads(json.dumps(plain)))
    assert again == record


def test_spec_travels_as_a_nested_dict() -> None:
    plain = to_plain(AddSymbol(SPEC, "ops"))
    assert plain["spec"]["status"] == "CANCEL_ONLY"
    assert plain["spec"]["tick"] == "0.01"
    assert plain["spec"]["maker_fee_ppm"] == 200
    back = from_plain(plain)
    assert back.spec.status is SymbolStatus.CANCEL_ONLY


def test_enum_values_are_their_wire_strings() -> None:
    plain = to_plain(EVENTS[3])  # OrderCancelled
    assert plain["reason"] == "MASS_CANCEL"
    assert type(from_plain(plain).reason) is EndReason
    plain = to_plain(EVENTS[1])  # Rejected
    assert plain["reason"] == "DUPLICATE_CLIENT_ORDER_ID"
    assert type(from_plain(plain).reason) is Reason
    plain = to_plain(EVENTS[15])  # SymbolStatusChanged
    assert (plain["status"], plain["previous"]) == ("CANCEL_ONLY", "HALTED")
    assert type(from_plain(plain).status) is SymbolStatus


def test_huge_ints_are_exact() -> None:
    back = from_plain(json.loads(json.dumps(to_plain(EVENTS[2]))))
    assert back.notional == HUGE
    assert back.maker_fee == HUGE // 2000


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "data",
    [
        {"type": "Nope", "v": 1},
        {"type": "Engine", "v": 1},
        {"type": "SymbolSpec", "v": 1},
        {"type": "", "v": 1},
    ],
)
def test_unknown_type_is_refused(data: dict) -> None:
    with pytest.raises(CodecError):
        from_plain(data)


@pytest.mark.parametrize("data", [{}, {"type": "Deposit"}, {"v": 1}, None, [], "Deposit"])
def test_record_without_type_and_version_is_refused(data: Any) -> None:
    with pytest.raises(CodecError):
        from_plain(data)


@pytest.mark.parametrize("v", [2, 99, 0, -1, "1", 1.0, None])
def test_unreadable_version_is_refused(v: Any) -> None:
    plain = to_plain(COMMANDS[4])
    plain["v"] = v
    with pytest.raises(CodecError):
        from_plain(plain)


@pytest.mark.parametrize(
    ("record", "change"),
    [
        (COMMANDS[4], {"colour": "red"}),  # unknown field
        (COMMANDS[0], {"side": "LEFT"}),  # not a Side
        (COMMANDS[0], {"order_type": "ICEBERG"}),
        (COMMANDS[0], {"tif": "DAY"}),
        (COMMANDS[0], {"stp": "SOMETIMES"}),
        (COMMANDS[9], {"status": "PAUSED"}),  # not a SymbolStatus
        (EVENTS[0], {"status": "HALTED"}),  # a SymbolStatus where an OrderStatus belongs
        (EVENTS[3], {"reason": "INSUFFICIENT_BALANCE"}),  # a Reason where an EndReason belongs
        (EVENTS[1], {"reason": "USER_CANCEL"}),  # an EndReason where a Reason belongs
        (COMMANDS[7], {"spec": {"symbol": "X", "bogus": 1}}),
        (COMMANDS[7], {"spec": "ETH-USDT"}),
        (COMMANDS[3], {"side": "BOTH"}),
    ],
)
def test_bad_field_is_refused(record: Any, change: dict) -> None:
    plain = to_plain(record)
    plain.update(change)
    with pytest.raises(CodecError):
        from_plain(plain)


@pytest.mark.parametrize("record", [COMMANDS[0], COMMANDS[4], EVENTS[2]], ids=_ids)
def test_missing_required_field_is_refused(record: Any) -> None:
    plain = to_plain(record)
    del plain["user_id" if "user_id" in plain else "trade_id"]
    with pytest.raises(CodecError):
        from_plain(plain)


def test_to_plain_refuses_what_is_not_a_command_or_event() -> None:
    with pytest.raises(CodecError):
        to_plain(SPEC)
    with pytest.raises(CodecError):
        to_plain({"type": "Deposit"})


def test_unhashable_type_is_refused_with_codec_error() -> None:
    try:
        from_plain({"type": ["Deposit"], "v": 1})
    except CodecError:
        pass
    except TypeError as e:
        pytest.fail(f"escaped as TypeError: {e}")


@pytest.mark.parametrize(
    "change",
    [{"qty": 1.5}, {"qty": "10"}, {"user_id": None}, {"post_only": "yes"}],
    ids=["float-qty", "str-qty", "none-user", "str-bool"],
)
def test_wrongly_typed_field_is_refused(change: dict) -> None:
    plain = to_plain(COMMANDS[0])
    plain.update(change)
    with pytest.raises(CodecError):
        from_plain(plain)
