"""Hypothesis strategies for random command flows over the deterministic core.

A *scenario* is a small market (1-2 symbols, 2-6 users, a few symbol parameters) plus a list
of operations. Most operations are plain engine commands (``PlaceOrder``, ``Deposit``, ...),
so a shrunk counterexample reads like a command log. A few are *references* resolved against
the engine at run time (``CancelRef``, ``AmendRef``, ``Resend``) so that cancels, amends and
retries hit live orders and earlier commands often enough; ``TimeJump`` moves engine time
forward before the next command (client-id memory is 24 h of engine time). The runner in
``helpers/flow.py`` (``Flow``) turns them into concrete commands and records the resolved log.

Prices cluster a few ticks around each symbol's mid so that orders cross often; quantities
are a few lots; balances are small enough that some orders are refused for lack of funds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from hypothesis import strategies as st

from trade_engine.core.commands import (
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
from trade_engine.core.enums import OrderType, Side, StpMode, SymbolStatus, TimeInForce
from trade_engine.core.symbols import SymbolSpec

# ---------------------------------------------------------------------------- the market

BTC = "BTC-USDT"  # tick 0.01, lot 0.0001: quote_per_tick_lot 100, base_per_lot 10_000
ETH = "ETH-USDT"  # tick 0.01, lot 0.001:  quote_per_tick_lot 1_000, base_per_lot 100_000
MID = {BTC: 1_000, ETH: 200}  # ticks: 10.00 and 2.00 USDT
BASE = {BTC: "BTC", ETH: "ETH"}
LOT = {BTC: "0.0001", ETH: "0.001"}
REF = {BTC: "10.00", ETH: "2.00"}
ASSETS = ("BTC", "ETH", "USDT")

# initial funding per user (smallest units): about 5-10 resting orders' worth each
INITIAL = {"USDT": 6_000_000, "BTC": 300_000, "ETH": 2_000_000}

HOUR_NS = 3_600 * 10**9
AGGRESSION = [0, 0, 1, -1, 1, 2, -2, 3, -3, 5, -5]  # ticks towards the other side

# (maker_ppm, taker_ppm) pairs; the last one is invalid (maker > taker) on purpose
FEE_PAIRS = [(500, 1_000), (0, 0), (0, 2_500), (1_000, 1_000), (200, 400), (3_000, 2_000)]


@dataclass(frozen=True)
class Scenario:
    n_users: int
    specs: tuple[SymbolSpec, ...]
    ops: list[object] = field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        return [s.symbol for s in self.specs]


# ---------------------------------------------------------------------------- reference ops


@dataclass(frozen=True)
class CancelRef:
    """Cancel the ``pick``-th open order (engine order, sorted by id, modulo the count)."""

    pick: int
    by_coid: bool = False


@dataclass(frozen=True)
class AmendRef:
    """Amend the ``pick``-th open order: price += ``dprice``, total qty += ``dqty`` (0 = same)."""

    pick: int
    dprice: int = 0
    dqty: int = 0


@dataclass(frozen=True)
class Resend:
    """Send again, unchanged, the ``pick``-th earlier accepted PlaceOrder / applied transfer."""

    pick: int


@dataclass(frozen=True)
class TimeJump:
    """Advance engine time by ``hours`` before the next command."""

    hours: int


# ---------------------------------------------------------------------------- symbol specs


def replace(obj: Any, **changes: Any) -> Any:
    """A copy of a record with some fields changed (dataclass or msgspec Struct)."""
    names = [f.name for f in fields(obj)] if is_dataclass(obj) else list(obj.__struct_fields__)
    return type(obj)(**{n: changes.get(n, getattr(obj, n)) for n in names})


@st.composite
def symbol_specs(draw: st.DrawFn, symbol: str) -> SymbolSpec:
    maker, taker = draw(st.sampled_from(FEE_PAIRS[:-1]))
    lot = LOT[symbol]
    lot_units = int(lot.replace(".", ""))  # mantissa of the lot
    decimals = len(lot.split(".")[1])

    def lots(n: int) -> str:
        if n == 0:
            return "0"
        s = str(n * lot_units).rjust(decimals + 1, "0")
        return f"{s[:-decimals]}.{s[-decimals:]}"

    return SymbolSpec(
        symbol=symbol,
        base=BASE[symbol],
        quote="USDT",
        tick="0.01",
        lot=lot,
        min_qty=lots(draw(st.sampled_from([0, 0, 0, 2]))),
        max_qty=lots(draw(st.sampled_from([0, 0, 0, 10]))),
        min_notional=draw(st.sampled_from(["0", "0", "0", "0.005"])),
        band_bps=draw(st.sampled_from([0, 0, 50, 300])),
        market_band_bps=draw(st.sampled_from([0, 50, 300, 500])),
        maker_fee_ppm=maker,
        taker_fee_ppm=taker,
        ref_price=REF[symbol],
    )


# ---------------------------------------------------------------------------- commands


def _coids() -> st.SearchStrategy[str]:
    return st.sampled_from([f"c{i}" for i in range(32)])


def _transfer_ids() -> st.SearchStrategy[str]:
    return st.sampled_from([f"t{i}" for i in range(10)])


def order_ops(
    users: st.SearchStrategy[int], symbols: list[str]
) -> tuple[st.SearchStrategy[PlaceOrder], ...]:
    sym = st.sampled_from(symbols)
    side = st.sampled_from([Side.BUY, Side.SELL])
    stp = st.sampled_from(list(StpMode))
    qty = st.integers(1, 12)

    def near_mid(symbol: str, spread: int = 5) -> st.SearchStrategy[int]:
        return st.integers(-spread, spread).map(lambda d: MID[symbol] + d)

    def limit_price(symbol: str, sd: Side) -> st.SearchStrategy[int]:
        # aggressiveness d: BUY at mid + d, SELL at mid - d; mostly within a tick or two of
        # the mid so that orders queue at the same prices and cross often
        d = st.sampled_from(AGGRESSION)
        return d.map(lambda x: MID[symbol] + x if sd is Side.BUY else MID[symbol] - x)

    @st.composite
    def limit(draw: st.DrawFn) -> PlaceOrder:
        s = draw(sym)
        sd = draw(side)
        return PlaceOrder(
            draw(users),
            s,
            draw(_coids()),
            sd,
            OrderType.LIMIT,
            qty=draw(qty),
            price=draw(limit_price(s, sd)),
            tif=draw(st.sampled_from([TimeInForce.GTC] * 6 + [TimeInForce.IOC, TimeInForce.FOK])),
            post_only=draw(st.sampled_from([False, False, False, True])),
            stp=draw(stp),
        )

    @st.composite
    def market(draw: st.DrawFn) -> PlaceOrder:
        s = draw(sym)
        sd = draw(side)
        by_quote = sd is Side.BUY and draw(st.booleans())
        return PlaceOrder(
            draw(users),
            s,
            draw(_coids()),
            sd,
            OrderType.MARKET,
            qty=0 if by_quote else draw(qty),
            quote_qty=draw(st.integers(1, 40).map(lambda k: k * 25_000)) if by_quote else 0,
            tif=draw(st.sampled_from([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK])),
            stp=draw(stp),
        )

    @st.composite
    def stop(draw: st.DrawFn) -> PlaceOrder:
        s = draw(sym)
        kind = draw(st.sampled_from([OrderType.STOP, OrderType.STOP_LIMIT]))
        sp = draw(near_mid(s, 4))
        return PlaceOrder(
            draw(users),
            s,
            draw(_coids()),
            draw(side),
            kind,
            qty=draw(qty),
            price=sp + draw(st.integers(-3, 3)) if kind is OrderType.STOP_LIMIT else 0,
            stop_price=sp,
            tif=draw(
                st.sampled_from(
                    [TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]
                )
            ),
            post_only=kind is OrderType.STOP_LIMIT and draw(st.sampled_from([False] * 3 + [True])),
            stp=draw(stp),
        )

    return limit(), market(), stop()


def flow_ops(n_users: int, specs: tuple[SymbolSpec, ...]) -> st.SearchStrategy[object]:
    symbols = [s.symbol for s in specs]
    users = st.integers(1, n_users)
    any_user = st.integers(0, n_users)  # 0 is the fee account: refused for orders
    sym = st.sampled_from(symbols)
    side_or_none = st.sampled_from([None, Side.BUY, Side.SELL])

    cancel_ref = st.builds(CancelRef, st.integers(0, 20), st.booleans())
    amend_ref = st.builds(
        AmendRef,
        st.integers(0, 20),
        st.sampled_from([0, 0, -2, -1, 1, 2, 4]),
        st.sampled_from([0, 0, -2, -1, 1, 3]),
    )
    resend = st.builds(Resend, st.integers(0, 30))
    raw_cancel = st.one_of(
        st.builds(CancelOrder, users, sym, order_id=st.integers(1, 40)),
        st.builds(CancelOrder, users, sym, client_order_id=_coids()),
    )
    raw_amend = st.builds(
        AmendOrder,
        users,
        sym,
        order_id=st.integers(1, 40),
        new_price=st.sampled_from([0, 1_000, 1_001, 999, 200, 201]),
        new_qty=st.sampled_from([0, 1, 3, 8]),
    )
    mass_cancel = st.one_of(
        st.builds(MassCancel, users, st.sampled_from(["", *symbols]), side_or_none),
        st.builds(
            MassCancel, st.just(0), st.sampled_from(["", *symbols]), side_or_none, st.just("ops")
        ),
    )
    amounts = {
        "USDT": st.sampled_from([1_000_000, 3_000_000, 10_000_000]),
        "BTC": st.sampled_from([50_000, 100_000, 400_000]),
        "ETH": st.sampled_from([300_000, 1_000_000, 3_000_000]),
    }

    @st.composite
    def transfer(draw: st.DrawFn) -> Deposit | Withdraw:
        asset = draw(st.sampled_from(ASSETS))
        deposit = draw(st.sampled_from([True, True, False]))
        amount = draw(amounts[asset])
        user, tid = draw(any_user), draw(_transfer_ids())
        if deposit:
            return Deposit(user, asset, amount, tid)
        return Withdraw(user, asset, amount, tid)

    fee_tier = st.builds(
        lambda u, tier, fees: SetFeeTier(u, tier, fees[0], fees[1]),
        users,
        st.sampled_from(["", "vip", "vip"]),
        st.sampled_from(FEE_PAIRS),
    )
    flags = st.builds(SetAccountFlags, users, st.booleans(), st.booleans())
    status = st.builds(
        SetSymbolStatus,
        sym,
        st.sampled_from(
            [
                SymbolStatus.TRADING,
                SymbolStatus.TRADING,
                SymbolStatus.HALTED,
                SymbolStatus.CANCEL_ONLY,
            ]
        ),
        st.just("ops"),
    )
    suspend = st.builds(SuspendUser, users, st.booleans())
    resume = st.builds(ResumeUser, users)
    time_jump = st.builds(TimeJump, st.sampled_from([1, 23, 25]))

    admin = st.one_of(fee_tier, flags, status, suspend, resume, time_jump, update_symbol_ops(specs))
    limit, market, stop = order_ops(users, symbols)
    return weighted(
        (limit, 12),
        (market, 2),
        (stop, 2),
        (cancel_ref, 1),
        (amend_ref, 2),
        (resend, 1),
        (transfer(), 1),
        (st.one_of(raw_cancel, raw_amend), 1),
        (mass_cancel, 1),
        (admin, 2),
        # halts and suspensions would otherwise last long: undo them about as often
        (st.one_of(st.builds(SetSymbolStatus, sym, st.just(SymbolStatus.TRADING)), resume), 1),
    )


def _same(x: object) -> object:
    return x


def weighted(*groups: tuple[st.SearchStrategy[Any], int]) -> st.SearchStrategy[Any]:
    """``one_of`` with integer weights. ``one_of`` flattens nested ``one_of``s into equally
    likely leaves, so each group is wrapped (``map``) to stay one branch, ``weight`` times."""
    branches = []
    for strategy, weight in groups:
        # distinct objects: one_of ignores a branch repeated as the same object
        branches += [strategy.map(_same) for _ in range(weight)]
    return st.one_of(*branches)


def update_symbol_ops(specs: tuple[SymbolSpec, ...]) -> st.SearchStrategy[object]:
    """UpdateSymbol: new fees and bands for an existing symbol (open orders keep their rates)."""

    @st.composite
    def upd(draw: st.DrawFn) -> UpdateSymbol:
        spec = draw(st.sampled_from(specs))
        maker, taker = draw(st.sampled_from(FEE_PAIRS[:-1]))
        return UpdateSymbol(
            replace(
                spec,
                maker_fee_ppm=maker,
                taker_fee_ppm=taker,
                market_band_bps=draw(st.sampled_from([0, 50, 300])),
                band_bps=draw(st.sampled_from([0, 50, 300])),
            ),
            "ops",
        )

    return upd()


@st.composite
def scenarios(draw: st.DrawFn, max_ops: int = 96, parts: int = 8) -> Scenario:
    n_users = draw(st.integers(2, 6))
    symbols = [BTC, ETH] if draw(st.booleans()) else [BTC]  # shrinks to one symbol
    specs = tuple(draw(symbol_specs(s)) for s in symbols)
    # several independent lists, concatenated: hypothesis keeps a single list short on
    # average, and each part still shrinks to nothing on its own
    op = flow_ops(n_users, specs)
    ops: list[object] = []
    for _ in range(parts):
        ops += draw(st.lists(op, max_size=max_ops // parts))
    return Scenario(n_users, specs, ops)
