"""Matching and settlement: how an order trades against a book, rests, ends, and fires stops.

Deterministic: no clock, randomness, environment or I/O. The hot path is written flat on
purpose (attribute and dict access inline rather than small helpers): at a few microseconds per
command every call counts, and in the compiled build (mypyc) these are native method calls.
Nothing here validates: ``core.engine`` checks a command fully before it calls in, so nothing
here may reject.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from trade_engine.accounts.fees import buy_reserve, fee, lots_affordable
from trade_engine.accounts.ledger import FEE_ACCOUNT, Account, Accounts, Balance
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
    BalanceChanged,
    BookLevelChanged,
    Event,
    MarketOrderReport,
    OrderCancelled,
    OrderExpired,
    SelfTradePrevented,
    StopTriggered,
    Trade,
)
from trade_engine.core.numbers import format_scaled
from trade_engine.core.symbols import BPS, Asset, Market
from trade_engine.matcher.book import BookSide, OrderBook
from trade_engine.matcher.order import Level, Order

# Enum members as module constants: a Final global is a C static in the compiled build
_MARKET: Final = OrderType.MARKET
_STOP: Final = OrderType.STOP
_STOP_LIMIT: Final = OrderType.STOP_LIMIT
_BUY: Final = Side.BUY
_GTC: Final = TimeInForce.GTC
_FOK: Final = TimeInForce.FOK
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


class Matcher:
    """The books, the accounts and the ids of one engine, and the algorithms that trade them.

    ``core.engine.Engine`` extends it with validation and dispatch. Subclassing (not a
    component) keeps every hot-path call a direct native method call in the compiled build.
    """

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
        # tuple keys to build and hash). An order is remembered while it is open and for 24 h
        # of engine time after it closes: this queue holds the closed orders still remembered,
        # in the order they closed (``closed_ts``, non-decreasing), so the oldest is at the
        # head. An order enters it once, when it closes (a fill in ``_match``, else ``_end``),
        # and open orders are never in it: its expiry depends only on the order's own history.
        self.coid_queue: deque[Order] = deque()
        # every order the engine still remembers (open, or finished within the 24 h memory),
        # by id: queries by order id must not scan
        self.by_id: dict[int, Order] = {}
        # the events of the command being applied (Engine.apply returns this list)
        self.events: list[Event] = []
        # False: the hot path builds no events (order accepted, trades, ends, balance and level
        # changes); the state is the same. Recovery uses it: the journal holds the events.
        self.emit = True
        # per-command scratch: the balances and levels this command touched, each once (the
        # objects carry the stamp of the command that last noted them, see touch)
        self._stamp = 0
        self._touched: list[Balance] = []
        self._levels: list[Level] = []
        self._traded = False

    def _flush_balances(self) -> None:
        events = self.events  # (a typed list: append compiles to PyList_Append)
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
        events = self.events
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

    def amount_text(self, value: int, asset: str) -> str:
        """An amount for people: decimals of its asset and the code ("250.25 USDT")."""
        a = self.assets.get(asset)
        return f"{value if a is None else format_scaled(value, a.decimals)} {asset}"

    def touch(self, bal: Balance) -> None:
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
        self.touch(bal)
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
                self.touch(bal)
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
        events = self.events
        emit = self.emit
        by_user = self.accounts.by_user
        fee_bal = self.accounts.get(FEE_ACCOUNT).balance(m.quote)
        self.touch(fee_bal)
        t_quote = acct.balance(m.quote)
        t_base = acct.balance(m.base)
        self.touch(t_quote)
        self.touch(t_base)
        stp = o.stp if not acct.stp_exempt else _STP_NONE
        closed = self.coid_queue
        now = self.ts
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
                mfee = fee(notional, mk.maker_ppm)
                tfee = fee(notional, o.taker_ppm)
                m_acct = by_user[mk.user_id]
                m_quote = m_acct.balances.get(m.quote)
                if m_quote is None:
                    m_quote = m_acct.balance(m.quote)
                m_base = m_acct.balances.get(m.base)
                if m_base is None:
                    m_base = m_acct.balance(m.base)
                self.touch(m_quote)
                self.touch(m_base)
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
                    need = buy_reserve(mk.price, mk.remaining, qu, mk.taker_ppm)
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
                    mk.closed_ts = now
                    closed.append(mk)
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
            if o.remaining:
                o.status = _PARTIAL
            else:
                o.status = _FILLED
                o.closed_ts = now
                closed.append(o)
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
        self.events.append(
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
            self.touch(bal)
            bal.reserved -= o.reserved
            bal.available += o.reserved
            o.reserved = 0
        o.status = status
        o.closed_ts = self.ts  # (the client-id memory keeps it 24 h from now)
        self.coid_queue.append(o)
        oid = o.order_id
        acct.open_orders.pop(oid, None)  # absent for a taker that never rested
        if self.emit:
            cls = OrderCancelled if status is _CANCELLED else OrderExpired
            self.events.append(
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
                self.events.append(
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

    def cancel_many(
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


def _order_id(o: Order) -> int:
    return o.order_id
