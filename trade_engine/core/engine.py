"""The engine: applies one sequenced command to the books and accounts and returns its events.

Deterministic by construction: the only inputs are the command and the sequencer's (seq, ts)
stamp; no clock, randomness, environment or I/O. Every handler validates fully before its first
mutation, so a rejected command changes nothing. Iteration that reaches the output never
depends on hash order.

The hot path (place / cancel / match) is written flat on purpose: attribute and dict access
inline rather than small helpers, because at a few microseconds per command every call counts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final, cast

import msgspec

from trade_engine.accounts.fees import band_down, band_up, buy_reserve, lots_affordable
from trade_engine.accounts.ledger import FEE_ACCOUNT, Account, Accounts, Balance
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
    AccountFlagsSet,
    AssetAdded,
    BalanceChanged,
    BookLevelChanged,
    Event,
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
from trade_engine.core.numbers import DecimalError
from trade_engine.core.reasons import Reason
from trade_engine.core.symbols import BPS, MAX_DECIMALS, PPM, Asset, Market, check_fee_rates
from trade_engine.matcher.book import BookSide, Level, OrderBook
from trade_engine.matcher.order import Order, PlaceFields, is_open_status, place_fields

DAY_NS: Final = 86_400 * 10**9  # client_order_id memory: 24 h of engine time

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
_NEW: Final = OrderStatus.NEW
_PARTIAL: Final = OrderStatus.PARTIALLY_FILLED
_FILLED: Final = OrderStatus.FILLED
_CANCELLED: Final = OrderStatus.CANCELLED
_EXPIRED: Final = OrderStatus.EXPIRED
_PENDING: Final = OrderStatus.PENDING_TRIGGER
_STP_NONE: Final = StpMode.NONE
_STP_MAKER: Final = StpMode.EXPIRE_MAKER
_STP_TAKER: Final = StpMode.EXPIRE_TAKER
_STP_BOTH: Final = StpMode.EXPIRE_BOTH


class Rejection(Exception):
    """Raised by validation before any mutation; turned into a ``Rejected`` event."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Engine:
    """Books + accounts for a set of symbols, driven one command at a time by ``apply``."""

    def __init__(self) -> None:
        self.seq = 0  # seq of the command being (or last) applied
        self.ts = 0  # its engine timestamp, ns
        self.next_order_id = 1
        self.next_trade_id = 1
        self.assets: dict[str, Asset] = {}
        self.markets: dict[str, Market] = {}
        self.books: dict[str, OrderBook] = {}
        self.accounts = Accounts()
        # the client-id memory lives in each account (Account.coids: client id -> order, no
        # tuple keys to build and hash); this queue holds the orders in the order they expire,
        # each with its ``memo_ts`` (acceptance, or the last time it was kept because open)
        self.coid_queue: deque[Order] = deque()
        # every order the engine still remembers (open, or finished within the 24 h memory),
        # by id: queries by order id must not scan
        self.by_id: dict[int, Order] = {}
        # per-command scratch: the balances and levels this command touched, each once (the
        # objects carry the stamp of the command that last noted them, see _touch)
        self._events: list[Event] = []
        # False: the hot path builds no events (order accepted, trades, ends, balance and level
        # changes); the state is the same. Recovery uses it: the journal holds the events.
        self.emit = True
        self._stamp = 0
        self._touched: list[Balance] = []
        self._levels: list[Level] = []
        self._traded = False
        # the rest (PlaceOrder and CancelOrder are dispatched directly in apply)
        self._handlers: dict[type, Callable[[Any], None]] = {
            AmendOrder: self._amend,
            MassCancel: self._mass_cancel,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            AddAsset: self._add_asset,
            AddSymbol: self._add_symbol,
            UpdateSymbol: self._update_symbol,
            SetSymbolStatus: self._set_symbol_status,
            SetFeeTier: self._set_fee_tier,
            SetAccountFlags: self._set_account_flags,
            SuspendUser: self._suspend_user,
            ResumeUser: self._resume_user,
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
        """The client-id memory as one map (user_id, client_order_id) -> order, oldest first.

        Built on demand (tests, tools); the engine itself looks in ``Account.coids``.
        """
        return {(o.user_id, o.client_order_id): o for o in self.coid_queue}

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
        self._events = events
        self._stamp += 1
        q = self.coid_queue
        if q and q[0].memo_ts <= self.ts - DAY_NS:
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

    def _flush_balances(self) -> None:
        events = self._events  # (a typed list: append compiles to PyList_Append)
        for b in self._touched:
            avail = b.available
            res = b.reserved
            a0 = b.a0
            r0 = b.r0
            if avail != a0 or res != r0:
                events.append(BalanceChanged(b.user_id, b.asset, avail, res, avail - a0, res - r0))
        self._touched.clear()

    def _flush_levels(self) -> None:
        """One event per (symbol, side, price) touched, with the level's total as it is now.

        A level emptied and re-created in the same command (an amend of a lone order, a stop
        resting where a level was consumed) is reported once, with its final total.
        """
        events = self._events
        levels = self._levels
        # (a bool for the side: hashing an Enum member runs Python code)
        seen: set[tuple[str, bool, int]] | None = set() if len(levels) > 1 else None
        for lv in levels:
            symbol, side, price = lv.symbol, lv.side, lv.price
            if seen is not None:
                key = (symbol, side is _BUY, price)
                if key in seen:
                    continue
                seen.add(key)
            cur: Level | None = lv
            if not lv.count:
                # it left the book (a level leaves exactly when its count reaches 0, and is
                # never reused); another level may have been opened at its price since
                book = self.books[symbol]
                cur = (book.bids if side is _BUY else book.asks).levels.get(price)
            if cur is None:
                events.append(BookLevelChanged(symbol, side, price, 0, 0))
            else:
                events.append(BookLevelChanged(symbol, side, price, cur.qty, cur.count))
        levels.clear()

    def _expire_coids(self) -> None:
        cutoff = self.ts - DAY_NS
        q = self.coid_queue
        by_user = self.accounts.by_user
        while q and q[0].memo_ts <= cutoff:
            o = q.popleft()
            if is_open_status(o.status):
                o.memo_ts = self.ts  # still live: keep it findable by client id
                q.append(o)
            else:
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
        if not coid or type(coid) is not str or len(coid) > 64:
            raise Rejection(Reason.INVALID_COMMAND, "client_order_id must be 1..64 characters")
        prior = cast(Order | None, acct.coids.get(coid))
        if prior is not None:
            if prior.cmd == c:
                self._events.append(_status_report(prior, True))
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
                f"needs {amount} {reserve_asset} available, has {have}",
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
        self._touch(bal)
        bal.available -= amount
        bal.reserved += amount
        acct.coids[coid] = o
        self.by_id[oid] = o
        self.coid_queue.append(o)  # (Order sets memo_ts = ts)
        is_stop = otype is _STOP or otype is _STOP_LIMIT
        if is_stop:
            o.status = _PENDING
        if self.emit:
            self._events.append(
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
            last = m.last_price
            if last and (stop <= last if is_buy else stop >= last):
                raise Rejection(
                    Reason.STOP_WOULD_TRIGGER,
                    f"stop {stop} would trigger at once (last trade price {last})",
                )
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
                raise Rejection(Reason.NOTIONAL_BELOW_MIN, f"below min notional {m.min_notional}")
        else:
            if qty <= 0:
                raise Rejection(Reason.INVALID_QUANTITY, "quantity must be positive")
            if qty < m.min_qty:
                raise Rejection(
                    Reason.QTY_BELOW_MIN, f"quantity below the minimum {m.min_qty} lots"
                )
            if m.max_qty and qty > m.max_qty:
                raise Rejection(
                    Reason.QTY_ABOVE_MAX, f"quantity above the maximum {m.max_qty} lots"
                )
        if price:
            self._check_price(m, price, qty)
            if post_only and otype is _LIMIT:
                opp = book.asks.best if is_buy else book.bids.best
                if opp and (price >= opp if is_buy else price <= opp):
                    raise Rejection(
                        Reason.POST_ONLY_WOULD_TAKE, f"post-only order would trade at {opp}"
                    )
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

    @staticmethod
    def _check_price(m: Market, price: int, qty: int) -> None:
        band = m.band_bps
        if band:
            ref = m.last_price or m.ref_price
            if ref and (price * BPS < ref * (BPS - band) or price * BPS > ref * (BPS + band)):
                raise Rejection(
                    Reason.PRICE_OUT_OF_BAND,
                    f"price {price} is more than {band} bps from the reference {ref}",
                )
        if qty and price * qty * m.quote_per_tick_lot < m.min_notional:
            raise Rejection(
                Reason.NOTIONAL_BELOW_MIN, f"notional below the minimum {m.min_notional}"
            )

    # ------------------------------------------------------------------ matching

    def _execute(self, o: Order, m: Market, book: OrderBook, acct: Account) -> None:
        """Run a live (non-pending) order as taker, then rest or expire what is left."""
        is_buy = o.is_buy
        opp = book.asks if is_buy else book.bids
        best = opp.best
        market = o.order_type is _MARKET or o.order_type is _STOP
        arrival = best
        worst = 0  # the last (worst) price this order traded at
        if best and (best <= o.limit if is_buy else best >= o.limit):
            if o.tif is _FOK and not self._fok_fillable(o, opp, acct):
                self._end(o, m, book, _EXPIRED, EndReason.FOK_NOT_FILLABLE)
                if market:
                    self._market_report(o, m, arrival, 0)
                return
            if o.quote_budget and not o.qty:
                self._size_quote_order(o, opp, m)
            worst = self._match(o, m, book, opp, acct)
        elif o.tif is _FOK:
            self._end(o, m, book, _EXPIRED, EndReason.FOK_NOT_FILLABLE)
            if market:
                self._market_report(o, m, arrival, 0)
            return
        st = o.status
        if st is _FILLED:
            if o.reserved:  # filled at better prices than reserved for: give back the rest
                self._release(o, m, acct)
        elif st is _NEW or st is _PARTIAL:
            if market:
                reason = EndReason.NO_LIQUIDITY
                if o.quote_budget and o.remaining == 0:
                    reason = EndReason.QUOTE_BUDGET_EXHAUSTED
                self._end(o, m, book, _EXPIRED, reason)
            elif o.tif is not _GTC:
                self._end(o, m, book, _EXPIRED, EndReason.IOC_REMAINDER)
            else:
                self._rest(o, m, book, acct)
        if market:
            self._market_report(o, m, arrival, worst)

    def _release(self, o: Order, m: Market, acct: Account) -> None:
        bal = acct.balances[m.quote if o.is_buy else m.base]
        self._touch(bal)
        bal.reserved -= o.reserved
        bal.available += o.reserved
        o.reserved = 0

    def _rest(self, o: Order, m: Market, book: OrderBook, acct: Account) -> None:
        is_buy = o.is_buy
        # hand back what the remainder no longer needs (price improvement, fee split)
        if is_buy:
            need = buy_reserve(o.price, o.remaining, m.quote_per_tick_lot, o.taker_ppm)
            surplus = o.reserved - need
            if surplus:
                bal = acct.balances[m.quote]
                self._touch(bal)
                bal.reserved -= surplus
                bal.available += surplus
                o.reserved = need
            level = book.bids.add(o)
        else:
            level = book.asks.add(o)
        self._mark_level(level)
        acct.open_orders[o.order_id] = o

    def _fok_fillable(self, o: Order, opp: BookSide, acct: Account) -> bool:
        """Can the whole order fill now, within its limit, before self-trade prevention stops it?"""
        need = o.remaining
        limit = o.limit
        stp = o.stp if not acct.stp_exempt else _STP_NONE
        for level in opp.iter_levels():
            if (o.is_buy and level.price > limit) or (not o.is_buy and level.price < limit):
                return False
            for mk in level:
                if stp is not _STP_NONE and mk.user_id == o.user_id:
                    if stp is _STP_MAKER:
                        continue
                    return False
                need -= mk.remaining
                if need <= 0:
                    return True
        return False

    def _size_quote_order(self, o: Order, opp: BookSide, m: Market) -> None:
        """Turn a MARKET BUY's quote budget into the lots it buys walking the book now."""
        budget = o.quote_budget
        qty = 0
        qu = m.quote_per_tick_lot
        for level in opp.iter_levels():
            if level.price > o.limit:
                break
            cost = buy_reserve(level.price, level.qty, qu, o.taker_ppm)
            if cost <= budget:
                budget -= cost
                qty += level.qty
                continue
            qty += lots_affordable(budget, level.price, qu, o.taker_ppm)
            break
        o.qty = o.remaining = qty

    def _match(self, o: Order, m: Market, book: OrderBook, opp: BookSide, acct: Account) -> int:
        """Trade ``o`` against ``opp``; return the price of its last trade (0: none)."""
        is_buy = o.is_buy
        limit = o.limit
        levels = opp.levels
        qu = m.quote_per_tick_lot
        bpl = m.base_per_lot
        symbol = m.symbol
        events = self._events
        emit = self.emit
        by_user = self.accounts.by_user
        fee_bal = self.accounts.get(FEE_ACCOUNT).balance(m.quote)
        self._touch(fee_bal)
        t_quote = acct.balance(m.quote)
        t_base = acct.balance(m.base)
        self._touch(t_quote)
        self._touch(t_base)
        stp = o.stp if not acct.stp_exempt else _STP_NONE
        taker_user = o.user_id
        taker_side = o.side
        budget = o.quote_budget
        stop = False  # self-trade prevention ended the taker
        broke = False  # the quote budget cannot pay for another lot
        last = 0
        while o.remaining:
            best = opp.best
            if not best or (best > limit if is_buy else best < limit):
                break
            level = levels[best]
            self._mark_level(level)
            mk = level.head
            while mk is not None:
                nxt = mk.next
                if mk.user_id == taker_user and stp is not _STP_NONE:
                    if emit:
                        events.append(
                            SelfTradePrevented(
                                symbol,
                                taker_user,
                                o.order_id,
                                mk.order_id,
                                stp,
                                best,
                                min(o.remaining, mk.remaining),
                            )
                        )
                    if stp is not _STP_TAKER:  # expire-maker or expire-both
                        self._end(mk, m, book, _EXPIRED, EndReason.SELF_TRADE_PREVENTED)
                    if stp is not _STP_MAKER:  # expire-taker or expire-both
                        stop = True
                        break
                    mk = nxt
                    continue
                q = o.remaining if o.remaining < mk.remaining else mk.remaining
                if budget:
                    # never spend past the quote budget (self-trade prevention can push a
                    # budget order deeper than it was sized for)
                    q = min(q, lots_affordable(o.reserved, best, qu, o.taker_ppm))
                    if not q:
                        broke = True
                        break
                last = best
                notional = best * q * qu
                base_amt = q * bpl
                mfee = notional * mk.maker_ppm // PPM
                tfee = notional * o.taker_ppm // PPM
                m_acct = by_user[mk.user_id]
                m_quote = m_acct.balances.get(m.quote)
                if m_quote is None:
                    m_quote = m_acct.balance(m.quote)
                m_base = m_acct.balances.get(m.base)
                if m_base is None:
                    m_base = m_acct.balance(m.base)
                self._touch(m_quote)
                self._touch(m_base)
                mk.remaining -= q
                mk.filled += q
                mk.filled_notional += notional
                o.remaining -= q
                o.filled += q
                o.filled_notional += notional
                level.qty -= q
                if is_buy:
                    # taker buys: pays notional + fee from its reservation, gets base
                    o.reserved -= notional + tfee
                    t_quote.reserved -= notional + tfee
                    t_base.available += base_amt
                    # maker sells: base leaves its reservation, proceeds less fee arrive
                    mk.reserved -= base_amt
                    m_base.reserved -= base_amt
                    m_quote.available += notional - mfee
                else:
                    o.reserved -= base_amt
                    t_base.reserved -= base_amt
                    t_quote.available += notional - tfee
                    # maker buys at its own price: release what its remainder no longer needs
                    rem = mk.remaining
                    n_rem = mk.price * rem * qu
                    need = n_rem + n_rem * mk.taker_ppm // PPM
                    release = mk.reserved - notional - mfee - need
                    mk.reserved = need
                    m_quote.reserved -= notional + mfee + release
                    m_quote.available += release
                    m_base.available += base_amt
                fee_bal.available += mfee + tfee
                tid = self.next_trade_id
                self.next_trade_id = tid + 1
                if emit:
                    events.append(
                        Trade(
                            tid,
                            symbol,
                            best,
                            q,
                            notional,
                            taker_side,
                            mk.order_id,
                            mk.user_id,
                            o.order_id,
                            taker_user,
                            mfee,
                            tfee,
                            mk.remaining,
                            o.remaining,
                        )
                    )
                if mk.remaining:
                    mk.status = _PARTIAL
                else:
                    mk.status = _FILLED
                    level.unlink(mk)
                    del m_acct.open_orders[mk.order_id]
                if not o.remaining:
                    break
                mk = nxt
            if not level.count and levels.get(best) is level:
                opp.remove_level(level)  # (self-trade prevention may have removed it already)
            if stop or broke:
                break
        if last:
            m.last_price = last
            self._traded = True
        if o.filled:
            o.status = _FILLED if not o.remaining else _PARTIAL
        if stop:
            self._end(o, m, book, _EXPIRED, EndReason.SELF_TRADE_PREVENTED)
        elif broke and o.remaining:
            self._end(o, m, book, _EXPIRED, EndReason.QUOTE_BUDGET_EXHAUSTED)
        return last

    def _market_report(self, o: Order, m: Market, arrival: int, worst: int) -> None:
        if not self.emit:
            return
        filled = o.filled
        slip = 0
        if filled and arrival:
            ref_notional = arrival * filled * m.quote_per_tick_lot
            diff = o.filled_notional - ref_notional
            if not o.is_buy:
                diff = -diff
            slip = max(0, diff) * BPS // ref_notional
        self._events.append(
            MarketOrderReport(
                o.order_id,
                o.user_id,
                o.symbol,
                arrival,
                o.limit,
                filled,
                o.filled_notional,
                worst,
                slip,
            )
        )

    def _end(
        self, o: Order, m: Market, book: OrderBook, status: OrderStatus, reason: EndReason
    ) -> None:
        """Take an order out of play (cancel or expire) and release what it still reserves."""
        level = o.level
        if level is not None:
            level.qty -= o.remaining
            level.unlink(o)
            self._mark_level(level)
            if not level.count:
                (book.bids if o.is_buy else book.asks).remove_level(level)
        elif o.status is _PENDING:
            book.stops.remove(o)
        acct = self.accounts.by_user[o.user_id]
        if o.reserved:
            bal = acct.balances[m.quote if o.is_buy else m.base]
            self._touch(bal)
            bal.reserved -= o.reserved
            bal.available += o.reserved
            o.reserved = 0
        o.status = status
        oid = o.order_id
        acct.open_orders.pop(oid, None)  # absent for a taker that never rested
        if self.emit:
            cls = OrderCancelled if status is _CANCELLED else OrderExpired
            self._events.append(
                cls(oid, o.user_id, o.symbol, o.client_order_id, reason, o.remaining)
            )

    def _run_stops(self, m: Market, book: OrderBook) -> None:
        """Fire every stop the last trade price reaches, one at a time, in trigger order."""
        stops = book.stops
        while stops:
            last = m.last_price
            o = stops.next_triggered(last)
            if o is None:
                return
            stops.remove(o)
            o.status = _NEW
            if self.emit:
                self._events.append(
                    StopTriggered(o.order_id, o.user_id, o.symbol, o.stop_price, last)
                )
            acct = self.accounts.by_user[o.user_id]
            del acct.open_orders[o.order_id]
            if o.order_type is _STOP_LIMIT and o.post_only:
                opp = book.asks.best if o.is_buy else book.bids.best
                if opp and (o.price >= opp if o.is_buy else o.price <= opp):
                    self._end(o, m, book, _EXPIRED, EndReason.POST_ONLY_WOULD_TAKE)
                    continue
            self._execute(o, m, book, acct)

    # ------------------------------------------------------------------ cancel / amend

    def _find_order(self, user_id: int, symbol: str, order_id: int, coid: str) -> Order:
        if order_id:
            o = self.by_id.get(order_id)  # open orders are always remembered
        elif coid:
            acct = self.accounts.by_user.get(user_id)
            o = None if acct is None else cast(Order | None, acct.coids.get(coid))
        else:
            raise Rejection(Reason.INVALID_COMMAND, "give order_id or client_order_id")
        if o is None or o.symbol != symbol or not is_open_status(o.status):
            raise Rejection(Reason.UNKNOWN_ORDER, "no such open order")
        if o.user_id != user_id:
            raise Rejection(Reason.NOT_OWNER, "the order belongs to another user")
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
            raise Rejection(Reason.AMEND_QTY_TOO_LOW, f"{o.filled} lots are already filled")
        if qty < m.min_qty:
            raise Rejection(Reason.QTY_BELOW_MIN, f"quantity below the minimum {m.min_qty} lots")
        if m.max_qty and qty > m.max_qty:
            raise Rejection(Reason.QTY_ABOVE_MAX, f"quantity above the maximum {m.max_qty} lots")
        keep = price == o.price and qty < o.qty
        if not keep:  # reducing risk is never refused for a band the market moved away from
            self._check_price(m, price, qty)
        book = self.books[c.symbol]
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
                f"needs {need - o.reserved} more {reserve_asset} available, has {bal.available}",
            )
        if not keep and o.post_only:
            opp = book.asks.best if o.is_buy else book.bids.best
            if opp and (price >= opp if o.is_buy else price <= opp):
                raise Rejection(
                    Reason.POST_ONLY_WOULD_TAKE, f"post-only order would trade at {opp}"
                )
        # ---- validated ----
        self._touch(bal)
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
            self._events.append(
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
        self._events.append(
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
        n = self._cancel_many(pool, c.symbol, side, reason, halted_ok=bool(c.operator))
        self._events.append(MassCancelled(c.user_id, c.symbol, side, n, c.operator))

    def _cancel_many(
        self,
        pool: list[Any],
        symbol: str,
        side: Side | None,
        reason: EndReason,
        halted_ok: bool,
    ) -> int:
        n = 0
        for o in sorted(pool, key=_order_id):
            if (symbol and o.symbol != symbol) or (side is not None and o.side is not side):
                continue
            m = self.markets[o.symbol]
            if m.status is _HALTED and not halted_ok:
                continue
            self._end(o, m, self.books[o.symbol], _CANCELLED, reason)
            n += 1
        return n

    # ------------------------------------------------------------------ transfers

    def _transfer_seen(self, kind: str, c: Deposit | Withdraw) -> bool:
        prior = self.accounts.transfers.get(c.transfer_id)
        if prior is None:
            return False
        if prior != (kind, c.user_id, c.asset, c.amount):
            raise Rejection(
                Reason.TRANSFER_ID_CONFLICT,
                f"transfer {c.transfer_id!r} was already applied with other parameters",
            )
        self._events.append(
            TransferApplied(kind, c.transfer_id, c.user_id, c.asset, c.amount, True, c.operator)
        )
        return True

    def _check_transfer(self, c: Deposit | Withdraw) -> None:
        if not c.transfer_id or type(c.transfer_id) is not str:
            raise Rejection(Reason.INVALID_COMMAND, "a transfer needs a transfer_id")
        if c.asset not in self.assets:
            raise Rejection(Reason.UNKNOWN_ASSET, f"unknown asset {c.asset!r}")
        if type(c.amount) is not int or c.amount <= 0:
            raise Rejection(Reason.INVALID_AMOUNT, "amount must be a positive integer")
        if type(c.user_id) is not int or c.user_id < 0:
            raise Rejection(Reason.INVALID_COMMAND, "user_id must be a non-negative integer")

    def _deposit(self, c: Deposit) -> None:
        self._check_transfer(c)
        if self._transfer_seen("DEPOSIT", c):
            return
        bal = self.accounts.balance(c.user_id, c.asset)
        self._touch(bal)
        bal.available += c.amount
        self.accounts.transfers[c.transfer_id] = ("DEPOSIT", c.user_id, c.asset, c.amount)
        self._events.append(
            TransferApplied(
                "DEPOSIT", c.transfer_id, c.user_id, c.asset, c.amount, False, c.operator
            )
        )

    def _withdraw(self, c: Withdraw) -> None:
        self._check_transfer(c)
        if self._transfer_seen("WITHDRAWAL", c):
            return
        acct = self.accounts.by_user.get(c.user_id)
        bal = acct.balances.get(c.asset) if acct else None
        have = bal.available if bal else 0
        if bal is None or have < c.amount:
            raise Rejection(
                Reason.INSUFFICIENT_BALANCE,
                f"withdrawal of {c.amount} {c.asset} exceeds the available {have}",
            )
        self._touch(bal)
        bal.available -= c.amount
        self.accounts.transfers[c.transfer_id] = ("WITHDRAWAL", c.user_id, c.asset, c.amount)
        self._events.append(
            TransferApplied(
                "WITHDRAWAL", c.transfer_id, c.user_id, c.asset, c.amount, False, c.operator
            )
        )

    def _touch(self, bal: Balance) -> None:
        """Note a balance's values before this command first changes it (for BalanceChanged)."""
        stamp = self._stamp
        if bal.mark != stamp:
            bal.mark = stamp
            bal.a0 = bal.available
            bal.r0 = bal.reserved
            self._touched.append(bal)

    def _mark_level(self, level: Level) -> None:
        """Note a price level this command changed (for BookLevelChanged)."""
        stamp = self._stamp
        if level.mark != stamp:
            level.mark = stamp
            self._levels.append(level)

    # ------------------------------------------------------------------ admin

    def _add_asset(self, c: AddAsset) -> None:
        if not c.code or type(c.code) is not str or len(c.code) > 16:
            raise Rejection(Reason.INVALID_COMMAND, "asset code must be 1..16 characters")
        if c.code in self.assets:
            raise Rejection(Reason.ASSET_EXISTS, f"asset {c.code!r} exists")
        if type(c.decimals) is not int or not 0 <= c.decimals <= MAX_DECIMALS:
            raise Rejection(Reason.INVALID_COMMAND, f"decimals must be 0..{MAX_DECIMALS}")
        self.assets[c.code] = Asset(c.code, c.decimals)
        self._events.append(AssetAdded(c.code, c.decimals, c.operator))

    def _build_market(self, c: AddSymbol | UpdateSymbol) -> Market:
        spec = c.spec
        base = self.assets.get(spec.base)
        quote = self.assets.get(spec.quote)
        if base is None or quote is None:
            raise Rejection(Reason.UNKNOWN_ASSET, f"unknown asset in {spec.base}/{spec.quote}")
        if base == quote:
            raise Rejection(Reason.INVALID_SYMBOL_SPEC, "base and quote must differ")
        if not spec.symbol or len(spec.symbol) > 32:
            raise Rejection(Reason.INVALID_SYMBOL_SPEC, "symbol name must be 1..32 characters")
        if spec.status not in (_TRADING, _HALTED, SymbolStatus.CANCEL_ONLY):
            raise Rejection(Reason.INVALID_SYMBOL_SPEC, f"unknown status {spec.status!r}")
        try:
            return Market(spec, base, quote)
        except DecimalError as e:
            raise Rejection(e.reason, str(e)) from None

    def _add_symbol(self, c: AddSymbol) -> None:
        if c.spec.symbol in self.markets:
            raise Rejection(Reason.SYMBOL_EXISTS, f"symbol {c.spec.symbol!r} exists")
        m = self._build_market(c)
        self.markets[m.symbol] = m
        self.books[m.symbol] = OrderBook(m.symbol)
        self._events.append(SymbolDefined(c.spec, True, c.operator))

    def _update_symbol(self, c: UpdateSymbol) -> None:
        old = self.markets.get(c.spec.symbol)
        if old is None:
            raise Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {c.spec.symbol!r}")
        m = self._build_market(c)
        if (m.base, m.quote, m.tick, m.lot) != (old.base, old.quote, old.tick, old.lot):
            raise Rejection(
                Reason.INVALID_SYMBOL_SPEC,
                "base, quote, tick and lot cannot change (open orders are counted in them)",
            )
        # status changes go through SetSymbolStatus: keep the current one, and say so
        spec = msgspec.structs.replace(c.spec, status=old.status)
        m.spec = spec
        m.status = old.status
        m.last_price = old.last_price
        self.markets[m.symbol] = m
        self._events.append(SymbolDefined(spec, False, c.operator))

    def _set_symbol_status(self, c: SetSymbolStatus) -> None:
        m = self.markets.get(c.symbol)
        if m is None:
            raise Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {c.symbol!r}")
        if c.status not in (_TRADING, _HALTED, SymbolStatus.CANCEL_ONLY):
            raise Rejection(Reason.INVALID_COMMAND, f"unknown status {c.status!r}")
        prev = m.status
        m.status = SymbolStatus(c.status)
        self._events.append(SymbolStatusChanged(c.symbol, m.status, prev, c.operator))

    def _user_for_admin(self, user_id: int) -> Account:
        if type(user_id) is not int or user_id <= FEE_ACCOUNT:
            raise Rejection(Reason.RESERVED_ACCOUNT, "user id must be > 0")
        return self.accounts.get(user_id)

    def _set_fee_tier(self, c: SetFeeTier) -> None:
        if type(c.user_id) is not int or c.user_id <= FEE_ACCOUNT:
            raise Rejection(Reason.RESERVED_ACCOUNT, "user id must be > 0")
        if c.tier:
            try:
                check_fee_rates(c.maker_fee_ppm, c.taker_fee_ppm)
            except DecimalError as e:
                raise Rejection(e.reason, str(e)) from None
        acct = self._user_for_admin(c.user_id)
        acct.tier = c.tier
        acct.maker_ppm = c.maker_fee_ppm if c.tier else 0
        acct.taker_ppm = c.taker_fee_ppm if c.tier else 0
        self._events.append(
            FeeTierSet(c.user_id, c.tier, acct.maker_ppm, acct.taker_ppm, c.operator)
        )

    def _set_account_flags(self, c: SetAccountFlags) -> None:
        acct = self._user_for_admin(c.user_id)
        acct.market_maker = bool(c.market_maker)
        acct.stp_exempt = bool(c.stp_exempt)
        self._events.append(
            AccountFlagsSet(c.user_id, acct.market_maker, acct.stp_exempt, c.operator)
        )

    def _suspend_user(self, c: SuspendUser) -> None:
        acct = self._user_for_admin(c.user_id)
        acct.suspended = True
        n = 0
        if c.cancel_orders:
            n = self._cancel_many(
                list(acct.open_orders.values()), "", None, EndReason.USER_SUSPENDED, True
            )
        self._events.append(UserSuspended(c.user_id, n, c.operator))

    def _resume_user(self, c: ResumeUser) -> None:
        acct = self._user_for_admin(c.user_id)
        acct.suspended = False
        self._events.append(UserResumed(c.user_id, c.operator))

    # ------------------------------------------------------------------ queries

    def order_report(self, o: Order, duplicate: bool = False) -> OrderStatusReport:
        return _status_report(o, duplicate)

    def find_order(self, order_id: int) -> Order | None:
        """An open order by id, or a finished one still in the client-id memory."""
        return self.by_id.get(order_id)


_NO_ACCOUNT = Account(-1)


def _order_id(o: Order) -> int:
    return o.order_id


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
