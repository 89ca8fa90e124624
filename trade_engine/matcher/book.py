"""One symbol's order book (a side per direction, levels by price) and its stop trigger book."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

from sortedcontainers import SortedDict

from trade_engine.core.enums import Side
from trade_engine.matcher.order import Level, Order


class BookSide:
    """One side of a book: levels by price plus a sorted price index.

    ``best`` is cached (0 = empty) because the hot path asks for it on every order. The index
    is a plain ascending list kept with ``bisect``: books have hundreds of levels, not millions,
    and a C memmove beats a tree at that size.
    """

    __slots__ = ("best", "is_bid", "levels", "prices", "side", "symbol")

    def __init__(self, symbol: str, side: Side) -> None:
        self.symbol = symbol
        self.side = side
        self.is_bid = side is Side.BUY
        self.levels: dict[int, Level] = {}
        self.prices: list[int] = []
        self.best = 0

    def add(self, o: Order) -> Level:
        price = o.price
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level(self.symbol, self.side, price)
            insort(self.prices, price)
            best = self.best
            if best == 0 or (price > best if self.is_bid else price < best):
                self.best = price
        level.append(o)
        return level

    def remove_level(self, level: Level) -> None:
        price = level.price
        del self.levels[price]
        prices = self.prices
        del prices[bisect_left(prices, price)]
        if price == self.best:
            self.best = (prices[-1] if self.is_bid else prices[0]) if prices else 0

    def iter_levels(self) -> Iterator[Level]:
        """Best price first."""
        prices = reversed(self.prices) if self.is_bid else iter(self.prices)
        for p in prices:
            yield self.levels[p]

    def depth(self, limit: int = 0) -> list[tuple[int, int, int]]:
        """(price, qty, orders) best first; ``limit`` 0 = all levels."""
        out: list[tuple[int, int, int]] = []
        for level in self.iter_levels():
            out.append((level.price, level.qty, level.count))
            if limit and len(out) >= limit:
                break
        return out


class StopBook:
    """Stop orders waiting for the last trade price.

    BUY stops fire when last >= stop, lowest stop first; SELL stops when last <= stop,
    highest stop first; equal stops by acceptance seq. Keys are (key, seq) so the order is
    total and deterministic.
    """

    __slots__ = ("buys", "sells")

    def __init__(self) -> None:
        self.buys: SortedDict = SortedDict()  # (stop, seq) -> order
        self.sells: SortedDict = SortedDict()  # (-stop, seq) -> order

    def add(self, o: Order) -> None:
        if o.is_buy:
            self.buys[(o.stop_price, o.seq)] = o
        else:
            self.sells[(-o.stop_price, o.seq)] = o

    def remove(self, o: Order) -> None:
        if o.is_buy:
            del self.buys[(o.stop_price, o.seq)]
        else:
            del self.sells[(-o.stop_price, o.seq)]

    def next_triggered(self, last: int) -> Order | None:
        """The first stop that ``last`` fires (buys before sells), or None."""
        buys = self.buys
        if buys:
            key, o = buys.peekitem(0)
            if key[0] <= last:
                return o  # type: ignore[no-any-return]
        sells = self.sells
        if sells:
            key, o = sells.peekitem(0)
            if -key[0] >= last:
                return o  # type: ignore[no-any-return]
        return None

    def __len__(self) -> int:
        return len(self.buys) + len(self.sells)

    def orders(self) -> list[Order]:
        return [*self.buys.values(), *self.sells.values()]


class OrderBook:
    __slots__ = ("asks", "bids", "stops", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = BookSide(symbol, Side.BUY)
        self.asks = BookSide(symbol, Side.SELL)
        self.stops = StopBook()

    def crossed(self) -> bool:
        return bool(self.bids.best and self.asks.best and self.bids.best >= self.asks.best)
