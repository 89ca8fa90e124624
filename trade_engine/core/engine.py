"""The engine: applies one sequenced command to the books and accounts and returns its events.

Deterministic by construction: the only inputs are the command and the sequencer's (seq, ts)
stamp; no clock, randomness, environment or I/O. Every handler validates fully before its first
mutation, so a rejected command changes nothing. Iteration that reaches the output never
depends on hash order.

This module holds the dispatch and the order commands (place, cancel, amend, mass cancel) with
their validation; matching and settlement are ``matcher.matching``, admin commands
``core.admin``, transfers ``core.transfers``. The hot path (place / cancel) is written flat on
purpose: at a few microseconds per command every call counts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Final, cast

from trade_engine.accounts.fees import band_down, band_up, buy_reserve
from trade_engine.accounts.ledger import FEE_ACCOUNT, Account
from trade_engine.core import admin, transfers
from trade_engine.core.commands import (
    AddAsset,
    AddSymbol,
    AmendOrder,
    CancelOrder,
    Command,
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
    Event,
    MassCancelled,
    OrderAccepted,
    OrderAmended,
    OrderStatusReport,
    Rejected,
)
from trade_engine.core.limits import CLIENT_ORDER_ID
from trade_engine.core.numbers import format_steps
from trade_engine.core.reasons import Reason, Rejection
from trade_engine.core.symbols import BPS, Market
from trade_engine.matcher.book import OrderBook
from trade_engine.matcher.matching import Matcher
from trade_engine.matcher.order import Order, PlaceFields, is_open_status, place_fields

_MAX_COID: Final = CLIENT_ORDER_ID.max_len
DAY_NS: Final = 86_400 * 10**9  # client_order_id memory: 24 h of engine time

# Enum members as module constants: a Final global is a C static in the compiled build
_LIMIT: Final = OrderType.LIMIT
_MARKET: Final = OrderType.MARKET
_STOP: Final = OrderType.STOP
_STOP_LIMIT: Final = OrderType.STOP_LIMIT
_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
_GTC: Final = TimeInForce.GTC
_IOC: Final = TimeInForce.IOC
_FOK: Final = TimeInForce.FOK
_TRADING: Final = SymbolStatus.TRADING
_HALTED: Final = SymbolStatus.HALTED
_CANCELLED: Final = OrderStatus.CANCELLED
_PENDING: Final = OrderStatus.PENDING_TRIGGER
_STP_NONE: Final = StpMode.NONE
_STP_MAKER: Final = StpMode.EXPIRE_MAKER
_STP_TAKER: Final = StpMode.EXPIRE_TAKER
_STP_BOTH: Final = StpMode.EXPIRE_BOTH


class Engine(Matcher):
    """Books + accounts for a set of symbols, driven one command at a time by ``apply``."""

    def __init__(self) -> None:
        super().__init__()
        # the rest (PlaceOrder and CancelOrder are dispatched directly in apply)
        self._handlers: dict[type, Callable[[Any], None]] = {
            AmendOrder: self._amend,
            MassCancel: self._mass_cancel,
            Deposit: partial(transfers.deposit, self),
            Withdraw: partial(transfers.withdraw, self),
            AddAsset: partial(admin.add_asset, self),
            AddSymbol: partial(admin.add_symbol, self),
            UpdateSymbol: partial(admin.update_symbol, self),
            SetSymbolStatus: partial(admin.set_symbol_status, self),
            SetFeeTier: partial(admin.set_fee_tier, self),
            SetAccountFlags: partial(admin.set_account_flags, self),
            SuspendUser: partial(admin.suspend_user, self),
            ResumeUser: partial(admin.resume_user, self),
        }

    @property
    def orders(self) -> dict[int, Order]:
        """Every open order (resting or waiting for its trigger) by id, in id order.

        Built on demand from the accounts: the hot path keeps open orders per account only,
        because one more engine-wide dict costs an insert and a delete in a dict of every
        open order (a cache miss each) for every order that rests.
        """
        out: dict[int, Order] = {}
        for acct in self.accounts.by_user.values():
            for oid, o in acct.open_orders.items():
                out[oid] = cast(Order, o)
        return dict(sorted(out.items()))

    @property
    def coids(self) -> dict[tuple[int, str], Order]:
        """The client-id memory as one map (user_id, client_order_id) -> order: the closed
        orders still remembered in the order they closed, then the open orders by id.

        Built on demand (tests, tools); the engine itself looks in ``Account.coids``.
        """
        out = {(o.user_id, o.client_order_id): o for o in self.coid_queue}
        for o in self.orders.values():
            out[(o.user_id, o.client_order_id)] = o
        return out

    def find_by_client_id(self, user_id: int, client_order_id: str) -> Order | None:
        """An order by its user's client id while the engine remembers it (open or 24 h)."""
        acct = self.accounts.by_user.get(user_id)
        return None if acct is None else cast(Order | None, acct.coids.get(client_order_id))

    # ------------------------------------------------------------------ entry point

    def apply(self, seq: int, ts: int, cmd: Command) -> list[Event]:
        """Apply one command stamped by the sequencer; return its events in order."""
        self.seq = seq
        if ts > self.ts:
            self.ts = ts  # engine time never runs backwards, whatever the stamp says
        events: list[Event] = []
        self.events = events
        self._stamp += 1
        q = self.coid_queue
        if q and q[0].closed_ts <= self.ts - DAY_NS:
            self._expire_coids()
        try:
            # the two hot commands first, without the dict lookup
            if type(cmd) is PlaceOrder:
                self._place(cmd)
            elif type(cmd) is CancelOrder:
                self._cancel(cmd)
            else:
                handler = self._handlers.get(type(cmd))
                if handler is None:
                    raise Rejection(Reason.INVALID_COMMAND, "unknown command type")
                handler(cmd)
        except Rejection as r:
            # handlers raise only before their first mutation
            events.append(
                Rejected(
                    type(cmd).__name__,
                    getattr(cmd, "user_id", 0),
                    r.reason,
                    r.detail,
                    getattr(cmd, "symbol", ""),
                    getattr(cmd, "client_order_id", ""),
                    getattr(cmd, "order_id", 0),
                )
            )
        if self._touched:
            if self.emit:
                self._flush_balances()
            else:
                self._touched.clear()
        if self._levels:
            if self.emit:
                self._flush_levels()
            else:
                self._levels.clear()
        return events

    def _expire_coids(self) -> None:
        """Forget the orders that closed 24 h of engine time ago or earlier (queue head)."""
        cutoff = self.ts - DAY_NS
        q = self.coid_queue
        by_user = self.accounts.by_user
        while q and q[0].closed_ts <= cutoff:
            o = q.popleft()
            del by_user[o.user_id].coids[o.client_order_id]
            del self.by_id[o.order_id]

    # ------------------------------------------------------------------ place

    def _place(self, c: PlaceOrder) -> None:
        f = place_fields(c)
        (
            user_id,
            symbol,
            coid,
            side,
            otype,
            qty,
            price,
            stop_price,
            tif,
            post_only,
            _stp,
            quote_qty,
        ) = f
        m = self.markets.get(symbol)
        if m is None:
            raise Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
        if type(user_id) is not int or user_id <= FEE_ACCOUNT:
            raise Rejection(Reason.RESERVED_ACCOUNT, "orders need a user id > 0")
        acct = self.accounts.by_user.get(user_id)
        if acct is None:
            acct = _NO_ACCOUNT  # no funds at all; validation still reports the first problem
        if not coid or type(coid) is not str or len(coid) > _MAX_COID:
            raise Rejection(
                Reason.INVALID_COMMAND, f"client_order_id must be 1..{_MAX_COID} characters"
            )
        prior = cast(Order | None, acct.coids.get(coid))
        if prior is not None:
            if prior.cmd == c:
                self.events.append(_status_report(prior, True))
                return
            raise Rejection(
                Reason.DUPLICATE_CLIENT_ORDER_ID,
                f"client_order_id {coid!r} is already used by order {prior.order_id} "
                "with other parameters",
            )
        # a retry of an accepted order gets its state (above) even while trading is stopped
        if m.status is not _TRADING:
            raise _status_rejection(m)
        if acct.suspended:
            raise Rejection(Reason.USER_SUSPENDED, f"user {user_id} is suspended")
        book = self.books[symbol]
        limit, amount, reserve_asset = self._check_order(f, m, book, acct)
        bal = acct.balances.get(reserve_asset)
        if bal is None or bal.available < amount:
            have = 0 if bal is None else bal.available
            raise Rejection(
                Reason.INSUFFICIENT_BALANCE,
                f"needs {self.amount_text(amount, reserve_asset)} available, "
                f"has {self.amount_text(have, reserve_asset)}",
            )
        # ---- validated: from here on nothing may reject ----
        oid = self.next_order_id
        self.next_order_id = oid + 1
        seq = self.seq
        ts = self.ts
        if acct.tier:
            o = Order(oid, c, seq, ts, acct.maker_ppm, acct.taker_ppm, f)
        else:
            o = Order(oid, c, seq, ts, m.maker_ppm, m.taker_ppm, f)
        o.limit = limit
        o.reserved = amount
        self.touch(bal)
        bal.available -= amount
        bal.reserved += amount
        acct.coids[coid] = o  # remembered while open; the expiry queue takes it when it closes
        self.by_id[oid] = o
        is_stop = otype is _STOP or otype is _STOP_LIMIT
        if is_stop:
            o.status = _PENDING
        if self.emit:
            self.events.append(
                OrderAccepted(
                    oid,
                    user_id,
                    symbol,
                    coid,
                    side,
                    otype,
                    tif,
                    price,
                    qty,
                    stop_price,
                    quote_qty,
                    post_only,
                    o.status,
                )
            )
        if is_stop:
            acct.open_orders[oid] = o
            book.stops.add(o)
            return
        if otype is _LIMIT and tif is _GTC:
            # the common case, a GTC limit that does not cross: it rests as it was reserved
            # (the reservation already equals what it needs), no matching to run
            if o.is_buy:
                best = book.asks.best
                if not best or price < best:
                    self._mark_level(book.bids.add(o))
                    acct.open_orders[oid] = o
                    return
            else:
                best = book.bids.best
                if not best or price > best:
                    self._mark_level(book.asks.add(o))
                    acct.open_orders[oid] = o
                    return
        self._traded = False
        self._execute(o, m, book, acct)
        if self._traded and book.stops:
            self._run_stops(m, book)

    def _check_order(
        self, f: PlaceFields, m: Market, book: OrderBook, acct: Account
    ) -> tuple[int, int, str]:
        """Validate a new order; return (limit price, amount to reserve, reserve asset)."""
        _, _, _, side, otype, qty, price, stop_price, tif, post_only, stp, quote_qty = f
        is_buy = side is _BUY
        if not is_buy and side is not _SELL:
            raise Rejection(Reason.INVALID_COMMAND, f"side must be BUY or SELL, not {side!r}")
        if type(qty) is not int or type(price) is not int or type(stop_price) is not int:
            raise Rejection(Reason.INVALID_COMMAND, "qty, price and stop_price must be integers")
        if tif is not _GTC and tif is not _IOC and tif is not _FOK:
            raise Rejection(Reason.INVALID_TIME_IN_FORCE, f"unknown time in force {tif!r}")
        if (
            stp is not _STP_TAKER
            and stp is not _STP_MAKER
            and stp is not _STP_BOTH
            and stp is not _STP_NONE
        ):
            raise Rejection(Reason.INVALID_COMMAND, f"unknown self-trade prevention mode {stp!r}")
        if otype is _LIMIT or otype is _STOP_LIMIT:
            if price <= 0:
                raise Rejection(Reason.INVALID_PRICE, "a limit price must be positive")
            if quote_qty:
                raise Rejection(Reason.INVALID_COMMAND, "quote_qty is only for MARKET BUY orders")
        elif otype is _MARKET or otype is _STOP:
            if price:
                raise Rejection(Reason.INVALID_PRICE, f"a {otype} order takes no limit price")
            if post_only:
                raise Rejection(Reason.INVALID_COMMAND, f"a {otype} order cannot be post-only")
        else:
            raise Rejection(Reason.INVALID_ORDER_TYPE, f"unknown order type {otype!r}")
        if otype is _STOP or otype is _STOP_LIMIT:
            stop = stop_price
            if stop <= 0:
                raise Rejection(Reason.INVALID_PRICE, "a stop order needs a positive stop_price")
        elif stop_price:
            raise Rejection(Reason.INVALID_PRICE, f"a {otype} order takes no stop_price")
        # quantity
        if quote_qty:
            if otype is not _MARKET or not is_buy or qty:
                raise Rejection(
                    Reason.INVALID_COMMAND,
                    "quote_qty is only for MARKET BUY orders, and then without qty",
                )
            if type(quote_qty) is not int or quote_qty < 0:
                raise Rejection(Reason.INVALID_AMOUNT, "quote_qty must be a positive integer")
            if tif is _FOK:
                raise Rejection(Reason.INVALID_TIME_IN_FORCE, "FOK needs a qty, not quote_qty")
            if quote_qty < m.min_notional:
                raise Rejection(
                    Reason.NOTIONAL_BELOW_MIN,
                    f"quote_qty {self.amount_text(quote_qty, m.quote)} is below the minimum "
                    f"notional {self.amount_text(m.min_notional, m.quote)}",
                )
        else:
            if qty <= 0:
                raise Rejection(Reason.INVALID_QUANTITY, "quantity must be positive")
            if qty < m.min_qty:
                raise _qty_rejection(Reason.QTY_BELOW_MIN, m, qty, m.min_qty)
            if m.max_qty and qty > m.max_qty:
                raise _qty_rejection(Reason.QTY_ABOVE_MAX, m, qty, m.max_qty)
        if price:
            self._check_price(m, price, qty)
        # then what depends on the market's state: the last price, the book, the balance
        if otype is _STOP or otype is _STOP_LIMIT:
            last = m.last_price
            if last and (stop_price <= last if is_buy else stop_price >= last):
                raise Rejection(
                    Reason.STOP_WOULD_TRIGGER,
                    f"stop {format_steps(stop_price, m.tick)} would trigger at once "
                    f"(last trade price {format_steps(last, m.tick)})",
                )
        elif post_only and otype is _LIMIT:
            opp = book.asks.best if is_buy else book.bids.best
            if opp and (price >= opp if is_buy else price <= opp):
                raise _post_only_rejection(m, opp)
        # reservation
        mb = m.market_band_bps
        if is_buy:
            taker_ppm = acct.taker_ppm if acct.tier else m.taker_ppm
            if otype is _MARKET:
                ask = book.asks.best
                if not ask:
                    raise Rejection(Reason.NO_LIQUIDITY, "no asks to buy from")
                limit = band_up(ask, mb)
                if quote_qty:
                    return limit, quote_qty, m.quote
            elif otype is _STOP:
                limit = band_up(stop_price, mb)
            else:
                limit = price
            return limit, buy_reserve(limit, qty, m.quote_per_tick_lot, taker_ppm), m.quote
        if otype is _MARKET:
            bid = book.bids.best
            if not bid:
                raise Rejection(Reason.NO_LIQUIDITY, "no bids to sell to")
            limit = band_down(bid, mb)
        elif otype is _STOP:
            limit = band_down(stop_price, mb)
        else:
            limit = price
        return limit, qty * m.base_per_lot, m.base

    def _check_price(self, m: Market, price: int, qty: int) -> None:
        band = m.band_bps
        if band:
            ref = m.last_price or m.ref_price
            if ref and (price * BPS < ref * (BPS - band) or price * BPS > ref * (BPS + band)):
                raise Rejection(
                    Reason.PRICE_OUT_OF_BAND,
                    f"price {format_steps(price, m.tick)} is more than {band} bps from the "
                    f"reference {format_steps(ref, m.tick)}",
                )
        notional = price * qty * m.quote_per_tick_lot
        if qty and notional < m.min_notional:
            raise Rejection(
                Reason.NOTIONAL_BELOW_MIN,
                f"notional {self.amount_text(notional, m.quote)} is below the minimum "
                f"{self.amount_text(m.min_notional, m.quote)}",
            )

    # ------------------------------------------------------------------ cancel / amend

    def _find_order(self, user_id: int, symbol: str, order_id: int, coid: str) -> Order:
        """The user's open order named by ``order_id`` and/or ``client_order_id``.

        Another user's order is answered exactly like an unknown one (same reason, same
        detail), so no user can learn which order ids exist. Given both ids, they must name
        the same order of this user: if only one of them does (or they name two different
        ones) the command is refused INVALID_COMMAND; if neither does, UNKNOWN_ORDER.
        """
        o: Order | None = None
        if order_id:
            o = self.by_id.get(order_id)  # open orders are always remembered
            if o is not None and o.user_id != user_id:
                o = None  # someone else's: as if it did not exist
            if coid:
                acct = self.accounts.by_user.get(user_id)
                by_coid = None if acct is None else cast(Order | None, acct.coids.get(coid))
                if by_coid is not o:
                    raise Rejection(
                        Reason.INVALID_COMMAND,
                        f"order_id {order_id} and client_order_id {coid!r} name different orders",
                    )
        elif coid:
            acct = self.accounts.by_user.get(user_id)
            o = None if acct is None else cast(Order | None, acct.coids.get(coid))
        else:
            raise Rejection(Reason.INVALID_COMMAND, "give order_id or client_order_id")
        if o is None or o.symbol != symbol or not is_open_status(o.status):
            raise Rejection(Reason.UNKNOWN_ORDER, "no such open order")
        return o

    def _market_for_cancel(self, symbol: str) -> Market:
        m = self.markets.get(symbol)
        if m is None:
            raise Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
        if m.status is _HALTED:
            raise Rejection(Reason.SYMBOL_HALTED, f"{symbol} is halted")
        return m

    def _cancel(self, c: CancelOrder) -> None:
        symbol = c.symbol  # (each msgspec field read is a generic attribute lookup)
        m = self._market_for_cancel(symbol)
        o = self._find_order(c.user_id, symbol, c.order_id, c.client_order_id)
        self._end(o, m, self.books[symbol], _CANCELLED, EndReason.USER_CANCEL)

    def _amend(self, c: AmendOrder) -> None:
        m = self.markets.get(c.symbol)
        if m is None:
            raise Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {c.symbol!r}")
        if m.status is not _TRADING:
            raise _status_rejection(m)
        o = self._find_order(c.user_id, c.symbol, c.order_id, c.client_order_id)
        acct = self.accounts.by_user[o.user_id]
        if acct.suspended:
            raise Rejection(Reason.USER_SUSPENDED, f"user {o.user_id} is suspended")
        if o.level is None or (o.order_type is not _LIMIT and o.order_type is not _STOP_LIMIT):
            raise Rejection(Reason.ORDER_NOT_AMENDABLE, "only resting limit orders can be amended")
        if type(c.new_price) is not int or type(c.new_qty) is not int:
            raise Rejection(Reason.INVALID_COMMAND, "new_price and new_qty must be integers")
        if c.new_price < 0 or c.new_qty < 0:
            raise Rejection(Reason.INVALID_COMMAND, "new_price and new_qty must not be negative")
        price = c.new_price or o.price
        qty = c.new_qty or o.qty
        if price == o.price and qty == o.qty:
            raise Rejection(Reason.AMEND_NO_CHANGE, "nothing to change")
        if qty <= o.filled:
            raise Rejection(
                Reason.AMEND_QTY_TOO_LOW,
                f"{format_steps(o.filled, m.lot)} {m.base} of the order are already filled",
            )
        keep = price == o.price and qty < o.qty
        # a decrease at the same price only reduces risk: it is never refused for the
        # symbol's quantity limits, price band or min notional (they may have changed since,
        # and a partial fill can leave any remainder anyway); anything else is checked like
        # a new order
        if not keep:
            if qty < m.min_qty:
                raise _qty_rejection(Reason.QTY_BELOW_MIN, m, qty, m.min_qty)
            if m.max_qty and qty > m.max_qty:
                raise _qty_rejection(Reason.QTY_ABOVE_MAX, m, qty, m.max_qty)
            self._check_price(m, price, qty)
        book = self.books[c.symbol]
        if not keep and o.post_only:
            opp = book.asks.best if o.is_buy else book.bids.best
            if opp and (price >= opp if o.is_buy else price <= opp):
                raise _post_only_rejection(m, opp)
        remaining = qty - o.filled
        reserve_asset = m.quote if o.is_buy else m.base
        bal = acct.balances[reserve_asset]
        if o.is_buy:
            need = buy_reserve(price, remaining, m.quote_per_tick_lot, o.taker_ppm)
        else:
            need = remaining * m.base_per_lot
        if need - o.reserved > bal.available:
            raise Rejection(
                Reason.INSUFFICIENT_BALANCE,
                f"needs {self.amount_text(need - o.reserved, reserve_asset)} more available, "
                f"has {self.amount_text(bal.available, reserve_asset)}",
            )
        # ---- validated ----
        self.touch(bal)
        delta = need - o.reserved
        bal.available -= delta
        bal.reserved += delta
        o.reserved = need
        level = o.level
        self._mark_level(level)
        if keep:
            level.qty -= o.remaining - remaining
            o.qty = qty
            o.remaining = remaining
            self.events.append(
                OrderAmended(
                    o.order_id, o.user_id, o.symbol, o.client_order_id, price, qty, remaining, True
                )
            )
            return
        # cancel + new: out of the queue, back in at the end (or trading if it now crosses)
        level.qty -= o.remaining
        level.unlink(o)
        if not level.count:
            (book.bids if o.is_buy else book.asks).remove_level(level)
        del acct.open_orders[o.order_id]
        o.price = o.limit = price
        o.qty = qty
        o.remaining = remaining
        o.seq = self.seq
        self.events.append(
            OrderAmended(
                o.order_id, o.user_id, o.symbol, o.client_order_id, price, qty, remaining, False
            )
        )
        self._traded = False
        self._execute(o, m, book, acct)
        if self._traded and book.stops:
            self._run_stops(m, book)

    def _mass_cancel(self, c: MassCancel) -> None:
        side: Side | None = None
        if c.side is not None:
            try:
                side = Side(c.side)
            except ValueError:
                raise Rejection(
                    Reason.INVALID_COMMAND, f"side must be BUY or SELL, not {c.side!r}"
                ) from None
        if c.symbol and c.symbol not in self.markets:
            raise Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {c.symbol!r}")
        if c.user_id:
            if c.symbol and not c.operator:
                self._market_for_cancel(c.symbol)
            acct = self.accounts.by_user.get(c.user_id)
            pool = list(acct.open_orders.values()) if acct else []
        elif c.operator:
            pool = list(self.orders.values())  # (sorted by id again below)
        else:
            raise Rejection(
                Reason.INVALID_COMMAND, "a mass cancel over all users needs an operator"
            )
        reason = EndReason.ADMIN_CANCEL if c.operator else EndReason.MASS_CANCEL
        n = self.cancel_many(pool, c.symbol, side, reason, halted_ok=bool(c.operator))
        self.events.append(MassCancelled(c.user_id, c.symbol, side, n, c.operator))

    def find_order(self, order_id: int) -> Order | None:
        """An open order by id, or a finished one still in the client-id memory."""
        return self.by_id.get(order_id)


_NO_ACCOUNT = Account(-1)


def _qty_rejection(reason: Reason, m: Market, qty: int, limit: int) -> Rejection:
    word = "below the minimum" if reason is Reason.QTY_BELOW_MIN else "above the maximum"
    return Rejection(
        reason,
        f"quantity {format_steps(qty, m.lot)} {m.base} is {word} "
        f"{format_steps(limit, m.lot)} {m.base}",
    )


def _post_only_rejection(m: Market, opp: int) -> Rejection:
    return Rejection(
        Reason.POST_ONLY_WOULD_TAKE, f"post-only order would trade at {format_steps(opp, m.tick)}"
    )


def _status_rejection(m: Market) -> Rejection:
    if m.status is _HALTED:
        return Rejection(Reason.SYMBOL_HALTED, f"{m.symbol} is halted")
    return Rejection(Reason.SYMBOL_CANCEL_ONLY, f"{m.symbol} accepts cancels only")


def _status_report(o: Order, duplicate: bool) -> OrderStatusReport:
    return OrderStatusReport(
        o.order_id,
        o.user_id,
        o.symbol,
        o.client_order_id,
        o.side,
        o.order_type,
        o.status,
        o.price,
        o.qty,
        o.filled,
        o.remaining,
        duplicate,
    )
